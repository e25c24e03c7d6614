/**
 * A per-second frame budget: how the session bounds frames that cost it work but carry
 * nothing (PING and SETTINGS, empty DATA, frames on closed streams).
 *
 * @module
 */

import { HTTP2FloodError } from "./errors.ts";

/** Counts events in one-second periods; one past `max` in a period is a flood. */
export class RateLimit {
  readonly #max: number;
  #count = 0;
  #period = 0;

  /** A budget of `max` events per second. */
  constructor(max: number) {
    this.#max = max;
  }

  /** Counts one `what`; throws `HTTP2FloodError` past the budget. */
  count(what: string): void {
    const now = Date.now();
    if (now - this.#period >= 1000) {
      this.#period = now;
      this.#count = 0;
    }
    if (++this.#count > this.#max) {
      throw new HTTP2FloodError(`Too many ${what} per second: ${this.#count}`);
    }
  }
}
