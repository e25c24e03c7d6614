/**
 * Real HTTP/2 servers from Debian on loopback, for the HTTP/2 tests: nginx (`http2` on a TLS
 * listener, an h2c listener, a TLS listener without HTTP/2, optionally one with
 * `http2_max_concurrent_streams`), h2o (TLS with ALPN `h2` and `http/1.1`, and h2c), nghttpd
 * (TLS, and `--no-tls` for h2c) and Apache with mod_http2 (`Protocols h2 http/1.1` over TLS,
 * `h2c http/1.1` in clear). Each start helper writes its configuration and a document root
 * into a fresh temporary directory, starts the server in the foreground as a child process,
 * waits until its ports accept, and on any failure kills it and removes the directory;
 * `stop()` does the same. The certificates are `tests/fixtures/server.pem` (see
 * `tests/_certs.ts`): clients trust `CA_CERT`.
 *
 * Every server serves the same {@linkcode DOCUMENT_ROOT} files, so a test can run against
 * each of them:
 *
 * ```ts
 * const binary = await findH2Server("h2o");
 * if (binary === null) console.warn(skipMessage("h2o", "my_test.ts"));
 * else {
 *   const server = await startH2o(binary);
 *   try {
 *     // server.https: "https://localhost:PORT", server.h2c: "http://127.0.0.1:PORT"
 *   } finally {
 *     await server.stop();
 *   }
 * }
 * ```
 *
 * @module
 */

import { type ChildProcess, execFile, spawn } from "node:child_process";
import * as fs from "node:fs/promises";
import { rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { http2Listen, type NginxBinary, startNginx, waitUntilListening } from "./_nginx.ts";
import { unusedPort } from "./_servers.ts";

/** The servers this module starts. */
export type H2ServerName = "nginx" | "h2o" | "nghttpd" | "apache";

/** An installed server: its executable and version. */
export interface H2Binary {
  /** Which server. */
  name: H2ServerName;
  /** The executable. */
  path: string;
  /** Its version, e.g. `2.2.5`. */
  version: string;
}

/** The Debian package that provides each server (for skip messages and `.ci/run`). */
export const H2_PACKAGES: Record<H2ServerName, string> = {
  nginx: "nginx-light",
  h2o: "h2o",
  nghttpd: "nghttp2-server",
  apache: "apache2",
};

const CANDIDATES: Record<H2ServerName, { paths: string[]; args: string[]; version: RegExp }> = {
  nginx: {
    paths: ["nginx", "/usr/sbin/nginx", "/usr/local/sbin/nginx"],
    args: ["-v"],
    version: /nginx\/(\S+)/,
  },
  h2o: {
    paths: ["h2o", "/usr/bin/h2o", "/usr/sbin/h2o"],
    args: ["--version"],
    version: /h2o version (\S+)/,
  },
  nghttpd: {
    paths: ["nghttpd", "/usr/sbin/nghttpd", "/usr/bin/nghttpd"],
    args: ["--version"],
    version: /nghttp2\/(\S+)/,
  },
  apache: {
    paths: ["apache2", "/usr/sbin/apache2", "httpd", "/usr/sbin/httpd"],
    args: ["-v"],
    version: /Apache\/(\S+)/,
  },
};

function versionOf(candidate: string, args: string[], pattern: RegExp): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(candidate, args, (error, stdout, stderr) => {
      if (error) return resolve(null);
      resolve(pattern.exec(`${stderr}${stdout}`)?.[1] ?? null);
    });
  });
}

/** Returns the server's binary, or null when it is not installed (the tests then skip). */
export async function findH2Server(name: H2ServerName): Promise<H2Binary | null> {
  const { paths, args, version } = CANDIDATES[name];
  for (const candidate of paths) {
    const found = await versionOf(candidate, args, version);
    if (found) return { name, path: candidate, version: found };
  }
  return null;
}

/** The warning a test file prints when `name` is missing and its tests are skipped. */
export function skipMessage(name: H2ServerName, file: string): string {
  return `${file}: SKIPPED the ${name} tests: ${name} is not installed ` +
    `(.ci/run installs ${H2_PACKAGES[name]})`;
}

// ---------------------------------------------------------------------------------------------
// The document root every server serves
// ---------------------------------------------------------------------------------------------

/** The body of `/hello.txt`. */
export const HELLO = "hello over HTTP/2\n";

/** The body of `/text.txt`: ~128 KiB of text, above every compression threshold. */
export const TEXT: Uint8Array = new TextEncoder().encode(
  Array.from(
    { length: 2000 },
    (_, i) => `${String(i).padStart(5, "0")} pooled ✓ 日本語 ${i * 7919}\n`,
  )
    .join(""),
);

/** The size of `/big.bin` (written only with `bigFile: true`). */
export const BIG_SIZE = 16 * 1024 * 1024;

/** The byte at `offset` of `/big.bin`: a pattern a reader can check without keeping the file. */
export function bigByte(offset: number): number {
  return (offset * 7 + (offset >> 12)) & 0xff;
}

/** The files every server serves, by path under its root (`/big.bin` only when asked). */
export const DOCUMENT_ROOT: Record<string, string | Uint8Array> = {
  "hello.txt": HELLO,
  "text.txt": TEXT,
};

async function writeDocumentRoot(root: string, bigFile: boolean): Promise<void> {
  await fs.mkdir(root, { recursive: true, mode: 0o755 });
  for (const [file, contents] of Object.entries(DOCUMENT_ROOT)) {
    await fs.writeFile(path.join(root, file), contents, { mode: 0o644 });
  }
  if (!bigFile) return;
  // Written a MiB at a time: a test measuring memory must not start with 16 MiB to collect.
  const file = await fs.open(path.join(root, "big.bin"), "w", 0o644);
  try {
    const chunk = new Uint8Array(1024 * 1024);
    for (let at = 0; at < BIG_SIZE; at += chunk.length) {
      for (let i = 0; i < chunk.length; i++) chunk[i] = bigByte(at + i);
      await file.write(chunk);
    }
  } finally {
    await file.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Processes and directories
// ---------------------------------------------------------------------------------------------

const CERT_FILE = fileURLToPath(new URL("./fixtures/server.pem", import.meta.url));
const KEY_FILE = fileURLToPath(new URL("./fixtures/server-key.pem", import.meta.url));

/** A running server. */
export interface H2Server {
  /** Which server. */
  readonly name: H2ServerName;
  /** Its TLS origin, `https://localhost:PORT`: ALPN offers `h2` (and `http/1.1` but nghttpd). */
  readonly https: string;
  /** Its h2c origin (HTTP/2 with prior knowledge), `http://127.0.0.1:PORT`, or null. */
  readonly h2c: string | null;
  /** The temporary directory: configuration, logs, and the document root under `www/`. */
  readonly dir: string;
  /** Stops every process of the server and removes its directory; safe to call twice. */
  stop(): Promise<void>;
}

/** Makes a temporary directory readable by everyone (Apache's workers run as `nobody`). */
async function makeDir(name: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `pooled-${name}-`));
  await fs.chmod(dir, 0o755);
  return dir;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve();
  }
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** SIGTERM, then SIGKILL if the process is still there after `ms`; waits until it exited. */
async function kill(child: ChildProcess, ms = 5000): Promise<void> {
  const done = exited(child);
  child.kill("SIGTERM");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<boolean>((resolve) => timer = setTimeout(resolve, ms, true));
  const tooLate = await Promise.race([done.then(() => false), late]);
  clearTimeout(timer);
  if (tooLate) {
    child.kill("SIGKILL");
    await done;
  }
}

/** What {@linkcode spawnServer} needs. */
interface SpawnOptions {
  what: string;
  dir: string;
  command: string;
  args: string[];
  ports: number[];
  /** The server's own log, read into the error message when it fails to start. */
  log: string;
}

/**
 * Starts one server process and waits until its ports accept. On failure the process is
 * killed and the error carries the server's output and log.
 */
async function spawnServer(options: SpawnOptions): Promise<Stopper> {
  const child = spawn(options.command, options.args, {
    cwd: options.dir,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const keep = (chunk: Uint8Array) => {
    if (output.length < 16_384) output += new TextDecoder().decode(chunk);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  let spawnError: Error | undefined;
  child.once("error", (error) => spawnError = error);
  try {
    await waitUntilListening(child, options.ports, options.what);
  } catch (error) {
    await kill(child);
    const log = await fs.readFile(options.log, "utf8").catch(() => "");
    throw new Error(`${options.what} did not start: ${spawnError ?? error}\n${output}\n${log}`);
  }
  const untrack = track(child.pid, null);
  return () => kill(child).then(untrack);
}

/** Stops one process of a server. */
type Stopper = () => Promise<void>;

/** Processes and directories of the servers running now, for the exit handler below. */
const live = { pids: new Set<number>(), dirs: new Set<string>() };
let exitHandlerInstalled = false;

/**
 * If the test process dies before `stop()` (an uncaught error ends the runner), the servers
 * would outlive it: on exit, signal every one still running and remove their directories.
 */
function track(pid: number | undefined, dir: string | null): () => void {
  if (!exitHandlerInstalled) {
    exitHandlerInstalled = true;
    process.once("exit", () => {
      for (const pid of live.pids) {
        try {
          process.kill(pid, "SIGTERM");
        } catch { /* already gone */ }
      }
      // The servers may still write while they shut down: retry a non-empty directory.
      for (const dir of live.dirs) {
        rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
      }
    });
  }
  if (pid !== undefined) live.pids.add(pid);
  if (dir !== null) live.dirs.add(dir);
  return () => {
    if (pid !== undefined) live.pids.delete(pid);
    if (dir !== null) live.dirs.delete(dir);
  };
}

/**
 * Runs `start` in a fresh directory; `start` registers a stopper for each process it starts.
 * If it throws, every registered process is stopped and the directory removed; the returned
 * `stop()` does the same, once.
 */
async function inDirectory<T>(
  name: H2ServerName,
  start: (dir: string, stoppers: Stopper[]) => Promise<T>,
): Promise<T & { name: H2ServerName; dir: string; stop(): Promise<void> }> {
  const dir = await makeDir(name);
  const untrack = track(undefined, dir);
  const stoppers: Stopper[] = [];
  let stopping: Promise<void> | undefined;
  const stop = () =>
    stopping ??= (async () => {
      await Promise.all(stoppers.map((stopper) => stopper()));
      await fs.rm(dir, { recursive: true, force: true });
      untrack();
    })();
  try {
    return { ...await start(dir, stoppers), name, dir, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Options of every start helper. */
export interface H2ServerOptions {
  /** Also serve `/big.bin` ({@linkcode BIG_SIZE} octets of {@linkcode bigByte}). */
  bigFile?: boolean;
}

// ---------------------------------------------------------------------------------------------
// nginx
// ---------------------------------------------------------------------------------------------

/** Options of {@linkcode startNginxH2}. */
export interface NginxH2Options extends H2ServerOptions {
  /**
   * An HTTP/1.1 backend on 127.0.0.1 for `/backend/...` (proxied as is, so that a test can
   * serve slow answers or echo request bodies).
   */
  backendPort?: number;
  /** Also listen with this `http2_max_concurrent_streams` (origin `limited`). */
  maxConcurrentStreams?: number;
}

/** A running nginx with its extra listeners. */
export interface NginxH2Server extends H2Server {
  /** A TLS origin whose listener has no HTTP/2: ALPN can only give `http/1.1`. */
  readonly http1: string;
  /** With `maxConcurrentStreams`: a TLS h2 origin limited to that many streams, else null. */
  readonly limited: string | null;
}

function nginxServer(listen: string, root: string, backendPort?: number): string {
  const backend = backendPort === undefined ? "" : `
    location /backend/ {
      proxy_pass http://127.0.0.1:${backendPort};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
    }`;
  return `  server {
    ${listen}
    root ${root};
    add_header X-Connection $connection always;
    location = /redirect { return 302 /hello.txt; }
    location = /redirect-absolute { return 301 $scheme://$http_host/text.txt; }
    location = /status { return 200 "$server_protocol $connection"; }${backend}
  }
`;
}

/**
 * Starts nginx with a TLS listener speaking HTTP/2 (`https`), an h2c listener (`h2c`), a TLS
 * listener without HTTP/2 (`http1`) and, with `maxConcurrentStreams`, a TLS h2 listener with
 * that `http2_max_concurrent_streams` (`limited`). Every response carries `X-Connection`
 * (nginx's connection serial number), so a test can count the server's connections; gzip is
 * on for text over 1000 octets; `/redirect` answers 302 to `/hello.txt`; `/status` answers
 * `"<protocol> <connection>"`.
 */
export function startNginxH2(
  nginx: NginxBinary,
  options: NginxH2Options = {},
): Promise<NginxH2Server> {
  return inDirectory("nginx", async (dir, stoppers) => {
    const root = path.join(dir, "www");
    await writeDocumentRoot(root, options.bigFile ?? false);
    const [h2, h2c, h1, limited] = await distinctPorts(4);
    const server = (listen: string) => nginxServer(listen, root, options.backendPort);
    const servers = [
      server(http2Listen(nginx, h2, true)),
      server(http2Listen(nginx, h2c, false)),
      server(`listen 127.0.0.1:${h1} ssl;`),
    ];
    const ports = [h2, h2c, h1];
    const streams = options.maxConcurrentStreams;
    if (streams !== undefined) {
      servers.push(
        server(
          `${http2Listen(nginx, limited, true)}\n    http2_max_concurrent_streams ${streams};`,
        ),
      );
      ports.push(limited);
    }
    const running = await startNginx(nginx, {
      dir,
      ports,
      http: `  types { text/plain txt; application/octet-stream bin; }
  default_type application/octet-stream;
  client_max_body_size 0;
  keepalive_requests 100000;
  ssl_certificate ${CERT_FILE};
  ssl_certificate_key ${KEY_FILE};
  gzip on;
  gzip_types text/plain;
  gzip_min_length 1000;
${servers.join("")}`,
    });
    const untrack = track(running.pid, null);
    stoppers.push(() => running.stop().then(untrack));
    return {
      https: `https://localhost:${h2}`,
      h2c: `http://127.0.0.1:${h2c}`,
      http1: `https://localhost:${h1}`,
      limited: streams === undefined ? null : `https://localhost:${limited}`,
    };
  });
}

/** `count` loopback ports, none the same (each free a moment ago). */
async function distinctPorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await unusedPort());
  return [...ports];
}

// ---------------------------------------------------------------------------------------------
// h2o
// ---------------------------------------------------------------------------------------------

/**
 * Starts h2o with a TLS listener (ALPN `h2` and `http/1.1`: `https`) and a plain one (h2c with
 * prior knowledge, or HTTP/1.1: `h2c`), the document root, gzip (`compress`) and `/redirect`
 * (302 to `/hello.txt`).
 */
export function startH2o(h2o: H2Binary, options: H2ServerOptions = {}): Promise<H2Server> {
  return inDirectory("h2o", async (dir, stoppers) => {
    const root = path.join(dir, "www");
    await writeDocumentRoot(root, options.bigFile ?? false);
    const [tlsPort, plainPort] = await distinctPorts(2);
    const log = path.join(dir, "error.log");
    // As root, h2o would switch to `nobody`, who may not read the temporary directory.
    const user = process.getuid?.() === 0 ? "user: root\n" : "";
    const config = `${user}pid-file: ${dir}/h2o.pid
error-log: ${log}
listen:
  host: 127.0.0.1
  port: ${tlsPort}
  ssl:
    certificate-file: ${CERT_FILE}
    key-file: ${KEY_FILE}
    ocsp-update-interval: 0
listen:
  host: 127.0.0.1
  port: ${plainPort}
hosts:
  default:
    paths:
      "/redirect":
        redirect:
          url: /hello.txt
          status: 302
      "/":
        file.dir: ${root}
        compress: ON
`;
    const file = path.join(dir, "h2o.conf");
    await fs.writeFile(file, config);
    stoppers.push(
      await spawnServer({
        what: "h2o",
        dir,
        command: h2o.path,
        args: ["-c", file],
        ports: [tlsPort, plainPort],
        log,
      }),
    );
    return { https: `https://localhost:${tlsPort}`, h2c: `http://127.0.0.1:${plainPort}` };
  });
}

// ---------------------------------------------------------------------------------------------
// nghttpd
// ---------------------------------------------------------------------------------------------

/**
 * Starts two nghttpd: one over TLS (ALPN `h2` only: nghttpd speaks nothing else) and one with
 * `--no-tls` (h2c with prior knowledge), each serving the document root and echoing request
 * bodies (`--echo-upload`: a POST's answer is its body).
 */
export function startNghttpd(nghttpd: H2Binary, options: H2ServerOptions = {}): Promise<H2Server> {
  return inDirectory("nghttpd", async (dir, stoppers) => {
    const root = path.join(dir, "www");
    await writeDocumentRoot(root, options.bigFile ?? false);
    const [tlsPort, plainPort] = await distinctPorts(2);
    const common = ["--address=127.0.0.1", `--htdocs=${root}`, "--echo-upload"];
    const log = path.join(dir, "none.log");
    stoppers.push(
      await spawnServer({
        what: "nghttpd (TLS)",
        dir,
        command: nghttpd.path,
        args: [...common, String(tlsPort), KEY_FILE, CERT_FILE],
        ports: [tlsPort],
        log,
      }),
    );
    stoppers.push(
      await spawnServer({
        what: "nghttpd (h2c)",
        dir,
        command: nghttpd.path,
        args: [...common, "--no-tls", String(plainPort)],
        ports: [plainPort],
        log,
      }),
    );
    return { https: `https://localhost:${tlsPort}`, h2c: `http://127.0.0.1:${plainPort}` };
  });
}

// ---------------------------------------------------------------------------------------------
// Apache httpd with mod_http2
// ---------------------------------------------------------------------------------------------

const APACHE_MODULE_DIRS = [
  "/usr/lib/apache2/modules",
  "/usr/lib64/httpd/modules",
  "/usr/lib/httpd/modules",
];

async function apacheModuleDir(): Promise<string> {
  for (const dir of APACHE_MODULE_DIRS) {
    const ok = await fs.access(path.join(dir, "mod_http2.so")).then(() => true, () => false);
    if (ok) return dir;
  }
  throw new Error(`mod_http2.so is in none of: ${APACHE_MODULE_DIRS.join(", ")}`);
}

/**
 * Starts Apache httpd (event MPM, mod_ssl, mod_http2) with a TLS virtual host offering
 * `Protocols h2 http/1.1` (`https`) and a plain one with `Protocols h2c http/1.1` (`h2c`,
 * prior knowledge), both serving the document root. Apache refuses to serve as root: its
 * workers run as `nobody` (the directory is world-readable), the master as whoever started it.
 */
export function startApache(apache: H2Binary, options: H2ServerOptions = {}): Promise<H2Server> {
  return inDirectory("apache", async (dir, stoppers) => {
    const root = path.join(dir, "www");
    await writeDocumentRoot(root, options.bigFile ?? false);
    const modules = await apacheModuleDir();
    const [tlsPort, plainPort] = await distinctPorts(2);
    const log = path.join(dir, "error.log");
    const load = (name: string, file: string) =>
      `LoadModule ${name}_module ${modules}/${file}.so\n`;
    const user = process.getuid?.() === 0 ? "User nobody\nGroup nogroup\n" : "";
    const config = `ServerRoot ${dir}
PidFile ${dir}/apache.pid
DefaultRuntimeDir ${dir}
Mutex file:${dir} default
ErrorLog ${log}
LogLevel warn
${load("mpm_event", "mod_mpm_event")}${load("authz_core", "mod_authz_core")}${
      load("mime", "mod_mime")
    }${load("ssl", "mod_ssl")}${load("http2", "mod_http2")}${load("alias", "mod_alias")}${
      load("deflate", "mod_deflate")
    }${load("filter", "mod_filter")}TypesConfig /etc/mime.types
${user}ServerName localhost
Listen 127.0.0.1:${tlsPort} https
Listen 127.0.0.1:${plainPort} http
DocumentRoot ${root}
<Directory ${root}>
  Require all granted
</Directory>
Redirect 302 /redirect /hello.txt
AddOutputFilterByType DEFLATE text/plain
<VirtualHost 127.0.0.1:${tlsPort}>
  Protocols h2 http/1.1
  SSLEngine on
  SSLCertificateFile ${CERT_FILE}
  SSLCertificateKeyFile ${KEY_FILE}
</VirtualHost>
<VirtualHost 127.0.0.1:${plainPort}>
  Protocols h2c http/1.1
</VirtualHost>
`;
    const file = path.join(dir, "apache.conf");
    await fs.writeFile(file, config);
    stoppers.push(
      await spawnServer({
        what: "apache",
        dir,
        command: apache.path,
        args: ["-f", file, "-DFOREGROUND"],
        ports: [tlsPort, plainPort],
        log,
      }),
    );
    return { https: `https://localhost:${tlsPort}`, h2c: `http://127.0.0.1:${plainPort}` };
  });
}

// ---------------------------------------------------------------------------------------------
// The independent check
// ---------------------------------------------------------------------------------------------

const CA_FILE = fileURLToPath(new URL("./fixtures/ca.pem", import.meta.url));

/** Whether curl is installed (the independent client of {@linkcode curlVersion}). */
export function hasCurl(): Promise<boolean> {
  return new Promise((resolve) => execFile("curl", ["--version"], (error) => resolve(!error)));
}

/**
 * Fetches `url` with curl, trusting the test CA, and returns the HTTP version it used
 * (`"2"`, `"1.1"`) and the body: `https` with `--http2` (ALPN), `http` with
 * `--http2-prior-knowledge`, or HTTP/1.1 only with `http1`.
 */
export function curlVersion(
  url: string,
  http1 = false,
): Promise<{ version: string; status: number; body: string }> {
  const mode = http1
    ? "--http1.1"
    : url.startsWith("https:")
    ? "--http2"
    : "--http2-prior-knowledge";
  const args = [
    "-sS",
    mode,
    "--cacert",
    CA_FILE,
    "--max-time",
    "10",
    "-w",
    "\n%{http_version} %{http_code}",
    url,
  ];
  return new Promise((resolve, reject) => {
    execFile("curl", args, (error, stdout, stderr) => {
      if (error) return reject(new Error(`curl ${url}: ${stderr || error}`));
      const at = stdout.lastIndexOf("\n");
      const [version, status] = stdout.slice(at + 1).split(" ");
      resolve({ version, status: Number(status), body: stdout.slice(0, at) });
    });
  });
}
