/**
 * `HTTPConnection`: one slot of a pool and the socket it currently holds. As in urllib3,
 * the object outlives its sockets: when the server drops an idle connection, the same
 * object opens a new socket on its next request, so `numConnections` counts objects.
 *
 * @module
 */

import { ConnectTimeoutError } from "../errors.ts";
import type { Connector, Socket, SocketHandler, TlsConnectOptions } from "../runtime/socket.ts";
import { unrefTimer } from "../runtime/_unref_timer.ts";
import { Exchange, type ExchangeOwner } from "./exchange.ts";
import { type ParserLimits, ResponseParser } from "./response_parser.ts";
import type { RequestDescriptor } from "../request/_descriptor.ts";
import type { AttemptTimings } from "../_attempt_timings.ts";
import type { ProtocolConnection, ReleaseCallback } from "../pool/_protocol.ts";
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
  publishSendHeaders,
} from "../diagnostics/_undici_shapes.ts";
import { type ConnectionLifecycle, UNLIMITED } from "../pool/_lifecycle.ts";

/** Where a connection goes and how (the pool builds these for its connections). */
export interface ConnectionSettings {
  /** Host to connect to (IPv6 without brackets). */
  readonly hostname: string;
  /** Port to connect to. */
  readonly port: number;
  /** TLS settings for HTTPS, or undefined. */
  readonly tls?: TlsConnectOptions;
  /** The runtime adapter. */
  readonly connector: Connector;
  /** Response head limits. */
  readonly limits: ParserLimits;
  /** When the connection closes rather than carry on (default: never). */
  readonly lifecycle?: ConnectionLifecycle;
  /** Told when the socket of the idle connection closes or fails (the server dropped it). */
  readonly onIdleDrop?: () => void;
}

/**
 * The idle timeout, in ms, that a server's `Keep-Alive: timeout=N` (seconds) leaves us:
 * one second less, for the time the response took to reach us and for timers firing late,
 * but never less than half of it (so a short hint still allows reuse), and 0 for 0.
 */
function hintedIdleTimeout(seconds: number): number {
  const ms = seconds * 1000;
  return Math.max(ms - KEEP_ALIVE_MARGIN, ms / 2);
}

/** What {@linkcode hintedIdleTimeout} takes off a server's `Keep-Alive` timeout, in ms. */
const KEEP_ALIVE_MARGIN = 1_000;

/**
 * A reusable HTTP/1.1 connection: the HTTP/1.1 side of the protocol seam, carrying one
 * request at a time.
 */
export class HTTPConnection implements ProtocolConnection, SocketHandler, ExchangeOwner {
  /** Where it connects. */
  readonly settings: ConnectionSettings;
  /** Requests sent over the current socket. */
  requestsOnSocket = 0;
  #socket: Socket | null = null;
  #lifecycle: ConnectionLifecycle;
  #openedAt = 0;
  #idleDeadline = Infinity;
  #parser: ResponseParser;
  #exchange: Exchange | null = null;
  #onRelease: ReleaseCallback | null = null;
  // One timer serves every exchange on this connection: armed when a timeout is due sooner
  // than it fires, left running when an exchange ends (most end long before their timeout),
  // and when it fires it checks the current exchange and re-arms, or lapses when idle. A
  // timer per request would cost a setTimeout and a clearTimeout each (≈3 µs on Deno).
  // It never keeps the process alive: while an exchange runs, its socket does.
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerDue = Infinity;

  /** Creates a connection (no socket is opened until `connect`). */
  constructor(settings: ConnectionSettings) {
    this.settings = settings;
    this.#lifecycle = settings.lifecycle ?? UNLIMITED;
    this.#parser = new ResponseParser(settings.limits);
  }

  /** True while a socket is open. */
  get isConnected(): boolean {
    return this.#socket !== null && !this.#socket.closed;
  }

  /** True when the socket closed while the connection sat idle (detected before reuse). */
  get isDropped(): boolean {
    return this.#socket !== null && this.#socket.closed;
  }

  /**
   * When the idle connection must be closed (see `ProtocolConnection`): set as its last
   * exchange ended, from the pool's limits and the response's `Keep-Alive` hint.
   */
  get idleDeadline(): number {
    return this.#idleDeadline;
  }

  /**
   * 1, or null while it holds no socket and offers `h2` with ALPN (the server may pick
   * HTTP/2: the pool then moves the socket to an HTTP/2 connection).
   */
  get streamLimit(): number | null {
    return this.#socket === null && this.settings.tls?.alpnProtocols[0] === "h2" ? null : 1;
  }

  /** The protocol ALPN negotiated on the socket, or null. */
  get alpnProtocol(): string | null {
    return this.#socket?.alpnProtocol ?? null;
  }

  /**
   * Gives the open socket up (to an HTTP/2 connection, when ALPN chose `h2`): this object
   * holds no socket after.
   */
  detachSocket(): Socket {
    const socket = this.#socket!;
    this.#socket = null;
    return socket;
  }

  /** 1 while no exchange runs on it, 0 otherwise: HTTP/1.1 carries one at a time. */
  get capacity(): number {
    return this.#exchange === null ? 1 : 0;
  }

  /**
   * Opens a socket if there is none. `timeout` in ms bounds TCP and TLS set-up; `timings`
   * (when collected) gets the set-up's marks.
   */
  async connect(
    timeout: number | null,
    signal?: AbortSignal,
    timings?: AttemptTimings | null,
  ): Promise<void> {
    if (this.isConnected) return;
    this.close();
    const { hostname, port } = this.settings;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let connectSignal = signal;
    if (timeout !== null) {
      const controller = new AbortController();
      timer = setTimeout(
        () =>
          controller.abort(
            new ConnectTimeoutError(
              `Connection to ${hostname}:${port} timed out (connect timeout=${timeout} ms)`,
            ),
          ),
        timeout,
      );
      connectSignal = signal ? AbortSignal.any([signal, controller.signal]) : controller.signal;
    }
    if (clientBeforeConnect.hasSubscribers) publishBeforeConnect(this.settings);
    try {
      if (timings) timings.connectStartMark = performance.now();
      const socket = await this.settings.connector.connect({
        hostname,
        port,
        tls: this.settings.tls,
        signal: connectSignal,
        onPhase: timings?.onPhase,
      });
      if (timings) timings.connectEndMark = performance.now();
      // A socket that negotiated h2 goes to an HTTP/2 connection, which sets its handler:
      // what the server sends first (its SETTINGS) is held for it.
      if (socket.alpnProtocol !== "h2") socket.setHandler(this);
      this.#socket = socket;
      this.requestsOnSocket = 0;
      this.#openedAt = performance.now();
      if (clientConnected.hasSubscribers) {
        publishConnected(this.settings, socket, socket.alpnProtocol === "h2" ? "h2" : "h1");
      }
    } catch (error) {
      if (clientConnectError.hasSubscribers) publishConnectError(this.settings, error);
      throw error;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  /**
   * Sends a request on the open socket. The request hears when its response is ready (or
   * failed first); `onRelease` is called once when the exchange is over, saying whether
   * the socket may be reused.
   */
  dispatch(request: RequestDescriptor, onRelease: ReleaseCallback): void {
    const socket = this.#socket;
    if (socket === null) throw new TypeError("HTTPConnection.dispatch needs connect() first");
    this.#onRelease = onRelease;
    const reused = this.requestsOnSocket > 0;
    // A socket that served a request waited idle since, not holding the process: it does again.
    if (reused) socket.ref();
    if (clientSendHeaders.hasSubscribers) publishSendHeaders(request, this.settings, socket);
    const exchange = new Exchange(this, socket, this.#parser, request, reused);
    this.requestsOnSocket++;
    // The exchange may have failed at once (an already aborted signal).
    if (!exchange.finished) {
      this.#exchange = exchange;
      // The server closed the socket before the request could go out (between connect and
      // now, where Deno can see the close): end the exchange as that close would have, so
      // the caller meets the same ProtocolError as when the close comes after the write.
      if (socket.closed) exchange.end();
      else this.#watch(exchange.timeoutDue);
    }
  }

  /** Makes sure the timer fires by `due` (a `performance.now()` time). */
  #watch(due: number): void {
    if (due >= this.#timerDue) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerDue = due;
    this.#timer = setTimeout(this.#onTimer, Math.max(0, due - performance.now()));
    unrefTimer(this.#timer);
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.#timerDue = Infinity;
    const exchange = this.#exchange;
    if (exchange === null) return;
    exchange.checkTimeouts();
    if (this.#exchange === exchange) this.#watch(exchange.timeoutDue);
  };

  #stopTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerDue = Infinity;
  }

  /** Closes the socket (the object stays usable: its next request reconnects). */
  close(): void {
    const socket = this.#socket;
    this.#socket = null;
    this.#idleDeadline = Infinity;
    this.#stopTimer();
    socket?.close();
  }

  /** Called by the exchange when it is over. */
  exchangeDone(exchange: Exchange, reusable: boolean): void {
    if (this.#exchange === exchange) this.#exchange = null;
    if (reusable) reusable = this.#mayCarryMore(exchange);
    if (!reusable) this.close();
    // Idle until its next request: an idle socket must not keep the process alive.
    else if (this.#exchange === null) this.#socket?.unref();
    const release = this.#onRelease;
    this.#onRelease = null;
    release?.(this, reusable);
  }

  /**
   * False when the socket has carried all the requests it may (the pool's cap, or the
   * server's `Keep-Alive: max`) or reached its maximum age; otherwise sets when it must
   * close if left idle, and false when that is already now (an idle timeout of 0).
   */
  #mayCarryMore(exchange: Exchange): boolean {
    const lifecycle = this.#lifecycle;
    const head = exchange.head!;
    const sent = this.requestsOnSocket;
    const maxHint = head.keepAliveMax ?? -1;
    if (sent >= lifecycle.maxRequests || (maxHint !== -1 && sent >= maxHint)) return false;
    const now = performance.now();
    let idleTimeout = lifecycle.idleTimeout;
    const timeoutHint = head.keepAliveTimeout ?? -1;
    if (timeoutHint !== -1) idleTimeout = Math.min(idleTimeout, hintedIdleTimeout(timeoutHint));
    this.#idleDeadline = Math.min(now + idleTimeout, this.#openedAt + lifecycle.maxAge);
    return this.#idleDeadline > now;
  }

  /** Socket data: fed to the current exchange. */
  onData(chunk: Uint8Array): void {
    const exchange = this.#exchange;
    // Bytes while idle: the server is out of step with us, the socket cannot be trusted.
    if (exchange === null) return this.close();
    exchange.data(chunk);
  }

  /** Socket end: ends the current exchange. */
  onEnd(): void {
    const exchange = this.#exchange;
    // Closed while idle: nothing is left to time (the pool notices the drop on reuse).
    if (exchange === null) return this.#dropped();
    exchange.end();
  }

  /** Socket failure: fails the current exchange. */
  onError(error: Error): void {
    const exchange = this.#exchange;
    if (exchange === null) return this.#dropped();
    exchange.end(error);
  }

  /** The idle socket closed: no timer of ours or of the pool's need wait for it any more. */
  #dropped(): void {
    this.#stopTimer();
    if (this.#idleDeadline === Infinity) return;
    this.#idleDeadline = Infinity;
    this.settings.onIdleDrop?.();
  }

  /** A write failed: the exchange keeps reading for an early response. */
  onWriteError(error: Error): void {
    this.#exchange?.writeFailed(error);
  }
}
