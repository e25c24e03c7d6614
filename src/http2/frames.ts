/**
 * HTTP/2 frames (RFC 9113 sections 4 and 6): the constants, the frame types as the
 * {@linkcode FrameReader} hands them over, and the writers. Each writer returns one
 * `Uint8Array` holding the whole frame (a HEADERS frame with its CONTINUATION frames),
 * ready for one socket write; {@linkcode writeFrameHeader} writes a frame header into a
 * caller's buffer, for a DATA payload sent without a copy.
 *
 * @module
 */

export { ErrorCode, errorCodeName } from "./error_codes.ts";

/** The client connection preface (RFC 9113 section 3.4), sent before the first SETTINGS. */
export const CONNECTION_PREFACE: Uint8Array = new TextEncoder().encode(
  "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
);

/** The length of a frame header. */
export const FRAME_HEADER_LENGTH = 9;

/** The frame types of RFC 9113 section 6. */
export const FrameType = {
  /** Stream payload. */
  DATA: 0x0,
  /** Opens a stream and carries a header block (fragment). */
  HEADERS: 0x1,
  /** Stream priority (deprecated by RFC 9113, still parsed). */
  PRIORITY: 0x2,
  /** Ends a stream at once. */
  RST_STREAM: 0x3,
  /** Connection parameters, or their acknowledgement. */
  SETTINGS: 0x4,
  /** A server push; refused by this client. */
  PUSH_PROMISE: 0x5,
  /** Round-trip check, answered with an acknowledgement. */
  PING: 0x6,
  /** The connection is shutting down. */
  GOAWAY: 0x7,
  /** Flow-control credit. */
  WINDOW_UPDATE: 0x8,
  /** The rest of a header block. */
  CONTINUATION: 0x9,
} as const;

/** The frame flags of RFC 9113 section 6 (each meaningful on some frame types only). */
export const Flag = {
  /** DATA, HEADERS: the last frame the sender sends on the stream. */
  END_STREAM: 0x1,
  /** SETTINGS, PING: an acknowledgement. */
  ACK: 0x1,
  /** HEADERS, PUSH_PROMISE, CONTINUATION: the header block ends in this frame. */
  END_HEADERS: 0x4,
  /** DATA, HEADERS, PUSH_PROMISE: a pad length octet and padding are present. */
  PADDED: 0x8,
  /** HEADERS: the priority fields are present. */
  PRIORITY: 0x20,
} as const;

/** The SETTINGS parameters (RFC 9113 section 6.5.2, and RFC 8441 and RFC 9218). */
export const SettingId = {
  /** The HPACK dynamic table size the sender's decoder allows. */
  HEADER_TABLE_SIZE: 0x1,
  /** 0 turns server push off. */
  ENABLE_PUSH: 0x2,
  /** The most streams the sender lets its peer open. */
  MAX_CONCURRENT_STREAMS: 0x3,
  /** The initial flow-control window of each stream the sender receives on. */
  INITIAL_WINDOW_SIZE: 0x4,
  /** The largest frame payload the sender accepts. */
  MAX_FRAME_SIZE: 0x5,
  /** The largest header list the sender accepts (advisory). */
  MAX_HEADER_LIST_SIZE: 0x6,
  /** Extended CONNECT (RFC 8441). */
  ENABLE_CONNECT_PROTOCOL: 0x8,
  /** The sender does not use RFC 7540 priorities (RFC 9218). */
  NO_RFC7540_PRIORITIES: 0x9,
} as const;

/** The smallest SETTINGS_MAX_FRAME_SIZE, and every connection's initial one. */
export const DEFAULT_MAX_FRAME_SIZE = 16384;

/** The largest SETTINGS_MAX_FRAME_SIZE (2^24 - 1). */
export const MAX_FRAME_SIZE_LIMIT = 0xffffff;

/** The initial flow-control window of a connection and of each stream. */
export const DEFAULT_INITIAL_WINDOW_SIZE = 65535;

/** The largest flow-control window (2^31 - 1). */
export const MAX_WINDOW_SIZE = 0x7fffffff;

// ---------------------------------------------------------------------------------------
// Frames as read

/** Stream dependency fields of HEADERS and PRIORITY frames (RFC 9113 section 5.3.2). */
export interface Priority {
  /** The exclusive flag. */
  readonly exclusive: boolean;
  /** The stream depended on. */
  readonly dependency: number;
  /** The weight, 1 to 256. */
  readonly weight: number;
}

/**
 * A DATA frame. `data` (padding removed) is a view that is only valid during the
 * reader's callback; `flowLength` is the whole payload, padding included, as flow control
 * counts it.
 */
export interface DataFrame {
  /** {@linkcode FrameType.DATA}. */
  readonly type: 0x0;
  /** The stream. */
  readonly streamId: number;
  /** The raw flags. */
  readonly flags: number;
  /** The stream's data, valid during the callback only. */
  readonly data: Uint8Array;
  /** The payload length including padding, as counted against the flow-control windows. */
  readonly flowLength: number;
  /** END_STREAM was set. */
  readonly endStream: boolean;
}

/**
 * A HEADERS frame with its whole header block: the reader joins the CONTINUATION frames
 * that follow it. `block` is only valid during the reader's callback.
 */
export interface HeadersFrame {
  /** {@linkcode FrameType.HEADERS}. */
  readonly type: 0x1;
  /** The stream. */
  readonly streamId: number;
  /** The raw flags of the HEADERS frame. */
  readonly flags: number;
  /** The complete header block (padding removed), valid during the callback only. */
  readonly block: Uint8Array;
  /** END_STREAM was set. */
  readonly endStream: boolean;
  /** The priority fields, when the PRIORITY flag was set. */
  readonly priority: Priority | null;
}

/** A PRIORITY frame. */
export interface PriorityFrame {
  /** {@linkcode FrameType.PRIORITY}. */
  readonly type: 0x2;
  /** The stream. */
  readonly streamId: number;
  /** The raw flags. */
  readonly flags: number;
  /** The priority fields. */
  readonly priority: Priority;
}

/** An RST_STREAM frame. */
export interface RstStreamFrame {
  /** {@linkcode FrameType.RST_STREAM}. */
  readonly type: 0x3;
  /** The stream. */
  readonly streamId: number;
  /** The raw flags. */
  readonly flags: number;
  /** Why the stream ended ({@linkcode ErrorCode}). */
  readonly errorCode: number;
}

/** A SETTINGS frame, or its acknowledgement (no settings). */
export interface SettingsFrame {
  /** {@linkcode FrameType.SETTINGS}. */
  readonly type: 0x4;
  /** Always 0. */
  readonly streamId: 0;
  /** The raw flags. */
  readonly flags: number;
  /** ACK was set. */
  readonly ack: boolean;
  /** The parameters as flat pairs, identifier and value, in the order sent. */
  readonly settings: number[];
}

/**
 * A PUSH_PROMISE frame with its whole header block (joined from CONTINUATION frames).
 * A client that disabled push treats it as a connection error; it is parsed so that the
 * refusal can name it.
 */
export interface PushPromiseFrame {
  /** {@linkcode FrameType.PUSH_PROMISE}. */
  readonly type: 0x5;
  /** The stream the promise is associated with. */
  readonly streamId: number;
  /** The raw flags. */
  readonly flags: number;
  /** The stream the server promises to open. */
  readonly promisedStreamId: number;
  /** The complete header block, valid during the callback only. */
  readonly block: Uint8Array;
}

/** A PING frame. */
export interface PingFrame {
  /** {@linkcode FrameType.PING}. */
  readonly type: 0x6;
  /** Always 0. */
  readonly streamId: 0;
  /** The raw flags. */
  readonly flags: number;
  /** ACK was set. */
  readonly ack: boolean;
  /** The 8 opaque octets, valid during the callback only. */
  readonly data: Uint8Array;
}

/** A GOAWAY frame. */
export interface GoawayFrame {
  /** {@linkcode FrameType.GOAWAY}. */
  readonly type: 0x7;
  /** Always 0. */
  readonly streamId: 0;
  /** The raw flags. */
  readonly flags: number;
  /** The highest stream the sender may have processed; higher ones were not. */
  readonly lastStreamId: number;
  /** Why ({@linkcode ErrorCode}). */
  readonly errorCode: number;
  /** Opaque diagnostics, valid during the callback only. */
  readonly debugData: Uint8Array;
}

/** A WINDOW_UPDATE frame (stream 0: the connection's window). */
export interface WindowUpdateFrame {
  /** {@linkcode FrameType.WINDOW_UPDATE}. */
  readonly type: 0x8;
  /** The stream, or 0 for the connection. */
  readonly streamId: number;
  /** The raw flags. */
  readonly flags: number;
  /** The credit, 1 to 2^31 - 1. */
  readonly increment: number;
}

/**
 * A frame as the {@linkcode FrameReader} hands it over. CONTINUATION frames are joined to
 * the HEADERS or PUSH_PROMISE frame they continue; frames of unknown types are skipped
 * (RFC 9113 section 4.1).
 */
export type Frame =
  | DataFrame
  | HeadersFrame
  | PriorityFrame
  | RstStreamFrame
  | SettingsFrame
  | PushPromiseFrame
  | PingFrame
  | GoawayFrame
  | WindowUpdateFrame;

// ---------------------------------------------------------------------------------------
// Writers

/** Writes a 9-octet frame header at `out[offset]`. */
export function writeFrameHeader(
  out: Uint8Array,
  offset: number,
  length: number,
  type: number,
  flags: number,
  streamId: number,
): void {
  out[offset] = length >>> 16;
  out[offset + 1] = length >>> 8;
  out[offset + 2] = length;
  out[offset + 3] = type;
  out[offset + 4] = flags;
  writeUint32(out, offset + 5, streamId & MAX_WINDOW_SIZE);
}

function writeUint32(out: Uint8Array, offset: number, value: number): void {
  out[offset] = value >>> 24;
  out[offset + 1] = value >>> 16;
  out[offset + 2] = value >>> 8;
  out[offset + 3] = value;
}

/** One frame of any type with the given payload (for frames no other writer covers). */
export function encodeFrame(
  type: number,
  flags: number,
  streamId: number,
  payload: Uint8Array = EMPTY,
): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_LENGTH + payload.length);
  writeFrameHeader(out, 0, payload.length, type, flags, streamId);
  out.set(payload, FRAME_HEADER_LENGTH);
  return out;
}

const EMPTY = new Uint8Array(0);

/** Options of {@linkcode encodeData}. */
export interface DataOptions {
  /** Set END_STREAM. */
  endStream?: boolean;
  /** Octets of padding (0 to 255); with any, the PADDED flag and pad length octet. */
  padLength?: number;
}

/** A DATA frame carrying `data` (which must fit the peer's maximum frame size). */
export function encodeData(
  streamId: number,
  data: Uint8Array,
  options: DataOptions = {},
): Uint8Array {
  const padded = options.padLength !== undefined;
  const padLength = options.padLength ?? 0;
  const length = data.length + (padded ? 1 + padLength : 0);
  const out = new Uint8Array(FRAME_HEADER_LENGTH + length);
  const flags = (options.endStream ? Flag.END_STREAM : 0) | (padded ? Flag.PADDED : 0);
  writeFrameHeader(out, 0, length, FrameType.DATA, flags, streamId);
  let at = FRAME_HEADER_LENGTH;
  if (padded) out[at++] = padLength;
  out.set(data, at);
  return out;
}

/** Options of {@linkcode encodeHeaders}. */
export interface HeadersOptions {
  /** Set END_STREAM (a request without a body). */
  endStream?: boolean;
  /** The peer's SETTINGS_MAX_FRAME_SIZE: longer blocks go on in CONTINUATION frames. */
  maxFrameSize?: number;
  /** Octets of padding (0 to 255) in the HEADERS frame. */
  padLength?: number;
  /** Priority fields for the HEADERS frame. */
  priority?: Priority;
}

/**
 * A HEADERS frame carrying the header block `block`, followed by as many CONTINUATION
 * frames as the peer's maximum frame size needs, all in one array (they must go out
 * together: no other frame may come between them).
 */
export function encodeHeaders(
  streamId: number,
  block: Uint8Array,
  options: HeadersOptions = {},
): Uint8Array {
  const maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
  const padded = options.padLength !== undefined;
  const padLength = options.padLength ?? 0;
  const extra = (padded ? 1 + padLength : 0) + (options.priority ? 5 : 0);
  if (extra >= maxFrameSize) throw new RangeError(`Padding too long: ${padLength}`);
  const first = Math.min(block.length, maxFrameSize - extra);
  const rest = block.length - first;
  const continuations = Math.ceil(rest / maxFrameSize);
  const out = new Uint8Array(
    FRAME_HEADER_LENGTH * (1 + continuations) + extra + block.length,
  );
  let flags = (options.endStream ? Flag.END_STREAM : 0) |
    (continuations === 0 ? Flag.END_HEADERS : 0) |
    (padded ? Flag.PADDED : 0) | (options.priority ? Flag.PRIORITY : 0);
  writeFrameHeader(out, 0, first + extra, FrameType.HEADERS, flags, streamId);
  let at = FRAME_HEADER_LENGTH;
  if (padded) out[at++] = padLength;
  if (options.priority) {
    writePriority(out, at, options.priority);
    at += 5;
  }
  out.set(block.subarray(0, first), at);
  at += first + padLength;
  for (let sent = first; sent < block.length;) {
    const size = Math.min(maxFrameSize, block.length - sent);
    flags = sent + size === block.length ? Flag.END_HEADERS : 0;
    writeFrameHeader(out, at, size, FrameType.CONTINUATION, flags, streamId);
    out.set(block.subarray(sent, sent + size), at + FRAME_HEADER_LENGTH);
    at += FRAME_HEADER_LENGTH + size;
    sent += size;
  }
  return out;
}

function writePriority(out: Uint8Array, offset: number, priority: Priority): void {
  writeUint32(
    out,
    offset,
    (priority.dependency & MAX_WINDOW_SIZE) | (priority.exclusive ? 0x80000000 : 0),
  );
  out[offset + 4] = priority.weight - 1;
}

/** A PRIORITY frame. */
export function encodePriority(streamId: number, priority: Priority): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_LENGTH + 5);
  writeFrameHeader(out, 0, 5, FrameType.PRIORITY, 0, streamId);
  writePriority(out, FRAME_HEADER_LENGTH, priority);
  return out;
}

/** An RST_STREAM frame. */
export function encodeRstStream(streamId: number, errorCode: number): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_LENGTH + 4);
  writeFrameHeader(out, 0, 4, FrameType.RST_STREAM, 0, streamId);
  writeUint32(out, FRAME_HEADER_LENGTH, errorCode);
  return out;
}

/** A SETTINGS frame from flat pairs `[identifier, value, ...]` ({@linkcode SettingId}). */
export function encodeSettings(settings: readonly number[]): Uint8Array {
  const count = settings.length >> 1;
  const out = new Uint8Array(FRAME_HEADER_LENGTH + count * 6);
  writeFrameHeader(out, 0, count * 6, FrameType.SETTINGS, 0, 0);
  for (let i = 0; i < count; i++) {
    const at = FRAME_HEADER_LENGTH + i * 6;
    out[at] = settings[i * 2] >>> 8;
    out[at + 1] = settings[i * 2];
    writeUint32(out, at + 2, settings[i * 2 + 1]);
  }
  return out;
}

/** The acknowledgement of a SETTINGS frame. */
export function encodeSettingsAck(): Uint8Array {
  return encodeFrame(FrameType.SETTINGS, Flag.ACK, 0);
}

/** A PING frame with 8 opaque octets; `ack` answers a peer's PING with its octets. */
export function encodePing(data: Uint8Array, ack = false): Uint8Array {
  if (data.length !== 8) throw new RangeError(`PING data must be 8 octets: ${data.length}`);
  return encodeFrame(FrameType.PING, ack ? Flag.ACK : 0, 0, data);
}

/** A GOAWAY frame. */
export function encodeGoaway(
  lastStreamId: number,
  errorCode: number,
  debugData: Uint8Array = EMPTY,
): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_LENGTH + 8 + debugData.length);
  writeFrameHeader(out, 0, 8 + debugData.length, FrameType.GOAWAY, 0, 0);
  writeUint32(out, FRAME_HEADER_LENGTH, lastStreamId & MAX_WINDOW_SIZE);
  writeUint32(out, FRAME_HEADER_LENGTH + 4, errorCode);
  out.set(debugData, FRAME_HEADER_LENGTH + 8);
  return out;
}

/** A WINDOW_UPDATE frame granting `increment` (1 to 2^31 - 1) octets. */
export function encodeWindowUpdate(streamId: number, increment: number): Uint8Array {
  if (increment < 1 || increment > MAX_WINDOW_SIZE) {
    throw new RangeError(`Window increment out of range: ${increment}`);
  }
  const out = new Uint8Array(FRAME_HEADER_LENGTH + 4);
  writeFrameHeader(out, 0, 4, FrameType.WINDOW_UPDATE, 0, streamId);
  writeUint32(out, FRAME_HEADER_LENGTH, increment);
  return out;
}
