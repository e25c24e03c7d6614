/**
 * Decoding a body that has arrived whole (issue 17): `Timeout.total`, an `AbortSignal` and
 * `maxResponseSize` stop the decoder between pieces, with the errors reading raises, even
 * when every compressed byte is already in (a gzip or br "bomb" of zeros, made here with
 * `node:zlib`); zstd bodies of several frames, with content checksums and skippable frames.
 * `tests/response_body_test.ts` covers decoding itself (every coding, chains, corrupt data).
 */

import * as zlib from "node:zlib";
import process from "node:process";
import { assert, runtime, test } from "../_harness.ts";
import { assertAtRest, assertBytes, deadline, keepAliveServer, rejects, sleep } from "../_util.ts";
import {
  DecodeError,
  HTTPConnectionPool,
  type HTTPResponse,
  ReadTimeoutError,
  ResponseTooLargeError,
  Timeout,
} from "../../mod.ts";
import { concatBytes } from "../../src/_bytes.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const view = (b: Uint8Array): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

/** `n` bytes of a position-dependent pattern that compresses, but not to nothing. */
function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed + (i >> 9) * 7) % 251;
  return out;
}

/** `mib` MiB of zeros as gzip members of 4 MiB each (about 4 KiB each on the wire). */
function gzipBomb(mib: number): Uint8Array {
  const member = view(zlib.gzipSync(new Uint8Array(4 * MiB)));
  return concatBytes(Array.from({ length: mib / 4 }, () => member));
}

/** `mib` MiB of zeros as br, compressed in 16 MiB writes (576 MiB is about 800 bytes). */
async function brotliBomb(mib: number): Promise<Uint8Array> {
  const compressor = zlib.createBrotliCompress({
    params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 2, [zlib.constants.BROTLI_PARAM_LGWIN]: 24 },
  });
  const out: Uint8Array[] = [];
  compressor.on("data", (piece: Uint8Array) => out.push(view(piece)));
  const ended = new Promise((resolve) => compressor.once("end", resolve));
  const zeros = new Uint8Array(16 * MiB);
  for (let i = 0; i < mib / 16; i++) {
    if (!compressor.write(zeros)) await new Promise((resolve) => compressor.once("drain", resolve));
  }
  compressor.end();
  await ended;
  return concatBytes(out);
}

/**
 * Bombs larger than {@linkcode BACKSTOP}: decoding up to it takes over a second on every
 * runtime, far past the 300 ms the tests allow, and a decoder that ignores the deadline or
 * the signal fails on the backstop (`ResponseTooLargeError`) instead of filling memory.
 */
const BOMB_MIB = 576;
const BACKSTOP = 512 * MiB;
const BOMBS: Record<string, Uint8Array> = {
  gzip: gzipBomb(BOMB_MIB),
  br: await brotliBomb(BOMB_MIB),
};
/** Small enough to arrive whole before the reader pulls much (under the socket high-water mark). */
const SMALL_BOMBS: Record<string, Uint8Array> = {
  gzip: gzipBomb(64),
  br: BOMBS.br,
};
const STOP_MS = 300;

interface Served {
  pool: HTTPConnectionPool;
  /** Ids of the server's connections that have closed. */
  closed: number[];
}

/** What the server sends for one path. */
interface Route {
  /** The `Content-Encoding`. */
  coding: string;
  /** The body as it goes on the wire. */
  body: Uint8Array;
  /** Write it in pieces of this many bytes, a moment apart (default: at once). */
  piece?: number;
  /** The `Content-Length` sent (default: the body's length; more leaves the body unfinished). */
  length?: number;
}

/** A keep-alive server answering each path of `routes`, and a pool on it; ends at rest. */
async function withRoutes(
  routes: Record<string, Route>,
  fn: (ctx: Served) => Promise<void>,
): Promise<void> {
  const served = await keepAliveServer(async (req, _id, conn) => {
    const { coding, body, piece = body.length, length = body.length } = routes[req.target];
    await conn.write(
      `HTTP/1.1 200 OK\r\nContent-Encoding: ${coding}\r\nContent-Length: ${length}\r\n\r\n`,
    );
    for (let at = 0, n = 1; at < body.length; at += piece, n++) {
      await conn.write(body.subarray(at, at + piece));
      if (n % 8 === 0) await sleep(1); // small writes a moment apart arrive in separate reads
    }
  });
  const pool = new HTTPConnectionPool("127.0.0.1", {
    port: served.server.port,
    retries: false,
    maxResponseSize: BACKSTOP,
  });
  const limit = deadline(30_000, "the requests of this test");
  try {
    await fn({ pool, closed: served.closed });
    assertAtRest(pool);
  } finally {
    limit.clear();
    await pool.close();
    await served.server.close();
  }
}

/** Routes `/<coding>` to each bomb, sent whole. */
function bombRoutes(bombs: Record<string, Uint8Array>): Record<string, Route> {
  return Object.fromEntries(
    Object.entries(bombs).map(([coding, body]) => [`/${coding}`, { coding, body }]),
  );
}

/**
 * Asserts that nothing keeps inflating once the request failed: the process uses little CPU
 * in the next 300 ms (a decoder left running keeps a core busy).
 */
async function assertDecoderStopped(what: string): Promise<void> {
  const before = process.cpuUsage();
  const start = performance.now();
  await sleep(300);
  const used = process.cpuUsage(before);
  const cpuMs = (used.user + used.system) / 1000;
  const wallMs = performance.now() - start;
  assert.ok(cpuMs < wallMs * 0.6, `${what}: ${cpuMs.toFixed(0)} ms of CPU in ${wallMs} ms idle`);
}

function assertStoppedSoon(started: number, what: string): void {
  const elapsed = performance.now() - started;
  // Generous: the point is "not after inflating hundreds of MiB".
  assert.ok(elapsed < STOP_MS + 3000, `${what}: stopped after ${elapsed.toFixed(0)} ms`);
}

for (const coding of Object.keys(BOMBS)) {
  test(`decoding ${coding}: a total timeout stops a preloaded body that arrived whole`, async () => {
    await withRoutes(bombRoutes(BOMBS), async ({ pool }) => {
      const started = performance.now();
      const error = await rejects(pool.request("GET", `/${coding}`, {
        timeout: new Timeout({ total: STOP_MS }),
      }));
      assert.ok(error instanceof ReadTimeoutError, `expected ReadTimeoutError, got ${error}`);
      assert.match(error.message, /total timeout/);
      assertStoppedSoon(started, coding);
      await assertDecoderStopped(coding);
    });
  });

  test(`decoding ${coding}: an abort stops a preloaded body that arrived whole`, async () => {
    await withRoutes(bombRoutes(BOMBS), async ({ pool }) => {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), STOP_MS);
      const started = performance.now();
      try {
        const error = await rejects(
          pool.request("GET", `/${coding}`, { signal: controller.signal, timeout: 20_000 }),
        );
        assert.equal(error, controller.signal.reason, "the signal's reason, as reading gives");
      } finally {
        clearTimeout(timer);
      }
      assertStoppedSoon(started, coding);
      await assertDecoderStopped(coding);
    });
  });

  test(`decoding ${coding}: after an abort, stream() yields nothing more of a body that arrived whole`, async () => {
    await withRoutes(bombRoutes(SMALL_BOMBS), async ({ pool, closed }) => {
      const controller = new AbortController();
      const r: HTTPResponse = await pool.request("GET", `/${coding}`, {
        signal: controller.signal,
        timeout: 20_000,
        preloadContent: false,
      });
      const pieces = r.stream(16 * KiB);
      assert.equal((await pieces.next()).value?.length, 16 * KiB);
      await sleep(200); // the rest of the wire arrives
      controller.abort();
      let after = 0;
      const error = await rejects((async () => {
        for (let p = await pieces.next(); !p.done; p = await pieces.next()) after += p.value.length;
      })());
      assert.equal(after, 0, "bytes yielded after the abort");
      assert.equal(error, controller.signal.reason);
      await sleep(50);
      assert.deepEqual(closed, [1], "the connection was closed");
      await assertDecoderStopped(coding);
    });
  });

  test(`decoding ${coding}: maxResponseSize stops a body that arrived whole at the cap`, async () => {
    await withRoutes(bombRoutes(SMALL_BOMBS), async ({ pool }) => {
      const started = performance.now();
      const error = await rejects(
        pool.request("GET", `/${coding}`, { maxResponseSize: MiB, timeout: 20_000 }),
      );
      assert.ok(error instanceof ResponseTooLargeError, `got ${error}`);
      assertStoppedSoon(started, coding);
      await assertDecoderStopped(coding);
    });
  });
}

test("decoding: an abort while the compressed body is still arriving gives the signal's reason", async () => {
  const gz = view(zlib.gzipSync(pattern(100_000, 4)));
  // Half the body, then silence: the abort comes while the decoder waits for the wire.
  const routes: Record<string, Route> = {
    "/half": { coding: "gzip", body: gz.subarray(0, gz.length >> 1), length: gz.length },
  };
  await withRoutes(routes, async ({ pool }) => {
    for (const preloadContent of [true, false]) {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), 200);
      try {
        const error = await rejects((async () => {
          const r = await pool.request("GET", "/half", {
            signal: controller.signal,
            preloadContent,
            timeout: 20_000,
          });
          await r.read();
        })());
        assert.equal(error, controller.signal.reason, `preloadContent: ${preloadContent}`);
      } finally {
        clearTimeout(timer);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------
// zstd: frames with checksums, several frames, skippable frames

interface ZstdModule {
  zstdCompressSync?: (data: Uint8Array, options?: { params: Record<number, number> }) => Uint8Array;
  constants: { ZSTD_c_checksumFlag?: number };
}
const zstdZlib = zlib as unknown as ZstdModule;
const hasZstd = typeof zstdZlib.zstdCompressSync === "function";
if (!hasZstd) {
  console.warn(`content_decoder_test: zstd tests skipped: ${runtime}'s node:zlib has no zstd`);
}

/** One zstd frame of `data`, with a content checksum when `checksum`. */
function zstdFrame(data: Uint8Array, checksum: boolean): Uint8Array {
  const params = { [zstdZlib.constants.ZSTD_c_checksumFlag!]: checksum ? 1 : 0 };
  return view(zstdZlib.zstdCompressSync!(data, { params }));
}

/** A skippable frame (RFC 8878 3.1.2) holding `size` bytes of user data. */
function skippableFrame(size: number, variant = 0): Uint8Array {
  const frame = new Uint8Array(8 + size).fill(0x5a);
  new DataView(frame.buffer).setUint32(0, 0x184d2a50 + variant, true);
  new DataView(frame.buffer).setUint32(4, size, true);
  return frame;
}

const PART_A = pattern(11_000, 1);
const PART_B = pattern(5_000, 2);
const PART_C = pattern(70_000, 3);

/** Each case: the body on the wire and the bytes it decodes to. */
function zstdCases(): Record<string, { body: Uint8Array; decoded: Uint8Array }> {
  const a = zstdFrame(PART_A, false);
  const b = zstdFrame(PART_B, false);
  const aSum = zstdFrame(PART_A, true);
  const bSum = zstdFrame(PART_B, true);
  const cSum = zstdFrame(PART_C, true);
  const ab = concatBytes([PART_A, PART_B]);
  return {
    "/checksum": { body: aSum, decoded: PART_A },
    "/two-frames": { body: concatBytes([a, b]), decoded: ab },
    "/three-frames-checksum": {
      body: concatBytes([aSum, bSum, cSum]),
      decoded: concatBytes([PART_A, PART_B, PART_C]),
    },
    "/skippable-first": { body: concatBytes([skippableFrame(3), aSum]), decoded: PART_A },
    "/skippable-between": {
      body: concatBytes([a, skippableFrame(0, 15), bSum]),
      decoded: ab,
    },
    "/skippable-last": { body: concatBytes([a, b, skippableFrame(100, 7)]), decoded: ab },
    "/skippable-only": { body: skippableFrame(20), decoded: new Uint8Array(0) },
  };
}

test(
  "decoding zstd: checksummed, several and skippable frames, preloaded and streamed",
  async () => {
    const cases = zstdCases();
    const routes: Record<string, Route> = {};
    for (const [path, { body }] of Object.entries(cases)) {
      routes[path] = { coding: "zstd", body };
      // In 1-byte writes: every field of a frame split across reads.
      routes[`${path}/1`] = { coding: "zstd", body, piece: 1 };
    }
    await withRoutes(routes, async ({ pool, closed }) => {
      for (const [path, { decoded }] of Object.entries(cases)) {
        for (const suffix of ["", "/1"]) {
          const what = `${path}${suffix}`;
          assertBytes((await pool.request("GET", what, { timeout: 20_000 })).data, decoded, what);
          const r = await pool.request("GET", what, { timeout: 20_000, preloadContent: false });
          const pieces: Uint8Array[] = [];
          for await (const piece of r.stream(4 * KiB)) pieces.push(piece);
          assertBytes(concatBytes(pieces), decoded, `${what} streamed`);
        }
      }
      assert.deepEqual(closed, [], "every connection was reused");
    });
  },
  { ignore: !hasZstd },
);

test(
  "decoding zstd: a body that ends inside a frame or its checksum is a DecodeError",
  async () => {
    const aSum = zstdFrame(PART_A, true);
    const b = zstdFrame(PART_B, false);
    const routes: Record<string, Route> = {
      "/checksum-cut": { coding: "zstd", body: aSum.subarray(0, aSum.length - 2) },
      "/second-frame-cut": { coding: "zstd", body: concatBytes([aSum, b.subarray(0, 6)]) },
      "/skippable-cut": {
        coding: "zstd",
        body: concatBytes([aSum, skippableFrame(10).subarray(0, 12)]),
      },
    };
    await withRoutes(routes, async ({ pool }) => {
      for (const path of Object.keys(routes)) {
        const error = await rejects(pool.request("GET", path, { timeout: 20_000 }));
        assert.ok(error instanceof DecodeError, `${path}: expected DecodeError, got ${error}`);
        assert.match(error.message, /zstd/);
      }
    });
  },
  { ignore: !hasZstd },
);
