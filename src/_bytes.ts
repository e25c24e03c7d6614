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

/** Arrays up to this size are cut from a shared slab by {@linkcode allocBytes}. */
const SLAB_PIECE_MAX = 1024;
const SLAB_SIZE = 16 * 1024;
let slab = new Uint8Array(0);
let slabUsed = 0;

/**
 * A zero-filled array of `size` bytes. Small ones are views cut from a shared 16 KiB slab
 * (as Node's `Buffer` pool does), because a new `ArrayBuffer` costs far more than its bytes
 * (about 0.3 µs on Deno): a small response body then costs one view. A slab that was
 * transferred away (detached) is simply replaced.
 */
export function allocBytes(size: number): Uint8Array {
  if (size > SLAB_PIECE_MAX) return new Uint8Array(size);
  if (slabUsed + size > slab.length) {
    slab = new Uint8Array(SLAB_SIZE);
    slabUsed = 0;
  }
  const piece = slab.subarray(slabUsed, slabUsed + size);
  slabUsed += (size + 7) & ~7; // 8-byte aligned, so a view of the piece can be any width
  return piece;
}

const asciiDecoder = new TextDecoder();

/** True when every byte is ASCII. */
export function isAsciiBytes(bytes: Uint8Array): boolean {
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
