/**
 * Follows the frame structure of zstd data (RFC 8878) to tell whether it ended on a frame
 * boundary: some runtimes' `node:zlib` finish a truncated zstd stream without an error.
 *
 * @module
 */

const SKIPPABLE_MAGIC = 0x184d2a50; // the low 4 bits are free
const MAGIC = 0;
const SKIPPABLE_SIZE = 1;
const FRAME_HEADER = 2;
const BLOCK_HEADER = 3;
const SKIP = 4;

const DICT_ID_SIZES = [0, 1, 2, 4];
const CONTENT_SIZE_SIZES = [0, 2, 4, 8];

/** Counts its way through zstd frames, skipping block contents without reading them. */
export class ZstdFrameTracker {
  #state = MAGIC;
  #header = new Uint8Array(14);
  #have = 0;
  #need = 4;
  #skip = 0;
  #lastBlock = false;
  #checksum = 0;
  #frames = 0;

  /** True when the data so far is one or more whole frames. */
  get complete(): boolean {
    return this.#frames > 0 && this.#state === MAGIC && this.#have === 0;
  }

  /** Follows `bytes`, the next piece of the compressed data. */
  feed(bytes: Uint8Array): void {
    let offset = 0;
    while (offset < bytes.length) {
      if (this.#state === SKIP) {
        const step = Math.min(this.#skip, bytes.length - offset);
        offset += step;
        this.#skip -= step;
        if (this.#skip === 0) this.#afterSkip();
        continue;
      }
      const step = Math.min(this.#need - this.#have, bytes.length - offset);
      this.#header.set(bytes.subarray(offset, offset + step), this.#have);
      this.#have += step;
      offset += step;
      if (this.#have === this.#need) this.#onField();
    }
  }

  #expect(state: number, need: number): void {
    this.#state = state;
    this.#need = need;
    this.#have = 0;
  }

  #skipThen(count: number): void {
    this.#have = 0;
    this.#skip = count;
    this.#state = SKIP;
    if (count === 0) this.#afterSkip();
  }

  #afterSkip(): void {
    if (!this.#lastBlock) return this.#expect(BLOCK_HEADER, 3);
    this.#lastBlock = false;
    if (this.#checksum > 0) {
      const checksum = this.#checksum;
      this.#checksum = 0;
      return this.#skipThen(checksum);
    }
    this.#frames++;
    this.#expect(MAGIC, 4);
  }

  #onField(): void {
    const h = this.#header;
    switch (this.#state) {
      case MAGIC: {
        const magic = (h[0] | h[1] << 8 | h[2] << 16 | h[3] << 24) >>> 0;
        if ((magic & 0xfffffff0) >>> 0 === SKIPPABLE_MAGIC) return this.#expect(SKIPPABLE_SIZE, 4);
        // Any magic but zstd's is left for the decoder itself to reject.
        return this.#expect(FRAME_HEADER, 1);
      }
      case SKIPPABLE_SIZE:
        this.#lastBlock = true; // a skippable frame is whole once its bytes are skipped
        this.#checksum = 0;
        return this.#skipThen((h[0] | h[1] << 8 | h[2] << 16 | h[3] << 24) >>> 0);
      case FRAME_HEADER: {
        const descriptor = h[0];
        const singleSegment = (descriptor >> 5) & 1;
        const contentSizeFlag = descriptor >> 6;
        this.#checksum = (descriptor >> 2) & 1 ? 4 : 0;
        const rest = (singleSegment ? 0 : 1) + DICT_ID_SIZES[descriptor & 3] +
          (contentSizeFlag === 0 ? singleSegment : CONTENT_SIZE_SIZES[contentSizeFlag]);
        this.#lastBlock = false;
        return this.#skipThen(rest);
      }
      case BLOCK_HEADER: {
        const header = h[0] | h[1] << 8 | h[2] << 16;
        this.#lastBlock = (header & 1) === 1;
        const type = (header >> 1) & 3;
        return this.#skipThen(type === 1 ? 1 : header >>> 3);
      }
    }
  }
}
