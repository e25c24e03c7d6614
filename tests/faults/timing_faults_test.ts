/**
 * Fault suite, timing family: servers that stop talking. A stalled server is a
 * `ReadTimeoutError` after the read timeout, wherever it stalls, and the stalled socket is
 * closed; with a retry the request recovers on a new connection. Time bounds are loose on
 * purpose (a loaded 2-core machine): only "not before the timeout" is asserted.
 */

import { assert, test } from "../_harness.ts";
import { text } from "../_util.ts";
import { MaxRetryError, ReadTimeoutError, Retry, Timeout } from "../../mod.ts";
import { answerEvery, answerOnce, expectError, withFault } from "./_fault.ts";

const READ_MS = 150;
const TIMED_OUT = new RegExp(`^Read timed out \\(read timeout=${READ_MS} ms\\)$`);
const timeout = new Timeout({ read: READ_MS });

const STALLS: Array<[string, string]> = [
  ["before any byte", ""],
  ["in the middle of the head", "HTTP/1.1 200 OK\r\nContent-Le"],
  ["after the head", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"],
  ["in the middle of a Content-Length body", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"],
  ["in the middle of a chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhe"],
  ["between chunks", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"],
  ["in a close-delimited body", "HTTP/1.0 200 OK\r\n\r\npartial"],
];

for (const [where, prefix] of STALLS) {
  test(`faults/timing: a stall ${where} is a ReadTimeoutError`, async () => {
    await withFault(answerOnce(prefix, "stall"), async ({ manager, url, conns }) => {
      const started = performance.now();
      const error = await expectError(
        manager.request("GET", `${url}/slow`, { timeout }),
        ReadTimeoutError,
        "ERR_READ_TIMEOUT",
        TIMED_OUT,
      );
      assert.equal(error.url, `${url}/slow`);
      const elapsed = performance.now() - started;
      assert.ok(elapsed >= READ_MS - 5, `timed out after ${elapsed} ms`);
      assert.equal(conns.length, 1);
    }, { rest: { open: 0 } });
  });
}

test("faults/timing: a stall in a streamed body fails the read, not the head", async () => {
  const prefix = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
  await withFault(answerOnce(prefix, "stall"), async ({ manager, url }) => {
    const r = await manager.request("GET", url, { timeout, preloadContent: false });
    assert.equal(r.status, 200);
    assert.equal(text(await r.read(5)), "hello");
    await expectError(r.read(), ReadTimeoutError, "ERR_READ_TIMEOUT", TIMED_OUT);
  }, { rest: { open: 0 } });
});

test("faults/timing: a stalled GET is retried on a new connection; retries used up is MaxRetryError", async () => {
  await withFault(async (conn, index) => {
    if (index === 0) return answerOnce("HTTP/1.1 200 OK\r\n", "stall")(conn, index);
    await answerEvery("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")(conn, index);
  }, async ({ manager, url, server }) => {
    const r = await manager.request("GET", url, { timeout, retries: new Retry({ read: 1 }) });
    assert.equal(text(r.data), "ok");
    assert.equal(r.retries?.history.length, 1);
    assert.ok(r.retries?.history[0].error instanceof ReadTimeoutError);
    assert.equal(server.connections, 2);
  }, { rest: { open: 1, idle: 1 } });

  await withFault(answerOnce("", "stall"), async ({ manager, url, server }) => {
    const error = await expectError(
      manager.request("GET", url, { timeout, retries: 1 }),
      MaxRetryError,
      "ERR_MAX_RETRIES",
      /\(Caused by ReadTimeoutError: Read timed out \(read timeout=150 ms\)\)$/,
    );
    assert.ok(error.reason instanceof ReadTimeoutError);
    assert.equal(server.connections, 2);
  }, { rest: { open: 0 } });
});

test("faults/timing: a stalled POST is not retried (read errors retry idempotent methods only)", async () => {
  await withFault(answerOnce("", "stall"), async ({ manager, url, server }) => {
    await expectError(
      manager.request("POST", url, { body: "x", timeout, retries: 3 }),
      ReadTimeoutError,
      "ERR_READ_TIMEOUT",
      TIMED_OUT,
    );
    assert.equal(server.connections, 1);
  }, { rest: { open: 0 } });
});
