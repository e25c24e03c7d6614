/**
 * Proxies from the environment, as curl reads them: `http_proxy`, `https_proxy`,
 * `all_proxy` and `no_proxy`, each also in upper case, the lower-case name winning.
 * `HTTP_PROXY` is ignored when `REQUEST_METHOD` is set (a CGI process, where a client's
 * `Proxy:` header would arrive as `HTTP_PROXY`: "httpoxy").
 *
 * `no_proxy` is a comma- (or space-) separated list: `*` alone matches every host; a
 * name matches itself and its subdomains (a leading `.` or `*.` is ignored); an IP
 * literal matches itself, a CIDR block (`10.0.0.0/8`, `fd00::/8`) the addresses in it;
 * `[::1]` brackets are optional; `host:port` matches only that port.
 *
 * @module
 */

import { unbracketHost } from "../_host.ts";

/** The proxy settings found in the environment. */
export interface ProxyEnvironment {
  /** Proxy URL for `http://` targets. */
  readonly http?: string;
  /** Proxy URL for `https://` targets. */
  readonly https?: string;
  /** Proxy URL for targets of any scheme without their own. */
  readonly all?: string;
  /** The `no_proxy` list, as given. */
  readonly noProxy: string;
}

/** Every variable {@linkcode proxyEnvironment} reads. */
export const PROXY_VARIABLES: readonly string[] = [
  "http_proxy",
  "HTTP_PROXY",
  "https_proxy",
  "HTTPS_PROXY",
  "all_proxy",
  "ALL_PROXY",
  "no_proxy",
  "NO_PROXY",
  "REQUEST_METHOD",
];

/** Picks the proxy settings out of environment values (lower case first; "" is unset). */
export function proxyEnvironment(
  env: Readonly<Record<string, string | undefined>>,
): ProxyEnvironment {
  const pick = (lower: string, upper: string) => env[lower] || env[upper] || undefined;
  return {
    http: env.http_proxy || (env.REQUEST_METHOD ? undefined : env.HTTP_PROXY) || undefined,
    https: pick("https_proxy", "HTTPS_PROXY"),
    all: pick("all_proxy", "ALL_PROXY"),
    noProxy: pick("no_proxy", "NO_PROXY") ?? "",
  };
}

/** The proxy URL for a target, or null to connect directly. */
export function proxyUrlFor(
  env: ProxyEnvironment,
  scheme: string,
  host: string,
  port: number,
): string | null {
  const proxy = (scheme === "https" ? env.https : scheme === "http" ? env.http : undefined) ??
    env.all;
  if (proxy === undefined) return null;
  return bypassesProxy(env.noProxy, host, port) ? null : proxy;
}

/** True when `noProxy` (a `no_proxy` value) says `host:port` is reached directly. */
export function bypassesProxy(noProxy: string, host: string, port: number): boolean {
  const name = unbracketHost(host).toLowerCase().replace(/\.$/, "");
  const ip = parseIp(name);
  for (const raw of noProxy.split(/[\s,]+/)) {
    if (raw === "") continue;
    if (raw === "*") return true;
    const { pattern, entryPort } = splitPort(raw.toLowerCase());
    if (entryPort !== null && entryPort !== port) continue;
    if (ip !== null) {
      if (ipMatches(ip, pattern)) return true;
      continue;
    }
    const domain = pattern.replace(/^\*?\./, "").replace(/\.$/, "");
    if (domain !== "" && (name === domain || name.endsWith("." + domain))) return true;
  }
  return false;
}

/** `host:port`, `[v6]:port`, or a pattern without a port (a bare IPv6 literal included). */
function splitPort(entry: string): { pattern: string; entryPort: number | null } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed) {
    return { pattern: bracketed[1], entryPort: bracketed[2] ? Number(bracketed[2]) : null };
  }
  const withPort = /^([^:]+):(\d+)$/.exec(entry);
  if (withPort) return { pattern: withPort[1], entryPort: Number(withPort[2]) };
  return { pattern: entry, entryPort: null };
}

/** An IP address as bits: 32 for IPv4, 128 for IPv6. */
interface IpBits {
  readonly bits: bigint;
  readonly width: 32 | 128;
}

function parseIp(text: string): IpBits | null {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    const parts = v4.slice(1).map(Number);
    if (parts.some((part) => part > 255)) return null;
    return { bits: parts.reduce((sum, part) => (sum << 8n) | BigInt(part), 0n), width: 32 };
  }
  if (!text.includes(":") || !/^[0-9a-f:.]+$/.test(text)) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (part: string) => part === "" ? [] : part.split(":");
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const missing = 8 - head.length - tail.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return null;
  const all = [...head, ...new Array(missing).fill("0"), ...tail];
  if (!all.every((group) => /^[0-9a-f]{1,4}$/.test(group))) return null;
  return {
    bits: all.reduce((sum, group) => (sum << 16n) | BigInt(parseInt(group, 16)), 0n),
    width: 128,
  };
}

/** An IP against an IP or CIDR pattern of the same family. */
function ipMatches(ip: IpBits, pattern: string): boolean {
  const [address, prefixText] = pattern.split("/");
  const network = parseIp(unbracketHost(address));
  if (network === null || network.width !== ip.width) return false;
  const prefix = prefixText === undefined ? ip.width : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > ip.width) return false;
  const shift = BigInt(ip.width - prefix);
  return (ip.bits >> shift) === (network.bits >> shift);
}
