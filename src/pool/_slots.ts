/**
 * The connections of one pool: a stack of idle ones (the most recently used is reused
 * first, as urllib3's LIFO queue) and a queue of callers waiting for one when the pool
 * blocks. Whether a connection can carry another request, and until when it may sit idle,
 * is asked through the protocol seam (`capacity`, `idleDeadline`), never through a
 * protocol's details.
 *
 * @module
 */

import type { ProtocolConnection } from "./_protocol.ts";
import { unrefTimer } from "../runtime/_unref_timer.ts";

interface Waiter<C> {
  resolve(connection: C): void;
  reject(error: Error): void;
  timer?: ReturnType<typeof setTimeout>;
  signal?: AbortSignal;
  onAbort?: () => void;
  done: boolean;
}

/** A pool's idle connections, its count of connections in use, and its waiting callers. */
export class ConnectionSlots<C extends ProtocolConnection> {
  /** Connections kept for reuse; with `block`, also the most in use at once. */
  readonly maxSize: number;
  /** Callers wait for a connection instead of opening more than `maxSize`. */
  readonly block: boolean;
  #open: () => C;
  #idle: C[] = [];
  #inUse = 0;
  #waiters: Waiter<C>[] = [];
  #waiterHead = 0;
  // One timer for the whole pool closes idle connections whose deadline passed: armed for
  // the earliest deadline when a connection goes idle sooner than it fires, and, when it
  // fires, re-armed for the next one or left to lapse when none is idle. It is not cleared
  // when a request takes the last idle connection (that would cost a clearTimeout and a
  // setTimeout per request); it never keeps the process alive.
  #sweepTimer: ReturnType<typeof setTimeout> | undefined;
  #sweepDue = Infinity;

  /** Slots for up to `maxSize` kept connections; `open` makes a new (unconnected) one. */
  constructor(maxSize: number, block: boolean, open: () => C) {
    this.maxSize = maxSize;
    this.block = block;
    this.#open = open;
  }

  /** Idle connections (some may hold no socket). */
  get idle(): number {
    return this.#idle.length;
  }

  /** Connections handed out now. */
  get inUse(): number {
    return this.#inUse;
  }

  /** Callers waiting for a connection. */
  get queued(): number {
    return this.#waiters.length - this.#waiterHead;
  }

  /** Idle connections with an open socket. */
  get openIdle(): number {
    let open = 0;
    for (const connection of this.#idle) if (connection.isConnected) open++;
    return open;
  }

  /**
   * A connection for one request: the most recently used idle one, else a new one while
   * the pool may open more, else (blocking) one that is given back within `poolTimeout`
   * ms; past that, the wait fails with `timeoutError()`.
   */
  take(
    poolTimeout: number | null,
    signal: AbortSignal | undefined,
    timeoutError: () => Error,
  ): C | Promise<C> {
    const idle = this.#idle.pop();
    if (idle !== undefined) {
      this.#inUse++;
      // The server closed it while it sat idle, or it sat idle too long (the sweep has not
      // come round yet): drop the socket, the object reconnects.
      if (idle.isDropped || idle.idleDeadline <= performance.now()) idle.close();
      return idle;
    }
    if (!this.block || this.#inUse < this.maxSize) {
      this.#inUse++;
      return this.#open();
    }
    return this.#wait(poolTimeout, signal, timeoutError);
  }

  /**
   * Takes a connection back after a request: its socket is closed unless `reusable` (the
   * object stays, and reconnects when next used, as urllib3's do). It goes to the next
   * waiter, or to the idle stack while that has room; otherwise, or when `keep` is false
   * (the pool closed), it is closed. True when it went idle.
   */
  put(connection: C, reusable: boolean, keep: boolean): boolean {
    this.#inUse--;
    if (!reusable || connection.capacity === 0) connection.close();
    if (!keep) {
      connection.close();
      return false;
    }
    const waiter = this.#nextWaiter();
    if (waiter !== undefined) {
      this.#inUse++;
      waiter.resolve(connection);
      return false;
    }
    if (this.#idle.length >= this.maxSize) {
      // A full non-blocking pool discards the connection, as urllib3 does.
      connection.close();
      return false;
    }
    this.#idle.push(connection);
    const due = connection.idleDeadline;
    if (due !== Infinity) this.#sweepBy(due);
    // Back without a socket (not reusable): the sweep may have nothing left to watch.
    else this.#stopSweepIfNoneOpen();
    return true;
  }

  /** Closes the idle connections (the slots stay usable: new ones open when asked). */
  closeIdle(): void {
    const idle = this.#idle;
    this.#idle = [];
    for (const connection of idle) connection.close();
    if (this.#sweepTimer !== undefined) clearTimeout(this.#sweepTimer);
    this.#sweepTimer = undefined;
    this.#sweepDue = Infinity;
  }

  /**
   * An idle connection lost its socket (the server closed it): the sweep is stopped when no
   * idle connection is left to close, so that no timer outlives what it watched.
   */
  idleDropped(): void {
    this.#stopSweepIfNoneOpen();
  }

  /** Stops the sweep when no idle connection holds a socket it would have to close. */
  #stopSweepIfNoneOpen(): void {
    if (this.#sweepTimer === undefined) return;
    for (const connection of this.#idle) if (connection.idleDeadline !== Infinity) return;
    clearTimeout(this.#sweepTimer);
    this.#sweepTimer = undefined;
    this.#sweepDue = Infinity;
  }

  /** Makes sure the sweep runs by `due` (a `performance.now()` time; Infinity: never). */
  #sweepBy(due: number): void {
    if (due >= this.#sweepDue) return;
    if (this.#sweepTimer !== undefined) clearTimeout(this.#sweepTimer);
    this.#sweepDue = due;
    this.#sweepTimer = setTimeout(this.#sweep, Math.max(0, due - performance.now()));
    unrefTimer(this.#sweepTimer);
  }

  /** Closes the sockets of idle connections past their deadline (the objects stay idle). */
  readonly #sweep = (): void => {
    this.#sweepTimer = undefined;
    this.#sweepDue = Infinity;
    // A timer may fire up to a millisecond early.
    const now = performance.now() + 1;
    let next = Infinity;
    for (const connection of this.#idle) {
      const due = connection.idleDeadline;
      if (due <= now) connection.close();
      else if (due < next) next = due;
    }
    this.#sweepBy(next);
  };

  /** Fails every waiting caller with `error()`. */
  rejectWaiters(error: () => Error): void {
    for (let waiter = this.#nextWaiter(); waiter; waiter = this.#nextWaiter()) {
      waiter.reject(error());
    }
  }

  #wait(
    poolTimeout: number | null,
    signal: AbortSignal | undefined,
    timeoutError: () => Error,
  ): Promise<C> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const waiter: Waiter<C> = { resolve, reject, done: false };
      const finish = (error: Error) => {
        if (waiter.done) return;
        this.#forget(waiter);
        reject(error);
      };
      if (poolTimeout !== null) {
        waiter.timer = setTimeout(() => finish(timeoutError()), poolTimeout);
      }
      if (signal) {
        waiter.signal = signal;
        waiter.onAbort = () => finish(signal.reason);
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.#waiters.push(waiter);
    });
  }

  #forget(waiter: Waiter<C>): void {
    waiter.done = true;
    if (waiter.timer !== undefined) clearTimeout(waiter.timer);
    if (waiter.onAbort) waiter.signal!.removeEventListener("abort", waiter.onAbort);
    // Drop settled waiters from the front so the queue does not grow.
    while (this.#waiterHead < this.#waiters.length && this.#waiters[this.#waiterHead].done) {
      this.#waiterHead++;
    }
    if (this.#waiterHead === this.#waiters.length) {
      this.#waiters = [];
      this.#waiterHead = 0;
    }
  }

  #nextWaiter(): Waiter<C> | undefined {
    while (this.#waiterHead < this.#waiters.length) {
      const waiter = this.#waiters[this.#waiterHead++];
      if (!waiter.done) {
        this.#forget(waiter);
        return waiter;
      }
    }
    return undefined;
  }
}
