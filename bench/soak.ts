/**
 * Soak test: many requests through one `PoolManager` against a misbehaving server in a
 * separate process (`bench/soak_server.ts`: closes 10% of connections after a response,
 * resets 1% mid-response, stalls 0.1%), loopback only, bounded in count and time.
 *
 * Checks, and exits non-zero when one fails:
 * - every request ends in its own response (the body names its target) or in the typed
 *   error its Retry policy implies: GETs (retried) only in `MaxRetryError`; POSTs (never
 *   retried on a read error) only in `ProtocolError`, `StaleConnectionError` or
 *   `ReadTimeoutError`;
 * - no GET is lost (every GET ends in its response or `MaxRetryError`);
 * - no socket is open and no timer is pending after `close()`;
 * - resident memory grows by less than 10% over the second half of the run.
 *
 * Prints the requests, errors by type, retries, peak and final RSS, open sockets at the
 * end, and the command. Runs under whatever runtime runs it:
 *
 * ```sh
 * deno run -A bench/soak.ts            # or: deno task soak (Deno, then Bun)
 * bun bench/soak.ts --requests 200000 --concurrency 64
 * ```
 *
 * @module
 */

import { spawn } from "node:child_process";
import process from "node:process";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import {
  type Connector,
  defaultConnector,
  MaxRetryError,
  PoolManager,
  ProtocolError,
  ReadTimeoutError,
  Retry,
  type Socket,
  Timeout,
} from "../mod.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    requests: { type: "string", default: "200000" },
    concurrency: { type: "string", default: "64" },
    "read-timeout": { type: "string", default: "1000" },
    "max-seconds": { type: "string", default: "900" },
    seed: { type: "string", default: "1" },
  },
});
const REQUESTS = Number(values.requests);
const CONCURRENCY = Number(values.concurrency);
const READ_TIMEOUT = Number(values["read-timeout"]);
const MAX_SECONDS = Number(values["max-seconds"]);
const RUNTIME = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
const COMMAND = RUNTIME === "deno"
  ? `deno run -A bench/soak.ts ${process.argv.slice(2).join(" ")}`.trim()
  : `bun bench/soak.ts ${process.argv.slice(2).join(" ")}`.trim();

// ---- leak accounting: pending timers and open sockets ---------------------------------

/** Timers the library set and neither fired nor cleared yet. */
const pendingTimers = new Set<unknown>();
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;
globalThis.setTimeout = ((fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
  const id = realSetTimeout(() => {
    pendingTimers.delete(id);
    fn(...args);
  }, ms);
  pendingTimers.add(id);
  return id;
}) as typeof setTimeout;
globalThis.clearTimeout = ((id: Parameters<typeof clearTimeout>[0]) => {
  pendingTimers.delete(id);
  realClearTimeout(id);
}) as typeof clearTimeout;

/** Every socket opened, pruned of closed ones now and then. */
const sockets = new Set<Socket>();
let socketsOpened = 0;
const inner = defaultConnector();
const countingConnector: Connector = {
  name: inner.name,
  async connect(options) {
    const socket = await inner.connect(options);
    socketsOpened++;
    sockets.add(socket);
    if (sockets.size > 4 * CONCURRENCY) {
      for (const s of sockets) if (s.closed) sockets.delete(s);
    }
    return socket;
  },
};
const openSockets = () => [...sockets].filter((s) => !s.closed).length;

// ---- the server process ------------------------------------------------------------------

async function startServer() {
  const script = new URL("./servers/soak_server.ts", import.meta.url).pathname;
  const args = RUNTIME === "deno" ? ["run", "-A", script] : [script];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once("line", resolve);
    child.once("exit", (code) => reject(new Error(`soak server exited with ${code}`)));
  });
  lines.close();
  const { port } = JSON.parse(first) as { port: number };
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

// ---- the run -----------------------------------------------------------------------------

const GET_ERRORS = new Set(["MaxRetryError"]);
const POST_ERRORS = new Set(["ProtocolError", "StaleConnectionError", "ReadTimeoutError"]);

interface Sample {
  progress: number;
  rss: number;
}

async function main(): Promise<number> {
  const server = await startServer();
  const manager = new PoolManager({
    maxSize: CONCURRENCY,
    block: true,
    retries: new Retry({ total: 3 }),
    timeout: new Timeout({ connect: 5_000, read: READ_TIMEOUT }),
    connector: countingConnector,
  });
  const pool = manager.connectionFromUrl(server.url);
  const errors = new Map<string, number>();
  const failures: string[] = [];
  let next = 0;
  let done = 0;
  let responses = 0;
  let retries = 0;
  let lostGets = 0;
  const samples: Sample[] = [];
  const sampler = setInterval(
    () => samples.push({ progress: done / REQUESTS, rss: process.memoryUsage().rss }),
    250,
  );
  const started = performance.now();
  const deadline = started + MAX_SECONDS * 1000;

  const one = async (n: number) => {
    const method = n % 10 === 9 ? "POST" : "GET";
    const target = `/r/${n}`;
    try {
      const r = await manager.request(method, `${server.url}${target}`, {
        body: method === "POST" ? `body of ${n}` : undefined,
      });
      const body = new TextDecoder().decode(r.data);
      if (r.status !== 200 || !body.startsWith(`${target}\n`)) {
        failures.push(`${method} ${target}: got ${r.status} ${JSON.stringify(body.slice(0, 40))}`);
      }
      responses++;
      retries += r.retries?.history.length ?? 0;
    } catch (error) {
      const name = error instanceof Error ? error.name : String(error);
      const reason = error instanceof MaxRetryError ? `(${error.reason?.name})` : "";
      const key = `${method} ${name}${reason}`;
      errors.set(key, (errors.get(key) ?? 0) + 1);
      if (error instanceof MaxRetryError) retries += 3;
      const allowed = method === "GET" ? GET_ERRORS : POST_ERRORS;
      const typed = error instanceof MaxRetryError || error instanceof ProtocolError ||
        error instanceof ReadTimeoutError;
      if (!typed || !allowed.has(name)) {
        failures.push(`${method} ${target}: unexpected ${key}: ${(error as Error).message}`);
      }
      if (method === "GET" && !(error instanceof MaxRetryError)) lostGets++;
    }
  };
  const worker = async () => {
    while (next < REQUESTS && performance.now() < deadline) {
      await one(next++);
      done++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  samples.push({ progress: done / REQUESTS, rss: process.memoryUsage().rss });

  const atRest = pool.stats;
  await manager.close();
  // Closing is immediate, but a runtime may report the socket closed a tick later.
  for (let i = 0; i < 100 && openSockets() > 0; i++) {
    await new Promise((r) => realSetTimeout(r, 10));
  }
  const openAtEnd = openSockets();
  const timersAtEnd = pendingTimers.size;
  await server.stop();
  const finalRss = process.memoryUsage().rss;

  const window = (from: number, to: number) => {
    const inside = samples.filter((s) => s.progress >= from && s.progress <= to);
    return Math.max(...(inside.length > 0 ? inside : samples).map((s) => s.rss));
  };
  const rssHalf = window(0.4, 0.6);
  const rssEnd = window(0.9, 1);
  const growth = rssEnd / rssHalf - 1;
  const peak = Math.max(...samples.map((s) => s.rss), finalRss);

  const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  const sorted = [...errors].sort((a, b) => b[1] - a[1]);
  console.log(`soak (${RUNTIME}): ${COMMAND}`);
  console.log(
    `requests ${done} in ${seconds.toFixed(1)} s (${Math.round(done / seconds)} req/s), ` +
      `concurrency ${CONCURRENCY}, read timeout ${READ_TIMEOUT} ms`,
  );
  console.log(`responses ${responses}, errors ${done - responses}, retries ${retries}`);
  for (const [key, count] of sorted) console.log(`  ${key}: ${count}`);
  console.log(`GETs lost ${lostGets}, wrong or mixed-up responses ${failures.length}`);
  console.log(
    `sockets opened ${socketsOpened}; at the end: open ${openAtEnd}, pending timers ${timersAtEnd}`,
  );
  console.log(
    `pool before close: inUse ${atRest.inUse}, queued ${atRest.queued}, idle ${atRest.idle}, open ${atRest.open}`,
  );
  console.log(
    `RSS peak ${mib(peak)}, final ${mib(finalRss)}; second half ${mib(rssHalf)} -> ${
      mib(rssEnd)
    } ` +
      `(${(growth * 100).toFixed(1)}%)`,
  );
  const problems = [
    done < REQUESTS ? `only ${done} of ${REQUESTS} requests before --max-seconds` : "",
    lostGets > 0 ? `${lostGets} GETs lost` : "",
    openAtEnd > 0 ? `${openAtEnd} sockets open at the end` : "",
    timersAtEnd > 0 ? `${timersAtEnd} timers pending at the end` : "",
    atRest.inUse + atRest.queued > 0 ? "the pool was not at rest" : "",
    growth >= 0.1 ? `RSS grew ${(growth * 100).toFixed(1)}% in the second half` : "",
    ...failures.slice(0, 10),
  ].filter((p) => p !== "");
  for (const problem of problems) console.log(`FAIL: ${problem}`);
  console.log(problems.length === 0 ? "soak: ok" : "soak: FAILED");
  return problems.length === 0 ? 0 : 1;
}

process.exitCode = await main();
