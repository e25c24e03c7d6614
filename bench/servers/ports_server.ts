/**
 * A keep-alive HTTP/1.1 server on many loopback ports at once, for `bench/many_origins.ts`
 * and `bench/idle_heap.ts` (run in its own process by `_ports_server.ts`). `node:net`, so it
 * runs under Deno, Bun and Node.
 *
 * Every port answers `GET /anything` with the body `PORT /anything`, so a client can check
 * that each response came from the origin and path it asked for, and `GET /bytes/N` with N
 * bytes of `x`. `GET /_stats` answers JSON
 * {@linkcode PortsServerStats} (counting connections on every port) and `GET /_reset`
 * resets the counters; both are meant for a connection of their own with
 * `Connection: close`, which the stats leave out. Request bodies are not supported.
 *
 * It prints `{"ports":[...]}` once every port listens and runs until it is killed.
 *
 * ```sh
 * deno run -A bench/servers/ports_server.ts --ports 1000
 * ```
 *
 * @module
 */

import { Buffer } from "node:buffer";
import * as net from "node:net";
import process from "node:process";
import { parseArgs } from "node:util";
import { BYTES_PATH } from "./_ports_server.ts";

/** What `GET /_stats` answers. */
export interface PortsServerStats {
  /** Connections open now (other than the one asking). */
  open: number;
  /** The most connections open when a request was answered, since the last reset. */
  peakOpen: number;
  /** Connections accepted since the last reset (other than the one asking). */
  accepted: number;
  /** Requests answered since the last reset (not counting `/_stats` and `/_reset`). */
  requests: number;
  /** The most requests answered on one connection since the last reset. */
  maxRequestsPerConnection: number;
}

const stats: PortsServerStats = {
  open: 0,
  peakOpen: 0,
  accepted: 0,
  requests: 0,
  maxRequestsPerConnection: 0,
};

function reply(socket: net.Socket, body: string, close: boolean): void {
  const connection = close ? "Connection: close\r\n" : "";
  socket.write(
    `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${connection}\r\n${body}`,
  );
  if (close) socket.end();
}

/** Answers one request head; false when the connection is to be closed. */
function answer(socket: net.Socket, port: number, head: string, served: number): boolean {
  const target = head.slice(head.indexOf(" ") + 1, head.indexOf(" HTTP/"));
  const close = /\r\nconnection:\s*close/i.test(head);
  if (target === "/_stats") {
    reply(
      socket,
      JSON.stringify({ ...stats, open: stats.open - 1, accepted: stats.accepted - 1 }),
      close,
    );
  } else if (target === "/_reset") {
    stats.peakOpen = 0;
    stats.accepted = stats.requests = stats.maxRequestsPerConnection = 0;
    reply(socket, "{}", close);
  } else {
    stats.requests++;
    stats.peakOpen = Math.max(stats.peakOpen, stats.open);
    stats.maxRequestsPerConnection = Math.max(stats.maxRequestsPerConnection, served);
    const size = target.startsWith(BYTES_PATH) ? Number(target.slice(BYTES_PATH.length)) : NaN;
    reply(socket, Number.isInteger(size) ? "x".repeat(size) : `${port} ${target}`, close);
  }
  return !close;
}

function serve(socket: net.Socket, port: number): void {
  stats.open++;
  stats.accepted++;
  socket.setNoDelay(true);
  let pending = "";
  let served = 0;
  socket.on("data", (chunk: Buffer) => {
    pending += chunk.toString("latin1");
    let end: number;
    while ((end = pending.indexOf("\r\n\r\n")) >= 0) {
      const head = pending.slice(0, end);
      pending = pending.slice(end + 4);
      if (!answer(socket, port, head, ++served)) return;
    }
  });
  socket.on("error", () => {}); // a client reset: the close below counts it
  socket.once("close", () => stats.open--);
}

function listen(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer({ noDelay: true });
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0, backlog: 1024 }, () => {
      const port = (server.address() as net.AddressInfo).port;
      server.on("connection", (socket) => serve(socket, port));
      resolve(port);
    });
  });
}

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { ports: { type: "string", default: "1" } },
});
const count = Number(values.ports);
if (!Number.isInteger(count) || count < 1) {
  console.error(`ports_server.ts: --ports must be a positive integer, got ${values.ports}`);
  process.exit(2);
}
const ports: number[] = [];
for (let i = 0; i < count; i++) ports.push(await listen());
console.log(JSON.stringify({ ports }));
