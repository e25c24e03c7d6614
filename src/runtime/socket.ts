/**
 * The one seam between the HTTP engine and a JavaScript runtime: a {@linkcode Connector}
 * opens {@linkcode Socket}s. The engine, pools and managers never touch a runtime API;
 * each runtime adapter (`deno.ts`, `bun.ts`, `node.ts`) implements these two interfaces.
 *
 * The socket is callback-driven (no promise per chunk): the adapter pushes bytes into
 * the {@linkcode SocketHandler} as they arrive.
 *
 * @module
 */

/**
 * Receives what happens on a socket. Set with {@linkcode Socket.setHandler}.
 *
 * @example Print what arrives
 * ```ts
 * import type { SocketHandler } from "@pooled/http";
 * const handler: SocketHandler = {
 *   onData: (chunk) => console.log(new TextDecoder().decode(chunk)),
 *   onEnd: () => console.log("closed"),
 *   onError: (error) => console.error(error),
 *   onWriteError: (error) => console.error(error),
 * };
 * ```
 */
export interface SocketHandler {
  /**
   * Bytes arrived. The view is only valid during the call: adapters may reuse the
   * memory behind it for the next read, so copy what must outlive the call.
   */
  onData(chunk: Uint8Array): void;
  /** The peer closed the connection (EOF) or the socket was closed locally. Called once. */
  onEnd(): void;
  /** Reading failed (for example a reset). `onEnd` is not called after it. */
  onError(error: Error): void;
  /**
   * Writing failed (for example a broken pipe). Reading may still deliver a response
   * the server sent before it stopped reading, so this does not end the socket.
   */
  onWriteError(error: Error): void;
}

/** TLS protocol versions a connection may be limited to. */
export type TlsVersion = "TLSv1.2" | "TLSv1.3";

/**
 * TLS settings for one connection, already resolved from the pool options.
 *
 * @example Verified TLS with an extra root
 * ```ts
 * import type { TlsConnectOptions } from "@pooled/http";
 * const tls: TlsConnectOptions = {
 *   serverName: "localhost",
 *   verify: true,
 *   checkHostname: true,
 *   minVersion: "TLSv1.2",
 *   caCerts: [],
 *   alpnProtocols: ["http/1.1"],
 * };
 * ```
 */
export interface TlsConnectOptions {
  /** Name sent as SNI and used to verify the certificate. */
  readonly serverName: string;
  /** Verify the certificate chain (`certReqs: "CERT_REQUIRED"`). */
  readonly verify: boolean;
  /**
   * Check the certificate's name (false for `assertHostname: false`, and when a
   * fingerprint is pinned: the pin replaces the name check, as in urllib3).
   */
  readonly checkHostname: boolean;
  /** The name the certificate must match when it is not `serverName` (`assertHostname`). */
  readonly assertHostname?: string;
  /**
   * The certificate's pinned digest (`assertFingerprint`): lower-case hex without colons,
   * 32 (MD5), 40 (SHA-1) or 64 (SHA-256) digits. Checked even without verification.
   */
  readonly fingerprint?: string;
  /** Oldest TLS version accepted. */
  readonly minVersion: TlsVersion;
  /** Extra trusted roots (PEM), added to the runtime's trust store. */
  readonly caCerts?: readonly string[];
  /** Client certificate chain (PEM). */
  readonly cert?: string;
  /** Client private key (PEM). */
  readonly key?: string;
  /** ALPN protocols to offer. */
  readonly alpnProtocols: readonly string[];
}

/**
 * Where and how to connect.
 *
 * @example A plain TCP connection with a deadline
 * ```ts
 * import type { ConnectOptions } from "@pooled/http";
 * const options: ConnectOptions = {
 *   hostname: "127.0.0.1",
 *   port: 8080,
 *   signal: AbortSignal.timeout(2_000),
 * };
 * ```
 */
export interface ConnectOptions {
  /**
   * Host name or IP literal (IPv6 without brackets): what TLS verifies when no `address`
   * is given, and what messages name.
   */
  readonly hostname: string;
  /** TCP port. */
  readonly port: number;
  /**
   * The IP address to connect to (IPv6 without brackets), already resolved and checked
   * against the address policy: a connector opens one connection to it and resolves
   * nothing. Without it, the adapters resolve `hostname` themselves (system resolver)
   * and race its addresses (Happy Eyeballs). A connector that wraps another must pass it on.
   */
  readonly address?: string;
  /**
   * A Unix domain socket to connect to instead of an address (`hostname` and `port` then
   * only name the connection in messages). Cloudflare Workers reject it with a `TypeError`.
   */
  readonly path?: string;
  /** TLS settings, or `undefined` for plain TCP. */
  readonly tls?: TlsConnectOptions;
  /** Aborts the connection attempt (connect timeout, caller's signal). */
  readonly signal?: AbortSignal;
  /**
   * Told as the set-up passes each of its phases (for `response.timings`), at the moment
   * the phase ends. An adapter reports what its runtime lets it see and skips the rest: a
   * phase not reported counts in the next one reported (or in the whole set-up). Set only
   * when timings are collected.
   */
  readonly onPhase?: (phase: ConnectPhase) => void;
}

/**
 * A phase of a connection's set-up, as {@linkcode ConnectOptions.onPhase} reports it:
 * `"lookup"` the host name was resolved, `"connect"` the TCP connection is open, `"tls"`
 * the TLS handshake is done (and the certificate checked).
 */
export type ConnectPhase = "lookup" | "connect" | "tls";

/** How to start TLS on a socket that is already open (a proxy tunnel). */
export interface StartTlsOptions {
  /** The host behind the tunnel, for messages. */
  readonly hostname: string;
  /** The port behind the tunnel, for messages. */
  readonly port: number;
  /** TLS settings for the host behind the tunnel. */
  readonly tls: TlsConnectOptions;
  /** Aborts the handshake (connect timeout, caller's signal). */
  readonly signal?: AbortSignal;
}

/**
 * An open, bidirectional byte stream.
 *
 * @example Send bytes on a socket from a connector
 * ```ts
 * import { defaultConnector } from "@pooled/http";
 * // A connection nobody accepts is refused with a typed error.
 * const refused = await defaultConnector().connect({ hostname: "127.0.0.1", port: 1 }).catch((e) => e);
 * console.log(refused.code); // "ERR_NEW_CONNECTION"
 * ```
 */
export interface Socket {
  /** Installs the receiver of data, end and errors. Replaces the previous one. */
  setHandler(handler: SocketHandler): void;
  /**
   * Queues bytes for sending; an ASCII string is sent as its bytes. Returns `false`
   * once more than a high-water mark is queued: the caller should await
   * {@linkcode Socket.drained} before writing more.
   */
  write(data: Uint8Array | string): boolean;
  /** Resolves when everything queued so far has been handed to the operating system. */
  drained(): Promise<void>;
  /** Stops delivering data (backpressure); the kernel buffers, then the peer waits. */
  pause(): void;
  /** Resumes delivering data after {@linkcode Socket.pause}. */
  resume(): void;
  /** Closes both directions at once. Safe to call more than once. */
  close(): void;
  /**
   * Lets the process exit while this socket is open, as `fetch` does with its idle
   * connections: called when the socket goes idle in a pool. Reading goes on (a peer that
   * closes the connection is still noticed).
   */
  unref(): void;
  /**
   * Keeps the process alive while this socket is open again (the default for a new socket):
   * called when an idle socket is taken for a request.
   */
  ref(): void;
  /** True once the socket ended, failed or was closed. */
  readonly closed: boolean;
  /**
   * The application protocol TLS negotiated with ALPN (`"h2"`, `"http/1.1"`), or null on
   * plain TCP, when the server chose none, or where the runtime cannot tell (Cloudflare
   * Workers).
   */
  readonly alpnProtocol: string | null;
}

/**
 * Opens sockets on one runtime. The `connector` pool option takes one.
 *
 * @example Count the connections a pool opens
 * ```ts
 * import { type Connector, defaultConnector, PoolManager } from "@pooled/http";
 * const inner = defaultConnector();
 * let opened = 0;
 * const counting: Connector = {
 *   name: inner.name,
 *   connect: (options) => {
 *     opened++;
 *     return inner.connect(options);
 *   },
 * };
 * await using manager = new PoolManager({ connector: counting });
 * console.log(opened); // 0: nothing was requested yet
 * ```
 */
export interface Connector {
  /** Short name of the runtime adapter, for messages (`"deno"`, `"bun"`, `"node"`). */
  readonly name: string;
  /**
   * Opens a connection. Rejects with a {@linkcode NewConnectionError},
   * {@linkcode NameResolutionError} or {@linkcode SSLError}, or with the signal's reason
   * when aborted; a rejected attempt leaves nothing open.
   */
  connect(options: ConnectOptions): Promise<Socket>;
  /**
   * Starts TLS on a socket this connector opened (a tunnel through a proxy), TLS in TLS
   * included. Takes `socket` over: use only the socket it resolves with; on failure
   * `socket` is closed. Rejects like {@linkcode Connector.connect}. Proxies through
   * connectors without it fail with {@linkcode ProxySchemeUnsupported}.
   */
  startTls?(socket: Socket, options: StartTlsOptions): Promise<Socket>;
  /**
   * Resolves a host name to one IP address (SOCKS4 and SOCKS5 resolve locally); `port`
   * is the port connected to on it (for a pool's `resolve` entries). Rejects with a
   * {@linkcode NameResolutionError}, or an `AddressNotAllowedError` when a pool's address
   * policy refuses every address.
   */
  lookup?(hostname: string, port?: number): Promise<string>;
}

/** A handler that drops every event: what a socket reports before its owner sets one. */
export const IGNORE_EVENTS: SocketHandler = {
  onData() {},
  onEnd() {},
  onError() {},
  onWriteError() {},
};

/** Bytes queued beyond which {@linkcode Socket.write} asks the caller to wait. */
export const WRITE_HIGH_WATER_MARK = 64 * 1024;
