/**
 * Small helpers shared by the test files.
 *
 * @module
 */

import { assert } from "./_harness.ts";
import { type RawConnection, type RawRequest, type RawServer, rawServer } from "./_servers.ts";

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
