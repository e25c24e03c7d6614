/**
 * Round trips through a real Caddy on loopback (`tests/_caddy.ts`): a static file served
 * with `encode zstd` (Caddy's zstd frames carry a content checksum) and `encode gzip`,
 * decoded back to the original bytes, preloaded and streamed. Skipped, with a message, when
 * Caddy is not installed, except under `CI=true`, where that fails (`.ci/run` installs
 * `caddy`); the zstd test is skipped where `node:zlib` has no zstd (the body then passes
 * through undecoded).
 */

import * as fs from "node:fs/promises";
import * as path from "node:path";
import process from "node:process";
import * as zlib from "node:zlib";
import { HTTPConnectionPool } from "../mod.ts";
import { assert, runtime, test } from "./_harness.ts";
import { type CaddyBinary, findCaddy, makeCaddyDir, removeCaddyDir, startCaddy } from "./_caddy.ts";
import { unusedPort } from "./_servers.ts";
import { assertAtRest, assertBytes } from "./_util.ts";
import { concatBytes } from "../src/_bytes.ts";

const caddy = await findCaddy();
if (caddy === null) {
  if (process.env.CI === "true") {
    test("caddy is installed", () => {
      assert.fail("caddy is not installed, and CI=true needs it: .ci/run installs caddy");
    });
  } else {
    console.warn("tests/caddy_test.ts: SKIPPED: caddy is not installed (.ci/run installs caddy)");
  }
}
const hasZstd = typeof (zlib as { createZstdDecompress?: unknown }).createZstdDecompress ===
  "function";
if (caddy !== null && !hasZstd) {
  console.warn(`tests/caddy_test.ts: zstd test SKIPPED: ${runtime}'s node:zlib has no zstd`);
}

/** Every request is bounded: a decoder that hangs fails the test instead. */
const TIMEOUT_MS = 10_000;

/** ~170 KiB of text with multi-byte characters: more than one zstd block. */
const ORIGINAL = new TextEncoder().encode(
  Array.from(
    { length: 3000 },
    (_, i) => `${String(i).padStart(5, "0")} pooled through caddy: ünïcödé ✓ 日本語 ${i * 7919}\n`,
  ).join(""),
);

/** A route serving the files under `root` through Caddy's `encode` with one coding. */
function encodeRoute(root: string, coding: string) {
  return {
    match: [{ path: [`/${coding}/*`] }],
    handle: [
      { handler: "encode", encodings: { [coding]: {} }, minimum_length: 1 },
      { handler: "file_server", root },
    ],
  };
}

/** Starts Caddy serving `/<coding>/data.txt` for zstd and gzip, runs `body`, stops it. */
async function withCaddy(
  binary: CaddyBinary,
  body: (pool: HTTPConnectionPool) => Promise<void>,
): Promise<void> {
  const dir = await makeCaddyDir();
  try {
    const root = path.join(dir, "www");
    for (const coding of ["zstd", "gzip"]) {
      await fs.mkdir(path.join(root, coding), { recursive: true });
      await fs.writeFile(path.join(root, coding, "data.txt"), ORIGINAL);
    }
    const port = await unusedPort();
    const server = await startCaddy(binary, {
      dir,
      port,
      routes: [encodeRoute(root, "zstd"), encodeRoute(root, "gzip")],
    });
    const pool = new HTTPConnectionPool("127.0.0.1", { port, timeout: TIMEOUT_MS, retries: false });
    try {
      await body(pool);
      assertAtRest(pool);
    } finally {
      await pool.close();
      await server.stop();
    }
  } finally {
    await removeCaddyDir(dir);
  }
}

/** Asserts `/<coding>/data.txt` decodes to the file, preloaded and streamed. */
async function assertDecodes(pool: HTTPConnectionPool, coding: string): Promise<void> {
  const headers = { "accept-encoding": coding };
  const url = `/${coding}/data.txt`;
  const r = await pool.request("GET", url, { headers });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("content-encoding"), coding, "Caddy encoded the body");
  assertBytes(r.data, ORIGINAL, `${coding} preloaded`);
  const streamed = await pool.request("GET", url, { headers, preloadContent: false });
  const pieces: Uint8Array[] = [];
  for await (const piece of streamed.stream(8 * 1024)) pieces.push(piece);
  assertBytes(concatBytes(pieces), ORIGINAL, `${coding} streamed`);
}

/** Registers a test that needs Caddy (not registered when Caddy is missing). */
function caddyTest(name: string, body: (pool: HTTPConnectionPool) => Promise<void>, ok = true) {
  test(`caddy: ${name}`, () => withCaddy(caddy!, body), { ignore: caddy === null || !ok });
}

caddyTest("encode zstd (frames with a content checksum) decodes to the file", async (pool) => {
  // The frame as Caddy sends it: its descriptor's bit 2 says it ends with a checksum.
  const raw = await pool.request("GET", "/zstd/data.txt", {
    headers: { "accept-encoding": "zstd" },
    decodeContent: false,
  });
  assert.equal(new DataView(raw.data.buffer).getUint32(0, true), 0xfd2fb528, "a zstd frame");
  assert.equal((raw.data[4] >> 2) & 1, 1, "the frame has a content checksum");
  await assertDecodes(pool, "zstd");
}, hasZstd);

caddyTest("encode gzip decodes to the file", async (pool) => {
  await assertDecodes(pool, "gzip");
});
