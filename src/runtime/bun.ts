/**
 * The Bun adapter: `Bun.connect` with one shared handler table. Bun's `socket.write`
 * sends what the kernel accepts now and returns the count; the rest is kept here and
 * sent on `drain`, so writes never block and never reorder.
 *
 * @module
 */

import type { ConnectOptions, Connector, Socket, SocketHandler } from "./socket.ts";
import { IGNORE_EVENTS, WRITE_HIGH_WATER_MARK } from "./socket.ts";
import { abortReason, connectError, tlsError } from "./_errors.ts";

/** The subset of Bun's socket this adapter uses. */
interface BunRawSocket {
  data: BunSocket | null;
  write(data: Uint8Array | string): number;
  end(): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  setNoDelay?(noDelay: boolean): void;
}

interface BunApi {
  connect(options: Record<string, unknown>): Promise<BunRawSocket>;
}

interface TlsModule {
  readonly rootCertificates: readonly string[];
}

let rootCertificates: Promise<readonly string[]> | undefined;

/** Bun's `ca` option replaces the trust store: keep the built-in roots and add the caller's. */
function withRootCertificates(extra: readonly string[]): Promise<string[]> {
  const name = "node:tls";
  rootCertificates ??= import(name).then((tls: TlsModule) => tls.rootCertificates);
  return rootCertificates.then((roots) => [...roots, ...extra]);
}

/** Settles the promise returned by `connect` once the socket is usable (or not). */
interface PendingConnect {
  resolve(socket: BunSocket): void;
  reject(error: Error): void;
  tls: boolean;
  verify: boolean;
  /** False for `assertHostname: false`: a name mismatch alone is accepted. */
  checkHostname: boolean;
}

class BunSocket implements Socket {
  raw: BunRawSocket | null = null;
  handler: SocketHandler = IGNORE_EVENTS;
  pending: PendingConnect | null;
  #closed = false;
  // Unsent bytes, oldest first; `#pendingHead` indexes the first one still queued.
  #pendingWrites: (Uint8Array | string)[] = [];
  #pendingHead = 0;
  #pendingBytes = 0;
  #drainWaiters: (() => void)[] = [];

  constructor(pending: PendingConnect) {
    this.pending = pending;
  }

  get closed(): boolean {
    return this.#closed;
  }

  setHandler(handler: SocketHandler): void {
    this.handler = handler;
  }

  write(data: Uint8Array | string): boolean {
    const raw = this.raw;
    if (this.#closed || !raw) {
      queueMicrotask(() => this.handler.onWriteError(new Error("write after the socket closed")));
      return false;
    }
    if (this.#pendingBytes === 0) {
      const written = raw.write(data);
      if (written === data.length) return true;
      if (written < 0) {
        this.#failWrite(new Error("socket write failed"));
        return false;
      }
      data = data.slice(written);
    }
    this.#pendingWrites.push(data);
    this.#pendingBytes += data.length;
    return this.#pendingBytes < WRITE_HIGH_WATER_MARK;
  }

  /** Sends queued bytes after Bun reported room in the kernel buffer. */
  flushPending(): void {
    const raw = this.raw;
    const queue = this.#pendingWrites;
    while (raw && this.#pendingHead < queue.length) {
      const data = queue[this.#pendingHead];
      const written = raw.write(data);
      if (written < 0) return this.#failWrite(new Error("socket write failed"));
      this.#pendingBytes -= Math.max(written, 0);
      if (written < data.length) {
        queue[this.#pendingHead] = data.slice(written);
        return;
      }
      queue[this.#pendingHead++] = "";
    }
    this.#pendingWrites = [];
    this.#pendingHead = 0;
    this.#releaseDrainWaiters();
  }

  #failWrite(error: Error): void {
    this.#pendingWrites = [];
    this.#pendingHead = 0;
    this.#pendingBytes = 0;
    this.#releaseDrainWaiters();
    this.handler.onWriteError(error);
  }

  #releaseDrainWaiters(): void {
    const waiters = this.#drainWaiters;
    if (waiters.length === 0) return;
    this.#drainWaiters = [];
    for (const resolve of waiters) resolve();
  }

  drained(): Promise<void> {
    if (this.#pendingBytes === 0 || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  pause(): void {
    this.raw?.pause();
  }

  resume(): void {
    this.raw?.resume();
  }

  /** Marks the socket closed; true if it was open. */
  markClosed(): boolean {
    if (this.#closed) return false;
    this.#closed = true;
    this.#releaseDrainWaiters();
    return true;
  }

  close(): void {
    if (!this.markClosed()) return;
    this.raw?.terminate();
    this.handler.onEnd();
  }
}

function settleOpen(socket: BunSocket): void {
  const pending = socket.pending;
  if (!pending || pending.tls) return;
  socket.pending = null;
  pending.resolve(socket);
}

const handlers = {
  open(raw: BunRawSocket) {
    const socket = raw.data!;
    if (socket.closed) return raw.terminate(); // aborted while connecting
    socket.raw = raw;
    raw.setNoDelay?.(true);
    settleOpen(socket);
  },
  handshake(raw: BunRawSocket, success: boolean, authorizationError: Error | null) {
    const socket = raw.data!;
    const pending = socket.pending;
    if (!pending) return;
    socket.pending = null;
    // Bun ignores `checkServerIdentity`: without the hostname check the chain is verified
    // here (rejectUnauthorized is off then), accepting a certificate whose only fault is
    // the name. A bad chain is reported before a name mismatch, so it is never hidden.
    const nameOnly = !pending.checkHostname &&
      (authorizationError as { code?: string } | null)?.code === "ERR_TLS_CERT_ALTNAME_INVALID";
    if (pending.verify && (!success || authorizationError) && !nameOnly) {
      socket.markClosed();
      raw.terminate();
      pending.reject(authorizationError ?? new Error("TLS handshake failed"));
      return;
    }
    pending.resolve(socket);
  },
  data(raw: BunRawSocket, chunk: Uint8Array) {
    raw.data!.handler.onData(chunk);
  },
  drain(raw: BunRawSocket) {
    raw.data!.flushPending();
  },
  end(raw: BunRawSocket) {
    const socket = raw.data!;
    if (socket.markClosed()) {
      raw.terminate();
      socket.handler.onEnd();
    }
  },
  close(raw: BunRawSocket, error?: Error) {
    const socket = raw.data!;
    const pending = socket.pending;
    if (pending) {
      socket.pending = null;
      socket.markClosed();
      pending.reject(error ?? new Error("connection closed during set-up"));
      return;
    }
    if (!socket.markClosed()) return;
    if (error) socket.handler.onError(error);
    else socket.handler.onEnd();
  },
  error(raw: BunRawSocket, error: Error) {
    const socket = raw.data!;
    const pending = socket.pending;
    if (pending) {
      socket.pending = null;
      socket.markClosed();
      raw.terminate();
      pending.reject(error);
      return;
    }
    if (!socket.markClosed()) return;
    raw.terminate();
    socket.handler.onError(error);
  },
  connectError(raw: BunRawSocket, error: Error) {
    const socket = raw.data!;
    const pending = socket.pending;
    if (!pending) return;
    socket.pending = null;
    socket.markClosed();
    pending.reject(error);
  },
};

/** ALPN protocol names as TLS puts them on the wire: each prefixed by its length. */
function alpnWireFormat(protocols: readonly string[]): ArrayBuffer {
  const bytes = new Uint8Array(protocols.reduce((size, name) => size + 1 + name.length, 0));
  let offset = 0;
  for (const name of protocols) {
    bytes[offset++] = name.length;
    for (let i = 0; i < name.length; i++) bytes[offset++] = name.charCodeAt(i);
  }
  return bytes.buffer;
}

async function tlsSettings(options: ConnectOptions): Promise<Record<string, unknown> | undefined> {
  const tls = options.tls;
  if (!tls) return undefined;
  return {
    serverName: tls.serverName,
    rejectUnauthorized: tls.verify && tls.checkHostname,
    ca: tls.caCerts ? await withRootCertificates(tls.caCerts) : undefined,
    cert: tls.cert,
    key: tls.key,
    ALPNProtocols: alpnWireFormat(tls.alpnProtocols),
  };
}

/**
 * Opens sockets with Bun's native `Bun.connect`.
 *
 * @example Use the Bun adapter explicitly
 * ```ts ignore
 * import { bunConnector, HTTPConnectionPool } from "@pooled/http";
 * const pool = new HTTPConnectionPool("127.0.0.1", { port: 8080, connector: bunConnector });
 * await pool.close();
 * ```
 */
export const bunConnector: Connector = {
  name: "bun",
  async connect(options: ConnectOptions): Promise<Socket> {
    const bun = (globalThis as { Bun?: BunApi }).Bun;
    if (!bun) throw new TypeError("bunConnector needs the Bun runtime (globalThis.Bun is missing)");
    const signal = options.signal;
    if (signal?.aborted) throw abortReason(signal);
    const tls = await tlsSettings(options);
    // Aborted while the settings were built: the listener below would never fire.
    if (signal?.aborted) throw abortReason(signal);
    let socket!: BunSocket;
    const ready = new Promise<BunSocket>((resolve, reject) => {
      socket = new BunSocket({
        resolve,
        reject,
        tls: tls !== undefined,
        verify: !!options.tls?.verify,
        checkHostname: options.tls?.checkHostname ?? true,
      });
    });
    const onAbort = () => {
      const pending = socket.pending;
      if (!pending) return;
      socket.pending = null;
      socket.markClosed();
      socket.raw?.terminate();
      pending.reject(abortReason(signal!));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      bun.connect({
        hostname: options.hostname,
        port: options.port,
        tls,
        data: socket,
        socket: handlers,
      }).catch((error: Error) => handlers.connectError({ data: socket } as BunRawSocket, error));
      return await ready;
    } catch (error) {
      if (signal?.aborted) throw abortReason(signal);
      throw tls && socket.raw
        ? tlsError(error, options.hostname, options.port)
        : connectError(error, options.hostname, options.port, tls !== undefined);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  },
};
