/**
 * `PoolManager`: one {@linkcode ConnectionPool} per origin, kept in an LRU of
 * `numPools`, with redirects followed across origins.
 *
 * @module
 */

import { CookieJar } from "../cookies/cookie_jar.ts";
import { ClosedPoolError, LocationValueError, URLSchemeUnknown } from "../errors.ts";
import { checkDuration, checkPositiveInteger } from "../_validate.ts";
import {
  type ConnectionPool,
  type ConnectionPoolOptions,
  HTTPConnectionPool,
  HTTPSConnectionPool,
  poolInternals,
} from "../pool/connection_pool.ts";
import { PoolKeys } from "./_pool_key.ts";
import { socketKeyHost, socketPathOf, UNIX_SCHEME, UNIX_SOCKET_HOST } from "./_unix_socket.ts";
import type { LookupFunction } from "../network/network_options.ts";
import { cachedLookup } from "../network/_dns_cache.ts";
import { systemLookup } from "../runtime/_lookup.ts";
import {
  parseProxyUrl,
  proxiedPool,
  proxiedPoolKey,
  type ProxyConfig,
  type ProxyScheme,
  withoutTls,
} from "../proxy/_config.ts";
import {
  PROXY_VARIABLES,
  type ProxyEnvironment,
  proxyEnvironment,
  proxyUrlFor,
} from "../proxy/_env.ts";
import { readEnvironment } from "../runtime/env.ts";
import { HTTPHeaderDict } from "../headers.ts";
import type { Router } from "../request/_dispatcher.ts";
import { runRequest } from "../request/_request_loop.ts";
import {
  RequestMethods,
  type RequestOptions,
  type UrlopenOptions,
} from "../request/request_methods.ts";
import type { HTTPResponse } from "../response.ts";
import { Retry } from "../policy/retry.ts";
import { defaultPortFor, parseUrl } from "../url.ts";
import { redactUrl } from "../_redact.ts";
import { checkHooks } from "../request/_hook_runner.ts";
import { addStats, emptyStats, type ManagerStats, type OriginStats } from "../pool/pool_stats.ts";
import { poolCreate, poolEvict } from "../diagnostics/_channels.ts";

/** Publishes `pooled:pool:evict` for a pool `clear()` drops. */
function evicted(manager: PoolManager, key: string, pool: ConnectionPool): void {
  poolEvict.publish({ manager, key, origin: pool.origin, pool, reason: "clear" });
}

/** True when a pool has no connection in use (closed pools included). */
function isUnused(pool: ConnectionPool): boolean {
  return pool.closed || pool.stats.inUse === 0;
}

/**
 * Options of a {@linkcode PoolManager}: `numPools` plus options for every pool.
 *
 * @example Ten origins, four connections each
 * ```ts
 * import { PoolManager, type PoolManagerOptions } from "@pooled/http";
 * const options: PoolManagerOptions = { numPools: 10, maxSize: 4, block: true, timeout: 5_000 };
 * await using manager = new PoolManager(options);
 * ```
 */
export interface PoolManagerOptions extends ConnectionPoolOptions {
  /** How many origins' pools to keep (least recently used dropped first). Default 10. */
  numPools?: number;
  /**
   * `"env"`: reach origins through the proxies named by `HTTP_PROXY`, `HTTPS_PROXY`,
   * `ALL_PROXY` and `NO_PROXY` (read once, now; lower-case names win; curl's `NO_PROXY`
   * matching). Default: no proxy, and the environment is not read.
   */
  proxy?: "env";
  /**
   * A cookie jar: each request, and each redirect hop, sends the jar's cookies for its URL
   * (after any `Cookie` header of the caller's, whose names win), and the `Set-Cookie`
   * headers of every response (redirects included) are stored. Default: no cookies.
   */
  cookies?: CookieJar;
}

/**
 * What identifies a pool: scheme, host, port and any pool options that differ.
 *
 * @example The key of a pool
 * ```ts
 * import { PoolManager } from "@pooled/http";
 * await using manager = new PoolManager();
 * const pool = manager.connectionFromContext({ scheme: "http", host: "127.0.0.1", port: 8080 });
 * console.log(pool.port); // 8080
 * ```
 */
export interface PoolContext extends ConnectionPoolOptions {
  /** `"http"` or `"https"` (any case). */
  scheme: string;
  /** Host name or IP literal (any case). */
  host: string;
  /** Port (default: the scheme's). */
  port?: number;
}

/** Proxy schemes an environment variable may name. */
const ENV_PROXY_SCHEMES: readonly ProxyScheme[] = [
  "http",
  "https",
  "socks4",
  "socks4a",
  "socks5",
  "socks5h",
];

/** Parsed URLs the manager routed recently (benchmarks and services repeat URLs). */
const ROUTE_CACHE_SIZE = 256;

interface Route {
  /** The pool key of the URL's origin. */
  readonly key: string;
  /** What makes the pool if it is not cached. */
  readonly context: PoolContext;
  /** The origin-form request target. */
  readonly target: string;
}

/**
 * Requests to any origin through per-origin connection pools. The pools are kept in an
 * LRU of `numPools`. An evicted pool is only dropped from the LRU: whoever holds it may
 * go on using it, but it closes its idle connections whenever no request runs on it.
 *
 * @example Three origins with room for two pools
 * ```ts
 * import { PoolManager } from "@pooled/http";
 * // A server on loopback for the example (Deno.serve; any HTTP/1.1 server will do).
 * await using server = Deno.serve({ hostname: "::", port: 0, onListen() {} }, () => new Response("hi"));
 * const port = server.addr.port;
 * await using manager = new PoolManager({ numPools: 2 });
 * await manager.request("GET", `http://127.0.0.1:${port}/`);
 * await manager.request("GET", `http://localhost:${port}/`);
 * const r = await manager.request("GET", `http://[::1]:${port}/`);
 * console.log(r.status, manager.pools.size); // 200 2
 * ```
 */
export class PoolManager extends RequestMethods {
  /** How many pools are kept. */
  readonly numPools: number;
  /** Headers sent with every request (request headers are merged over them). */
  readonly headers: HTTPHeaderDict;
  /** Options given to every pool. */
  readonly connectionPoolOptions: Readonly<ConnectionPoolOptions>;
  /** The cookie jar every request uses, or null (the `cookies` option). */
  readonly cookies: CookieJar | null;
  #pools = new Map<string, ConnectionPool>();
  #keys = new PoolKeys();
  // Evicted pools not closed yet (responses still hold connections): close() ends them too.
  #retired = new Set<ConnectionPool>();
  #routes = new Map<string, Route>();
  #retries: Retry;
  #closed = false;
  #newestKey = "";
  /** Picks the pool of each URL a request goes to (one function for every request). */
  readonly #router: Router = (url) => poolInternals(this.#poolFor(url));
  #environment: ProxyEnvironment | null = null;
  #environmentProxies = new Map<string, ProxyConfig>();
  /** The lookup with the manager's DNS cache (`dnsCacheTtl`), shared by its pools. */
  #cachedLookup: LookupFunction | null = null;

  /**
   * Creates an instance.
   *
   * @param options `numPools`, `headers` and options for every pool.
   */
  constructor(options: PoolManagerOptions = {}) {
    super();
    const { numPools = 10, proxy, cookies, ...poolOptions } = options;
    checkPositiveInteger("numPools", numPools);
    // Bad hooks fail here rather than at the first request.
    checkHooks(options.hooks);
    if (proxy !== undefined && proxy !== "env") {
      throw new TypeError(
        `proxy must be "env" (use ProxyManager or SOCKSProxyManager for one proxy): ${
          JSON.stringify(typeof proxy === "string" ? redactUrl(proxy) : proxy)
        }`,
      );
    }
    if (cookies !== undefined && !(cookies instanceof CookieJar)) {
      throw new TypeError(`cookies must be a CookieJar; got ${typeof cookies}`);
    }
    this.cookies = cookies ?? null;
    if (proxy === "env") this.#environment = proxyEnvironment(readEnvironment(PROXY_VARIABLES));
    this.numPools = numPools;
    this.headers = new HTTPHeaderDict(options.headers);
    // A number or boolean becomes a Retry now, so the manager controls redirects.
    this.#retries = Retry.fromInt(options.retries ?? null);
    this.connectionPoolOptions = { ...poolOptions, retries: this.#retries };
    if (poolOptions.dnsCacheTtl !== undefined) {
      const ttl = checkDuration("dnsCacheTtl", poolOptions.dnsCacheTtl);
      this.#cachedLookup = cachedLookup(poolOptions.lookup ?? systemLookup, ttl);
    }
  }

  /**
   * The proxy to reach `scheme://host:port` through, or null to connect directly: the
   * environment's with `proxy: "env"`. `ProxyManager` and `SOCKSProxyManager` override it.
   */
  protected proxyFor(scheme: string, host: string, port: number): ProxyConfig | null {
    const environment = this.#environment;
    if (environment === null) return null;
    const found = proxyUrlFor(environment, scheme, host, port);
    if (found === null) return null;
    let proxy = this.#environmentProxies.get(found);
    if (proxy === undefined) {
      // curl takes a proxy without a scheme as an http:// one.
      const url = found.includes("://") ? found : `http://${found}`;
      proxy = parseProxyUrl(url, {}, ENV_PROXY_SCHEMES);
      this.#environmentProxies.set(found, proxy);
    }
    return proxy;
  }

  /** The key of the pool for a target (with its proxy, when it has one). */
  #keyFor(scheme: string, host: string, port: number, options: ConnectionPoolOptions): string {
    // A Unix socket is never reached through a proxy, and its pools speak plain HTTP.
    if (scheme === UNIX_SCHEME) return this.#keys.key(scheme, host, port, withoutTls(options));
    const direct = this.#keys.key(scheme, host, port, options);
    const proxy = this.proxyFor(scheme, host, port);
    return proxy === null ? direct : proxiedPoolKey(proxy, scheme, direct);
  }

  /**
   * Request and connection counts per origin (undici's `Agent.stats`) and its open HTTP/2
   * `streams`, as sums over the manager's pools for it (evicted pools still in use
   * included), with the sums of every origin under `total`. See {@linkcode OriginStats}
   * for what each count means.
   *
   * @example Export the counts as Prometheus text
   * ```ts
   * import { PoolManager } from "@pooled/http";
   * await using server = Deno.serve({ port: 0, onListen() {} }, () => new Response("ok"));
   * await using manager = new PoolManager({ maxSize: 2 });
   * await manager.request("GET", `http://127.0.0.1:${server.addr.port}/`);
   *
   * const FIELDS = [
   *   "connected", "free", "pending", "queued", "running", "size", "streams",
   * ] as const;
   * function prometheus(stats: PoolManager["stats"]): string {
   *   const lines: string[] = [];
   *   for (const field of FIELDS) {
   *     lines.push(`# TYPE pooled_${field} gauge`);
   *     for (const [origin, counts] of Object.entries(stats)) {
   *       if (origin !== "total") lines.push(`pooled_${field}{origin="${origin}"} ${counts[field]}`);
   *     }
   *   }
   *   return lines.join("\n") + "\n";
   * }
   * console.log(prometheus(manager.stats));
   * // # TYPE pooled_connected gauge
   * // pooled_connected{origin="http://127.0.0.1:PORT"} 1
   * // ...
   * console.log(manager.stats.total.free); // 1
   * ```
   */
  get stats(): ManagerStats {
    const total = emptyStats();
    const stats: Record<string, OriginStats> = { total };
    const add = (pool: ConnectionPool) => {
      if (pool.closed) return;
      const counts = pool.stats;
      addStats(stats[pool.origin] ??= emptyStats(), counts);
      addStats(total, counts);
    };
    for (const pool of this.#pools.values()) add(pool);
    for (const pool of this.#retired) if (!isUnused(pool)) add(pool);
    return stats as ManagerStats;
  }

  /** The cached pools, least recently used first. */
  get pools(): ReadonlyMap<string, ConnectionPool> {
    return this.#pools;
  }

  /** The pool for `host`, made if needed. */
  connectionFromHost(
    host: string,
    options: { port?: number; scheme?: string; poolOptions?: ConnectionPoolOptions } = {},
  ): ConnectionPool {
    if (!host) throw new LocationValueError("No host specified");
    return this.connectionFromContext({
      ...options.poolOptions,
      scheme: options.scheme ?? "http",
      host,
      port: options.port,
    });
  }

  /** The pool for the origin of an absolute URL, made if needed. */
  connectionFromUrl(url: string, poolOptions?: ConnectionPoolOptions): ConnectionPool {
    const parsed = parseUrl(url);
    if (!parsed.host) {
      throw new LocationValueError(`No host specified in ${JSON.stringify(redactUrl(url))}`);
    }
    return this.connectionFromHost(parsed.host, {
      port: parsed.port ?? undefined,
      scheme: parsed.scheme ?? "http",
      poolOptions,
    });
  }

  /**
   * The pool for a context (scheme, host, port and pool options), made if needed. Two
   * contexts share a pool when their options are equal by value: headers compared as
   * `HTTPHeaderDict.equals` does, `Retry` and `Timeout` by their options (`retries: 3` is
   * `new Retry({ total: 3 })`), TLS options by value; a connector, or an instance of a
   * subclass of `Retry` or `Timeout`, only shares a pool with itself.
   */
  connectionFromContext(context: PoolContext): ConnectionPool {
    const { scheme: rawScheme, host: rawHost, port: rawPort, ...poolOptions } = context;
    const scheme = rawScheme.toLowerCase();
    const unix = scheme === UNIX_SCHEME;
    const port = rawPort ?? (unix ? 80 : defaultPortFor(scheme));
    if (port === null) throw new URLSchemeUnknown(scheme);
    // A socket path is case-sensitive: one spelling per path.
    const host = unix ? socketKeyHost(socketPathOf(rawHost, rawHost)) : rawHost.toLowerCase();
    const key = this.#keyFor(scheme, host, port, poolOptions);
    return this.connectionFromPoolKey(key, { ...poolOptions, scheme, host, port });
  }

  /**
   * The pool stored under `key` (one of the keys of {@linkcode PoolManager.pools}), or a
   * new one made from `context` and stored under `key`. Without `context`, a key with no
   * pool is a `LocationValueError`.
   */
  connectionFromPoolKey(key: string, context?: PoolContext): ConnectionPool {
    const pools = this.#pools;
    const existing = pools.get(key);
    if (existing !== undefined) {
      // Refresh its place in the LRU (cheap to skip when it is already the newest).
      if (this.#newestKey !== key) {
        pools.delete(key);
        pools.set(key, existing);
        this.#newestKey = key;
      }
      return existing;
    }
    if (context === undefined) {
      throw new LocationValueError(`No pool for key ${JSON.stringify(key)}`);
    }
    if (this.#closed) throw new ClosedPoolError(null, "PoolManager is closed");
    const pool = this.#newPool(context);
    pools.set(key, pool);
    this.#newestKey = key;
    if (poolCreate.hasSubscribers) {
      poolCreate.publish({ manager: this, key, origin: pool.origin, pool });
    }
    if (pools.size > this.numPools) {
      const [oldestKey, oldest] = pools.entries().next().value!;
      pools.delete(oldestKey);
      if (poolEvict.hasSubscribers) {
        poolEvict.publish({
          manager: this,
          key: oldestKey,
          origin: oldest.origin,
          pool: oldest,
          reason: "lru",
        });
      }
      this.#retire(oldest);
    }
    return pool;
  }

  #newPool(context: PoolContext): ConnectionPool {
    const { scheme, host, ...own } = context;
    const options: ConnectionPoolOptions = { ...this.connectionPoolOptions, ...own };
    options.headers = this.headers.size === 0
      ? own.headers
      : new HTTPHeaderDict(this.headers).extend(
        own.headers ?? {},
      );
    if (this.#cachedLookup !== null && own.lookup === undefined && own.dnsCacheTtl === undefined) {
      options.lookup = this.#cachedLookup;
      options.dnsCacheTtl = undefined;
    }
    if (scheme === UNIX_SCHEME) {
      const socketPath = socketPathOf(host, host);
      return new HTTPConnectionPool(UNIX_SOCKET_HOST, { ...withoutTls(options), socketPath });
    }
    if (scheme !== "https" && scheme !== "http") throw new URLSchemeUnknown(scheme);
    const proxy = this.proxyFor(scheme, host, options.port ?? defaultPortFor(scheme)!);
    if (proxy !== null) return proxiedPool(proxy, scheme, host, options);
    if (scheme === "https") return new HTTPSConnectionPool(host, options);
    return new HTTPConnectionPool(host, withoutTls(options));
  }

  #route(url: string): Route {
    const cached = this.#routes.get(url);
    if (cached !== undefined) return cached;
    const parsed = parseUrl(url);
    if (!parsed.host) {
      throw new LocationValueError(`No host specified in ${JSON.stringify(redactUrl(url))}`);
    }
    const scheme = (parsed.scheme ?? "http").toLowerCase();
    const unix = scheme === UNIX_SCHEME;
    const port = parsed.port ?? (unix ? 80 : defaultPortFor(scheme));
    if (port === null) throw new URLSchemeUnknown(scheme);
    const host = unix ? socketKeyHost(socketPathOf(parsed.host, url)) : parsed.host.toLowerCase();
    const route: Route = {
      key: this.#keyFor(scheme, host, port, {}),
      context: { scheme, host, port },
      target: parsed.requestUri,
    };
    if (this.#routes.size >= ROUTE_CACHE_SIZE) this.#routes.clear();
    this.#routes.set(url, route);
    return route;
  }

  #poolFor(url: string): ConnectionPool {
    const route = this.#route(url);
    return this.connectionFromPoolKey(route.key, route.context);
  }

  /**
   * Sends one request to an absolute URL, following redirects across origins; headers
   * in the retry policy's `removeHeadersOnRedirect` are dropped when the origin changes.
   */
  urlopen(method: string, url: string, options: UrlopenOptions = {}): Promise<HTTPResponse> {
    let route: Route;
    let pool: ConnectionPool;
    try {
      route = this.#route(url);
      pool = this.connectionFromPoolKey(route.key, route.context);
    } catch (error) {
      // Reject (never throw): callers of a Promise-returning method expect a rejection.
      return Promise.reject(error);
    }
    return runRequest(
      this.#router,
      poolInternals(pool),
      method,
      url,
      options,
      this.#retries,
      route.target,
      this.cookies,
    );
  }

  /**
   * Drops every pool, closing their idle connections (running requests finish). A dropped
   * pool is not closed: like an evicted one, it serves whoever still holds it and keeps
   * no idle connection while unused.
   */
  clear(): Promise<void> {
    if (poolEvict.hasSubscribers) this.#pools.forEach((pool, key) => evicted(this, key, pool));
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    this.#newestKey = "";
    for (const pool of pools) this.#retire(pool);
    return Promise.resolve();
  }

  /**
   * Retires a pool that left the cache, remembering it while connections of it are in use
   * (so that `close()` reaches the responses that hold them); an evicted pool stays usable
   * by whoever holds it, so it is forgotten, not closed, once nothing of it is in use.
   */
  #retire(pool: ConnectionPool): void {
    for (const old of this.#retired) if (isUnused(old)) this.#retired.delete(old);
    poolInternals(pool).retire();
    if (!isUnused(pool)) this.#retired.add(pool);
  }

  /**
   * Closes every pool, evicted ones still in use included, with the connections their
   * responses hold (reading the rest of a streamed body then fails with `ClosedPoolError`);
   * the manager takes no more requests.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values(), ...this.#retired];
    this.#pools.clear();
    this.#retired.clear();
    this.#newestKey = "";
    await Promise.all(pools.map((pool) => pool.close()));
  }

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

let sharedManager: PoolManager | undefined;

/**
 * The module-wide `PoolManager` behind the top-level `request()` and `fetch` (internal),
 * made on first use.
 */
export function sharedPoolManager(): PoolManager {
  return sharedManager ??= new PoolManager();
}

/** Default timeout of the top-level `request()` (urllib3 uses 3 s there too). */
const TOP_LEVEL_TIMEOUT_MS = 3_000;

/**
 * A one-off request through a module-wide `PoolManager` (its pools are shared by every
 * caller). The default timeout here is 3000 ms (also when `timeout` is `undefined`;
 * `null` means none), unlike pools, which wait forever.
 *
 * @example
 * ```ts
 * import { request } from "@pooled/http";
 * await using server = Deno.serve({ port: 0, onListen() {} }, (req) => new Response(req.url));
 * const r = await request("GET", `http://127.0.0.1:${server.addr.port}/`, { fields: { q: "1" } });
 * console.log(r.status, new TextDecoder().decode(r.data)); // 200 http://127.0.0.1:.../?q=1
 * ```
 */
export function request(
  method: string,
  url: string,
  options: RequestOptions = {},
): Promise<HTTPResponse> {
  // `timeout: undefined` is no timeout given: the default still applies (`null` is none).
  const timeout = options.timeout === undefined ? TOP_LEVEL_TIMEOUT_MS : options.timeout;
  return sharedPoolManager().request(method, url, { ...options, timeout });
}
