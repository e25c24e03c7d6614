/**
 * Undoes `Content-Encoding`: gzip (and x-gzip, multi-member), deflate (zlib-wrapped or
 * raw), br and zstd, in chains of up to five. Decoding streams through the `node:zlib`
 * that Deno, Bun and Node all ship, loaded on first use; each stage holds at most its
 * stream buffers, so a body is never inflated faster than its reader consumes it, and
 * between pieces the decoder stops for the deadline, the signal and the size cap.
 *
 * @module
 */

import { concatBytes } from "../_bytes.ts";
import { DecodeError, HTTPError, ResponseTooLargeError } from "../errors.ts";
import { ZstdFrames } from "./_zstd_frames.ts";

/** Most codings in one `Content-Encoding` chain (urllib3's `max_decode_links`). */
export const MAX_DECODE_LINKS = 5;

const CODINGS = new Set(["gzip", "x-gzip", "deflate", "br", "zstd"]);

/** Body chunks, pulled one at a time (the wire side or the decoded side of a body). */
export type ChunkIterator = AsyncIterator<Uint8Array, undefined, undefined>;

/**
 * The codings to undo, in the order the server applied them, from the raw header pairs
 * of a response; null when there is nothing to decode, or when one coding is unknown (the
 * body is then passed on exactly as it was sent). Throws `DecodeError` for a chain longer
 * than {@linkcode MAX_DECODE_LINKS}.
 */
export function contentCodings(rawHeaders: readonly string[]): string[] | null {
  let codings: string[] | null = null;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i].length !== 16 || rawHeaders[i].toLowerCase() !== "content-encoding") {
      continue;
    }
    for (const part of rawHeaders[i + 1].split(",")) {
      const coding = part.trim().toLowerCase();
      if (coding === "" || coding === "identity") continue;
      if (!CODINGS.has(coding)) return null;
      (codings ??= []).push(coding);
    }
  }
  if (codings !== null && codings.length > MAX_DECODE_LINKS) {
    throw new DecodeError(
      `Too many content encodings in the chain: ${codings.length} > ${MAX_DECODE_LINKS}`,
    );
  }
  return codings;
}

/** The parts of a `node:zlib` stream used here. */
interface ZlibStream {
  write(chunk: Uint8Array): boolean;
  end(): void;
  destroy(error?: Error): void;
  readonly destroyed: boolean;
  on(event: "error", listener: (error: Error) => void): unknown;
  once(event: "drain" | "close", listener: () => void): unknown;
  off(event: "drain" | "close", listener: () => void): unknown;
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array>;
}

/** The parts of `node:zlib` used here (zstd is missing on older runtimes). */
interface ZlibModule {
  createGunzip(): ZlibStream;
  createInflate(): ZlibStream;
  createInflateRaw(): ZlibStream;
  createBrotliDecompress(): ZlibStream;
  createZstdDecompress?: () => ZlibStream;
}

let zlibModule: Promise<ZlibModule> | undefined;

function loadZlib(): Promise<ZlibModule> {
  // A computed specifier keeps bundlers and type checkers from requiring node typings.
  const name = "node:zlib";
  zlibModule ??= import(name) as Promise<ZlibModule>;
  return zlibModule;
}

/** Where an encoded body comes from: the exchange that receives it. */
export interface EncodedSource {
  /** The next piece as received, or null at the end. */
  next(): Promise<Uint8Array | null>;
  /** Ends the exchange with `error`, closing its connection. */
  fail(error: Error): void;
  /** Everything was decoded: the connection may be reused. */
  decodingEnded(ok: boolean): void;
  /**
   * Why decoding must stop now (the deadline passed or the signal aborted), or null.
   * Once the last byte has arrived nothing else watches the clock or the signal, and a
   * small body can take seconds to inflate: the decoder asks between pieces.
   */
  stopReason(): Error | null;
}

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/**
 * Longest run of decoding without giving timers a turn. A decoder fed from memory can run
 * on promise jobs alone (Deno's `node:zlib` does), which would starve every timer, the
 * caller's abort included, until the whole body is inflated.
 */
const TURN_MS = 10;

/** Resolves after the event loop has run its timers. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => (globalThis.setImmediate ?? setTimeout)(resolve));
}

/**
 * The decoded body of `source`, capped at `limit` decoded bytes (`maxResponseSize` counts
 * what the caller gets, not the wire bytes).
 * Failures to decode are `DecodeError`s, a body over the cap is `ResponseTooLargeError`,
 * a passed deadline or an aborted signal is what `source.stopReason()` says; each ends
 * the exchange and closes its connection, which is held until the body has
 * been decoded to its end. Errors of the wire itself (a broken connection) come through
 * unchanged. Once failed, every later `next()` throws the same error.
 */
export function decodeBody(
  source: EncodedSource,
  codings: readonly string[],
  limit: number | null,
): ChunkIterator {
  // An error of the wire (an abort, a timeout, a broken connection) reaches the decoder
  // through its streams, which would wrap it: it is kept here to be thrown as it was.
  let wireError: Error | null = null;
  const wire: ChunkIterator = {
    next: async () => {
      let piece: Uint8Array | null;
      try {
        piece = await source.next();
      } catch (error) {
        wireError = error instanceof Error ? error : new DecodeError(String(error));
        throw wireError;
      }
      return piece === null ? DONE : { done: false, value: piece };
    },
  };
  let decoded: ChunkIterator | null = null;
  let size = 0;
  let failure: Error | null = null;
  let turn = performance.now();
  return {
    async next() {
      if (failure !== null) throw failure;
      try {
        decoded ??= await decodePieces(codings, wire);
        if (performance.now() - turn >= TURN_MS) {
          await nextTurn();
          turn = performance.now();
        }
        const result = await decoded.next();
        if (result.done) {
          source.decodingEnded(true);
          return DONE;
        }
        const stop = source.stopReason();
        if (stop !== null) throw stop;
        size += result.value.length;
        if (limit !== null && size > limit) throw new ResponseTooLargeError(limit, size);
        return result;
      } catch (error) {
        failure = wireError ?? (error instanceof Error ? error : new DecodeError(String(error)));
        source.fail(failure);
        void decoded?.return?.();
        throw failure;
      }
    },
    async return() {
      await decoded?.return?.();
      return DONE;
    },
  };
}

/** Reads every piece and joins them. */
export async function readAll(pieces: ChunkIterator): Promise<Uint8Array> {
  const all: Uint8Array[] = [];
  for (let r = await pieces.next(); !r.done; r = await pieces.next()) all.push(r.value);
  return concatBytes(all);
}

/**
 * Decodes `wire` through `codings` (as returned by {@linkcode contentCodings}). When the
 * runtime cannot decode one of them (zstd on an older runtime), the body passes through
 * undecoded, as an unknown coding does.
 */
async function decodePieces(
  codings: readonly string[],
  wire: ChunkIterator,
): Promise<ChunkIterator> {
  const zlib = await loadZlib();
  if (codings.includes("zstd") && typeof zlib.createZstdDecompress !== "function") return wire;
  let pieces = wire;
  // Codings are listed in the order they were applied: undo the last one first.
  for (let i = codings.length - 1; i >= 0; i--) {
    pieces = codings[i] === "zstd"
      ? decodeZstd(zlib, codings, pieces)
      : decodeStage(zlib, codings[i], codings, pieces);
  }
  return pieces;
}

/** A zlib stream for one coding; deflate looks at the first bytes for a zlib header. */
function openStream(zlib: ZlibModule, coding: string, first: Uint8Array): ZlibStream {
  switch (coding) {
    case "gzip":
    case "x-gzip":
      return zlib.createGunzip();
    case "br":
      return zlib.createBrotliDecompress();
    case "zstd":
      return zlib.createZstdDecompress!();
    default:
      return hasZlibHeader(first) ? zlib.createInflate() : zlib.createInflateRaw();
  }
}

/** RFC 1950: compression method 8 and a header checksum divisible by 31. */
function hasZlibHeader(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && (bytes[0] & 0x0f) === 8 && ((bytes[0] << 8) | bytes[1]) % 31 === 0;
}

/** Resolves when `stream` wants more input, or has closed. */
function writable(stream: ZlibStream): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off("drain", done);
      stream.off("close", done);
      resolve();
    };
    stream.once("drain", done);
    stream.once("close", done);
  });
}

/**
 * One decoding stage, undoing `coding` (one of `chain`, named in errors): pulls from
 * `upstream` only as fast as the stream's buffers empty.
 * No stream is made until the first bytes arrive, so an empty body (HEAD, 204) stays empty.
 */
function decodeStage(
  zlib: ZlibModule,
  coding: string,
  chain: readonly string[],
  upstream: ChunkIterator,
): ChunkIterator {
  let stream: ZlibStream | null = null;
  let output: AsyncIterator<Uint8Array> | null = null;
  let finished = false;

  const pump = async (first: Uint8Array) => {
    const target = stream!;
    try {
      let piece: Uint8Array | undefined = first;
      while (piece !== undefined && !target.destroyed) {
        if (!target.write(piece)) await writable(target);
        piece = (await upstream.next()).value;
      }
      if (target.destroyed) await upstream.return?.();
      else target.end();
    } catch (error) {
      target.destroy(error instanceof Error ? error : new Error(String(error)));
    }
  };

  const start = async (): Promise<boolean> => {
    let first = (await upstream.next()).value;
    // Deflate needs two bytes to tell a zlib header from raw data.
    while (first !== undefined && first.length < 2 && coding === "deflate") {
      const more = (await upstream.next()).value;
      if (more === undefined) break;
      first = concatBytes([first, more]);
    }
    if (first === undefined || first.length === 0) return false;
    stream = openStream(zlib, coding, first);
    // Errors reach the reader through the iterator; this keeps them from being unhandled.
    stream.on("error", () => {});
    output = stream[Symbol.asyncIterator]();
    void pump(first);
    return true;
  };

  return {
    async next() {
      if (finished) return DONE;
      try {
        if (output === null && !(await start())) {
          finished = true;
          return DONE;
        }
        const result = await output!.next();
        if (!result.done) return result;
        finished = true;
        return DONE;
      } catch (error) {
        finished = true;
        throw asDecodeError(error, chain);
      }
    },
    async return() {
      finished = true;
      stream?.destroy();
      await upstream.return?.();
      return DONE;
    },
  };
}

/**
 * zstd, one frame at a time (one stream each), skippable frames dropped: some runtimes'
 * decoders stop after the first frame, or end a truncated frame without an error.
 */
function decodeZstd(
  zlib: ZlibModule,
  chain: readonly string[],
  upstream: ChunkIterator,
): ChunkIterator {
  const frames = new ZstdFrames(upstream);
  let frame: ChunkIterator | null = null;
  let finished = false;
  return {
    async next() {
      try {
        while (!finished) {
          if (frame === null) {
            const bytes = await frames.next();
            if (bytes === null) break;
            frame = decodeStage(zlib, "zstd", chain, bytes);
          }
          const result = await frame.next();
          if (!result.done) return result;
          frame = null;
        }
      } catch (error) {
        finished = true;
        throw asDecodeError(error, chain);
      }
      finished = true;
      return DONE;
    },
    async return() {
      finished = true;
      await frame?.return?.();
      await upstream.return?.();
      return DONE;
    },
  };
}

function asDecodeError(error: unknown, codings: readonly string[]): Error {
  if (error instanceof HTTPError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new DecodeError(
    `Received response with content-encoding: ${
      codings.join(", ")
    }, but failed to decode it: ${detail}`,
    { cause: error },
  );
}
