/**
 * The benchmark client, run by each runtime under test (`deno run -A`, `bun run` or
 * `node --import tsx`) as a child of `compare.ts`. It takes one JSON argument
 * ({@linkcode WorkerConfig}), measures requests per second of the runtime's peer client (Deno's
 * and Bun's own `fetch`; undici's `Pool.request` on Node), of pooled's `PoolManager` and, for
 * the GETs (`plain`, `tls`, `large`), of the raw-socket limit (`raw_client.ts`: a canned GET
 * written on the runtime's native sockets, the reply scanned just enough to find its end, the
 * body copied into one array)
 * against the benchmark server, prints progress on stderr and one JSON
 * {@linkcode WorkerResult} on stdout.
 *
 * In the long profile (the default) one worker measures every case, concurrency and client for
 * a fixed time, round after round. In the short profile a worker is one measurement of a user's
 * short script: one client, case and concurrency, {@linkcode WorkerConfig.warmupRequests}
 * sequential requests, then {@linkcode WorkerConfig.requests} requests timed, with pooled set up
 * as such a script would (`PoolManager({ maxSize: concurrency, block: true, retries: 0 })`).
 *
 * @module
 */

import { BODY, fixedBytes, LARGE_BODY_BYTES, POST_BODY_BYTES } from "../servers/server.ts";
import { BENCH_CLIENTS, caseRate, caseUnit, roundOrder } from "./report.ts";
import type { Profile } from "./profile.ts";
import { RawClient } from "./raw_client.ts";

/**
 * A benchmark case: keep-alive GETs of the small body over the plain HTTP or the TLS
 * listener, GETs of the 1 MiB body (`large`), or POSTs of a 64 KiB body (`post`), both plain.
 */
export type BenchCase = "plain" | "tls" | "large" | "post";
/**
 * A client under test: the runtime's peer client, pooled, or the raw-socket limit (`raw`,
 * only for the keep-alive GET cases `plain` and `tls`).
 */
export type BenchClient = "peer" | "pooled" | "raw";

/** What `compare.ts` asks a worker to measure. */
export interface WorkerConfig {
  /** The plain HTTP URL. */
  plainUrl: string;
  /** The HTTPS URL. */
  tlsUrl: string;
  /** The URL of the 1 MiB body. */
  largeUrl: string;
  /** The URL that takes the POSTs. */
  postUrl: string;
  /** The server certificate (PEM) to trust. */
  caPem: string;
  /** The cases to run. */
  cases: BenchCase[];
  /** The clients to run (default: all of `BENCH_CLIENTS` of `report.ts`). */
  clients?: BenchClient[];
  /** The concurrency levels (parallel request loops) to run, except for `large`. */
  concurrency: number[];
  /** The concurrency levels of the `large` case. */
  largeConcurrency: number[];
  /** How many rounds of each measurement. */
  rounds: number;
  /** Seconds measured per run. */
  seconds: number;
  /** Seconds of warm-up before each run (not counted). */
  warmup: number;
  /** `maxSize` of pooled's `PoolManager` (long profile; the short one uses the concurrency). */
  maxSize: number;
  /** How to measure (default `long`); `short` measures the first case, concurrency and client. */
  profile?: Profile;
  /** Short profile: requests measured after the warm-up. */
  requests?: number;
  /** Short profile: sequential requests before the measured ones (not counted). */
  warmupRequests?: number;
  /** Short profile: the round this process measures, recorded in its measurement. */
  round?: number;
}

/** One measured run. */
export interface Measurement {
  /** How it was measured. */
  profile: Profile;
  /** The client. */
  client: BenchClient;
  /** The case. */
  case: BenchCase;
  /** Parallel request loops. */
  concurrency: number;
  /** Round number, from 0. */
  round: number;
  /** Completed requests in the measured window (short profile: the fixed count). */
  requests: number;
  /** Seconds the measured window really took (until the last request finished). */
  seconds: number;
  /** Requests per second, or null when the run failed. */
  rps: number | null;
  /** Why the run failed. */
  error?: string;
  /**
   * Short profile: requests per second of each block of {@linkcode BLOCK_REQUESTS} requests, in
   * completion order (how far a fresh process is from its steady rate).
   */
  blocks?: number[];
}

/** The short profile's block size for {@linkcode Measurement.blocks}. */
export const BLOCK_REQUESTS = 5000;

/** What a worker prints. */
export interface WorkerResult {
  /** `deno`, `bun` or `node`. */
  runtime: string;
  /** The runtime's version. */
  version: string;
  /** What the peer client is: `fetch` or `undici.Pool`. */
  peer: string;
  /** Why pooled could not be loaded, if it could not. */
  pooledError?: string;
  /** Every run, in order. */
  measurements: Measurement[];
}

/** One request, its body read whole and checked. */
export type RequestFn = () => Promise<void>;

/** A client set up for one case: `send` performs one request and reads the whole body. */
export interface ClientSession {
  send: RequestFn;
  close(): Promise<void>;
}

interface DenoApi {
  version: { deno: string };
  args: string[];
  createHttpClient(options: { caCerts: string[] }): { close(): void };
  exit(code: number): never;
}

/** pooled's public module; typed against the real one so `deno check` catches API changes. */
type PooledModule = typeof import("../../mod.ts");

const g = globalThis as unknown as {
  Deno?: DenoApi;
  Bun?: { version: string };
  process?: { argv: string[]; exit(code: number): never; versions: { node?: string } };
};
const runtime = g.Deno ? "deno" : g.Bun ? "bun" : g.process?.versions.node ? "node" : "unknown";
const version = g.Deno?.version.deno ?? g.Bun?.version ?? g.process?.versions.node ?? "unknown";
const peer = runtime === "node" ? "undici.Pool" : "fetch";

/** What one case sends, where, how many at once, and the body length it expects back. */
interface CaseSpec {
  url: string;
  tls: boolean;
  method: "GET" | "POST";
  body?: Uint8Array<ArrayBuffer>;
  expectedLength: number;
  concurrency: number[];
}

function caseSpec(benchCase: BenchCase, config: WorkerConfig): CaseSpec {
  const small = { method: "GET", tls: false, expectedLength: BODY.length } as const;
  switch (benchCase) {
    case "plain":
      return { ...small, url: config.plainUrl, concurrency: config.concurrency };
    case "tls":
      return { ...small, url: config.tlsUrl, tls: true, concurrency: config.concurrency };
    case "large":
      return {
        ...small,
        url: config.largeUrl,
        expectedLength: LARGE_BODY_BYTES,
        concurrency: config.largeConcurrency,
      };
    case "post":
      return {
        ...small,
        url: config.postUrl,
        method: "POST",
        body: fixedBytes(POST_BODY_BYTES, 2),
        concurrency: config.concurrency,
      };
  }
}

function name(client: BenchClient): string {
  return client === "peer" ? peer : client;
}

function log(message: string): void {
  console.error(`[${runtime}] ${message}`);
}

function checkBody(spec: CaseSpec, status: number, length: number): void {
  if (status !== 200 || length !== spec.expectedLength) {
    throw new Error(
      `unexpected response: status ${status}, ${length} body bytes (expected ${spec.expectedLength})`,
    );
  }
}

/** The runtime's `fetch`, trusting `caPem` for TLS (Deno: an HttpClient; Bun: `tls.ca`). */
function fetchSession(spec: CaseSpec, caPem: string): ClientSession {
  const { url, tls } = spec;
  let init: RequestInit = { method: spec.method, body: spec.body };
  let release = () => {};
  if (tls && g.Deno) {
    const client = g.Deno.createHttpClient({ caCerts: [caPem] });
    init = { ...init, client } as RequestInit;
    release = () => client.close();
  } else if (tls) {
    init = { ...init, tls: { ca: caPem } } as RequestInit;
  }
  return {
    send: async () => {
      const res = await fetch(url, init);
      const body = await res.arrayBuffer();
      checkBody(spec, res.status, body.byteLength);
    },
    close: () => Promise.resolve(release()),
  };
}

type Undici = typeof import("undici");

/**
 * undici's `Pool` (Node's peer: what Node's own `fetch` is built on, without the fetch
 * layer), `maxSize` connections, trusting `caPem`.
 */
function undiciSession(
  undici: Undici,
  spec: CaseSpec,
  caPem: string,
  maxSize: number,
): ClientSession {
  const { origin, pathname } = new URL(spec.url);
  const { method, body } = spec;
  const pool = new undici.Pool(origin, { connections: maxSize, connect: { ca: caPem } });
  return {
    send: async () => {
      const response = await pool.request({ method, path: pathname, body });
      checkBody(spec, response.statusCode, (await response.body.arrayBuffer()).byteLength);
    },
    close: () => pool.close(),
  };
}

/** The raw-socket limit: `maxSize` is not needed, each concurrent loop gets its connection. */
function rawSession(spec: CaseSpec, caPem: string): ClientSession {
  const client = new RawClient(spec.url, {
    caPem,
    check: (status, length) => checkBody(spec, status, length),
  });
  return {
    send: async () => {
      await client.send(); // the body reaches the caller as one array, as pooled's does
    },
    close: () => client.close(),
  };
}

/**
 * pooled's PoolManager, trusting `caPem`: with its defaults and `maxSize` (long profile), or
 * as a short script sets it up, `maxSize` connections, waiting for one rather than opening more,
 * no retries (short profile).
 */
function pooledSession(
  pooled: PooledModule,
  spec: CaseSpec,
  caPem: string,
  maxSize: number,
  profile: Profile,
): ClientSession {
  const manager = new pooled.PoolManager(
    profile === "short"
      ? { maxSize, block: true, retries: 0, caCerts: [caPem] }
      : { maxSize, caCerts: [caPem] },
  );
  const { method, url } = spec;
  const options = spec.body ? { body: spec.body } : undefined;
  return {
    send: async () => {
      const r = await manager.request(method, url, options);
      checkBody(spec, r.status, r.data.length);
    },
    close: () => manager.close(),
  };
}

/** Runs `concurrency` loops of `send` until `ms` have passed; fails on the first error. */
async function runFor(send: RequestFn, concurrency: number, ms: number): Promise<number> {
  const deadline = performance.now() + ms;
  let count = 0;
  let failed = false;
  const loop = async () => {
    while (!failed && performance.now() < deadline) {
      try {
        await send();
      } catch (error) {
        failed = true;
        throw error;
      }
      count++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return count;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** An error as one line: its name, its code if it has one, and its message. */
export function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return `${error.name}${code ? ` [${code}]` : ""}: ${error.message}`;
  }
  return String(error);
}

/**
 * Runs `concurrency` loops of `send` until `total` requests are done; fails on the first error.
 * `marks`, if given, gets the time of every {@linkcode BLOCK_REQUESTS}th completion.
 */
async function runCount(
  send: RequestFn,
  concurrency: number,
  total: number,
  marks?: number[],
): Promise<void> {
  let started = 0;
  let done = 0;
  let failed = false;
  const loop = async () => {
    while (!failed && started < total) {
      started++;
      try {
        await send();
      } catch (error) {
        failed = true;
        throw error;
      }
      if (++done % BLOCK_REQUESTS === 0) marks?.push(performance.now());
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, loop));
}

/**
 * A short script's measurement: `config.warmupRequests` sequential requests, then
 * `config.requests` timed, `concurrency` at a time.
 */
export async function measureCount(
  open: () => ClientSession,
  config: Pick<WorkerConfig, "requests" | "warmupRequests">,
  concurrency: number,
): Promise<{ requests: number; seconds: number; blocks?: number[] }> {
  const session = open();
  const requests = config.requests ?? 0;
  const warmup = config.warmupRequests ?? 0;
  // Generous: a loaded machine, 1 MiB bodies; only a request that hangs should hit it.
  const limit = (count: number) => 60_000 + count * 5;
  try {
    await withTimeout(runCount(session.send, 1, warmup), limit(warmup), "warm-up");
    const start = performance.now();
    const marks: number[] = [];
    await withTimeout(
      runCount(session.send, concurrency, requests, marks),
      limit(requests),
      "run",
    );
    const seconds = (performance.now() - start) / 1000;
    const blocks = marks.map((mark, i) => BLOCK_REQUESTS * 1000 / (mark - (marks[i - 1] ?? start)));
    return { requests, seconds, blocks };
  } finally {
    await withTimeout(session.close(), 5000, "close").catch(() => {});
  }
}

/** A long run: `config.warmup` seconds not counted, then `config.seconds` timed. */
export async function measureOnce(
  open: () => ClientSession,
  config: Pick<WorkerConfig, "warmup" | "seconds">,
  concurrency: number,
): Promise<{ requests: number; seconds: number; blocks?: number[] }> {
  const session = open();
  try {
    const warmupMs = config.warmup * 1000;
    const ms = config.seconds * 1000;
    const grace = 15_000;
    await withTimeout(runFor(session.send, concurrency, warmupMs), warmupMs + grace, "warm-up");
    const start = performance.now();
    const requests = await withTimeout(runFor(session.send, concurrency, ms), ms + grace, "run");
    return { requests, seconds: (performance.now() - start) / 1000 };
  } finally {
    await withTimeout(session.close(), 5000, "close").catch(() => {});
  }
}

async function loadPooled(): Promise<PooledModule | string> {
  try {
    const mod: PooledModule = await import("../../mod.ts");
    if (typeof mod.PoolManager !== "function") return "mod.ts does not export PoolManager";
    return mod;
  } catch (error) {
    return `cannot load ../mod.ts: ${describe(error)}`;
  }
}

async function run(config: WorkerConfig): Promise<WorkerResult> {
  const pooled = await loadPooled();
  const undici = runtime === "node" ? await import("undici") : undefined;
  const result: WorkerResult = { runtime, version, peer, measurements: [] };
  if (typeof pooled === "string") {
    result.pooledError = pooled;
    log(`pooled: n/a (${pooled})`);
  }
  const clients = config.clients ?? BENCH_CLIENTS;
  const profile = config.profile ?? "long";
  const short = profile === "short";
  const measure = short ? measureCount : measureOnce;
  // A short-profile process is one round of one client; the parent alternates the clients.
  const rounds = short ? 1 : config.rounds;
  for (let index = 0; index < rounds; index++) {
    const round = short ? config.round ?? 0 : index;
    for (const benchCase of config.cases) {
      const spec = caseSpec(benchCase, config);
      for (const concurrency of spec.concurrency) {
        const order = short ? clients.slice(0, 1) : roundOrder(clients, benchCase, round);
        for (const client of order) {
          const base = { profile, client, case: benchCase, concurrency, round };
          const maxSize = short ? concurrency : config.maxSize;
          if (client === "pooled" && typeof pooled === "string") {
            result.measurements.push({
              ...base,
              requests: 0,
              seconds: 0,
              rps: null,
              error: pooled,
            });
            continue;
          }
          const open = client === "raw"
            ? () => rawSession(spec, config.caPem)
            : client === "peer"
            ? undici
              ? () => undiciSession(undici, spec, config.caPem, maxSize)
              : () => fetchSession(spec, config.caPem)
            : () => pooledSession(pooled as PooledModule, spec, config.caPem, maxSize, profile);
          try {
            const { requests, seconds, blocks } = await measure(open, config, concurrency);
            const rps = requests / seconds;
            result.measurements.push({ ...base, requests, seconds, rps, blocks });
            const perBlock = blocks?.length
              ? ` (per ${BLOCK_REQUESTS} requests: ${blocks.map((r) => r.toFixed(0)).join(" ")})`
              : "";
            log(
              `${profile} round ${round + 1} ${benchCase} c=${concurrency} ${name(client)}: ${
                caseRate(benchCase, rps).toFixed(0)
              } ${caseUnit(benchCase)}${perBlock}`,
            );
          } catch (error) {
            const message = describe(error);
            result.measurements.push({
              ...base,
              requests: 0,
              seconds: 0,
              rps: null,
              error: message,
            });
            log(
              `${profile} round ${round + 1} ${benchCase} c=${concurrency} ${
                name(client)
              }: failed: ${message}`,
            );
          }
        }
      }
    }
  }
  return result;
}

/**
 * Whether this module is the process's entry script rather than imported (by `h2_worker.ts`,
 * for its measuring loops): `import.meta.main` on Deno and Bun, the script path on Node.
 */
function isEntry(): boolean {
  const main = (import.meta as { main?: boolean }).main;
  if (main !== undefined) return main;
  return decodeURIComponent(new URL(import.meta.url).pathname) === g.process?.argv[1];
}

if (isEntry()) {
  const args = g.Deno?.args ?? g.process?.argv.slice(2) ?? [];
  if (args.length !== 1) {
    console.error("usage: client_worker.ts CONFIG_JSON (started by bench/compare.ts)");
  } else {
    const result = await run(JSON.parse(args[0]) as WorkerConfig);
    console.log(JSON.stringify(result));
  }
  // Requests that hung past their time limit must not keep the process alive.
  (g.Deno?.exit ?? g.process?.exit)?.(0);
}
