/**
 * Splits zstd data (RFC 8878) into its frames, following their structure without decoding
 * them. Each frame is then decoded on its own: some runtimes' `node:zlib` stop after the
 * first frame without an error (Deno's), or finish a truncated stream without one.
 *
 * @module
 */

/** zstd data, piece by piece. */
type Pieces = AsyncIterator<Uint8Array, undefined, undefined>;

const SKIPPABLE_MAGIC = 0x184d2a50; // the low 4 bits are free
// Fields read whole; between them, bytes are skipped.
const MAGIC = 0;
const SKIPPABLE_SIZE = 1;
const FRAME_HEADER = 2;
const BLOCK_HEADER = 3;
const SKIP = 4;
// What follows a skip.
const THEN_BLOCK = 0;
const THEN_CHECKSUM = 1;
const THEN_END = 2;

const DICT_ID_SIZES = [0, 1, 2, 4];
const CONTENT_SIZE_SIZES = [0, 2, 4, 8];
const CHECKSUM_SIZE = 4;

/** The kind of the frame under way, once its magic number is in. */
export type ZstdFrameKind = "data" | "skippable";

/** Counts its way through zstd frames, skipping block contents without reading them. */
export class ZstdFrameTracker {
  #state = MAGIC;
  #field = new Uint8Array(4);
  #have = 0;
  #need = 4;
  #skip = 0;
  #then = THEN_END;
  #checksum = false;
  #inFrame = false;
  #kind: ZstdFrameKind | null = null;

  /** True from a frame's first byte until its last. */
  get inFrame(): boolean {
    return this.#inFrame;
  }

  /**
   * The kind of the current frame, or of the one that just ended; null while the magic
   * number of a new frame is incomplete.
   */
  get kind(): ZstdFrameKind | null {
    return this.#kind;
  }

  /**
   * Follows the next bytes of the data up to the end of the current frame (a new frame
   * starts with the first byte given outside one). Returns how many bytes it took.
   */
  advance(bytes: Uint8Array): number {
    if (!this.#inFrame && bytes.length > 0) {
      this.#inFrame = true;
      this.#kind = null;
    }
    let offset = 0;
    while (offset < bytes.length && this.#inFrame) {
      if (this.#state === SKIP) {
        const step = Math.min(this.#skip, bytes.length - offset);
        offset += step;
        this.#skip -= step;
        if (this.#skip === 0) this.#afterSkip();
        continue;
      }
      const step = Math.min(this.#need - this.#have, bytes.length - offset);
      this.#field.set(bytes.subarray(offset, offset + step), this.#have);
      this.#have += step;
      offset += step;
      if (this.#have === this.#need) this.#onField();
    }
    return offset;
  }

  #expect(state: number, need: number): void {
    this.#state = state;
    this.#need = need;
    this.#have = 0;
  }

  #skipThen(count: number, then: number): void {
    this.#state = SKIP;
    this.#skip = count;
    this.#then = then;
    if (count === 0) this.#afterSkip();
  }

  #afterSkip(): void {
    switch (this.#then) {
      case THEN_BLOCK:
        return this.#expect(BLOCK_HEADER, 3);
      case THEN_CHECKSUM:
        return this.#skipThen(CHECKSUM_SIZE, THEN_END);
      default:
        this.#inFrame = false;
        return this.#expect(MAGIC, 4);
    }
  }

  #onField(): void {
    const f = this.#field;
    switch (this.#state) {
      case MAGIC: {
        const magic = (f[0] | f[1] << 8 | f[2] << 16 | f[3] << 24) >>> 0;
        if ((magic & 0xfffffff0) >>> 0 === SKIPPABLE_MAGIC) {
          this.#kind = "skippable";
          return this.#expect(SKIPPABLE_SIZE, 4);
        }
        // Any magic but zstd's is left for the decoder itself to reject.
        this.#kind = "data";
        return this.#expect(FRAME_HEADER, 1);
      }
      case SKIPPABLE_SIZE:
        return this.#skipThen((f[0] | f[1] << 8 | f[2] << 16 | f[3] << 24) >>> 0, THEN_END);
      case FRAME_HEADER: {
        const descriptor = f[0];
        const singleSegment = (descriptor >> 5) & 1;
        const contentSizeFlag = descriptor >> 6;
        this.#checksum = ((descriptor >> 2) & 1) === 1;
        const rest = (singleSegment ? 0 : 1) + DICT_ID_SIZES[descriptor & 3] +
          (contentSizeFlag === 0 ? singleSegment : CONTENT_SIZE_SIZES[contentSizeFlag]);
        return this.#skipThen(rest, THEN_BLOCK);
      }
      case BLOCK_HEADER: {
        const header = f[0] | f[1] << 8 | f[2] << 16;
        const last = (header & 1) === 1;
        const type = (header >> 1) & 3;
        const then = !last ? THEN_BLOCK : this.#checksum ? THEN_CHECKSUM : THEN_END;
        // An RLE block holds one byte, repeated.
        return this.#skipThen(type === 1 ? 1 : header >>> 3, then);
      }
    }
  }
}

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };
const EMPTY = new Uint8Array(0);

/** The error for zstd data that ends inside a frame. */
function truncated(): Error {
  return new Error("the zstd data ends inside a frame (truncated)");
}

/** Hands out the data frames of zstd data one at a time; skippable frames are dropped. */
export class ZstdFrames {
  #upstream: Pieces;
  #tracker = new ZstdFrameTracker();
  #pending: Uint8Array = EMPTY;

  /** Splits the data read from `upstream`. */
  constructor(upstream: Pieces) {
    this.#upstream = upstream;
  }

  /**
   * The bytes of the next data frame, ending with the frame, or null when the data ended
   * between frames. Throws (here or from the frame's pieces) when it ends inside a frame;
   * read each frame to its end before asking for the next.
   */
  async next(): Promise<Pieces | null> {
    const tracker = this.#tracker;
    const first: Uint8Array[] = [];
    // Every piece taken is non-empty, so the first one starts a frame and resets its kind.
    do {
      const bytes = await this.#take();
      if (bytes === null) {
        if (tracker.inFrame) throw truncated();
        return null;
      }
      const taken = this.#advance(bytes);
      if (tracker.kind === "skippable") first.length = 0; // its magic may be in `first`
      else first.push(taken);
    } while (tracker.kind !== "data");
    return {
      next: async () => {
        if (first.length > 0) return { done: false, value: first.shift()! };
        if (!tracker.inFrame) return DONE;
        const bytes = await this.#take();
        if (bytes === null) throw truncated();
        return { done: false, value: this.#advance(bytes) };
      },
      // The wire is given back by whoever owns `upstream`.
      return: () => Promise.resolve(DONE),
    };
  }

  /** What was left of the last piece, or the next non-empty piece; null at the end. */
  async #take(): Promise<Uint8Array | null> {
    const pending = this.#pending;
    if (pending.length > 0) {
      this.#pending = EMPTY;
      return pending;
    }
    for (;;) {
      const piece = (await this.#upstream.next()).value;
      if (piece === undefined || piece.length > 0) return piece ?? null;
    }
  }

  /** Feeds `bytes` to the tracker; returns the part in the current frame, keeps the rest. */
  #advance(bytes: Uint8Array): Uint8Array {
    const used = this.#tracker.advance(bytes);
    if (used === bytes.length) return bytes;
    this.#pending = bytes.subarray(used);
    return bytes.subarray(0, used);
  }
}
