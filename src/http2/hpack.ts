/**
 * HPACK, the HTTP/2 field compression (RFC 7541): one {@linkcode HpackEncoder} for the
 * header blocks a connection sends and one {@linkcode HpackDecoder} for those it receives,
 * each with its own dynamic table.
 *
 * Header lists are flat arrays of pairs, `[name, value, name, value, ...]`, like the
 * HTTP/1.1 parser's `rawHeaders`. Field octets are strings of ISO-8859-1 characters, one
 * character per octet, as the HTTP/1.1 engine reads and writes them.
 *
 * @module
 */

import { decodeLatin1 } from "../_bytes.ts";
import { DynamicTable, entrySize } from "./_dynamic_table.ts";
import { decodeHuffman, encodeHuffman, huffmanLength, notLatin1 } from "./_huffman.ts";
import {
  fieldKey,
  STATIC_BY_FIELD,
  STATIC_BY_NAME,
  STATIC_NAMES,
  STATIC_TABLE_LENGTH,
  STATIC_VALUES,
} from "./_static_table.ts";
import { HTTP2CompressionError, HTTP2HeaderListTooLargeError } from "./errors.ts";

/** The dynamic table size both ends start with (RFC 9113 SETTINGS_HEADER_TABLE_SIZE). */
export const DEFAULT_HEADER_TABLE_SIZE = 4096;

/** The header list size the decoder accepts unless told otherwise: 64 KiB, as HTTP/1.1. */
export const DEFAULT_MAX_HEADER_LIST_SIZE = 64 * 1024;

/** The largest integer the decoder accepts (a 32-bit signed maximum, as sizes are). */
const MAX_INTEGER = 0x7fffffff;

// ---------------------------------------------------------------------------------------
// Decoder

/** Options of an {@linkcode HpackDecoder}. */
export interface HpackDecoderOptions {
  /**
   * The dynamic table size this end allows the peer (its SETTINGS_HEADER_TABLE_SIZE),
   * default 4096. A peer may assume 4096 until it acknowledges a SETTINGS frame saying
   * otherwise, so a session starts with the default and calls
   * {@linkcode HpackDecoder.setMaxTableSize} on the acknowledgement.
   */
  maxTableSize?: number;
  /**
   * The largest header list accepted, counted as RFC 9113 section 6.5.2 does: each field's
   * name and value octets plus 32. Default {@linkcode DEFAULT_MAX_HEADER_LIST_SIZE}.
   */
  maxHeaderListSize?: number;
}

/**
 * Decodes the header blocks of one connection's receiving direction. Every failure is an
 * {@linkcode HTTP2CompressionError} or an {@linkcode HTTP2HeaderListTooLargeError}, after
 * which the decoder (like the connection) must not be used again.
 */
export class HpackDecoder {
  readonly #table: DynamicTable;
  #maxTableSize: number;
  #maxListSize: number;
  /** A size update must open the next block: the allowed maximum went below the table's. */
  #updateRequired = false;
  // The block being decoded, and the position in it.
  #bytes: Uint8Array = new Uint8Array(0);
  #pos = 0;
  #end = 0;

  /** A decoder with an empty dynamic table. */
  constructor(options: HpackDecoderOptions = {}) {
    this.#maxTableSize = options.maxTableSize ?? DEFAULT_HEADER_TABLE_SIZE;
    this.#maxListSize = options.maxHeaderListSize ?? DEFAULT_MAX_HEADER_LIST_SIZE;
    this.#table = new DynamicTable(this.#maxTableSize);
  }

  /** The dynamic table's current size bound, as the peer's encoder last set it. */
  get tableSize(): number {
    return this.#table.maxSize;
  }

  /** The largest header list accepted (octets, as RFC 9113 counts them). */
  get maxHeaderListSize(): number {
    return this.#maxListSize;
  }

  set maxHeaderListSize(size: number) {
    this.#maxListSize = size;
  }

  /**
   * Sets the dynamic table size this end allows, once the peer acknowledged the SETTINGS
   * frame that announced it. When it is below the table's current bound the peer must
   * open its next block with a size update (RFC 7541 section 4.2).
   */
  setMaxTableSize(size: number): void {
    this.#maxTableSize = size;
    if (size < this.#table.maxSize) this.#updateRequired = true;
  }

  /**
   * Decodes the header block `block[start, end)` (all its fragments, joined) to a flat
   * list of name and value pairs.
   */
  decode(block: Uint8Array, start = 0, end: number = block.length): string[] {
    this.#bytes = block;
    this.#pos = start;
    this.#end = end;
    const fields: string[] = [];
    try {
      this.#decodeFields(fields);
    } finally {
      this.#bytes = EMPTY;
    }
    return fields;
  }

  #decodeFields(fields: string[]): void {
    let listSize = 0;
    let first = true;
    while (this.#pos < this.#end) {
      const byte = this.#bytes[this.#pos++];
      if ((byte & 0xe0) === 0x20) {
        // 001xxxxx: dynamic table size update, allowed only before the first field.
        if (!first) throw new HTTP2CompressionError("Dynamic table size update after a field");
        this.#sizeUpdate(this.#integer(byte, 5));
        continue;
      }
      if (first) {
        first = false;
        if (this.#updateRequired) {
          throw new HTTP2CompressionError(
            `Missing dynamic table size update: table size above ${this.#maxTableSize}`,
          );
        }
      }
      let name: string;
      let value: string;
      if (byte & 0x80) {
        // 1xxxxxxx: indexed field.
        const index = this.#integer(byte, 7);
        if (index === 0) throw new HTTP2CompressionError("Invalid field index: 0");
        name = this.#name(index);
        value = this.#value(index);
      } else {
        // 01xxxxxx: with incremental indexing; 0000xxxx without; 0001xxxx never indexed.
        const indexing = (byte & 0x40) !== 0;
        const index = this.#integer(byte, indexing ? 6 : 4);
        const room = this.#maxListSize - listSize - 32;
        name = index === 0 ? this.#string(room) : this.#name(index);
        value = this.#string(room - name.length);
        if (indexing) this.#table.add(name, value);
      }
      listSize += entrySize(name, value);
      if (listSize > this.#maxListSize) throw listTooLarge(this.#maxListSize);
      fields.push(name, value);
    }
  }

  #sizeUpdate(size: number): void {
    if (size > this.#maxTableSize) {
      throw new HTTP2CompressionError(
        `Dynamic table size update above the allowed ${this.#maxTableSize}: ${size}`,
      );
    }
    this.#table.resize(size);
    this.#updateRequired = false;
  }

  /** The name at HPACK index `index` (1 or more). */
  #name(index: number): string {
    if (index <= STATIC_TABLE_LENGTH) return STATIC_NAMES[index];
    return this.#table.name(this.#dynamicIndex(index));
  }

  /** The value at HPACK index `index` (1 or more). */
  #value(index: number): string {
    if (index <= STATIC_TABLE_LENGTH) return STATIC_VALUES[index];
    return this.#table.value(this.#dynamicIndex(index));
  }

  #dynamicIndex(index: number): number {
    const dynamic = index - STATIC_TABLE_LENGTH - 1;
    if (dynamic >= this.#table.length) {
      throw new HTTP2CompressionError(
        `Invalid field index: ${index} (the table holds ${
          STATIC_TABLE_LENGTH + this.#table.length
        })`,
      );
    }
    return dynamic;
  }

  /**
   * Reads an integer (RFC 7541 section 5.1) whose first octet `first` was read already,
   * with an N-bit prefix.
   */
  #integer(first: number, prefixBits: number): number {
    const max = (1 << prefixBits) - 1;
    let value = first & max;
    if (value < max) return value;
    const bytes = this.#bytes;
    for (let multiplier = 1;; multiplier *= 128) {
      if (this.#pos >= this.#end) throw new HTTP2CompressionError("Truncated integer");
      const byte = bytes[this.#pos++];
      value += (byte & 0x7f) * multiplier;
      if (value > MAX_INTEGER || multiplier > 2 ** 28) {
        throw new HTTP2CompressionError("Integer overflow: more than 31 bits");
      }
      if ((byte & 0x80) === 0) return value;
    }
  }

  /**
   * Reads a string literal (RFC 7541 section 5.2). `room` is what the header list has left
   * for it: a longer string is refused before it is decoded.
   */
  #string(room: number): string {
    if (this.#pos >= this.#end) throw new HTTP2CompressionError("Truncated string length");
    const first = this.#bytes[this.#pos++];
    const length = this.#integer(first, 7);
    const start = this.#pos;
    if (length > this.#end - start) {
      throw new HTTP2CompressionError(
        `Truncated string: ${length} octets announced, ${this.#end - start} left`,
      );
    }
    // A Huffman code is 30 bits at most, so the decoded string is at least that long.
    const least = first & 0x80 ? Math.floor((length * 8) / 30) : length;
    if (least > room) throw listTooLarge(this.#maxListSize);
    this.#pos = start + length;
    if (first & 0x80) return decodeHuffman(this.#bytes, start, start + length);
    return decodeLatin1(this.#bytes.subarray(start, start + length));
  }
}

const EMPTY = new Uint8Array(0);

function listTooLarge(max: number): HTTP2HeaderListTooLargeError {
  return new HTTP2HeaderListTooLargeError(`Header list larger than the limit of ${max} octets`);
}

// ---------------------------------------------------------------------------------------
// Encoder

/** Header names whose values are never added to a table (RFC 7541 section 7.1.3). */
const SENSITIVE = new Set(["authorization", "cookie", "proxy-authorization"]);

/**
 * Header names whose values change from request to request: indexing them would only push
 * useful entries out of the table.
 */
const UNINDEXED = new Set([
  "content-length",
  "if-match",
  "if-modified-since",
  "if-none-match",
  "if-range",
  "if-unmodified-since",
  "range",
]);

/** Options of an {@linkcode HpackEncoder}. */
export interface HpackEncoderOptions {
  /**
   * The most dynamic table this end is willing to keep for its encoder, whatever size the
   * peer allows; default 4096.
   */
  maxTableSize?: number;
  /** Whether to use Huffman coding where it is shorter (default true). */
  huffman?: boolean;
}

/**
 * Encodes the header blocks of one connection's sending direction. Names must be
 * lowercase (HTTP/2 requires it; the encoder does not check); names and values must be
 * ISO-8859-1 text, a `TypeError` otherwise.
 *
 * Fields are sent as an index when the pair is in a table; otherwise as a literal, added
 * to the dynamic table unless the name is sensitive (`authorization`, `cookie`,
 * `proxy-authorization`: sent never-indexed, so no intermediary indexes them either), a
 * per-request value (`content-length`, conditionals, `range`), or the entry would take
 * more than three quarters of the table.
 */
export class HpackEncoder {
  readonly #table: DynamicTable;
  readonly #preferredMax: number;
  readonly #huffman: boolean;
  /** Insertion number of the newest entry of each pair and of each name. */
  readonly #byField = new Map<string, number>();
  readonly #byName = new Map<string, number>();
  /** Size updates owed at the start of the next block: the smallest and the last, or -1. */
  #pendingSmallest = -1;
  #pendingLast = -1;
  #buffer = new Uint8Array(512);
  #pos = 0;

  /** An encoder with an empty dynamic table of 4096 octets (the protocol's initial size). */
  constructor(options: HpackEncoderOptions = {}) {
    this.#preferredMax = options.maxTableSize ?? DEFAULT_HEADER_TABLE_SIZE;
    this.#huffman = options.huffman ?? true;
    this.#table = new DynamicTable(
      Math.min(DEFAULT_HEADER_TABLE_SIZE, this.#preferredMax),
      (name, value, insertion) => {
        const key = fieldKey(name, value);
        if (this.#byField.get(key) === insertion) this.#byField.delete(key);
        if (this.#byName.get(name) === insertion) this.#byName.delete(name);
      },
    );
    if (this.#table.maxSize !== DEFAULT_HEADER_TABLE_SIZE) {
      this.#pendingSmallest = this.#pendingLast = this.#table.maxSize;
    }
  }

  /** The dynamic table's size bound in use. */
  get tableSize(): number {
    return this.#table.maxSize;
  }

  /**
   * Applies the peer's SETTINGS_HEADER_TABLE_SIZE: the table is bounded by it (and by the
   * encoder's own maximum), and the next block opens with the size update(s) it needs.
   */
  setMaxTableSize(peerMax: number): void {
    const size = Math.min(peerMax, this.#preferredMax);
    if (size === this.#table.maxSize && this.#pendingLast === -1) return;
    this.#table.resize(size);
    this.#pendingSmallest = this.#pendingSmallest === -1
      ? size
      : Math.min(this.#pendingSmallest, size);
    this.#pendingLast = size;
  }

  /** Encodes the flat name and value list `fields` to one header block. */
  encode(fields: readonly string[]): Uint8Array {
    this.#pos = 0;
    if (this.#pendingLast !== -1) {
      if (this.#pendingSmallest < this.#pendingLast) this.#integer(0x20, 5, this.#pendingSmallest);
      this.#integer(0x20, 5, this.#pendingLast);
      this.#pendingSmallest = this.#pendingLast = -1;
    }
    for (let i = 0; i + 1 < fields.length; i += 2) this.#field(fields[i], fields[i + 1]);
    return this.#buffer.slice(0, this.#pos);
  }

  #field(name: string, value: string): void {
    const key = fieldKey(name, value);
    const sensitive = SENSITIVE.has(name);
    if (!sensitive) {
      const index = this.#fieldIndex(key);
      if (index !== 0) {
        this.#integer(0x80, 7, index);
        return;
      }
    }
    const nameIndex = this.#nameIndex(name);
    const size = entrySize(name, value);
    const indexing = !sensitive && !UNINDEXED.has(name) &&
      size * 4 <= this.#table.maxSize * 3;
    if (indexing) this.#integer(0x40, 6, nameIndex);
    else this.#integer(sensitive ? 0x10 : 0x00, 4, nameIndex);
    if (nameIndex === 0) this.#string(name);
    this.#string(value);
    if (indexing) {
      const insertion = this.#table.inserted;
      this.#table.add(name, value);
      this.#byField.set(key, insertion);
      this.#byName.set(name, insertion);
    }
  }

  /** The HPACK index of the pair, or 0. */
  #fieldIndex(key: string): number {
    const index = STATIC_BY_FIELD.get(key);
    if (index !== undefined) return index;
    const insertion = this.#byField.get(key);
    return insertion === undefined ? 0 : this.#dynamicIndex(insertion);
  }

  /** The HPACK index of the name, or 0. */
  #nameIndex(name: string): number {
    const index = STATIC_BY_NAME.get(name);
    if (index !== undefined) return index;
    const insertion = this.#byName.get(name);
    return insertion === undefined ? 0 : this.#dynamicIndex(insertion);
  }

  #dynamicIndex(insertion: number): number {
    return STATIC_TABLE_LENGTH + 1 + this.#table.indexOf(insertion);
  }

  #reserve(octets: number): void {
    if (this.#pos + octets <= this.#buffer.length) return;
    const bigger = new Uint8Array(Math.max(this.#buffer.length * 2, this.#pos + octets));
    bigger.set(this.#buffer.subarray(0, this.#pos));
    this.#buffer = bigger;
  }

  /** Writes `value` with an N-bit prefix, the octet's other bits set from `flags`. */
  #integer(flags: number, prefixBits: number, value: number): void {
    this.#reserve(6);
    const buffer = this.#buffer;
    const max = (1 << prefixBits) - 1;
    if (value < max) {
      buffer[this.#pos++] = flags | value;
      return;
    }
    buffer[this.#pos++] = flags | max;
    value -= max;
    while (value >= 128) {
      buffer[this.#pos++] = (value % 128) | 0x80;
      value = Math.floor(value / 128);
    }
    buffer[this.#pos++] = value;
  }

  /** Writes a string literal, Huffman-coded when that is shorter. */
  #string(text: string): void {
    const coded = this.#huffman ? huffmanLength(text) : text.length;
    if (coded < text.length) {
      this.#integer(0x80, 7, coded);
      this.#reserve(coded);
      this.#pos = encodeHuffman(text, this.#buffer, this.#pos);
      return;
    }
    this.#integer(0x00, 7, text.length);
    this.#reserve(text.length);
    const buffer = this.#buffer;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code > 0xff) throw notLatin1(text, i);
      buffer[this.#pos++] = code;
    }
  }
}
