/**
 * The retry policy, urllib3's `Retry` in TypeScript. A {@linkcode Retry} is immutable:
 * {@linkcode Retry.increment} returns a new one, so one instance can be shared by many
 * requests. The module is pure: it never sleeps or touches the network. It tells the
 * caller how long to wait ({@linkcode Retry.sleepTime}) and the caller waits.
 *
 * Every duration is in milliseconds.
 *
 * @module
 */

import {
  ConnectTimeoutError,
  InvalidHeader,
  MaxRetryError,
  ProtocolError,
  ProxyError,
  ReadTimeoutError,
  ResponseError,
} from "../errors.ts";
import { describe, readonlySet } from "../_validate.ts";
import { parseHttpDate } from "./_http_date.ts";
import {
  checkCounter,
  checkFlag,
  checkHeaderNames,
  checkHistory,
  checkMethods,
  checkRetryDuration,
  checkStatuses,
  historyEntry,
  type IncrementContext,
  type RequestHistory,
  type RetryOptions,
  type RetryResponse,
} from "./retry_options.ts";

export type { IncrementContext, RequestHistory, RetryOptions, RetryResponse };

/** Whole seconds, the other form of `Retry-After`. */
const DELTA_SECONDS = /^\s*[0-9]+\s*$/;

/** A counter after one decrement; `false` counts as 0, as Python's `False - 1` does. */
function decrement(value: number | false): number {
  return (value === false ? 0 : value) - 1;
}

// ---------------------------------------------------------------------------
// Error classification
// ---------------------------------------------------------------------------

/**
 * Whether `error` is a connect error: the server cannot have seen the request, so it is
 * safe to retry for any method. True for {@linkcode ConnectTimeoutError} and its
 * subclasses (`NewConnectionError`, `NameResolutionError`), and for a `ProxyError` whose
 * `originalError` is one.
 *
 * @example
 * ```ts
 * import { isConnectError, NewConnectionError, ProxyError } from "@pooled/http";
 * console.log(isConnectError(new NewConnectionError("refused"))); // true
 * console.log(isConnectError(new ProxyError("proxy", new NewConnectionError("x")))); // true
 * ```
 */
export function isConnectError(error: Error): boolean {
  const inner = error instanceof ProxyError ? error.originalError : error;
  return inner instanceof ConnectTimeoutError;
}

/**
 * Whether `error` is a read error: the request may have reached the server, so it is
 * retried only for methods in `allowedMethods`. True for {@linkcode ReadTimeoutError} and
 * {@linkcode ProtocolError} (with its subclasses such as `IncompleteRead`).
 *
 * @example
 * ```ts
 * import { isReadError, ProtocolError, SSLError } from "@pooled/http";
 * console.log(isReadError(new ProtocolError("Connection aborted."))); // true
 * console.log(isReadError(new SSLError("bad certificate"))); // false
 * ```
 */
export function isReadError(error: Error): boolean {
  return error instanceof ReadTimeoutError || error instanceof ProtocolError;
}

// ---------------------------------------------------------------------------
// Retry
// ---------------------------------------------------------------------------

/**
 * Retry configuration, as urllib3's `Retry`. Immutable: {@linkcode Retry.increment}
 * returns a new `Retry`, so one instance can be the default of a pool and of many
 * requests. Durations are milliseconds.
 *
 * @example A pool default and a per-request override
 * ```ts
 * import { Retry } from "@pooled/http";
 * const retries = new Retry({ connect: 5, read: 2, redirect: 5, backoffFactor: 100 });
 * const noRetries = Retry.fromInt(false); // errors unwrapped, 3xx returned as is
 * console.log(retries.connect, noRetries.total); // 5 false
 * ```
 */
export class Retry {
  /** Methods retried by default on read errors and statuses (idempotent ones). */
  static readonly DEFAULT_ALLOWED_METHODS: ReadonlySet<string> = readonlySet([
    "HEAD",
    "GET",
    "PUT",
    "DELETE",
    "OPTIONS",
    "TRACE",
  ]);
  /** Statuses retried automatically when they carry a `Retry-After` header. */
  static readonly RETRY_AFTER_STATUS_CODES: ReadonlySet<number> = readonlySet([413, 429, 503]);
  /** Headers removed on a cross-origin redirect by default (lower-case). */
  static readonly DEFAULT_REMOVE_HEADERS_ON_REDIRECT: ReadonlySet<string> = readonlySet([
    "cookie",
    "authorization",
    "proxy-authorization",
  ]);
  /** Default {@linkcode RetryOptions.backoffMax}: 2 minutes, in milliseconds. */
  static readonly DEFAULT_BACKOFF_MAX = 120_000;
  /** Default {@linkcode RetryOptions.retryAfterMax}: 6 hours, in milliseconds. */
  static readonly DEFAULT_RETRY_AFTER_MAX = 21_600_000;
  /** The policy used when a request gives no `retries`: `new Retry({ total: 3 })`. */
  static readonly DEFAULT: Retry = new Retry({ total: 3 });

  /** Total retries left; `null` = no total limit; `false` = retries disabled. */
  readonly total: number | false | null;
  /** Connect-error retries left; `false` = throw connect errors unwrapped. */
  readonly connect: number | false | null;
  /** Read-error retries left; `false` = throw read errors unwrapped. */
  readonly read: number | false | null;
  /** Redirects left (`redirect: false` is stored as `0` with `raiseOnRedirect: false`). */
  readonly redirect: number | null;
  /** Status retries left. */
  readonly status: number | null;
  /** Other-error retries left. */
  readonly other: number | null;
  /** Upper-case methods retried on read errors and statuses; `null` = every method. */
  readonly allowedMethods: ReadonlySet<string> | null;
  /** Statuses that force a retry. */
  readonly statusForcelist: ReadonlySet<number>;
  /** Backoff factor, milliseconds. */
  readonly backoffFactor: number;
  /** Backoff cap, milliseconds. */
  readonly backoffMax: number;
  /** Backoff jitter, milliseconds. */
  readonly backoffJitter: number;
  /** Throw when redirects run out (else return the 3xx). */
  readonly raiseOnRedirect: boolean;
  /** Throw when status retries run out (else return the response). */
  readonly raiseOnStatus: boolean;
  /** One entry per increment, oldest first. */
  readonly history: readonly RequestHistory[];
  /** Honour `Retry-After`. */
  readonly respectRetryAfterHeader: boolean;
  /** Cap on a `Retry-After` wait, milliseconds. */
  readonly retryAfterMax: number;
  /** Lower-case header names removed on a cross-origin redirect. */
  readonly removeHeadersOnRedirect: ReadonlySet<string>;

  /**
   * Builds a policy. Every option is optional; see {@linkcode RetryOptions}.
   *
   * @param options The policy. A wrong type throws `TypeError`, a value out of range
   * `RangeError`.
   *
   * @example
   * ```ts
   * import { Retry } from "@pooled/http";
   * const r = new Retry({ total: 5, statusForcelist: [502, 503], backoffFactor: 200 });
   * console.log(r.isRetry("GET", 503)); // true
   * ```
   */
  constructor(options: RetryOptions = {}) {
    if (options === null || typeof options !== "object") {
      throw new TypeError(`Retry options must be an object: ${describe(options)}`);
    }
    const o = options;
    this.total = checkCounter("total", o.total === undefined ? 10 : o.total, true);
    this.connect = checkCounter("connect", o.connect ?? null, true);
    this.read = checkCounter("read", o.read ?? null, true);
    const redirect = checkCounter("redirect", o.redirect ?? null, true);
    this.status = checkCounter("status", o.status ?? null, false) as number | null;
    this.other = checkCounter("other", o.other ?? null, false) as number | null;
    let raiseOnRedirect = checkFlag("raiseOnRedirect", orDefault(o.raiseOnRedirect, true));
    if (redirect === false || this.total === false) raiseOnRedirect = false;
    this.redirect = redirect === false || this.total === false ? 0 : redirect;
    this.raiseOnRedirect = raiseOnRedirect;
    this.raiseOnStatus = checkFlag("raiseOnStatus", orDefault(o.raiseOnStatus, true));
    this.respectRetryAfterHeader = checkFlag(
      "respectRetryAfterHeader",
      orDefault(o.respectRetryAfterHeader, true),
    );
    this.allowedMethods = o.allowedMethods === undefined
      ? Retry.DEFAULT_ALLOWED_METHODS
      : checkMethods(o.allowedMethods);
    this.statusForcelist = checkStatuses(o.statusForcelist ?? null);
    this.backoffFactor = checkRetryDuration("backoffFactor", orDefault(o.backoffFactor, 0), false);
    this.backoffMax = checkRetryDuration(
      "backoffMax",
      orDefault(o.backoffMax, Retry.DEFAULT_BACKOFF_MAX),
      true,
    );
    this.backoffJitter = checkRetryDuration("backoffJitter", orDefault(o.backoffJitter, 0), false);
    this.retryAfterMax = checkRetryDuration(
      "retryAfterMax",
      orDefault(o.retryAfterMax, Retry.DEFAULT_RETRY_AFTER_MAX),
      true,
    );
    this.history = checkHistory(orDefault(o.history, []));
    this.removeHeadersOnRedirect = o.removeHeadersOnRedirect === undefined
      ? Retry.DEFAULT_REMOVE_HEADERS_ON_REDIRECT
      : checkHeaderNames(o.removeHeadersOnRedirect);
    if (new.target === Retry) Object.freeze(this);
  }

  /**
   * Turns a `retries` option into a `Retry` (urllib3's `Retry.from_int`).
   *
   * - a `Retry` is returned as it is;
   * - `null`/`undefined` gives `options.default` (converted the same way), or
   *   {@linkcode Retry.DEFAULT};
   * - a number `n` gives `new Retry({ total: n })`, shared by every kind of retry;
   * - `false` gives `new Retry({ total: false })`: no retries, errors unwrapped, 3xx
   *   returned as is; `true` counts as `1`, as Python's `True` does.
   *
   * `options.redirect` (default `true`) applies to converted numbers and booleans only:
   * truthy leaves redirects limited by `total`, falsy (`false`, `0`, `null`) disables them.
   *
   * @example
   * ```ts
   * import { Retry } from "@pooled/http";
   * console.log(Retry.fromInt(undefined) === Retry.DEFAULT); // true
   * console.log(Retry.fromInt(2).total); // 2
   * console.log(Retry.fromInt(5, { redirect: false }).redirectsDisabled); // true
   * ```
   */
  static fromInt(
    retries: Retry | number | boolean | null | undefined,
    options: {
      redirect?: boolean | number | null;
      default?: Retry | number | boolean | null;
    } = {},
  ): Retry {
    if (retries === null || retries === undefined) {
      retries = options.default ?? Retry.DEFAULT;
    }
    if (retries instanceof Retry) return retries;
    if (typeof retries !== "number" && typeof retries !== "boolean") {
      throw new TypeError(
        `retries must be a Retry, a number, a boolean or null: ${describe(retries)}`,
      );
    }
    const followRedirects = options.redirect === undefined ? true : Boolean(options.redirect);
    return new Retry({
      total: retries === true ? 1 : retries,
      redirect: followRedirects ? null : false,
    });
  }

  /**
   * Returns a copy with some options changed (urllib3's `Retry.new`). The copy has the
   * same class as `this`.
   *
   * @example
   * ```ts
   * import { Retry } from "@pooled/http";
   * const strict = Retry.DEFAULT.newWith({ read: 0 });
   * console.log(strict.total, strict.read); // 3 0
   * ```
   */
  newWith(changes: RetryOptions): Retry {
    if (changes === null || typeof changes !== "object") {
      throw new TypeError(`Retry.newWith() needs an options object: ${describe(changes)}`);
    }
    const Class = this.constructor as new (options: RetryOptions) => Retry;
    return new Class({ ...this.#options(), ...definedOnly(changes) });
  }

  #options(): RetryOptions {
    return {
      total: this.total,
      connect: this.connect,
      read: this.read,
      redirect: this.redirect,
      status: this.status,
      other: this.other,
      allowedMethods: this.allowedMethods,
      statusForcelist: this.statusForcelist,
      backoffFactor: this.backoffFactor,
      backoffMax: this.backoffMax,
      backoffJitter: this.backoffJitter,
      raiseOnRedirect: this.raiseOnRedirect,
      raiseOnStatus: this.raiseOnStatus,
      history: this.history,
      respectRetryAfterHeader: this.respectRetryAfterHeader,
      retryAfterMax: this.retryAfterMax,
      removeHeadersOnRedirect: this.removeHeadersOnRedirect,
    };
  }

  /**
   * `true` when the next redirect is not to be followed and its 3xx response is to be
   * returned as it is: redirects were switched off (`redirect: false`, `total: false`,
   * `Retry.fromInt(n, { redirect: false })`), or no redirect is left and `raiseOnRedirect`
   * is `false`. A caller may test it before draining a 3xx; calling
   * {@linkcode Retry.increment} and catching `MaxRetryError` with `raiseOnRedirect` false
   * gives the same outcome, as in urllib3.
   *
   * @example
   * ```ts
   * import { Retry } from "@pooled/http";
   * console.log(new Retry({ redirect: false }).redirectsDisabled); // true
   * console.log(new Retry({ redirect: 0 }).redirectsDisabled); // false: 0 throws instead
   * ```
   */
  get redirectsDisabled(): boolean {
    return this.total === false || (this.redirect === 0 && !this.raiseOnRedirect);
  }

  /**
   * Whether `method` may be retried on a read error or a status: it is in
   * `allowedMethods` (compared upper-case), or `allowedMethods` is `null` or empty.
   *
   * @example
   * ```ts
   * import { Retry } from "@pooled/http";
   * console.log(Retry.DEFAULT.isRetryableMethod("post")); // false
   * console.log(new Retry({ allowedMethods: null }).isRetryableMethod("POST")); // true
   * ```
   */
  isRetryableMethod(method: string): boolean {
    if (typeof method !== "string") {
      throw new TypeError(`method must be a string: ${describe(method)}`);
    }
    const allowed = this.allowedMethods;
    return !allowed || allowed.size === 0 || allowed.has(method.toUpperCase());
  }

  /**
   * Whether a response should be retried: the method is retryable and either the status
   * is in `statusForcelist`, or `total` is a non-zero number, `Retry-After` is respected,
   * the response has one (`hasRetryAfter`) and the status is 413, 429 or 503.
   *
   * @example
   * ```ts
   * import { Retry } from "@pooled/http";
   * console.log(Retry.DEFAULT.isRetry("GET", 503, true)); // true
   * console.log(Retry.DEFAULT.isRetry("GET", 503)); // false: no Retry-After
   * ```
   */
  isRetry(method: string, status: number, hasRetryAfter = false): boolean {
    if (!this.isRetryableMethod(method)) return false;
    if (this.statusForcelist.has(status)) return true;
    return typeof this.total === "number" && this.total !== 0 &&
      this.respectRetryAfterHeader && hasRetryAfter &&
      Retry.RETRY_AFTER_STATUS_CODES.has(status);
  }

  /**
   * Whether retries ran out: the smallest counter that is a non-zero number is negative.
   * Counters that are `null`, `false` or `0` are ignored (as urllib3 does), so
   * `new Retry({ total: 0 })` allows the first attempt and fails on the first retry.
   *
   * @example
   * ```ts
   * import { Retry } from "@pooled/http";
   * console.log(new Retry({ total: 0 }).isExhausted()); // false
   * console.log(new Retry({ total: -1 }).isExhausted()); // true
   * ```
   */
  isExhausted(): boolean {
    const counts = [this.total, this.connect, this.read, this.redirect, this.status, this.other]
      .filter((count): count is number => typeof count === "number" && count !== 0);
    return counts.length > 0 && Math.min(...counts) < 0;
  }

  /**
   * Records a failed attempt and returns the `Retry` for the next one.
   *
   * The error or response picks the counter: a connect error (any method) uses `connect`;
   * a read error uses `read` if the method is retryable; any other error uses `other`; a
   * redirect response uses `redirect`; any other response uses `status`. `total` is used
   * every time. A history entry is appended.
   *
   * @throws the `error` itself, unwrapped, when `total` is `false`, when it is a connect
   * error and `connect` is `false`, or when it is a read error and `read` is `false`, the
   * method is not retryable or not given.
   * @throws {MaxRetryError} when the new `Retry` is exhausted. Its `reason` is the error,
   * or a `ResponseError` saying `"too many redirects"` or `"too many 500 error
   * responses"` (`"too many error responses"` without a response).
   *
   * @example
   * ```ts
   * import { MaxRetryError, ProtocolError, Retry } from "@pooled/http";
   * let retries = new Retry({ total: 1 });
   * retries = retries.increment({ method: "GET", url: "/", error: new ProtocolError("reset") });
   * try {
   *   retries.increment({ method: "GET", url: "/", error: new ProtocolError("reset") });
   * } catch (e) {
   *   console.log(e instanceof MaxRetryError); // true
   * }
   * ```
   */
  increment(context: IncrementContext = {}): Retry {
    if (context === null || typeof context !== "object") {
      throw new TypeError(`Retry.increment() needs a context object: ${describe(context)}`);
    }
    const { method, url, response, error, pool } = context;
    if (error !== undefined && !(error instanceof Error)) {
      throw new TypeError(`Retry.increment() error must be an Error: ${describe(error)}`);
    }
    if (this.total === false && error) throw error;

    const counts = {
      total: this.total === null ? null : decrement(this.total),
      connect: this.connect,
      read: this.read,
      redirect: this.redirect,
      status: this.status,
      other: this.other,
    };
    let cause = "too many error responses";
    let status: number | null = null;
    let redirectLocation: string | null = null;

    if (error && isConnectError(error)) {
      if (counts.connect === false) throw error;
      if (counts.connect !== null) counts.connect -= 1;
    } else if (error && isReadError(error)) {
      const retryable = method !== undefined && method !== null && this.isRetryableMethod(method);
      if (counts.read === false || !retryable) throw error;
      if (counts.read !== null) counts.read -= 1;
    } else if (error) {
      if (counts.other !== null) counts.other -= 1;
    } else if (response && response.getRedirectLocation()) {
      if (counts.redirect !== null) counts.redirect -= 1;
      cause = "too many redirects";
      redirectLocation = response.getRedirectLocation() || null;
      status = response.status;
    } else if (response && response.status) {
      if (counts.status !== null) counts.status -= 1;
      cause = `too many ${response.status} error responses`;
      status = response.status;
    }

    const entry = historyEntry({ method, url, error, status, redirectLocation });
    const next = this.newWith({ ...counts, history: [...this.history, entry] });
    if (next.isExhausted()) {
      throw new MaxRetryError(pool ?? null, url ?? "", error ?? new ResponseError(cause));
    }
    return next;
  }

  /**
   * The backoff before the next attempt, in milliseconds:
   * `backoffFactor * 2 ** (n - 1)` where `n` counts the consecutive non-redirect entries
   * at the end of the history; `0` while `n <= 1` (the first retry is immediate). A
   * uniform random `[0, backoffJitter]` is added, and the result is capped at
   * `backoffMax`.
   *
   * @example
   * ```ts
   * import { ProtocolError, Retry } from "@pooled/http";
   * let r = new Retry({ backoffFactor: 100 });
   * const error = new ProtocolError("reset");
   * r = r.increment({ method: "GET", url: "/", error });
   * console.log(r.getBackoffTime()); // 0
   * r = r.increment({ method: "GET", url: "/", error });
   * console.log(r.getBackoffTime()); // 200
   * ```
   */
  getBackoffTime(): number {
    let consecutive = 0;
    for (let i = this.history.length - 1; i >= 0; i--) {
      if (this.history[i].redirectLocation !== null) break;
      consecutive++;
    }
    if (consecutive <= 1) return 0;
    let backoff = this.backoffFactor * 2 ** (consecutive - 1);
    if (this.backoffJitter !== 0) backoff += Math.random() * this.backoffJitter;
    return Math.max(0, Math.min(this.backoffMax, backoff));
  }

  /**
   * Parses a `Retry-After` value into milliseconds to wait: whole seconds (surrounding
   * whitespace allowed; `-1`, `+1` and `1.0` are invalid) or an HTTP-date in any RFC 7231
   * form (a date without a zone is UTC). A date in the past gives `0`; the result is
   * capped at `retryAfterMax`.
   *
   * @param value The header value.
   * @param now The current time in epoch milliseconds (for dates), default `Date.now()`.
   * @throws {InvalidHeader} when the value is neither.
   *
   * @example
   * ```ts
   * import { Retry } from "@pooled/http";
   * console.log(Retry.DEFAULT.parseRetryAfter("120")); // 120000
   * const now = Date.UTC(2015, 9, 21, 7, 28, 0);
   * console.log(Retry.DEFAULT.parseRetryAfter("Wed, 21 Oct 2015 07:28:30 GMT", now)); // 30000
   * ```
   */
  parseRetryAfter(value: string, now: number = Date.now()): number {
    if (typeof value !== "string") {
      throw new TypeError(`Retry-After value must be a string: ${describe(value)}`);
    }
    let ms: number;
    if (DELTA_SECONDS.test(value)) {
      ms = Number(value.trim()) * 1000;
    } else {
      const date = parseHttpDate(value);
      if (date === null) {
        throw new InvalidHeader(`Invalid Retry-After header: ${JSON.stringify(value)}`);
      }
      ms = date - now;
    }
    return Math.min(Math.max(ms, 0), this.retryAfterMax);
  }

  /**
   * The response's `Retry-After` in milliseconds, or `null` when it has none.
   *
   * @throws {InvalidHeader} when the header is not valid.
   *
   * @example
   * ```ts
   * import { Retry } from "@pooled/http";
   * const response = {
   *   status: 503,
   *   headers: new Headers({ "retry-after": "2" }),
   *   getRedirectLocation: () => false as const,
   * };
   * console.log(Retry.DEFAULT.getRetryAfter(response)); // 2000
   * ```
   */
  getRetryAfter(response: RetryResponse, now: number = Date.now()): number | null {
    const value = response.headers.get("Retry-After");
    return value === null || value === undefined ? null : this.parseRetryAfter(value, now);
  }

  /**
   * How long the caller should wait before the next attempt, in milliseconds (urllib3's
   * `Retry.sleep`, without the sleeping). When `respectRetryAfterHeader` is set and a
   * `response` is given whose `Retry-After` is more than zero, that wait; otherwise
   * {@linkcode Retry.getBackoffTime}. Like urllib3, the `Retry-After` of any status counts
   * here: the 413/429/503 rule is about *whether* to retry ({@linkcode Retry.isRetry}).
   * Call it on the `Retry` that {@linkcode Retry.increment} returned.
   *
   * @throws {InvalidHeader} when the response's `Retry-After` is not valid.
   *
   * @example
   * ```ts
   * import { Retry } from "@pooled/http";
   * const response = {
   *   status: 429,
   *   headers: new Headers({ "retry-after": "3" }),
   *   getRedirectLocation: () => false as const,
   * };
   * console.log(Retry.DEFAULT.sleepTime(response)); // 3000
   * console.log(Retry.DEFAULT.sleepTime()); // 0
   * ```
   */
  sleepTime(response?: RetryResponse, now: number = Date.now()): number {
    if (this.respectRetryAfterHeader && response) {
      const retryAfter = this.getRetryAfter(response, now);
      if (retryAfter) return retryAfter;
    }
    return this.getBackoffTime();
  }

  /**
   * A short description, like urllib3's `repr`.
   *
   * @example
   * ```ts
   * import { Retry } from "@pooled/http";
   * console.log(String(Retry.DEFAULT));
   * // Retry(total=3, connect=null, read=null, redirect=null, status=null)
   * ```
   */
  toString(): string {
    return `${this.constructor.name}(total=${this.total}, connect=${this.connect}, ` +
      `read=${this.read}, redirect=${this.redirect}, status=${this.status})`;
  }
}

function orDefault<T>(value: T | undefined, fallback: T): T {
  return value === undefined ? fallback : value;
}

function definedOnly(changes: RetryOptions): RetryOptions {
  return Object.fromEntries(
    Object.entries(changes).filter(([, value]) => value !== undefined),
  ) as RetryOptions;
}
