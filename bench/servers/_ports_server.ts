/**
 * What `bench/many_origins.ts` and `bench/idle_heap.ts` share: starting `ports_server.ts`
 * in a child process of the same runtime and asking it for its counters, raising the
 * open-file limit, and reading the process's peak resident memory. `node:` APIs only, so
 * both scripts run under Deno, Bun and Node.
 *
 * @module
 */

import { execFileSync, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import process from "node:process";
import { createInterface } from "node:readline";
import type { PortsServerStats } from "./ports_server.ts";
import { concatBytes } from "../../src/_bytes.ts";

/** `GET /bytes/N` on any port of `ports_server.ts` answers N bytes of `x`. */
export const BYTES_PATH = "/bytes/";

/** The runtime running this script: `deno`, `bun` or `node`. */
export const RUNTIME: "deno" | "bun" | "node" = "Deno" in globalThis
  ? "deno"
  : "Bun" in globalThis
  ? "bun"
  : "node";

/** The arguments that make this runtime's executable run `script` (Node: through tsx). */
export function scriptArgs(script: string): string[] {
  if (RUNTIME === "deno") return ["run", "-A", script];
  if (RUNTIME === "bun") return [script];
  return ["--import", "tsx", script];
}

/** A running `ports_server.ts`. */
export interface PortsServer {
  /** The ports it listens on, on 127.0.0.1. */
  ports: number[];
  /** Its counters now. */
  stats(): Promise<PortsServerStats>;
  /** Resets its counters. */
  reset(): Promise<void>;
  /** Kills it and waits for it to exit. */
  stop(): Promise<void>;
}

/** One request on a connection of its own (`Connection: close`); resolves to the body. */
function control(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const chunks: Uint8Array[] = [];
    socket.on("data", (chunk: Uint8Array) => chunks.push(chunk));
    socket.once("error", reject);
    socket.once("end", () => {
      const text = new TextDecoder().decode(concatBytes(chunks));
      resolve(text.slice(text.indexOf("\r\n\r\n") + 4));
    });
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  });
}

/** Starts `ports_server.ts --ports count` under this runtime; resolves once all listen. */
export async function startPortsServer(count: number): Promise<PortsServer> {
  const script = new URL("./ports_server.ts", import.meta.url).pathname;
  const child = spawn(process.execPath, [...scriptArgs(script), "--ports", String(count)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const lines = createInterface({ input: child.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once("line", resolve);
    child.once("exit", (code) => reject(new Error(`ports server exited with ${code}`)));
  });
  lines.close();
  const { ports } = JSON.parse(first) as { ports: number[] };
  return {
    ports,
    stats: async () => JSON.parse(await control(ports[0], "/_stats")) as PortsServerStats,
    reset: async () => void await control(ports[0], "/_reset"),
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** The soft and hard limits on open files of this process, from /proc (Linux). */
function openFileLimits(): { soft: number; hard: number } | null {
  try {
    const line = readFileSync("/proc/self/limits", "utf8").split("\n")
      .find((l) => l.startsWith("Max open files"));
    const [soft, hard] = line!.trim().split(/\s{2,}/).slice(1, 3).map((v) =>
      v === "unlimited" ? Infinity : Number(v)
    );
    return { soft, hard };
  } catch {
    return null;
  }
}

/**
 * Makes sure this process (and the children it starts after) may open `need` files. Deno,
 * Bun and Node already raise their soft limit to the hard one at start; past the hard limit
 * this tries util-linux `prlimit` on our own pid (works for root with CAP_SYS_RESOURCE).
 * Throws with the fix when the limit stays too low.
 */
export function ensureOpenFiles(need: number): string {
  const before = openFileLimits();
  if (before === null) return "open-file limit unknown (no /proc/self/limits)";
  if (before.soft >= need) return `open-file limit ${before.soft} (need ${need})`;
  const hard = Math.max(before.hard, need);
  try {
    execFileSync("prlimit", [`--pid=${process.pid}`, `--nofile=${need}:${hard}`], {
      stdio: "ignore",
    });
  } catch {
    // checked below
  }
  const after = openFileLimits()!;
  if (after.soft < need) {
    throw new Error(
      `needs ${need} open files, the limit is ${after.soft} (hard ${after.hard}): ` +
        `run it after \`ulimit -n ${need}\` (above the hard limit only root can raise it)`,
    );
  }
  return `open-file limit raised from ${before.soft} to ${after.soft} (need ${need})`;
}

/**
 * Resets the kernel's peak-RSS mark of this process (`VmHWM`; Linux ≥ 4.0), so that
 * {@linkcode peakRss} measures from now. False where that is not possible.
 */
export function resetPeakRss(): boolean {
  try {
    writeFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

/** The peak resident memory in bytes since {@linkcode resetPeakRss} (`VmHWM`), or null. */
export function peakRss(): number | null {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync("/proc/self/status", "utf8"));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Bytes as `12.3 MiB`. */
export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
