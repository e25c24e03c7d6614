/**
 * One HTTP/2 request and its response, as the session hands it to a caller: the response
 * head through a listener, then the body piece by piece (`next()`), trailers, the end or
 * the error. It is the library's body source (the HTTP/1.1 exchange's interface).
 *
 * @module
 */

import type { BodySource } from "../body/_body_source.ts";
import type { BodyPieces, StreamedBody } from "../body/request_body.ts";

/** A response head as an HTTP/2 stream hands it over (`ResponseHeadInfo` with version 20). */
export interface HTTP2ResponseHead {
  /** Status code. */
  readonly status: number;
  /** Always empty: HTTP/2 has no reason phrase. */
  readonly reason: string;
  /** Always 20. */
  readonly version: 20;
  /** Header fields as flat pairs, lowercase names, without pseudo-headers. */
  readonly rawHeaders: string[];
}

/** Receives the outcome of a stream's request. */
export interface HTTP2StreamListener {
  /** The final response head arrived (1xx heads are skipped). */
  responded(stream: HTTP2Stream): void;
  /** The stream failed before its final head arrived. */
  failed(error: Error): void;
  /** The whole request went out: its last frame (END_STREAM) was written. */
  sent?(stream: HTTP2Stream): void;
  /** The response after its head is over: all of it arrived (`error` null), or it failed. */
  closed?(stream: HTTP2Stream, error: Error | null): void;
}

/** What a stream asks of its session. */
export interface StreamOwner {
  /** `octets` of the stream's body were consumed by the reader: credit them back. */
  consumed(stream: HTTP2Stream, octets: number): void;
  /** The reader gave up on the stream: reset it with `errorCode`. */
  reset(stream: HTTP2Stream, errorCode: number): void;
}

/** One stream of an {@linkcode HTTP2Session}: the body source of its response. */
export class HTTP2Stream implements BodySource {
  /** The stream identifier, 0 until its HEADERS frame has been written. */
  id = 0;
  /** The final response head, once it arrived. */
  head: HTTP2ResponseHead | null = null;
  /** Trailer fields (flat pairs), once the body ended with some. */
  trailers: string[] | null = null;
  /** The session had carried another stream before this one. */
  readonly reused: boolean;
  /** Always null: the caller decides on content codings from the head. */
  readonly codings: string[] | null = null;
  /** Always false: the body is read piece by piece. */
  readonly collected = false;

  // Session-side state (the session reads and writes these).
  /**
   * The request body bytes still to send, from `sendOffset`: the whole body, or a streamed
   * body's current piece; null when none is waiting.
   */
  body: Uint8Array | null;
  /** Octets of `body` already sent. */
  sendOffset = 0;
  /** A streamed body not yet opened (the stream has not started), or null. */
  source: StreamedBody | null = null;
  /** The streamed body's reader until it ended or was stopped, or null. */
  pieces: BodyPieces | null = null;
  /** A piece of the streamed body is being waited for. */
  pulling = false;
  /** The streamed body's declared length (held to), or -1. */
  declaredLength = -1;
  /** Request body octets sent in DATA frames. */
  bodySent = 0;
  /** The peer's window for this stream (may go negative after a SETTINGS change). */
  sendWindow = 0;
  /** What the peer may still send on this stream before the next WINDOW_UPDATE. */
  receiveWindow = 0;
  /** Consumed octets not yet credited back with a WINDOW_UPDATE. */
  uncredited = 0;
  /** This end sent END_STREAM. */
  localEnded = false;
  /** The peer sent END_STREAM, or the stream was reset. */
  remoteEnded = false;
  /** DATA octets received, to check against `content-length`. */
  received = 0;
  /** The response's `content-length`, or -1. */
  expectedLength = -1;

  readonly #owner: StreamOwner;
  readonly #listener: HTTP2StreamListener;
  readonly #queue: Uint8Array[] = [];
  #queued = 0;
  #error: Error | null = null;
  #ended = false;
  #waiter: { resolve(piece: Uint8Array | null): void; reject(error: Error): void } | null = null;

  /**
   * A stream that reports to `listener`. The session creates streams.
   *
   * @param owner The session.
   * @param listener Told of the head or of a failure before it.
   * @param body The request body, or null.
   * @param reused Whether the session carried a stream before.
   */
  constructor(
    owner: StreamOwner,
    listener: HTTP2StreamListener,
    body: Uint8Array | null,
    reused: boolean,
  ) {
    this.#owner = owner;
    this.#listener = listener;
    this.body = body !== null && body.length > 0 ? body : null;
    this.reused = reused;
  }

  /** True once the whole body has arrived (or the stream failed). */
  get finished(): boolean {
    return this.#ended || this.#error !== null;
  }

  /**
   * Some request body octet went out: a refused stream whose body started can be resent
   * only if its body can be read again (a one-shot streamed body was opened, in any case,
   * once the stream started).
   */
  get bodyStarted(): boolean {
    return this.bodySent > 0;
  }

  /** Body octets received and not yet read. */
  get buffered(): number {
    return this.#queued;
  }

  /** The error the stream failed with, or null. */
  get error(): Error | null {
    return this.#error;
  }

  /** The next body piece, or null at the end; throws the stream's error. */
  next(): Promise<Uint8Array | null> {
    if (this.#queue.length > 0) {
      const piece = this.#queue.shift()!;
      this.#queued -= piece.length;
      this.#owner.consumed(this, piece.length);
      return Promise.resolve(piece);
    }
    if (this.#error) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve(null);
    if (this.#waiter) return Promise.reject(new TypeError("A read is already pending"));
    return new Promise((resolve, reject) => this.#waiter = { resolve, reject });
  }

  /** The reader gave up on the body: the stream is reset (not the session). */
  cancel(): void {
    this.fail(new TypeError("Stream cancelled"));
  }

  /** Ends the stream with `error`, resetting it with CANCEL if it is still open. */
  fail(error: Error): void {
    if (this.#error !== null) return;
    if (this.#ended) {
      // The body had all arrived: only what is still queued goes.
      this.#error = error;
      return this.#drop();
    }
    this.#owner.reset(this, 0x8);
    this.failed(error);
  }

  /** Everything was decoded; a failed decoding resets the stream. */
  decodingEnded(ok: boolean): void {
    if (!ok) this.cancel();
  }

  /** Why decoding must stop now: nothing watches the clock here yet. */
  stopReason(): Error | null {
    return null;
  }

  /** The body is read piece by piece, never collected: always throws. */
  takeBody(): Uint8Array {
    throw new TypeError("The body of an HTTP/2 stream is not collected");
  }

  // Called by the session.

  /** The final head arrived. */
  responded(head: HTTP2ResponseHead): void {
    this.head = head;
    this.#listener.responded(this);
  }

  /**
   * A DATA payload arrived; it is copied, as the frame's bytes are reused, into a plain
   * `Uint8Array` (never the socket's `Buffer` subclass on Node), as HTTP/1.1 bodies are.
   */
  data(piece: Uint8Array): void {
    if (piece.length === 0) return;
    // A failed stream's octets are never read: credited back at once.
    if (this.finished) return this.#owner.consumed(this, piece.length);
    if (this.#waiter) {
      const waiter = this.#waiter;
      this.#waiter = null;
      this.#owner.consumed(this, piece.length);
      waiter.resolve(new Uint8Array(piece));
      return;
    }
    this.#queue.push(new Uint8Array(piece));
    this.#queued += piece.length;
  }

  /** The request's last frame (END_STREAM) was written. */
  requestSent(): void {
    this.#listener.sent?.(this);
  }

  /** The body ended (END_STREAM). */
  ended(): void {
    if (this.finished) return;
    this.#ended = true;
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.resolve(null);
    this.#listener.closed?.(this, null);
  }

  /** The stream failed: the listener hears of it before the head, the reader after. */
  failed(error: Error): void {
    if (this.finished) return;
    this.#error = error;
    this.#drop();
    if (this.head === null) return this.#listener.failed(error);
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.reject(error);
    this.#listener.closed?.(this, error);
  }

  /** Queued octets will never be read: they are credited back to the connection. */
  #drop(): void {
    const queued = this.#queued;
    this.#queue.length = 0;
    this.#queued = 0;
    if (queued > 0) this.#owner.consumed(this, queued);
  }
}
