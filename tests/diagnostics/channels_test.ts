/**
 * The diagnostics channels against real loopback servers: a subscriber to each `undici:*`
 * channel sees one message per event with undici's fields, `addHeader` during
 * `undici:request:create` reaches the server, and pooled's own channels report pools
 * made and dropped, retries and redirects.
 */

import * as diagnostics from "node:diagnostics_channel";
import { assert, test } from "../_harness.ts";
import { rejects, text } from "../_util.ts";
import { rawServer, serveHttp, type TestServer, unusedPort } from "../_servers.ts";
import {
  HTTPConnectionPool,
  NewConnectionError,
  type PoolCreateMessage,
  type PoolEvictMessage,
  PoolManager,
  type RedirectMessage,
  Retry,
  type RetryMessage,
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

/** Records every message published on `names` until `stop()`. */
function record(names: readonly string[]) {
  const seen = new Map<string, Message[]>(names.map((name) => [name, []]));
  const subscribers = names.map((name) => {
    const onMessage = (message: unknown) => seen.get(name)!.push(message as Message);
    diagnostics.subscribe(name, onMessage);
    return () => diagnostics.unsubscribe(name, onMessage);
  });
  return {
    of: (name: string): Message[] => seen.get(name)!,
    counts: () => Object.fromEntries([...seen].map(([name, list]) => [name, list.length])),
    stop: () => subscribers.forEach((unsubscribe) => unsubscribe()),
  };
}

/** Echoes the request's method, target, headers and body as JSON. */
function echoServer(): Promise<TestServer> {
  return serveHttp(async (req) => {
    const url = new URL(req.url);
    return Response.json({
      method: req.method,
      target: url.pathname + url.search,
      headers: Object.fromEntries(req.headers),
      body: await req.text(),
    });
  });
}

const asText = (bytes: Uint8Array) => bytes.toString();

test("undici channels: one message per event, with undici's fields", async () => {
  const server = await echoServer();
  const seen = record(UNDICI_CHANNELS);
  try {
    await using pool = new HTTPConnectionPool("127.0.0.1", {
      port: server.port,
      headers: { "X-Pool": "p" },
    });
    const response = await pool.request("POST", "/echo?x=1", {
      headers: { "X-Test": "1" },
      body: "hello",
    });
    assert.equal(response.status, 200);
    assert.deepEqual(seen.counts(), {
      "undici:request:create": 1,
      "undici:request:bodySent": 1,
      "undici:request:headers": 1,
      "undici:request:trailers": 1,
      "undici:request:error": 0,
      "undici:client:beforeConnect": 1,
      "undici:client:connected": 1,
      "undici:client:connectError": 0,
      "undici:client:sendHeaders": 1,
    });

    const { request } = seen.of("undici:request:create")[0];
    assert.equal(request.origin, server.url);
    assert.equal(request.protocol, "http:");
    assert.equal(request.method, "POST");
    assert.equal(request.path, "/echo?x=1");
    assert.deepEqual(request.headers, ["X-Pool", "p", "X-Test", "1"]);
    assert.equal(typeof request.addHeader, "function");
    assert.equal(request.completed, true);
    assert.equal(request.aborted, false);
    // Every message about the attempt carries the same request object.
    for (const name of UNDICI_CHANNELS.filter((name) => name.startsWith("undici:request:"))) {
      for (const message of seen.of(name)) assert.equal(message.request, request, name);
    }
    assert.equal(seen.of("undici:client:sendHeaders")[0].request, request);

    const { response: head } = seen.of("undici:request:headers")[0];
    assert.equal(head.statusCode, 200);
    assert.equal(head.statusText, "OK");
    const names = head.headers.filter((_: unknown, i: number) => i % 2 === 0).map(asText);
    assert.ok(names.some((name: string) => name.toLowerCase() === "content-type"), names.join());
    assert.deepEqual(seen.of("undici:request:trailers")[0].trailers, []);

    const sent = seen.of("undici:client:sendHeaders")[0];
    assert.match(sent.headers, /^POST \/echo\?x=1 HTTP\/1\.1\r\n/);
    assert.ok(sent.headers.includes("\r\nX-Test: 1\r\n"), sent.headers);
    assert.ok(sent.headers.endsWith("\r\n") && !sent.headers.endsWith("\r\n\r\n"));
    assert.equal(sent.socket.remoteAddress, "127.0.0.1");
    assert.equal(sent.socket.remotePort, server.port);

    const before = seen.of("undici:client:beforeConnect")[0];
    const expectedParams = {
      host: `127.0.0.1:${server.port}`,
      hostname: "127.0.0.1",
      protocol: "http:",
      port: String(server.port),
      servername: null,
      localAddress: null,
    };
    assert.deepEqual(before.connectParams, { ...expectedParams, version: undefined });
    assert.equal(typeof before.connector.connect, "function");
    const connected = seen.of("undici:client:connected")[0];
    assert.deepEqual(connected.connectParams, { ...expectedParams, version: "h1" });
    assert.equal(connected.socket, sent.socket);

    // A second request on the kept connection: no connect events, a new request object.
    await pool.request("GET", "/again");
    assert.equal(seen.of("undici:client:beforeConnect").length, 1);
    assert.equal(seen.of("undici:request:create").length, 2);
    assert.equal(seen.of("undici:request:trailers").length, 2);
    assert.notEqual(seen.of("undici:request:create")[1].request, request);
    assert.deepEqual(seen.of("undici:request:create")[1].request.headers, ["X-Pool", "p"]);
  } finally {
    seen.stop();
    await server.close();
  }
});

test("undici channels: addHeader during request:create reaches the server", async () => {
  const server = await echoServer();
  const onCreate = (message: unknown) => {
    const { request } = message as Message;
    request.addHeader("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    request.addHeader("X-Test", "added");
  };
  diagnostics.subscribe("undici:request:create", onCreate);
  try {
    await using manager = new PoolManager();
    const own = { "X-Test": "own" };
    const response = await manager.request("GET", `${server.url}/a`, { headers: own });
    const echoed = JSON.parse(text(response.data));
    assert.equal(
      echoed.headers.traceparent,
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    );
    assert.equal(echoed.headers["x-test"], "own, added");
    assert.deepEqual(own, { "X-Test": "own" }, "the caller's headers are not changed");
    // A request without headers of its own gets them too.
    const plain = JSON.parse(text((await manager.request("GET", `${server.url}/b`)).data));
    assert.equal(plain.headers["x-test"], "added");
  } finally {
    diagnostics.unsubscribe("undici:request:create", onCreate);
    await server.close();
  }
});

test("undici channels: addHeader refuses a header that would break the head", async () => {
  const server = await echoServer();
  const errors: unknown[] = [];
  const onCreate = (message: unknown) => {
    const { request } = message as Message;
    try {
      request.addHeader("X-Bad", "a\r\nInjected: 1");
    } catch (error) {
      errors.push(error);
    }
  };
  diagnostics.subscribe("undici:request:create", onCreate);
  try {
    await using pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
    const response = await pool.request("GET", "/");
    assert.equal(JSON.parse(text(response.data)).headers.injected, undefined);
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof TypeError);
  } finally {
    diagnostics.unsubscribe("undici:request:create", onCreate);
    await server.close();
  }
});

test("undici channels: a refused connection publishes connectError and request:error", async () => {
  const port = await unusedPort();
  const seen = record(UNDICI_CHANNELS);
  try {
    await using pool = new HTTPConnectionPool("127.0.0.1", { port, retries: false });
    const error = await rejects(pool.request("GET", "/"));
    assert.ok(error instanceof NewConnectionError, String(error));
    assert.equal(seen.of("undici:client:beforeConnect").length, 1);
    assert.equal(seen.of("undici:client:connected").length, 0);
    const [failed] = seen.of("undici:client:connectError");
    assert.equal(seen.of("undici:client:connectError").length, 1);
    assert.equal(failed.connectParams.port, String(port));
    assert.ok(failed.error instanceof NewConnectionError);
    const [requestError] = seen.of("undici:request:error");
    assert.equal(seen.of("undici:request:error").length, 1);
    assert.equal(requestError.request, seen.of("undici:request:create")[0].request);
    assert.equal(requestError.request.aborted, true);
    assert.equal(requestError.error, error);
    assert.equal(seen.of("undici:request:headers").length, 0);
    assert.equal(seen.of("undici:client:sendHeaders").length, 0);
  } finally {
    seen.stop();
  }
});

test("undici channels: trailers of a chunked response, and an error mid-body", async () => {
  const server = await rawServer(async (conn) => {
    const request = await conn.readRequest();
    if (request.target === "/trailers") {
      await conn.write(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n" +
          "3\r\nabc\r\n0\r\nX-Sum: 42\r\n\r\n",
      );
      await conn.readRequest();
    }
    await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    conn.destroy();
  });
  const seen = record(UNDICI_CHANNELS);
  try {
    await using pool = new HTTPConnectionPool("127.0.0.1", { port: server.port, retries: false });
    const whole = await pool.request("GET", "/trailers");
    assert.equal(text(whole.data), "abc");
    const [done] = seen.of("undici:request:trailers");
    assert.deepEqual(done.trailers.map(asText), ["X-Sum", "42"]);

    const cut = await pool.request("GET", "/cut", { preloadContent: false });
    assert.equal(cut.status, 200);
    await rejects(cut.read());
    const [failed] = seen.of("undici:request:error");
    assert.equal(seen.of("undici:request:error").length, 1);
    assert.equal(failed.request, seen.of("undici:request:create")[1].request);
    assert.equal(failed.request.completed, false);
    assert.equal(seen.of("undici:request:trailers").length, 1);
    assert.equal(seen.of("undici:request:headers").length, 2);
  } finally {
    seen.stop();
    await server.close();
  }
});

test("pooled channels: pool:create and pool:evict from a manager", async () => {
  const [a, b] = await Promise.all([echoServer(), echoServer()]);
  const seen = record(["pooled:pool:create", "pooled:pool:evict"]);
  try {
    await using manager = new PoolManager({ numPools: 1 });
    await manager.request("GET", `${a.url}/`);
    await manager.request("GET", `${a.url}/again`);
    await manager.request("GET", `${b.url}/`);
    const created = seen.of("pooled:pool:create") as PoolCreateMessage[];
    assert.deepEqual(created.map((m) => m.origin), [a.url, b.url]);
    assert.equal(created[0].manager, manager);
    assert.equal(manager.pools.get(created[1].key), created[1].pool);
    const evicted = seen.of("pooled:pool:evict") as PoolEvictMessage[];
    assert.deepEqual(evicted.map((m) => [m.origin, m.reason]), [[a.url, "lru"]]);
    assert.equal(evicted[0].pool, created[0].pool);
    await manager.clear();
    assert.deepEqual(evicted.map((m) => [m.origin, m.reason]), [[a.url, "lru"], [b.url, "clear"]]);
  } finally {
    seen.stop();
    await Promise.all([a.close(), b.close()]);
  }
});

test("pooled channels: retry (status and error) and redirect", async () => {
  let calls = 0;
  const server = await serveHttp((req) => {
    const path = new URL(req.url).pathname;
    if (path === "/flaky") return new Response("busy", { status: ++calls === 1 ? 503 : 200 });
    if (path === "/from") return new Response(null, { status: 303, headers: { Location: "/to" } });
    return new Response("ok");
  });
  const seen = record(["pooled:retry", "pooled:redirect"]);
  try {
    await using manager = new PoolManager();
    const retries = new Retry({ total: 2, statusForcelist: [503] });
    const flaky = await manager.request("GET", `${server.url}/flaky`, { retries });
    assert.equal(flaky.status, 200);
    const [byStatus] = seen.of("pooled:retry") as RetryMessage[];
    assert.equal(seen.of("pooled:retry").length, 1);
    assert.equal(byStatus.method, "GET");
    assert.equal(byStatus.url, `${server.url}/flaky`);
    assert.equal(byStatus.error, null);
    assert.equal(byStatus.response?.status, 503);
    assert.equal(byStatus.delay, 0);
    assert.equal(byStatus.stale, false);
    assert.equal(byStatus.retries.history.length, 1);

    const moved = await manager.request("POST", `${server.url}/from`, { body: "x" });
    assert.equal(moved.status, 200);
    const [followed] = seen.of("pooled:redirect") as RedirectMessage[];
    assert.equal(seen.of("pooled:redirect").length, 1);
    assert.deepEqual(
      [followed.method, followed.url, followed.status, followed.location, followed.nextMethod],
      ["POST", `${server.url}/from`, 303, "/to", "GET"],
    );
    assert.equal(followed.nextUrl, `${server.url}/to`);
    assert.equal(followed.response.status, 303);

    const port = await unusedPort();
    await rejects(manager.request("GET", `http://127.0.0.1:${port}/`, { retries: 1 }));
    const byError = (seen.of("pooled:retry") as RetryMessage[])[1];
    assert.equal(seen.of("pooled:retry").length, 2);
    assert.ok(byError.error instanceof NewConnectionError, String(byError.error));
    assert.equal(byError.response, null);
  } finally {
    seen.stop();
    await server.close();
  }
});
