/**
 * The opt-in DNS cache (`dnsCacheTtl`): a `lookup` that remembers answers for a while.
 * Concurrent lookups of one name share one query; failures are not cached.
 *
 * @module
 */

import type { LookupAddress, LookupFunction } from "./network_options.ts";

/** Most names kept; the oldest entry is dropped first. */
const MAX_ENTRIES = 1000;

interface Entry {
  readonly answer: Promise<readonly LookupAddress[]>;
  /** `performance.now()` after which the entry is stale; Infinity while the query runs. */
  expires: number;
}

/** `lookup`, with its answers kept for `ttl` ms per name and family. */
export function cachedLookup(lookup: LookupFunction, ttl: number): LookupFunction {
  const entries = new Map<string, Entry>();
  return (hostname, options) => {
    const key = `${options.family}/${hostname}`;
    const found = entries.get(key);
    if (found !== undefined && found.expires > performance.now()) return found.answer;
    entries.delete(key);
    if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value!);
    const entry: Entry = { answer: lookup(hostname, options), expires: Infinity };
    entries.set(key, entry);
    entry.answer.then(
      () => entry.expires = performance.now() + ttl,
      () => {
        if (entries.get(key) === entry) entries.delete(key);
      },
    );
    return entry.answer;
  };
}
