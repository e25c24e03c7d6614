/**
 * `CookieJar`: an opt-in cookie store following RFC 6265bis, for a manager's `cookies`
 * option (every request and redirect hop sends the jar's cookies for its URL, and every
 * response's `Set-Cookie` headers are stored) or for use on its own.
 *
 * @module
 */

import type { Cookie } from "./cookie.ts";
import { parseUrl } from "../url.ts";
import { redactUrl } from "../_redact.ts";
import {
  cookiePair,
  hasControlCharacter,
  MAX_NAME_VALUE_OCTETS,
  octets,
  type ParsedSetCookie,
  parseSetCookie,
} from "./_set_cookie.ts";

export type { Cookie, CookieSameSite } from "./cookie.ts";

/**
 * What {@linkcode CookieJar.toJSON} returns and {@linkcode CookieJar.fromJSON} reads.
 *
 * @example Save and restore a jar
 * ```ts
 * import { CookieJar, type CookieJarJSON } from "@pooled/http";
 * const jar = new CookieJar();
 * jar.setCookie("id=1; Max-Age=3600", "http://127.0.0.1/");
 * const saved: CookieJarJSON = JSON.parse(JSON.stringify(jar));
 * console.log(CookieJar.fromJSON(saved).getCookieHeader("http://127.0.0.1/")); // id=1
 * ```
 */
export interface CookieJarJSON {
  /** The format version: 1. */
  readonly version: 1;
  /** The cookies, oldest first. */
  readonly cookies: readonly Cookie[];
}

/**
 * Options of a {@linkcode CookieJar}.
 *
 * @example A jar with a clock of its own
 * ```ts
 * import { CookieJar, type CookieJarOptions } from "@pooled/http";
 * let clock = 0;
 * const options: CookieJarOptions = { now: () => clock, maxCookiesPerDomain: 20 };
 * const jar = new CookieJar(options);
 * jar.setCookie("id=1; Max-Age=60", "http://127.0.0.1/");
 * clock = 61_000;
 * console.log(jar.getCookies("http://127.0.0.1/").length); // 0
 * ```
 */
export interface CookieJarOptions {
  /** Most cookies kept per domain; the oldest go first. Default 50. */
  maxCookiesPerDomain?: number;
  /** Most cookies kept in all; the oldest go first. Default 3000. */
  maxCookies?: number;
  /** The clock, in milliseconds since the epoch (for tests). Default `Date.now`. */
  now?: () => number;
}

/** Longest lifetime a cookie is given (RFC 6265bis §5.6.1, §5.6.2): 400 days. */
const MAX_LIFETIME_MS = 400 * 24 * 60 * 60 * 1000;

/** What the jar needs to know about the URL of a request or response. */
interface RequestTarget {
  /** Lower-case host; IPv6 literals keep their brackets. */
  readonly host: string;
  /** The path, without the query. */
  readonly path: string;
  /** https (or wss). */
  readonly secure: boolean;
}

/** A stored cookie and its place in the creation order (ties of `created` broken). */
interface Entry {
  readonly cookie: Cookie;
  readonly order: number;
}

function requestTarget(url: string): RequestTarget {
  if (typeof url !== "string") {
    throw new TypeError(`Cookie URL must be a string, got ${typeof url}`);
  }
  const parsed = parseUrl(url);
  if (!parsed.host) {
    throw new TypeError(`Invalid cookie URL (no host): ${JSON.stringify(redactUrl(url))}`);
  }
  return {
    host: parsed.host.toLowerCase(),
    path: parsed.path || "/",
    secure: parsed.scheme === "https" || parsed.scheme === "wss",
  };
}

/** True for an IP literal: IPv6 in brackets, or a host whose last label is a number. */
function isIpAddress(host: string): boolean {
  return host.startsWith("[") || /(?:^|\.)[0-9]+$/.test(host);
}

/** RFC 6265bis §5.1.3: `host` is `domain` or a name below it (never for an IP address). */
function domainMatches(host: string, domain: string): boolean {
  if (host === domain) return true;
  return host.endsWith(domain) && host.charCodeAt(host.length - domain.length - 1) === 0x2e &&
    !isIpAddress(host);
}

/** RFC 6265bis §5.1.4: the default path, the directory of the request path. */
function defaultPath(requestPath: string): string {
  const last = requestPath.lastIndexOf("/");
  return last <= 0 ? "/" : requestPath.slice(0, last);
}

/** RFC 6265bis §5.1.4: `requestPath` is `cookiePath` or a path below it. */
function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (!requestPath.startsWith(cookiePath)) return false;
  return requestPath.length === cookiePath.length || cookiePath.endsWith("/") ||
    requestPath.charCodeAt(cookiePath.length) === 0x2f;
}

/** Case-insensitive prefix test, for the `__Secure-` and `__Host-` prefixes. */
function hasPrefix(name: string, prefix: string): boolean {
  return name.slice(0, prefix.length).toLowerCase() === prefix.toLowerCase();
}

/** Header order (RFC 6265bis §5.8.3): longer paths first, then earlier creation. */
function headerOrder(a: Entry, b: Entry): number {
  return b.cookie.path.length - a.cookie.path.length || a.cookie.created - b.cookie.created ||
    a.order - b.order;
}

function creationOrder(a: Entry, b: Entry): number {
  return a.cookie.created - b.cookie.created || a.order - b.order;
}

function sameCookie(a: Cookie, b: Cookie): boolean {
  return a.name === b.name && a.domain === b.domain && a.hostOnly === b.hostOnly &&
    a.path === b.path;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`CookieJar option ${name} must be an integer >= 1: ${value}`);
  }
  return value;
}

/**
 * A cookie store following RFC 6265bis (§5.6-5.8): `Domain` and host-only cookies, `Path`
 * and the default path, `Secure`, `HttpOnly` (stored and sent: this is not a browser),
 * expiry by `Max-Age` (which wins) or `Expires` (capped at 400 days), `SameSite` (stored,
 * not enforced), the `__Secure-` and `__Host-` prefixes, and size limits (a name and value
 * over 4096 octets is ignored; at most 50 cookies per domain and 3000 in all, the oldest
 * evicted first). No public suffix list is bundled: a `Domain` with no dot (a top-level
 * domain such as `com`) is refused unless it is the request host itself, and an IP address
 * only ever matches itself.
 *
 * Give it to a manager as `cookies` and every request, each redirect hop included, sends
 * the jar's cookies for its URL, and every response's `Set-Cookie` headers (those of
 * redirects too) are stored before the next hop.
 *
 * @example Cookies across a login redirect
 * ```ts
 * import { CookieJar, PoolManager } from "@pooled/http";
 * await using server = Deno.serve({ port: 0, onListen() {} }, (req) =>
 *   new URL(req.url).pathname === "/login"
 *     ? new Response(null, { status: 302, headers: { location: "/home", "set-cookie": "session=s1; HttpOnly" } })
 *     : new Response(`cookie: ${req.headers.get("cookie")}`));
 * const jar = new CookieJar();
 * await using manager = new PoolManager({ cookies: jar });
 * const r = await manager.request("POST", `http://127.0.0.1:${server.addr.port}/login`);
 * console.log(new TextDecoder().decode(r.data)); // cookie: session=s1
 * console.log(jar.getCookieHeader(`http://127.0.0.1:${server.addr.port}/`)); // session=s1
 * ```
 */
export class CookieJar {
  /** Cookies by their `domain`. */
  #byDomain = new Map<string, Entry[]>();
  #count = 0;
  #nextOrder = 0;
  readonly #maxPerDomain: number;
  readonly #maxCookies: number;
  readonly #now: () => number;

  /**
   * Creates an empty jar.
   *
   * @param options Limits and the clock.
   */
  constructor(options: CookieJarOptions = {}) {
    this.#maxPerDomain = positiveInteger(
      "maxCookiesPerDomain",
      options.maxCookiesPerDomain ?? 50,
    );
    this.#maxCookies = positiveInteger("maxCookies", options.maxCookies ?? 3000);
    const now = options.now ?? Date.now;
    if (typeof now !== "function") {
      throw new TypeError(`CookieJar option now must be a function: ${typeof now}`);
    }
    this.#now = now;
  }

  /**
   * Stores (or, with an expiry in the past, deletes) the cookie of one `Set-Cookie` header
   * value received from `url`. A header the rules refuse is ignored, as browsers do.
   *
   * @example Host-only and domain cookies
   * ```ts
   * import { CookieJar } from "@pooled/http";
   * const jar = new CookieJar();
   * jar.setCookie("a=1", "http://app.localhost/");
   * jar.setCookie("b=2; Domain=localhost", "http://app.localhost/"); // a top-level domain: refused
   * jar.setCookie("c=3; Domain=app.localhost", "http://app.localhost/");
   * console.log(jar.getCookieHeader("http://app.localhost/")); // a=1; c=3
   * console.log(jar.getCookieHeader("http://x.app.localhost/")); // c=3
   * ```
   *
   * @param header One `Set-Cookie` value (not several joined with commas).
   * @param url The absolute URL of the response that carried it.
   * @returns true when the header was taken (stored or deleted), false when ignored.
   * @throws {TypeError} When `url` has no host.
   * @throws {LocationParseError} When `url` does not parse.
   */
  setCookie(header: string, url: string): boolean {
    if (typeof header !== "string") {
      throw new TypeError(`Set-Cookie header must be a string, got ${typeof header}`);
    }
    const target = requestTarget(url);
    const parsed = parseSetCookie(header);
    if (parsed === null) return false;
    const now = this.#now();
    const cookie = this.#cookieFrom(parsed, target, now);
    if (cookie === null || this.#shadowsSecureCookie(cookie, target)) return false;
    this.#put(cookie, now);
    return true;
  }

  /**
   * The cookies a request to `url` sends, in `Cookie` header order (longer paths first,
   * then earlier creation). Expired cookies are dropped on the way.
   *
   * @example
   * ```ts
   * import { CookieJar } from "@pooled/http";
   * const jar = new CookieJar();
   * jar.setCookie("a=1; Path=/", "http://127.0.0.1/");
   * jar.setCookie("b=2; Path=/docs", "http://127.0.0.1/");
   * jar.setCookie("c=3; Secure", "https://127.0.0.1/");
   * console.log(jar.getCookies("http://127.0.0.1/docs/x").map((c) => c.name)); // ["b", "a"]
   * ```
   *
   * @param url The absolute URL of the request.
   * @returns The matching cookies (frozen).
   */
  getCookies(url: string): Cookie[] {
    const target = requestTarget(url);
    const now = this.#now();
    const found: Entry[] = [];
    for (const domain of this.#candidateDomains(target.host)) {
      const entries = this.#byDomain.get(domain);
      if (entries === undefined) continue;
      this.#dropExpired(domain, entries, now);
      for (const entry of entries) {
        const cookie = entry.cookie;
        if (cookie.hostOnly && cookie.domain !== target.host) continue;
        if (cookie.secure && !target.secure) continue;
        if (pathMatches(target.path, cookie.path)) found.push(entry);
      }
    }
    return found.sort(headerOrder).map((entry) => entry.cookie);
  }

  /**
   * The `Cookie` header value a request to `url` sends (`name=value` pairs joined with
   * `"; "`), or `""` when no cookie matches.
   *
   * @example
   * ```ts
   * import { CookieJar } from "@pooled/http";
   * const jar = new CookieJar();
   * jar.setCookie("a=1", "http://127.0.0.1/");
   * jar.setCookie("b=2", "http://127.0.0.1/");
   * console.log(jar.getCookieHeader("http://127.0.0.1/")); // a=1; b=2
   * ```
   *
   * @param url The absolute URL of the request.
   * @returns The header value.
   */
  getCookieHeader(url: string): string {
    return this.getCookies(url).map(cookiePair).join("; ");
  }

  /**
   * Every unexpired cookie (session cookies included), oldest first, as plain data for
   * `JSON.stringify` (which calls this).
   *
   * @example
   * ```ts
   * import { CookieJar } from "@pooled/http";
   * const jar = new CookieJar();
   * jar.setCookie("id=1", "http://127.0.0.1/");
   * console.log(jar.toJSON().cookies.map((c) => c.name)); // ["id"]
   * ```
   *
   * @returns The jar's cookies.
   */
  toJSON(): CookieJarJSON {
    const now = this.#now();
    const all: Entry[] = [];
    for (const [domain, entries] of this.#byDomain) {
      this.#dropExpired(domain, entries, now);
      all.push(...entries);
    }
    return { version: 1, cookies: all.sort(creationOrder).map((entry) => entry.cookie) };
  }

  /**
   * A jar holding the cookies of `json` (what {@linkcode CookieJar.toJSON} returned, or
   * that as a JSON string). Expired cookies are left out; the limits apply.
   *
   * @example
   * ```ts
   * import { CookieJar } from "@pooled/http";
   * const jar = new CookieJar();
   * jar.setCookie("id=1; Path=/app", "http://127.0.0.1/");
   * const copy = CookieJar.fromJSON(JSON.stringify(jar));
   * console.log(copy.getCookieHeader("http://127.0.0.1/app")); // id=1
   * ```
   *
   * @param json The saved jar.
   * @param options Limits and the clock of the new jar.
   * @returns A new jar.
   * @throws {TypeError} When `json` is not a saved jar.
   */
  static fromJSON(json: CookieJarJSON | string, options?: CookieJarOptions): CookieJar {
    const data: unknown = typeof json === "string" ? JSON.parse(json) : json;
    const cookies = (data as CookieJarJSON | null)?.cookies;
    if ((data as CookieJarJSON | null)?.version !== 1 || !Array.isArray(cookies)) {
      throw new TypeError("Invalid cookie jar JSON: expected { version: 1, cookies: [...] }");
    }
    const jar = new CookieJar(options);
    const now = jar.#now();
    for (const item of cookies) jar.#put(checkedCookie(item), now);
    return jar;
  }

  /** The stored form of a parsed header received from `target`, or null when refused. */
  #cookieFrom(parsed: ParsedSetCookie, target: RequestTarget, now: number): Cookie | null {
    const { name, value, secure } = parsed;
    // A nameless cookie must not look like a prefixed one (RFC 6265bis §5.7 step 4).
    if (name === "" && (hasPrefix(value, "__Secure-") || hasPrefix(value, "__Host-"))) {
      return null;
    }
    const domain = cookieDomain(parsed.domain, target.host);
    if (domain === null) return null;
    const path = parsed.path || defaultPath(target.path);
    if (secure && !target.secure) return null;
    if (hasPrefix(name, "__Secure-") && !secure) return null;
    // __Host-: Secure, host-only and Path=/ given explicitly.
    if (
      hasPrefix(name, "__Host-") && (!secure || parsed.domain !== null || parsed.path !== "/")
    ) {
      return null;
    }
    return Object.freeze({
      name,
      value,
      domain,
      hostOnly: parsed.domain === null || domain === target.host && !domain.includes("."),
      path,
      secure,
      httpOnly: parsed.httpOnly,
      sameSite: parsed.sameSite,
      expires: expiryOf(parsed, now),
      created: now,
    });
  }

  /**
   * RFC 6265bis §5.7 step 16: a cookie set over http may not replace or shadow a `Secure`
   * cookie of the same name whose domain and path overlap it.
   */
  #shadowsSecureCookie(cookie: Cookie, target: RequestTarget): boolean {
    if (cookie.secure || target.secure) return false;
    for (const entries of this.#byDomain.values()) {
      for (const { cookie: old } of entries) {
        if (
          old.secure && old.name === cookie.name &&
          (domainMatches(old.domain, cookie.domain) || domainMatches(cookie.domain, old.domain)) &&
          pathMatches(cookie.path, old.path)
        ) {
          return true;
        }
      }
    }
    return false;
  }

  /** Stores `cookie` in place of an equal one (keeping its creation), or deletes on expiry. */
  #put(cookie: Cookie, now: number): void {
    let entries = this.#byDomain.get(cookie.domain);
    const index = entries?.findIndex((entry) => sameCookie(entry.cookie, cookie)) ?? -1;
    const old = index >= 0 ? entries![index] : undefined;
    if (old !== undefined) this.#remove(cookie.domain, entries!, index);
    if (cookie.expires !== null && cookie.expires <= now) return;
    if (entries === undefined || entries.length === 0) {
      entries = [];
      this.#byDomain.set(cookie.domain, entries);
    }
    if (old === undefined) entries.push({ cookie, order: this.#nextOrder++ });
    else {
      const kept = Object.freeze({ ...cookie, created: old.cookie.created });
      entries.push({ cookie: kept, order: old.order });
    }
    this.#count++;
    this.#evict(cookie.domain, entries, now);
  }

  /** Drops expired cookies, then the oldest, over the domain's limit and the total one. */
  #evict(domain: string, entries: Entry[], now: number): void {
    if (entries.length > this.#maxPerDomain) {
      this.#dropExpired(domain, entries, now);
      while (entries.length > this.#maxPerDomain) {
        this.#remove(domain, entries, entries.indexOf(entries.reduce(oldest)));
      }
    }
    if (this.#count <= this.#maxCookies) return;
    for (const [key, list] of this.#byDomain) this.#dropExpired(key, list, now);
    while (this.#count > this.#maxCookies) {
      let victim: [string, Entry[], Entry] | null = null;
      for (const [key, list] of this.#byDomain) {
        const candidate = list.reduce(oldest);
        if (victim === null || creationOrder(candidate, victim[2]) < 0) {
          victim = [key, list, candidate];
        }
      }
      const [key, list, entry] = victim!;
      this.#remove(key, list, list.indexOf(entry));
    }
  }

  #dropExpired(domain: string, entries: Entry[], now: number): void {
    for (let i = entries.length - 1; i >= 0; i--) {
      const expires = entries[i].cookie.expires;
      if (expires !== null && expires <= now) this.#remove(domain, entries, i);
    }
  }

  #remove(domain: string, entries: Entry[], index: number): void {
    entries.splice(index, 1);
    this.#count--;
    if (entries.length === 0) this.#byDomain.delete(domain);
  }

  /** The domains whose cookies may match `host`: itself and, for a name, its parents. */
  *#candidateDomains(host: string): Iterable<string> {
    yield host;
    if (isIpAddress(host)) return;
    for (let dot = host.indexOf("."); dot >= 0; dot = host.indexOf(".", dot + 1)) {
      yield host.slice(dot + 1);
    }
  }
}

function oldest(a: Entry, b: Entry): Entry {
  return creationOrder(a, b) <= 0 ? a : b;
}

/**
 * The domain of a cookie set by `host` with `Domain` attribute `attribute` (or none), or
 * null when refused: the attribute must be `host` or a parent of it, and one with no dot
 * (a top-level domain, for want of a public suffix list) only when it is `host` itself.
 */
function cookieDomain(attribute: string | null, host: string): string | null {
  if (attribute === null) return host;
  if (!attribute.includes(".") && attribute !== host) return null;
  return domainMatches(host, attribute) ? attribute : null;
}

/** RFC 6265bis §5.7 steps 5-6: `Max-Age` wins over `Expires`; both capped at 400 days. */
function expiryOf(parsed: ParsedSetCookie, now: number): number | null {
  const latest = now + MAX_LIFETIME_MS;
  if (parsed.maxAge !== null) {
    return parsed.maxAge <= 0 ? 0 : Math.min(now + parsed.maxAge * 1000, latest);
  }
  return parsed.expires === null ? null : Math.min(parsed.expires, latest);
}

/** A cookie of a saved jar, checked field by field. */
function checkedCookie(item: unknown): Cookie {
  const c = item as Record<string, unknown> | null;
  const invalid = (field: string) =>
    new TypeError(`Invalid cookie in cookie jar JSON: ${field}: ${JSON.stringify(item)}`);
  if (typeof c !== "object" || c === null) throw invalid("not an object");
  const { name, value, domain, path, expires, created, sameSite } = c;
  if (typeof name !== "string" || typeof value !== "string") throw invalid("name or value");
  if (
    hasControlCharacter(name + value) || name.includes("=") || name.includes(";") ||
    value.includes(";") || octets(name) + octets(value) > MAX_NAME_VALUE_OCTETS ||
    name === "" && value === ""
  ) {
    throw invalid("name or value");
  }
  if (typeof domain !== "string" || domain === "" || domain !== domain.toLowerCase()) {
    throw invalid("domain");
  }
  if (typeof path !== "string" || !path.startsWith("/") || hasControlCharacter(path)) {
    throw invalid("path");
  }
  if (expires !== null && !Number.isFinite(expires)) throw invalid("expires");
  if (!Number.isFinite(created)) throw invalid("created");
  if (sameSite !== null && sameSite !== "Strict" && sameSite !== "Lax" && sameSite !== "None") {
    throw invalid("sameSite");
  }
  for (const flag of ["hostOnly", "secure", "httpOnly"]) {
    if (typeof c[flag] !== "boolean") throw invalid(flag);
  }
  return Object.freeze({
    name,
    value,
    domain,
    hostOnly: c.hostOnly as boolean,
    path,
    secure: c.secure as boolean,
    httpOnly: c.httpOnly as boolean,
    sameSite,
    expires: expires as number | null,
    created: created as number,
  });
}
