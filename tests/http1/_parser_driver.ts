/**
 * Drives a `ResponseParser` directly, without sockets, and records what it reports in a
 * form that compares equal however the input was split. Shared by the parser's unit tests
 * and its fuzz test.
 *
 * @module
 */

import { assert } from "../_harness.ts";
import {
  type ParserLimits,
  type ResponseHead,
  ResponseParser,
} from "../../src/http1/response_parser.ts";

/** Encodes a string as latin1 bytes (every char code below 256). */
export function bytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/** Decodes bytes as latin1 (one char per byte). */
export function latin1(chunk: Uint8Array): string {
  let text = "";
  for (const byte of chunk) text += String.fromCharCode(byte);
  return text;
}

/** What the parser reported, normalized so that different splits compare equal. */
export interface Outcome {
  /** Event kinds in order, consecutive body events merged. */
  order: string[];
  head: ResponseHead | null;
  body: string;
  trailers: string[] | null;
  complete: boolean;
  /**
   * `extraBytes` from `onComplete`, or bytes fed after the response ended (the connection
   * treats both the same: the socket is not reused).
   */
  extra: boolean;
}

/** How {@linkcode run} drives the parser. */
export interface RunOptions {
  /** The request method (default `GET`). */
  method?: string;
  /** Call `finish()` at the end (the peer closed). Default false. */
  finish?: boolean;
  /** Parser limits (default: the parser's). */
  limits?: ParserLimits;
  /** A parser to reuse instead of a new one. */
  parser?: ResponseParser;
  /** Called after every piece fed (to check the parser's state between pieces). */
  afterEach?: (parser: ResponseParser) => void;
}

/** Feeds `pieces` as a connection would; throws what the parser throws. */
export function run(pieces: Uint8Array[], options: RunOptions = {}): Outcome {
  const parser = options.parser ?? new ResponseParser(options.limits);
  const outcome: Outcome = {
    order: [],
    head: null,
    body: "",
    trailers: null,
    complete: false,
    extra: false,
  };
  const note = (kind: string) => {
    if (outcome.complete) throw new Error(`${kind} event after onComplete`);
    if (kind === "body" && outcome.order.at(-1) === "body") return;
    outcome.order.push(kind);
  };
  parser.start(options.method ?? "GET", {
    onHead(head) {
      note("head");
      if (outcome.head !== null) throw new Error("onHead called twice");
      outcome.head = snapshot(head);
    },
    onBody(data, start, end) {
      if (outcome.head === null) throw new Error("onBody before onHead");
      note("body");
      outcome.body += latin1(data.subarray(start, end));
    },
    onComplete(trailers, extraBytes) {
      if (outcome.head === null) throw new Error("onComplete before onHead");
      note("complete");
      outcome.complete = true;
      outcome.trailers = trailers;
      outcome.extra ||= extraBytes;
    },
  });
  for (const piece of pieces) {
    if (parser.done) {
      if (piece.length > 0) outcome.extra = true;
      continue;
    }
    parser.execute(piece);
    options.afterEach?.(parser);
  }
  if (options.finish && !parser.done) parser.finish();
  assert.equal(parser.done, outcome.complete, "parser.done matches onComplete");
  return outcome;
}

/** A plain copy of `head`, its lazily split `rawHeaders` included, for deep comparison. */
function snapshot(head: ResponseHead): ResponseHead {
  const { version, status, reason, rawHeaders, contentLength, chunked, keepAlive } = head;
  const copy = { version, status, reason, rawHeaders, contentLength, chunked, keepAlive };
  return head.contentEncoded === undefined
    ? copy
    : { ...copy, contentEncoded: head.contentEncoded };
}

/** {@linkcode run} with the whole response in one piece. */
export function parse(text: string, options: RunOptions = {}): Outcome {
  return run([bytes(text)], options);
}

/** The error `fn` throws; fails when it does not throw. */
export function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof Error, `threw a non-Error: ${String(error)}`);
    return error;
  }
  assert.fail("expected an error, nothing was thrown");
}

/** The error `fn` throws, which must be exactly a `kind` with a message matching `message`. */
export function assertThrows(
  fn: () => unknown,
  kind: new (...args: never[]) => Error,
  message?: RegExp,
): Error {
  const error = thrown(fn);
  assert.equal(error.constructor, kind, `expected ${kind.name}, got ${error.name}: ${error}`);
  if (message) assert.match(error.message, message);
  return error;
}

/** Every split of `data` into two non-empty pieces. */
export function splits(data: Uint8Array): Uint8Array[][] {
  const out: Uint8Array[][] = [];
  for (let i = 1; i < data.length; i++) out.push([data.subarray(0, i), data.subarray(i)]);
  return out;
}

/** `data` one byte per piece. */
export function byteByByte(data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < data.length; i++) out.push(data.subarray(i, i + 1));
  return out;
}
