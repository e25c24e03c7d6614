/**
 * Where a manager's cookie jar meets the request loop: the `Cookie` header of each attempt,
 * and the `Set-Cookie` headers of each response. The loop calls these two functions only
 * when the manager has a jar.
 *
 * @module
 */

import type { HTTPHeaderDict } from "../headers.ts";
import { requestHeaderPairs, type RequestHeaders } from "../request/request_methods.ts";
import type { HTTPResponse } from "../response.ts";
import { cookiePair } from "./_set_cookie.ts";
import type { CookieJar } from "./cookie_jar.ts";

/** The names in a `Cookie` header value. */
function cookieNames(header: string): Set<string> {
  const names = new Set<string>();
  for (const pair of header.split(";")) {
    if (pair.trim() === "") continue;
    const equals = pair.indexOf("=");
    names.add(equals < 0 ? "" : pair.slice(0, equals).trim());
  }
  return names;
}

/**
 * The headers of a request to `url`: `headers` with a `Cookie` header made of the caller's
 * own (the request's `Cookie` header, else the pool's), then the jar's cookies for `url`
 * whose names the caller's header does not already set. `headers` itself, unchanged, when
 * the jar adds nothing.
 */
export function withJarCookies(
  jar: CookieJar,
  headers: RequestHeaders | undefined,
  poolHeaders: HTTPHeaderDict,
  url: string,
): RequestHeaders | undefined {
  const cookies = jar.getCookies(url);
  if (cookies.length === 0) return headers;
  // No prototype: a header may be named "__proto__" (or "constructor").
  const kept: Record<string, string[] | undefined> = Object.create(null);
  // The caller's Cookie values; null when the request names no Cookie header.
  let own: string[] | null = null;
  for (const [name, value] of headers === undefined ? [] : requestHeaderPairs(headers)) {
    if (name.toLowerCase() === "cookie") {
      own ??= [];
      if (value !== undefined) own.push(value);
    } else if (value === undefined) kept[name] = undefined;
    else (kept[name] ??= []).push(value);
  }
  const given = (own ?? poolHeaders.getList("cookie")).join("; ");
  const taken = cookieNames(given);
  const pairs = cookies.filter((cookie) => !taken.has(cookie.name)).map(cookiePair);
  if (pairs.length === 0) return headers;
  kept["Cookie"] = [given === "" ? pairs.join("; ") : `${given}; ${pairs.join("; ")}`];
  return kept;
}

/** Stores the `Set-Cookie` headers of `response`, which answered a request to `url`. */
export function storeResponseCookies(jar: CookieJar, response: HTTPResponse, url: string): void {
  for (const header of response.headers.getList("set-cookie")) jar.setCookie(header, url);
}
