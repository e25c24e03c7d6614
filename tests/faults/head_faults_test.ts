/**
 * Fault suite, head family: broken status lines and header blocks, limits, interim
 * responses. A head that could be read two ways (bare CR, NUL) is an error, never a guess.
 */

import { assert, test } from "../_harness.ts";
import { escapeRegExp, sleep, text } from "../_util.ts";
import { HeadersTooLargeError, InvalidHeader, ProtocolError, Timeout } from "../../mod.ts";
import { answerEvery, answerOnce, expectError, readRequest, withFault } from "./_fault.ts";

for (const line of ["HTTP/1.1 OK", "HTTP/1.1 20 OK", "ICY 200 OK", "HTTP/2 200 OK", "hello"]) {
  test(`faults/head: status line ${JSON.stringify(line)} is a ProtocolError naming it`, async () => {
    await withFault(
      answerOnce(`${line}\r\nContent-Length: 0\r\n\r\n`, "stall"),
      async ({ manager, url }) => {
        await expectError(
          manager.request("GET", url),
          ProtocolError,
          "ERR_PROTOCOL",
          new RegExp(`^Invalid status line: ${escapeRegExp(JSON.stringify(line))}$`),
        );
      },
      { rest: { open: 0 } },
    );
  });
}

test("faults/head: a head past maxHeaderSize is HeadersTooLargeError (default and pool limit)", async () => {
  const big = `HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(70 * 1024)}\r\nContent-Length: 0\r\n\r\n`;
  await withFault(answerOnce(big, "stall"), async ({ manager, url }) => {
    await expectError(
      manager.request("GET", url),
      HeadersTooLargeError,
      "ERR_HEADERS_TOO_LARGE",
      /^Response head is larger than 65536 bytes \(maxHeaderSize\): \d+$/,
    );
  }, { rest: { open: 0 } });
  const small = `HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(2000)}\r\nContent-Length: 0\r\n\r\n`;
  await withFault(answerOnce(small, "stall"), async ({ manager, url }) => {
    await expectError(
      manager.request("GET", url),
      HeadersTooLargeError,
      "ERR_HEADERS_TOO_LARGE",
      /^Response head is larger than 1024 bytes \(maxHeaderSize\): \d+$/,
    );
  }, { maxHeaderSize: 1024, rest: { open: 0 } });
});

test("faults/head: a head that never ends fails at maxHeaderSize, not when memory runs out", async () => {
  await withFault(async (conn) => {
    if (!await readRequest(conn)) return;
    await conn.write("HTTP/1.1 200 OK\r\n");
    for (let i = 0; !conn.ended; i++) {
      await conn.write(`X-${i}: ${"v".repeat(1000)}\r\n`).catch(() => {});
      await sleep(1); // the client shares this event loop
    }
  }, async ({ manager, url }) => {
    await expectError(
      manager.request("GET", url),
      HeadersTooLargeError,
      "ERR_HEADERS_TOO_LARGE",
      /^Response head is larger than 8192 bytes \(maxHeaderSize\): \d+$/,
    );
  }, { maxHeaderSize: 8192, rest: { open: 0 } });
});

test("faults/head: more header lines than maxHeaderCount is HeadersTooLargeError", async () => {
  const lines = Array.from({ length: 129 }, (_, i) => `H${i}: v\r\n`).join("");
  await withFault(
    answerOnce(`HTTP/1.1 200 OK\r\n${lines}Content-Length: 0\r\n\r\n`, "stall"),
    async ({ manager, url }) => {
      await expectError(
        manager.request("GET", url),
        HeadersTooLargeError,
        "ERR_HEADERS_TOO_LARGE",
        /^Response has more than 128 header lines \(maxHeaderCount\)$/,
      );
    },
    { rest: { open: 0 } },
  );
  await withFault(
    answerOnce("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nContent-Length: 0\r\n\r\n", "stall"),
    async ({ manager, url }) => {
      await expectError(
        manager.request("GET", url),
        HeadersTooLargeError,
        "ERR_HEADERS_TOO_LARGE",
        /^Response has more than 3 header lines \(maxHeaderCount\)$/,
      );
    },
    { maxHeaderCount: 3, rest: { open: 0 } },
  );
});

test("faults/head: obs-fold is unfolded into one space and the connection kept", async () => {
  const folded =
    "HTTP/1.1 200 OK\r\nX-Folded: one\r\n  two\r\n\tthree\r\nContent-Length: 2\r\n\r\nok";
  await withFault(answerEvery(folded), async ({ manager, url, server }) => {
    for (let i = 0; i < 2; i++) {
      const r = await manager.request("GET", url);
      assert.equal(r.headers.get("x-folded"), "one two three");
      assert.equal(text(r.data), "ok");
    }
    assert.equal(server.connections, 1);
  }, { rest: { open: 1, idle: 1 } });
});

test("faults/head: obs-fold cannot smuggle a second Content-Length value", async () => {
  await withFault(
    answerOnce("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n 5\r\n\r\nokHELLO", "stall"),
    async ({ manager, url }) => {
      await expectError(
        manager.request("GET", url),
        InvalidHeader,
        "ERR_INVALID_HEADER",
        /^Invalid Content-Length header: "2 5"$/,
      );
    },
    { rest: { open: 0 } },
  );
});

test("faults/head: a folded line with no header before it is InvalidHeader", async () => {
  await withFault(
    answerOnce("HTTP/1.1 200 OK\r\n folded: x\r\nContent-Length: 0\r\n\r\n", "stall"),
    async ({ manager, url }) => {
      await expectError(
        manager.request("GET", url),
        InvalidHeader,
        "ERR_INVALID_HEADER",
        /^Folded line without a header: " folded: x"$/,
      );
    },
    { rest: { open: 0 } },
  );
});

test("faults/head: NUL in the head is InvalidHeader", async () => {
  for (
    const head of ["HTTP/1.1 200 OK\r\nX: a\0b", "HTTP/1.1 200 O\0K", "HTTP/1.1 200 OK\r\nX\0: a"]
  ) {
    await withFault(
      answerOnce(`${head}\r\nContent-Length: 0\r\n\r\n`, "stall"),
      async ({ manager, url }) => {
        await expectError(
          manager.request("GET", url),
          InvalidHeader,
          "ERR_INVALID_HEADER",
          /^Response head contains a NUL byte$/,
        );
      },
      { rest: { open: 0 } },
    );
  }
});

test("faults/head: a bare CR in a header line is InvalidHeader, never a second header", async () => {
  await withFault(
    answerOnce("HTTP/1.1 200 OK\r\nX: a\rContent-Length: 5\r\nContent-Length: 0\r\n\r\n", "stall"),
    async ({ manager, url }) => {
      await expectError(
        manager.request("GET", url),
        InvalidHeader,
        "ERR_INVALID_HEADER",
        /^Bare CR in response header line "X: a\\rContent-Length: 5"$/,
      );
    },
    { rest: { open: 0 } },
  );
});

test("faults/head: 100 Continue and other 1xx before the final response are skipped", async () => {
  const interim = "HTTP/1.1 100 Continue\r\n\r\n" +
    "HTTP/1.1 102 Processing\r\n\r\n" +
    "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n" +
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  await withFault(answerEvery(interim), async ({ manager, url, server }) => {
    for (const method of ["GET", "POST"]) {
      const r = await manager.request(method, url, { body: method === "POST" ? "x" : undefined });
      assert.equal(r.status, 200);
      assert.equal(r.headers.has("link"), false, "interim headers are not the response's");
      assert.equal(text(r.data), "ok");
    }
    assert.equal(server.connections, 1, "the connection is reused after interim responses");
  }, { rest: { open: 1, idle: 1 } });
});

test("faults/head: an endless stream of 100 Continue ends in a ProtocolError, not in a wait forever", async () => {
  await withFault(async (conn) => {
    if (!await readRequest(conn)) return;
    while (!conn.ended) {
      await conn.write("HTTP/1.1 100 Continue\r\n\r\n").catch(() => {});
      await sleep(1); // the client shares this event loop
    }
  }, async ({ manager, url }) => {
    // Only a read timeout, which every interim response would restart.
    await expectError(
      manager.request("GET", url, { timeout: new Timeout({ read: 2000 }) }),
      ProtocolError,
      "ERR_PROTOCOL",
      /^More than 32 interim \(1xx\) responses before the final one \(maxInterimResponses\)$/,
    );
  }, { rest: { open: 0 } });
});

test("faults/head: 101 Switching Protocols is a ProtocolError", async () => {
  await withFault(
    answerOnce("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", "stall"),
    async ({ manager, url }) => {
      await expectError(
        manager.request("GET", url),
        ProtocolError,
        "ERR_PROTOCOL",
        /^Unexpected 101 Switching Protocols response$/,
      );
    },
    { rest: { open: 0 } },
  );
});

test("faults/head: a close after only a 100 Continue is a ProtocolError", async () => {
  await withFault(answerOnce("HTTP/1.1 100 Continue\r\n\r\n", "end"), async ({ manager, url }) => {
    await expectError(
      manager.request("GET", url),
      ProtocolError,
      "ERR_PROTOCOL",
      /^Connection broken: the connection closed in the middle of the response head$/,
    );
  }, { rest: { open: 0 } });
});
