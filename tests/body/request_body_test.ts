/**
 * Request bodies on the wire (issue 4; urllib3 rows 42-55): every accepted body type and the
 * framing it gets, `fields` in the query or the body, and streamed uploads: backpressure, an
 * early answer before the whole body, and bodies that cannot be sent twice. A raw loopback
 * server records the exact bytes received.
 *
 * The head rules that do not depend on the body (default headers, SKIP_HEADER, CR/LF/NUL in
 * headers, non-token methods, the target's percent-encoding, empty-body framing per method,
 * caller framing headers with string bodies, GET fields merged into the query) are covered
 * byte for byte in `tests/http1/request_head_test.ts`; this file adds what each body type
 * changes.
 */

import { assert, test } from "../_harness.ts";
import { assertAtRest, assertBytes, deadline, rejects, sleep, text, waitFor } from "../_util.ts";
import { type RawConnection, type RawRequest, type RawServer, rawServer } from "../_servers.ts";
import {
  type ConnectionPool,
  type ConnectionPoolOptions,
  HTTPConnectionPool,
  type RequestBody,
  RequestField,
  UnrewindableBodyError,
  VERSION,
} from "../../mod.ts";
import { concatBytes } from "../../src/_bytes.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const utf8 = (value: string): Uint8Array => new TextEncoder().encode(value);

/** Bytes as a string of char codes 0-255 (TextDecoder's "latin1" is windows-1252). */
function latin1(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) out += String.fromCharCode(byte);
  return out;
}

// ---------------------------------------------------------------------------------------
// A recording server and a pool on it

interface Recorder {
  server: RawServer;
  /** Every request read, in order. */
  requests: RawRequest[];
  /** Bytes received on all connections, whether or not they made a request. */
  bytes: number;
}

/** Answers every request `200` with an empty body and records it. */
async function recorder(): Promise<Recorder> {
  const rec = { requests: [], bytes: 0 } as unknown as Recorder;
  rec.server = await rawServer(async (conn) => {
    conn.socket.on("data", (chunk: Uint8Array) => rec.bytes += chunk.length);
    for (;;) {
      let request: RawRequest;
      try {
        request = await conn.readRequest();
      } catch {
        return; // the client went away
      }
      rec.requests.push(request);
      await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    }
  });
  return rec;
}

interface Context {
  pool: ConnectionPool;
  rec: Recorder;
  /** Aborts a request that hangs (a missing feature must fail the test, not stall it). */
  signal: AbortSignal;
}

/** Runs `fn` with a recording server and a pool on it; the pool must end at rest. */
async function withPool(
  fn: (ctx: Context) => Promise<void>,
  options: ConnectionPoolOptions = {},
): Promise<void> {
  const rec = await recorder();
  const pool = new HTTPConnectionPool("127.0.0.1", { port: rec.server.port, ...options });
  const limit = deadline(15_000, "the requests of this test");
  try {
    await fn({ pool, rec, signal: limit.signal });
    assertAtRest(pool);
  } finally {
    limit.clear();
    await pool.close();
    await rec.server.close();
  }
}

/** The header lines of a recorded request, in order. */
function headerLines(request: RawRequest): string[] {
  return request.head.slice(0, -4).split("\r\n").slice(1);
}

/** The values of header `name` (any case), in order. */
function field(request: RawRequest, name: string): string[] {
  return request.rawHeaders.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
}

/**
 * Asserts the request line and the exact header lines. The lines are compared as a multiset:
 * the order of the automatic framing and content-type lines is the library's choice.
 */
function assertHead(
  request: RawRequest,
  requestLine: string,
  port: number,
  lines: string[],
): void {
  assert.equal(request.head.slice(0, request.head.indexOf("\r\n")), requestLine);
  const expected = [
    `Host: 127.0.0.1:${port}`,
    `User-Agent: pooled/${VERSION}`,
    "Accept-Encoding: identity",
    ...lines,
  ];
  assert.deepEqual(headerLines(request).sort(), expected.sort(), request.head);
}

/**
 * Parses a chunk-encoded body strictly: `hex CRLF data CRLF` ... `0 CRLF CRLF`, no
 * extensions, no trailers, nothing after. Returns the chunk sizes and the data.
 */
function parseChunked(wire: Uint8Array): { sizes: number[]; data: Uint8Array } {
  const framing = latin1(wire);
  const sizes: number[] = [];
  const pieces: Uint8Array[] = [];
  let at = 0;
  for (;;) {
    const eol = framing.indexOf("\r\n", at);
    const sizeText = eol < 0 ? framing.slice(at) : framing.slice(at, eol);
    assert.match(sizeText, /^[0-9a-fA-F]+$/, `a bare hex chunk size at byte ${at}`);
    const size = parseInt(sizeText, 16);
    at = eol + 2;
    if (size === 0) {
      assert.equal(framing.slice(at), "\r\n", "the last chunk ends the body, without trailers");
      return { sizes, data: concatBytes(pieces) };
    }
    sizes.push(size);
    pieces.push(wire.subarray(at, at + size));
    at += size;
    assert.equal(framing.slice(at, at + 2), "\r\n", `CRLF after the chunk of ${size} bytes`);
    at += 2;
  }
}

/** Asserts a chunked request: one `Transfer-Encoding: chunked`, no length, the data given. */
function assertChunked(request: RawRequest, data: Uint8Array): void {
  assert.deepEqual(field(request, "transfer-encoding"), ["chunked"], request.head);
  assert.deepEqual(field(request, "content-length"), [], request.head);
  const parsed = parseChunked(request.rawBody);
  assert.ok(parsed.sizes.every((size) => size > 0), "no empty chunk before the last one");
  assertBytes(parsed.data, data);
}

/** A ReadableStream of `pieces` that pulls one piece per read and counts what it gave. */
function countedStream(pieces: Array<Uint8Array>) {
  const state = { pulls: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (state.pulls === pieces.length) return controller.close();
      controller.enqueue(pieces[state.pulls++]);
    },
    cancel() {
      state.cancelled = true;
    },
  }, { highWaterMark: 0 });
  return { stream, state };
}

async function* iterate(pieces: Array<Uint8Array | string>): AsyncGenerator<Uint8Array | string> {
  for (const piece of pieces) yield piece;
}

// ---------------------------------------------------------------------------------------
// Body types with a known length

test("request body: each known-length type goes out with Content-Length and its exact bytes", async () => {
  await withPool(async ({ pool, rec, signal }) => {
    const bytes = new Uint8Array([0, 1, 2, 3, 254, 255, 10, 13]);
    const cases: Array<[string, RequestBody, Uint8Array, string[]]> = [
      ["string (UTF-8)", "h\xe9llo \u20ac\r\n", utf8("h\xe9llo \u20ac\r\n"), []],
      ["Uint8Array view", bytes.subarray(2, 6), bytes.slice(2, 6), []],
      ["ArrayBuffer", bytes.buffer.slice(1, 4), bytes.slice(1, 4), []],
      ["empty Uint8Array", new Uint8Array(0), new Uint8Array(0), []],
      [
        "Blob with a type",
        new Blob(["ab", bytes], { type: "text/x-test" }),
        concatBytes([utf8("ab"), bytes]),
        ["Content-Type: text/x-test"],
      ],
      ["Blob without a type", new Blob([bytes]), bytes, []],
    ];
    for (const [what, body, wire] of cases) {
      await pool.request("POST", "/t", { body, signal });
      const request = rec.requests.at(-1)!;
      assertBytes(request.rawBody, wire, what);
    }
    cases.forEach(([what, , wire, extra], i) => {
      const request = rec.requests[i];
      assertHead(request, "POST /t HTTP/1.1", rec.server.port, [
        `Content-Length: ${wire.length}`,
        ...extra,
      ]);
      assert.deepEqual(field(request, "transfer-encoding"), [], what);
    });
  });
});

test("request body: URLSearchParams is urlencoded UTF-8 with its form content type", async () => {
  await withPool(async ({ pool, rec, signal }) => {
    const params = new URLSearchParams([["a b", "1&2"], ["\xfc", "x=y"], ["a b", ""]]);
    await pool.request("PUT", "/form", { body: params, signal });
    const request = rec.requests[0];
    const wire = utf8("a+b=1%262&%C3%BC=x%3Dy&a+b=");
    assertBytes(request.rawBody, wire);
    assert.deepEqual(field(request, "content-length"), [String(wire.length)]);
    const type = field(request, "content-type");
    assert.equal(type.length, 1, request.head);
    assert.match(type[0], /^application\/x-www-form-urlencoded(;\s*charset=UTF-8)?$/i);
    // A caller Content-Type wins and is not repeated.
    await pool.request("PUT", "/form", {
      body: params,
      headers: { "content-type": "text/plain" },
      signal,
    });
    assert.deepEqual(field(rec.requests[1], "content-type"), ["text/plain"]);
  });
});

test("request body: FormData goes out as multipart with escaped names and its file types", async () => {
  await withPool(async ({ pool, rec, signal }) => {
    const form = new FormData();
    form.append("name", "v\xe4lue \u20ac");
    form.append('we"ird', "x");
    // The runtime may add a charset to a File's type (Bun does): the part carries File.type.
    const file = new File(["file text"], 'n\xf6tes "1".txt', { type: "text/plain" });
    form.append("file", file);
    form.append(
      "blob",
      new Blob([new Uint8Array([0, 255])], { type: "application/x-raw" }),
      "b.bin",
    );
    form.append("name", "again");
    await pool.request("POST", "/upload", { body: form, signal });
    const request = rec.requests[0];
    const type = field(request, "content-type");
    assert.equal(type.length, 1, request.head);
    const boundary = /^multipart\/form-data; boundary=(.+)$/.exec(type[0])?.[1];
    assert.ok(boundary, `a multipart content type: ${type[0]}`);
    const b = boundary.replace(/^"(.*)"$/, "$1");
    const expected = concatBytes([
      utf8(
        `--${b}\r\nContent-Disposition: form-data; name="name"\r\n\r\nv\xe4lue \u20ac\r\n` +
          `--${b}\r\nContent-Disposition: form-data; name="we%22ird"\r\n\r\nx\r\n` +
          `--${b}\r\nContent-Disposition: form-data; name="file"; filename="n\xf6tes %221%22.txt"\r\n` +
          `Content-Type: ${file.type}\r\n\r\nfile text\r\n` +
          `--${b}\r\nContent-Disposition: form-data; name="blob"; filename="b.bin"\r\n` +
          "Content-Type: application/x-raw\r\n\r\n",
      ),
      new Uint8Array([0, 255]),
      utf8(
        `\r\n--${b}\r\nContent-Disposition: form-data; name="name"\r\n\r\nagain\r\n--${b}--\r\n`,
      ),
    ]);
    assert.equal(text(request.rawBody), text(expected));
    assertBytes(request.rawBody, expected);
    assert.deepEqual(field(request, "content-length"), [String(expected.length)]);
    assert.deepEqual(field(request, "transfer-encoding"), []);
  });
});

test("request body: a body of a type not accepted is a TypeError, nothing sent", async () => {
  await withPool(async ({ pool, rec, signal }) => {
    const bad: unknown[] = [42, { a: 1 }, [1, 2], true, Symbol("s")];
    for (const body of bad) {
      const error = await rejects(
        (async () => await pool.request("POST", "/", { body: body as RequestBody, signal }))(),
      );
      assert.ok(error instanceof TypeError, `${String(body)}: ${error}`);
      assert.match(error.message, /body/);
    }
    await sleep(20);
    assert.equal(rec.server.connections, 0, "no connection was opened");
    assert.equal(rec.bytes, 0);
  });
});

// ---------------------------------------------------------------------------------------
// Streamed bodies and chunked framing

test("request body: streams and async iterables go out chunked, empty pieces skipped", async () => {
  await withPool(async ({ pool, rec, signal }) => {
    const bytes = new Uint8Array([0, 13, 10, 255]);
    const cases: Array<[string, () => RequestBody, Uint8Array]> = [
      [
        "ReadableStream",
        () =>
          countedStream([utf8("ab"), new Uint8Array(0), utf8("cde"), new Uint8Array(0), bytes])
            .stream,
        concatBytes([utf8("abcde"), bytes]),
      ],
      [
        "AsyncIterable of strings and bytes",
        () => iterate(["ab", new Uint8Array(0), "", "\xfc\u20ac", bytes, ""]),
        concatBytes([utf8("ab\xfc\u20ac"), bytes]),
      ],
      ["ReadableStream of empty pieces", () => countedStream([new Uint8Array(0)]).stream, utf8("")],
      ["AsyncIterable of nothing", () => iterate([]), utf8("")],
    ];
    for (const [what, body, data] of cases) {
      await pool.request("POST", "/s", { body: body(), signal });
      const request = rec.requests.at(-1)!;
      assertHead(request, "POST /s HTTP/1.1", rec.server.port, ["Transfer-Encoding: chunked"]);
      assertChunked(request, data);
      if (data.length === 0) assert.equal(latin1(request.rawBody), "0\r\n\r\n", what);
    }
    // A GET with a streamed body is chunked too.
    await pool.request("GET", "/g", { body: iterate(["x"]), signal });
    assertChunked(rec.requests.at(-1)!, utf8("x"));
  });
});

test("request body: a large stream arrives whole, in as many chunks as it likes", async () => {
  await withPool(async ({ pool, rec, signal }) => {
    const pieces: Uint8Array[] = [];
    for (let i = 0; i < 64; i++) pieces.push(new Uint8Array(16 * KiB + i).fill(i));
    const { stream, state } = countedStream(pieces);
    await pool.request("PUT", "/big", { body: stream, signal });
    assertChunked(rec.requests[0], concatBytes(pieces));
    assert.equal(state.pulls, pieces.length);
  });
});

test("request body: chunked: true chunk-encodes every known-length type", async () => {
  await withPool(async ({ pool, rec, signal }) => {
    const bytes = new Uint8Array([1, 2, 3, 0, 255]);
    const form = new FormData();
    form.append("k", "v");
    const cases: Array<[RequestBody, Uint8Array | null, string | null]> = [
      [bytes, bytes, null],
      [bytes.buffer.slice(0), bytes, null],
      [new Blob([bytes], { type: "x/y" }), bytes, "x/y"],
      [new URLSearchParams({ a: "1" }), utf8("a=1"), "application/x-www-form-urlencoded"],
      [form, null, "multipart/form-data"],
      [new Uint8Array(0), utf8(""), null],
    ];
    for (const [body] of cases) await pool.request("POST", "/c", { body, chunked: true, signal });
    cases.forEach(([, data, type], i) => {
      const request = rec.requests[i];
      const parsed = parseChunked(request.rawBody);
      assertChunked(request, data ?? parsed.data);
      if (type === null) assert.deepEqual(field(request, "content-type"), [], request.head);
      else assert.ok(field(request, "content-type")[0]?.startsWith(type), request.head);
      if (type === "multipart/form-data") {
        assert.match(text(parsed.data), /name="k"\r\n\r\nv\r\n/);
      }
    });
  });
});

test("request body: caller framing headers with a streamed body are respected, never doubled", async () => {
  await withPool(async ({ pool, rec, signal }) => {
    // Content-Length from the caller: the stream is sent as is, unframed.
    await pool.request("PUT", "/cl", {
      body: countedStream([utf8("he"), utf8("llo")]).stream,
      headers: { "content-LENGTH": "5" },
      signal,
    });
    // Transfer-Encoding from the caller: chunk-encoded once, the header sent once.
    await pool.request("PUT", "/te", {
      body: iterate(["he", "llo"]),
      headers: { "Transfer-Encoding": "chunked" },
      signal,
    });
    // chunked: true and the caller's header together: still once.
    await pool.request("PUT", "/te2", {
      body: new Blob(["hello"]),
      headers: { "transfer-encoding": "chunked" },
      chunked: true,
      signal,
    });
    const [cl, te, te2] = rec.requests;
    assert.deepEqual(cl.rawHeaders.filter(([n]) => /^content-length$/i.test(n)), [
      ["content-LENGTH", "5"],
    ]);
    assert.deepEqual(field(cl, "transfer-encoding"), []);
    assert.equal(latin1(cl.rawBody), "hello");
    for (const request of [te, te2]) {
      assert.equal(field(request, "transfer-encoding").length, 1, request.head);
      assertChunked(request, utf8("hello"));
    }
  });
});

test("request body: a stream that fails midway rejects the request and closes the connection", async () => {
  const seen: Array<{ ended: boolean; wire: string }> = [];
  const server = await rawServer(async (conn) => {
    const entry = { ended: false, wire: "" };
    seen.push(entry);
    try {
      entry.wire = latin1(await conn.readToEnd());
    } finally {
      entry.ended = true;
    }
  });
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
  const limit = deadline(10_000, "the failing upload");
  try {
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (++pulls > 3) throw new Error("the source broke");
        controller.enqueue(utf8(`piece${pulls}`));
      },
    }, { highWaterMark: 0 });
    const error = await rejects(pool.request("PUT", "/", { body, signal: limit.signal }));
    const chain: string[] = [];
    for (let e: unknown = error; e instanceof Error; e = e.cause) chain.push(e.message);
    assert.ok(chain.some((m) => m.includes("the source broke")), `error chain: ${chain}`);
    assertAtRest(pool);
    assert.equal(pool.stats.open, 0, "the connection with a half-sent body is closed");
    assert.ok(server.connections <= 1, "a broken stream is not sent again");
    if (server.connections === 1) {
      await waitFor(() => seen[0]?.ended, "the server to see the connection close");
      assert.ok(!seen[0].wire.endsWith("0\r\n\r\n"), "the body was not ended as if complete");
    }
  } finally {
    limit.clear();
    await pool.close();
    await server.close();
  }
});

// ---------------------------------------------------------------------------------------
// fields

test("request fields: multipart on the wire with every kind of field value", async () => {
  await withPool(async ({ pool, rec, signal }) => {
    const custom = new RequestField("custom", "c", "c.csv", { "X-Part": "yes" });
    custom.makeMultipart({ contentType: "text/x-c" });
    await pool.request("POST", "/m?keep=1", {
      fields: [
        ["text", "v\xe4lue"],
        ["file", ["photo.PNG", new Uint8Array([137, 80, 0, 255])]],
        ["other", ["data.unknownext", "x"]],
        ["bare", ["noextension", "y"]],
        ["typed", ["a.txt", "hi", "application/x-mine"]],
        ['n"a\r\nme', ['q"u\r\not\xe9.txt', "e"]],
        ["custom", custom],
        ["text", "second"],
      ],
      multipartBoundary: "pooledBoundary42",
      signal,
    });
    const request = rec.requests[0];
    const b = "--pooledBoundary42";
    const expected = concatBytes([
      utf8(
        `${b}\r\nContent-Disposition: form-data; name="text"\r\n\r\nv\xe4lue\r\n` +
          `${b}\r\nContent-Disposition: form-data; name="file"; filename="photo.PNG"\r\n` +
          "Content-Type: image/png\r\n\r\n",
      ),
      new Uint8Array([137, 80, 0, 255]),
      utf8(
        `\r\n${b}\r\nContent-Disposition: form-data; name="other"; filename="data.unknownext"\r\n` +
          "Content-Type: application/octet-stream\r\n\r\nx\r\n" +
          `${b}\r\nContent-Disposition: form-data; name="bare"; filename="noextension"\r\n` +
          "Content-Type: application/octet-stream\r\n\r\ny\r\n" +
          `${b}\r\nContent-Disposition: form-data; name="typed"; filename="a.txt"\r\n` +
          "Content-Type: application/x-mine\r\n\r\nhi\r\n" +
          `${b}\r\nContent-Disposition: form-data; name="n%22a%0D%0Ame"; ` +
          'filename="q%22u%0D%0Aot\xe9.txt"\r\nContent-Type: text/plain\r\n\r\ne\r\n' +
          `${b}\r\nContent-Disposition: form-data; name="custom"; filename="c.csv"\r\n` +
          "Content-Type: text/x-c\r\nX-Part: yes\r\n\r\nc\r\n" +
          `${b}\r\nContent-Disposition: form-data; name="text"\r\n\r\nsecond\r\n${b}--\r\n`,
      ),
    ]);
    assert.equal(text(request.rawBody), text(expected));
    assertBytes(request.rawBody, expected);
    assertHead(request, "POST /m?keep=1 HTTP/1.1", rec.server.port, [
      "Content-Type: multipart/form-data; boundary=pooledBoundary42",
      `Content-Length: ${expected.length}`,
    ]);

    // A record, PATCH, and the default boundary: 32 random hex characters.
    await pool.request("PATCH", "/m", { fields: { a: "1", j: ["x.json", "{}"] }, signal });
    const second = rec.requests[1];
    const boundary = /^multipart\/form-data; boundary=([0-9a-f]{32})$/.exec(
      field(second, "content-type")[0] ?? "",
    )?.[1];
    assert.ok(boundary, second.head);
    assert.equal(
      text(second.rawBody),
      `--${boundary}\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="j"; filename="x.json"\r\n` +
        `Content-Type: application/json\r\n\r\n{}\r\n--${boundary}--\r\n`,
    );
  });
});

test("request fields: urlencoded with encodeMultipart false; a caller Content-Type wins", async () => {
  await withPool(async ({ pool, rec, signal }) => {
    await pool.request("PUT", "/u", {
      fields: [["a", "1"], ["a", "2 3"], ["\xfc", "&="]],
      encodeMultipart: false,
      signal,
    });
    await pool.request("POST", "/u", {
      fields: { a: "1" },
      encodeMultipart: false,
      headers: { "CONTENT-TYPE": "application/x-custom" },
      signal,
    });
    await pool.request("POST", "/u", {
      fields: { a: "1" },
      headers: [["content-type", "multipart/mixed; boundary=fixed"]],
      multipartBoundary: "fixed",
      signal,
    });
    const [pairs, custom, mixed] = rec.requests;
    assertHead(pairs, "PUT /u HTTP/1.1", rec.server.port, [
      "Content-Type: application/x-www-form-urlencoded",
      "Content-Length: 23",
    ]);
    assert.equal(latin1(pairs.rawBody), "a=1&a=2+3&%C3%BC=%26%3D");
    assert.deepEqual(custom.rawHeaders.filter(([n]) => /^content-type$/i.test(n)), [
      ["CONTENT-TYPE", "application/x-custom"],
    ]);
    assert.equal(latin1(custom.rawBody), "a=1");
    assert.deepEqual(field(mixed, "content-type"), ["multipart/mixed; boundary=fixed"]);
    assert.ok(text(mixed.rawBody).startsWith("--fixed\r\n"));
  });
});

test("request fields: in the query for GET, HEAD, DELETE and OPTIONS, with no body", async () => {
  await withPool(async ({ pool, rec, signal }) => {
    for (const method of ["GET", "HEAD", "DELETE", "OPTIONS"]) {
      await pool.request(method, "/q?a=1", {
        fields: [["b", "x y"], ["b", "\xfc"]],
        signal,
      });
    }
    for (const [i, method] of ["GET", "HEAD", "DELETE", "OPTIONS"].entries()) {
      const request = rec.requests[i];
      assertHead(request, `${method} /q?a=1&b=x+y&b=%C3%BC HTTP/1.1`, rec.server.port, []);
      assert.equal(request.rawBody.length, 0);
    }
  });
});

test("request fields: fields with body, json with body, and files in a query are TypeErrors, nothing sent", async () => {
  await withPool(async ({ pool, rec, signal }) => {
    const { stream, state } = countedStream([utf8("never sent")]);
    const misuse: Array<[string, () => Promise<unknown>]> = [
      ["fields + body", () => pool.request("POST", "/", { fields: { a: "1" }, body: "x", signal })],
      ["fields + empty body", () => pool.request("PUT", "/", { fields: { a: "1" }, body: "" })],
      [
        "fields + stream body",
        () => pool.request("POST", "/", { fields: { a: "1" }, body: stream }),
      ],
      ["json + body", () => pool.request("POST", "/", { json: { a: 1 }, body: "x", signal })],
      ["json + stream body", () => pool.request("PUT", "/", { json: [1], body: stream, signal })],
      ["a file in GET fields", () => pool.request("GET", "/", { fields: { f: ["a.txt", "x"] } })],
    ];
    for (const [what, call] of misuse) {
      const error = await rejects((async () => await call())());
      assert.ok(error instanceof TypeError, `${what}: ${error}`);
    }
    await sleep(20);
    assert.equal(rec.server.connections, 0, "no connection was opened");
    assert.equal(rec.bytes, 0);
    assert.equal(state.pulls, 0, "the stream body was not read");
    assert.equal(stream.locked, false, "the stream body was not locked");
  });
});

test("request body: a bad header or method fails before a stream body is read, nothing sent", async () => {
  await withPool(async ({ pool, rec, signal }) => {
    const { stream, state } = countedStream([utf8("never sent")]);
    const bad: Array<[string, () => Promise<unknown>]> = [
      [
        "CRLF in a value",
        () => pool.request("PUT", "/", { body: stream, headers: { "X-A": "1\r\nX-B: 2" }, signal }),
      ],
      [
        "NUL in a name",
        () => pool.request("PUT", "/", { body: stream, headers: { "X\0A": "1" }, signal }),
      ],
      ["a method with a space", () => pool.urlopen("PU T", "/", { body: stream, signal })],
      ["a method with CRLF", () => pool.request("PUT\r\n", "/", { body: stream, signal })],
    ];
    for (const [what, call] of bad) {
      const error = await rejects((async () => await call())());
      assert.ok(error instanceof TypeError, `${what}: ${error}`);
    }
    await sleep(20);
    assert.equal(rec.server.connections, 0, "no connection was opened");
    assert.equal(rec.bytes, 0);
    assert.equal(state.pulls, 0, "the stream body was not read");
  });
});

// ---------------------------------------------------------------------------------------
// Streamed uploads: backpressure, early answers, no second sending

/**
 * Reads a chunked body of any size without keeping it; `afterRead` runs after each read with
 * the data length so far (to read slowly). Returns the data length.
 */
async function drainChunked(
  conn: RawConnection,
  afterRead: (total: number) => Promise<void>,
): Promise<number> {
  let total = 0;
  for (;;) {
    const sizeLine = await conn.readUntil("\r\n");
    assert.match(sizeLine, /^[0-9a-fA-F]+\r\n$/, "a chunk size line");
    const size = parseInt(sizeLine, 16);
    if (size === 0) break;
    for (let left = size; left > 0;) {
      const n = Math.min(left, Math.max(1, conn.buffered.length));
      await conn.readBytes(n);
      left -= n;
      total += n;
      await afterRead(total);
    }
    await conn.readBytes(2);
  }
  await conn.readUntil("\r\n");
  return total;
}

/** A lazily made streamed body of `total` bytes in `piece`-byte pieces, counting its pulls. */
function lazyBody(kind: "ReadableStream" | "AsyncIterable", total: number, piece = 64 * KiB) {
  const state = { pulled: 0, cancelled: false, exhausted: false, closed: false };
  const next = (): Uint8Array | null => {
    if (state.pulled >= total) return null;
    const size = Math.min(piece, total - state.pulled);
    state.pulled += size;
    return new Uint8Array(size).fill(0x61);
  };
  if (kind === "ReadableStream") {
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const bytes = next();
        if (bytes === null) {
          state.exhausted = true;
          controller.close();
        } else controller.enqueue(bytes);
      },
      cancel() {
        state.cancelled = true;
      },
    }, { highWaterMark: 0 });
    return { body: body as RequestBody, state };
  }
  async function* generate() {
    try {
      for (let bytes = next(); bytes !== null; bytes = next()) yield bytes;
      state.exhausted = true;
    } finally {
      state.closed = true;
    }
  }
  return { body: generate() as RequestBody, state };
}

for (const kind of ["ReadableStream", "AsyncIterable"] as const) {
  test(`upload backpressure (${kind}): the body is pulled only as fast as the server reads`, async () => {
    const TOTAL = 48 * MiB;
    // Kernel socket buffers on loopback hold about 5 MiB here while the server does not read;
    // anything far beyond that was pulled into memory ahead of the socket.
    const BOUND = 16 * MiB;
    const { body, state } = lazyBody(kind, TOTAL);
    let received = 0;
    let aheadMax = 0;
    const server = await rawServer(async (conn) => {
      conn.socket.on("data", (chunk: Uint8Array) => received += chunk.length);
      await conn.readUntil("\r\n\r\n");
      // How far the body was pulled ahead of what reached this process (the rest is in
      // the kernel's socket buffers or in the client's memory).
      const sample = () => aheadMax = Math.max(aheadMax, state.pulled - received);
      // Read nothing for a while, then slowly (a pause after every read) until 256 KiB of the
      // body is in, sampling after every pause. Reading longer would let the kernel grow its
      // receive window with what the reader takes, and the bound would measure the kernel.
      conn.socket.pause();
      await sleep(300);
      sample();
      conn.socket.resume();
      const slowly = async (consumed: number) => {
        if (consumed >= 256 * KiB) return;
        conn.socket.pause();
        await sleep(10);
        sample();
        conn.socket.resume();
      };
      const n = await drainChunked(conn, slowly);
      await conn.write(`HTTP/1.1 200 OK\r\nX-Received: ${n}\r\nContent-Length: 0\r\n\r\n`);
    });
    const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
    const limit = deadline(60_000, "the 48 MiB upload");
    try {
      const r = await pool.request("PUT", "/upload", {
        body,
        timeout: 30_000,
        signal: limit.signal,
      });
      assert.deepEqual(server.errors, []);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get("x-received"), String(TOTAL), "the whole body arrived");
      assert.ok(
        aheadMax < BOUND,
        `pulled ${(aheadMax / MiB).toFixed(1)} MiB ahead of what the server had read`,
      );
      assertAtRest(pool);
    } finally {
      limit.clear();
      await pool.close();
      await server.close();
    }
  });

  test(`early answer (${kind}): a 413 before the body is read is returned, the rest not pulled`, async () => {
    const TOTAL = 64 * MiB;
    const { body, state } = lazyBody(kind, TOTAL);
    const server = await rawServer(async (conn) => {
      await conn.readUntil("\r\n\r\n");
      conn.socket.pause(); // never read the body
      await conn.write(
        "HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: 7\r\n\r\ntoo big",
      );
      conn.end();
    });
    const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
    const limit = deadline(30_000, "the upload answered early");
    try {
      const r = await pool.request("POST", "/upload", {
        body,
        timeout: 20_000,
        signal: limit.signal,
      });
      assert.equal(r.status, 413);
      assert.equal(text(r.data), "too big");
      assertAtRest(pool);
      assert.ok(
        state.pulled < TOTAL / 2,
        `${(state.pulled / MiB).toFixed(1)} MiB of ${
          TOTAL / MiB
        } MiB pulled for a server that read none`,
      );
      assert.equal(server.connections, 1);
    } finally {
      limit.clear();
      await pool.close();
      await server.close();
    }
  });

  test(`early answer (${kind}): the body source is closed once the request is over`, async () => {
    const { body, state } = lazyBody(kind, 64 * MiB);
    const server = await rawServer(async (conn) => {
      await conn.readUntil("\r\n\r\n");
      conn.socket.pause();
      await conn.write(
        "HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
      );
      conn.end();
    });
    const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
    const limit = deadline(30_000, "the upload answered early");
    try {
      const r = await pool.request("POST", "/upload", {
        body,
        timeout: 20_000,
        signal: limit.signal,
      });
      assert.equal(r.status, 413);
      const closed = () => kind === "ReadableStream" ? state.cancelled : state.closed;
      await waitFor(closed, `the ${kind} to be cancelled`);
      assert.equal(state.exhausted, false, "it was not read to its end");
      assertAtRest(pool);
    } finally {
      limit.clear();
      await pool.close();
      await server.close();
    }
  });

  test(`no second sending (${kind}): a retry after part of the body went out is UnrewindableBodyError`, async () => {
    // urllib3 rewinds the body before a retry, outside its retry handling (rows 55, 65), so
    // the error is UnrewindableBodyError itself, not wrapped in MaxRetryError.
    const heads: string[] = [];
    const server = await rawServer(async (conn) => {
      heads.push(await conn.readUntil("\r\n\r\n"));
      await conn.readBytes(100 * KiB);
      conn.destroy(); // reset in the middle of the body, no answer
    });
    const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
    const limit = deadline(20_000, "the retried upload");
    try {
      const { body, state } = lazyBody(kind, 8 * MiB);
      const error = await rejects(
        pool.request("PUT", "/upload", { body, timeout: 10_000, signal: limit.signal }),
      );
      assert.ok(error instanceof UnrewindableBodyError, `${error}`);
      assert.equal(error.code, "ERR_UNREWINDABLE_BODY");
      assert.ok(state.pulled > 0);
      assert.equal(heads.length, 1, "the request was not sent again");
      assertAtRest(pool);
    } finally {
      limit.clear();
      await pool.close();
      await server.close();
    }
  });

  test(`no second sending (${kind}): a stale-connection resend after part of the body is UnrewindableBodyError`, async () => {
    const heads: string[] = [];
    const server = await rawServer(async (conn) => {
      for (;;) {
        let head: string;
        try {
          head = await conn.readUntil("\r\n\r\n");
        } catch {
          return;
        }
        heads.push(head.slice(0, head.indexOf("\r\n")));
        if (head.startsWith("GET")) {
          await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
          continue;
        }
        // The kept-alive connection "closes at the moment of reuse": after the head and the
        // first body bytes, a FIN and no answer.
        await conn.readBytes(1);
        conn.end();
        return;
      }
    });
    const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port });
    const limit = deadline(20_000, "the resent upload");
    try {
      assert.equal((await pool.request("GET", "/warm", { signal: limit.signal })).status, 200);
      const { body } = lazyBody(kind, MiB);
      const error = await rejects(
        pool.request("PUT", "/upload", {
          body,
          retries: false,
          timeout: 10_000,
          signal: limit.signal,
        }),
      );
      assert.ok(error instanceof UnrewindableBodyError, `${error}`);
      assert.deepEqual(heads, ["GET /warm HTTP/1.1", "PUT /upload HTTP/1.1"]);
      assertAtRest(pool);
    } finally {
      limit.clear();
      await pool.close();
      await server.close();
    }
  });
}
