/**
 * `pool.stats` and `manager.stats`: undici's counts (`connected`, `free`, `pending`,
 * `queued`, `running`, `size`) and open HTTP/2 `streams`, per origin and in total, during
 * and after requests.
 */

import { assert, test } from "../_harness.ts";
import { assertAtRest, deferred, ownCounts, waitFor } from "../_util.ts";
import { serveHttp } from "../_servers.ts";
import { HTTPConnectionPool, PoolManager } from "../../mod.ts";
import { type FrameRequest, frameServer } from "../http2/_frame_server.ts";
import { SettingId } from "../../src/http2/frames.ts";

const IDLE = { connected: 0, free: 0, pending: 0, queued: 0, running: 0, size: 0, streams: 0 };

/** A server whose answers wait for `open` to resolve; `arrived` counts requests. */
async function gatedServer() {
  const gate = deferred();
  let arrived = 0;
  const server = await serveHttp(async () => {
    arrived++;
    await gate.promise;
    return new Response("ok");
  });
  return { server, open: () => gate.resolve(), arrived: () => arrived };
}

test("manager.stats: per origin and total, with a blocking pool's waiters", async () => {
  const a = await gatedServer();
  const b = await gatedServer();
  await using manager = new PoolManager({ maxSize: 1, block: true });
  try {
    assert.deepEqual(manager.stats, { total: IDLE });
    const first = [1, 2, 3].map(() => manager.request("GET", `${a.server.url}/`));
    const second = manager.request("GET", `${b.server.url}/`);
    await waitFor(() => a.arrived() === 1 && b.arrived() === 1, "both servers reached");
    const stats = manager.stats;
    assert.deepEqual(stats[a.server.url], {
      connected: 1,
      free: 0,
      pending: 2,
      queued: 2,
      running: 1,
      size: 3,
      streams: 0,
    });
    assert.deepEqual(stats[b.server.url], { ...IDLE, connected: 1, running: 1, size: 1 });
    assert.deepEqual(stats.total, {
      connected: 2,
      free: 0,
      pending: 2,
      queued: 2,
      running: 2,
      size: 4,
      streams: 0,
    });
    a.open();
    b.open();
    await Promise.all([...first, second]);
    const after = manager.stats;
    const rested = { ...IDLE, connected: 1, free: 1 };
    assert.deepEqual(after[a.server.url], rested);
    assert.deepEqual(after[b.server.url], rested);
    assert.deepEqual(after.total, { ...IDLE, connected: 2, free: 2 });
  } finally {
    a.open();
    b.open();
    await a.server.close();
    await b.server.close();
  }
});

test("pool.stats: keeps its own counts beside undici's; a connection opening is pending", async () => {
  const { server, open } = await gatedServer();
  open();
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port, maxSize: 2 });
  try {
    const request = pool.request("GET", "/");
    // Taken at once, still connecting: pending, not running, not connected.
    assert.deepEqual(pool.stats, {
      idle: 0,
      inUse: 1,
      queued: 0,
      open: 1,
      connected: 0,
      free: 0,
      pending: 1,
      running: 0,
      size: 1,
      streams: 0,
    });
    await request;
    assert.deepEqual(ownCounts(pool), { idle: 1, inUse: 0, queued: 0, open: 1 });
    const streamed = await pool.request("GET", "/", { preloadContent: false });
    // A response that holds its connection is still running.
    assert.equal(pool.stats.running, 1);
    assert.equal(pool.stats.free, 0);
    await streamed.text();
    assert.deepEqual({ ...pool.stats }, {
      idle: 1,
      inUse: 0,
      queued: 0,
      open: 1,
      connected: 1,
      free: 1,
      pending: 0,
      running: 0,
      size: 0,
      streams: 0,
    });
    assertAtRest(pool);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("manager.stats: a closed manager counts nothing", async () => {
  const { server, open } = await gatedServer();
  open();
  const manager = new PoolManager();
  try {
    await manager.request("GET", `${server.url}/`);
    assert.equal(manager.stats[server.url].free, 1);
    await manager.close();
    assert.deepEqual(manager.stats, { total: IDLE });
  } finally {
    await manager.close();
    await server.close();
  }
});

test("manager.stats: open HTTP/2 streams per origin and in total", async () => {
  const held: FrameRequest[] = [];
  const hold = (request: FrameRequest) => void held.push(request);
  const settings = [SettingId.MAX_CONCURRENT_STREAMS, 10];
  const a = await frameServer(hold, { settings });
  const b = await frameServer(hold, { settings });
  const manager = new PoolManager({ http2PriorKnowledge: true, maxSize: 1 });
  try {
    // Settled, not awaited first: a failed assertion below leaves no unhandled rejection.
    const responses = Promise.allSettled([
      ...[1, 2, 3].map((i) => manager.request("GET", `${a.url}/a${i}`)),
      ...[1, 2].map((i) => manager.request("GET", `${b.url}/b${i}`)),
    ]);
    await waitFor(() => held.length === 5, "5 streams open");
    const stats = manager.stats;
    assert.equal(stats[a.url].streams, 3);
    assert.equal(stats[b.url].streams, 2);
    assert.equal(stats.total.streams, 5);
    assert.equal(stats.total.running, 5);
    for (const request of held) {
      request.connection.respond(request.streamId, [":status", "200"], request.path);
    }
    for (const result of await responses) {
      assert.equal(result.status === "fulfilled" && result.value.status, 200, String(result));
    }
    assert.deepEqual(manager.stats.total, { ...IDLE, connected: 2, free: 2 });
    assertAtRest(...manager.pools.values());
  } finally {
    await manager.close();
    await a.close();
    await b.close();
  }
});
