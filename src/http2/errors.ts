/**
 * The HTTP/2 errors. Each is a {@linkcode ProtocolError} with a stable `code` for callers
 * and the RFC 9113 `errorCode` an engine sends in the GOAWAY (or RST_STREAM) it answers
 * with.
 *
 * @module
 */

import { ProtocolError } from "../errors.ts";
import { ErrorCode, errorCodeName } from "./error_codes.ts";

/**
 * Base class of the HTTP/2 errors: the peer broke RFC 9113 or RFC 7541. A `streamId` of
 * 0 is a connection error (the session ends with GOAWAY); any other is a stream error
 * (that stream is reset, the connection lives on).
 *
 * @example Name the RFC 9113 code of an HTTP/2 failure
 * ```ts
 * import { HTTP2Error } from "@pooled/http";
 * const e = new HTTP2Error("Bad frame", 0x1, 3);
 * console.log(e.errorName, e.streamId); // PROTOCOL_ERROR 3
 * ```
 */
export class HTTP2Error extends ProtocolError {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_HTTP2";
  /** The RFC 9113 section 7 error code to send to the peer. */
  readonly errorCode: number;
  /** The stream the error is confined to, or 0 for the whole connection. */
  readonly streamId: number;
  /**
   * Creates an instance.
   *
   * @param message What failed.
   * @param errorCode The RFC 9113 error code, for example `ErrorCode.PROTOCOL_ERROR`.
   * @param streamId The stream the error is confined to, 0 for a connection error.
   * @param options `cause`.
   */
  constructor(message: string, errorCode: number, streamId = 0, options?: ErrorOptions) {
    super(message, options);
    this.errorCode = errorCode;
    this.streamId = streamId;
  }

  /** The name of {@linkcode HTTP2Error.errorCode}, for example `"PROTOCOL_ERROR"`. */
  get errorName(): string {
    return errorCodeName(this.errorCode);
  }
}

/**
 * A frame broke the framing rules of RFC 9113 (sections 4 and 6): a bad size, a stream
 * identifier where none may be, padding past the payload, a broken header block sequence.
 */
export class HTTP2FrameError extends HTTP2Error {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_HTTP2_FRAME";
}

/**
 * A header block could not be decoded (RFC 7541): a bad index, a truncated or overlong
 * integer or string, bad Huffman code, a table size above the allowed maximum. Always a
 * connection error of type `COMPRESSION_ERROR`, as the decoder's table is then unusable.
 */
export class HTTP2CompressionError extends HTTP2Error {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_HTTP2_COMPRESSION";
  /**
   * Creates an instance.
   *
   * @param message What failed.
   * @param options `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, ErrorCode.COMPRESSION_ERROR, 0, options);
  }
}

/**
 * A header list (decoded: each field's name and value octets plus 32, as RFC 9113 section
 * 6.5.2 counts) or a header block (its encoded fragments) went past the limit. Decoding
 * stops there, which leaves the compression context unusable: a connection error.
 */
export class HTTP2HeaderListTooLargeError extends HTTP2Error {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_HTTP2_HEADER_LIST_TOO_LARGE";
  /**
   * Creates an instance.
   *
   * @param message What failed.
   * @param errorCode `COMPRESSION_ERROR` when decoding stopped in a block,
   *   `ENHANCE_YOUR_CALM` when the block's fragments were refused before decoding.
   */
  constructor(message: string, errorCode: number = ErrorCode.COMPRESSION_ERROR) {
    super(message, errorCode);
  }
}

/**
 * The server did not process the request: it reset the stream with `REFUSED_STREAM`, or
 * its GOAWAY's last stream identifier is below the stream's (or the stream never started
 * before the GOAWAY). Nothing of the request was acted on, so it is safe to send again on
 * another connection, whatever its method: the pools do so once, without counting a retry.
 *
 * @example
 * ```ts
 * import { HTTP2StreamRefusedError } from "@pooled/http";
 * const e = new HTTP2StreamRefusedError("Stream refused by the server: 5", 5);
 * console.log(e.unprocessed, e.code); // true ERR_HTTP2_REFUSED_STREAM
 * ```
 */
export class HTTP2StreamRefusedError extends HTTP2Error {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_HTTP2_REFUSED_STREAM";
  /** Always true: the server did not act on the request. */
  readonly unprocessed = true;
  /**
   * Creates an instance.
   *
   * @param message What happened.
   * @param streamId The refused stream (0 when it never got one).
   */
  constructor(message: string, streamId: number) {
    super(message, ErrorCode.REFUSED_STREAM, streamId);
  }
}

/**
 * The server reset a stream (RST_STREAM) with a code other than `REFUSED_STREAM`: a read
 * error, retried as the `Retry` policy says.
 *
 * @example
 * ```ts
 * import { HTTP2StreamResetError } from "@pooled/http";
 * const e = new HTTP2StreamResetError("Stream reset by the server: 1", 0x2, 1);
 * console.log(e.errorName); // INTERNAL_ERROR
 * ```
 */
export class HTTP2StreamResetError extends HTTP2Error {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_HTTP2_STREAM_RESET";
}

/**
 * A response's header block was malformed (RFC 9113 section 8.3): a missing, repeated,
 * misplaced or unknown pseudo-header, an uppercase name, a connection-specific field, or
 * a `content-length` the DATA did not match. A stream error of type `PROTOCOL_ERROR`.
 */
export class HTTP2MalformedResponseError extends HTTP2Error {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_HTTP2_MALFORMED_RESPONSE";
}

/**
 * The server sent frames that cost work and carry nothing (SETTINGS, PING, empty DATA,
 * frames on closed streams) faster than the session's limit: a connection error of type
 * `ENHANCE_YOUR_CALM`.
 */
export class HTTP2FloodError extends HTTP2Error {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_HTTP2_FLOOD";
  /**
   * Creates an instance.
   *
   * @param message What flooded.
   */
  constructor(message: string) {
    super(message, ErrorCode.ENHANCE_YOUR_CALM);
  }
}

/**
 * The server did not acknowledge this end's SETTINGS in time (RFC 9113 section 6.5.3): a
 * connection error of type `SETTINGS_TIMEOUT`.
 */
export class HTTP2SettingsTimeoutError extends HTTP2Error {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_HTTP2_SETTINGS_TIMEOUT";
  /**
   * Creates an instance.
   *
   * @param message What timed out.
   */
  constructor(message: string) {
    super(message, ErrorCode.SETTINGS_TIMEOUT);
  }
}
