/**
 * Byte buffers of one size, lent to sockets and taken back: busy sockets reuse the same
 * memory instead of allocating per read or write (an `ArrayBuffer` costs far more than its
 * bytes on Deno), and idle sockets hold none.
 *
 * @module
 */

/** A free list of equally sized buffers. */
export class BufferPool {
  readonly #size: number;
  readonly #maxSpare: number;
  #spare: Uint8Array[] = [];

  /** Buffers of `size` bytes; at most `maxSpare` are kept while nobody uses them. */
  constructor(size: number, maxSpare: number) {
    this.#size = size;
    this.#maxSpare = maxSpare;
  }

  /** A buffer to use until it is given back (its contents are whatever was left in it). */
  take(): Uint8Array {
    return this.#spare.pop() ?? new Uint8Array(this.#size);
  }

  /** Takes back a buffer from {@linkcode BufferPool.take}; the caller must not use it again. */
  give(buffer: Uint8Array): void {
    if (this.#spare.length < this.#maxSpare) this.#spare.push(buffer);
  }
}
