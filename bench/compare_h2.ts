/**
 * The HTTP/2 benchmark (issue 19): pooled over HTTP/2 against each runtime's peer client
 * (Deno's `fetch`, Bun's `fetch` with its experimental HTTP/2 client turned on, undici's `Pool`
 * with `allowH2` on Node), against pooled over HTTP/1.1 and against `h2load` (nghttp2-client),
 * the ceiling, all on one TLS origin served by nginx (1 worker, `h2` and `http/1.1` by ALPN).
 *
 * ```sh
 * deno task bench:h2
 * node_modules/.bin/deno run -A bench/compare_h2.ts --runtimes deno,bun,node --profile both
 * node_modules/.bin/deno run -A bench/compare_h2.ts --profile long --rounds 1 --seconds 1 --no-save
 * ```
 *
 * Cases: keep-alive GETs of the 12-byte body at 1, 32 and 256 requests in flight, and GETs of
 * the 1 MiB body at 4. Clients: the peer; pooled over HTTP/2 with `maxSize: 1` (every stream on
 * one connection); pooled over HTTP/1.1 (`http2: false`) with `maxSize` the concurrency; and
 * `h2load -c1 -m<c>`. Both profiles of `compare.ts` (`bench/lib/profile.ts`): a long warm
 * process per runtime with rounds of timed runs, the clients rotating, and a fresh process per
 * measurement with a fixed count of requests. Every client's first request reads the protocol
 * nginx spoke (`X-Protocol`); pooled must have spoken the one it was asked for (HTTP/2.0 and
 * HTTP/1.1), or the run fails, unless `--no-version-check`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { listOption, numberOption } from "./lib/args.ts";
import {
  DEFAULT_REQUEST_COUNTS,
  type Profile,
  profileOption,
  type RequestCounts,
  requestCountsOption,
  SHORT_WARMUP_REQUESTS,
  shortRequestCount,
} from "./lib/profile.ts";
import { cpuModel } from "./lib/report.ts";
import {
  H2_CASES,
  H2_CLIENTS,
  type H2Case,
  type H2Client,
  h2MarkdownTables,
  type H2Measurement,
  type H2Row,
  h2RowsOf,
  type H2WorkerConfig,
  type H2WorkerResult,
  rotate,
} from "./lib/h2_report.ts";
import { findNginx } from "./servers/nginx.ts";
import { type H2BenchServer, startNginxH2 } from "./servers/nginx_h2.ts";
import { generateSelfSignedCert } from "./lib/self_signed.ts";
import { fixedBytes, LARGE_BODY_BYTES, LARGE_FILE } from "./servers/server.ts";

const USAGE = `usage: deno run -A bench/compare_h2.ts [options]

  --profile P         long, short or both (default both)
  --rounds N          long profile: rounds of every measurement (default 5)
  --seconds S         long profile: measured seconds per run (default 2)
  --warmup S          long profile: warm-up seconds before each run (default 0.5)
  --short-rounds N    short profile: processes per client, case and concurrency (default 3)
  --requests N[,M]    short profile: requests measured at c=1 and above it (default ${DEFAULT_REQUEST_COUNTS.single},${DEFAULT_REQUEST_COUNTS.parallel})
  --large-requests N  short profile: 1 MiB GETs measured (default ${DEFAULT_REQUEST_COUNTS.large})
  --runtimes LIST     of deno,bun,node (default deno,bun,node)
  --cases LIST        of ${H2_CASES.join(",")} (default both): 12-byte GETs, 1 MiB GETs (MB/s)
  --clients LIST      of ${H2_CLIENTS.join(",")} (default all): the runtime's peer,
                      pooled over HTTP/2 on 1 connection, pooled over HTTP/1.1 on c
                      connections, h2load (the ceiling)
  --concurrency LIST  requests in flight for small (default 1,32,256)
  --large-concurrency LIST  requests in flight for large (default 4)
  --no-bun-h2         run Bun's fetch as it comes (HTTP/1.1) rather than with its
                      experimental HTTP/2 client (BUN_FEATURE_FLAG_EXPERIMENTAL_HTTP2_CLIENT=1)
  --no-version-check  measure pooled even when it did not speak the protocol asked for
  --no-save           do not write bench/results/h2-*.json
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
  cases: H2Case[];
  clients: H2Client[];
  concurrency: number[];
  largeConcurrency: number[];
  bunH2: boolean;
  versionCheck: boolean;
  save: boolean;
}

function numbers(name: string, text: string): number[] {
  return text.split(",").map((c) => numberOption(name, c, true));
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
      runtimes: { type: "string", default: RUNTIMES.join(",") },
      cases: { type: "string", default: H2_CASES.join(",") },
      clients: { type: "string", default: H2_CLIENTS.join(",") },
      concurrency: { type: "string", default: "1,32,256" },
      "large-concurrency": { type: "string", default: "4" },
      "no-bun-h2": { type: "boolean", default: false },
      "no-version-check": { type: "boolean", default: false },
      "no-save": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  return {
    profiles: profileOption(values.profile),
    rounds: numberOption("rounds", values.rounds, true),
    shortRounds: numberOption("short-rounds", values["short-rounds"], true),
    requests: {
      ...requestCountsOption(values.requests),
      large: numberOption("large-requests", values["large-requests"], true),
    },
    seconds: numberOption("seconds", values.seconds, false),
    warmup: numberOption("warmup", values.warmup, false, true),
    runtimes: listOption("runtimes", values.runtimes, RUNTIMES),
    cases: listOption("cases", values.cases, H2_CASES),
    clients: listOption("clients", values.clients, H2_CLIENTS),
    concurrency: numbers("concurrency", values.concurrency),
    largeConcurrency: numbers("large-concurrency", values["large-concurrency"]),
    bunH2: !values["no-bun-h2"],
    versionCheck: !values["no-version-check"],
    save: !values["no-save"],
  };
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

/** Runs the HTTP/2 worker under `runtime`; its progress goes to our stderr. */
async function runWorker(
  runtime: Runtime,
  config: H2WorkerConfig,
  options: Options,
): Promise<H2WorkerResult> {
  const worker = new URL("./lib/h2_worker.ts", import.meta.url).pathname;
  const [command, args] = runtimeCommand(runtime, worker, JSON.stringify(config));
  const env: Record<string, string> = runtime === "bun" && options.bunH2
    ? { BUN_FEATURE_FLAG_EXPERIMENTAL_HTTP2_CLIENT: "1" }
    : {};
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(command, {
      args,
      env,
      cwd: new URL("..", import.meta.url).pathname,
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).output();
  } catch (error) {
    throw new Error(`cannot start ${runtime} (${command}): ${error}`);
  }
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  try {
    return JSON.parse(lines[lines.length - 1]) as H2WorkerResult;
  } catch {
    throw new Error(`${runtime} worker exited with code ${output.code} without a result`);
  }
}

/**
 * The short profile on `runtime`: a worker process per measurement, the clients alternating
 * process by process in a rotating order. A process that fails is a failed measurement.
 */
async function runShortProfile(
  runtime: Runtime,
  config: H2WorkerConfig,
  options: Options,
): Promise<H2WorkerResult | null> {
  let result: H2WorkerResult | null = null;
  const measurements: H2Measurement[] = [];
  for (let round = 0; round < options.shortRounds; round++) {
    for (const h2Case of options.cases) {
      const levels = h2Case === "large" ? options.largeConcurrency : options.concurrency;
      for (const concurrency of levels) {
        for (const client of rotate(options.clients, round)) {
          const one: H2WorkerConfig = {
            ...config,
            profile: "short",
            cases: [h2Case],
            clients: [client],
            concurrency: [concurrency],
            largeConcurrency: [concurrency],
            rounds: 1,
            round,
            // Counted as the HTTP/1.1 runner counts its TLS GETs and its 1 MiB bodies.
            requests: shortRequestCount(
              options.requests,
              h2Case === "large" ? "large" : "tls",
              concurrency,
            ),
            warmupRequests: SHORT_WARMUP_REQUESTS,
          };
          try {
            const own = await runWorker(runtime, one, options);
            result ??= own;
            measurements.push(...own.measurements);
          } catch (error) {
            const base = { profile: "short", client, case: h2Case, concurrency, round } as const;
            const message = error instanceof Error ? error.message : String(error);
            measurements.push({ ...base, requests: 0, seconds: 0, rps: null, error: message });
          }
        }
      }
    }
  }
  return result === null ? null : { ...result, measurements };
}

/** Both profiles on `runtime`, as one result. */
async function runRuntime(
  runtime: Runtime,
  config: H2WorkerConfig,
  options: Options,
): Promise<H2WorkerResult | null> {
  const long = options.profiles.includes("long") ? await runWorker(runtime, config, options) : null;
  const short = options.profiles.includes("short")
    ? await runShortProfile(runtime, config, options)
    : null;
  if (long === null || short === null) return long ?? short;
  return { ...long, measurements: [...long.measurements, ...short.measurements] };
}

function machineLine(results: H2WorkerResult[], server: H2BenchServer, options: Options): string {
  const versions = results.map((r) => `${r.runtime} ${r.version}`).join(", ");
  const count = (n: number) => n.toLocaleString("en-US");
  const { single, parallel, large } = options.requests;
  return [
    `Machine: ${cpuModel()}, ${navigator.hardwareConcurrency} cores, ${Deno.build.os} ${Deno.osRelease()}`,
    `runtimes: ${versions || "none"}`,
    `server: ${server.description} on 127.0.0.1`,
    ...options.profiles.includes("long")
      ? [`long: ${options.rounds} round(s) x ${options.seconds} s (+${options.warmup} s warm-up)`]
      : [],
    ...options.profiles.includes("short")
      ? [
        `short: ${options.shortRounds} fresh process(es) per client, ${SHORT_WARMUP_REQUESTS} warm-up + ${
          count(single)
        } (c=1) / ${count(parallel)} (c>1) / ${count(large)} (1 MiB) requests`,
      ]
      : [],
    `Bun fetch: ${
      options.bunH2 ? "experimental HTTP/2 client on" : "as it comes (HTTP/1.1)"
    }; medians (min–max)`,
  ].join("; ");
}

async function main(): Promise<number> {
  let options: Options;
  try {
    options = parseOptions(Deno.args);
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : error}\n\n${USAGE}`);
    return 2;
  }
  const nginx = await findNginx();
  if (!nginx) {
    console.error("nginx is not installed: the HTTP/2 benchmark needs it (apt-get install nginx)");
    return 1;
  }
  const dir = await Deno.makeTempDir({ prefix: "pooled-bench-h2-" });
  await Deno.chmod(dir, 0o755);
  let server: H2BenchServer | undefined;
  try {
    const cert = await generateSelfSignedCert(dir);
    await Deno.writeFile(`${dir}/${LARGE_FILE}`, fixedBytes(LARGE_BODY_BYTES));
    server = await startNginxH2(nginx, dir, cert);
    console.error(`server: ${server.description}: ${server.smallUrl}`);
    const config: H2WorkerConfig = {
      smallUrl: server.smallUrl,
      largeUrl: server.largeUrl,
      caPem: cert.certPem,
      cases: options.cases,
      clients: options.clients,
      concurrency: options.concurrency,
      largeConcurrency: options.largeConcurrency,
      rounds: options.rounds,
      seconds: options.seconds,
      warmup: options.warmup,
      versionCheck: options.versionCheck,
    };
    const results: H2WorkerResult[] = [];
    const failures: string[] = [];
    for (const runtime of options.runtimes) {
      try {
        const result = await runRuntime(runtime, config, options);
        if (result) results.push(result);
      } catch (error) {
        failures.push(error instanceof Error ? error.message : String(error));
      }
    }
    const rows: H2Row[] = results.flatMap(h2RowsOf);
    const machine = machineLine(results, server, options);
    console.log(`\n${h2MarkdownTables(rows)}\n\n${machine}`);
    for (const row of rows) {
      for (const error of row.errors) {
        console.log(`- ${row.runtime} ${row.profile} ${row.case} c=${row.concurrency}: ${error}`);
      }
    }
    for (const failure of failures) console.log(`- ${failure}`);
    if (options.save) {
      const resultsDir = new URL("./results/", import.meta.url).pathname;
      await Deno.mkdir(resultsDir, { recursive: true });
      const stamp = new Date().toISOString().replace(/[:.]/g, "-");
      const file = `${resultsDir}h2-${stamp}.json`;
      const { caPem: _, ...shown } = config;
      const report = {
        date: new Date().toISOString(),
        machine,
        options,
        config: shown,
        rows,
        results,
      };
      await Deno.writeTextFile(file, JSON.stringify(report, null, 2) + "\n");
      console.error(`results written to ${file}`);
    }
    return failures.length > 0 ? 1 : 0;
  } finally {
    await server?.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.exit(await main());
