/**
 * The request loop shared by pools and managers: attempt, then retry, follow a redirect
 * or return, as the `Retry` policy decides. The decisions themselves are pure functions
 * (`Retry.increment`, `decideRedirect`); this loop only does the I/O between them.
 *
 * @module
 */

import type { CookieJar } from "../cookies/cookie_jar.ts";
import { storeResponseCookies, withJarCookies } from "../cookies/_request_cookies.ts";
import { ProtocolError, ProxyError, SSLError, TimeoutError } from "../errors.ts";
import { NO_BODY, prepareBody, prepareBodySync, type PreparedBody } from "../body/request_body.ts";
import { type DescriptorInit, RequestDescriptor, type ResponseListener } from "./_descriptor.ts";
import type { Dispatcher, Router } from "./_dispatcher.ts";
import { StaleConnectionError } from "../http1/exchange.ts";
import { HTTP2StreamRefusedError } from "../http2/errors.ts";
import { decideRedirect } from "../policy/redirect.ts";
import { requestHeaderPairs, type RequestHeaders, type UrlopenOptions } from "./request_methods.ts";
import type { HTTPResponse } from "../response.ts";
import { Retry } from "../policy/retry.ts";
import { Timeout } from "../policy/timeout.ts";
import { parseUrl } from "../url.ts";
import { redirect as redirectChannel, retry as retryChannel } from "../diagnostics/_channels.ts";
import { HookRunner } from "./_hook_runner.ts";

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
  // No prototype: a header may be named "__proto__" (or "constructor").
  const kept: Record<string, string[] | undefined> = Object.create(null);
  for (const [name, value] of headers === undefined ? [] : requestHeaderPairs(headers)) {
    if (names.has(name.toLowerCase())) continue;
    if (value === undefined) kept[name] = undefined;
    else (kept[name] ??= []).push(value);
  }
  for (const name of names) kept[name] = undefined;
  return kept;
}

/**
 * One request across its attempts: what the next attempt sends, and where. Each attempt
 * is described by a {@linkcode RequestDescriptor} made from it; the run itself is the
 * listener of the first attempt, so the common case (a final response at once) settles
 * the caller's promise straight from the pool, with no promise between.
 */
class RequestRun implements DescriptorInit, ResponseListener {
  readonly route: Router;
  readonly options: UrlopenOptions;
  readonly followRedirects: boolean;
  readonly timeout: Timeout;
  readonly poolTimeout: number | null;
  readonly preload: boolean;
  readonly releaseConn: boolean;
  readonly decodeContent: boolean;
  readonly enforceContentLength: boolean;
  readonly maxResponseSize: number | null;
  readonly signal: AbortSignal | undefined;
  readonly timings: boolean;
  /** The pool's hooks for this call, or null when it has none. */
  hooks: HookRunner | null = null;
  /** The pool in use, held so that a pool the manager evicts meanwhile keeps serving us. */
  pool: Dispatcher;
  method: string;
  url: string;
  target: string;
  headers: RequestHeaders | undefined;
  /** The manager's cookie jar, or null: then `headers` are always `ownHeaders`. */
  readonly cookies: CookieJar | null;
  /** The caller's headers, less those a redirect removed; `headers` adds the jar's cookies. */
  ownHeaders: RequestHeaders | undefined;
  body: PreparedBody = NO_BODY;
  chunked: boolean;
  retries: Retry;
  /** Stale kept-alive connections that may still be replaced without using a retry. */
  staleLeft = MAX_STALE_REPLACEMENTS;
  /** The attempt was resent once already because HTTP/2 refused it unprocessed. */
  resentUnprocessed = false;
  /** Settle the caller's promise. */
  resolve!: (response: HTTPResponse) => void;
  reject!: (error: unknown) => void;

  constructor(
    route: Router,
    pool: Dispatcher,
    method: string,
    url: string,
    target: string,
    options: UrlopenOptions,
    retries: Retry,
    cookies: CookieJar | null,
  ) {
    this.route = route;
    this.options = options;
    this.followRedirects = options.redirect !== false && !retries.redirectsDisabled;
    this.timeout = Timeout.from(options.timeout, pool.timeout);
    this.poolTimeout = options.poolTimeout ?? null;
    this.preload = options.preloadContent ?? true;
    this.releaseConn = options.releaseConn ?? this.preload;
    this.decodeContent = options.decodeContent ?? true;
    this.enforceContentLength = options.enforceContentLength ?? true;
    this.maxResponseSize = options.maxResponseSize ?? null;
    this.signal = options.signal;
    this.timings = options.timings ?? pool.timings;
    this.pool = pool;
    this.method = method;
    this.url = url;
    this.target = target;
    this.headers = this.ownHeaders = options.headers;
    this.cookies = cookies;
    this.chunked = options.chunked ?? false;
    this.retries = retries;
  }

  /** Holds the pool and makes the first attempt, with this run as its listener. */
  start(): void {
    this.pool.hold();
    if (this.cookies !== null) addCookies(this);
    this.pool.dispatch(new RequestDescriptor(this, this));
  }

  responded(response: HTTPResponse): void {
    if (this.cookies !== null) storeResponseCookies(this.cookies, response, this.url);
    let final: boolean;
    try {
      final = isFinal(this, response);
    } catch (error) {
      // Nobody will get this response: it must not keep its connection.
      response.close();
      this.pool.unhold();
      return this.reject(error);
    }
    if (final) this.resolve(finish(this, response));
    else this.#continue(response);
  }

  failed(error: unknown): void {
    this.#continue(null, error);
  }

  /**
   * Goes on in {@linkcode continueRequest}, from a microtask: the pool may call from inside a
   * socket event, where the next attempt must not start.
   */
  #continue(response: HTTPResponse | null, error?: unknown): void {
    queueMicrotask(() => continueRequest(this, response, error).then(this.resolve, this.reject));
  }
}

/**
 * Runs one request to completion: attempts on `firstPool`, retries errors and statuses
 * the policy allows, and follows redirects (`route` picks the pool of each new URL, or
 * throws for origins it does not serve). A first attempt that ends in a final response,
 * the common case, settles the returned promise from the pool's callback; anything else
 * continues in {@linkcode continueRequest}.
 */
export function runRequest(
  route: Router,
  firstPool: Dispatcher,
  method: string,
  url: string,
  options: UrlopenOptions,
  defaultRetries: Retry,
  firstTarget?: string,
  cookies: CookieJar | null = null,
): Promise<HTTPResponse> {
  let run: RequestRun;
  let body: PreparedBody | null;
  try {
    // No `retries` option: the default as it is (`redirect` is read by the loop itself).
    const retries = options.retries === undefined || options.retries === null
      ? defaultRetries
      : Retry.fromInt(options.retries, { redirect: options.redirect });
    body = prepareBodySync(options.body);
    const target = firstTarget ?? requestTarget(url);
    run = new RequestRun(route, firstPool, method, url, target, options, retries, cookies);
  } catch (error) {
    return Promise.reject(error);
  }
  const hooks = firstPool.hooks;
  if (hooks !== undefined) {
    run.hooks = new HookRunner(hooks, method, url, options.headers, options.body ?? null);
    return runHooked(run, body);
  }
  return new Promise((resolve, reject) => {
    run.resolve = resolve;
    run.reject = reject;
    if (body !== null) {
      run.body = body;
      return run.start();
    }
    // A body that must be read first (a Blob, a stream's length...).
    prepareBody(options.body).then((prepared) => {
      run.body = prepared;
      run.start();
    }, reject);
  });
}

/** A call with hooks: everything goes through {@linkcode continueRequest}. */
async function runHooked(run: RequestRun, body: PreparedBody | null): Promise<HTTPResponse> {
  try {
    run.body = body ?? await prepareBody(run.options.body);
  } catch (error) {
    throw await run.hooks!.failed(error);
  }
  run.pool.hold();
  return continueRequest(run, undefined);
}

/**
 * Runs the `beforeRequest` hooks and takes the view's headers and body (prepared again
 * when a hook replaced it) for the next attempt: the response a hook answered with, or null.
 */
async function beforeAttempt(state: RequestRun, hooks: HookRunner): Promise<HTTPResponse | null> {
  const answer = await hooks.beforeRequest();
  state.headers = state.ownHeaders = hooks.headers();
  const body = hooks.takeNewBody();
  if (body !== undefined) state.body = await prepareBody(body);
  return answer;
}

/** Sets the headers of the next attempt: the caller's and the jar's cookies for its URL. */
function addCookies(run: RequestRun): void {
  run.headers = withJarCookies(run.cookies!, run.ownHeaders, run.pool.headers, run.url);
}

/** One attempt after the first, as a promise. */
function attemptAgain(run: RequestRun): Promise<HTTPResponse> {
  if (run.cookies !== null) addCookies(run);
  return new Promise((resolve, reject) => {
    run.pool.dispatch(new RequestDescriptor(run, { responded: resolve, failed: reject }));
  });
}

/** True when the policy neither follows nor retries `response`: it goes to the caller. */
function isFinal(state: RequestRun, response: HTTPResponse): boolean {
  return !redirectToFollow(state, response) && !isStatusRetried(state, response);
}

/** The `Location` the policy follows; false, null or "" when `response` is not followed. */
function redirectToFollow(state: RequestRun, response: HTTPResponse): string | null | false {
  return state.followRedirects ? response.getRedirectLocation() : false;
}

/** True when the policy retries `response` for its status. */
function isStatusRetried(state: RequestRun, response: HTTPResponse): boolean {
  return state.retries.isRetry(state.method, response.status, hasRetryAfter(response));
}

/** Only these statuses look at Retry-After: other responses skip the header lookup. */
function hasRetryAfter(response: HTTPResponse): boolean {
  return Retry.RETRY_AFTER_STATUS_CODES.has(response.status) &&
    response.headers.has("retry-after");
}

function finish(state: RequestRun, response: HTTPResponse): HTTPResponse {
  state.pool.unhold();
  response.retries = state.retries;
  response.url = state.url;
  return response;
}

/**
 * Goes on from the outcome of an attempt (`response`, or `error` when it is null; with
 * `undefined`, from the first attempt) until a response is final or an error is not
 * retried; ends the hold on the pool in use. Runs the hooks, when the call has some.
 */
async function continueRequest(
  state: RequestRun,
  first: HTTPResponse | null | undefined,
  firstError?: unknown,
): Promise<HTTPResponse> {
  const hooks = state.hooks;
  try {
    let response = first;
    let error = firstError;
    for (;;) {
      if (response === null) {
        await afterFailure(state, error);
      } else if (response !== undefined) {
        const final = await afterResponse(state, response);
        if (final !== null) {
          if (hooks === null || !await hooks.afterResponse(final)) return final;
          // Sent once more, as an `afterResponse` hook asked.
          await final.drainConn();
          state.body.stream?.assertCanSend();
        }
      }
      const answer = hooks === null ? null : await beforeAttempt(state, hooks);
      try {
        response = answer ?? await attemptAgain(state);
        if (state.cookies !== null) storeResponseCookies(state.cookies, response, state.url);
      } catch (caught) {
        response = null;
        error = caught;
      }
    }
  } catch (error) {
    if (hooks === null) throw error;
    throw await hooks.failed(error);
  } finally {
    state.pool.unhold();
  }
}

/** Rethrows `error` unless the policy retries it; then waits the backoff (if any). */
async function afterFailure(state: RequestRun, error: unknown): Promise<void> {
  const { method, url, pool, options } = state;
  if (options.signal?.aborted || !isRetryableFailure(error)) throw error;
  // A kept-alive connection the server had already closed: the request never reached
  // it, so a request the policy could retry is sent again on a fresh one, uncounted.
  // Only such resends spend the budget (the method is checked first).
  if (
    error instanceof StaleConnectionError && state.retries.isRetryableMethod(method) &&
    state.staleLeft-- > 0
  ) {
    state.body.stream?.assertCanSend(error);
    if (retryChannel.hasSubscribers) {
      retryChannel.publish(retryMessage(state, state.retries, null, 0, error, true));
    }
    return;
  }
  // HTTP/2 said the server did not act on the request (GOAWAY above its stream, or
  // REFUSED_STREAM): sent again, uncounted and whatever the method, once per attempt, so a
  // server that refuses everything cannot loop us.
  if (error instanceof HTTP2StreamRefusedError && error.unprocessed && !state.resentUnprocessed) {
    state.resentUnprocessed = true;
    state.body.stream?.assertCanSend(error);
    if (retryChannel.hasSubscribers) {
      retryChannel.publish(retryMessage(state, state.retries, null, 0, error, true));
    }
    return;
  }
  state.resentUnprocessed = false;
  state.retries = state.retries.increment({ method, url, error, pool: pool.pool });
  state.body.stream?.assertCanSend(error);
  const delay = state.retries.getBackoffTime();
  if (retryChannel.hasSubscribers) {
    retryChannel.publish(retryMessage(state, state.retries, null, delay, error));
  }
  if (state.hooks !== null) await state.hooks.beforeRetry(error, state.retries);
  await sleep(delay, options.signal);
}

/**
 * Follows a redirect or retries a status the policy asks for (preparing `state` for the
 * next attempt and returning null), or returns the response that goes to the caller.
 */
async function afterResponse(
  state: RequestRun,
  response: HTTPResponse,
): Promise<HTTPResponse | null> {
  const { method, url, pool, retries } = state;
  state.resentUnprocessed = false;
  const location = redirectToFollow(state, response);
  if (location) {
    let next: Retry;
    try {
      next = retries.increment({ method, url, response, pool: pool.pool });
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
    const keepsBody = followRedirect(state, response.status, location, next);
    if (redirectChannel.hasSubscribers) {
      redirectChannel.publish(redirected(method, url, response, state));
    }
    if (state.hooks !== null) {
      const { method, url, ownHeaders } = state;
      await state.hooks.beforeRedirect(response, { method, url, ownHeaders, keepsBody });
    }
    return null;
  }
  if (isStatusRetried(state, response)) {
    let next: Retry;
    try {
      next = retries.increment({ method, url, response, pool: pool.pool });
    } catch (error) {
      if (retries.raiseOnStatus) {
        await response.drainConn();
        throw error;
      }
      response.retries = retries;
      return response;
    }
    await response.drainConn();
    state.body.stream?.assertCanSend();
    const delay = next.sleepTime(response);
    if (retryChannel.hasSubscribers) {
      retryChannel.publish(retryMessage(state, next, response, delay));
    }
    if (state.hooks !== null) await state.hooks.beforeRetry(response, next);
    await sleep(delay, state.options.signal);
    state.retries = next;
    return null;
  }
  response.retries = retries;
  response.url = url;
  return response;
}

/** The `pooled:retry` message for the attempt `state` is about to send again. */
function retryMessage(
  state: RequestRun,
  retries: Retry,
  response: HTTPResponse | null,
  delay: number,
  error: unknown = null,
  stale = false,
) {
  return { method: state.method, url: state.url, error, response, retries, delay, stale };
}

/** The `pooled:redirect` message for `response` to `method url`, now followed by `state`. */
function redirected(
  method: string,
  url: string,
  response: HTTPResponse,
  state: RequestRun,
) {
  const { status } = response;
  const location = response.getRedirectLocation() || "";
  const { method: nextMethod, url: nextUrl, retries } = state;
  return { method, url, status, location, nextMethod, nextUrl, retries, response };
}

/** Points `state` at the redirect target, as `decideRedirect` says; false when the body was dropped. */
function followRedirect(
  state: RequestRun,
  status: number,
  location: string,
  next: Retry,
): boolean {
  const decision = decideRedirect({
    status,
    location,
    method: state.method,
    url: state.url,
    removeHeadersOnRedirect: state.retries.removeHeadersOnRedirect,
  });
  state.retries = next;
  if (decision.dropBody) {
    state.body = NO_BODY;
    state.chunked = false;
  } else {
    state.body.stream?.assertCanSend();
  }
  if (decision.removeHeaders.size > 0) {
    state.headers = state.ownHeaders = withoutHeaders(state.ownHeaders, decision.removeHeaders);
  }
  state.method = decision.method;
  state.url = decision.url;
  state.target = requestTarget(state.url);
  const nextPool = state.route(state.url);
  if (nextPool !== state.pool) {
    state.pool.unhold();
    state.pool = nextPool;
    state.pool.hold();
  }
  return !decision.dropBody;
}
