/**
 * The HTTP/2 benchmark's cases, clients and measurements, and its report: per runtime, case,
 * concurrency and profile, the medians (min–max) of the runtime's peer client, pooled over
 * HTTP/2 on one connection, pooled over HTTP/1.1 on as many connections as requests in flight,
 * and `h2load`, with pooled's ratios to each.
 *
 * @module
 */

import { LARGE_BODY_BYTES } from "../servers/server.ts";
import { type Profile, PROFILES } from "./profile.ts";
import { median, type Range, range, rateCell, type RateUnit } from "./report.ts";

/** An HTTP/2 case: keep-alive GETs of the 12-byte body, or GETs of the 1 MiB body; both TLS. */
export type H2Case = "small" | "large";

/** Every HTTP/2 case, in report order. */
export const H2_CASES: readonly H2Case[] = ["small", "large"];

/**
 * A client of the HTTP/2 benchmark: the runtime's peer (Deno's and Bun's `fetch`, undici's
 * `Pool` with `allowH2` on Node), pooled over HTTP/2 (`maxSize: 1`: one connection carries
 * every stream), pooled over HTTP/1.1 (`http2: false`, `maxSize` the concurrency), and
 * `h2load` (nghttp2's load generator: the ceiling).
 */
export type H2Client = "peer" | "pooled" | "pooled-h1" | "h2load";

/** Every HTTP/2 client, in the order of a round that starts with the peer. */
export const H2_CLIENTS: readonly H2Client[] = ["peer", "pooled", "pooled-h1", "h2load"];

/** The protocol each client must have spoken (as nginx's `$server_protocol` names it). */
export const EXPECTED_PROTOCOL: Readonly<Record<H2Client, string | null>> = {
  peer: null, // the peer is measured as it comes: the report says what it spoke
  pooled: "HTTP/2.0",
  "pooled-h1": "HTTP/1.1",
  h2load: "HTTP/2.0",
};

/** One measured run of the HTTP/2 benchmark. */
export interface H2Measurement {
  /** How it was measured. */
  profile: Profile;
  /** The client. */
  client: H2Client;
  /** The case. */
  case: H2Case;
  /** Requests in flight at once. */
  concurrency: number;
  /** Round number, from 0. */
  round: number;
  /** Completed requests in the measured window (short profile: the fixed count). */
  requests: number;
  /** Seconds the measured window took. */
  seconds: number;
  /** Requests per second, or null when the run failed. */
  rps: number | null;
  /** The protocol the server spoke to the client (`HTTP/2.0`, `HTTP/1.1`), when known. */
  protocol?: string;
  /** Why the run failed. */
  error?: string;
}

/** What an HTTP/2 worker prints. */
export interface H2WorkerResult {
  /** `deno`, `bun` or `node`. */
  runtime: string;
  /** The runtime's version. */
  version: string;
  /** What the peer client is: `fetch` or `undici.Pool (allowH2)`. */
  peer: string;
  /** Why pooled could not be loaded, if it could not. */
  pooledError?: string;
  /** Every run, in order. */
  measurements: H2Measurement[];
}

/** `items` rotated left by `round`, so that none of them always runs first. */
export function rotate<T>(items: readonly T[], round: number): T[] {
  const shift = items.length === 0 ? 0 : round % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

/** The unit of `h2Case`: MB/s (10^6 bytes of body per second) for `large`, else req/s. */
export function h2CaseUnit(h2Case: H2Case): RateUnit {
  return h2Case === "large" ? "MB/s" : "req/s";
}

/** `rps` in the unit of `h2Case`. */
export function h2CaseRate(h2Case: H2Case, rps: number): number {
  return h2CaseUnit(h2Case) === "MB/s" ? rps * LARGE_BODY_BYTES / 1e6 : rps;
}

/** A client's median and min–max in one row. */
export interface H2Rate {
  /** The median, or null when every run failed or none ran. */
  rate: number | null;
  /** The lowest and highest, or null. */
  range: Range | null;
}

/** The medians of one runtime, case, concurrency and profile. */
export interface H2Row {
  /** How it was measured. */
  profile: Profile;
  /** `deno`, `bun` or `node`. */
  runtime: string;
  /** The peer client and the protocol(s) it spoke: `fetch (HTTP/2.0)`. */
  peer: string;
  /** The case. */
  case: H2Case;
  /** Requests in flight at once. */
  concurrency: number;
  /** What the rates count. */
  unit: RateUnit;
  /** Each client's median and min–max. */
  rates: Record<H2Client, H2Rate>;
  /**
   * The protocols pooled (asked for HTTP/2) was seen to speak, other than `HTTP/2.0`: with
   * `--no-version-check`, what its column really measured.
   */
  pooledOther: string[];
  /** pooled (HTTP/2) / peer, or null. */
  ratioPeer: number | null;
  /** pooled over HTTP/2 on one connection / pooled over HTTP/1.1 on c connections, or null. */
  ratioH1: number | null;
  /** pooled (HTTP/2) / h2load, or null. */
  ratioH2load: number | null;
  /** Distinct error messages of failed runs, each after its client. */
  errors: string[];
}

function ratio(a: number | null, b: number | null): number | null {
  return a !== null && b ? a / b : null;
}

/** The distinct protocols the server saw `client` speak in `runs`. */
function protocolsOf(runs: H2Measurement[], client: H2Client): string[] {
  return [...new Set(runs.flatMap((m) => m.client === client && m.protocol ? [m.protocol] : []))];
}

/** The peer's name with the protocols the server saw it speak, if any were recorded. */
function peerLabel(peer: string, runs: H2Measurement[]): string {
  const protocols = protocolsOf(runs, "peer");
  return protocols.length === 0 ? peer : `${peer} (${protocols.join(", ")})`;
}

/** Groups a worker's runs by case, concurrency and profile, in first-seen order. */
export function h2RowsOf(result: H2WorkerResult): H2Row[] {
  const rows: H2Row[] = [];
  const seen = new Set<string>();
  for (const m of result.measurements) {
    const key = `${m.case}/${m.concurrency}/${m.profile}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const runs = result.measurements.filter((r) =>
      r.case === m.case && r.concurrency === m.concurrency && r.profile === m.profile
    );
    const rates = Object.fromEntries(H2_CLIENTS.map((client) => {
      const values = runs.flatMap((r) =>
        r.client === client && r.rps !== null ? [h2CaseRate(r.case, r.rps)] : []
      );
      return [client, { rate: median(values), range: range(values) }];
    })) as Record<H2Client, H2Rate>;
    const pooled = rates.pooled.rate;
    rows.push({
      profile: m.profile,
      runtime: result.runtime,
      peer: peerLabel(result.peer, runs),
      case: m.case,
      concurrency: m.concurrency,
      unit: h2CaseUnit(m.case),
      rates,
      pooledOther: protocolsOf(runs, "pooled").filter((p) => p !== EXPECTED_PROTOCOL.pooled),
      ratioPeer: ratio(pooled, rates.peer.rate),
      ratioH1: ratio(pooled, rates["pooled-h1"].rate),
      ratioH2load: ratio(pooled, rates.h2load.rate),
      errors: [...new Set(runs.flatMap((r) => r.error ? [`${r.client}: ${r.error}`] : []))],
    });
  }
  return rows;
}

/** The rows by runtime (first-seen order), then case, concurrency and profile. */
export function orderH2Rows(rows: H2Row[]): H2Row[] {
  const runtimes = [...new Set(rows.map((row) => row.runtime))];
  const key = (row: H2Row) => [
    runtimes.indexOf(row.runtime),
    H2_CASES.indexOf(row.case),
    row.concurrency,
    PROFILES.indexOf(row.profile),
  ];
  return [...rows].sort((a, b) => {
    const [ka, kb] = [key(a), key(b)];
    const i = ka.findIndex((value, j) => value !== kb[j]);
    return i === -1 ? 0 : ka[i] - kb[i];
  });
}

function ratioCell(value: number | null): string {
  return value === null ? "n/a" : `${value.toFixed(2)}x`;
}

function h2Table(rows: H2Row[]): string {
  const unit = rows[0].unit;
  const lines = [
    `| runtime | peer | concurrency | profile | peer ${unit} | pooled h2, 1 conn ${unit} | pooled h1, c conns ${unit} | h2load ${unit} | pooled/peer | h2/h1 | pooled/h2load |`,
    "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const row of rows) {
    const cell = (client: H2Client) => {
      const text = rateCell(row.rates[client].rate, row.rates[client].range, unit);
      const other = client === "pooled" ? row.pooledOther : [];
      return other.length === 0 ? text : `${text} over ${other.join(", ")}`;
    };
    const cells = [
      row.runtime,
      row.peer,
      String(row.concurrency),
      row.profile,
      ...H2_CLIENTS.map(cell),
      ratioCell(row.ratioPeer),
      ratioCell(row.ratioH1),
      ratioCell(row.ratioH2load),
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}

/** The report's tables: which case each one holds, under which title. */
const H2_TABLES: { title: string; case: H2Case }[] = [
  { title: "HTTP/2 over TLS, keep-alive GET, 12-byte body", case: "small" },
  { title: "HTTP/2 over TLS, GET, 1 MiB body", case: "large" },
];

/** The rows as markdown: one titled table per case that ran, in {@linkcode orderH2Rows} order. */
export function h2MarkdownTables(rows: H2Row[]): string {
  return H2_TABLES.flatMap(({ title, case: h2Case }) => {
    const own = orderH2Rows(rows).filter((row) => row.case === h2Case);
    return own.length === 0 ? [] : [`${title} (${own[0].unit}):\n\n${h2Table(own)}`];
  }).join("\n\n");
}

/** What `compare_h2.ts` asks an HTTP/2 worker to measure. */
export interface H2WorkerConfig {
  /** The small body over TLS (nginx offers `h2` and `http/1.1`). */
  smallUrl: string;
  /** The 1 MiB body over TLS. */
  largeUrl: string;
  /** The server certificate (PEM) to trust. */
  caPem: string;
  /** The cases to run. */
  cases: H2Case[];
  /** The clients to run. */
  clients: H2Client[];
  /** Requests in flight at once for `small`. */
  concurrency: number[];
  /** Requests in flight at once for `large`. */
  largeConcurrency: number[];
  /** Long profile: rounds of every measurement. */
  rounds: number;
  /** Long profile: seconds measured per run. */
  seconds: number;
  /** Long profile: seconds of warm-up before each run (not counted). */
  warmup: number;
  /**
   * Whether pooled must have spoken the protocol it was asked for (HTTP/2 with `http2`,
   * HTTP/1.1 with `http2: false`); a run that did not is a failed run.
   */
  versionCheck: boolean;
  /** How to measure (default `long`); `short` measures the first case, concurrency and client. */
  profile?: Profile;
  /** Short profile: requests measured after the warm-up. */
  requests?: number;
  /** Short profile: sequential requests before the measured ones (not counted). */
  warmupRequests?: number;
  /** Short profile: the round this process measures. */
  round?: number;
}
