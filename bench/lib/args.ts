/**
 * Command-line helpers shared by the benchmark and soak scripts.
 *
 * @module
 */

/** The comma-separated items of option `--name`, each one of `allowed`; throws otherwise. */
export function listOption<T extends string>(
  name: string,
  text: string,
  allowed: readonly T[],
): T[] {
  const items = text.split(",").map((s) => s.trim()).filter(Boolean);
  for (const item of items) {
    if (!allowed.includes(item as T)) {
      throw new Error(`--${name}: unknown ${JSON.stringify(item)} (use ${allowed.join(",")})`);
    }
  }
  if (items.length === 0) throw new Error(`--${name} is empty`);
  return items as T[];
}

/**
 * The number in option `--name`: positive (or, with `allowZero`, non-negative) and, with
 * `integer`, whole; throws otherwise.
 */
export function numberOption(
  name: string,
  text: string,
  integer: boolean,
  allowZero = false,
): number {
  const value = Number(text);
  const valid = text.trim() !== "" && (allowZero ? value >= 0 : value > 0) &&
    (!integer || Number.isInteger(value));
  if (!valid) {
    const kind = `${allowZero ? "non-negative" : "positive"} ${integer ? "integer" : "number"}`;
    throw new Error(`--${name} must be a ${kind}, got ${JSON.stringify(text)}`);
  }
  return value;
}
