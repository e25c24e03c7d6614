/**
 * The callers of `Socket.drained()` waiting for an adapter's write queue to empty.
 *
 * @module
 */

/** A list of waiters that one `release()` settles together. */
export class DrainWaiters {
  #waiters: (() => void)[] = [];

  /** A promise that settles at the next {@linkcode DrainWaiters.release}. */
  wait(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Settles every waiting promise (the queue emptied, or the socket closed). */
  release(): void {
    const waiters = this.#waiters;
    if (waiters.length === 0) return;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }
}
