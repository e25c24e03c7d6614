/**
 * `HTTPResponse` against real loopback servers (or, for canned responses, the testing kit's
 * mock origins): status line and headers as sent, the preloaded body, and streaming with
 * `preloadContent: false` (`read`, `stream`, `body`), with what each way of finishing a body
 * does to the connection (urllib3 rows 38 and 90-103).
 */

import { assert, test } from "./_harness.ts";
import { assertAtRest, keepAliveServer, ownCounts, text } from "./_util.ts";
import { rawServer, serveHttp } from "./_servers.ts";
import { HTTPConnectionPool, type HTTPResponse } from "../mod.ts";
import { concatBytes } from "../src/_bytes.ts";
import { MockAgent, type MockPool } from "../testing.ts";

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(condition: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * A pool for `http://api.test` whose connections are the testing kit's mock sockets: for
 * tests that only need canned responses (the bytes still go through the whole engine).
 */
function mockedPool(
  setUp: (api: MockPool) => void,
): { agent: MockAgent; pool: HTTPConnectionPool } {
  const agent = new MockAgent();
  agent.disableNetConnect();
  setUp(agent.get("http://api.test"));
  return { agent, pool: new HTTPConnectionPool("api.test", { connector: agent }) };
}

/** `n` bytes of a repeating, position-dependent pattern. */
function pattern(n: number, seed = 0): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed + (i >> 8)) & 0xff;
  return out;
}

/**
 * Serves `/id` with the connection id, and `/slow/N` with an N-byte body (Content-Length)
 * sent in 7-byte pieces a few ms apart, starting with the connection id as one byte.
 */
function slowServer() {
  return keepAliveServer(async (req, id, conn) => {
    if (req.target === "/id") {
      await conn.write(`HTTP/1.1 200 OK\r\nContent-Length: ${String(id).length}\r\n\r\n${id}`);
      return;
    }
    const size = Number(req.target.split("/")[2]);
    const body = pattern(size, id);
    await conn.write(`HTTP/1.1 200 OK\r\nContent-Length: ${size}\r\n\r\n`);
    for (let at = 0; at < size; at += 7) {
      await conn.write(body.subarray(at, at + 7));
      await sleep(1);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// status line and headers
// ---------------------------------------------------------------------------------------------

test("status, reason, version and headers as the server sent them", async () => {
  const server = await rawServer(async (conn) => {
    await conn.readRequest();
    await conn.write(
      "HTTP/1.1 201 Created Just Now\r\n" +
        "X-First: 1\r\n" +
        "Set-Cookie: a=1; Path=/\r\n" +
        "Content-Type: application/json\r\n" +
        "set-cookie: b=2\r\n" +
        "X-Mixed-CASE: v\r\n" +
        "Content-Length: 11\r\n" +
        "\r\n" +
        '{"ok":true}',
    );
  });
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
  try {
    const r = await pool.request("GET", "/");
    assert.equal(r.status, 201);
    assert.equal(r.reason, "Created Just Now");
    assert.equal(r.version, 11);
    assert.equal(r.versionString, "HTTP/1.1");
    assert.deepEqual([...r.headers], [
      ["X-First", "1"],
      ["Set-Cookie", "a=1; Path=/"],
      ["Content-Type", "application/json"],
      ["Set-Cookie", "b=2"], // a repeated name keeps its first-seen case
      ["X-Mixed-CASE", "v"],
      ["Content-Length", "11"],
    ]);
    assert.deepEqual([...r.headers.keys()], [
      "X-First",
      "Set-Cookie",
      "Content-Type",
      "X-Mixed-CASE",
      "Content-Length",
    ]);
    assert.deepEqual(r.headers.getList("Set-Cookie"), ["a=1; Path=/", "b=2"]);
    assert.equal(r.headers.get("SET-COOKIE"), "a=1; Path=/, b=2");
    assert.equal(r.headers.get("x-mixed-case"), "v");
    assert.equal(r.headers.get("content-type"), "application/json");
    assert.equal(r.headers.has("x-absent"), false);
    assert.equal(text(r.data), '{"ok":true}');
    assert.equal(await r.bytes(), r.data);
    assert.equal(await r.text(), '{"ok":true}');
    assert.deepEqual(await r.json(), { ok: true });
    assert.equal(r.url, `http://127.0.0.1:${server.port}/`);
    assert.equal(r.connection, null);
    assert.equal(r.getRedirectLocation(), false);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("an HTTP/1.0 response read until close has version 10", async () => {
  const server = await rawServer(async (conn) => {
    await conn.readRequest();
    await conn.write("HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\n\r\nno such thing");
    conn.end();
  });
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
  try {
    const r = await pool.request("GET", "/missing");
    assert.equal(r.status, 404);
    assert.equal(r.reason, "Not Found");
    assert.equal(r.version, 10);
    assert.equal(r.versionString, "HTTP/1.0");
    assert.equal(text(r.data), "no such thing");
    assert.equal(pool.stats.inUse, 0);
    assert.equal(pool.stats.open, 0, "an HTTP/1.0 connection is not kept");
  } finally {
    await pool.close();
    await server.close();
  }
});

test("a preloaded response: data, bytes(), text(), json()", async () => {
  const { agent, pool } = mockedPool((api) =>
    api.intercept({ path: "/" }).reply(200, { hello: "wörld", n: [1, 2] })
  );
  try {
    const r = await pool.request("GET", "/");
    assert.equal(r.status, 200);
    assert.equal(r.reason, "OK");
    assert.match(r.headers.get("content-type") ?? "", /^application\/json/);
    assert.ok(r.data instanceof Uint8Array);
    assert.equal(text(r.data), '{"hello":"wörld","n":[1,2]}');
    assert.deepEqual(await r.json(), { hello: "wörld", n: [1, 2] });
    assert.equal(await r.text(), '{"hello":"wörld","n":[1,2]}');
    // read() and stream() serve a preloaded body from memory.
    assert.equal(text(await r.read(5)), '{"hel');
    const rest: Uint8Array[] = [];
    for await (const piece of r.stream(4)) rest.push(piece);
    assert.equal(text(concatBytes(rest)), 'lo":"wörld","n":[1,2]}');
    assert.equal((await r.read()).length, 0);
  } finally {
    await pool.close();
    await agent.close();
  }
});

test("a preloaded body owns its buffer: transferring one leaves the others intact", async () => {
  const { agent, pool } = mockedPool((api) =>
    api.intercept({ path: /^\/(first|second)$/ }).reply(200, (request) => request.path).times(2)
  );
  try {
    const first = await pool.request("GET", "/first");
    const second = await pool.request("GET", "/second");
    for (const r of [first, second]) {
      assert.equal(r.data.byteOffset, 0);
      assert.equal(r.data.buffer.byteLength, r.data.length);
    }
    // Detaching one body's buffer (as postMessage with a transfer list does) must not touch
    // the other body, nor show it any bytes but its own.
    const buffer = first.data.buffer as ArrayBuffer;
    const moved = structuredClone(buffer, { transfer: [buffer] });
    assert.equal(text(new Uint8Array(moved)), "/first");
    assert.equal(first.data.length, 0);
    assert.equal(text(second.data), "/second");
  } finally {
    await pool.close();
    await agent.close();
  }
});

// ---------------------------------------------------------------------------------------------
// preloadContent: false
// ---------------------------------------------------------------------------------------------

test("preloadContent false: data throws a TypeError that points at read()", async () => {
  const { agent, pool } = mockedPool((api) => api.intercept({ path: "/" }).reply(200, "streamed"));
  try {
    const r = await pool.request("GET", "/", { preloadContent: false });
    assert.throws(() => r.data, (error: unknown) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /read\(\)/);
      return true;
    });
    assert.equal(await r.text(), "streamed");
    // Once read with bytes()/text(), data is available.
    assert.equal(text(r.data), "streamed");
    assert.equal(pool.stats.inUse, 0);
  } finally {
    await pool.close();
    await agent.close();
  }
});

test("read(amt) returns exactly amt bytes until the end, then the connection is back", async () => {
  const { server } = await slowServer();
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
  try {
    const r = await pool.request("GET", "/slow/100", { preloadContent: false });
    assert.notEqual(r.connection, null);
    assert.equal(pool.stats.inUse, 1);
    const pieces: Uint8Array[] = [];
    for (let i = 0; i < 10; i++) {
      const piece = await r.read(10);
      assert.equal(piece.length, 10, `piece ${i}`);
      pieces.push(piece);
    }
    assert.deepEqual(concatBytes(pieces), pattern(100, 1));
    assert.equal((await r.read(10)).length, 0, "empty at the end");
    assert.equal((await r.read()).length, 0);
    assert.equal(r.connection, null);
    assert.deepEqual(ownCounts(pool), { idle: 1, inUse: 0, queued: 0, open: 1 });
    assert.equal(text((await pool.request("GET", "/id")).data), "1", "the connection was reused");
  } finally {
    await pool.close();
    await server.close();
  }
});

test("read(amt) with a larger amt, read(0) and read() of the rest", async () => {
  const { server } = await slowServer();
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
  try {
    const r = await pool.request("GET", "/slow/50", { preloadContent: false });
    assert.equal((await r.read(0)).length, 0);
    const first = await r.read(33);
    assert.equal(first.length, 33);
    const rest = await r.read();
    assert.equal(rest.length, 17);
    assert.deepEqual(concatBytes([first, rest]), pattern(50, 1));
    assert.equal((await r.read(1000)).length, 0);
    await assert.rejects(() => r.read(-1), RangeError);
    assert.equal(pool.stats.inUse, 0);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("stream(amt) yields pieces of amt bytes and never an empty one", async () => {
  const { server } = await keepAliveServer(async (_req, _id, conn) => {
    await conn.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (const piece of ["abc", "defghij", "k", "lmnopqrstu", "vwxyz"]) {
      await conn.write(`${piece.length.toString(16)}\r\n${piece}\r\n`);
      await sleep(2);
    }
    await conn.write("0\r\n\r\n");
  });
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
  try {
    const r = await pool.request("GET", "/", { preloadContent: false });
    const pieces: string[] = [];
    for await (const piece of r.stream(4)) {
      assert.ok(piece.length > 0, "no empty piece");
      pieces.push(text(piece));
    }
    assert.deepEqual(pieces, ["abcd", "efgh", "ijkl", "mnop", "qrst", "uvwx", "yz"]);
    assert.equal(pool.stats.inUse, 0);

    // Default amount: whatever arrives, never an empty piece.
    const again = await pool.request("GET", "/", { preloadContent: false });
    const all: Uint8Array[] = [];
    for await (const piece of again.stream()) {
      assert.ok(piece.length > 0, "no empty piece");
      all.push(piece);
    }
    assert.equal(text(concatBytes(all)), "abcdefghijklmnopqrstuvwxyz");
    assert.equal(pool.stats.inUse, 0);
    assert.equal(pool.numConnections, 1);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("stream() of an empty body yields nothing", async () => {
  const { agent, pool } = mockedPool((api) => api.intercept({ path: "/" }).reply(204));
  try {
    const r = await pool.request("GET", "/", { preloadContent: false });
    assert.equal(r.status, 204);
    let count = 0;
    for await (const _ of r.stream(10)) count++;
    assert.equal(count, 0);
    assert.equal(pool.stats.inUse, 0);
  } finally {
    await pool.close();
    await agent.close();
  }
});

test("body is a ReadableStream of the whole body; the connection returns at its end", async () => {
  const { server } = await slowServer();
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
  try {
    const r = await pool.request("GET", "/slow/200", { preloadContent: false });
    assert.ok(r.body instanceof ReadableStream);
    assert.equal(r.body, r.body, "the same stream each time");
    const pieces: Uint8Array[] = [];
    const reader = r.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      assert.ok(value.length > 0);
      pieces.push(value);
    }
    assert.deepEqual(concatBytes(pieces), pattern(200, 1));
    assert.deepEqual(ownCounts(pool), { idle: 1, inUse: 0, queued: 0, open: 1 });

    const viaResponse = await pool.request("GET", "/slow/64", { preloadContent: false });
    const bytes = new Uint8Array(await new Response(viaResponse.body).arrayBuffer());
    assert.deepEqual(bytes, pattern(64, 1));
    assert.equal(pool.stats.inUse, 0);
    assert.equal(server.connections, 1);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("cancelling body before its end closes the connection", async () => {
  // 100000 bytes announced, 70000 sent: body's first piece (64 KiB) arrives, the rest never.
  const { server, closed } = await keepAliveServer(async (req, id, conn) => {
    if (req.target === "/id") {
      await conn.write(`HTTP/1.1 200 OK\r\nContent-Length: ${String(id).length}\r\n\r\n${id}`);
      return;
    }
    await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
    await conn.write(pattern(70_000));
  });
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
  try {
    const r = await pool.request("GET", "/big", { preloadContent: false });
    const reader = r.body.getReader();
    const first = await reader.read();
    assert.ok((first.value?.length ?? 0) > 0);
    assert.equal(pool.stats.inUse, 1);
    await reader.cancel();
    assert.equal(pool.stats.inUse, 0);
    assert.equal(r.connection, null);
    await waitFor(() => closed.includes(1), "the server to see the connection close");
    assert.equal(text((await pool.request("GET", "/id")).data), "2");
  } finally {
    await pool.close();
    await server.close();
  }
});

test("releaseConn() on a half-read body closes the connection: the next request reconnects", async () => {
  const { server, closed } = await slowServer();
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
  try {
    const r = await pool.request("GET", "/slow/300", { preloadContent: false });
    assert.equal((await r.read(20)).length, 20);
    r.releaseConn();
    assert.equal(r.connection, null);
    assert.equal(pool.stats.inUse, 0);
    assert.equal(pool.stats.open, 0, "the half-read connection is not kept open");
    await waitFor(() => closed.includes(1), "the server to see the connection close");
    const next = await pool.request("GET", "/id");
    assert.equal(text(next.data), "2", "a new socket");
    assert.equal(server.connections, 2);
    r.releaseConn(); // twice is harmless
    assert.equal(pool.stats.inUse, 0);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("drainConn() reads the rest and returns the connection for reuse", async () => {
  const { server, closed } = await slowServer();
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
  try {
    const r = await pool.request("GET", "/slow/300", { preloadContent: false });
    assert.equal((await r.read(20)).length, 20);
    await r.drainConn();
    assert.equal(r.connection, null);
    assert.deepEqual(ownCounts(pool), { idle: 1, inUse: 0, queued: 0, open: 1 });
    const next = await pool.request("GET", "/id");
    assert.equal(text(next.data), "1", "the same socket");
    assert.equal(server.connections, 1);
    assert.deepEqual(closed, []);
    assert.equal((await r.read()).length, 0, "nothing left after draining");
  } finally {
    await pool.close();
    await server.close();
  }
});

test("close() on a streaming response closes its connection", async () => {
  const { server, closed } = await slowServer();
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
  try {
    const r = await pool.request("GET", "/slow/300", { preloadContent: false });
    await r.read(7);
    r.close();
    assert.equal(pool.stats.inUse, 0);
    assert.equal((await r.read()).length, 0);
    await waitFor(() => closed.includes(1), "the server to see the connection close");
  } finally {
    await pool.close();
    await server.close();
  }
});

// The next tests stream `/id`, whose one-byte body arrives with its head: the body is whole
// (and, before the fix, the connection was already back in the pool) before anyone reads it.

test("close() closes the connection even when the whole body has arrived", async () => {
  const { server, closed } = await slowServer();
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
  try {
    const r = await pool.request("GET", "/id", { preloadContent: false });
    await sleep(20);
    assert.notEqual(r.connection, null, "held until the body is read");
    assert.equal(pool.stats.inUse, 1);
    r.close();
    assert.equal(r.connection, null);
    await waitFor(() => closed.includes(1), "the server to see the connection close");
    assert.equal(text((await pool.request("GET", "/id")).data), "2", "a new socket");
    assertAtRest(pool);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("drainConn() on a whole unread body gives the held connection back for reuse", async () => {
  const { server, closed } = await slowServer();
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
  try {
    const r = await pool.request("GET", "/id", { preloadContent: false });
    await sleep(20);
    assert.notEqual(r.connection, null, "held until drained");
    assert.equal(pool.stats.inUse, 1);
    await r.drainConn();
    assert.equal(r.connection, null);
    assert.deepEqual(ownCounts(pool), { idle: 1, inUse: 0, queued: 0, open: 1 });
    assert.equal(text((await pool.request("GET", "/id")).data), "1", "the same socket");
    assert.deepEqual(closed, []);
    assertAtRest(pool);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("releaseConn(): a body read to its end is reused, a whole body left unread is closed", async () => {
  const { server, closed } = await slowServer();
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
  try {
    const read = await pool.request("GET", "/id", { preloadContent: false });
    assert.equal(text(await read.read()), "1");
    read.releaseConn();
    assert.equal(pool.stats.idle, 1, "read to its end: back for reuse");
    const unread = await pool.request("GET", "/id", { preloadContent: false });
    await sleep(20);
    assert.equal(pool.stats.inUse, 1, "held until released");
    unread.releaseConn();
    assert.equal(unread.connection, null);
    assertAtRest(pool);
    await waitFor(() => closed.includes(1), "the server to see the unread one close");
    assert.equal(text((await pool.request("GET", "/id")).data), "2", "a new socket");
    assertAtRest(pool);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("a small streamed body read with text() gives its connection back for reuse", async () => {
  const server = await serveHttp(() => new Response("small"));
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
  try {
    const r = await pool.request("GET", "/", { preloadContent: false });
    assert.equal(await r.text(), "small");
    assert.equal(r.connection, null);
    assert.equal(pool.stats.inUse, 0);
    await pool.request("GET", "/");
    assert.equal(pool.numConnections, 1);
  } finally {
    await pool.close();
    await server.close();
  }
});

// ---------------------------------------------------------------------------------------------
// redirects
// ---------------------------------------------------------------------------------------------

test("getRedirectLocation(): the Location of a 3xx, null without one, false otherwise", async () => {
  const server = await serveHttp((req) => {
    const path = new URL(req.url).pathname;
    if (path === "/moved") {
      return new Response(null, { status: 301, headers: { location: "/new/place?x=1" } });
    }
    if (path === "/nowhere") return new Response(null, { status: 302 });
    if (path === "/other") {
      return new Response(null, { status: 303, headers: { location: "http://example.com/" } });
    }
    if (path === "/created") {
      return new Response("made", { status: 201, headers: { location: "/thing/1" } });
    }
    return new Response("plain");
  });
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
  const get = (path: string): Promise<HTTPResponse> =>
    pool.request("GET", path, { redirect: false });
  try {
    assert.equal((await get("/moved")).getRedirectLocation(), "/new/place?x=1");
    assert.equal((await get("/nowhere")).getRedirectLocation(), null);
    assert.equal((await get("/other")).getRedirectLocation(), "http://example.com/");
    assert.equal((await get("/created")).getRedirectLocation(), false);
    assert.equal((await get("/")).getRedirectLocation(), false);
    // A 3xx without Location is returned as is even when following redirects.
    const kept = await pool.request("GET", "/nowhere");
    assert.equal(kept.status, 302);
    assert.equal(pool.stats.inUse, 0);
  } finally {
    await pool.close();
    await server.close();
  }
});

// ---------------------------------------------------------------------------------------------
// large bodies
// ---------------------------------------------------------------------------------------------

test("a 1 MiB body round trip, preloaded and streamed", async () => {
  const server = await serveHttp(async (req) => {
    const body = new Uint8Array(await req.arrayBuffer());
    return new Response(body, { headers: { "x-received": String(body.length) } });
  });
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
  try {
    const payload = pattern(1024 * 1024, 7);
    const r = await pool.request("POST", "/echo", { body: payload });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("x-received"), String(payload.length));
    assert.equal(r.data.length, payload.length);
    assert.deepEqual(r.data, payload);

    const streamed = await pool.request("PUT", "/echo", {
      body: payload,
      preloadContent: false,
    });
    const pieces: Uint8Array[] = [];
    for await (const piece of streamed.stream(64 * 1024)) {
      assert.ok(piece.length > 0 && piece.length <= 64 * 1024);
      pieces.push(piece);
    }
    assert.equal(pieces.length, 16);
    assert.deepEqual(concatBytes(pieces), payload);
    assert.equal(pool.stats.inUse, 0);
    assert.equal(pool.numConnections, 1);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("a 1 MiB chunked upload from a ReadableStream arrives intact", async () => {
  const server = await serveHttp(async (req) => {
    const body = new Uint8Array(await req.arrayBuffer());
    let sum = 0;
    for (const byte of body) sum = (sum + byte) % 1_000_000_007;
    return Response.json({ length: body.length, sum, te: req.headers.get("transfer-encoding") });
  });
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
  try {
    const payload = pattern(1024 * 1024, 3);
    let expected = 0;
    for (const byte of payload) expected = (expected + byte) % 1_000_000_007;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < payload.length; at += 100_000) {
          controller.enqueue(payload.slice(at, at + 100_000));
        }
        controller.close();
      },
    });
    const r = await pool.request("POST", "/", { body });
    assert.deepEqual(await r.json(), { length: payload.length, sum: expected, te: "chunked" });
    assert.equal(pool.stats.inUse, 0);
  } finally {
    await pool.close();
    await server.close();
  }
});
