/**
 * **pooled**: urllib3's connection-pooling HTTP client for Deno, Bun, Node and Cloudflare
 * Workers, on the runtimes' own TCP and TLS sockets. Zero dependencies.
 *
 * - {@linkcode PoolManager}: one pool per origin, an LRU of `numPools` origins,
 *   redirects followed across origins with credentials stripped.
 * - {@linkcode HTTPConnectionPool} / {@linkcode HTTPSConnectionPool}: bounded keep-alive
 *   pools (`maxSize`, `block`, `poolTimeout`).
 * - {@linkcode Retry} and {@linkcode Timeout}: urllib3's retry and timeout policies, in
 *   milliseconds.
 * - {@linkcode ProxyManager}, {@linkcode SOCKSProxyManager}, {@linkcode proxyFromEnv}:
 *   HTTP(S) proxies (forwarding and `CONNECT`), SOCKS4/4a/5/5h, proxies from the environment.
 * - Typed errors with stable `code`s, all subclasses of {@linkcode HTTPError}.
 * - One socket seam ({@linkcode Connector}); the current runtime's adapter is picked by
 *   {@linkcode defaultConnector}. Each adapter is also its own entry point:
 *   `@pooled/http/runtime/deno`, `/runtime/bun`, `/runtime/node`, `/runtime/cloudflare`.
 * - A command line, `@pooled/http/cli`: httpie-style requests and a load generator.
 *
 * @example Requests through a manager
 * ```ts
 * import { PoolManager, Retry, Timeout } from "@pooled/http";
 *
 * // A loopback server for the example.
 * await using server = Deno.serve({ port: 0, onListen() {} }, async (req) =>
 *   new Response(req.method === "POST" ? await req.text() : "hello"));
 * const origin = `http://127.0.0.1:${server.addr.port}`;
 *
 * await using manager = new PoolManager({ maxSize: 4 });
 * const r = await manager.request("GET", `${origin}/search`, {
 *   fields: { q: "pooled" },
 *   timeout: new Timeout({ connect: 2_000, read: 5_000 }),
 *   retries: new Retry({ total: 3, statusForcelist: [503] }),
 * });
 * console.log(r.status, new TextDecoder().decode(r.data)); // 200 hello
 * const posted = await manager.request("POST", `${origin}/items`, { json: { a: 1 } });
 * console.log(new TextDecoder().decode(posted.data)); // {"a":1}
 * ```
 *
 * @module
 */

export * from "./src/errors.ts";
export {
  HTTP2CompressionError,
  HTTP2Error,
  HTTP2FloodError,
  HTTP2FrameError,
  HTTP2HeaderListTooLargeError,
  HTTP2MalformedResponseError,
  HTTP2StreamRefusedError,
  HTTP2StreamResetError,
} from "./src/http2/errors.ts";
export { HTTPHeaderDict } from "./src/headers.ts";
export type { AddOptions, HeadersInit } from "./src/headers.ts";
export { defaultPortFor, encodeTarget, isSameOrigin, parseUrl, Url } from "./src/url.ts";
export type { UrlInit } from "./src/url.ts";
export {
  chooseBoundary,
  encodeMultipartFormdata,
  encodeUrlencoded,
  formatMultipartHeaderParam,
  guessMimeType,
  RequestField,
} from "./src/fields.ts";
export type {
  FieldData,
  Fields,
  FieldValue,
  MakeMultipartOptions,
  MultipartBody,
} from "./src/fields.ts";
export { ACCEPT_ENCODING, makeHeaders, SKIP_HEADER } from "./src/make_headers.ts";
export type { MakeHeadersOptions } from "./src/make_headers.ts";
export { isConnectError, isReadError, Retry } from "./src/policy/retry.ts";
export type {
  IncrementContext,
  RequestHistory,
  RetryOptions,
  RetryResponse,
} from "./src/policy/retry.ts";
export { Timeout } from "./src/policy/timeout.ts";
export type { TimeoutOptions } from "./src/policy/timeout.ts";
export {
  CONTENT_SPECIFIC_HEADERS,
  decideRedirect,
  REDIRECT_STATUSES,
} from "./src/policy/redirect.ts";
export type { RedirectArgs, RedirectDecision } from "./src/policy/redirect.ts";
export { HTTPResponse } from "./src/response.ts";
export type { ResponseTimings } from "./src/response.ts";
export type {
  AfterResponseHook,
  BeforeRedirectHook,
  BeforeRequestHook,
  BeforeRetryHook,
  HookRequest,
  Hooks,
  MaybePromise,
  OnErrorHook,
} from "./src/request/hooks.ts";
export { RequestMethods } from "./src/request/request_methods.ts";
export type {
  RequestHeaders,
  RequestOptions,
  UrlopenOptions,
} from "./src/request/request_methods.ts";
export type { RequestBody } from "./src/body/request_body.ts";
export {
  connectionFromUrl,
  ConnectionPool,
  HTTPConnectionPool,
  HTTPSConnectionPool,
} from "./src/pool/connection_pool.ts";
export type { ConnectionPoolOptions } from "./src/pool/connection_pool.ts";
export type { ManagerStats, OriginStats, PoolStats } from "./src/pool/pool_stats.ts";
export type { TlsOptions } from "./src/pool/tls_options.ts";
export { PoolManager, request } from "./src/manager/pool_manager.ts";
export type { PoolContext, PoolManagerOptions } from "./src/manager/pool_manager.ts";
export { createFetch, fetch } from "./src/fetch/create_fetch.ts";
export type {
  PooledFetch,
  PooledFetchOptions,
  PooledRequestInit,
} from "./src/fetch/create_fetch.ts";
export { proxyFromEnv, proxyFromUrl, ProxyManager } from "./src/proxy/proxy_manager.ts";
export type {
  ProxyConfig,
  ProxyManagerOptions,
  ProxyOptions,
  ProxyScheme,
} from "./src/proxy/proxy_manager.ts";
export { SOCKSProxyManager } from "./src/proxy/socks_proxy_manager.ts";
export type { SOCKSProxyManagerOptions } from "./src/proxy/socks_proxy_manager.ts";
export type { SOCKSVersion } from "./src/proxy/socks.ts";
export type { PoolConnection } from "./src/pool/pool_connection.ts";
export { StaleConnectionError } from "./src/http1/exchange.ts";
export { defaultConnector } from "./src/runtime/default.ts";
export { denoConnector } from "./src/runtime/deno.ts";
export { bunConnector } from "./src/runtime/bun.ts";
export { nodeConnector } from "./src/runtime/node.ts";
export { cloudflareConnector } from "./src/runtime/cloudflare.ts";
export type {
  ConnectOptions,
  Connector,
  ConnectPhase,
  Socket,
  SocketHandler,
  StartTlsOptions,
  TlsConnectOptions,
  TlsVersion,
} from "./src/runtime/socket.ts";
export { ipFamily, isPrivateAddress } from "./src/network/ip_address.ts";
export type {
  AllowAddress,
  LookupAddress,
  LookupFunction,
  LookupOptions,
  NetworkOptions,
} from "./src/network/network_options.ts";
export { CookieJar } from "./src/cookies/cookie_jar.ts";
export type {
  Cookie,
  CookieJarJSON,
  CookieJarOptions,
  CookieSameSite,
} from "./src/cookies/cookie_jar.ts";
export type {
  PoolCreateMessage,
  PoolEvictMessage,
  RedirectMessage,
  RetryMessage,
} from "./src/diagnostics/messages.ts";
export { VERSION } from "./src/version.ts";
