/**
 * `response.timings` (option `timings: true`) and `response.reused`, over plain HTTP and
 * TLS, on new and reused connections.
 */

import { assert, test } from "./_harness.ts";
import { assertAtRest, deferred } from "./_util.ts";
import { serveHttp } from "./_servers.ts";
import { CA_CERT, SERVER_TLS } from "./_certs.ts";
import {
  HTTPConnectionPool,
  HTTPSConnectionPool,
  PoolManager,
  type ResponseTimings,
} from "../mod.ts";

const PHASES = ["queue", "dns", "connect", "tls", "send", "firstByte", "download"] as const;
/** Rounding slack between marks of one clock, in ms. */
const SLACK = 0.5;

/** Every phase a number >= 0, and the phases in turn fit in the total. */
function assertOrdered(timings: ResponseTimings | null): void {
  assert.ok(timings !== null, "timings collected");
  let sum = 0;
  for (const phase of PHASES) {
    const value: number | null = timings[phase];
    assert.equal(typeof value, "number", `${phase} is a number`);
    assert.ok(value! >= 0, `${phase} >= 0: ${value}`);
    sum += value!;
  }
  assert.ok(timings.total! + SLACK >= sum, `phases ${sum} fit in total ${timings.total}`);
}

test("timings: present and ordered; reused false then true, set-up phases 0 when reused", async () => {
  const server = await serveHttp(() => new Response("hello"));
  await using manager = new PoolManager({ timings: true });
  try {
    const first = await manager.request("GET", `${server.url}/`);
    assert.equal(first.reused, false);
    assertOrdered(first.timings);
    assert.ok(first.timings!.total! > 0);
    const again = await manager.request("GET", `${server.url}/`);
    assert.equal(again.reused, true);
    assertOrdered(again.timings);
    assert.deepEqual(
      [again.timings!.dns, again.timings!.connect, again.timings!.tls],
      [0, 0, 0],
    );
    assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(again.timings))), [
      ...PHASES,
      "total",
    ]);
  } finally {
    await server.close();
  }
});

test("timings: off by default (reused still given); a request's own option wins", async () => {
  const server = await serveHttp(() => new Response("hello"));
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
  const timed = new HTTPConnectionPool("127.0.0.1", { port: server.port, timings: true });
  try {
    const plain = await pool.request("GET", "/");
    assert.equal(plain.timings, null);
    assert.equal(plain.reused, false);
    assert.equal((await pool.request("GET", "/")).reused, true);
    assertOrdered((await pool.request("GET", "/", { timings: true })).timings);
    assert.equal((await timed.request("GET", "/", { timings: false })).timings, null);
    assertOrdered((await timed.request("GET", "/")).timings);
    assertAtRest(pool, timed);
  } finally {
    await pool.close();
    await timed.close();
    await server.close();
  }
});

test("timings: a streamed body's download and total are null until it ends", async () => {
  const gate = deferred();
  const server = await serveHttp(() =>
    new Response(
      new ReadableStream({
        async start(controller) {
          controller.enqueue(new TextEncoder().encode("first "));
          await gate.promise;
          controller.enqueue(new TextEncoder().encode("last"));
          controller.close();
        },
      }),
    )
  );
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port, timings: true });
  try {
    const r = await pool.request("GET", "/", { preloadContent: false });
    const timings = r.timings!;
    assert.ok(timings.firstByte >= 0);
    assert.equal(timings.download, null);
    assert.equal(timings.total, null);
    gate.resolve();
    assert.equal(await r.text(), "first last");
    assertOrdered(timings);
    assertAtRest(pool);
  } finally {
    gate.resolve();
    await pool.close();
    await server.close();
  }
});

test("timings: a host name's lookup is its own phase", async () => {
  const server = await serveHttp(() => new Response("named"));
  const pool = new HTTPConnectionPool("localhost", { port: server.port, timings: true });
  try {
    const r = await pool.request("GET", "/");
    assertOrdered(r.timings);
    // Every runtime resolves names through the library's own dialer, which reports it.
    assert.ok(r.timings!.dns > 0, `dns > 0: ${r.timings!.dns}`);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("timings: a new TLS connection reports connect and tls phases", async () => {
  const server = await serveHttp(() => new Response("secure"), { tls: SERVER_TLS });
  const pool = new HTTPSConnectionPool("localhost", {
    port: server.port,
    caCerts: [CA_CERT],
    timings: true,
  });
  try {
    const first = await pool.request("GET", "/");
    assertOrdered(first.timings);
    assert.ok(first.timings!.tls > 0, `tls > 0: ${first.timings!.tls}`);
    const again = await pool.request("GET", "/");
    assert.equal(again.reused, true);
    assert.equal(again.timings!.tls, 0);
  } finally {
    await pool.close();
    await server.close();
  }
});
