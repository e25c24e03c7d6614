/**
 * Fault suite, connection family: servers that close, reset or answer early. Each case
 * is one raw loopback server doing one bad thing, seen through a `PoolManager`; each ends
 * with the exact error or recovery and the pool at rest.
 */

import { spawn } from "node:child_process";
import process from "node:process";
import { assert, runtime, test } from "../_harness.ts";
import { deferred, rejects, text, waitFor } from "../_util.ts";
import {
  HTTPError,
  IncompleteRead,
  MaxRetryError,
  NewConnectionError,
  PoolManager,
  ProtocolError,
  Retry,
  StaleConnectionError,
} from "../../mod.ts";
import {
  answerEvery,
  answerOnce,
  assertAtRest,
  expectError,
  type FaultHandler,
  readRequest,
  withFault,
} from "./_fault.ts";

const OK = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
const ABORTED = /^Connection aborted: remote end closed connection without response$/;
const BROKEN = /^Connection broken: /;

// ---------------------------------------------------------------------------------------
// Idle keep-alive connections closed by the server

test("faults/connection: an idle keep-alive connection closed by the server is replaced, no retry used", async () => {
  await withFault(async (conn, index) => {
    if (index === 0) return answerOnce(OK, "end")(conn, index);
    await answerEvery(OK)(conn, index);
  }, async ({ manager, url, pool, server }) => {
    assert.equal(text((await manager.request("GET", `${url}/1`)).data), "ok");
    // The client notices the close while the connection sits idle.
    await waitFor(() => pool.stats.open === 0, "the client to see the idle close");
    const second = await manager.request("GET", `${url}/2`);
    assert.equal(text(second.data), "ok");
    assert.equal(second.retries?.history.length, 0, "no retry used");
    assert.equal(server.connections, 2);
  }, { rest: { open: 1, idle: 1 } });
});

/** Connection 0 answers one request, then reads the next one and closes without answering. */
const closesAtReuse: FaultHandler = async (conn, index) => {
  if (index > 0) return answerEvery(OK)(conn, index);
  if (!await readRequest(conn)) return;
  await conn.write(OK);
  if (!await readRequest(conn)) return;
  conn.end();
};

test("faults/connection: closed at the moment of reuse, a GET goes again on a new connection uncounted", async () => {
  await withFault(closesAtReuse, async ({ manager, url, server }) => {
    assert.equal((await manager.request("GET", `${url}/1`)).status, 200);
    const second = await manager.request("GET", `${url}/2`);
    assert.equal(text(second.data), "ok");
    assert.equal(second.retries?.history.length, 0, "the replacement used no retry");
    assert.equal(server.connections, 2);
  }, { rest: { open: 1, idle: 1 } });
});

test("faults/connection: closed at the moment of reuse, a POST is never sent twice", async () => {
  for (const retries of [false, 3] as const) {
    await withFault(closesAtReuse, async ({ manager, url, server }) => {
      assert.equal((await manager.request("POST", `${url}/1`, { body: "a" })).status, 200);
      const error = await expectError(
        manager.request("POST", `${url}/2`, { body: "b", retries }),
        StaleConnectionError,
        "ERR_STALE_CONNECTION",
        /^Connection aborted: the reused connection was closed by the server before it answered$/,
      );
      assert.ok(error instanceof ProtocolError);
      assert.equal(server.connections, 1, "the POST went out once");
    }, { rest: { open: 0, idle: 1 } });
  }
});

// ---------------------------------------------------------------------------------------
// Close and reset

test("faults/connection: a close without a response is a ProtocolError; retried, MaxRetryError", async () => {
  await withFault(answerOnce("", "end"), async ({ manager, url, server }) => {
    await expectError(manager.request("GET", url), ProtocolError, "ERR_PROTOCOL", ABORTED);
    assert.equal(server.connections, 1);
  }, { rest: { open: 0 } });
  await withFault(answerOnce("", "end"), async ({ manager, url, server }) => {
    const error = await expectError(
      manager.request("GET", `${url}/x`, { retries: 2 }),
      MaxRetryError,
      "ERR_MAX_RETRIES",
      /^HTTPConnectionPool\(host='127\.0\.0\.1', port=\d+\): Max retries exceeded with url: http:\/\/127\.0\.0\.1:\d+\/x \(Caused by ProtocolError: Connection aborted/,
    );
    assert.ok(error.reason instanceof ProtocolError);
    assert.match(error.reason.message, ABORTED);
    assert.equal(server.connections, 3, "the first attempt and 2 retries");
  }, { rest: { open: 0 } });
});

/** Runs `_closer_child.ts` (a server that closes each connection on accept) until `fn` ends. */
async function withCloserProcess(
  how: "end" | "reset",
  fn: (url: string) => Promise<void>,
): Promise<void> {
  const script = new URL("./_closer_child.ts", import.meta.url).pathname;
  // Node 20 runs TypeScript through tsx, as scripts/test.sh does.
  const prefix = runtime === "deno" ? ["run", "-A"] : runtime === "node" ? ["--import", "tsx"] : [];
  const child = spawn(process.execPath, [...prefix, script, how], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  try {
    const port = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (chunk: Uint8Array) => {
        out += new TextDecoder().decode(chunk);
        if (out.includes("\n")) resolve(out.trim());
      });
      child.once("close", (code) => reject(new Error(`the closer server exited: ${code}`)));
    });
    await fn(`http://127.0.0.1:${port}`);
  } finally {
    child.stdin!.end();
    await exited;
  }
}

for (const how of ["end", "reset"] as const) {
  test(`faults/connection: a server that ${how}s each connection on accept gives typed errors only`, async () => {
    await withCloserProcess(how, async (url) => {
      await using manager = new PoolManager({ retries: false, maxSize: 10 });
      // The close races the request: it lands before the first write, during it or after.
      // Whichever it is, the caller meets an HTTPError with a code, never a bare Error.
      const kinds = new Set<string>();
      for (let round = 0; round < 20; round++) {
        await Promise.all(Array.from({ length: 10 }, async (_, i) => {
          const error = await rejects(manager.request("GET", `${url}/${i}`));
          assert.ok(error instanceof HTTPError, `round ${round}: ${error}`);
          assert.ok(
            error instanceof ProtocolError || error instanceof NewConnectionError,
            `round ${round}: ${error}`,
          );
          kinds.add(error.code);
        }));
      }
      const error = await rejects(manager.request("GET", url, { retries: 2 }));
      assert.ok(error instanceof MaxRetryError, String(error));
      assert.ok(error.reason instanceof HTTPError, String(error.reason));
      assertAtRest(manager.connectionFromUrl(url), { open: 0 });
    });
  });
}

test("faults/connection: a reset in the middle of the head is a ProtocolError", async () => {
  await withFault(
    answerOnce("HTTP/1.1 200 OK\r\nContent-Le", "reset"),
    async ({ manager, url }) => {
      await expectError(manager.request("GET", url), ProtocolError, "ERR_PROTOCOL", BROKEN);
    },
    { rest: { open: 0 } },
  );
});

test("faults/connection: a reset in the middle of the body is a ProtocolError, preloaded or streamed", async () => {
  const partial = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
  await withFault(answerOnce(partial, "reset"), async ({ manager, url }) => {
    await expectError(manager.request("GET", url), ProtocolError, "ERR_PROTOCOL", BROKEN);
    const streamed = await manager.request("GET", url, { preloadContent: false });
    assert.equal(streamed.status, 200);
    await expectError(streamed.read(), ProtocolError, "ERR_PROTOCOL", BROKEN);
  }, { rest: { open: 0 } });
});

test("faults/connection: a truncated Content-Length body is IncompleteRead, or short with enforceContentLength false", async () => {
  const partial = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
  await withFault(answerOnce(partial, "end"), async ({ manager, url }) => {
    const error = await expectError(
      manager.request("GET", url),
      ProtocolError,
      "ERR_PROTOCOL",
      /^Connection broken: IncompleteRead\(3 bytes read, 7 more expected\)$/,
    );
    assert.ok(error.cause instanceof IncompleteRead);
    assert.deepEqual([error.cause.partial, error.cause.expected], [3, 7]);
    const short = await manager.request("GET", url, { enforceContentLength: false });
    assert.equal(text(short.data), "abc");
  }, { rest: { open: 0 } });
});

// ---------------------------------------------------------------------------------------
// A response sent before the request body is finished

const EARLY = "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 7\r\n\r\ntoo big";

/**
 * Connection 0 reads the request head, stops reading (the upload stalls on full buffers),
 * answers 413 and keeps the connection open; later connections answer normally.
 */
const answersEarly: FaultHandler = async (conn, index) => {
  if (index > 0) return answerEvery(OK)(conn, index);
  await conn.readUntil("\r\n\r\n");
  conn.socket.pause();
  await conn.write(EARLY);
  await conn.closed;
};

/** A 64 MiB body made as it is read, with a flag that says whether it was cancelled. */
function largeStream() {
  const cancelled = deferred<void>();
  let sent = 0;
  const piece = new Uint8Array(64 * 1024).fill(120);
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= 64 * 1024 * 1024) return controller.close();
      sent += piece.length;
      controller.enqueue(piece);
    },
    cancel() {
      cancelled.resolve();
    },
  }, { highWaterMark: 0 });
  return { stream, cancelled: cancelled.promise };
}

test("faults/connection: a response before a large streamed body is finished is returned, the socket dropped", async () => {
  await withFault(answersEarly, async ({ manager, url, server, pool }) => {
    const { stream, cancelled } = largeStream();
    const r = await manager.request("POST", `${url}/upload`, { body: stream });
    assert.equal(r.status, 413);
    assert.equal(text(r.data), "too big");
    await cancelled; // the rest of the body is not read
    assert.equal(pool.stats.open, 0, "the half-sent connection is closed");
    assert.equal((await manager.request("GET", `${url}/next`)).status, 200);
    assert.equal(server.connections, 2, "the half-sent connection was not reused");
  }, { rest: { open: 1, idle: 1 } });
});

test("faults/connection: a response before a large in-memory body is finished is returned, the socket dropped", async () => {
  await withFault(answersEarly, async ({ manager, url, server, pool }) => {
    const body = new Uint8Array(16 * 1024 * 1024).fill(120);
    const r = await manager.request("POST", `${url}/upload`, { body });
    assert.equal(r.status, 413);
    assert.equal(text(r.data), "too big");
    assert.equal(pool.stats.open, 0, "the half-sent connection is closed");
    assert.equal((await manager.request("GET", `${url}/next`)).status, 200);
    assert.equal(server.connections, 2, "the half-sent connection was not reused");
  }, { rest: { open: 1, idle: 1 } });
});

test("faults/connection: an early response, then the server closes: the response is still returned", async () => {
  for (const body of [new Uint8Array(16 * 1024 * 1024), largeStream().stream]) {
    await withFault(async (conn) => {
      await conn.readUntil("\r\n\r\n");
      conn.socket.pause();
      await conn.write(EARLY.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n"));
      conn.end();
      await conn.closed;
    }, async ({ manager, url }) => {
      const r = await manager.request("POST", `${url}/upload`, { body });
      assert.equal(r.status, 413);
      assert.equal(text(r.data), "too big");
    }, { rest: { open: 0 } });
  }
});

test("faults/connection: the retry policy recovers from a reset on a new connection", async () => {
  await withFault(async (conn, index) => {
    if (index === 0) return answerOnce("HTTP/1.1 200 OK\r\n", "reset")(conn, index);
    await answerEvery(OK)(conn, index);
  }, async ({ manager, url, server }) => {
    const r = await manager.request("GET", url, { retries: new Retry({ read: 1 }) });
    assert.equal(text(r.data), "ok");
    assert.equal(r.retries?.history.length, 1);
    assert.ok(r.retries?.history[0].error instanceof ProtocolError);
    assert.equal(server.connections, 2);
  }, { rest: { open: 1, idle: 1 } });
});
