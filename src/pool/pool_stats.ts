/**
 * Connection and request counts of pools, with undici's names (`Pool.stats`,
 * `Agent.stats`) beside pooled's own.
 *
 * @module
 */

/**
 * Request and connection counts of one origin at one moment, as undici's `PoolStats`, and
 * its open HTTP/2 streams: a request is *queued* while it waits for a connection of a
 * blocking pool, *pending* until its first byte is written (queued, or its connection
 * still opening), then *running* until its exchange is over (a streamed response, or one
 * made with `releaseConn: false`, runs until it gives its connection back).
 */
export interface OriginStats {
  /** Open sockets: idle ones and those of running requests. */
  readonly connected: number;
  /** Open sockets no request uses (idle, ready for reuse). */
  readonly free: number;
  /** Requests not sent yet: the queued ones and those whose connection is opening. */
  readonly pending: number;
  /** Requests waiting for a connection of a blocking pool (at `maxSize`). */
  readonly queued: number;
  /** Requests sent whose exchange is not over. */
  readonly running: number;
  /** Requests pending or running. */
  readonly size: number;
  /** Open HTTP/2 streams: requests on shared HTTP/2 connections (0 with HTTP/1.1). */
  readonly streams: number;
}

/** Connection counts of a pool at one moment: pooled's own, then undici's. */
export interface PoolStats extends OriginStats {
  /** Connections waiting for reuse (some may hold no socket). */
  readonly idle: number;
  /** Connections handed out to requests now. */
  readonly inUse: number;
  /** Callers waiting for a connection (blocking pools). */
  readonly queued: number;
  /** Open sockets (idle or in use). */
  readonly open: number;
}

/**
 * A manager's counts: one entry per origin (`"http://127.0.0.1:8080"`), the sums of its
 * pools for it (a pool evicted from the manager counts while requests still use it), and
 * the sums over all of them under `total`.
 */
export type ManagerStats = { readonly total: OriginStats } & {
  readonly [origin: string]: OriginStats;
};

/** Every origin count at zero: the one list of the fields, which its type keeps complete. */
const ZERO: Readonly<Record<keyof OriginStats, number>> = {
  connected: 0,
  free: 0,
  pending: 0,
  queued: 0,
  running: 0,
  size: 0,
  streams: 0,
};

const FIELDS = Object.keys(ZERO) as (keyof OriginStats)[];

/** All zero. */
export function emptyStats(): Record<keyof OriginStats, number> {
  return { ...ZERO };
}

/** Adds `from`'s origin counts to `into`. */
export function addStats(into: Record<keyof OriginStats, number>, from: OriginStats): void {
  for (const field of FIELDS) into[field] += from[field];
}
