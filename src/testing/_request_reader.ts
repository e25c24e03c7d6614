/**
 * Reads HTTP/1.1 requests from the bytes the engine writes on a mock socket: the head,
 * then a body framed by `Content-Length` or by chunked transfer coding.
 *
 * @module
 */

import { concatBytes, decodeLatin1 } from "../_bytes.ts";

/** One request as written on the socket. */
export interface ReadRequest {
  /** The method, as sent. */
  readonly method: string;
  /** The request target (origin form: path and query). */
  readonly target: string;
  /** Header lines in order, names as sent. */
  readonly headers: readonly (readonly [string, string])[];
  /** The body with its transfer coding undone (empty when there was none). */
  readonly body: Uint8Array;
  /** Every byte of the request as written, for passing it on to a real server. */
  readonly raw: Uint8Array;
}

const CR = 0x0d;
const LF = 0x0a;
const EMPTY = new Uint8Array(0);

/** Where the reader is in the current request. */
type Stage =
  | "head"
  | "length" // `remaining` body bytes to go
  | "chunk-size"
  | "chunk-data" // `remaining` bytes of the chunk to go
  | "chunk-end" // the CRLF after a chunk's data
  | "trailers";

/** Parses requests incrementally; `push` returns those the bytes completed. */
export class RequestReader {
  #stage: Stage = "head";
  #raw: Uint8Array[] = [];
  // The head (or the current chunk-size or trailer line) read so far.
  #line: Uint8Array[] = [];
  #head: { method: string; target: string; headers: [string, string][] } | null = null;
  #body: Uint8Array[] = [];
  #remaining = 0;

  /** Takes the next bytes written; returns the requests they completed, in order. */
  push(bytes: Uint8Array): ReadRequest[] {
    const done: ReadRequest[] = [];
    let at = 0;
    while (at < bytes.length) {
      const next = this.#step(bytes, at);
      this.#raw.push(bytes.subarray(at, next));
      at = next;
      if (this.#stage === "head" && this.#head !== null) done.push(this.#finish());
    }
    return done;
  }

  /** Consumes bytes of `bytes` from `at` for the current stage; returns where it stopped. */
  #step(bytes: Uint8Array, at: number): number {
    switch (this.#stage) {
      case "head":
        return this.#readHead(bytes, at);
      case "length":
      case "chunk-data":
        return this.#readData(bytes, at);
      case "chunk-size":
      case "chunk-end":
      case "trailers":
        return this.#readLine(bytes, at);
    }
  }

  #readHead(bytes: Uint8Array, at: number): number {
    const end = findHeadEnd(this.#line, bytes, at);
    if (end === -1) {
      this.#line.push(bytes.subarray(at));
      return bytes.length;
    }
    this.#line.push(bytes.subarray(at, end));
    const head = decodeLatin1(concatBytes(this.#line));
    this.#line = [];
    this.#startRequest(head);
    return end;
  }

  #startRequest(text: string): void {
    const lines = text.split("\r\n").filter((line) => line !== "");
    const [method, target] = (lines.shift() ?? "").split(" ");
    if (!method || !target) throw new TypeError(`Invalid request line: ${JSON.stringify(text)}`);
    const headers: [string, string][] = [];
    for (const line of lines) {
      const colon = line.indexOf(":");
      if (colon <= 0) throw new TypeError(`Invalid request header line: ${JSON.stringify(line)}`);
      headers.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
    }
    this.#head = { method, target, headers };
    const coding = headerValue(headers, "transfer-encoding");
    const length = Number(headerValue(headers, "content-length") ?? 0);
    if (coding !== undefined && /chunked\s*$/i.test(coding)) this.#stage = "chunk-size";
    else if (length > 0) {
      this.#stage = "length";
      this.#remaining = length;
    }
    // No body: the request is complete (`push` sees the head stage with a head).
  }

  #readData(bytes: Uint8Array, at: number): number {
    const end = Math.min(bytes.length, at + this.#remaining);
    // A copy: the engine may reuse the memory it wrote from.
    this.#body.push(bytes.slice(at, end));
    this.#remaining -= end - at;
    if (this.#remaining === 0) this.#stage = this.#stage === "length" ? "head" : "chunk-end";
    return end;
  }

  #readLine(bytes: Uint8Array, at: number): number {
    const lf = bytes.indexOf(LF, at);
    if (lf === -1) {
      this.#line.push(bytes.subarray(at));
      return bytes.length;
    }
    this.#line.push(bytes.subarray(at, lf));
    let line = decodeLatin1(concatBytes(this.#line));
    this.#line = [];
    if (line.endsWith("\r")) line = line.slice(0, -1);
    this.#lineRead(line);
    return lf + 1;
  }

  #lineRead(line: string): void {
    if (this.#stage === "chunk-end") {
      this.#stage = "chunk-size";
      return;
    }
    if (this.#stage === "trailers") {
      if (line === "") this.#stage = "head";
      return;
    }
    const size = parseInt(line.split(";")[0].trim(), 16);
    if (Number.isNaN(size)) throw new TypeError(`Invalid chunk size line: ${JSON.stringify(line)}`);
    if (size === 0) this.#stage = "trailers";
    else {
      this.#stage = "chunk-data";
      this.#remaining = size;
    }
  }

  #finish(): ReadRequest {
    const head = this.#head!;
    const request: ReadRequest = {
      method: head.method,
      target: head.target,
      headers: head.headers,
      body: this.#body.length === 0 ? EMPTY : concatBytes(this.#body),
      raw: concatBytes(this.#raw.map((piece) => piece.slice())),
    };
    this.#head = null;
    this.#body = [];
    this.#raw = [];
    return request;
  }
}

/** The value of the first header named `name` (lower-case), if any. */
function headerValue(headers: readonly (readonly [string, string])[], name: string) {
  return headers.find(([key]) => key.toLowerCase() === name)?.[1];
}

/**
 * Where the head ends (just past its blank line) in `bytes` from `at`, given the head
 * bytes already read in `before`; -1 when it does not end in `bytes`.
 */
function findHeadEnd(before: readonly Uint8Array[], bytes: Uint8Array, at: number): number {
  // The last three bytes read before, so a CRLFCRLF split across writes is found.
  const tail: number[] = [];
  for (let i = before.length - 1; i >= 0 && tail.length < 3; i--) {
    const piece = before[i];
    for (let j = piece.length - 1; j >= 0 && tail.length < 3; j--) tail.unshift(piece[j]);
  }
  for (let i = at; i < bytes.length; i++) {
    if (bytes[i] !== LF) continue;
    const back = (n: number) => i - n >= at ? bytes[i - n] : tail[tail.length - (n - (i - at))];
    if (back(1) === CR && back(2) === LF && back(3) === CR) return i + 1;
  }
  return -1;
}
