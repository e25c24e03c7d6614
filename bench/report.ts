/**
 * Turns the workers' measurements into medians and a markdown table.
 *
 * @module
 */

import type { BenchCase, Measurement, WorkerResult } from "./client_worker.ts";

/** The medians of one runtime, case and concurrency. */
export interface Row {
  /** `deno`, `bun` or `node`. */
  runtime: string;
  /** The peer client: `fetch` or `undici.Pool`. */
  peer: string;
  /** The case. */
  case: BenchCase;
  /** Parallel request loops. */
  concurrency: number;
  /** Median req/s of the peer client, or null when every run failed. */
  peerRps: number | null;
  /** Median req/s of pooled, or null when every run failed. */
  pooled: number | null;
  /** `pooled / peer`, or null. */
  ratio: number | null;
  /** Distinct error messages of failed runs. */
  errors: string[];
}

/** The median of the numbers (the mean of the middle two for an even count); null if none. */
export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function medianOf(runs: Measurement[]): number | null {
  return median(runs.flatMap((m) => m.rps === null ? [] : [m.rps]));
}

/** Groups a worker's runs by case and concurrency, in first-seen order, into medians. */
export function rowsOf(result: WorkerResult): Row[] {
  const rows: Row[] = [];
  const seen = new Set<string>();
  for (const m of result.measurements) {
    const key = `${m.case}/${m.concurrency}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const runs = result.measurements.filter((r) =>
      r.case === m.case && r.concurrency === m.concurrency
    );
    const peerRps = medianOf(runs.filter((r) => r.client === "peer"));
    const pooled = medianOf(runs.filter((r) => r.client === "pooled"));
    rows.push({
      runtime: result.runtime,
      peer: result.peer,
      case: m.case,
      concurrency: m.concurrency,
      peerRps,
      pooled,
      ratio: peerRps && pooled !== null ? pooled / peerRps : null,
      errors: [
        ...new Set(
          runs.flatMap((r) =>
            r.error ? [`${r.client === "peer" ? result.peer : r.client}: ${r.error}`] : []
          ),
        ),
      ],
    });
  }
  return rows;
}

function rate(value: number | null): string {
  return value === null ? "n/a" : Math.round(value).toLocaleString("en-US");
}

/** The markdown table of the rows. */
export function markdownTable(rows: Row[]): string {
  const lines = [
    "| runtime | peer | case | concurrency | peer req/s | pooled req/s | ratio (pooled/peer) |",
    "| --- | --- | --- | ---: | ---: | ---: | ---: |",
  ];
  for (const row of rows) {
    const ratio = row.ratio === null ? "n/a" : `${row.ratio.toFixed(2)}x`;
    lines.push(
      `| ${row.runtime} | ${row.peer} | ${row.case} | ${row.concurrency} | ${rate(row.peerRps)} | ${
        rate(row.pooled)
      } | ${ratio} |`,
    );
  }
  return lines.join("\n");
}

/** The CPU model from /proc/cpuinfo, or "unknown CPU". */
export function cpuModel(): string {
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    const match = /^(?:model name|Hardware|cpu model)\s*:\s*(.+)$/m.exec(info);
    return match?.[1].trim() ?? "unknown CPU";
  } catch {
    return "unknown CPU";
  }
}
