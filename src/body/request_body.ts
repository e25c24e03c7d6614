/**
 * Turns a request `body` of any accepted type into the bytes that go on the wire, and
 * `fields` / `json` into a body with its content type.
 *
 * @module
 */

import { concatBytes } from "../_bytes.ts";
import { encodeMultipartFormdata, type FieldValue } from "../fields.ts";

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

/** A body ready to send. */
export interface PreparedBody {
  /** The bytes, or null for no body. */
  readonly bytes: Uint8Array | null;
  /** The content type the body implies (FormData, URLSearchParams, Blob), if any. */
  readonly contentType: string | null;
  /** The body came from a stream, so it goes out chunked. */
  readonly streamed: boolean;
}

const encoder = new TextEncoder();
/** The prepared form of "no body". */
export const NO_BODY: PreparedBody = { bytes: null, contentType: null, streamed: false };

/** Prepares the body types that need no waiting; returns null for the others. */
export function prepareBodySync(body: RequestBody | null | undefined): PreparedBody | null {
  if (body === undefined || body === null) return NO_BODY;
  if (typeof body === "string") {
    return { bytes: encoder.encode(body), contentType: null, streamed: false };
  }
  if (body instanceof Uint8Array) return { bytes: body, contentType: null, streamed: false };
  if (body instanceof ArrayBuffer) {
    return { bytes: new Uint8Array(body), contentType: null, streamed: false };
  }
  if (ArrayBuffer.isView(body)) {
    return {
      bytes: new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
      contentType: null,
      streamed: false,
    };
  }
  if (body instanceof URLSearchParams) {
    return {
      bytes: encoder.encode(body.toString()),
      contentType: "application/x-www-form-urlencoded;charset=UTF-8",
      streamed: false,
    };
  }
  return null;
}

/** Prepares any accepted body type (Blob, FormData and streams are read into memory). */
export async function prepareBody(body: RequestBody | null | undefined): Promise<PreparedBody> {
  const ready = prepareBodySync(body);
  if (ready !== null) return ready;
  if (body instanceof Blob) {
    return {
      bytes: new Uint8Array(await body.arrayBuffer()),
      contentType: body.type || null,
      streamed: false,
    };
  }
  if (body instanceof FormData) return await prepareFormData(body);
  if (body instanceof ReadableStream || isAsyncIterable(body)) {
    return { bytes: await collect(body), contentType: null, streamed: true };
  }
  throw new TypeError(
    `body must be a string, Uint8Array, ArrayBuffer, ArrayBufferView, Blob, ReadableStream, AsyncIterable, URLSearchParams or FormData; got ${
      describe(body)
    }`,
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
  return { bytes: body, contentType, streamed: false };
}

function isAsyncIterable(value: unknown): value is AsyncIterable<Uint8Array | string> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}

async function collect(
  source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array | string>,
): Promise<Uint8Array> {
  const pieces: Uint8Array[] = [];
  for await (const piece of source as AsyncIterable<Uint8Array | string>) {
    const bytes = typeof piece === "string" ? encoder.encode(piece) : piece;
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError(
        `A streamed body must yield Uint8Array or string pieces; got ${describe(bytes)}`,
      );
    }
    pieces.push(bytes);
  }
  return concatBytes(pieces);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  return value.constructor?.name ?? "object";
}
