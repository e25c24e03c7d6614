/**
 * Micro-benchmarks of the hot path, without the network: `deno bench bench/hot_path_bench.ts`.
 *
 * - the response parser on a typical keep-alive response, whole and in two pieces;
 * - header lines rendering for a request with headers;
 * - a full pool round trip (acquire, head, parse, release) over an in-memory socket that
 *   answers every request at once, which isolates the library's own cost per request.
 *
 * @module
 */

import { HTTPConnectionPool, PoolManager } from "../mod.ts";
import type { Connector, Socket, SocketHandler } from "../mod.ts";
import { ResponseParser } from "../src/http1/response_parser.ts";
import { noFlags, renderHeaderLines } from "../src/http1/request_head.ts";
import * as diagnostics from "node:diagnostics_channel";

const encoder = new TextEncoder();
const RESPONSE = encoder.encode(
  "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sat, 21 Nov 2026 16:00:00 GMT\r\n" +
    "Content-Type: text/plain\r\nContent-Length: 12\r\nConnection: keep-alive\r\n\r\nhello world\n",
);
const SPLIT = 40;

const events = {
  onHead() {},
  onBody() {},
  onComplete() {},
};
const parser = new ResponseParser();

Deno.bench("parse a keep-alive response (one piece)", { group: "parser", baseline: true }, () => {
  parser.start("GET", events);
  parser.execute(RESPONSE);
});

Deno.bench("parse a keep-alive response (two pieces)", { group: "parser" }, () => {
  parser.start("GET", events);
  parser.execute(RESPONSE.subarray(0, SPLIT));
  parser.execute(RESPONSE.subarray(SPLIT));
});

const REQUEST_HEADERS: [string, string][] = [
  ["Accept", "application/json"],
  ["Authorization", "Bearer 0123456789abcdef"],
  ["X-Request-Id", "5f1c2e"],
];

Deno.bench("render three request header lines", { group: "head" }, () => {
  renderHeaderLines(REQUEST_HEADERS, noFlags());
});

/** A socket that answers each request head with {@linkcode RESPONSE}, in memory. */
class EchoSocket implements Socket {
  closed = false;
  readonly alpnProtocol = null;
  #handler: SocketHandler | null = null;
  setHandler(handler: SocketHandler): void {
    this.#handler = handler;
  }
  write(): boolean {
    queueMicrotask(() => this.#handler?.onData(RESPONSE));
    return true;
  }
  drained(): Promise<void> {
    return Promise.resolve();
  }
  pause(): void {}
  resume(): void {}
  ref(): void {}
  unref(): void {}
  close(): void {
    this.closed = true;
  }
}

const inMemory: Connector = {
  name: "in-memory",
  connect: () => Promise.resolve(new EchoSocket()),
};

const pool = new HTTPConnectionPool("127.0.0.1", { port: 8080, connector: inMemory });
const manager = new PoolManager({ connector: inMemory });

Deno.bench(
  "pool.request GET (in-memory socket)",
  { group: "round trip", baseline: true },
  async () => {
    await pool.request("GET", "/");
  },
);

Deno.bench("manager.request GET (in-memory socket)", { group: "round trip" }, async () => {
  await manager.request("GET", "http://127.0.0.1:8080/");
});

Deno.bench(
  "pool.request GET with headers (in-memory socket)",
  { group: "round trip" },
  async () => {
    await pool.request("GET", "/", { headers: { "X-Request-Id": "5f1c2e" } });
  },
);

// Diagnostics channels: the round trip while someone subscribes to every `undici:*` channel
// (the subscription is made and dropped outside the timed part, so the benches above run
// with none), and with an OpenTelemetry-like subscriber that adds `traceparent`.
const UNDICI_CHANNELS = [
  "undici:request:create",
  "undici:request:bodySent",
  "undici:request:headers",
  "undici:request:trailers",
  "undici:request:error",
  "undici:client:beforeConnect",
  "undici:client:connected",
  "undici:client:connectError",
  "undici:client:sendHeaders",
];
const ignore = () => {};
const addTraceparent = (message: unknown) => {
  const { request } = message as { request: { addHeader(name: string, value: string): void } };
  request.addHeader("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
};

async function subscribed(b: Deno.BenchContext, onCreate: (message: unknown) => void) {
  for (const name of UNDICI_CHANNELS) {
    diagnostics.subscribe(name, name === "undici:request:create" ? onCreate : ignore);
  }
  try {
    b.start();
    await pool.request("GET", "/");
    b.end();
  } finally {
    for (const name of UNDICI_CHANNELS) {
      diagnostics.unsubscribe(name, name === "undici:request:create" ? onCreate : ignore);
    }
  }
}

Deno.bench(
  "pool.request GET, every undici channel subscribed (in-memory socket)",
  { group: "round trip" },
  async (b) => await subscribed(b, ignore),
);

Deno.bench(
  "pool.request GET, a subscriber adds traceparent (in-memory socket)",
  { group: "round trip" },
  async (b) => await subscribed(b, addTraceparent),
);

const timedPool = new HTTPConnectionPool("127.0.0.1", {
  port: 8080,
  connector: inMemory,
  timings: true,
});
const hookedPool = new HTTPConnectionPool("127.0.0.1", {
  port: 8080,
  connector: inMemory,
  hooks: { beforeRequest: [() => {}] },
});

Deno.bench(
  "pool.request GET, timings: true (in-memory socket)",
  { group: "round trip" },
  async () => {
    await timedPool.request("GET", "/");
  },
);

Deno.bench(
  "pool.request GET, one no-op hook (in-memory socket)",
  { group: "round trip" },
  async () => {
    await hookedPool.request("GET", "/");
  },
);
