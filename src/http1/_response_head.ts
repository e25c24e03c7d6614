/**
 * The text-level half of response parsing: a complete head block (status line and field
 * lines, already split into lines by the byte scanner in `response_parser.ts`) becomes a
 * status, flat header pairs and the framing they imply. Everything works on char codes
 * and slices of the one decoded block: no regular expressions, no per-line strings beyond
 * the names and values kept, and only the few framing names compared case-insensitively.
 *
 * @module
 */

import { HeadersTooLargeError, InvalidHeader, ProtocolError } from "../errors.ts";
import type { ParserLimits } from "./response_parser.ts";
import { charTable } from "../_char_table.ts";

const HTAB = 0x09;
const SP = 0x20;
const COMMA = 0x2c;
const COLON = 0x3a;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
/** A `Content-Length` of more than 15 digits is refused (beyond any real body). */
const MAX_LENGTH_DIGITS = 15;

/** 1 for each tchar (RFC 9110 section 5.6.2), indexed by char code. */
const TOKEN_CHARS = charTable(
  "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
);

/** A line quoted for an error message, cut at 80 characters. */
export function shorten(text: string): string {
  return JSON.stringify(text.length > 80 ? text.slice(0, 80) + "…" : text);
}

function isOws(c: number): boolean {
  return c === SP || c === HTAB;
}

/** `text.slice(start, end)` without leading and trailing SP and HTAB (RFC 9110 OWS). */
function trimmed(text: string, start: number, end: number): string {
  while (start < end && isOws(text.charCodeAt(start))) start++;
  while (end > start && isOws(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

/** True when `name` is the header name `canonical` (as usually sent) or `lower`, in any case. */
function isName(name: string, canonical: string, lower: string): boolean {
  return name === canonical || equalsIgnoringCase(name, 0, name.length, lower);
}

/** True when `text.slice(start, end)` equals `lower` ignoring ASCII case (token chars only). */
function equalsIgnoringCase(text: string, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    // For token characters, OR-ing 0x20 lower-cases letters and changes nothing else used here.
    if ((text.charCodeAt(start + i) | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Adds the field line `text.slice(start, end)` to `pairs` as name and trimmed value, or
 * unfolds it into the previous value when it is an obs-fold continuation (RFC 9112
 * section 5.2: the fold becomes one space).
 */
export function addFieldLine(
  text: string,
  start: number,
  end: number,
  pairs: string[],
  limits: ParserLimits,
): void {
  const first = text.charCodeAt(start);
  if (start < end && isOws(first)) {
    if (pairs.length === 0) {
      throw new InvalidHeader(`Folded line without a header: ${shorten(text.slice(start, end))}`);
    }
    // OWS around the value is trimmed as for any line (so a fold after an empty value
    // leaves no leading space); only SP and HTAB count, never other latin1 whitespace.
    const folded = trimmed(text, start, end);
    const previous = pairs[pairs.length - 1];
    pairs[pairs.length - 1] = previous === ""
      ? folded
      : folded === ""
      ? previous
      : `${previous} ${folded}`;
    return;
  }
  let colon = start;
  for (; colon < end; colon++) {
    const c = text.charCodeAt(colon);
    if (c >= 128 || TOKEN_CHARS[c] === 0) break;
  }
  if (colon === start || colon === end || text.charCodeAt(colon) !== COLON) {
    throw new InvalidHeader(`Malformed header line ${shorten(text.slice(start, end))}`);
  }
  if (pairs.length >= limits.maxHeaderCount * 2) {
    throw new HeadersTooLargeError(
      `Response has more than ${limits.maxHeaderCount} header lines (maxHeaderCount)`,
    );
  }
  pairs.push(text.slice(start, colon), trimmed(text, colon + 1, end));
}

/** What a status line says. */
export interface StatusLine {
  /** 11 for HTTP/1.1 (and later 1.x), 10 for HTTP/1.0. */
  version: 10 | 11;
  status: number;
  reason: string;
}

function isDigit(c: number): boolean {
  return c >= DIGIT_0 && c <= DIGIT_9;
}

/**
 * Parses `HTTP/1.x NNN reason` (the reason may be absent, and holds no control character
 * but HTAB).
 */
export function parseStatusLine(text: string, end: number): StatusLine {
  const valid = end >= 12 && text.startsWith("HTTP/1.") && isDigit(text.charCodeAt(7)) &&
    text.charCodeAt(8) === SP && isDigit(text.charCodeAt(9)) &&
    isDigit(text.charCodeAt(10)) && isDigit(text.charCodeAt(11)) &&
    (end === 12 || (text.charCodeAt(12) === SP && validReason(text, 13, end)));
  if (!valid) throw new ProtocolError(`Invalid status line: ${shorten(text.slice(0, end))}`);
  const status = (text.charCodeAt(9) - DIGIT_0) * 100 + (text.charCodeAt(10) - DIGIT_0) * 10 +
    text.charCodeAt(11) - DIGIT_0;
  if (status < 100) throw new ProtocolError(`Invalid status code: ${status}`);
  return {
    version: text.charCodeAt(7) === DIGIT_0 ? 10 : 11,
    status,
    reason: end > 13 ? text.slice(13, end) : "",
  };
}

function validReason(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if ((c < SP && c !== HTAB) || c === 0x7f) return false;
  }
  return true;
}

/** The framing facts gathered from the header lines. */
export interface Framing {
  /** -1 when absent. */
  contentLength: number;
  /** The last transfer coding, lower-cased, or null. */
  transferEncoding: string | null;
  /** `Connection: close` was sent. */
  close: boolean;
  /** `Connection: keep-alive` was sent. */
  keepAliveToken: boolean;
}

/** Reads the framing headers from flat pairs; other names cost one length comparison. */
export function framingOf(pairs: readonly string[]): Framing {
  const framing: Framing = {
    contentLength: -1,
    transferEncoding: null,
    close: false,
    keepAliveToken: false,
  };
  for (let i = 0; i < pairs.length; i += 2) {
    const name = pairs[i];
    // The length picks the one name worth comparing.
    switch (name.length) {
      case 14:
        if (isName(name, "Content-Length", "content-length")) {
          framing.contentLength = parseContentLength(pairs[i + 1], framing.contentLength);
        }
        break;
      case 17:
        if (isName(name, "Transfer-Encoding", "transfer-encoding")) {
          const codings = pairs[i + 1].split(",");
          framing.transferEncoding = codings[codings.length - 1].trim().toLowerCase();
        }
        break;
      case 10:
        if (isName(name, "Connection", "connection")) {
          readConnectionTokens(pairs[i + 1], framing);
        }
    }
  }
  return framing;
}

/** Notes `close` and `keep-alive` among the comma-separated tokens of a Connection value. */
function readConnectionTokens(value: string, framing: Framing): void {
  // The one value nearly every keep-alive response sends.
  if (value === "keep-alive") {
    framing.keepAliveToken = true;
    return;
  }
  let start = 0;
  while (start <= value.length) {
    let end = value.indexOf(",", start);
    if (end === -1) end = value.length;
    let from = start;
    let to = end;
    while (from < to && isOws(value.charCodeAt(from))) from++;
    while (to > from && isOws(value.charCodeAt(to - 1))) to--;
    if (equalsIgnoringCase(value, from, to, "close")) framing.close = true;
    else if (equalsIgnoringCase(value, from, to, "keep-alive")) framing.keepAliveToken = true;
    start = end + 1;
  }
}

/**
 * Parses a `Content-Length` value: one length, or a list of equal ones (RFC 9110 section
 * 8.6), agreeing with `previous` unless that is -1.
 */
function parseContentLength(value: string, previous: number): number {
  let length = previous;
  let i = 0;
  for (;;) {
    while (i < value.length && isOws(value.charCodeAt(i))) i++;
    const start = i;
    let n = 0;
    while (i < value.length && isDigit(value.charCodeAt(i))) {
      n = n * 10 + value.charCodeAt(i) - DIGIT_0;
      i++;
    }
    const digits = i - start;
    while (i < value.length && isOws(value.charCodeAt(i))) i++;
    const atEnd = i === value.length;
    if (digits === 0 || digits > MAX_LENGTH_DIGITS || !(atEnd || value.charCodeAt(i) === COMMA)) {
      throw new InvalidHeader(`Invalid Content-Length header: ${shorten(value)}`);
    }
    if (length !== -1 && n !== length) {
      throw new InvalidHeader(`Content-Length headers disagree: ${length} and ${n}`);
    }
    length = n;
    if (atEnd) return length;
    i++; // past the comma
  }
}
