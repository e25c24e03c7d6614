/**
 * The HPACK static table (RFC 7541 Appendix A) and its lookups, built once.
 *
 * @module
 */

/** The static table's names, index 1 at position 1 (position 0 unused). */
export const STATIC_NAMES: readonly string[] = [
  "",
  ":authority",
  ":method",
  ":method",
  ":path",
  ":path",
  ":scheme",
  ":scheme",
  ":status",
  ":status",
  ":status",
  ":status",
  ":status",
  ":status",
  ":status",
  "accept-charset",
  "accept-encoding",
  "accept-language",
  "accept-ranges",
  "accept",
  "access-control-allow-origin",
  "age",
  "allow",
  "authorization",
  "cache-control",
  "content-disposition",
  "content-encoding",
  "content-language",
  "content-length",
  "content-location",
  "content-range",
  "content-type",
  "cookie",
  "date",
  "etag",
  "expect",
  "expires",
  "from",
  "host",
  "if-match",
  "if-modified-since",
  "if-none-match",
  "if-range",
  "if-unmodified-since",
  "last-modified",
  "link",
  "location",
  "max-forwards",
  "proxy-authenticate",
  "proxy-authorization",
  "range",
  "referer",
  "refresh",
  "retry-after",
  "server",
  "set-cookie",
  "strict-transport-security",
  "transfer-encoding",
  "user-agent",
  "vary",
  "via",
  "www-authenticate",
];

/** The static table's values, aligned with {@linkcode STATIC_NAMES}. */
export const STATIC_VALUES: readonly string[] = STATIC_NAMES.map((_, index) => {
  switch (index) {
    case 2:
      return "GET";
    case 3:
      return "POST";
    case 4:
      return "/";
    case 5:
      return "/index.html";
    case 6:
      return "http";
    case 7:
      return "https";
    case 8:
      return "200";
    case 9:
      return "204";
    case 10:
      return "206";
    case 11:
      return "304";
    case 12:
      return "400";
    case 13:
      return "404";
    case 14:
      return "500";
    case 16:
      return "gzip, deflate";
    default:
      return "";
  }
});

/** The number of static entries; dynamic indexes start right after. */
export const STATIC_TABLE_LENGTH = 61;

/** The key a name and value pair is looked up by (NUL cannot occur in a field name). */
export function fieldKey(name: string, value: string): string {
  return name + "\0" + value;
}

function buildMaps(): [Map<string, number>, Map<string, number>] {
  const byName = new Map<string, number>();
  const byField = new Map<string, number>();
  for (let index = STATIC_TABLE_LENGTH; index >= 1; index--) {
    // Walking backwards leaves each name at its lowest index.
    byName.set(STATIC_NAMES[index], index);
    byField.set(fieldKey(STATIC_NAMES[index], STATIC_VALUES[index]), index);
  }
  return [byName, byField];
}

const [byName, byField] = buildMaps();

/** Static index of each name (the lowest, where a name repeats). */
export const STATIC_BY_NAME: ReadonlyMap<string, number> = byName;

/** Static index of each name and value pair, by {@linkcode fieldKey}. */
export const STATIC_BY_FIELD: ReadonlyMap<string, number> = byField;
