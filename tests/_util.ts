/**
 * Small helpers shared by the test files.
 *
 * @module
 */

import { assert } from "./_harness.ts";
import { type RawConnection, type RawRequest, type RawServer, rawServer } from "./_servers.ts";
import type { ConnectionPool } from "../mod.ts";

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

/** Waits `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every few ms; fails after `ms`. Leaves no timer behind. */
export async function waitFor(condition: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
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

/**
 * Asserts two byte arrays are equal. On a mismatch it says where they first differ, instead
 * of the diff `assert.deepEqual` renders, which takes minutes for large arrays.
 */
export function assertBytes(actual: Uint8Array, expected: Uint8Array, what = "bytes"): void {
  assert.ok(actual instanceof Uint8Array, `${what}: not a Uint8Array: ${actual}`);
  const common = Math.min(actual.length, expected.length);
  let at = 0;
  while (at < common && actual[at] === expected[at]) at++;
  if (at === common && actual.length === expected.length) return;
  const around = (bytes: Uint8Array) =>
    JSON.stringify(String.fromCharCode(...bytes.subarray(Math.max(0, at - 8), at + 24)));
  assert.fail(
    `${what}: ${actual.length} bytes, expected ${expected.length}; first difference at byte ` +
      `${at}: ${around(actual)} instead of ${around(expected)}`,
  );
}

/** Asserts that no connection of any of `pools` is in use, nobody waits, and idle fits `maxSize`. */
export function assertAtRest(...pools: ConnectionPool[]): void {
  for (const pool of pools) {
    const { inUse, queued, idle } = pool.stats;
    assert.equal(inUse, 0, `${pool}: no connection in use`);
    assert.equal(queued, 0, `${pool}: nobody waiting`);
    assert.ok(idle <= pool.maxSize, `${pool}: idle ${idle} <= maxSize ${pool.maxSize}`);
  }
}

/** pooled's own counts of `pool.stats` (`idle`, `inUse`, `queued`, `open`), without undici's. */
export function ownCounts(
  pool: ConnectionPool,
): { idle: number; inUse: number; queued: number; open: number } {
  const { idle, inUse, queued, open } = pool.stats;
  return { idle, inUse, queued, open };
}

/** An abort signal that bounds a wait; `clear()` it when done so no timer is left behind. */
export interface Deadline {
  /** Aborts after the time given, with an error that names what took too long. */
  signal: AbortSignal;
  /** Cancels the timer. */
  clear(): void;
}

/**
 * A {@linkcode Deadline} of `ms` milliseconds for `what`: pass its signal to a request that
 * could hang when a feature is missing, so the test fails instead of stalling the suite.
 */
export function deadline(ms: number, what: string): Deadline {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new Error(`test deadline: ${what} took longer than ${ms} ms`)),
    ms,
  );
  return { signal: controller.signal, clear: () => clearTimeout(timer) };
}

/** A keep-alive raw server whose connections are numbered 1, 2, ... */
export interface KeepAliveServer {
  /** The server. */
  server: RawServer;
  /** Ids of connections that ended (closed by the client or by the handler). */
  closed: number[];
}

/** Answers every request on every connection with `handle` until the connection ends. */
export async function keepAliveServer(
  handle: (req: RawRequest, id: number, conn: RawConnection) => Promise<void>,
): Promise<KeepAliveServer> {
  let next = 0;
  const closed: number[] = [];
  const server = await rawServer(async (conn) => {
    const id = ++next;
    conn.closed.then(() => closed.push(id));
    for (;;) {
      let req: RawRequest;
      try {
        req = await conn.readRequest();
      } catch {
        return; // the client closed the connection
      }
      await handle(req, id, conn);
    }
  });
  return { server, closed };
}

/** `text` with every RegExp metacharacter escaped (what `RegExp.escape` does on newer runtimes). */
export function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|\/-]/g, "\\$&");
}

/** A full collection: `Bun.gc`, or V8's `gc` (scripts/test.sh runs Deno and Node with `--expose-gc`). */
export function collectGarbage(): void {
  const g = globalThis as { Bun?: { gc(sync: boolean): void }; gc?: () => void };
  if (g.Bun) return g.Bun.gc(true);
  if (!g.gc) {
    throw new Error("no gc(): run Deno with --v8-flags=--expose-gc, Node with --expose-gc");
  }
  g.gc();
}

/** Zero-delay timers run before each collection on Bun (see {@linkcode isCollected}). */
const BUN_TIMER_TURNOVER = 100;

/**
 * True once `ref`'s target is garbage-collected, after up to `tries` full collections with
 * a turn of the event loop between them (a stale stack slot may hold it for a turn).
 *
 * On Bun (1.4.5) the objects reached from the promise jobs of a request that opened its
 * connection stay alive until a few dozen timers have run, although a heap snapshot shows
 * no path to them from any root: Bun holds them, not the code under test. A batch of
 * zero-delay timers before each collection lets them go.
 */
export async function isCollected(ref: WeakRef<object>, tries = 10): Promise<boolean> {
  const bun = "Bun" in globalThis;
  for (let i = 0; i < tries; i++) {
    if (bun) await Promise.all(Array.from({ length: BUN_TIMER_TURNOVER }, () => sleep(0)));
    await sleep(i);
    collectGarbage();
    if (ref.deref() === undefined) return true;
  }
  return false;
}
