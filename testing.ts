/**
 * `@pooled/http/testing`: mock origins for testing code that uses pooled, with no network.
 *
 * {@linkcode MockAgent} (shaped after undici's) is a `PoolManager` and a `Connector`. Its
 * interceptors answer requests below the HTTP engine, as bytes on a fake socket, so retries,
 * redirects, decompression, timeouts and pooling behave exactly as they do on the network.
 *
 * - `agent.get(origin).intercept({ path, method, headers, body, query })` then
 *   `.reply(status, body, { headers, trailers })` or `.replyWithError(error)`, and on what
 *   they return `.delay(ms)`, `.times(n)`, `.persist()`.
 * - `disableNetConnect()` / `enableNetConnect(host?)`: what happens to requests no
 *   interceptor matches ({@linkcode MockNotMatchedError}, or the network).
 * - `getCallHistory().calls()`: every request, with `method`, `fullUrl`, `headers`, `body`.
 * - `assertNoPendingInterceptors()`: every interceptor was used.
 *
 * @example A test with no network
 * ```ts
 * import { MockAgent } from "@pooled/http/testing";
 *
 * await using agent = new MockAgent({ enableCallHistory: true });
 * agent.disableNetConnect();
 * const api = agent.get("https://api.test");
 * api.intercept({ path: "/items", method: "POST" }).reply(201, { id: 7 });
 * api.intercept({ path: "/items/7" }).reply(200, { id: 7, name: "x" }).times(2);
 *
 * const created = await agent.request("POST", "https://api.test/items", { json: { name: "x" } });
 * console.log(created.status, await created.json()); // 201 { id: 7 }
 * await agent.request("GET", "https://api.test/items/7");
 * await agent.request("GET", "https://api.test/items/7");
 *
 * console.log(agent.getCallHistory().calls().map((call) => `${call.method} ${call.path}`));
 * // [ "POST /items", "GET /items/7", "GET /items/7" ]
 * agent.assertNoPendingInterceptors();
 * ```
 *
 * @module
 */

export {
  MockAgent,
  MockNotMatchedError,
  MockPendingInterceptorsError,
  MockPool,
} from "./src/testing/mock_agent.ts";
export type {
  MockAgentOptions,
  MockOriginMatcher,
  NetConnectMatcher,
  PendingInterceptor,
} from "./src/testing/mock_agent.ts";
export { MockInterceptor, MockScope } from "./src/testing/_interceptor.ts";
export type {
  MockInterceptOptions,
  MockMatcher,
  MockReplyCallback,
  MockReplyDataCallback,
  MockReplyResult,
} from "./src/testing/_interceptor.ts";
export type {
  MockReplyBody,
  MockReplyHeaders,
  MockReplyOptions,
} from "./src/testing/_response_bytes.ts";
export { MockCallHistory, MockCallHistoryLog } from "./src/testing/_call_history.ts";
