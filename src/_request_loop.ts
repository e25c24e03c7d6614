/**
 * The request loop shared by pools and managers: attempt, then retry, follow a redirect
 * or return, as the `Retry` policy decides. The decisions themselves are pure functions
 * (`Retry.increment`, `decideRedirect`); this loop only does the I/O between them.
 *
 * @module
 */

import { ProtocolError, ProxyError, SSLError, TimeoutError } from "./errors.ts";
import { NO_BODY, prepareBody, prepareBodySync, type PreparedBody } from "./body/request_body.ts";
import type { ConnectionPool } from "./connection_pool.ts";
import { StaleConnectionError } from "./http1/exchange.ts";
import { decideRedirect } from "./redirect.ts";
import { requestHeaderPairs, type RequestHeaders, type UrlopenOptions } from "./request_methods.ts";
import type { HTTPResponse } from "./response.ts";
import { Retry } from "./retry.ts";
import { Timeout } from "./timeout.ts";
import { parseUrl } from "./url.ts";

/** Picks the pool for an absolute URL (or throws, e.g. `HostChangedError`). */
export type Router = (url: string) => ConnectionPool;

/** Reused connections found dead before answering, replaced without using a retry. */
const MAX_STALE_REPLACEMENTS = 16;

/** Errors that mean the attempt failed on the network and the policy may retry it. */
function isRetryableFailure(error: unknown): error is Error {
  return error instanceof TimeoutError || error instanceof ProtocolError ||
    error instanceof SSLError || error instanceof ProxyError;
}

/** Waits `ms`, or rejects at once when `signal` aborts; leaves no timer behind. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The origin-form target of an absolute URL: path and query, never the fragment. */
export function requestTarget(url: string): string {
  return parseUrl(url).requestUri;
}

/** Removes `names` (lower-case) from the request headers and from what the pool adds. */
function withoutHeaders(
  headers: RequestHeaders | undefined,
  names: ReadonlySet<string>,
): RequestHeaders {
  const kept: Record<string, string[] | undefined> = {};
  for (const [name, value] of headers === undefined ? [] : requestHeaderPairs(headers)) {
    if (names.has(name.toLowerCase())) continue;
    if (value === undefined) kept[name] = undefined;
    else (kept[name] ??= []).push(value);
  }
  for (const name of names) kept[name] = undefined;
  return kept;
}

/**
 * Runs one request to completion: attempts on `firstPool`, retries errors and statuses
 * the policy allows, and follows redirects (`route` picks the pool of each new URL, or
 * throws for origins it does not serve).
 */
export async function runRequest(
  route: Router,
  firstPool: ConnectionPool,
  method: string,
  url: string,
  options: UrlopenOptions,
  defaultRetries: Retry,
  firstTarget?: string,
): Promise<HTTPResponse> {
  let retries = options.retries instanceof Retry
    ? options.retries
    : options.retries === undefined && options.redirect === undefined
    ? defaultRetries
    : Retry.fromInt(options.retries ?? null, {
      redirect: options.redirect,
      default: defaultRetries,
    });
  const followRedirects = options.redirect !== false && !retries.redirectsDisabled;
  const timeout = Timeout.from(options.timeout, firstPool.timeout);
  const signal = options.signal;
  let body: PreparedBody = prepareBodySync(options.body) ?? await prepareBody(options.body);
  let chunked = options.chunked ?? false;
  let headers = options.headers;
  let target = firstTarget ?? requestTarget(url);
  let staleLeft = MAX_STALE_REPLACEMENTS;
  // The first attempt goes to the pool the caller picked; after a redirect `route` decides.
  // The pool in use is held, so a pool the manager evicts meanwhile stays open for us.
  let pool = firstPool;
  pool.hold();
  try {
    for (;;) {
      let response: HTTPResponse;
      try {
        response = await pool.attempt({
          method,
          target,
          url,
          headers,
          body,
          chunked,
          timeout,
          poolTimeout: options.poolTimeout ?? null,
          preload: options.preloadContent ?? true,
          decodeContent: options.decodeContent ?? true,
          enforceContentLength: options.enforceContentLength ?? true,
          maxResponseSize: options.maxResponseSize ?? null,
          signal,
        });
      } catch (error) {
        if (signal?.aborted || !isRetryableFailure(error)) throw error;
        // A kept-alive connection the server had already closed: the request never reached
        // it, so a request the policy could retry is sent again on a fresh one, uncounted.
        if (
          error instanceof StaleConnectionError && staleLeft-- > 0 &&
          retries.isRetryableMethod(method)
        ) {
          body.stream?.assertCanSend(error);
          continue;
        }
        retries = retries.increment({ method, url, error, pool });
        body.stream?.assertCanSend(error);
        await sleep(retries.getBackoffTime(), signal);
        continue;
      }

      const location = followRedirects ? response.getRedirectLocation() : false;
      if (location) {
        let next: Retry;
        try {
          next = retries.increment({ method, url, response, pool });
        } catch (error) {
          if (retries.raiseOnRedirect) {
            await response.drainConn();
            throw error;
          }
          response.retries = retries;
          return response;
        }
        // Drained first, so a Location that cannot be followed does not hold the connection.
        await response.drainConn();
        const decision = decideRedirect({
          status: response.status,
          location,
          method,
          url,
          removeHeadersOnRedirect: retries.removeHeadersOnRedirect,
        });
        retries = next;
        if (decision.dropBody) {
          body = NO_BODY;
          chunked = false;
        } else {
          body.stream?.assertCanSend();
        }
        if (decision.removeHeaders.size > 0) {
          headers = withoutHeaders(headers, decision.removeHeaders);
        }
        method = decision.method;
        url = decision.url;
        target = requestTarget(url);
        const nextPool = route(url);
        if (nextPool !== pool) {
          pool.unhold();
          pool = nextPool;
          pool.hold();
        }
        continue;
      }

      // Only these statuses look at Retry-After: other responses skip the header lookup.
      const hasRetryAfter = Retry.RETRY_AFTER_STATUS_CODES.has(response.status) &&
        response.headers.has("retry-after");
      if (retries.isRetry(method, response.status, hasRetryAfter)) {
        let next: Retry;
        try {
          next = retries.increment({ method, url, response, pool });
        } catch (error) {
          if (retries.raiseOnStatus) {
            await response.drainConn();
            throw error;
          }
          response.retries = retries;
          return response;
        }
        await response.drainConn();
        body.stream?.assertCanSend();
        await sleep(next.sleepTime(response), signal);
        retries = next;
        continue;
      }

      response.retries = retries;
      response.url = url;
      return response;
    }
  } finally {
    pool.unhold();
  }
}
