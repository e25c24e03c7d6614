/**
 * `ProxyManager`: every request through one HTTP or HTTPS proxy, as urllib3's. http
 * targets are forwarded in absolute-form through one pool for the proxy, with
 * `proxyHeaders` on every request; https targets get a `CONNECT` tunnel per connection
 * and a pool per origin, with `proxyHeaders` only on the `CONNECT` and keep-alive
 * through the tunnel. Also {@linkcode proxyFromUrl} and {@linkcode proxyFromEnv}.
 *
 * @module
 */

import { parseProxyUrl, type ProxyConfig, type ProxyOptions } from "./_config.ts";
import type { HTTPHeaderDict } from "../headers.ts";
import { PoolManager, type PoolManagerOptions } from "../manager/pool_manager.ts";

export type { ProxyConfig, ProxyOptions, ProxyScheme } from "./_config.ts";

/** Options of a {@linkcode ProxyManager}: the proxy's, and those of a `PoolManager`. */
export interface ProxyManagerOptions extends Omit<PoolManagerOptions, "proxy">, ProxyOptions {}

/**
 * Sends every request through one `http://` or `https://` proxy. Credentials in the proxy
 * URL become a `Proxy-Authorization` header (unless `proxyHeaders` has one). The proxy's
 * headers go on every request sent to it (each forwarded request, each `CONNECT`), never
 * to an origin, and a redirect never removes them; a forwarded request also carries
 * Accept: \*\/\* unless it or `proxyHeaders` sets `Accept`, as urllib3's does. Failing to
 * reach the proxy is a `ProxyError` (its `originalError` says why); a `CONNECT` the proxy
 * refuses is a `ProxyError` naming the status.
 *
 * @example Through a proxy on loopback
 * ```ts ignore
 * import { ProxyManager } from "@pooled/http";
 * await using proxy = new ProxyManager("http://user:secret@127.0.0.1:3128");
 * const r = await proxy.request("GET", "https://example.com/");
 * console.log(r.status);
 * ```
 *
 * @example The proxy URL is checked at once
 * ```ts
 * import { ProxyManager, ProxySchemeUnknown } from "@pooled/http";
 * try {
 *   new ProxyManager("ftp://127.0.0.1:21");
 * } catch (error) {
 *   console.log(error instanceof ProxySchemeUnknown); // true
 * }
 * ```
 */
export class ProxyManager extends PoolManager {
  /** The proxy: URL without credentials, host, port, headers and TLS options. */
  readonly proxy: ProxyConfig;

  /**
   * Creates an instance.
   *
   * @param proxyUrl `http://[user:password@]host[:port]` or `https://...`.
   * @param options `proxyHeaders`, `proxyTls`, `useForwardingForHttps`, and options of
   *   every pool (TLS options apply to the https targets).
   */
  constructor(proxyUrl: string, options: ProxyManagerOptions = {}) {
    const { proxyHeaders, proxyTls, useForwardingForHttps, ...poolOptions } = options;
    super(poolOptions);
    this.proxy = parseProxyUrl(
      proxyUrl,
      { proxyHeaders, proxyTls, useForwardingForHttps },
      ["http", "https"],
    );
  }

  /** Headers sent to the proxy (`proxyHeaders` and `Proxy-Authorization`). */
  get proxyHeaders(): HTTPHeaderDict {
    return this.proxy.headers;
  }

  /** Every target goes through the proxy. */
  protected override proxyFor(): ProxyConfig {
    return this.proxy;
  }
}

/**
 * A {@linkcode ProxyManager} for `proxyUrl` (urllib3's `proxy_from_url`).
 *
 * @example
 * ```ts
 * import { proxyFromUrl } from "@pooled/http";
 * const manager = proxyFromUrl("http://127.0.0.1:3128", { proxyHeaders: { "X-Team": "a" } });
 * console.log(manager.proxy.url); // http://127.0.0.1:3128
 * await manager.close();
 * ```
 */
export function proxyFromUrl(proxyUrl: string, options: ProxyManagerOptions = {}): ProxyManager {
  return new ProxyManager(proxyUrl, options);
}

/**
 * A `PoolManager` that reaches each origin through the proxy the environment names for
 * it: `http_proxy`, `https_proxy`, `all_proxy` (`http://`, `https://` or a SOCKS URL) and
 * `no_proxy` with curl's matching (names and their subdomains, `*`, IP literals and CIDR
 * blocks, `host:port`). Lower-case names win over upper-case ones; the environment is
 * read once, now (under Deno this needs `--allow-env`). Same as
 * `new PoolManager({ ...options, proxy: "env" })`.
 *
 * @example
 * ```ts ignore
 * import { proxyFromEnv } from "@pooled/http";
 * // HTTPS_PROXY=http://127.0.0.1:3128 NO_PROXY=localhost,127.0.0.1
 * await using manager = proxyFromEnv();
 * await manager.request("GET", "https://example.com/"); // through the proxy
 * await manager.request("GET", "http://127.0.0.1:8080/"); // directly
 * ```
 */
export function proxyFromEnv(options: Omit<PoolManagerOptions, "proxy"> = {}): PoolManager {
  return new PoolManager({ ...options, proxy: "env" });
}
