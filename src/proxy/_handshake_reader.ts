/**
 * Reads a proxy handshake (an HTTP `CONNECT` answer, SOCKS replies) from a
 * {@linkcode Socket}: exact byte counts or up to a marker, with a signal. Between reads
 * the socket is paused, from inside the data callback, so that no read is in flight when
 * the handshake ends and TLS is started on the socket (Deno's `startTls` needs that).
 *
 * @module
 */

import { concatBytes } from "../_bytes.ts";
import { abortReason } from "../runtime/_errors.ts";
import type { Socket, SocketHandler } from "../runtime/socket.ts";
import { IGNORE_EVENTS } from "../runtime/socket.ts";

interface Want {
  /** How many buffered bytes make the answer, or -1 while more are needed. */
  size(buffer: Uint8Array): number;
  resolve(bytes: Uint8Array): void;
  reject(error: Error): void;
}

/** Reads handshake bytes from a socket it owns until {@linkcode SocketReader.release}. */
export class SocketReader implements SocketHandler {
  readonly #socket: Socket;
  readonly #signal?: AbortSignal;
  /** What the peer closed or failed with, once it did. */
  readonly #describeEnd: () => Error;
  #buffer: Uint8Array = new Uint8Array(0);
  #want: Want | null = null;
  #ended: Error | null = null;

  /**
   * Takes the socket's events over and pauses it.
   *
   * @param describeEnd The error for a peer that closes during the handshake.
   */
  constructor(socket: Socket, signal: AbortSignal | undefined, describeEnd: () => Error) {
    this.#socket = socket;
    this.#signal = signal;
    this.#describeEnd = describeEnd;
    socket.setHandler(this);
    socket.pause();
  }

  /** Exactly `n` bytes. */
  read(n: number): Promise<Uint8Array> {
    return this.#read((buffer) => buffer.length >= n ? n : -1);
  }

  /** Bytes up to and including `marker`; more than `limit` bytes without it is an error. */
  readUntil(marker: string, limit: number, tooLong: () => Error): Promise<Uint8Array> {
    const bytes = Uint8Array.from(marker, (c) => c.charCodeAt(0));
    return this.#read((buffer) => {
      const at = indexOf(buffer, bytes);
      if (at >= 0) return at + bytes.length;
      if (buffer.length > limit) throw tooLong();
      return -1;
    });
  }

  /** Stops reading; the socket carries on paused, with no handler: resume it to read on. */
  release(): Socket {
    this.#socket.setHandler(IGNORE_EVENTS);
    return this.#socket;
  }

  /** True when bytes arrived that no read asked for. */
  get hasExtraBytes(): boolean {
    return this.#buffer.length > 0;
  }

  #read(size: (buffer: Uint8Array) => number): Promise<Uint8Array> {
    const signal = this.#signal;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise<Uint8Array>((resolve, reject) => {
      const onAbort = () => this.#fail(abortReason(signal!));
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#want = {
        size,
        resolve: (bytes) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(bytes);
        },
        reject: (error) => {
          signal?.removeEventListener("abort", onAbort);
          reject(error);
        },
      };
      this.#settle();
      if (this.#want !== null) this.#socket.resume();
    });
  }

  #settle(): void {
    const want = this.#want;
    if (want === null) return;
    let size: number;
    try {
      size = want.size(this.#buffer);
    } catch (error) {
      return this.#fail(error as Error);
    }
    if (size < 0) {
      if (this.#ended) this.#fail(this.#ended);
      return;
    }
    const answer = this.#buffer.slice(0, size);
    this.#buffer = this.#buffer.subarray(size);
    this.#want = null;
    // Paused now, inside the data callback: no further read starts until asked for.
    this.#socket.pause();
    want.resolve(answer);
  }

  #fail(error: Error): void {
    const want = this.#want;
    this.#want = null;
    want?.reject(error);
  }

  /** Socket data: kept until a read takes it. */
  onData(chunk: Uint8Array): void {
    this.#buffer = concatBytes([this.#buffer, chunk]);
    this.#settle();
  }

  /** Socket end: fails a pending read. */
  onEnd(): void {
    this.#ended ??= this.#describeEnd();
    this.#settle();
  }

  /** Socket failure: fails a pending read. */
  onError(error: Error): void {
    this.#ended ??= error;
    this.#settle();
  }

  /** A failed write shows up as the peer's end or error. */
  onWriteError(error: Error): void {
    this.onError(error);
  }
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}
