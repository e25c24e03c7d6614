/**
 * The request headers every protocol sends alike: the `Host` value (HTTP/2's
 * `:authority`) and the pool's headers merged with a request's.
 *
 * @module
 */

import type { HTTPHeaderDict } from "./headers.ts";
import { requestHeaderPairs, type RequestHeaders } from "./request/request_methods.ts";
import { defaultPortFor } from "./url.ts";
import { bracketHost } from "./_host.ts";

/** The `Host` header value: brackets for IPv6, port only when not the default. */
export function hostHeaderValue(host: string, port: number, scheme: string): string {
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  const bracketed = bracketHost(name);
  return port === defaultPortFor(scheme) ? bracketed : `${bracketed}:${port}`;
}

/** Pool headers overridden by request headers (`undefined` removes one). */
export function mergeHeaders(
  base: HTTPHeaderDict,
  request: RequestHeaders,
): Iterable<readonly [string, string]> {
  const own: [string, string][] = [];
  const named = new Set<string>();
  for (const [name, value] of requestHeaderPairs(request)) {
    named.add(name.toLowerCase());
    if (value !== undefined) own.push([name, value]);
  }
  if (base.size === 0) return own;
  const merged: [string, string][] = [];
  for (const [name, value] of base) {
    if (!named.has(name.toLowerCase())) merged.push([name, value]);
  }
  return merged.concat(own);
}
