/**
 * Timeouts, urllib3's `Timeout` in TypeScript. A {@linkcode Timeout} is immutable and
 * holds no clock: the caller measures elapsed time and asks
 * {@linkcode Timeout.readTimeout} what is left. Every duration is in milliseconds.
 *
 * @module
 */

import { checkDuration, describe } from "../_validate.ts";

/**
 * Options of {@linkcode Timeout}; milliseconds, `null` or `undefined` = no limit.
 *
 * @example Limits in milliseconds
 * ```ts
 * import { Timeout, type TimeoutOptions } from "@pooled/http";
 * const options: TimeoutOptions = { connect: 2_000, read: 5_000 };
 * console.log(new Timeout(options).connectTimeout); // 2000
 * ```
 */
export interface TimeoutOptions {
  /** Limit on connecting (TCP connect, TLS handshake, proxy set-up). */
  connect?: number | null;
  /** Limit on each wait for response bytes (not on the whole body). */
  read?: number | null;
  /**
   * Limit on the whole exchange, measured from its start. It bounds connecting and every
   * read; when the body is preloaded (the default) it also bounds the body download
   * (a deliberate difference from urllib3, where it stops at the first byte).
   */
  total?: number | null;
}

function checkLimit(name: string, value: unknown): number | null {
  if (value === undefined) return null;
  return checkDuration(`Timeout ${name}`, value, { nullable: true, positive: true });
}

function smaller(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.min(a, b);
}

/**
 * Per-phase timeouts in milliseconds: `connect`, `read` (each wait for bytes) and `total`
 * (the whole exchange). `null` means no limit. Immutable, so one instance can be shared.
 *
 * @example
 * ```ts
 * import { Timeout } from "@pooled/http";
 * const timeout = new Timeout({ connect: 2_000, read: 7_000 });
 * console.log(timeout.connectTimeout, timeout.readTimeout(0)); // 2000 7000
 * ```
 */
export class Timeout {
  /** No limits at all (the default of pools and managers). */
  static readonly DEFAULT: Timeout = new Timeout();

  /** Limit on connecting, ms, or `null`. */
  readonly connect: number | null;
  /** Limit on each wait for response bytes, ms, or `null`. */
  readonly read: number | null;
  /**
   * Limit on the whole exchange, ms, or `null`. It bounds connecting and every read; when
   * the body is preloaded it also bounds the body download (unlike urllib3, whose `total`
   * stops at the first byte of the response).
   */
  readonly total: number | null;

  /**
   * Builds a timeout.
   *
   * @param options Limits in milliseconds; each must be a finite number `> 0`, `null` or
   * left out. A non-number throws `TypeError`, a number out of range `RangeError`; both
   * name the field and show the value.
   *
   * @example
   * ```ts
   * import { Timeout } from "@pooled/http";
   * const t = new Timeout({ total: 10_000, read: 3_000 });
   * console.log(t.readTimeout(8_500)); // 1500
   * ```
   */
  constructor(options: TimeoutOptions = {}) {
    if (options === null || typeof options !== "object") {
      throw new TypeError(`Timeout options must be an object: ${describe(options)}`);
    }
    this.connect = checkLimit("connect", options.connect);
    this.read = checkLimit("read", options.read);
    this.total = checkLimit("total", options.total);
    if (new.target === Timeout) Object.freeze(this);
  }

  /**
   * The same limit for connecting and for reading (urllib3's `Timeout.from_float`);
   * `null` gives no limits.
   *
   * @example
   * ```ts
   * import { Timeout } from "@pooled/http";
   * const t = Timeout.fromFloat(5_000);
   * console.log(t.connect, t.read, t.total); // 5000 5000 null
   * ```
   */
  static fromFloat(ms: number | null): Timeout {
    return new Timeout({ connect: ms, read: ms });
  }

  /**
   * Resolves a `timeout` option. A `Timeout` is returned as it is, a number `ms` gives
   * `Timeout.fromFloat(ms)`, `null` gives no limits (overriding the pool's timeout), and
   * `undefined` (not given) gives `fallback` (the pool's timeout) or
   * {@linkcode Timeout.DEFAULT}.
   *
   * @example
   * ```ts
   * import { Timeout } from "@pooled/http";
   * const pool = new Timeout({ connect: 1_000 });
   * console.log(Timeout.from(undefined, pool) === pool); // true
   * console.log(Timeout.from(300, pool).read); // 300
   * console.log(Timeout.from(null, pool).connect); // null
   * ```
   */
  static from(value: Timeout | number | null | undefined, fallback?: Timeout): Timeout {
    if (fallback !== undefined && !(fallback instanceof Timeout)) {
      throw new TypeError(`Timeout fallback must be a Timeout: ${describe(fallback)}`);
    }
    if (value === undefined) return fallback ?? Timeout.DEFAULT;
    if (value instanceof Timeout) return value;
    if (value === null || typeof value === "number") return Timeout.fromFloat(value);
    throw new TypeError(
      `timeout must be a Timeout, a number of milliseconds or null: ${describe(value)}`,
    );
  }

  /**
   * The limit on connecting: the smaller of `connect` and `total`, or `null`.
   *
   * @example
   * ```ts
   * import { Timeout } from "@pooled/http";
   * console.log(new Timeout({ connect: 5_000, total: 2_000 }).connectTimeout); // 2000
   * ```
   */
  get connectTimeout(): number | null {
    return smaller(this.connect, this.total);
  }

  /**
   * The limit on the next wait for bytes: the smaller of `read` and what is left of
   * `total` after `elapsedMs` (time since the exchange started, connecting included).
   * Never negative: `0` means `total` is used up and the caller should raise
   * `ReadTimeoutError` without reading. `null` means no limit.
   *
   * @param elapsedMs Milliseconds since the exchange started (`>= 0`).
   *
   * @example
   * ```ts
   * import { Timeout } from "@pooled/http";
   * const t = new Timeout({ read: 1_000, total: 3_000 });
   * console.log(t.readTimeout(0), t.readTimeout(2_500), t.readTimeout(4_000)); // 1000 500 0
   * ```
   */
  readTimeout(elapsedMs: number): number | null {
    checkDuration("elapsedMs", elapsedMs);
    const left = this.total === null ? null : Math.max(0, this.total - elapsedMs);
    return smaller(this.read, left);
  }

  /**
   * A short description, like urllib3's `repr`.
   *
   * @example
   * ```ts
   * import { Timeout } from "@pooled/http";
   * console.log(String(Timeout.fromFloat(50))); // Timeout(connect=50, read=50, total=null)
   * ```
   */
  toString(): string {
    return `${this.constructor.name}(connect=${this.connect}, read=${this.read}, ` +
      `total=${this.total})`;
  }
}
