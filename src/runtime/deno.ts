/**
 * The Deno adapter: `Deno.connect`, then `Deno.startTls` for HTTPS (which lets the TLS
 * name differ from the address connected to, for `serverHostname`).
 *
 * Deno's native TLS hands out no peer certificate and takes no client certificate,
 * version limit or other verification name, so those connections go through Deno's
 * built-in `node:tls` instead (verification off, `cert`/`key`, `assertFingerprint`,
 * `assertHostname` with a name, `minVersion: "TLSv1.3"`). So does every TLS set-up that
 * may be aborted (a connect timeout or a signal): closing a `Deno.TlsConn` whose
 * handshake is pending leaves its TCP socket open until the peer answers
 * (denoland/deno#14547), while `node:tls` closes it at once.
 *
 * @module
 */

import type {
  ConnectOptions,
  Connector,
  Socket,
  SocketHandler,
  StartTlsOptions,
  TlsConnectOptions,
} from "./socket.ts";
import { WRITE_HIGH_WATER_MARK } from "./socket.ts";
import { PullReader } from "./_pull_reader.ts";
import { BufferPool } from "./_buffer_pool.ts";
import { abortReason, connectError, tlsError, toError } from "./_errors.ts";
import { connectNodeStream, startTlsOverSocket } from "./_node_streams.ts";
import { lookupHost } from "./_lookup.ts";
import { dial } from "../network/_dialer.ts";

/** Each socket's own read buffer: what the read that waits on an idle connection holds. */
const SMALL_READ_SIZE = 4 * 1024;
/** A read that fills the small buffer goes on in a large one, shared between sockets. */
const largeReadBuffers = new BufferPool(256 * 1024, 8);
/**
 * Queued writes are copied together into one pooled buffer of this size and sent with one
 * write call; a piece larger than it goes out as it is.
 */
const WRITE_BUFFER_SIZE = 16 * 1024;
const writeBuffers = new BufferPool(WRITE_BUFFER_SIZE, 64);
const encoder = new TextEncoder();

class DenoSocket implements Socket {
  #conn: Deno.Conn;
  #pull: PullReader<number | null>;
  #smallBuffer = new Uint8Array(SMALL_READ_SIZE);
  #largeBuffer: Uint8Array | null = null;
  /** The buffer of the read in flight. */
  #readBuffer: Uint8Array = this.#smallBuffer;
  // Unsent pieces, oldest first from `#queueHead`; strings are ASCII (one byte per char).
  #queue: (Uint8Array | string)[] = [];
  #queueHead = 0;
  #queuedBytes = 0;
  #flushing = false;

  /** The TCP connection while no TLS runs on it (what `startTls` can take over). */
  #tcp: Deno.TcpConn | null;

  /** The protocol ALPN negotiated, or null. */
  readonly alpnProtocol: string | null;

  /**
   * Wraps `conn`; `tcp` is `conn` when it is a TCP connection without TLS, else null;
   * `alpnProtocol` what its TLS handshake negotiated.
   */
  constructor(conn: Deno.Conn, tcp: Deno.TcpConn | null, alpnProtocol: string | null = null) {
    this.#conn = conn;
    this.#tcp = tcp;
    this.alpnProtocol = alpnProtocol;
    this.#pull = new PullReader({
      read: () => {
        this.#readBuffer = this.#largeBuffer ?? this.#smallBuffer;
        return conn.read(this.#readBuffer);
      },
      bytesOf: (bytesRead) => bytesRead === null ? null : this.#readBuffer.subarray(0, bytesRead),
      delivered: (bytes) => this.#chooseReadBuffer(bytes.length),
      close: () => {
        try {
          conn.close();
        } catch {
          // Already closed by the runtime.
        }
      },
    });
  }

  get closed(): boolean {
    return this.#pull.closed;
  }

  setHandler(handler: SocketHandler): void {
    this.#pull.handler = handler;
  }

  /**
   * A full small buffer means more is waiting: read on in a large one. A read that did not
   * fill the large one emptied the kernel's buffer, so the burst is over: it goes back to
   * the shared pool (the data was handed on and copied by then). The read after the end of
   * a response is the one an idle connection waits in, and it holds only the 4 KiB buffer.
   */
  #chooseReadBuffer(bytesRead: number): void {
    const used = this.#readBuffer;
    if (used !== this.#largeBuffer) {
      if (bytesRead === used.length) this.#largeBuffer = largeReadBuffers.take();
    } else if (bytesRead < used.length) {
      this.#largeBuffer = null;
      largeReadBuffers.give(used);
    }
  }

  write(data: Uint8Array | string): boolean {
    if (this.closed) {
      queueMicrotask(() =>
        this.#pull.handler.onWriteError(new Error("write after the socket closed"))
      );
      return false;
    }
    this.#queue.push(data);
    this.#queuedBytes += data.length;
    if (!this.#flushing) {
      this.#flushing = true;
      // Wait one microtask so that a head and a body written together go out as one write.
      queueMicrotask(this.#flushQueued);
    }
    return this.#queuedBytes < WRITE_HIGH_WATER_MARK;
  }

  /** {@linkcode DenoSocket.#flush}, bound once rather than wrapped in a closure per write. */
  readonly #flushQueued = (): void => void this.#flush();

  async #flush(): Promise<void> {
    const buffer = writeBuffers.take();
    try {
      while (this.#queueHead < this.#queue.length && !this.closed) {
        const chunk = this.#takeCoalesced(buffer);
        let offset = 0;
        while (offset < chunk.length) {
          offset += await this.#conn.write(offset === 0 ? chunk : chunk.subarray(offset));
        }
        this.#queuedBytes -= chunk.length;
      }
    } catch (error) {
      this.#queuedBytes = 0;
      if (!this.closed) {
        this.#pull.handler.onWriteError(toError(error));
      }
    } finally {
      writeBuffers.give(buffer);
      this.#queue.length = 0;
      this.#queueHead = 0;
      this.#flushing = false;
      this.#pull.drainWaiters.release();
    }
  }

  /**
   * The next bytes to send: the queued pieces that fit, copied into `buffer` (no allocation
   * per request), or the first piece alone when it is too big. The buffer is only refilled
   * after the write of its previous contents has finished.
   */
  #takeCoalesced(buffer: Uint8Array): Uint8Array {
    const queue = this.#queue;
    const first = queue[this.#queueHead];
    if (first.length > WRITE_BUFFER_SIZE) {
      queue[this.#queueHead++] = "";
      return typeof first === "string" ? encoder.encode(first) : first;
    }
    let size = 0;
    while (this.#queueHead < queue.length) {
      const piece = queue[this.#queueHead];
      if (size + piece.length > WRITE_BUFFER_SIZE) break;
      if (typeof piece === "string") encoder.encodeInto(piece, buffer.subarray(size));
      else buffer.set(piece, size);
      size += piece.length;
      queue[this.#queueHead++] = "";
    }
    return buffer.subarray(0, size);
  }

  drained(): Promise<void> {
    if (!this.#flushing || this.closed) return Promise.resolve();
    return this.#pull.drainWaiters.wait();
  }

  pause(): void {
    this.#pull.pause();
  }

  resume(): void {
    this.#pull.resume();
  }

  close(): void {
    this.#pull.close();
  }

  // Deno applies this to the read in flight as well: an idle socket's pending read is what
  // would otherwise keep the process alive.
  unref(): void {
    this.#conn.unref();
  }

  ref(): void {
    this.#conn.ref();
  }

  /**
   * Hands the TCP connection over (to `Deno.startTls`) when nothing uses it: paused with
   * no read in flight and nothing left to write. Otherwise returns null and changes nothing.
   */
  detachTcp(): Deno.TcpConn | null {
    const pull = this.#pull;
    const idle = pull.paused && !pull.reading && !this.#flushing && !pull.closed;
    if (!idle || this.#tcp === null) return null;
    pull.handOver();
    return this.#tcp;
  }
}

async function connectTcp(options: ConnectOptions): Promise<Deno.TcpConn> {
  try {
    const conn = await Deno.connect({
      hostname: options.address ?? options.hostname,
      port: options.port,
      signal: options.signal,
    });
    conn.setNoDelay(true);
    // Deno.connect resolves the name itself: the lookup counts in the connect phase.
    options.onPhase?.("connect");
    return conn;
  } catch (error) {
    if (options.signal?.aborted) throw abortReason(options.signal);
    throw connectError(error, options.hostname, options.port, false);
  }
}

/** Opens a Unix domain socket (`path`). */
async function connectUnix(options: ConnectOptions & { path: string }): Promise<Deno.UnixConn> {
  if (options.signal?.aborted) throw abortReason(options.signal);
  try {
    return await Deno.connect({ transport: "unix", path: options.path });
  } catch (error) {
    throw connectError(error, options.path, options.port, false);
  }
}

/** Opens one connection to `options.path` or `options.address` (or `hostname`). */
async function connectOne(options: ConnectOptions): Promise<Socket> {
  const path = options.path;
  // TLS over a Unix socket, and TLS settings native TLS cannot express, go through node:tls.
  const native = nativeTlsCan(options.tls, options.signal) &&
    (path === undefined || options.tls === undefined);
  if (!native) return connectNodeStream(options);
  if (path !== undefined) return new DenoSocket(await connectUnix({ ...options, path }), null);
  const tcp = await connectTcp(options);
  if (!options.tls) return new DenoSocket(tcp, tcp);
  const [tls, alpnProtocol] = await upgradeToTls(tcp, options.tls, options);
  options.onPhase?.("tls");
  return new DenoSocket(tls, null, alpnProtocol);
}

/** Runs the TLS handshake natively; only for set-ups nothing can abort (see the module doc). */
async function upgradeToTls(
  conn: Deno.TcpConn,
  tls: TlsConnectOptions,
  where: { hostname: string; port: number },
): Promise<[Deno.TlsConn, string | null]> {
  let tlsConn: Deno.TlsConn | undefined;
  try {
    tlsConn = await Deno.startTls(conn, {
      hostname: tls.serverName,
      caCerts: tls.caCerts ? [...tls.caCerts] : undefined,
      alpnProtocols: [...tls.alpnProtocols],
      unsafelyDisableHostnameVerification: !tls.checkHostname,
    });
    const { alpnProtocol } = await tlsConn.handshake();
    return [tlsConn, alpnProtocol];
  } catch (error) {
    try {
      // `Deno.startTls` took the TCP resource over: only the TLS one can be closed then.
      (tlsConn ?? conn).close();
    } catch {
      // Already closed.
    }
    throw tlsError(error, where.hostname, where.port);
  }
}

/** True when Deno's native TLS can do what `tls` asks for, and nothing can abort it. */
function nativeTlsCan(tls: TlsConnectOptions | undefined, signal?: AbortSignal): boolean {
  if (!tls) return true;
  return tls.verify && tls.cert === undefined && tls.key === undefined &&
    tls.fingerprint === undefined && tls.assertHostname === undefined &&
    tls.minVersion === "TLSv1.2" && signal === undefined;
}

/**
 * Opens sockets with Deno's native API.
 *
 * @example Use the Deno adapter explicitly
 * ```ts ignore
 * import { denoConnector, HTTPConnectionPool } from "@pooled/http";
 * const pool = new HTTPConnectionPool("127.0.0.1", { port: 8080, connector: denoConnector });
 * await pool.close();
 * ```
 */
export const denoConnector: Connector = {
  name: "deno",
  connect: (options: ConnectOptions): Promise<Socket> => dial(options, connectOne),
  async startTls(socket: Socket, options: StartTlsOptions): Promise<Socket> {
    const tcp = socket instanceof DenoSocket && nativeTlsCan(options.tls, options.signal)
      ? socket.detachTcp()
      : null;
    if (tcp === null) return startTlsOverSocket(socket, options);
    const [tls, alpnProtocol] = await upgradeToTls(tcp, options.tls, options);
    return new DenoSocket(tls, null, alpnProtocol);
  },
  lookup: lookupHost,
};
