/**
 * A connection as callers see it (`response.connection`): whether it is open, how many
 * more requests it can carry, and a way to close it. The pools' side of it is the
 * protocol seam (`ProtocolConnection`, internal).
 *
 * @module
 */

/**
 * A connection of a pool: one slot that opens sockets and carries requests (the object
 * outlives its sockets, as in urllib3). `response.connection` is one while the response
 * holds it.
 *
 * @example Whether the connection of a streamed response is still open
 * ```ts
 * import { PoolManager } from "@pooled/http";
 * await using server = Deno.serve({ port: 0, onListen() {} }, () => new Response("hi"));
 * await using manager = new PoolManager();
 * const r = await manager.request("GET", `http://127.0.0.1:${server.addr.port}/`, {
 *   preloadContent: false,
 * });
 * console.log(r.connection?.isConnected); // true: held until the body is read
 * await r.read();
 * console.log(r.connection); // null: back in its pool
 * ```
 */
export interface PoolConnection {
  /** True while a socket is open. */
  readonly isConnected: boolean;
  /** True when the socket closed while the connection sat idle (seen before reuse). */
  readonly isDropped: boolean;
  /**
   * How many more requests it can carry at once now: for HTTP/1.1, 1 while no request
   * uses it and 0 otherwise.
   */
  readonly capacity: number;
  /** Closes the socket (the connection stays usable: it reconnects when asked). */
  close(): void;
}
