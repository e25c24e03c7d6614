/**
 * What a response reads its body from, whatever the protocol: an HTTP/1.1 exchange or an
 * HTTP/2 stream.
 *
 * @module
 */

import type { EncodedSource } from "./content_decoder.ts";

/** A response head as a protocol engine hands it over. */
export interface ResponseHeadInfo {
  /** Status code. */
  readonly status: number;
  /** Reason phrase. */
  readonly reason: string;
  /** 20 (HTTP/2), 11 or 10. */
  readonly version: 10 | 11 | 20;
  /** Header lines as flat pairs: name, value, name, value... */
  readonly rawHeaders: string[];
}

/**
 * The receiving side of one request: its head, then its body whole (collected) or piece
 * by piece, with what the response and its hold on the connection need to end it.
 */
export interface BodySource extends EncodedSource {
  /** The response head, once it arrived. */
  readonly head: ResponseHeadInfo | null;
  /** The content codings the reader must undo, or null when the body is used as sent. */
  readonly codings: string[] | null;
  /** True when the whole body was collected for `takeBody`. */
  readonly collected: boolean;
  /** True once the whole body has arrived (or the exchange failed). */
  readonly finished: boolean;
  /** The connection had carried a request before this one. */
  readonly reused: boolean;
  /** Trailer lines (flat pairs), once the body ended with some. */
  readonly trailers: string[] | null;
  /** The collected body (call once the source is ready, when `collected`). */
  takeBody(): Uint8Array;
  /**
   * The reader gave up on the body: end the exchange (HTTP/1.1 closes the connection,
   * HTTP/2 resets the stream).
   */
  cancel(): void;
}
