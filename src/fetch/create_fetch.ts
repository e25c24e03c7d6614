/**
 * `createFetch()` and `fetch`: the WHATWG `fetch` function on top of a `PoolManager`, for
 * code and libraries that speak `fetch` (SDKs, ky, ofetch...), with our pools, proxies,
 * retries and timeouts underneath.
 *
 * @module
 */

import { MaxRetryError, ResponseError, UnrewindableBodyError } from "../errors.ts";
import { sharedPoolManager } from "../manager/pool_manager.ts";
import { decideRedirect, REDIRECT_STATUSES } from "../policy/redirect.ts";
import type { Retry } from "../policy/retry.ts";
import type { Timeout } from "../policy/timeout.ts";
import type { RequestMethods, UrlopenOptions } from "../request/request_methods.ts";
import type { HTTPResponse } from "../response.ts";
import { type FetchRequest, fetchRequest } from "./_fetch_request.ts";
import { toWebResponse } from "./_fetch_response.ts";

/**
 * Our own options of one `fetch` call, given as `init.pooled` (or to every call, as the
 * `defaults` of {@linkcode createFetch}). Left out, the manager's own apply.
 *
 * @example A timeout and no retries
 * ```ts
 * import type { PooledFetchOptions } from "@pooled/http";
 * const options: PooledFetchOptions = { timeout: 5_000, retries: false, maxResponseSize: 1 << 20 };
 * console.log(options.retries); // false
 * ```
 */
export interface PooledFetchOptions {
  /**
   * Retry policy of each hop (redirects are fetch's, below): a `Retry`, a number of
   * retries, or `false` for none. Default: the manager's (`Retry.DEFAULT`: 3).
   */
  retries?: Retry | number | boolean | null;
  /** Timeouts in ms: a `Timeout` or one number for connect and read. Default: none. */
  timeout?: Timeout | number | null;
  /** Longest wait in ms for a connection from a blocking pool. */
  poolTimeout?: number | null;
  /** Undo `Content-Encoding` (gzip, deflate, br, zstd), as fetch does (default true). */
  decodeContent?: boolean;
  /** Largest decoded body accepted, in bytes; more fails the body read. */
  maxResponseSize?: number | null;
  /** Fail the body read when it is shorter than `Content-Length` (default true). */
  enforceContentLength?: boolean;
  /** Most redirects followed with `redirect: "follow"` (default 20, as fetch). */
  maxRedirects?: number;
}

/**
 * The `init` of our `fetch`: the standard `RequestInit` plus our options as `pooled`.
 *
 * @example
 * ```ts
 * import type { PooledRequestInit } from "@pooled/http";
 * const init: PooledRequestInit = { method: "POST", body: "hi", pooled: { timeout: 2_000 } };
 * console.log(init.pooled?.timeout); // 2000
 * ```
 */
export interface PooledRequestInit extends RequestInit {
  /** Our own options of this call, over the `defaults` given to `createFetch`. */
  pooled?: PooledFetchOptions;
}

/**
 * A function with the WHATWG `fetch` signature, made by {@linkcode createFetch}.
 *
 * @example Give it to any library that takes a `fetch`
 * ```ts
 * import { createFetch, type PooledFetch } from "@pooled/http";
 * const myFetch: PooledFetch = createFetch();
 * const asGlobal: typeof globalThis.fetch = myFetch as typeof globalThis.fetch;
 * console.log(typeof asGlobal); // function
 * ```
 */
export type PooledFetch = (input: RequestInfo | URL, init?: PooledRequestInit) => Promise<Response>;

/** Fetch's limit on redirects. */
const MAX_REDIRECTS = 20;
/** Headers fetch drops on a redirect to another origin (as undici does). */
const CROSS_ORIGIN_DROPPED = ["authorization", "cookie", "proxy-authorization"];
/** Headers that describe a body, dropped when a redirect turns the request into a GET. */
const BODY_HEADERS = ["content-encoding", "content-language", "content-location", "content-type"];

/** A rejection as fetch's: the abort reason, a `TypeError`, or "fetch failed" with `cause`. */
function fetchError(error: unknown, signal: AbortSignal | null): unknown {
  if (signal?.aborted) return signal.reason;
  if (error instanceof TypeError) return error;
  return new TypeError("fetch failed", { cause: error });
}

/** The URL fetch reports: without its fragment. */
function withoutFragment(url: string): string {
  const hash = url.indexOf("#");
  return hash === -1 ? url : url.slice(0, hash);
}

/**
 * Points `request` at the target of a redirect as fetch does: 301 and 302 turn a POST,
 * and 303 anything but GET and HEAD, into a GET without body; another origin loses the
 * credentials. A streamed body cannot be sent again.
 */
function redirectTo(request: FetchRequest, status: number, location: string): void {
  const decision = decideRedirect({
    status,
    location,
    method: request.method,
    url: request.url,
    removeHeadersOnRedirect: CROSS_ORIGIN_DROPPED,
  });
  const toGet = ((status === 301 || status === 302) && request.method === "POST") ||
    (status === 303 && request.method !== "GET" && request.method !== "HEAD");
  if (toGet) {
    request.method = "GET";
    request.body = null;
    for (const name of BODY_HEADERS) request.headers.delete(name);
  } else if (request.body instanceof ReadableStream) {
    throw new UnrewindableBodyError(
      `Unable to send a streamed request body again to follow a redirect: ${status}`,
    );
  }
  if (decision.crossOrigin) {
    for (const name of CROSS_ORIGIN_DROPPED) request.headers.delete(name);
  }
  request.url = decision.url;
}

/** Sends `request` through `manager`, hop by hop, and returns the final response. */
async function send(
  manager: RequestMethods,
  request: FetchRequest,
  options: PooledFetchOptions,
): Promise<{ response: HTTPResponse; redirects: number }> {
  const { maxRedirects = MAX_REDIRECTS, ...pooled } = options;
  const signal = request.signal ?? undefined;
  for (let redirects = 0;; redirects++) {
    const { headers, body } = request;
    const hop: UrlopenOptions = {
      ...pooled,
      headers,
      body,
      signal,
      redirect: false,
      preloadContent: false,
    };
    const response = await manager.urlopen(request.method, request.url, hop);
    const status = response.status;
    if (!REDIRECT_STATUSES.has(status) || request.redirect === "manual") {
      return { response, redirects };
    }
    if (request.redirect === "error") {
      response.close();
      throw new ResponseError(`Unexpected redirect with redirect mode "error": ${status}`);
    }
    const location = response.headers.get("location");
    if (location === undefined) return { response, redirects };
    await response.drainConn();
    if (redirects >= maxRedirects) {
      throw new MaxRetryError(null, request.url, new ResponseError("too many redirects"));
    }
    redirectTo(request, status, location);
  }
}

/**
 * Makes a function with the WHATWG `fetch` signature that sends its requests through
 * `manager` (default: the module-wide one behind the top-level `request()`), and
 * returns a standard `Response` whose body streams from the connection.
 *
 * - Input: a `Request`, a string or a `URL`; `init` takes `method`, `headers`, `body`
 *   (string, ArrayBuffer or view, Blob, FormData, URLSearchParams, ReadableStream),
 *   `redirect` (`"follow"`, `"manual"`: the 3xx as it is, `"error"`: a rejection) and
 *   `signal`; other `RequestInit` fields are ignored. `init.pooled` holds our own options
 *   ({@linkcode PooledFetchOptions}) over `defaults`.
 * - Redirects follow fetch's rules, not urllib3's: up to 20; 301/302 turn a POST into a
 *   GET, 303 anything but GET and HEAD; `Authorization`, `Cookie` and `Proxy-Authorization` are
 *   dropped across origins. The manager's `Retry` applies to each hop.
 * - Sends `Accept` (any type) and `Accept-Encoding: gzip,deflate,br` unless given, and
 *   decodes the body (`Content-Encoding` and `Content-Length` stay in the headers, as fetch's).
 * - Failures reject with `TypeError("fetch failed")` whose `cause` is our typed error; an
 *   abort rejects with the signal's reason; a body that fails to read errors with
 *   `TypeError("terminated")` whose `cause` is our error.
 * - The connection goes back to its pool when the body is read to its end, and is closed
 *   when the body is cancelled. As with fetch, read or cancel every body: an unread body
 *   holds its connection until the `Response` is garbage-collected.
 *
 * @param manager Where requests go: a `PoolManager`, `ProxyManager`, `SOCKSProxyManager`
 * (or a pool, for its own origin only). Default: the module-wide manager.
 * @param defaults Our options for every call; `init.pooled` overrides them one by one.
 * @returns a `fetch` function.
 *
 * @example A fetch through a manager, for a library that takes `fetch`
 * ```ts
 * import { createFetch, PoolManager } from "@pooled/http";
 *
 * await using server = Deno.serve({ port: 0, onListen() {} }, async (req) =>
 *   Response.json({ method: req.method, body: await req.text() }));
 * await using manager = new PoolManager({ maxSize: 4 });
 * const fetch = createFetch(manager, { timeout: 5_000 });
 *
 * const r = await fetch(`http://127.0.0.1:${server.addr.port}/`, {
 *   method: "POST",
 *   body: "hello",
 *   pooled: { retries: 2 },
 * });
 * console.log(r.status, await r.json()); // 200 { method: "POST", body: "hello" }
 * ```
 */
export function createFetch(manager?: RequestMethods, defaults?: PooledFetchOptions): PooledFetch {
  return async (input, init) => {
    let request: FetchRequest | null = null;
    try {
      request = await fetchRequest(input, init);
      request.signal?.throwIfAborted();
      const options = init?.pooled ? { ...defaults, ...init.pooled } : defaults ?? {};
      const { response, redirects } = await send(
        manager ?? sharedPoolManager(),
        request,
        options,
      );
      return await finish(response, request, redirects > 0);
    } catch (error) {
      throw fetchError(error, request?.signal ?? null);
    }
  };
}

/** The web `Response` of the final response; the connection is closed if that fails. */
async function finish(
  response: HTTPResponse,
  request: FetchRequest,
  redirected: boolean,
): Promise<Response> {
  try {
    return await toWebResponse(
      response,
      request.method,
      withoutFragment(request.url),
      redirected,
      request.signal,
    );
  } catch (error) {
    response.close();
    throw error;
  }
}

/**
 * The WHATWG `fetch`, through the module-wide `PoolManager` that the top-level
 * `request()` uses (made on first use), with the manager's defaults: no timeout unlike
 * `request()`'s 3 s, `Retry.DEFAULT`. See {@linkcode createFetch} for what it does. Import
 * it by name: it is not the runtime's `fetch`, and importing it shadows the global in that
 * module (`import { fetch as pooledFetch } from "@pooled/http"` keeps both).
 *
 * @example
 * ```ts
 * import { fetch as pooledFetch } from "@pooled/http";
 *
 * await using server = Deno.serve({ port: 0, onListen() {} }, () =>
 *   new Response("hi", { headers: { "x-served-by": "deno" } }));
 * const r = await pooledFetch(`http://127.0.0.1:${server.addr.port}/`);
 * console.log(r.status, r.headers.get("x-served-by"), await r.text()); // 200 deno hi
 * ```
 */
export const fetch: PooledFetch = createFetch();
