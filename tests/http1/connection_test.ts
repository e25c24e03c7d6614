/**
 * The HTTP/1.1 engine through `HTTPConnectionPool` against raw loopback servers that
 * misbehave on purpose: idle closes, races, resets, truncation, extra bytes, stalls.
 * After every case the pool must be back at rest (nothing in use, nobody waiting).
 */

import { assert, test } from "../_harness.ts";
import { sleep, waitFor } from "../_util.ts";
import { type RawConnection, type RawServer, rawServer } from "../_servers.ts";
import {
  defaultConnector,
  HTTPConnectionPool,
  IncompleteRead,
  MaxRetryError,
  ProtocolError,
  ReadTimeoutError,
  StaleConnectionError,
  Timeout,
} from "../../mod.ts";
import type { ConnectionPoolOptions } from "../../mod.ts";
import { DEFAULT_PARSER_LIMITS } from "../../src/http1/response_parser.ts";
import { HTTPConnection } from "../../src/http1/connection.ts";
import { RequestDescriptor, type ResponseListener } from "../../src/request/_descriptor.ts";
import { NO_BODY } from "../../src/body/request_body.ts";

const OK = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
const utf8 = new TextDecoder();

interface Harness {
  server: RawServer;
  pool: HTTPConnectionPool;
  /** Accepted connections, in order. */
  conns: RawConnection[];
  /** Requests read per connection (index = connection). */
  requests: string[][];
}

type Handler = (conn: RawConnection, index: number, h: Harness) => Promise<void>;

/**
 * Runs `fn` against a raw server driven by `handler` and a pool on it. Afterwards the pool
 * must be at rest; then the pool and the server are closed and every handler has returned
 * (so that no timer outlives the test).
 */
async function withServer(
  handler: Handler,
  fn: (h: Harness) => Promise<void>,
  poolOptions: ConnectionPoolOptions = {},
): Promise<void> {
  const handlers: Promise<void>[] = [];
  const h = { conns: [], requests: [] } as unknown as Harness;
  h.server = await rawServer((conn) => {
    const index = h.conns.length;
    h.conns.push(conn);
    h.requests.push([]);
    const done = handler(conn, index, h);
    handlers.push(done.catch(() => {}));
    return done;
  });
  h.pool = new HTTPConnectionPool("127.0.0.1", { port: h.server.port, ...poolOptions });
  try {
    await fn(h);
    assert.equal(h.pool.stats.inUse, 0, "no connection in use");
    assert.equal(h.pool.stats.queued, 0, "nobody waiting");
  } finally {
    await h.pool.close();
    await h.server.close();
    await Promise.all(handlers);
  }
}

/** Reads one request and records its head; null when the client went away. */
async function read(conn: RawConnection, index: number, h: Harness): Promise<string | null> {
  try {
    const request = await conn.readRequest();
    h.requests[index].push(`${request.method} ${request.target}`);
    return request.head;
  } catch {
    return null;
  }
}

/** Answers every request on the connection with `response(n)` until the client leaves. */
function answering(response: (n: number) => string): Handler {
  return async (conn, index, h) => {
    for (let n = 0;; n++) {
      if (await read(conn, index, h) === null) return;
      await conn.write(response(n));
    }
  };
}

function assertError<T extends Error>(
  error: unknown,
  kind: new (...args: never[]) => T,
  message?: RegExp,
): asserts error is T {
  assert.ok(error instanceof kind, `expected ${kind.name}, got ${error}`);
  if (message) assert.match(error.message, message);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("expected a rejection");
}

// ---------------------------------------------------------------------------------------
// Keep-alive and reconnection

test("connection: a server closing an idle keep-alive connection is never an error", async () => {
  await withServer(async (conn, index, h) => {
    if (await read(conn, index, h) === null) return;
    await conn.write(OK);
    await sleep(10);
    conn.end();
  }, async ({ pool, server, conns }) => {
    for (let round = 1; round <= 4; round++) {
      const r = await pool.request("GET", `/round${round}`);
      assert.equal(utf8.decode(r.data), "ok");
      await waitFor(() => conns.length === round && conns[round - 1].ended, "the server's close");
      await waitFor(() => pool.stats.open === 0, "the client to see the close");
    }
    assert.equal(server.connections, 4);
    assert.equal(pool.numConnections, 1, "the same connection object reconnects");
    assert.equal(pool.numRequests, 4);
  }, { retries: false });
});

test("connection: the server closing right after its response (race) still works for GET", async () => {
  for (const retries of [false, undefined]) {
    await withServer(async (conn, index, h) => {
      if (await read(conn, index, h) === null) return;
      await conn.write(OK);
      conn.end();
    }, async ({ pool, server, requests }) => {
      for (let i = 0; i < 20; i++) {
        const r = await pool.request("GET", `/r${i}`);
        assert.equal(r.status, 200);
        assert.equal(utf8.decode(r.data), "ok");
      }
      assert.equal(pool.numConnections, 1);
      assert.equal(server.connections, 20);
      assert.ok(requests.every((list) => list.length === 1));
    }, { retries });
  }
});

test("connection: a kept-alive connection closed when the next request arrives is replaced for GET", async () => {
  await withServer(async (conn, index, h) => {
    if (await read(conn, index, h) === null) return;
    await conn.write(OK);
    // Reads the next request, then closes without a word.
    if (await read(conn, index, h) === null) return;
    conn.end();
  }, async ({ pool, server, requests }) => {
    assert.equal((await pool.request("GET", "/a")).status, 200);
    assert.equal((await pool.request("GET", "/b")).status, 200);
    assert.equal(server.connections, 2);
    assert.deepEqual(requests, [["GET /a", "GET /b"], ["GET /b"]]);
  }, { retries: false });
});

test("connection: a POST on a kept-alive connection closed before answering is not resent", async () => {
  await withServer(async (conn, index, h) => {
    if (await read(conn, index, h) === null) return;
    await conn.write(OK);
    if (await read(conn, index, h) === null) return;
    conn.end();
  }, async ({ pool, server, requests }) => {
    assert.equal((await pool.request("POST", "/a", { body: "1" })).status, 200);
    const error = await rejection(pool.request("POST", "/b", { body: "2" }));
    assertError(error, ProtocolError);
    assert.ok(error instanceof StaleConnectionError, `${error}`);
    assert.equal(server.connections, 1);
    assert.deepEqual(requests, [["POST /a", "POST /b"]]);
    // The pool recovers.
    assert.equal((await pool.request("POST", "/c", { body: "3" })).status, 200);
  });
});

test("connection: Connection: close (and HTTP/1.0) responses send the next request on a new socket", async () => {
  const leftovers: number[] = [];
  const responses = [
    "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
    "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 2\r\n\r\nok",
    "HTTP/1.1 200 OK\r\n\r\nok", // close-delimited: the server's close ends it
  ];
  await withServer(async (conn, index, h) => {
    if (await read(conn, index, h) === null) return;
    await conn.write(responses[index % responses.length]);
    conn.end();
    // The client must not write anything more on this socket.
    leftovers.push((await conn.readToEnd()).length);
  }, async ({ pool, server, requests }) => {
    for (let i = 0; i < responses.length * 2; i++) {
      const r = await pool.request("GET", `/c${i}`);
      assert.equal(utf8.decode(r.data), "ok");
    }
    assert.equal(server.connections, responses.length * 2);
    assert.ok(requests.every((list) => list.length === 1), JSON.stringify(requests));
    assert.equal(pool.numConnections, 1);
    await waitFor(() => leftovers.length === responses.length * 2, "every socket to end");
    assert.ok(leftovers.every((n) => n === 0), `bytes after the response: ${leftovers}`);
  }, { retries: false });
});

test("connection: a keep-alive HTTP/1.0 response keeps the socket", async () => {
  await withServer(
    answering(() => "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok"),
    async ({ pool, server }) => {
      for (let i = 0; i < 3; i++) assert.equal((await pool.request("GET", "/")).version, 10);
      assert.equal(server.connections, 1);
    },
  );
});

test("connection: bodiless, chunked and interim responses keep the socket", async () => {
  const responses = [
    "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", // to HEAD
    "HTTP/1.1 204 No Content\r\n\r\n",
    "HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nT: 1\r\n\r\n",
    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" + OK,
    OK,
  ];
  await withServer(answering((n) => responses[n]), async ({ pool, server }) => {
    const head = await pool.request("HEAD", "/");
    assert.deepEqual([head.status, head.data.length, head.headers.get("content-length")], [
      200,
      0,
      "1000",
    ]);
    assert.equal((await pool.request("GET", "/")).status, 204);
    assert.equal((await pool.request("GET", "/")).status, 304);
    const chunked = await pool.request("GET", "/", { preloadContent: false });
    assert.equal(utf8.decode(await chunked.read()), "ok");
    assert.equal(chunked.trailers.get("t"), "1");
    const interim = await pool.request("GET", "/");
    assert.deepEqual([interim.status, interim.headers.has("link")], [200, false]);
    assert.equal(utf8.decode((await pool.request("GET", "/")).data), "ok");
    assert.equal(server.connections, 1);
  }, { retries: false });
});

// ---------------------------------------------------------------------------------------
// Failures

test("connection: a fresh connection closed without a response is a ProtocolError after retries", async () => {
  const closeSilently: Handler = async (conn, index, h) => {
    if (await read(conn, index, h) === null) return;
    conn.end();
  };
  await withServer(closeSilently, async ({ pool, server }) => {
    const error = await rejection(pool.request("GET", "/"));
    assertError(error, MaxRetryError);
    assertError(error.reason, ProtocolError, /Connection aborted/);
    assert.ok(!(error.reason instanceof StaleConnectionError));
    assert.equal(server.connections, 4, "the first attempt and 3 retries");
  });
  await withServer(closeSilently, async ({ pool, server }) => {
    const error = await rejection(pool.request("GET", "/", { retries: false }));
    assertError(error, ProtocolError, /Connection aborted/);
    assert.ok(!(error instanceof StaleConnectionError));
    assert.equal(server.connections, 1);
  });
});

test("connection: a reset in the middle of the head is a ProtocolError", async () => {
  await withServer(async (conn, index, h) => {
    if (await read(conn, index, h) === null) return;
    await conn.write("HTTP/1.1 200 OK\r\nContent-Le");
    await sleep(20);
    conn.destroy();
  }, async ({ pool, server }) => {
    const error = await rejection(pool.request("GET", "/"));
    assertError(error, ProtocolError);
    assert.equal(server.connections, 1);
  }, { retries: false });
});

test("connection: a reset in the middle of the body is a ProtocolError (preloaded or streamed)", async () => {
  await withServer(async (conn, index, h) => {
    if (await read(conn, index, h) === null) return;
    await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    await sleep(30);
    conn.destroy();
  }, async ({ pool }) => {
    assertError(await rejection(pool.request("GET", "/")), ProtocolError);
    const r = await pool.request("GET", "/", { preloadContent: false });
    assert.equal(r.status, 200);
    assert.equal(pool.stats.inUse, 1, "the body holds the connection");
    assertError(await rejection(r.read()), ProtocolError);
  }, { retries: false });
});

test("connection: a reset is retried on a new connection", async () => {
  await withServer(async (conn, index, h) => {
    if (await read(conn, index, h) === null) return;
    if (index === 0) {
      await conn.write("HTTP/1.1 200 OK\r\n");
      await sleep(20);
      conn.destroy();
      return;
    }
    await conn.write(OK);
  }, async ({ pool, server }) => {
    const r = await pool.request("GET", "/");
    assert.equal(utf8.decode(r.data), "ok");
    assert.equal(r.retries?.history.length, 1);
    assert.equal(server.connections, 2);
  }, { retries: 1 });
});

test("connection: a body shorter than Content-Length is a ProtocolError caused by IncompleteRead", async () => {
  await withServer(async (conn, index, h) => {
    if (await read(conn, index, h) === null) return;
    await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    conn.end();
  }, async ({ pool }) => {
    const error = await rejection(pool.request("GET", "/"));
    assertError(error, ProtocolError, /IncompleteRead\(3 bytes read, 7 more expected\)/);
    assert.ok(error.cause instanceof IncompleteRead, `cause: ${error.cause}`);
    assert.deepEqual([error.cause.partial, error.cause.expected], [3, 7]);

    const r = await pool.request("GET", "/", { preloadContent: false });
    const streamed = await rejection(r.read());
    assertError(streamed, ProtocolError);
    assert.ok(streamed.cause instanceof IncompleteRead);
  }, { retries: false });
});

test("connection: a chunked body cut short is a ProtocolError", async () => {
  await withServer(async (conn, index, h) => {
    if (await read(conn, index, h) === null) return;
    await conn.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel");
    conn.end();
  }, async ({ pool }) => {
    assertError(await rejection(pool.request("GET", "/")), ProtocolError, /prematurely/);
  }, { retries: false });
});

test("connection: a malformed response is a ProtocolError and the socket is dropped", async () => {
  await withServer(async (conn, index, h) => {
    if (await read(conn, index, h) === null) return;
    if (index === 0) await conn.write("HTTP/1.1 200 OK\r\nBad Header\r\n\r\n");
    else await conn.write(OK);
    await conn.closed;
  }, async ({ pool, server, conns }) => {
    assertError(await rejection(pool.request("GET", "/")), ProtocolError, /Malformed/);
    await waitFor(() => conns[0].ended, "the client to close the bad socket");
    assert.equal((await pool.request("GET", "/")).status, 200);
    assert.equal(server.connections, 2);
  }, { retries: false });
});

test("connection: extra bytes after a complete response: the socket is not reused", async () => {
  await withServer(
    answering(() => `${OK}EXTRA`),
    async ({ pool, server, conns }) => {
      const first = await pool.request("GET", "/1");
      assert.equal(utf8.decode(first.data), "ok");
      await waitFor(() => conns[0].ended, "the client to close the socket");
      const second = await pool.request("GET", "/2");
      assert.equal(utf8.decode(second.data), "ok");
      assert.equal(server.connections, 2);
      assert.equal(pool.numConnections, 1);
    },
    { retries: false },
  );
});

test("connection: bytes arriving on an idle socket: it is not reused", async () => {
  await withServer(async (conn, index, h) => {
    if (await read(conn, index, h) === null) return;
    await conn.write(OK);
    await sleep(20);
    await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nunasked");
    if (await read(conn, index, h) === null) return;
    await conn.write(OK);
  }, async ({ pool, server, conns }) => {
    assert.equal((await pool.request("GET", "/1")).status, 200);
    await waitFor(() => conns[0].ended, "the client to drop the socket");
    const r = await pool.request("GET", "/2");
    assert.equal(utf8.decode(r.data), "ok");
    assert.equal(server.connections, 2);
  }, { retries: false });
});

// ---------------------------------------------------------------------------------------
// Timeouts and abort

/** Reads the request, sends `prefix`, then says nothing until the client leaves. */
function stalling(prefix = ""): Handler {
  return async (conn, index, h) => {
    if (await read(conn, index, h) === null) return;
    if (prefix) await conn.write(prefix);
    await conn.closed;
  };
}

/** Sends the head at once, then the body one byte every `every` ms. */
function trickling(size: number, every: number): Handler {
  return async (conn, index, h) => {
    if (await read(conn, index, h) === null) return;
    await conn.write(`HTTP/1.1 200 OK\r\nContent-Length: ${size}\r\n\r\n`);
    for (let i = 0; i < size && !conn.ended; i++) {
      await sleep(every);
      if (conn.ended) return;
      await conn.write("x").catch(() => {});
    }
  };
}

test("connection: a stalled server is a ReadTimeoutError after the read timeout", async () => {
  for (const prefix of ["", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"]) {
    await withServer(stalling(prefix), async ({ pool, conns }) => {
      const started = performance.now();
      const error = await rejection(pool.request("GET", "/"));
      const elapsed = performance.now() - started;
      assertError(error, ReadTimeoutError, /read timeout=100 ms/);
      assert.ok(elapsed >= 90 && elapsed < 1000, `timed out after ${elapsed} ms`);
      await waitFor(() => conns[0].ended, "the client to close the socket");
    }, { timeout: new Timeout({ read: 100 }), retries: false });
  }
});

test("connection: one timer per connection: a short read timeout after long ones still fires on time", async () => {
  await withServer(async (conn, index, h) => {
    // Answers five requests, then stalls on the sixth.
    for (let n = 0; n < 5; n++) {
      if (await read(conn, index, h) === null) return;
      await conn.write(OK);
    }
    await read(conn, index, h);
    await conn.closed;
  }, async ({ pool, server }) => {
    for (let n = 0; n < 5; n++) {
      const r = await pool.request("GET", "/", { timeout: new Timeout({ read: 30_000 }) });
      assert.equal(utf8.decode(r.data), "ok");
    }
    // The connection's timer is armed for 30 s: a 100 ms timeout must arm it sooner.
    const started = performance.now();
    const error = await rejection(
      pool.request("GET", "/", { timeout: new Timeout({ read: 100 }), retries: false }),
    );
    const elapsed = performance.now() - started;
    assertError(error, ReadTimeoutError, /read timeout=100 ms/);
    assert.ok(elapsed >= 90 && elapsed < 5000, `timed out after ${elapsed} ms`);
    assert.equal(server.connections, 1, "all six went over one connection");
  });
});

test("connection: the read timeout given per request, retried then MaxRetryError", async () => {
  await withServer(stalling(), async ({ pool, server }) => {
    const error = await rejection(
      pool.request("GET", "/", { timeout: new Timeout({ read: 60 }), retries: 2 }),
    );
    assertError(error, MaxRetryError);
    assertError(error.reason, ReadTimeoutError);
    assert.equal(server.connections, 3);
  });
});

test("connection: the read timeout bounds each wait, not the whole body", async () => {
  await withServer(trickling(6, 30), async ({ pool }) => {
    const r = await pool.request("GET", "/");
    assert.equal(utf8.decode(r.data), "xxxxxx");
  }, { timeout: new Timeout({ read: 150 }), retries: false });
});

test("connection: no read timeout while the reader holds a streamed body back", async () => {
  const size = 2 * 1024 * 1024;
  await withServer(async (conn, index, h) => {
    if (await read(conn, index, h) === null) return;
    await conn.write(`HTTP/1.1 200 OK\r\nContent-Length: ${size}\r\n\r\n`);
    await conn.write(new Uint8Array(size).fill(120));
    await conn.closed;
  }, async ({ pool }) => {
    const r = await pool.request("GET", "/", { preloadContent: false });
    // The reader is busy for three read timeouts; the socket is paused meanwhile.
    await sleep(300);
    let received = 0;
    for await (const piece of r.stream()) received += piece.length;
    assert.equal(received, size);
  }, { timeout: new Timeout({ read: 100 }), retries: false });
});

test("connection: the total timeout bounds the whole exchange, body included", async () => {
  await withServer(trickling(20, 30), async ({ pool }) => {
    const started = performance.now();
    const error = await rejection(pool.request("GET", "/"));
    const elapsed = performance.now() - started;
    assertError(error, ReadTimeoutError, /total/);
    assert.ok(elapsed >= 140 && elapsed < 450, `timed out after ${elapsed} ms`);
  }, { timeout: new Timeout({ read: 150, total: 150 }), retries: false });
});

test("connection: an abort while waiting for the head rejects with the signal's reason", async () => {
  await withServer(stalling(), async ({ pool, conns }) => {
    const controller = new AbortController();
    const reason = new Error("user gave up");
    const pending = pool.request("GET", "/", { signal: controller.signal });
    await waitFor(() => conns.length === 1, "the request to arrive");
    await sleep(20);
    controller.abort(reason);
    assert.equal(await rejection(pending), reason);
    await waitFor(() => conns[0].ended, "the client to close the socket");
  });
});

test("connection: an abort in the middle of the body (preloaded and streamed)", async () => {
  await withServer(
    stalling("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial"),
    async ({ pool, conns }) => {
      const controller = new AbortController();
      const pending = pool.request("GET", "/", { signal: controller.signal });
      await waitFor(() => conns.length === 1, "the request to arrive");
      await sleep(30);
      controller.abort();
      const error = await rejection(pending);
      assert.equal((error as Error).name, "AbortError");

      const streaming = new AbortController();
      const r = await pool.request("GET", "/", {
        signal: streaming.signal,
        preloadContent: false,
      });
      assert.equal(r.status, 200);
      assert.equal(utf8.decode(await r.read(7)), "partial");
      const reading = r.read();
      await sleep(20);
      const reason = new Error("stop streaming");
      streaming.abort(reason);
      assert.equal(await rejection(reading), reason);
      await waitFor(() => conns.every((conn) => conn.ended), "the client to close the sockets");
    },
  );
});

test("connection: an already aborted signal sends nothing", async () => {
  await withServer(answering(() => OK), async ({ pool, server }) => {
    const reason = new Error("before");
    assert.equal(
      await rejection(pool.request("GET", "/", { signal: AbortSignal.abort(reason) })),
      reason,
    );
    await sleep(20);
    assert.ok(server.connections <= 1);
    assert.equal(pool.stats.inUse, 0);
    assert.equal((await pool.request("GET", "/")).status, 200);
  });
});

// ---------------------------------------------------------------------------------------
// Early responses

test("connection: a 413 sent before the request body is read is returned, not a broken pipe", async () => {
  const body = new Uint8Array(16 * 1024 * 1024);
  await withServer(async (conn) => {
    await conn.readUntil("\r\n\r\n");
    // Stop reading: the client's upload stalls on full buffers.
    conn.socket.pause();
    await conn.write(
      "HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: 7\r\n\r\ntoo big",
    );
    conn.end();
    await conn.closed;
  }, async ({ pool, server }) => {
    const r = await pool.request("POST", "/upload", { body });
    assert.equal(r.status, 413);
    assert.equal(utf8.decode(r.data), "too big");
    assert.equal(server.connections, 1);
  }, { retries: false });
});

test("connection: an early 413 whose server then resets is still returned or a ProtocolError", async () => {
  // The reset may discard the response in the kernel before it is read: either outcome is
  // allowed, but never a hang and never a leak.
  const body = new Uint8Array(8 * 1024 * 1024);
  await withServer(async (conn) => {
    await conn.readUntil("\r\n\r\n");
    await conn.write("HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n");
    await sleep(50);
    conn.destroy();
  }, async ({ pool }) => {
    try {
      const r = await pool.request("POST", "/upload", { body });
      assert.equal(r.status, 413);
    } catch (error) {
      assertError(error, ProtocolError);
    }
  }, { retries: false });
});

test("connection: a request on a socket the server closed before the write fails as that close would", async () => {
  const server = await rawServer((conn) => conn.end());
  const connection = new HTTPConnection({
    hostname: "127.0.0.1",
    port: server.port,
    connector: defaultConnector(),
    limits: DEFAULT_PARSER_LIMITS,
  });
  let failure: unknown;
  const listener: ResponseListener = {
    responded: () => assert.fail("no response was sent"),
    failed: (error) => failure = error,
  };
  const request = new RequestDescriptor({
    method: "GET",
    url: server.url,
    target: "/",
    headers: undefined,
    body: NO_BODY,
    chunked: false,
    timeout: new Timeout(),
    poolTimeout: null,
    preload: true,
    releaseConn: true,
    decodeContent: true,
    enforceContentLength: true,
    maxResponseSize: null,
    signal: undefined,
  }, listener);
  request.wire = {
    text: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    body: null,
    stream: null,
    chunked: false,
  };
  try {
    assert.throws(
      () => connection.dispatch(request, () => {}),
      (error: unknown) => error instanceof TypeError && /connect\(\) first/.test(error.message),
    );
    await connection.connect(null);
    // The close arrives while no exchange runs: the connection only notes it.
    await waitFor(() => connection.isDropped, "the client to see the close");
    let released: boolean | undefined;
    connection.dispatch(request, (_, reusable) => released = reusable);
    assert.ok(failure instanceof ProtocolError, String(failure));
    assert.match(
      failure.message,
      /^Connection aborted: remote end closed connection without response$/,
    );
    assert.equal(released, false);
    assert.equal(connection.isConnected, false);
  } finally {
    connection.close();
    await server.close();
  }
});
