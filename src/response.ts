/**
 * `HTTPResponse`: status, headers and body of one response, preloaded or streamed.
 *
 * @module
 */

import { concatBytes } from "./_bytes.ts";
import { HTTPHeaderDict } from "./headers.ts";
import type { PoolConnection } from "./pool/pool_connection.ts";
import type { BodySource } from "./body/_body_source.ts";
import type { ChunkIterator } from "./body/content_decoder.ts";
import { REDIRECT_STATUSES } from "./policy/redirect.ts";
import type { Retry } from "./policy/retry.ts";

const EMPTY = new Uint8Array(0);
const DEFAULT_STREAM_AMOUNT = 64 * 1024;
const utf8 = new TextDecoder();

/**
 * A pool's hold on the connection of a response that has not given it back yet (internal):
 * a streamed response holds it until its body is read to the end, released, drained or
 * closed; a preloaded one made with `releaseConn: false`, until released.
 */
export interface ConnectionHold {
  /** The connection, or null once it went back to its pool (or was closed). */
  readonly heldConnection: PoolConnection | null;
  /** Why the pool took the connection back early (it closed), or null. */
  readonly error: Error | null;
  /**
   * The response is done with its connection: back to its pool, or closed when `close` is
   * true. A body still arriving is cancelled: such a connection is never reused.
   */
  release(close: boolean): void;
}

/**
 * How long one attempt spent in each phase, in milliseconds (from `performance.now()`), as
 * `response.timings` shows it with the `timings: true` option. The phases follow each
 * other: `queue`, then `dns`, `connect` and `tls` (all 0 on a reused connection), `send`,
 * `firstByte` and `download`; `total` runs from the start to the end of the body, so it
 * also holds the short gaps between phases. After retries or redirects, they are those of
 * the last attempt.
 *
 * What a runtime reports of a new connection's set-up: Node (`node:net`/`node:tls`) each of
 * `dns` (for a host name), `connect` and `tls`; Bun `dns` (the adapter resolves names
 * itself), `connect` and `tls`; Deno `connect` (the lookup included: `Deno.connect`
 * resolves the name itself) and `tls`. A phase a runtime (or a custom connector) does not
 * report is 0 and its time counts in the next phase it reports, else in `connect`.
 *
 * @example Read the phases of a request
 * ```ts
 * import { PoolManager } from "@pooled/http";
 * await using server = Deno.serve({ port: 0, onListen() {} }, () => new Response("hi"));
 * await using manager = new PoolManager({ timings: true });
 * const url = `http://127.0.0.1:${server.addr.port}/`;
 * const first = await manager.request("GET", url);
 * const again = await manager.request("GET", url);
 * console.log(first.reused, first.timings!.connect >= 0); // false true
 * console.log(again.reused, again.timings!.connect); // true 0
 * console.log(JSON.stringify(again.timings)); // {"queue":0.01,"dns":0,"connect":0,...}
 * ```
 */
export interface ResponseTimings {
  /** Waiting for a connection: from handing the attempt to its pool until one is taken. */
  readonly queue: number;
  /** Resolving the host name (0 when the runtime does not report it, or for an IP). */
  readonly dns: number;
  /** Opening the TCP connection (from the resolved name, when `dns` is reported). */
  readonly connect: number;
  /** The TLS handshake and certificate check (0 for plain HTTP). */
  readonly tls: number;
  /** Writing the request: from its first byte to its last handed to the socket. */
  readonly send: number;
  /** Waiting for the answer: from the request sent to the first byte of the response. */
  readonly firstByte: number;
  /**
   * Receiving: from the first byte of the response to the last byte of its body; null while
   * a streamed body is still arriving.
   */
  readonly download: number | null;
  /** From handing the attempt to its pool to the last byte of the body; null until then. */
  readonly total: number | null;
}

/** What a response is built from (internal). */
export interface ResponseInit {
  /** Status code. */
  readonly status: number;
  /** Reason phrase. */
  readonly reason: string;
  /** 20, 11 or 10. */
  readonly version: 10 | 11 | 20;
  /**
   * Response headers, or a parsed head whose `rawHeaders` (flat pairs) become them on
   * first use.
   */
  readonly headers: HTTPHeaderDict | { readonly rawHeaders: string[] };
  /** The URL asked for (or the last redirect location). */
  readonly url: string;
  /** The whole body when preloaded; null when it streams from `source`. */
  readonly data: Uint8Array | null;
  /** Where the body streams from, when not preloaded. */
  readonly source?: BodySource | null;
  /** The body decoded from `source`, when it has a `Content-Encoding` to undo. */
  readonly decoded?: ChunkIterator | null;
  /** The pool's hold on the connection, while the response keeps it. */
  readonly hold?: ConnectionHold | null;
  /** The connection had carried a request before this one. */
  readonly reused?: boolean;
  /** The phases of the attempt, when collected. */
  readonly timings?: ResponseTimings | null;
}

/**
 * One HTTP response. With the default `preloadContent: true` the body is already in
 * `data`; with `preloadContent: false` it is read with `read()`, `stream()`, `body`,
 * `bytes()`, `text()` or `json()`, and the connection goes back to its pool once the body
 * has been read to its end (or on `releaseConn()`, `drainConn()` or `close()`).
 *
 * @example Read a preloaded response
 * ```ts ignore
 * import { PoolManager } from "@pooled/http";
 * await using manager = new PoolManager();
 * const r = await manager.request("GET", "http://127.0.0.1:8080/");
 * console.log(r.status, r.headers.get("content-type"), r.text());
 * ```
 */
export class HTTPResponse {
  /** Status code. */
  readonly status: number;
  /** Reason phrase as sent by the server. */
  readonly reason: string;
  /** HTTP version: 20 (HTTP/2), 11 or 10. */
  readonly version: 10 | 11 | 20;
  /** The request URL, or after redirects the last `Location` followed. */
  url: string;
  /** The retry state that produced this response, with its `history`. */
  retries: Retry | null = null;
  /**
   * True when the connection had carried a request before this one (kept alive); false for a
   * new connection, and for a response a `beforeRequest` hook made.
   */
  readonly reused: boolean;
  /**
   * How long each phase of the request took (see {@linkcode ResponseTimings}), or null unless
   * the `timings: true` option (manager, pool or request) asked for them.
   */
  readonly timings: ResponseTimings | null;
  #headers: HTTPHeaderDict | { readonly rawHeaders: string[] };
  #data: Uint8Array | null;
  #source: BodySource | null;
  #decoded: ChunkIterator | null;
  #hold: ConnectionHold | null;
  // Decoding began: draining must go on through the decoder, the reader of the source.
  #decoding = false;
  #leftover: Uint8Array = EMPTY;
  #ended: boolean;
  #bodyStream: ReadableStream<Uint8Array> | null = null;

  /** Built by the pool; not meant to be called directly. */
  constructor(init: ResponseInit) {
    this.status = init.status;
    this.reason = init.reason;
    this.version = init.version;
    this.#headers = init.headers;
    this.url = init.url;
    this.#data = init.data;
    this.#source = init.source ?? null;
    this.#decoded = init.decoded ?? null;
    this.#hold = init.hold ?? null;
    this.reused = init.reused ?? false;
    this.timings = init.timings ?? null;
    // A preloaded body is served to read() and stream() from memory.
    this.#ended = init.data !== null;
    if (init.data !== null) this.#leftover = init.data;
  }

  /** Response headers, in the server's order and case. */
  get headers(): HTTPHeaderDict {
    const headers = this.#headers;
    if (headers instanceof HTTPHeaderDict) return headers;
    // Split from the head only now: many responses are read by status and body alone.
    return this.#headers = HTTPHeaderDict.fromRawPairs(headers.rawHeaders);
  }

  /** The connection this response holds, or null once it went back to its pool. */
  get connection(): PoolConnection | null {
    return this.#hold?.heldConnection ?? null;
  }

  /** `"HTTP/2"`, `"HTTP/1.1"` or `"HTTP/1.0"`. */
  get versionString(): string {
    return this.version === 11 ? "HTTP/1.1" : this.version === 20 ? "HTTP/2" : "HTTP/1.0";
  }

  /** Trailer fields of a chunked body, once it has been read to its end. */
  get trailers(): HTTPHeaderDict {
    const raw = this.#source?.trailers;
    return raw ? HTTPHeaderDict.fromRawPairs(raw) : new HTTPHeaderDict();
  }

  /**
   * The whole body. Available when the body was preloaded (the default) or after
   * `bytes()`; otherwise it throws and says to use `read()`.
   */
  get data(): Uint8Array {
    if (this.#data !== null) return this.#data;
    throw new TypeError(
      "HTTPResponse.data is not available with preloadContent: false: use await response.read() (or bytes(), text(), stream(), body)",
    );
  }

  /** The whole body as bytes (reads what is left when streaming). */
  async bytes(): Promise<Uint8Array> {
    if (this.#data === null) this.#data = await this.read();
    return this.#data;
  }

  /** The body decoded as UTF-8. */
  async text(): Promise<string> {
    return utf8.decode(await this.bytes());
  }

  /** The body parsed as JSON. */
  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  /** The redirect target for a 3xx with `Location`, null if it has none, false if not a redirect. */
  getRedirectLocation(): string | null | false {
    if (!REDIRECT_STATUSES.has(this.status)) return false;
    return this.headers.get("location") ?? null;
  }

  async #nextPiece(): Promise<Uint8Array | null> {
    if (this.#leftover.length > 0) {
      const piece = this.#leftover;
      this.#leftover = EMPTY;
      return piece;
    }
    if (this.#ended || this.#source === null) return null;
    // The pool closed and took the connection: the rest of the body is gone with it.
    const closedBy = this.#hold?.error;
    if (closedBy) throw closedBy;
    let piece: Uint8Array | null;
    if (this.#decoded === null) piece = await this.#source.next();
    else {
      this.#decoding = true;
      piece = (await this.#decoded.next()).value ?? null;
    }
    if (piece === null) {
      this.#ended = true;
      this.#hold?.release(false);
    }
    return piece;
  }

  /**
   * Reads up to `amt` bytes (exactly `amt` unless the body ends first); without `amt`,
   * everything that is left. Returns an empty array at the end.
   */
  async read(amt?: number): Promise<Uint8Array> {
    if (amt !== undefined && (!Number.isInteger(amt) || amt < 0)) {
      throw new RangeError(`read(amt): amt must be a non-negative integer: ${amt}`);
    }
    const limit = amt ?? Infinity;
    const pieces: Uint8Array[] = [];
    let size = 0;
    while (size < limit) {
      const piece = await this.#nextPiece();
      if (piece === null) break;
      const take = Math.min(piece.length, limit - size);
      if (take < piece.length) this.#leftover = piece.subarray(take);
      pieces.push(take === piece.length ? piece : piece.subarray(0, take));
      size += take;
    }
    return concatBytes(pieces);
  }

  /** Yields the body in pieces of `amt` bytes (the last may be shorter); never an empty one. */
  async *stream(amt: number = DEFAULT_STREAM_AMOUNT): AsyncGenerator<Uint8Array> {
    if (amt === 0) return;
    for (;;) {
      const piece = await this.read(amt);
      if (piece.length === 0) return;
      yield piece;
    }
  }

  /** The body as a `ReadableStream` that reads from the socket only as it is consumed. */
  get body(): ReadableStream<Uint8Array> {
    this.#bodyStream ??= new ReadableStream<Uint8Array>({
      // Hand on each piece as it arrives instead of waiting to fill a fixed size.
      pull: async (controller) => {
        const piece = await this.#nextPiece();
        if (piece === null) controller.close();
        else controller.enqueue(piece);
      },
      cancel: () => this.close(),
    }, { highWaterMark: 0 });
    return this.#bodyStream;
  }

  /**
   * Gives the connection back to its pool. The connection of a streamed body not read to
   * its end is closed instead, as in urllib3, whatever has arrived meanwhile (`drainConn()`
   * reads the rest and keeps it).
   */
  releaseConn(): void {
    this.#hold?.release(!this.#ended);
  }

  /**
   * Reads and discards the rest of the body, so the connection goes back to its pool. A
   * body whose decoding has not begun is discarded as it came, without decoding it.
   */
  async drainConn(): Promise<void> {
    const source = this.#source;
    try {
      if (source !== null && this.#decoded !== null && !this.#decoding && !this.#ended) {
        while ((await source.next()) !== null);
        // The source waits for its decoder, which never ran: the body was read whole.
        source.decodingEnded(true);
      } else {
        while ((await this.#nextPiece()) !== null);
      }
    } catch {
      // A broken body has already closed its connection; nothing is left to drain.
    }
    this.#leftover = EMPTY;
    this.#ended = true;
    this.#hold?.release(false);
  }

  /**
   * Closes the connection this response holds (see `connection`), even when the whole body
   * has arrived, and drops what was buffered.
   */
  close(): void {
    this.#hold?.release(true);
    void this.#decoded?.return?.();
    this.#leftover = EMPTY;
    this.#ended = true;
  }
}
