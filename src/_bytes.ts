/**
 * Byte helpers shared by the engine, the adapters and the response.
 *
 * @module
 */

/** One array holding `pieces` back to back (the piece itself when there is only one). */
export function concatBytes(pieces: readonly Uint8Array[]): Uint8Array {
  if (pieces.length === 1) return pieces[0];
  let size = 0;
  for (const piece of pieces) size += piece.length;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const piece of pieces) {
    out.set(piece, offset);
    offset += piece.length;
  }
  return out;
}

const asciiDecoder = new TextDecoder();

/** True when every byte is ASCII. */
function isAsciiBytes(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] > 0x7f) return false;
  }
  return true;
}

/**
 * Decodes bytes as ISO-8859-1, which is what HTTP header bytes are (RFC 9110 section 5.5).
 * `ascii` says the bytes are known to be ASCII, which takes the runtime's fast decoder.
 */
export function decodeLatin1(bytes: Uint8Array, ascii = isAsciiBytes(bytes)): string {
  if (ascii) return asciiDecoder.decode(bytes);
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return text;
}
