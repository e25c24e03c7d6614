/**
 * Runs a real Caddy on loopback, under Deno, Bun and Node (`node:` APIs only), as
 * `tests/_nginx.ts` does for nginx: finds the binary, writes a JSON configuration into a
 * temporary directory (plain HTTP on one loopback port, the admin endpoint off, nothing
 * persisted, its storage and `HOME` inside the directory), starts `caddy run` as a child
 * process, waits until the port accepts, and stops it.
 *
 * ```ts
 * const caddy = await findCaddy();
 * if (caddy) {
 *   const dir = await makeCaddyDir();
 *   const port = await unusedPort();
 *   const server = await startCaddy(caddy, {
 *     dir,
 *     port,
 *     routes: [{ handle: [{ handler: "static_response", body: "hi" }] }],
 *   });
 *   await server.stop();
 *   await removeCaddyDir(dir);
 * }
 * ```
 *
 * @module
 */

import { execFile, spawn } from "node:child_process";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { stopChild, waitUntilListening } from "./_nginx.ts";

/** An installed Caddy. */
export interface CaddyBinary {
  /** The executable. */
  path: string;
  /** Its version, e.g. `2.6.2`. */
  version: string;
}

/** Where Caddy may be installed, tried in order. */
const CANDIDATES = ["caddy", "/usr/bin/caddy", "/usr/local/bin/caddy"];

function caddyVersion(candidate: string): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(candidate, ["version"], (error, stdout) => {
      if (error) return resolve(null);
      resolve(/v?(\d+\.\d+\.\d+\S*)/.exec(stdout)?.[1] ?? null);
    });
  });
}

/** Returns the Caddy binary and its version, or null when Caddy is not installed. */
export async function findCaddy(): Promise<CaddyBinary | null> {
  for (const candidate of CANDIDATES) {
    const version = await caddyVersion(candidate);
    if (version) return { path: candidate, version };
  }
  return null;
}

/** One route of Caddy's `http` app, in its JSON form (`match`, `handle`). */
export type CaddyRoute = Record<string, unknown>;

/** What {@linkcode caddyConfig} and {@linkcode startCaddy} need. */
export interface CaddyOptions {
  /** A fresh directory for the configuration, storage and logs. */
  dir: string;
  /** The loopback port to serve plain HTTP on; start waits until it accepts. */
  port: number;
  /** The routes of the one server, in order. */
  routes: CaddyRoute[];
}

/** The whole JSON configuration: one plain-HTTP server on `127.0.0.1:port`. */
export function caddyConfig(options: CaddyOptions): string {
  const { dir, port, routes } = options;
  return JSON.stringify(
    {
      // No admin endpoint, and no autosave of the configuration into the user's home.
      admin: { disabled: true, config: { persist: false } },
      logging: {
        logs: {
          default: { level: "ERROR", writer: { output: "file", filename: `${dir}/error.log` } },
        },
      },
      storage: { module: "file_system", root: `${dir}/data` },
      apps: {
        http: {
          // Stopping the server does not wait for keep-alive connections.
          grace_period: "1s",
          servers: {
            test: {
              listen: [`127.0.0.1:${port}`],
              automatic_https: { disable: true },
              routes,
            },
          },
        },
      },
    },
    null,
    2,
  );
}

/** A running Caddy. */
export interface RunningCaddy {
  /** The process id. */
  pid: number;
  /** Stops Caddy (SIGTERM: graceful exit) and waits until it has exited. */
  stop(): Promise<void>;
}

/** Makes a fresh temporary directory for one Caddy. */
export async function makeCaddyDir(): Promise<string> {
  return await fs.mkdtemp(path.join(os.tmpdir(), "pooled-caddy-"));
}

/** Removes a directory made by {@linkcode makeCaddyDir}. */
export async function removeCaddyDir(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true });
}

/**
 * Writes `caddy.json` into `options.dir`, runs Caddy with it and waits until
 * `options.port` accepts connections.
 *
 * @throws {Error} when Caddy exits or does not listen in time; the message has its output
 * and error log.
 */
export async function startCaddy(
  caddy: CaddyBinary,
  options: CaddyOptions,
): Promise<RunningCaddy> {
  const { dir } = options;
  const configFile = path.join(dir, "caddy.json");
  await fs.writeFile(configFile, caddyConfig(options));
  // Caddy keeps its data and configuration under $HOME / $XDG_*: all inside `dir`.
  const env = {
    ...process.env,
    HOME: dir,
    XDG_DATA_HOME: `${dir}/data`,
    XDG_CONFIG_HOME: `${dir}/config`,
  };
  const child = spawn(caddy.path, ["run", "--config", configFile], {
    env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  // What it says before its logging is set up (a bad configuration), for the error below.
  let stderr = "";
  child.stderr!.on("data", (piece: Uint8Array) => {
    stderr = (stderr + new TextDecoder().decode(piece)).slice(-4096);
  });
  let spawnError: Error | undefined;
  child.once("error", (error) => spawnError = error);
  try {
    await waitUntilListening(child, [options.port], "caddy");
  } catch (error) {
    await stopChild(child);
    const log = await fs.readFile(path.join(dir, "error.log"), "utf8").catch(() => "");
    throw new Error(`caddy did not start: ${spawnError ?? error}\n${stderr}${log}`);
  }
  return { pid: child.pid ?? 0, stop: () => stopChild(child) };
}
