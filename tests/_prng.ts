/**
 * A seeded pseudo-random generator for tests and soak servers, so that a run can be
 * repeated exactly from its seed on every runtime.
 *
 * @module
 */

/** mulberry32: a small, fast PRNG; returns numbers in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
