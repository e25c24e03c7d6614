/**
 * The `undici:*` diagnostics channels over HTTP/2 (ALPN `h2` and h2c with prior
 * knowledge), against `node:http2` servers: each channel a request goes through over
 * HTTP/1.1 is published once, in the same order and with the same fields; `addHeader`
 * during `undici:request:create` reaches the server; a failed stream publishes
 * `undici:request:error` once.
 */

import * as diagnostics from "node:diagnostics_channel";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { assert, test } from "../_harness.ts";
import { deferred, rejects, text } from "../_util.ts";
import { CA_CERT, SERVER_TLS } from "../_certs.ts";
import {
  HTTPConnectionPool,
  type HTTPResponse,
  HTTPSConnectionPool,
  ReadTimeoutError,
} from "../../mod.ts";

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
] as const;

// deno-lint-ignore no-explicit-any
type Message = Record<string, any>;

/** Records every message published on the undici channels, and their order, until `stop()`. */
function record() {
  const seen = new Map<string, Message[]>(UNDICI_CHANNELS.map((name) => [name, []]));
  const order: string[] = [];
  const subscribers = UNDICI_CHANNELS.map((name) => {
    const onMessage = (message: unknown) => {
      order.push(name);
      seen.get(name)!.push(message as Message);
    };
    diagnostics.subscribe(name, onMessage);
    return () => diagnostics.unsubscribe(name, onMessage);
  });
  return {
    order,
    of: (name: string): Message[] => seen.get(name)!,
    count: (name: string): number => seen.get(name)!.length,
    stop: () => subscribers.forEach((unsubscribe) => unsubscribe()),
  };
}

type Handler = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void;

/**
 * A `node:http2` server: TLS with ALPN `h2` and, with `http1`, `http/1.1` (answered by
 * the same handler's JSON of the headers); or h2c. Without `http1` no compatibility
 * `request` listener runs, which would send trailers of its own.
 */
async function h2Server(handler: Handler, options: { tls?: boolean; http1?: boolean } = {}) {
  const server = options.tls === false
    ? http2.createServer()
    : http2.createSecureServer({ ...SERVER_TLS, allowHTTP1: options.http1 ?? false });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    stream.on("error", () => {});
    handler(stream, headers);
  });
  if (options.http1) {
    server.on(
      "request",
      (request: http2.Http2ServerRequest, response: http2.Http2ServerResponse) => {
        if (request.httpVersion !== "2.0") response.end(JSON.stringify(request.headers));
      },
    );
  }
  const listening = deferred();
  server.listen(0, "127.0.0.1", () => listening.resolve());
  await listening.promise;
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      for (const session of sessions) session.destroy();
      const closed = deferred();
      server.close(() => closed.resolve());
      await closed.promise;
    },
  };
}

/** Answers with the request's headers as JSON, after reading its body. */
const echo: Handler = (stream, headers) => {
  stream.resume();
  stream.on("end", () => {
    stream.respond({ ":status": 200, "content-type": "application/json", "x-reply": "yes" });
    stream.end(JSON.stringify(headers));
  });
};

function tlsPool(port: number, options: { http2?: boolean } = {}): HTTPSConnectionPool {
  return new HTTPSConnectionPool("localhost", {
    port,
    caCerts: [CA_CERT],
    headers: { "X-Pool": "p" },
    retries: false,
    ...options,
  });
}

const asText = (bytes: Uint8Array) => new TextDecoder("latin1").decode(bytes);

test("undici channels over HTTP/2: each once, in HTTP/1.1's order, with undici's fields", async () => {
  const server = await h2Server(echo, { http1: true });
  const seen = record();
  try {
    // The same request over HTTP/1.1 first: the order HTTP/2 must follow.
    await using http1 = tlsPool(server.port, { http2: false });
    const one = await http1.request("POST", "/echo?x=1", {
      headers: { "X-Test": "1" },
      body: "hi",
    });
    assert.equal(one.version, 11);
    const http1Order = seen.order.splice(0);
    for (const name of UNDICI_CHANNELS) seen.of(name).length = 0;

    await using pool = tlsPool(server.port);
    const response = await pool.request("POST", "/echo?x=1", {
      headers: { "X-Test": "1" },
      body: "hi",
    });
    assert.equal(response.version, 20);
    assert.deepEqual(seen.order, http1Order);
    assert.deepEqual(seen.order, [
      "undici:request:create",
      "undici:client:beforeConnect",
      "undici:client:connected",
      "undici:client:sendHeaders",
      "undici:request:bodySent",
      "undici:request:headers",
      "undici:request:trailers",
    ]);

    const { request } = seen.of("undici:request:create")[0];
    assert.equal(request.origin, `https://localhost:${server.port}`);
    assert.equal(request.protocol, "https:");
    assert.equal(request.method, "POST");
    assert.equal(request.path, "/echo?x=1");
    assert.deepEqual(request.headers, ["X-Pool", "p", "X-Test", "1"]);
    assert.equal(request.completed, true);
    assert.equal(request.aborted, false);
    for (const name of UNDICI_CHANNELS.filter((name) => name.startsWith("undici:request:"))) {
      for (const message of seen.of(name)) assert.equal(message.request, request, name);
    }

    const { response: head } = seen.of("undici:request:headers")[0];
    assert.equal(head.statusCode, 200);
    assert.equal(head.statusText, "");
    const fields = head.headers.map(asText);
    assert.equal(fields[fields.indexOf("x-reply") + 1], "yes", fields.join());
    assert.ok(!fields.includes(":status"), fields.join());
    assert.deepEqual(seen.of("undici:request:trailers")[0].trailers, []);

    const connected = seen.of("undici:client:connected")[0];
    const expectedParams = {
      host: `localhost:${server.port}`,
      hostname: "localhost",
      protocol: "https:",
      port: String(server.port),
      servername: "localhost",
      localAddress: null,
    };
    assert.deepEqual(seen.of("undici:client:beforeConnect")[0].connectParams, {
      ...expectedParams,
      version: undefined,
    });
    assert.deepEqual(connected.connectParams, { ...expectedParams, version: "h2" });

    const sent = seen.of("undici:client:sendHeaders")[0];
    assert.equal(sent.request, request);
    assert.equal(sent.socket, connected.socket);
    assert.equal(sent.socket.remotePort, server.port);
    assert.equal(sent.socket.encrypted, true);
    assert.match(sent.headers, /^:method: POST\r\n/);
    assert.ok(sent.headers.includes(":path: /echo?x=1\r\n"), sent.headers);
    assert.ok(sent.headers.includes(`:authority: localhost:${server.port}\r\n`), sent.headers);
    assert.ok(sent.headers.includes("x-test: 1\r\n"), sent.headers);
    assert.ok(sent.headers.endsWith("\r\n") && !sent.headers.endsWith("\r\n\r\n"));

    // A second request on the session: no connect events, a new request object.
    await pool.request("GET", "/again");
    assert.equal(seen.count("undici:client:beforeConnect"), 1);
    assert.equal(seen.count("undici:request:create"), 2);
    assert.equal(seen.count("undici:request:bodySent"), 2);
    assert.equal(seen.count("undici:request:trailers"), 2);
    assert.equal(seen.count("undici:request:error"), 0);
    assert.notEqual(seen.of("undici:request:create")[1].request, request);
  } finally {
    seen.stop();
    await server.close();
  }
});

test("undici channels over HTTP/2: trailers of a streamed response", async () => {
  const server = await h2Server((stream) => {
    stream.respond({ ":status": 200 }, { waitForTrailers: true });
    stream.once("wantTrailers", () => stream.sendTrailers({ "x-sum": "42" }));
    stream.end("abc");
  });
  const seen = record();
  try {
    await using pool = tlsPool(server.port);
    const response = await pool.request("GET", "/", { preloadContent: false });
    assert.equal(text(await response.read()), "abc");
    const [done] = seen.of("undici:request:trailers");
    assert.equal(seen.count("undici:request:trailers"), 1);
    assert.deepEqual(done.trailers.map(asText), ["x-sum", "42"]);
    assert.equal(done.request.completed, true);
  } finally {
    seen.stop();
    await server.close();
  }
});

test("undici channels over h2c: connect events, and addHeader reaches the server", async () => {
  const server = await h2Server(echo, { tls: false });
  const seen = record();
  const onCreate = (message: unknown) => {
    const { request } = message as Message;
    request.addHeader("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    request.addHeader("X-Test", "added");
  };
  diagnostics.subscribe("undici:request:create", onCreate);
  try {
    await using pool = new HTTPConnectionPool("127.0.0.1", {
      port: server.port,
      http2PriorKnowledge: true,
    });
    const response = await pool.request("GET", "/a", { headers: { "X-Test": "own" } });
    assert.equal(response.version, 20);
    const echoed = JSON.parse(text(response.data));
    assert.equal(echoed.traceparent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    assert.equal(echoed["x-test"], "own, added");
    assert.deepEqual(seen.order, [
      "undici:request:create",
      "undici:client:beforeConnect",
      "undici:client:connected",
      "undici:client:sendHeaders",
      "undici:request:bodySent",
      "undici:request:headers",
      "undici:request:trailers",
    ]);
    const { connectParams, socket } = seen.of("undici:client:connected")[0];
    assert.deepEqual(connectParams, {
      host: `127.0.0.1:${server.port}`,
      hostname: "127.0.0.1",
      protocol: "http:",
      port: String(server.port),
      version: "h2",
      servername: null,
      localAddress: null,
    });
    assert.equal(socket.encrypted, false);
    const sent = seen.of("undici:client:sendHeaders")[0].headers;
    assert.ok(sent.includes(":scheme: http\r\n"), sent);
    assert.ok(sent.includes("traceparent: 00-"), sent);
  } finally {
    diagnostics.unsubscribe("undici:request:create", onCreate);
    seen.stop();
    await server.close();
  }
});

test("undici channels over HTTP/2: a failed stream publishes request:error once", async () => {
  const server = await h2Server((stream, headers) => {
    const path = headers[":path"];
    if (path === "/reset") return stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    if (path === "/silent") return;
    // Three bytes of ten, then the stream is reset.
    stream.respond({ ":status": 200, "content-length": "10" });
    stream.write("abc", () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
  });
  const seen = record();
  try {
    await using pool = tlsPool(server.port);
    // Reset before the head.
    const reset = await rejects(pool.request("GET", "/reset"));
    assert.equal(seen.count("undici:request:error"), 1);
    assert.equal(seen.of("undici:request:error")[0].error, reset);
    assert.equal(seen.of("undici:request:error")[0].request.aborted, true);

    // Reset mid-body, the response streamed.
    const cut: HTTPResponse = await pool.request("GET", "/cut", { preloadContent: false });
    await rejects((async () => {
      while ((await cut.read(1)).length > 0);
    })());
    assert.equal(seen.count("undici:request:error"), 2);
    assert.equal(
      seen.of("undici:request:error")[1].request,
      seen.of("undici:request:create")[1].request,
    );
    assert.equal(seen.of("undici:request:error")[1].request.completed, false);

    // A read timeout before the head.
    const late = await rejects(pool.request("GET", "/silent", { timeout: 200 }));
    assert.ok(late instanceof ReadTimeoutError, String(late));
    assert.equal(seen.count("undici:request:error"), 3);
    assert.equal(seen.of("undici:request:error")[2].error, late);

    assert.equal(seen.count("undici:request:headers"), 1);
    assert.equal(seen.count("undici:request:trailers"), 0);
    assert.equal(seen.count("undici:request:create"), 3);
  } finally {
    seen.stop();
    await server.close();
  }
});
