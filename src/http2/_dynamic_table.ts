/**
 * The HPACK dynamic table (RFC 7541 section 2.3.2 and 4): a first-in first-out list of
 * name and value pairs bounded by a size in octets (each entry counts its name and value
 * octets plus 32), newest first. A ring buffer, so adding and evicting cost no copying.
 *
 * @module
 */

/** The octets an entry counts for (RFC 7541 section 4.1). */
export function entrySize(name: string, value: string): number {
  return name.length + value.length + 32;
}

/** Told of each entry the table evicts, with its insertion number. */
export type EvictionListener = (name: string, value: string, insertion: number) => void;

/** One HPACK dynamic table. */
export class DynamicTable {
  #names: string[] = new Array(16);
  #values: string[] = new Array(16);
  /** Ring position of the oldest entry. */
  #oldest = 0;
  #length = 0;
  #size = 0;
  #maxSize: number;
  #inserted = 0;
  readonly #onEvict: EvictionListener | null;

  /**
   * An empty table of at most `maxSize` octets.
   *
   * @param maxSize The size bound in octets.
   * @param onEvict Told of each evicted entry (the encoder keeps its lookups with it).
   */
  constructor(maxSize: number, onEvict: EvictionListener | null = null) {
    this.#maxSize = maxSize;
    this.#onEvict = onEvict;
  }

  /** The number of entries. */
  get length(): number {
    return this.#length;
  }

  /** The octets the entries count for. */
  get size(): number {
    return this.#size;
  }

  /** The size bound in octets. */
  get maxSize(): number {
    return this.#maxSize;
  }

  /** How many entries were ever added: the next entry's insertion number. */
  get inserted(): number {
    return this.#inserted;
  }

  /** The name of entry `index` (0 is the newest); `index` must be below `length`. */
  name(index: number): string {
    return this.#names[this.#slot(index)];
  }

  /** The value of entry `index` (0 is the newest); `index` must be below `length`. */
  value(index: number): string {
    return this.#values[this.#slot(index)];
  }

  /** The index (0 is the newest) of the entry with insertion number `insertion`, or -1. */
  indexOf(insertion: number): number {
    const index = this.#inserted - 1 - insertion;
    return index >= 0 && index < this.#length ? index : -1;
  }

  /**
   * Adds an entry, evicting the oldest ones to make room. An entry larger than the whole
   * table empties it and is not added (RFC 7541 section 4.4).
   */
  add(name: string, value: string): void {
    const size = entrySize(name, value);
    this.#evictTo(this.#maxSize - size);
    this.#inserted++;
    if (size > this.#maxSize) return;
    if (this.#length === this.#names.length) this.#grow();
    const slot = (this.#oldest + this.#length) & (this.#names.length - 1);
    this.#names[slot] = name;
    this.#values[slot] = value;
    this.#length++;
    this.#size += size;
  }

  /** Changes the size bound, evicting the oldest entries until the table fits. */
  resize(maxSize: number): void {
    this.#maxSize = maxSize;
    this.#evictTo(maxSize);
  }

  #slot(index: number): number {
    return (this.#oldest + this.#length - 1 - index) & (this.#names.length - 1);
  }

  #evictTo(size: number): void {
    const mask = this.#names.length - 1;
    while (this.#length > 0 && this.#size > size) {
      const slot = this.#oldest;
      const name = this.#names[slot];
      const value = this.#values[slot];
      this.#size -= entrySize(name, value);
      this.#names[slot] = this.#values[slot] = "";
      this.#oldest = (slot + 1) & mask;
      this.#length--;
      this.#onEvict?.(name, value, this.#inserted - 1 - this.#length);
    }
  }

  /** Doubles the ring (its length stays a power of two). */
  #grow(): void {
    const names = new Array<string>(this.#names.length * 2);
    const values = new Array<string>(this.#names.length * 2);
    for (let i = 0; i < this.#length; i++) {
      const slot = (this.#oldest + i) & (this.#names.length - 1);
      names[i] = this.#names[slot];
      values[i] = this.#values[slot];
    }
    this.#names = names;
    this.#values = values;
    this.#oldest = 0;
  }
}
