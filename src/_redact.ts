/**
 * Credentials out of error text: the userinfo of a URL (`user:password@`) never appears in
 * an error message or in a URL an error carries.
 *
 * @module
 */

/** What stands for the userinfo of a URL in error text. */
const REDACTED_USERINFO = "***";
/** Where an authority starts: after `scheme://` or a leading `//`. */
const AUTHORITY_START_RE = /^(?:[a-zA-Z][a-zA-Z0-9+.-]*:)?\/\//;
/** The userinfo of each `//authority` in a text, up to its last `@` before a delimiter. */
const USERINFO_IN_TEXT_RE = /\/\/[^\s/?#]*@/g;

/**
 * `url` with the userinfo of its authority (`user:password@`) replaced by `***@`, for error
 * messages and the URLs errors carry: `http://user:pw@host/` becomes `http://***@host/`.
 * Works on text {@linkcode parseUrl} rejects too (a scheme-less `user:pw@host` becomes
 * `***@host`); text without userinfo comes back unchanged.
 *
 * @param url The URL text.
 * @returns The URL without credentials.
 */
export function redactUrl(url: string): string {
  if (!url.includes("@")) return url;
  const start = AUTHORITY_START_RE.exec(url)?.[0].length ?? 0;
  const delimiter = url.slice(start).search(/[/?#]/);
  const authority = delimiter === -1 ? url.slice(start) : url.slice(start, start + delimiter);
  const at = authority.lastIndexOf("@");
  return at === -1 ? url : url.slice(0, start) + REDACTED_USERINFO + url.slice(start + at);
}

/**
 * `text` with the userinfo of every `scheme://user:pw@host` (or `//user:pw@host`) in it
 * replaced by `***`: what every error message goes through.
 *
 * @param text Any text.
 * @returns The text without URL credentials.
 */
export function redactUrlsIn(text: string): string {
  return text.includes("@") ? text.replace(USERINFO_IN_TEXT_RE, `//${REDACTED_USERINFO}@`) : text;
}
