/**
 * The `Set-Cookie` parser of RFC 6265bis §5.6 (a name-value pair and the attributes the
 * storage model reads), and the pair a `Cookie` header sends back. Unknown attributes, and known ones with a value that does not parse,
 * are ignored, as browsers do; a later attribute of the same name wins.
 *
 * @module
 */

import { parseCookieDate } from "./_cookie_date.ts";
import type { Cookie, CookieSameSite } from "./cookie.ts";

/** Longest name plus value, in octets (RFC 6265bis §5.6 step 6). */
export const MAX_NAME_VALUE_OCTETS = 4096;
/** Longest attribute value, in octets (RFC 6265bis §5.6.1 step 5): a longer one is ignored. */
const MAX_ATTRIBUTE_VALUE_OCTETS = 1024;

/** One `Set-Cookie` header, parsed. */
export interface ParsedSetCookie {
  readonly name: string;
  readonly value: string;
  /** `Expires`, in ms since the epoch, or null. */
  readonly expires: number | null;
  /** `Max-Age`, in seconds (zero or less: expired), or null. */
  readonly maxAge: number | null;
  /** `Domain` in lower case without its leading dot, or null. */
  readonly domain: string | null;
  /** `Path`: null when absent, `""` when present but not starting with "/" (the default applies). */
  readonly path: string | null;
  readonly secure: boolean;
  readonly httpOnly: boolean;
  readonly sameSite: CookieSameSite | null;
}

/** True when `text` holds a control character other than HTAB: %x00-08 / %x0A-1F / %x7F. */
export function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if ((code < 0x20 && code !== 0x09) || code === 0x7f) return true;
  }
  return false;
}

/** The UTF-8 length of `text`, in octets. */
export function octets(text: string): number {
  let length = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    // A surrogate pair is 2 units for 4 octets; other units above 0x7f take 2 or 3 octets.
    if (code >= 0xd800 && code <= 0xdfff) length += 1;
    else if (code > 0x7ff) length += 2;
    else if (code > 0x7f) length += 1;
  }
  return length;
}

/** Removes leading and trailing SP and HTAB (WSP), and nothing else. */
function trimWsp(text: string): string {
  return text.replace(/^[ \t]+|[ \t]+$/g, "");
}

/** `SameSite` values by their lower-case form (a Map: "constructor" is no value). */
const SAME_SITE: ReadonlyMap<string, CookieSameSite> = new Map([
  ["strict", "Strict"],
  ["lax", "Lax"],
  ["none", "None"],
]);

/** The `Max-Age` delta in seconds, or null when the value does not parse (RFC 6265bis §5.6.2). */
function parseMaxAge(value: string): number | null {
  return /^-?[0-9]+$/.test(value) ? Number(value) : null;
}

/**
 * Parses one `Set-Cookie` header value, or returns null when the whole header is to be
 * ignored: a control character anywhere, an empty name and value, or a name and value
 * longer than {@linkcode MAX_NAME_VALUE_OCTETS}.
 */
export function parseSetCookie(header: string): ParsedSetCookie | null {
  if (hasControlCharacter(header)) return null;
  const semicolon = header.indexOf(";");
  const pair = semicolon < 0 ? header : header.slice(0, semicolon);
  const equals = pair.indexOf("=");
  // No "=": a cookie with an empty name (RFC 6265bis, as browsers do).
  const name = equals < 0 ? "" : trimWsp(pair.slice(0, equals));
  const value = trimWsp(equals < 0 ? pair : pair.slice(equals + 1));
  if (name === "" && value === "") return null;
  if (octets(name) + octets(value) > MAX_NAME_VALUE_OCTETS) return null;
  const cookie = {
    name,
    value,
    expires: null as number | null,
    maxAge: null as number | null,
    domain: null as string | null,
    path: null as string | null,
    secure: false,
    httpOnly: false,
    sameSite: null as CookieSameSite | null,
  };
  const attributes = semicolon < 0 ? [] : header.slice(semicolon + 1).split(";");
  for (const attribute of attributes) {
    const at = attribute.indexOf("=");
    const key = trimWsp(at < 0 ? attribute : attribute.slice(0, at)).toLowerCase();
    const raw = at < 0 ? "" : trimWsp(attribute.slice(at + 1));
    if (octets(raw) > MAX_ATTRIBUTE_VALUE_OCTETS) continue;
    switch (key) {
      case "expires": {
        const time = parseCookieDate(raw);
        if (time !== null) cookie.expires = time;
        break;
      }
      case "max-age": {
        const delta = parseMaxAge(raw);
        if (delta !== null) cookie.maxAge = delta;
        break;
      }
      case "domain":
        // An empty Domain is ignored (RFC 6265bis §5.6.3 lets user agents do so).
        if (raw !== "") cookie.domain = raw.replace(/^\./, "").toLowerCase();
        break;
      case "path":
        cookie.path = raw.startsWith("/") ? raw : "";
        break;
      case "secure":
        cookie.secure = true;
        break;
      case "httponly":
        cookie.httpOnly = true;
        break;
      case "samesite":
        // An unknown value leaves the default enforcement (none, here).
        cookie.sameSite = SAME_SITE.get(raw.toLowerCase()) ?? null;
        break;
    }
  }
  return cookie;
}

/** The `Cookie` header pair of a cookie: a nameless cookie is its value alone. */
export function cookiePair(cookie: Cookie): string {
  return cookie.name === "" ? cookie.value : `${cookie.name}=${cookie.value}`;
}
