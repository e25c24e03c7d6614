/**
 * An HTTP/1.1 request head as a pool sends it: the pool's headers rendered once and kept
 * for requests without headers of their own (re-rendered when they change), the last head
 * of a request without headers or body kept whole, and every other head built with the
 * framing rules of `request_head.ts`. One writer serves one pool.
 *
 * @module
 */

import { changeCount, type HTTPHeaderDict } from "../headers.ts";
import { exactLength, NO_BODY, type PreparedBody } from "../body/request_body.ts";
import type { WireRequest } from "../request/_descriptor.ts";
import { hasHeader, type RequestHeaders } from "../request/request_methods.ts";
import { defaultPortFor, parseUrl } from "../url.ts";
import { VERSION } from "../version.ts";
import { isAscii } from "../_char_table.ts";
import { hostHeaderValue, mergeHeaders } from "../_request_headers.ts";
import {
  checkContentLength,
  checkMethod,
  chunkEncode,
  encodeLatin1,
  type HeaderFlags,
  noFlags,
  renderHeaderLines,
  sendsEmptyLength,
} from "./request_head.ts";

const USER_AGENT = `pooled/${VERSION}`;

/** What a head is built from: the parts of a request descriptor the head needs. */
export interface HeadRequest {
  /** Request method. */
  readonly method: string;
  /** Origin-form request target, or `*`. */
  readonly target: string;
  /** The absolute URL (a forwarding proxy's target is built from it). */
  readonly url: string;
  /** Request headers, merged over the pool's. */
  readonly headers: RequestHeaders | undefined;
  /** The body to send. */
  readonly body: PreparedBody;
  /** Send the body chunked. */
  readonly chunked: boolean;
}

/** Renders the heads of one pool's requests. */
export class RequestHeadWriter {
  #headers: HTTPHeaderDict;
  #proxyHeaders: HTTPHeaderDict | null;
  #forward: boolean;
  #netloc: string;
  #fixedHeaderLines: string | null = null;
  /** The `changeCount` of the pool's headers that the cached lines and head came from. */
  #headerChanges = -1;
  /** What the pool's own headers say about framing, kept with their rendered lines. */
  #fixedFlags: HeaderFlags = noFlags();
  #fixedHeadAscii = true;
  #lastPlainHead: { method: string; target: string; head: WireRequest } | null = null;

  /**
   * A writer for a pool whose `Host` is `netloc` and whose own headers are `headers` (read
   * live: a change shows in the next head). With `proxyHeaders`, requests go to a
   * forwarding proxy: absolute-form targets, the target's `Host`, the proxy's headers.
   */
  constructor(netloc: string, headers: HTTPHeaderDict, proxyHeaders: HTTPHeaderDict | null) {
    this.#netloc = netloc;
    this.#headers = headers;
    this.#proxyHeaders = proxyHeaders;
    this.#forward = proxyHeaders !== null;
  }

  /** Host, pool headers and default headers, rendered once for requests with no headers. */
  #fixedLines(): string {
    if (this.#fixedHeaderLines !== null) return this.#fixedHeaderLines;
    const flags = noFlags();
    const lines = renderHeaderLines(this.#headers, flags);
    this.#fixedHeaderLines = this.#automaticLines(flags, true) + lines +
      this.#automaticLines(flags, false);
    this.#fixedFlags = flags;
    this.#fixedHeadAscii = isAscii(this.#fixedHeaderLines);
    return this.#fixedHeaderLines;
  }

  /** `Host` first (as http.client does), then the defaults the caller did not set. */
  #automaticLines(flags: HeaderFlags, hostPart: boolean, host = this.#netloc): string {
    if (hostPart) return flags.host ? "" : `Host: ${host}\r\n`;
    let lines = "";
    if (!flags.userAgent) lines += `User-Agent: ${USER_AGENT}\r\n`;
    if (!flags.acceptEncoding) lines += "Accept-Encoding: identity\r\n";
    return lines;
  }

  /**
   * The head of a request without headers or body: the same few are sent over and over,
   * so the last one is kept, and a repeat costs two comparisons (no string building).
   */
  #plainHead(request: HeadRequest): WireRequest {
    const last = this.#lastPlainHead;
    if (last !== null && last.method === request.method && last.target === request.target) {
      return last.head;
    }
    const head = this.#buildHead(request);
    this.#lastPlainHead = { method: request.method, target: request.target, head };
    return head;
  }

  /**
   * The wire form of `request`; a `TypeError` when its headers break the framing rules or
   * hold a control character, before anything is sent.
   */
  headFor(request: HeadRequest): WireRequest {
    if (changeCount(this.#headers) !== this.#headerChanges) this.#forgetHeaderLines();
    const plain = request.headers === undefined && request.body === NO_BODY && !request.chunked &&
      !this.#forward;
    return plain ? this.#plainHead(request) : this.#buildHead(request);
  }

  /** Drops what was rendered from `headers`: they changed since. */
  #forgetHeaderLines(): void {
    this.#headerChanges = changeCount(this.#headers);
    this.#fixedHeaderLines = null;
    this.#lastPlainHead = null;
  }

  #buildHead(request: HeadRequest): WireRequest {
    const { method, body } = request;
    checkMethod(method);
    let flags: HeaderFlags;
    let lines: string;
    let ascii: boolean;
    let target = request.target;
    let host: string | undefined;
    if (this.#forward) {
      // The proxy reads the origin from the absolute-form target; Host names it too.
      const url = parseUrl(request.url);
      const scheme = url.scheme ?? "http";
      host = hostHeaderValue(url.host ?? "", url.port ?? defaultPortFor(scheme) ?? 80, scheme);
      target = `${scheme}://${host}${url.requestUri}`;
    }
    if (request.headers === undefined && host === undefined) {
      lines = this.#fixedLines();
      ascii = this.#fixedHeadAscii;
      flags = this.#fixedFlags;
    } else {
      flags = noFlags();
      const merged = mergeHeaders(this.#headers, request.headers ?? {});
      const own = renderHeaderLines(
        this.#forward ? forwardedHeaders(merged, this.#proxyHeaders!) : merged,
        flags,
      );
      lines = this.#automaticLines(flags, true, host) + own + this.#automaticLines(flags, false);
      ascii = isAscii(lines);
    }
    let bytes = body.bytes;
    let stream = body.stream;
    // The body's size: null for a stream of unknown length, else 0 when there is none.
    const length = stream !== null ? stream.length : bytes?.length ?? 0;
    const declared = flags.contentLength;
    if (declared !== null) {
      // The caller's Content-Length frames the body: it must be the body's, and a stream
      // of unknown length is held to it.
      if (length !== null) checkContentLength(declared, length);
      else stream = exactLength(stream!, declared);
    }
    // A stream of unknown length goes chunked unless the caller gave its length.
    const chunked = flags.chunked ||
      (declared === null && (request.chunked || (stream !== null && length === null)));
    if (chunked) {
      if (!flags.chunked) lines += "Transfer-Encoding: chunked\r\n";
      if (stream === null) bytes = chunkEncode(bytes ?? new Uint8Array(0));
    } else if (declared === null) {
      if (bytes !== null || stream !== null) lines += `Content-Length: ${length}\r\n`;
      else if (sendsEmptyLength(method)) lines += "Content-Length: 0\r\n";
    }
    if (
      body.contentType !== null && !this.#headers.has("content-type") &&
      !hasHeader(request.headers, "content-type")
    ) {
      lines += `Content-Type: ${body.contentType}\r\n`;
    }
    const text = `${method} ${target} HTTP/1.1\r\n${lines}\r\n`;
    return { text: ascii ? text : encodeLatin1(text), body: bytes, stream, chunked };
  }
}

/**
 * The headers of a request forwarded to a proxy: an `Accept` for any type unless one is
 * set (urllib3's `ProxyManager` adds it), the merged pool and request headers, then the
 * proxy's, which replace any of the same name.
 */
function forwardedHeaders(
  merged: Iterable<readonly [string, string]>,
  proxy: HTTPHeaderDict,
): Iterable<readonly [string, string]> {
  const pairs: (readonly [string, string])[] = [];
  for (const pair of merged) if (!proxy.has(pair[0])) pairs.push(pair);
  pairs.push(...proxy);
  if (!pairs.some(([name]) => name.toLowerCase() === "accept")) pairs.unshift(["Accept", "*/*"]);
  return pairs;
}
