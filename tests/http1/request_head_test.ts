/**
 * The request head as it goes on the wire: a raw server records the exact bytes each
 * request sends (head, and the body bytes before any de-chunking).
 */

import { assert, test } from "../_harness.ts";
import { CA_CERT, SERVER_TLS } from "../_certs.ts";
import { type RawConnection, type RawServer, rawServer } from "../_servers.ts";
import { assertAtRest, escapeRegExp } from "../_util.ts";
import {
  type ConnectionPool,
  type ConnectionPoolOptions,
  HTTPConnectionPool,
  HTTPHeaderDict,
  HTTPSConnectionPool,
  PoolManager,
  type RequestHeaders,
  SKIP_HEADER,
  VERSION,
} from "../../mod.ts";
import { defaultConnector } from "../../src/runtime/default.ts";
import type { Connector } from "../../src/runtime/socket.ts";

const DEFAULTS = `User-Agent: pooled/${VERSION}\r\nAccept-Encoding: identity\r\n`;

/** One request as the server received it. */
interface Recorded {
  /** Request line and header lines, with the final blank line. */
  head: string;
  requestLine: string;
  target: string;
  /** Header lines in order, names as sent. */
  fields: Array<[string, string]>;
  /** The body bytes exactly as sent (still chunk-encoded when chunked), latin1. */
  wire: string;
}

/** Bytes as a string of char codes 0-255 (TextDecoder's "latin1" is windows-1252). */
function latin1(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

function fieldsOf(head: string): Array<[string, string]> {
  return head.slice(0, -4).split("\r\n").slice(1).map((line) => {
    const colon = line.indexOf(":");
    return [line.slice(0, colon), line.slice(colon + 1).trim()];
  });
}

function field(fields: Array<[string, string]>, name: string): string[] {
  return fields.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
}

/** Reads one request keeping the body's wire bytes; null when the client went away. */
async function readRaw(conn: RawConnection): Promise<Recorded | null> {
  let head: string;
  try {
    head = await conn.readUntil("\r\n\r\n");
  } catch {
    return null;
  }
  const fields = fieldsOf(head);
  const requestLine = head.slice(0, head.indexOf("\r\n"));
  let wire = "";
  const te = field(fields, "transfer-encoding").join(",");
  const cl = field(fields, "content-length");
  if (/chunked\s*$/i.test(te)) {
    for (;;) {
      const sizeLine = await conn.readUntil("\r\n");
      wire += sizeLine;
      const size = parseInt(sizeLine, 16);
      if (size === 0) break;
      wire += latin1(await conn.readBytes(size + 2));
    }
    for (;;) {
      const line = await conn.readUntil("\r\n");
      wire += line;
      if (line === "\r\n") break;
    }
  } else if (cl.length > 0) {
    wire = latin1(await conn.readBytes(Number(cl[0])));
  }
  return { head, requestLine, target: requestLine.split(" ")[1], fields, wire };
}

interface Recording {
  server: RawServer;
  requests: Recorded[];
}

/** A server answering every request `200` with an empty body, recording each request. */
async function recordingServer(options: { hostname?: string; tls?: boolean } = {}) {
  const requests: Recorded[] = [];
  const server = await rawServer(async (conn) => {
    for (;;) {
      const request = await readRaw(conn);
      if (request === null) return;
      requests.push(request);
      await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    }
  }, { hostname: options.hostname, tls: options.tls ? SERVER_TLS : undefined });
  return { server, requests } satisfies Recording;
}

/** Connects wherever the pool asks, but to `hostname:port` (real sockets, for default ports). */
function redirectTo(port: number, hostname = "127.0.0.1"): Connector {
  const base = defaultConnector();
  return { name: "redirect", connect: (options) => base.connect({ ...options, hostname, port }) };
}

/** Runs `fn` with a recording server and a pool on it; closes both. */
async function withPool(
  fn: (pool: ConnectionPool, rec: Recording) => Promise<void>,
  options: ConnectionPoolOptions & { host?: string; listen?: string } = {},
): Promise<void> {
  const { host, listen, ...poolOptions } = options;
  const rec = await recordingServer({ hostname: listen });
  const pool = new HTTPConnectionPool(host ?? listen ?? "127.0.0.1", {
    port: rec.server.port,
    ...poolOptions,
  });
  try {
    await fn(pool, rec);
    assertAtRest(pool);
  } finally {
    await pool.close();
    await rec.server.close();
  }
}

// ---------------------------------------------------------------------------------------
// Request line and automatic headers

test("request head: GET /path, Host with the port, default User-Agent and Accept-Encoding", async () => {
  await withPool(async (pool, { server, requests }) => {
    const r = await pool.request("GET", "/path");
    assert.equal(r.status, 200);
    assert.equal(
      requests[0].head,
      `GET /path HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n${DEFAULTS}\r\n`,
    );
    assert.equal(requests[0].wire, "");
    // The pool's cached head and the per-request path give the same bytes.
    await pool.request("GET", "/path", { headers: {} });
    assert.equal(requests[1].head, requests[0].head);
    assert.equal(`pooled/${VERSION}`, `pooled/${VERSION.trim()}`);
    assert.match(VERSION, /^\d+\.\d+\.\d+/);
  });
});

test("request head: the target of an empty path is /, the query is kept", async () => {
  await withPool(async (pool, { server, requests }) => {
    await pool.request("GET", "");
    await pool.request("GET", `http://127.0.0.1:${server.port}`);
    await pool.request("GET", "/a/./b/../c?x=1&y=%20z");
    assert.deepEqual(requests.map((r) => r.target), ["/", "/", "/a/./b/../c?x=1&y=%20z"]);
  });
});

test("request head: Host carries the port only when it is not the scheme's default", async () => {
  const plain = await recordingServer();
  const secure = await recordingServer({ tls: true });
  const pools = [
    new HTTPConnectionPool("127.0.0.1", { port: 80, connector: redirectTo(plain.server.port) }),
    new HTTPConnectionPool("127.0.0.1", { port: 443, connector: redirectTo(plain.server.port) }),
    new HTTPSConnectionPool("127.0.0.1", {
      port: 443,
      caCerts: [CA_CERT],
      connector: redirectTo(secure.server.port),
    }),
    new HTTPSConnectionPool("127.0.0.1", {
      port: 80,
      caCerts: [CA_CERT],
      connector: redirectTo(secure.server.port),
    }),
  ];
  try {
    for (const pool of pools) await pool.request("GET", "/");
    // A full URL of the pool's origin, written with the default port.
    await pools[0].request("GET", "http://127.0.0.1:80/x");
    await pools[2].request("GET", "https://127.0.0.1/x");
    const host = (rec: Recording) => rec.requests.map((r) => field(r.fields, "host"));
    assert.deepEqual(host(plain), [["127.0.0.1"], ["127.0.0.1:443"], ["127.0.0.1"]]);
    assert.deepEqual(host(secure), [["127.0.0.1"], ["127.0.0.1:80"], ["127.0.0.1"]]);
    for (const pool of pools) assertAtRest(pool);
  } finally {
    for (const pool of pools) await pool.close();
    await plain.server.close();
    await secure.server.close();
  }
});

test("request head: an IPv6 Host is bracketed", async () => {
  for (const host of ["::1", "[::1]"]) {
    await withPool(async (pool, { server, requests }) => {
      await pool.request("GET", "/v6");
      assert.deepEqual(field(requests[0].fields, "host"), [`[::1]:${server.port}`]);
      assert.equal(requests[0].fields[0][0], "Host");
    }, { listen: "::1", host });
  }
});

test("request head: a trailing dot is dropped from Host", async () => {
  const rec = await recordingServer();
  const pool = new HTTPConnectionPool("localhost.", {
    port: 80,
    connector: redirectTo(rec.server.port),
  });
  try {
    await pool.request("GET", "/");
    assert.deepEqual(field(rec.requests[0].fields, "host"), ["localhost"]);
  } finally {
    await pool.close();
    await rec.server.close();
  }
});

// ---------------------------------------------------------------------------------------
// Caller headers

test("request head: caller headers keep their case and order, repeats kept apart", async () => {
  await withPool(async (pool, { server, requests }) => {
    await pool.request("GET", "/", {
      headers: [["X-B", "1"], ["x-a", "2"], ["X-B", "3"], ["ACCEPT", "*/*"]],
    });
    await pool.request("GET", "/", {
      headers: { "x-Mixed-CASE": "v", "Set-Cookie": ["a=1", "b=2"], "X-Z": "z" },
    });
    const dict = new HTTPHeaderDict();
    dict.add("X-Dict", "1");
    dict.add("x-dict", "2");
    await pool.request("GET", "/", { headers: dict });
    const host = `Host: 127.0.0.1:${server.port}\r\n`;
    assert.equal(
      requests[0].head,
      `GET / HTTP/1.1\r\n${host}X-B: 1\r\nx-a: 2\r\nX-B: 3\r\nACCEPT: */*\r\n${DEFAULTS}\r\n`,
    );
    assert.equal(
      requests[1].head,
      `GET / HTTP/1.1\r\n${host}x-Mixed-CASE: v\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n` +
        `X-Z: z\r\n${DEFAULTS}\r\n`,
    );
    assert.deepEqual(requests[2].fields.slice(1, 3), [["X-Dict", "1"], ["X-Dict", "2"]]);
  });
});

test("request head: caller Host, User-Agent and Accept-Encoding replace the defaults, any case", async () => {
  await withPool(async (pool, { requests }) => {
    await pool.request("GET", "/", {
      headers: {
        "accept-encoding": "gzip",
        "X-A": "1",
        "HOST": "example.test",
        "user-AGENT": "me",
      },
    });
    assert.equal(
      requests[0].head,
      "GET / HTTP/1.1\r\naccept-encoding: gzip\r\nX-A: 1\r\nHOST: example.test\r\n" +
        "user-AGENT: me\r\n\r\n",
    );
  });
});

test("request head: SKIP_HEADER suppresses Host, User-Agent and Accept-Encoding", async () => {
  await withPool(async (pool, { server, requests }) => {
    await pool.request("GET", "/", {
      headers: { Host: SKIP_HEADER, "user-agent": SKIP_HEADER, "Accept-Encoding": SKIP_HEADER },
    });
    assert.equal(requests[0].head, "GET / HTTP/1.1\r\n\r\n");
    await pool.request("GET", "/", { headers: { "User-Agent": SKIP_HEADER, "X-Keep": "1" } });
    assert.equal(
      requests[1].head,
      `GET / HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nX-Keep: 1\r\n` +
        "Accept-Encoding: identity\r\n\r\n",
    );
  });
  // In the pool's headers too (the cached head).
  await withPool(async (pool, { requests }) => {
    await pool.request("GET", "/");
    assert.equal(requests[0].head, "GET / HTTP/1.1\r\nX-Pool: p\r\n\r\n");
  }, {
    headers: {
      HOST: SKIP_HEADER,
      "X-Pool": "p",
      "User-Agent": SKIP_HEADER,
      "accept-encoding": SKIP_HEADER,
    },
  });
});

/** Asserts `call` rejects with a TypeError and that the server saw no connection. */
async function rejectsUnsent(
  pool: ConnectionPool,
  server: RawServer,
  call: () => Promise<unknown>,
  message?: RegExp,
): Promise<void> {
  const before = server.connections;
  await assert.rejects(call, (error: unknown) => {
    assert.ok(error instanceof TypeError, `expected a TypeError, got ${error}`);
    if (message) assert.match(error.message, message);
    return true;
  });
  // Give a connection that was opened anyway the time to be accepted.
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(server.connections, before, "nothing was sent");
  assertAtRest(pool);
}

test("request head: SKIP_HEADER on any other header is a TypeError, nothing sent", async () => {
  await withPool(async (pool, { server, requests }) => {
    for (const name of ["X-Custom", "Content-Length", "Accept", "Transfer-Encoding"]) {
      await rejectsUnsent(
        pool,
        server,
        () => pool.request("POST", "/", { headers: { [name]: SKIP_HEADER }, body: "x" }),
        /SKIP_HEADER/,
      );
    }
    assert.equal(requests.length, 0);
  });
});

test("request head: CR, LF or NUL in a header name or value is a TypeError, nothing sent", async () => {
  await withPool(async (pool, { server, requests }) => {
    const bad: Array<Record<string, string>> = [
      { "X-A": "a\r\nInjected: 1" },
      { "X-A": "a\rb" },
      { "X-A": "a\nb" },
      { "X-A": "a\0b" },
      { "X-A\r\nInjected": "1" },
      { "X-A\n": "1" },
      { "X\0A": "1" },
      { "X A": "1" },
      { "X-A:": "1" },
      { "": "1" },
      { "X-Euro": "\u20ac" },
    ];
    for (const headers of bad) {
      await rejectsUnsent(pool, server, () => pool.request("GET", "/", { headers }));
    }
    assert.equal(requests.length, 0);
    // The pool is still usable.
    assert.equal((await pool.request("GET", "/ok")).status, 200);
    assert.equal(requests.length, 1);
  });
});

test("request head: bad pool headers fail every request, nothing sent", async () => {
  const rec = await recordingServer();
  try {
    let pool: HTTPConnectionPool | undefined;
    try {
      pool = new HTTPConnectionPool("127.0.0.1", {
        port: rec.server.port,
        headers: { "X-Bad": "a\r\nInjected: 1" },
      });
    } catch (error) {
      // Rejected at construction: just as good.
      assert.ok(error instanceof TypeError, `${error}`);
    }
    if (pool !== undefined) {
      await rejectsUnsent(pool, rec.server, () => pool.request("GET", "/"));
      await rejectsUnsent(pool, rec.server, () => pool.request("GET", "/", { headers: {} }));
      await pool.close();
    }
    assert.equal(rec.server.connections, 0);
  } finally {
    await rec.server.close();
  }
});

test("request head: a latin1 header value goes out as one byte per character", async () => {
  await withPool(async (pool, { requests }) => {
    await pool.request("GET", "/", { headers: { "X-Latin": "caf\xe9 \xff" } });
    assert.deepEqual(field(requests[0].fields, "x-latin"), ["caf\xe9 \xff"]);
  });
});

test("request head: a method that is not a token is a TypeError, nothing sent", async () => {
  await withPool(async (pool, { server, requests }) => {
    for (const method of ["GE T", "GET\r\n", "GET\n", "G\0ET", "", "GET /x HTTP/1.1\r\nX:"]) {
      await rejectsUnsent(pool, server, () => pool.urlopen(method, "/"), /method/);
      await rejectsUnsent(pool, server, () => pool.request(method, "/"), /method/);
    }
    assert.equal(requests.length, 0);
    // Any token is sent as given through urlopen.
    await pool.urlopen("M-SEARCH", "/");
    await pool.urlopen("get", "/");
    assert.deepEqual(requests.map((r) => r.requestLine), [
      "M-SEARCH / HTTP/1.1",
      "get / HTTP/1.1",
    ]);
  });
});

test("request head: spaces and control characters in the target are percent-encoded", async () => {
  await withPool(async (pool, { requests }) => {
    await pool.request("GET", "/a b\r\nX-Injected: 1\0?q=x y\r\n");
    assert.equal(requests.length, 1);
    assert.equal(requests[0].target, "/a%20b%0D%0AX-Injected:%201%00?q=x%20y%0D%0A");
    assert.deepEqual(field(requests[0].fields, "x-injected"), []);
  });
});

// ---------------------------------------------------------------------------------------
// Framing headers

test("request head: Content-Length for string and byte bodies", async () => {
  await withPool(async (pool, { requests }) => {
    await pool.request("POST", "/", { body: "h\xe9llo \u20ac" });
    await pool.request("PUT", "/", { body: new Uint8Array([0, 1, 2, 255]) });
    await pool.request("POST", "/", { body: new Uint8Array([9, 8, 7]).buffer });
    await pool.request("POST", "/", { body: "" });
    const lengths = requests.map((r) => field(r.fields, "content-length"));
    assert.deepEqual(lengths, [["10"], ["4"], ["3"], ["0"]]);
    assert.equal(requests[0].wire, "h\xc3\xa9llo \xe2\x82\xac");
    assert.equal(requests[1].wire, "\x00\x01\x02\xff");
    for (const r of requests) assert.deepEqual(field(r.fields, "transfer-encoding"), []);
    // The framing header follows the caller's and the default headers.
    assert.equal(requests[0].fields.at(-1)![0], "Content-Length");
  });
});

test("request head: Content-Length: 0 for empty POST, PUT, PATCH; none for GET, DELETE, HEAD, OPTIONS", async () => {
  await withPool(async (pool, { requests }) => {
    const methods = ["POST", "PUT", "PATCH", "PROPFIND", "GET", "DELETE", "HEAD", "OPTIONS"];
    for (const method of methods) await pool.request(method, "/");
    const lengths = requests.map((
      r,
    ) => [r.requestLine.split(" ")[0], field(r.fields, "content-length")]);
    assert.deepEqual(lengths, [
      ["POST", ["0"]],
      ["PUT", ["0"]],
      ["PATCH", ["0"]],
      ["PROPFIND", ["0"]],
      ["GET", []],
      ["DELETE", []],
      ["HEAD", []],
      ["OPTIONS", []],
    ]);
    for (const r of requests) assert.deepEqual(field(r.fields, "transfer-encoding"), []);
    // A GET with a body does say how long it is.
    await pool.request("GET", "/", { body: "abc" });
    assert.deepEqual(field(requests.at(-1)!.fields, "content-length"), ["3"]);
    assert.equal(requests.at(-1)!.wire, "abc");
  });
});

test("request head: chunked: true sends Transfer-Encoding: chunked and a chunk-encoded body", async () => {
  await withPool(async (pool, { requests }) => {
    await pool.request("POST", "/", { body: "hello world", chunked: true });
    const r = requests[0];
    assert.deepEqual(field(r.fields, "transfer-encoding"), ["chunked"]);
    assert.deepEqual(field(r.fields, "content-length"), []);
    assert.equal(r.fields.at(-1)![0], "Transfer-Encoding");
    assert.equal(r.wire, "b\r\nhello world\r\n0\r\n\r\n");
    // An empty body is just the last chunk.
    await pool.request("PUT", "/", { body: "", chunked: true });
    assert.deepEqual(field(requests[1].fields, "transfer-encoding"), ["chunked"]);
    assert.equal(requests[1].wire, "0\r\n\r\n");
  });
});

// urllib3's HTTPConnection.request sends `Transfer-Encoding: chunked` and `0\r\n\r\n`
// whenever chunked=True, body or not.
test(
  "request head: chunked: true without a body still sends the last chunk (as urllib3)",
  async () => {
    await withPool(async (pool, { requests }) => {
      await pool.request("POST", "/", { chunked: true });
      await pool.request("GET", "/", { chunked: true });
      for (const r of requests) {
        assert.deepEqual(field(r.fields, "transfer-encoding"), ["chunked"], r.requestLine);
        assert.deepEqual(field(r.fields, "content-length"), [], r.requestLine);
        assert.equal(r.wire, "0\r\n\r\n");
      }
    });
  },
);

test("request head: a streamed body goes out chunked, a chunk per piece", async () => {
  await withPool(async (pool, { requests }) => {
    async function* pieces() {
      yield "ab";
      yield new Uint8Array([99]);
    }
    await pool.request("POST", "/", { body: pieces() });
    assert.deepEqual(field(requests[0].fields, "transfer-encoding"), ["chunked"]);
    assert.equal(requests[0].wire, "2\r\nab\r\n1\r\nc\r\n0\r\n\r\n");
  });
});

test("request head: a caller Content-Length is respected and never duplicated", async () => {
  await withPool(async (pool, { requests }) => {
    await pool.request("POST", "/", { headers: { "content-LENGTH": "5" }, body: "hello" });
    await pool.request("POST", "/", {
      headers: { "Content-Length": "5" },
      body: "hello",
      chunked: true,
    });
    await pool.request("DELETE", "/", { headers: { "Content-Length": "0" } });
    for (const r of requests) {
      assert.equal(field(r.fields, "content-length").length, 1, r.head);
      assert.deepEqual(field(r.fields, "transfer-encoding"), [], r.head);
    }
    assert.deepEqual(requests[0].fields.filter(([n]) => /length/i.test(n)), [[
      "content-LENGTH",
      "5",
    ]]);
    assert.equal(requests[0].wire, "hello");
    assert.equal(requests[1].wire, "hello");
    assert.deepEqual(field(requests[2].fields, "content-length"), ["0"]);
  });
});

test("request head: a caller Transfer-Encoding: chunked is respected, the body chunk-encoded once", async () => {
  await withPool(async (pool, { requests }) => {
    await pool.request("POST", "/", { headers: { "transfer-encoding": "chunked" }, body: "hello" });
    await pool.request("POST", "/", {
      headers: { "Transfer-Encoding": "chunked" },
      body: "hello",
      chunked: true,
    });
    await pool.request("POST", "/", { headers: { "Transfer-Encoding": "chunked" } });
    for (const r of requests) {
      assert.equal(field(r.fields, "transfer-encoding").length, 1, r.head);
      assert.deepEqual(field(r.fields, "content-length"), [], r.head);
    }
    assert.deepEqual(requests[0].fields.filter(([n]) => /encoding/i.test(n)), [
      ["transfer-encoding", "chunked"],
      ["Accept-Encoding", "identity"],
    ]);
    assert.equal(requests[0].wire, "5\r\nhello\r\n0\r\n\r\n");
    assert.equal(requests[1].wire, "5\r\nhello\r\n0\r\n\r\n");
    assert.equal(requests[2].wire, "0\r\n\r\n");
  });
});

// The library owns framing: the caller's Content-Length and Transfer-Encoding are
// checked against the body and the one framing the library sends, before connecting.

/** A pool that gives up at once, so a request the server misreads fails rather than hangs. */
const PROMPT: ConnectionPoolOptions = { timeout: 3000, retries: false };

/** A 43-byte body, longer than the Content-Length the tests below declare. */
const BODY_43 = "the quick brown fox jumps over the lazy dog";

test("request head: a pool Transfer-Encoding: chunked frames every request chunked, with no Content-Length", async () => {
  await withPool(async (pool, { requests }) => {
    await pool.request("POST", "/", { body: "hello" }); // pool headers only
    await pool.request("POST", "/", { body: "hello", headers: { "X-A": "1" } }); // merged
    await pool.request("GET", "/"); // no headers, no body: the cached head
    await pool.request("GET", "/");
    for (const r of requests) {
      assert.deepEqual(field(r.fields, "transfer-encoding"), ["chunked"], r.head);
      assert.deepEqual(field(r.fields, "content-length"), [], r.head);
    }
    assert.deepEqual(requests.map((r) => r.wire), [
      "5\r\nhello\r\n0\r\n\r\n",
      "5\r\nhello\r\n0\r\n\r\n",
      "0\r\n\r\n",
      "0\r\n\r\n",
    ]);
  }, { ...PROMPT, headers: { "Transfer-Encoding": "chunked" } });
});

test("request head: a pool Content-Length is sent once and must agree with each body", async () => {
  await withPool(async (pool, { server, requests }) => {
    await pool.request("POST", "/", { body: "hello" });
    await pool.request("PUT", "/", { body: "hello", headers: { "X-A": "1" } });
    for (const r of requests) {
      assert.deepEqual(field(r.fields, "content-length"), ["5"], r.head);
      assert.deepEqual(field(r.fields, "transfer-encoding"), [], r.head);
      assert.equal(r.wire, "hello");
    }
    const disagrees = /^Content-Length does not match the body of \d+ bytes: "5"$/;
    for (const headers of [undefined, { "X-A": "1" }]) {
      await rejectsUnsent(
        pool,
        server,
        () => pool.request("POST", "/", { body: BODY_43, headers }),
        disagrees,
      );
      await rejectsUnsent(pool, server, () => pool.request("GET", "/", { headers }), disagrees);
    }
    assert.equal(requests.length, 2);
  }, { ...PROMPT, headers: { "Content-Length": "5" } });
});

test("request head: a caller Content-Length that disagrees with the body is a TypeError, nothing sent", async () => {
  await withPool(async (pool, { server, requests }) => {
    const big = new Blob([new Uint8Array(70_000)]); // streamed, of known length
    const cases: Array<[string, string, Parameters<ConnectionPool["request"]>[2]]> = [
      ["POST", "5", { body: BODY_43 }],
      ["POST", "44", { body: BODY_43 }],
      ["POST", "5", { body: BODY_43, chunked: true }],
      ["GET", "3", {}],
      ["DELETE", "1", { body: "" }],
      ["PUT", "69999", { body: big }],
    ];
    for (const [method, length, options] of cases) {
      await rejectsUnsent(
        pool,
        server,
        () => pool.request(method, "/", { ...options, headers: { "Content-Length": length } }),
        new RegExp(`^Content-Length does not match the body of \\d+ bytes: "${length}"$`),
      );
    }
    assert.equal(requests.length, 0);
    await pool.request("PUT", "/", { body: big, headers: { "Content-Length": "70000" } });
    assert.deepEqual(field(requests[0].fields, "content-length"), ["70000"]);
    assert.equal(requests[0].wire.length, 70_000);
  }, PROMPT);
});

test("request head: a Content-Length that is not one decimal number is a TypeError, nothing sent", async () => {
  await withPool(async (pool, { server, requests }) => {
    const values = [
      "5, 7",
      "5, 5",
      "5,5",
      " 5",
      "5 ",
      "+5",
      "-5",
      "0x5",
      "5.0",
      "5e0",
      "",
      "five",
      "99999999999999999999",
    ];
    for (const value of values) {
      await rejectsUnsent(
        pool,
        server,
        () => pool.request("POST", "/", { body: "hello", headers: { "Content-Length": value } }),
        new RegExp(`^Invalid Content-Length: ${escapeRegExp(JSON.stringify(value))}$`),
      );
    }
    // WHATWG Headers joins repeated values into one.
    const joined = new Headers([["Content-Length", "5"], ["Content-Length", "5"]]);
    await rejectsUnsent(
      pool,
      server,
      () => pool.request("POST", "/", { body: "hello", headers: joined }),
      /^Invalid Content-Length: "5, 5"$/,
    );
    assert.equal(requests.length, 0);
  }, PROMPT);
});

test("request head: a transfer coding other than chunked is a TypeError, nothing sent", async () => {
  await withPool(async (pool, { server, requests }) => {
    for (
      const value of ["gzip", "gzip, chunked", "chunked, chunked", "identity", "", "chunked;x=1"]
    ) {
      await rejectsUnsent(
        pool,
        server,
        () => pool.request("POST", "/", { body: "hello", headers: { "Transfer-Encoding": value } }),
        new RegExp(`^Invalid Transfer-Encoding: ${escapeRegExp(JSON.stringify(value))}`),
      );
    }
    // Both framings at once.
    await rejectsUnsent(
      pool,
      server,
      () =>
        pool.request("POST", "/", {
          body: "hello",
          headers: [["Transfer-Encoding", "chunked"], ["Content-Length", "5"]],
        }),
      /^Content-Length and Transfer-Encoding cannot both be set$/,
    );
    assert.equal(requests.length, 0);
    // Any case of "chunked" is the library's own chunked framing.
    await pool.request("POST", "/", { body: "hi", headers: { "transfer-encoding": "CHUNKED" } });
    assert.equal(requests[0].wire, "2\r\nhi\r\n0\r\n\r\n");
  }, PROMPT);
});

test("request head: a repeated Host, Content-Length or Transfer-Encoding is a TypeError, nothing sent", async () => {
  const host = "127.0.0.1";
  await withPool(async (pool, { server, requests }) => {
    const repeats: Array<() => RequestHeaders> = [
      () => new HTTPHeaderDict({ Host: host }).add("host", host),
      () => new HTTPHeaderDict({ "Content-Length": "5" }).add("Content-Length", "5"),
      () =>
        new HTTPHeaderDict({ "Transfer-Encoding": "chunked" }).add("transfer-encoding", "chunked"),
      () => [["Host", host], ["Host", "other"]],
      () => [["Content-Length", "5"], ["content-length", "5"]],
      () => ({ Host: host, HOST: host }),
      () => ({ "Content-Length": ["5", "5"] }),
    ];
    for (const headers of repeats) {
      await rejectsUnsent(
        pool,
        server,
        () => pool.request("POST", "/", { body: "hello", headers: headers() }),
        /^Duplicate header: "(Host|Content-Length|Transfer-Encoding)"$/i,
      );
    }
    assert.equal(requests.length, 0);
  }, PROMPT);
  // The same in a pool's own headers: the cached head of requests without headers, too.
  for (const name of ["Host", "Content-Length"]) {
    const value = name === "Host" ? host : "0";
    await withPool(async (pool, { server, requests }) => {
      await rejectsUnsent(pool, server, () => pool.request("GET", "/"), /^Duplicate header/);
      await rejectsUnsent(pool, server, () => pool.request("POST", "/"), /^Duplicate header/);
      await rejectsUnsent(
        pool,
        server,
        () => pool.request("GET", "/", { headers: { "X-A": "1" } }),
        /^Duplicate header/,
      );
      assert.equal(requests.length, 0);
    }, { ...PROMPT, headers: new HTTPHeaderDict([[name, value], [name, value]]) });
  }
});

test("request head: a caller Content-Length frames a stream of unknown length, sent unchunked", async () => {
  await withPool(async (pool, { requests }) => {
    async function* pieces() {
      yield "ab";
      yield new Uint8Array([99]);
    }
    await pool.request("POST", "/", { body: pieces(), headers: { "Content-Length": "3" } });
    assert.deepEqual(field(requests[0].fields, "content-length"), ["3"]);
    assert.deepEqual(field(requests[0].fields, "transfer-encoding"), []);
    assert.equal(requests[0].wire, "abc");
  }, PROMPT);
});

// ---------------------------------------------------------------------------------------
// URL, fields and merged headers

test("request head: GET fields merge into an existing query, the fragment is never sent", async () => {
  await withPool(async (pool, { server, requests }) => {
    await pool.request("GET", "/x?a=1", { fields: { b: "2" } });
    await pool.request("GET", "/x", { fields: [["b", "2"], ["b", "3 4"]] });
    await pool.request("GET", "/x?", { fields: { b: "2" } });
    await pool.request("GET", "/x?a=1&", { fields: { b: "2" } });
    await pool.request("GET", "/x?a=1#frag", { fields: { b: "2" } });
    await pool.request("GET", "/x#frag?not=query");
    await pool.request("GET", `http://127.0.0.1:${server.port}/y?z=1#f`, { fields: { q: "v" } });
    await pool.request("DELETE", "/d?a=1", { fields: { b: "2" } });
    await pool.request("HEAD", "/h", { fields: { b: "2" } });
    await pool.request("OPTIONS", "/o", { fields: { b: "2" } });
    assert.deepEqual(requests.map((r) => r.target), [
      "/x?a=1&b=2",
      "/x?b=2&b=3+4",
      "/x?b=2",
      "/x?a=1&b=2",
      "/x?a=1&b=2",
      "/x",
      "/y?z=1&q=v",
      "/d?a=1&b=2",
      "/h?b=2",
      "/o?b=2",
    ]);
    for (const r of requests) assert.doesNotMatch(r.head, /#|frag/);
  });
});

test("request head: POST fields go in the body, with their Content-Type", async () => {
  await withPool(async (pool, { requests }) => {
    await pool.request("POST", "/p?a=1", { fields: { b: "2", c: "x y" }, encodeMultipart: false });
    assert.equal(requests[0].target, "/p?a=1");
    assert.deepEqual(field(requests[0].fields, "content-type"), [
      "application/x-www-form-urlencoded",
    ]);
    assert.equal(requests[0].wire, "b=2&c=x+y");
    assert.deepEqual(field(requests[0].fields, "content-length"), ["9"]);
  });
});

test("request head: pool headers merged with request headers, undefined removes one", async () => {
  await withPool(async (pool, { server, requests }) => {
    await pool.request("GET", "/");
    await pool.request("GET", "/", {
      headers: { "x-both": "request", "X-Pool-Only": undefined, "X-Req": "r" },
    });
    await pool.request("GET", "/", { headers: { "user-agent": undefined } });
    const host = `Host: 127.0.0.1:${server.port}\r\n`;
    assert.equal(
      requests[0].head,
      `GET / HTTP/1.1\r\n${host}X-Pool-Only: p\r\nX-Both: pool\r\nUser-Agent: pool-agent\r\n` +
        "Accept-Encoding: identity\r\n\r\n",
    );
    assert.equal(
      requests[1].head,
      `GET / HTTP/1.1\r\n${host}User-Agent: pool-agent\r\nx-both: request\r\nX-Req: r\r\n` +
        "Accept-Encoding: identity\r\n\r\n",
    );
    // Removing the pool's User-Agent brings back the default one.
    assert.deepEqual(field(requests[2].fields, "user-agent"), [`pooled/${VERSION}`]);
    assert.deepEqual(field(requests[2].fields, "x-both"), ["pool"]);
  }, { headers: { "X-Pool-Only": "p", "X-Both": "pool", "User-Agent": "pool-agent" } });
});

test("request head: manager headers merged with request headers, undefined removes one", async () => {
  const rec = await recordingServer();
  const manager = new PoolManager({ headers: { "X-Mgr": "m", "X-Drop": "d", "X-Over": "mgr" } });
  try {
    const url = `${rec.server.url}/m`;
    await manager.request("GET", url);
    await manager.request("GET", url, {
      headers: { "X-Drop": undefined, "x-over": "req", "X-Req": "r" },
    });
    await manager.request("GET", url, { fields: { q: "1" }, headers: { "X-Mgr": undefined } });
    const pick = (r: Recorded) => r.fields.filter(([n]) => n.toLowerCase().startsWith("x-"));
    assert.deepEqual(pick(rec.requests[0]), [["X-Mgr", "m"], ["X-Drop", "d"], ["X-Over", "mgr"]]);
    assert.deepEqual(pick(rec.requests[1]), [["X-Mgr", "m"], ["x-over", "req"], ["X-Req", "r"]]);
    assert.deepEqual(pick(rec.requests[2]), [["X-Drop", "d"], ["X-Over", "mgr"]]);
    assert.equal(rec.requests[2].target, "/m?q=1");
    for (const r of rec.requests) {
      assert.deepEqual(field(r.fields, "host"), [`127.0.0.1:${rec.server.port}`]);
    }
    const pool = manager.connectionFromUrl(url);
    assertAtRest(pool);
  } finally {
    await manager.close();
    await rec.server.close();
  }
});

// ---------------------------------------------------------------------------------------
// The asterisk-form target (RFC 9112, section 3.2.4)

test("request head: OPTIONS * sends the asterisk-form target; response.url is the origin", async () => {
  await withPool(async (pool, { server, requests }) => {
    const response = await pool.urlopen("OPTIONS", "*");
    assert.equal(requests[0].requestLine, "OPTIONS * HTTP/1.1");
    assert.deepEqual(field(requests[0].fields, "host"), [`127.0.0.1:${server.port}`]);
    assert.equal(response.url, `http://127.0.0.1:${server.port}`);
    await pool.request("OPTIONS", "*");
    assert.equal(requests[1].requestLine, "OPTIONS * HTTP/1.1");
  });
});

test("request head: a Location in the answer to OPTIONS * resolves against the origin", async () => {
  const targets: string[] = [];
  const server = await rawServer(async (conn) => {
    for (;;) {
      let request;
      try {
        request = await conn.readRequest();
      } catch {
        return;
      }
      targets.push(request.target);
      await conn.write(
        request.target === "*"
          ? "HTTP/1.1 307 Temporary Redirect\r\nLocation: next?a=1\r\nContent-Length: 0\r\n\r\n"
          : "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
      );
    }
  });
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port, ...PROMPT });
  try {
    const response = await pool.urlopen("OPTIONS", "*", { retries: 1 });
    assert.equal(response.status, 200);
    assert.deepEqual(targets, ["*", "/next?a=1"]);
    assert.equal(response.url, `http://127.0.0.1:${server.port}/next?a=1`);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("request head: the asterisk-form target with any method but OPTIONS is a TypeError, nothing sent", async () => {
  await withPool(async (pool, { server, requests }) => {
    for (const method of ["GET", "HEAD", "POST", "options"]) {
      await rejectsUnsent(
        pool,
        server,
        () => pool.urlopen(method, "*"),
        new RegExp(`^The request target "\\*" is only for OPTIONS: ${method}$`),
      );
    }
    assert.equal(requests.length, 0);
  });
});
