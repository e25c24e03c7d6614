/**
 * The Bun adapter: `Bun.connect` with one shared handler table. Bun's `socket.write`
 * sends what the kernel accepts now and returns the count; the rest is kept here and
 * sent on `drain`, so writes never block and never reorder.
 *
 * TLS runs with `rejectUnauthorized: false` and the certificate is checked in the
 * `handshake` handler ({@linkcode verifyPeer}): Bun reports the chain verdict and hands
 * out the peer certificate, but ignores `checkServerIdentity`. A tunnel is upgraded with
 * Bun's `upgradeTLS`; TLS in TLS goes through `node:tls` ({@linkcode startTlsOverSocket}).
 * A host name is resolved and its addresses raced by the shared {@linkcode dial}: each
 * `Bun.connect` goes to one address (given a name, Bun would connect to all at once).
 *
 * @module
 */

import type {
  ConnectOptions,
  Connector,
  ConnectPhase,
  Socket,
  SocketHandler,
  StartTlsOptions,
  TlsConnectOptions,
  TlsVersion,
} from "./socket.ts";
import { IGNORE_EVENTS, WRITE_HIGH_WATER_MARK } from "./socket.ts";
import { DrainWaiters } from "./_drain_waiters.ts";
import { abortReason, connectError, tlsError } from "./_errors.ts";
import {
  loadTlsVerifier,
  type PeerCertificate,
  sniName,
  type TlsVerifier,
  verifyPeer,
} from "./_tls_verify.ts";
import { startTlsOverSocket } from "./_node_streams.ts";
import { lookupHost } from "./_lookup.ts";
import { dial } from "../network/_dialer.ts";
import { hostPort } from "../_host.ts";

/** The subset of Bun's socket this adapter uses. */
interface BunRawSocket {
  data: BunSocket | null;
  write(data: Uint8Array | string): number;
  end(): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  ref(): void;
  unref(): void;
  setNoDelay?(noDelay: boolean): void;
  getPeerCertificate?(): PeerCertificate | null;
  /** The protocol ALPN negotiated (a string, or false/null when none). */
  readonly alpnProtocol?: string | false | null;
  upgradeTLS?(options: Record<string, unknown>): [BunRawSocket, BunRawSocket];
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
  /** TLS settings, checked in the `handshake` handler; null for plain TCP. */
  tls: TlsConnectOptions | null;
  verifier: TlsVerifier | null;
  /** `host:port`, for messages. */
  where: string;
  /** Told when the TCP connection opens and when the handshake is done (timings). */
  onPhase?: (phase: ConnectPhase) => void;
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
  #drainWaiters = new DrainWaiters();
  /** True for a TLS socket (TLS on it again goes through `node:tls`). */
  readonly isTls: boolean;
  /** The protocol ALPN negotiated, or null (set when the handshake is done). */
  alpnProtocol: string | null = null;

  constructor(pending: PendingConnect) {
    this.pending = pending;
    this.isTls = pending.tls !== null;
  }

  get closed(): boolean {
    return this.#closed;
  }

  setHandler(handler: SocketHandler): void {
    this.handler = handler;
    if (this.#early !== null && handler !== IGNORE_EVENTS) queueMicrotask(this.#deliverEarly);
  }

  /** Chunks that came before any handler was set (a server that speaks first). */
  #early: Uint8Array[] | null = null;

  /** Holds a chunk for the first handler (the view is only valid now: copied). */
  holdEarly(chunk: Uint8Array): void {
    (this.#early ??= []).push(chunk.slice());
    this.raw?.pause();
  }

  /** Hands the chunks held before the first handler to it, and reads on. */
  readonly #deliverEarly = (): void => {
    const early = this.#early;
    this.#early = null;
    if (early === null || this.#closed) return;
    this.raw?.resume();
    for (const chunk of early) this.handler.onData(chunk);
  };

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
    this.#drainWaiters.release();
  }

  #failWrite(error: Error): void {
    this.#pendingWrites = [];
    this.#pendingHead = 0;
    this.#pendingBytes = 0;
    this.#drainWaiters.release();
    this.handler.onWriteError(error);
  }

  drained(): Promise<void> {
    if (this.#pendingBytes === 0 || this.#closed) return Promise.resolve();
    return this.#drainWaiters.wait();
  }

  pause(): void {
    this.raw?.pause();
  }

  resume(): void {
    this.raw?.resume();
  }

  unref(): void {
    this.raw?.unref();
  }

  ref(): void {
    this.raw?.ref();
  }

  /** Marks the socket closed; true if it was open. */
  markClosed(): boolean {
    if (this.#closed) return false;
    this.#closed = true;
    this.#drainWaiters.release();
    return true;
  }

  close(): void {
    if (!this.markClosed()) return;
    this.raw?.terminate();
    this.handler.onEnd();
  }

  /**
   * Hands the raw socket over (to `upgradeTLS`) when nothing is left to write; this
   * object then ignores the raw socket's events. Returns null otherwise.
   */
  detach(): BunRawSocket | null {
    const raw = this.raw;
    if (!raw || this.#closed || this.#pendingBytes > 0 || this.pending) return null;
    this.markClosed();
    this.handler = IGNORE_EVENTS;
    return raw;
  }
}

function settleOpen(socket: BunSocket): void {
  const pending = socket.pending;
  if (!pending || pending.tls) return;
  socket.pending = null;
  pending.resolve(socket);
}

/** The error to fail a finished handshake with, or null when the certificate passes. */
function handshakeFailure(
  raw: BunRawSocket,
  pending: PendingConnect,
  success: boolean,
  authorizationError: Error | null,
): Error | null {
  const peer = raw.getPeerCertificate?.() ?? null;
  const code = (authorizationError as { code?: string } | null)?.code ?? null;
  // No certificate at all: the handshake itself failed (a protocol version refused...).
  if (!success && !peer?.raw) return authorizationError ?? new Error("TLS handshake failed");
  const chainError = code === "ERR_TLS_CERT_ALTNAME_INVALID" ? null : code;
  return verifyPeer(pending.verifier!, pending.tls!, peer, chainError, pending.where);
}

const handlers = {
  open(raw: BunRawSocket) {
    const socket = raw.data!;
    if (socket.closed) return raw.terminate(); // aborted while connecting
    socket.raw = raw;
    raw.setNoDelay?.(true);
    socket.pending?.onPhase?.("connect");
    settleOpen(socket);
  },
  handshake(raw: BunRawSocket, success: boolean, authorizationError: Error | null) {
    const socket = raw.data!;
    const pending = socket.pending;
    if (!pending) return;
    socket.pending = null;
    const failure = handshakeFailure(raw, pending, success, authorizationError);
    if (failure) {
      socket.markClosed();
      raw.terminate();
      pending.reject(failure);
      return;
    }
    pending.onPhase?.("tls");
    socket.alpnProtocol = raw.alpnProtocol || null;
    pending.resolve(socket);
  },
  data(raw: BunRawSocket, chunk: Uint8Array) {
    const socket = raw.data!;
    if (socket.handler === IGNORE_EVENTS) {
      // A detached socket's events are ignored; an open one's are held for its first handler.
      if (!socket.closed) socket.holdEarly(chunk);
      return;
    }
    socket.handler.onData(chunk);
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

/** Bun takes the protocol version number (0x0303 is TLS 1.2, 0x0304 TLS 1.3). */
const TLS_VERSION_NUMBER: Record<TlsVersion, number> = { "TLSv1.2": 0x0303, "TLSv1.3": 0x0304 };

async function tlsSettings(tls: TlsConnectOptions): Promise<Record<string, unknown>> {
  return {
    // "" sends no SNI; leaving it out would send the IP address connected to.
    serverName: sniName(tls.serverName) ?? "",
    rejectUnauthorized: false,
    ca: tls.caCerts ? await withRootCertificates(tls.caCerts) : undefined,
    cert: tls.cert,
    key: tls.key,
    minVersion: TLS_VERSION_NUMBER[tls.minVersion],
    ALPNProtocols: alpnWireFormat(tls.alpnProtocols),
  };
}

/** What a connection attempt needs before it starts: TLS settings and the verifier. */
async function prepare(
  tls: TlsConnectOptions | undefined,
): Promise<{ settings?: Record<string, unknown>; verifier: TlsVerifier | null }> {
  if (!tls) return { verifier: null };
  const [settings, verifier] = await Promise.all([tlsSettings(tls), loadTlsVerifier()]);
  return { settings, verifier };
}

/**
 * Runs one connection set-up: `start` begins it with the fresh {@linkcode BunSocket},
 * whose `open`/`handshake`/`error` handlers settle it. `underlying` (a raw socket being
 * upgraded) is terminated too when the set-up fails or is aborted.
 */
async function establish(
  tls: TlsConnectOptions | undefined,
  verifier: TlsVerifier | null,
  where: { hostname: string; port: number; onPhase?: (phase: ConnectPhase) => void },
  signal: AbortSignal | undefined,
  start: (socket: BunSocket) => void,
  underlying?: BunRawSocket,
): Promise<BunSocket> {
  let socket!: BunSocket;
  const ready = new Promise<BunSocket>((resolve, reject) => {
    socket = new BunSocket({
      resolve,
      reject,
      tls: tls ?? null,
      verifier,
      where: hostPort(where.hostname, where.port),
      onPhase: where.onPhase,
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
    start(socket);
    return await ready;
  } catch (error) {
    underlying?.terminate();
    if (signal?.aborted) throw abortReason(signal);
    throw tls && socket.raw
      ? tlsError(error, where.hostname, where.port)
      : connectError(error, where.hostname, where.port, tls !== undefined);
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

/** Opens one connection to `options.path` or `options.address` (or `hostname`). */
async function connectOne(options: ConnectOptions): Promise<Socket> {
  const bun = (globalThis as { Bun?: BunApi }).Bun;
  if (!bun) throw new TypeError("bunConnector needs the Bun runtime (globalThis.Bun is missing)");
  const signal = options.signal;
  if (signal?.aborted) throw abortReason(signal);
  const { settings, verifier } = await prepare(options.tls);
  // Aborted while the settings were built: the abort listener would never fire.
  if (signal?.aborted) throw abortReason(signal);
  const endpoint = options.path !== undefined
    ? { unix: options.path }
    : { hostname: options.address ?? options.hostname, port: options.port };
  return establish(options.tls, verifier, options, signal, (socket) => {
    bun.connect({ ...endpoint, tls: settings, data: socket, socket: handlers })
      .catch((error: Error) => handlers.connectError({ data: socket } as BunRawSocket, error));
  });
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
  connect: (options: ConnectOptions): Promise<Socket> => dial(options, connectOne),
  async startTls(socket: Socket, options: StartTlsOptions): Promise<Socket> {
    const signal = options.signal;
    const native = socket instanceof BunSocket && !socket.isTls &&
      typeof socket.raw?.upgradeTLS === "function";
    if (!native) return startTlsOverSocket(socket, options);
    const { settings, verifier } = await prepare(options.tls);
    if (signal?.aborted) {
      socket.close();
      throw abortReason(signal);
    }
    const raw = (socket as BunSocket).detach();
    if (raw === null) return startTlsOverSocket(socket, options);
    return establish(options.tls, verifier, options, signal, (upgraded) => {
      // The plain half keeps `socket` as its data, whose events are now ignored.
      raw.upgradeTLS!({ tls: settings, data: upgraded, socket: handlers });
    }, raw);
  },
  lookup: lookupHost,
};
