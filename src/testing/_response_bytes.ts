/**
 * Turns a mock reply (status, body, headers, trailers) into the HTTP/1.1 response bytes a
 * server would send.
 *
 * @module
 */

import { concatBytes } from "../_bytes.ts";
import { encodeLatin1 } from "../http1/request_head.ts";

/**
 * A reply body: a string (sent as UTF-8), bytes, or any other value, sent as JSON with
 * `content-type: application/json` unless the reply sets a content type.
 *
 * @example Three bodies
 * ```ts
 * import type { MockReplyBody } from "@pooled/http/testing";
 * const bodies: MockReplyBody[] = ["text", new Uint8Array([1, 2]), { json: true }];
 * console.log(bodies.length); // 3
 * ```
 */
export type MockReplyBody = string | Uint8Array | ArrayBuffer | object | number | boolean | null;

/**
 * Reply header or trailer fields by name; an array value repeats the field.
 *
 * @example
 * ```ts
 * import type { MockReplyHeaders } from "@pooled/http/testing";
 * const headers: MockReplyHeaders = { "content-type": "text/plain", "set-cookie": ["a=1", "b=2"] };
 * console.log(Object.keys(headers).length); // 2
 * ```
 */
export type MockReplyHeaders = Readonly<Record<string, string | readonly string[]>>;

/**
 * The third argument of `reply(status, body, options)`: response headers and trailers. With
 * trailers (or a `transfer-encoding: chunked` header) the body is sent chunked; otherwise
 * a `content-length` is added unless the headers give one (a wrong one makes a broken
 * response on purpose).
 *
 * @example Headers and trailers
 * ```ts
 * import { MockAgent, type MockReplyOptions } from "@pooled/http/testing";
 * await using agent = new MockAgent();
 * const options: MockReplyOptions = {
 *   headers: { "content-type": "text/csv" },
 *   trailers: { "x-checksum": "abc" },
 * };
 * agent.get("http://api.test").intercept({ path: "/export" }).reply(200, "a,b\n", options);
 * const r = await agent.request("GET", "http://api.test/export");
 * console.log(r.headers.get("content-type"), r.headers.get("transfer-encoding")); // text/csv chunked
 * ```
 */
export interface MockReplyOptions {
  /** Response header fields. */
  readonly headers?: MockReplyHeaders;
  /** Trailer fields, sent after a chunked body. */
  readonly trailers?: MockReplyHeaders;
}

/** The response bytes, and whether the connection closes after them. */
export interface ResponseBytes {
  readonly bytes: Uint8Array;
  readonly close: boolean;
}

const REASONS: Readonly<Record<number, string>> = {
  100: "Continue",
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  413: "Content Too Large",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

const utf8 = new TextEncoder();

/** The bytes of a body, and the content type it implies (JSON), if any. */
function bodyBytes(body: MockReplyBody | undefined): [Uint8Array, string | null] {
  if (body === undefined || body === null) return [new Uint8Array(0), null];
  if (typeof body === "string") return [utf8.encode(body), null];
  if (body instanceof Uint8Array) return [body, null];
  if (body instanceof ArrayBuffer) return [new Uint8Array(body), null];
  return [utf8.encode(JSON.stringify(body)), "application/json"];
}

/** `[name, value]` pairs of a header record, an array value giving one pair per element. */
function pairs(headers: MockReplyHeaders | undefined): [string, string][] {
  const out: [string, string][] = [];
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (typeof value === "string") out.push([name, value]);
    else for (const one of value) out.push([name, one]);
  }
  return out;
}

/** Checks a header record at `reply()` time, so a wrong one fails where it was written. */
export function checkHeaders(headers: unknown, what: string): void {
  if (headers === undefined) return;
  if (typeof headers !== "object" || headers === null) {
    throw new TypeError(`Reply ${what} must be a record of strings: got ${typeof headers}`);
  }
  for (const [name, value] of Object.entries(headers)) {
    const ok = typeof value === "string" ||
      (Array.isArray(value) && value.every((one) => typeof one === "string"));
    if (!ok) {
      throw new TypeError(
        `Reply ${what} values must be strings or arrays of strings: got ${typeof value} for ${
          JSON.stringify(name)
        }`,
      );
    }
  }
}

/**
 * The response to `method` as bytes on the wire. `requestCloses`: the request asked for
 * `Connection: close`, so the connection closes after the response.
 */
export function responseBytes(
  status: number,
  body: MockReplyBody | undefined,
  options: MockReplyOptions | undefined,
  method: string,
  requestCloses: boolean,
): ResponseBytes {
  const [payload, impliedType] = bodyBytes(body);
  const headers = pairs(options?.headers);
  const trailers = pairs(options?.trailers);
  const has = (name: string) => headers.some(([key]) => key.toLowerCase() === name);
  const value = (name: string) => headers.find(([key]) => key.toLowerCase() === name)?.[1];
  if (impliedType !== null && !has("content-type")) headers.push(["content-type", impliedType]);
  const bodiless = status < 200 || status === 204 || status === 304;
  const chunked = trailers.length > 0 || /chunked/i.test(value("transfer-encoding") ?? "");
  if (chunked && !has("transfer-encoding")) headers.push(["transfer-encoding", "chunked"]);
  if (!chunked && !bodiless && !has("content-length")) {
    headers.push(["content-length", String(payload.length)]);
  }
  const close = requestCloses || /close/i.test(value("connection") ?? "");
  if (requestCloses && !has("connection")) headers.push(["connection", "close"]);
  let head = `HTTP/1.1 ${status} ${REASONS[status] ?? "Unknown"}\r\n`;
  for (const [name, one] of headers) head += `${name}: ${one}\r\n`;
  head += "\r\n";
  const pieces = [encodeLatin1(head)];
  if (!bodiless && method !== "HEAD") {
    if (!chunked) pieces.push(payload);
    else {
      if (payload.length > 0) {
        pieces.push(encodeLatin1(`${payload.length.toString(16)}\r\n`), payload, CRLF);
      }
      let end = "0\r\n";
      for (const [name, one] of trailers) end += `${name}: ${one}\r\n`;
      pieces.push(encodeLatin1(end + "\r\n"));
    }
  }
  return { bytes: concatBytes(pieces), close };
}

const CRLF = new Uint8Array([0x0d, 0x0a]);
