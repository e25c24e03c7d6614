/**
 * One request on an HTTP/2 connection, as the pool sees it: it sends the request on a
 * stream of the session, enforces the read and total timeouts, the signal and the size
 * cap (each resets the stream, never the session), collects a preloaded body, and is the
 * response's {@linkcode BodySource}. When the stream is over (read to its end, failed or
 * cancelled) its connection hears so once, and gives the stream slot back to the pool.
 *
 * @module
 */

import { ReadTimeoutError, ResponseTooLargeError } from "../errors.ts";
import { concatBytes } from "../_bytes.ts";
import { abortReason } from "../runtime/_errors.ts";
import { contentCodings } from "../body/content_decoder.ts";
import type { BodySource, ResponseHeadInfo } from "../body/_body_source.ts";
import type { RequestDescriptor } from "../request/_descriptor.ts";
import { unrefTimer } from "../runtime/_unref_timer.ts";
import type { HTTP2RequestInit, HTTP2Session } from "./session.ts";
import type { HTTP2Stream, HTTP2StreamListener } from "./stream.ts";
import { requestInit } from "./_request_fields.ts";
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

const TOTAL_TIMEOUT_MESSAGE = "Read timed out: the total timeout was used up";

/** Told once when an exchange is over. */
export type ExchangeEnd = (exchange: HTTP2Exchange, ok: boolean) => void;

/** One request and its response on an HTTP/2 session. */
export class HTTP2Exchange implements BodySource, HTTP2StreamListener {
  /** What was asked for. */
  readonly request: RequestDescriptor;
  /** The content codings the reader must undo, or null. */
  codings: string[] | null = null;
  /** True when the whole body was collected for `takeBody`. */
  collected = false;
  #stream: HTTP2Stream | null = null;
  #onEnd: ExchangeEnd;
  #ended = false;
  #settled = false;
  #reused: boolean;
  #pieces: Uint8Array[] = [];
  #received = 0;
  #wireLimit: number | null = null;
  #deadline: number | null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #onAbort: (() => void) | null = null;

  /** Starts the exchange on `session` for a `scheme` connection; `onEnd` hears its end. */
  constructor(
    session: HTTP2Session,
    request: RequestDescriptor,
    scheme: string,
    reused: boolean,
    onEnd: ExchangeEnd,
  ) {
    this.request = request;
    this.#onEnd = onEnd;
    this.#reused = reused;
    this.#deadline = request.deadline;
    const signal = request.signal;
    if (signal) {
      if (signal.aborted) {
        this.#settled = true;
        this.#end(false);
        request.fail(abortReason(signal));
        return;
      }
      this.#onAbort = () => this.fail(abortReason(signal));
      signal.addEventListener("abort", this.#onAbort, { once: true });
    }
    this.#arm();
    const wire = request.wire!;
    // A chunked body is chunk-encoded on the wire form: HTTP/2 frames the bytes themselves.
    // A streamed body goes as it is read, within the stream's flow-control window.
    const body = wire.stream ?? (wire.chunked ? request.body.bytes : wire.body);
    this.#send(session, scheme, body);
  }

  #send(session: HTTP2Session, scheme: string, body: HTTP2RequestInit["body"]): void {
    const timings = this.request.timings;
    if (timings !== null) timings.writeMark = performance.now();
    const stream = session.request(requestInit(this.request, scheme, body), this);
    // The session wrote the HEADERS (and a whole body, window permitting), or queued them.
    if (timings !== null) timings.sentMark = performance.now();
    if (!this.#ended) this.#stream = stream;
  }

  /** The response head, once it arrived. */
  get head(): ResponseHeadInfo | null {
    return this.#stream?.head ?? null;
  }

  /** Trailer fields, once the body ended with some. */
  get trailers(): string[] | null {
    return this.#stream?.trailers ?? null;
  }

  /** The connection had carried a request before this one. */
  get reused(): boolean {
    return this.#reused;
  }

  /** True once the whole body has arrived (or the exchange failed). */
  get finished(): boolean {
    return this.collected || this.#ended || (this.#stream?.finished ?? false);
  }

  // HTTP2StreamListener

  /** The final head arrived. */
  responded(stream: HTTP2Stream): void {
    this.#stream = stream;
    const { request } = this;
    if (request.timings !== null) request.timings.firstByteMark = performance.now();
    const head = stream.head!;
    if (requestHeaders.hasSubscribers) publishResponseHeaders(request, head);
    try {
      const bodiless = request.method === "HEAD" || head.status === 204 || head.status === 304;
      this.codings = request.decodeContent && !bodiless ? contentCodings(head.rawHeaders) : null;
      // maxResponseSize counts decoded bytes: an encoded body is capped by its reader.
      const max = this.#wireLimit = this.codings === null ? request.maxResponseSize : null;
      const length = stream.expectedLength;
      if (max !== null && length > max) throw new ResponseTooLargeError(max, length);
    } catch (error) {
      return this.fail(error as Error);
    }
    if (request.preload && this.codings === null) {
      void this.#collect();
      return;
    }
    // `total` bounds a streamed response up to its head: the reader sets the pace after.
    if (!request.preload) this.#deadline = null;
    this.#disarm();
    this.#settle();
  }

  /** The stream failed before its head. */
  failed(error: Error): void {
    if (this.#ended) return;
    this.#end(false);
    if (!this.#settled) {
      this.#settled = true;
      this.request.fail(error);
    }
  }

  /** The whole request went out. */
  sent(): void {
    if (requestBodySent.hasSubscribers) publishBodySent(this.request);
  }

  /**
   * The response is over after its head: whole, or failed. A failure before the response
   * is ready is published as the request fails; one after it (a streamed body) here.
   */
  closed(stream: HTTP2Stream, error: Error | null): void {
    if (error === null) {
      if (requestTrailers.hasSubscribers) publishTrailers(this.request, stream.trailers);
    } else if (this.#settled && requestError.hasSubscribers) {
      publishRequestError(this.request, error);
    }
  }

  async #collect(): Promise<void> {
    const stream = this.#stream!;
    try {
      for (let piece = await stream.next(); piece !== null; piece = await stream.next()) {
        this.#count(piece);
        this.#pieces.push(piece);
        this.#arm();
      }
    } catch (error) {
      return this.fail(error as Error);
    }
    this.collected = true;
    this.#end(true);
    this.#settle();
  }

  #count(piece: Uint8Array): void {
    this.#received += piece.length;
    const max = this.#wireLimit;
    if (max !== null && this.#received > max) throw new ResponseTooLargeError(max, this.#received);
  }

  #settle(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.request.ready(this);
  }

  // BodySource

  /** The next piece of the body, or null at its end. */
  next(): Promise<Uint8Array | null> {
    const stream = this.#stream;
    if (stream === null || this.collected) return Promise.resolve(null);
    if (!stream.finished) this.#arm();
    return stream.next().then((piece) => {
      this.#disarm();
      if (piece === null) {
        this.#end(true);
        return null;
      }
      try {
        this.#count(piece);
      } catch (error) {
        this.fail(error as Error);
        throw error;
      }
      return piece;
    }, (error) => {
      this.#disarm();
      this.#end(false);
      throw error;
    });
  }

  /** The collected body. */
  takeBody(): Uint8Array {
    const pieces = this.#pieces;
    this.#pieces = [];
    return pieces.length === 1 ? pieces[0] : concatBytes(pieces);
  }

  /** Ends the exchange with `error`: the stream is reset, the session lives on. */
  fail(error: Error): void {
    this.#stream?.fail(error);
    if (this.#ended && this.#settled) return;
    this.#end(false);
    if (!this.#settled) {
      this.#settled = true;
      this.request.fail(error);
    }
  }

  /** The reader gave up on the body: the stream is reset. */
  cancel(): void {
    this.#stream?.cancel();
    this.#end(false);
  }

  /** The reader decoded the whole body (`ok`), or gave up. */
  decodingEnded(ok: boolean): void {
    if (!ok) this.#stream?.cancel();
    this.#end(ok);
  }

  /** Why a decoder still busy after the last byte must stop now, or null. */
  stopReason(): Error | null {
    const signal = this.request.signal;
    if (signal?.aborted) return abortReason(signal);
    if (this.#deadline !== null && performance.now() >= this.#deadline) {
      return new ReadTimeoutError(null, this.request.url, TOTAL_TIMEOUT_MESSAGE);
    }
    return null;
  }

  // Timeouts: one timer, armed while the exchange waits for the server.

  #arm(): void {
    const readTimeout = this.request.readTimeout;
    const readDue = readTimeout === null ? Infinity : performance.now() + readTimeout;
    const due = Math.min(readDue, this.#deadline ?? Infinity);
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (due === Infinity || this.#ended) return;
    this.#timer = setTimeout(this.#onTimer, Math.max(0, due - performance.now()));
    unrefTimer(this.#timer);
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    const total = this.#deadline !== null && performance.now() >= this.#deadline - 1;
    const message = total
      ? TOTAL_TIMEOUT_MESSAGE
      : `Read timed out (read timeout=${this.request.readTimeout} ms)`;
    this.fail(new ReadTimeoutError(null, this.request.url, message));
  };

  /** The exchange is over: timers and listeners go, the connection hears of it once. */
  #end(ok: boolean): void {
    if (this.#ended) return;
    this.#ended = true;
    if (ok && this.request.timings !== null) this.request.timings.endMark = performance.now();
    this.#disarm();
    if (this.#onAbort !== null) {
      this.request.signal!.removeEventListener("abort", this.#onAbort);
      this.#onAbort = null;
    }
    this.#onEnd(this, ok);
  }
}
