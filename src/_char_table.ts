/**
 * Character classes for the ASCII scanners (URL encoding, header tokens, request heads).
 *
 * @module
 */

/** A 128-entry table holding 1 at the char code of each of `chars`, 0 elsewhere. */
export function charTable(chars: string): Uint8Array {
  const table = new Uint8Array(128);
  for (let i = 0; i < chars.length; i++) table[chars.charCodeAt(i)] = 1;
  return table;
}

/** True when `text` holds only ASCII characters. */
export function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) >= 0x80) return false;
  }
  return true;
}
