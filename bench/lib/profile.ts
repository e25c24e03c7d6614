/**
 * The two ways the comparison runner measures: the long-process profile (one warm process per
 * runtime, rounds of timed runs) and the short-process profile (a user's short script: a fresh
 * process per measurement, a few hundred sequential warm-up requests, then a fixed number of
 * requests), and the options that choose between them.
 *
 * @module
 */

import type { BenchCase } from "./client_worker.ts";
import { listOption, numberOption } from "./args.ts";

/**
 * `long`: one process per runtime measures every client for a fixed time, round after round;
 * `short`: a fresh process per measurement sends a fixed number of requests.
 */
export type Profile = "long" | "short";

/** Every profile, in report order. */
export const PROFILES: readonly Profile[] = ["long", "short"];

/** Sequential requests a short-profile process sends (and does not count) before it measures. */
export const SHORT_WARMUP_REQUESTS = 500;

/** The fixed request counts of the short profile. */
export interface RequestCounts {
  /** Requests measured at concurrency 1. */
  single: number;
  /** Requests measured at any higher concurrency. */
  parallel: number;
  /** Requests measured in the `large` case (1 MiB bodies), at any concurrency. */
  large: number;
}

/** The short profile's default counts: 20,000 at c=1, 60,000 above, 2,000 1 MiB bodies. */
export const DEFAULT_REQUEST_COUNTS: RequestCounts = {
  single: 20_000,
  parallel: 60_000,
  large: 2_000,
};

/** `--profile`: `long`, `short` or `both` (either order of a list is allowed too). */
export function profileOption(text: string): Profile[] {
  if (text.trim() === "both") return [...PROFILES];
  const chosen = listOption("profile", text, PROFILES);
  return PROFILES.filter((profile) => chosen.includes(profile));
}

/**
 * `--requests N[,M]`: N requests at concurrency 1 and M above it; a single number applies to
 * every concurrency. The `large` count is kept from `counts`.
 */
export function requestCountsOption(
  text: string,
  counts: RequestCounts = DEFAULT_REQUEST_COUNTS,
): RequestCounts {
  const parts = text.split(",").map((part) => numberOption("requests", part, true));
  if (parts.length > 2) {
    throw new Error(`--requests takes one or two counts, got ${JSON.stringify(text)}`);
  }
  return { ...counts, single: parts[0], parallel: parts[1] ?? parts[0] };
}

/** How many requests a short-profile process measures for `benchCase` at `concurrency`. */
export function shortRequestCount(
  counts: RequestCounts,
  benchCase: BenchCase,
  concurrency: number,
): number {
  if (benchCase === "large") return counts.large;
  return concurrency === 1 ? counts.single : counts.parallel;
}
