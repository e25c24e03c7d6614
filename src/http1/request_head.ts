/**
 * Request head serialization: one string per request. Header names and values are
 * checked before anything is sent, so no control character can split a request, and the
 * framing headers (`Content-Length`, `Transfer-Encoding`, and `Host`) are the library's:
 * a caller's may only state the framing the library sends.
 *
 * @module
 */

import { SKIP_HEADER } from "../make_headers.ts";
import { isAscii } from "../_char_table.ts";
import { describe } from "../_validate.ts";

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Every control character but HTAB, which is field whitespace (RFC 9110, section 5.5). */
// deno-lint-ignore no-control-regex
const FORBIDDEN_IN_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
const DECIMAL = /^[0-9]+$/;
/** Methods known to be tokens, so the hot path skips the regular expression. */
const COMMON_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]);
const SKIPPABLE = new Set(["host", "user-agent", "accept-encoding"]);
/** Methods that never carry `Content-Length: 0` when they have no body (urllib3's list). */
const METHODS_WITHOUT_BODY = new Set(["GET", "HEAD", "DELETE", "TRACE", "OPTIONS", "CONNECT"]);

/** Throws a `TypeError` unless `method` is an HTTP token. */
export function checkMethod(method: string): void {
  if (!COMMON_METHODS.has(method) && !TOKEN.test(method)) {
    throw new TypeError(`Invalid HTTP method ${JSON.stringify(method)}: it must be a token`);
  }
}

/**
 * Throws a `TypeError` for a header name that is not a token or a value with a control
 * character other than HTAB (CR, LF and NUL among them).
 */
export function checkHeader(name: string, value: string): void {
  if (!TOKEN.test(name)) {
    throw new TypeError(`Invalid header name ${JSON.stringify(name)}: it must be a token`);
  }
  if (typeof value !== "string") {
    throw new TypeError(
      `Header ${JSON.stringify(name)} value must be a string: ${describe(value)}`,
    );
  }
  if (FORBIDDEN_IN_VALUE.test(value)) {
    throw new TypeError(
      `Invalid value for header ${JSON.stringify(name)}: ${
        JSON.stringify(value)
      } contains a control character`,
    );
  }
}

/** True when a request with `method` and no body still announces `Content-Length: 0`. */
export function sendsEmptyLength(method: string): boolean {
  return !METHODS_WITHOUT_BODY.has(method);
}

/** What the caller's headers already say about the automatic and framing ones. */
export interface HeaderFlags {
  host: boolean;
  userAgent: boolean;
  acceptEncoding: boolean;
  /** The caller's `Content-Length`, or null when they set none. */
  contentLength: number | null;
  /** The caller set `Transfer-Encoding: chunked` (the only transfer coding accepted). */
  chunked: boolean;
}

/** A fresh, all-false {@linkcode HeaderFlags}. */
export function noFlags(): HeaderFlags {
  return {
    host: false,
    userAgent: false,
    acceptEncoding: false,
    contentLength: null,
    chunked: false,
  };
}

/**
 * Appends validated `Name: value\r\n` lines for `pairs` to a string and records in
 * `flags` which automatic headers they provide or suppress (`SKIP_HEADER`) and the
 * framing they declare. Throws a `TypeError` for a bad name or value, and for framing
 * the library would not send (see `markFlag`).
 */
export function renderHeaderLines(
  pairs: Iterable<readonly [string, string]>,
  flags: HeaderFlags,
): string {
  let lines = "";
  for (const [name, value] of pairs) {
    const lower = name.toLowerCase();
    if (value === SKIP_HEADER) {
      if (!SKIPPABLE.has(lower)) {
        throw new TypeError(
          `SKIP_HEADER only supports 'Accept-Encoding', 'Host' and 'User-Agent': ${
            JSON.stringify(name)
          }`,
        );
      }
      markFlag(flags, lower, name, value);
      continue;
    }
    checkHeader(name, value);
    markFlag(flags, lower, name, value);
    lines += `${name}: ${value}\r\n`;
  }
  return lines;
}

/**
 * Records what one header line provides. Throws a `TypeError` for framing the library
 * would not send: a second `Host`, `Content-Length` or `Transfer-Encoding` (even with the
 * same value), a `Content-Length` that is not one decimal number, a transfer coding other
 * than `chunked`, or both framing headers at once.
 */
function markFlag(flags: HeaderFlags, lower: string, name: string, value: string): void {
  switch (lower) {
    case "host":
      if (flags.host) throw duplicate(name);
      flags.host = true;
      break;
    case "user-agent":
      flags.userAgent = true;
      break;
    case "accept-encoding":
      flags.acceptEncoding = true;
      break;
    case "content-length":
      if (flags.contentLength !== null) throw duplicate(name);
      flags.contentLength = contentLength(value);
      if (flags.chunked) throw bothFramings();
      break;
    case "transfer-encoding":
      if (flags.chunked) throw duplicate(name);
      if (value.toLowerCase() !== "chunked") {
        throw new TypeError(
          `Invalid Transfer-Encoding: ${
            JSON.stringify(value)
          } (a request body is only sent chunked)`,
        );
      }
      flags.chunked = true;
      if (flags.contentLength !== null) throw bothFramings();
  }
}

function contentLength(value: string): number {
  const length = DECIMAL.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(length)) {
    throw new TypeError(`Invalid Content-Length: ${JSON.stringify(value)}`);
  }
  return length;
}

function duplicate(name: string): TypeError {
  return new TypeError(`Duplicate header: ${JSON.stringify(name)}`);
}

function bothFramings(): TypeError {
  return new TypeError("Content-Length and Transfer-Encoding cannot both be set");
}

/**
 * Throws a `TypeError` when a caller's `Content-Length` (`declared`) disagrees with a
 * body of `length` bytes (0 when there is none).
 */
export function checkContentLength(declared: number, length: number): void {
  if (declared !== length) {
    throw new TypeError(
      `Content-Length does not match the body of ${length} bytes: "${declared}"`,
    );
  }
}

/** Encodes a head that holds non-ASCII header text as ISO-8859-1, as HTTP/1.1 defines. */
export function encodeLatin1(head: string): Uint8Array {
  const bytes = new Uint8Array(head.length);
  for (let i = 0; i < head.length; i++) {
    const code = head.charCodeAt(i);
    if (code > 0xff) {
      throw new TypeError(
        `Header text must be ISO-8859-1: ${JSON.stringify(head[i])} (U+${
          code.toString(16).toUpperCase()
        })`,
      );
    }
    bytes[i] = code;
  }
  return bytes;
}

/**
 * A request head as the socket takes it: the string itself when ASCII (sockets send an
 * ASCII string as its bytes), else its ISO-8859-1 bytes.
 */
export function headBytes(head: string): string | Uint8Array {
  return isAscii(head) ? head : encodeLatin1(head);
}

/** Frames a whole body as one chunk plus the last-chunk (for `chunked: true`). */
export function chunkEncode(body: Uint8Array): Uint8Array {
  const prefix = body.length > 0 ? `${body.length.toString(16)}\r\n` : "";
  const suffix = body.length > 0 ? "\r\n0\r\n\r\n" : "0\r\n\r\n";
  const out = new Uint8Array(prefix.length + body.length + suffix.length);
  let offset = 0;
  for (let i = 0; i < prefix.length; i++) out[offset++] = prefix.charCodeAt(i);
  out.set(body, offset);
  offset += body.length;
  for (let i = 0; i < suffix.length; i++) out[offset++] = suffix.charCodeAt(i);
  return out;
}
