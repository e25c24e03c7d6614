/**
 * Checks of caller-given values, shared by every module that takes options: one way to
 * show a wrong value in a message, and one check per kind of value (counters, durations,
 * booleans, ports, lists). A wrong type throws `TypeError`, a value out of range
 * `RangeError`; each message names the option and ends with `: <the value>`.
 *
 * @module
 */

/**
 * A wrong value as an error message shows it: strings quoted, `5n` for a bigint, and a
 * kind (`an array`, `an object (Map)`) for what has no short text form.
 */
export function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "function") return "a function";
  if (typeof value === "symbol") return value.toString();
  if (value === null || typeof value !== "object") return String(value);
  if (Array.isArray(value)) return "an array";
  if (value instanceof Uint8Array) return `a Uint8Array (${value.length} bytes)`;
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === "string" && name !== "Object" ? `an object (${name})` : "an object";
}

/** A frozen set whose `add`, `delete` and `clear` throw, for sets exposed to callers. */
export function readonlySet<T>(values: Iterable<T>): ReadonlySet<T> {
  const set = new Set(values);
  const refuse = (): never => {
    throw new TypeError("Cannot modify a read-only set");
  };
  Object.defineProperties(set, {
    add: { value: refuse },
    delete: { value: refuse },
    clear: { value: refuse },
  });
  return Object.freeze(set);
}

/** True for an object with a `Symbol.iterator` method (a string is not one). */
export function isIterable(value: unknown): value is Iterable<unknown> {
  return value !== null && typeof value === "object" &&
    typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === "function";
}

/** `value` itself when it is a non-null object (not an array), else a `TypeError`. */
export function checkObject<T>(what: string, value: T): T {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(`${what} must be an object: ${describe(value)}`);
  }
  return value;
}

/** `value` when it is a boolean. */
export function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== "boolean") {
    throw new TypeError(`${name} must be a boolean: ${describe(value)}`);
  }
  return value;
}

/** `value` when it is a safe integer (of either sign), as a counter that counts down is. */
export function checkInteger(name: string, value: unknown, kinds = "an integer"): number {
  if (typeof value !== "number") {
    throw new TypeError(`${name} must be ${kinds}: ${describe(value)}`);
  }
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`${name} must be an integer: ${describe(value)}`);
  }
  return value;
}

/** `value` when it is an integer `>= 1` (a count of connections or pools). */
export function checkPositiveInteger(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${name} must be an integer >= 1: ${describe(value)}`);
  }
  return value;
}

/** `value` when it is an integer `>= 0` (a count of bytes or of retries). */
export function checkNonNegativeInteger(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer: ${describe(value)}`);
  }
  return value;
}

/** `value` when it is a TCP port: an integer from 0 to 65535. `kinds` names what else fits. */
export function checkPort(name: string, value: unknown, kinds = "a number"): number {
  if (typeof value !== "number") {
    throw new TypeError(`${name} must be ${kinds}: ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    throw new RangeError(`${name} must be an integer from 0 to 65535: ${describe(value)}`);
  }
  return value;
}

/** What {@linkcode checkDuration} accepts besides finite numbers `>= 0`. */
export interface DurationRules {
  /** `null` is a valid value (no limit). */
  nullable?: boolean;
  /** `Infinity` is a valid value. */
  infinite?: boolean;
  /** `0` is not a valid value (a limit of zero would fail at once). */
  positive?: boolean;
}

/** `value` when it is a number of milliseconds as `rules` allow (`null` only if nullable). */
export function checkDuration(
  name: string,
  value: unknown,
  rules: DurationRules & { nullable: true },
): number | null;
export function checkDuration(name: string, value: unknown, rules?: DurationRules): number;
export function checkDuration(
  name: string,
  value: unknown,
  rules: DurationRules = {},
): number | null {
  if (value === null && rules.nullable) return null;
  const orNull = rules.nullable ? " or null" : "";
  if (typeof value !== "number") {
    throw new TypeError(`${name} must be a number of milliseconds${orNull}: ${describe(value)}`);
  }
  const tooSmall = rules.positive ? value <= 0 : value < 0;
  if (Number.isNaN(value) || tooSmall || (!rules.infinite && !Number.isFinite(value))) {
    const finite = rules.infinite ? "" : "finite ";
    const bound = rules.positive ? "> 0" : ">= 0";
    throw new RangeError(
      `${name} must be a ${finite}number of milliseconds ${bound}${orNull}: ${describe(value)}`,
    );
  }
  return value;
}

/**
 * The entries of an iterable of strings (not a string itself), as an array. `what` names
 * the entries for the message, such as `"header names"`.
 */
export function checkStrings(name: string, value: unknown, what: string): string[] {
  if (typeof value === "string" || !isIterable(value)) {
    throw new TypeError(`${name} must be an iterable of ${what}: ${describe(value)}`);
  }
  const strings: string[] = [];
  for (const entry of value) {
    if (typeof entry !== "string") {
      throw new TypeError(`${name} must hold strings: ${describe(entry)}`);
    }
    strings.push(entry);
  }
  return strings;
}

/** The entries of an iterable of safe integers, as an array. */
export function checkIntegers(name: string, value: unknown, what: string): number[] {
  if (typeof value === "string" || !isIterable(value)) {
    throw new TypeError(`${name} must be an iterable of ${what}: ${describe(value)}`);
  }
  const integers: number[] = [];
  for (const entry of value) {
    if (typeof entry !== "number") {
      throw new TypeError(`${name} must hold integers: ${describe(entry)}`);
    }
    if (!Number.isSafeInteger(entry)) {
      throw new RangeError(`${name} must hold integers: ${describe(entry)}`);
    }
    integers.push(entry);
  }
  return integers;
}
