/**
 * The redirect decision, pure: given a 3xx status, its `Location` and the current request,
 * where to go next, with which method, whether the body goes, and which headers to drop.
 * It follows urllib3's `PoolManager.urlopen`.
 *
 * @module
 */

import { LocationParseError, URLSchemeUnknown } from "../errors.ts";
import { checkObject, checkStrings, describe, isIterable, readonlySet } from "../_validate.ts";

/**
 * The redirect statuses: 301, 302, 303, 307 and 308.
 *
 * @example
 * ```ts
 * import { REDIRECT_STATUSES } from "@pooled/http";
 * console.log(REDIRECT_STATUSES.has(307), REDIRECT_STATUSES.has(304)); // true false
 * ```
 */
export const REDIRECT_STATUSES: ReadonlySet<number> = readonlySet([301, 302, 303, 307, 308]);

/**
 * The lower-case headers that describe a request body, removed when a 303 turns the
 * request into a GET (RFC 9110, section 15.4; urllib3's `_prepare_for_method_change`).
 *
 * @example
 * ```ts
 * import { CONTENT_SPECIFIC_HEADERS } from "@pooled/http";
 * console.log(CONTENT_SPECIFIC_HEADERS.has("content-type")); // true
 * ```
 */
export const CONTENT_SPECIFIC_HEADERS: ReadonlySet<string> = readonlySet([
  "content-encoding",
  "content-language",
  "content-location",
  "content-type",
  "content-length",
  "digest",
  "last-modified",
  "transfer-encoding",
]);

/**
 * What to do for a redirect. Returned by {@linkcode decideRedirect}.
 *
 * @example Follow a 303 as a GET without the body
 * ```ts
 * import { decideRedirect } from "@pooled/http";
 * const next = decideRedirect({
 *   status: 303,
 *   location: "/done",
 *   method: "POST",
 *   url: "http://127.0.0.1/form",
 *   removeHeadersOnRedirect: ["authorization"],
 * });
 * console.log(next.method, next.url, next.dropBody); // GET http://127.0.0.1/done true
 * ```
 */
export interface RedirectDecision {
  /** The absolute URL to request next, without a fragment. */
  readonly url: string;
  /** The method of the next request. */
  readonly method: string;
  /** `true` when the next request must go without a body (after a 303). */
  readonly dropBody: boolean;
  /** Lower-case names of the headers to remove from the next request. */
  readonly removeHeaders: ReadonlySet<string>;
  /** `true` when the scheme, host or port changes. */
  readonly crossOrigin: boolean;
}

/**
 * Arguments of {@linkcode decideRedirect}.
 *
 * @example Credentials are dropped across origins
 * ```ts
 * import { decideRedirect, type RedirectArgs } from "@pooled/http";
 * const args: RedirectArgs = {
 *   status: 302,
 *   location: "https://other.example/",
 *   method: "GET",
 *   url: "http://127.0.0.1/",
 *   removeHeadersOnRedirect: ["authorization"],
 * };
 * console.log(decideRedirect(args).removeHeaders.has("authorization")); // true
 * ```
 */
export interface RedirectArgs {
  /** The response status; one of {@linkcode REDIRECT_STATUSES}. */
  status: number;
  /** The raw `Location` header value; may be relative. */
  location: string;
  /** The method of the request that got the redirect. */
  method: string;
  /** The absolute URL of the request that got the redirect. */
  url: string;
  /** Headers to remove when the origin changes, usually `retries.removeHeadersOnRedirect`. */
  removeHeadersOnRedirect: Iterable<string>;
}

const DEFAULT_PORTS: Readonly<Record<string, number>> = { "http:": 80, "https:": 443 };

function parseCurrentUrl(url: string): URL {
  try {
    return new URL(url);
  } catch {
    throw new LocationParseError(url, "the current URL is not absolute");
  }
}

function resolveLocation(location: string, base: URL): URL {
  if (location.trim() === "") {
    throw new LocationParseError(location, "empty Location header");
  }
  let target: URL;
  try {
    target = new URL(location, base);
  } catch {
    throw new LocationParseError(location, "invalid Location header");
  }
  // An `http+unix` URL may only redirect on its own socket: a server must not be able to
  // send a client to a local socket, nor from one socket to another.
  const sameSocket = target.protocol === "http+unix:" && base.protocol === "http+unix:" &&
    target.host === base.host;
  if (!(target.protocol in DEFAULT_PORTS) && !sameSocket) {
    throw new URLSchemeUnknown(target.protocol.slice(0, -1));
  }
  target.hash = "";
  return target;
}

function origin(url: URL): string {
  const port = url.port === "" ? DEFAULT_PORTS[url.protocol] : Number(url.port);
  return `${url.protocol}//${url.hostname.toLowerCase()}:${port}`;
}

function checkArgs(args: RedirectArgs): void {
  checkObject("decideRedirect() arguments", args);
  if (!REDIRECT_STATUSES.has(args.status)) {
    throw new RangeError(
      `decideRedirect() status must be 301, 302, 303, 307 or 308: ${describe(args.status)}`,
    );
  }
  for (const name of ["location", "method", "url"] as const) {
    if (typeof args[name] !== "string") {
      throw new TypeError(`decideRedirect() ${name} must be a string: ${describe(args[name])}`);
    }
  }
  if (!isIterable(args.removeHeadersOnRedirect)) {
    throw new TypeError(
      `decideRedirect() removeHeadersOnRedirect must be an iterable of header names: ${
        describe(args.removeHeadersOnRedirect)
      }`,
    );
  }
}

/**
 * Decides how to follow a redirect, as urllib3's `PoolManager` does:
 *
 * - `location` is resolved against `url` (so it may be relative) and its fragment
 *   dropped; a scheme other than `http`/`https` throws {@linkcode URLSchemeUnknown}, an
 *   empty or unparsable one throws {@linkcode LocationParseError};
 * - 303 See Other turns the method into `GET` (a `HEAD` stays `HEAD`), drops the body and
 *   removes {@linkcode CONTENT_SPECIFIC_HEADERS};
 * - 301, 302, 307 and 308 keep the method and the body (urllib3 keeps a POST body on
 *   301/302, unlike browsers);
 * - when the scheme, host or port changes (default ports filled in), `crossOrigin` is
 *   `true` and the `removeHeadersOnRedirect` names (lower-cased) are removed too.
 *
 * Counting redirects is the job of `Retry.increment()`, not of this function.
 *
 * @throws {RangeError} when `status` is not a redirect status.
 *
 * @example
 * ```ts
 * import { decideRedirect, Retry } from "@pooled/http";
 * const next = decideRedirect({
 *   status: 303,
 *   location: "https://other.example/done#top",
 *   method: "POST",
 *   url: "http://api.example/form",
 *   removeHeadersOnRedirect: Retry.DEFAULT.removeHeadersOnRedirect,
 * });
 * console.log(next.url, next.method, next.dropBody, next.crossOrigin);
 * // https://other.example/done GET true true
 * console.log(next.removeHeaders.has("authorization")); // true
 * ```
 */
export function decideRedirect(args: RedirectArgs): RedirectDecision {
  checkArgs(args);
  const base = parseCurrentUrl(args.url);
  const target = resolveLocation(args.location, base);
  const crossOrigin = origin(base) !== origin(target);
  const seeOther = args.status === 303;
  const removeHeaders: string[] = [];
  if (seeOther) removeHeaders.push(...CONTENT_SPECIFIC_HEADERS);
  if (crossOrigin) {
    const names = checkStrings(
      "decideRedirect() removeHeadersOnRedirect",
      args.removeHeadersOnRedirect,
      "header names",
    );
    for (const name of names) removeHeaders.push(name.toLowerCase());
  }
  const isHead = args.method.toUpperCase() === "HEAD";
  return Object.freeze({
    url: target.href,
    method: seeOther && !isHead ? "GET" : args.method,
    dropBody: seeOther,
    removeHeaders: readonlySet(removeHeaders),
    crossOrigin,
  });
}
