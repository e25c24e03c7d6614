/**
 * `HTTP2Connection`: one slot of a pool holding an HTTP/2 session, the HTTP/2 side of
 * the protocol seam. It carries up to the session's stream limit of requests at once; as
 * `HTTPConnection`, the object outlives its sockets (a new session opens on its next
 * request once the last one ended).
 *
 * @module
 */

import { ConnectTimeoutError, ProtocolError } from "../errors.ts";
import type { Connector, Socket, TlsConnectOptions } from "../runtime/socket.ts";
import type { RequestDescriptor } from "../request/_descriptor.ts";
import type { AttemptTimings } from "../_attempt_timings.ts";
import type { ProtocolConnection, ReleaseCallback } from "../pool/_protocol.ts";
import { type ConnectionLifecycle, UNLIMITED } from "../pool/_lifecycle.ts";
import { HTTP2Session, type HTTP2SessionOptions } from "./session.ts";
import { HTTP2Exchange } from "./_exchange.ts";
import {
  clientBeforeConnect,
  clientConnected,
  clientConnectError,
  clientSendHeaders,
} from "../diagnostics/_channels.ts";
import {
  publishBeforeConnect,
  publishConnected,
  publishConnectError,
  publishHTTP2SendHeaders,
} from "../diagnostics/_undici_shapes.ts";

/** Where an HTTP/2 connection goes and how. */
export interface HTTP2ConnectionSettings {
  /** Host to connect to (IPv6 without brackets). */
  readonly hostname: string;
  /** Port to connect to. */
  readonly port: number;
  /** `"https"` (TLS with ALPN `h2`) or `"http"` (h2c with prior knowledge). */
  readonly scheme: string;
  /** TLS settings for HTTPS, or undefined. */
  readonly tls?: TlsConnectOptions;
  /** The runtime adapter. */
  readonly connector: Connector;
  /** The session's options (its stream limit, windows, header list size). */
  readonly session?: HTTP2SessionOptions;
  /** When the connection closes rather than carry on (default: never). */
  readonly lifecycle?: ConnectionLifecycle;
  /** Told when the session of the idle connection ends (the server closed it). */
  readonly onIdleDrop?: () => void;
  /**
   * Told when a SETTINGS frame after the server's first raised the session's stream limit:
   * more requests fit on the connection at once.
   */
  readonly onStreamLimitRaised?: (connection: HTTP2Connection) => void;
}

/** An HTTP/2 connection: one session at a time, many requests on it. */
export class HTTP2Connection implements ProtocolConnection {
  /** Where it connects. */
  readonly settings: HTTP2ConnectionSettings;
  #socket: Socket | null = null;
  #session: HTTP2Session | null = null;
  #lifecycle: ConnectionLifecycle;
  #openedAt = 0;
  #idleDeadline = Infinity;
  #active = new Map<HTTP2Exchange, ReleaseCallback>();
  #requestsOnSession = 0;

  /** Creates a connection (no socket is opened until `connect` or `adopt`). */
  constructor(settings: HTTP2ConnectionSettings) {
    this.settings = settings;
    this.#lifecycle = settings.lifecycle ?? UNLIMITED;
  }

  /** True while a session is open. */
  get isConnected(): boolean {
    return this.#session !== null && !this.#session.isClosed;
  }

  /** True when the session ended (the server closed it or sent GOAWAY) while idle. */
  get isDropped(): boolean {
    return this.#session !== null && this.#session.isClosed;
  }

  /** When the idle connection must be closed (see `ProtocolConnection`). */
  get idleDeadline(): number {
    return this.#idleDeadline;
  }

  /** How many more requests the session takes now (0 without a session). */
  get capacity(): number {
    return this.#session?.capacity ?? 0;
  }

  /**
   * The most requests it carries at once: the session's stream limit, 0 once it takes no
   * new stream (GOAWAY, closed, a request cap reached), null before a session is open.
   */
  get streamLimit(): number | null {
    const session = this.#session;
    if (session === null) return null;
    if (this.#requestsOnSession >= this.#lifecycle.maxRequests) return 0;
    if (performance.now() >= this.#openedAt + this.#lifecycle.maxAge) return 0;
    return session.streamLimit;
  }

  /** Streams in flight on it now. */
  get openStreams(): number {
    return this.#active.size;
  }

  /**
   * Opens a socket and starts a session if there is none; `timeout` in ms bounds TCP,
   * TLS and the wait for the server's SETTINGS.
   */
  async connect(
    timeout: number | null,
    signal?: AbortSignal,
    timings?: AttemptTimings | null,
  ): Promise<void> {
    if (this.isConnected) return;
    this.close();
    const { hostname, port, tls } = this.settings;
    const controller = new AbortController();
    const timer = timeout === null ? undefined : setTimeout(
      () =>
        controller.abort(
          new ConnectTimeoutError(
            `Connection to ${hostname}:${port} timed out (connect timeout=${timeout} ms)`,
          ),
        ),
      timeout,
    );
    const connectSignal = signal ? AbortSignal.any([signal, controller.signal]) : controller.signal;
    if (clientBeforeConnect.hasSubscribers) publishBeforeConnect(this.settings);
    let socket: Socket;
    try {
      if (timings) timings.connectStartMark = performance.now();
      socket = await this.settings.connector.connect({
        hostname,
        port,
        tls,
        signal: connectSignal,
        onPhase: timings?.onPhase,
      });
      if (timings) timings.connectEndMark = performance.now();
      if (tls !== undefined && socket.alpnProtocol !== "h2") {
        socket.close();
        throw new ProtocolError(
          `The server no longer negotiates HTTP/2: ${JSON.stringify(socket.alpnProtocol)}`,
        );
      }
    } catch (error) {
      if (timer !== undefined) clearTimeout(timer);
      if (clientConnectError.hasSubscribers) publishConnectError(this.settings, error);
      throw error;
    }
    if (clientConnected.hasSubscribers) publishConnected(this.settings, socket, "h2");
    try {
      await this.adopt(socket, null, connectSignal);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  /**
   * Starts a session on a connected socket (one that negotiated `h2`, or h2c) and
   * resolves once the server's SETTINGS are in, so that its stream limit is known; a
   * server silent for `timeout` ms (or an aborted `signal`) fails it.
   */
  adopt(socket: Socket, timeout: number | null = null, signal?: AbortSignal): Promise<void> {
    this.#socket = socket;
    this.#openedAt = performance.now();
    this.#requestsOnSession = 0;
    return new Promise((resolve, reject) => {
      const fail = (error: unknown) => {
        done();
        reject(error);
        session.close();
      };
      const onAbort = () => fail(signal!.reason);
      const timer = timeout === null ? undefined : setTimeout(
        () =>
          fail(
            new ConnectTimeoutError(
              `No HTTP/2 SETTINGS from ${this.settings.hostname}:${this.settings.port} (connect timeout=${timeout} ms)`,
            ),
          ),
        timeout,
      );
      const done = () => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      // The limit the server's last SETTINGS left (none before its first).
      let limit: number | null = null;
      const session: HTTP2Session = new HTTP2Session(socket, {
        ...this.settings.session,
        onSettings: () => {
          done();
          resolve();
          const before = limit;
          limit = session.streamLimit;
          if (before !== null && limit > before) this.settings.onStreamLimitRaised?.(this);
        },
        onClose: (error) => {
          done();
          reject(
            error ??
              new ProtocolError(
                `HTTP/2 session to ${this.settings.hostname}:${this.settings.port} ended before its SETTINGS`,
              ),
          );
          if (this.#session === session) this.#sessionEnded();
        },
      });
      this.#session = session;
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Sends a request on a new stream; `onRelease` is called once when it is over. */
  dispatch(request: RequestDescriptor, onRelease: ReleaseCallback): void {
    const session = this.#session;
    if (session === null) throw new TypeError("HTTP2Connection.dispatch needs connect() first");
    // A session that carried streams waited idle since, not holding the process: it does again.
    if (this.#active.size === 0) this.#socket!.ref();
    this.#idleDeadline = Infinity;
    const reused = this.#requestsOnSession++ > 0;
    if (clientSendHeaders.hasSubscribers) {
      publishHTTP2SendHeaders(request, this.settings, this.settings.scheme, this.#socket!);
    }
    const exchange = new HTTP2Exchange(
      session,
      request,
      this.settings.scheme,
      reused,
      this.#exchangeEnded,
    );
    // The exchange may have ended at once (an aborted signal, a closed session).
    if (!this.#ended.delete(exchange)) this.#active.set(exchange, onRelease);
    else onRelease(this, this.isConnected);
  }

  /** Exchanges that ended before `dispatch` could record them. */
  #ended = new Set<HTTP2Exchange>();

  readonly #exchangeEnded = (exchange: HTTP2Exchange): void => {
    const release = this.#active.get(exchange);
    if (release === undefined) {
      this.#ended.add(exchange);
      return;
    }
    this.#active.delete(exchange);
    if (this.#active.size === 0) this.#idle();
    release(this, this.isConnected);
  };

  /** No stream is left: the session may sit idle until its deadline, not holding the process. */
  #idle(): void {
    if (!this.isConnected) return;
    const now = performance.now();
    this.#idleDeadline = Math.min(
      now + this.#lifecycle.idleTimeout,
      this.#openedAt + this.#lifecycle.maxAge,
    );
    this.#socket!.unref();
  }

  /** The session ended: an idle connection tells its pool (nothing is left to time). */
  #sessionEnded(): void {
    if (this.#active.size > 0 || this.#idleDeadline === Infinity) return;
    this.#idleDeadline = Infinity;
    this.settings.onIdleDrop?.();
  }

  /** Closes the session and its socket (the object stays usable: it reconnects). */
  close(): void {
    const session = this.#session;
    this.#session = null;
    this.#socket = null;
    this.#idleDeadline = Infinity;
    session?.close();
  }
}
