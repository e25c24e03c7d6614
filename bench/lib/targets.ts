/**
 * The speed targets a run is checked against, and what each one asks of pooled on the host
 * that ran it. A target is a ratio of pooled to the runtime's peer (Deno's and Bun's `fetch`,
 * undici's `Pool` on Node) and, for some cells, a share of the raw-socket limit. The raw loop
 * measured in the same run says how far any client on that runtime's sockets got against the
 * peer, so it also says what share of that limit the ratio asks for: a target that asks for
 * the whole of it (or more) is beyond any client that does more than the raw loop does.
 *
 * @module
 */

import type { BenchCase } from "./client_worker.ts";

/** One cell's target. */
export interface Target {
  /** The least `pooled / peer` asked for. */
  readonly peer: number;
  /** The least `pooled / raw` asked for, when the cell has such a target. */
  readonly raw?: number;
}

/** Targets of the keep-alive GETs, by runtime, case and concurrency (`plain/1`). */
const GET_TARGETS: Readonly<Record<string, Readonly<Record<string, Target>>>> = {
  deno: {
    "plain/1": { peer: 1.6 },
    "plain/32": { peer: 3.0, raw: 0.9 },
    "tls/1": { peer: 1.3 },
    "tls/32": { peer: 1.8 },
  },
  bun: {
    "plain/1": { peer: 1.5 },
    "plain/32": { peer: 1.8 },
    "tls/1": { peer: 1.3 },
    "tls/32": { peer: 1.5 },
  },
  node: {
    "plain/1": { peer: 1.2 },
    "plain/32": { peer: 1.2 },
    "tls/1": { peer: 1.2 },
    "tls/32": { peer: 1.2, raw: 0.9 },
  },
};

/** The large body and the POST are asked to be at least as fast as the peer everywhere. */
const AT_LEAST_THE_PEER: Target = { peer: 1.0 };

/**
 * The target of a runtime's case at a concurrency, or null when none was set (a runtime or
 * a concurrency the targets do not name).
 *
 * @example
 * ```ts ignore
 * targetOf("deno", "plain", 32); // { peer: 3.0, raw: 0.9 }
 * ```
 */
export function targetOf(
  runtime: string,
  benchCase: BenchCase,
  concurrency: number,
): Target | null {
  const own = GET_TARGETS[runtime];
  if (own === undefined) return null;
  if (benchCase === "large" || benchCase === "post") return AT_LEAST_THE_PEER;
  return own[`${benchCase}/${concurrency}`] ?? null;
}

/** A target as the report writes it: `1.6x`, or `3.0x, 90% of raw`. */
export function targetText(target: Target): string {
  const peer = `${target.peer.toFixed(1)}x`;
  return target.raw === undefined ? peer : `${peer}, ${percent(target.raw)} of raw`;
}

/** `0.9` as `90%`. */
export function percent(share: number): string {
  return `${(share * 100).toFixed(0)}%`;
}

/**
 * The share of the raw-socket limit pooled must reach for every part of `target`: the peer
 * ratio divided by `rawRatio` (what raw itself reached against the peer), or the raw share
 * asked for, whichever is more. Null without a raw figure. Above 1: more than the raw loop did.
 */
export function neededRawShare(target: Target, rawRatio: number | null): number | null {
  if (rawRatio === null) return null;
  return Math.max(target.peer / rawRatio, target.raw ?? 0);
}

/**
 * True when pooled met every part of `target`, given its ratio to the peer and its share of
 * raw; null when a figure the target needs is missing.
 */
export function targetMet(
  target: Target,
  ratio: number | null,
  rawShare: number | null,
): boolean | null {
  if (ratio === null) return null;
  if (ratio < target.peer) return false;
  if (target.raw === undefined) return true;
  return rawShare === null ? null : rawShare >= target.raw;
}
