/**
 * Turns a request `body` of any accepted type into the bytes that go on the wire, and
 * `fields` / `json` into a body with its content type.
 *
 * @module
 */

import { UnrewindableBodyError } from "../errors.ts";
import { encodeMultipartFormdata, type FieldValue } from "../fields.ts";
import { describe } from "../_validate.ts";

/** The request body types accepted by `request` and `urlopen`. */
export type RequestBody =
  | string
  | Uint8Array
  | ArrayBuffer
  | ArrayBufferView
  | Blob
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array | string>
  | URLSearchParams
  | FormData;

/** A body ready to send: bytes in memory, or a source read as it is sent. */
export interface PreparedBody {
  /** The bytes, or null when there is no body or it streams. */
  readonly bytes: Uint8Array | null;
  /** The source of a body that is read while it is sent, or null. */
  readonly stream: StreamedBody | null;
  /** The content type the body implies (FormData, URLSearchParams, Blob), if any. */
  readonly contentType: string | null;
}

/** The pieces a streamed body yields, pulled one at a time (strings are sent as UTF-8). */
export type BodyPieces = AsyncIterator<Uint8Array | string, unknown, undefined>;

/**
 * A request body that is read while it is sent, so that its size never has to fit in
 * memory. A Blob can be read again for a retry or a redirect; a stream or an async
 * iterable only once, so a second send of one that was started is an
 * `UnrewindableBodyError`.
 */
export class StreamedBody {
  /** The exact size when known (a Blob): sent as `Content-Length` instead of chunked. */
  readonly length: number | null;
  /** True when every send can start from the beginning again. */
  readonly rewindable: boolean;
  #open: () => BodyPieces;
  #started = false;

  /** Wraps a source; `open` returns a new reader of it each time it is called. */
  constructor(open: () => BodyPieces, length: number | null, rewindable: boolean) {
    this.#open = open;
    this.length = length;
    this.rewindable = rewindable;
  }

  /**
   * Throws `UnrewindableBodyError` (with `cause`, what called for another send) when the
   * body is a one-shot source that a send has already started to read.
   */
  assertCanSend(cause?: Error): void {
    if (this.rewindable || !this.#started) return;
    throw new UnrewindableBodyError(
      "Unable to send the request body again for a retry or redirect: it is a stream that was already read",
      { cause },
    );
  }

  /** Starts reading the source from its beginning. */
  open(): BodyPieces {
    this.assertCanSend();
    this.#started = true;
    return this.#open();
  }
}

const encoder = new TextEncoder();
/** The prepared form of "no body". */
export const NO_BODY: PreparedBody = { bytes: null, stream: null, contentType: null };
/** Blobs up to this size are read into memory (one write); larger ones stream. */
const BLOB_IN_MEMORY_LIMIT = 64 * 1024;

function inMemory(bytes: Uint8Array, contentType: string | null = null): PreparedBody {
  return { bytes, stream: null, contentType };
}

/** Prepares the body types that need no waiting; returns null for the others. */
export function prepareBodySync(body: RequestBody | null | undefined): PreparedBody | null {
  if (body === undefined || body === null) return NO_BODY;
  if (typeof body === "string") return inMemory(encoder.encode(body));
  if (body instanceof Uint8Array) return inMemory(body);
  if (body instanceof ArrayBuffer) return inMemory(new Uint8Array(body));
  if (ArrayBuffer.isView(body)) {
    return inMemory(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
  }
  if (body instanceof URLSearchParams) {
    return inMemory(
      encoder.encode(body.toString()),
      "application/x-www-form-urlencoded;charset=UTF-8",
    );
  }
  if (body instanceof ReadableStream) {
    return {
      bytes: null,
      stream: new StreamedBody(() => readerOf(body), null, false),
      contentType: null,
    };
  }
  if (body instanceof Blob && body.size > BLOB_IN_MEMORY_LIMIT) {
    const stream = new StreamedBody(() => readerOf(body.stream()), body.size, true);
    return { bytes: null, stream, contentType: body.type || null };
  }
  if (isAsyncIterable(body)) {
    const stream = new StreamedBody(() => body[Symbol.asyncIterator](), null, false);
    return { bytes: null, stream, contentType: null };
  }
  return null;
}

/** Prepares any accepted body type (small Blobs and FormData are read into memory). */
export async function prepareBody(body: RequestBody | null | undefined): Promise<PreparedBody> {
  const ready = prepareBodySync(body);
  if (ready !== null) return ready;
  if (body instanceof Blob) {
    return inMemory(new Uint8Array(await body.arrayBuffer()), body.type || null);
  }
  if (body instanceof FormData) return await prepareFormData(body);
  throw new TypeError(
    `body must be a string, Uint8Array, ArrayBuffer, ArrayBufferView, Blob, ReadableStream, AsyncIterable, URLSearchParams or FormData: ${
      describe(body)
    }`,
  );
}

/** Reads a ReadableStream as an iterator whose `return` cancels the stream. */
function readerOf(stream: ReadableStream<Uint8Array>): BodyPieces {
  const reader = stream.getReader();
  return {
    next: async () => {
      const { done, value } = await reader.read();
      return done ? { done: true, value: undefined } : { done: false, value };
    },
    return: async () => {
      await reader.cancel();
      return { done: true, value: undefined };
    },
  };
}

/**
 * `body` held to a declared `Content-Length` of `length` bytes: a send that reads more
 * from the source, or sees it end sooner, fails with a `TypeError` instead of sending a
 * body of another length (nothing past `length` is sent). Shares `body`'s source, so a
 * one-shot source read by one send cannot be sent again through another view.
 */
export function exactLength(body: StreamedBody, length: number): StreamedBody {
  return new StreamedBody(() => counted(body.open(), length), length, body.rewindable);
}

/** The pieces of `pieces`, as bytes, failing once their total differs from `length`. */
function counted(pieces: BodyPieces, length: number): BodyPieces {
  let sent = 0;
  return {
    next: async () => {
      const next = await pieces.next();
      if (next.done) {
        if (sent === length) return next;
        throw new TypeError(
          `Request body ended after ${sent} bytes, short of its Content-Length: ${length}`,
        );
      }
      const bytes = pieceBytes(next.value);
      sent += bytes.length;
      if (sent > length) {
        throw new TypeError(`Request body is longer than its Content-Length: ${length}`);
      }
      return { done: false, value: bytes };
    },
    return: async () => await pieces.return?.() ?? { done: true, value: undefined },
  };
}

/** The bytes of one piece of a streamed body; anything but bytes or a string is a TypeError. */
export function pieceBytes(piece: unknown): Uint8Array {
  if (piece instanceof Uint8Array) return piece;
  if (typeof piece === "string") return encoder.encode(piece);
  throw new TypeError(
    `A streamed body must yield Uint8Array or string pieces: ${describe(piece)}`,
  );
}

async function prepareFormData(form: FormData): Promise<PreparedBody> {
  const fields: [string, FieldValue][] = [];
  for (const [name, value] of form) {
    if (typeof value === "string") fields.push([name, value]);
    else {
      const data = new Uint8Array(await value.arrayBuffer());
      fields.push([name, [value.name, data, value.type || "application/octet-stream"]]);
    }
  }
  const { body, contentType } = encodeMultipartFormdata(fields);
  return inMemory(body, contentType);
}

function isAsyncIterable(value: unknown): value is AsyncIterable<Uint8Array | string> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}
