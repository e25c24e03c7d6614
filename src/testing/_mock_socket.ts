/**
 * The socket a {@linkcode MockAgent} hands to the engine: it reads the HTTP/1.1 requests
 * written on it and answers each as its agent decides: with response bytes, with an error,
 * or by passing the request on to a real server.
 *
 * @module
 */

import { IGNORE_EVENTS, type Socket, type SocketHandler } from "../runtime/socket.ts";
import { encodeLatin1 } from "../http1/request_head.ts";
import { type ReadRequest, RequestReader } from "./_request_reader.ts";

/** How a request is answered. */
export type MockAction =
  | {
    readonly kind: "reply";
    readonly bytes: Uint8Array;
    readonly close: boolean;
    readonly delay: number;
  }
  | { readonly kind: "error"; readonly error: Error; readonly delay: number }
  | { readonly kind: "network" };

/** What a mock socket asks of its agent. */
export interface MockSocketOwner {
  /** Decides how to answer a request (may throw: the socket then fails with the error). */
  dispatch(request: ReadRequest): MockAction;
  /** Opens a real connection to the socket's origin (for requests that go to the network). */
  connectUpstream(): Promise<Socket>;
  /** The socket closed. */
  socketClosed(socket: MockSocket): void;
}

/** Response bytes are handed over in pieces of at most this size (so `pause` takes effect). */
const PIECE_SIZE = 16 * 1024;

/**
 * A fake connection: requests written on it are read and answered asynchronously (never
 * inside `write`), honouring `pause`/`resume`; requests that go to the network are passed
 * on to a real socket, opened when the first one needs it (or given at once).
 */
export class MockSocket implements Socket {
  #owner: MockSocketOwner;
  #handler: SocketHandler = IGNORE_EVENTS;
  #reader = new RequestReader();
  #closed = false;
  #paused = false;
  #requests: ReadRequest[] = [];
  #serving = false;
  #outbox: Uint8Array[] = [];
  #endAfterOutbox = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #upstream: Socket | null = null;
  #upstreamOpening: Promise<Socket> | null = null;
  /** Always null: a mock socket speaks HTTP/1.1. */
  readonly alpnProtocol: string | null = null;

  /** A socket answering for `owner`; `upstream`: a real connection already open. */
  constructor(owner: MockSocketOwner, upstream: Socket | null = null) {
    this.#owner = owner;
    if (upstream !== null) this.#attach(upstream);
  }

  get closed(): boolean {
    return this.#closed;
  }

  setHandler(handler: SocketHandler): void {
    this.#handler = handler;
  }

  write(data: Uint8Array | string): boolean {
    if (this.#closed) {
      queueMicrotask(() => this.#handler.onWriteError(new Error("write after the socket closed")));
      return false;
    }
    const bytes = typeof data === "string" ? encodeLatin1(data) : data;
    let done: ReadRequest[];
    try {
      done = this.#reader.push(bytes);
    } catch (error) {
      queueMicrotask(() => this.#fail(error as Error));
      return true;
    }
    if (done.length > 0) {
      this.#requests.push(...done);
      queueMicrotask(() => this.#serveNext());
    }
    return true;
  }

  drained(): Promise<void> {
    // Written bytes are read at once: nothing is ever queued.
    return Promise.resolve();
  }

  pause(): void {
    this.#paused = true;
    this.#upstream?.pause();
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#upstream?.resume();
    queueMicrotask(() => this.#flush());
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop();
    this.#handler.onEnd();
  }

  // A mock connection holds nothing open; a real one behind it lets the process exit when idle.
  ref(): void {
    this.#upstream?.ref();
  }

  unref(): void {
    this.#upstream?.unref();
  }

  /** Ends the socket's activity: timer, outbox, upstream. */
  #stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#outbox = [];
    this.#requests = [];
    const upstream = this.#upstream;
    this.#upstream = null;
    if (upstream !== null) {
      upstream.setHandler(IGNORE_EVENTS);
      upstream.close();
    }
    this.#owner.socketClosed(this);
  }

  /** Fails the socket with `error`, as a reset would. */
  #fail(error: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop();
    this.#handler.onError(error);
  }

  /** The peer closed the connection. */
  #end(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop();
    this.#handler.onEnd();
  }

  #serveNext(): void {
    if (this.#serving || this.#closed) return;
    const request = this.#requests.shift();
    if (request === undefined) return;
    this.#serving = true;
    let action: MockAction;
    try {
      action = this.#owner.dispatch(request);
    } catch (error) {
      return this.#fail(error as Error);
    }
    if (action.kind === "network") return this.#passOn(request);
    this.#after(action.delay, () => {
      if (action.kind === "error") return this.#fail(action.error);
      for (let at = 0; at < action.bytes.length; at += PIECE_SIZE) {
        this.#outbox.push(action.bytes.subarray(at, at + PIECE_SIZE));
      }
      this.#endAfterOutbox = action.close;
      this.#flush();
    });
  }

  /** Runs `then` after `ms` (from a microtask when 0: never inside the caller). */
  #after(ms: number, then: () => void): void {
    if (ms <= 0) return queueMicrotask(then);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      then();
    }, ms);
  }

  /** Hands over the response bytes while not paused; the next request goes after them. */
  #flush(): void {
    while (!this.#paused && !this.#closed && this.#outbox.length > 0) {
      this.#handler.onData(this.#outbox.shift()!);
    }
    if (this.#closed || this.#outbox.length > 0 || !this.#serving) return;
    if (this.#endAfterOutbox) return this.#end();
    this.#serving = false;
    this.#serveNext();
  }

  /** Sends a request to the real server (connecting first if needed). */
  #passOn(request: ReadRequest): void {
    const send = (upstream: Socket) => {
      if (this.#closed) return;
      upstream.write(request.raw);
      // The answer comes from upstream; the engine writes the next request after it.
      this.#serving = false;
      this.#serveNext();
    };
    if (this.#upstream !== null) return send(this.#upstream);
    this.#upstreamOpening ??= this.#owner.connectUpstream();
    this.#upstreamOpening.then((upstream) => {
      if (this.#closed) return upstream.close();
      if (this.#upstream === null) this.#attach(upstream);
      send(upstream);
    }, (error) => this.#fail(error));
  }

  /** Forwards what happens on the real socket to this one's handler. */
  #attach(upstream: Socket): void {
    this.#upstream = upstream;
    if (this.#paused) upstream.pause();
    upstream.setHandler({
      onData: (chunk) => this.#handler.onData(chunk),
      onEnd: () => this.#end(),
      onError: (error) => this.#fail(error),
      onWriteError: (error) => this.#handler.onWriteError(error),
    });
  }
}
