/**
 * The text-level half of response parsing: a complete head block (status line and field
 * lines, already split into lines by the byte scanner in `response_parser.ts`) becomes a
 * status and the framing its field lines imply, checked in one pass over char codes of the
 * one decoded block: no regular expressions, no per-line strings, and only the few framing
 * names compared case-insensitively. The lines become name and value strings only when
 * someone asks for them (a {@linkcode ParsedHead}'s `rawHeaders`).
 *
 * @module
 */

import { HeadersTooLargeError, InvalidHeader, ProtocolError } from "../errors.ts";
import { charTable } from "../_char_table.ts";

/**
 * Limits on what one response head may hold.
 */
export interface ParserLimits {
  /** Bytes in the status line plus all header lines (and, separately, all trailers). */
  readonly maxHeaderSize: number;
  /** Number of header lines (and, separately, of trailer lines). */
  readonly maxHeaderCount: number;
  /**
   * Interim (1xx) responses accepted before the final one (default 32): each one restarts
   * the read timeout, so without a cap a server could keep a request waiting forever.
   */
  readonly maxInterimResponses?: number;
}

/** Limits used unless a pool sets its own. */
export const DEFAULT_PARSER_LIMITS: Required<ParserLimits> = {
  maxHeaderSize: 64 * 1024,
  maxHeaderCount: 128,
  maxInterimResponses: 32,
};

/**
 * What the head of a final (non-1xx) response says.
 */
export interface ResponseHead {
  /** 11 for HTTP/1.1 (and later 1.x), 10 for HTTP/1.0. */
  readonly version: 10 | 11;
  /** Status code. */
  readonly status: number;
  /** Reason phrase (may be empty). */
  readonly reason: string;
  /** Header lines as a flat `[name, value, name, value, ...]` list, order and case kept. */
  readonly rawHeaders: string[];
  /** Body length from `Content-Length`, 0 for bodiless responses, -1 when unknown. */
  readonly contentLength: number;
  /** True when the body is chunked. */
  readonly chunked: boolean;
  /** True when the connection may carry another request after this response. */
  readonly keepAlive: boolean;
  /**
   * False when no `Content-Encoding` line was sent, so there is nothing to decode and no
   * need to look; absent when not known.
   */
  readonly contentEncoded?: boolean;
  /**
   * The `timeout` parameter of a `Keep-Alive` line, in seconds (how long the server keeps
   * the connection open while idle); -1, or absent, when none was sent.
   */
  readonly keepAliveTimeout?: number;
  /**
   * The `max` parameter of a `Keep-Alive` line (how many requests the server takes on the
   * connection); -1, or absent, when none was sent.
   */
  readonly keepAliveMax?: number;
}

const HTAB = 0x09;
const CR = 0x0d;
const SP = 0x20;
const COMMA = 0x2c;
const COLON = 0x3a;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const EQUALS = 0x3d;
const DQUOTE = 0x22;
/** A `Content-Length` of more than 15 digits is refused (beyond any real body). */
const MAX_LENGTH_DIGITS = 15;
/** A `Keep-Alive` parameter of more than 9 digits is ignored (beyond any real hint). */
const MAX_HINT_DIGITS = 9;

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
  const colon = nameEnd(text, start, end);
  if (pairs.length >= limits.maxHeaderCount * 2) throw tooManyLines(limits);
  pairs.push(text.slice(start, colon), trimmed(text, colon + 1, end));
}

/** Where the name of the field line `text[start, end)` ends: its colon. Throws if malformed. */
function nameEnd(text: string, start: number, end: number): number {
  let colon = start;
  for (; colon < end; colon++) {
    const c = text.charCodeAt(colon);
    if (c >= 128 || TOKEN_CHARS[c] === 0) break;
  }
  if (colon === start || colon === end || text.charCodeAt(colon) !== COLON) {
    throw new InvalidHeader(`Malformed header line ${shorten(text.slice(start, end))}`);
  }
  return colon;
}

function tooManyLines(limits: ParserLimits): HeadersTooLargeError {
  return new HeadersTooLargeError(
    `Response has more than ${limits.maxHeaderCount} header lines (maxHeaderCount)`,
  );
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
  /** A `Content-Encoding` line was sent. */
  contentEncoded: boolean;
  /** `Keep-Alive: timeout=N` (the smallest if repeated), or -1. */
  keepAliveTimeout: number;
  /** `Keep-Alive: max=N` (the smallest if repeated), or -1. */
  keepAliveMax: number;
  /** The header pairs when they had to be split up front (a folded line), else null. */
  pairs: string[] | null;
}

function noFraming(): Framing {
  return {
    contentLength: -1,
    transferEncoding: null,
    close: false,
    keepAliveToken: false,
    contentEncoded: false,
    keepAliveTimeout: -1,
    keepAliveMax: -1,
    pairs: null,
  };
}

/** Where the line `text[start, lf)` ends without its CR. */
export function contentEnd(text: string, start: number, lf: number): number {
  return lf > start && text.charCodeAt(lf - 1) === CR ? lf - 1 : lf;
}

/**
 * Checks the field lines of a head (lines 1 to `count - 1`, ending at `ends`) and reads
 * its framing without splitting the lines into strings: that waits for
 * {@linkcode fieldPairs}, which most callers never need. A head with an obs-folded line,
 * whose values only make sense unfolded, is split into pairs here instead. Without
 * `withFraming` (an interim 1xx head) the lines are only checked.
 */
export function readFieldLines(
  text: string,
  ends: readonly number[],
  count: number,
  limits: ParserLimits,
  withFraming: boolean,
): Framing {
  const framing = noFraming();
  let fields = 0;
  for (let k = 1; k < count; k++) {
    const start = ends[k - 1] + 1;
    const end = contentEnd(text, start, ends[k]);
    if (start < end && isOws(text.charCodeAt(start))) {
      return framingOf(fieldPairs(text, ends[0] + 1, ends[count - 1] + 1, limits), withFraming);
    }
    const colon = nameEnd(text, start, end);
    if (++fields > limits.maxHeaderCount) throw tooManyLines(limits);
    if (withFraming) noteField(framing, text, start, colon, colon + 1, end);
  }
  return framing;
}

/**
 * The field lines in `text[from, to)` (whole lines, already checked by
 * {@linkcode readFieldLines} or about to be) as flat name and value pairs.
 */
export function fieldPairs(
  text: string,
  from: number,
  to: number,
  limits: ParserLimits,
): string[] {
  const pairs: string[] = [];
  for (let start = from; start < to;) {
    const lf = text.indexOf("\n", start);
    addFieldLine(text, start, contentEnd(text, start, lf), pairs, limits);
    start = lf + 1;
  }
  return pairs;
}

/** Reads the framing from flat pairs (a head with folded lines). */
function framingOf(pairs: string[], withFraming: boolean): Framing {
  const framing = noFraming();
  framing.pairs = pairs;
  if (!withFraming) return framing;
  for (let i = 0; i < pairs.length; i += 2) {
    const line = `${pairs[i]}:${pairs[i + 1]}`;
    noteField(framing, line, 0, pairs[i].length, pairs[i].length + 1, line.length);
  }
  return framing;
}

/**
 * Notes what the field line `text[start, end)`, whose name ends at `colon`, says about
 * framing; other names cost one length comparison.
 */
function noteField(
  framing: Framing,
  text: string,
  start: number,
  colon: number,
  valueStart: number,
  end: number,
): void {
  // The length picks the one name worth comparing.
  switch (colon - start) {
    case 14:
      if (equalsIgnoringCase(text, start, colon, "content-length")) {
        framing.contentLength = parseContentLength(text, valueStart, end, framing.contentLength);
      }
      break;
    case 17:
      if (equalsIgnoringCase(text, start, colon, "transfer-encoding")) {
        const codings = text.slice(valueStart, end).split(",");
        framing.transferEncoding = codings[codings.length - 1].trim().toLowerCase();
      }
      break;
    case 10:
      if (equalsIgnoringCase(text, start, colon, "connection")) {
        readConnectionTokens(text, valueStart, end, framing);
      } else if (equalsIgnoringCase(text, start, colon, "keep-alive")) {
        readKeepAliveParameters(text, valueStart, end, framing);
      }
      break;
    case 16:
      if (equalsIgnoringCase(text, start, colon, "content-encoding")) {
        framing.contentEncoded = true;
      }
  }
}

/** Notes `close` and `keep-alive` among the comma-separated tokens of `text[start, end)`. */
function readConnectionTokens(text: string, start: number, end: number, framing: Framing): void {
  while (start <= end) {
    let comma = text.indexOf(",", start);
    if (comma === -1 || comma > end) comma = end;
    let from = start;
    let to = comma;
    while (from < to && isOws(text.charCodeAt(from))) from++;
    while (to > from && isOws(text.charCodeAt(to - 1))) to--;
    if (equalsIgnoringCase(text, from, to, "close")) framing.close = true;
    else if (equalsIgnoringCase(text, from, to, "keep-alive")) framing.keepAliveToken = true;
    start = comma + 1;
  }
}

/**
 * Notes `timeout=N` and `max=N` among the comma-separated parameters of the `Keep-Alive`
 * value `text[start, end)` (RFC 2068 section 19.7.1.1), names in any case and values
 * plain or quoted; anything else is ignored, as a hint the server may not honour anyway.
 */
function readKeepAliveParameters(
  text: string,
  start: number,
  end: number,
  framing: Framing,
): void {
  while (start < end) {
    let comma = text.indexOf(",", start);
    if (comma === -1 || comma > end) comma = end;
    let from = start;
    while (from < comma && isOws(text.charCodeAt(from))) from++;
    let equals = from;
    while (equals < comma && text.charCodeAt(equals) !== EQUALS) equals++;
    let nameTo = equals;
    while (nameTo > from && isOws(text.charCodeAt(nameTo - 1))) nameTo--;
    const value = equals < comma ? hintValue(text, equals + 1, comma) : -1;
    if (value !== -1) {
      if (equalsIgnoringCase(text, from, nameTo, "timeout")) {
        framing.keepAliveTimeout = smallerHint(framing.keepAliveTimeout, value);
      } else if (equalsIgnoringCase(text, from, nameTo, "max")) {
        framing.keepAliveMax = smallerHint(framing.keepAliveMax, value);
      }
    }
    start = comma + 1;
  }
}

/** The number in `text[start, end)` (OWS around it, quotes allowed), or -1. */
function hintValue(text: string, start: number, end: number): number {
  while (start < end && isOws(text.charCodeAt(start))) start++;
  while (end > start && isOws(text.charCodeAt(end - 1))) end--;
  if (
    end - start >= 2 && text.charCodeAt(start) === DQUOTE && text.charCodeAt(end - 1) === DQUOTE
  ) {
    start++;
    end--;
  }
  if (start === end || end - start > MAX_HINT_DIGITS) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (!isDigit(c)) return -1;
    n = n * 10 + c - DIGIT_0;
  }
  return n;
}

function smallerHint(previous: number, value: number): number {
  return previous === -1 ? value : Math.min(previous, value);
}

/**
 * Parses the `Content-Length` value `text[start, end)`: one length, or a list of equal ones
 * (RFC 9110 section 8.6), agreeing with `previous` unless that is -1.
 */
function parseContentLength(text: string, start: number, end: number, previous: number): number {
  let length = previous;
  let i = start;
  for (;;) {
    while (i < end && isOws(text.charCodeAt(i))) i++;
    const first = i;
    let n = 0;
    while (i < end && isDigit(text.charCodeAt(i))) {
      n = n * 10 + text.charCodeAt(i) - DIGIT_0;
      i++;
    }
    const digits = i - first;
    while (i < end && isOws(text.charCodeAt(i))) i++;
    const atEnd = i === end;
    if (digits === 0 || digits > MAX_LENGTH_DIGITS || !(atEnd || text.charCodeAt(i) === COMMA)) {
      throw new InvalidHeader(
        `Invalid Content-Length header: ${shorten(trimmed(text, start, end))}`,
      );
    }
    if (length !== -1 && n !== length) {
      throw new InvalidHeader(`Content-Length headers disagree: ${length} and ${n}`);
    }
    length = n;
    if (atEnd) return length;
    i++; // past the comma
  }
}

/**
 * The head of a final response as the parser reports it: its header pairs are split from
 * the head's text on first use, since most responses are read by status and body alone.
 */
export class ParsedHead implements ResponseHead {
  #text: string;
  #fieldsStart: number;
  #fieldsEnd: number;
  #limits: ParserLimits;
  #pairs: string[] | null;

  /**
   * @param fieldsStart,fieldsEnd Where the field lines are in `text` (checked already).
   * @param pairs The pairs when already split (see {@linkcode Framing.pairs}), else null.
   */
  constructor(
    readonly version: 10 | 11,
    readonly status: number,
    readonly reason: string,
    readonly contentLength: number,
    readonly chunked: boolean,
    readonly keepAlive: boolean,
    readonly contentEncoded: boolean,
    readonly keepAliveTimeout: number,
    readonly keepAliveMax: number,
    text: string,
    fieldsStart: number,
    fieldsEnd: number,
    limits: ParserLimits,
    pairs: string[] | null,
  ) {
    this.#text = text;
    this.#fieldsStart = fieldsStart;
    this.#fieldsEnd = fieldsEnd;
    this.#limits = limits;
    this.#pairs = pairs;
  }

  /** The header lines as flat `[name, value, ...]` pairs, split on first use. */
  get rawHeaders(): string[] {
    if (this.#pairs === null) {
      this.#pairs = fieldPairs(this.#text, this.#fieldsStart, this.#fieldsEnd, this.#limits);
      this.#text = "";
    }
    return this.#pairs;
  }
}
