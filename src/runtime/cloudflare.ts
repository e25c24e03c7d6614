/**
 * The Cloudflare Workers adapter: `connect()` from `cloudflare:sockets`. Plain connections
 * are opened in `"starttls"` mode, so that {@linkcode CloudflareSocket.startTls} can later
 * turn one into TLS in place (after a proxy answered CONNECT).
 *
 * Workers verify certificates against the runtime's own trust store and against the host
 * name dialed. They cannot take extra roots, client certificates, `certReqs: "CERT_NONE"`,
 * `assertHostname: false`, or another name to verify (`serverHostname`; HTTPS through a
 * CONNECT proxy on another host): a connection that asks for one of those is refused with an
 * {@linkcode SSLError} before anything is sent. The module
 * `cloudflare:sockets` is imported on first use, so importing this file elsewhere is harmless.
 *
 * @example Requests from a Worker
 * ```ts ignore
 * import { PoolManager } from "@pooled/http";
 * import { cloudflareConnector } from "@pooled/http/runtime/cloudflare";
 *
 * export default {
 *   async fetch(): Promise<Response> {
 *     await using manager = new PoolManager({ connector: cloudflareConnector });
 *     const r = await manager.request("GET", "https://example.com/");
 *     return new Response(r.data, { status: r.status });
 *   },
 * };
 * ```
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
import { SSLError } from "../errors.ts";
import { abortReason, connectError, tlsError, toError } from "./_errors.ts";
import { hostPort } from "../_host.ts";

/**
 * The part of a `cloudflare:sockets` socket this adapter uses.
 *
 * @example The socket `connect()` returns in a Worker
 * ```ts
 * import type { WorkersSocket } from "@pooled/http/runtime/cloudflare";
 * function describe(socket: WorkersSocket): string {
 *   return socket.readable.locked ? "in use" : "free";
 * }
 * ```
 */
export interface WorkersSocket {
  /** Bytes from the peer. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer. */
  readonly writable: WritableStream<Uint8Array>;
  /** Resolves once connected (and, with `secureTransport: "on"`, once TLS is up). */
  readonly opened: Promise<unknown>;
  /** Resolves or rejects once the socket is closed. */
  readonly closed: Promise<void>;
  /** Closes both directions. */
  close(): Promise<void>;
  /** Upgrades a socket opened with `secureTransport: "starttls"` (to the host dialed). */
  startTls(): WorkersSocket;
}

/** `connect()` of `cloudflare:sockets`. */
type WorkersConnect = (
  address: { hostname: string; port: number },
  options?: { secureTransport?: "off" | "on" | "starttls"; allowHalfOpen?: boolean },
) => WorkersSocket;

const encoder = new TextEncoder();

/**
 * A {@linkcode Socket} on a Workers socket.
 *
 * @example Upgrade a tunnel after the proxy's 200
 * ```ts
 * import type { CloudflareSocket } from "@pooled/http/runtime/cloudflare";
 * async function upgrade(socket: CloudflareSocket) {
 *   socket.pause(); // from onData, once the proxy's answer is complete
 *   return await socket.startTls({
 *     serverName: "127.0.0.1",
 *     verify: true,
 *     checkHostname: true,
 *     minVersion: "TLSv1.2",
 *     alpnProtocols: ["http/1.1"],
 *   });
 * }
 * ```
 */
export class CloudflareSocket implements Socket {
  #raw: WorkersSocket;
  #hostname: string;
  #port: number;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #pull: PullReader<ReadableStreamReadResult<Uint8Array>>;
  #queuedBytes = 0;
  /**
   * Always null: Workers sockets do not report ALPN, so pools speak HTTP/1.1 on them (an
   * HTTP/2 session needs to know that the server agreed to it).
   */
  readonly alpnProtocol: string | null = null;

  /** Wraps an opened Workers socket to `hostname:port` and starts reading from it. */
  constructor(raw: WorkersSocket, hostname: string, port: number) {
    this.#raw = raw;
    this.#hostname = hostname;
    this.#port = port;
    const reader = this.#reader = raw.readable.getReader();
    this.#writer = raw.writable.getWriter();
    this.#pull = new PullReader({
      read: () => reader.read(),
      bytesOf: (result) => result.done ? null : result.value,
      close: () => void raw.close().catch(() => {}),
    });
  }

  /** True once the socket ended, failed, was closed or was handed to {@linkcode startTls}. */
  get closed(): boolean {
    return this.#pull.closed;
  }

  /** Installs the receiver of data, end and errors. */
  setHandler(handler: SocketHandler): void {
    this.#pull.handler = handler;
  }

  /** Queues bytes; `false` once more than the high-water mark waits to be sent. */
  write(data: Uint8Array | string): boolean {
    if (this.closed) {
      queueMicrotask(() =>
        this.#pull.handler.onWriteError(new Error("write after the socket closed"))
      );
      return false;
    }
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    this.#queuedBytes += bytes.length;
    this.#writer.write(bytes).then(
      () => {
        this.#queuedBytes -= bytes.length;
        if (this.#queuedBytes === 0) this.#pull.drainWaiters.release();
      },
      (error: unknown) => {
        this.#queuedBytes = 0;
        this.#pull.drainWaiters.release();
        if (!this.closed) {
          this.#pull.handler.onWriteError(toError(error));
        }
      },
    );
    return this.#queuedBytes < WRITE_HIGH_WATER_MARK;
  }

  /** Resolves once everything written so far was handed to the runtime. */
  drained(): Promise<void> {
    if (this.#queuedBytes === 0 || this.closed) return Promise.resolve();
    return this.#pull.drainWaiters.wait();
  }

  /** Holds incoming data back until {@linkcode resume}. */
  pause(): void {
    this.#pull.pause();
  }

  /** Delivers data again after {@linkcode pause}. */
  resume(): void {
    this.#pull.resume();
  }

  /** Closes both directions; the handler's `onEnd` is called once. */
  close(): void {
    this.#pull.close();
  }

  /** Does nothing: a Worker's life is its request's, not its sockets'. */
  unref(): void {}

  /** Does nothing: a Worker's life is its request's, not its sockets'. */
  ref(): void {}

  /**
   * Turns this plain connection into TLS in place (after a proxy answered CONNECT) and
   * returns the TLS socket; this one is closed without an `onEnd`, as it lives on inside
   * the new one. Workers can only upgrade streams with no read outstanding: call
   * {@linkcode pause} from `onData` once the proxy's answer is complete, then this. Settings
   * Workers cannot honour reject with an {@linkcode SSLError}.
   */
  async startTls(tls: TlsConnectOptions, signal?: AbortSignal): Promise<Socket> {
    const pull = this.#pull;
    if (pull.closed) {
      throw new SSLError(
        `TLS handshake with ${
          hostPort(this.#hostname, this.#port)
        } failed: the socket closed before TLS started`,
      );
    }
    if (pull.reading || !pull.paused) {
      throw new TypeError(
        "startTls needs a paused socket (pause() from onData) with no read pending",
      );
    }
    refuseUnsupportedTls(tls);
    refuseOtherName(tls, this.#hostname);
    pull.handOver();
    this.#reader.releaseLock();
    this.#writer.releaseLock();
    const secure = this.#raw.startTls();
    await waitOpen(secure, signal, (error) => tlsError(error, this.#hostname, this.#port));
    return new CloudflareSocket(secure, this.#hostname, this.#port);
  }
}

/** Rejects TLS settings that Workers' sockets cannot express. */
function refuseUnsupportedTls(tls: TlsConnectOptions): void {
  const unsupported = [
    !tls.verify && 'certReqs: "CERT_NONE"',
    !tls.checkHostname && "assertHostname: false",
    tls.assertHostname !== undefined && "assertHostname",
    tls.fingerprint !== undefined && "assertFingerprint",
    tls.minVersion === "TLSv1.3" && 'minVersion: "TLSv1.3"',
    tls.caCerts !== undefined && "caCerts",
    (tls.cert !== undefined || tls.key !== undefined) && "a client certificate",
  ].filter((setting): setting is string => typeof setting === "string");
  if (unsupported.length > 0) {
    throw new SSLError(
      `Cloudflare Workers sockets verify TLS against the runtime's trust store only and cannot take ${
        unsupported.join(", ")
      } (connecting to ${tls.serverName})`,
    );
  }
}

/**
 * Workers verify the certificate against the host name dialed: `startTls` rejects (workerd
 * and the Workers runtime) the `expectedServerHostname` option its typings declare.
 */
function refuseOtherName(tls: TlsConnectOptions, hostname: string): void {
  if (tls.serverName === hostname) return;
  throw new SSLError(
    `Cloudflare Workers sockets verify TLS against the host connected to (${hostname}) and cannot verify another name (${tls.serverName}): serverHostname and HTTPS through a CONNECT proxy on another host are not supported`,
  );
}

/** Waits until `raw` is open; closes it and rejects (with `wrap`) on failure or abort. */
async function waitOpen(
  raw: WorkersSocket,
  signal: AbortSignal | undefined,
  wrap: (error: unknown) => Error,
): Promise<void> {
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(abortReason(signal!));
    if (signal?.aborted) onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
  });
  try {
    await Promise.race([raw.opened, aborted]);
  } catch (error) {
    raw.close().catch(() => {});
    throw signal?.aborted ? abortReason(signal) : wrap(error);
  } finally {
    signal?.removeEventListener("abort", onAbort!);
  }
}

let loaded: Promise<WorkersConnect> | undefined;

function loadConnect(): Promise<WorkersConnect> {
  // A computed specifier: other runtimes and bundlers must not try to resolve it.
  const specifier = ["cloudflare", "sockets"].join(":");
  loaded ??= import(specifier).then((mod: { connect: WorkersConnect }) => mod.connect);
  return loaded;
}

/**
 * Opens sockets with `connect()` from `cloudflare:sockets` (Cloudflare Workers, workerd).
 * It is the default connector when `navigator.userAgent` is `"Cloudflare-Workers"`.
 *
 * @example Use the Workers adapter explicitly
 * ```ts ignore
 * import { HTTPConnectionPool } from "@pooled/http";
 * import { cloudflareConnector } from "@pooled/http/runtime/cloudflare";
 * const pool = new HTTPConnectionPool("127.0.0.1", { port: 8080, connector: cloudflareConnector });
 * await pool.close();
 * ```
 */
export const cloudflareConnector: Connector = {
  name: "cloudflare",
  async connect(options: ConnectOptions): Promise<Socket> {
    const { port, tls, signal } = options;
    if (options.path !== undefined) {
      throw new TypeError(
        `Cloudflare Workers sockets cannot connect to a Unix domain socket: ${
          JSON.stringify(options.path)
        }`,
      );
    }
    // Workers resolve names themselves: an address is only given by a pool's network options.
    const hostname = options.address ?? options.hostname;
    if (signal?.aborted) throw abortReason(signal);
    if (tls) {
      refuseUnsupportedTls(tls);
      refuseOtherName(tls, hostname);
    }
    const connect = await loadConnect();
    // Always "starttls": a plain socket may be upgraded later (CONNECT tunnels), and TLS
    // started after the TCP connect tells a TLS failure from a TCP one (with "on", workerd
    // reports both as "cannot connect to the specified address").
    const raw = connect({ hostname, port }, { secureTransport: "starttls", allowHalfOpen: false });
    await waitOpen(raw, signal, (error) => connectError(error, hostname, port, false));
    if (!tls) return new CloudflareSocket(raw, hostname, port);
    const secure = raw.startTls();
    await waitOpen(secure, signal, (error) => tlsError(error, hostname, port));
    return new CloudflareSocket(secure, hostname, port);
  },
  startTls(socket: Socket, options: StartTlsOptions): Promise<Socket> {
    if (!(socket instanceof CloudflareSocket)) {
      throw new TypeError("cloudflareConnector.startTls takes a socket it opened itself");
    }
    return socket.startTls(options.tls, options.signal);
  },
};
