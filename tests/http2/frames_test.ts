/**
 * The HTTP/2 frame codec: every frame type written and read back, the whole stream fed
 * to the incremental reader split at every byte offset (and byte by byte), and each
 * framing rule of RFC 9113 sections 4 and 6 broken once, for its typed error.
 */

import { assert, test } from "../_harness.ts";
import { prng } from "../_prng.ts";
import { hex, thrown, toHex } from "./_hex.ts";
import {
  CONNECTION_PREFACE,
  DEFAULT_MAX_FRAME_SIZE,
  encodeData,
  encodeFrame,
  encodeGoaway,
  encodeHeaders,
  encodePing,
  encodePriority,
  encodeRstStream,
  encodeSettings,
  encodeSettingsAck,
  encodeWindowUpdate,
  ErrorCode,
  Flag,
  type Frame,
  FrameType,
  SettingId,
  writeFrameHeader,
} from "../../src/http2/frames.ts";
import { FrameReader, type FrameReaderOptions } from "../../src/http2/frame_reader.ts";
import {
  type HTTP2Error,
  HTTP2FrameError,
  HTTP2HeaderListTooLargeError,
} from "../../src/http2/errors.ts";

/** A frame as the tests compare it: byte views copied out as hex (long ones as a digest). */
type Seen = Record<string, unknown>;

function snapshot(frame: Frame): Seen {
  const seen: Seen = {};
  for (const [key, value] of Object.entries(frame)) {
    seen[key] = value instanceof Uint8Array ? bytesKey(value) : value;
  }
  return seen;
}

function bytesKey(bytes: Uint8Array): string {
  if (bytes.length <= 64) return toHex(bytes);
  let hash = 0x811c9dc5; // FNV-1a
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193);
  return `${bytes.length} octets, FNV-1a ${(hash >>> 0).toString(16)}`;
}

interface Collected {
  frames: Seen[];
  streamErrors: HTTP2Error[];
  reader: FrameReader;
}

function collector(options?: FrameReaderOptions): Collected {
  const frames: Seen[] = [];
  const streamErrors: HTTP2Error[] = [];
  const reader = new FrameReader({
    onFrame: (frame) => frames.push(snapshot(frame)),
    onStreamError: (error) => streamErrors.push(error),
  }, options);
  return { frames, streamErrors, reader };
}

/**
 * Feeds `pieces`, each in a fresh array that is scribbled over after the call, as an
 * adapter reusing its read buffer would.
 */
function feed(reader: FrameReader, pieces: Uint8Array[]): void {
  for (const piece of pieces) {
    const chunk = piece.slice();
    reader.push(chunk);
    chunk.fill(0xee);
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function ramp(length: number, seed = 0): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 7 + seed) & 0xff;
  return out;
}

// ---------------------------------------------------------------------------------------
// Round trips

const BIG_BLOCK = ramp(40000, 3);

const ROUND_TRIPS: Array<{ name: string; wire: Uint8Array; frame: Seen }> = [
  {
    name: "DATA",
    wire: encodeData(1, hex("68656c6c6f")),
    frame: { type: 0, streamId: 1, flags: 0, data: "68656c6c6f", flowLength: 5, endStream: false },
  },
  {
    name: "DATA, empty, END_STREAM",
    wire: encodeData(3, new Uint8Array(0), { endStream: true }),
    frame: { type: 0, streamId: 3, flags: 1, data: "", flowLength: 0, endStream: true },
  },
  {
    name: "DATA, padded",
    wire: encodeData(5, hex("0102"), { padLength: 10 }),
    frame: { type: 0, streamId: 5, flags: 8, data: "0102", flowLength: 13, endStream: false },
  },
  {
    name: "DATA, padded with 0 octets",
    wire: encodeData(5, hex("0102"), { padLength: 0, endStream: true }),
    frame: { type: 0, streamId: 5, flags: 9, data: "0102", flowLength: 3, endStream: true },
  },
  {
    name: "HEADERS",
    wire: encodeHeaders(1, hex("8286 8441"), { endStream: true }),
    frame: { type: 1, streamId: 1, flags: 5, block: "82868441", endStream: true, priority: null },
  },
  {
    name: "HEADERS, padded, with priority",
    wire: encodeHeaders(7, hex("82"), {
      padLength: 4,
      priority: { exclusive: true, dependency: 3, weight: 256 },
    }),
    frame: {
      type: 1,
      streamId: 7,
      flags: 0x2c,
      block: "82",
      endStream: false,
      priority: { exclusive: true, dependency: 3, weight: 256 },
    },
  },
  {
    name: "HEADERS and two CONTINUATION frames",
    wire: encodeHeaders(9, BIG_BLOCK, { endStream: true }),
    frame: {
      type: 1,
      streamId: 9,
      flags: 1,
      block: bytesKey(BIG_BLOCK),
      endStream: true,
      priority: null,
    },
  },
  {
    name: "PRIORITY",
    wire: encodePriority(11, { exclusive: false, dependency: 1, weight: 16 }),
    frame: {
      type: 2,
      streamId: 11,
      flags: 0,
      priority: { exclusive: false, dependency: 1, weight: 16 },
    },
  },
  {
    name: "RST_STREAM",
    wire: encodeRstStream(13, ErrorCode.REFUSED_STREAM),
    frame: { type: 3, streamId: 13, flags: 0, errorCode: 7 },
  },
  {
    name: "SETTINGS",
    wire: encodeSettings([
      SettingId.HEADER_TABLE_SIZE,
      0,
      SettingId.ENABLE_PUSH,
      0,
      SettingId.INITIAL_WINDOW_SIZE,
      0x7fffffff,
      SettingId.MAX_FRAME_SIZE,
      0xffffff,
      0xabcd, // unknown: passed on, for the session to ignore
      0xffffffff,
    ]),
    frame: {
      type: 4,
      streamId: 0,
      flags: 0,
      ack: false,
      settings: [1, 0, 2, 0, 4, 0x7fffffff, 5, 0xffffff, 0xabcd, 0xffffffff],
    },
  },
  {
    name: "SETTINGS, empty",
    wire: encodeSettings([]),
    frame: { type: 4, streamId: 0, flags: 0, ack: false, settings: [] },
  },
  {
    name: "SETTINGS acknowledgement",
    wire: encodeSettingsAck(),
    frame: { type: 4, streamId: 0, flags: 1, ack: true, settings: [] },
  },
  {
    name: "PUSH_PROMISE, padded, with a CONTINUATION frame",
    wire: concat([
      encodeFrame(FrameType.PUSH_PROMISE, Flag.PADDED, 1, hex("02 00000002 8286 0000")),
      encodeFrame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, hex("84")),
    ]),
    frame: { type: 5, streamId: 1, flags: 8, promisedStreamId: 2, block: "828684" },
  },
  {
    name: "PING",
    wire: encodePing(hex("0102030405060708")),
    frame: { type: 6, streamId: 0, flags: 0, ack: false, data: "0102030405060708" },
  },
  {
    name: "PING acknowledgement",
    wire: encodePing(hex("0102030405060708"), true),
    frame: { type: 6, streamId: 0, flags: 1, ack: true, data: "0102030405060708" },
  },
  {
    name: "GOAWAY",
    wire: encodeGoaway(0x7fffffff, ErrorCode.ENHANCE_YOUR_CALM, hex("6f6f7073")),
    frame: {
      type: 7,
      streamId: 0,
      flags: 0,
      lastStreamId: 0x7fffffff,
      errorCode: 11,
      debugData: "6f6f7073",
    },
  },
  {
    name: "WINDOW_UPDATE on the connection",
    wire: encodeWindowUpdate(0, 0x7fffffff),
    frame: { type: 8, streamId: 0, flags: 0, increment: 0x7fffffff },
  },
  {
    name: "WINDOW_UPDATE on a stream, reserved bits set",
    wire: hex("000004 08 00 80000005 80000001"),
    frame: { type: 8, streamId: 5, flags: 0, increment: 1 },
  },
];

for (const { name, wire, frame } of ROUND_TRIPS) {
  test(`HTTP/2 frame round-trips: ${name}`, () => {
    const { frames, streamErrors, reader } = collector();
    feed(reader, [wire]);
    assert.deepEqual(frames, [frame]);
    assert.equal(streamErrors.length, 0);
    assert.equal(reader.partial, false);
  });
}

test("HTTP/2 frame writer splits HEADERS at the peer's maximum frame size", () => {
  const wire = encodeHeaders(9, BIG_BLOCK, { maxFrameSize: 16384 });
  // HEADERS 16384, CONTINUATION 16384, CONTINUATION 7232 (END_HEADERS).
  assert.equal(toHex(wire.subarray(0, 9)), "004000" + "01" + "00" + "00000009");
  const second = 9 + 16384;
  assert.equal(toHex(wire.subarray(second, second + 9)), "004000" + "09" + "00" + "00000009");
  const third = second + 9 + 16384;
  assert.equal(toHex(wire.subarray(third, third + 9)), "001c40" + "09" + "04" + "00000009");
  assert.equal(wire.length, third + 9 + 7232);
});

test("HTTP/2 frame writer writes a header into a caller's buffer", () => {
  const out = new Uint8Array(12).fill(0xaa);
  writeFrameHeader(out, 3, 0x123456, FrameType.DATA, Flag.END_STREAM, 0xffffffff);
  assert.equal(toHex(out), "aaaaaa" + "123456" + "00" + "01" + "7fffffff");
});

test("HTTP/2 connection preface is the RFC 9113 octets", () => {
  assert.equal(
    toHex(CONNECTION_PREFACE),
    "505249202a20485454502f322e300d0a0d0a534d0d0a0d0a",
  );
});

test("HTTP/2 frame reader skips frames of unknown types", () => {
  const { frames, reader } = collector();
  feed(reader, [concat([encodeFrame(0xfa, 0xff, 0, ramp(20)), encodePing(ramp(8))])]);
  assert.deepEqual(frames.map((f) => f.type), [FrameType.PING]);
});

// ---------------------------------------------------------------------------------------
// Splits

const STREAM = concat(ROUND_TRIPS.map((r) => r.wire));
const EXPECTED = ROUND_TRIPS.map((r) => r.frame);

test("HTTP/2 frame reader gives the same frames for every two-piece split", () => {
  // The large HEADERS block makes the stream ~40 kB; every split offset of the rest
  // and a stride through the large frame keep this quick.
  for (let at = 0; at <= STREAM.length; at += at < 2000 || at > STREAM.length - 2000 ? 1 : 97) {
    const { frames, reader } = collector();
    feed(reader, [STREAM.subarray(0, at), STREAM.subarray(at)]);
    assert.deepEqual(frames, EXPECTED, `split at ${at}`);
    assert.equal(reader.partial, false);
  }
});

test("HTTP/2 frame reader reads DATA that is all padding", () => {
  const { frames, reader } = collector();
  feed(reader, [encodeFrame(FrameType.DATA, Flag.PADDED, 1, hex("04 00000000"))]);
  assert.deepEqual(frames, [
    { type: 0, streamId: 1, flags: 8, data: "", flowLength: 5, endStream: false },
  ]);
});

test("HTTP/2 frame reader gives the same frames fed byte by byte", () => {
  const { frames, reader } = collector();
  const pieces: Uint8Array[] = [];
  for (let i = 0; i < STREAM.length; i++) pieces.push(STREAM.subarray(i, i + 1));
  feed(reader, pieces);
  assert.deepEqual(frames, EXPECTED);
});

test("HTTP/2 frame reader gives the same frames for random splits", () => {
  const random = prng(2024);
  for (let round = 0; round < 200; round++) {
    const pieces: Uint8Array[] = [];
    for (let at = 0; at < STREAM.length;) {
      const size = 1 + Math.floor(random() * (random() < 0.5 ? 20 : 20000));
      pieces.push(STREAM.subarray(at, at + size));
      at += size;
    }
    const { frames, reader } = collector();
    feed(reader, pieces);
    assert.deepEqual(frames, EXPECTED, `round ${round}`);
  }
});

test("HTTP/2 frame reader says a frame is partly read", () => {
  const { frames, reader } = collector();
  const ping = encodePing(ramp(8));
  feed(reader, [ping.subarray(0, 4)]);
  assert.equal(reader.partial, true);
  feed(reader, [ping.subarray(4)]);
  assert.equal(reader.partial, false);
  assert.equal(frames.length, 1);
});

test("HTTP/2 frame reader accepts larger frames once its maximum is raised", () => {
  const { frames, reader } = collector({ maxFrameSize: 20000 });
  feed(reader, [encodeData(1, ramp(20000))]);
  assert.equal(frames.length, 1);
  assert.ok(thrown(() => (reader.maxFrameSize = 16383)) instanceof RangeError);
  assert.ok(thrown(() => (reader.maxFrameSize = 0x1000000)) instanceof RangeError);
});

// ---------------------------------------------------------------------------------------
// Broken rules

const CONNECTION_ERRORS: Array<{
  name: string;
  wire: Uint8Array;
  errorCode: number;
  message: RegExp;
}> = [
  {
    name: "a frame over the maximum frame size (from its header alone)",
    wire: hex("004001 00 00 00000001"),
    errorCode: ErrorCode.FRAME_SIZE_ERROR,
    message: /Frame larger than the maximum frame size of 16384: 16385/,
  },
  {
    name: "SETTINGS with a length not a multiple of 6",
    wire: encodeFrame(FrameType.SETTINGS, 0, 0, ramp(7)),
    errorCode: ErrorCode.FRAME_SIZE_ERROR,
    message: /SETTINGS frame length is not a multiple of 6: 7/,
  },
  {
    name: "a SETTINGS acknowledgement with a payload",
    wire: encodeFrame(FrameType.SETTINGS, Flag.ACK, 0, ramp(6)),
    errorCode: ErrorCode.FRAME_SIZE_ERROR,
    message: /SETTINGS acknowledgement with a payload: 6/,
  },
  {
    name: "SETTINGS on a stream",
    wire: encodeFrame(FrameType.SETTINGS, 0, 1),
    errorCode: ErrorCode.PROTOCOL_ERROR,
    message: /SETTINGS frame on a stream: 1/,
  },
  {
    name: "SETTINGS_ENABLE_PUSH of 2",
    wire: encodeSettings([SettingId.ENABLE_PUSH, 2]),
    errorCode: ErrorCode.PROTOCOL_ERROR,
    message: /Invalid SETTINGS_ENABLE_PUSH: 2/,
  },
  {
    name: "SETTINGS_INITIAL_WINDOW_SIZE above 2^31 - 1",
    wire: encodeSettings([SettingId.INITIAL_WINDOW_SIZE, 0x80000000]),
    errorCode: ErrorCode.FLOW_CONTROL_ERROR,
    message: /Invalid SETTINGS_INITIAL_WINDOW_SIZE: 2147483648/,
  },
  {
    name: "SETTINGS_MAX_FRAME_SIZE below 16384",
    wire: encodeSettings([SettingId.MAX_FRAME_SIZE, 16383]),
    errorCode: ErrorCode.PROTOCOL_ERROR,
    message: /Invalid SETTINGS_MAX_FRAME_SIZE: 16383/,
  },
  {
    name: "SETTINGS_MAX_FRAME_SIZE above 2^24 - 1",
    wire: encodeSettings([SettingId.MAX_FRAME_SIZE, 0x1000000]),
    errorCode: ErrorCode.PROTOCOL_ERROR,
    message: /Invalid SETTINGS_MAX_FRAME_SIZE: 16777216/,
  },
  {
    name: "PING with 7 octets",
    wire: encodeFrame(FrameType.PING, 0, 0, ramp(7)),
    errorCode: ErrorCode.FRAME_SIZE_ERROR,
    message: /PING frame length is not 8: 7/,
  },
  {
    name: "PING on a stream",
    wire: encodeFrame(FrameType.PING, 0, 3, ramp(8)),
    errorCode: ErrorCode.PROTOCOL_ERROR,
    message: /PING frame on a stream: 3/,
  },
  {
    name: "WINDOW_UPDATE with 3 octets",
    wire: encodeFrame(FrameType.WINDOW_UPDATE, 0, 1, ramp(3)),
    errorCode: ErrorCode.FRAME_SIZE_ERROR,
    message: /WINDOW_UPDATE frame length is not 4: 3/,
  },
  {
    name: "WINDOW_UPDATE of 0 on the connection",
    wire: encodeFrame(FrameType.WINDOW_UPDATE, 0, 0, hex("80000000")),
    errorCode: ErrorCode.PROTOCOL_ERROR,
    message: /WINDOW_UPDATE frame with an increment of 0/,
  },
  {
    name: "RST_STREAM with 5 octets",
    wire: encodeFrame(FrameType.RST_STREAM, 0, 1, ramp(5)),
    errorCode: ErrorCode.FRAME_SIZE_ERROR,
    message: /RST_STREAM frame length is not 4: 5/,
  },
  {
    name: "RST_STREAM on stream 0",
    wire: encodeRstStream(0, ErrorCode.CANCEL),
    errorCode: ErrorCode.PROTOCOL_ERROR,
    message: /RST_STREAM frame on stream 0/,
  },
  {
    name: "PRIORITY on stream 0",
    wire: encodePriority(0, { exclusive: false, dependency: 1, weight: 1 }),
    errorCode: ErrorCode.PROTOCOL_ERROR,
    message: /PRIORITY frame on stream 0/,
  },
  {
    name: "GOAWAY with 7 octets",
    wire: encodeFrame(FrameType.GOAWAY, 0, 0, ramp(7)),
    errorCode: ErrorCode.FRAME_SIZE_ERROR,
    message: /GOAWAY frame shorter than 8: 7/,
  },
  {
    name: "GOAWAY on a stream",
    wire: encodeFrame(FrameType.GOAWAY, 0, 1, ramp(8)),
    errorCode: ErrorCode.PROTOCOL_ERROR,
    message: /GOAWAY frame on a stream: 1/,
  },
  {
    name: "DATA on stream 0",
    wire: encodeData(0, ramp(3)),
    errorCode: ErrorCode.PROTOCOL_ERROR,
    message: /DATA frame on stream 0/,
  },
  {
    name: "DATA whose padding is as long as the payload",
    wire: encodeFrame(FrameType.DATA, Flag.PADDED, 1, hex("05 01020304")),
    errorCode: ErrorCode.PROTOCOL_ERROR,
    message: /DATA padding longer than the payload: 5 of 5/,
  },
  {
    name: "padded DATA without room for the pad length",
    wire: encodeFrame(FrameType.DATA, Flag.PADDED, 1),
    errorCode: ErrorCode.FRAME_SIZE_ERROR,
    message: /DATA frame too short for its fields: 0/,
  },
  {
    name: "HEADERS on stream 0",
    wire: encodeHeaders(0, hex("82")),
    errorCode: ErrorCode.PROTOCOL_ERROR,
    message: /HEADERS frame on stream 0/,
  },
  {
    name: "HEADERS too short for padding and priority",
    wire: encodeFrame(
      FrameType.HEADERS,
      Flag.PADDED | Flag.PRIORITY | Flag.END_HEADERS,
      1,
      ramp(5),
    ),
    errorCode: ErrorCode.FRAME_SIZE_ERROR,
    message: /HEADERS frame too short for its fields: 5/,
  },
  {
    name: "HEADERS depending on its own stream",
    wire: encodeHeaders(3, hex("82"), { priority: { exclusive: false, dependency: 3, weight: 1 } }),
    errorCode: ErrorCode.PROTOCOL_ERROR,
    message: /Stream depends on itself: 3/,
  },
  {
    name: "PUSH_PROMISE too short for the promised stream",
    wire: encodeFrame(FrameType.PUSH_PROMISE, Flag.END_HEADERS, 1, ramp(3)),
    errorCode: ErrorCode.FRAME_SIZE_ERROR,
    message: /PUSH_PROMISE frame too short for its fields: 3/,
  },
  {
    name: "CONTINUATION without a header block",
    wire: encodeFrame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, hex("82")),
    errorCode: ErrorCode.PROTOCOL_ERROR,
    message: /CONTINUATION frame without a header block on stream 1/,
  },
  {
    name: "another frame inside a header block",
    wire: concat([encodeFrame(FrameType.HEADERS, 0, 1, hex("82")), encodePing(ramp(8))]),
    errorCode: ErrorCode.PROTOCOL_ERROR,
    message: /Expected a CONTINUATION frame on stream 1: PING on stream 0/,
  },
  {
    name: "a CONTINUATION frame of another stream",
    wire: concat([
      encodeFrame(FrameType.HEADERS, 0, 1, hex("82")),
      encodeFrame(FrameType.CONTINUATION, Flag.END_HEADERS, 3, hex("84")),
    ]),
    errorCode: ErrorCode.PROTOCOL_ERROR,
    message: /Expected a CONTINUATION frame on stream 1: CONTINUATION on stream 3/,
  },
  {
    name: "a frame of unknown type inside a header block",
    wire: concat([encodeFrame(FrameType.HEADERS, 0, 1, hex("82")), encodeFrame(0xfa, 0, 1)]),
    errorCode: ErrorCode.PROTOCOL_ERROR,
    message: /Expected a CONTINUATION frame on stream 1: 0xfa on stream 1/,
  },
];

for (const { name, wire, errorCode, message } of CONNECTION_ERRORS) {
  test(`HTTP/2 frame reader refuses ${name}`, () => {
    const { frames, reader } = collector();
    const error = thrown(() => feed(reader, [wire]));
    assert.ok(error instanceof HTTP2FrameError, `${error}`);
    assert.equal(error.code, "ERR_HTTP2_FRAME");
    assert.equal(error.errorCode, errorCode, error.errorName);
    assert.equal(error.streamId, 0);
    assert.match(error.message, message);
    assert.equal(frames.length, 0);
    // The reader is done: more input gets the same error.
    assert.equal(thrown(() => reader.push(encodePing(ramp(8)))), error);
  });
}

const STREAM_ERRORS: Array<{ name: string; wire: Uint8Array; errorCode: number; message: RegExp }> =
  [
    {
      name: "PRIORITY with 4 octets",
      wire: encodeFrame(FrameType.PRIORITY, 0, 5, ramp(4)),
      errorCode: ErrorCode.FRAME_SIZE_ERROR,
      message: /PRIORITY frame length is not 5: 4/,
    },
    {
      name: "PRIORITY depending on its own stream",
      wire: encodePriority(5, { exclusive: false, dependency: 5, weight: 1 }),
      errorCode: ErrorCode.PROTOCOL_ERROR,
      message: /Stream depends on itself: 5/,
    },
    {
      name: "WINDOW_UPDATE of 0 on a stream",
      wire: encodeFrame(FrameType.WINDOW_UPDATE, 0, 5, hex("00000000")),
      errorCode: ErrorCode.PROTOCOL_ERROR,
      message: /WINDOW_UPDATE frame with an increment of 0/,
    },
  ];

for (const { name, wire, errorCode, message } of STREAM_ERRORS) {
  test(`HTTP/2 frame reader reports ${name} as a stream error and reads on`, () => {
    const { frames, streamErrors, reader } = collector();
    feed(reader, [concat([wire, encodePing(ramp(8))])]);
    assert.equal(streamErrors.length, 1);
    const [error] = streamErrors;
    assert.ok(error instanceof HTTP2FrameError);
    assert.equal(error.errorCode, errorCode);
    assert.equal(error.streamId, 5);
    assert.match(error.message, message);
    assert.deepEqual(frames.map((f) => f.type), [FrameType.PING]);
  });
}

test("HTTP/2 frame reader bounds a flood of empty CONTINUATION frames", () => {
  const { frames, reader } = collector({ maxHeaderBlockSize: 1000 });
  const flood = [encodeFrame(FrameType.HEADERS, 0, 1, hex("82"))];
  for (let i = 0; i < 200; i++) flood.push(encodeFrame(FrameType.CONTINUATION, 0, 1));
  const error = thrown(() => feed(reader, [concat(flood)]));
  assert.ok(error instanceof HTTP2HeaderListTooLargeError, `${error}`);
  assert.equal(error.errorCode, ErrorCode.ENHANCE_YOUR_CALM);
  assert.match(error.message, /Header block larger than the limit of 1000 octets/);
  assert.equal(frames.length, 0);
});

test("HTTP/2 frame reader default header block limit passes a 64 KiB block", () => {
  const { frames, reader } = collector();
  feed(reader, [encodeHeaders(1, ramp(64 * 1024))]);
  assert.equal(frames.length, 1);
  const over = collector();
  const error = thrown(() => feed(over.reader, [encodeHeaders(1, ramp(100 * 1024))]));
  assert.ok(error instanceof HTTP2HeaderListTooLargeError);
});

test("HTTP/2 frame writers refuse out-of-range arguments", () => {
  assert.ok(thrown(() => encodePing(ramp(7))) instanceof RangeError);
  assert.ok(thrown(() => encodeWindowUpdate(1, 0)) instanceof RangeError);
  assert.ok(thrown(() => encodeWindowUpdate(1, 0x80000000)) instanceof RangeError);
  assert.equal(DEFAULT_MAX_FRAME_SIZE, 16384);
});
