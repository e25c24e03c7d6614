/**
 * The HTTP/2 error codes (RFC 9113 section 7), carried by RST_STREAM and GOAWAY frames
 * and by every {@linkcode HTTP2Error}.
 *
 * @module
 */

/** The error codes RFC 9113 section 7 defines, by name. */
export const ErrorCode = {
  /** Graceful shutdown, or no error at all. */
  NO_ERROR: 0x0,
  /** An unspecific protocol error. */
  PROTOCOL_ERROR: 0x1,
  /** The peer met an unexpected internal error. */
  INTERNAL_ERROR: 0x2,
  /** The flow-control protocol was broken. */
  FLOW_CONTROL_ERROR: 0x3,
  /** A SETTINGS frame was not acknowledged in time. */
  SETTINGS_TIMEOUT: 0x4,
  /** A frame arrived after the stream was half-closed. */
  STREAM_CLOSED: 0x5,
  /** A frame had an invalid size. */
  FRAME_SIZE_ERROR: 0x6,
  /** The stream was refused before any application processing. */
  REFUSED_STREAM: 0x7,
  /** The stream is no longer needed. */
  CANCEL: 0x8,
  /** The field section compression context could not be maintained. */
  COMPRESSION_ERROR: 0x9,
  /** The connection of a CONNECT request was reset or closed. */
  CONNECT_ERROR: 0xa,
  /** The peer behaves in a way that might be generating excessive load. */
  ENHANCE_YOUR_CALM: 0xb,
  /** The transport does not meet minimum security requirements. */
  INADEQUATE_SECURITY: 0xc,
  /** The endpoint requires HTTP/1.1 instead of HTTP/2. */
  HTTP_1_1_REQUIRED: 0xd,
} as const;

/** One of the {@linkcode ErrorCode} values, or any other number a peer sent. */
export type ErrorCodeValue = number;

const NAMES: readonly string[] = Object.keys(ErrorCode);

/** The name of an error code (`"REFUSED_STREAM"`), or its hex form when unknown (`"0x1f"`). */
export function errorCodeName(code: number): string {
  return NAMES[code] ?? `0x${code.toString(16)}`;
}
