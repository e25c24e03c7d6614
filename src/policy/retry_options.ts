/**
 * The options of {@linkcode Retry} and the types its methods take, with the checks that
 * turn options into a `Retry`'s fields (a wrong type throws `TypeError`, a value out of
 * range `RangeError`).
 *
 * @module
 */

import type { PoolDescription } from "../errors.ts";
import {
  checkBoolean,
  checkDuration,
  checkInteger,
  checkIntegers,
  checkObject,
  checkStrings,
  describe,
  readonlySet,
} from "../_validate.ts";

/**
 * One entry of {@linkcode Retry.history}: what happened on an attempt that led to a retry
 * or a followed redirect. urllib3's `RequestHistory`.
 *
 * @example Read what the retries went through
 * ```ts
 * import { Retry } from "@pooled/http";
 * const next = new Retry({ total: 3 }).increment({ method: "GET", url: "/x", error: new Error("reset") });
 * const entry = next.history[0];
 * console.log(entry.method, entry.url, entry.error?.message); // GET /x reset
 * ```
 */
export interface RequestHistory {
  /** The request method, or `null` if the caller did not give it. */
  readonly method: string | null;
  /** The request URL, or `null` if the caller did not give it. */
  readonly url: string | null;
  /** The error that caused the retry, or `null` for a response-caused one. */
  readonly error: Error | null;
  /** The response status that caused the retry, or `null` for an error. */
  readonly status: number | null;
  /** The raw `Location` of a followed redirect, or `null`. */
  readonly redirectLocation: string | null;
}

/**
 * The parts of a response that the retry logic looks at. `HTTPResponse` fits it.
 *
 * @example Anything with a status, headers and a redirect location fits
 * ```ts
 * import { Retry, type RetryResponse } from "@pooled/http";
 * const response: RetryResponse = {
 *   status: 503,
 *   headers: new Headers({ "retry-after": "1" }),
 *   getRedirectLocation: () => false,
 * };
 * console.log(new Retry({ statusForcelist: [503] }).isRetry("GET", response.status)); // true
 * ```
 */
export interface RetryResponse {
  /** The status code. */
  readonly status: number;
  /** The response headers (case-insensitive lookup). */
  readonly headers: { get(name: string): string | null | undefined };
  /** The `Location` for a redirect status (`null` if missing), else `false`. */
  getRedirectLocation(): string | null | false;
}

/**
 * Options of {@linkcode Retry}. Every one is optional; see each for its default.
 *
 * @example A policy for flaky servers
 * ```ts
 * import { Retry, type RetryOptions } from "@pooled/http";
 * const options: RetryOptions = { total: 5, backoffFactor: 100, statusForcelist: [502, 503] };
 * console.log(new Retry(options).total); // 5
 * ```
 */
export interface RetryOptions {
  /**
   * Retries of any kind allowed. Takes precedence over the other counters. Default `10`.
   * `null` removes the limit (the other counters still apply); `0` fails on the first
   * retry; `false` disables retries: errors are thrown unwrapped and a redirect response is
   * returned as it is (it implies `redirect: 0, raiseOnRedirect: false`).
   */
  total?: number | false | null;
  /**
   * Connect errors to retry (the request did not reach the server); retried for any method.
   * Default `null` (only `total` limits). `false` throws a connect error unwrapped.
   */
  connect?: number | false | null;
  /**
   * Read errors to retry (the request may have reached the server); retried only for
   * methods in `allowedMethods`. Default `null`. `false` throws a read error unwrapped.
   */
  read?: number | false | null;
  /**
   * Redirects to follow. Default `null` (only `total` limits). `false` means "do not
   * follow": it is stored as `0` with `raiseOnRedirect: false`, so the 3xx is returned.
   */
  redirect?: number | false | null;
  /** Retries on a status in `statusForcelist` (or a Retry-After response). Default `null`. */
  status?: number | null;
  /** Retries on any other error (for example `SSLError`). Default `null`. */
  other?: number | null;
  /**
   * Upper-case methods retried on read errors and statuses. Default
   * {@linkcode Retry.DEFAULT_ALLOWED_METHODS}. `null` (or, as in urllib3 2.x, an empty
   * collection) means every method. Entries are upper-cased.
   */
  allowedMethods?: Iterable<string> | null;
  /** Status codes to retry on (integers only). Default none. */
  statusForcelist?: Iterable<number> | null;
  /** Milliseconds; the backoff is `backoffFactor * 2 ** (n - 1)`. Default `0`. */
  backoffFactor?: number;
  /** Milliseconds; cap on the backoff. Default `120_000`. */
  backoffMax?: number;
  /** Milliseconds; a uniform random `[0, backoffJitter]` is added to a backoff. Default `0`. */
  backoffJitter?: number;
  /**
   * When redirects run out: `true` (default) throws `MaxRetryError`, `false` means the
   * caller returns the last 3xx response.
   */
  raiseOnRedirect?: boolean;
  /**
   * When status retries run out: `true` (default) throws `MaxRetryError`, `false` means
   * the caller returns the last response.
   */
  raiseOnStatus?: boolean;
  /** Entries of earlier attempts. Default none. */
  history?: readonly RequestHistory[];
  /** Honour `Retry-After` (413, 429, 503 auto-retry and the wait time). Default `true`. */
  respectRetryAfterHeader?: boolean;
  /** Milliseconds; cap on a `Retry-After` wait. Default `21_600_000` (6 hours). */
  retryAfterMax?: number;
  /**
   * Headers removed when a redirect goes to another scheme, host or port (compared
   * case-insensitively). Replaces the default
   * {@linkcode Retry.DEFAULT_REMOVE_HEADERS_ON_REDIRECT}.
   */
  removeHeadersOnRedirect?: Iterable<string>;
}

/**
 * What {@linkcode Retry.increment} needs to know about the failed attempt.
 *
 * @example Count a failed attempt
 * ```ts
 * import { Retry } from "@pooled/http";
 * const retry = new Retry({ total: 2 }).increment({ method: "GET", error: new Error("reset") });
 * console.log(retry.total); // 1
 * ```
 */
export interface IncrementContext {
  /** The request method. A read error without a method is thrown unwrapped. */
  method?: string;
  /** The request URL (for the history and the `MaxRetryError`). */
  url?: string;
  /** The response that caused the retry (a redirect or a retried status). */
  response?: RetryResponse;
  /** The error that caused the retry. */
  error?: Error;
  /** The pool, for the `MaxRetryError` message. */
  pool?: PoolDescription | null;
}

/** A counter option: a number of retries left, `false` (disabled) or `null` (no limit). */
export type Counter = number | false | null;

// ---------------------------------------------------------------------------
// Option checks
// ---------------------------------------------------------------------------

/** A retry counter: a safe integer, `null`, or `false` where `allowFalse`. */
export function checkCounter(name: string, value: unknown, allowFalse: boolean): Counter {
  if (value === null || (allowFalse && value === false)) return value;
  const kinds = allowFalse ? "an integer, false or null" : "an integer or null";
  return checkInteger(`Retry option ${name}`, value, kinds);
}

/** A duration option in milliseconds, `>= 0` (`Infinity` only where `infinite`). */
export function checkRetryDuration(name: string, value: unknown, infinite: boolean): number {
  return checkDuration(`Retry option ${name}`, value, { infinite });
}

/** A boolean option. */
export function checkFlag(name: string, value: unknown): boolean {
  return checkBoolean(`Retry option ${name}`, value);
}

/** `allowedMethods`: upper-cased, or `null` for every method. */
export function checkMethods(value: unknown): ReadonlySet<string> | null {
  if (value === null) return null;
  const methods = checkStrings("Retry option allowedMethods", value, "method names or null");
  return readonlySet(methods.map((method) => method.toUpperCase()));
}

/** `statusForcelist`: integers (`null` gives none). */
export function checkStatuses(value: unknown): ReadonlySet<number> {
  if (value === null) return readonlySet<number>([]);
  return readonlySet(
    checkIntegers("Retry option statusForcelist", value, "status codes or null"),
  );
}

/** `removeHeadersOnRedirect`: lower-cased. */
export function checkHeaderNames(value: unknown): ReadonlySet<string> {
  const names = checkStrings("Retry option removeHeadersOnRedirect", value, "header names");
  return readonlySet(names.map((name) => name.toLowerCase()));
}

/** `history`: an array of entries, copied and frozen. */
export function checkHistory(value: unknown): readonly RequestHistory[] {
  if (!Array.isArray(value)) {
    throw new TypeError(
      `Retry option history must be an array of RequestHistory entries: ${describe(value)}`,
    );
  }
  return Object.freeze(
    value.map((entry, index) =>
      historyEntry(checkObject(`Retry option history[${index}]`, entry) as Partial<RequestHistory>)
    ),
  );
}

/** A frozen history entry, missing fields `null`. */
export function historyEntry(entry: Partial<RequestHistory>): RequestHistory {
  return Object.freeze({
    method: entry.method ?? null,
    url: entry.url ?? null,
    error: entry.error ?? null,
    status: entry.status ?? null,
    redirectLocation: entry.redirectLocation ?? null,
  });
}
