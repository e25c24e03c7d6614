/**
 * Soak checks of body handling with bounded memory: a 1 GiB upload from a stream, a 1 GiB
 * download read through `response.body`, and a gzip bomb against `maxResponseSize`.
 *
 * ```sh
 * deno task soak:bodies
 * node_modules/.bin/deno run -A bench/body_soak.ts --size 8MiB
 * node_modules/.bin/bun bench/body_soak.ts --runtimes deno,bun --checks upload,bomb-stream
 * ```
 *
 * It runs under Deno or Bun. The runner (the default role) builds the gzip bomb once (cached
 * in the temp dir), starts `_body_soak_server.ts` (a raw `node:net` server on 127.0.0.1) in a
 * child process so that the server's memory is not counted, runs each check of each runtime
 * in a fresh child process of that runtime (`--role client`: one check with pooled's
 * top-level `request()`, its own RSS sampled every 50 ms, one JSON result line), prints a
 * table and exits 1 when a target is missed.
 *
 * @module
 */

import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import * as zlib from "node:zlib";
import { request } from "../mod.ts";
import { PORT_MARK } from "./servers/body_soak_server.ts";
import { listOption } from "./lib/args.ts";

const USAGE =
  `usage: deno run -A bench/body_soak.ts [options]   (or: bun bench/body_soak.ts [options])

  --size SIZE       bytes of the upload and download checks (default 1GiB; units B, KiB,
                    MiB, GiB, KB, MB, GB), e.g. --size 8MiB for a smoke run
  --runtimes LIST   runtimes to check, of deno,bun (default: the one running this script)
  --checks LIST     of ${"upload,download,download-chunked,bomb-preload,bomb-stream"}
                    (default: all)
`;

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** The checks, in the order they run. */
const CHECKS = ["upload", "download", "download-chunked", "bomb-preload", "bomb-stream"] as const;
type Check = typeof CHECKS[number];
const RUNTIMES = ["deno", "bun"] as const;
type Runtime = typeof RUNTIMES[number];

/** Upload and download checks must keep the client's peak RSS under this. */
const STREAM_RSS_LIMIT = 100 * MiB;
/** `maxResponseSize` of the bomb checks. */
const BOMB_CAP = 64 * MiB;
/** What the bomb inflates to. */
const BOMB_INFLATED = 10 * GiB;
/** A bomb check may grow the client past its baseline by the cap plus this much. */
const BOMB_RSS_SLACK = 32 * MiB;
/** A bomb check must end within this many seconds ("quickly"). */
const BOMB_SECONDS = 30;
/** Size of each generated upload chunk. */
const UPLOAD_CHUNK = 64 * 1024;
/** Timeout of every request: generous, so that only memory and correctness are judged. */
const REQUEST_TIMEOUT_MS = 120_000;
/** How often the client samples its RSS. */
const SAMPLE_MS = 50;
/** The line prefix of the client's result. */
const RESULT_MARK = "SOAK_RESULT ";

const here = fileURLToPath(import.meta.url);
const runtime: Runtime = "Bun" in globalThis ? "bun" : "deno";

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

interface Options {
  size: number;
  runtimes: Runtime[];
  checks: Check[];
}

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: MiB,
  gib: GiB,
  k: 1024,
  m: MiB,
  g: GiB,
};

/** Parses `1GiB`, `8MiB`, `500MB`, `4096`. */
function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = match ? UNITS[match[2].toLowerCase()] : undefined;
  const value = match && unit ? Math.round(Number(match[1]) * unit) : NaN;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new Error(
      `--size must be a positive size like 1GiB or 8MiB, got ${JSON.stringify(text)}`,
    );
  }
  return value;
}

function parseOptions(values: Record<string, string | boolean | undefined>): Options {
  return {
    size: parseSize(String(values.size ?? "1GiB")),
    runtimes: listOption("runtimes", String(values.runtimes ?? runtime), RUNTIMES),
    checks: listOption("checks", String(values.checks ?? CHECKS.join(",")), CHECKS),
  };
}

// ---------------------------------------------------------------------------------------------
// Client role: one check, RSS sampled in-process
// ---------------------------------------------------------------------------------------------

/** What the runner asks one client process to do. */
interface ClientConfig {
  check: Check;
  origin: string;
  size: number;
}

/** What one client process reports. */
interface ClientResult {
  check: Check;
  runtime: Runtime;
  version: string;
  /** Payload bytes moved (decoded bytes read, for the bomb), or null when not known. */
  bytes: number | null;
  seconds: number;
  baselineRss: number;
  peakRss: number;
  ok: boolean;
  detail: string;
}

interface Outcome {
  bytes: number | null;
  ok: boolean;
  detail: string;
}

/** Peak RSS: sampled every {@linkcode SAMPLE_MS} ms, and the kernel's high-water mark. */
function startRssSampler(): { stop(): number } {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, SAMPLE_MS);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage().rss, kernelPeakRss());
    },
  };
}

/** `VmHWM` of /proc/self/status (Linux), so a peak between two samples is not missed; 0 if absent. */
function kernelPeakRss(): number {
  try {
    const status = fs.readFileSync("/proc/self/status", "utf8");
    const kib = /^VmHWM:\s*(\d+)\s*kB/m.exec(status)?.[1];
    return kib ? Number(kib) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** A stream of `size` bytes in fresh 64 KiB chunks, each filled (so its pages are resident). */
function generatedStream(size: number): ReadableStream<Uint8Array> {
  let sent = 0;
  let index = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= size) {
        controller.close();
        return;
      }
      const chunk = new Uint8Array(Math.min(UPLOAD_CHUNK, size - sent));
      chunk.fill(index++ & 0xff | 1);
      sent += chunk.length;
      controller.enqueue(chunk);
    },
  }, { highWaterMark: 1 });
}

/** Reads a response body stream to its end, counting bytes; rethrows what the stream throws. */
async function countStream(body: ReadableStream<Uint8Array>, counter: { bytes: number }) {
  const reader = body.getReader();
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) return;
      counter.bytes += value.length;
    }
  } finally {
    reader.releaseLock();
  }
}

/** True when `error`, or an error it wraps (`reason`, `cause`), is a `ResponseTooLargeError`. */
function isTooLarge(error: unknown): boolean {
  for (let e = error, depth = 0; e && depth < 5; depth++) {
    if ((e as { code?: string }).code === "ERR_RESPONSE_TOO_LARGE") return true;
    const wrapped = e as { reason?: unknown; cause?: unknown };
    e = wrapped.reason ?? wrapped.cause;
  }
  return false;
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: string }).code;
  return `${error.name}${code ? ` (${code})` : ""}: ${error.message}`;
}

type Request = typeof request;

async function checkUpload(request: Request, config: ClientConfig): Promise<Outcome> {
  const response = await request("POST", `${config.origin}/upload`, {
    body: generatedStream(config.size),
    timeout: REQUEST_TIMEOUT_MS,
  });
  const received = (await response.json() as { bytes: number }).bytes;
  return {
    bytes: received,
    ok: response.status === 200 && received === config.size,
    detail: `status ${response.status}, server counted ${received} of ${config.size} bytes`,
  };
}

async function checkDownload(
  request: Request,
  config: ClientConfig,
  framing: "length" | "chunked",
): Promise<Outcome> {
  const url = `${config.origin}/download?size=${config.size}&framing=${framing}`;
  const response = await request("GET", url, {
    preloadContent: false,
    timeout: REQUEST_TIMEOUT_MS,
  });
  const counter = { bytes: 0 };
  await countStream(response.body, counter);
  const headers = `content-length ${response.headers.get("content-length")}, ` +
    `transfer-encoding ${response.headers.get("transfer-encoding")}`;
  return {
    bytes: counter.bytes,
    ok: response.status === 200 && counter.bytes === config.size,
    detail: `status ${response.status} (${headers}), read ${counter.bytes} of ${config.size} bytes`,
  };
}

const BOMB_HEADERS = { "accept-encoding": "gzip" };

async function checkBombPreloaded(request: Request, config: ClientConfig): Promise<Outcome> {
  try {
    const response = await request("GET", `${config.origin}/bomb`, {
      maxResponseSize: BOMB_CAP,
      headers: BOMB_HEADERS,
      timeout: REQUEST_TIMEOUT_MS,
    });
    return {
      bytes: response.data.length,
      ok: false,
      detail: `no ResponseTooLargeError: status ${response.status}, data ${response.data.length} ` +
        `bytes (content-encoding: ${response.headers.get("content-encoding")})`,
    };
  } catch (error) {
    return { bytes: null, ok: isTooLarge(error), detail: describe(error) };
  }
}

async function checkBombStreamed(request: Request, config: ClientConfig): Promise<Outcome> {
  const counter = { bytes: 0 };
  try {
    const response = await request("GET", `${config.origin}/bomb`, {
      preloadContent: false,
      maxResponseSize: BOMB_CAP,
      headers: BOMB_HEADERS,
      timeout: REQUEST_TIMEOUT_MS,
    });
    await countStream(response.body, counter);
    return {
      bytes: counter.bytes,
      ok: false,
      detail: `no ResponseTooLargeError: read ${counter.bytes} bytes to the end ` +
        `(content-encoding: ${response.headers.get("content-encoding")})`,
    };
  } catch (error) {
    return {
      bytes: counter.bytes,
      ok: isTooLarge(error),
      detail: `${describe(error)} after ${counter.bytes} decoded bytes`,
    };
  }
}

function runCheck(request: Request, config: ClientConfig): Promise<Outcome> {
  switch (config.check) {
    case "upload":
      return checkUpload(request, config);
    case "download":
      return checkDownload(request, config, "length");
    case "download-chunked":
      return checkDownload(request, config, "chunked");
    case "bomb-preload":
      return checkBombPreloaded(request, config);
    case "bomb-stream":
      return checkBombStreamed(request, config);
  }
}

function runtimeVersion(): string {
  const versions = process.versions as Record<string, string | undefined>;
  return versions[runtime] ?? "?";
}

async function clientRole(config: ClientConfig): Promise<void> {
  const baselineRss = process.memoryUsage().rss;
  const sampler = startRssSampler();
  const started = performance.now();
  let outcome: Outcome;
  try {
    outcome = await runCheck(request, config);
  } catch (error) {
    outcome = { bytes: null, ok: false, detail: describe(error) };
  }
  const seconds = (performance.now() - started) / 1000;
  const peakRss = sampler.stop();
  const result: ClientResult = {
    check: config.check,
    runtime,
    version: runtimeVersion(),
    seconds,
    baselineRss,
    peakRss,
    ...outcome,
  };
  process.stdout.write(`${RESULT_MARK}${JSON.stringify(result)}\n`, () => process.exit(0));
}

// ---------------------------------------------------------------------------------------------
// Runner role
// ---------------------------------------------------------------------------------------------

/** Builds (once) a gzip stream of zeros that inflates to {@linkcode BOMB_INFLATED} bytes. */
async function gzipBomb(): Promise<string> {
  const dir = path.join(os.tmpdir(), "pooled-soak");
  const file = path.join(dir, `gzip-bomb-${BOMB_INFLATED / GiB}GiB.gz`);
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(dir, { recursive: true });
  console.error(`building ${file} (once; ${BOMB_INFLATED / GiB} GiB of zeros at gzip level 9)...`);
  const started = performance.now();
  const partial = `${file}.${process.pid}.partial`;
  const out = fs.createWriteStream(partial);
  const gzip = zlib.createGzip({ level: 9 });
  gzip.pipe(out);
  const zeros = new Uint8Array(MiB);
  for (let written = 0; written < BOMB_INFLATED; written += zeros.length) {
    if (!gzip.write(zeros)) await new Promise((resolve) => gzip.once("drain", resolve));
  }
  gzip.end();
  await new Promise<void>((resolve, reject) => {
    out.on("finish", () => resolve());
    out.on("error", reject);
  });
  fs.renameSync(partial, file);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.error(`built ${fs.statSync(file).size} bytes in ${seconds} s`);
  return file;
}

function repoFile(relative: string): string {
  return path.join(path.dirname(here), "..", relative);
}

/** The command that runs `script` (default: this one) under `target`. */
function scriptCommand(target: Runtime, args: string[], script = here): [string, string[]] {
  let exe = target === runtime ? process.execPath : repoFile(`node_modules/.bin/${target}`);
  if (!fs.existsSync(exe)) exe = target; // from PATH
  return target === "deno" ? [exe, ["run", "-A", script, ...args]] : [exe, [script, ...args]];
}

/** Runs a child to completion (killing it after `limitSeconds`); returns its stdout. */
function runChild(
  command: [string, string[]],
  limitSeconds: number,
): Promise<{ stdout: string; code: number | null; timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0], command[1], { stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    let timedOut = false;
    child.stdout.on("data", (chunk: Uint8Array) => stdout += new TextDecoder().decode(chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, limitSeconds * 1000);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${command[0]}: ${error.message}`));
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ stdout, code, timedOut });
    });
  });
}

/** Starts the server role in a child process; resolves with its origin and a stop function. */
function startServer(bombFile: string | undefined) {
  const script = repoFile("bench/servers/body_soak_server.ts");
  const [exe, argv] = scriptCommand(runtime, bombFile ? [bombFile] : [], script);
  const child = spawn(exe, argv, { stdio: ["ignore", "pipe", "inherit"] });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("close", () => resolve());
      child.kill("SIGTERM");
    });
  return new Promise<{ origin: string; stop(): Promise<void> }>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      stop();
      reject(new Error("the soak server did not announce its port within 30 s"));
    }, 30_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      reject(new Error(`the soak server exited with code ${code}`));
    });
    child.stdout.on("data", (chunk: Uint8Array) => {
      out += new TextDecoder().decode(chunk);
      const port = new RegExp(`${PORT_MARK}(\\d+)`).exec(out)?.[1];
      if (port) {
        clearTimeout(timer);
        resolve({ origin: `http://127.0.0.1:${port}`, stop });
      }
    });
  });
}

/** The targets, in words and as a test. */
function target(result: ClientResult): { text: string; met: boolean } {
  if (result.check.startsWith("bomb")) {
    const limit = result.baselineRss + BOMB_CAP + BOMB_RSS_SLACK;
    return {
      text: `TooLarge < ${BOMB_SECONDS} s, RSS < base+${(BOMB_CAP + BOMB_RSS_SLACK) / MiB} MiB`,
      met: result.ok && result.seconds < BOMB_SECONDS && result.peakRss < limit,
    };
  }
  return {
    text: `all bytes, RSS < ${STREAM_RSS_LIMIT / MiB} MiB`,
    met: result.ok && result.peakRss < STREAM_RSS_LIMIT,
  };
}

function failedResult(check: Check, rt: Runtime, detail: string): ClientResult {
  return {
    check,
    runtime: rt,
    version: "?",
    bytes: null,
    seconds: NaN,
    baselineRss: NaN,
    peakRss: NaN,
    ok: false,
    detail,
  };
}

async function runClient(rt: Runtime, config: ClientConfig): Promise<ClientResult> {
  const limit = config.check.startsWith("bomb") ? 120 : Math.ceil(120 + config.size / (4 * MiB));
  const command = scriptCommand(rt, ["--role", "client", "--config", JSON.stringify(config)]);
  const { stdout, code, timedOut } = await runChild(command, limit);
  const line = stdout.split("\n").find((l) => l.startsWith(RESULT_MARK));
  if (line) return JSON.parse(line.slice(RESULT_MARK.length)) as ClientResult;
  const why = timedOut ? `killed after ${limit} s` : `exited with code ${code} without a result`;
  return failedResult(config.check, rt, why);
}

const fixed = (value: number, digits: number) =>
  Number.isFinite(value) ? value.toFixed(digits) : "-";

function table(results: ClientResult[]): string {
  const lines = [
    "| check | runtime | bytes | seconds | MB/s | peak RSS MiB | baseline MiB | target | result |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
  ];
  for (const r of results) {
    const t = target(r);
    const rate = r.bytes !== null && r.seconds > 0 ? r.bytes / 1e6 / r.seconds : NaN;
    lines.push(
      `| ${r.check} | ${r.runtime} ${r.version} | ${r.bytes ?? "-"} | ${fixed(r.seconds, 2)} | ${
        fixed(rate, 0)
      } | ${fixed(r.peakRss / MiB, 1)} | ${fixed(r.baselineRss / MiB, 1)} | ${t.text} | ${
        t.met ? "pass" : "FAIL"
      } |`,
    );
  }
  return lines.join("\n");
}

async function runnerRole(options: Options): Promise<number> {
  const needsBomb = options.checks.some((c) => c.startsWith("bomb"));
  const bombFile = needsBomb ? await gzipBomb() : undefined;
  const server = await startServer(bombFile);
  const results: ClientResult[] = [];
  try {
    for (const rt of options.runtimes) {
      for (const check of options.checks) {
        console.error(`${rt}: ${check} (${options.size} bytes)...`);
        const result = await runClient(rt, { check, origin: server.origin, size: options.size })
          .catch((error) => failedResult(check, rt, describe(error)));
        results.push(result);
        console.error(`  ${target(result).met ? "pass" : "FAIL"}: ${result.detail}`);
      }
    }
  } finally {
    await server.stop();
  }
  console.log(table(results));
  const bomb = bombFile
    ? `; bomb: ${BOMB_INFLATED / GiB} GiB of zeros as ${fs.statSync(bombFile).size} bytes of ` +
      `gzip, maxResponseSize ${BOMB_CAP / MiB} MiB`
    : "";
  console.log(
    `\nMachine: ${os.cpus()[0]?.model ?? "unknown CPU"}, ${os.cpus().length} cores, ` +
      `${os.platform()} ${os.release()}; server: node:net in a ${runtime} child process on ` +
      `127.0.0.1; peak RSS = max of 50 ms samples and VmHWM${bomb}`,
  );
  for (const r of results) {
    if (!target(r).met) console.log(`FAIL ${r.check} (${r.runtime}): ${r.detail}`);
  }
  return results.every((r) => target(r).met) ? 0 : 1;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      role: { type: "string", default: "runner" },
      config: { type: "string" },
      size: { type: "string" },
      runtimes: { type: "string" },
      checks: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.role === "client") return await clientRole(JSON.parse(values.config ?? "{}"));
  if (values.help) {
    console.log(USAGE);
    return;
  }
  let options: Options;
  try {
    options = parseOptions(values);
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : error}\n\n${USAGE}`);
    process.exit(2);
  }
  process.exit(await runnerRole(options));
}

await main();
