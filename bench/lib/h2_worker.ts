/**
 * The HTTP/2 benchmark client, run by each runtime under test (`deno run -A`, `bun run` or
 * `node --import tsx`) as a child of `compare_h2.ts`. It takes one JSON argument
 * ({@linkcode H2WorkerConfig}), measures the clients of {@linkcode H2Client} against nginx
 * over TLS (offering `h2` and `http/1.1`), prints progress on stderr and one JSON
 * {@linkcode H2WorkerResult} on stdout. The measuring loops and both profiles are those of
 * `client_worker.ts`.
 *
 * Each session's first request reads the `X-Protocol` header nginx adds, so the report says
 * which protocol each client really spoke (a runtime's `fetch` does not tell otherwise); pooled
 * also checks `response.version`.
 *
 * @module
 */

import { BODY, LARGE_BODY_BYTES } from "../servers/server.ts";
import { PROTOCOL_HEADER } from "../servers/nginx_h2.ts";
import { type ClientSession, describe, measureCount, measureOnce } from "./client_worker.ts";
import {
  EXPECTED_PROTOCOL,
  type H2Case,
  h2CaseRate,
  h2CaseUnit,
  type H2Client,
  type H2Measurement,
  type H2WorkerConfig,
  type H2WorkerResult,
  rotate,
} from "./h2_report.ts";
import { h2loadArgs, runH2load } from "./h2load.ts";

/** pooled's public module; typed against the real one so `deno check` catches API changes. */
type PooledModule = typeof import("../../mod.ts");
type PoolManagerOptions = import("../../mod.ts").PoolManagerOptions;
type Undici = typeof import("undici");

/**
 * The HTTP/2 option of pooled's pools (issue 19), written out here so this script compiles
 * before the pools have it; it is ignored until then, and the protocol check says what was
 * spoken.
 */
interface Http2Options {
  http2?: boolean;
}

interface DenoApi {
  version: { deno: string };
  args: string[];
  createHttpClient(options: { caCerts: string[] }): { close(): void };
  exit(code: number): never;
}

const g = globalThis as unknown as {
  Deno?: DenoApi;
  Bun?: { version: string };
  process?: { argv: string[]; exit(code: number): never; versions: { node?: string } };
};
const runtime = g.Deno ? "deno" : g.Bun ? "bun" : g.process?.versions.node ? "node" : "unknown";
const version = g.Deno?.version.deno ?? g.Bun?.version ?? g.process?.versions.node ?? "unknown";
const peer = runtime === "node" ? "undici.Pool (allowH2)" : "fetch";

/** What one case fetches and the body length it expects back. */
interface CaseSpec {
  url: string;
  expectedLength: number;
}

function caseSpec(h2Case: H2Case, config: H2WorkerConfig): CaseSpec {
  return h2Case === "large"
    ? { url: config.largeUrl, expectedLength: LARGE_BODY_BYTES }
    : { url: config.smallUrl, expectedLength: BODY.length };
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

/** What a session's first request saw: the protocol nginx spoke. */
interface Probe {
  protocol?: string;
}

/**
 * A session whose first request goes through `first` (which reads the protocol header and
 * may throw when it is the wrong one) and every later one through `send`.
 */
function probing(
  first: () => Promise<void>,
  send: () => Promise<void>,
  close: () => Promise<void>,
): ClientSession {
  let probed = false;
  return {
    send: () => {
      if (probed) return send();
      probed = true;
      return first();
    },
    close,
  };
}

/** Throws when `client` spoke another protocol than it must (with the check on). */
function checkProtocol(client: H2Client, protocol: string, config: H2WorkerConfig): void {
  const expected = EXPECTED_PROTOCOL[client];
  if (config.versionCheck && expected !== null && protocol !== expected) {
    throw new Error(`spoke ${protocol}, not ${expected}`);
  }
}

/**
 * The runtime's `fetch`, trusting `caPem`: Deno through an `HttpClient` (HTTP/2 when the
 * server offers it), Bun with `tls.ca` (HTTP/2 only when `compare_h2.ts` turns on its
 * experimental flag).
 */
function fetchSession(spec: CaseSpec, config: H2WorkerConfig, probe: Probe): ClientSession {
  let init: RequestInit = {};
  let release = () => {};
  if (g.Deno) {
    const client = g.Deno.createHttpClient({ caCerts: [config.caPem] });
    init = { client } as RequestInit;
    release = () => client.close();
  } else {
    init = { tls: { ca: config.caPem } } as RequestInit;
  }
  const send = async () => {
    const res = await fetch(spec.url, init);
    checkBody(spec, res.status, (await res.arrayBuffer()).byteLength);
    return res;
  };
  return probing(
    async () => {
      probe.protocol = (await send()).headers.get(PROTOCOL_HEADER) ?? "unknown";
    },
    async () => void await send(),
    () => Promise.resolve(release()),
  );
}

/**
 * undici's `Pool` with `allowH2` and one connection (Node's peer: every stream on it, as
 * pooled's HTTP/2 client has), trusting `caPem`.
 */
function undiciSession(
  undici: Undici,
  spec: CaseSpec,
  config: H2WorkerConfig,
  probe: Probe,
): ClientSession {
  const { origin, pathname } = new URL(spec.url);
  const pool = new undici.Pool(origin, {
    connections: 1,
    allowH2: true,
    connect: { ca: config.caPem },
  });
  const send = async () => {
    const response = await pool.request({ method: "GET", path: pathname });
    checkBody(spec, response.statusCode, (await response.body.arrayBuffer()).byteLength);
    return response;
  };
  return probing(
    async () => {
      probe.protocol = String((await send()).headers[PROTOCOL_HEADER] ?? "unknown");
    },
    async () => void await send(),
    () => pool.close(),
  );
}

/**
 * pooled, trusting `caPem`: over HTTP/2 with one connection (`maxSize: 1`, `block: true`: a
 * request waits for a free stream, never opens a second connection), or over HTTP/1.1
 * (`http2: false`) with one connection per request in flight. The short profile adds
 * `retries: 0`, as a short script would.
 */
function pooledSession(
  pooled: PooledModule,
  client: "pooled" | "pooled-h1",
  spec: CaseSpec,
  config: H2WorkerConfig,
  concurrency: number,
  probe: Probe,
): ClientSession {
  const h2 = client === "pooled";
  const options: PoolManagerOptions & Http2Options = {
    maxSize: h2 ? 1 : concurrency,
    block: true,
    caCerts: [config.caPem],
    http2: h2,
    ...config.profile === "short" ? { retries: 0 } : {},
  };
  const manager = new pooled.PoolManager(options);
  const send = async () => {
    const r = await manager.request("GET", spec.url);
    checkBody(spec, r.status, r.data.length);
    return r;
  };
  return probing(
    async () => {
      const r = await send();
      const protocol = r.headers.get(PROTOCOL_HEADER) ?? "unknown";
      probe.protocol = protocol;
      checkProtocol(client, protocol, config);
      const spoken: number = r.version;
      if (config.versionCheck && h2 !== (spoken === 20)) {
        throw new Error(`response.version is ${spoken} over ${protocol}`);
      }
    },
    async () => void await send(),
    () => manager.close(),
  );
}

/** One h2load run: the same length (long profile) or count (short profile) as the others. */
async function measureH2load(
  spec: CaseSpec,
  config: H2WorkerConfig,
  concurrency: number,
): Promise<{ requests: number; seconds: number }> {
  const short = config.profile === "short";
  const amount = short
    ? { requests: config.requests ?? 0 }
    : { seconds: config.seconds, warmup: config.warmup };
  const limitMs = short ? 60_000 + (config.requests ?? 0) * 5 : 15_000 +
    (config.seconds + config.warmup) * 1000;
  const result = await runH2load(h2loadArgs(spec.url, concurrency, amount), limitMs);
  return { requests: result.succeeded, seconds: result.succeeded / result.rps };
}

async function loadPooled(): Promise<PooledModule | string> {
  try {
    return await import("../../mod.ts");
  } catch (error) {
    return `cannot load ../mod.ts: ${describe(error)}`;
  }
}

/** Measures one client at one case and concurrency; the protocol it spoke goes in `probe`. */
function measure(
  client: H2Client,
  spec: CaseSpec,
  config: H2WorkerConfig,
  concurrency: number,
  libs: { pooled: PooledModule; undici?: Undici },
  probe: Probe,
): Promise<{ requests: number; seconds: number }> {
  if (client === "h2load") {
    probe.protocol = "HTTP/2.0"; // runH2load fails unless ALPN chose h2
    return measureH2load(spec, config, concurrency);
  }
  const open = client === "peer"
    ? libs.undici
      ? () => undiciSession(libs.undici!, spec, config, probe)
      : () => fetchSession(spec, config, probe)
    : () => pooledSession(libs.pooled, client, spec, config, concurrency, probe);
  return config.profile === "short"
    ? measureCount(open, config, concurrency)
    : measureOnce(open, config, concurrency);
}

async function run(config: H2WorkerConfig): Promise<H2WorkerResult> {
  const pooled = await loadPooled();
  const undici = runtime === "node" ? await import("undici") : undefined;
  const result: H2WorkerResult = { runtime, version, peer, measurements: [] };
  if (typeof pooled === "string") {
    result.pooledError = pooled;
    log(`pooled: n/a (${pooled})`);
  }
  const profile = config.profile ?? "long";
  const short = profile === "short";
  const rounds = short ? 1 : config.rounds;
  for (let index = 0; index < rounds; index++) {
    const round = short ? config.round ?? 0 : index;
    for (const h2Case of config.cases) {
      const spec = caseSpec(h2Case, config);
      const levels = h2Case === "large" ? config.largeConcurrency : config.concurrency;
      for (const concurrency of levels) {
        const order = short ? config.clients.slice(0, 1) : rotate(config.clients, round);
        for (const client of order) {
          const base = { profile, client, case: h2Case, concurrency, round } as const;
          const label = `${profile} round ${round + 1} ${h2Case} c=${concurrency} ${client}`;
          const probe: Probe = {};
          let measurement: H2Measurement;
          try {
            if (client.startsWith("pooled") && typeof pooled === "string") throw new Error(pooled);
            const libs = { pooled: pooled as PooledModule, undici };
            const { requests, seconds } = await measure(
              client,
              spec,
              config,
              concurrency,
              libs,
              probe,
            );
            const rps = requests / seconds;
            measurement = { ...base, requests, seconds, rps, protocol: probe.protocol };
            const rate = h2CaseRate(h2Case, rps).toFixed(0);
            log(`${label}: ${rate} ${h2CaseUnit(h2Case)} over ${probe.protocol}`);
          } catch (error) {
            const message = describe(error);
            measurement = {
              ...base,
              requests: 0,
              seconds: 0,
              rps: null,
              protocol: probe.protocol,
              error: message,
            };
            log(`${label}: failed: ${message}`);
          }
          result.measurements.push(measurement);
        }
      }
    }
  }
  return result;
}

const args = g.Deno?.args ?? g.process?.argv.slice(2) ?? [];
if (args.length !== 1) {
  console.error("usage: h2_worker.ts CONFIG_JSON (started by bench/compare_h2.ts)");
} else {
  const result = await run(JSON.parse(args[0]) as H2WorkerConfig);
  console.log(JSON.stringify(result));
}
// Requests that hung past their time limit must not keep the process alive.
(g.Deno?.exit ?? g.process?.exit)?.(0);
