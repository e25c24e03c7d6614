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
  /** Receives data, end and errors. */
  handler: SocketHandler = IGNORE_EVENTS;
  /** Callers of `Socket.drained()`. */
  readonly drainWaiters: DrainWaiters = new DrainWaiters();
  #source: PullSource<R>;
  #closed = false;
  #paused = false;
  #reading = false;
  #wakeReader: (() => void) | null = null;

  /** Starts reading from `source` at once. */
  constructor(source: PullSource<R>) {
    this.#source = source;
    void this.#readLoop();
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

  async #readLoop(): Promise<void> {
    const source = this.#source;
    try {
      while (!this.#closed) {
        if (this.#paused) {
          await this.#whilePaused();
          continue;
        }
        this.#reading = true;
        const result = await source.read();
        this.#reading = false;
        if (this.#closed) return;
        const bytes = source.bytesOf(result);
        if (bytes === null) return this.#end();
        // Paused while the read was in flight: hold the bytes back until resume().
        while (this.#paused) {
          await this.#whilePaused();
          if (this.#closed) return;
        }
        this.handler.onData(bytes);
        source.delivered?.(bytes);
      }
    } catch (error) {
      if (this.#closed) return;
      this.#shutdown();
      this.handler.onError(error instanceof Error ? error : new Error(String(error)));
    }
  }

  #whilePaused(): Promise<void> {
    return new Promise<void>((resolve) => this.#wakeReader = resolve);
  }

  #end(): void {
    this.#shutdown();
    this.handler.onEnd();
  }

  #shutdown(): void {
    this.#closed = true;
    this.#source.close();
    this.#stopReading();
  }

  /** Lets the read loop see the socket closed and end; releases the drain waiters. */
  #stopReading(): void {
    const wake = this.#wakeReader;
    this.#wakeReader = null;
    wake?.();
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
    const wake = this.#wakeReader;
    this.#wakeReader = null;
    wake?.();
  }

  /** Closes both directions; the handler's `onEnd` is called once. */
  close(): void {
    if (this.#closed) return;
    this.#shutdown();
    this.handler.onEnd();
  }
}
