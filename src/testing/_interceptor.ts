/**
 * Interceptors: what a mock origin answers to the requests that match them.
 * {@linkcode MockInterceptor} is the request half (`intercept(...)`), {@linkcode MockScope}
 * what `reply()` returns (`delay`, `times`, `persist`).
 *
 * @module
 */

import type { MockCallHistoryLog } from "./_call_history.ts";
import {
  checkHeaders,
  type MockReplyBody,
  type MockReplyOptions,
  type ResponseBytes,
  responseBytes,
} from "./_response_bytes.ts";

/**
 * Matches one string: equal to a string, matched by a RegExp, or accepted by a predicate.
 *
 * @example Three ways to match a path
 * ```ts
 * import type { MockMatcher } from "@pooled/http/testing";
 * const matchers: MockMatcher[] = ["/items/1", /^\/items\/\d+$/, (path) => path.startsWith("/items/")];
 * console.log(matchers.length); // 3
 * ```
 */
export type MockMatcher = string | RegExp | ((value: string) => boolean);

/**
 * Which requests an interceptor answers: given to `MockPool.intercept` (and, with an
 * `origin`, to `MockAgent.intercept`).
 *
 * @example Match a POST with a JSON body and a bearer token
 * ```ts
 * import { MockAgent, type MockInterceptOptions } from "@pooled/http/testing";
 * const match: MockInterceptOptions = {
 *   path: "/items",
 *   method: "POST",
 *   headers: { authorization: /^Bearer / },
 *   body: (body) => JSON.parse(body).name === "x",
 * };
 * await using agent = new MockAgent();
 * agent.disableNetConnect();
 * agent.get("http://api.test").intercept(match).reply(201, { id: 1 });
 * const r = await agent.request("POST", "http://api.test/items", {
 *   headers: { authorization: "Bearer t" },
 *   json: { name: "x" },
 * });
 * console.log(r.status, await r.json()); // 201 { id: 1 }
 * ```
 */
export interface MockInterceptOptions {
  /**
   * The request target (path and query). A string matches the same path with the same
   * query parameters in any order; a RegExp or predicate sees the target as sent.
   */
  readonly path: MockMatcher;
  /** The method (a string matches in any case). Default `"GET"`. */
  readonly method?: MockMatcher;
  /**
   * Header values by name (any case; `undefined` requires the header to be absent), or a
   * predicate given every header by lower-case name.
   */
  readonly headers?:
    | Readonly<Record<string, MockMatcher | undefined>>
    | ((headers: Readonly<Record<string, string>>) => boolean);
  /** The request body as UTF-8 text (`""` when there is none). */
  readonly body?: MockMatcher;
  /** Query parameters the request must have, exactly (added to a string `path`'s own). */
  readonly query?: Readonly<Record<string, string | number | boolean>>;
}

/**
 * What a reply callback returns: `reply((request) => ({ statusCode, data, responseOptions }))`.
 *
 * @example
 * ```ts
 * import type { MockReplyResult } from "@pooled/http/testing";
 * const result: MockReplyResult = { statusCode: 200, data: "ok", responseOptions: { headers: {} } };
 * console.log(result.statusCode); // 200
 * ```
 */
export interface MockReplyResult {
  /** The status code. */
  readonly statusCode: number;
  /** The body. */
  readonly data?: MockReplyBody;
  /** Headers and trailers. */
  readonly responseOptions?: MockReplyOptions;
}

/**
 * Computes a whole reply from the request.
 *
 * @example Echo the request body
 * ```ts
 * import { MockAgent, type MockReplyCallback } from "@pooled/http/testing";
 * const echo: MockReplyCallback = (request) => ({ statusCode: 200, data: request.body ?? "" });
 * await using agent = new MockAgent();
 * agent.get("http://api.test").intercept({ path: "/echo", method: "PUT" }).reply(echo);
 * const r = await agent.request("PUT", "http://api.test/echo", { body: "hi" });
 * console.log(await r.text()); // hi
 * ```
 */
export type MockReplyCallback = (request: MockCallHistoryLog) => MockReplyResult;

/**
 * Computes a reply body from the request: `reply(200, (request) => body)`.
 *
 * @example
 * ```ts
 * import type { MockReplyDataCallback } from "@pooled/http/testing";
 * const data: MockReplyDataCallback = (request) => ({ path: request.path });
 * console.log(typeof data); // function
 * ```
 */
export type MockReplyDataCallback = (request: MockCallHistoryLog) => MockReplyBody;

/** What an interceptor answers: response bytes, or an error on the socket. */
export type Answer =
  | { readonly kind: "reply"; readonly make: (request: MockCallHistoryLog) => ResponseBytes }
  | { readonly kind: "error"; readonly error: Error };

/** One registered interceptor (a `reply()` or `replyWithError()` call) and its use. */
export class InterceptorRecord {
  readonly origin: string;
  readonly options: MockInterceptOptions;
  readonly answer: Answer;
  delay = 0;
  times = 1;
  persist = false;
  timesInvoked = 0;

  constructor(origin: string, options: MockInterceptOptions, answer: Answer) {
    this.origin = origin;
    this.options = options;
    this.answer = answer;
  }

  /** True while it may still answer. */
  get usable(): boolean {
    return this.persist || this.timesInvoked < this.times;
  }

  /** True while a test would expect it to be used: never used (persistent) or uses left. */
  get pending(): boolean {
    return this.persist ? this.timesInvoked === 0 : this.timesInvoked < this.times;
  }

  /** True when `request` is one this interceptor answers. */
  matches(request: MockCallHistoryLog): boolean {
    const { path, method = "GET", headers, body, query } = this.options;
    if (!matchMethod(method, request.method)) return false;
    if (!matchPath(path, query, request.path)) return false;
    if (body !== undefined && !matchValue(body, request.body ?? "")) return false;
    return headers === undefined || matchHeaders(headers, request.headers);
  }

  /** `GET http://api.test/items (invoked 0 of 1 times)`: for messages. */
  describe(): string {
    const { path, method = "GET" } = this.options;
    const uses = this.persist
      ? `persistent, invoked ${this.timesInvoked} times`
      : `invoked ${this.timesInvoked} of ${this.times} times`;
    return `${describeMatcher(method)} ${this.origin}${describeMatcher(path)} (${uses})`;
  }
}

/** How a matcher reads in a message. */
export function describeMatcher(matcher: MockMatcher | RegExp): string {
  if (typeof matcher === "string") return matcher;
  if (matcher instanceof RegExp) return String(matcher);
  return "<predicate>";
}

/** True when `value` matches `matcher`. */
export function matchValue(matcher: MockMatcher, value: string): boolean {
  if (typeof matcher === "string") return matcher === value;
  if (matcher instanceof RegExp) {
    matcher.lastIndex = 0; // a /g or /y RegExp remembers where it stopped
    return matcher.test(value);
  }
  return matcher(value) === true;
}

function matchMethod(matcher: MockMatcher, method: string): boolean {
  if (typeof matcher === "string") return matcher.toUpperCase() === method.toUpperCase();
  return matchValue(matcher, method);
}

/** Path and query with the parameters sorted, so their order does not matter. */
function normalizeTarget(target: string): string {
  const mark = target.indexOf("?");
  if (mark === -1) return target;
  const params = new URLSearchParams(target.slice(mark + 1));
  params.sort();
  const query = params.toString();
  return query === "" ? target.slice(0, mark) : `${target.slice(0, mark)}?${query}`;
}

function matchPath(
  matcher: MockMatcher,
  query: MockInterceptOptions["query"],
  target: string,
): boolean {
  if (typeof matcher === "string") {
    let expected = matcher;
    if (query !== undefined) {
      const extra = new URLSearchParams(stringRecord(query)).toString();
      if (extra !== "") expected += (matcher.includes("?") ? "&" : "?") + extra;
    }
    return normalizeTarget(expected) === normalizeTarget(target);
  }
  if (!matchValue(matcher, target)) return false;
  if (query === undefined) return true;
  const mark = target.indexOf("?");
  const expected = normalizeTarget(`?${new URLSearchParams(stringRecord(query))}`);
  return normalizeTarget(mark === -1 ? "?" : target.slice(mark)) === expected;
}

function stringRecord(query: NonNullable<MockInterceptOptions["query"]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(query)) out[name] = String(value);
  return out;
}

function matchHeaders(
  matcher: NonNullable<MockInterceptOptions["headers"]>,
  headers: Readonly<Record<string, string>>,
): boolean {
  if (typeof matcher === "function") return matcher(headers) === true;
  for (const [name, expected] of Object.entries(matcher)) {
    const value = headers[name.toLowerCase()];
    if (expected === undefined) {
      if (value !== undefined) return false;
    } else if (value === undefined || !matchValue(expected, value)) return false;
  }
  return true;
}

function checkMatcher(value: unknown, what: string): void {
  if (typeof value === "string" || value instanceof RegExp || typeof value === "function") return;
  throw new TypeError(`${what} must be a string, a RegExp or a function: got ${typeof value}`);
}

/** Checks intercept options where they were written (a typo fails the test at once). */
export function checkInterceptOptions(options: MockInterceptOptions): void {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`Intercept options must be an object: got ${typeof options}`);
  }
  checkMatcher(options.path, "Intercept path");
  if (options.method !== undefined) checkMatcher(options.method, "Intercept method");
  if (options.body !== undefined) checkMatcher(options.body, "Intercept body");
  const { headers, query } = options;
  if (headers !== undefined && typeof headers !== "function") {
    if (typeof headers !== "object" || headers === null) {
      throw new TypeError(
        `Intercept headers must be a record or a function: got ${typeof headers}`,
      );
    }
    for (const [name, value] of Object.entries(headers)) {
      if (value !== undefined) checkMatcher(value, `Intercept header ${JSON.stringify(name)}`);
    }
  }
  if (query !== undefined && (typeof query !== "object" || query === null)) {
    throw new TypeError(`Intercept query must be a record: got ${typeof query}`);
  }
}

const REPLY_OPTION_NAMES = new Set(["headers", "trailers"]);

function checkReplyOptions(options: MockReplyOptions | undefined): void {
  if (options === undefined) return;
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`Reply options must be an object: got ${typeof options}`);
  }
  for (const name of Object.keys(options)) {
    if (!REPLY_OPTION_NAMES.has(name)) {
      // `reply(200, body, { "content-type": ... })`: headers go under `headers`.
      throw new TypeError(
        `Unknown reply option (headers go in { headers }): ${JSON.stringify(name)}`,
      );
    }
  }
  checkHeaders(options.headers, "headers");
  checkHeaders(options.trailers, "trailers");
}

function checkStatus(status: unknown): void {
  if (!Number.isInteger(status) || (status as number) < 100 || (status as number) > 999) {
    throw new RangeError(`Reply status must be an integer from 100 to 999: got ${status}`);
  }
}

/** `Connection: close` in a request's headers. */
function requestCloses(request: MockCallHistoryLog): boolean {
  return /(^|,)\s*close\s*($|,)/i.test(request.headers.connection ?? "");
}

/** The answer of `reply(...)` in any of its forms. */
function replyAnswer(
  statusOrCallback: number | MockReplyCallback,
  data: MockReplyBody | MockReplyDataCallback | undefined,
  options: MockReplyOptions | undefined,
): Answer {
  if (typeof statusOrCallback === "function") {
    const callback = statusOrCallback;
    return {
      kind: "reply",
      make: (request) => {
        const result = callback(request);
        checkStatus(result?.statusCode);
        checkReplyOptions(result.responseOptions);
        return responseBytes(
          result.statusCode,
          result.data,
          result.responseOptions,
          request.method,
          requestCloses(request),
        );
      },
    };
  }
  checkStatus(statusOrCallback);
  checkReplyOptions(options);
  const status = statusOrCallback;
  return {
    kind: "reply",
    make: (request) => {
      const body = typeof data === "function" ? data(request) : data;
      return responseBytes(status, body, options, request.method, requestCloses(request));
    },
  };
}

let newScope: (record: InterceptorRecord) => MockScope;

/**
 * How one reply is used: after how long (`delay`), how many times (`times`), or for good
 * (`persist`). Returned by `reply()` and `replyWithError()`; each method returns the scope.
 *
 * @example An answer that comes late, three times
 * ```ts
 * import { MockAgent } from "@pooled/http/testing";
 * await using agent = new MockAgent();
 * agent.get("http://api.test").intercept({ path: "/slow" }).reply(200, "late").delay(20).times(3);
 * const r = await agent.request("GET", "http://api.test/slow");
 * console.log(await r.text(), agent.pendingInterceptors().length); // late 1
 * ```
 */
export class MockScope {
  #record: InterceptorRecord;

  static {
    newScope = (record) => new MockScope(record);
  }

  private constructor(record: InterceptorRecord) {
    this.#record = record;
  }

  /** Waits `ms` milliseconds before answering (a read timeout shorter than it fires). */
  delay(ms: number): MockScope {
    if (!Number.isFinite(ms) || ms < 0) {
      throw new RangeError(`delay must be a finite number of milliseconds >= 0: got ${ms}`);
    }
    this.#record.delay = ms;
    return this;
  }

  /** Answers `n` matching requests (default 1), then no more. */
  times(n: number): MockScope {
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`times must be an integer >= 1: got ${n}`);
    }
    this.#record.times = n;
    return this;
  }

  /** Answers every matching request, for good. */
  persist(): MockScope {
    this.#record.persist = true;
    return this;
  }
}

let newInterceptor: (
  origin: string,
  options: MockInterceptOptions,
  register: (record: InterceptorRecord) => void,
) => MockInterceptor;

/**
 * The requests to intercept, waiting for their answer: `reply(...)` or
 * `replyWithError(...)` registers it and returns its {@linkcode MockScope}. Made by
 * `MockPool.intercept` and `MockAgent.intercept`.
 *
 * @example Reply, reply from the request, fail
 * ```ts
 * import { MockAgent } from "@pooled/http/testing";
 * await using agent = new MockAgent();
 * const api = agent.get("http://api.test");
 * api.intercept({ path: "/a" }).reply(200, "a", { headers: { "x-kind": "fixed" } });
 * api.intercept({ path: "/b" }).reply((request) => ({ statusCode: 200, data: request.path }));
 * api.intercept({ path: "/c" }).replyWithError(new Error("connection reset"));
 * const r = await agent.request("GET", "http://api.test/b");
 * console.log(await r.text()); // /b
 * ```
 */
export class MockInterceptor {
  #origin: string;
  #options: MockInterceptOptions;
  #register: (record: InterceptorRecord) => void;

  static {
    newInterceptor = (origin, options, register) => new MockInterceptor(origin, options, register);
  }

  private constructor(
    origin: string,
    options: MockInterceptOptions,
    register: (record: InterceptorRecord) => void,
  ) {
    checkInterceptOptions(options);
    this.#origin = origin;
    this.#options = { ...options };
    this.#register = register;
  }

  /**
   * Answers with the response a callback computes from the request:
   * `reply((request) => ({ statusCode, data, responseOptions }))`.
   */
  reply(callback: MockReplyCallback): MockScope;
  /**
   * Answers with a response: `reply(status, body?, { headers?, trailers? })`, where `body`
   * may be computed from the request (`(request) => body`).
   */
  reply(
    status: number,
    data?: MockReplyBody | MockReplyDataCallback,
    options?: MockReplyOptions,
  ): MockScope;
  reply(
    statusOrCallback: number | MockReplyCallback,
    data?: MockReplyBody | MockReplyDataCallback,
    options?: MockReplyOptions,
  ): MockScope {
    return this.#add(replyAnswer(statusOrCallback, data, options));
  }

  /**
   * Fails the connection with `error` once the request is written, as a reset would: the
   * request fails with a `ProtocolError` caused by it, which the retry policy may retry.
   * An `HTTPError` (say a `NewConnectionError`) is reported as it is.
   */
  replyWithError(error: Error): MockScope {
    if (!(error instanceof Error)) {
      throw new TypeError(`replyWithError takes an Error: got ${typeof error}`);
    }
    return this.#add({ kind: "error", error });
  }

  #add(answer: Answer): MockScope {
    const record = new InterceptorRecord(this.#origin, this.#options, answer);
    this.#register(record);
    return newScope(record);
  }
}

/** Makes the interceptor of `options` on a pool of `origin` (described for messages). */
export function makeInterceptor(
  origin: string,
  options: MockInterceptOptions,
  register: (record: InterceptorRecord) => void,
): MockInterceptor {
  return newInterceptor(origin, options, register);
}
