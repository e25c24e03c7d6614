/**
 * `h2load` (nghttp2-client), the HTTP/2 ceiling of the HTTP/2 benchmark: its command line for
 * one measurement and the parsing of its report. It runs as a child process of a benchmark
 * worker (`node:child_process`, on every runtime), alternated with the other clients.
 *
 * @module
 */

import { execFile } from "node:child_process";

/** What one h2load run measured. */
export interface H2loadResult {
  /** Requests per second over the measured period, as h2load reports it. */
  rps: number;
  /** Seconds h2load says the measured period took. */
  seconds: number;
  /** Requests that succeeded (2xx or 3xx). */
  succeeded: number;
  /** Requests that failed, errored or timed out. */
  failed: number;
  /** The protocol ALPN chose (`h2`), or null when h2load did not say. */
  protocol: string | null;
}

/** How long (long profile) or how many (short profile) one h2load run measures. */
export type H2loadAmount =
  | { seconds: number; warmup: number }
  | { requests: number };

/**
 * h2load's arguments for `concurrency` streams at once on one connection to `url`, one thread:
 * a timed run (`-D`, with `--warm-up-time` when `warmup` is above zero; in milliseconds) or a
 * fixed count (`-n`).
 */
export function h2loadArgs(url: string, concurrency: number, amount: H2loadAmount): string[] {
  const args = ["-c1", `-m${concurrency}`, "-t1"];
  if ("requests" in amount) {
    args.push(`-n${amount.requests}`);
  } else {
    // h2load takes whole durations: milliseconds keep fractions of a second.
    args.push(`-D${Math.round(amount.seconds * 1000)}ms`);
    if (amount.warmup > 0) args.push(`--warm-up-time=${Math.round(amount.warmup * 1000)}ms`);
  }
  args.push(url);
  return args;
}

function seconds(value: string, unit: string): number {
  const n = Number(value);
  return unit === "ms" ? n / 1000 : unit === "us" ? n / 1e6 : n;
}

/**
 * Reads h2load's report: the `finished in 2.00s, 45678.90 req/s, 1.50MB/s` line, the
 * `requests: ... succeeded, ... failed, ... errored, ... timeout` line and the
 * `Application protocol:` line.
 *
 * @throws {Error} when the report lacks the finished or the requests line.
 */
export function parseH2loadOutput(text: string): H2loadResult {
  const finished = /^finished in ([\d.]+)(s|ms|us), ([\d.]+) req\/s/m.exec(text);
  const requests =
    /^requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/m
      .exec(text);
  if (!finished || !requests) {
    const tail = text.trim().split("\n").slice(-3).join(" / ");
    throw new Error(`Cannot read the h2load report: ${JSON.stringify(tail)}`);
  }
  const [, failed, errored, timeout] = requests.slice(1).map(Number);
  return {
    rps: Number(finished[3]),
    seconds: seconds(finished[1], finished[2]),
    succeeded: Number(requests[1]),
    failed: failed + errored + timeout,
    protocol: /^Application protocol: (\S+)/m.exec(text)?.[1] ?? null,
  };
}

/**
 * Runs h2load with `args` and reads its report; fails when no request succeeded, any failed,
 * or the protocol was not `h2`.
 *
 * @throws {Error} when h2load cannot start, exits with an error or reports failures.
 */
export function runH2load(args: string[], timeoutMs: number): Promise<H2loadResult> {
  return new Promise((resolve, reject) => {
    const options = { timeout: timeoutMs, maxBuffer: 1 << 20 };
    execFile("h2load", args, options, (error, stdout, stderr) => {
      if (error) {
        const why = String(stderr).trim().split("\n").pop() || error.message;
        return reject(new Error(`h2load ${args.join(" ")}: ${why}`));
      }
      try {
        const result = parseH2loadOutput(String(stdout));
        if (result.succeeded === 0) {
          reject(new Error("h2load completed no request"));
        } else if (result.failed > 0) {
          reject(new Error(`h2load: ${result.failed} of the requests failed`));
        } else if (result.protocol !== "h2") {
          reject(new Error(`h2load spoke ${result.protocol ?? "an unknown protocol"}, not h2`));
        } else {
          resolve(result);
        }
      } catch (parseError) {
        reject(parseError);
      }
    });
  });
}
