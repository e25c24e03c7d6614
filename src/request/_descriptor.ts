/**
 * The request descriptor: one object per attempt, built by the request loop and carried
 * through the pool to the protocol engine, with the one listener that hears how the
 * attempt ended. A new request option is one field here, whatever layer reads it.
 *
 * @module
 */

import { type ChunkIterator, decodeBody, readAll } from "../body/content_decoder.ts";
import type { PreparedBody, StreamedBody } from "../body/request_body.ts";
import type { BodySource } from "../body/_body_source.ts";
import type { Timeout } from "../policy/timeout.ts";
import { type ConnectionHold, HTTPResponse } from "../response.ts";
import type { RequestHeaders } from "./request_methods.ts";
import { AttemptTimings } from "../_attempt_timings.ts";

/**
 * Hears how one attempt ended: exactly one of the two is called, once, and possibly from
 * inside a socket event, so a listener that starts more I/O defers it.
 */
export interface ResponseListener {
  /** The attempt got its response: the head, or with `preload` the whole of it. */
  responded(response: HTTPResponse): void;
  /** The attempt failed. */
  failed(error: unknown): void;
}

/** A request head in its wire form, with the body framed to follow it (set by the pool). */
export interface WireRequest {
  /** The head, as an ASCII string or Latin-1 bytes. */
  readonly text: string | Uint8Array;
  /** Body bytes in their wire form (chunk-encoded when chunked), or null. */
  readonly body: Uint8Array | null;
  /** The streamed body, held to its `Content-Length` when the caller declared one. */
  readonly stream: StreamedBody | null;
  /** The body goes out with chunked transfer coding. */
  readonly chunked: boolean;
}

/**
 * The hold a response keeps on its connection (streamed, or `releaseConn: false`): the
 * pool makes one for such attempts; the protocol engine tells it the body source.
 */
export interface ResponseHold {
  /** The body source of the response, once its head is in. */
  source: BodySource | null;
  /** This hold for a new response; null when the connection already went back. */
  take(): ConnectionHold | null;
  /** No response will keep the connection: let it go, closed. */
  release(close: boolean): void;
}

/** What the request loop sets for one attempt. */
export interface DescriptorInit {
  readonly method: string;
  readonly url: string;
  readonly target: string;
  readonly headers: RequestHeaders | undefined;
  readonly body: PreparedBody;
  readonly chunked: boolean;
  readonly timeout: Timeout;
  readonly poolTimeout: number | null;
  readonly preload: boolean;
  readonly releaseConn: boolean;
  readonly decodeContent: boolean;
  readonly enforceContentLength: boolean;
  readonly maxResponseSize: number | null;
  readonly signal: AbortSignal | undefined;
  /** Collect the attempt's timings (default false). */
  readonly timings?: boolean;
}

/** Hears of an attempt that failed before its response was ready. */
export type FailureObserver = (request: RequestDescriptor, error: unknown) => void;

// Set by the diagnostics channels when they load (they publish `undici:request:error`), so
// that this module, which every engine imports, imports no diagnostics code in a cycle.
let failureObserver: FailureObserver | null = null;

/** Registers the one observer of failed attempts. */
export function observeFailures(observer: FailureObserver): void {
  failureObserver = observer;
}

/**
 * One attempt at a request. The loop fills what to send and how to read the answer; the
 * pool adds the wire form (`wire`), its defaults and the hold; the engine sets the
 * deadline when it starts and reports through {@linkcode RequestDescriptor.ready} and
 * {@linkcode RequestDescriptor.fail}, which turn the outcome into the listener's calls.
 */
export class RequestDescriptor {
  /** Request method. */
  readonly method: string;
  /** The absolute URL, for messages and the response. */
  readonly url: string;
  /** Origin-form request target (path and query), or `*`. */
  readonly target: string;
  /**
   * Request headers, merged over the pool's (replaced, never changed in place, when a
   * diagnostics subscriber adds a header).
   */
  headers: RequestHeaders | undefined;
  /** The body to send. */
  readonly body: PreparedBody;
  /** Send the body chunked. */
  readonly chunked: boolean;
  /** Timeouts of this attempt. */
  readonly timeout: Timeout;
  /** Longest wait for any byte, in ms, or null (the timeout's `read`). */
  readonly readTimeout: number | null;
  /** Longest wait for a connection, in ms, or null for the pool's default. */
  readonly poolTimeout: number | null;
  /** Read the whole body before settling. */
  readonly preload: boolean;
  /**
   * Give the connection back as soon as the body is in; false keeps it for the response
   * until it is read to its end (streamed), released, drained or closed.
   */
  readonly releaseConn: boolean;
  /** Undo `Content-Encoding`. */
  readonly decodeContent: boolean;
  /** A body shorter than its `Content-Length` is an error. */
  readonly enforceContentLength: boolean;
  /** Aborts the attempt. */
  readonly signal: AbortSignal | undefined;
  /** Hears how the attempt ended. */
  readonly listener: ResponseListener;
  /** Largest body accepted, in bytes, or null (the pool fills in its default). */
  maxResponseSize: number | null;
  /** The wire form of the request (set by the pool before it takes a connection). */
  wire: WireRequest | null = null;
  /** Time (from `performance.now()`) by which the attempt must be over, or null. */
  deadline: number | null = null;
  /** The response's hold on its connection, when it keeps one (set by the pool). */
  hold: ResponseHold | null = null;
  /** The attempt as diagnostics subscribers see it, made once someone subscribes. */
  diagnostic: object | null = null;
  /** The attempt's clock, when timings are collected (the `timings` option). */
  readonly timings: AttemptTimings | null;

  /** An attempt as the loop describes it, reporting to `listener`. */
  constructor(init: DescriptorInit, listener: ResponseListener) {
    this.method = init.method;
    this.url = init.url;
    this.target = init.target;
    this.headers = init.headers;
    this.body = init.body;
    this.chunked = init.chunked;
    this.timeout = init.timeout;
    this.readTimeout = init.timeout.read;
    this.poolTimeout = init.poolTimeout;
    this.preload = init.preload;
    this.releaseConn = init.releaseConn;
    this.decodeContent = init.decodeContent;
    this.enforceContentLength = init.enforceContentLength;
    this.maxResponseSize = init.maxResponseSize;
    this.signal = init.signal;
    this.listener = listener;
    this.timings = init.timings ? new AttemptTimings() : null;
  }

  /** True when a response keeps its connection past the end of the exchange. */
  get holdsConnection(): boolean {
    return !this.preload || !this.releaseConn;
  }

  /** The pool has a connection for the attempt: the total timeout counts from now. */
  startClock(): void {
    if (this.timings !== null) this.timings.acquiredMark = performance.now();
    const total = this.timeout.total;
    this.deadline = total === null ? null : performance.now() + total;
  }

  /** The response head (or, preloaded, the whole body) is in at `source`. */
  ready(source: BodySource): void {
    const hold = this.hold;
    if (hold !== null) hold.source = source;
    let response: HTTPResponse | Promise<HTTPResponse>;
    try {
      response = this.#response(source);
    } catch (error) {
      return this.#unheld(error);
    }
    if (response instanceof HTTPResponse) return this.listener.responded(response);
    response.then(
      (whole) => this.listener.responded(whole),
      (error) => this.#unheld(error),
    );
  }

  /** The attempt failed before its response was ready. */
  fail(error: unknown): void {
    failureObserver?.(this, error);
    this.listener.failed(error);
  }

  /** No response will hold the connection: let it go (closed, its exchange unfinished). */
  #unheld(error: unknown): void {
    this.hold?.release(true);
    this.listener.failed(error);
  }

  /** The response to a source whose head (or, preloaded, whole body) is in. */
  #response(source: BodySource): HTTPResponse | Promise<HTTPResponse> {
    const codings = source.codings;
    const decoded = codings === null ? null : decodeBody(source, codings, this.maxResponseSize);
    if (source.collected) return this.#build(source, source.takeBody(), null);
    if (!this.preload) return this.#build(source, null, decoded);
    // An encoded body streams to its decoder even when preloaded: collect what it yields.
    return readAll(decoded!).then((data) => this.#build(source, data, null));
  }

  #build(
    source: BodySource,
    data: Uint8Array | null,
    decoded: ChunkIterator | null,
  ): HTTPResponse {
    const head = source.head!;
    return new HTTPResponse({
      status: head.status,
      reason: head.reason,
      version: head.version,
      headers: head,
      url: this.url,
      data,
      source: this.preload ? null : source,
      decoded,
      hold: this.hold?.take() ?? null,
      reused: source.reused,
      timings: this.timings,
    });
  }
}
