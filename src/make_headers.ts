/**
 * Shortcuts for common request headers ({@linkcode makeHeaders}) and the
 * {@linkcode SKIP_HEADER} marker, urllib3's `util/request.py`. Pure functions, no I/O.
 *
 * @module
 */

import { describe } from "./_validate.ts";

/**
 * A header value that stops the library from adding that header itself. It works for
 * `Host`, `User-Agent` and `Accept-Encoding` only. Same text as urllib3's `SKIP_HEADER`.
 *
 * @example
 * ```ts
 * import { SKIP_HEADER } from "@pooled/http";
 * const headers = { "User-Agent": SKIP_HEADER }; // send no User-Agent at all
 * console.log(headers["User-Agent"]); // "@@@SKIP_HEADER@@@"
 * ```
 */
export const SKIP_HEADER = "@@@SKIP_HEADER@@@";

/**
 * What `acceptEncoding: true` asks for: the content codings the response decoder handles.
 *
 * @example
 * ```ts
 * import { ACCEPT_ENCODING } from "@pooled/http";
 * console.log(ACCEPT_ENCODING); // "gzip,deflate,br"
 * ```
 */
export const ACCEPT_ENCODING = "gzip,deflate,br";

/**
 * Options of {@linkcode makeHeaders}; each one left out (or false/empty) adds nothing.
 *
 * @example Common request headers
 * ```ts
 * import { makeHeaders } from "@pooled/http";
 * const headers = makeHeaders({ keepAlive: true, userAgent: "me/1.0", basicAuth: "user:pass" });
 * console.log(headers.authorization); // "Basic dXNlcjpwYXNz"
 * ```
 */
export interface MakeHeadersOptions {
  /** `true` adds `connection: keep-alive`. */
  keepAlive?: boolean;
  /**
   * `true` adds `accept-encoding: gzip,deflate,br` ({@linkcode ACCEPT_ENCODING}); a string is
   * used as it is; a list is joined with `","`.
   */
  acceptEncoding?: boolean | string | readonly string[];
  /** Adds `user-agent`. */
  userAgent?: string;
  /** `"user:password"`: adds `authorization: Basic <base64>` (latin-1 text). */
  basicAuth?: string;
  /** `"user:password"`: adds `proxy-authorization: Basic <base64>` (latin-1 text). */
  proxyBasicAuth?: string;
  /** `true` adds `cache-control: no-cache`. */
  disableCache?: boolean;
}

function isStringList(value: unknown): boolean {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

/** Per option: a description of the type it takes, and the check. */
const OPTION_TYPES: Readonly<
  Record<keyof MakeHeadersOptions, readonly [string, (value: unknown) => boolean]>
> = {
  keepAlive: ["boolean", (value) => typeof value === "boolean"],
  acceptEncoding: [
    "boolean, string or string[]",
    (value) => typeof value === "boolean" || typeof value === "string" || isStringList(value),
  ],
  userAgent: ["string", (value) => typeof value === "string"],
  basicAuth: ["string", (value) => typeof value === "string"],
  proxyBasicAuth: ["string", (value) => typeof value === "string"],
  disableCache: ["boolean", (value) => typeof value === "boolean"],
};

function checkOptions(options: MakeHeadersOptions): void {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new TypeError(`makeHeaders options must be an object: ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!Object.hasOwn(OPTION_TYPES, key)) {
      throw new TypeError(
        `makeHeaders has no option ${JSON.stringify(key)}; known options: ${
          Object.keys(OPTION_TYPES).join(", ")
        }`,
      );
    }
    const value = (options as Record<string, unknown>)[key];
    if (value === undefined) continue;
    const [expected, check] = OPTION_TYPES[key as keyof MakeHeadersOptions];
    if (!check(value)) {
      throw new TypeError(
        `makeHeaders option ${key} must be a ${expected}: ${describe(value)}`,
      );
    }
  }
}

/**
 * Base64 of a string's latin-1 bytes, as HTTP Basic authentication sends it.
 *
 * @throws {TypeError} For a character above U+00FF. The message names the character and its
 * position but never the credentials.
 */
function basicCredentials(option: string, credentials: string): string {
  for (let i = 0; i < credentials.length; i++) {
    const code = credentials.charCodeAt(i);
    if (code > 0xff) {
      throw new TypeError(
        `makeHeaders option ${option} must be latin-1 text; character ${i} is U+${
          code.toString(16).toUpperCase().padStart(4, "0")
        }`,
      );
    }
  }
  // btoa takes each character as one byte: exactly the latin-1 encoding.
  return `Basic ${btoa(credentials)}`;
}

/**
 * Builds common request headers, with lower-case names, like urllib3's `make_headers`.
 *
 * @param options Which headers to build (see {@linkcode MakeHeadersOptions}).
 * @returns The headers, in the order accept-encoding, user-agent, connection, authorization,
 * proxy-authorization, cache-control.
 * @throws {TypeError} For an unknown option, an option of the wrong type, or credentials
 * with a character outside latin-1.
 *
 * @example
 * ```ts
 * import { makeHeaders } from "@pooled/http";
 * console.log(makeHeaders({ keepAlive: true, acceptEncoding: true, basicAuth: "foo:bar" }));
 * // { "accept-encoding": "gzip,deflate,br", connection: "keep-alive", authorization: "Basic Zm9vOmJhcg==" }
 * ```
 */
export function makeHeaders(options: MakeHeadersOptions = {}): Record<string, string> {
  checkOptions(options);
  const headers: Record<string, string> = {};
  const { acceptEncoding } = options;
  // As in urllib3, "" and [] count as "not asked for".
  if (acceptEncoding === true) {
    headers["accept-encoding"] = ACCEPT_ENCODING;
  } else if (typeof acceptEncoding === "string" && acceptEncoding !== "") {
    headers["accept-encoding"] = acceptEncoding;
  } else if (Array.isArray(acceptEncoding) && acceptEncoding.length > 0) {
    headers["accept-encoding"] = acceptEncoding.join(",");
  }
  if (options.userAgent) headers["user-agent"] = options.userAgent;
  if (options.keepAlive) headers["connection"] = "keep-alive";
  if (options.basicAuth) {
    headers["authorization"] = basicCredentials("basicAuth", options.basicAuth);
  }
  if (options.proxyBasicAuth) {
    headers["proxy-authorization"] = basicCredentials("proxyBasicAuth", options.proxyBasicAuth);
  }
  if (options.disableCache) headers["cache-control"] = "no-cache";
  return headers;
}
