/**
 * End-to-end comparison of pooled with each runtime's peer client (Deno's and Bun's own
 * `fetch`, and undici's `Pool.request` on Node; Node 20 runs the worker through tsx) and with
 * the raw-socket limit (`raw`: a canned GET on the runtime's native sockets, its reply scanned
 * just enough to find its end and its body copied into one array; GETs only).
 *
 * ```sh
 * deno task bench
 * node_modules/.bin/deno run -A bench/compare.ts --rounds 5 --seconds 2 --runtimes deno,bun,node --cases plain,tls,large,post
 * node_modules/.bin/deno run -A bench/compare.ts --rounds 1 --seconds 1 --clients peer,pooled --no-save
 * node_modules/.bin/deno run -A bench/compare.ts --profile short --requests 2000 --cases plain --runtimes deno,bun
 * ```
 *
 * It starts one server process (nginx when installed, else `canned_server.ts`) answering
 * `hello world\n` over plain HTTP and TLS (a fresh self-signed certificate), a 1 MiB body at
 * `/large` and POSTs at `/post`, then runs `client_worker.ts` under each runtime, which
 * measures peer, pooled and raw in every round for every case and concurrency, rotating which
 * goes first. It prints markdown tables of the medians (req/s; MB/s for the large body) with
 * pooled/peer against its target (`lib/targets.ts`) and, for the GETs, the raw limit, pooled's
 * share of it and the share the target asks for; then which targets were met, and a line
 * describing the machine; and writes everything as JSON to `bench/results/`.
 *
 * That is the long-process profile. The short-process profile measures as a user's short
 * script meets the library: every measurement is a fresh worker process that sends 500
 * sequential warm-up requests, then a fixed number (20,000 at c=1, 60,000 above; 2,000 for the
 * 1 MiB body), with pooled as `PoolManager({ maxSize: c, block: true, retries: 0 })`; the
 * clients alternate process by process, rotating as the long rounds do, 3 rounds. `--profile`
 * chooses (default both); the tables hold a row per profile.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { listOption, numberOption } from "./lib/args.ts";
import type {
  BenchCase,
  BenchClient,
  Measurement,
  WorkerConfig,
  WorkerResult,
} from "./lib/client_worker.ts";
import {
  DEFAULT_REQUEST_COUNTS,
  type Profile,
  profileOption,
  type RequestCounts,
  requestCountsOption,
  SHORT_WARMUP_REQUESTS,
  shortRequestCount,
} from "./lib/profile.ts";
import { startCannedServer } from "./servers/canned_server.ts";
import { findNginx, startNginx } from "./servers/nginx.ts";
import {
  BENCH_CASES,
  BENCH_CLIENTS,
  cpuModel,
  markdownTables,
  roundOrder,
  type Row,
  rowsOf,
  targetSummary,
} from "./lib/report.ts";
import { generateSelfSignedCert, type SelfSignedCert } from "./lib/self_signed.ts";
import { type BenchServer, fixedBytes, LARGE_BODY_BYTES, LARGE_FILE } from "./servers/server.ts";

const USAGE = `usage: deno run -A bench/compare.ts [options]

  --profile P         long, short or both (default both): long: one process per runtime,
                      rounds of timed runs; short: a fresh process per measurement, ${SHORT_WARMUP_REQUESTS}
                      sequential warm-up requests, then a fixed count
  --rounds N          long profile: rounds of every measurement; medians are reported (default 5)
  --seconds S         long profile: measured seconds per run (default 2)
  --warmup S          long profile: warm-up seconds before each run (default 0.5)
  --short-rounds N    short profile: processes per client, case and concurrency (default 3)
  --requests N[,M]    short profile: requests measured at c=1 and above it (default ${DEFAULT_REQUEST_COUNTS.single},${DEFAULT_REQUEST_COUNTS.parallel});
                      one number for every concurrency
  --large-requests N  short profile: 1 MiB GETs measured (default ${DEFAULT_REQUEST_COUNTS.large})
  --runtimes LIST     runtimes to compare, of deno,bun,node (default deno,bun,node)
  --cases LIST        of plain,tls,large,post (default all four): keep-alive GETs of 12 bytes
                      over HTTP and TLS, GETs of 1 MiB (MB/s), POSTs of 64 KiB (req/s)
  --clients LIST      of peer,pooled,raw (default all three): the runtime's fetch (undici.Pool
                      on Node), pooled, and the raw-socket limit (a canned GET on native
                      sockets; GETs only: plain, tls, large)
  --concurrency LIST  parallel request loops (default 1,32), except for large
  --large-concurrency LIST  parallel request loops of the large case (default 4)
  --max-size N        long profile: pooled's PoolManager maxSize and undici's connections
                      (default 32; the short profile uses the concurrency)
  --server KIND       auto (nginx if installed), nginx or canned (default auto)
  --no-save           do not write bench/results/*.json
`;

const RUNTIMES = ["deno", "bun", "node"] as const;
type Runtime = typeof RUNTIMES[number];

/** Parsed command line. */
interface Options {
  profiles: Profile[];
  rounds: number;
  shortRounds: number;
  requests: RequestCounts;
  seconds: number;
  warmup: number;
  runtimes: Runtime[];
  cases: BenchCase[];
  clients: BenchClient[];
  concurrency: number[];
  largeConcurrency: number[];
  maxSize: number;
  server: "auto" | "nginx" | "canned";
  save: boolean;
}

function parseOptions(args: string[]): Options {
  const { values } = parseArgs({
    args,
    options: {
      profile: { type: "string", default: "both" },
      rounds: { type: "string", default: "5" },
      "short-rounds": { type: "string", default: "3" },
      requests: {
        type: "string",
        default: `${DEFAULT_REQUEST_COUNTS.single},${DEFAULT_REQUEST_COUNTS.parallel}`,
      },
      "large-requests": { type: "string", default: String(DEFAULT_REQUEST_COUNTS.large) },
      seconds: { type: "string", default: "2" },
      warmup: { type: "string", default: "0.5" },
      runtimes: { type: "string", default: "deno,bun,node" },
      cases: { type: "string", default: BENCH_CASES.join(",") },
      clients: { type: "string", default: BENCH_CLIENTS.join(",") },
      concurrency: { type: "string", default: "1,32" },
      "large-concurrency": { type: "string", default: "4" },
      "max-size": { type: "string", default: "32" },
      server: { type: "string", default: "auto" },
      "no-save": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const server = listOption("server", values.server, ["auto", "nginx", "canned"] as const);
  const requests = requestCountsOption(values.requests);
  return {
    profiles: profileOption(values.profile),
    rounds: numberOption("rounds", values.rounds, true),
    shortRounds: numberOption("short-rounds", values["short-rounds"], true),
    requests: {
      ...requests,
      large: numberOption("large-requests", values["large-requests"], true),
    },
    seconds: numberOption("seconds", values.seconds, false),
    warmup: numberOption("warmup", values.warmup, false, true),
    runtimes: listOption("runtimes", values.runtimes, RUNTIMES),
    cases: listOption("cases", values.cases, BENCH_CASES),
    clients: listOption("clients", values.clients, BENCH_CLIENTS),
    concurrency: values.concurrency.split(",").map((c) => numberOption("concurrency", c, true)),
    largeConcurrency: values["large-concurrency"].split(",").map((c) =>
      numberOption("large-concurrency", c, true)
    ),
    maxSize: numberOption("max-size", values["max-size"], true),
    server: server[0],
    save: !values["no-save"],
  };
}

/**
 * Writes the large body into `dir` and starts the server. Both servers answer `/large` with
 * that file, so every client reads the same bytes.
 */
async function startServer(kind: Options["server"], dir: string, cert: SelfSignedCert) {
  const largeFile = `${dir}/${LARGE_FILE}`;
  await Deno.writeFile(largeFile, fixedBytes(LARGE_BODY_BYTES));
  if (kind !== "canned") {
    const nginx = await findNginx();
    if (nginx) return await startNginx(nginx, dir, cert);
    if (kind === "nginx") throw new Error("--server nginx: nginx is not installed");
    console.error("nginx is not installed: using the canned reply server");
  }
  return await startCannedServer(cert, largeFile);
}

function runtimeCommand(runtime: Runtime, worker: string, config: string): [string, string[]] {
  if (runtime === "deno") return [Deno.execPath(), ["run", "-A", worker, config]];
  if (runtime === "node") return ["node", ["--import", "tsx", worker, config]];
  const local = new URL("../node_modules/.bin/bun", import.meta.url).pathname;
  let bun = "bun";
  try {
    Deno.statSync(local);
    bun = local;
  } catch {
    // not installed locally: use the one on PATH
  }
  return [bun, ["run", worker, config]];
}

/** Runs the worker under `runtime`; its progress goes to our stderr. */
async function runWorker(runtime: Runtime, config: WorkerConfig): Promise<WorkerResult> {
  const worker = new URL("./lib/client_worker.ts", import.meta.url).pathname;
  const [command, args] = runtimeCommand(runtime, worker, JSON.stringify(config));
  const repoRoot = new URL("..", import.meta.url).pathname;
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(command, {
      args,
      cwd: repoRoot,
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).output();
  } catch (error) {
    throw new Error(`cannot start ${runtime} (${command}): ${error}`);
  }
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  try {
    return JSON.parse(lines[lines.length - 1]) as WorkerResult;
  } catch {
    throw new Error(`${runtime} worker exited with code ${output.code} without a result`);
  }
}

/**
 * The short profile on `runtime`: one worker process per measurement, the clients alternating
 * process by process in the long profile's rotating order. A process that fails is recorded as
 * a failed measurement; the result is null when none started at all.
 */
async function runShortProfile(
  runtime: Runtime,
  config: WorkerConfig,
  options: Options,
): Promise<WorkerResult | null> {
  let result: WorkerResult | null = null;
  const measurements: Measurement[] = [];
  let lastError = "";
  for (let round = 0; round < options.shortRounds; round++) {
    for (const benchCase of options.cases) {
      const levels = benchCase === "large" ? options.largeConcurrency : options.concurrency;
      for (const concurrency of levels) {
        for (const client of roundOrder(options.clients, benchCase, round)) {
          const one: WorkerConfig = {
            ...config,
            profile: "short",
            cases: [benchCase],
            clients: [client],
            concurrency: [concurrency],
            largeConcurrency: [concurrency],
            rounds: 1,
            round,
            requests: shortRequestCount(options.requests, benchCase, concurrency),
            warmupRequests: SHORT_WARMUP_REQUESTS,
          };
          try {
            const own = await runWorker(runtime, one);
            result ??= own;
            measurements.push(...own.measurements);
          } catch (error) {
            lastError = error instanceof Error ? error.message : String(error);
            const base = { profile: "short", client, case: benchCase, concurrency, round } as const;
            measurements.push({ ...base, requests: 0, seconds: 0, rps: null, error: lastError });
          }
        }
      }
    }
  }
  if (result === null) {
    if (lastError) throw new Error(`short profile: ${lastError}`);
    return null;
  }
  return { ...result, measurements };
}

/** Both profiles on `runtime`, as one result: its long measurements, then its short ones. */
async function runRuntime(
  runtime: Runtime,
  config: WorkerConfig,
  options: Options,
): Promise<WorkerResult | null> {
  const long = options.profiles.includes("long") ? await runWorker(runtime, config) : null;
  const short = options.profiles.includes("short")
    ? await runShortProfile(runtime, config, options)
    : null;
  if (long === null || short === null) return long ?? short;
  return {
    ...long,
    pooledError: long.pooledError ?? short.pooledError,
    measurements: [...long.measurements, ...short.measurements],
  };
}

function machineLine(results: WorkerResult[], server: BenchServer, options: Options): string {
  const versions = results.map((r) => `${r.runtime} ${r.version}`).join(", ");
  const count = (n: number) => n.toLocaleString("en-US");
  const { single, parallel, large } = options.requests;
  const counts = [
    `${count(single)} (c=1) / ${count(parallel)} (c>1)`,
    ...options.cases.includes("large") ? [`${count(large)} (1 MiB)`] : [],
  ].join(" / ");
  const profiles = [
    ...options.profiles.includes("long")
      ? [`long: ${options.rounds} round(s) x ${options.seconds} s (+${options.warmup} s warm-up)`]
      : [],
    ...options.profiles.includes("short")
      ? [
        `short: ${options.shortRounds} fresh process(es) per client, ${SHORT_WARMUP_REQUESTS} warm-up + ${counts} requests`,
      ]
      : [],
  ];
  return [
    `Machine: ${cpuModel()}, ${navigator.hardwareConcurrency} cores, ${Deno.build.os} ${Deno.osRelease()}`,
    `runtimes: ${versions || "none"}`,
    `server: ${server.description} on 127.0.0.1`,
    ...profiles,
    "medians (min–max)",
  ].join("; ");
}

async function saveResults(report: Record<string, unknown>): Promise<string> {
  const dir = new URL("./results/", import.meta.url).pathname;
  await Deno.mkdir(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const file = `${dir}${stamp}.json`;
  await Deno.writeTextFile(file, JSON.stringify(report, null, 2) + "\n");
  return file;
}

async function main(): Promise<number> {
  let options: Options;
  try {
    options = parseOptions(Deno.args);
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : error}\n\n${USAGE}`);
    return 2;
  }
  const dir = await Deno.makeTempDir({ prefix: "pooled-bench-" });
  await Deno.chmod(dir, 0o755);
  let server: BenchServer | undefined;
  try {
    const cert = await generateSelfSignedCert(dir);
    server = await startServer(options.server, dir, cert);
    console.error(`server: ${server.description}: ${server.plainUrl} ${server.tlsUrl}`);
    const config: WorkerConfig = {
      plainUrl: server.plainUrl,
      tlsUrl: server.tlsUrl,
      largeUrl: server.largeUrl,
      postUrl: server.postUrl,
      caPem: cert.certPem,
      cases: options.cases,
      clients: options.clients,
      concurrency: options.concurrency,
      largeConcurrency: options.largeConcurrency,
      rounds: options.rounds,
      seconds: options.seconds,
      warmup: options.warmup,
      maxSize: options.maxSize,
    };
    const results: WorkerResult[] = [];
    const failures: string[] = [];
    for (const runtime of options.runtimes) {
      try {
        const result = await runRuntime(runtime, config, options);
        if (result) results.push(result);
      } catch (error) {
        failures.push(error instanceof Error ? error.message : String(error));
      }
    }
    const rows: Row[] = results.flatMap(rowsOf);
    console.log();
    console.log(markdownTables(rows));
    console.log();
    console.log(targetSummary(rows));
    console.log();
    const machine = machineLine(results, server, options);
    console.log(machine);
    for (const result of results) {
      if (result.pooledError) console.log(`- ${result.runtime}: pooled n/a: ${result.pooledError}`);
    }
    for (const row of rows) {
      for (const error of row.errors) {
        if (error.endsWith(`: ${results.find((r) => r.runtime === row.runtime)?.pooledError}`)) {
          continue;
        }
        console.log(`- ${row.runtime} ${row.profile} ${row.case} c=${row.concurrency}: ${error}`);
      }
    }
    for (const failure of failures) console.log(`- ${failure}`);
    if (options.save) {
      const { caPem: _, ...shown } = config;
      const file = await saveResults({
        date: new Date().toISOString(),
        profiles: options.profiles,
        shortRounds: options.shortRounds,
        requests: options.requests,
        warmupRequests: SHORT_WARMUP_REQUESTS,
        machine,
        cpu: cpuModel(),
        cores: navigator.hardwareConcurrency,
        server: server.description,
        config: shown,
        rows,
        results,
        failures,
      });
      console.error(`results written to ${file}`);
    }
    return failures.length > 0 ? 1 : 0;
  } finally {
    await server?.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.exit(await main());
