/**
 * `RequestMethods`: the `request`, `requestEncodeUrl` and `requestEncodeBody` helpers
 * that pools and managers share. They turn `fields` and `json` into a query or a body,
 * then call the subclass's `urlopen`.
 *
 * @module
 */

import { encodeMultipartFormdata, encodeUrlencoded, type Fields } from "../fields.ts";
import { type HeadersInit, HTTPHeaderDict } from "../headers.ts";
import type { RequestBody } from "../body/request_body.ts";
import type { HTTPResponse } from "../response.ts";
import type { Retry } from "../policy/retry.ts";
import type { Timeout } from "../policy/timeout.ts";

/**
 * Headers for one request: merged over the pool's and manager's headers; a header given
 * as `undefined` removes an inherited one.
 *
 * @example Per-request headers; undefined removes an inherited one
 * ```ts
 * import type { RequestHeaders } from "@pooled/http";
 * const headers: RequestHeaders = { "X-Trace": "1", "User-Agent": undefined } as RequestHeaders;
 * console.log(Object.keys(headers)); // ["X-Trace", "User-Agent"]
 * ```
 */
export type RequestHeaders = HeadersInit;

/**
 * Options of `urlopen` (the body is already encoded).
 *
 * @example An encoded body, no redirects, a 2 s timeout
 * ```ts
 * import type { UrlopenOptions } from "@pooled/http";
 * const options: UrlopenOptions = { body: '{"a":1}', redirect: false, timeout: 2_000, retries: 0 };
 * console.log(options.redirect); // false
 * ```
 */
export interface UrlopenOptions {
  /**
   * Request headers, merged over the pool's (a header set to `undefined` removes one);
   * urllib3 replaces the pool's headers instead.
   */
  headers?: RequestHeaders;
  /** The request body. */
  body?: RequestBody | null;
  /** Retry policy: a `Retry`, a number of retries, or `false` for none. */
  retries?: Retry | number | boolean | null;
  /** Follow redirects (default true). */
  redirect?: boolean;
  /** Timeouts in ms: a `Timeout` or one number for connect and read. */
  timeout?: Timeout | number | null;
  /** Longest wait in ms for a connection from a blocking pool. */
  poolTimeout?: number | null;
  /** Read the whole body before returning (default true). */
  preloadContent?: boolean;
  /** Undo `Content-Encoding`: gzip, x-gzip, deflate, br, zstd (default true). */
  decodeContent?: boolean;
  /**
   * When the connection goes back to its pool. `true`: as soon as the body has arrived.
   * `false`: the response keeps it (as `response.connection`, counted in use by a blocking
   * pool) until its body is read to its end, or `releaseConn()`, `drainConn()` or `close()`
   * is called; a preloaded body keeps it until one of those calls. Default: `preloadContent`.
   */
  releaseConn?: boolean;
  /** Send the body with `Transfer-Encoding: chunked`. */
  chunked?: boolean;
  /** Reject URLs for another origin with `HostChangedError` (pools; default true). */
  assertSameHost?: boolean;
  /** Aborts the request at any point, including while waiting for a connection. */
  signal?: AbortSignal;
  /** Fail when the body is shorter than `Content-Length` (default true). */
  enforceContentLength?: boolean;
  /**
   * Largest body accepted, in decoded bytes; more raises `ResponseTooLargeError` and closes
   * the connection.
   */
  maxResponseSize?: number | null;
  /**
   * Collect `response.timings` (the phases of the request, from `performance.now()`) for
   * this request; default: the pool's or manager's `timings` option.
   */
  timings?: boolean;
}

/**
 * Options of `request`: `urlopen`'s plus the ways to build a body.
 *
 * @example JSON, form fields or query fields
 * ```ts
 * import type { RequestOptions } from "@pooled/http";
 * const json: RequestOptions = { json: { a: 1 } };
 * const query: RequestOptions = { fields: { q: "pooled" } }; // GET: into the query
 * const form: RequestOptions = { fields: { a: "1" }, encodeMultipart: false }; // POST: urlencoded
 * console.log(json.json, query.fields, form.encodeMultipart);
 * ```
 */
export interface RequestOptions extends UrlopenOptions {
  /** Form fields: in the query for GET, HEAD, DELETE and OPTIONS, in the body otherwise. */
  fields?: Fields;
  /** A value sent as a JSON body (`Content-Type: application/json` unless set). */
  json?: unknown;
  /** Encode body `fields` as multipart/form-data (default) or urlencoded (false). */
  encodeMultipart?: boolean;
  /** The multipart boundary (default: random). */
  multipartBoundary?: string;
}

const ENCODE_URL_METHODS = new Set(["DELETE", "GET", "HEAD", "OPTIONS"]);
const encoder = new TextEncoder();

/** The `[name, value]` pairs of request headers; `undefined` values mark removals. */
export function* requestHeaderPairs(
  headers: RequestHeaders,
): Iterable<readonly [string, string | undefined]> {
  if (headers instanceof HTTPHeaderDict || headers instanceof Headers) {
    yield* headers as Iterable<[string, string]>;
    return;
  }
  if (Symbol.iterator in headers) {
    yield* headers as Iterable<readonly [string, string]>;
    return;
  }
  for (const [name, value] of Object.entries(headers)) {
    if (Array.isArray(value)) { for (const item of value) yield [name, item]; }
    else yield [name, value as string | undefined];
  }
}

/** True when the headers hold `name` (lower-case) with a defined value. */
export function hasHeader(headers: RequestHeaders | undefined, name: string): boolean {
  if (headers === undefined || headers === null) return false;
  for (const [key, value] of requestHeaderPairs(headers)) {
    if (value !== undefined && key.toLowerCase() === name) return true;
  }
  return false;
}

/** The headers plus one more, without touching the caller's object. */
function withHeader(
  headers: RequestHeaders | undefined,
  name: string,
  value: string,
): RequestHeaders {
  if (headers === undefined || headers === null) return { [name]: value };
  if (headers instanceof HTTPHeaderDict || headers instanceof Headers) {
    return new HTTPHeaderDict(headers).add(name, value);
  }
  if (Symbol.iterator in headers) {
    return [...(headers as Iterable<readonly [string, string]>), [name, value]];
  }
  return { ...headers, [name]: value };
}

/**
 * Appends an encoded query to a URL, after an existing query (`/x?a=1` + `b=2` gives
 * `/x?a=1&b=2`; urllib3 would give `/x?a=1?b=2`).
 */
function appendQuery(url: string, query: string): string {
  if (query === "") return url;
  const hash = url.indexOf("#");
  const base = hash === -1 ? url : url.slice(0, hash);
  const fragment = hash === -1 ? "" : url.slice(hash);
  const separator = base.includes("?")
    ? (base.endsWith("?") || base.endsWith("&") ? "" : "&")
    : "?";
  return base + separator + query + fragment;
}

/**
 * The request helpers shared by pools and managers. Subclasses provide `urlopen`.
 *
 * @example Pools and managers share these helpers
 * ```ts
 * import { PoolManager, RequestMethods } from "@pooled/http";
 * await using manager = new PoolManager();
 * console.log(manager instanceof RequestMethods); // true
 * ```
 */
export abstract class RequestMethods {
  /** Sends one request (see the subclass). */
  abstract urlopen(method: string, url: string, options?: UrlopenOptions): Promise<HTTPResponse>;

  /**
   * Sends a request, encoding `fields` into the query (GET, HEAD, DELETE, OPTIONS) or
   * the body (other methods), and `json` into a JSON body.
   */
  request(method: string, url: string, options: RequestOptions = {}): Promise<HTTPResponse> {
    // Bad fields or json reject (never throw): callers of a Promise expect a rejection.
    try {
      const upper = method.toUpperCase();
      if (options.json !== undefined) {
        if (options.body !== undefined && options.body !== null) {
          throw new TypeError("request() got both 'body' and 'json'; give one of them");
        }
        options = this.#withJson(options);
      }
      if (ENCODE_URL_METHODS.has(upper)) return this.requestEncodeUrl(upper, url, options);
      return this.requestEncodeBody(upper, url, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #withJson(options: RequestOptions): RequestOptions {
    const text = JSON.stringify(options.json);
    if (text === undefined) throw new TypeError("json: the value cannot be encoded as JSON");
    const headers = hasHeader(options.headers, "content-type")
      ? options.headers
      : withHeader(options.headers, "Content-Type", "application/json");
    return { ...options, json: undefined, body: encoder.encode(text), headers };
  }

  /** Sends a request with `fields` encoded into the URL's query. */
  requestEncodeUrl(
    method: string,
    url: string,
    options: RequestOptions = {},
  ): Promise<HTTPResponse> {
    // Without fields, the body options are unused and urlopen ignores them: pass as given.
    if (options.fields === undefined) return this.urlopen(method, url, options);
    const { fields, json: _json, encodeMultipart: _m, multipartBoundary: _b, ...rest } = options;
    return this.urlopen(method, appendQuery(url, encodeUrlencoded(fields)), rest);
  }

  /** Sends a request with `fields` encoded as multipart/form-data or urlencoded body. */
  requestEncodeBody(
    method: string,
    url: string,
    options: RequestOptions = {},
  ): Promise<HTTPResponse> {
    const { fields, json: _json, encodeMultipart = true, multipartBoundary, ...rest } = options;
    if (fields === undefined) return this.urlopen(method, url, rest);
    if (rest.body !== undefined && rest.body !== null) {
      throw new TypeError("request() got both 'fields' and 'body'; give one of them");
    }
    let body: Uint8Array;
    let contentType: string;
    if (encodeMultipart) {
      ({ body, contentType } = encodeMultipartFormdata(fields, multipartBoundary));
    } else {
      body = encoder.encode(encodeUrlencoded(fields));
      contentType = "application/x-www-form-urlencoded";
    }
    const headers = hasHeader(rest.headers, "content-type")
      ? rest.headers
      : withHeader(rest.headers, "Content-Type", contentType);
    return this.urlopen(method, url, { ...rest, body, headers });
  }
}
