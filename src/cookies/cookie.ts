/**
 * A cookie as the jar stores it and hands it out.
 *
 * @module
 */

/**
 * The `SameSite` attribute of a cookie. It is stored and exported, not enforced: a client
 * that is not a browser has no "site" a request comes from.
 *
 * @example
 * ```ts
 * import { CookieJar, type CookieSameSite } from "@pooled/http";
 * const jar = new CookieJar();
 * jar.setCookie("id=1; SameSite=lax", "http://127.0.0.1/");
 * const sameSite: CookieSameSite | null = jar.getCookies("http://127.0.0.1/")[0].sameSite;
 * console.log(sameSite); // Lax
 * ```
 */
export type CookieSameSite = "Strict" | "Lax" | "None";

/**
 * One stored cookie (frozen). Times are milliseconds since the epoch.
 *
 * @example The fields of a cookie
 * ```ts
 * import { CookieJar, type Cookie } from "@pooled/http";
 * const jar = new CookieJar();
 * jar.setCookie("id=1; Path=/app; HttpOnly", "http://127.0.0.1/login");
 * const [cookie]: Cookie[] = jar.getCookies("http://127.0.0.1/app/x");
 * console.log(cookie.name, cookie.value, cookie.domain, cookie.hostOnly, cookie.path); // id 1 127.0.0.1 true /app
 * ```
 */
export interface Cookie {
  /** The name (may be empty: a `Set-Cookie` without `=` sets a nameless cookie). */
  readonly name: string;
  /** The value. */
  readonly value: string;
  /** The host it was set by (host-only), or the `Domain` attribute, in lower case. */
  readonly domain: string;
  /** True when sent to `domain` itself only (no `Domain` attribute), not to its subdomains. */
  readonly hostOnly: boolean;
  /** Sent to this path and the paths below it. */
  readonly path: string;
  /** Sent over https only. */
  readonly secure: boolean;
  /** Set with `HttpOnly` (stored and sent as any other: this is not a browser). */
  readonly httpOnly: boolean;
  /** `SameSite`, or null when absent or unknown. Stored, not enforced. */
  readonly sameSite: CookieSameSite | null;
  /** When it expires, or null for a session cookie (kept as long as the jar). */
  readonly expires: number | null;
  /** When it was first stored (a replacement keeps the time of the cookie it replaces). */
  readonly created: number;
}
