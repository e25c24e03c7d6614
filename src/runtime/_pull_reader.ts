/**
 * The read side shared by the adapters whose runtime hands out bytes only when asked (Deno's
 * `conn.read`, a Workers stream reader): one read in flight at a time, none started while
 * paused, bytes read during a pause held back until `resume()`, and the handler told of the
 * end or the failure exactly once.
 *
 * @module
 */

import type { SocketHandler } from "./socket.ts";
import { IGNORE_EVENTS } from "./socket.ts";
import { DrainWaiters } from "./_drain_waiters.ts";
import { toError } from "./_errors.ts";

/** The runtime's socket as a {@linkcode PullReader} reads it; `R` is what one read yields. */
export interface PullSource<R> {
  /** Starts one read. */
  read(): Promise<R>;
  /** The bytes a finished read brought, or null when the peer ended the stream. */
  bytesOf(result: R): Uint8Array | null;
  /** Called once the handler has taken `bytes` (their buffer may be reused from here on). */
  delivered?(bytes: Uint8Array): void;
  /** Closes the runtime's socket, ignoring a failure to (it may be closed already). */
  close(): void;
}

/**
 * Runs an adapter socket's read loop and keeps the state the `Socket` contract asks for:
 * the handler, `closed`, pause and resume, and the callers of `drained()` (released when the
 * socket closes; the adapter's write side releases them when its queue empties).
 */
export class PullReader<R> {
  #handler: SocketHandler = IGNORE_EVENTS;
  /** Callers of `Socket.drained()`. */
  readonly drainWaiters: DrainWaiters = new DrainWaiters();
  #source: PullSource<R>;
  #closed = false;
  #paused = false;
  #reading = false;
  /** Bytes read while paused, delivered on resume. */
  #held: Uint8Array | null = null;

  /** Starts reading from `source` at once. */
  constructor(source: PullSource<R>) {
    this.#source = source;
    this.#readNext();
  }

  /**
   * Receives data, end and errors. Bytes read before the first handler is set are held
   * for it (a server may speak first: HTTP/2's SETTINGS) and delivered from a microtask.
   */
  get handler(): SocketHandler {
    return this.#handler;
  }

  set handler(handler: SocketHandler) {
    const early = this.#handler === IGNORE_EVENTS && this.#held !== null && !this.#paused;
    this.#handler = handler;
    if (early && handler !== IGNORE_EVENTS) queueMicrotask(this.#continue);
  }

  /** True once the socket ended, failed, was closed or was handed over. */
  get closed(): boolean {
    return this.#closed;
  }

  /** True while a read is in flight. */
  get reading(): boolean {
    return this.#reading;
  }

  /** True while `pause()` holds incoming data back. */
  get paused(): boolean {
    return this.#paused;
  }

  // The loop is callbacks, not an async function: a suspended async function keeps its
  // whole register file, so the last bytes delivered (a view of a large read buffer, or a
  // stream's chunk) would stay reachable for as long as the connection waits idle.
  #readNext(): void {
    if (this.#closed || this.#paused || this.#reading) return;
    this.#reading = true;
    let read: Promise<R>;
    try {
      read = this.#source.read();
    } catch (error) {
      return this.#onFailure(error);
    }
    read.then(this.#onRead, this.#onFailure);
  }

  readonly #onRead = (result: R): void => {
    this.#reading = false;
    if (this.#closed) return;
    try {
      const bytes = this.#source.bytesOf(result);
      if (bytes === null) return this.#end();
      // Paused while the read was in flight: hold the bytes back until resume().
      // Nobody listens yet: held for the first handler.
      if (this.#paused || this.#handler === IGNORE_EVENTS) this.#held = bytes;
      else this.#deliver(bytes);
    } catch (error) {
      this.#onFailure(error);
    }
  };

  /** Hands `bytes` to the handler, then reads on (a handler that throws fails the socket). */
  #deliver(bytes: Uint8Array): void {
    this.handler.onData(bytes);
    this.#source.delivered?.(bytes);
    this.#readNext();
  }

  readonly #onFailure = (error: unknown): void => {
    this.#reading = false;
    if (this.#closed) return;
    this.#shutdown();
    this.handler.onError(toError(error));
  };

  #end(): void {
    this.#shutdown();
    this.handler.onEnd();
  }

  #shutdown(): void {
    this.#closed = true;
    this.#source.close();
    this.#stopReading();
  }

  /** Drops bytes held back and releases the drain waiters. */
  #stopReading(): void {
    this.#held = null;
    this.drainWaiters.release();
  }

  /**
   * Marks the socket closed without closing the runtime's socket, which lives on elsewhere
   * (in a TLS socket started on it); the handler hears nothing more.
   */
  handOver(): void {
    this.#closed = true;
    this.handler = IGNORE_EVENTS;
    this.#stopReading();
  }

  /** Holds incoming data back until {@linkcode PullReader.resume}. */
  pause(): void {
    this.#paused = true;
  }

  /** Delivers data again after {@linkcode PullReader.pause}. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    // Later, not now: resume() is often called from inside the handler.
    queueMicrotask(this.#continue);
  }

  readonly #continue = (): void => {
    if (this.#closed || this.#paused) return;
    const held = this.#held;
    if (held === null) return this.#readNext();
    this.#held = null;
    try {
      this.#deliver(held);
    } catch (error) {
      this.#onFailure(error);
    }
  };

  /** Closes both directions; the handler's `onEnd` is called once. */
  close(): void {
    if (this.#closed) return;
    this.#shutdown();
    this.handler.onEnd();
  }
}
