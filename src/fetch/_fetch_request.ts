/**
 * Turns the arguments of `fetch` (a `Request`, a string or a `URL`, and a `RequestInit`)
 * into the one request the fetch loop sends, checked as the `Request` constructor does.
 *
 * @module
 */

import { ACCEPT_ENCODING } from "../make_headers.ts";
import type { RequestBody } from "../body/request_body.ts";

/** How a redirect is handled: followed, returned as it is, or an error. */
export type FetchRedirectMode = "follow" | "manual" | "error";

/** One request as the fetch loop sends it (internal). */
export interface FetchRequest {
  /** The method, normalised as fetch does (`get` becomes `GET`, `patch` stays). */
  method: string;
  /** The absolute URL, parsed and serialised by WHATWG rules. */
  url: string;
  /** The request headers (a copy: the caller's are never changed). */
  headers: Headers;
  /** The body, or null. */
  body: RequestBody | null;
  /** Aborts the request and its body. */
  signal: AbortSignal | null;
  /** The redirect mode. */
  redirect: FetchRedirectMode;
}

/** Methods fetch upper-cases; any other is sent as given. */
const NORMALISED_METHODS = new Set(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]);
/** Methods fetch refuses. */
const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const REDIRECT_MODES: ReadonlySet<string> = new Set(["follow", "manual", "error"]);

function normaliseMethod(method: string): string {
  if (!TOKEN.test(method)) throw new TypeError(`Invalid request method: ${JSON.stringify(method)}`);
  const upper = method.toUpperCase();
  if (FORBIDDEN_METHODS.has(upper)) {
    throw new TypeError(`Forbidden request method: ${JSON.stringify(method)}`);
  }
  return NORMALISED_METHODS.has(upper) ? upper : method;
}

function parseFetchUrl(input: string | URL): string {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new TypeError(`Invalid URL: ${JSON.stringify(String(input))}`);
  }
  if (url.username !== "" || url.password !== "") {
    // As the Request constructor: credentials go in an Authorization header.
    url.username = url.password = "***";
    throw new TypeError(`Request URL must not include credentials: ${url.href}`);
  }
  return url.href;
}

/** The `Content-Type` fetch gives a body of this kind when the caller set none. */
function implicitContentType(body: RequestBody): string | null {
  // URLSearchParams, FormData and Blob bodies carry theirs through the request body.
  return typeof body === "string" ? "text/plain;charset=UTF-8" : null;
}

/**
 * The request `fetch(input, init)` sends. A `Request`'s body is read into memory here: a
 * `Request` does not tell whether its body has a known length, and fetch sends one made
 * of bytes with `Content-Length`, so must we (a `ReadableStream` given as `init.body` is
 * streamed instead).
 */
export async function fetchRequest(
  input: RequestInfo | URL,
  init: RequestInit = {},
): Promise<FetchRequest> {
  const base = input instanceof Request ? input : null;
  const url = base === null ? parseFetchUrl(input as string | URL) : parseFetchUrl(base.url);
  const method = normaliseMethod(init.method ?? base?.method ?? "GET");
  const redirect = init.redirect ?? base?.redirect ?? "follow";
  if (!REDIRECT_MODES.has(redirect)) {
    throw new TypeError(`Invalid redirect mode: ${JSON.stringify(redirect)}`);
  }
  const headers = new Headers(init.headers ?? base?.headers);
  let body: RequestBody | null = (init.body ?? null) as RequestBody | null;
  if (body !== null && (method === "GET" || method === "HEAD")) {
    throw new TypeError(`Request with a ${method} method cannot have a body`);
  }
  if (body === null && base?.body) body = new Uint8Array(await base.arrayBuffer());
  if (body !== null && !headers.has("content-type")) {
    const type = implicitContentType(body);
    if (type !== null) headers.set("content-type", type);
  }
  // What fetch adds when the caller did not: it decodes what it asks for, and so do we;
  // a range is asked for in the representation as stored.
  if (!headers.has("accept")) headers.set("accept", "*/*");
  if (!headers.has("accept-encoding")) {
    headers.set("accept-encoding", headers.has("range") ? "identity" : ACCEPT_ENCODING);
  }
  const signal = "signal" in init ? init.signal ?? null : base?.signal ?? null;
  return { method, url, headers, body, signal, redirect: redirect as FetchRedirectMode };
}
