/**
 * The requests a {@linkcode MockAgent} saw: {@linkcode MockCallHistoryLog} is one,
 * {@linkcode MockCallHistory} the list.
 *
 * @module
 */

import type { ReadRequest } from "./_request_reader.ts";

const utf8 = new TextDecoder();

/**
 * One request as it reached a mock origin: what `getCallHistory().calls()` lists, and what
 * interceptor callbacks and predicates are given.
 *
 * @example Inspect the last request
 * ```ts
 * import { MockAgent } from "@pooled/http/testing";
 * await using agent = new MockAgent({ enableCallHistory: true });
 * agent.disableNetConnect();
 * agent.get("http://api.test").intercept({ path: "/items", method: "POST" }).reply(201);
 * await agent.request("POST", "http://api.test/items", { json: { name: "x" } });
 * const call = agent.getCallHistory().lastCall()!;
 * console.log(call.method, call.fullUrl, call.headers["content-type"], call.body);
 * // POST http://api.test/items application/json {"name":"x"}
 * ```
 */
export class MockCallHistoryLog {
  /** The method, as sent (`"GET"`). */
  readonly method: string;
  /** The origin: `http://api.test`, `https://127.0.0.1:8443` (default port left out). */
  readonly origin: string;
  /** `"http:"` or `"https:"`. */
  readonly protocol: string;
  /** Host and port as in a URL's `host` (`api.test`, `127.0.0.1:8080`). */
  readonly host: string;
  /** The port connected to. */
  readonly port: number;
  /** The request target as sent: path and query (`/search?q=1`). */
  readonly path: string;
  /** Origin and path: the URL requested. */
  readonly fullUrl: string;
  /** The query parameters, the last value of each name. */
  readonly searchParams: Readonly<Record<string, string>>;
  /** Request headers by lower-case name; repeated headers joined with `", "`. */
  readonly headers: Readonly<Record<string, string>>;
  /** The body decoded as UTF-8, or `null` when the request had none. */
  readonly body: string | null;
  /** The body bytes (transfer coding undone; empty when there was none). */
  readonly bodyBytes: Uint8Array;

  /**
   * Creates an entry (the agent makes them).
   *
   * @param origin The origin the request was sent to.
   * @param port The port connected to.
   * @param method The method.
   * @param path The request target.
   * @param headers Header lines in order.
   * @param body The body bytes.
   */
  constructor(
    origin: string,
    port: number,
    method: string,
    path: string,
    headers: Iterable<readonly [string, string]>,
    body: Uint8Array,
  ) {
    const url = new URL(path, origin);
    this.method = method;
    this.origin = origin;
    this.protocol = url.protocol;
    this.host = url.host;
    this.port = port;
    this.path = path;
    this.fullUrl = origin + path;
    this.searchParams = Object.fromEntries(url.searchParams);
    const record: Record<string, string> = Object.create(null);
    for (const [name, value] of headers) {
      const key = name.toLowerCase();
      record[key] = key in record ? `${record[key]}, ${value}` : value;
    }
    this.headers = record;
    this.bodyBytes = body;
    this.body = body.length === 0 ? null : utf8.decode(body);
  }
}

/** The entry for a request read on a socket to `origin`. */
export function logOf(origin: string, port: number, request: ReadRequest): MockCallHistoryLog {
  return new MockCallHistoryLog(
    origin,
    port,
    request.method,
    request.target,
    request.headers,
    request.body,
  );
}

/**
 * Every request a {@linkcode MockAgent} created with `enableCallHistory: true` saw, matched
 * or not, in the order they arrived.
 *
 * @example Count the calls to one path
 * ```ts
 * import { MockAgent } from "@pooled/http/testing";
 * await using agent = new MockAgent({ enableCallHistory: true });
 * agent.get("http://api.test").intercept({ path: "/ping" }).reply(200, "pong").times(2);
 * await agent.request("GET", "http://api.test/ping");
 * await agent.request("GET", "http://api.test/ping");
 * const history = agent.getCallHistory();
 * console.log(history.calls().filter((call) => call.path === "/ping").length); // 2
 * console.log(history.firstCall()?.fullUrl); // http://api.test/ping
 * ```
 */
export class MockCallHistory implements Iterable<MockCallHistoryLog> {
  #calls: MockCallHistoryLog[] = [];

  /** Every request recorded, oldest first (a copy). */
  calls(): MockCallHistoryLog[] {
    return [...this.#calls];
  }

  /** The first request recorded, if any. */
  firstCall(): MockCallHistoryLog | undefined {
    return this.#calls[0];
  }

  /** The latest request recorded, if any. */
  lastCall(): MockCallHistoryLog | undefined {
    return this.#calls.at(-1);
  }

  /** The `n`th request recorded, counting from 1, if any. */
  nthCall(n: number): MockCallHistoryLog | undefined {
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`nthCall counts from 1: got ${n}`);
    }
    return this.#calls[n - 1];
  }

  /** Forgets every request recorded. */
  clear(): void {
    this.#calls = [];
  }

  /** Records a request (the agent calls it). */
  add(call: MockCallHistoryLog): void {
    this.#calls.push(call);
  }

  /** The requests recorded, oldest first. */
  [Symbol.iterator](): Iterator<MockCallHistoryLog> {
    return this.#calls[Symbol.iterator]();
  }
}
