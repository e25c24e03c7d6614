/**
 * Request fields: `multipart/form-data` and `application/x-www-form-urlencoded` encoding,
 * urllib3's `fields.py` and `filepost.py`. Pure functions, no I/O.
 *
 * @module
 */

import { checkHeader } from "./http1/request_head.ts";
import { describe } from "./_validate.ts";

/**
 * The data of a field: text (sent as UTF-8), a number (sent as `String(n)`) or bytes.
 *
 * @example
 * ```ts
 * import type { FieldData } from "@pooled/http";
 * const data: FieldData = new TextEncoder().encode("raw bytes");
 * console.log(data.length); // 9
 * ```
 */
export type FieldData = string | number | Uint8Array;

/**
 * One field value: a plain value, a file as `[filename, data]` or
 * `[filename, data, mimeType]` (the type is guessed from the filename when left out), or a
 * ready {@linkcode RequestField} (used as it is, with its own name).
 *
 * @example
 * ```ts
 * import type { FieldValue } from "@pooled/http";
 * const values: FieldValue[] = ["text", 42, ["a.txt", "hello"], ["b.bin", new Uint8Array(2), "x/y"]];
 * console.log(values.length); // 4
 * ```
 */
export type FieldValue =
  | string
  | number
  | readonly [filename: string, data: FieldData]
  | readonly [filename: string, data: FieldData, mimeType: string]
  | RequestField;

/**
 * Request fields: an object (one field per key) or a list of `[name, value]` pairs (names
 * may repeat, order is kept).
 *
 * @example
 * ```ts
 * import { encodeUrlencoded, type Fields } from "@pooled/http";
 * const fields: Fields = [["tag", "a"], ["tag", "b"]];
 * console.log(encodeUrlencoded(fields)); // "tag=a&tag=b"
 * ```
 */
export type Fields =
  | Record<string, FieldValue>
  | ReadonlyArray<readonly [string, FieldValue]>;

/**
 * Options of {@linkcode RequestField.makeMultipart}.
 *
 * @example Set a part's headers
 * ```ts
 * import { RequestField } from "@pooled/http";
 * const field = new RequestField("file", "hello", "hello.txt");
 * field.makeMultipart({ contentType: "text/plain" });
 * ```
 */
export interface MakeMultipartOptions {
  /** Content-Disposition type; default `"form-data"`. */
  contentDisposition?: string;
  /** Content-Type of the part; none when left out. */
  contentType?: string;
  /** Content-Location of the part; none when left out. */
  contentLocation?: string;
}

const MIME_TYPES: Readonly<Record<string, string>> = {
  txt: "text/plain",
  html: "text/html",
  css: "text/css",
  js: "text/javascript",
  mjs: "text/javascript",
  json: "application/json",
  xml: "application/xml",
  csv: "text/csv",
  pdf: "application/pdf",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  svg: "image/svg+xml",
  ico: "image/vnd.microsoft.icon",
  zip: "application/zip",
  gz: "application/gzip",
  tar: "application/x-tar",
  mp3: "audio/mpeg",
  mp4: "video/mp4",
  wav: "audio/wav",
  webm: "video/webm",
  wasm: "application/wasm",
  md: "text/markdown",
  yaml: "application/yaml",
  yml: "application/yaml",
};

const DEFAULT_MIME_TYPE = "application/octet-stream";
const SORTED_HEADERS = ["Content-Disposition", "Content-Type", "Content-Location"] as const;
// RFC 2046 section 5.1.1: 1-70 of these characters, not ending with a space.
const BOUNDARY_RE = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;
// A boundary with any of these must be quoted in the Content-Type parameter (RFC 2045).
const BOUNDARY_NEEDS_QUOTES_RE = /[(),/:=? ]/;

function isFieldData(value: unknown): value is FieldData {
  return typeof value === "string" || typeof value === "number" || value instanceof Uint8Array;
}

/**
 * Guesses a file's MIME type from its extension (any case) with a small built-in table;
 * `application/octet-stream` when the extension is unknown or missing.
 *
 * @param filename A file name or path.
 * @returns The MIME type.
 *
 * @example
 * ```ts
 * import { guessMimeType } from "@pooled/http";
 * console.log(guessMimeType("photo.JPG")); // "image/jpeg"
 * console.log(guessMimeType("archive.tar.gz")); // "application/gzip"
 * console.log(guessMimeType("README")); // "application/octet-stream"
 * ```
 */
export function guessMimeType(filename: string): string {
  if (typeof filename !== "string") {
    throw new TypeError(`Filename must be a string: ${describe(filename)}`);
  }
  const base = filename.slice(Math.max(filename.lastIndexOf("/"), filename.lastIndexOf("\\")) + 1);
  const dot = base.lastIndexOf(".");
  // A leading dot (".bashrc") starts a hidden file's name, not an extension.
  if (dot <= 0) return DEFAULT_MIME_TYPE;
  const ext = base.slice(dot + 1).toLowerCase();
  return Object.hasOwn(MIME_TYPES, ext) ? MIME_TYPES[ext] : DEFAULT_MIME_TYPE;
}

/**
 * Formats one multipart header parameter as `name="value"`, escaping the value the way the
 * WHATWG HTML standard (and browsers and curl) do: `\n`, `\r` and `"` become `%0A`, `%0D`
 * and `%22`; everything else, non-ASCII included, is kept as it is (sent as UTF-8).
 *
 * @param name Parameter name (ASCII).
 * @param value Parameter value.
 * @returns The formatted parameter.
 *
 * @example
 * ```ts
 * import { formatMultipartHeaderParam } from "@pooled/http";
 * console.log(formatMultipartHeaderParam("filename", 'a"b\nc.txt')); // filename="a%22b%0Ac.txt"
 * ```
 */
export function formatMultipartHeaderParam(name: string, value: string): string {
  if (typeof name !== "string") {
    throw new TypeError(`Header parameter name must be a string: ${describe(name)}`);
  }
  if (typeof value !== "string") {
    throw new TypeError(
      `Header parameter ${JSON.stringify(name)} value must be a string: ${describe(value)}`,
    );
  }
  const escaped = value.replace(/[\n\r"]/g, (c) => c === "\n" ? "%0A" : c === "\r" ? "%0D" : "%22");
  return `${name}="${escaped}"`;
}

/** A part header line; CR, LF or NUL (say in a MIME type) would forge headers or parts. */
function headerLine(name: string, value: string): string {
  checkHeader(name, value);
  return `${name}: ${value}\r\n`;
}

/**
 * One part of a `multipart/form-data` body: a name, data, an optional filename and the
 * part's headers.
 *
 * @example
 * ```ts
 * import { RequestField } from "@pooled/http";
 * const field = new RequestField("upload", "hello", "a.txt");
 * field.makeMultipart({ contentType: "text/plain" });
 * console.log(JSON.stringify(field.renderHeaders()));
 * // "Content-Disposition: form-data; name=\"upload\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\n"
 * ```
 */
export class RequestField {
  /** The field name. */
  readonly name: string;
  /** The field data. */
  readonly data: FieldData;
  /** The filename, or `null` for a plain field. */
  readonly filename: string | null;
  /** The part's headers; `null` or `""` values are not rendered. */
  headers: Record<string, string | null>;

  /**
   * Creates a field. Call {@linkcode RequestField.makeMultipart} (or use
   * {@linkcode RequestField.fromTuples}) to give it its Content-Disposition.
   *
   * @param name The field name.
   * @param data The data.
   * @param filename The filename, for a file field.
   * @param headers Headers to start with (copied).
   */
  constructor(
    name: string,
    data: FieldData,
    filename: string | null = null,
    headers: Record<string, string> | null = null,
  ) {
    if (typeof name !== "string") {
      throw new TypeError(`Field name must be a string: ${describe(name)}`);
    }
    if (!isFieldData(data)) {
      throw new TypeError(
        `Field ${JSON.stringify(name)} data must be a string, number or Uint8Array: ${
          describe(data)
        }`,
      );
    }
    if (filename !== null && typeof filename !== "string") {
      throw new TypeError(
        `Field ${JSON.stringify(name)} filename must be a string: ${describe(filename)}`,
      );
    }
    if (headers !== null && (typeof headers !== "object" || Array.isArray(headers))) {
      throw new TypeError(
        `Field ${JSON.stringify(name)} headers must be an object: ${describe(headers)}`,
      );
    }
    this.name = name;
    this.data = data;
    this.filename = filename;
    this.headers = headers === null ? {} : { ...headers };
  }

  /**
   * Builds a field from urllib3's tuple forms: a plain value, `[filename, data]` (MIME type
   * guessed from the filename) or `[filename, data, mimeType]`. A `RequestField` is
   * returned as it is. The result is ready for multipart encoding.
   *
   * @param name The field name.
   * @param value The value.
   * @returns The field.
   *
   * @example
   * ```ts
   * import { RequestField } from "@pooled/http";
   * const field = RequestField.fromTuples("doc", ["notes.md", "# Hi"]);
   * console.log(field.filename, field.headers["Content-Type"]); // notes.md text/markdown
   * ```
   */
  static fromTuples(name: string, value: FieldValue): RequestField {
    if (value instanceof RequestField) return value;
    if (typeof name !== "string") {
      throw new TypeError(`Field name must be a string: ${describe(name)}`);
    }
    if (typeof value === "string" || typeof value === "number") {
      const field = new RequestField(name, value);
      field.makeMultipart();
      return field;
    }
    if (!Array.isArray(value) || (value.length !== 2 && value.length !== 3)) {
      throw new TypeError(
        `Field ${JSON.stringify(name)} value must be a string, a number, ` +
          `[filename, data], [filename, data, mimeType] or a RequestField: ${describe(value)}`,
      );
    }
    const [filename, data, mimeType] = value as readonly [unknown, unknown, unknown?];
    if (typeof filename !== "string") {
      throw new TypeError(
        `Field ${JSON.stringify(name)} filename must be a string: ${describe(filename)}`,
      );
    }
    if (value.length === 3 && typeof mimeType !== "string") {
      throw new TypeError(
        `Field ${JSON.stringify(name)} MIME type must be a string: ${describe(mimeType)}`,
      );
    }
    const field = new RequestField(name, data as FieldData, filename);
    field.makeMultipart({
      contentType: value.length === 3 ? mimeType as string : guessMimeType(filename),
    });
    return field;
  }

  /**
   * Sets the part's Content-Disposition (with the name and filename), Content-Type and
   * Content-Location headers, replacing earlier values; a type or location left out is
   * cleared.
   *
   * @param options The header values.
   *
   * @example
   * ```ts
   * import { RequestField } from "@pooled/http";
   * const field = new RequestField("f", "x");
   * field.makeMultipart({ contentDisposition: "attachment" });
   * console.log(field.headers["Content-Disposition"]); // attachment; name="f"
   * ```
   */
  makeMultipart(options: MakeMultipartOptions = {}): void {
    const { contentDisposition, contentType, contentLocation } = options;
    for (
      const [key, value] of Object.entries({ contentDisposition, contentType, contentLocation })
    ) {
      if (value !== undefined && typeof value !== "string") {
        throw new TypeError(`makeMultipart option ${key} must be a string: ${describe(value)}`);
      }
    }
    let disposition = `${contentDisposition || "form-data"}; ${
      formatMultipartHeaderParam("name", this.name)
    }`;
    if (this.filename !== null) {
      disposition += "; " + formatMultipartHeaderParam("filename", this.filename);
    }
    this.headers["Content-Disposition"] = disposition;
    this.headers["Content-Type"] = contentType ?? null;
    this.headers["Content-Location"] = contentLocation ?? null;
  }

  /**
   * The part's header block: one `Name: value\r\n` line per non-empty header
   * (Content-Disposition, Content-Type and Content-Location first, then the others in
   * order), followed by the empty line.
   *
   * @returns The header block.
   *
   * @example
   * ```ts
   * import { RequestField } from "@pooled/http";
   * const field = new RequestField("n", "v", null, { "X-Extra": "1" });
   * field.makeMultipart();
   * console.log(JSON.stringify(field.renderHeaders()));
   * // "Content-Disposition: form-data; name=\"n\"\r\nX-Extra: 1\r\n\r\n"
   * ```
   */
  renderHeaders(): string {
    let out = "";
    for (const name of SORTED_HEADERS) {
      const value = this.headers[name];
      if (value) out += headerLine(name, value);
    }
    for (const [name, value] of Object.entries(this.headers)) {
      if (value && !(SORTED_HEADERS as readonly string[]).includes(name)) {
        out += headerLine(name, value);
      }
    }
    return out + "\r\n";
  }
}

/**
 * Returns a random multipart boundary: 32 hex characters (16 random bytes).
 *
 * @returns The boundary.
 *
 * @example
 * ```ts
 * import { chooseBoundary } from "@pooled/http";
 * console.log(/^[0-9a-f]{32}$/.test(chooseBoundary())); // true
 * ```
 */
export function chooseBoundary(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let out = "";
  for (const byte of bytes) out += byte.toString(16).padStart(2, "0");
  return out;
}

/** Yields the `[name, value]` pairs of `fields`, or a RequestField as it comes. */
function* fieldEntries(
  fields: Fields | Iterable<RequestField | readonly [string, FieldValue]>,
): Iterable<RequestField | readonly [string, FieldValue]> {
  if (typeof fields !== "object" || fields === null) {
    throw new TypeError(`Fields must be an object or an array of pairs: ${describe(fields)}`);
  }
  if (!(Symbol.iterator in fields)) {
    yield* Object.entries(fields as Record<string, FieldValue>);
    return;
  }
  for (const entry of fields as Iterable<unknown>) {
    if (entry instanceof RequestField) {
      yield entry;
    } else if (Array.isArray(entry) && entry.length === 2 && typeof entry[0] === "string") {
      yield entry as unknown as readonly [string, FieldValue];
    } else {
      throw new TypeError(
        `Fields entries must be [name, value] pairs or RequestFields: ${describe(entry)}`,
      );
    }
  }
}

/**
 * UTF-8 length of a string, exactly as `TextEncoder` writes it: a surrogate pair takes 4
 * bytes, a lone surrogate 3 (it becomes U+FFFD).
 */
function utf8Length(text: string): number {
  let length = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) {
      length += 1;
      continue;
    }
    // 3 bytes for one unit, or 4 bytes for the two units of a pair: 2 more either way.
    length += 2;
    if (c <= 0xdbff && c >= 0xd800) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) i++;
    }
  }
  return length;
}

/**
 * The result of {@linkcode encodeMultipartFormdata}.
 *
 * @example Send a multipart body
 * ```ts
 * import { encodeMultipartFormdata } from "@pooled/http";
 * const { body, contentType } = encodeMultipartFormdata({ name: "pooled" });
 * console.log(contentType.startsWith("multipart/form-data; boundary="), body.length > 0);
 * ```
 */
export interface MultipartBody {
  /** The encoded body. */
  body: Uint8Array;
  /** `multipart/form-data; boundary=...`, for the Content-Type header. */
  contentType: string;
}

/**
 * Encodes fields as a `multipart/form-data` body. Each part is
 * `--boundary\r\n<headers>\r\n\r\n<data>\r\n`, and `--boundary--\r\n` closes the body. Text
 * (headers, string data, numbers) is UTF-8. The body is built in one allocation.
 *
 * @param fields The fields (see {@linkcode Fields}), or any iterable of
 * {@linkcode RequestField}s and `[name, value]` pairs (an array mixing both, a `Map`).
 * @param boundary The boundary; a random one ({@linkcode chooseBoundary}) by default.
 * @returns The body and its Content-Type (`multipart/form-data; boundary=B`; the boundary
 * is quoted when it has a character that needs it, such as `=` or a space).
 * @throws {TypeError} For a field value of an unsupported type.
 * @throws {RangeError} For a boundary that RFC 2046 does not allow (1-70 characters of
 * `0-9A-Za-z'()+_,-./:=?` and space, not ending with a space).
 *
 * @example
 * ```ts
 * import { encodeMultipartFormdata } from "@pooled/http";
 * const { body, contentType } = encodeMultipartFormdata({ a: "1", f: ["x.txt", "hi"] }, "B");
 * console.log(contentType); // multipart/form-data; boundary=B
 * console.log(JSON.stringify(new TextDecoder().decode(body)));
 * // "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.txt\"\r\nContent-Type: text/plain\r\n\r\nhi\r\n--B--\r\n"
 * ```
 */
export function encodeMultipartFormdata(
  fields: Fields | Iterable<RequestField | readonly [string, FieldValue]>,
  boundary: string = chooseBoundary(),
): MultipartBody {
  if (typeof boundary !== "string") {
    throw new TypeError(`Multipart boundary must be a string: ${describe(boundary)}`);
  }
  if (!BOUNDARY_RE.test(boundary)) {
    throw new RangeError(
      `Multipart boundary must be 1-70 characters of 0-9A-Za-z'()+_,-./:=? or space, ` +
        `not ending with a space: ${JSON.stringify(boundary)}`,
    );
  }
  // Text runs and byte runs alternate; adjacent text is joined so it is encoded in one go.
  const segments: Array<string | Uint8Array> = [];
  let text = "";
  for (const entry of fieldEntries(fields)) {
    const field = entry instanceof RequestField
      ? entry
      : RequestField.fromTuples(entry[0], entry[1]);
    text += `--${boundary}\r\n${field.renderHeaders()}`;
    if (field.data instanceof Uint8Array) {
      segments.push(text, field.data);
      text = "\r\n";
    } else {
      text += `${field.data}\r\n`;
    }
  }
  segments.push(text + `--${boundary}--\r\n`);

  let total = 0;
  for (const segment of segments) {
    total += typeof segment === "string" ? utf8Length(segment) : segment.length;
  }
  const body = new Uint8Array(total);
  const encoder = new TextEncoder();
  let offset = 0;
  for (const segment of segments) {
    if (typeof segment === "string") {
      offset += encoder.encodeInto(segment, body.subarray(offset)).written;
    } else {
      body.set(segment, offset);
      offset += segment.length;
    }
  }
  const param = BOUNDARY_NEEDS_QUOTES_RE.test(boundary) ? `"${boundary}"` : boundary;
  return { body, contentType: `multipart/form-data; boundary=${param}` };
}

/**
 * Encodes fields as `application/x-www-form-urlencoded` (the query-string form), like
 * `URLSearchParams`: spaces become `+`, repeated names are kept in order, numbers become
 * `String(n)`.
 *
 * @param fields The fields (see {@linkcode Fields}).
 * @returns The encoded text, without a leading `"?"`.
 * @throws {TypeError} For a file (`[filename, data]` or a `RequestField`): files need
 * multipart encoding.
 *
 * @example
 * ```ts
 * import { encodeUrlencoded } from "@pooled/http";
 * console.log(encodeUrlencoded({ q: "a b&c", n: 1 })); // "q=a+b%26c&n=1"
 * ```
 */
export function encodeUrlencoded(fields: Fields): string {
  const params = new URLSearchParams();
  for (const entry of fieldEntries(fields)) {
    if (entry instanceof RequestField) {
      throw new TypeError(
        `Field ${JSON.stringify(entry.name)} is a RequestField; files need multipart/form-data ` +
          "encoding (encodeMultipart: true)",
      );
    }
    const [name, value] = entry;
    if (typeof value === "string" || typeof value === "number") {
      params.append(name, String(value));
    } else if (Array.isArray(value) || value instanceof RequestField) {
      throw new TypeError(
        `Field ${JSON.stringify(name)} is a file; files need multipart/form-data encoding ` +
          "(encodeMultipart: true)",
      );
    } else {
      throw new TypeError(
        `Field ${JSON.stringify(name)} value must be a string or a number: ${describe(value)}`,
      );
    }
  }
  return params.toString();
}
