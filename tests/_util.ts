/**
 * Small helpers shared by the test files.
 *
 * @module
 */

import { assert } from "./_harness.ts";

/** Decodes UTF-8 bytes. */
export const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

/** A promise with its `resolve` at hand. */
export interface Deferred<T> {
  /** The promise. */
  promise: Promise<T>;
  /** Settles `promise`. */
  resolve(value: T): void;
}

/** Makes a {@linkcode Deferred}. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => resolve = r);
  return { promise, resolve };
}

/** Polls `condition` every few ms; fails after `ms`. Leaves no timer behind. */
export async function waitFor(condition: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The error `promise` rejects with; fails the test if it resolves. */
export async function rejects(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new assert.AssertionError({ message: "expected a rejection" });
}
