/**
 * Runs a pool's or manager's hooks for one call, on the one request view they share. The
 * request loop asks it at each point; calls without hooks never make one.
 *
 * @module
 */

import { HTTPHeaderDict } from "../headers.ts";
import type { RequestBody } from "../body/request_body.ts";
import type { Retry } from "../policy/retry.ts";
import { HTTPResponse } from "../response.ts";
import type { HookRequest, Hooks } from "./hooks.ts";
import { requestHeaderPairs, type RequestHeaders } from "./request_methods.ts";

/** Hooks checked and copied: every list present (maybe empty), at least one not empty. */
export type CheckedHooks = { readonly [Name in keyof Hooks]-?: NonNullable<Hooks[Name]> };

const HOOK_NAMES: readonly (keyof Hooks)[] = [
  "beforeRequest",
  "afterResponse",
  "beforeRetry",
  "beforeRedirect",
  "onError",
];

/**
 * The `hooks` option checked and copied (later changes to the caller's arrays do not
 * apply), or undefined when it names no hook: a call then costs nothing more.
 */
export function checkHooks(hooks: Hooks | undefined): CheckedHooks | undefined {
  if (hooks === undefined) return undefined;
  if (typeof hooks !== "object" || hooks === null || Array.isArray(hooks)) {
    throw new TypeError(`hooks must be an object of arrays of functions: ${typeof hooks}`);
  }
  for (const name of Object.keys(hooks)) {
    if (!HOOK_NAMES.includes(name as keyof Hooks)) {
      throw new TypeError(`Unknown hook: ${JSON.stringify(name)}`);
    }
  }
  let count = 0;
  const checked: Record<string, readonly unknown[]> = {};
  for (const name of HOOK_NAMES) {
    const list: unknown = hooks[name] ?? [];
    if (!Array.isArray(list) || list.some((hook) => typeof hook !== "function")) {
      throw new TypeError(`hooks.${name} must be an array of functions: ${String(list)}`);
    }
    checked[name] = Object.freeze([...list]);
    count += list.length;
  }
  return count === 0 ? undefined : checked as CheckedHooks;
}

/** The view hooks get of a call: its next attempt's method, URL, headers and body. */
class RequestView implements HookRequest {
  method: string;
  url: string;
  headers: HTTPHeaderDict;
  body: RequestBody | null;

  constructor(method: string, url: string, headers: HTTPHeaderDict, body: RequestBody | null) {
    this.method = method;
    this.url = url;
    this.headers = headers;
    this.body = body;
  }
}

/** What the loop tells the runner of the next attempt after a redirect. */
export interface NextHop {
  readonly method: string;
  readonly url: string;
  /** The headers left (a removed one maps to `undefined`). */
  readonly ownHeaders: RequestHeaders | undefined;
  /** False when the redirect dropped the body. */
  readonly keepsBody: boolean;
}

/** One call's hooks and the request view they change. */
export class HookRunner {
  readonly #hooks: CheckedHooks;
  readonly #view: RequestView;
  /** Lower-case names of inherited headers the request removes (given as `undefined`). */
  #removed = new Set<string>();
  /** The body the loop holds prepared: another one in the view must be prepared again. */
  #preparedBody: RequestBody | null;
  #resent = false;

  constructor(
    hooks: CheckedHooks,
    method: string,
    url: string,
    headers: RequestHeaders | undefined,
    body: RequestBody | null,
  ) {
    this.#hooks = hooks;
    this.#view = new RequestView(method, url, this.#split(headers), body);
    this.#preparedBody = body;
  }

  /** The caller's headers as a dict, remembering the removals. */
  #split(headers: RequestHeaders | undefined): HTTPHeaderDict {
    const dict = new HTTPHeaderDict();
    this.#removed = new Set();
    if (headers === undefined || headers === null) return dict;
    for (const [name, value] of requestHeaderPairs(headers)) {
      if (value === undefined) this.#removed.add(name.toLowerCase());
      else dict.add(name, value);
    }
    return dict;
  }

  /** The headers to send now: the view's, with the removals that still apply. */
  headers(): RequestHeaders {
    const dict = this.#view.headers instanceof HTTPHeaderDict
      ? this.#view.headers
      : this.#view.headers = new HTTPHeaderDict(this.#view.headers);
    if (this.#removed.size === 0) return dict;
    const pairs: [string, string | undefined][] = [...dict];
    for (const name of this.#removed) if (!dict.has(name)) pairs.push([name, undefined]);
    return pairs as RequestHeaders;
  }

  /** The view's body when a hook replaced it since it was last prepared; else undefined. */
  takeNewBody(): RequestBody | null | undefined {
    const body = this.#view.body;
    if (body === this.#preparedBody) return undefined;
    this.#preparedBody = body;
    return body;
  }

  /** Runs `beforeRequest`: the response one of them answered with, or null. */
  async beforeRequest(): Promise<HTTPResponse | null> {
    const view = this.#view;
    for (const hook of this.#hooks.beforeRequest) {
      const answer = await hook(view);
      if (answer instanceof HTTPResponse) return answer;
      if (answer instanceof Response) return await fromWebResponse(answer, view.url);
    }
    return null;
  }

  /**
   * Runs `afterResponse` on the caller's response: true when one asked to send the request
   * once more (its headers and body are then the view's). A hook that throws releases the
   * response's connection first.
   */
  async afterResponse(response: HTTPResponse): Promise<boolean> {
    const view = this.#view;
    try {
      for (const hook of this.#hooks.afterResponse) {
        const again = await hook(response, view);
        if (again === undefined || again === null || this.#resent) continue;
        this.#resent = true;
        if (again !== view) {
          view.headers = again.headers instanceof HTTPHeaderDict
            ? again.headers
            : new HTTPHeaderDict(again.headers);
          view.body = again.body ?? null;
        }
        return true;
      }
    } catch (error) {
      response.releaseConn();
      throw error;
    }
    return false;
  }

  /** Runs `beforeRetry`; a hook that throws vetoes the retry. */
  async beforeRetry(cause: Error | HTTPResponse, retry: Retry): Promise<void> {
    for (const hook of this.#hooks.beforeRetry) await hook(cause, retry);
  }

  /** Points the view at the next hop, then runs `beforeRedirect`; throwing vetoes it. */
  async beforeRedirect(response: HTTPResponse, next: NextHop): Promise<void> {
    const view = this.#view;
    view.method = next.method;
    view.url = next.url;
    view.headers = this.#split(next.ownHeaders);
    if (!next.keepsBody) view.body = this.#preparedBody = null;
    for (const hook of this.#hooks.beforeRedirect) await hook(response, view);
  }

  /** Runs `onError`: the error for the caller (the first one a hook threw, if any). */
  async failed(error: unknown): Promise<unknown> {
    try {
      for (const hook of this.#hooks.onError) await hook(error, this.#view);
    } catch (thrown) {
      return thrown;
    }
    return error;
  }
}

/** A web `Response` as a preloaded `HTTPResponse` for `url`. */
async function fromWebResponse(response: Response, url: string): Promise<HTTPResponse> {
  const data = new Uint8Array(await response.arrayBuffer());
  return new HTTPResponse({
    status: response.status,
    reason: response.statusText,
    version: 11,
    headers: new HTTPHeaderDict(response.headers),
    url,
    data,
  });
}
