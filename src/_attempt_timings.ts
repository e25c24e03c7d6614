/**
 * The clock of one attempt, for `response.timings`: marks taken with `performance.now()` as
 * the attempt passes its phases, read as durations. Made only when timings are collected.
 *
 * @module
 */

import type { ResponseTimings } from "./response.ts";
import type { ConnectPhase } from "./runtime/socket.ts";

/** Milliseconds from `from` to `to`, never negative (marks of one clock may tie). */
function span(from: number, to: number): number {
  return to > from ? to - from : 0;
}

/** Marks of one attempt (0 for a mark not taken); its phases as {@linkcode ResponseTimings}. */
export class AttemptTimings implements ResponseTimings {
  /** The attempt was handed to its pool. */
  readonly startMark: number = performance.now();
  /** A connection was taken from the pool (or opened for the attempt). */
  acquiredMark = 0;
  /** A new socket's set-up began; 0 on a reused connection. */
  connectStartMark = 0;
  /** The adapter reported the name resolved, the TCP connection open, TLS done. */
  lookupMark = 0;
  tcpMark = 0;
  tlsMark = 0;
  /** The new socket was ready. */
  connectEndMark = 0;
  /** Writing the request began, and ended (the whole body handed to the socket). */
  writeMark = 0;
  sentMark = 0;
  /** The first byte of the response, and the last byte of its body. */
  firstByteMark = 0;
  endMark = 0;

  /** What the adapter reports through `ConnectOptions.onPhase`. */
  readonly onPhase = (phase: ConnectPhase): void => {
    const now = performance.now();
    if (phase === "lookup") this.lookupMark = now;
    else if (phase === "connect") this.tcpMark = now;
    else this.tlsMark = now;
  };

  get queue(): number {
    return span(this.startMark, this.acquiredMark);
  }

  get dns(): number {
    return this.lookupMark === 0 ? 0 : span(this.connectStartMark, this.lookupMark);
  }

  get connect(): number {
    if (this.connectStartMark === 0) return 0;
    const from = this.lookupMark || this.connectStartMark;
    // Without a TLS mark the set-up ends when the socket is ready.
    const to = this.tlsMark === 0 ? this.connectEndMark : this.tcpMark || from;
    return span(from, to);
  }

  get tls(): number {
    if (this.tlsMark === 0) return 0;
    return span(this.tcpMark || this.lookupMark || this.connectStartMark, this.tlsMark);
  }

  get send(): number {
    return span(this.writeMark, this.sentMark);
  }

  get firstByte(): number {
    return this.firstByteMark === 0 ? 0 : span(this.sentMark, this.firstByteMark);
  }

  get download(): number | null {
    return this.endMark === 0 ? null : span(this.firstByteMark, this.endMark);
  }

  get total(): number | null {
    return this.endMark === 0 ? null : span(this.startMark, this.endMark);
  }

  /** The phases as plain data (what `JSON.stringify` and `console.log` show). */
  toJSON(): Record<keyof ResponseTimings, number | null> {
    const { queue, dns, connect, tls, send, firstByte, download, total } = this;
    return { queue, dns, connect, tls, send, firstByte, download, total };
  }
}
