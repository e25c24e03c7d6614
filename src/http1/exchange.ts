/**
 * One request/response exchange on a connection: it writes the request, feeds the
 * parser, enforces the read and total timeouts and the size cap, and hands the body to
 * its reader, either whole (preloaded) or piece by piece with backpressure.
 *
 * @module
 */

import { HTTPError, ProtocolError, ReadTimeoutError, ResponseTooLargeError } from "../errors.ts";
import { concatBytes } from "../_bytes.ts";
import { abortReason } from "../runtime/_errors.ts";
import type { Socket } from "../runtime/socket.ts";
import { contentCodings } from "../body/content_decoder.ts";
import { pieceBytes, type StreamedBody } from "../body/request_body.ts";
import type { ParserEvents, ResponseHead, ResponseParser } from "./response_parser.ts";
import type { RequestDescriptor } from "../request/_descriptor.ts";
import type { BodySource } from "../body/_body_source.ts";
import {
  requestBodySent,
  requestError,
  requestHeaders,
  requestTrailers,
} from "../diagnostics/_channels.ts";
import {
  publishBodySent,
  publishRequestError,
  publishResponseHeaders,
  publishTrailers,
} from "../diagnostics/_undici_shapes.ts";

/** How an exchange ended, for the connection that carried it. */
export interface ExchangeOwner {
  /** The exchange is over; `reusable` says whether the socket may carry another request. */
  exchangeDone(exchange: Exchange, reusable: boolean): void;
}

const EMPTY = new Uint8Array(0);
const NO_PIECES: Uint8Array[] = [];
/** Buffered bytes above which a streaming reader's socket is paused. */
const STREAM_HIGH_WATER_MARK = 256 * 1024;
/** Largest `Content-Length` for which the preload buffer is allocated up front. */
const PREALLOCATE_LIMIT = 16 * 1024 * 1024;
const TOTAL_TIMEOUT_MESSAGE = "Read timed out: the total timeout was used up";

/** Raised when a reused connection died before any byte of the response arrived. */
export class StaleConnectionError extends ProtocolError {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_STALE_CONNECTION";
}

/**
 * One request and its response on an HTTP/1.1 connection. Created by
 * `HTTPConnection.dispatch`; it tells its request when the head is in (or, when
 * preloading, the whole body), or that it failed first, and is then the response's
 * {@linkcode BodySource}.
 */
export class Exchange implements ParserEvents, BodySource {
  /** What was asked for. */
  readonly request: RequestDescriptor;
  /** The response head, once it arrived. */
  head: ResponseHead | null = null;
  /** Trailer lines of a chunked body (flat pairs), once it ended. */
  trailers: string[] | null = null;
  /** The content codings the reader must undo, or null when the body is used as sent. */
  codings: string[] | null = null;
  #owner: ExchangeOwner;
  #socket: Socket;
  #parser: ResponseParser;
  #reused: boolean;
  #settled = false;
  #finished = false;
  #error: Error | null = null;
  #writeError: Error | null = null;
  #bodySent = true;
  // An encoded body keeps its connection until the reader has decoded it to the end.
  #awaitingDecoder = false;
  #reusable = false;
  #collect = false;
  #wireLimit: number | null = null;
  // Body storage: a preallocated buffer when the length is known, otherwise pieces.
  #whole: Uint8Array | null = null;
  #wholeLength = 0;
  // Shared and never written while empty: an exchange whose body fits `#whole` makes none.
  #pieces: Uint8Array[] = NO_PIECES;
  #pieceHead = 0;
  #buffered = 0;
  #received = 0;
  #paused = false;
  #waiter: { resolve(chunk: Uint8Array | null): void; reject(error: Error): void } | null = null;
  // Timeouts: the connection's one timer calls `checkTimeouts` when one may be due.
  #lastActivity = 0;
  #deadline: number | null;
  #onAbort: (() => void) | null = null;

  /** Starts the exchange: writes the request and arms its timers. */
  constructor(
    owner: ExchangeOwner,
    socket: Socket,
    parser: ResponseParser,
    request: RequestDescriptor,
    reused: boolean,
  ) {
    this.#owner = owner;
    this.#socket = socket;
    this.#parser = parser;
    this.#reused = reused;
    this.request = request;
    this.#deadline = request.deadline;
    if (request.readTimeout !== null) this.#lastActivity = performance.now();
    this.#start();
  }

  #start(): void {
    const { request } = this;
    const signal = request.signal;
    if (signal) {
      if (signal.aborted) return this.fail(abortReason(signal));
      this.#onAbort = () => this.fail(abortReason(signal));
      signal.addEventListener("abort", this.#onAbort, { once: true });
    }
    this.#parser.start(request.method, this);
    const wire = request.wire!;
    const timings = request.timings;
    if (timings !== null) timings.writeMark = performance.now();
    this.#socket.write(wire.text);
    if (wire.body !== null && wire.body.length > 0 && !this.#socket.write(wire.body)) {
      // A body larger than the socket's buffer is still going out: a response that arrives
      // first (an early 413) must not leave the connection reusable with the body half-sent.
      this.#bodySent = false;
      void this.#socket.drained().then(() => this.#bodySent = true);
    }
    if (wire.stream !== null) {
      this.#bodySent = false;
      void this.#sendStream(wire.stream, wire.chunked);
    } else {
      if (timings !== null) timings.sentMark = performance.now();
      if (requestBodySent.hasSubscribers) publishBodySent(request);
    }
  }

  /** The connection had carried a request before this one. */
  get reused(): boolean {
    return this.#reused;
  }

  /** Nothing more may be written: the exchange ended or the socket stopped taking bytes. */
  get #stopSending(): boolean {
    return this.#finished || this.#writeError !== null;
  }

  /**
   * Sends a streamed body piece by piece, waiting for the socket to drain whenever it
   * holds more than its high-water mark, so a body of any size needs little memory.
   * Stops (and cancels the source) when the exchange ends first, say a 413 sent early.
   */
  async #sendStream(body: StreamedBody, chunked: boolean): Promise<void> {
    let pieces: ReturnType<StreamedBody["open"]> | null = null;
    try {
      pieces = body.open();
      while (!this.#stopSending) {
        const next = await pieces.next();
        if (this.#stopSending) break;
        if (next.done) {
          pieces = null;
          if (chunked) this.#socket.write("0\r\n\r\n");
          this.#bodySent = true;
          if (this.request.timings !== null) this.request.timings.sentMark = performance.now();
          if (requestBodySent.hasSubscribers) publishBodySent(this.request);
          return;
        }
        if (!this.#writePiece(pieceBytes(next.value), chunked)) await this.#socket.drained();
      }
    } catch (error) {
      // The caller's source failed (or yielded a wrong type): the request cannot be finished.
      this.fail(error instanceof Error ? error : new TypeError(String(error)));
    } finally {
      if (pieces !== null) pieces.return?.().catch(() => {});
    }
  }

  /** Writes one piece of a streamed body; false when the socket asks to wait. */
  #writePiece(bytes: Uint8Array, chunked: boolean): boolean {
    if (bytes.length === 0) return true; // an empty chunk would end a chunked body
    const socket = this.#socket;
    if (chunked) socket.write(`${bytes.length.toString(16)}\r\n`);
    let roomy = socket.write(bytes);
    if (chunked) roomy = socket.write("\r\n");
    // A server that keeps taking the body is not idle: the read timeout waits for it.
    if (this.request.readTimeout !== null) this.#lastActivity = performance.now();
    return roomy;
  }

  /**
   * When (on the `performance.now()` clock) a timeout may next be due: the read timeout
   * counted from the last activity, or the deadline; `Infinity` when neither applies.
   */
  get timeoutDue(): number {
    if (this.#finished) return Infinity;
    const readTimeout = this.request.readTimeout;
    const readDue = readTimeout === null ? Infinity : this.#lastActivity + readTimeout;
    return this.#deadline === null ? readDue : Math.min(readDue, this.#deadline);
  }

  /** Fails the exchange if its read timeout or deadline has passed (called by the timer). */
  checkTimeouts(): void {
    if (this.#finished) return;
    const now = performance.now();
    // While the reader holds the socket paused, silence is the reader's, not the server's.
    if (this.#paused) this.#lastActivity = now;
    // A timer may fire up to a millisecond early.
    if (this.#deadline !== null && now >= this.#deadline - 1) return this.#timedOut("total");
    const readTimeout = this.request.readTimeout;
    if (readTimeout !== null && now - this.#lastActivity >= readTimeout - 1) {
      this.#timedOut("read");
    }
  }

  #timedOut(kind: "read" | "total"): void {
    const message = kind === "read"
      ? `Read timed out (read timeout=${this.request.readTimeout} ms)`
      : TOTAL_TIMEOUT_MESSAGE;
    this.fail(new ReadTimeoutError(null, this.request.url, message));
  }

  /**
   * Why a reader still busy after the last byte arrived (a decoder) must stop now: the
   * signal aborted, or the deadline passed; null to go on. The errors are those the
   * exchange itself fails with while bytes arrive.
   */
  stopReason(): Error | null {
    const signal = this.request.signal;
    if (signal?.aborted) return abortReason(signal);
    if (this.#deadline !== null && performance.now() >= this.#deadline) {
      return new ReadTimeoutError(null, this.request.url, TOTAL_TIMEOUT_MESSAGE);
    }
    return null;
  }

  #stopListening(): void {
    if (this.#onAbort) {
      this.request.signal!.removeEventListener("abort", this.#onAbort);
      this.#onAbort = null;
    }
  }

  /** Bytes arrived on the socket. */
  data(chunk: Uint8Array): void {
    if (this.#finished) return;
    if (this.request.readTimeout !== null) this.#lastActivity = performance.now();
    const timings = this.request.timings;
    if (timings !== null && timings.firstByteMark === 0) timings.firstByteMark = performance.now();
    try {
      this.#parser.execute(chunk);
    } catch (error) {
      this.fail(asError(error));
    }
  }

  /** The socket ended (`error` set when it failed rather than closed). */
  end(error?: Error): void {
    if (this.#finished) return;
    if (error !== undefined) {
      // A socket that fails with a typed error already says what failed (the testing kit's
      // sockets: a request no interceptor matched, a pass-through that could not connect).
      if (error instanceof HTTPError) return this.fail(error);
      const broken = new ProtocolError(`Connection broken: ${error.message}`, { cause: error });
      return this.fail(this.#staleOr(broken));
    }
    try {
      this.#parser.finish(!this.request.enforceContentLength);
    } catch (caught) {
      this.fail(this.#staleOr(asError(caught)));
    }
    if (!this.#finished) this.fail(new ProtocolError("Connection closed during the response"));
  }

  /** The reader gave up on the body: end the exchange, which closes the connection. */
  cancel(): void {
    this.fail(new ProtocolError("The response body was cancelled before its end"));
    this.#pieces = NO_PIECES;
    this.#pieceHead = 0;
    this.#buffered = 0;
  }

  /** Writing the request failed: keep reading, a response may already be on its way. */
  writeFailed(error: Error): void {
    this.#writeError ??= error;
  }

  /** Ends the exchange with an error and closes its connection. */
  fail(error: Error): void {
    if (this.#finished) return this.decodingEnded(false);
    this.#finished = true;
    this.#error = error;
    this.#parser.release();
    this.#stopListening();
    this.#owner.exchangeDone(this, false);
    if (!this.#settled) {
      this.#settled = true;
      this.request.fail(error);
    } else if (requestError.hasSubscribers) publishRequestError(this.request, error);
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.reject(error);
  }

  /** A reused socket that closed before any response byte never had the request read. */
  #staleOr(error: Error): Error {
    if (!this.#reused || this.#parser.bytesSeen > 0) return error;
    return new StaleConnectionError(
      "Connection aborted: the reused connection was closed by the server before it answered",
      { cause: this.#writeError ?? error },
    );
  }

  /** Parser event: the final head arrived. */
  onHead(head: ResponseHead): void {
    this.head = head;
    const { request } = this;
    if (requestHeaders.hasSubscribers) publishResponseHeaders(request, head);
    const encoded = request.decodeContent && head.contentEncoded !== false;
    this.codings = encoded ? contentCodings(head.rawHeaders) : null;
    // maxResponseSize counts decoded bytes: an encoded body is capped by its reader.
    const max = this.#wireLimit = this.codings === null ? request.maxResponseSize : null;
    if (max !== null && head.contentLength > max) {
      throw new ResponseTooLargeError(max, head.contentLength);
    }
    // An encoded body streams to its decoder even when preloaded, so memory stays bounded.
    this.#collect = request.preload && this.codings === null;
    if (this.#collect) {
      if (head.contentLength > 0 && head.contentLength <= PREALLOCATE_LIMIT) {
        // A buffer of its own, never a view of a shared one: the caller may transfer
        // `data.buffer` elsewhere, which must neither expose nor detach other bodies.
        this.#whole = new Uint8Array(head.contentLength);
      }
      return;
    }
    if (!request.preload) {
      // `total` bounds a streamed response up to its head: the reader sets the pace after.
      this.#deadline = null;
    }
    this.#settle();
  }

  /** Parser event: body bytes `data[start, end)` arrived. */
  onBody(data: Uint8Array, start: number, end: number): void {
    const length = end - start;
    this.#received += length;
    const max = this.#wireLimit;
    if (max !== null && this.#received > max) throw new ResponseTooLargeError(max, this.#received);
    const whole = this.#whole;
    if (whole !== null) {
      copyInto(whole, this.#wholeLength, data, start, end);
      this.#wholeLength += length;
      return;
    }
    // The data is the socket's read buffer: copy what outlives this call.
    const copy = data.slice(start, end);
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#waiter = null;
      waiter.resolve(copy);
      return;
    }
    if (this.#pieces === NO_PIECES) this.#pieces = [];
    this.#pieces.push(copy);
    this.#buffered += copy.length;
    if (!this.#collect && this.#buffered > STREAM_HIGH_WATER_MARK && !this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    }
  }

  /** Parser event: the response ended. */
  onComplete(trailers: string[] | null, extraBytes: boolean): void {
    if (this.#finished) return;
    const head = this.head!;
    if (
      extraBytes && (this.request.method === "HEAD" || head.status === 204 || head.status === 304)
    ) {
      // Bytes that came with the head are a body where none may be: the server is broken.
      const what = this.request.method === "HEAD" ? "a HEAD request" : `status ${head.status}`;
      return this.fail(
        new ProtocolError(`The response to ${what} must not have a body, but one was sent`),
      );
    }
    this.trailers = trailers;
    this.#finished = true;
    if (this.request.timings !== null) this.request.timings.endMark = performance.now();
    this.#stopListening();
    if (requestTrailers.hasSubscribers) publishTrailers(this.request, trailers);
    // Bytes after a complete response mean the peer and we disagree on framing, and a body
    // not sent in full (an early answer) leaves the request unfinished: never reuse either.
    const reusable = head.keepAlive && !extraBytes && this.#writeError === null &&
      this.#bodySent;
    if (this.codings === null) this.#owner.exchangeDone(this, reusable);
    else {
      this.#awaitingDecoder = true;
      this.#reusable = reusable;
    }
    if (this.#paused) {
      this.#paused = false;
      this.#socket.resume();
    }
    this.#settle();
    const waiter = this.#waiter;
    if (waiter !== null && this.#pieceHead === this.#pieces.length) {
      this.#waiter = null;
      waiter.resolve(null);
    }
  }

  #settle(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.request.ready(this);
  }

  /** True once the whole body has arrived (or the exchange failed). */
  get finished(): boolean {
    return this.#finished;
  }

  /**
   * The reader of an encoded body decoded all of it (`ok`), or failed or gave up: the
   * connection goes back to its pool, or is closed when the body was not whole.
   */
  decodingEnded(ok: boolean): void {
    if (!this.#awaitingDecoder) return;
    this.#awaitingDecoder = false;
    this.#owner.exchangeDone(this, this.#reusable && ok);
  }

  /** True when the whole body was collected for `takeBody` (preloaded and not encoded). */
  get collected(): boolean {
    return this.#collect;
  }

  /** The error that ended the exchange, if any. */
  get error(): Error | null {
    return this.#error;
  }

  /** The preloaded body (call once the exchange is ready, with `preload`). */
  takeBody(): Uint8Array {
    if (this.#whole !== null) {
      const whole = this.#whole;
      this.#whole = null;
      return this.#wholeLength === whole.length ? whole : whole.subarray(0, this.#wholeLength);
    }
    const pieces = this.#pieces.slice(this.#pieceHead);
    this.#pieces = NO_PIECES;
    this.#pieceHead = 0;
    this.#buffered = 0;
    return concatBytes(pieces);
  }

  /** The next piece of a streamed body, or null at its end. */
  next(): Promise<Uint8Array | null> {
    if (this.#pieceHead < this.#pieces.length) {
      const piece = this.#pieces[this.#pieceHead];
      this.#pieces[this.#pieceHead++] = EMPTY;
      if (this.#pieceHead === this.#pieces.length) {
        this.#pieces = NO_PIECES;
        this.#pieceHead = 0;
      }
      this.#buffered -= piece.length;
      if (this.#paused && this.#buffered <= STREAM_HIGH_WATER_MARK / 2) {
        this.#paused = false;
        if (this.request.readTimeout !== null) this.#lastActivity = performance.now();
        this.#socket.resume();
      }
      return Promise.resolve(piece);
    }
    if (this.#error !== null) return Promise.reject(this.#error);
    if (this.#finished) return Promise.resolve(null);
    return new Promise((resolve, reject) => this.#waiter = { resolve, reject });
  }
}

/** Below this many bytes a loop copies faster than making a view for `set`. */
const SMALL_COPY = 64;

/** Copies `source[start, end)` into `target` at `offset`. */
function copyInto(
  target: Uint8Array,
  offset: number,
  source: Uint8Array,
  start: number,
  end: number,
): void {
  if (end - start <= SMALL_COPY) {
    for (let i = start; i < end; i++) target[offset++] = source[i];
  } else {
    target.set(start === 0 && end === source.length ? source : source.subarray(start, end), offset);
  }
}

function asError(error: unknown): Error {
  if (error instanceof HTTPError) return error;
  if (error instanceof Error) {
    return new ProtocolError(`Connection broken: ${error.message}`, { cause: error });
  }
  return new ProtocolError(`Connection broken: ${String(error)}`);
}
