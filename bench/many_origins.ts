/**
 * 10,000 requests in flight at once across 1,000 origins: one
 * `PoolManager({ numPools: 1000, maxSize: 10 })` sends 10 GETs to each of 1,000 loopback
 * ports of a server in a separate process (`ports_server.ts`), all started before any is
 * awaited, and then the same 10,000 through the runtime's own `fetch` for comparison.
 *
 * Checks, and exits non-zero when one fails (pooled only; fetch is reported as measured):
 * - every request ends in status 200 with its own body (`PORT /path`: the right origin and
 *   path), none in an error;
 * - the server saw every request on a connection of its own, all open at once (peak open
 *   connections = requests, one request per connection): so all were in flight together;
 * - after `close()`, no socket the manager opened is still open, no pool is left, and the
 *   server sees no connection left open.
 *
 * Prints a table: time, req/s, errors, peak RSS (the kernel's `VmHWM`, reset before each
 * run), the server's peak open connections, and what was left open after closing.
 *
 * It needs about `requests + origins + 1,000` open files (12,000) in this process and in the
 * server process. The runtimes raise their soft limit to the hard one themselves; when the
 * hard limit is lower, it tries `prlimit`, else stops and says to run `ulimit -n 12000` first.
 *
 * ```sh
 * deno task bench:origins                 # Deno, then Bun
 * deno run -A bench/many_origins.ts --origins 1000 --per-origin 10
 * bun bench/many_origins.ts
 * node --import tsx bench/many_origins.ts
 * ```
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";
import { type Connector, defaultConnector, PoolManager, type Socket } from "../mod.ts";
import {
  ensureOpenFiles,
  mib,
  peakRss,
  type PortsServer,
  resetPeakRss,
  RUNTIME,
  startPortsServer,
} from "./servers/_ports_server.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    origins: { type: "string", default: "1000" },
    "per-origin": { type: "string", default: "10" },
    "max-seconds": { type: "string", default: "120" },
    "no-fetch": { type: "boolean", default: false },
  },
});
const ORIGINS = Number(values.origins);
const PER_ORIGIN = Number(values["per-origin"]);
const REQUESTS = ORIGINS * PER_ORIGIN;
const MAX_MS = Number(values["max-seconds"]) * 1000;

/** One client run through the 10,000 requests. */
interface RunResult {
  client: string;
  seconds: number;
  ok: number;
  errors: Map<string, number>;
  peakRss: number | null;
  serverPeakOpen: number;
  maxRequestsPerConnection: number;
  /** What was left open after the client was closed, or why that is not known. */
  leftOpen: string;
  /** Problems that fail the run. */
  failures: string[];
}

/** A request: to which origin, which path, and the body that proves it got there. */
interface Target {
  url: string;
  expected: string;
}

function targets(ports: number[]): Target[] {
  const list: Target[] = [];
  for (let j = 0; j < PER_ORIGIN; j++) {
    for (const port of ports) {
      const path = `/r/${j}`;
      list.push({ url: `http://127.0.0.1:${port}${path}`, expected: `${port} ${path}` });
    }
  }
  return list;
}

/** Every socket the manager's connector opened. */
function countingConnector(): { connector: Connector; open: () => number; opened: () => number } {
  const inner = defaultConnector();
  const sockets: Socket[] = [];
  const connector: Connector = {
    name: inner.name,
    async connect(options) {
      const socket = await inner.connect(options);
      sockets.push(socket);
      return socket;
    },
  };
  return {
    connector,
    open: () => sockets.filter((s) => !s.closed).length,
    opened: () => sockets.length,
  };
}

function errorName(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return `${error.name}${code ? ` [${code}]` : ""}: ${error.message}`.slice(0, 160);
  }
  return String(error);
}

/**
 * Sends every target at once through `send` (which resolves to status and body text),
 * within the time limit; returns the time, successes and errors by message.
 */
async function sendAll(
  list: Target[],
  send: (url: string) => Promise<{ status: number; text: string }>,
): Promise<Pick<RunResult, "seconds" | "ok" | "errors">> {
  const errors = new Map<string, number>();
  let ok = 0;
  const start = performance.now();
  const all = Promise.all(list.map(async ({ url, expected }) => {
    try {
      const { status, text } = await send(url);
      if (status === 200 && text === expected) {
        ok++;
        return;
      }
      throw new Error(`wrong response: ${status} ${JSON.stringify(text.slice(0, 40))}`);
    } catch (error) {
      const key = errorName(error);
      errors.set(key, (errors.get(key) ?? 0) + 1);
    }
  }));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<void>((resolve) => timer = setTimeout(resolve, MAX_MS));
  await Promise.race([all, limit]);
  clearTimeout(timer);
  const missing = list.length - ok - [...errors.values()].reduce((a, b) => a + b, 0);
  if (missing > 0) errors.set(`not finished after ${MAX_MS / 1000} s`, missing);
  return { seconds: (performance.now() - start) / 1000, ok, errors };
}

/** Polls the server until it sees no connection open, for up to `ms`; the last count. */
async function serverOpenAfter(server: PortsServer, ms: number): Promise<number> {
  const deadline = performance.now() + ms;
  let open = (await server.stats()).open;
  while (open > 0 && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    open = (await server.stats()).open;
  }
  return open;
}

async function runPooled(server: PortsServer, list: Target[]): Promise<RunResult> {
  await server.reset();
  resetPeakRss();
  const sockets = countingConnector();
  const manager = new PoolManager({
    numPools: ORIGINS,
    maxSize: PER_ORIGIN,
    connector: sockets.connector,
  });
  const decoder = new TextDecoder();
  const measured = await sendAll(list, async (url) => {
    const r = await manager.request("GET", url);
    return { status: r.status, text: decoder.decode(r.data) };
  });
  const rss = peakRss();
  const stats = await server.stats();
  const pools = manager.pools.size;
  await manager.close();
  const clientOpen = sockets.open();
  const serverOpen = await serverOpenAfter(server, 5000);
  const failures: string[] = [];
  if (measured.ok !== list.length) failures.push(`${list.length - measured.ok} requests failed`);
  if (pools !== ORIGINS) failures.push(`${pools} pools before close(), expected ${ORIGINS}`);
  if (stats.peakOpen < list.length || stats.maxRequestsPerConnection !== 1) {
    failures.push(
      `not all in flight at once: the server saw at most ${stats.peakOpen} connections open ` +
        `and up to ${stats.maxRequestsPerConnection} requests on one`,
    );
  }
  if (manager.pools.size !== 0) failures.push(`${manager.pools.size} pools left after close()`);
  if (clientOpen !== 0) failures.push(`${clientOpen} sockets still open after close()`);
  if (serverOpen !== 0) failures.push(`the server still sees ${serverOpen} connections`);
  return {
    client: "pooled",
    ...measured,
    peakRss: rss,
    serverPeakOpen: stats.peakOpen,
    maxRequestsPerConnection: stats.maxRequestsPerConnection,
    leftOpen: `${clientOpen} sockets (of ${sockets.opened()} opened), ` +
      `${manager.pools.size} pools; server: ${serverOpen} connections`,
    failures,
  };
}

interface DenoFetchApi {
  createHttpClient(options: Record<string, never>): { close(): void };
}

/** The runtime's `fetch` (Deno: through an HttpClient of its own, closed at the end). */
async function runFetch(server: PortsServer, list: Target[]): Promise<RunResult> {
  await server.reset();
  resetPeakRss();
  const deno = (globalThis as { Deno?: DenoFetchApi }).Deno;
  const client = deno?.createHttpClient({});
  const init = (client ? { client } : {}) as RequestInit;
  const measured = await sendAll(list, async (url) => {
    const response = await fetch(url, init);
    return { status: response.status, text: await response.text() };
  });
  const rss = peakRss();
  const stats = await server.stats();
  client?.close();
  const serverOpen = await serverOpenAfter(server, client ? 5000 : 500);
  return {
    client: RUNTIME === "node" ? "fetch (undici)" : "fetch",
    ...measured,
    peakRss: rss,
    serverPeakOpen: stats.peakOpen,
    maxRequestsPerConnection: stats.maxRequestsPerConnection,
    leftOpen: client
      ? `server: ${serverOpen} connections after HttpClient.close()`
      : `server: ${serverOpen} connections (fetch keeps its own pool; no close())`,
    failures: [],
  };
}

function row(result: RunResult): string {
  const errors = [...result.errors.values()].reduce((a, b) => a + b, 0);
  return [
    RUNTIME,
    result.client,
    REQUESTS.toLocaleString("en-US"),
    `${result.seconds.toFixed(2)} s`,
    Math.round(result.ok / result.seconds).toLocaleString("en-US"),
    errors.toLocaleString("en-US"),
    result.peakRss === null ? "n/a" : mib(result.peakRss),
    result.serverPeakOpen.toLocaleString("en-US"),
    result.leftOpen,
  ].join(" | ");
}

async function main(): Promise<number> {
  const limit = ensureOpenFiles(REQUESTS + ORIGINS + 1000);
  console.error(`[${RUNTIME}] ${limit}`);
  const server = await startPortsServer(ORIGINS);
  const results: RunResult[] = [];
  try {
    const list = targets(server.ports);
    results.push(await runPooled(server, list));
    console.error(`[${RUNTIME}] pooled: ${row(results[0])}`);
    if (!values["no-fetch"]) {
      results.push(await runFetch(server, list));
      console.error(`[${RUNTIME}] fetch: ${row(results[1])}`);
    }
  } finally {
    await server.stop();
  }
  console.log(
    `\n${REQUESTS.toLocaleString("en-US")} GETs at once, ${PER_ORIGIN} to each of ` +
      `${ORIGINS.toLocaleString("en-US")} origins (127.0.0.1 ports; server: ports_server.ts ` +
      `under ${RUNTIME}); pooled: PoolManager({ numPools: ${ORIGINS}, maxSize: ${PER_ORIGIN} })\n`,
  );
  console.log(
    "| runtime | client | requests | time | req/s | errors | peak RSS | server peak connections | left open after close |",
  );
  console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
  for (const result of results) console.log(`| ${row(result)} |`);
  for (const result of results) {
    for (const [message, count] of result.errors) {
      console.log(`- ${result.client} error x${count}: ${message}`);
    }
  }
  const failures = results.flatMap((r) => r.failures.map((f) => `${r.client}: ${f}`));
  for (const failure of failures) console.log(`- FAILED ${failure}`);
  return failures.length === 0 ? 0 : 1;
}

process.exit(await main());
