/**
 * The hold of a response on its pooled connection: a streamed response (or one made with
 * `releaseConn: false`) keeps its connection until its body is read to its end, released,
 * drained or closed, as in urllib3; the pool counts it in use meanwhile.
 *
 * @module
 */

import type { BodySource } from "../body/_body_source.ts";
import type { ResponseHold } from "../request/_descriptor.ts";
import type { ConnectionHold } from "../response.ts";
import type { ProtocolConnection, ReleaseCallback } from "./_protocol.ts";

/** A pool's connections held by responses, and the error that ended them when it closed. */
export interface Holds {
  readonly held: Set<HeldConnection>;
  /** Set when the pool closed: a response made after that gives its connection up at once. */
  closedBy: Error | null;
}

/**
 * The hold of a response on its connection (streamed, or made with `releaseConn: false`):
 * the connection goes back to its pool once both the exchange and the response are done
 * with it. Only such attempts make one; a default (preloaded) exchange gives its
 * connection straight back when it ends.
 */
export class HeldConnection implements ConnectionHold, ResponseHold {
  /** Why the pool took the connection back early, or null. */
  error: Error | null = null;
  /** The body source of the response, once its head is in. */
  source: BodySource | null = null;
  /** Told when the exchange ends, in place of the pool. */
  readonly onExchangeEnd: ReleaseCallback = (_, reusable) => this.#ended(reusable);
  #connection: ProtocolConnection;
  #putConn: ReleaseCallback;
  #holds: Holds;
  #releaseOnEnd: boolean;
  #exchangeEnded = false;
  #reusable = false;
  #released = false;
  #closeOnReturn = false;
  #returned = false;

  /**
   * Holds `connection` of `holds`'s pool, to give back with `putConn`; with `releaseOnEnd`
   * as soon as the exchange ends, otherwise once the response lets it go too.
   */
  constructor(
    connection: ProtocolConnection,
    putConn: ReleaseCallback,
    holds: Holds,
    releaseOnEnd: boolean,
  ) {
    this.#connection = connection;
    this.#putConn = putConn;
    this.#holds = holds;
    this.#releaseOnEnd = releaseOnEnd;
  }

  /** This hold for a new response, known to the pool; null when nothing is held any more. */
  take(): ConnectionHold | null {
    if (this.#returned) return null;
    const holds = this.#holds;
    holds.held.add(this);
    if (holds.closedBy !== null) this.abandon(holds.closedBy);
    return this;
  }

  get heldConnection(): ProtocolConnection | null {
    return this.#returned ? null : this.#connection;
  }

  /** The exchange ended on the wire; the connection goes back if the response let it go. */
  #ended(reusable: boolean): void {
    this.#exchangeEnded = true;
    this.#reusable = reusable;
    if (!reusable || this.#released || this.#releaseOnEnd) this.#return();
  }

  release(close: boolean): void {
    if (this.#released) return;
    this.#released = true;
    this.#closeOnReturn = close;
    if (this.#exchangeEnded) return this.#return();
    // Still arriving, or awaited by its decoder: ending it now returns a closed connection.
    const source = this.source!;
    if (source.finished) source.decodingEnded(false);
    else source.cancel();
  }

  /** The pool closed: the connection closes now, and the rest of the body fails with `error`. */
  abandon(error: Error): void {
    this.error = error;
    // A reader waiting for bytes hears the error at once.
    if (!this.#exchangeEnded) this.source!.fail(error);
    this.release(true);
  }

  #return(): void {
    if (this.#returned) return;
    this.#returned = true;
    this.#holds.held.delete(this);
    this.#putConn(this.#connection, this.#reusable && !this.#closeOnReturn);
  }
}
