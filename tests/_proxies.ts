/**
 * Real proxy servers from Debian for the proxy tests, on loopback: tinyproxy (HTTP
 * forwarding and `CONNECT`), microsocks (SOCKS5, optional username/password) and dante
 * (`danted`: SOCKS4 and SOCKS5). Each is started with a config written to a temporary
 * directory, on a free port, and stopped (and waited for) by `close()`.
 *
 * `.ci/run` installs the packages; a test whose binary is missing is skipped with a
 * message naming the package ({@linkcode missingBinary}).
 *
 * ```ts
 * const proxy = await startTinyproxy({ basicAuth: ["alice", "s3cret"] });
 * try {
 *   // ... new ProxyManager(proxy.url) ...
 * } finally {
 *   await proxy.close();
 * }
 * ```
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { unusedPort } from "./_servers.ts";

/** A running proxy server. */
export interface ProxyServer {
  /** `scheme://127.0.0.1:PORT`. */
  readonly url: string;
  /** The port it listens on. */
  readonly port: number;
  /** What the server logged so far (tinyproxy: its log file; others: stderr). */
  log(): string;
  /** Stops the server, waits for it to exit and removes its temporary directory. */
  close(): Promise<void>;
}

const BINARIES = {
  tinyproxy: { paths: ["/usr/bin/tinyproxy", "/usr/sbin/tinyproxy"], pkg: "tinyproxy" },
  microsocks: { paths: ["/usr/bin/microsocks"], pkg: "microsocks" },
  danted: { paths: ["/usr/sbin/danted", "/usr/bin/danted"], pkg: "dante-server" },
};

type Binary = keyof typeof BINARIES;

function binaryPath(name: Binary): string | undefined {
  return BINARIES[name].paths.find((path) => existsSync(path));
}

/**
 * Why a test needing `name` must be skipped (the binary is not installed), or undefined
 * when it is there. Logs the reason once per binary.
 */
export function missingBinary(name: Binary): string | undefined {
  if (binaryPath(name)) return undefined;
  const reason = `${name} is not installed (apt-get install ${
    BINARIES[name].pkg
  }; .ci/run does it): skipping the tests that need it`;
  if (!warned.has(name)) {
    warned.add(name);
    console.warn(reason);
  }
  return reason;
}

const warned = new Set<string>();

/** Resolves once something accepts connections on `port`, or rejects after `ms`. */
async function waitForPort(port: number, child: ChildProcess, output: () => string, ms = 5000) {
  const end = performance.now() + ms;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`the proxy exited with code ${child.exitCode}: ${output()}`);
    }
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: "127.0.0.1", port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on("error", () => {
        socket.destroy();
        resolve(false);
      });
    });
    if (open) return;
    if (performance.now() > end) {
      throw new Error(`the proxy did not listen on ${port}: ${output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function launch(
  name: Binary,
  args: (dir: string, port: number) => string[],
  scheme: string,
  logFile?: (dir: string) => string,
): Promise<ProxyServer> {
  const path = binaryPath(name);
  if (!path) throw new Error(missingBinary(name));
  const dir = mkdtempSync(join(tmpdir(), `pooled-${name}-`));
  const port = await unusedPort();
  const child = spawn(path, args(dir, port), { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (chunk: Uint8Array) => output += new TextDecoder().decode(chunk));
  child.stderr!.on("data", (chunk: Uint8Array) => output += new TextDecoder().decode(chunk));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const log = () => {
    const file = logFile?.(dir);
    return file && existsSync(file) ? readFileSync(file, "utf8") + output : output;
  };
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, child, log);
  } catch (error) {
    await close();
    throw error;
  }
  let closing: Promise<void> | undefined;
  return { url: `${scheme}://127.0.0.1:${port}`, port, log, close: () => closing ??= close() };
}

/** Options of {@linkcode startTinyproxy}. */
export interface TinyproxyOptions {
  /** Require these credentials (`BasicAuth user password`). */
  basicAuth?: [string, string];
  /** Allow `CONNECT` only to these ports (`ConnectPort`); default: every port. */
  connectPorts?: number[];
}

/** Starts tinyproxy (HTTP forwarding and `CONNECT`) on a free loopback port. */
export function startTinyproxy(options: TinyproxyOptions = {}): Promise<ProxyServer> {
  return launch(
    "tinyproxy",
    (dir, port) => {
      const lines = [
        `Port ${port}`,
        "Listen 127.0.0.1",
        "Timeout 30",
        "MaxClients 64",
        "LogLevel Info",
        `LogFile "${join(dir, "tinyproxy.log")}"`,
        `PidFile "${join(dir, "tinyproxy.pid")}"`,
        "Allow 127.0.0.1",
        "DisableViaHeader Yes",
      ];
      if (options.basicAuth) lines.push(`BasicAuth ${options.basicAuth.join(" ")}`);
      for (const allowed of options.connectPorts ?? []) lines.push(`ConnectPort ${allowed}`);
      const config = join(dir, "tinyproxy.conf");
      writeFileSync(config, lines.join("\n") + "\n");
      return ["-d", "-c", config];
    },
    "http",
    (dir) => join(dir, "tinyproxy.log"),
  );
}

/** Starts microsocks (SOCKS5) on a free loopback port, with credentials if given. */
export function startMicrosocks(auth?: [string, string]): Promise<ProxyServer> {
  return launch("microsocks", (_dir, port) => {
    const args = ["-i", "127.0.0.1", "-p", String(port)];
    if (auth) args.push("-u", auth[0], "-P", auth[1]);
    return args;
  }, "socks5");
}

/** Starts dante (SOCKS4 and SOCKS5, no authentication) on a free loopback port. */
export function startDante(): Promise<ProxyServer> {
  return launch("danted", (dir, port) => {
    const config = join(dir, "danted.conf");
    writeFileSync(
      config,
      [
        "logoutput: stderr",
        `internal: 127.0.0.1 port = ${port}`,
        "external: 127.0.0.1",
        "clientmethod: none",
        "socksmethod: none",
        "user.privileged: root",
        "user.unprivileged: nobody",
        "client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }",
        "socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0 command: connect }",
      ].join("\n") + "\n",
    );
    return ["-f", config, "-p", join(dir, "danted.pid")];
  }, "socks4");
}
