/**
 * An HTTP/2 request's field list, taken from the HTTP/1.1 head the pool rendered for it.
 * The pool renders (and checks) that head before it takes a connection, so a framing or
 * header error fails before anything is sent, whatever the protocol; the HTTP/2 side then
 * sends the same effective headers (the pool's, the request's, and the defaults such as
 * `User-Agent` and `Accept-Encoding`) as pseudo-headers and fields. Only HTTP/2
 * requests pay for this.
 *
 * @module
 */

import type { RequestDescriptor } from "../request/_descriptor.ts";
import type { HTTP2RequestInit } from "./session.ts";

/** A head's text: Latin-1 bytes as one character each. */
function headText(text: string | Uint8Array): string {
  if (typeof text === "string") return text;
  let out = "";
  for (let i = 0; i < text.length; i += 4096) {
    out += String.fromCharCode(...text.subarray(i, i + 4096));
  }
  return out;
}

/**
 * What the session sends for `request` on a `scheme` connection (the body apart): the
 * request line's method and target become `:method` and `:path`, `Host` becomes
 * `:authority`; the session drops the connection-specific fields (`Transfer-Encoding`...).
 */
export function requestInit(
  request: RequestDescriptor,
  scheme: string,
  body: HTTP2RequestInit["body"],
): HTTP2RequestInit {
  const text = headText(request.wire!.text);
  const lineEnd = text.indexOf("\r\n");
  const line = text.slice(0, lineEnd);
  const firstSpace = line.indexOf(" ");
  const method = line.slice(0, firstSpace);
  const path = line.slice(firstSpace + 1, line.lastIndexOf(" "));
  let authority = "";
  const headers: string[] = [];
  for (let start = lineEnd + 2; start < text.length - 2;) {
    const end = text.indexOf("\r\n", start);
    const colon = text.indexOf(":", start);
    const name = text.slice(start, colon);
    const value = text.slice(colon + 1, end).trim();
    if (name.length === 4 && name.toLowerCase() === "host") authority = value;
    else headers.push(name, value);
    start = end + 2;
  }
  return { method, scheme, authority, path, headers, body };
}
