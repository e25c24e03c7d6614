/**
 * Response bodies on the wire (issue 4; urllib3 rows 93-111): `Content-Encoding` decoding
 * (gzip, x-gzip, deflate zlib and raw, br, zstd, chains), `decodeContent: false`,
 * `read(amt)` / `stream(amt)` / `body` counting DECODED bytes, `maxResponseSize` on the
 * decoded size, and the framing checks (short bodies, repeated Content-Length, CL with
 * chunked, bodies on 204/304/HEAD). A raw loopback server sends the exact bytes; compressed
 * bodies are made at test time with `node:zlib`. The library asks for `identity`, as urllib3
 * does: these servers send compressed bodies regardless.
 *
 * `tests/response_test.ts` covers the identity-body basics of `read`, `stream`, `body`,
 * `data` with `preloadContent: false`, `releaseConn`, `drainConn` and `close`;
 * `tests/http1/connection_test.ts` covers truncated bodies with `enforceContentLength`.
 */

import * as zlib from "node:zlib";
import { assert, test } from "./_harness.ts";
import {
  assertAtRest,
  assertBytes,
  deadline,
  type KeepAliveServer,
  keepAliveServer,
  rejects,
  sleep,
  text,
  waitFor,
} from "./_util.ts";
import type { RawConnection } from "./_servers.ts";
import {
  type ConnectionPool,
  type ConnectionPoolOptions,
  DecodeError,
  HTTPConnectionPool,
  type HTTPResponse,
  IncompleteRead,
  InvalidHeader,
  MaxRetryError,
  ProtocolError,
  ResponseTooLargeError,
  type UrlopenOptions,
} from "../mod.ts";
import { concatBytes } from "../src/_bytes.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const utf8 = (value: string): Uint8Array => new TextEncoder().encode(value);

// ---------------------------------------------------------------------------------------
// Compressed fixtures (node:zlib, on both runtimes)

type Codec = (data: Uint8Array) => Uint8Array;
const view = (b: Uint8Array): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
const gzip: Codec = (d) => view(zlib.gzipSync(d));
const deflate: Codec = (d) => view(zlib.deflateSync(d));
const deflateRaw: Codec = (d) => view(zlib.deflateRawSync(d));
const br: Codec = (d) => view(zlib.brotliCompressSync(d));
const zstdCompress = (zlib as { zstdCompressSync?: (d: Uint8Array) => Uint8Array })
  .zstdCompressSync;
const zstd: Codec | null = zstdCompress ? (d) => view(zstdCompress(d)) : null;
if (zstd === null) {
  console.warn("response_body_test: zstd tests skipped: node:zlib has no zstdCompressSync here");
}

interface Encoding {
  /** Test name. */
  name: string;
  /** The Content-Encoding value sent. */
  header: string;
  encode: Codec;
}

const ENCODINGS: Encoding[] = [
  { name: "gzip", header: "gzip", encode: gzip },
  { name: "x-gzip", header: "x-gzip", encode: gzip },
  { name: "deflate (zlib-wrapped)", header: "deflate", encode: deflate },
  { name: "deflate (raw)", header: "deflate", encode: deflateRaw },
  { name: "br", header: "br", encode: br },
  ...(zstd ? [{ name: "zstd", header: "zstd", encode: zstd }] : []),
];

/** `n` bytes of a position-dependent pattern that compresses, but not to nothing. */
function pattern(n: number, seed = 0): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed + (i >> 9) * 7) % 251;
  return out;
}

/** The decoded text every encoding test expects: 50 003 bytes. */
const PLAIN = pattern(50_003);

// ---------------------------------------------------------------------------------------
// A server answering by path, and a pool on it

interface Reply {
  /** Status line after `HTTP/1.1 ` (default `200 OK`). */
  status?: string;
  /** Header lines without CRLF, e.g. `Content-Encoding: gzip`. */
  headers?: string[];
  /** The body as it goes on the wire (already content-encoded). */
  body: Uint8Array;
  /** `length` (default): Content-Length; `chunked`: chunked, one chunk per piece. */
  framing?: "length" | "chunked";
  /** Write the body in pieces of this many bytes, pausing now and then (default: at once). */
  piece?: number;
}

/** Writes one response, as `reply` says. */
async function send(conn: RawConnection, reply: Reply): Promise<void> {
  const { body, framing = "length" } = reply;
  let head = `HTTP/1.1 ${reply.status ?? "200 OK"}\r\n`;
  for (const line of reply.headers ?? []) head += `${line}\r\n`;
  head += framing === "chunked"
    ? "Transfer-Encoding: chunked\r\n"
    : `Content-Length: ${body.length}\r\n`;
  await conn.write(`${head}\r\n`);
  const piece = reply.piece ?? Math.max(body.length, 1);
  for (let at = 0, n = 0; at < body.length; at += piece, n++) {
    const part = body.subarray(at, at + piece);
    await conn.write(
      framing === "chunked"
        ? concatBytes([utf8(`${part.length.toString(16)}\r\n`), part, utf8("\r\n")])
        : part,
    );
    // Small writes a moment apart arrive in separate reads.
    if (reply.piece !== undefined && n % 8 === 7) await sleep(1);
  }
  if (framing === "chunked") await conn.write("0\r\n\r\n");
}

interface Served extends KeepAliveServer {
  /** Requests per path. */
  hits: Record<string, number>;
}

/** A keep-alive server answering each path from `routes`; `/id` gives the connection id. */
async function serve(routes: Record<string, Reply>): Promise<Served> {
  const hits: Record<string, number> = {};
  const served = await keepAliveServer(async (req, id, conn) => {
    hits[req.target] = (hits[req.target] ?? 0) + 1;
    const route = routes[req.target];
    if (req.target === "/id") await send(conn, { body: utf8(String(id)) });
    else if (route === undefined) await send(conn, { status: "404 Not Found", body: utf8("?") });
    else await send(conn, route);
  });
  return { ...served, hits };
}

interface Context extends Served {
  pool: ConnectionPool;
  /** Request options every request of the test uses: a deadline against hangs. */
  bounded: UrlopenOptions;
}

/** Runs `fn` with a server for `routes` and a pool on it; the pool must end at rest. */
async function withServer(
  routes: Record<string, Reply>,
  fn: (ctx: Context) => Promise<void>,
  options: ConnectionPoolOptions = {},
): Promise<void> {
  const served = await serve(routes);
  const pool = new HTTPConnectionPool("127.0.0.1", { port: served.server.port, ...options });
  const limit = deadline(20_000, "the requests of this test");
  try {
    await fn({ ...served, pool, bounded: { signal: limit.signal, timeout: 10_000 } });
    assertAtRest(pool);
  } finally {
    limit.clear();
    await pool.close();
    await served.server.close();
  }
}

/** Reads a streamed body with `read(amt)` to its end; returns the pieces. */
async function readAll(r: HTTPResponse, amt: number): Promise<Uint8Array[]> {
  const pieces: Uint8Array[] = [];
  for (;;) {
    const piece = await r.read(amt);
    if (piece.length === 0) return pieces;
    pieces.push(piece);
  }
}

/** Asserts every piece is `amt` bytes but the last, which is 1..amt. */
function assertExactPieces(pieces: Uint8Array[], amt: number, total: number, what: string) {
  const sizes = pieces.map((p) => p.length);
  const expected = Array.from(
    { length: Math.ceil(total / amt) },
    (_, i) => Math.min(amt, total - i * amt),
  );
  assert.deepEqual(sizes, expected, what);
}

/** The error of a streamed request: from `request` itself or from reading its body. */
function streamedError(pool: ConnectionPool, path: string, options: UrlopenOptions) {
  return rejects((async () => {
    const r = await pool.request("GET", path, { ...options, preloadContent: false });
    await r.read();
  })());
}

function assertError<T extends Error>(
  error: unknown,
  kind: abstract new (...args: never[]) => T,
  what: string,
): asserts error is T {
  assert.ok(error instanceof kind, `${what}: expected ${kind.name}, got ${error}`);
}

// ---------------------------------------------------------------------------------------
// Decoding: every encoding, preloaded and streamed

for (const { name, header, encode } of ENCODINGS) {
  test(`decoding ${name}: data, read(amt), stream(amt) and body give the decoded bytes`, async () => {
    const wire = encode(PLAIN);
    const headers = [`Content-Encoding: ${header}`];
    await withServer({
      "/length": { headers, body: wire },
      "/chunked": { headers, body: wire, framing: "chunked", piece: 512 },
    }, async ({ pool, bounded, server }) => {
      for (const path of ["/length", "/chunked"]) {
        const r = await pool.request("GET", path, bounded);
        assert.equal(r.data.length, PLAIN.length, `${path}: decoded length`);
        assertBytes(r.data, PLAIN, path);
        assert.equal(r.headers.get("content-encoding"), header, "the header is kept");
      }
      const byRead = await pool.request("GET", "/chunked", { ...bounded, preloadContent: false });
      const pieces = await readAll(byRead, 1000);
      assertExactPieces(pieces, 1000, PLAIN.length, "read(1000)");
      assertBytes(concatBytes(pieces), PLAIN);
      assert.equal((await byRead.read(1000)).length, 0, "empty at the end");

      const byStream = await pool.request("GET", "/length", { ...bounded, preloadContent: false });
      const streamed: Uint8Array[] = [];
      for await (const piece of byStream.stream(4096)) streamed.push(piece);
      assertExactPieces(streamed, 4096, PLAIN.length, "stream(4096)");
      assertBytes(concatBytes(streamed), PLAIN);

      const byBody = await pool.request("GET", "/chunked", { ...bounded, preloadContent: false });
      const fromBody = new Uint8Array(await new Response(byBody.body).arrayBuffer());
      assertBytes(fromBody, PLAIN);

      assert.equal(server.connections, 1, "every fully read response gave its connection back");
    });
  });
}

test("decoding gzip and x-gzip: multi-member bodies are concatenated", async () => {
  const parts = [pattern(20_000, 1), utf8("second member"), pattern(30_000, 2)];
  const wire = concatBytes(parts.map(gzip));
  const whole = concatBytes(parts);
  await withServer({
    "/gzip": { headers: ["Content-Encoding: gzip"], body: wire },
    "/x-gzip": {
      headers: ["Content-Encoding: x-gzip"],
      body: wire,
      framing: "chunked",
      piece: 700,
    },
  }, async ({ pool, bounded }) => {
    assertBytes((await pool.request("GET", "/gzip", bounded)).data, whole);
    assertBytes((await pool.request("GET", "/x-gzip", bounded)).data, whole);
    const r = await pool.request("GET", "/x-gzip", { ...bounded, preloadContent: false });
    const pieces = await readAll(r, 3000);
    assertExactPieces(pieces, 3000, whole.length, "read(3000) across members");
    assertBytes(concatBytes(pieces), whole);
  });
});

test("decoding: encoding names match in any case, with spaces around them", async () => {
  await withServer({
    "/upper": { headers: ["Content-Encoding: GZIP"], body: gzip(PLAIN) },
    "/mixed": { headers: ["Content-Encoding:  Deflate "], body: deflate(PLAIN) },
    "/br": { headers: ["content-encoding: BR"], body: br(PLAIN) },
  }, async ({ pool, bounded }) => {
    for (const path of ["/upper", "/mixed", "/br"]) {
      assertBytes((await pool.request("GET", path, bounded)).data, PLAIN, path);
    }
  });
});

test("decoding chains: applied in order, decoded in reverse, up to 5 codings", async () => {
  const chain = (codecs: Codec[]) => codecs.reduce((data, codec) => codec(data), PLAIN);
  await withServer({
    "/gzip-br": { headers: ["Content-Encoding: gzip, br"], body: chain([gzip, br]) },
    "/two-lines": {
      headers: ["Content-Encoding: deflate", "Content-Encoding: gzip"],
      body: chain([deflate, gzip]),
    },
    "/five": {
      headers: ["Content-Encoding: gzip, deflate, br, x-gzip, deflate"],
      body: chain([gzip, deflate, br, gzip, deflate]),
      framing: "chunked",
      piece: 300,
    },
  }, async ({ pool, bounded }) => {
    for (const path of ["/gzip-br", "/two-lines", "/five"]) {
      assertBytes((await pool.request("GET", path, bounded)).data, PLAIN, path);
    }
    const r = await pool.request("GET", "/five", { ...bounded, preloadContent: false });
    const pieces = await readAll(r, 777);
    assertExactPieces(pieces, 777, PLAIN.length, "read(777) through five decoders");
    assertBytes(concatBytes(pieces), PLAIN);
  });
});

test("decoding chains: more than 5 codings is a DecodeError, never retried", async () => {
  const six = [gzip, gzip, gzip, gzip, gzip, gzip].reduce((data, codec) => codec(data), PLAIN);
  await withServer({
    "/six": { headers: ["Content-Encoding: gzip, gzip, gzip, gzip, gzip, gzip"], body: six },
  }, async ({ pool, bounded, hits }) => {
    const error = await rejects(pool.request("GET", "/six", bounded));
    assertError(error, DecodeError, "preloaded");
    assert.match(error.message, /6/, "the message says how many codings");
    assert.equal(hits["/six"], 1, "a DecodeError is not retried (urllib3 raises it bare)");
    assertAtRest(pool);
    assertError(await streamedError(pool, "/six", bounded), DecodeError, "streamed");
  });
});

test("decoding: unknown codings and identity are passed through undecoded", async () => {
  const gz = gzip(PLAIN);
  await withServer({
    "/custom": { headers: ["Content-Encoding: x-custom"], body: gz },
    "/compress": { headers: ["Content-Encoding: compress"], body: utf8("LZW?") },
    "/identity": { headers: ["Content-Encoding: identity"], body: PLAIN },
    "/empty": { headers: ["Content-Encoding: "], body: PLAIN },
  }, async ({ pool, bounded, server }) => {
    assertBytes((await pool.request("GET", "/custom", bounded)).data, gz);
    assert.equal(text((await pool.request("GET", "/compress", bounded)).data), "LZW?");
    assertBytes((await pool.request("GET", "/identity", bounded)).data, PLAIN);
    assertBytes((await pool.request("GET", "/empty", bounded)).data, PLAIN);
    const r = await pool.request("GET", "/custom", { ...bounded, preloadContent: false });
    const pieces = await readAll(r, 100);
    assertExactPieces(pieces, 100, gz.length, "read(100) of undecoded bytes");
    assertBytes(concatBytes(pieces), gz);
    assert.equal(server.connections, 1);
  });
});

test("decodeContent false returns the raw bytes, preloaded and streamed", async () => {
  const gz = gzip(PLAIN);
  const chained = br(gzip(PLAIN));
  await withServer({
    "/gzip": { headers: ["Content-Encoding: gzip"], body: gz, framing: "chunked", piece: 1000 },
    "/chain": { headers: ["Content-Encoding: gzip, br"], body: chained },
    "/six": { headers: ["Content-Encoding: gzip, gzip, gzip, gzip, gzip, gzip"], body: gz },
    "/corrupt": { headers: ["Content-Encoding: gzip"], body: utf8("not gzip at all") },
  }, async ({ pool, bounded }) => {
    const raw = { ...bounded, decodeContent: false };
    assertBytes((await pool.request("GET", "/gzip", raw)).data, gz);
    assertBytes((await pool.request("GET", "/chain", raw)).data, chained);
    assertBytes((await pool.request("GET", "/six", raw)).data, gz, "no chain check");
    assert.equal(text((await pool.request("GET", "/corrupt", raw)).data), "not gzip at all");
    const r = await pool.request("GET", "/gzip", { ...raw, preloadContent: false });
    const pieces = await readAll(r, 256);
    assertExactPieces(pieces, 256, gz.length, "read(256) of raw bytes");
    assertBytes(concatBytes(pieces), gz);
  });
});

test("decoding: corrupt data is a DecodeError, preloaded and streamed, never retried", async () => {
  const gz = gzip(PLAIN);
  const flipped = gz.slice();
  for (let i = 100; i < 140; i++) flipped[i] ^= 0xa5; // damage the deflate data itself
  const routes: Record<string, Reply> = {
    "/gzip-garbage": { headers: ["Content-Encoding: gzip"], body: utf8("this is not gzip") },
    "/gzip-flipped": { headers: ["Content-Encoding: gzip"], body: flipped },
    // 0x07: neither a zlib header (CM 7) nor a raw deflate block (BTYPE 11 is reserved).
    "/deflate-garbage": {
      headers: ["Content-Encoding: deflate"],
      body: new Uint8Array([0x07, 0xff, 0x00, 0x13, 0x37]),
    },
    // Deno's node:zlib brotliDecompressSync accepts this silently; DecompressionStream does not.
    "/br-garbage": { headers: ["Content-Encoding: br"], body: utf8("this is not brotli data") },
    "/chained-garbage": { headers: ["Content-Encoding: gzip, br"], body: br(utf8("not gzip")) },
  };
  if (zstd) {
    routes["/zstd-garbage"] = { headers: ["Content-Encoding: zstd"], body: utf8("not zstd data") };
  }
  await withServer(routes, async ({ pool, bounded, hits }) => {
    for (const path of Object.keys(routes)) {
      const error = await rejects(pool.request("GET", path, bounded));
      assertError(error, DecodeError, `${path} preloaded`);
      assert.equal(hits[path], 1, `${path}: not retried`);
      assertAtRest(pool);
      assertError(await streamedError(pool, path, bounded), DecodeError, `${path} streamed`);
      assertAtRest(pool);
    }
  });
});

test("decoding: a truncated gzip or zstd stream (framing complete) is a DecodeError", async () => {
  const gz = gzip(PLAIN);
  const routes: Record<string, Reply> = {
    "/no-trailer": { headers: ["Content-Encoding: gzip"], body: gz.subarray(0, gz.length - 8) },
    "/half": { headers: ["Content-Encoding: gzip"], body: gz.subarray(0, gz.length >> 1) },
    "/half-chunked": {
      headers: ["Content-Encoding: gzip"],
      body: gz.subarray(0, gz.length >> 1),
      framing: "chunked",
      piece: 999,
    },
  };
  if (zstd) {
    const z = zstd(PLAIN);
    routes["/zstd-half"] = {
      headers: ["Content-Encoding: zstd"],
      body: z.subarray(0, z.length >> 1),
    };
  }
  await withServer(routes, async ({ pool, bounded }) => {
    for (const path of Object.keys(routes)) {
      assertError(await rejects(pool.request("GET", path, bounded)), DecodeError, path);
      assertAtRest(pool);
      assertError(await streamedError(pool, path, bounded), DecodeError, `${path} streamed`);
      assertAtRest(pool);
    }
  });
});

// ---------------------------------------------------------------------------------------
// Streaming a compressed body: backpressure and giving the connection back

test("body of a compressed response is a ReadableStream of decoded bytes with backpressure", async () => {
  const SIZE = 48 * MiB;
  // Level 0 stores the data: the wire is as large as the decoded body.
  const wire = view(zlib.gzipSync(new Uint8Array(SIZE), { level: 0 }));
  let flushed = 0;
  const served = await keepAliveServer(async (_req, _id, conn) => {
    await conn.write(
      `HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: ${wire.length}\r\n\r\n`,
    );
    for (let at = 0; at < wire.length; at += 64 * KiB) {
      await conn.write(wire.subarray(at, at + 64 * KiB));
      flushed = Math.min(wire.length, at + 64 * KiB);
    }
  });
  const pool = new HTTPConnectionPool("127.0.0.1", { port: served.server.port });
  const limit = deadline(60_000, "the 48 MiB download");
  try {
    const r = await pool.request("GET", "/big", {
      preloadContent: false,
      signal: limit.signal,
      timeout: 30_000,
    });
    const reader = r.body.getReader();
    const first = await reader.read();
    assert.ok((first.value?.length ?? 0) > 0);
    await sleep(300); // a reader that holds back: the server must stall, not flood memory
    assert.ok(
      flushed < SIZE / 2,
      `the server wrote ${(flushed / MiB).toFixed(1)} MiB while the reader held back`,
    );
    let total = first.value!.length;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      assert.ok(value.length > 0, "no empty piece");
      total += value.length;
    }
    assert.equal(total, SIZE);
    assertAtRest(pool);
    assert.equal(pool.stats.idle, 1, "the connection went back to the pool");
  } finally {
    limit.clear();
    await pool.close();
    await served.server.close();
  }
});

test("drainConn, releaseConn and close on a compressed streamed body", async () => {
  const wire = gzip(pattern(2 * MiB, 3));
  const slowBody: Reply = {
    headers: ["Content-Encoding: gzip"],
    body: wire,
    framing: "chunked",
    piece: 2 * KiB,
  };
  await withServer({ "/gz": slowBody }, async ({ pool, bounded, server, closed }) => {
    // drainConn: the rest is read, the connection is reused.
    const drained = await pool.request("GET", "/gz", { ...bounded, preloadContent: false });
    assert.equal((await drained.read(1000)).length, 1000);
    await drained.drainConn();
    assert.equal(drained.connection, null);
    assert.equal(text((await pool.request("GET", "/id", bounded)).data), "1", "reused");

    // releaseConn on a half-read body: never put back.
    const released = await pool.request("GET", "/gz", { ...bounded, preloadContent: false });
    assert.equal((await released.read(1000)).length, 1000);
    released.releaseConn();
    assertAtRest(pool);
    await waitFor(() => closed.includes(1), "the half-read connection to close");
    assert.equal(text((await pool.request("GET", "/id", bounded)).data), "2", "a new connection");

    // close(): closed too, and nothing more to read.
    const shut = await pool.request("GET", "/gz", { ...bounded, preloadContent: false });
    assert.equal((await shut.read(10)).length, 10);
    shut.close();
    assert.equal((await shut.read()).length, 0);
    await waitFor(() => closed.includes(2), "the closed response's connection to close");
    assert.equal(server.connections, 2);
  });
});

// ---------------------------------------------------------------------------------------
// maxResponseSize counts decoded bytes

const CAP = 64 * KiB;
/** 1 MiB of zeros: about 1 KiB of gzip. */
const INFLATING = gzip(new Uint8Array(MiB));

/** Asserts a ResponseTooLargeError for `limit`, then that the connection was closed. */
async function assertTooLarge(
  error: unknown,
  what: string,
  ctx: Context,
  connection: number,
  limit = CAP,
): Promise<void> {
  assertError(error, ResponseTooLargeError, what);
  assert.equal(error.code, "ERR_RESPONSE_TOO_LARGE");
  assert.equal(error.limit, limit);
  assertAtRest(ctx.pool);
  await waitFor(() => ctx.closed.includes(connection), `${what}: the connection to be closed`);
  assert.equal(ctx.pool.stats.open, 0, `${what}: no connection kept`);
}

test("maxResponseSize caps the decoded size of a preloaded body (any framing, many small writes)", async () => {
  const headers = ["Content-Encoding: gzip"];
  const routes: Record<string, Reply> = {
    "/length": { headers, body: INFLATING },
    "/chunked": { headers, body: INFLATING, framing: "chunked" },
    "/length-pieces": { headers, body: INFLATING, piece: 16 },
    "/chunked-pieces": { headers, body: INFLATING, framing: "chunked", piece: 16 },
  };
  await withServer(routes, async (ctx) => {
    let connection = 0;
    for (const path of Object.keys(routes)) {
      assert.ok(INFLATING.length < CAP, "the wire is far under the cap");
      const error = await rejects(ctx.pool.request("GET", path, ctx.bounded));
      await assertTooLarge(error, path, ctx, ++connection);
      assert.equal(ctx.hits[path], 1, `${path}: not retried`);
    }
  }, { maxResponseSize: CAP });
});

test("maxResponseSize on a streamed compressed body: reading stops with ResponseTooLargeError", async () => {
  const headers = ["Content-Encoding: gzip"];
  const routes: Record<string, Reply> = {
    "/length-pieces": { headers, body: INFLATING, piece: 16 },
    "/chunked-pieces": { headers, body: INFLATING, framing: "chunked", piece: 16 },
  };
  await withServer(routes, async (ctx) => {
    let connection = 0;
    for (const path of Object.keys(routes)) {
      // As a request option, read with read(amt).
      const r = await ctx.pool.request("GET", path, {
        ...ctx.bounded,
        preloadContent: false,
        maxResponseSize: CAP,
      });
      let delivered = 0;
      const error = await rejects((async () => {
        for (;;) {
          const piece = await r.read(10_000);
          if (piece.length === 0) return;
          delivered += piece.length;
        }
      })());
      assert.ok(delivered <= CAP, `${path}: ${delivered} bytes handed out before the error`);
      await assertTooLarge(error, `${path} read()`, ctx, ++connection);

      // Through body, with the cap from the request again.
      const s = await ctx.pool.request("GET", path, {
        ...ctx.bounded,
        preloadContent: false,
        maxResponseSize: CAP,
      });
      const reader = s.body.getReader();
      const viaBody = await rejects((async () => {
        for (;;) if ((await reader.read()).done) return;
      })());
      await assertTooLarge(viaBody, `${path} body`, ctx, ++connection);
    }
  });
});

/** Asserts bodies at the cap pass on one connection and one byte more fail, each closing it. */
async function assertCapBoundary(ctx: Context, exactPaths: string[], overPaths: string[]) {
  for (const path of exactPaths) {
    assertBytes((await ctx.pool.request("GET", path, ctx.bounded)).data, AT_CAP, path);
  }
  assert.equal(ctx.server.connections, 1, "responses at the cap keep the connection");
  let connection = 1;
  for (const path of overPaths) {
    const error = await rejects(ctx.pool.request("GET", path, ctx.bounded));
    await assertTooLarge(error, path, ctx, connection++);
  }
}

const AT_CAP = new Uint8Array(CAP).fill(7);
const OVER_CAP = new Uint8Array(CAP + 1).fill(7);

test("maxResponseSize on identity bodies: exactly the cap passes, one byte more fails", async () => {
  await withServer({
    "/exact": { body: AT_CAP },
    "/exact-chunked": { body: AT_CAP, framing: "chunked", piece: 4 * KiB },
    "/over": { body: OVER_CAP },
    "/over-chunked": { body: OVER_CAP, framing: "chunked", piece: 4 * KiB },
  }, async (ctx) => {
    await assertCapBoundary(ctx, ["/exact", "/exact-chunked"], ["/over", "/over-chunked"]);
  }, { maxResponseSize: CAP });
});

test("maxResponseSize on gzip bodies: exactly the cap decoded passes, one byte more fails", async () => {
  const gz = ["Content-Encoding: gzip"];
  await withServer({
    "/exact": { headers: gz, body: gzip(AT_CAP) },
    "/exact-chunked": { headers: gz, body: gzip(AT_CAP), framing: "chunked", piece: 10 },
    "/over": { headers: gz, body: gzip(OVER_CAP) },
    "/over-chunked": { headers: gz, body: gzip(OVER_CAP), framing: "chunked", piece: 10 },
  }, async (ctx) => {
    await assertCapBoundary(ctx, ["/exact", "/exact-chunked"], ["/over", "/over-chunked"]);
  }, { maxResponseSize: CAP });
});

test("maxResponseSize stops a gzip bomb: 64 MiB decoded from about 64 KiB", async () => {
  // 16 members of 4 MiB of zeros each; the wire stays far under the 1 MiB cap.
  const member = gzip(new Uint8Array(4 * MiB));
  const bomb = concatBytes(Array.from({ length: 16 }, () => member));
  const limit = MiB;
  assert.ok(bomb.length < limit / 4, `the bomb is ${bomb.length} bytes on the wire`);
  const headers = ["Content-Encoding: gzip"];
  await withServer({
    "/bomb": { headers, body: bomb },
    "/bomb-chunked": { headers, body: bomb, framing: "chunked", piece: 1024 },
  }, async (ctx) => {
    const capped = { ...ctx.bounded, maxResponseSize: limit };
    const preloaded = await rejects(ctx.pool.request("GET", "/bomb", capped));
    await assertTooLarge(preloaded, "preloaded", ctx, 1, limit);
    const r = await ctx.pool.request("GET", "/bomb-chunked", { ...capped, preloadContent: false });
    let delivered = 0;
    const error = await rejects((async () => {
      for await (const piece of r.stream(8 * KiB)) delivered += piece.length;
    })());
    assert.ok(delivered <= limit, `${delivered} bytes handed out before the error`);
    await assertTooLarge(error, "stream()", ctx, 2, limit);
  });
});

// ---------------------------------------------------------------------------------------
// Framing

test("enforceContentLength false: a body shorter than Content-Length is returned as it came", async () => {
  const served = await keepAliveServer(async (_req, _id, conn) => {
    await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    conn.end();
  });
  const pool = new HTTPConnectionPool("127.0.0.1", { port: served.server.port });
  const limit = deadline(20_000, "the short bodies");
  const bounded = { signal: limit.signal, timeout: 10_000 };
  try {
    const lenient = { ...bounded, enforceContentLength: false };
    const r = await pool.request("GET", "/", lenient);
    assert.equal(text(r.data), "abc");
    assertAtRest(pool);
    const s = await pool.request("GET", "/", { ...lenient, preloadContent: false });
    assert.equal(text(await s.read()), "abc");
    assert.equal((await s.read()).length, 0);
    assertAtRest(pool);
    assert.equal(pool.stats.open, 0, "a connection with a short body is not kept");
    assert.equal(served.server.connections, 2);

    // With the default (true) and the default retries, a GET is retried, then MaxRetryError
    // wraps the ProtocolError caused by IncompleteRead (urllib3 rows 93 and 101).
    const error = await rejects(pool.request("GET", "/", bounded));
    assertError(error, MaxRetryError, "enforced");
    assertError(error.reason, ProtocolError, "reason");
    assert.ok(error.reason.cause instanceof IncompleteRead, `cause: ${error.reason.cause}`);
    assert.equal(served.server.connections, 2 + 4, "the first attempt and 3 retries");
    assertAtRest(pool);
  } finally {
    limit.clear();
    await pool.close();
    await served.server.close();
  }
});

/** A server answering every request with the exact bytes `raw(path)` gives. */
async function rawReplies(raw: (path: string) => string) {
  return await keepAliveServer(async (req, _id, conn) => await conn.write(raw(req.target)));
}

test("Content-Length: equal repeats are accepted, differing values are InvalidHeader", async () => {
  const responses: Record<string, string> = {
    "/two-lines": "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
    "/list": "HTTP/1.1 200 OK\r\nContent-Length: 5, 5 ,5\r\n\r\nhello",
    "/differ-lines": "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "/differ-list": "HTTP/1.1 200 OK\r\nContent-Length: 6, 5\r\n\r\nhello!",
  };
  const served = await rawReplies((path) => responses[path]);
  const pool = new HTTPConnectionPool("127.0.0.1", { port: served.server.port, retries: false });
  const limit = deadline(20_000, "the requests");
  const bounded = { signal: limit.signal, timeout: 10_000 };
  try {
    for (const path of ["/two-lines", "/list", "/two-lines"]) {
      assert.equal(text((await pool.request("GET", path, bounded)).data), "hello", path);
    }
    assert.equal(served.server.connections, 1, "the connection is reused");
    for (const path of ["/differ-lines", "/differ-list"]) {
      const error = await rejects(pool.request("GET", path, bounded));
      assertError(error, InvalidHeader, path);
      assert.match(error.message, /Content-Length/i);
      assertAtRest(pool);
      assert.equal(pool.stats.open, 0, `${path}: the connection is dropped`);
    }
  } finally {
    limit.clear();
    await pool.close();
    await served.server.close();
  }
});

test("Content-Length with chunked: chunked is used and the connection is not reused", async () => {
  const served = await rawReplies((path) =>
    path === "/both"
      ? "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n" +
        "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
      : "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext"
  );
  const pool = new HTTPConnectionPool("127.0.0.1", { port: served.server.port, retries: false });
  const limit = deadline(20_000, "the requests");
  const bounded = { signal: limit.signal, timeout: 10_000 };
  try {
    assert.equal(text((await pool.request("GET", "/both", bounded)).data), "hello world");
    await waitFor(() => served.closed.includes(1), "the client to close that connection");
    const streamed = await pool.request("GET", "/both", { ...bounded, preloadContent: false });
    assert.equal(text(await streamed.read()), "hello world");
    assertAtRest(pool);
    assert.equal(text((await pool.request("GET", "/next", bounded)).data), "next");
    assert.equal(served.server.connections, 3);
  } finally {
    limit.clear();
    await pool.close();
    await served.server.close();
  }
});

const SMUGGLED = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled";
const BODY_WHERE_NONE: Array<[string, string, string]> = [
  ["GET", "/204", `HTTP/1.1 204 No Content\r\n\r\n${SMUGGLED}`],
  ["GET", "/304", `HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n${SMUGGLED}`],
  ["HEAD", "/head", `HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n${SMUGGLED}`],
];

/** A server that sends a body where none may be, in the same write as the head. */
function bodyWhereNoneServer() {
  return rawReplies((path) =>
    BODY_WHERE_NONE.find(([, p]) => p === path)?.[2] ??
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh"
  );
}

test("a body on a 204, a 304 or a HEAD response is never read as the next response", async () => {
  const served = await bodyWhereNoneServer();
  const pool = new HTTPConnectionPool("127.0.0.1", { port: served.server.port, retries: false });
  const limit = deadline(20_000, "the requests");
  const bounded = { signal: limit.signal, timeout: 10_000 };
  try {
    for (const [method, path] of BODY_WHERE_NONE) {
      try {
        await pool.request(method, path, bounded);
      } catch (error) {
        assertError(error, ProtocolError, path);
      }
      assertAtRest(pool);
      const next = await pool.request("GET", "/next", bounded);
      assert.equal(text(next.data), "fresh", `after ${path}`);
    }
  } finally {
    limit.clear();
    await pool.close();
    await served.server.close();
  }
});

test("a body on a 204, a 304 or a HEAD response is a ProtocolError", async () => {
  const served = await bodyWhereNoneServer();
  const pool = new HTTPConnectionPool("127.0.0.1", { port: served.server.port, retries: false });
  const limit = deadline(20_000, "the requests");
  const bounded = { signal: limit.signal, timeout: 10_000 };
  try {
    for (const [method, path] of BODY_WHERE_NONE) {
      const before = served.server.connections;
      assertError(await rejects(pool.request(method, path, bounded)), ProtocolError, path);
      assertAtRest(pool);
      assert.equal(pool.stats.open, 0, `${path}: the connection is dropped`);
      const streamed = await rejects((async () => {
        const r = await pool.request(method, path, { ...bounded, preloadContent: false });
        await r.read();
      })());
      assertError(streamed, ProtocolError, `${path} streamed`);
      assertAtRest(pool);
      assert.equal(served.server.connections, before + 2);
    }
  } finally {
    limit.clear();
    await pool.close();
    await served.server.close();
  }
});
