/**
 * Connection lifecycle against raw loopback servers that record when the client closes:
 * `idleTimeout` (default 4 s), the server's `Keep-Alive: timeout=N, max=N` hints,
 * `maxRequestsPerConnection` and `maxConnectionAge`, through a pool and a manager.
 */

import { assert, test } from "../_harness.ts";
import {
  assertAtRest,
  type KeepAliveServer,
  keepAliveServer,
  ownCounts,
  rejects,
  sleep,
  text,
  waitFor,
} from "../_util.ts";
import type { RawConnection } from "../_servers.ts";
import { HTTPConnectionPool, type HTTPResponse, PoolManager } from "../../mod.ts";

/** Generous bound on how late a close may come on a loaded machine. */
const LATE_MS = 2_500;

/**
 * A keep-alive server answering each request with its connection id, sending `fields`
 * (extra header lines) with each response, and recording when each connection closed.
 */
async function lifecycleServer(
  fields = "",
  delay = 0,
): Promise<KeepAliveServer & { closedAt: Map<number, number> }> {
  const closedAt = new Map<number, number>();
  const served = await keepAliveServer(async (_req, id, conn: RawConnection) => {
    if (!closedAt.has(id)) {
      closedAt.set(id, Infinity);
      conn.closed.then(() => closedAt.set(id, performance.now()));
    }
    if (delay > 0) await sleep(delay);
    const body = String(id);
    await conn.write(
      `HTTP/1.1 200 OK\r\n${fields}Content-Length: ${body.length}\r\n\r\n${body}`,
    );
  });
  return { ...served, closedAt };
}

async function idOf(response: Promise<HTTPResponse>): Promise<number> {
  return Number(text((await response).data));
}

/**
 * Waits until the server saw connection `id` close (its time in `closedAt`; Infinity while
 * open); how long after `since` that was.
 */
async function closeSeen(
  closedAt: Map<number, number>,
  id: number,
  since: number,
  limit: number,
): Promise<number> {
  const until = performance.now() + limit;
  const seen = () => (closedAt.get(id) ?? Infinity) !== Infinity;
  while (!seen() && performance.now() < until) await sleep(10);
  assert.ok(seen(), `connection ${id} closed within ${limit} ms`);
  return closedAt.get(id)! - since;
}

test("idleTimeout: an idle connection is closed after it, and the server sees the close", async () => {
  const { server, closedAt } = await lifecycleServer();
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port, idleTimeout: 300 });
  try {
    assert.equal(await idOf(pool.request("GET", "/")), 1);
    const idleSince = performance.now();
    assert.equal(pool.stats.open, 1);
    const after = await closeSeen(closedAt, 1, idleSince, 300 + LATE_MS);
    assert.ok(after >= 250, `closed ${after} ms after going idle, not before the timeout`);
    assert.deepEqual(ownCounts(pool), { idle: 1, inUse: 0, queued: 0, open: 0 });
    assertAtRest(pool);
    // The connection object reconnects for the next request.
    assert.equal(await idOf(pool.request("GET", "/")), 2);
    assert.equal(pool.numConnections, 1);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("idleTimeout: a connection used again before it is kept, its clock restarted", async () => {
  const { server, closed } = await lifecycleServer();
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port, idleTimeout: 600 });
  try {
    const ids = [];
    for (let i = 0; i < 4; i++) {
      ids.push(await idOf(pool.request("GET", "/")));
      await sleep(250);
    }
    assert.deepEqual(ids, [1, 1, 1, 1], "reused within its idle timeout each time");
    assert.deepEqual(closed, []);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("idleTimeout: a connection past its deadline is not reused even before the timer fires", async () => {
  const { server } = await lifecycleServer();
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port, idleTimeout: 100 });
  try {
    assert.equal(await idOf(pool.request("GET", "/")), 1);
    // Hold the event loop past the deadline: the sweep timer cannot fire meanwhile.
    const until = performance.now() + 250;
    while (performance.now() < until) { /* busy */ }
    assert.equal(pool.stats.open, 1, "the timer has not fired yet");
    assert.equal(await idOf(pool.request("GET", "/")), 2, "a new connection");
  } finally {
    await pool.close();
    await server.close();
  }
});

test("idleTimeout: null keeps an idle connection open", async () => {
  const { server, closed } = await lifecycleServer();
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port, idleTimeout: null });
  try {
    assert.equal(await idOf(pool.request("GET", "/")), 1);
    await sleep(400);
    assert.deepEqual(closed, []);
    assert.equal(pool.stats.open, 1);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("idleTimeout: the default (4 s) closes an idle connection", async () => {
  const { server, closedAt } = await lifecycleServer();
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
  try {
    assert.equal(await idOf(pool.request("GET", "/")), 1);
    const idleSince = performance.now();
    await sleep(3_000);
    assert.equal(pool.stats.open, 1, "still open after 3 s");
    const after = await closeSeen(closedAt, 1, idleSince, 4_000 + LATE_MS);
    assert.ok(after >= 3_900, `closed ${after} ms after going idle`);
    assertAtRest(pool);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("Keep-Alive: timeout=1 lowers the idle timeout of that connection", async () => {
  const { server, closedAt } = await lifecycleServer("Keep-Alive: timeout=1\r\n");
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
  try {
    assert.equal(await idOf(pool.request("GET", "/")), 1);
    const idleSince = performance.now();
    // One second less a margin: closed well before the pool's 4 s, and before the server's 1 s.
    const after = await closeSeen(closedAt, 1, idleSince, 3_000);
    assert.ok(after >= 300, `closed ${after} ms after going idle`);
    assertAtRest(pool);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("Keep-Alive: a hint above idleTimeout does not raise it", async () => {
  const { server, closedAt } = await lifecycleServer("Keep-Alive: timeout=60\r\n");
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port, idleTimeout: 300 });
  try {
    assert.equal(await idOf(pool.request("GET", "/")), 1);
    const idleSince = performance.now();
    await closeSeen(closedAt, 1, idleSince, 300 + LATE_MS);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("Keep-Alive: max=2 sends the third request on a new connection", async () => {
  const { server, closed } = await lifecycleServer("Keep-Alive: timeout=30, max=2\r\n");
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
  try {
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await idOf(pool.request("GET", "/")));
    assert.deepEqual(ids, [1, 1, 2, 2, 3]);
    await sleep(50);
    assert.deepEqual(closed.sort(), [1, 2], "the client closed each spent connection");
    assert.equal(pool.numConnections, 1, "one connection object, reconnected");
    assertAtRest(pool);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("maxRequestsPerConnection: 3 requests, then a new connection", async () => {
  const { server, closed } = await lifecycleServer();
  const pool = new HTTPConnectionPool("127.0.0.1", {
    port: server.port,
    maxRequestsPerConnection: 3,
  });
  try {
    const ids = [];
    for (let i = 0; i < 7; i++) ids.push(await idOf(pool.request("GET", "/")));
    assert.deepEqual(ids, [1, 1, 1, 2, 2, 2, 3]);
    await sleep(50);
    assert.deepEqual(closed.sort(), [1, 2]);
    // A streamed response counts the same, closed when its body is read.
    const streamed = await pool.request("GET", "/", { preloadContent: false });
    assert.equal(text(await streamed.bytes()), "3");
    assert.equal(await idOf(pool.request("GET", "/")), 3);
    assert.equal(await idOf(pool.request("GET", "/")), 4);
    assertAtRest(pool);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("maxConnectionAge: an exchange that outlives it closes its connection after it", async () => {
  const { server, closedAt } = await lifecycleServer("", 400);
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port, maxConnectionAge: 200 });
  try {
    assert.equal(await idOf(pool.request("GET", "/")), 1);
    const done = performance.now();
    const after = await closeSeen(closedAt, 1, done, LATE_MS);
    assert.ok(after < 1_000, `closed ${after} ms after the response, not kept idle`);
    assert.equal(await idOf(pool.request("GET", "/")), 2);
    assertAtRest(pool);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("maxConnectionAge: an idle connection is closed once it reaches its age", async () => {
  const { server, closedAt } = await lifecycleServer();
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port, maxConnectionAge: 500 });
  try {
    const opened = performance.now();
    assert.equal(await idOf(pool.request("GET", "/")), 1);
    assert.equal(await idOf(pool.request("GET", "/")), 1, "reused while young");
    const after = await closeSeen(closedAt, 1, opened, 500 + LATE_MS);
    assert.ok(after >= 400, `closed ${after} ms after it opened`);
    assert.equal(await idOf(pool.request("GET", "/")), 2);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("lifecycle options reach a manager's pools, and two idle pools close on time", async () => {
  const a = await lifecycleServer();
  const b = await lifecycleServer();
  const manager = new PoolManager({ idleTimeout: 300, maxRequestsPerConnection: 2 });
  try {
    for (const { server } of [a, b]) {
      const ids = [];
      for (let i = 0; i < 3; i++) ids.push(await idOf(manager.request("GET", `${server.url}/`)));
      assert.deepEqual(ids, [1, 1, 2]);
    }
    const idleSince = performance.now();
    await closeSeen(a.closedAt, 2, idleSince, 300 + LATE_MS);
    await closeSeen(b.closedAt, 2, idleSince, 300 + LATE_MS);
    const pool = manager.connectionFromUrl(`${a.server.url}/`);
    assert.equal(pool.stats.open, 0);
    assertAtRest(pool);
  } finally {
    await manager.clear();
    await a.server.close();
    await b.server.close();
  }
});

test("lifecycle options are checked", async () => {
  const make = (options: Record<string, unknown>) => () =>
    new HTTPConnectionPool("127.0.0.1", options as never);
  assert.throws(make({ idleTimeout: -1 }), RangeError);
  assert.throws(make({ idleTimeout: "4s" }), TypeError);
  assert.throws(make({ idleTimeout: Infinity }), RangeError);
  assert.throws(make({ maxRequestsPerConnection: 0 }), RangeError);
  assert.throws(make({ maxRequestsPerConnection: 1.5 }), RangeError);
  assert.throws(make({ maxConnectionAge: 0 }), RangeError);
  assert.throws(make({ maxConnectionAge: NaN }), RangeError);
  make({ idleTimeout: 0, maxRequestsPerConnection: null, maxConnectionAge: null })();
  // A manager passes them to its pools; a wrong one fails the request, before any connection.
  const manager = new PoolManager({ idleTimeout: -5 });
  assert.ok(await rejects(manager.request("GET", "http://127.0.0.1:9/")) instanceof RangeError);
  const fresh = new PoolManager();
  assert.throws(
    () => fresh.connectionFromUrl("http://127.0.0.1:9/", { maxConnectionAge: 0 }),
    /maxConnectionAge must be a finite number of milliseconds > 0 or null: 0/,
  );
  await fresh.clear();
  await manager.clear();
});

test("an idle connection the server closed leaves no sweep timer behind", async () => {
  // The pool is never closed: under Deno a timer left pending fails the test.
  const { server } = await keepAliveServer(async (_req, _id, conn) => {
    await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    conn.end();
  });
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port, idleTimeout: 60_000 });
  try {
    assert.equal(text((await pool.request("GET", "/")).data), "ok");
    await waitFor(() => pool.stats.open === 0, "the client sees the close");
    assertAtRest(pool);
  } finally {
    await server.close();
  }
});

test("a connection that comes back closed leaves no sweep timer behind", async () => {
  // The pool is never closed: under Deno a timer left pending fails the test.
  const { server } = await keepAliveServer(async (req, _id, conn) => {
    const close = req.target === "/last";
    const fields = close ? "Connection: close\r\n" : "";
    await conn.write(`HTTP/1.1 200 OK\r\n${fields}Content-Length: 2\r\n\r\nok`);
    if (close) conn.end();
  });
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port, idleTimeout: 60_000 });
  try {
    assert.equal(text((await pool.request("GET", "/")).data), "ok");
    assert.equal(pool.stats.open, 1, "kept idle, the sweep armed");
    assert.equal(text((await pool.request("GET", "/last")).data), "ok");
    assert.equal(pool.stats.open, 0);
    assertAtRest(pool);
  } finally {
    await server.close();
  }
});
