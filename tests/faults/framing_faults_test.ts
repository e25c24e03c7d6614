/**
 * Fault suite, framing family: bodies whose length cannot be trusted. A client that
 * guesses framing can be desynchronised, so each of these is a typed error, or a body read
 * exactly with the connection never reused.
 */

import { assert, test } from "../_harness.ts";
import type { RawConnection } from "../_servers.ts";
import { escapeRegExp, rejects, sleep, text, waitFor } from "../_util.ts";
import { IncompleteRead, InvalidChunkLength, InvalidHeader, ProtocolError } from "../../mod.ts";
import { answerEvery, answerOnce, expectError, withFault } from "./_fault.ts";

const CHUNKED = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";

for (
  const [size, shown] of [
    ["zz", "zz"],
    ["-5", "-5"],
    ["0x5", "0x5"],
    [" 5", " 5"],
    ["5 x", "5 x"],
    ["1000000000000", "1000000000000"], // 13 hex digits: more than any chunk can be
    ["", ""],
  ]
) {
  test(`faults/framing: chunk size ${JSON.stringify(size)} is InvalidChunkLength`, async () => {
    await withFault(
      answerOnce(`${CHUNKED}${size}\r\nhello\r\n0\r\n\r\n`, "stall"),
      async ({ manager, url }) => {
        const error = await expectError(
          manager.request("GET", url),
          InvalidChunkLength,
          "ERR_INVALID_CHUNK_LENGTH",
          new RegExp(`^Invalid chunk length: ${escapeRegExp(JSON.stringify(shown))}$`),
        );
        assert.ok(error instanceof ProtocolError);
      },
      { rest: { open: 0 } },
    );
  });
}

test("faults/framing: a chunk-size line that never ends is InvalidChunkLength, not a growing buffer", async () => {
  await withFault(async (conn) => {
    await conn.readRequest();
    await conn.write(`${CHUNKED}5;ext=`);
    // Keeps extending the line until the client gives up on it (the sleep lets the client,
    // which shares this event loop, read).
    while (!conn.ended) {
      await conn.write("x".repeat(1024)).catch(() => {});
      await sleep(2);
    }
  }, async ({ manager, url }) => {
    await expectError(
      manager.request("GET", url),
      InvalidChunkLength,
      "ERR_INVALID_CHUNK_LENGTH",
      /^Invalid chunk length: "5;ext=x+…"$/,
    );
  }, { rest: { open: 0 } });
});

test("faults/framing: chunk data without its CRLF terminator is a ProtocolError", async () => {
  for (const tail of ["5\r\nhelloX\r\n0\r\n\r\n", "5\r\nhello0\r\n\r\n"]) {
    await withFault(answerOnce(CHUNKED + tail, "stall"), async ({ manager, url }) => {
      await expectError(
        manager.request("GET", url),
        ProtocolError,
        "ERR_PROTOCOL",
        /^Missing CRLF after chunk data: "(X|0)"$/,
      );
    }, { rest: { open: 0 } });
  }
});

test("faults/framing: a chunked body closed before its last chunk is a ProtocolError from IncompleteRead", async () => {
  for (const tail of ["5\r\nhel", "5\r\nhello\r\n", "5\r\nhello\r\n0\r\n"]) {
    await withFault(answerOnce(CHUNKED + tail, "end"), async ({ manager, url }) => {
      const error = await expectError(
        manager.request("GET", url),
        ProtocolError,
        "ERR_PROTOCOL",
        /^Response ended prematurely: the connection closed inside the chunked body$/,
      );
      assert.ok(error.cause instanceof IncompleteRead);
    }, { rest: { open: 0 } });
  }
});

test("faults/framing: Content-Length with chunked: the chunked body is read, the connection not reused", async () => {
  const both = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n" +
    "5\r\nhello\r\n0\r\n\r\n";
  await withFault(answerEvery(both), async ({ manager, url, server }) => {
    for (let i = 0; i < 3; i++) {
      const r = await manager.request("GET", url);
      assert.equal(text(r.data), "hello");
    }
    assert.equal(server.connections, 3, "one connection per response");
  }, { rest: { open: 0, idle: 1 } });
});

test("faults/framing: differing Content-Lengths are InvalidHeader", async () => {
  for (
    const [headers, shown] of [
      ["Content-Length: 3\r\nContent-Length: 4", "3 and 4"],
      ["Content-Length: 3, 4", "3 and 4"],
      ["Content-Length: 4\r\nContent-Length: 4, 3", "4 and 3"],
    ]
  ) {
    await withFault(
      answerOnce(`HTTP/1.1 200 OK\r\n${headers}\r\n\r\nabcd`, "stall"),
      async ({ manager, url }) => {
        await expectError(
          manager.request("GET", url),
          InvalidHeader,
          "ERR_INVALID_HEADER",
          new RegExp(`^Content-Length headers disagree: ${shown}$`),
        );
      },
      { rest: { open: 0 } },
    );
  }
});

test("faults/framing: a Content-Length that is not a number is InvalidHeader", async () => {
  for (const value of ["abc", "-1", "1e3", "99999999999999999999"]) {
    await withFault(
      answerOnce(`HTTP/1.1 200 OK\r\nContent-Length: ${value}\r\n\r\nabc`, "stall"),
      async ({ manager, url }) => {
        await expectError(
          manager.request("GET", url),
          InvalidHeader,
          "ERR_INVALID_HEADER",
          new RegExp(`^Invalid Content-Length header: "${escapeRegExp(value)}"$`),
        );
      },
      { rest: { open: 0 } },
    );
  }
});

test("faults/framing: extra bytes after a complete response: the connection is not reused", async () => {
  const responses = [
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\nEXTRA",
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
  ];
  for (const response of responses) {
    await withFault(answerEvery(response), async ({ manager, url, server }) => {
      for (let i = 0; i < 3; i++) {
        assert.equal(text((await manager.request("GET", url)).data), "ok");
      }
      assert.equal(
        server.connections,
        3,
        `one connection per response: ${JSON.stringify(response)}`,
      );
    }, { rest: { open: 0, idle: 1 } });
  }
});

test("faults/framing: an HTTP/1.0 close-delimited body is read to the close, preloaded or streamed", async () => {
  const response =
    "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of this\r\n\r\nuntil the end";
  await withFault(answerOnce(response, "end"), async ({ manager, url, server }) => {
    const r = await manager.request("GET", url);
    assert.equal(r.version, 10);
    assert.equal(text(r.data), "all of this\r\n\r\nuntil the end");
    const streamed = await manager.request("GET", url, { preloadContent: false });
    assert.equal(await streamed.text(), "all of this\r\n\r\nuntil the end");
    assert.equal(server.connections, 2, "a close-delimited connection is never reused");
  }, { rest: { open: 0 } });
});

test("faults/framing: a close-delimited body cut by a reset is a ProtocolError, not a short body", async () => {
  await withFault(
    answerOnce("HTTP/1.0 200 OK\r\n\r\npartial", "reset"),
    async ({ manager, url }) => {
      await expectError(
        manager.request("GET", url),
        ProtocolError,
        "ERR_PROTOCOL",
        /^Connection broken: /,
      );
    },
    { rest: { open: 0 } },
  );
});

/**
 * A server that reads one request head and then everything the client sends until it closes
 * (`received` gets those bytes) on its first connection, and answers 200 on later ones.
 */
function recordBodyThenServe(received: string[]) {
  return async (conn: RawConnection, index: number) => {
    if (index > 0) {
      return await answerEvery("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")(conn, index);
    }
    await conn.readUntil("\r\n\r\n");
    received.push(text(await conn.readToEnd()));
  };
}

async function* pieces(...values: string[]): AsyncGenerator<string> {
  for (const value of values) yield value;
}

test("faults/framing: a stream longer than its Content-Length fails with a TypeError; nothing past the length is sent", async () => {
  const received: string[] = [];
  await withFault(recordBodyThenServe(received), async ({ manager, url, conns }) => {
    const error = await rejects(
      manager.request("POST", url, {
        body: pieces("abc", "def"),
        headers: { "Content-Length": "4" },
      }),
    );
    assert.ok(error instanceof TypeError, `expected a TypeError, got ${error}`);
    assert.equal(error.message, "Request body is longer than its Content-Length: 4");
    await waitFor(() => received.length === 1, "the server to see the connection end");
    assert.deepEqual(received, ["abc"]);
    // The connection was closed, never reused: the next request opens another one.
    assert.equal((await manager.request("GET", url)).status, 200);
    assert.equal(conns.length, 2);
  }, { timeout: 3000 });
});

test("faults/framing: a stream shorter than its Content-Length fails with a TypeError and closes the connection", async () => {
  const received: string[] = [];
  await withFault(recordBodyThenServe(received), async ({ manager, url, conns }) => {
    const error = await rejects(
      manager.request("PUT", url, { body: pieces("ab", "c"), headers: { "Content-Length": "5" } }),
    );
    assert.ok(error instanceof TypeError, `expected a TypeError, got ${error}`);
    assert.equal(error.message, "Request body ended after 3 bytes, short of its Content-Length: 5");
    await waitFor(() => received.length === 1, "the server to see the connection end");
    assert.deepEqual(received, ["abc"]);
    assert.equal((await manager.request("GET", url)).status, 200);
    assert.equal(conns.length, 2);
  }, { timeout: 3000 });
});
