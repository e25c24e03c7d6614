/**
 * {@linkcode HTTPHeaderDict}: a case-insensitive, order-keeping multimap of HTTP headers,
 * urllib3's `HTTPHeaderDict`. Pure data structure, no I/O.
 *
 * @module
 */

import { isAscii } from "./_char_table.ts";
import { describe } from "./_validate.ts";

/**
 * Anything {@linkcode HTTPHeaderDict} can be built from or extended with: another dict, a
 * WHATWG `Headers`, a plain object (an array value adds one line per item; `undefined`
 * values are skipped), or an iterable of `[name, value]` pairs.
 *
 * @example
 * ```ts
 * import { HTTPHeaderDict, type HeadersInit } from "@pooled/http";
 * const init: HeadersInit = { accept: "*\/*", "x-skip": undefined, "set-cookie": ["a=1", "b=2"] };
 * console.log(new HTTPHeaderDict(init).getList("Set-Cookie")); // ["a=1", "b=2"]
 * ```
 */
export type HeadersInit =
  | HTTPHeaderDict
  | Headers
  | Record<string, string | readonly string[] | undefined>
  | Iterable<readonly [string, string]>;

/**
 * Options of {@linkcode HTTPHeaderDict.add}.
 *
 * @example Join a value onto the last line
 * ```ts
 * import { HTTPHeaderDict } from "@pooled/http";
 * const headers = new HTTPHeaderDict({ Accept: "text/html" });
 * headers.add("accept", "application/json", { combine: true });
 * console.log(headers.get("accept")); // "text/html, application/json"
 * ```
 */
export interface AddOptions {
  /** Append `", value"` to the header's last value instead of adding a new line. */
  combine?: boolean;
}

const NO_NEXT = -1;
/** Lookups a dict answers by scanning before it builds its index... */
const LINEAR_LOOKUPS = 8;
/** ...provided it holds at most this many raw entries (names plus values). */
const LINEAR_MAX_RAW = 64;

/**
 * Case-insensitive name equality for an ASCII `wanted`, with no allocation in the common
 * case. Agrees with comparing `toLowerCase()` results: a name whose lower-case form differs
 * in length (U+0130) never lower-cases to pure ASCII, and other non-ASCII characters fall
 * back to `toLowerCase()` (U+212A KELVIN SIGN lower-cases to "k").
 */
function sameName(candidate: string, wanted: string): boolean {
  if (candidate === wanted) return true;
  if (candidate.length !== wanted.length) return false;
  for (let i = 0; i < wanted.length; i++) {
    const a = candidate.charCodeAt(i);
    const b = wanted.charCodeAt(i);
    if (a === b) continue;
    if (a >= 0x80) return candidate.toLowerCase() === wanted.toLowerCase();
    const lower = a | 0x20;
    if (lower !== (b | 0x20) || lower < 0x61 || lower > 0x7a) return false;
  }
  return true;
}

function checkName(name: unknown): asserts name is string {
  if (typeof name !== "string") {
    throw new TypeError(`Header name must be a string: ${describe(name)}`);
  }
}

function checkValue(name: string, value: unknown): asserts value is string {
  if (typeof value !== "string") {
    throw new TypeError(
      `Header ${JSON.stringify(name)} value must be a string: ${describe(value)}`,
    );
  }
}

/** Reads a dict's change counter (set by the class: the counter is private to it). */
let readChanges: (headers: HTTPHeaderDict) => number;

/**
 * How many times `headers` was changed through `set`, `add`, `extend` or `delete`
 * (internal): a cache of what was rendered from a dict compares it to know whether the
 * dict changed since, at the cost of one integer comparison.
 */
export function changeCount(headers: HTTPHeaderDict): number {
  return readChanges(headers);
}

/**
 * A case-insensitive multimap of HTTP headers that keeps insertion order and the case a
 * name was first seen in. Reading a header joins its values with `", "`; iterating yields
 * one `[name, value]` pair per value.
 *
 * Internally the pairs live in one flat array `[name0, value0, name1, value1, ...]`; the
 * lower-case index is built on the first lookup, so a response head that nobody reads costs
 * nothing beyond its array (see {@linkcode HTTPHeaderDict.fromRawPairs}).
 *
 * @example
 * ```ts
 * import { HTTPHeaderDict } from "@pooled/http";
 * const h = new HTTPHeaderDict({ "Content-Type": "text/plain" });
 * h.add("Set-Cookie", "a=1");
 * h.add("set-cookie", "b=2");
 * console.log(h.get("content-type")); // "text/plain"
 * console.log(h.get("SET-COOKIE")); // "a=1, b=2"
 * console.log(h.getList("set-cookie")); // ["a=1", "b=2"]
 * console.log([...h]); // [["Content-Type","text/plain"],["Set-Cookie","a=1"],["Set-Cookie","b=2"]]
 * ```
 */
export class HTTPHeaderDict implements Iterable<[string, string]> {
  /** Flat pairs. Once the index is built, every name is in its first-seen case. */
  #raw: string[] = [];
  /** Lower-case name → raw position of its first pair; `null` until needed. */
  #index: Map<string, number> | null = null;
  /**
   * Per pair (raw position / 2): raw position of the next pair of the same name. Only made
   * once a name repeats; `null` means no name repeats.
   */
  #next: number[] | null = null;
  /** Lookups answered by a linear scan so far (see `LINEAR_LOOKUPS`). */
  #scans = 0;
  /** Whether every name is known to be in its first-seen case (always so with an index). */
  #caseNormal = false;
  /** Changes made through the public methods (see {@linkcode changeCount}). */
  #changes = 0;

  static {
    readChanges = (headers) => headers.#changes;
  }

  /**
   * Creates a dict, empty or holding the headers of `init`.
   *
   * @param init Headers to start with, added in order (see {@linkcode HeadersInit}).
   */
  constructor(init?: HeadersInit) {
    if (init === undefined || init === null) return;
    if (init instanceof HTTPHeaderDict) {
      this.#raw = init.#normalized().slice();
      this.#caseNormal = true;
      return;
    }
    this.#addAll(init);
  }

  /**
   * Wraps a flat `[name0, value0, name1, value1, ...]` array of strings, as an HTTP/1.1
   * parser produces it, taking ownership of the array: it is neither copied nor scanned
   * (no lower-casing, no map) until the first lookup, and the first few lookups of a small
   * head are plain scans that allocate nothing. The caller must not change the array later
   * and must give strings only.
   *
   * @param raw The flat pairs; its length must be even.
   * @returns A dict backed by `raw`.
   *
   * @example
   * ```ts
   * import { HTTPHeaderDict } from "@pooled/http";
   * const h = HTTPHeaderDict.fromRawPairs(["Content-Length", "5", "X-A", "1", "x-a", "2"]);
   * console.log(h.get("content-length")); // "5"
   * console.log(h.get("X-a")); // "1, 2"
   * ```
   */
  static fromRawPairs(raw: string[]): HTTPHeaderDict {
    if (!Array.isArray(raw)) {
      throw new TypeError(`fromRawPairs needs an array: ${describe(raw)}`);
    }
    if (raw.length % 2 !== 0) {
      throw new RangeError(`fromRawPairs needs an even-length array: ${raw.length} entries`);
    }
    const dict = new HTTPHeaderDict();
    dict.#raw = raw;
    return dict;
  }

  /** Builds the index (and normalises names to their first-seen case) if not built yet. */
  #ensureIndex(): Map<string, number> {
    if (this.#index !== null) return this.#index;
    const raw = this.#raw;
    const index = new Map<string, number>();
    let next: number[] | null = null;
    // Last position of each repeated name, to chain its pairs. A name missing from it has
    // been seen once, so its last position is its first.
    let last: Map<string, number> | null = null;
    for (let i = 0; i < raw.length; i += 2) {
      const key = raw[i].toLowerCase();
      const first = index.get(key);
      if (first === undefined) {
        index.set(key, i);
        continue;
      }
      if (raw[i] !== raw[first]) raw[i] = raw[first];
      next ??= new Array<number>(raw.length >> 1).fill(NO_NEXT);
      last ??= new Map();
      next[(last.get(key) ?? first) >> 1] = i;
      last.set(key, i);
    }
    this.#index = index;
    this.#next = next;
    return index;
  }

  /** The flat pairs with every name in its first-seen case. */
  #normalized(): string[] {
    if (this.#index === null && !this.#caseNormal) {
      if (this.#raw.length <= LINEAR_MAX_RAW && this.#normalizeByScan()) {
        this.#caseNormal = true;
      } else {
        this.#ensureIndex();
      }
    }
    return this.#raw;
  }

  /**
   * Gives repeated names their first-seen case by comparing each name with the earlier
   * ones: quadratic, but allocation-free and cheaper than an index for a small head.
   * Returns `false` (doing nothing) when a name is not ASCII.
   */
  #normalizeByScan(): boolean {
    const raw = this.#raw;
    for (let i = 0; i < raw.length; i += 2) {
      if (!isAscii(raw[i])) return false;
    }
    for (let i = 2; i < raw.length; i += 2) {
      const name = raw[i];
      for (let j = 0; j < i; j += 2) {
        // Earlier names are already normalised, so the first match has the first-seen case.
        if (sameName(raw[j], name)) {
          raw[i] = raw[j];
          break;
        }
      }
    }
    return true;
  }

  /** Whether this lookup of `name` should be a linear scan rather than build the index. */
  #scanInstead(name: string): boolean {
    return this.#index === null && this.#raw.length <= LINEAR_MAX_RAW &&
      this.#scans++ < LINEAR_LOOKUPS && isAscii(name);
  }

  #first(name: string): number | undefined {
    checkName(name);
    return this.#ensureIndex().get(name.toLowerCase());
  }

  #nextOf(pos: number): number {
    return this.#next === null ? NO_NEXT : this.#next[pos >> 1];
  }

  #lastOf(first: number): number {
    let pos = first;
    for (let next = this.#nextOf(pos); next !== NO_NEXT; next = this.#nextOf(pos)) pos = next;
    return pos;
  }

  #merged(first: number): string {
    const raw = this.#raw;
    let value = raw[first + 1];
    for (let pos = this.#nextOf(first); pos !== NO_NEXT; pos = this.#nextOf(pos)) {
      value += ", " + raw[pos + 1];
    }
    return value;
  }

  /** Appends one pair, keeping the index (if built) up to date. */
  #push(name: string, value: string): void {
    const raw = this.#raw;
    const pos = raw.length;
    const index = this.#index;
    if (index === null) {
      // Cheap path: the case is normalised later, when it matters.
      raw.push(name, value);
      this.#caseNormal = false;
      return;
    }
    const key = name.toLowerCase();
    const first = index.get(key);
    if (first === undefined) {
      index.set(key, pos);
      raw.push(name, value);
      this.#next?.push(NO_NEXT);
      return;
    }
    const last = this.#lastOf(first);
    raw.push(raw[first], value);
    this.#next ??= new Array<number>(pos >> 1).fill(NO_NEXT);
    this.#next.push(NO_NEXT);
    this.#next[last >> 1] = pos;
  }

  /** Removes the pairs of the name whose first pair is at `first`; drops the index. */
  #removeAll(first: number, keepFirst: boolean): void {
    const doomed = new Set<number>();
    let pos = keepFirst ? this.#nextOf(first) : first;
    for (; pos !== NO_NEXT; pos = this.#nextOf(pos)) doomed.add(pos);
    const raw = this.#raw;
    let out = 0;
    for (let i = 0; i < raw.length; i += 2) {
      if (doomed.has(i)) continue;
      raw[out] = raw[i];
      raw[out + 1] = raw[i + 1];
      out += 2;
    }
    raw.length = out;
    // Positions moved: rebuild lazily. Names stay normalised, so the rebuild is cheap.
    this.#index = null;
    this.#next = null;
    this.#caseNormal = true;
  }

  #addAll(init: HeadersInit): void {
    if (typeof init !== "object" || init === null) {
      throw new TypeError(`Headers must be an object or an iterable: ${describe(init)}`);
    }
    if (init instanceof HTTPHeaderDict) {
      // Snapshot first: `h.extend(h)` must not see its own additions.
      const pairs = init.#normalized().slice();
      for (let i = 0; i < pairs.length; i += 2) this.#push(pairs[i], pairs[i + 1]);
      return;
    }
    if (Symbol.iterator in init) {
      for (const pair of init as Iterable<readonly [string, string]>) {
        if (!Array.isArray(pair) || pair.length !== 2) {
          throw new TypeError(`Header entries must be [name, value] pairs: ${describe(pair)}`);
        }
        this.add(pair[0], pair[1]);
      }
      return;
    }
    const record = init as Record<string, string | readonly string[] | undefined>;
    for (const name of Object.keys(record)) {
      const value = record[name];
      if (value === undefined) continue;
      if (Array.isArray(value)) {
        for (const item of value as readonly unknown[]) this.add(name, item as string);
      } else {
        this.add(name, value as string);
      }
    }
  }

  /**
   * The header's values joined with `", "`, or `undefined` when absent.
   *
   * @param name Header name, any case.
   * @returns The merged value.
   */
  get(name: string): string | undefined {
    checkName(name);
    if (this.#scanInstead(name)) {
      const raw = this.#raw;
      let value: string | undefined;
      for (let i = 0; i < raw.length; i += 2) {
        if (sameName(raw[i], name)) {
          value = value === undefined ? raw[i + 1] : value + ", " + raw[i + 1];
        }
      }
      return value;
    }
    const first = this.#first(name);
    return first === undefined ? undefined : this.#merged(first);
  }

  /**
   * Every value of the header, in order; `[]` when absent.
   *
   * @param name Header name, any case.
   * @returns A new array of the values.
   */
  getList(name: string): string[] {
    checkName(name);
    const values: string[] = [];
    const raw = this.#raw;
    if (this.#scanInstead(name)) {
      for (let i = 0; i < raw.length; i += 2) {
        if (sameName(raw[i], name)) values.push(raw[i + 1]);
      }
      return values;
    }
    for (let pos = this.#first(name) ?? NO_NEXT; pos !== NO_NEXT; pos = this.#nextOf(pos)) {
      values.push(raw[pos + 1]);
    }
    return values;
  }

  /**
   * Whether the header is present.
   *
   * @param name Header name, any case.
   * @returns `true` when present.
   */
  has(name: string): boolean {
    checkName(name);
    if (this.#scanInstead(name)) {
      const raw = this.#raw;
      for (let i = 0; i < raw.length; i += 2) {
        if (sameName(raw[i], name)) return true;
      }
      return false;
    }
    return this.#first(name) !== undefined;
  }

  /**
   * Replaces every value of the header with `value`. The header keeps its position (that of
   * its first line) and takes the case of `name`.
   *
   * @param name Header name.
   * @param value The new value.
   * @returns This dict.
   */
  set(name: string, value: string): this {
    checkName(name);
    checkValue(name, value);
    this.#changes++;
    const first = this.#first(name);
    if (first === undefined) {
      this.#push(name, value);
      return this;
    }
    if (this.#nextOf(first) !== NO_NEXT) this.#removeAll(first, true);
    this.#raw[first] = name;
    this.#raw[first + 1] = value;
    return this;
  }

  /**
   * Adds a value to the header, as a new line or (with `combine`) appended to its last
   * value. A new line takes the case the name was first seen in.
   *
   * @param name Header name.
   * @param value The value.
   * @param options `combine`: append `", value"` to the last value instead.
   * @returns This dict.
   */
  add(name: string, value: string, options?: AddOptions): this {
    checkName(name);
    checkValue(name, value);
    this.#changes++;
    if (options?.combine) {
      const first = this.#first(name);
      if (first !== undefined) {
        this.#raw[this.#lastOf(first) + 1] += ", " + value;
        return this;
      }
    }
    this.#push(name, value);
    return this;
  }

  /**
   * Adds every header of `other`, with {@linkcode HTTPHeaderDict.add} semantics.
   *
   * @param other The headers to add.
   * @returns This dict.
   */
  extend(other: HeadersInit): this {
    this.#changes++;
    this.#addAll(other);
    return this;
  }

  /**
   * Removes every value of the header.
   *
   * @param name Header name, any case.
   * @returns `true` when the header was present.
   */
  delete(name: string): boolean {
    const first = this.#first(name);
    if (first === undefined) return false;
    this.#changes++;
    this.#removeAll(first, false);
    return true;
  }

  /**
   * A copy that shares nothing with this dict.
   *
   * @returns The copy.
   */
  copy(): HTTPHeaderDict {
    return new HTTPHeaderDict(this);
  }

  /** The number of distinct header names. */
  get size(): number {
    return this.#ensureIndex().size;
  }

  /**
   * One `[name, value]` pair per value, in insertion order, each name in its first-seen
   * case.
   */
  *[Symbol.iterator](): IterableIterator<[string, string]> {
    const raw = this.#normalized();
    for (let i = 0; i < raw.length; i += 2) yield [raw[i], raw[i + 1]];
  }

  /**
   * One `[name, merged value]` pair per distinct name, in order of first appearance.
   *
   * @returns The pairs.
   */
  *itermerged(): IterableIterator<[string, string]> {
    for (const first of this.#ensureIndex().values()) {
      yield [this.#raw[first], this.#merged(first)];
    }
  }

  /**
   * The distinct names, in their first-seen case and order.
   *
   * @returns The names.
   */
  *keys(): IterableIterator<string> {
    for (const first of this.#ensureIndex().values()) yield this.#raw[first];
  }

  /**
   * Whether `other` holds the same headers: names compared case-insensitively, values
   * merged (so `a: 1` + `a: 2` equals `a: "1, 2"`), order ignored.
   *
   * @param other Headers to compare with.
   * @returns `true` when equal.
   */
  equals(other: HeadersInit): boolean {
    const that = other instanceof HTTPHeaderDict ? other : new HTTPHeaderDict(other);
    if (that.size !== this.size) return false;
    for (const [name, value] of this.itermerged()) {
      if (that.get(name) !== value) return false;
    }
    return true;
  }

  /**
   * The merged headers as a plain object, keys in first-seen case.
   *
   * @returns The object.
   */
  toJSON(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, value] of this.itermerged()) {
      // A plain assignment of "__proto__" would set the prototype instead.
      if (name === "__proto__") {
        Object.defineProperty(out, name, { value, enumerable: true, writable: true });
      } else {
        out[name] = value;
      }
    }
    return out;
  }

  /** Shows the merged headers in `console.log` under Deno. */
  [Symbol.for("Deno.customInspect")](): string {
    return `HTTPHeaderDict ${JSON.stringify(this.toJSON())}`;
  }

  /** Shows the merged headers in `console.log` under Bun and Node. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `HTTPHeaderDict ${JSON.stringify(this.toJSON())}`;
  }
}
