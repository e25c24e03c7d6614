/**
 * `HTTPConnectionPool` / `HTTPSConnectionPool` against real loopback servers: reuse, the
 * `maxSize`/`block`/`poolTimeout` rules, most-recently-used reuse, closing, same-host checks,
 * aborts while queued, status retries and TLS verification (urllib3 rows 28-41).
 */

import { assert, test } from "../_harness.ts";
import {
  assertAtRest,
  type Deferred,
  deferred,
  isCollected,
  type KeepAliveServer,
  keepAliveServer,
  ownCounts,
  rejects,
  sleep,
  text,
  waitFor,
} from "../_util.ts";
import { CA_CERT, SERVER_TLS, WRONG_CA_CERT } from "../_certs.ts";
import { type RawConnection, type RawRequest, rawServer, serveHttp } from "../_servers.ts";
import {
  ClosedPoolError,
  connectionFromUrl,
  EmptyPoolError,
  HostChangedError,
  HTTPConnectionPool,
  type HTTPResponse,
  HTTPSConnectionPool,
  LocationValueError,
  MaxRetryError,
  NewConnectionError,
  ProtocolError,
  ResponseError,
  Retry,
  SSLError,
} from "../../mod.ts";

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

function reply(conn: RawConnection, body: string, head = "HTTP/1.1 200 OK"): Promise<void> {
  return conn.write(`${head}\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
}

/** A keep-alive raw server answering every request with its connection id (by default). */
function idServer(
  handle: (req: RawRequest, id: number, conn: RawConnection) => Promise<void> = (_, id, conn) =>
    reply(conn, String(id)),
): Promise<KeepAliveServer> {
  return keepAliveServer(handle);
}

/**
 * A server whose `/hold/N` responses send half their body, then wait until `release(N)`.
 * Other paths answer at once. Bodies are `<id>:<path>` padded to a known length.
 */
async function holdServer() {
  const gates = new Map<string, Deferred<void>>();
  const gate = (name: string) => {
    let d = gates.get(name);
    if (!d) gates.set(name, d = deferred());
    return d;
  };
  const ids = await idServer(async (req, id, conn) => {
    const body = `${id}:${req.target}`.padEnd(32, ".");
    if (req.target.startsWith("/hold/")) {
      await conn.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
      await conn.write(body.slice(0, 10));
      await gate(req.target.slice(6)).promise;
      await conn.write(body.slice(10));
    } else {
      await reply(conn, body);
    }
  });
  return { ...ids, release: (name: string) => gate(name).resolve() };
}

/** The connection id a `holdServer`/`idServer` body names. */
async function idOf(response: HTTPResponse): Promise<number> {
  return Number((await response.text()).split(":")[0]);
}

// ---------------------------------------------------------------------------------------------
// reuse and counters
// ---------------------------------------------------------------------------------------------

test("maxSize 1: two sequential requests share one connection", async () => {
  let served = 0;
  const server = await serveHttp((req) => {
    served++;
    return new Response(`hello ${new URL(req.url).pathname}`);
  });
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port, maxSize: 1 });
  try {
    const a = await pool.request("GET", "/a");
    assert.equal(a.status, 200);
    assert.equal(text(a.data), "hello /a");
    const b = await pool.request("GET", "/b");
    assert.equal(text(b.data), "hello /b");
    assert.equal(pool.numConnections, 1);
    assert.equal(pool.numRequests, 2);
    assert.equal(served, 2);
    assert.deepEqual(ownCounts(pool), { idle: 1, inUse: 0, queued: 0, open: 1 });
  } finally {
    await pool.close();
    await server.close();
  }
});

test("an idle connection does not keep its last response or body alive", async () => {
  const size = 256 * 1024;
  const { server } = await keepAliveServer((_, _id, conn) => reply(conn, "x".repeat(size)));
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
  // Each request in its own frame, so only the WeakRefs point at what it returned.
  const preloaded = async () => {
    const response = await pool.request("GET", "/");
    assert.equal(response.data.length, size);
    return [new WeakRef(response), new WeakRef(response.data)];
  };
  const streamed = async () => {
    const response = await pool.request("GET", "/", { preloadContent: false });
    const body = await response.bytes();
    assert.equal(body.length, size);
    return [new WeakRef(response), new WeakRef(body)];
  };
  try {
    for (const refs of [await preloaded(), await streamed()]) {
      assert.equal(pool.stats.idle, 1, "the connection is parked in the pool");
      for (const ref of refs) {
        assert.ok(await isCollected(ref), "collected while the connection idles");
      }
    }
  } finally {
    await pool.close();
    await server.close();
  }
});

test("a raw server sees one connection for sequential requests", async () => {
  const { server } = await idServer();
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
  try {
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(text((await pool.request("GET", "/")).data));
    assert.deepEqual(ids, ["1", "1", "1"]);
    assert.equal(server.connections, 1);
    assert.equal(pool.numConnections, 1);
    assert.equal(pool.numRequests, 3);
    assertAtRest(pool);
  } finally {
    await pool.close();
    await server.close();
  }
});

// ---------------------------------------------------------------------------------------------
// block / poolTimeout
// ---------------------------------------------------------------------------------------------

test("block: a busy connection and poolTimeout 50 give EmptyPoolError", async () => {
  const hold = await holdServer();
  const pool = new HTTPConnectionPool("127.0.0.1", {
    port: hold.server.port,
    maxSize: 1,
    block: true,
  });
  try {
    const holder = await pool.request("GET", "/hold/1", { preloadContent: false });
    assert.equal(pool.stats.inUse, 1);
    const started = performance.now();
    const error = await rejects(pool.request("GET", "/other", { poolTimeout: 50 }));
    const waited = performance.now() - started;
    assert.ok(error instanceof EmptyPoolError, `expected EmptyPoolError, got ${error}`);
    assert.equal(error.code, "ERR_EMPTY_POOL");
    assert.ok(waited >= 40, `waited ${waited} ms`);
    assert.equal(pool.stats.queued, 0);
    assert.equal(pool.stats.inUse, 1);
    assert.equal(pool.numConnections, 1);
    hold.release("1");
    assert.equal((await holder.text()).startsWith("1:/hold/1"), true);
    assertAtRest(pool);
    // The connection is free again: the next request gets it at once.
    const next = await pool.request("GET", "/after", { poolTimeout: 50 });
    assert.equal(await idOf(next), 1);
    assert.equal(pool.numConnections, 1);
    assertAtRest(pool);
  } finally {
    hold.release("1");
    await pool.close();
    await hold.server.close();
  }
});

test("block: poolTimeout from the pool options applies too", async () => {
  const hold = await holdServer();
  const pool = new HTTPConnectionPool("127.0.0.1", {
    port: hold.server.port,
    maxSize: 1,
    block: true,
    poolTimeout: 30,
  });
  try {
    const holder = await pool.request("GET", "/hold/1", { preloadContent: false });
    const error = await rejects(pool.request("GET", "/other"));
    assert.ok(error instanceof EmptyPoolError, `expected EmptyPoolError, got ${error}`);
    hold.release("1");
    await holder.drainConn();
    assertAtRest(pool);
  } finally {
    hold.release("1");
    await pool.close();
    await hold.server.close();
  }
});

test("preloadContent false holds the connection until the body is read: block makes the next caller wait", async () => {
  const { server } = await idServer();
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port, block: true });
  try {
    // The one-byte body arrives with the head, long before it is read.
    const r = await pool.request("GET", "/", { preloadContent: false });
    await sleep(20);
    assert.notEqual(r.connection, null);
    assert.equal(pool.stats.inUse, 1);
    const error = await rejects(pool.request("GET", "/", { poolTimeout: 50 }));
    assert.ok(error instanceof EmptyPoolError, `expected EmptyPoolError, got ${error}`);
    const waiting = pool.request("GET", "/");
    await waitFor(() => pool.stats.queued === 1, "the next caller to queue");
    assert.equal(await r.text(), "1");
    assert.equal(r.connection, null, "released once read to its end");
    assert.equal(text((await waiting).data), "1", "the queued caller got the same connection");
    assert.equal(server.connections, 1);
    assertAtRest(pool);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("releaseConn false: a preloaded response holds its connection until releaseConn()", async () => {
  const { server } = await idServer();
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port, block: true });
  try {
    const r = await pool.request("GET", "/", { releaseConn: false });
    assert.equal(text(r.data), "1");
    assert.notEqual(r.connection, null);
    assert.equal(pool.stats.inUse, 1);
    const error = await rejects(pool.request("GET", "/", { poolTimeout: 50 }));
    assert.ok(error instanceof EmptyPoolError, `expected EmptyPoolError, got ${error}`);
    r.releaseConn();
    assert.equal(r.connection, null);
    assertAtRest(pool);
    assert.equal(text((await pool.request("GET", "/")).data), "1", "reused");
    assert.equal(server.connections, 1);
    assertAtRest(pool);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("stats count held connections as in use; numConnections and numRequests keep counting", async () => {
  const { server } = await idServer();
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
  try {
    const a = await pool.request("GET", "/", { preloadContent: false });
    const b = await pool.request("GET", "/", { preloadContent: false });
    await sleep(20);
    assert.deepEqual(ownCounts(pool), { idle: 0, inUse: 2, queued: 0, open: 2 });
    assert.equal(await a.text(), "1");
    assert.deepEqual(ownCounts(pool), { idle: 1, inUse: 1, queued: 0, open: 2 });
    assert.equal(await b.text(), "2");
    // maxSize 1: the second one back is discarded.
    assert.deepEqual(ownCounts(pool), { idle: 1, inUse: 0, queued: 0, open: 1 });
    assert.equal(pool.numConnections, 2);
    assert.equal(pool.numRequests, 2);
    assertAtRest(pool);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("block: a queued caller gets the connection once the holder finishes", async () => {
  const hold = await holdServer();
  const pool = new HTTPConnectionPool("127.0.0.1", {
    port: hold.server.port,
    maxSize: 1,
    block: true,
  });
  try {
    const holder = await pool.request("GET", "/hold/1", { preloadContent: false });
    const queued = pool.request("GET", "/queued", { poolTimeout: 5000 });
    await waitFor(() => pool.stats.queued === 1, "the caller to queue");
    assert.equal(pool.stats.open, 1);
    hold.release("1");
    assert.match(await holder.text(), /^1:\/hold\/1/);
    const response = await queued;
    assert.equal(await idOf(response), 1, "the queued caller reused the held connection");
    assert.equal(pool.numConnections, 1);
    assert.equal(pool.numRequests, 2);
    assert.equal(hold.server.connections, 1);
    assertAtRest(pool);
  } finally {
    hold.release("1");
    await pool.close();
    await hold.server.close();
  }
});

test("block: queued callers are served in order", async () => {
  const hold = await holdServer();
  const pool = new HTTPConnectionPool("127.0.0.1", {
    port: hold.server.port,
    maxSize: 1,
    block: true,
  });
  try {
    const holder = await pool.request("GET", "/hold/1", { preloadContent: false });
    const order: string[] = [];
    const waiting = ["a", "b", "c"].map((name) =>
      pool.request("GET", `/${name}`).then(() => order.push(name))
    );
    await waitFor(() => pool.stats.queued === 3, "three callers to queue");
    hold.release("1");
    await holder.drainConn();
    await Promise.all(waiting);
    assert.deepEqual(order, ["a", "b", "c"]);
    assert.equal(pool.numConnections, 1);
    assertAtRest(pool);
  } finally {
    hold.release("1");
    await pool.close();
    await hold.server.close();
  }
});

test("block false: extra connections open, and are closed on return (idle <= maxSize)", async () => {
  const hold = await holdServer();
  const pool = new HTTPConnectionPool("127.0.0.1", { port: hold.server.port, maxSize: 2 });
  try {
    const responses = await Promise.all(
      [1, 2, 3, 4].map((n) => pool.request("GET", `/hold/${n}`, { preloadContent: false })),
    );
    assert.equal(pool.numConnections, 4);
    assert.deepEqual(ownCounts(pool), { idle: 0, inUse: 4, queued: 0, open: 4 });
    for (const [i, response] of responses.entries()) {
      hold.release(String(i + 1));
      await response.drainConn();
      assert.ok(pool.stats.idle <= 2, `idle ${pool.stats.idle} after ${i + 1} returned`);
    }
    assert.deepEqual(ownCounts(pool), { idle: 2, inUse: 0, queued: 0, open: 2 });
    // The two connections returned to a full pool were closed; the server sees them go.
    await waitFor(() => hold.closed.length === 2, "two server connections to close");
    assert.equal(hold.server.connections, 4);
  } finally {
    for (const n of [1, 2, 3, 4]) hold.release(String(n));
    await pool.close();
    await hold.server.close();
  }
});

test("the most recently returned idle connection is reused first", async () => {
  const hold = await holdServer();
  const pool = new HTTPConnectionPool("127.0.0.1", { port: hold.server.port, maxSize: 2 });
  try {
    const [x, y] = await Promise.all([
      pool.request("GET", "/hold/x", { preloadContent: false }),
      pool.request("GET", "/hold/y", { preloadContent: false }),
    ]);
    // Return x first, then y: y's connection is the most recently used.
    hold.release("x");
    const xId = await idOf(x);
    hold.release("y");
    const yId = await idOf(y);
    assert.notEqual(xId, yId);
    assert.equal(pool.stats.idle, 2);
    assert.equal(await idOf(await pool.request("GET", "/next")), yId);
    // LIFO again: the connection just used is on top.
    assert.equal(await idOf(await pool.request("GET", "/next")), yId);

    // Now return y first, then x: x's connection comes back on top.
    const [p, q] = await Promise.all([
      pool.request("GET", "/hold/p", { preloadContent: false }),
      pool.request("GET", "/hold/q", { preloadContent: false }),
    ]);
    hold.release("q");
    const qId = await idOf(q);
    hold.release("p");
    const pId = await idOf(p);
    assert.deepEqual(new Set([pId, qId]), new Set([xId, yId]), "no new connection opened");
    assert.equal(await idOf(await pool.request("GET", "/next")), pId);
    assert.equal(pool.numConnections, 2);
    assertAtRest(pool);
  } finally {
    for (const name of ["x", "y", "p", "q"]) hold.release(name);
    await pool.close();
    await hold.server.close();
  }
});

// ---------------------------------------------------------------------------------------------
// close / dispose
// ---------------------------------------------------------------------------------------------

test("close() then request gives ClosedPoolError; close twice is safe", async () => {
  const { server, closed } = await idServer();
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
  try {
    await pool.request("GET", "/");
    assert.equal(pool.stats.open, 1);
    await pool.close();
    assert.equal(pool.closed, true);
    assert.equal(pool.stats.open, 0);
    await waitFor(() => closed.length === 1, "the idle connection to close");
    const error = await rejects(pool.request("GET", "/"));
    assert.ok(error instanceof ClosedPoolError, `expected ClosedPoolError, got ${error}`);
    assert.equal(error.code, "ERR_CLOSED_POOL");
    await pool.close();
    assertAtRest(pool);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("close() closes held connections at once; reading their bodies fails with ClosedPoolError", async () => {
  const hold = await holdServer();
  const pool = new HTTPConnectionPool("127.0.0.1", { port: hold.server.port });
  try {
    // One body still arriving, one whole but unread: both hold their connections.
    const arriving = await pool.request("GET", "/hold/1", { preloadContent: false });
    const whole = await pool.request("GET", "/whole", { preloadContent: false });
    const preloaded = await pool.request("GET", "/kept", { releaseConn: false });
    await sleep(20);
    assert.equal(pool.stats.inUse, 3);
    await pool.close();
    assert.deepEqual(ownCounts(pool), { idle: 0, inUse: 0, queued: 0, open: 0 });
    await waitFor(() => hold.closed.length === 3, "the server to see every connection close");
    for (const response of [arriving, whole]) {
      const error = await rejects(response.text());
      assert.ok(error instanceof ClosedPoolError, `expected ClosedPoolError, got ${error}`);
      assert.equal(response.connection, null);
    }
    assert.match(text(preloaded.data), /^3:\/kept/, "a preloaded body stays readable");
    assert.equal(preloaded.connection, null);
  } finally {
    hold.release("1");
    await pool.close();
    await hold.server.close();
  }
});

test("close() rejects callers queued on a blocking pool with ClosedPoolError", async () => {
  const hold = await holdServer();
  const pool = new HTTPConnectionPool("127.0.0.1", {
    port: hold.server.port,
    maxSize: 1,
    block: true,
  });
  try {
    const holder = await pool.request("GET", "/hold/1", { preloadContent: false });
    const queued = rejects(pool.request("GET", "/queued"));
    await waitFor(() => pool.stats.queued === 1, "the caller to queue");
    await pool.close();
    const error = await queued;
    assert.ok(error instanceof ClosedPoolError, `expected ClosedPoolError, got ${error}`);
    assert.equal(pool.stats.queued, 0);
    hold.release("1");
    await holder.drainConn();
    assertAtRest(pool);
  } finally {
    hold.release("1");
    await pool.close();
    await hold.server.close();
  }
});

test("await using closes the pool", async () => {
  const { server, closed } = await idServer();
  let kept: HTTPConnectionPool | undefined;
  try {
    {
      await using pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
      kept = pool;
      assert.equal(text((await pool.request("GET", "/")).data), "1");
    }
    assert.equal(kept.closed, true);
    await waitFor(() => closed.length === 1, "the connection to close");
    const error = await rejects(kept.request("GET", "/"));
    assert.ok(error instanceof ClosedPoolError, `expected ClosedPoolError, got ${error}`);
  } finally {
    await kept?.close();
    await server.close();
  }
});

test("pool.headers changes reach the next request, with or without request headers", async () => {
  const server = await serveHttp((req) =>
    new Response(JSON.stringify([req.headers.get("x-a"), req.headers.get("x-b")]))
  );
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port, headers: { "X-B": "b" } });
  const seen = async (headers?: Record<string, string>) =>
    JSON.parse(text((await pool.request("GET", "/", { headers })).data));
  try {
    assert.deepEqual(await seen(), [null, "b"]);
    pool.headers.set("X-A", "1");
    assert.deepEqual(await seen(), ["1", "b"], "set");
    assert.deepEqual(await seen({ "x-c": "c" }), ["1", "b"], "merged under request headers");
    pool.headers.add("x-a", "2", { combine: true });
    assert.deepEqual(await seen(), ["1, 2", "b"], "add with combine");
    pool.headers.delete("X-B");
    assert.deepEqual(await seen(), ["1, 2", null], "delete");
    pool.headers.extend({ "X-B": "again" });
    assert.deepEqual(await seen(), ["1, 2", "again"], "extend");
    assertAtRest(pool);
  } finally {
    await pool.close();
    await server.close();
  }
});

// ---------------------------------------------------------------------------------------------
// same host
// ---------------------------------------------------------------------------------------------

test("isSameHost compares scheme, host and port (default port filled in)", async () => {
  const pool = new HTTPConnectionPool("127.0.0.1", { port: 8080 });
  const plain = new HTTPConnectionPool("Example.COM");
  const secure = new HTTPSConnectionPool("example.com");
  try {
    assert.equal(pool.isSameHost("/path"), true);
    assert.equal(pool.isSameHost("http://127.0.0.1:8080/x"), true);
    assert.equal(pool.isSameHost("HTTP://127.0.0.1:8080"), true);
    assert.equal(pool.isSameHost("http://127.0.0.1:8081/x"), false);
    assert.equal(pool.isSameHost("http://127.0.0.1/x"), false);
    assert.equal(pool.isSameHost("https://127.0.0.1:8080/x"), false);
    assert.equal(pool.isSameHost("http://localhost:8080/x"), false);
    assert.equal(plain.host, "example.com");
    assert.equal(plain.port, 80);
    assert.equal(plain.isSameHost("http://example.com/"), true);
    assert.equal(plain.isSameHost("http://EXAMPLE.com:80/"), true);
    assert.equal(plain.isSameHost("https://example.com/"), false);
    assert.equal(secure.port, 443);
    assert.equal(secure.isSameHost("https://example.com/"), true);
    assert.equal(secure.isSameHost("https://example.com:443/a"), true);
    assert.equal(secure.isSameHost("http://example.com:443/"), false);
  } finally {
    await pool.close();
    await plain.close();
    await secure.close();
  }
});

test("a foreign absolute URL gives HostChangedError; assertSameHost false allows it", async () => {
  const server = await serveHttp((req) => new Response(`${new URL(req.url).pathname}`));
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
  try {
    const same = await pool.request("GET", `${server.url}/same`);
    assert.equal(text(same.data), "/same");
    const foreign = `http://localhost:${server.port}/foreign`;
    const error = await rejects(pool.request("GET", foreign));
    assert.ok(error instanceof HostChangedError, `expected HostChangedError, got ${error}`);
    assert.equal(error.code, "ERR_HOST_CHANGED");
    assert.equal(pool.numRequests, 1, "nothing was sent for the foreign URL");
    assertAtRest(pool);
    const allowed = await pool.request("GET", foreign, { assertSameHost: false });
    assert.equal(allowed.status, 200);
    assert.equal(text(allowed.data), "/foreign");
    assert.equal(pool.numConnections, 1);
    assertAtRest(pool);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("a pool follows a same-origin redirect, and a cross-origin one is HostChangedError", async () => {
  const other = await serveHttp(() => new Response("other"));
  const server = await serveHttp((req) => {
    const path = new URL(req.url).pathname;
    if (path === "/local") {
      return new Response(null, { status: 302, headers: { location: "/end" } });
    }
    if (path === "/away") {
      return new Response("moving", { status: 302, headers: { location: `${other.url}/x` } });
    }
    return new Response(`at ${path}`);
  });
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
  try {
    const local = await pool.request("GET", "/local");
    assert.equal(local.status, 200);
    assert.equal(text(local.data), "at /end");
    assert.equal(local.retries?.history.length, 1);
    const error = await rejects(pool.request("GET", "/away"));
    assert.ok(error instanceof HostChangedError, `expected HostChangedError, got ${error}`);
    assertAtRest(pool);
    assert.equal(pool.numConnections, 1, "the 302's connection went back to the pool");
    const noFollow = await pool.request("GET", "/away", { redirect: false });
    assert.equal(noFollow.status, 302);
    assert.equal(noFollow.getRedirectLocation(), `${other.url}/x`);
    assertAtRest(pool);
  } finally {
    await pool.close();
    await server.close();
    await other.close();
  }
});

// ---------------------------------------------------------------------------------------------
// connectionFromUrl
// ---------------------------------------------------------------------------------------------

test("connectionFromUrl builds a standalone pool of the right class and port", async () => {
  const server = await serveHttp(() => new Response("from url"));
  const pool = connectionFromUrl(`${server.url}/some/path?q=1`, { maxSize: 3 });
  const https = connectionFromUrl("https://Example.com/x");
  const http80 = connectionFromUrl("http://example.com");
  try {
    assert.ok(pool instanceof HTTPConnectionPool);
    assert.equal(pool.host, "127.0.0.1");
    assert.equal(pool.port, server.port);
    assert.equal(pool.maxSize, 3);
    assert.equal(text((await pool.request("GET", "/")).data), "from url");
    assert.ok(https instanceof HTTPSConnectionPool);
    assert.equal(https.scheme, "https");
    assert.equal(https.host, "example.com");
    assert.equal(https.port, 443);
    assert.ok(http80 instanceof HTTPConnectionPool);
    assert.equal(http80.port, 80);
    assert.throws(() => connectionFromUrl("http://"), LocationValueError);
    assertAtRest(pool);
  } finally {
    await pool.close();
    await https.close();
    await http80.close();
    await server.close();
  }
});

// ---------------------------------------------------------------------------------------------
// abort while queued
// ---------------------------------------------------------------------------------------------

test("an abort while queued on a blocked pool rejects with the reason and leaves the queue", async () => {
  const hold = await holdServer();
  const pool = new HTTPConnectionPool("127.0.0.1", {
    port: hold.server.port,
    maxSize: 1,
    block: true,
  });
  try {
    const holder = await pool.request("GET", "/hold/1", { preloadContent: false });
    const controller = new AbortController();
    const queued = rejects(pool.request("GET", "/queued", { signal: controller.signal }));
    await waitFor(() => pool.stats.queued === 1, "the caller to queue");
    const reason = new Error("stop waiting");
    controller.abort(reason);
    assert.equal(await queued, reason);
    assert.equal(pool.stats.queued, 0);
    assert.equal(pool.numRequests, 1);

    // An already aborted signal is rejected without queueing.
    const early = new AbortController();
    early.abort(new Error("never queued"));
    const error = await rejects(pool.request("GET", "/x", { signal: early.signal }));
    assert.equal((error as Error).message, "never queued");
    assert.equal(pool.stats.queued, 0);

    hold.release("1");
    await holder.drainConn();
    assertAtRest(pool);
    // The holder's connection is free for the next caller.
    assert.equal(await idOf(await pool.request("GET", "/after", { poolTimeout: 1000 })), 1);
    assertAtRest(pool);
  } finally {
    hold.release("1");
    await pool.close();
    await hold.server.close();
  }
});

// ---------------------------------------------------------------------------------------------
// retries
// ---------------------------------------------------------------------------------------------

test("statusForcelist: 503s are retried, then the 200 is returned", async () => {
  let calls = 0;
  const server = await serveHttp(() => {
    calls++;
    return calls <= 2
      ? new Response("busy", { status: 503 })
      : new Response("finally", { status: 200 });
  });
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
  try {
    const response = await pool.request("GET", "/", {
      retries: new Retry({ total: 2, statusForcelist: [503] }),
    });
    assert.equal(response.status, 200);
    assert.equal(text(response.data), "finally");
    assert.equal(calls, 3);
    assert.deepEqual(response.retries?.history.map((h) => h.status), [503, 503]);
    assert.equal(pool.numConnections, 1, "the drained 503s kept the connection");
    assertAtRest(pool);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("statusForcelist: when retries run out, MaxRetryError (or the 503 with raiseOnStatus false)", async () => {
  let calls = 0;
  const server = await serveHttp(() => {
    calls++;
    return new Response("busy", { status: 503 });
  });
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
  try {
    const error = await rejects(
      pool.request("GET", "/", { retries: new Retry({ total: 2, statusForcelist: [503] }) }),
    );
    assert.ok(error instanceof MaxRetryError, `expected MaxRetryError, got ${error}`);
    assert.ok(error.reason instanceof ResponseError, `reason ${error.reason}`);
    assert.equal(calls, 3);
    assertAtRest(pool);

    calls = 0;
    const response = await pool.request("GET", "/", {
      retries: new Retry({ total: 2, statusForcelist: [503], raiseOnStatus: false }),
    });
    assert.equal(response.status, 503);
    assert.equal(text(response.data), "busy");
    assert.equal(calls, 3);
    assertAtRest(pool);

    // POST is not in allowedMethods: no status retry.
    calls = 0;
    const post = await pool.request("POST", "/", {
      body: "x",
      retries: new Retry({ total: 2, statusForcelist: [503] }),
    });
    assert.equal(post.status, 503);
    assert.equal(calls, 1);
    assert.equal(pool.numConnections, 1);
    assertAtRest(pool);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("a refused connection: MaxRetryError(NewConnectionError), pool at rest", async () => {
  const gone = await serveHttp(() => new Response("x"));
  const port = gone.port;
  await gone.close();
  const pool = new HTTPConnectionPool("127.0.0.1", { port, maxSize: 1, block: true });
  try {
    const error = await rejects(pool.request("GET", "/", { retries: 2 }));
    assert.ok(error instanceof MaxRetryError, `expected MaxRetryError, got ${error}`);
    assert.ok(error.reason instanceof NewConnectionError, `reason ${error.reason}`);
    assertAtRest(pool);
    assert.equal(pool.stats.open, 0);
    // The slot came back: a blocking pool of one is not starved by the failures.
    const again = await rejects(pool.request("GET", "/", { retries: false, poolTimeout: 100 }));
    assert.ok(again instanceof NewConnectionError, `expected NewConnectionError, got ${again}`);
    assertAtRest(pool);
  } finally {
    await pool.close();
  }
});

test("a server that closes without answering: retried, then MaxRetryError(ProtocolError)", async () => {
  const server = await rawServer(async (conn) => {
    await conn.readRequest();
    conn.destroy();
  });
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port, maxSize: 1, block: true });
  try {
    const error = await rejects(pool.request("GET", "/", { retries: 2 }));
    assert.ok(error instanceof MaxRetryError, `expected MaxRetryError, got ${error}`);
    assert.ok(error.reason instanceof ProtocolError, `reason ${error.reason}`);
    assert.equal(server.connections, 3);
    assertAtRest(pool);
    assert.equal(pool.stats.open, 0);
  } finally {
    await pool.close();
    await server.close();
  }
});

// ---------------------------------------------------------------------------------------------
// HTTPS
// ---------------------------------------------------------------------------------------------

test("HTTPS pool: verified with caCerts, reused", async () => {
  const server = await serveHttp((req) => new Response(`tls ${new URL(req.url).pathname}`), {
    tls: SERVER_TLS,
  });
  const pool = new HTTPSConnectionPool("127.0.0.1", { port: server.port, caCerts: [CA_CERT] });
  try {
    const a = await pool.request("GET", "/a");
    assert.equal(a.status, 200);
    assert.equal(text(a.data), "tls /a");
    const b = await pool.request("GET", `${server.url}/b`);
    assert.equal(text(b.data), "tls /b");
    assert.equal(pool.numConnections, 1);
    assertAtRest(pool);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("HTTPS pool: the wrong CA fails with an SSLError reason", async () => {
  const server = await serveHttp(() => new Response("never"), { tls: SERVER_TLS });
  const pool = new HTTPSConnectionPool("127.0.0.1", {
    port: server.port,
    caCerts: [WRONG_CA_CERT],
  });
  try {
    const error = await rejects(pool.request("GET", "/", { retries: 1 }));
    assert.ok(error instanceof MaxRetryError, `expected MaxRetryError, got ${error}`);
    assert.ok(error.reason instanceof SSLError, `reason ${error.reason}`);
    assertAtRest(pool);
    assert.equal(pool.stats.open, 0);
    const raw = await rejects(pool.request("GET", "/", { retries: false }));
    assert.ok(raw instanceof SSLError, `expected SSLError, got ${raw}`);
    assertAtRest(pool);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("HTTPS pool: certReqs CERT_NONE accepts an untrusted certificate", async () => {
  const server = await serveHttp(() => new Response("unverified"), { tls: SERVER_TLS });
  const pool = new HTTPSConnectionPool("127.0.0.1", { port: server.port, certReqs: "CERT_NONE" });
  try {
    const response = await pool.request("GET", "/");
    assert.equal(response.status, 200);
    assert.equal(text(response.data), "unverified");
    assert.equal(text((await pool.request("GET", "/")).data), "unverified");
    assert.equal(pool.numConnections, 1);
    assertAtRest(pool);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("HTTPS pool: serverHostname localhost while connecting to 127.0.0.1", async () => {
  const server = await serveHttp((req) => new Response(`host ${req.headers.get("host")}`), {
    tls: SERVER_TLS,
  });
  const pool = new HTTPSConnectionPool("127.0.0.1", {
    port: server.port,
    caCerts: [CA_CERT],
    serverHostname: "localhost",
    // HTTP/2 sends `:authority`, not the `Host` header this server echoes.
    http2: false,
  });
  const wrong = new HTTPSConnectionPool("127.0.0.1", {
    port: server.port,
    caCerts: [CA_CERT],
    serverHostname: "not-in-the-cert.example",
  });
  try {
    const response = await pool.request("GET", "/");
    assert.equal(response.status, 200);
    assert.equal(text(response.data), `host 127.0.0.1:${server.port}`);
    assertAtRest(pool);
    const error = await rejects(wrong.request("GET", "/", { retries: false }));
    assert.ok(error instanceof SSLError, `expected SSLError, got ${error}`);
    assertAtRest(wrong);
  } finally {
    await pool.close();
    await wrong.close();
    await server.close();
  }
});
