/**
 * `SOCKSProxyManager`: every request through one SOCKS proxy, as urllib3's
 * `contrib.socks`: a pool per origin whose connections are SOCKS tunnels, with TLS to
 * the origin over the tunnel for https.
 *
 * @module
 */

import { parseProxyUrl, type ProxyConfig } from "./_config.ts";
import { PoolManager, type PoolManagerOptions } from "../manager/pool_manager.ts";

/** Options of a {@linkcode SOCKSProxyManager}. */
export interface SOCKSProxyManagerOptions extends Omit<PoolManagerOptions, "proxy"> {
  /** User name (overrides the URL's): SOCKS5 authentication, or the SOCKS4 user id. */
  username?: string;
  /** Password (overrides the URL's), for SOCKS5 authentication. */
  password?: string;
}

/**
 * Sends every request through one SOCKS proxy: `socks4://`, `socks4a://` (the proxy
 * resolves names), `socks5://` (names resolved here) or `socks5h://` (the proxy resolves
 * names), with optional `user:password@` (SOCKS5 username/password authentication).
 * A refusal or rejected credentials is a `ProxyError` whose `originalError` is a
 * `NewConnectionError` naming the proxy's reply.
 *
 * @example Through a SOCKS5 proxy on loopback
 * ```ts ignore
 * import { SOCKSProxyManager } from "@pooled/http";
 * await using socks = new SOCKSProxyManager("socks5h://user:secret@127.0.0.1:1080");
 * const r = await socks.request("GET", "https://example.com/");
 * console.log(r.status);
 * ```
 *
 * @example
 * ```ts
 * import { SOCKSProxyManager } from "@pooled/http";
 * const socks = new SOCKSProxyManager("socks5h://127.0.0.1:1080");
 * console.log(socks.proxy.scheme, socks.proxy.port); // socks5h 1080
 * await socks.close();
 * ```
 */
export class SOCKSProxyManager extends PoolManager {
  /** The proxy: URL without credentials, flavour, host, port and credentials. */
  readonly proxy: ProxyConfig;

  /**
   * Creates an instance.
   *
   * @param proxyUrl `socks5h://[user:password@]host[:port]` (port 1080 by default).
   * @param options `username`, `password`, and options of every pool.
   */
  constructor(proxyUrl: string, options: SOCKSProxyManagerOptions = {}) {
    const { username, password, ...poolOptions } = options;
    super(poolOptions);
    const parsed = parseProxyUrl(proxyUrl, {}, ["socks4", "socks4a", "socks5", "socks5h"]);
    this.proxy = {
      ...parsed,
      username: username ?? parsed.username,
      password: password ?? parsed.password,
    };
  }

  /** Every target goes through the proxy. */
  protected override proxyFor(): ProxyConfig {
    return this.proxy;
  }
}
