/**
 * URL parsing: urllib3's lenient RFC 3986 / RFC 6874 parser ({@linkcode parseUrl}) and the
 * {@linkcode Url} value it returns. Pure functions, no I/O.
 *
 * @module
 */

import { LocationParseError } from "./errors.ts";
import { charTable } from "./_char_table.ts";
import { checkPort, describe } from "./_validate.ts";
import { unbracketHost } from "./_host.ts";

/**
 * The parts of a {@linkcode Url}; every part is optional and defaults to `null`.
 *
 * @example Build a URL from its parts
 * ```ts
 * import { Url } from "@pooled/http";
 * const url = new Url({ scheme: "https", host: "example.com", path: "/a", query: "b=1" });
 * console.log(url.toString()); // "https://example.com/a?b=1"
 * ```
 */
export interface UrlInit {
  /** Scheme, for example `"https"`; lower-cased by the constructor. */
  scheme?: string | null;
  /** Userinfo (`user:password`), kept percent-encoded. */
  auth?: string | null;
  /** Host; IPv6 literals keep their brackets (`"[::1]"`). */
  host?: string | null;
  /** Port, an integer from 0 to 65535. */
  port?: number | null;
  /** Path; a `"/"` is put in front when it does not start with one. */
  path?: string | null;
  /** Query, without the `"?"`. */
  query?: string | null;
  /** Fragment, without the `"#"`. */
  fragment?: string | null;
}

const URL_STRING_PARTS = ["scheme", "auth", "host", "path", "query", "fragment"] as const;

/**
 * A parsed URL, as returned by {@linkcode parseUrl}. Parts that were not in the URL are
 * `null`. Immutable.
 *
 * @example Build a URL from its parts
 * ```ts
 * import { Url } from "@pooled/http";
 * const u = new Url({ scheme: "HTTP", host: "example.com", port: 8080, path: "x", query: "a=1" });
 * console.log(u.url); // "http://example.com:8080/x?a=1"
 * console.log(u.requestUri); // "/x?a=1"
 * ```
 */
export class Url {
  /** Lower-case scheme, or `null` when the URL had none. */
  readonly scheme: string | null;
  /** Userinfo (`user:password`), percent-encoded, or `null`. */
  readonly auth: string | null;
  /** Host (lower-case for http/https; IPv6 literals keep their brackets), or `null`. */
  readonly host: string | null;
  /** Port, or `null` when the URL gave none. */
  readonly port: number | null;
  /** Path, or `null`. Empty (`""`) when the URL had no path but a query or fragment. */
  readonly path: string | null;
  /** Query without the `"?"`, or `null`. */
  readonly query: string | null;
  /** Fragment without the `"#"`, or `null`. */
  readonly fragment: string | null;

  /**
   * Creates a URL from its parts.
   *
   * @param init The parts. The scheme is lower-cased and a path gets a leading `"/"`; nothing
   * else is normalised or checked beyond its type (use {@linkcode parseUrl} for that).
   */
  constructor(init: UrlInit = {}) {
    if (typeof init !== "object" || init === null) {
      throw new TypeError(`Url init must be an object: ${describe(init)}`);
    }
    for (const key of URL_STRING_PARTS) {
      const value = init[key];
      if (value !== undefined && value !== null && typeof value !== "string") {
        throw new TypeError(`Url ${key} must be a string or null: ${describe(value)}`);
      }
    }
    const port = init.port ?? null;
    if (port !== null) checkPort("Url port", port, "a number or null");
    let path = init.path ?? null;
    // urllib3's Url() does the same, so a relative path still forms a valid request target.
    if (path && !path.startsWith("/")) path = "/" + path;
    this.scheme = init.scheme == null ? null : init.scheme.toLowerCase();
    this.auth = init.auth ?? null;
    this.host = init.host ?? null;
    this.port = port;
    this.path = path;
    this.query = init.query ?? null;
    this.fragment = init.fragment ?? null;
    Object.freeze(this);
  }

  /** Host without IPv6 brackets (`"::1"` for `"[::1]"`), as a socket wants it, or `null`. */
  get hostname(): string | null {
    return this.host === null ? null : unbracketHost(this.host);
  }

  /** Path (or `"/"`) plus `"?query"`: the origin-form request target. */
  get requestUri(): string {
    const path = this.path || "/";
    return this.query === null ? path : `${path}?${this.query}`;
  }

  /** `host[:port]`, or `null` without a host. */
  get netloc(): string | null {
    if (this.host === null) return null;
    return this.port === null ? this.host : `${this.host}:${this.port}`;
  }

  /** `auth@host[:port]` (RFC 3986 authority), or {@linkcode Url.netloc} without auth. */
  get authority(): string | null {
    const netloc = this.netloc;
    return netloc === null || this.auth === null ? netloc : `${this.auth}@${netloc}`;
  }

  /**
   * The userinfo percent-decoded as UTF-8: `[username, password]`, the password `null` when
   * there was no `":"`; `null` without userinfo.
   */
  get authDecoded(): readonly [username: string, password: string | null] | null {
    if (this.auth === null) return null;
    const colon = this.auth.indexOf(":");
    if (colon === -1) return [percentDecode(this.auth), null];
    return [
      percentDecode(this.auth.slice(0, colon)),
      percentDecode(this.auth.slice(colon + 1)),
    ];
  }

  /** The URL put back together (equivalent to, not always identical with, the input). */
  get url(): string {
    let out = "";
    // Empty strings and port 0 are kept: only null means "absent".
    if (this.scheme !== null) out += this.scheme + "://";
    if (this.auth !== null) out += this.auth + "@";
    if (this.host !== null) out += this.host;
    if (this.port !== null) out += ":" + this.port;
    if (this.path !== null) out += this.path;
    if (this.query !== null) out += "?" + this.query;
    if (this.fragment !== null) out += "#" + this.fragment;
    return out;
  }

  /** Same as {@linkcode Url.url}. */
  toString(): string {
    return this.url;
  }

  /** Same as {@linkcode Url.url}, so `JSON.stringify` gives the URL string. */
  toJSON(): string {
    return this.url;
  }
}

// ---------------------------------------------------------------------------------------
// Patterns, derived (like urllib3's) from the `rfc3986` package.

const NORMALIZABLE_SCHEMES: ReadonlySet<string | null> = new Set(["http", "https", null]);

const SCHEME_RE = /^(?:[a-zA-Z][a-zA-Z0-9+-]*:|\/)/;
// "localhost:8080" would otherwise be read as scheme "localhost" (see parseUrl's docs).
const HOST_PORT_ONLY_RE = /^[a-zA-Z][a-zA-Z0-9+.-]*:[0-9]+(?:[/?#]|$)/;
const URI_RE =
  /^(?:([a-zA-Z][a-zA-Z0-9+.-]*):)?(?:\/\/([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$/s;

const IPV4_PAT = String.raw`(?:[0-9]{1,3}\.){3}[0-9]{1,3}`;
const HEX = "[0-9A-Fa-f]{1,4}";
const LS32 = `(?:${HEX}:${HEX}|${IPV4_PAT})`;
const IPV6_PAT = "(?:" + [
  `(?:${HEX}:){6}${LS32}`,
  `::(?:${HEX}:){5}${LS32}`,
  `(?:${HEX})?::(?:${HEX}:){4}${LS32}`,
  `(?:(?:${HEX}:)?${HEX})?::(?:${HEX}:){3}${LS32}`,
  `(?:(?:${HEX}:){0,2}${HEX})?::(?:${HEX}:){2}${LS32}`,
  `(?:(?:${HEX}:){0,3}${HEX})?::${HEX}:${LS32}`,
  `(?:(?:${HEX}:){0,4}${HEX})?::${LS32}`,
  `(?:(?:${HEX}:){0,5}${HEX})?::${HEX}`,
  `(?:(?:${HEX}:){0,6}${HEX})?::`,
].join("|") + ")";
// urllib3's zone-id character class (it includes "!").
const ZONE_ID_PAT = String.raw`(?:%25|%)(?:[A-Za-z0-9._!\-~]|%[a-fA-F0-9]{2})+`;
const IPV6_ADDRZ_PAT = String.raw`\[${IPV6_PAT}(?:${ZONE_ID_PAT})?\]`;
const REG_NAME_PAT = String.raw`(?:[^\[\]%:/?#]|%[a-fA-F0-9]{2})*`;

const HOST_PORT_RE = new RegExp(
  `^(${REG_NAME_PAT}|${IPV4_PAT}|${IPV6_ADDRZ_PAT})(?::0*?(|0|[1-9][0-9]{0,4}))?$`,
  "s",
);
const IPV6_ADDRZ_RE = new RegExp(`^${IPV6_ADDRZ_PAT}$`);
const ZONE_ID_RE = new RegExp(`(${ZONE_ID_PAT})\\]$`);
// Numeric hosts (including the "0x7f.1" forms) are left alone rather than IDNA-encoded.
const IPV4_RE = /^(?:0[xX][0-9a-fA-F]+|[0-9]+)(?:\.(?:0[xX][0-9a-fA-F]+|[0-9]+)){0,3}$/;
// RFC 3986 reg-name allows only unreserved, sub-delims and %XX: controls, space and
// `"<>\^`{|}` are never part of a host (urllib3 #5095 and #5143).
// deno-lint-ignore no-control-regex -- control characters are exactly what is rejected
const HOST_INVALID_CHAR_RE = /[\x00-\x20\x7f"<>\\^`{|}]/;
const TARGET_RE = /^(\/[^?#]*)(?:\?([^#]*))?(?:#.*)?$/s;
const DEFAULT_IGNORABLE_RE = /\p{Default_Ignorable_Code_Point}/u;
// deno-lint-ignore no-control-regex -- the ASCII range, written as a range
const NON_ASCII_RE = /[^\x00-\x7f]/;
// ASCII other than letters, digits, "-" and ".": not allowed next to non-ASCII (STD3 rules).
// deno-lint-ignore no-control-regex -- control characters are among those rejected
const STD3_ASCII_RE = /[\x00-\x2c\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]/;
const PERCENT_RE = /%[a-fA-F0-9]{2}/g;

const UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-~";
const SUB_DELIMS = "!$&'()*+,;=";
const UNRESERVED_CHARS = charTable(UNRESERVED);
const USERINFO_CHARS = charTable(UNRESERVED + SUB_DELIMS + ":");
const PATH_CHARS = charTable(UNRESERVED + SUB_DELIMS + ":@/");
const QUERY_CHARS = charTable(UNRESERVED + SUB_DELIMS + ":@/?");
const FRAGMENT_CHARS = QUERY_CHARS;

const PERCENT_BYTE: readonly string[] = Array.from(
  { length: 256 },
  (_, i) => "%" + i.toString(16).toUpperCase().padStart(2, "0"),
);

function isHexDigit(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** Percent-encodes one code point as UTF-8 (lone surrogates as their 3-byte form). */
function percentEncodeCodePoint(cp: number): string {
  if (cp < 0x800) return PERCENT_BYTE[0xc0 | (cp >> 6)] + PERCENT_BYTE[0x80 | (cp & 0x3f)];
  if (cp < 0x10000) {
    return PERCENT_BYTE[0xe0 | (cp >> 12)] + PERCENT_BYTE[0x80 | ((cp >> 6) & 0x3f)] +
      PERCENT_BYTE[0x80 | (cp & 0x3f)];
  }
  return PERCENT_BYTE[0xf0 | (cp >> 18)] + PERCENT_BYTE[0x80 | ((cp >> 12) & 0x3f)] +
    PERCENT_BYTE[0x80 | ((cp >> 6) & 0x3f)] + PERCENT_BYTE[0x80 | (cp & 0x3f)];
}

/**
 * Percent-encodes every character of `component` that `allowed` does not list. An existing
 * valid `%XX` escape is kept (upper-cased), so nothing is encoded twice; a `%` that starts no
 * valid escape becomes `%25`.
 */
function encodeInvalidChars(component: string, allowed: Uint8Array): string {
  const n = component.length;
  let i = 0;
  // Fast path: most components need no change at all. "%" is not in any table.
  while (i < n) {
    const c = component.charCodeAt(i);
    if (c >= 128 || allowed[c] === 0) break;
    i++;
  }
  if (i === n) return component;
  let out = component.slice(0, i);
  for (; i < n; i++) {
    const c = component.charCodeAt(i);
    if (c < 128) {
      if (allowed[c] === 1) {
        out += component[i];
      } else if (
        c === 0x25 && isHexDigit(component.charCodeAt(i + 1)) &&
        isHexDigit(component.charCodeAt(i + 2))
      ) {
        out += "%" + component.slice(i + 1, i + 3).toUpperCase();
        i += 2;
      } else {
        out += PERCENT_BYTE[c];
      }
      continue;
    }
    let cp = c;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const low = component.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        cp = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
        i++;
      }
    }
    out += percentEncodeCodePoint(cp);
  }
  return out;
}

function percentDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    // Not valid UTF-8 escapes: give the text back as it is rather than fail.
    return text;
  }
}

/** RFC 3986 section 5.2.4, as urllib3 does it. */
function removeDotSegments(path: string): string {
  const output: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === ".") continue;
    if (segment !== "..") output.push(segment);
    else if (output.length > 0) output.pop();
  }
  if (path.startsWith("/") && (output.length === 0 || output[0] !== "")) output.unshift("");
  if (path.endsWith("/.") || path.endsWith("/..")) output.push("");
  return output.join("/");
}

function invalidHostChar(source: string, host: string): LocationParseError | null {
  const match = HOST_INVALID_CHAR_RE.exec(host);
  if (match === null) return null;
  return new LocationParseError(
    source,
    `host ${JSON.stringify(host)} contains invalid character ${JSON.stringify(match[0])}`,
  );
}

/** Decodes `%XX` of a percent-encoded control character in a host: never allowed. */
function checkPercentControl(source: string, host: string, escape: string): number {
  const octet = parseInt(escape.slice(1), 16);
  if (octet < 0x20 || octet === 0x7f) {
    throw new LocationParseError(
      source,
      `host ${JSON.stringify(host)} contains percent-encoded control character ${escape}`,
    );
  }
  return octet;
}

function normalizeZoneHost(source: string, host: string): string {
  const match = ZONE_ID_RE.exec(host);
  if (match === null) return host.toLowerCase();
  const start = match.index;
  let zone = match[1];
  // RFC 6874 writes the separator as "%25"; a plain "%" is accepted too (RFC 4007 form).
  zone = zone.startsWith("%25") && zone !== "%25" ? zone.slice(3) : zone.slice(1);
  zone = zone.replace(PERCENT_RE, (escape) => {
    checkPercentControl(source, host, escape);
    return escape.toUpperCase();
  });
  zone = encodeInvalidChars(zone, UNRESERVED_CHARS);
  return `${host.slice(0, start).toLowerCase()}%${zone}]`;
}

function normalizeRegNamePercents(source: string, host: string): string {
  return host.replace(/%[a-fA-F0-9]{2}|%/g, (escape) => {
    if (escape === "%") {
      throw new LocationParseError(source, `${JSON.stringify(host)} is not a valid host`);
    }
    const octet = checkPercentControl(source, host, escape);
    return octet < 128 && UNRESERVED_CHARS[octet] === 1
      ? String.fromCharCode(octet)
      : escape.toUpperCase();
  });
}

/**
 * IDNA-encodes a non-ASCII host with the runtime's WHATWG URL parser (UTS #46), and rejects
 * what IDNA 2008 with STD3 rules (urllib3's `idna` settings) would never produce the same
 * host for: `%`, non-LDH ASCII, default-ignorable code points, and any mapping that changes
 * the label structure or turns a non-ASCII label into plain ASCII.
 */
function idnaEncode(source: string, host: string): string {
  const fail = () =>
    new LocationParseError(source, `name ${JSON.stringify(host)} is not a valid IDNA host`);
  if (STD3_ASCII_RE.test(host) || DEFAULT_IGNORABLE_RE.test(host)) throw fail();
  let encoded: string;
  try {
    encoded = new URL(`http://${host}/`).hostname;
  } catch {
    throw fail();
  }
  const inLabels = host.split(".");
  const outLabels = encoded.split(".");
  if (inLabels.length !== outLabels.length) throw fail();
  for (let i = 0; i < inLabels.length; i++) {
    const wasAscii = !NON_ASCII_RE.test(inLabels[i]);
    const out = outLabels[i];
    if (wasAscii ? out !== inLabels[i].toLowerCase() : !out.startsWith("xn--")) throw fail();
  }
  return encoded;
}

function normalizeHost(source: string, host: string, scheme: string | null): string {
  if (host === "" || !NORMALIZABLE_SCHEMES.has(scheme)) return host;
  if (IPV6_ADDRZ_RE.test(host)) return normalizeZoneHost(source, host);
  if (IPV4_RE.test(host)) return host;
  if (host.includes("%")) host = normalizeRegNamePercents(source, host);
  if (NON_ASCII_RE.test(host)) return idnaEncode(source, host);
  // Lower-case, but keep the hex digits of the remaining escapes upper-case.
  return host.toLowerCase().replace(PERCENT_RE, (escape) => escape.toUpperCase());
}

function nullable(value: string | undefined): string | null {
  return value === undefined ? null : value;
}

/** Splits an authority into userinfo, host and port, then checks and normalises them. */
function parseAuthority(
  source: string,
  authority: string,
  scheme: string | null,
  normalizeUri: boolean,
): { auth: string | null; host: string; port: number | null } {
  // The last "@" ends the userinfo: a password may contain "@", a host may not.
  const at = authority.lastIndexOf("@");
  let auth = at > 0 ? authority.slice(0, at) : null;
  const hostPort = authority.slice(at + 1);
  const invalid = invalidHostChar(source, hostPort);
  if (invalid !== null) throw invalid;
  const match = HOST_PORT_RE.exec(hostPort);
  if (match === null) {
    throw new LocationParseError(source, `${JSON.stringify(hostPort)} is not a valid host or port`);
  }
  let port: number | null = null;
  // An empty port ("host:") counts as no port.
  if (match[2] !== undefined && match[2] !== "") {
    port = Number(match[2]);
    if (port > 65535) {
      throw new LocationParseError(source, `port ${port} is not in the range 0-65535`);
    }
  }
  if (auth !== null && normalizeUri) auth = encodeInvalidChars(auth, USERINFO_CHARS);
  return { auth, host: normalizeHost(source, match[1], scheme), port };
}

/**
 * Parses a URL the way urllib3's `parse_url` does: leniently, but never guessing a host.
 *
 * - The scheme and (for http, https and scheme-less URLs) the host are lower-cased.
 * - A missing scheme is accepted: `"example.com:80/x"` has host `example.com`, port 80 and
 *   scheme `null`. Unlike urllib3, `"localhost:8080"` is also read as host and port (urllib3
 *   reads it as scheme `localhost` with path `/8080`).
 * - For http, https and scheme-less URLs, dot-segments are removed from the path, and
 *   characters not allowed in userinfo, path, query and fragment (spaces, controls,
 *   non-ASCII, ...) are percent-encoded as UTF-8. Existing `%XX` escapes are kept, never
 *   encoded twice.
 * - IPv6 literals keep their brackets in `host`; a zone id may be written `%25eth0` or
 *   `%eth0` and is stored as `%eth0`. Non-ASCII host names are IDNA (punycode) encoded.
 * - A backslash is not an authority delimiter (RFC 3986): in `"http://a.com\\@b.com/"` the
 *   host is `b.com`.
 *
 * @param url The URL text. `""` gives a `Url` with every part `null`.
 * @returns The parsed URL.
 * @throws {LocationParseError} For a port that is not a number from 0 to 65535, a host with a
 * control character, space or other character RFC 3986 does not allow, a bad `%` escape in
 * the host, an invalid IPv6 literal, or a host that cannot be IDNA-encoded.
 * @throws {TypeError} When `url` is not a string.
 *
 * @example
 * ```ts
 * import { parseUrl } from "@pooled/http";
 * const u = parseUrl("HTTPS://user@Example.COM:8443/a/../b c?q=1#top");
 * console.log(u.scheme, u.host, u.port); // https example.com 8443
 * console.log(u.path, u.query, u.fragment); // /b%20c q=1 top
 * console.log(u.requestUri); // /b%20c?q=1
 * console.log(parseUrl("http://[fe80::1%25eth0]:80/").hostname); // fe80::1%eth0
 * ```
 */
export function parseUrl(url: string): Url {
  if (typeof url !== "string") throw new TypeError(`URL must be a string: ${describe(url)}`);
  if (url === "") return new Url();
  const source = url;
  if (!SCHEME_RE.test(url) || HOST_PORT_ONLY_RE.test(url)) url = "//" + url;

  // URI_RE matches every string: each part is optional.
  const groups = URI_RE.exec(url) as RegExpExecArray;
  let scheme = nullable(groups[1]);
  const authority = nullable(groups[2]);
  let path: string | null = groups[3];
  let query = nullable(groups[4]);
  let fragment = nullable(groups[5]);
  if (scheme !== null) scheme = scheme.toLowerCase();
  const normalizeUri = NORMALIZABLE_SCHEMES.has(scheme);

  const { auth, host, port } = authority
    ? parseAuthority(source, authority, scheme, normalizeUri)
    : { auth: null, host: null, port: null };

  if (normalizeUri) {
    if (path) path = encodeInvalidChars(removeDotSegments(path), PATH_CHARS);
    if (query) query = encodeInvalidChars(query, QUERY_CHARS);
    if (fragment) fragment = encodeInvalidChars(fragment, FRAGMENT_CHARS);
  }

  // As in urllib3: an empty path is "" when a query or fragment follows, otherwise null.
  if (!path) path = query !== null || fragment !== null ? "" : null;

  return new Url({ scheme, auth, host, port, path, query, fragment });
}

/**
 * Percent-encodes an origin-form request target (`/path?query`) the way urllib3 does for a
 * path given to a pool: invalid characters are encoded, dot-segments are kept, and a
 * fragment is dropped.
 *
 * @param target The target; it must start with `"/"`.
 * @returns The encoded target.
 * @throws {LocationParseError} When `target` does not start with `"/"`.
 *
 * @example
 * ```ts
 * import { encodeTarget } from "@pooled/http";
 * console.log(encodeTarget("/a/../b c?x=ü#frag")); // /a/../b%20c?x=%C3%BC
 * ```
 */
export function encodeTarget(target: string): string {
  if (typeof target !== "string") {
    throw new TypeError(`Request target must be a string: ${describe(target)}`);
  }
  const match = TARGET_RE.exec(target);
  if (match === null) {
    throw new LocationParseError(target, 'a request target must start with "/"');
  }
  const path = encodeInvalidChars(match[1], PATH_CHARS);
  return match[2] === undefined ? path : `${path}?${encodeInvalidChars(match[2], QUERY_CHARS)}`;
}

/**
 * The default port of a scheme: 80 for `http`, 443 for `https` (any case), `null` otherwise.
 *
 * @param scheme The scheme.
 * @returns The port, or `null`.
 *
 * @example
 * ```ts
 * import { defaultPortFor } from "@pooled/http";
 * console.log(defaultPortFor("https")); // 443
 * console.log(defaultPortFor("ftp")); // null
 * ```
 */
export function defaultPortFor(scheme: string): number | null {
  if (typeof scheme !== "string") {
    throw new TypeError(`Scheme must be a string: ${describe(scheme)}`);
  }
  switch (scheme.toLowerCase()) {
    case "http":
      return 80;
    case "https":
      return 443;
    default:
      return null;
  }
}

/**
 * Whether two URLs have the same origin: scheme, host and port, a missing scheme counting
 * as `http` and a missing port as the scheme's default. A URL without a host (a bare path)
 * has no origin, so the answer is then `false`.
 *
 * @param a One URL.
 * @param b The other URL.
 * @returns `true` when the origins are equal.
 *
 * @example
 * ```ts
 * import { isSameOrigin, parseUrl } from "@pooled/http";
 * console.log(isSameOrigin(parseUrl("http://a.com/x"), parseUrl("HTTP://A.com:80/y"))); // true
 * console.log(isSameOrigin(parseUrl("http://a.com"), parseUrl("https://a.com"))); // false
 * ```
 */
export function isSameOrigin(a: Url, b: Url): boolean {
  if (!(a instanceof Url) || !(b instanceof Url)) {
    throw new TypeError(`isSameOrigin needs two Url objects: ${describe(a)}, ${describe(b)}`);
  }
  if (a.host === null || b.host === null || a.host !== b.host) return false;
  const schemeA = a.scheme ?? "http";
  const schemeB = b.scheme ?? "http";
  if (schemeA !== schemeB) return false;
  return (a.port ?? defaultPortFor(schemeA)) === (b.port ?? defaultPortFor(schemeB));
}
