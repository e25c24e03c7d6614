/**
 * An incremental, strict HTTP/1.1 response parser. It is fed bytes as they arrive
 * (`execute`), reports the head, body pieces and the end through callbacks, and never
 * buffers more than one response head (or one chunk-size or trailer line).
 *
 * Framing follows RFC 9112 section 6: HEAD, 1xx, 204 and 304 have no body;
 * `Transfer-Encoding: chunked` wins over `Content-Length` (and the connection is then
 * not reused); differing `Content-Length` values are an error; without either the body
 * runs to the end of the connection.
 *
 * @module
 */

import {
  HeadersTooLargeError,
  IncompleteRead,
  InvalidChunkLength,
  InvalidHeader,
  ProtocolError,
} from "../errors.ts";
import { concatBytes, decodeLatin1 } from "../_bytes.ts";
import {
  addFieldLine,
  contentEnd,
  DEFAULT_PARSER_LIMITS,
  ParsedHead,
  type ParserLimits,
  parseStatusLine,
  readFieldLines,
  type ResponseHead,
  shorten,
} from "./_response_head.ts";

export { DEFAULT_PARSER_LIMITS, type ParserLimits, type ResponseHead };

/**
 * Receives what the parser finds.
 */
export interface ParserEvents {
  /** The final head arrived. */
  onHead(head: ResponseHead): void;
  /**
   * Body bytes arrived: `data[start, end)`. Only valid during the call (the socket may
   * reuse the memory), and passed as a range so that no view is made per piece.
   */
  onBody(data: Uint8Array, start: number, end: number): void;
  /**
   * The response ended. `trailers` holds chunked trailer lines (flat pairs) or is null;
   * `extraBytes` is true when bytes followed the response that no request asked for.
   */
  onComplete(trailers: string[] | null, extraBytes: boolean): void;
}

/** Where events go between responses, so that the parser holds no finished exchange. */
const NO_EVENTS: ParserEvents = { onHead() {}, onBody() {}, onComplete() {} };

const HEAD = 0;
const LENGTH = 1;
const CHUNK_SIZE = 2;
const CHUNK_DATA = 3;
const CHUNK_DATA_END = 4;
const TRAILERS = 5;
const UNTIL_CLOSE = 6;
const DONE = 7;

const LF = 10;
const CR = 13;
const MAX_CHUNK_SIZE_LINE = 4096;
const MAX_HEX_DIGITS = 12; // 256 TiB: beyond any real chunk, well inside Number's exact range.

// deno-lint-ignore no-control-regex
const CHUNK_SIZE_LINE = /^([0-9A-Fa-f]+)[ \t]*(?:;[^\x00-\x08\x0a-\x1f\x7f]*)?$/;
/** Most bytes after a head that are decoded along with it rather than cut off by a view. */
const DECODE_WITH_HEAD = 256;
/** Line-end slots kept between heads; a parser that met a huge head lets its array go. */
const KEPT_LINE_SLOTS = 256;

/**
 * Parses one response at a time from a byte stream. Call {@linkcode ResponseParser.start}
 * before each request, feed bytes with {@linkcode ResponseParser.execute} and report the
 * end of the stream with {@linkcode ResponseParser.finish}. Errors are thrown from those
 * calls, always as a `ProtocolError` (or subclass).
 */
export class ResponseParser {
  #limits: ParserLimits;
  #events: ParserEvents = NO_EVENTS;
  #state = DONE;
  #bodiless = false;
  #remaining = 0;
  #received = 0;
  #pendingHead: Uint8Array | null = null;
  // The head scan, resumable across pieces: where it stopped, where each line ends (the
  // index of its LF), whether a bare CR is in the current line, and whether all is ASCII.
  #scanFrom = 0;
  #lineEnds: number[] = [];
  #lineCount = 0;
  #bareCr = false;
  #headAscii = true;
  #line = "";
  #trailerLines: string[] = [];
  #trailerBytes = 0;
  #bytesSeen = 0;
  #interimResponses = 0;

  constructor(limits: ParserLimits = DEFAULT_PARSER_LIMITS) {
    this.#limits = limits;
  }

  /** Prepares for the response to a request with `method`. */
  start(method: string, events: ParserEvents): void {
    this.#events = events;
    this.#state = HEAD;
    this.#bodiless = method === "HEAD";
    this.#resetHeadScan();
    this.#line = "";
    this.#received = 0;
    this.#bytesSeen = 0;
    this.#interimResponses = 0;
  }

  /**
   * Stops reporting to the current events (the exchange was abandoned). A parser lives as
   * long as its connection: holding the exchange would keep its response, body and all,
   * alive while the connection sits idle in a pool. The end of a response does the same.
   */
  release(): void {
    this.#events = NO_EVENTS;
  }

  /** Bytes received since {@linkcode ResponseParser.start}. */
  get bytesSeen(): number {
    return this.#bytesSeen;
  }

  /**
   * Bytes held between calls (a partial head, chunk-size line or trailers): never more than
   * `maxHeaderSize` or the 4 KiB chunk-size line limit, whatever the server sends.
   */
  get retainedBytes(): number {
    const trailers = this.#state === TRAILERS ? this.#trailerBytes : 0;
    return (this.#pendingHead?.length ?? 0) + this.#line.length + trailers;
  }

  /** True once the response has ended (or before any start). */
  get done(): boolean {
    return this.#state === DONE;
  }

  /**
   * Feeds bytes. Bytes that follow the end of the response in the same call are reported
   * through `onComplete`'s `extraBytes`; do not feed bytes once {@linkcode done} is true.
   */
  execute(data: Uint8Array): void {
    this.#bytesSeen += data.length;
    let offset = 0;
    while (offset < data.length) {
      switch (this.#state) {
        case HEAD:
          offset = this.#readHead(data, offset);
          break;
        case LENGTH:
        case CHUNK_DATA:
          offset = this.#readCounted(data, offset);
          break;
        case CHUNK_SIZE:
        case CHUNK_DATA_END:
        case TRAILERS:
          offset = this.#readLine(data, offset);
          break;
        case UNTIL_CLOSE:
          this.#received += data.length - offset;
          this.#events.onBody(data, offset, data.length);
          return;
        default:
          // Bytes after the end of the response were already reported as `extraBytes`.
          return;
      }
    }
  }

  /**
   * Reports the end of the stream; completes a close-delimited body or throws. With
   * `acceptShortBody` (`enforceContentLength: false`), a body shorter than its
   * `Content-Length` ends there instead of failing.
   */
  finish(acceptShortBody = false): void {
    switch (this.#state) {
      case DONE:
        return;
      case UNTIL_CLOSE:
        return this.#complete(null, false);
      case HEAD:
        if (this.#bytesSeen === 0) {
          throw new ProtocolError(
            "Connection aborted: remote end closed connection without response",
          );
        }
        throw new ProtocolError(
          "Connection broken: the connection closed in the middle of the response head",
        );
      case LENGTH:
        if (acceptShortBody) return this.#complete(null, false);
        throw new ProtocolError(
          `Connection broken: IncompleteRead(${this.#received} bytes read, ${this.#remaining} more expected)`,
          { cause: new IncompleteRead(this.#received, this.#remaining) },
        );
      default:
        throw new ProtocolError(
          "Response ended prematurely: the connection closed inside the chunked body",
          { cause: new IncompleteRead(this.#received, this.#remaining) },
        );
    }
  }

  #resetHeadScan(): void {
    this.#pendingHead = null;
    this.#scanFrom = 0;
    this.#lineCount = 0;
    this.#bareCr = false;
    this.#headAscii = true;
    if (this.#lineEnds.length > KEPT_LINE_SLOTS) this.#lineEnds = [];
  }

  #readHead(data: Uint8Array, offset: number): number {
    const pending = this.#pendingHead;
    const rest = offset === 0 ? data : data.subarray(offset);
    const buffer = pending ? concatBytes([pending, rest]) : rest;
    const end = this.#scanHead(buffer);
    const limit = this.#limits.maxHeaderSize;
    if (end === -1) {
      if (buffer.length > limit) throw this.#headTooLarge(buffer.length);
      this.#pendingHead = pending ? buffer : buffer.slice();
      return data.length;
    }
    const consumed = end - (pending ? pending.length : 0);
    this.#onHeadBlock(buffer, end, offset + consumed === data.length);
    return offset + consumed;
  }

  #countInterim(): void {
    const max = this.#limits.maxInterimResponses ?? DEFAULT_PARSER_LIMITS.maxInterimResponses;
    if (++this.#interimResponses > max) {
      throw new ProtocolError(
        `More than ${max} interim (1xx) responses before the final one (maxInterimResponses)`,
      );
    }
  }

  #headTooLarge(size: number): HeadersTooLargeError {
    return new HeadersTooLargeError(
      `Response head is larger than ${this.#limits.maxHeaderSize} bytes (maxHeaderSize): ${size}`,
    );
  }

  /**
   * Scans head bytes from where the previous piece stopped, never past `maxHeaderSize`:
   * records where each line ends, rejects NUL and bare CR, and returns the index just past
   * the blank line that ends the head (CRLF or bare LF line ends), or -1 when it has not
   * arrived yet. One pass over bytes, so a head split anywhere is scanned exactly once.
   */
  #scanHead(buffer: Uint8Array): number {
    const limit = Math.min(buffer.length, this.#limits.maxHeaderSize);
    const ends = this.#lineEnds;
    let count = this.#lineCount;
    let lineStart = count === 0 ? 0 : ends[count - 1] + 1;
    let allBits = 0; // OR of every byte: above 0x7f when one is not ASCII
    let i = this.#scanFrom;
    for (; i < limit; i++) {
      const byte = buffer[i];
      allBits |= byte;
      if (byte > CR) continue;
      if (byte === LF) {
        if (this.#bareCr) {
          const line = decodeLatin1(buffer.subarray(lineStart, buffer[i - 1] === CR ? i - 1 : i));
          throw new InvalidHeader(`Bare CR in response header line ${shorten(line)}`);
        }
        const blank = i === lineStart || (i === lineStart + 1 && buffer[lineStart] === CR);
        if (blank && count > 0) {
          this.#lineCount = count;
          this.#headAscii &&= allBits <= 0x7f;
          return i + 1;
        }
        ends[count++] = i;
        lineStart = i + 1;
      } else if (byte === CR) {
        // Whether this CR is bare depends on the byte after it, which may be in the next piece.
        if (i + 1 === buffer.length) break;
        if (buffer[i + 1] !== LF) this.#bareCr = true;
      } else if (byte === 0) {
        throw new InvalidHeader("Response head contains a NUL byte");
      }
    }
    this.#scanFrom = i;
    this.#lineCount = count;
    this.#headAscii &&= allBits <= 0x7f;
    return -1;
  }

  /**
   * A string that starts with the head `buffer[0, end)` (only that prefix is read). When
   * few bytes follow the head, an ASCII head is decoded together with them: a view of
   * the head costs more than those bytes on Bun, whose fresh socket chunks are turned into
   * an `ArrayBuffer` (≈0.3 µs) by the first view. The head ends with LF, so the bytes
   * after it cannot change how it decodes.
   */
  #headText(buffer: Uint8Array, end: number): string {
    if (!this.#headAscii) return decodeLatin1(buffer.subarray(0, end), false);
    if (end === buffer.length || buffer.length - end <= DECODE_WITH_HEAD) {
      return decodeLatin1(buffer, true);
    }
    return decodeLatin1(buffer.subarray(0, end), true);
  }

  /** Parses the head in `buffer[0, end)`, whose line ends `#scanHead` recorded. */
  #onHeadBlock(buffer: Uint8Array, end: number, atEnd: boolean): void {
    const text = this.#headText(buffer, end);
    const ends = this.#lineEnds;
    const count = this.#lineCount;
    this.#resetHeadScan();
    const statusLine = parseStatusLine(text, contentEnd(text, 0, ends[0]));
    const status = statusLine.status;
    const framing = readFieldLines(text, ends, count, this.#limits, status >= 200);
    if (status < 200) {
      if (status === 101) throw new ProtocolError("Unexpected 101 Switching Protocols response");
      // Interim response (100 Continue, 103 Early Hints): the final one follows.
      return this.#countInterim();
    }
    const version = statusLine.version;
    const bodiless = this.#bodiless || status === 204 || status === 304;
    let keepAlive = version === 11 ? !framing.close : framing.keepAliveToken && !framing.close;
    let contentLength = framing.contentLength;
    let chunked = false;
    if (bodiless) {
      contentLength = 0;
    } else if (framing.transferEncoding !== null) {
      chunked = framing.transferEncoding === "chunked";
      // Both headers, a non-chunked coding or TE on HTTP/1.0: the framing cannot be trusted
      // for another response on this connection (RFC 9112 section 6.3).
      if (!chunked || contentLength !== -1 || version === 10) keepAlive = false;
      contentLength = -1;
    } else if (contentLength === -1) {
      keepAlive = false;
    }
    this.#events.onHead(
      new ParsedHead(
        version,
        status,
        statusLine.reason,
        contentLength,
        chunked,
        keepAlive,
        framing.contentEncoded,
        framing.keepAliveTimeout,
        framing.keepAliveMax,
        text,
        ends[0] + 1,
        ends[count - 1] + 1,
        this.#limits,
        framing.pairs,
      ),
    );
    if (bodiless || contentLength === 0) return this.#complete(null, !atEnd);
    if (chunked) this.#state = CHUNK_SIZE;
    else if (contentLength > 0) {
      this.#state = LENGTH;
      this.#remaining = contentLength;
    } else this.#state = UNTIL_CLOSE;
  }

  #readCounted(data: Uint8Array, offset: number): number {
    const n = Math.min(this.#remaining, data.length - offset);
    this.#remaining -= n;
    this.#received += n;
    this.#events.onBody(data, offset, offset + n);
    offset += n;
    if (this.#remaining === 0) {
      if (this.#state === CHUNK_DATA) this.#state = CHUNK_DATA_END;
      else this.#complete(null, offset < data.length);
    }
    return offset;
  }

  /** Collects one line (chunk size, chunk end or trailer) and acts on it when complete. */
  #readLine(data: Uint8Array, offset: number): number {
    const lf = data.indexOf(LF, offset);
    const end = lf === -1 ? data.length : lf;
    const piece = decodeLatin1(data.subarray(offset, end));
    this.#line += piece;
    if (this.#state === TRAILERS) {
      // An unterminated trailer line must not grow without bound either.
      if (this.#trailerBytes + this.#line.length > this.#limits.maxHeaderSize) {
        throw new HeadersTooLargeError(
          `Trailers are larger than ${this.#limits.maxHeaderSize} bytes (maxHeaderSize)`,
        );
      }
    } else if (this.#line.length > MAX_CHUNK_SIZE_LINE) {
      throw new InvalidChunkLength(this.#line);
    }
    if (lf === -1) return data.length;
    let line = this.#line;
    this.#line = "";
    if (line.endsWith("\r")) line = line.slice(0, -1);
    this.#onLine(line, lf + 1 < data.length);
    return lf + 1;
  }

  #onLine(line: string, moreBytes: boolean): void {
    if (line.includes("\r") || line.includes("\0")) {
      throw new ProtocolError(`Bare CR or NUL in chunked framing: ${shorten(line)}`);
    }
    if (this.#state === CHUNK_DATA_END) {
      if (line !== "") {
        throw new ProtocolError(`Missing CRLF after chunk data: ${shorten(line)}`);
      }
      this.#state = CHUNK_SIZE;
      return;
    }
    if (this.#state === CHUNK_SIZE) return this.#onChunkSize(line);
    this.#onTrailerLine(line, moreBytes);
  }

  #onChunkSize(line: string): void {
    const match = CHUNK_SIZE_LINE.exec(line);
    if (!match || match[1].length > MAX_HEX_DIGITS) throw new InvalidChunkLength(line);
    const size = parseInt(match[1], 16);
    if (size === 0) {
      this.#state = TRAILERS;
      this.#trailerLines = [];
      this.#trailerBytes = 0;
      return;
    }
    this.#remaining = size;
    this.#state = CHUNK_DATA;
  }

  #onTrailerLine(line: string, moreBytes: boolean): void {
    if (line !== "") {
      this.#trailerBytes += line.length + 2;
      if (this.#trailerBytes > this.#limits.maxHeaderSize) {
        throw new HeadersTooLargeError(
          `Trailers are larger than ${this.#limits.maxHeaderSize} bytes (maxHeaderSize)`,
        );
      }
      this.#trailerLines.push(line);
      return;
    }
    const lines = this.#trailerLines;
    this.#trailerLines = [];
    let trailers: string[] | null = null;
    for (const trailer of lines) {
      addFieldLine(trailer, 0, trailer.length, trailers ??= [], this.#limits);
    }
    this.#complete(trailers, moreBytes);
  }

  #complete(trailers: string[] | null, extraBytes: boolean): void {
    this.#state = DONE;
    const events = this.#events;
    this.#events = NO_EVENTS;
    events.onComplete(trailers, extraBytes);
  }
}
