/**
 * HTTP/2 faults through the pools, against the raw frame server of `_frame_server.ts` (h2c
 * with prior knowledge, and TLS with ALPN `h2`): requests a GOAWAY or REFUSED_STREAM left
 * unprocessed are resent once, transparently, without counting a retry, POST included; a
 * server refusing everything fails the request after that one resend; any other RST_STREAM
 * code is a typed read error under the Retry policy; a request body whose window never opens
 * fails its stream by the total timeout and nothing else; a malformed head fails its stream
 * only; a CONTINUATION flood is a typed error; a later SETTINGS raising the stream limit
 * starts that many more requests at once, blocking pool or not. Every case ends with the pool
 * at rest.
 */

import {
  type ConnectionPool,
  type ConnectionPoolOptions,
  HTTPConnectionPool,
  HTTPSConnectionPool,
  MaxRetryError,
  Timeout,
  TimeoutError,
} from "../../mod.ts";
import { CA_CERT } from "../_certs.ts";
import { assert, test } from "../_harness.ts";
import { assertAtRest, text, waitFor } from "../_util.ts";
import {
  HTTP2HeaderListTooLargeError,
  HTTP2MalformedResponseError,
  HTTP2StreamRefusedError,
  HTTP2StreamResetError,
} from "../../mod.ts";
import {
  encodeFrame,
  encodeHeaders,
  encodeSettings,
  ErrorCode,
  errorCodeName,
  Flag,
  FrameType,
  SettingId,
} from "../../src/http2/frames.ts";
import { type FrameRequest, type FrameServer, frameServer } from "./_frame_server.ts";
import { curlVersion, hasCurl } from "../_h2_servers.ts";

/** Every request is bounded: a resend loop or a hang fails the test instead. */
const TIMEOUT_MS = 10_000;

/** A pool for `server`: h2c with prior knowledge, or TLS trusting the test CA. */
function poolFor(
  server: FrameServer,
  options: ConnectionPoolOptions = {},
): ConnectionPool {
  const all: ConnectionPoolOptions = {
    port: server.port,
    timeout: TIMEOUT_MS,
    retries: 0,
    maxSize: 1,
    ...options,
  };
  return server.url.startsWith("https:")
    ? new HTTPSConnectionPool("localhost", { caCerts: [CA_CERT], ...all })
    : new HTTPConnectionPool("127.0.0.1", { http2PriorKnowledge: true, ...all } as typeof all);
}

/** Runs `body` with a frame server and a pool for it; checks the pool is at rest after. */
async function withServer(
  onRequest: (request: FrameRequest) => void,
  body: (pool: ConnectionPool, server: FrameServer) => Promise<void>,
  options: Parameters<typeof frameServer>[1] & { pool?: ConnectionPoolOptions } = {},
): Promise<void> {
  const server = await frameServer(onRequest, options);
  const pool = poolFor(server, options.pool);
  try {
    await body(pool, server);
    assertAtRest(pool);
    const streams = pool.stats.streams;
    assert.equal(streams, 0, "pool.stats.streams at rest");
  } finally {
    await pool.close();
    await server.close();
  }
}

/** The error itself, or the reason of the `MaxRetryError` wrapping it. */
function cause(error: unknown): unknown {
  return error instanceof MaxRetryError && error.reason ? error.reason : error;
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return cause(await promise.then(() => assert.fail("the request succeeded"), (e) => e));
}

/** How many requests for `path` the server received. */
function seen(server: FrameServer, path: string): number {
  return server.requests.filter((r) => r.path === path).length;
}

/** Answers `request` with 200 and `"<method> <path>"`, or the echoed body for a POST. */
async function answer(request: FrameRequest): Promise<void> {
  const body = await request.body;
  const reply = request.method === "POST" ? body : `${request.method} ${request.path}`;
  request.connection.respond(request.streamId, [":status", "200"], reply);
}

const ECHO = new TextEncoder().encode("post body ✓");

// ---------------------------------------------------------------------------------------------
// The frame server itself, as an independent client sees it
// ---------------------------------------------------------------------------------------------

const curl = await hasCurl();
if (!curl) {
  console.warn("tests/http2/pool_faults_test.ts: SKIPPED the curl check: curl is not installed");
}

test("HTTP/2 frame server: curl gets answers over h2c and over TLS (ALPN h2)", async () => {
  for (const tls of [false, true]) {
    const server = await frameServer((request) => void answer(request), { tls });
    try {
      const got = await curlVersion(`${server.url}/curl`);
      assert.deepEqual(got, { version: "2", status: 200, body: "GET /curl" });
      assert.equal(server.requests.length, 1);
    } finally {
      await server.close();
    }
  }
}, { ignore: !curl });

// ---------------------------------------------------------------------------------------------
// GOAWAY and REFUSED_STREAM: resent once, transparently
// ---------------------------------------------------------------------------------------------

for (const tls of [false, true]) {
  const over = tls ? "TLS" : "h2c";
  test(`HTTP/2 pool (${over}): GOAWAY mid-flight resends the unprocessed GETs and POSTs once`, async () => {
    const held: FrameRequest[] = [];
    const answered = new Map<string, number>();
    const reply = (request: FrameRequest) => {
      answered.set(request.path, (answered.get(request.path) ?? 0) + 1);
      return answer(request);
    };
    await withServer((request) => {
      if (request.connection.id > 1) return void reply(request);
      held.push(request);
      if (held.length < 4) return;
      // Only the lowest stream was processed: the three above it must go again.
      const lowest = Math.min(...held.map((r) => r.streamId));
      request.connection.goaway(lowest, ErrorCode.NO_ERROR);
      void reply(held.find((r) => r.streamId === lowest)!);
    }, async (pool, server) => {
      const responses = await Promise.all([
        pool.request("GET", "/get-1"),
        pool.request("GET", "/get-2"),
        pool.request("POST", "/post-1", { body: ECHO }),
        pool.request("POST", "/post-2", { body: ECHO }),
      ]);
      for (const response of responses) {
        assert.equal(response.status, 200);
        assert.equal(response.version, 20);
      }
      assert.equal(text(responses[0].data), "GET /get-1");
      assert.equal(text(responses[1].data), "GET /get-2");
      assert.deepEqual(responses[2].data, ECHO);
      assert.deepEqual(responses[3].data, ECHO);
      const paths = ["/get-1", "/get-2", "/post-1", "/post-2"];
      const twice = paths.filter((path) => seen(server, path) === 2);
      assert.equal(twice.length, 3, `sent twice: ${twice}`);
      for (const path of paths) {
        assert.ok(seen(server, path) <= 2, `${path} sent ${seen(server, path)} times`);
        assert.equal(answered.get(path), 1, `${path} answered ${answered.get(path)} times`);
      }
      // The resends needed a second connection while the first finished its stream.
      assert.equal(server.connections, 2);
    }, { tls, settings: [SettingId.MAX_CONCURRENT_STREAMS, 10] });
  });
}

test("HTTP/2 pool: RST_STREAM(REFUSED_STREAM) resends a GET and a POST once (retries: 0)", async () => {
  await withServer((request) => {
    if (request.attempt === 1) {
      return request.connection.reset(request.streamId, ErrorCode.REFUSED_STREAM);
    }
    void answer(request);
  }, async (pool, server) => {
    const get = await pool.request("GET", "/refused-get");
    assert.equal(get.status, 200);
    assert.equal(text(get.data), "GET /refused-get");
    const post = await pool.request("POST", "/refused-post", { body: ECHO });
    assert.equal(post.status, 200);
    assert.deepEqual(post.data, ECHO);
    assert.equal(seen(server, "/refused-get"), 2);
    assert.equal(seen(server, "/refused-post"), 2);
  });
});

test("HTTP/2 pool: a server refusing everything fails the request after one resend", async () => {
  await withServer((request) => {
    request.connection.reset(request.streamId, ErrorCode.REFUSED_STREAM);
  }, async (pool, server) => {
    for (const [method, path] of [["GET", "/never"], ["POST", "/never-post"]]) {
      const error = await failure(
        pool.request(method, path, { body: method === "POST" ? ECHO : null }),
      );
      assert.ok(error instanceof HTTP2StreamRefusedError, `${path}: ${error}`);
      assert.equal(error.unprocessed, true);
      assert.equal(seen(server, path), 2, `${path} sent ${seen(server, path)} times`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// A later SETTINGS raising MAX_CONCURRENT_STREAMS
// ---------------------------------------------------------------------------------------------

/** Holds every request until `release()`, which answers them all (and any held later). */
function holdAll() {
  const held: FrameRequest[] = [];
  let released = false;
  return {
    held,
    onRequest(request: FrameRequest) {
      if (released) return void answer(request);
      held.push(request);
    },
    release() {
      released = true;
      for (const request of held) void answer(request);
    },
  };
}

/** Sends a SETTINGS frame with this MAX_CONCURRENT_STREAMS on `request`'s connection. */
function raiseLimit(request: FrameRequest, limit: number): void {
  request.connection.write(encodeSettings([SettingId.MAX_CONCURRENT_STREAMS, limit]));
}

for (const tls of [false, true]) {
  for (const [from, to] of [[1, 3], [2, 4]]) {
    const over = tls ? "TLS" : "h2c";
    test(`HTTP/2 pool (${over}): a SETTINGS raising the stream limit ${from} -> ${to} hands the new streams to blocked callers at once`, async () => {
      const server = holdAll();
      await withServer(server.onRequest, async (pool) => {
        // One more request than the raised limit: it must stay queued.
        const paths = Array.from({ length: to + 1 }, (_, i) => `/blocked-${i}`);
        const responses = Promise.all(paths.map((path) => pool.request("GET", path)));
        await waitFor(
          () => server.held.length === from && pool.stats.queued === to + 1 - from,
          `${from} streams open and the rest queued`,
        );
        raiseLimit(server.held[0], to);
        // Well below the poolTimeout: the waiters were woken, no stream had to end.
        await waitFor(() => server.held.length === to, `${to} streams open`, 1000);
        assert.equal(pool.stats.streams, to);
        assert.equal(pool.stats.queued, 1, "one waiter beyond the raised limit");
        server.release();
        for (const [i, response] of (await responses).entries()) {
          assert.equal(response.status, 200);
          assert.equal(text(response.data), `GET ${paths[i]}`);
        }
        assert.equal(pool.numConnections, 1);
      }, {
        tls,
        settings: [SettingId.MAX_CONCURRENT_STREAMS, from],
        pool: { block: true, poolTimeout: TIMEOUT_MS },
      });
    });
  }
}

test("HTTP/2 pool: requests queued on a full session start when a SETTINGS raises its limit (non-blocking)", async () => {
  const server = holdAll();
  await withServer(server.onRequest, async (pool, frames) => {
    const paths = ["/q-1", "/q-2", "/q-3", "/q-4"];
    const responses = Promise.all(paths.map((path) => pool.request("GET", path)));
    // maxSize 1 and a full session: the other two wait in the session's own queue.
    await waitFor(() => server.held.length === 2 && pool.stats.inUse === 4, "2 streams open");
    assert.equal(pool.stats.streams, 2);
    assert.equal(pool.stats.queued, 0);
    raiseLimit(server.held[0], 4);
    await waitFor(() => server.held.length === 4, "4 streams open", 1000);
    assert.equal(pool.stats.streams, 4);
    server.release();
    for (const [i, response] of (await responses).entries()) {
      assert.equal(text(response.data), `GET ${paths[i]}`);
    }
    assert.equal(frames.connections, 1);
    assert.equal(pool.numConnections, 1);
  }, { settings: [SettingId.MAX_CONCURRENT_STREAMS, 2], pool: { block: false } });
});

// ---------------------------------------------------------------------------------------------
// Every other RST_STREAM code: a read error under the Retry policy
// ---------------------------------------------------------------------------------------------

const RESET_CODES = Object.values(ErrorCode).filter((code) => code !== ErrorCode.REFUSED_STREAM);

test("HTTP/2 pool: RST_STREAM with each other code is an HTTP2StreamResetError (retries: 0)", async () => {
  await withServer((request) => {
    const code = Number(request.path.slice("/reset/".length));
    request.connection.reset(request.streamId, code);
  }, async (pool, server) => {
    for (const code of RESET_CODES) {
      const path = `/reset/${code}`;
      const error = await failure(pool.request("GET", path));
      assert.ok(error instanceof HTTP2StreamResetError, `${errorCodeName(code)}: ${error}`);
      assert.equal(error.errorCode, code);
      assert.equal(seen(server, path), 1, `${errorCodeName(code)}: sent again without retries`);
    }
    // Streams were reset, not the connection.
    assert.equal(server.connections, 1);
  });
});

test("HTTP/2 pool: RST_STREAM with each other code is retried with retries: 1", async () => {
  await withServer((request) => {
    const code = Number(request.path.slice("/reset/".length));
    if (request.attempt === 1) {
      return request.connection.reset(request.streamId, code);
    }
    void answer(request);
  }, async (pool, server) => {
    for (const code of RESET_CODES) {
      const path = `/reset/${code}`;
      const response = await pool.request("GET", path, { retries: 1 });
      assert.equal(response.status, 200, errorCodeName(code));
      assert.equal(text(response.data), `GET ${path}`);
      assert.equal(seen(server, path), 2, errorCodeName(code));
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Flow control, malformed heads, floods
// ---------------------------------------------------------------------------------------------

test("HTTP/2 pool: a body whose window never opens fails its stream by the total timeout only", async () => {
  const resets: number[] = [];
  await withServer((request) => {
    if (request.path !== "/upload") void answer(request);
  }, async (pool, server) => {
    // failure() listens at once: the GET below may fail first, and leave nothing unhandled.
    const upload = failure(pool.request("POST", "/upload", {
      body: new Uint8Array(200_000),
      timeout: new Timeout({ total: 500 }),
    }));
    const other = await pool.request("GET", "/other");
    assert.equal(text(other.data), "GET /other");
    const error = await upload;
    assert.ok(error instanceof TimeoutError, String(error));
    const after = await pool.request("GET", "/after");
    assert.equal(text(after.data), "GET /after");
    assert.equal(server.connections, 1, "the session survived");
    assert.equal(pool.numConnections, 1);
    const upload1 = server.requests.find((r) => r.path === "/upload")!;
    assert.deepEqual(resets, [upload1.streamId], "the server saw the stream reset");
  }, {
    holdWindows: true,
    // A stream window of 0: no DATA may go out, and none will ever be allowed.
    settings: [SettingId.INITIAL_WINDOW_SIZE, 0],
    onFrame(frame) {
      if (frame.type === FrameType.RST_STREAM) resets.push(frame.streamId);
    },
  });
});

test("HTTP/2 pool: a malformed response head is a typed error; the session serves on", async () => {
  await withServer((request) => {
    if (request.path === "/bad") {
      return request.connection.respond(request.streamId, [":status", "200", "X-Upper", "1"]);
    }
    void answer(request);
  }, async (pool, server) => {
    const error = await failure(pool.request("GET", "/bad"));
    assert.ok(error instanceof HTTP2MalformedResponseError, String(error));
    const ok = await pool.request("GET", "/ok");
    assert.equal(text(ok.data), "GET /ok");
    assert.equal(server.connections, 1);
    assert.equal(pool.numConnections, 1);
  });
});

test("HTTP/2 pool: a CONTINUATION flood is a typed error, and the pool recovers", async () => {
  await withServer((request) => {
    if (request.path !== "/flood") return void answer(request);
    const { connection, streamId } = request;
    // HEADERS without END_HEADERS, then CONTINUATION frames that never end the block.
    const block = connection.encoder.encode([":status", "200"]);
    const first = encodeHeaders(streamId, block);
    first[4] &= ~Flag.END_HEADERS;
    connection.write(first);
    const piece = encodeFrame(FrameType.CONTINUATION, 0, streamId, new Uint8Array(1024));
    for (let i = 0; i < 200; i++) connection.write(piece);
  }, async (pool, server) => {
    const error = await failure(pool.request("GET", "/flood"));
    // The reader caps the header block's size, CONTINUATION frames included.
    assert.ok(error instanceof HTTP2HeaderListTooLargeError, String(error));
    const ok = await pool.request("GET", "/ok");
    assert.equal(text(ok.data), "GET /ok");
    assert.equal(server.connections, 2, "the flooded session was closed");
  });
});
