/**
 * `PoolManager` and the top-level `request()` against real loopback servers: the LRU of
 * pools and its keys, eviction with requests in flight, `clear`/`close`, the
 * `connectionFrom*` lookups, header merging, `fields`/`json` encoding and redirects across
 * origins (urllib3 rows 7-17 and 81-89).
 */

import * as net from "node:net";
import { assert, test } from "../_harness.ts";
import {
  assertAtRest,
  deadline,
  deferred,
  keepAliveServer,
  rejects,
  text,
  waitFor,
} from "../_util.ts";
import { CA_CERT, SERVER_TLS } from "../_certs.ts";
import { rawServer, serveHttp, type TestServer } from "../_servers.ts";
import {
  ClosedPoolError,
  type ConnectionPool,
  defaultConnector,
  HTTPConnectionPool,
  HTTPHeaderDict,
  HTTPSConnectionPool,
  LocationValueError,
  MaxRetryError,
  PoolManager,
  ReadTimeoutError,
  request,
  type RequestHeaders,
  ResponseError,
  Retry,
  URLSchemeUnknown,
} from "../../mod.ts";

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

/** What the echo server saw. */
interface Echo {
  method: string;
  path: string;
  query: string;
  host: string;
  headers: Record<string, string>;
  body: string;
  form?: Record<string, string | { name: string; type: string; text: string }>;
}

/**
 * Echoes the request as JSON. `/form...` parses the body with `req.formData()`.
 * `/status/NNN?to=LOCATION` answers CODE with that Location (after reading the body).
 */
async function echo(req: Request): Promise<Response> {
  const url = new URL(req.url);
  if (/^\/status\/\d{3}$/.test(url.pathname)) {
    await req.arrayBuffer();
    const status = Number(url.pathname.slice(8));
    const to = url.searchParams.get("to");
    return new Response(`redirecting to ${to}`, {
      status,
      headers: to === null ? {} : { location: to },
    });
  }
  const seen: Echo = {
    method: req.method,
    path: url.pathname,
    query: url.search,
    host: req.headers.get("host") ?? "",
    headers: Object.fromEntries(req.headers),
    body: "",
  };
  if (url.pathname.startsWith("/form")) {
    seen.form = {};
    for (const [name, value] of await req.formData()) {
      seen.form[name] = typeof value === "string" ? value : {
        name: value.name,
        // Bun's parser appends ";charset=utf-8" to text types: compare the MIME type only.
        type: value.type.split(";")[0],
        text: await value.text(),
      };
    }
  } else {
    seen.body = await req.text();
  }
  return Response.json(seen);
}

function parse(data: Uint8Array): Echo {
  return JSON.parse(text(data)) as Echo;
}

/**
 * An echo server on 127.0.0.1 that also answers on [::1] at the same port (a TCP relay on
 * ::1 to the IPv4 listener), so 127.0.0.1, localhost and [::1] are three origins of one server.
 */
async function dualStackServer(): Promise<TestServer & { origins: string[] }> {
  const server = await serveHttp(echo);
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
  };
  const relay = net.createServer((client) => {
    track(client);
    const upstream = net.connect(server.port, "127.0.0.1");
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      relay.once("error", reject);
      relay.listen(server.port, "::1", () => resolve());
    });
  } catch (error) {
    await server.close();
    throw error;
  }
  const port = server.port;
  return {
    ...server,
    origins: [
      `http://127.0.0.1:${port}`,
      `http://localhost:${port}`,
      `http://[::1]:${port}`,
    ],
    async close() {
      const stopped = new Promise<void>((resolve) => relay.close(() => resolve()));
      const closing = [...sockets].map((socket) =>
        new Promise<void>((resolve) => {
          socket.once("close", () => resolve());
          socket.destroy();
        })
      );
      await Promise.all([stopped, ...closing]);
      await server.close();
    },
  };
}

/** The pools of a manager, least recently used first. */
const poolsOf = (manager: PoolManager) => [...manager.pools.values()];

// ---------------------------------------------------------------------------------------------
// the pool LRU
// ---------------------------------------------------------------------------------------------

test("numPools 2: three origins (127.0.0.1, localhost, [::1]) keep two pools", async () => {
  const server = await dualStackServer();
  const manager = new PoolManager({ numPools: 2 });
  try {
    const hosts = [];
    for (const origin of server.origins) {
      const response = await manager.request("GET", `${origin}/who`);
      assert.equal(response.status, 200);
      hosts.push(parse(response.data).host);
    }
    assert.deepEqual(hosts, [
      `127.0.0.1:${server.port}`,
      `localhost:${server.port}`,
      `[::1]:${server.port}`,
    ]);
    assert.equal(manager.pools.size, 2);
    assert.deepEqual(poolsOf(manager).map((pool) => pool.host), ["localhost", "[::1]"]);
    for (const pool of poolsOf(manager)) assertAtRest(pool);
  } finally {
    await manager.close();
    await server.close();
  }
});

test("LRU: a lookup refreshes a pool, so the least recently used one is evicted", async () => {
  const server = await dualStackServer();
  const manager = new PoolManager({ numPools: 2 });
  try {
    const [v4, name, v6] = server.origins;
    await manager.request("GET", `${v4}/`);
    const first = manager.connectionFromUrl(v4);
    await manager.request("GET", `${name}/`);
    const second = manager.connectionFromUrl(name);
    // Touch the first again: now `name` is the least recently used.
    assert.equal(manager.connectionFromUrl(`${v4}/other`), first);
    assert.deepEqual(poolsOf(manager), [second, first]);
    await manager.request("GET", `${v6}/`);
    assert.equal(manager.pools.size, 2);
    assert.ok(poolsOf(manager).includes(first), "the refreshed pool is kept");
    assert.ok(!poolsOf(manager).includes(second), "the least recently used pool is gone");
    assert.equal(second.stats.open, 0, "an evicted idle pool keeps no socket");
    assert.equal(second.closed, false, "and stays usable by whoever holds it");
    // A request to the evicted origin makes a new pool (evicting the next oldest).
    await manager.request("GET", `${name}/`);
    const again = manager.connectionFromUrl(name);
    assert.notEqual(again, second);
    assert.equal(again.closed, false);
    assert.equal(first.stats.open, 0);
    // The holder of an evicted pool can still use it; its connection closes afterwards.
    const held = await second.request("GET", "/held");
    assert.equal(parse(held.data).path, "/held");
    assert.ok(!poolsOf(manager).includes(second), "using it does not cache it again");
    assertAtRest(second);
    assert.equal(second.stats.open, 0, "no socket kept by an evicted pool");
  } finally {
    await manager.close();
    await server.close();
  }
});

test("a caller holding an evicted pool can still use it; it only stops being cached", async () => {
  const server = await serveHttp(echo);
  const manager = new PoolManager({ numPools: 1 });
  try {
    const held = manager.connectionFromUrl(`http://127.0.0.1:${server.port}`);
    await held.request("GET", "/before");
    assert.equal(held.stats.open, 1, "kept alive while cached");
    await manager.request("GET", `http://localhost:${server.port}/evicts`);
    assert.ok(!poolsOf(manager).includes(held));
    assert.equal(held.stats.open, 0, "eviction closed its idle connection");
    const responses = await Promise.all([
      held.request("GET", "/after/1"),
      held.urlopen("GET", "/after/2"),
    ]);
    assert.deepEqual(responses.map((r) => parse(r.data).path), ["/after/1", "/after/2"]);
    assertAtRest(held);
    assert.equal(held.stats.open, 0, "connections released to an evicted pool are closed");
    // The manager makes a fresh pool for the origin; the evicted one stays out of it.
    const fresh = manager.connectionFromUrl(`http://127.0.0.1:${server.port}`);
    assert.notEqual(fresh, held);
    assert.deepEqual(poolsOf(manager), [fresh]);
  } finally {
    await manager.close();
    await server.close();
  }
});

test("pool keys are lower-cased: HTTP://127.0.0.1 shares a pool with http://127.0.0.1", async () => {
  const server = await serveHttp(echo);
  const manager = new PoolManager();
  try {
    await manager.request("GET", `http://127.0.0.1:${server.port}/a`);
    await manager.request("GET", `HTTP://127.0.0.1:${server.port}/b`);
    await manager.request("GET", `Http://127.0.0.1:${server.port}/c`);
    assert.equal(manager.pools.size, 1);
    const pool = poolsOf(manager)[0];
    assert.equal(pool.numConnections, 1);
    assert.equal(pool.numRequests, 3);
    assert.equal(manager.connectionFromUrl(`HTTP://LOCALHOST:${server.port}`).host, "localhost");
    assert.equal(
      manager.connectionFromUrl(`http://LocalHost:${server.port}/x`),
      manager.connectionFromUrl(`http://localhost:${server.port}/y`),
    );
    assert.equal(manager.pools.size, 2);
  } finally {
    await manager.close();
    await server.close();
  }
});

test("different pool options give a different pool; the same options the same pool", async () => {
  const manager = new PoolManager({ maxSize: 2 });
  try {
    const url = "http://127.0.0.1:9/";
    const plain = manager.connectionFromUrl(url);
    const big = manager.connectionFromUrl(url, { maxSize: 5 });
    const blocking = manager.connectionFromUrl(url, { block: true });
    assert.notEqual(plain, big);
    assert.notEqual(plain, blocking);
    assert.notEqual(big, blocking);
    assert.equal(plain.maxSize, 2, "the manager's options reach its pools");
    assert.equal(big.maxSize, 5);
    assert.equal(blocking.block, true);
    assert.equal(manager.connectionFromUrl(url, { maxSize: 5 }), big);
    assert.equal(manager.connectionFromUrl(url), plain);
    assert.equal(manager.pools.size, 3);
  } finally {
    await manager.close();
  }
});

test("pool identity: headers, retries and connectors by value or identity, never by String()", async () => {
  const server = await serveHttp(echo);
  const manager = new PoolManager();
  try {
    const context = { scheme: "http", host: "127.0.0.1", port: server.port };
    const tenantA = manager.connectionFromContext({
      ...context,
      headers: new Headers({ "x-tenant": "a" }),
    });
    const tenantB = manager.connectionFromContext({
      ...context,
      headers: new Headers({ "x-tenant": "b" }),
    });
    assert.notEqual(tenantA, tenantB, "each tenant has its own pool");
    assert.equal(tenantB.headers.get("x-tenant"), "b");
    const seen = parse((await tenantB.request("GET", "/")).data);
    assert.equal(seen.headers["x-tenant"], "b");
    assert.equal(
      manager.connectionFromHost("127.0.0.1", {
        port: server.port,
        poolOptions: { headers: { "X-Tenant": "a" } },
      }),
      tenantA,
      "equal headers share a pool",
    );

    const forced = manager.connectionFromContext({
      ...context,
      retries: new Retry({ total: 3, statusForcelist: [503] }),
    });
    const plain = manager.connectionFromContext({ ...context, retries: new Retry({ total: 3 }) });
    assert.notEqual(forced, plain);
    assert.deepEqual([...forced.retries.statusForcelist], [503]);

    const inner = defaultConnector();
    const wrapper = { name: inner.name, connect: inner.connect.bind(inner) };
    const viaInner = manager.connectionFromContext({ ...context, connector: inner });
    const viaWrapper = manager.connectionFromContext({ ...context, connector: wrapper });
    assert.notEqual(viaInner, viaWrapper, "a wrapper with the inner connector's name");
    assert.equal(viaWrapper.options.connector, wrapper);
  } finally {
    await manager.close();
    await server.close();
  }
});

test("an evicted pool lets its in-flight request finish, then keeps no socket", async () => {
  const gate = deferred();
  let slowArrived = false;
  const server = await serveHttp(async (req) => {
    if (new URL(req.url).pathname === "/slow") {
      slowArrived = true;
      await gate.promise;
      return new Response("slow done");
    }
    return new Response("fast");
  });
  const manager = new PoolManager({ numPools: 1 });
  try {
    const slow = manager.request("GET", `http://127.0.0.1:${server.port}/slow`);
    await waitFor(() => slowArrived, "the slow request to reach the server");
    const evicted = manager.connectionFromUrl(`http://127.0.0.1:${server.port}`);
    const fast = await manager.request("GET", `http://localhost:${server.port}/fast`);
    assert.equal(text(fast.data), "fast");
    assert.equal(manager.pools.size, 1);
    assert.ok(!poolsOf(manager).includes(evicted));
    assert.equal(evicted.stats.inUse, 1);
    gate.resolve();
    const response = await slow;
    assert.equal(response.status, 200);
    assert.equal(text(response.data), "slow done");
    assert.equal(evicted.stats.open, 0, "its connection closed once the request ended");
    assert.equal(evicted.closed, false);
    assertAtRest(evicted);
  } finally {
    gate.resolve();
    await manager.close();
    await server.close();
  }
});

test("an evicted pool with a streaming response closes its socket once the body is read", async () => {
  const gate = deferred();
  const server = await serveHttp((req) => {
    if (new URL(req.url).pathname !== "/stream") return new Response("fast");
    const encoder = new TextEncoder();
    return new Response(
      new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(encoder.encode("first,"));
          await gate.promise;
          controller.enqueue(encoder.encode("second"));
          controller.close();
        },
      }),
    );
  });
  const manager = new PoolManager({ numPools: 1 });
  try {
    const streaming = await manager.request("GET", `http://127.0.0.1:${server.port}/stream`, {
      preloadContent: false,
    });
    const evicted = manager.connectionFromUrl(`http://127.0.0.1:${server.port}`);
    await manager.request("GET", `http://localhost:${server.port}/`);
    assert.ok(!poolsOf(manager).includes(evicted));
    assert.equal(evicted.stats.inUse, 1);
    gate.resolve();
    assert.equal(await streaming.text(), "first,second");
    assertAtRest(evicted);
    assert.equal(evicted.stats.open, 0, "no socket left open in the evicted pool");
  } finally {
    gate.resolve();
    await manager.close();
    await server.close();
  }
});

// BUG (src/pool/connection_pool.ts retire()/attempt(), src/request/_request_loop.ts): an evicted pool
// closes as soon as no *attempt* runs, so a status retry (or a same-origin redirect) of a
// request already in flight on it fails with ClosedPoolError. retire() promises that
// "requests already started, their retries and redirects included, carry on".
test("an evicted pool lets an in-flight request retry on it", async () => {
  const gate = deferred();
  let calls = 0;
  const server = await serveHttp(async (req) => {
    if (new URL(req.url).pathname !== "/flaky") return new Response("fast");
    calls++;
    if (calls > 1) return new Response("ok");
    await gate.promise;
    return new Response("busy", { status: 503 });
  });
  const manager = new PoolManager({ numPools: 1 });
  try {
    const pending = manager.request("GET", `http://127.0.0.1:${server.port}/flaky`, {
      retries: new Retry({ total: 2, statusForcelist: [503] }),
    });
    await waitFor(() => calls === 1, "the first attempt to reach the server");
    const evicted = manager.connectionFromUrl(`http://127.0.0.1:${server.port}`);
    await manager.request("GET", `http://localhost:${server.port}/`);
    assert.ok(!poolsOf(manager).includes(evicted));
    gate.resolve();
    const response = await pending;
    assert.equal(response.status, 200);
    assert.equal(text(response.data), "ok");
    assert.equal(calls, 2);
    assert.equal(evicted.numConnections, 1, "the retry reused the kept-alive connection");
    assert.equal(evicted.stats.open, 0, "no socket kept once the whole request ended");
  } finally {
    gate.resolve();
    await manager.close();
    await server.close();
  }
});

test("clear() drops every pool and closes their idle connections; the manager still works", async () => {
  const server = await serveHttp(echo);
  const manager = new PoolManager();
  try {
    await manager.request("GET", `http://127.0.0.1:${server.port}/`);
    await manager.request("GET", `http://localhost:${server.port}/`);
    const before = poolsOf(manager);
    assert.equal(before.length, 2);
    await manager.clear();
    assert.equal(manager.pools.size, 0);
    for (const pool of before) {
      assert.equal(pool.stats.open, 0);
      assert.equal(pool.closed, false, "dropped, not closed: a holder may still use it");
    }
    const response = await manager.request("GET", `http://127.0.0.1:${server.port}/again`);
    assert.equal(parse(response.data).path, "/again");
    assert.equal(manager.pools.size, 1);
    assert.ok(!before.includes(poolsOf(manager)[0]), "a fresh pool");
  } finally {
    await manager.close();
    await server.close();
  }
});

test("close() closes every pool and refuses later requests; await using closes too", async () => {
  const server = await serveHttp(echo);
  const manager = new PoolManager();
  let disposed: PoolManager | undefined;
  try {
    await manager.request("GET", `http://127.0.0.1:${server.port}/`);
    const pools = poolsOf(manager);
    await manager.close();
    assert.equal(manager.pools.size, 0);
    assert.ok(pools.every((pool) => pool.closed && pool.stats.open === 0));
    const error = await rejects(manager.request("GET", `http://127.0.0.1:${server.port}/`));
    assert.ok(error instanceof Error);
    assert.match(error.message, /closed/i);
    await manager.close();

    let pool: ConnectionPool;
    {
      await using scoped = new PoolManager();
      disposed = scoped;
      await scoped.request("GET", `http://127.0.0.1:${server.port}/`);
      pool = scoped.connectionFromUrl(`http://127.0.0.1:${server.port}`);
    }
    assert.equal(pool.closed, true);
    assert.equal(disposed.pools.size, 0);
  } finally {
    await manager.close();
    await disposed?.close();
    await server.close();
  }
});

test("close() closes the sockets of streamed responses nobody read", async () => {
  // Half the bodies stall after a few bytes, half arrive whole; none is read.
  const { server, closed } = await keepAliveServer(async (req, _id, conn) => {
    const stall = req.target === "/stall";
    await conn.write(`HTTP/1.1 200 OK\r\nContent-Length: ${stall ? 1000 : 5}\r\n\r\n`);
    await conn.write(stall ? "part" : "whole");
  });
  const manager = new PoolManager({ maxSize: 4 });
  try {
    const responses = await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) =>
          manager.request("GET", `${server.url}/${i % 2 ? "stall" : "whole"}`, {
            preloadContent: false,
          }),
      ),
    );
    const pools = poolsOf(manager);
    await waitFor(() => server.connections === 20, "20 connections");
    await manager.close();
    await waitFor(() => closed.length === 20, "the server to see every connection close", 5000);
    for (const response of responses) {
      const error = await rejects(response.read());
      assert.ok(error instanceof ClosedPoolError, `expected ClosedPoolError, got ${error}`);
    }
    assert.ok(pools.every((pool) => pool.stats.open === 0 && pool.stats.inUse === 0));
  } finally {
    await manager.close();
    await server.close();
  }
});

test("a closed PoolManager refuses requests and new pools with ClosedPoolError", async () => {
  const server = await serveHttp(echo);
  const manager = new PoolManager();
  try {
    await manager.close();
    const url = `http://127.0.0.1:${server.port}/`;
    const error = await rejects(manager.request("GET", url));
    assert.ok(error instanceof ClosedPoolError, `expected ClosedPoolError, got ${error}`);
    assert.equal(error.message, "PoolManager is closed");
    assert.throws(() => manager.connectionFromUrl(url), ClosedPoolError);
  } finally {
    await manager.close();
    await server.close();
  }
});

test("close() also closes the sockets of streamed responses held in evicted pools", async () => {
  const stalling = await keepAliveServer(async (_req, _id, conn) => {
    await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npart");
  });
  const other = await serveHttp(() => new Response("other"));
  const manager = new PoolManager({ numPools: 1 });
  try {
    const streamed = await manager.request("GET", `${stalling.server.url}/`, {
      preloadContent: false,
    });
    const evicted = poolsOf(manager)[0];
    await manager.request("GET", `http://127.0.0.1:${other.port}/`);
    assert.ok(!poolsOf(manager).includes(evicted), "evicted");
    await manager.close();
    await waitFor(() => stalling.closed.length === 1, "the server to see the socket close");
    const error = await rejects(streamed.read());
    assert.ok(error instanceof ClosedPoolError, `expected ClosedPoolError, got ${error}`);
    assert.equal(evicted.stats.open, 0);
  } finally {
    await manager.close();
    await stalling.server.close();
    await other.close();
  }
});

// ---------------------------------------------------------------------------------------------
// connectionFrom*
// ---------------------------------------------------------------------------------------------

test("connectionFromHost / Url / Context / PoolKey return the same cached pool", async () => {
  const manager = new PoolManager({ caCerts: [CA_CERT] });
  try {
    const byHost = manager.connectionFromHost("127.0.0.1", { port: 8080, scheme: "http" });
    assert.ok(byHost instanceof HTTPConnectionPool);
    assert.equal(byHost.port, 8080);
    assert.equal(manager.connectionFromUrl("http://127.0.0.1:8080/any/path"), byHost);
    assert.equal(
      manager.connectionFromContext({ scheme: "HTTP", host: "127.0.0.1", port: 8080 }),
      byHost,
    );
    const [key] = [...manager.pools.keys()];
    assert.equal(manager.connectionFromPoolKey(key), byHost);
    assert.throws(() => manager.connectionFromPoolKey("http://nowhere:1"), LocationValueError);
    assert.equal(manager.pools.size, 1);

    // Scheme defaults to http and the port to the scheme's.
    const defaults = manager.connectionFromHost("example.com");
    assert.equal(defaults.scheme, "http");
    assert.equal(defaults.port, 80);
    const secure = manager.connectionFromHost("example.com", { scheme: "https" });
    assert.ok(secure instanceof HTTPSConnectionPool);
    assert.equal(secure.port, 443);
    assert.equal(manager.connectionFromUrl("https://EXAMPLE.com:443/"), secure);
    // TLS options reach HTTPS pools only.
    assert.deepEqual(secure.options.caCerts, [CA_CERT]);
    assert.equal(defaults.options.caCerts, undefined);

    assert.throws(() => manager.connectionFromHost(""), LocationValueError);
    assert.throws(() => manager.connectionFromUrl("/just/a/path"), LocationValueError);
    assert.throws(
      () => manager.connectionFromHost("example.com", { scheme: "ftp" }),
      URLSchemeUnknown,
    );
  } finally {
    await manager.close();
  }
});

test("one manager with caCerts serves both http and https origins", async () => {
  const plain = await serveHttp(echo);
  const secure = await serveHttp(echo, { tls: SERVER_TLS });
  const manager = new PoolManager({ caCerts: [CA_CERT] });
  try {
    const a = await manager.request("GET", `${plain.url}/plain`);
    assert.equal(parse(a.data).path, "/plain");
    const b = await manager.request("GET", `https://localhost:${secure.port}/secure`);
    assert.equal(parse(b.data).path, "/secure");
    assert.equal(manager.pools.size, 2);
  } finally {
    await manager.close();
    await secure.close();
    await plain.close();
  }
});

// ---------------------------------------------------------------------------------------------
// headers
// ---------------------------------------------------------------------------------------------

test("manager headers merge with request headers: the request wins, undefined removes", async () => {
  const server = await serveHttp(echo);
  const manager = new PoolManager({
    headers: { "X-Manager": "m", "X-Both": "manager", "X-Removed": "r" },
  });
  try {
    const plain = parse((await manager.request("GET", `${server.url}/`)).data).headers;
    assert.equal(plain["x-manager"], "m");
    assert.equal(plain["x-both"], "manager");
    assert.equal(plain["x-removed"], "r");

    const merged = parse(
      (await manager.request("GET", `${server.url}/`, {
        headers: { "x-both": "request", "X-Removed": undefined, "X-Request": "q" },
      })).data,
    ).headers;
    assert.equal(merged["x-manager"], "m");
    assert.equal(merged["x-both"], "request");
    assert.equal(merged["x-removed"], undefined);
    assert.equal(merged["x-request"], "q");
    // Defaults are still added.
    assert.match(merged["user-agent"], /^pooled\//);
    assert.equal(merged["accept-encoding"], "identity");
    assert.equal(merged["host"], `127.0.0.1:${server.port}`);
  } finally {
    await manager.close();
    await server.close();
  }
});

// ---------------------------------------------------------------------------------------------
// request helpers: fields, json
// ---------------------------------------------------------------------------------------------

test("GET fields go in the query, merged with an existing one", async () => {
  const server = await serveHttp(echo);
  const manager = new PoolManager();
  try {
    const a = parse((await manager.request("GET", `${server.url}/q`, { fields: { b: "2" } })).data);
    assert.equal(a.method, "GET");
    assert.equal(a.query, "?b=2");
    const b = parse(
      (await manager.request("GET", `${server.url}/q?a=1`, {
        fields: [["b", "2"], ["b", "x y"]],
      })).data,
    );
    assert.equal(b.query, "?a=1&b=2&b=x+y");
    assert.equal(b.body, "");
    assert.equal(b.headers["content-type"], undefined);
    const del = parse(
      (await manager.request("delete", `${server.url}/q`, { fields: { k: "v" } })).data,
    );
    assert.equal(del.method, "DELETE");
    assert.equal(del.query, "?k=v");
    const encoded = parse(
      (await manager.requestEncodeUrl("GET", `${server.url}/e`, { fields: { z: "&=" } })).data,
    );
    assert.equal(encoded.query, "?z=%26%3D");
  } finally {
    await manager.close();
    await server.close();
  }
});

test("POST fields: multipart by default, urlencoded with encodeMultipart false", async () => {
  const server = await serveHttp(echo);
  const manager = new PoolManager();
  try {
    const multipart = parse(
      (await manager.request("POST", `${server.url}/form`, {
        fields: {
          name: "value",
          file: ["notes.txt", "file contents", "text/plain"],
        },
      })).data,
    );
    assert.equal(multipart.method, "POST");
    assert.match(multipart.headers["content-type"], /^multipart\/form-data; boundary=/);
    assert.deepEqual(multipart.form, {
      name: "value",
      file: { name: "notes.txt", type: "text/plain", text: "file contents" },
    });

    const urlencoded = parse(
      (await manager.request("POST", `${server.url}/form`, {
        fields: { a: "1", b: "two words" },
        encodeMultipart: false,
      })).data,
    );
    assert.equal(urlencoded.headers["content-type"], "application/x-www-form-urlencoded");
    assert.deepEqual(urlencoded.form, { a: "1", b: "two words" });

    const viaBody = parse(
      (await manager.requestEncodeBody("PUT", `${server.url}/form`, {
        fields: { c: "3" },
        multipartBoundary: "fixedboundary123",
      })).data,
    );
    assert.equal(viaBody.method, "PUT");
    assert.equal(
      viaBody.headers["content-type"],
      "multipart/form-data; boundary=fixedboundary123",
    );
    assert.deepEqual(viaBody.form, { c: "3" });

    await assert.rejects(
      async () =>
        await manager.request("POST", `${server.url}/`, { fields: { a: "1" }, body: "x" }),
      TypeError,
    );
  } finally {
    await manager.close();
    await server.close();
  }
});

test("json bodies get application/json unless a content-type is given", async () => {
  const server = await serveHttp(echo);
  const manager = new PoolManager();
  try {
    const value = { a: 1, nested: { list: [true, null, "ü"] } };
    const sent = parse((await manager.request("POST", `${server.url}/json`, { json: value })).data);
    assert.equal(sent.headers["content-type"], "application/json");
    assert.deepEqual(JSON.parse(sent.body), value);
    assert.equal(sent.body, JSON.stringify(value));
    const custom = parse(
      (await manager.request("PATCH", `${server.url}/json`, {
        json: [1, 2],
        headers: { "Content-Type": "application/vnd.test+json" },
      })).data,
    );
    assert.equal(custom.method, "PATCH");
    assert.equal(custom.headers["content-type"], "application/vnd.test+json");
    assert.equal(custom.body, "[1,2]");
    await assert.rejects(
      async () => await manager.request("POST", `${server.url}/`, { json: {}, body: "x" }),
      TypeError,
    );
  } finally {
    await manager.close();
    await server.close();
  }
});

test("urlopen sends the body as given and never encodes fields", async () => {
  const server = await serveHttp(echo);
  const manager = new PoolManager();
  try {
    const seen = parse(
      (await manager.urlopen("POST", `${server.url}/raw?x=1`, {
        body: "raw body",
        headers: { "Content-Type": "text/plain" },
      })).data,
    );
    assert.equal(seen.method, "POST");
    assert.equal(seen.query, "?x=1");
    assert.equal(seen.body, "raw body");
    assert.equal(seen.headers["content-type"], "text/plain");
    assert.equal(seen.headers["content-length"], "8");
  } finally {
    await manager.close();
    await server.close();
  }
});

// ---------------------------------------------------------------------------------------------
// redirects
// ---------------------------------------------------------------------------------------------

test("302, 301 and 307 are followed; 307 keeps a POST and its body", async () => {
  const server = await serveHttp(echo);
  const manager = new PoolManager();
  try {
    const to = encodeURIComponent(`${server.url}/end`);
    for (const status of [301, 302, 307, 308]) {
      const response = await manager.request("GET", `${server.url}/status/${status}?to=${to}`);
      assert.equal(response.status, 200, `after ${status}`);
      assert.equal(parse(response.data).path, "/end");
      assert.equal(response.retries?.history.length, 1);
      assert.equal(response.retries?.history[0].status, status);
    }
    const post = await manager.request("POST", `${server.url}/status/307?to=${to}`, {
      body: "payload",
      headers: { "Content-Type": "text/plain" },
    });
    const seen = parse(post.data);
    assert.equal(seen.method, "POST");
    assert.equal(seen.body, "payload");
    assert.equal(seen.headers["content-type"], "text/plain");
    assert.equal(poolsOf(manager)[0].numConnections, 1, "one connection for every hop");
    assertAtRest(poolsOf(manager)[0]);
  } finally {
    await manager.close();
    await server.close();
  }
});

test("303 after a POST becomes a GET without body or content headers", async () => {
  const server = await serveHttp(echo);
  const manager = new PoolManager();
  try {
    const to = encodeURIComponent("/end");
    const response = await manager.request("POST", `${server.url}/status/303?to=${to}`, {
      body: "payload",
      headers: { "Content-Type": "text/plain", "X-Keep": "yes" },
    });
    const seen = parse(response.data);
    assert.equal(seen.method, "GET");
    assert.equal(seen.path, "/end");
    assert.equal(seen.body, "");
    assert.equal(seen.headers["content-type"], undefined);
    assert.equal(seen.headers["content-length"], undefined);
    assert.equal(seen.headers["x-keep"], "yes");
  } finally {
    await manager.close();
    await server.close();
  }
});

test("a cross-origin redirect strips Authorization and Cookie and keeps other headers", async () => {
  const first = await serveHttp(echo);
  const second = await serveHttp(echo);
  const manager = new PoolManager();
  try {
    const headers = { Authorization: "Bearer secret", Cookie: "a=b", "X-Custom": "kept" };
    const cross = await manager.request(
      "GET",
      `${first.url}/status/302?to=${encodeURIComponent(`${second.url}/landing`)}`,
      { headers },
    );
    const seen = parse(cross.data);
    assert.equal(seen.path, "/landing");
    assert.equal(seen.host, `127.0.0.1:${second.port}`);
    assert.equal(seen.headers["authorization"], undefined);
    assert.equal(seen.headers["cookie"], undefined);
    assert.equal(seen.headers["x-custom"], "kept");
    assert.equal(manager.pools.size, 2);

    // Same origin: nothing is stripped.
    const same = parse(
      (await manager.request("GET", `${first.url}/status/302?to=%2Fhere`, { headers })).data,
    );
    assert.equal(same.path, "/here");
    assert.equal(same.headers["authorization"], "Bearer secret");
    assert.equal(same.headers["cookie"], "a=b");
    for (const pool of poolsOf(manager)) assertAtRest(pool);
  } finally {
    await manager.close();
    await first.close();
    await second.close();
  }
});

test("a header named __proto__ survives a cross-origin redirect (no TypeError)", async () => {
  const first = await serveHttp(echo);
  const second = await serveHttp(echo);
  const manager = new PoolManager();
  try {
    // A JSON object holds "__proto__" as an own key (an object literal would not).
    const record = JSON.parse('{"__proto__": "p", "Authorization": "secret", "X-A": "1"}');
    const pairs: [string, string][] = [
      ["__proto__", "p"],
      ["Authorization", "secret"],
      ["X-A", "1"],
    ];
    const forms: [string, RequestHeaders][] = [
      ["pairs", pairs],
      ["record", record],
      ["Headers", new Headers(pairs)],
      ["HTTPHeaderDict", new HTTPHeaderDict(pairs)],
    ];
    for (const [form, headers] of forms) {
      const target = encodeURIComponent(`${second.url}/landing`);
      const response = await manager.request("GET", `${first.url}/status/302?to=${target}`, {
        headers,
      });
      const seen = parse(response.data);
      assert.equal(seen.path, "/landing", form);
      assert.equal(Object.getOwnPropertyDescriptor(seen.headers, "__proto__")?.value, "p", form);
      assert.equal(seen.headers["x-a"], "1", form);
      assert.equal(seen.headers["authorization"], undefined, form);
    }
  } finally {
    await manager.close();
    await second.close();
    await first.close();
  }
});
test("a relative Location is resolved against the current URL", async () => {
  const server = await serveHttp(echo);
  const manager = new PoolManager();
  try {
    const absolutePath = await manager.request("GET", `${server.url}/status/302?to=%2Fa%2Fb`);
    assert.equal(parse(absolutePath.data).path, "/a/b");
    const relative = await manager.request("GET", `${server.url}/status/302?to=sibling%3Fq%3D1`);
    const seen = parse(relative.data);
    assert.equal(seen.path, "/status/sibling");
    assert.equal(seen.query, "?q=1");
    const up = await manager.request("GET", `${server.url}/status/301?to=..%2Fup`);
    assert.equal(parse(up.data).path, "/up");
  } finally {
    await manager.close();
    await server.close();
  }
});

test("too many redirects raise MaxRetryError; redirect false returns the 3xx", async () => {
  let hits = 0;
  const server = await serveHttp((req) => {
    hits++;
    return new Response("again", {
      status: 302,
      headers: { location: new URL(req.url).pathname },
    });
  });
  const manager = new PoolManager();
  try {
    const error = await rejects(manager.request("GET", `${server.url}/loop`));
    assert.ok(error instanceof MaxRetryError, `expected MaxRetryError, got ${error}`);
    assert.ok(error.reason instanceof ResponseError, `reason ${error.reason}`);
    assert.equal(hits, 4, "Retry.DEFAULT follows 3 redirects");
    assertAtRest(poolsOf(manager)[0]);

    hits = 0;
    const limited = await rejects(
      manager.request("GET", `${server.url}/loop`, { retries: new Retry({ redirect: 1 }) }),
    );
    assert.ok(limited instanceof MaxRetryError);
    assert.equal(hits, 2);

    hits = 0;
    const returned = await manager.request("GET", `${server.url}/loop`, {
      retries: new Retry({ redirect: 1, raiseOnRedirect: false }),
    });
    assert.equal(returned.status, 302);
    assert.equal(hits, 2);

    hits = 0;
    const noFollow = await manager.request("GET", `${server.url}/loop`, { redirect: false });
    assert.equal(noFollow.status, 302);
    assert.equal(noFollow.getRedirectLocation(), "/loop");
    assert.equal(text(noFollow.data), "again");
    assert.equal(hits, 1);
    assertAtRest(poolsOf(manager)[0]);
    assert.equal(poolsOf(manager)[0].numConnections, 1);
  } finally {
    await manager.close();
    await server.close();
  }
});

test("a redirect to an unknown scheme is URLSchemeUnknown", async () => {
  const server = await rawServer(async (conn) => {
    await conn.readRequest();
    await conn.write(
      "HTTP/1.1 302 Found\r\nLocation: gopher://example.com/\r\nContent-Length: 0\r\n\r\n",
    );
  });
  const manager = new PoolManager();
  try {
    const error = await rejects(manager.request("GET", `${server.url}/`));
    assert.ok(error instanceof URLSchemeUnknown, `expected URLSchemeUnknown, got ${error}`);
    assertAtRest(poolsOf(manager)[0]);
  } finally {
    await manager.close();
    await server.close();
  }
});

// ---------------------------------------------------------------------------------------------
// top-level request()
// ---------------------------------------------------------------------------------------------

test("top-level request() goes through a module-wide manager", async () => {
  const server = await serveHttp(echo);
  try {
    const response = await request("GET", `${server.url}/top`, { fields: { q: "1" } });
    assert.equal(response.status, 200);
    const seen = parse(response.data);
    assert.equal(seen.path, "/top");
    assert.equal(seen.query, "?q=1");
  } finally {
    await server.close();
  }
});

test("top-level request(): timeout undefined means the 3 s default, not no timeout", async () => {
  const server = await rawServer(async (conn) => {
    await conn.readRequest().catch(() => {});
    await conn.closed;
  });
  const limit = deadline(10_000, "a request with timeout: undefined");
  try {
    const started = performance.now();
    const error = await rejects(
      request("GET", `${server.url}/silent`, {
        timeout: undefined,
        retries: false,
        signal: limit.signal,
      }),
    );
    const elapsed = performance.now() - started;
    assert.ok(error instanceof ReadTimeoutError, `expected ReadTimeoutError, got ${error}`);
    assert.ok(elapsed > 2_500 && elapsed < 9_000, `timed out after ${elapsed} ms`);
  } finally {
    limit.clear();
    await server.close();
  }
});
