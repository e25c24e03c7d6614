/**
 * The incremental HTTP/2 frame reader: fed socket chunks split anywhere, it hands whole
 * frames to a {@linkcode FrameHandler}, checking the framing rules of RFC 9113 sections 4
 * and 6 as it goes. Frames that arrive whole within a chunk are parsed in place; only a
 * frame split across chunks is copied, into a buffer of at most one frame.
 *
 * A broken rule confined to one stream goes to `onStreamError` and reading goes on; any
 * other is thrown from {@linkcode FrameReader.push} as an {@linkcode HTTP2FrameError}
 * (or {@linkcode HTTP2HeaderListTooLargeError}), and the reader then refuses more input.
 *
 * @module
 */

import { ErrorCode } from "./error_codes.ts";
import { type HTTP2Error, HTTP2FrameError, HTTP2HeaderListTooLargeError } from "./errors.ts";
import {
  DEFAULT_MAX_FRAME_SIZE,
  Flag,
  type Frame,
  FRAME_HEADER_LENGTH,
  FrameType,
  MAX_FRAME_SIZE_LIMIT,
  MAX_WINDOW_SIZE,
  type Priority,
  SettingId,
} from "./frames.ts";
import { DEFAULT_MAX_HEADER_LIST_SIZE } from "./hpack.ts";

/** Receives what the reader finds. */
export interface FrameHandler {
  /** A frame arrived. Its byte views are only valid during the call. */
  onFrame(frame: Frame): void;
  /** A frame broke a rule that concerns its stream only: reset that stream. */
  onStreamError(error: HTTP2Error): void;
}

/** Options of a {@linkcode FrameReader}. */
export interface FrameReaderOptions {
  /**
   * The largest frame payload accepted: this end's SETTINGS_MAX_FRAME_SIZE (default and
   * minimum 16384).
   */
  maxFrameSize?: number;
  /**
   * The most octets one header block may take on the wire, its HEADERS or PUSH_PROMISE
   * and CONTINUATION frames counted whole (frame headers included, so that a flood of
   * empty CONTINUATION frames is bounded too). Default 64 KiB plus one frame.
   */
  maxHeaderBlockSize?: number;
}

/** A frame's stream identifier must be 0, must not be, or may be either. */
const ZERO = 0;
const NONZERO = 1;
const ANY = 2;

const STREAM_RULE: readonly number[] = [
  NONZERO, // DATA
  NONZERO, // HEADERS
  NONZERO, // PRIORITY
  NONZERO, // RST_STREAM
  ZERO, // SETTINGS
  NONZERO, // PUSH_PROMISE
  ZERO, // PING
  ZERO, // GOAWAY
  ANY, // WINDOW_UPDATE
  NONZERO, // CONTINUATION
];

const TYPE_NAMES = Object.keys(FrameType);

function typeName(type: number): string {
  return TYPE_NAMES[type] ?? `0x${type.toString(16)}`;
}

function frameError(message: string, errorCode: number = ErrorCode.PROTOCOL_ERROR) {
  return new HTTP2FrameError(message, errorCode);
}

function sizeError(message: string) {
  return new HTTP2FrameError(message, ErrorCode.FRAME_SIZE_ERROR);
}

/** Reads the frames of one connection's receiving direction. */
export class FrameReader {
  readonly #handler: FrameHandler;
  #maxFrameSize: number;
  readonly #maxBlockSize: number;
  /** A frame split across chunks: its first `#have` octets. */
  #buffer = new Uint8Array(0);
  #have = 0;
  #length = 0;
  /** The error that stopped the reader. */
  #failed: Error | null = null;
  // The header block being gathered: the HEADERS or PUSH_PROMISE frame's fields and the
  // fragments so far. `#blockStream` is 0 when no block is open.
  #blockStream = 0;
  #blockType = 0;
  #blockFlags = 0;
  #blockPriority: Priority | null = null;
  #blockPromised = 0;
  #block = new Uint8Array(0);
  #blockLength = 0;
  #blockWire = 0;

  /**
   * A reader that hands frames to `handler`. The connection preface, which only servers
   * receive, is not expected.
   */
  constructor(handler: FrameHandler, options: FrameReaderOptions = {}) {
    this.#handler = handler;
    this.#maxFrameSize = DEFAULT_MAX_FRAME_SIZE;
    if (options.maxFrameSize !== undefined) this.maxFrameSize = options.maxFrameSize;
    this.#maxBlockSize = options.maxHeaderBlockSize ??
      DEFAULT_MAX_HEADER_LIST_SIZE + FRAME_HEADER_LENGTH + DEFAULT_MAX_FRAME_SIZE;
  }

  /** The largest frame payload accepted. */
  get maxFrameSize(): number {
    return this.#maxFrameSize;
  }

  /** Sets the largest payload accepted, once this end has announced it in SETTINGS. */
  set maxFrameSize(size: number) {
    if (size < DEFAULT_MAX_FRAME_SIZE || size > MAX_FRAME_SIZE_LIMIT) {
      throw new RangeError(`Invalid maximum frame size: ${size}`);
    }
    this.#maxFrameSize = size;
  }

  /** True while a frame or header block is only partly read. */
  get partial(): boolean {
    return this.#have > 0 || this.#blockStream !== 0;
  }

  /**
   * Reads the bytes of one socket chunk, which is not used after the call returns. Throws
   * the connection error the bytes hold, or what the handler threw; either way the reader
   * is then done.
   */
  push(chunk: Uint8Array): void {
    if (this.#failed) throw this.#failed;
    try {
      this.#read(chunk);
    } catch (error) {
      this.#failed = error as Error;
      throw error;
    }
  }

  #read(chunk: Uint8Array): void {
    const end = chunk.length;
    let offset = 0;
    while (offset < end) {
      if (this.#have === 0 && end - offset >= FRAME_HEADER_LENGTH) {
        // A frame that is whole in the chunk is read in place.
        const length = this.#payloadLength(chunk, offset);
        if (end - offset - FRAME_HEADER_LENGTH >= length) {
          offset += FRAME_HEADER_LENGTH + length;
          this.#frame(chunk, offset - length - FRAME_HEADER_LENGTH, length);
          continue;
        }
      }
      offset = this.#gather(chunk, offset);
    }
  }

  /** Copies the start of a split frame; returns the offset after what it took. */
  #gather(chunk: Uint8Array, offset: number): number {
    if (this.#have < FRAME_HEADER_LENGTH) {
      if (this.#buffer.length < FRAME_HEADER_LENGTH) this.#buffer = new Uint8Array(1024);
      const take = Math.min(FRAME_HEADER_LENGTH - this.#have, chunk.length - offset);
      this.#buffer.set(chunk.subarray(offset, offset + take), this.#have);
      this.#have += take;
      offset += take;
      if (this.#have < FRAME_HEADER_LENGTH) return offset;
      this.#length = this.#payloadLength(this.#buffer, 0);
      const size = FRAME_HEADER_LENGTH + this.#length;
      if (this.#buffer.length < size) {
        const bigger = new Uint8Array(Math.max(size, this.#buffer.length * 2));
        bigger.set(this.#buffer.subarray(0, FRAME_HEADER_LENGTH));
        this.#buffer = bigger;
      }
    }
    const want = FRAME_HEADER_LENGTH + this.#length - this.#have;
    const take = Math.min(want, chunk.length - offset);
    this.#buffer.set(chunk.subarray(offset, offset + take), this.#have);
    this.#have += take;
    offset += take;
    if (take === want) {
      this.#have = 0;
      this.#frame(this.#buffer, 0, this.#length);
    }
    return offset;
  }

  /** The payload length of the frame header at `bytes[at]`, checked against the maximum. */
  #payloadLength(bytes: Uint8Array, at: number): number {
    const length = (bytes[at] << 16) | (bytes[at + 1] << 8) | bytes[at + 2];
    if (length > this.#maxFrameSize) {
      throw sizeError(
        `Frame larger than the maximum frame size of ${this.#maxFrameSize}: ${length}`,
      );
    }
    return length;
  }

  /** Handles the whole frame whose header is at `bytes[at]`. */
  #frame(bytes: Uint8Array, at: number, length: number): void {
    const type = bytes[at + 3];
    const flags = bytes[at + 4];
    const streamId = readUint31(bytes, at + 5);
    const start = at + FRAME_HEADER_LENGTH;
    const payload = bytes.subarray(start, start + length);
    if (this.#blockStream !== 0) {
      if (type !== FrameType.CONTINUATION || streamId !== this.#blockStream) {
        throw frameError(
          `Expected a CONTINUATION frame on stream ${this.#blockStream}: ${typeName(type)} ` +
            `on stream ${streamId}`,
        );
      }
      this.#continuation(flags, payload);
      return;
    }
    if (type >= STREAM_RULE.length) return; // Unknown types are ignored (section 4.1).
    const rule = STREAM_RULE[type];
    if (rule === ZERO && streamId !== 0) {
      throw frameError(`${typeName(type)} frame on a stream: ${streamId}`);
    }
    if (rule === NONZERO && streamId === 0) {
      throw frameError(`${typeName(type)} frame on stream 0`);
    }
    switch (type) {
      case FrameType.DATA:
        return this.#data(streamId, flags, payload);
      case FrameType.HEADERS:
        return this.#headers(streamId, flags, payload);
      case FrameType.PRIORITY:
        return this.#priority(streamId, flags, payload);
      case FrameType.RST_STREAM:
        if (length !== 4) throw sizeError(`RST_STREAM frame length is not 4: ${length}`);
        return this.#handler.onFrame({
          type,
          streamId,
          flags,
          errorCode: readUint32(payload, 0),
        });
      case FrameType.SETTINGS:
        return this.#settings(flags, payload);
      case FrameType.PUSH_PROMISE:
        return this.#pushPromise(streamId, flags, payload);
      case FrameType.PING:
        if (length !== 8) throw sizeError(`PING frame length is not 8: ${length}`);
        return this.#handler.onFrame({
          type,
          streamId: 0,
          flags,
          ack: (flags & Flag.ACK) !== 0,
          data: payload,
        });
      case FrameType.GOAWAY:
        if (length < 8) throw sizeError(`GOAWAY frame shorter than 8: ${length}`);
        return this.#handler.onFrame({
          type,
          streamId: 0,
          flags,
          lastStreamId: readUint31(payload, 0),
          errorCode: readUint32(payload, 4),
          debugData: payload.subarray(8),
        });
      case FrameType.WINDOW_UPDATE:
        return this.#windowUpdate(streamId, flags, payload);
      default: // CONTINUATION with no block open.
        throw frameError(`CONTINUATION frame without a header block on stream ${streamId}`);
    }
  }

  #data(streamId: number, flags: number, payload: Uint8Array): void {
    const [start, end] = unpad(FrameType.DATA, flags, payload, 0);
    this.#handler.onFrame({
      type: FrameType.DATA,
      streamId,
      flags,
      data: payload.subarray(start, end),
      flowLength: payload.length,
      endStream: (flags & Flag.END_STREAM) !== 0,
    });
  }

  #headers(streamId: number, flags: number, payload: Uint8Array): void {
    const hasPriority = (flags & Flag.PRIORITY) !== 0;
    const [start, end] = unpad(FrameType.HEADERS, flags, payload, hasPriority ? 5 : 0);
    let priority: Priority | null = null;
    if (hasPriority) {
      priority = readPriority(payload, start - 5);
      // A stream error by RFC 9113 section 5.3.1, but the block must still be decoded to
      // keep the compression context: the whole connection fails instead.
      if (priority.dependency === streamId) {
        throw frameError(`Stream depends on itself: ${streamId}`);
      }
    }
    this.#openBlock(FrameType.HEADERS, streamId, flags, priority, 0);
    this.#fragment(payload.subarray(start, end), FRAME_HEADER_LENGTH + payload.length, flags);
  }

  #pushPromise(streamId: number, flags: number, payload: Uint8Array): void {
    const [start, end] = unpad(FrameType.PUSH_PROMISE, flags, payload, 4);
    this.#openBlock(FrameType.PUSH_PROMISE, streamId, flags, null, readUint31(payload, start - 4));
    this.#fragment(payload.subarray(start, end), FRAME_HEADER_LENGTH + payload.length, flags);
  }

  #continuation(flags: number, payload: Uint8Array): void {
    this.#fragment(payload, FRAME_HEADER_LENGTH + payload.length, flags);
  }

  #openBlock(
    type: number,
    streamId: number,
    flags: number,
    priority: Priority | null,
    promised: number,
  ): void {
    this.#blockStream = streamId;
    this.#blockType = type;
    this.#blockFlags = flags;
    this.#blockPriority = priority;
    this.#blockPromised = promised;
    this.#blockLength = 0;
    this.#blockWire = 0;
  }

  /**
   * Adds a header block fragment; on END_HEADERS hands the frame over. A block in one
   * frame is handed over in place, without a copy.
   */
  #fragment(fragment: Uint8Array, wire: number, flags: number): void {
    this.#blockWire += wire;
    if (this.#blockWire > this.#maxBlockSize) {
      this.#blockStream = 0;
      throw new HTTP2HeaderListTooLargeError(
        `Header block larger than the limit of ${this.#maxBlockSize} octets`,
        ErrorCode.ENHANCE_YOUR_CALM,
      );
    }
    const last = (flags & Flag.END_HEADERS) !== 0;
    let block = fragment;
    if (!last || this.#blockLength > 0) {
      this.#append(fragment);
      block = this.#block.subarray(0, this.#blockLength);
    }
    if (!last) return;
    const streamId = this.#blockStream;
    this.#blockStream = 0;
    this.#blockLength = 0;
    if (this.#blockType === FrameType.HEADERS) {
      this.#handler.onFrame({
        type: FrameType.HEADERS,
        streamId,
        flags: this.#blockFlags,
        block,
        endStream: (this.#blockFlags & Flag.END_STREAM) !== 0,
        priority: this.#blockPriority,
      });
    } else {
      this.#handler.onFrame({
        type: FrameType.PUSH_PROMISE,
        streamId,
        flags: this.#blockFlags,
        promisedStreamId: this.#blockPromised,
        block,
      });
    }
  }

  #append(fragment: Uint8Array): void {
    const needed = this.#blockLength + fragment.length;
    if (this.#block.length < needed) {
      const bigger = new Uint8Array(Math.max(needed, this.#block.length * 2, 1024));
      bigger.set(this.#block.subarray(0, this.#blockLength));
      this.#block = bigger;
    }
    this.#block.set(fragment, this.#blockLength);
    this.#blockLength = needed;
  }

  #priority(streamId: number, flags: number, payload: Uint8Array): void {
    if (payload.length !== 5) {
      return this.#handler.onStreamError(
        new HTTP2FrameError(
          `PRIORITY frame length is not 5: ${payload.length}`,
          ErrorCode.FRAME_SIZE_ERROR,
          streamId,
        ),
      );
    }
    const priority = readPriority(payload, 0);
    if (priority.dependency === streamId) {
      return this.#handler.onStreamError(
        new HTTP2FrameError(
          `Stream depends on itself: ${streamId}`,
          ErrorCode.PROTOCOL_ERROR,
          streamId,
        ),
      );
    }
    this.#handler.onFrame({ type: FrameType.PRIORITY, streamId, flags, priority });
  }

  #settings(flags: number, payload: Uint8Array): void {
    const ack = (flags & Flag.ACK) !== 0;
    if (ack && payload.length !== 0) {
      throw sizeError(`SETTINGS acknowledgement with a payload: ${payload.length}`);
    }
    if (payload.length % 6 !== 0) {
      throw sizeError(`SETTINGS frame length is not a multiple of 6: ${payload.length}`);
    }
    const settings: number[] = [];
    for (let at = 0; at < payload.length; at += 6) {
      const id = (payload[at] << 8) | payload[at + 1];
      const value = readUint32(payload, at + 2);
      checkSetting(id, value);
      settings.push(id, value);
    }
    this.#handler.onFrame({ type: FrameType.SETTINGS, streamId: 0, flags, ack, settings });
  }

  #windowUpdate(streamId: number, flags: number, payload: Uint8Array): void {
    if (payload.length !== 4) {
      throw sizeError(`WINDOW_UPDATE frame length is not 4: ${payload.length}`);
    }
    const increment = readUint31(payload, 0);
    if (increment === 0) {
      const error = new HTTP2FrameError(
        "WINDOW_UPDATE frame with an increment of 0",
        ErrorCode.PROTOCOL_ERROR,
        streamId,
      );
      if (streamId === 0) throw error;
      return this.#handler.onStreamError(error);
    }
    this.#handler.onFrame({ type: FrameType.WINDOW_UPDATE, streamId, flags, increment });
  }
}

/** Checks a SETTINGS value against RFC 9113 section 6.5.2; unknown ones are ignored. */
function checkSetting(id: number, value: number): void {
  if (id === SettingId.ENABLE_PUSH && value > 1) {
    throw frameError(`Invalid SETTINGS_ENABLE_PUSH: ${value}`);
  }
  if (id === SettingId.INITIAL_WINDOW_SIZE && value > MAX_WINDOW_SIZE) {
    throw frameError(
      `Invalid SETTINGS_INITIAL_WINDOW_SIZE: ${value}`,
      ErrorCode.FLOW_CONTROL_ERROR,
    );
  }
  if (
    id === SettingId.MAX_FRAME_SIZE &&
    (value < DEFAULT_MAX_FRAME_SIZE || value > MAX_FRAME_SIZE_LIMIT)
  ) {
    throw frameError(`Invalid SETTINGS_MAX_FRAME_SIZE: ${value}`);
  }
}

/**
 * Where the content of a possibly padded payload lies, after `fixed` octets of fields
 * that follow the pad length: `[start, end)`. A payload too short for its fields is a
 * FRAME_SIZE_ERROR, padding as long as the rest a PROTOCOL_ERROR (section 6.1).
 */
function unpad(type: number, flags: number, payload: Uint8Array, fixed: number): [number, number] {
  const padded = (flags & Flag.PADDED) !== 0;
  const start = (padded ? 1 : 0) + fixed;
  if (payload.length < start) {
    throw sizeError(`${typeName(type)} frame too short for its fields: ${payload.length}`);
  }
  if (!padded) return [start, payload.length];
  const padLength = payload[0];
  if (padLength > payload.length - start) {
    throw frameError(
      `${typeName(type)} padding longer than the payload: ${padLength} of ${payload.length}`,
    );
  }
  return [start, payload.length - padLength];
}

function readUint32(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

/** A 31-bit field: a stream identifier or increment, its reserved top bit ignored. */
function readUint31(bytes: Uint8Array, at: number): number {
  return readUint32(bytes, at) & MAX_WINDOW_SIZE;
}

function readPriority(bytes: Uint8Array, at: number): Priority {
  return {
    exclusive: (bytes[at] & 0x80) !== 0,
    dependency: readUint31(bytes, at),
    weight: bytes[at + 4] + 1,
  };
}
