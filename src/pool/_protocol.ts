/**
 * The protocol seam: what a pool asks of a connection, whatever protocol it speaks. An
 * HTTP/1.1 connection carries one request at a time; an HTTP/2 session carries many.
 * Pools count capacity through this interface, never through a protocol's details.
 *
 * @module
 */

import type { RequestDescriptor } from "../request/_descriptor.ts";
import type { PoolConnection } from "./pool_connection.ts";
import type { AttemptTimings } from "../_attempt_timings.ts";

/**
 * Told when a request a connection carried is over on the wire: `reusable` says whether
 * the connection may carry another.
 */
export type ReleaseCallback = (connection: ProtocolConnection, reusable: boolean) => void;

/** A connection as its pool drives it. */
export interface ProtocolConnection extends PoolConnection {
  /**
   * Opens a socket if there is none; `timeout` in ms bounds TCP and TLS set-up. `timings`
   * (when collected) gets the set-up's marks.
   */
  connect(
    timeout: number | null,
    signal?: AbortSignal,
    timings?: AttemptTimings | null,
  ): Promise<void>;
  /**
   * Sends `request` on the open socket. The request hears its response (or the failure)
   * through its listener; `onRelease` is called once when the request is over.
   */
  dispatch(request: RequestDescriptor, onRelease: ReleaseCallback): void;
  /**
   * When (on the `performance.now()` clock) the connection, idle since its last request,
   * must be closed: after its idle timeout (lowered by what the server said) or at its
   * maximum age. `Infinity` while it holds no socket or has no limit. Read only while the
   * connection is idle.
   */
  readonly idleDeadline: number;
  /**
   * The most requests it carries at once: 1 for HTTP/1.1, the session's stream limit for
   * HTTP/2 (0 once it takes no new stream); null while not known (no socket yet, and the
   * protocol or the server's limit is only learnt when connecting). The pool shares a
   * connection whose limit is over 1 between requests.
   */
  readonly streamLimit: number | null;
}
