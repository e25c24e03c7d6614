/**
 * The `node:net` / `node:tls` adapter, for Node (and any runtime with Node's modules). The
 * modules are imported on first use, so nothing loads them unless a connection needs them.
 *
 * @module
 */

import type { Connector } from "./socket.ts";
import { connectNodeStream, startTlsOverSocket } from "./_node_streams.ts";
import { lookupHost } from "./_lookup.ts";
import { dial } from "../network/_dialer.ts";

/**
 * Opens sockets with `node:net` and `node:tls`.
 *
 * @example Use the node:net adapter explicitly
 * ```ts
 * import { HTTPConnectionPool } from "@pooled/http";
 * import { nodeConnector } from "@pooled/http/runtime/node";
 * await using server = Deno.serve({ port: 0, onListen() {} }, () => new Response("hi"));
 * await using pool = new HTTPConnectionPool("127.0.0.1", {
 *   port: server.addr.port,
 *   connector: nodeConnector,
 * });
 * const r = await pool.request("GET", "/");
 * console.log(r.status); // 200
 * ```
 */
export const nodeConnector: Connector = {
  name: "node",
  connect: (options) => dial(options, connectNodeStream),
  startTls: startTlsOverSocket,
  lookup: lookupHost,
};
