/**
 * Turns the workers' measurements into medians and markdown tables: per runtime, case and
 * concurrency, the peer client, pooled, their ratio and, for the keep-alive GETs, the raw-socket
 * limit and the share of it pooled reaches.
 *
 * @module
 */

import type { BenchCase, BenchClient, Measurement, WorkerResult } from "./client_worker.ts";
import { LARGE_BODY_BYTES } from "../servers/server.ts";

/** Every case, in report order. */
export const BENCH_CASES: readonly BenchCase[] = ["plain", "tls", "large", "post"];

/** Every client, in the order of a round that starts with the peer. */
export const BENCH_CLIENTS: readonly BenchClient[] = ["peer", "pooled", "raw"];

/** The cases the raw client measures: keep-alive GETs of the small body. */
export const RAW_CASES: readonly BenchCase[] = ["plain", "tls"];

/** The unit a case is reported in: bytes per second for the large body, else requests. */
export type RateUnit = "req/s" | "MB/s";

/** The unit of `benchCase`: MB/s (10^6 bytes of response body per second) for `large`. */
export function caseUnit(benchCase: BenchCase): RateUnit {
  return benchCase === "large" ? "MB/s" : "req/s";
}

/** `rps` (requests per second) in the unit of `benchCase`. */
export function caseRate(benchCase: BenchCase, rps: number): number {
  return caseUnit(benchCase) === "MB/s" ? rps * LARGE_BODY_BYTES / 1e6 : rps;
}

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
  /** What `peerRate`, `pooledRate` and `rawRate` count. */
  unit: RateUnit;
  /** Median rate of the peer client, or null when every run failed. */
  peerRate: number | null;
  /** Median rate of pooled, or null when every run failed. */
  pooledRate: number | null;
  /** `pooled / peer`, or null. */
  ratio: number | null;
  /** Median rate of the raw-socket limit, or null when it did not run or every run failed. */
  rawRate: number | null;
  /** `pooled / raw`: the share of the raw-socket limit pooled reaches, or null. */
  rawShare: number | null;
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
  return median(runs.flatMap((m) => m.rps === null ? [] : [caseRate(m.case, m.rps)]));
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
    const peerRate = medianOf(runs.filter((r) => r.client === "peer"));
    const pooledRate = medianOf(runs.filter((r) => r.client === "pooled"));
    const rawRate = medianOf(runs.filter((r) => r.client === "raw"));
    rows.push({
      runtime: result.runtime,
      peer: result.peer,
      case: m.case,
      concurrency: m.concurrency,
      unit: caseUnit(m.case),
      peerRate,
      pooledRate,
      ratio: peerRate && pooledRate !== null ? pooledRate / peerRate : null,
      rawRate,
      rawShare: rawRate && pooledRate !== null ? pooledRate / rawRate : null,
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

function rate(value: number | null, unit: RateUnit): string {
  if (value === null) return "n/a";
  const digits = unit === "MB/s" ? 1 : 0;
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** The report's tables: which cases each one holds, under which title. */
const TABLES: { title: string; cases: BenchCase[] }[] = [
  { title: "Keep-alive GET, 12-byte body", cases: ["plain", "tls"] },
  { title: "GET, 1 MiB body (plain HTTP)", cases: ["large"] },
  { title: "POST, 64 KiB body, 12-byte reply (plain HTTP)", cases: ["post"] },
];

/**
 * One markdown table of rows that share a unit; with `raw`, two more columns: the raw-socket
 * limit and pooled's share of it (percent).
 */
function table(rows: Row[], raw: boolean): string {
  const unit = rows[0].unit;
  const rawHead = raw ? ` raw ${unit} |` : "";
  const rawShareHead = raw ? " pooled/raw |" : "";
  const lines = [
    `| runtime | peer | case | concurrency | peer ${unit} | pooled ${unit} |${rawHead} ratio (pooled/peer) |${rawShareHead}`,
    `| --- | --- | --- | ---: | ---: | ---: |${raw ? " ---: |" : ""} ---: |${raw ? " ---: |" : ""}`,
  ];
  for (const row of rows) {
    const ratio = row.ratio === null ? "n/a" : `${row.ratio.toFixed(2)}x`;
    const share = row.rawShare === null ? "n/a" : `${(row.rawShare * 100).toFixed(0)}%`;
    const cells = [
      row.runtime,
      row.peer,
      row.case,
      String(row.concurrency),
      rate(row.peerRate, unit),
      rate(row.pooledRate, unit),
      ...(raw ? [rate(row.rawRate, unit)] : []),
      ratio,
      ...(raw ? [share] : []),
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}

/**
 * The rows as markdown: one titled table per kind of case (small GETs with the raw-socket
 * limit, the large body in MB/s, POSTs), skipping kinds that were not run.
 */
export function markdownTables(rows: Row[]): string {
  return TABLES.flatMap(({ title, cases }) => {
    const own = rows.filter((row) => cases.includes(row.case));
    // Raw columns only where raw ran: the keep-alive GETs, unless `--clients` left it out.
    const rawRan = own.some((row) =>
      row.rawRate !== null || row.errors.some((e) => e.startsWith("raw: "))
    );
    return own.length === 0 ? [] : [`${title} (${own[0].unit}):\n\n${table(own, rawRan)}`];
  }).join("\n\n");
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
