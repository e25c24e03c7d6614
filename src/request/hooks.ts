/**
 * Request hooks: functions a pool or manager runs at fixed points of every request, to
 * sign it, refresh a token, log a retry or veto a redirect, without wrapping each call.
 *
 * @module
 */

import type { HTTPHeaderDict } from "../headers.ts";
import type { RequestBody } from "../body/request_body.ts";
import type { Retry } from "../policy/retry.ts";
import type { HTTPResponse } from "../response.ts";

/**
 * A request as hooks see it: one object for the whole call (its retries and redirects
 * included), whose `headers` and `body` hooks may change. A change applies from the next
 * attempt on.
 */
export interface HookRequest {
  /** The method of the next attempt (a 303 redirect turns it into `GET`). */
  readonly method: string;
  /** The absolute URL of the next attempt. */
  readonly url: string;
  /**
   * The request's own headers, without those the pool or manager adds (`headers` option,
   * `Host`, cookies of a jar), which are merged under them when it is sent.
   */
  headers: HTTPHeaderDict;
  /**
   * The body as given (`json` and `fields` already encoded), or null. A body that can be
   * read only once (a stream) cannot be sent again: replace it with a new one to resend.
   */
  body: RequestBody | null;
}

/** A value, or a promise of it: every hook may be sync or async. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * Runs before each attempt (the first, each retry, each redirect hop). It may change
 * `request.headers` and `request.body`, or return a response (an `HTTPResponse` or a web
 * `Response`) to answer the attempt itself: no connection is taken, the hooks after it
 * do not run, and the response goes on as if the server had sent it.
 */
export type BeforeRequestHook = (
  request: HookRequest,
) => MaybePromise<HTTPResponse | Response | void | undefined>;

/**
 * Runs with the response that would go to the caller (after redirects and status retries).
 * It may return a request (`request` itself, changed, or another) to send once more
 * instead, say with a refreshed token after a 401: its `headers` and `body` are used, the
 * response is drained and the hooks after it do not run. This happens once per call: a
 * request returned for the response of that second send is ignored.
 */
export type AfterResponseHook = (
  response: HTTPResponse,
  request: HookRequest,
) => MaybePromise<HookRequest | void | undefined>;

/**
 * Runs when the retry policy retries an error or a response status, before the backoff,
 * with what caused it and the policy after counting it. Throwing vetoes the retry: the
 * caller gets the thrown error.
 */
export type BeforeRetryHook = (
  cause: Error | HTTPResponse,
  retry: Retry,
) => MaybePromise<void>;

/**
 * Runs before a redirect is followed, with the redirect response (already drained) and the
 * request of the next hop (its method, URL, headers and body as the policy set them),
 * whose headers and body may be changed. Throwing vetoes the redirect: the caller gets
 * the thrown error.
 */
export type BeforeRedirectHook = (
  response: HTTPResponse,
  nextRequest: HookRequest,
) => MaybePromise<void>;

/**
 * Runs when the call fails, with the error the caller is about to get (a hook's own error
 * included). Throwing replaces that error (the hooks after it do not run).
 */
export type OnErrorHook = (error: unknown, request: HookRequest) => MaybePromise<void>;

/**
 * The `hooks` option of a pool or manager: for each point, functions run in order, each
 * awaited before the next. A hook that throws gives the caller that error, and whatever
 * connection the request held goes back to its pool.
 *
 * @example Sign requests, refresh a token on 401, log retries
 * ```ts
 * import { type Hooks, PoolManager } from "@pooled/http";
 * let token = "old";
 * await using server = Deno.serve({ port: 0, onListen() {} }, (req) =>
 *   req.headers.get("authorization") === "Bearer new"
 *     ? new Response("ok")
 *     : new Response("expired", { status: 401 }));
 * const hooks: Hooks = {
 *   beforeRequest: [(request) => void request.headers.set("Authorization", `Bearer ${token}`)],
 *   afterResponse: [async (response, request) => {
 *     if (response.status !== 401) return;
 *     token = await Promise.resolve("new"); // fetch a new token
 *     return request; // send once more: beforeRequest sets the new token
 *   }],
 *   beforeRetry: [(cause, retry) => console.log("retrying", retry.total, cause)],
 * };
 * await using manager = new PoolManager({ hooks });
 * const r = await manager.request("GET", `http://127.0.0.1:${server.addr.port}/`);
 * console.log(r.status, await r.text()); // 200 ok
 * ```
 */
export interface Hooks {
  /** Before each attempt: change the request, or answer it. */
  beforeRequest?: readonly BeforeRequestHook[];
  /** With the response for the caller: return a request to send once more. */
  afterResponse?: readonly AfterResponseHook[];
  /** Before a retry: throw to veto it. */
  beforeRetry?: readonly BeforeRetryHook[];
  /** Before a redirect is followed: change the next request, or throw to veto it. */
  beforeRedirect?: readonly BeforeRedirectHook[];
  /** When the call fails. */
  onError?: readonly OnErrorHook[];
}
