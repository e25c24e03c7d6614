/**
 * The client side of one HTTP/2 connection (RFC 9113) over the library's `Socket`: the
 * connection preface and SETTINGS, streams with flow control in both directions, PING,
 * GOAWAY and RST_STREAM, and the limits that keep a hostile server from costing memory
 * or time. Not yet behind the pool's protocol seam (a later step).
 *
 * @module
 */

import { ProtocolError } from "../errors.ts";
import { type BodyPieces, pieceBytes, StreamedBody } from "../body/request_body.ts";
import { unrefTimer } from "../runtime/_unref_timer.ts";
import type { Socket } from "../runtime/socket.ts";
import { ErrorCode, errorCodeName } from "./error_codes.ts";
import {
  HTTP2Error,
  HTTP2MalformedResponseError,
  HTTP2SettingsTimeoutError,
  HTTP2StreamRefusedError,
  HTTP2StreamResetError,
} from "./errors.ts";
import { RateLimit } from "./_rate_limit.ts";
import { FrameReader } from "./frame_reader.ts";
import {
  CONNECTION_PREFACE,
  DEFAULT_INITIAL_WINDOW_SIZE,
  DEFAULT_MAX_FRAME_SIZE,
  encodeData,
  encodeGoaway,
  encodeHeaders,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeSettingsAck,
  encodeWindowUpdate,
  type Frame,
  FrameType,
  type HeadersFrame,
  MAX_WINDOW_SIZE,
  SettingId,
} from "./frames.ts";
import {
  DEFAULT_HEADER_TABLE_SIZE,
  DEFAULT_MAX_HEADER_LIST_SIZE,
  HpackDecoder,
  HpackEncoder,
} from "./hpack.ts";
import { HTTP2Stream, type HTTP2StreamListener, type StreamOwner } from "./stream.ts";

/** Options of an {@linkcode HTTP2Session}. */
export interface HTTP2SessionOptions {
  /** The most streams this end keeps open at once (default 100). */
  maxConcurrentStreams?: number;
  /** Each stream's receive window: what a server may send ahead of the reader (1 MiB). */
  streamWindowSize?: number;
  /** The connection's receive window, shared by all streams (16 MiB). */
  connectionWindowSize?: number;
  /** The largest response header list accepted (64 KiB). */
  maxHeaderListSize?: number;
  /** The most SETTINGS and PING frames accepted per second before `ENHANCE_YOUR_CALM` (1000). */
  maxControlFramesPerSecond?: number;
  /** The most empty DATA frames without END_STREAM accepted per second (1000). */
  maxEmptyFramesPerSecond?: number;
  /**
   * The most frames on closed or reset streams accepted per second (1000). DATA frames
   * that carry octets are not counted: they are what a server has in flight when a stream
   * is reset, and its window bounds them.
   */
  maxClosedStreamFramesPerSecond?: number;
  /**
   * How long this end's SETTINGS may go unacknowledged before the session ends with
   * `HTTP2SettingsTimeoutError` (SETTINGS_TIMEOUT), in ms (10000; `Infinity` never). The
   * timer does not keep the process alive.
   */
  settingsTimeout?: number;
  /**
   * Called whenever the session's `capacity` grew: a stream ended with no request queued
   * behind it, or the server's SETTINGS raised MAX_CONCURRENT_STREAMS (its first SETTINGS
   * included, as the limit is 1 until then). Called from inside socket events: a listener
   * may call `request` at once.
   */
  onCapacity?: () => void;
  /**
   * Called once when the session ends: `close()`, the last stream ending after a GOAWAY,
   * a connection error, the socket ending or failing. `error` is what open streams failed
   * with, null for an orderly end (`close()`, a GOAWAY drained, the server closing an idle
   * session).
   */
  onClose?: (error: Error | null) => void;
  /** Told after each SETTINGS frame of the server is applied (the stream limit may change). */
  onSettings?: () => void;
}

/** A request as the session sends it. */
export interface HTTP2RequestInit {
  /** The method, for example `"GET"`. */
  readonly method: string;
  /** `"http"` or `"https"`. */
  readonly scheme: string;
  /** The authority (`host[:port]`). */
  readonly authority: string;
  /** The path and query. */
  readonly path: string;
  /** Header fields as flat pairs; names are lowercased, connection-specific ones dropped. */
  readonly headers: readonly string[];
  /**
   * The request body, or null: whole bytes, or streamed (a `StreamedBody`, or an async
   * iterable of `Uint8Array`), read as the windows let it go out. A `StreamedBody` with a
   * `length` is held to it: a source that yields more or ends short fails the request with
   * a `TypeError` and resets the stream. A source that throws fails the request with its
   * error and resets the stream (CANCEL); a response that ends first, or a reset, stops
   * reading it (its `return()` is called).
   */
  readonly body: Uint8Array | StreamedBody | AsyncIterable<Uint8Array> | null;
}

/** Fields HTTP/2 forbids (RFC 9113 section 8.2.2), and `host` (`:authority` replaces it). */
const CONNECTION_FIELDS = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "host",
]);

/** The payload of an empty DATA frame that only ends a stream. */
const EMPTY = new Uint8Array(0);

/** The highest stream identifier a client may use. */
const MAX_STREAM_ID = 0x7fffffff;

/** The client side of one HTTP/2 connection. */
export class HTTP2Session implements StreamOwner {
  readonly #socket: Socket;
  readonly #reader: FrameReader;
  readonly #decoder: HpackDecoder;
  readonly #encoder = new HpackEncoder();
  readonly #localMax: number;
  readonly #streamWindow: number;
  readonly #connectionWindow: number;
  readonly #controlFrames: RateLimit;
  readonly #emptyFrames: RateLimit;
  readonly #closedStreamFrames: RateLimit;
  readonly #onCapacity: (() => void) | undefined;
  readonly #onClose: ((error: Error | null) => void) | undefined;
  #settingsTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #settingsHook: (() => void) | undefined;
  /** Open streams (HEADERS written, not yet closed both ways nor reset), by id. */
  readonly #streams = new Map<number, HTTP2Stream>();
  /** Streams waiting for a free slot, in order. */
  readonly #queued: HTTP2Stream[] = [];
  /** Streams with request body left to send, in order. */
  readonly #sending: HTTP2Stream[] = [];
  readonly #fields = new Map<HTTP2Stream, string[]>();
  #nextId = 1;
  #started = 0;
  // The peer's settings (RFC 9113 defaults until its SETTINGS arrive).
  #peerSettingsSeen = false;
  #peerMaxStreams = Infinity;
  #peerInitialWindow = DEFAULT_INITIAL_WINDOW_SIZE;
  #peerMaxFrameSize = DEFAULT_MAX_FRAME_SIZE;
  #peerMaxHeaderList = Infinity;
  #sendWindow = DEFAULT_INITIAL_WINDOW_SIZE;
  #receiveWindow: number;
  #uncredited = 0;
  #buffered = 0;
  #settingsAcked = false;
  #goawayLastId = -1;
  #closed = false;
  #waitingDrain = false;
  #flushing = false;
  #flushAgain = false;
  /** `unref()` was called: the socket holds the process only while streams are open. */
  #unrefIdle = false;
  #socketRefed = true;

  /**
   * Starts a session on a connected socket: writes the preface, this end's SETTINGS and
   * the connection window's raise in one write, and reads the socket from now on.
   */
  constructor(socket: Socket, options: HTTP2SessionOptions = {}) {
    this.#socket = socket;
    this.#localMax = options.maxConcurrentStreams ?? 100;
    this.#streamWindow = options.streamWindowSize ?? 1024 * 1024;
    this.#connectionWindow = options.connectionWindowSize ?? 16 * 1024 * 1024;
    this.#controlFrames = new RateLimit(options.maxControlFramesPerSecond ?? 1000);
    this.#emptyFrames = new RateLimit(options.maxEmptyFramesPerSecond ?? 1000);
    this.#closedStreamFrames = new RateLimit(options.maxClosedStreamFramesPerSecond ?? 1000);
    this.#onCapacity = options.onCapacity;
    this.#settingsHook = options.onSettings;
    this.#onClose = options.onClose;
    const maxHeaderList = options.maxHeaderListSize ?? DEFAULT_MAX_HEADER_LIST_SIZE;
    this.#decoder = new HpackDecoder({ maxHeaderListSize: maxHeaderList });
    this.#receiveWindow = this.#connectionWindow;
    this.#reader = new FrameReader({
      onFrame: (frame) => this.#onFrame(frame),
      onStreamError: (error) => this.#streamError(error.streamId, error),
    });
    socket.setHandler({
      onData: (chunk) => this.#onData(chunk),
      onEnd: () => this.#terminate(new ProtocolError("Connection closed by the server"), this.idle),
      onError: (error) => this.#terminate(error),
      onWriteError: (error) => this.#terminate(error),
    });
    const settings = encodeSettings([
      SettingId.HEADER_TABLE_SIZE,
      DEFAULT_HEADER_TABLE_SIZE,
      SettingId.ENABLE_PUSH,
      0,
      SettingId.INITIAL_WINDOW_SIZE,
      this.#streamWindow,
      SettingId.MAX_HEADER_LIST_SIZE,
      maxHeaderList,
    ]);
    const raise = this.#connectionWindow - DEFAULT_INITIAL_WINDOW_SIZE;
    const update = raise > 0 ? encodeWindowUpdate(0, raise) : new Uint8Array(0);
    const start = new Uint8Array(CONNECTION_PREFACE.length + settings.length + update.length);
    start.set(CONNECTION_PREFACE);
    start.set(settings, CONNECTION_PREFACE.length);
    start.set(update, CONNECTION_PREFACE.length + settings.length);
    socket.write(start);
    const timeout = options.settingsTimeout ?? 10_000;
    if (Number.isFinite(timeout)) {
      this.#settingsTimer = setTimeout(() => {
        this.#settingsTimer = undefined;
        this.#connectionError(
          new HTTP2SettingsTimeoutError(`SETTINGS not acknowledged in time: ${timeout} ms`),
        );
      }, timeout);
      unrefTimer(this.#settingsTimer);
    }
  }

  /** How many more requests the session takes now without queueing them. */
  get capacity(): number {
    if (this.#closed || this.#goawayLastId >= 0 || this.#nextId > MAX_STREAM_ID - 2) return 0;
    return Math.max(0, this.#limit() - this.#streams.size - this.#queued.length);
  }

  /**
   * The most streams open at once now (the server's limit and this end's; 1 until the
   * server's SETTINGS arrive), or 0 once the session takes no new stream.
   */
  get streamLimit(): number {
    if (this.#closed || this.#goawayLastId >= 0 || this.#nextId > MAX_STREAM_ID - 2) return 0;
    return this.#limit();
  }

  /** The server's first SETTINGS frame arrived. */
  get peerSettingsSeen(): boolean {
    return this.#peerSettingsSeen;
  }

  /** Streams open on the wire. */
  get openStreams(): number {
    return this.#streams.size;
  }

  /** Body octets received on all streams and not yet read. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** True once the session takes no more streams and its socket is closed or closing. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** True when no stream is open or queued. */
  get idle(): boolean {
    return this.#streams.size === 0 && this.#queued.length === 0;
  }

  /**
   * Lets the process exit while the session is idle: its socket is unref'd now if the
   * session is idle, and again each time it becomes idle; a request refs it until then.
   */
  unref(): void {
    this.#unrefIdle = true;
    this.#updateRef();
  }

  /** Keeps the process alive while the session is open, idle or not (the default). */
  ref(): void {
    this.#unrefIdle = false;
    this.#updateRef();
  }

  #updateRef(): void {
    const refed = !this.#unrefIdle || !this.idle;
    if (refed === this.#socketRefed || this.#closed) return;
    this.#socketRefed = refed;
    if (refed) this.#socket.ref();
    else this.#socket.unref();
  }

  /** The server acknowledged this end's SETTINGS. */
  get settingsAcknowledged(): boolean {
    return this.#settingsAcked;
  }

  /**
   * Sends a request on a new stream, or queues it until a stream is free (the server's
   * MAX_CONCURRENT_STREAMS and this end's limit both hold). `listener` hears of the head or
   * of a failure before it; the body is read from the returned stream.
   */
  request(init: HTTP2RequestInit, listener: HTTP2StreamListener): HTTP2Stream {
    const body = init.body;
    const whole = body === null || body instanceof Uint8Array;
    const stream = new HTTP2Stream(this, listener, whole ? body : null, this.#started > 0);
    if (!whole) {
      const source = body instanceof StreamedBody
        ? body
        : new StreamedBody(() => body[Symbol.asyncIterator](), null, false);
      stream.source = source;
      stream.declaredLength = source.length ?? -1;
    }
    this.#started++;
    if (this.#closed || this.#goawayLastId >= 0) {
      stream.failed(new HTTP2StreamRefusedError("Session no longer takes streams", 0));
      return stream;
    }
    this.#fields.set(stream, requestFields(init));
    this.#queued.push(stream);
    this.#startQueued();
    this.#updateRef();
    return stream;
  }

  /** Ends the session: GOAWAY(NO_ERROR), every stream fails, the socket closes. */
  close(): void {
    if (this.#closed) return;
    this.#socket.write(encodeGoaway(0, ErrorCode.NO_ERROR));
    this.#terminate(new ProtocolError("Session closed"), true);
  }

  // StreamOwner

  /** Credits consumed octets back to the stream and the connection, half a window at a time. */
  consumed(stream: HTTP2Stream, octets: number): void {
    if (!this.#closed && this.#streams.get(stream.id) === stream && !stream.remoteEnded) {
      stream.uncredited += octets;
      if (stream.uncredited >= this.#streamWindow / 2) {
        this.#socket.write(encodeWindowUpdate(stream.id, stream.uncredited));
        stream.receiveWindow += stream.uncredited;
        stream.uncredited = 0;
      }
    }
    this.#credit(octets);
  }

  /** Resets a stream on the reader's behalf. */
  reset(stream: HTTP2Stream, errorCode: number): void {
    if (this.#streams.get(stream.id) !== stream) {
      const at = this.#queued.indexOf(stream);
      if (at < 0) return;
      const before = this.#onCapacity === undefined ? 0 : this.capacity;
      this.#queued.splice(at, 1);
      this.#fields.delete(stream);
      this.#updateRef();
      return this.#grew(before);
    }
    if (!this.#closed) this.#socket.write(encodeRstStream(stream.id, errorCode));
    this.#release(stream);
  }

  // Sending

  #limit(): number {
    // Until the server's SETTINGS arrive one stream goes out (RFC 9113 section 3.4 allows
    // requests before them): a cold burst must not overrun an unknown limit.
    const peer = this.#peerSettingsSeen ? this.#peerMaxStreams : 1;
    return Math.min(peer, this.#localMax);
  }

  #startQueued(): void {
    while (this.#queued.length > 0 && !this.#closed && this.#streams.size < this.#limit()) {
      const stream = this.#queued.shift()!;
      const fields = this.#fields.get(stream)!;
      this.#fields.delete(stream);
      this.#open(stream, fields);
    }
  }

  #open(stream: HTTP2Stream, fields: string[]): void {
    if (this.#nextId > MAX_STREAM_ID) {
      return stream.failed(new HTTP2StreamRefusedError("Stream identifiers are spent", 0));
    }
    let size = 0;
    for (let i = 0; i < fields.length; i += 2) size += fields[i].length + fields[i + 1].length + 32;
    if (size > this.#peerMaxHeaderList) {
      return stream.failed(
        new HTTP2Error(
          `Request header list exceeds the server's limit: ${size}`,
          ErrorCode.REFUSED_STREAM,
        ),
      );
    }
    const source = stream.source;
    if (source !== null) {
      stream.source = null;
      try {
        stream.pieces = source.open();
      } catch (error) {
        return stream.failed(asError(error));
      }
    }
    // Identifiers are allocated as the HEADERS go out: they must rise in wire order.
    stream.id = this.#nextId;
    this.#nextId += 2;
    stream.sendWindow = this.#peerInitialWindow;
    stream.receiveWindow = this.#streamWindow;
    this.#streams.set(stream.id, stream);
    const endStream = stream.body === null && stream.pieces === null;
    stream.localEnded = endStream;
    this.#write(
      encodeHeaders(stream.id, this.#encoder.encode(fields), {
        endStream,
        maxFrameSize: this.#peerMaxFrameSize,
      }),
    );
    if (endStream) stream.requestSent();
    else {
      this.#sending.push(stream);
      this.#flush();
    }
  }

  /**
   * Sends request bodies as far as the windows allow, in stream order: a stream whose own
   * window is shut, or whose streamed body has no piece ready, does not hold back the
   * others. Re-entered (a stream ending opens a queued one), it runs again at the end.
   */
  #flush(): void {
    if (this.#flushing) {
      this.#flushAgain = true;
      return;
    }
    this.#flushing = true;
    try {
      do {
        this.#flushAgain = false;
        const sending = this.#sending;
        for (let i = 0; i < sending.length && !this.#closed && !this.#waitingDrain;) {
          const stream = sending[i];
          this.#sendBody(stream);
          // A stream that ended or failed left the list: the next one is at `i` now.
          if (sending[i] === stream) i++;
        }
      } while (this.#flushAgain && !this.#closed && !this.#waitingDrain);
    } finally {
      this.#flushing = false;
    }
  }

  /** Sends what one stream may send now; asks a streamed body for its next piece. */
  #sendBody(stream: HTTP2Stream): void {
    for (;;) {
      const body = stream.body;
      if (body === null) {
        if (stream.pieces === null) return this.#endBody(stream, EMPTY);
        if (!stream.pulling) this.#pull(stream, stream.pieces);
        return;
      }
      const room = Math.min(this.#sendWindow, stream.sendWindow, this.#peerMaxFrameSize);
      if (room <= 0 || this.#waitingDrain || this.#closed) return;
      const size = Math.min(room, body.length - stream.sendOffset);
      const piece = body.subarray(stream.sendOffset, stream.sendOffset + size);
      stream.sendOffset += size;
      stream.sendWindow -= size;
      this.#sendWindow -= size;
      stream.bodySent += size;
      if (stream.sendOffset === body.length) {
        stream.body = null;
        if (stream.pieces === null) return this.#endBody(stream, piece);
      }
      this.#write(encodeData(stream.id, piece));
    }
  }

  /** The last DATA frame: END_STREAM, and the stream leaves the senders. */
  #endBody(stream: HTTP2Stream, piece: Uint8Array): void {
    stream.localEnded = true;
    const at = this.#sending.indexOf(stream);
    if (at >= 0) this.#sending.splice(at, 1);
    this.#write(encodeData(stream.id, piece, { endStream: true }));
    stream.requestSent();
    if (stream.remoteEnded) this.#release(stream);
  }

  /**
   * Asks a streamed body for its next piece (the one promise of the slow path); the stream
   * sends it when it comes, unless it ended meanwhile.
   */
  #pull(stream: HTTP2Stream, pieces: BodyPieces): void {
    stream.pulling = true;
    let next: Promise<IteratorResult<Uint8Array | string, unknown>>;
    try {
      next = pieces.next();
    } catch (error) {
      return this.#sourceFailed(stream, error);
    }
    next.then((result) => {
      if (stream.pieces !== pieces) return; // The stream ended or failed meanwhile.
      stream.pulling = false;
      const declared = stream.declaredLength;
      if (result.done) {
        stream.pieces = null;
        if (declared >= 0 && stream.bodySent !== declared) {
          return stream.fail(
            new TypeError(
              `Request body ended after ${stream.bodySent} bytes, short of its length: ${declared}`,
            ),
          );
        }
      } else {
        let bytes: Uint8Array;
        try {
          bytes = pieceBytes(result.value);
        } catch (error) {
          return stream.fail(asError(error));
        }
        if (declared >= 0 && stream.bodySent + bytes.length > declared) {
          return stream.fail(new TypeError(`Request body is longer than its length: ${declared}`));
        }
        stream.body = bytes.length > 0 ? bytes : null;
        stream.sendOffset = 0;
      }
      this.#flush();
    }, (error) => {
      if (stream.pieces === pieces) this.#sourceFailed(stream, error);
    });
  }

  /** The body's source threw: it is not asked again, the stream is reset (CANCEL). */
  #sourceFailed(stream: HTTP2Stream, error: unknown): void {
    stream.pieces = null;
    stream.pulling = false;
    stream.fail(asError(error));
  }

  /** The stream sends no more body: it leaves the senders and its source is stopped. */
  #stopBody(stream: HTTP2Stream): void {
    const at = this.#sending.indexOf(stream);
    if (at >= 0) this.#sending.splice(at, 1);
    stream.body = null;
    const pieces = stream.pieces;
    if (pieces === null) return;
    stream.pieces = null;
    stream.pulling = false;
    try {
      Promise.resolve(pieces.return?.()).catch(() => {});
    } catch {
      // A source whose return() throws is stopped as far as it can be.
    }
  }

  #write(bytes: Uint8Array): void {
    if (this.#socket.write(bytes) || this.#waitingDrain) return;
    this.#waitingDrain = true;
    this.#socket.drained().then(() => {
      this.#waitingDrain = false;
      this.#flush();
    }, () => {});
  }

  #credit(octets: number): void {
    this.#buffered -= octets;
    if (this.#closed) return;
    this.#uncredited += octets;
    if (this.#uncredited >= this.#connectionWindow / 2) {
      this.#socket.write(encodeWindowUpdate(0, this.#uncredited));
      this.#receiveWindow += this.#uncredited;
      this.#uncredited = 0;
    }
  }

  // Receiving

  #onData(chunk: Uint8Array): void {
    if (this.#closed) return;
    try {
      this.#reader.push(chunk);
    } catch (error) {
      this.#connectionError(
        error instanceof HTTP2Error
          ? error
          : new HTTP2Error(String(error), ErrorCode.INTERNAL_ERROR),
      );
    }
  }

  #onFrame(frame: Frame): void {
    switch (frame.type) {
      case FrameType.DATA:
        return this.#onDataFrame(frame.streamId, frame.data, frame.flowLength, frame.endStream);
      case FrameType.HEADERS:
        return this.#onHeaders(frame);
      case FrameType.RST_STREAM:
        return this.#onReset(frame.streamId, frame.errorCode);
      case FrameType.SETTINGS:
        if (frame.ack) {
          this.#settingsAcked = true;
          this.#stopSettingsTimer();
          return;
        }
        this.#controlFrames.count("SETTINGS frames");
        return this.#onSettings(frame.settings);
      case FrameType.PUSH_PROMISE:
        throw new HTTP2Error("PUSH_PROMISE while push is disabled", ErrorCode.PROTOCOL_ERROR);
      case FrameType.PING:
        if (frame.ack) return;
        this.#controlFrames.count("PING frames");
        this.#write(encodePing(frame.data, true));
        return;
      case FrameType.GOAWAY:
        return this.#onGoaway(frame.lastStreamId, frame.errorCode);
      case FrameType.WINDOW_UPDATE:
        return this.#onWindowUpdate(frame.streamId, frame.increment);
    }
  }

  #stopSettingsTimer(): void {
    if (this.#settingsTimer !== undefined) clearTimeout(this.#settingsTimer);
    this.#settingsTimer = undefined;
  }

  #onSettings(settings: readonly number[]): void {
    const before = this.#onCapacity === undefined ? 0 : this.capacity;
    for (let i = 0; i < settings.length; i += 2) {
      const value = settings[i + 1];
      switch (settings[i]) {
        case SettingId.HEADER_TABLE_SIZE:
          this.#encoder.setMaxTableSize(value);
          break;
        case SettingId.ENABLE_PUSH:
          if (value !== 0) {
            throw new HTTP2Error(
              `Invalid SETTINGS_ENABLE_PUSH from a server: ${value}`,
              ErrorCode.PROTOCOL_ERROR,
            );
          }
          break;
        case SettingId.MAX_CONCURRENT_STREAMS:
          this.#peerMaxStreams = value;
          break;
        case SettingId.INITIAL_WINDOW_SIZE:
          this.#initialWindow(value);
          break;
        case SettingId.MAX_FRAME_SIZE:
          this.#peerMaxFrameSize = value;
          break;
        case SettingId.MAX_HEADER_LIST_SIZE:
          this.#peerMaxHeaderList = value;
          break;
      }
    }
    this.#peerSettingsSeen = true;
    this.#write(encodeSettingsAck());
    this.#startQueued();
    this.#flush();
    this.#grew(before);
    this.#settingsHook?.();
  }

  /** A new INITIAL_WINDOW_SIZE moves every open stream's send window by the difference. */
  #initialWindow(value: number): void {
    const delta = value - this.#peerInitialWindow;
    this.#peerInitialWindow = value;
    for (const stream of this.#streams.values()) {
      stream.sendWindow += delta;
      if (stream.sendWindow > MAX_WINDOW_SIZE) {
        throw new HTTP2Error(
          `Stream window over the maximum: ${stream.sendWindow}`,
          ErrorCode.FLOW_CONTROL_ERROR,
        );
      }
    }
  }

  #onWindowUpdate(streamId: number, increment: number): void {
    if (streamId === 0) {
      this.#sendWindow += increment;
      if (this.#sendWindow > MAX_WINDOW_SIZE) {
        throw new HTTP2Error(
          `Connection window over the maximum: ${this.#sendWindow}`,
          ErrorCode.FLOW_CONTROL_ERROR,
        );
      }
    } else {
      const stream = this.#streams.get(streamId);
      if (!stream) return this.#closedStreamFrames.count("frames on closed streams");
      stream.sendWindow += increment;
      if (stream.sendWindow > MAX_WINDOW_SIZE) {
        return this.#streamError(
          streamId,
          new HTTP2Error(
            `Stream window over the maximum: ${stream.sendWindow}`,
            ErrorCode.FLOW_CONTROL_ERROR,
            streamId,
          ),
        );
      }
    }
    this.#flush();
  }

  #onDataFrame(streamId: number, data: Uint8Array, flowLength: number, endStream: boolean) {
    const empty = data.length === 0;
    if (empty && !endStream) this.#emptyFrames.count("empty DATA frames");
    this.#receiveWindow -= flowLength;
    if (this.#receiveWindow < 0) {
      throw new HTTP2Error("DATA beyond the connection window", ErrorCode.FLOW_CONTROL_ERROR);
    }
    this.#buffered += flowLength;
    const stream = this.#streams.get(streamId);
    if (!stream || stream.remoteEnded) {
      this.#checkKnown(streamId);
      if (empty && endStream) this.#closedStreamFrames.count("frames on closed streams");
      // A stream already reset or ended: nobody will read these octets.
      this.#credit(flowLength);
      return;
    }
    // Padding is never read: it is credited back at once.
    if (flowLength > data.length) this.consumed(stream, flowLength - data.length);
    stream.receiveWindow -= flowLength;
    if (stream.receiveWindow < 0) {
      this.#credit(data.length);
      return this.#streamError(
        streamId,
        new HTTP2Error("DATA beyond the stream window", ErrorCode.FLOW_CONTROL_ERROR, streamId),
      );
    }
    if (stream.head === null) {
      this.#credit(data.length);
      return this.#malformed(stream, "DATA before the response head");
    }
    stream.received += data.length;
    stream.data(data);
    if (endStream) this.#remoteEnd(stream);
  }

  #onHeaders(frame: HeadersFrame): void {
    // The block is decoded whatever the stream's state: the decoder's table depends on it.
    const fields = this.#decoder.decode(frame.block);
    const stream = this.#streams.get(frame.streamId);
    if (!stream || stream.remoteEnded) return this.#closedStreamFrame(frame.streamId);
    if (stream.head !== null) {
      if (!frame.endStream) {
        return this.#malformed(stream, "Header block after the head without END_STREAM");
      }
      for (let i = 0; i < fields.length; i += 2) {
        if (fields[i].charCodeAt(0) === 0x3a) {
          return this.#malformed(stream, `Pseudo-header in trailers: ${fields[i]}`);
        }
      }
      stream.trailers = fields;
      return this.#remoteEnd(stream);
    }
    const problem = checkResponseFields(fields);
    if (typeof problem === "string") return this.#malformed(stream, problem);
    const status = problem;
    if (status < 200) {
      if (frame.endStream) {
        return this.#malformed(stream, `END_STREAM on an informational head: ${status}`);
      }
      return;
    }
    const rawHeaders = fields.slice(2);
    for (let i = 0; i < rawHeaders.length; i += 2) {
      if (rawHeaders[i] === "content-length") stream.expectedLength = Number(rawHeaders[i + 1]);
    }
    stream.responded({ status, reason: "", version: 20, rawHeaders });
    if (frame.endStream && this.#streams.get(stream.id) === stream) this.#remoteEnd(stream);
  }

  /** A frame on a stream this end never opened is a connection error. */
  #checkKnown(streamId: number): void {
    if (streamId >= this.#nextId || streamId % 2 === 0) {
      throw new HTTP2Error(`Frame on a stream never opened: ${streamId}`, ErrorCode.PROTOCOL_ERROR);
    }
  }

  /** A frame on a stream that is no longer open: counted, as a flood costs work. */
  #closedStreamFrame(streamId: number): void {
    this.#checkKnown(streamId);
    this.#closedStreamFrames.count("frames on closed streams");
  }

  /**
   * The response ended. A request body still going out is of no more use (an early 413,
   * say): it stops, and the stream is reset with CANCEL, unless the server's own
   * RST_STREAM ended it (`byReset`: a reset is never answered with one).
   */
  #remoteEnd(stream: HTTP2Stream, byReset = false): void {
    stream.remoteEnded = true;
    const length = stream.expectedLength;
    if (length >= 0 && length !== stream.received && stream.head!.status !== 304) {
      return this.#malformed(
        stream,
        `Body length does not match content-length: ${stream.received} of ${length}`,
      );
    }
    stream.ended();
    if (!stream.localEnded && !byReset && !this.#closed) {
      this.#write(encodeRstStream(stream.id, ErrorCode.CANCEL));
    }
    this.#release(stream);
  }

  #onReset(streamId: number, errorCode: number): void {
    const stream = this.#streams.get(streamId);
    if (!stream) return this.#closedStreamFrame(streamId);
    if (errorCode === ErrorCode.NO_ERROR && stream.head !== null) {
      // After a whole response NO_ERROR only stops the rest of the request body. Without
      // END_STREAM it is taken as the end too, as curl does: `node:http2` ends a response
      // so when its closing empty DATA frame waits for window (`content-length`, when
      // present, still has to match).
      if (!stream.remoteEnded) this.#remoteEnd(stream, true);
      return this.#release(stream);
    }
    this.#release(stream);
    const error = errorCode === ErrorCode.REFUSED_STREAM
      ? new HTTP2StreamRefusedError(`Stream refused by the server: ${streamId}`, streamId)
      : new HTTP2StreamResetError(`Stream reset by the server: ${streamId}`, errorCode, streamId);
    stream.failed(error);
  }

  #onGoaway(lastStreamId: number, errorCode: number): void {
    if (this.#goawayLastId < 0 || lastStreamId < this.#goawayLastId) {
      this.#goawayLastId = lastStreamId;
    }
    const refused = [...this.#queued];
    this.#queued.length = 0;
    for (const stream of this.#streams.values()) {
      if (stream.id > lastStreamId) refused.push(stream);
    }
    for (const stream of refused) {
      this.#streams.delete(stream.id);
      this.#stopBody(stream);
      stream.failed(
        new HTTP2StreamRefusedError(
          `Stream not processed before GOAWAY (${
            errorCodeName(errorCode)
          }): last stream ${lastStreamId}`,
          stream.id,
        ),
      );
    }
    this.#updateRef();
    if (this.#streams.size === 0) this.#shutdown();
  }

  /** Stream errors: RST_STREAM to the server, the error to the stream. */
  #streamError(streamId: number, error: HTTP2Error): void {
    const stream = this.#streams.get(streamId);
    this.#write(encodeRstStream(streamId, error.errorCode));
    if (!stream) return;
    this.#release(stream);
    stream.failed(error);
  }

  #malformed(stream: HTTP2Stream, message: string): void {
    this.#streamError(
      stream.id,
      new HTTP2MalformedResponseError(message, ErrorCode.PROTOCOL_ERROR, stream.id),
    );
  }

  /** A stream leaves the open set: its slot goes to a queued request. */
  #release(stream: HTTP2Stream): void {
    if (this.#streams.get(stream.id) !== stream) return;
    const before = this.#onCapacity === undefined ? 0 : this.capacity;
    this.#streams.delete(stream.id);
    stream.remoteEnded = true;
    if (!stream.localEnded) this.#stopBody(stream);
    if (this.#goawayLastId >= 0) {
      if (this.#streams.size === 0) this.#shutdown();
      return;
    }
    this.#startQueued();
    this.#updateRef();
    this.#grew(before);
  }

  /** Tells the owner when `capacity` went up from `before`. */
  #grew(before: number): void {
    if (this.#onCapacity !== undefined && this.capacity > before) this.#onCapacity();
  }

  #connectionError(error: HTTP2Error): void {
    if (this.#closed) return;
    this.#socket.write(encodeGoaway(0, error.errorCode));
    this.#terminate(error);
  }

  /** After GOAWAY with no stream left: the session closes quietly. */
  #shutdown(): void {
    if (this.#closed) return;
    this.#socket.write(encodeGoaway(0, ErrorCode.NO_ERROR));
    this.#terminate(new ProtocolError("Session closed after GOAWAY"), true);
  }

  /**
   * Fails every stream with `error`, stops their bodies' sources and closes the socket;
   * `orderly` (or no stream to fail on the server's close) tells the owner of no error.
   */
  #terminate(error: Error, orderly = false): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopSettingsTimer();
    const streams = [...this.#queued, ...this.#streams.values()];
    this.#queued.length = 0;
    this.#streams.clear();
    this.#fields.clear();
    for (const stream of streams) this.#stopBody(stream);
    this.#sending.length = 0;
    for (const stream of streams) stream.failed(error);
    this.#socket.close();
    this.#onClose?.(orderly ? null : error);
  }
}

/**
 * The field list of a request as sent: pseudo-headers first, then lowercase regular
 * fields without the connection-specific ones.
 */
export function requestFields(init: HTTP2RequestInit): string[] {
  const fields = [
    ":method",
    init.method,
    ":scheme",
    init.scheme,
    ":authority",
    init.authority,
    ":path",
    init.path,
  ];
  const headers = init.headers;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i].toLowerCase();
    if (CONNECTION_FIELDS.has(name)) continue;
    if (name === "te" && headers[i + 1].toLowerCase() !== "trailers") continue;
    fields.push(name, headers[i + 1]);
  }
  return fields;
}

/**
 * Checks a response head's fields (RFC 9113 section 8.3.2): `:status` first, once, and no
 * other pseudo-header; no uppercase names; no connection-specific fields. Returns the
 * status, or what is wrong.
 */
function checkResponseFields(fields: readonly string[]): number | string {
  if (fields[0] !== ":status") return "Missing or misplaced :status";
  const status = fields[1];
  if (!/^[1-9][0-9]{2}$/.test(status)) return `Invalid :status: "${status}"`;
  for (let i = 2; i < fields.length; i += 2) {
    const name = fields[i];
    if (name.charCodeAt(0) === 0x3a) return `Unexpected pseudo-header: ${name}`;
    if (name !== name.toLowerCase()) return `Uppercase header name: ${name}`;
    if (CONNECTION_FIELDS.has(name) && name !== "host") {
      return `Connection-specific header: ${name}`;
    }
    if (name === "te" && fields[i + 1] !== "trailers") return `Invalid te: "${fields[i + 1]}"`;
  }
  return Number(status);
}

/** What a source threw, as an `Error`. */
function asError(error: unknown): Error {
  return error instanceof Error ? error : new TypeError(String(error));
}
