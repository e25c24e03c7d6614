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
