/**
 * The benchmark's server: what every server process offers, and small helpers to start one.
 *
 * @module
 */

import { prng } from "../../tests/_prng.ts";

/** A running benchmark server (a separate process). */
export interface BenchServer {
  /** What serves, for the report: `nginx 1.22.1 (1 worker)` or `canned reply server (...)`. */
  description: string;
  /** `http://127.0.0.1:PORT/`, answering `hello world\n` with keep-alive. */
  plainUrl: string;
  /** `https://127.0.0.1:PORT/`, the same over TLS with the generated certificate. */
  tlsUrl: string;
  /** `http://127.0.0.1:PORT/large`: GET answers the {@linkcode LARGE_BODY_BYTES} file. */
  largeUrl: string;
  /** `http://127.0.0.1:PORT/post`: POST reads the whole body and answers {@linkcode BODY}. */
  postUrl: string;
  /** Stops the server process and waits for it to exit. */
  close(): Promise<void>;
}

/** The exact body every benchmark server answers with at `/` and `/post` (12 bytes). */
export const BODY = "hello world\n";

/** The path of the large-body case: GET answers {@linkcode largeBody}. */
export const LARGE_PATH = "/large";
/** The path of the POST case: the server reads the request body and answers {@linkcode BODY}. */
export const POST_PATH = "/post";
/** Size of the large response body: 1 MiB. */
export const LARGE_BODY_BYTES = 1 << 20;
/** Size of the POST case's request body: 64 KiB. */
export const POST_BODY_BYTES = 64 << 10;
/** The file name of the large body in the server's temporary directory. */
export const LARGE_FILE = "large.bin";

/**
 * `size` pseudo-random bytes, the same on every call (fixed seed), so every server and
 * client of a run agree on the content without compressible runs of zeros.
 */
export function fixedBytes(size: number, seed = 1): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  const next = prng(seed);
  for (let i = 0; i < size; i += 4) {
    const word = (next() * 2 ** 32) >>> 0;
    for (let j = 0; j < 4 && i + j < size; j++) bytes[i + j] = (word >>> (8 * j)) & 0xff;
  }
  return bytes;
}

/** Sends SIGTERM to a child process (if still running) and waits for it to exit. */
export async function stopProcess(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch {
    // already exited
  }
  await child.status;
}
