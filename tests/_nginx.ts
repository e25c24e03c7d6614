/**
 * Runs a real nginx on loopback, under Deno and Bun (`node:` APIs only): finds the binary,
 * writes a configuration into a temporary directory (pid, logs, lock and temp paths all
 * inside it, workers running as the current user), starts nginx in the foreground
 * (`daemon off`) as a child process, waits until every listed port accepts, and stops it.
 * Shared by `tests/nginx_test.ts` and the benchmark (`bench/servers/nginx.ts`).
 *
 * ```ts
 * const nginx = await findNginx();
 * if (nginx) {
 *   const dir = await makeNginxDir();
 *   const port = await unusedPort();
 *   const server = await startNginx(nginx, {
 *     dir,
 *     ports: [port],
 *     http: `server { listen 127.0.0.1:${port}; location / { return 200 "hi"; } }`,
 *   });
 *   await server.stop();
 *   await removeNginxDir(dir);
 * }
 * ```
 *
 * @module
 */

import { type ChildProcess, execFile, spawn } from "node:child_process";
import * as fs from "node:fs/promises";
import { existsSync } from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";

/** An installed nginx. */
export interface NginxBinary {
  /** The executable. */
  path: string;
  /** Its version, e.g. `1.22.1`. */
  version: string;
}

/** Where nginx may be installed, tried in order. */
const CANDIDATES = [
  "nginx",
  "/usr/sbin/nginx",
  "/usr/local/sbin/nginx",
  "/usr/local/nginx/sbin/nginx",
];

/** Where Debian's `libnginx-mod-*` packages put dynamic modules. */
const MODULE_DIRS = ["/usr/lib/nginx/modules", "/usr/local/nginx/modules"];

function nginxVersion(candidate: string): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(candidate, ["-v"], (error, stdout, stderr) => {
      if (error) return resolve(null);
      resolve(/nginx\/(\S+)/.exec(`${stderr}${stdout}`)?.[1] ?? null);
    });
  });
}

/** Returns the nginx binary and its version, or null when nginx is not installed. */
export async function findNginx(): Promise<NginxBinary | null> {
  for (const candidate of CANDIDATES) {
    const version = await nginxVersion(candidate);
    if (version) return { path: candidate, version };
  }
  return null;
}

/**
 * The path of a dynamic module such as `ngx_http_brotli_filter_module`, or null when it is
 * not installed.
 */
export function findNginxModule(name: string): string | null {
  for (const dir of MODULE_DIRS) {
    const file = path.join(dir, `${name}.so`);
    if (existsSync(file)) return file;
  }
  return null;
}

/** True when `version` (`1.22.1`) is at least `major.minor.patch`. */
function versionAtLeast(version: string, major: number, minor: number, patch: number): boolean {
  const [a = 0, b = 0, c = 0] = version.split(".").map(Number);
  return a !== major ? a > major : b !== minor ? b > minor : c >= patch;
}

/**
 * The directives of a server block that listens on `127.0.0.1:port` with HTTP/2: over TLS
 * (ALPN offers `h2` and `http/1.1`) when `ssl`, else h2c with prior knowledge only. nginx
 * before 1.25.1 has no `http2 on`: the listen parameter says it there.
 */
export function http2Listen(nginx: NginxBinary, port: number, ssl: boolean): string {
  const tls = ssl ? " ssl" : "";
  return versionAtLeast(nginx.version, 1, 25, 1)
    ? `listen 127.0.0.1:${port}${tls}; http2 on;`
    : `listen 127.0.0.1:${port}${tls} http2;`;
}

/** What {@linkcode nginxConfig} and {@linkcode startNginx} need. */
export interface NginxOptions {
  /** A fresh directory for the configuration, pid, logs and temp files. */
  dir: string;
  /** The loopback ports the `http` block listens on; start waits until each accepts. */
  ports: number[];
  /** The contents of the `http { }` block: servers, locations, and any http settings. */
  http: string;
  /** Absolute paths of dynamic modules to load. */
  modules?: string[];
  /** Worker processes (default 1). */
  workers?: number;
  /** `worker_connections` (default 1024). */
  workerConnections?: number;
}

/**
 * Keeps the workers as root when nginx starts as root (it would switch them to `nobody`,
 * who cannot use the temporary directory); other users' workers stay who they are.
 */
function userDirective(): string {
  return process.getuid?.() === 0 ? "user root;\n" : "";
}

/** The whole configuration file: process-wide settings around `options.http`. */
export function nginxConfig(options: NginxOptions): string {
  const { dir } = options;
  const modules = (options.modules ?? []).map((m) => `load_module ${m};\n`).join("");
  return `${modules}${userDirective()}worker_processes ${options.workers ?? 1};
daemon off;
master_process on;
pid ${dir}/nginx.pid;
lock_file ${dir}/nginx.lock;
error_log ${dir}/error.log warn;
events {
  worker_connections ${options.workerConnections ?? 1024};
}
http {
  access_log off;
  server_tokens off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${options.http}
}
`;
}

/** A running nginx. */
export interface RunningNginx {
  /** The master process id. */
  pid: number;
  /** Stops nginx (SIGTERM: fast shutdown) and waits until the master has exited. */
  stop(): Promise<void>;
}

/** Makes a fresh temporary directory for one nginx. */
export async function makeNginxDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "pooled-nginx-"));
  await fs.chmod(dir, 0o755);
  return dir;
}

/** Removes a directory made by {@linkcode makeNginxDir}. */
export async function removeNginxDir(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true });
}

/** True once the child has exited, or never started. */
function gone(child: ChildProcess): boolean {
  return child.pid === undefined || child.exitCode !== null || child.signalCode !== null;
}

function exited(child: ChildProcess): Promise<void> {
  if (gone(child)) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** Stops a server started as a child process (SIGTERM) and waits until it has exited. */
export function stopChild(child: ChildProcess): Promise<void> {
  const done = exited(child);
  if (!gone(child)) child.kill("SIGTERM");
  return done;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/**
 * Waits until every port accepts, while `child` (a server named `what`) runs; throws if it
 * exits or after `ms`.
 */
export async function waitUntilListening(
  child: ChildProcess,
  ports: number[],
  what = "nginx",
  ms = 10_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  for (const port of ports) {
    while (!await accepts(port)) {
      if (gone(child)) throw new Error(`${what} exited with ${child.exitCode ?? child.signalCode}`);
      if (Date.now() > deadline) {
        throw new Error(`nothing listens on 127.0.0.1:${port} after ${ms} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

/**
 * Writes `nginx.conf` into `options.dir`, starts nginx in the foreground and waits until
 * every port in `options.ports` accepts connections.
 *
 * @throws {Error} when nginx exits or does not listen in time; the message has its error log.
 */
export async function startNginx(
  nginx: NginxBinary,
  options: NginxOptions,
): Promise<RunningNginx> {
  const { dir } = options;
  const confFile = path.join(dir, "nginx.conf");
  await fs.writeFile(confFile, nginxConfig(options));
  const child = spawn(nginx.path, ["-p", dir, "-c", confFile, "-e", `${dir}/error.log`], {
    stdio: "ignore",
  });
  let spawnError: Error | undefined;
  child.once("error", (error) => spawnError = error);
  try {
    await waitUntilListening(child, options.ports);
  } catch (error) {
    await stopChild(child);
    const log = await fs.readFile(`${dir}/error.log`, "utf8").catch(() => "");
    throw new Error(`nginx did not start: ${spawnError ?? error}\n${log}`);
  }
  return { pid: child.pid ?? 0, stop: () => stopChild(child) };
}
