/**
 * Turns the workers' measurements into medians and markdown tables: per runtime, case,
 * concurrency and profile, the peer client, pooled (medians with their min–max), their ratio
 * and its target, and, for the GETs, the raw-socket limit, the share of it pooled reaches and
 * the share the target asks for; then which targets the run met.
 *
 * @module
 */

import type { BenchCase, BenchClient, Measurement, WorkerResult } from "./client_worker.ts";
import { LARGE_BODY_BYTES } from "../servers/server.ts";
import { type Profile, PROFILES } from "./profile.ts";
import {
  neededRawShare,
  percent,
  type Target,
  targetMet,
  targetOf,
  targetText,
} from "./targets.ts";

/** Every case, in report order. */
export const BENCH_CASES: readonly BenchCase[] = ["plain", "tls", "large", "post"];

/** Every client, in the order of a round that starts with the peer. */
export const BENCH_CLIENTS: readonly BenchClient[] = ["peer", "pooled", "raw"];

/** The cases the raw client measures: the keep-alive GETs (each body copied into one array). */
export const RAW_CASES: readonly BenchCase[] = ["plain", "tls", "large"];

/**
 * The clients of one round for `benchCase`, rotated by `round` so that none always runs
 * first, on a warmer (or more loaded) machine.
 */
export function roundOrder(
  clients: readonly BenchClient[],
  benchCase: BenchCase,
  round: number,
): BenchClient[] {
  const own = clients.filter((c) => c !== "raw" || RAW_CASES.includes(benchCase));
  const shift = own.length === 0 ? 0 : round % own.length;
  return [...own.slice(shift), ...own.slice(0, shift)];
}

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

/** The medians of one runtime, case, concurrency and profile. */
export interface Row {
  /** How it was measured. */
  profile: Profile;
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
  /** Lowest and highest rate of the peer client, or null when every run failed. */
  peerRange: Range | null;
  /** Median rate of pooled, or null when every run failed. */
  pooledRate: number | null;
  /** Lowest and highest rate of pooled, or null when every run failed. */
  pooledRange: Range | null;
  /** `pooled / peer`, or null. */
  ratio: number | null;
  /** Median rate of the raw-socket limit, or null when it did not run or every run failed. */
  rawRate: number | null;
  /** Lowest and highest rate of the raw-socket limit, or null. */
  rawRange: Range | null;
  /** `pooled / raw`: the share of the raw-socket limit pooled reaches, or null. */
  rawShare: number | null;
  /** The cell's target, or null when none was set. */
  target: Target | null;
  /** Whether pooled met the target; null without a target or a needed median. */
  met: boolean | null;
  /**
   * The share of the raw-socket limit the target asks of pooled (above 1: more than the raw
   * loop itself reached against the peer), or null without a target or a raw figure.
   */
  neededShare: number | null;
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

/** The lowest and the highest of a set of rates. */
export type Range = readonly [min: number, max: number];

/** The lowest and highest of the numbers; null if none. */
export function range(values: number[]): Range | null {
  return values.length === 0 ? null : [Math.min(...values), Math.max(...values)];
}

function ratesOf(runs: Measurement[], client: BenchClient): number[] {
  return runs.flatMap((m) =>
    m.client !== client || m.rps === null ? [] : [caseRate(m.case, m.rps)]
  );
}

/**
 * Groups a worker's runs by case, concurrency and profile, in first-seen order, into medians
 * and ranges.
 */
export function rowsOf(result: WorkerResult): Row[] {
  const rows: Row[] = [];
  const seen = new Set<string>();
  for (const m of result.measurements) {
    const key = `${m.case}/${m.concurrency}/${m.profile}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const runs = result.measurements.filter((r) =>
      r.case === m.case && r.concurrency === m.concurrency && r.profile === m.profile
    );
    const [peerRates, pooledRates, rawRates] = BENCH_CLIENTS.map((c) => ratesOf(runs, c));
    const peerRate = median(peerRates);
    const pooledRate = median(pooledRates);
    const rawRate = median(rawRates);
    const ratio = peerRate && pooledRate !== null ? pooledRate / peerRate : null;
    const rawShare = rawRate && pooledRate !== null ? pooledRate / rawRate : null;
    const rawRatio = peerRate && rawRate !== null ? rawRate / peerRate : null;
    const target = targetOf(result.runtime, m.case, m.concurrency);
    rows.push({
      profile: m.profile,
      runtime: result.runtime,
      peer: result.peer,
      case: m.case,
      concurrency: m.concurrency,
      unit: caseUnit(m.case),
      peerRate,
      peerRange: range(peerRates),
      pooledRate,
      pooledRange: range(pooledRates),
      ratio,
      rawRate,
      rawRange: range(rawRates),
      rawShare,
      target,
      met: target === null ? null : targetMet(target, ratio, rawShare),
      neededShare: target === null ? null : neededRawShare(target, rawRatio),
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

/**
 * The rows in report order: by runtime (first-seen order), then case, concurrency and profile,
 * so that a case's long and short rows stand next to each other.
 */
export function orderRows(rows: Row[]): Row[] {
  const runtimes = [...new Set(rows.map((row) => row.runtime))];
  const key = (row: Row) => [
    runtimes.indexOf(row.runtime),
    BENCH_CASES.indexOf(row.case),
    row.concurrency,
    PROFILES.indexOf(row.profile),
  ];
  return [...rows].sort((a, b) => {
    const [ka, kb] = [key(a), key(b)];
    const i = ka.findIndex((value, j) => value !== kb[j]);
    return i === -1 ? 0 : ka[i] - kb[i];
  });
}

function formatRate(value: number, unit: RateUnit): string {
  const digits = unit === "MB/s" ? 1 : 0;
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** A median with its min–max when the runs differ: `25,379 (24,100–26,002)`. */
export function rateCell(value: number | null, spread: Range | null, unit: RateUnit): string {
  if (value === null) return "n/a";
  const text = formatRate(value, unit);
  if (spread === null || spread[0] === spread[1]) return text;
  return `${text} (${formatRate(spread[0], unit)}–${formatRate(spread[1], unit)})`;
}

/** The report's tables: which cases each one holds, under which title. */
const TABLES: { title: string; cases: BenchCase[] }[] = [
  { title: "Keep-alive GET, 12-byte body", cases: ["plain", "tls"] },
  { title: "GET, 1 MiB body (plain HTTP)", cases: ["large"] },
  { title: "POST, 64 KiB body, 12-byte reply (plain HTTP)", cases: ["post"] },
];

/** Columns aligned left; the others hold figures, aligned right. */
const TEXT_COLUMNS = new Set(["runtime", "peer", "case", "profile"]);

/**
 * One markdown table of rows that share a unit, a row per profile; rates are medians with
 * their min–max, a ratio at its target is bold; with `raw`, three more columns: the
 * raw-socket limit, pooled's share of it, and the share the target asks for.
 */
function table(rows: Row[], raw: boolean): string {
  const unit = rows[0].unit;
  const head = ["runtime", "peer", "case", "concurrency", "profile", `peer ${unit}`];
  head.push(`pooled ${unit}`, ...(raw ? [`raw ${unit}`] : []), "pooled/peer", "target");
  if (raw) head.push("pooled/raw", "target needs of raw");
  const lines = [
    `| ${head.join(" | ")} |`,
    `| ${head.map((name) => TEXT_COLUMNS.has(name) ? "---" : "---:").join(" | ")} |`,
  ];
  for (const row of rows) {
    const ratio = row.ratio === null ? "n/a" : `${row.ratio.toFixed(2)}x`;
    const cells = [
      row.runtime,
      row.peer,
      row.case,
      String(row.concurrency),
      row.profile,
      rateCell(row.peerRate, row.peerRange, unit),
      rateCell(row.pooledRate, row.pooledRange, unit),
      ...(raw ? [rateCell(row.rawRate, row.rawRange, unit)] : []),
      row.met ? `**${ratio}**` : ratio,
      row.target === null ? "n/a" : targetText(row.target),
      ...(raw ? [shareCell(row.rawShare), shareCell(row.neededShare)] : []),
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}

function shareCell(share: number | null): string {
  return share === null ? "n/a" : percent(share);
}

/**
 * The rows as markdown: one titled table per kind of case (small GETs and the large body in
 * MB/s, both with the raw-socket limit; POSTs), skipping kinds that were not run, each in
 * {@linkcode orderRows} order.
 */
export function markdownTables(rows: Row[]): string {
  return TABLES.flatMap(({ title, cases }) => {
    const own = orderRows(rows).filter((row) => cases.includes(row.case));
    // Raw columns only where raw ran: the GETs, unless `--clients` left it out.
    const rawRan = own.some((row) =>
      row.rawRate !== null || row.errors.some((e) => e.startsWith("raw: "))
    );
    return own.length === 0 ? [] : [`${title} (${own[0].unit}):\n\n${table(own, rawRan)}`];
  }).join("\n\n");
}

/**
 * Which targets the run met: a count, then a line per cell that missed its target, with the
 * share of the raw-socket limit pooled reached and the share the target asks for (more than
 * the whole of it: beyond what the raw loop itself did against the peer on this host).
 */
export function targetSummary(rows: Row[]): string {
  const judged = orderRows(rows).filter((row) => row.met !== null);
  const missed = judged.filter((row) => row.met === false);
  const lines = [`Targets met: ${judged.length - missed.length} of ${judged.length} cells.`];
  for (const row of missed) {
    const where = `${row.runtime} ${row.case} c=${row.concurrency} ${row.profile}`;
    const reached = row.rawShare === null ? "" : `, ${percent(row.rawShare)} of raw`;
    let line = `- ${where}: ${row.ratio!.toFixed(2)}x${reached} against ${targetText(row.target!)}`;
    if (row.neededShare !== null) {
      const beyond = row.neededShare > 1 ? ", more than the raw loop itself reached" : "";
      line += ` (the target needs ${percent(row.neededShare)} of raw${beyond})`;
    }
    lines.push(line);
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
