/**
 * The statistics of the CLI's load mode, as pure functions: latencies and outcomes go into a
 * {@linkcode LoadRecorder}; {@linkcode summarize} turns them into req/s, percentiles and
 * status counts; {@linkcode formatProgress} and {@linkcode formatSummary} print them.
 *
 * @module
 */

/** Collects the outcome of each request of a load run. */
export class LoadRecorder {
  /** Latency of each completed request (response or error), milliseconds. */
  readonly latencies: number[] = [];
  /** Responses by status code, errors by error code (`ERR_...`). */
  readonly outcomes: Map<string, number> = new Map();

  /** Records one request that ended after `ms` with a status code or an error code. */
  record(ms: number, outcome: number | string): void {
    this.latencies.push(ms);
    const key = String(outcome);
    this.outcomes.set(key, (this.outcomes.get(key) ?? 0) + 1);
  }

  /** Requests recorded so far. */
  get count(): number {
    return this.latencies.length;
  }
}

/** The result of a load run. */
export interface LoadSummary {
  /** Requests that completed (with a response or an error). */
  readonly requests: number;
  /** Requests that ended in an error instead of a response. */
  readonly errors: number;
  /** Wall-clock seconds of the run. */
  readonly seconds: number;
  /** Completed requests per second. */
  readonly rps: number;
  /** Latency percentiles in milliseconds (NaN when nothing completed). */
  readonly p50: number;
  /** 90th percentile latency, ms. */
  readonly p90: number;
  /** 99th percentile latency, ms. */
  readonly p99: number;
  /** Counts by status code (`"200"`) or error code (`"ERR_READ_TIMEOUT"`), sorted by key. */
  readonly outcomes: ReadonlyArray<readonly [string, number]>;
  /** Connections the pool opened. */
  readonly connectionsOpened: number;
}

/**
 * The `p`-th percentile (0–100) of ascending `sorted` values, by the nearest-rank method
 * (the smallest value with at least `p`% of the values at or below it); NaN if empty.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100: ${p}`);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

/** Summarizes a run that took `elapsedMs` and opened `connectionsOpened` connections. */
export function summarize(
  recorder: LoadRecorder,
  elapsedMs: number,
  connectionsOpened: number,
): LoadSummary {
  const sorted = [...recorder.latencies].sort((a, b) => a - b);
  const outcomes = [...recorder.outcomes.entries()].sort(([a], [b]) => a.localeCompare(b));
  const seconds = elapsedMs / 1000;
  return {
    requests: sorted.length,
    errors: outcomes.reduce((sum, [key, n]) => /^\d+$/.test(key) ? sum : sum + n, 0),
    seconds,
    rps: seconds > 0 ? sorted.length / seconds : 0,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    outcomes,
    connectionsOpened,
  };
}

function ms(value: number): string {
  if (Number.isNaN(value)) return "n/a";
  return value < 10 ? `${value.toFixed(2)} ms` : `${value.toFixed(1)} ms`;
}

function outcomeList(outcomes: ReadonlyArray<readonly [string, number]>): string {
  return outcomes.length === 0 ? "none" : outcomes.map(([key, n]) => `${key}=${n}`).join(" ");
}

/**
 * One progress line: done (of total, when known), current req/s, outcomes, connections.
 * Without a trailing newline: the caller rewrites it in place with `\r`.
 */
export function formatProgress(
  recorder: LoadRecorder,
  total: number | undefined,
  elapsedMs: number,
  connectionsOpened: number,
): string {
  const done = total === undefined ? `${recorder.count}` : `${recorder.count}/${total}`;
  const rate = elapsedMs > 0 ? Math.round(recorder.count / (elapsedMs / 1000)) : 0;
  const outcomes = outcomeList([...recorder.outcomes.entries()].sort(([a], [b]) => a < b ? -1 : 1));
  return `${done} requests  ${rate} req/s  ${outcomes}  connections=${connectionsOpened}`;
}

/** The final report of a load run, several lines. */
export function formatSummary(summary: LoadSummary): string {
  const perConnection = summary.connectionsOpened > 0
    ? (summary.requests / summary.connectionsOpened).toFixed(1)
    : "n/a";
  return [
    `requests     ${summary.requests} in ${summary.seconds.toFixed(2)} s, ${
      summary.rps.toFixed(0)
    } req/s`,
    `latency      p50 ${ms(summary.p50)}  p90 ${ms(summary.p90)}  p99 ${ms(summary.p99)}`,
    `outcomes     ${outcomeList(summary.outcomes)}`,
    `connections  ${summary.connectionsOpened} opened for ${summary.requests} requests (${perConnection} requests per connection)`,
  ].join("\n");
}
