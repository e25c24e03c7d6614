/**
 * The HPACK Huffman code (RFC 7541 section 5.2 and Appendix B).
 *
 * The code is canonical: codes of equal length are consecutive in symbol order, each
 * length's first code following the last code of the length before. So the table below
 * holds only the code lengths, and the codes are rebuilt from them when first needed.
 *
 * Decoding walks a table of 4-bit steps (256 tree nodes times 16 nibbles, built on the
 * first decode), so each input byte costs two lookups. Both tables are built lazily: a
 * process that never speaks HTTP/2 does not pay the few milliseconds they take at start. A string is rejected when it holds EOS, when its
 * padding is longer than 7 bits, or when the padding is not a prefix of EOS (all ones).
 *
 * @module
 */

import { decodeLatin1 } from "../_bytes.ts";
import { HTTP2CompressionError } from "./errors.ts";

// deno-fmt-ignore
/** Code length in bits of each symbol 0..255 and of EOS (256), from RFC 7541 Appendix B. */
const LENGTHS = new Uint8Array([
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, //   0-15
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, //  16-31
   6, 10, 10, 12, 13,  6,  8, 11, 10, 10,  8, 11,  8,  6,  6,  6, //  32-47
   5,  5,  5,  6,  6,  6,  6,  6,  6,  6,  7,  8, 15,  6, 12, 10, //  48-63
  13,  6,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7, //  64-79
   7,  7,  7,  7,  7,  7,  7,  7,  8,  7,  8, 13, 19, 13, 14,  6, //  80-95
  15,  5,  6,  5,  6,  5,  6,  6,  6,  5,  7,  7,  6,  6,  6,  5, //  96-111
   6,  7,  6,  5,  5,  6,  7,  7,  7,  7,  7, 15, 11, 14, 13, 28, // 112-127
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, // 128-143
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, // 144-159
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, // 160-175
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, // 176-191
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, // 192-207
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, // 208-223
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, // 224-239
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, // 240-255
  30,                                                             // EOS
]);

const EOS = 256;

/** The code of each symbol, right-aligned (rebuilt canonically from {@linkcode LENGTHS}). */
let codeTable: Uint32Array | null = null;

function codes(): Uint32Array {
  return codeTable ??= buildCodes();
}

function buildCodes(): Uint32Array {
  const codes = new Uint32Array(LENGTHS.length);
  let code = 0;
  let previousLength = 0;
  for (let length = 1; length <= 30; length++) {
    for (let symbol = 0; symbol < LENGTHS.length; symbol++) {
      if (LENGTHS[symbol] !== length) continue;
      code = previousLength === 0 ? 0 : (code + 1) * 2 ** (length - previousLength);
      previousLength = length;
      codes[symbol] = code;
    }
  }
  return codes;
}

/** The code and its length of `symbol` (0..256), for tests that check the table. */
export function huffmanCode(symbol: number): { code: number; length: number } {
  return { code: codes()[symbol], length: LENGTHS[symbol] };
}

// ---------------------------------------------------------------------------------------
// Decoding table

/** `emit` value of a step that ends in no symbol. */
const NONE = -1;

/**
 * For each (node, nibble): `next` the node reached, `emit` the symbol completed on the way
 * (or {@linkcode NONE}, or {@linkcode EOS}). `accepts[node]` is 1 when the bits that led
 * from the root to the node are valid padding (all ones, at most 7 of them).
 */
interface DecodeTable {
  next: Uint8Array;
  emit: Int16Array;
  accepts: Uint8Array;
}

let decodeTable: DecodeTable | null = null;

function buildDecodeTable(): DecodeTable {
  const table = {
    next: new Uint8Array(256 * 16),
    emit: new Int16Array(256 * 16),
    accepts: new Uint8Array(256),
  };
  const symbolCodes = codes();
  // The tree: internal nodes 0..255 (0 is the root); a child >= 0 is a node, < 0 is the
  // leaf of symbol ~child.
  const children = new Int32Array(512).fill(0x7fffffff);
  let nodes = 1;
  const depth = new Uint8Array(256);
  const allOnes = new Uint8Array(256);
  allOnes[0] = 1;
  for (let symbol = 0; symbol <= EOS; symbol++) {
    let node = 0;
    for (let bit = LENGTHS[symbol] - 1; bit >= 0; bit--) {
      const one = Math.floor(symbolCodes[symbol] / 2 ** bit) & 1;
      const slot = node * 2 + one;
      if (bit === 0) {
        children[slot] = ~symbol;
        break;
      }
      if (children[slot] === 0x7fffffff) {
        children[slot] = nodes;
        depth[nodes] = depth[node] + 1;
        allOnes[nodes] = allOnes[node] & one;
        nodes++;
      }
      node = children[slot];
    }
  }
  for (let node = 0; node < 256; node++) {
    table.accepts[node] = allOnes[node] && depth[node] <= 7 ? 1 : 0;
    for (let nibble = 0; nibble < 16; nibble++) {
      let at = node;
      let emit = NONE;
      for (let bit = 3; bit >= 0; bit--) {
        const child = children[at * 2 + ((nibble >> bit) & 1)];
        if (child >= 0) {
          at = child;
        } else {
          // The shortest code is 5 bits long, so a nibble completes at most one symbol;
          // once EOS is seen the string is rejected, whatever follows.
          if (emit !== EOS) emit = ~child;
          at = 0;
        }
      }
      table.next[node * 16 + nibble] = at;
      table.emit[node * 16 + nibble] = emit;
    }
  }
  return table;
}

// ---------------------------------------------------------------------------------------
// Decoding

let scratch = new Uint8Array(256);

function invalid(what: string): HTTP2CompressionError {
  return new HTTP2CompressionError(`Invalid Huffman-encoded string: ${what}`);
}

/**
 * Decodes the Huffman-coded octets `bytes[start, end)` to a string, one character per
 * decoded octet (ISO-8859-1). Throws {@linkcode HTTP2CompressionError} on EOS or on bad
 * padding.
 */
export function decodeHuffman(bytes: Uint8Array, start: number, end: number): string {
  // At most 8 symbols per 5 input bits: every code is 5 bits or longer.
  const most = Math.ceil(((end - start) * 8) / 5);
  if (scratch.length < most) scratch = new Uint8Array(Math.max(most, scratch.length * 2));
  const out = scratch;
  const { next, emit: emits, accepts } = decodeTable ??= buildDecodeTable();
  let length = 0;
  let node = 0;
  let ascii = true;
  for (let i = start; i < end; i++) {
    const byte = bytes[i];
    for (let shift = 4; shift >= 0; shift -= 4) {
      const step = node * 16 + ((byte >> shift) & 0xf);
      const emit = emits[step];
      if (emit !== NONE) {
        if (emit === EOS) throw invalid("EOS in the string");
        out[length++] = emit;
        if (emit > 0x7f) ascii = false;
      }
      node = next[step];
    }
  }
  if (!accepts[node]) {
    throw invalid("padding longer than 7 bits or not all ones");
  }
  return decodeLatin1(out.subarray(0, length), ascii);
}

// ---------------------------------------------------------------------------------------
// Encoding

/**
 * The Huffman-coded length in octets of `text`, whose characters must be octets
 * (U+0000 to U+00FF): a `TypeError` otherwise.
 */
export function huffmanLength(text: string): number {
  let bits = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff) throw notLatin1(text, i);
    bits += LENGTHS[code];
  }
  return Math.ceil(bits / 8);
}

/** The `TypeError` for a character of header text above U+00FF. */
export function notLatin1(text: string, at: number): TypeError {
  const code = text.charCodeAt(at);
  return new TypeError(
    `Header text must be ISO-8859-1: ${JSON.stringify(text[at])} (U+${
      code.toString(16).toUpperCase()
    })`,
  );
}

/**
 * Writes the Huffman code of `text` (octet characters only) at `out[offset]`, padded with
 * ones to a whole octet; returns the offset after it. `out` must have room for
 * {@linkcode huffmanLength} octets.
 */
export function encodeHuffman(text: string, out: Uint8Array, offset: number): number {
  // `acc` holds the `bits` (< 8) bits not yet written; codes go in at most 24 bits at a
  // time so that the shifts stay within 32 bits.
  const table = codes();
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < text.length; i++) {
    const symbol = text.charCodeAt(i);
    const code = table[symbol];
    let length = LENGTHS[symbol];
    while (length > 0) {
      const take = length > 24 ? length - 24 : length;
      length -= take;
      acc = (acc << take) | ((code >>> length) & ((1 << take) - 1));
      bits += take;
      while (bits >= 8) {
        bits -= 8;
        out[offset++] = acc >>> bits;
        acc &= (1 << bits) - 1;
      }
    }
  }
  if (bits > 0) out[offset++] = (acc << (8 - bits)) | ((1 << (8 - bits)) - 1);
  return offset;
}
