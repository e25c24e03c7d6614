/**
 * How a manager reaches an origin through a proxy: the parsed proxy URL
 * ({@linkcode parseProxyUrl}) and the pool it needs for a target
 * ({@linkcode proxiedPool}): one forwarding pool for the proxy (http targets, and https
 * ones with `useForwardingForHttps`), or a pool per target whose connector tunnels
 * (`CONNECT`, SOCKS).
 *
 * @module
 */

import { ProxySchemeUnknown } from "../errors.ts";
import {
  type ConnectionPool,
  type ConnectionPoolOptions,
  HTTPConnectionPool,
  HTTPSConnectionPool,
} from "../pool/connection_pool.ts";
import { resolveTls, TLS_OPTION_NAMES, type TlsOptions } from "../pool/tls_options.ts";
import { HTTPHeaderDict } from "../headers.ts";
import type { RequestHeaders } from "../request/request_methods.ts";
import { HTTPTunnelConnector } from "./connect_tunnel.ts";
import { SOCKSConnector, type SOCKSVersion } from "./socks.ts";
import { type ProxyEndpoint, proxyLegConnector } from "./_dial.ts";
import { defaultConnector } from "../runtime/default.ts";
import { dialSettings } from "../network/_dialer.ts";
import {
  appliesNetworkOptions,
  checkedTunnel,
  networkConnector,
} from "../network/_network_connector.ts";
import { parseUrl } from "../url.ts";
import { unbracketHost } from "../_host.ts";
import { describe } from "../_validate.ts";

/** The proxy schemes: HTTP proxies and the SOCKS flavours. */
export type ProxyScheme = "http" | "https" | SOCKSVersion;

/** A proxy, parsed from its URL and options. */
export interface ProxyConfig {
  /** `scheme://host:port`, without credentials (for pool keys and messages). */
  readonly url: string;
  /** The proxy's scheme. */
  readonly scheme: ProxyScheme;
  /** Host name or IP literal (IPv6 without brackets). */
  readonly hostname: string;
  /** Port (default 80 for http, 443 for https, 1080 for SOCKS). */
  readonly port: number;
  /** User name from the URL, percent-decoded. */
  readonly username?: string;
  /** Password from the URL, percent-decoded. */
  readonly password?: string;
  /**
   * Headers for the proxy (HTTP proxies): `proxyHeaders`, plus `Proxy-Authorization`
   * from the URL's credentials unless `proxyHeaders` has one (urllib3 sends none of its own).
   */
  readonly headers: HTTPHeaderDict;
  /** TLS options for the connection to an `https://` proxy. */
  readonly tls: TlsOptions;
  /** Forward https targets in absolute-form through an https proxy instead of tunnelling. */
  readonly useForwardingForHttps: boolean;
}

/** Options of a proxy, besides its URL. */
export interface ProxyOptions {
  /** Headers for the proxy: on every forwarded request, and on each `CONNECT`. */
  proxyHeaders?: RequestHeaders;
  /** TLS options for the connection to an `https://` proxy. */
  proxyTls?: TlsOptions;
  /** With an `https://` proxy, send https requests to it in absolute-form (no tunnel). */
  useForwardingForHttps?: boolean;
}

const DEFAULT_PORTS: Record<ProxyScheme, number> = {
  http: 80,
  https: 443,
  socks4: 1080,
  socks4a: 1080,
  socks5: 1080,
  socks5h: 1080,
};

/** `Basic` credentials of UTF-8 text (the userinfo of a URL is percent-encoded UTF-8). */
function basicAuth(username: string, password: string): string {
  const bytes = new TextEncoder().encode(`${username}:${password}`);
  return `Basic ${btoa(String.fromCharCode(...bytes))}`;
}

/**
 * Parses a proxy URL. `schemes` are the ones the caller supports; any other scheme, or
 * none, is a {@linkcode ProxySchemeUnknown}.
 */
export function parseProxyUrl(
  proxyUrl: string,
  options: ProxyOptions,
  schemes: readonly ProxyScheme[],
): ProxyConfig {
  if (typeof proxyUrl !== "string") {
    throw new TypeError(`The proxy URL must be a string: ${describe(proxyUrl)}`);
  }
  const supported = schemes.map((scheme) => `${scheme}://`).join(" or ");
  const url = parseUrl(proxyUrl);
  const scheme = url.scheme?.toLowerCase() ?? null;
  if (scheme === null) throw new ProxySchemeUnknown(null, supported);
  if (!schemes.includes(scheme as ProxyScheme)) throw new ProxySchemeUnknown(scheme, supported);
  if (!url.host) throw new ProxySchemeUnknown(null, supported);
  const host = url.host.toLowerCase();
  const hostname = unbracketHost(host);
  const port = url.port ?? DEFAULT_PORTS[scheme as ProxyScheme];
  const [username, password] = url.authDecoded ?? [undefined, null];
  const headers = new HTTPHeaderDict(options.proxyHeaders);
  if (username !== undefined && !headers.has("proxy-authorization")) {
    headers.set("Proxy-Authorization", basicAuth(username, password ?? ""));
  }
  return {
    url: `${scheme}://${host}:${port}`,
    scheme: scheme as ProxyScheme,
    hostname,
    port,
    username,
    password: password ?? undefined,
    headers,
    tls: options.proxyTls ?? {},
    useForwardingForHttps: options.useForwardingForHttps ?? false,
  };
}

/** True when requests to `scheme` targets go to the proxy in absolute-form. */
function forwards(proxy: ProxyConfig, scheme: string): boolean {
  if (proxy.scheme !== "http" && proxy.scheme !== "https") return false;
  return scheme === "http" || (proxy.scheme === "https" && proxy.useForwardingForHttps);
}

/**
 * The pool key of a target reached through `proxy`: one key for every forwarded target
 * (they share the proxy's pool), else the target's key marked with the proxy.
 */
export function proxiedPoolKey(proxy: ProxyConfig, scheme: string, directKey: string): string {
  if (forwards(proxy, scheme)) return `forward:${proxy.url}${directKey.replace(/^[^#]*/, "")}`;
  return `${directKey}|via:${proxy.url}`;
}

function endpoint(proxy: ProxyConfig): ProxyEndpoint {
  return {
    hostname: proxy.hostname,
    port: proxy.port,
    tls: proxy.scheme === "https" ? resolveTls(proxy.hostname, proxy.tls) : undefined,
  };
}

/** `options` without the TLS ones (for plain pools). */
export function withoutTls(options: ConnectionPoolOptions): ConnectionPoolOptions {
  const plain: Record<string, unknown> = { ...options };
  for (const name of TLS_OPTION_NAMES) delete plain[name];
  return plain;
}

/**
 * Makes the pool for a `scheme://host:port` target reached through `proxy`, from the
 * manager's merged pool `options`.
 */
export function proxiedPool(
  proxy: ProxyConfig,
  scheme: string,
  host: string,
  options: ConnectionPoolOptions,
): ConnectionPool {
  // The proxy is reached with the network options but without the address policy (the
  // caller chose it); the policy applies to targets (see `checkedTunnel`).
  const settings = dialSettings(options);
  const base = networkConnector(options.connector ?? defaultConnector(), settings, false);
  if (forwards(proxy, scheme)) {
    // One pool for the proxy itself: its TLS options are `proxyTls`, never the targets'.
    // The proxy's headers stay apart from the pool's, which a redirect may remove.
    const own = {
      ...withoutTls(options),
      port: proxy.port,
      forwardToProxy: true,
      proxyHeaders: proxy.headers,
      connector: appliesNetworkOptions(proxyLegConnector(base)),
    };
    return proxy.scheme === "https"
      ? new HTTPSConnectionPool(proxy.hostname, { ...own, ...proxy.tls })
      : new HTTPConnectionPool(proxy.hostname, own);
  }
  const tunnel = proxy.scheme === "http" || proxy.scheme === "https"
    ? new HTTPTunnelConnector(base, endpoint(proxy), [...proxy.headers])
    : new SOCKSConnector(base, {
      ...endpoint(proxy),
      version: proxy.scheme,
      username: proxy.username,
      password: proxy.password,
    });
  const connector = checkedTunnel(tunnel, settings);
  return scheme === "https"
    ? new HTTPSConnectionPool(host, { ...options, connector })
    : new HTTPConnectionPool(host, { ...withoutTls(options), connector });
}
