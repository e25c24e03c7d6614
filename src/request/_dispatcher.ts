/**
 * What the request loop needs of a pool: its default timeouts, a way to send one attempt,
 * and a hold that keeps an evicted pool's connections for a request still running on it.
 * Pools give the loop this face of themselves; none of it is public API.
 *
 * @module
 */

import type { PoolDescription } from "../errors.ts";
import type { HTTPHeaderDict } from "../headers.ts";
import type { Timeout } from "../policy/timeout.ts";
import type { RequestDescriptor } from "./_descriptor.ts";
import type { CheckedHooks } from "./_hook_runner.ts";

/** A pool as the request loop drives it. */
export interface Dispatcher {
  /** The pool, for error messages. */
  readonly pool: PoolDescription;
  /** The pool's default timeouts. */
  readonly timeout: Timeout;
  /** The pool's own headers (a cookie jar merges its cookies with them). */
  readonly headers: HTTPHeaderDict;
  /** The pool's hooks, or undefined when it has none (a call then makes no hook runner). */
  readonly hooks: CheckedHooks | undefined;
  /** Collect `response.timings` unless a request says otherwise. */
  readonly timings: boolean;
  /**
   * Sends one attempt, without retries or redirects: the request's listener hears the
   * response (its head, or preloaded the whole of it) or the failure, possibly at once.
   */
  dispatch(request: RequestDescriptor): void;
  /**
   * Marks a request (with all its retries and redirects) as running on the pool, so an
   * evicted pool keeps its connections for it; each call needs one `unhold()` later.
   */
  hold(): void;
  /** Ends one `hold()`. */
  unhold(): void;
}

/** Picks the pool for an absolute URL (or throws, e.g. `HostChangedError`). */
export type Router = (url: string) => Dispatcher;
