/**
 * The messages of pooled's own diagnostics channels, for what undici has no channel for:
 * `pooled:pool:create`, `pooled:pool:evict`, `pooled:retry` and `pooled:redirect`.
 * Subscribe with `node:diagnostics_channel`; nothing is built while nobody subscribes.
 *
 * @example Log every retry
 * ```ts
 * import { subscribe } from "node:diagnostics_channel";
 * import type { RetryMessage } from "@pooled/http";
 * subscribe("pooled:retry", (message) => {
 *   const { method, url, error, response, delay } = message as RetryMessage;
 *   console.log(`retrying ${method} ${url} in ${delay} ms:`, error ?? response?.status);
 * });
 * ```
 *
 * @module
 */

import type { ConnectionPool } from "../pool/connection_pool.ts";
import type { PoolManager } from "../manager/pool_manager.ts";
import type { Retry } from "../policy/retry.ts";
import type { HTTPResponse } from "../response.ts";

/** `pooled:pool:create`: a manager made a pool for an origin it had none for. */
export interface PoolCreateMessage {
  /** The manager (a `ProxyManager` or `SOCKSProxyManager` included). */
  readonly manager: PoolManager;
  /** The pool's key in `manager.pools`. */
  readonly key: string;
  /** `scheme://host:port` of the pool. */
  readonly origin: string;
  /** The new pool. */
  readonly pool: ConnectionPool;
}

/** `pooled:pool:evict`: a manager dropped a pool. */
export interface PoolEvictMessage extends PoolCreateMessage {
  /** `"lru"`: more than `numPools` origins; `"clear"`: `manager.clear()`. */
  readonly reason: "lru" | "clear";
}

/** `pooled:retry`: the request loop sends an attempt again. */
export interface RetryMessage {
  /** The method of the attempt that failed. */
  readonly method: string;
  /** The URL of the attempt that failed. */
  readonly url: string;
  /** The error of the attempt, or null when its response's status is retried. */
  readonly error: unknown;
  /** The response whose status is retried, or null after an error. */
  readonly response: HTTPResponse | null;
  /** The retry state for the next attempt (its `history` ends with this one). */
  readonly retries: Retry;
  /** Milliseconds the loop waits before the next attempt. */
  readonly delay: number;
  /**
   * True when a kept-alive connection had been closed by the server before it answered:
   * the request is sent again on a new one without counting a retry.
   */
  readonly stale: boolean;
}

/** `pooled:redirect`: the request loop follows a redirect. */
export interface RedirectMessage {
  /** The method of the attempt that was redirected. */
  readonly method: string;
  /** The URL of the attempt that was redirected. */
  readonly url: string;
  /** The redirect's status. */
  readonly status: number;
  /** The `Location` header, as sent. */
  readonly location: string;
  /** The method of the next attempt. */
  readonly nextMethod: string;
  /** The absolute URL of the next attempt. */
  readonly nextUrl: string;
  /** The retry state for the next attempt. */
  readonly retries: Retry;
  /** The redirect response (already drained). */
  readonly response: HTTPResponse;
}
