/**
 * The `http+unix` scheme (as requests-unixsocket spells it): the host is the Unix socket's
 * path, percent-encoded (`http+unix://%2Fvar%2Frun%2Fdocker.sock/info`). The pool for such
 * a URL is a plain HTTP pool for `localhost` (its `Host` header) with the `socketPath`
 * option, keyed by the path.
 *
 * @module
 */

import { LocationParseError } from "../errors.ts";

/** The scheme of HTTP over a Unix domain socket. */
export const UNIX_SCHEME = "http+unix";

/** The `Host` of requests over a Unix socket (the path is no host name). */
export const UNIX_SOCKET_HOST = "localhost";

/** The socket path a `http+unix` URL's host names (percent-decoded), checked. */
export function socketPathOf(host: string, url: string): string {
  let path: string;
  try {
    path = decodeURIComponent(host);
  } catch {
    throw new LocationParseError(url, `${JSON.stringify(host)} is not a percent-encoded path`);
  }
  // deno-lint-ignore no-control-regex
  if (path === "" || /\x00/.test(path)) {
    throw new LocationParseError(url, `${JSON.stringify(host)} is not a Unix socket path`);
  }
  return path;
}

/** The host of a pool key for the socket at `path`: one spelling for one path. */
export function socketKeyHost(path: string): string {
  return encodeURIComponent(path);
}
