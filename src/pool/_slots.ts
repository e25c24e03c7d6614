/**
 * The connections of one pool: a stack of idle ones (the most recently used is reused
 * first, as urllib3's LIFO queue), the connections shared by many requests at once
 * (HTTP/2 sessions, whose `streamLimit` is over 1), and a queue of callers waiting for one
 * when the pool blocks. Whether a connection can carry another request, and until when it
 * may sit idle, is asked through the protocol seam (`capacity`, `streamLimit`,
 * `idleDeadline`), never through a protocol's details.
 *
 * A connection whose protocol is learnt when it connects (ALPN may pick HTTP/2) is a
 * probe: while it connects, further callers wait on it rather than open more, then share
 * it up to its stream limit (HTTP/2) or go on as usual (HTTP/1.1), so a burst to a cold
 * origin opens one connection.
 *
 * @module
 */

import type { ProtocolConnection } from "./_protocol.ts";
import { unrefTimer } from "../runtime/_unref_timer.ts";

interface Waiter<C> {
  resolve(connection: C | Promise<C>): void;
  reject(error: Error): void;
  timer?: ReturnType<typeof setTimeout>;
  signal?: AbortSignal;
  onAbort?: () => void;
  done: boolean;
  /** A probe's waiter takes again with this once the probe connected. */
  retry?: () => C | Promise<C>;
}

/** A pool's idle connections, its count of connections in use, and its waiting callers. */
export class ConnectionSlots<C extends ProtocolConnection> {
  /** Connections kept for reuse; with `block`, also the most in use at once. */
  readonly maxSize: number;
  /** Callers wait for a connection instead of opening more than `maxSize`. */
  readonly block: boolean;
  #open: () => C;
  #idle: C[] = [];
  /** Requests holding a connection. */
  #inUse = 0;
  /** Connection objects in use (by one request, or shared by several). */
  #busy = 0;
  /** Connections in use that several requests share, with their request counts. */
  #shared: C[] = [];
  #users = new Map<C, number>();
  /** Requests on shared connections (some may wait in a connection's queue). */
  #sharedUsers = 0;
  /** The connection being opened whose protocol is not known yet, and its waiters. */
  #probe: C | null = null;
  #probeWaiters: Waiter<C>[] = [];
  /** The last connection opened turned out shareable (or none was opened yet). */
  #expectShared = true;
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

  /** Requests holding a connection now. */
  get inUse(): number {
    return this.#inUse;
  }

  /** Connection objects in use now (a shared one counts once). */
  get busy(): number {
    return this.#busy;
  }

  /**
   * Open streams on shared (HTTP/2) connections now: their requests, but at most each
   * connection's stream limit (the others wait in the connection's queue).
   */
  get streams(): number {
    if (this.#sharedUsers === 0) return 0;
    let open = 0;
    for (const connection of this.#shared) {
      open += Math.min(this.#users.get(connection)!, connection.streamLimit ?? 1);
    }
    return open;
  }

  /** Callers waiting for a connection. */
  get queued(): number {
    return this.#waiters.length - this.#waiterHead + this.#probeWaiters.length;
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
    if (this.#shared.length > 0) {
      const shared = this.#freeShared();
      if (shared !== null) {
        this.#addUser(shared);
        return shared;
      }
      // Every session is full and the pool may not open another: a non-blocking pool queues
      // the request on the least loaded session (it starts as a stream there ends) rather
      // than open connections past `maxSize`, which HTTP/2 gains nothing from.
      const least = !this.block && this.#busy >= this.maxSize ? this.#leastLoaded() : null;
      if (least !== null) {
        this.#addUser(least);
        return least;
      }
    }
    if (this.#probe !== null) {
      return this.#waitProbe(signal, () => this.take(poolTimeout, signal, timeoutError));
    }
    const idle = this.#idle.pop();
    if (idle !== undefined) {
      this.#inUse++;
      this.#busy++;
      // The server closed it while it sat idle, or it sat idle too long (the sweep has not
      // come round yet): drop the socket, the object reconnects.
      if (idle.isDropped || idle.idleDeadline <= performance.now()) idle.close();
      this.#claim(idle);
      return idle;
    }
    if (!this.block || this.#busy < this.maxSize) {
      this.#inUse++;
      this.#busy++;
      const opened = this.#open();
      this.#claim(opened);
      return opened;
    }
    return this.#wait(poolTimeout, signal, timeoutError);
  }

  /** A shared connection with a free stream, or null. */
  #freeShared(): C | null {
    for (const connection of this.#shared) {
      if (this.#users.get(connection)! < (connection.streamLimit ?? 0)) return connection;
    }
    return null;
  }

  /** The shared connection still taking streams that carries the fewest requests. */
  #leastLoaded(): C | null {
    let least: C | null = null;
    let fewest = Infinity;
    for (const connection of this.#shared) {
      const users = this.#users.get(connection)!;
      if (connection.streamLimit !== 0 && users < fewest) [least, fewest] = [connection, users];
    }
    return least;
  }

  /** One more request on the shared `connection`. */
  #addUser(connection: C): void {
    this.#users.set(connection, this.#users.get(connection)! + 1);
    this.#inUse++;
    this.#sharedUsers++;
  }

  /** A connection just taken by one request: shared, a probe, or one request's own. */
  #claim(connection: C): void {
    const limit = connection.streamLimit;
    if (limit === null) {
      if (this.#expectShared) this.#probe = connection;
    } else if (limit > 1) this.#share(connection);
  }

  #share(connection: C): void {
    this.#shared.push(connection);
    this.#users.set(connection, 1);
    this.#sharedUsers++;
  }

  /**
   * `opened` connected (as `now`: the same object, or the HTTP/2 connection that took its
   * socket over): its protocol and stream limit are known. A shareable one is shared with
   * the callers that waited on it, up to its limit; the others take again.
   */
  connected(opened: C, now: C): void {
    const limit = now.streamLimit ?? 1;
    this.#expectShared = limit > 1;
    if (limit > 1 && !this.#users.has(now)) this.#share(now);
    if (this.#probe !== opened) return;
    this.#probe = null;
    const waiters = this.#probeWaiters;
    this.#probeWaiters = [];
    for (const waiter of waiters) {
      if (waiter.done) continue;
      this.#forget(waiter);
      waiter.resolve(waiter.retry!());
    }
  }

  /**
   * The server raised `connection`'s stream limit: its new streams go to waiting callers at
   * once, rather than as its streams end. A connection taken while its limit was 1 (and
   * so carrying one request as its own) is shared from now on; an idle one, or the probe,
   * gets its requests when next taken, or once it connected.
   */
  streamLimitRaised(connection: C): void {
    if ((connection.streamLimit ?? 0) <= 1) return;
    this.#expectShared = true;
    if (!this.#users.has(connection)) {
      if (this.#probe === connection || this.#idle.includes(connection)) return;
      this.#share(connection);
    }
    this.#handOutStreams(connection);
  }

  /** `opened` failed to connect: the callers that waited on it fail with `error`. */
  connectFailed(opened: C, error: unknown): void {
    if (this.#probe !== opened) return;
    this.#probe = null;
    const waiters = this.#probeWaiters;
    this.#probeWaiters = [];
    for (const waiter of waiters) {
      if (waiter.done) continue;
      this.#forget(waiter);
      waiter.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Waits for the probe to connect, then takes again (`retry`). */
  #waitProbe(signal: AbortSignal | undefined, retry: () => C | Promise<C>): Promise<C> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const waiter: Waiter<C> = { resolve, reject, done: false, retry };
      if (signal) {
        waiter.signal = signal;
        waiter.onAbort = () => {
          if (waiter.done) return;
          this.#forget(waiter);
          const at = this.#probeWaiters.indexOf(waiter);
          if (at >= 0) this.#probeWaiters.splice(at, 1);
          reject(signal.reason);
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.#probeWaiters.push(waiter);
    });
  }

  /**
   * A request on a shared connection is over: the connection stays shared while others
   * use it (a free stream goes to a waiting caller); after the last, it goes idle.
   * False when it did not go idle (see `put`).
   */
  #putShared(connection: C, users: number, keep: boolean): boolean {
    this.#sharedUsers--;
    if (users > 1) {
      this.#users.set(connection, users - 1);
      this.#inUse--;
      if (keep) this.#handOutStreams(connection);
      return false;
    }
    this.#users.delete(connection);
    this.#shared.splice(this.#shared.indexOf(connection), 1);
    // One stream's end never closes a session others may use; an unusable one closes.
    return this.put(connection, connection.streamLimit !== 0, keep);
  }

  /** Gives the free streams of the shared `connection` to waiting callers, first come first. */
  #handOutStreams(connection: C): void {
    const limit = connection.streamLimit ?? 0;
    while (this.#users.get(connection)! < limit) {
      const waiter = this.#nextWaiter();
      if (waiter === undefined) return;
      this.#addUser(connection);
      waiter.resolve(connection);
    }
  }

  /**
   * Takes a connection back after a request: its socket is closed unless `reusable` (the
   * object stays, and reconnects when next used, as urllib3's do). It goes to the next
   * waiter, or to the idle stack while that has room; otherwise, or when `keep` is false
   * (the pool closed), it is closed. True when it went idle.
   */
  put(connection: C, reusable: boolean, keep: boolean): boolean {
    if (this.#users.size > 0) {
      const users = this.#users.get(connection);
      if (users !== undefined) return this.#putShared(connection, users, keep);
    }
    // A probe given back without connecting: its waiters take again.
    if (this.#probe === connection) this.connected(connection, connection);
    this.#inUse--;
    this.#busy--;
    if (!reusable || connection.capacity === 0) connection.close();
    if (!keep) {
      connection.close();
      return false;
    }
    const waiter = this.#nextWaiter();
    if (waiter !== undefined) {
      this.#inUse++;
      this.#busy++;
      this.#claim(connection);
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
    const probeWaiters = this.#probeWaiters;
    this.#probeWaiters = [];
    for (const waiter of probeWaiters) {
      if (waiter.done) continue;
      this.#forget(waiter);
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
