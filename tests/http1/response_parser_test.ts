/**
 * `ResponseParser` driven directly: no sockets. Every valid response of the table is also
 * fed split at every byte offset and byte by byte, and must give the same events.
 */

import { assert, test } from "../_harness.ts";
import {
  HeadersTooLargeError,
  IncompleteRead,
  InvalidChunkLength,
  InvalidHeader,
  ProtocolError,
} from "../../src/errors.ts";
import {
  DEFAULT_PARSER_LIMITS,
  type ParserLimits,
  type ResponseHead,
  ResponseParser,
} from "../../src/http1/response_parser.ts";
import {
  assertThrows,
  byteByByte,
  bytes,
  latin1,
  parse,
  run,
  splits,
  thrown,
} from "./_parser_driver.ts";

// ---------------------------------------------------------------------------------------
// Table of valid responses

interface ValidCase {
  name: string;
  input: string;
  method?: string;
  finish?: boolean;
  status: number;
  reason?: string;
  version?: 10 | 11;
  rawHeaders?: string[];
  contentLength: number;
  chunked?: boolean;
  keepAlive: boolean;
  body?: string;
  trailers?: string[] | null;
  extra?: boolean;
}

const VALID: ValidCase[] = [
  {
    name: "HTTP/1.1 with Content-Length",
    input: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    status: 200,
    reason: "OK",
    rawHeaders: ["Content-Length", "5"],
    contentLength: 5,
    keepAlive: true,
    body: "hello",
  },
  {
    name: "HTTP/1.0 with Content-Length closes",
    input: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    status: 200,
    version: 10,
    contentLength: 2,
    keepAlive: false,
    body: "ok",
  },
  {
    name: "HTTP/1.0 with Connection: keep-alive is kept",
    input: "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok",
    status: 200,
    version: 10,
    contentLength: 2,
    keepAlive: true,
    body: "ok",
  },
  {
    name: "HTTP/1.0 keep-alive without a length runs to the close",
    input: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\nuntil close",
    finish: true,
    status: 200,
    version: 10,
    contentLength: -1,
    keepAlive: false,
    body: "until close",
  },
  {
    name: "HTTP/1.0 Connection: keep-alive, close closes",
    input: "HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n",
    status: 200,
    version: 10,
    contentLength: 0,
    keepAlive: false,
  },
  {
    name: "HTTP/1.1 Connection: keep-alive, close closes",
    input: "HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n",
    status: 200,
    contentLength: 0,
    keepAlive: false,
  },
  {
    name: "HTTP/1.1 Connection: Close in another case, among other tokens",
    input: "HTTP/1.1 200 OK\r\nConnection: Upgrade ,  CLOSE\r\nContent-Length: 0\r\n\r\n",
    status: 200,
    contentLength: 0,
    keepAlive: false,
  },
  {
    name: "HTTP/1.1 close in a second Connection line",
    input: "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nConnection: close\r\n" +
      "Content-Length: 0\r\n\r\n",
    status: 200,
    contentLength: 0,
    keepAlive: false,
  },
  {
    name: "HTTP/1.2 counts as 1.1",
    input: "HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n",
    status: 200,
    version: 11,
    contentLength: 0,
    keepAlive: true,
  },
  {
    name: "empty reason after the space",
    input: "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n",
    status: 200,
    reason: "",
    contentLength: 0,
    keepAlive: true,
  },
  {
    name: "no reason and no space",
    input: "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n",
    status: 404,
    reason: "",
    contentLength: 0,
    keepAlive: true,
  },
  {
    name: "reason with spaces, tabs and latin1",
    input: "HTTP/1.1 599 Some\tcustom  reason \xe9\r\nContent-Length: 0\r\n\r\n",
    status: 599,
    reason: "Some\tcustom  reason \xe9",
    contentLength: 0,
    keepAlive: true,
  },
  {
    name: "header case, order and repeats kept; values trimmed",
    input: "HTTP/1.1 200 OK\r\nx-lower: a\r\nSet-Cookie: a=1\r\nX-UPPER:   b  \t\r\n" +
      "set-cookie: b=2\r\nEmpty:\r\nLatin: caf\xe9\r\nContent-Length: 0\r\n\r\n",
    status: 200,
    rawHeaders: [
      "x-lower",
      "a",
      "Set-Cookie",
      "a=1",
      "X-UPPER",
      "b",
      "set-cookie",
      "b=2",
      "Empty",
      "",
      "Latin",
      "caf\xe9",
      "Content-Length",
      "0",
    ],
    contentLength: 0,
    keepAlive: true,
  },
  {
    name: "obs-fold is unfolded into one space",
    input: "HTTP/1.1 200 OK\r\nX-Folded: one\r\n  two\r\n\tthree  \r\nContent-Length: 0\r\n\r\n",
    status: 200,
    rawHeaders: ["X-Folded", "one two three", "Content-Length", "0"],
    contentLength: 0,
    keepAlive: true,
  },
  {
    name: "obs-fold after an empty value gives no leading space",
    input: "HTTP/1.1 200 OK\r\nX-Folded:\r\n  value\r\nContent-Length: 0\r\n\r\n",
    status: 200,
    rawHeaders: ["X-Folded", "value", "Content-Length", "0"],
    contentLength: 0,
    keepAlive: true,
  },
  {
    name: "LF-only line ends",
    input: "HTTP/1.1 200 OK\nContent-Length: 3\nX: y\n\nabc",
    status: 200,
    rawHeaders: ["Content-Length", "3", "X", "y"],
    contentLength: 3,
    keepAlive: true,
    body: "abc",
  },
  {
    name: "repeated equal Content-Length lines and lists",
    input: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\ncontent-length: 3, 3\r\n\r\nabc",
    status: 200,
    contentLength: 3,
    keepAlive: true,
    body: "abc",
  },
  {
    name: "Content-Length: 0",
    input: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    status: 200,
    contentLength: 0,
    keepAlive: true,
  },
  {
    name: "chunked with extensions and trailers",
    input: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
      '5;name=value;q="quoted ; \\" x"\r\nhello\r\n' +
      "6 \t; ext\r\n world\r\n" +
      "A\r\n0123456789\r\n" +
      "0;last\r\nX-Trailer: yes\r\nx-other:  two \r\n\r\n",
    status: 200,
    contentLength: -1,
    chunked: true,
    keepAlive: true,
    body: "hello world0123456789",
    trailers: ["X-Trailer", "yes", "x-other", "two"],
  },
  {
    name: "chunked with upper-case hex, leading zeros and no trailers",
    input: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "0000B\r\nhello world\r\n0\r\n\r\n",
    status: 200,
    contentLength: -1,
    chunked: true,
    keepAlive: true,
    body: "hello world",
    trailers: null,
  },
  {
    name: "chunked with LF-only framing",
    input: "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n",
    status: 200,
    contentLength: -1,
    chunked: true,
    keepAlive: true,
    body: "abc",
  },
  {
    name: "Transfer-Encoding: gzip, chunked is chunked",
    input: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n2\r\nzz\r\n0\r\n\r\n",
    status: 200,
    contentLength: -1,
    chunked: true,
    keepAlive: true,
    body: "zz",
  },
  {
    name: "Content-Length and chunked: chunked wins, no reuse",
    input: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "5\r\nhello\r\n0\r\n\r\n",
    status: 200,
    contentLength: -1,
    chunked: true,
    keepAlive: false,
    body: "hello",
  },
  {
    name: "a non-chunked last coding runs to the close",
    input: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n3\r\nabc",
    finish: true,
    status: 200,
    contentLength: -1,
    chunked: false,
    keepAlive: false,
    body: "3\r\nabc",
  },
  {
    name: "chunked on HTTP/1.0 is decoded but not reused",
    input: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "1\r\nx\r\n0\r\n\r\n",
    status: 200,
    version: 10,
    contentLength: -1,
    chunked: true,
    keepAlive: false,
    body: "x",
  },
  {
    name: "close-delimited body completes at finish()",
    input: "HTTP/1.1 200 OK\r\nX: y\r\n\r\nall of this\r\n\r\nuntil the end",
    finish: true,
    status: 200,
    contentLength: -1,
    keepAlive: false,
    body: "all of this\r\n\r\nuntil the end",
  },
  {
    name: "close-delimited empty body",
    input: "HTTP/1.1 200 OK\r\n\r\n",
    finish: true,
    status: 200,
    contentLength: -1,
    keepAlive: false,
  },
  {
    name: "HEAD response has no body despite Content-Length",
    method: "HEAD",
    input: "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
    status: 200,
    contentLength: 0,
    keepAlive: true,
  },
  {
    name: "HEAD response with chunked has no body",
    method: "HEAD",
    input: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    status: 200,
    contentLength: 0,
    chunked: false,
    keepAlive: true,
  },
  {
    name: "204 has no body",
    input: "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
    status: 204,
    contentLength: 0,
    keepAlive: true,
  },
  {
    name: "304 has no body and no length needed",
    input: "HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n",
    status: 304,
    contentLength: 0,
    keepAlive: true,
  },
  {
    name: "100 Continue is skipped",
    input: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    status: 200,
    rawHeaders: ["Content-Length", "2"],
    contentLength: 2,
    keepAlive: true,
    body: "ok",
  },
  {
    name: "103 Early Hints (and 102) are skipped with their headers",
    input: "HTTP/1.1 102 Processing\r\n\r\n" +
      "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n" +
      "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
    status: 201,
    reason: "Created",
    rawHeaders: ["Content-Length", "0"],
    contentLength: 0,
    keepAlive: true,
  },
  {
    name: "extra bytes after a Content-Length body",
    input: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA",
    status: 200,
    contentLength: 2,
    keepAlive: true,
    body: "ok",
    extra: true,
  },
  {
    name: "extra bytes after a chunked body",
    input: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\nX",
    status: 200,
    contentLength: -1,
    chunked: true,
    keepAlive: true,
    body: "ok",
    extra: true,
  },
  {
    name: "extra bytes after a bodiless 204",
    input: "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
    status: 204,
    contentLength: 0,
    keepAlive: true,
    extra: true,
  },
  {
    name: "extra bytes after an empty Content-Length body",
    input: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n\r\n",
    status: 200,
    contentLength: 0,
    keepAlive: true,
    extra: true,
  },
];

for (const c of VALID) {
  test(`ResponseParser: ${c.name}`, () => {
    const outcome = parse(c.input, { method: c.method, finish: c.finish });
    const head = outcome.head;
    assert.ok(head !== null, "a head was reported");
    assert.equal(head.status, c.status);
    if (c.reason !== undefined) assert.equal(head.reason, c.reason);
    assert.equal(head.version, c.version ?? 11);
    if (c.rawHeaders) assert.deepEqual(head.rawHeaders, c.rawHeaders);
    assert.equal(head.contentLength, c.contentLength, "contentLength");
    assert.equal(head.chunked, c.chunked ?? false, "chunked");
    assert.equal(head.keepAlive, c.keepAlive, "keepAlive");
    assert.equal(outcome.body, c.body ?? "");
    assert.equal(outcome.complete, true, "complete");
    assert.deepEqual(outcome.trailers, c.trailers ?? null);
    assert.equal(outcome.extra, c.extra ?? false, "extra bytes");
    assert.deepEqual(
      outcome.order,
      (c.body ?? "") === "" ? ["head", "complete"] : ["head", "body", "complete"],
    );
  });
}

test("ResponseParser: every valid response gives the same events split at every offset", () => {
  let runs = 0;
  for (const c of VALID) {
    const data = bytes(c.input);
    const options = { method: c.method, finish: c.finish };
    const whole = run([data], options);
    for (const pieces of splits(data)) {
      const split = run(pieces, options);
      assert.deepEqual(split, whole, `${c.name}: split at ${pieces[0].length}`);
      runs++;
    }
    // Empty pieces in between change nothing.
    const withEmpty = run([new Uint8Array(0), data, new Uint8Array(0)], options);
    assert.deepEqual(withEmpty, whole, `${c.name}: with empty pieces`);
  }
  assert.ok(runs > 1000, `ran ${runs} splits`);
});

test("ResponseParser: every valid response gives the same events byte by byte", () => {
  for (const c of VALID) {
    const data = bytes(c.input);
    const options = { method: c.method, finish: c.finish };
    assert.deepEqual(run(byteByByte(data), options), run([data], options), c.name);
  }
});

test("ResponseParser: a body is reported before the response ends (streaming)", () => {
  const parser = new ResponseParser();
  const seen: string[] = [];
  parser.start("GET", {
    onHead: (head) => seen.push(`head ${head.status}`),
    onBody: (data, start, end) => seen.push(`body ${latin1(data.subarray(start, end))}`),
    onComplete: () => seen.push("complete"),
  });
  parser.execute(bytes("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nab"));
  assert.deepEqual(seen, ["head 200", "body ab"]);
  parser.execute(bytes("cd"));
  assert.deepEqual(seen, ["head 200", "body ab", "body cd"]);
  assert.equal(parser.done, false);
  parser.execute(bytes("ef"));
  assert.deepEqual(seen, ["head 200", "body ab", "body cd", "body ef", "complete"]);
  assert.equal(parser.done, true);
  assert.equal(parser.bytesSeen, 44);
});

test("ResponseParser: one parser serves several responses in a row", () => {
  const parser = new ResponseParser();
  const first = run([
    bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: 1\r\n\r\n"),
  ], { parser });
  assert.equal(first.body, "abc");
  assert.deepEqual(first.trailers, ["T", "1"]);
  // A response head left half-read by nothing: the next start begins clean.
  const second = run(byteByByte(bytes("HTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx")), {
    parser,
  });
  assert.equal(second.head?.status, 201);
  assert.equal(second.body, "x");
  assert.equal(second.trailers, null);
  const third = run([bytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")], {
    parser,
    method: "HEAD",
  });
  assert.equal(third.complete, true);
  assert.equal(parser.bytesSeen, 38);
});

// ---------------------------------------------------------------------------------------
// Invalid responses

interface InvalidCase {
  name: string;
  input: string;
  error: new (...args: never[]) => Error;
  message?: RegExp;
  limits?: ParserLimits;
  finish?: boolean;
}

const SMALL: ParserLimits = { maxHeaderSize: 100, maxHeaderCount: 3 };
const CHUNKED = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";

/** A head of exactly `size` bytes (status line, one padded header, blank line). */
function headOfSize(size: number): string {
  const fixed = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX: \r\n\r\n".length;
  return `HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX: ${"a".repeat(size - fixed)}\r\n\r\n`;
}

const INVALID: InvalidCase[] = [
  ...[
    "HTTP/1.1 20 OK",
    "HTTP/1.1 2000 OK",
    "HTTP/1.1 OK",
    "HTTP/1.1  200 OK",
    "HTTP/1.1 200OK",
    "http/1.1 200 OK",
    "HTTP/2 200 OK",
    "HTTP/1 200 OK",
    "HTTP/1.1 099 Too low",
    "ICY 200 OK",
    "",
    "200 OK",
    " HTTP/1.1 200 OK",
  ].map((line): InvalidCase => ({
    name: `invalid status line ${JSON.stringify(line)}`,
    input: `${line}\r\nContent-Length: 0\r\n\r\n`,
    error: ProtocolError,
    message: /Invalid status (line|code)/,
  })),
  {
    name: "101 Switching Protocols is rejected",
    input: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
    error: ProtocolError,
    message: /101/,
  },
  {
    name: "NUL in a header value",
    input: "HTTP/1.1 200 OK\r\nX: a\0b\r\nContent-Length: 0\r\n\r\n",
    error: InvalidHeader,
    message: /NUL/,
  },
  {
    name: "NUL in the status line",
    input: "HTTP/1.1 200 O\0K\r\nContent-Length: 0\r\n\r\n",
    error: InvalidHeader,
  },
  {
    name: "bare CR inside a header line",
    input: "HTTP/1.1 200 OK\r\nX: a\rInjected: 1\r\nContent-Length: 0\r\n\r\n",
    error: InvalidHeader,
    message: /Bare CR/,
  },
  ...["NoColon", ": no name", "Bad Name: x", "Name : x", "Näme: x", "(x): y"].map((
    line,
  ): InvalidCase => ({
    name: `malformed header line ${JSON.stringify(line)}`,
    input: `HTTP/1.1 200 OK\r\n${line}\r\nContent-Length: 0\r\n\r\n`,
    error: InvalidHeader,
    message: /Malformed header line/,
  })),
  {
    name: "a folded line with no header before it",
    input: "HTTP/1.1 200 OK\r\n folded: x\r\nContent-Length: 0\r\n\r\n",
    error: InvalidHeader,
    message: /Folded line/,
  },
  {
    name: "differing Content-Length lines",
    input: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    error: InvalidHeader,
    message: /disagree/,
  },
  {
    name: "differing Content-Length list",
    input: "HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\nabcd",
    error: InvalidHeader,
    message: /disagree/,
  },
  ...["abc", "-1", "+5", "1e3", "0x10", "", "5 5", "5,", "1234567890123456"].map((
    value,
  ): InvalidCase => ({
    name: `garbage Content-Length ${JSON.stringify(value)}`,
    input: `HTTP/1.1 200 OK\r\nContent-Length: ${value}\r\n\r\n`,
    error: InvalidHeader,
    message: /Invalid Content-Length/,
  })),
  ...["zz", "", "-1", "0x5", " 5", "5 x", "1234567890abc", "5\0"].map((line): InvalidCase => ({
    name: `invalid chunk size ${JSON.stringify(line)}`,
    input: `${CHUNKED}${line}\r\nhello\r\n0\r\n\r\n`,
    error: line.includes("\0") ? ProtocolError : InvalidChunkLength,
  })),
  {
    name: "a chunk-size line longer than 4096 bytes",
    input: `${CHUNKED}5;${"x".repeat(5000)}\r\nhello\r\n0\r\n\r\n`,
    error: InvalidChunkLength,
  },
  {
    name: "chunk data not followed by CRLF",
    input: `${CHUNKED}5\r\nhelloX\r\n0\r\n\r\n`,
    error: ProtocolError,
    message: /Missing CRLF after chunk data/,
  },
  {
    name: "chunk data followed directly by the next size",
    input: `${CHUNKED}5\r\nhello0\r\n\r\n`,
    error: ProtocolError,
    message: /Missing CRLF after chunk data/,
  },
  {
    name: "head larger than maxHeaderSize",
    input: headOfSize(101),
    limits: SMALL,
    error: HeadersTooLargeError,
    message: /maxHeaderSize/,
  },
  {
    name: "head without an end larger than maxHeaderSize",
    input: `HTTP/1.1 200 OK\r\nX: ${"a".repeat(200)}`,
    limits: SMALL,
    error: HeadersTooLargeError,
    message: /maxHeaderSize/,
  },
  {
    name: "more header lines than maxHeaderCount",
    input: "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n",
    limits: SMALL,
    error: HeadersTooLargeError,
    message: /maxHeaderCount/,
  },
  {
    name: "trailers larger than maxHeaderSize",
    input: `${CHUNKED}0\r\nT1: ${"a".repeat(60)}\r\nT2: ${"b".repeat(60)}\r\n\r\n`,
    limits: { maxHeaderSize: 120, maxHeaderCount: 3 },
    error: HeadersTooLargeError,
    message: /Trailers/,
  },
  {
    name: "one unterminated trailer line larger than maxHeaderSize",
    input: `${CHUNKED}0\r\nT: ${"a".repeat(500)}`,
    limits: { maxHeaderSize: 120, maxHeaderCount: 3 },
    error: HeadersTooLargeError,
  },
  {
    name: "more trailer lines than maxHeaderCount",
    input: `${CHUNKED}0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n`,
    limits: { maxHeaderSize: 120, maxHeaderCount: 3 },
    error: HeadersTooLargeError,
    message: /maxHeaderCount/,
  },
  {
    name: "malformed trailer line",
    input: `${CHUNKED}0\r\nnot a trailer\r\n\r\n`,
    error: InvalidHeader,
  },
  {
    name: "bare CR in chunked framing",
    input: `${CHUNKED}5\rx\r\nhello\r\n0\r\n\r\n`,
    error: ProtocolError,
  },
];

for (const c of INVALID) {
  test(`ResponseParser rejects ${c.name}`, () => {
    assertThrows(() => parse(c.input, { limits: c.limits, finish: true }), c.error, c.message);
  });
}

test("ResponseParser: every invalid response fails the same way split at every offset", () => {
  for (const c of INVALID) {
    const data = bytes(c.input);
    const options = { limits: c.limits, finish: true };
    const expected = thrown(() => run([data], options));
    for (const pieces of [...splits(data), byteByByte(data)]) {
      const error = thrown(() => run(pieces, options));
      assert.equal(
        error.constructor,
        expected.constructor,
        `${c.name}: split at ${pieces[0].length}: ${error.message}`,
      );
    }
  }
});

test("ResponseParser: an unterminated head or trailer fails while it arrives, not at the end", () => {
  const parser = new ResponseParser(SMALL);
  parser.start("GET", { onHead() {}, onBody() {}, onComplete() {} });
  parser.execute(bytes("HTTP/1.1 200 OK\r\nX: "));
  assertThrows(() => parser.execute(bytes("a".repeat(100))), HeadersTooLargeError);

  const trailers = new ResponseParser({ maxHeaderSize: 120, maxHeaderCount: 3 });
  trailers.start("GET", { onHead() {}, onBody() {}, onComplete() {} });
  trailers.execute(bytes(`${CHUNKED}0\r\nT: `));
  assertThrows(() => {
    for (let i = 0; i < 100; i++) trailers.execute(bytes("a".repeat(10)));
  }, HeadersTooLargeError);
});

test("ResponseParser: limits are inclusive (exactly maxHeaderSize bytes, maxHeaderCount lines)", () => {
  const exact = headOfSize(100);
  assert.equal(exact.length, 100);
  const ok = parse(exact, { limits: SMALL });
  assert.equal(ok.complete, true);
  assert.equal(byteByByte(bytes(exact)).length, 100);
  assert.equal(run(byteByByte(bytes(exact)), { limits: SMALL }).complete, true);
  const three = parse("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nContent-Length: 0\r\n\r\n", {
    limits: SMALL,
  });
  assert.deepEqual(three.head?.rawHeaders, ["A", "1", "B", "2", "Content-Length", "0"]);
  // The limit is on the head: a body of any size follows a head at the limit.
  const withBody = headOfSize(100).replace("Content-Length: 0", "Content-Length: 9");
  assert.equal(withBody.length, 100);
  assert.equal(parse(withBody + "x".repeat(900), { limits: SMALL }).extra, true);
  // The default limits: 64 KiB and 128 lines.
  const many = Array.from({ length: 128 }, (_, i) => `H${i}: v\r\n`).join("");
  assert.equal(parse(`HTTP/1.1 204 No Content\r\n${many}\r\n`).head?.rawHeaders.length, 256);
  assertThrows(
    () => parse(`HTTP/1.1 204 No Content\r\n${many}H: v\r\n\r\n`),
    HeadersTooLargeError,
  );
  assertThrows(
    () => parse(`HTTP/1.1 204 No Content\r\nX: ${"a".repeat(64 * 1024)}\r\n\r\n`),
    HeadersTooLargeError,
  );
});

// ---------------------------------------------------------------------------------------
// finish()

test("ResponseParser.finish: no bytes at all is 'Connection aborted'", () => {
  const parser = new ResponseParser();
  parser.start("GET", { onHead() {}, onBody() {}, onComplete() {} });
  parser.execute(new Uint8Array(0));
  const error = assertThrows(() => parser.finish(), ProtocolError, /^Connection aborted/);
  assert.equal(error.cause, undefined);
});

test("ResponseParser.finish: a partial head is 'Connection broken'", () => {
  for (const partial of ["H", "HTTP/1.1 200 OK\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"]) {
    const error = assertThrows(
      () => parse(partial, { finish: true }),
      ProtocolError,
      /^Connection broken/,
    );
    assert.doesNotMatch(error.message, /aborted/);
  }
});

test("ResponseParser.finish: a truncated Content-Length body is a ProtocolError caused by IncompleteRead", () => {
  const error = assertThrows(
    () => parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", { finish: true }),
    ProtocolError,
    /IncompleteRead\(3 bytes read, 7 more expected\)/,
  );
  assert.ok(error.cause instanceof IncompleteRead, `cause: ${error.cause}`);
  assert.equal(error.cause.partial, 3);
  assert.equal(error.cause.expected, 7);
  // Split anywhere, the counts are the same.
  const data = bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
  for (const pieces of [...splits(data), byteByByte(data)]) {
    const e = thrown(() => run(pieces, { finish: true }));
    assert.ok(e.cause instanceof IncompleteRead);
    assert.deepEqual([e.cause.partial, e.cause.expected], [3, 7]);
  }
});

test("ResponseParser.finish: a truncated chunked body is a ProtocolError caused by IncompleteRead", () => {
  for (
    const tail of [
      "5\r\nhel",
      "5\r\nhello",
      "5\r\nhello\r\n",
      "5\r\nhello\r\n0\r\n",
      "5\r\nhello\r\n0\r\nT: 1\r\n",
      "",
    ]
  ) {
    const error = assertThrows(
      () => parse(CHUNKED + tail, { finish: true }),
      ProtocolError,
      /prematurely/,
    );
    assert.ok(error.cause instanceof IncompleteRead, `${JSON.stringify(tail)}: ${error.cause}`);
  }
});

test("ResponseParser.finish: after a complete response it does nothing", () => {
  const parser = new ResponseParser();
  let completions = 0;
  parser.start("GET", { onHead() {}, onBody() {}, onComplete: () => completions++ });
  parser.execute(bytes("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"));
  parser.finish();
  parser.finish();
  assert.equal(completions, 1);
});

test("ResponseParser.finish: only an interim response arrived", () => {
  assertThrows(
    () => parse("HTTP/1.1 100 Continue\r\n\r\n", { finish: true }),
    ProtocolError,
    /Connection broken/,
  );
});

test("ResponseParser: at most 32 interim (1xx) responses before the final one", () => {
  const interim = "HTTP/1.1 100 Continue\r\n\r\n";
  const final = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  assert.equal(DEFAULT_PARSER_LIMITS.maxInterimResponses, 32);
  assert.equal(parse(interim.repeat(32) + final).body, "ok");
  assertThrows(
    () => parse(interim.repeat(33) + final),
    ProtocolError,
    /^More than 32 interim \(1xx\) responses before the final one \(maxInterimResponses\)$/,
  );
  // One at a time, as an endless stream of them arrives.
  assertThrows(
    () => run(Array.from({ length: 40 }, () => bytes(interim))),
    ProtocolError,
    /^More than 32 interim/,
  );
  // The count is per response: a parser reused for the next request starts again.
  const parser = new ResponseParser();
  for (let i = 0; i < 3; i++) {
    assert.equal(run([bytes(interim.repeat(32) + final)], { parser }).body, "ok");
  }
  // A limit of its own (limits without one use the default).
  const limits = { maxHeaderSize: 1024, maxHeaderCount: 8, maxInterimResponses: 2 };
  assert.equal(parse(interim.repeat(2) + final, { limits }).body, "ok");
  assertThrows(() => parse(interim.repeat(3) + final, { limits }), ProtocolError, /More than 2 /);
  const { maxInterimResponses: _, ...older } = limits;
  assert.equal(parse(interim.repeat(32) + final, { limits: older }).body, "ok");
});

test("ResponseParser: a head's header pairs are split on first use, even after the parser moved on", () => {
  const parser = new ResponseParser();
  const heads: ResponseHead[] = [];
  const events = { onHead: (head: ResponseHead) => heads.push(head), onBody() {}, onComplete() {} };
  parser.start("GET", events);
  parser.execute(bytes("HTTP/1.1 200 OK\r\nX-First: 1\r\nContent-Length: 0\r\n\r\n"));
  parser.start("GET", events);
  parser.execute(bytes("HTTP/1.1 204 No Content\r\nX-Second:  two \r\nX-Third: 3\r\n\r\n"));
  // Read only now: the first head must not see the parser's state for the second.
  assert.deepEqual(heads[0].rawHeaders, ["X-First", "1", "Content-Length", "0"]);
  assert.deepEqual(heads[1].rawHeaders, ["X-Second", "two", "X-Third", "3"]);
  assert.equal(heads[1].rawHeaders, heads[1].rawHeaders, "split once, then kept");
});

test("ResponseParser: contentEncoded says whether a Content-Encoding line was sent", () => {
  const head = (fields: string) =>
    parse(`HTTP/1.1 200 OK\r\n${fields}Content-Length: 0\r\n\r\n`).head;
  assert.equal(head("")?.contentEncoded, false);
  assert.equal(head("Content-Type: text/plain\r\n")?.contentEncoded, false);
  assert.equal(head("Content-Encoding: gzip\r\n")?.contentEncoded, true);
  assert.equal(head("content-ENCODING: identity\r\n")?.contentEncoded, true);
  // A folded head is split up front; the flag is read from its pairs.
  const folded = head("X-Folded: a\r\n b\r\nContent-Encoding: br\r\n");
  assert.equal(folded?.contentEncoded, true);
  assert.deepEqual(folded?.rawHeaders, [
    "X-Folded",
    "a b",
    "Content-Encoding",
    "br",
    "Content-Length",
    "0",
  ]);
});

test("ResponseParser: header lines are checked when the head arrives, not when they are read", () => {
  const parser = new ResponseParser();
  parser.start("GET", { onHead() {}, onBody() {}, onComplete() {} });
  assertThrows(
    () =>
      parser.execute(bytes("HTTP/1.1 200 OK\r\nGood: 1\r\nBad line\r\nContent-Length: 0\r\n\r\n")),
    InvalidHeader,
    /Malformed header line "Bad line"/,
  );
});

test("ResponseParser: a Keep-Alive line gives its timeout and max, -1 when not sent", () => {
  const hint = (fields: string, version = "1.1") => {
    const parser = new ResponseParser();
    let head: ResponseHead | null = null;
    parser.start("GET", { onHead: (h: ResponseHead) => head = h, onBody() {}, onComplete() {} });
    parser.execute(bytes(`HTTP/${version} 200 OK\r\n${fields}Content-Length: 0\r\n\r\n`));
    const { keepAliveTimeout, keepAliveMax } = head! as ResponseHead;
    return [keepAliveTimeout, keepAliveMax];
  };
  assert.deepEqual(hint(""), [-1, -1]);
  assert.deepEqual(hint("Keep-Alive: timeout=5, max=100\r\n"), [5, 100]);
  assert.deepEqual(hint("keep-alive: TIMEOUT = 7\r\n"), [7, -1]);
  assert.deepEqual(hint('Keep-Alive: max="3"\r\n'), [-1, 3]);
  assert.deepEqual(hint("Keep-Alive: timeout=0\r\n"), [0, -1]);
  assert.deepEqual(hint("Connection: keep-alive\r\nKeep-Alive: timeout=2\r\n", "1.0"), [2, -1]);
  // Repeated: the smaller wins; what is not a number is ignored.
  assert.deepEqual(hint("Keep-Alive: timeout=9\r\nKeep-Alive: timeout=4, max=2\r\n"), [4, 2]);
  assert.deepEqual(hint("Keep-Alive: timeout=soon, max=-1, foo, =3, timeout\r\n"), [-1, -1]);
  assert.deepEqual(hint("Keep-Alive: timeout=12345678901\r\n"), [-1, -1]);
  // A folded head is split up front; the hint is read from its pairs.
  assert.deepEqual(hint("X-Folded: a\r\n b\r\nKeep-Alive: timeout=3\r\n"), [3, -1]);
});
