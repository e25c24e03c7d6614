/**
 * `HTTPConnectionPool` and `HTTPSConnectionPool`: a bounded set of keep-alive
 * connections to one origin, as in urllib3. `maxSize` connections are kept for reuse
 * (most recently used first); with `block: true` it also caps the open ones and callers
 * wait up to `poolTimeout` for a free one.
 *
 * @module
 */

import {
  ClosedPoolError,
  EmptyPoolError,
  HostChangedError,
  LocationValueError,
} from "../errors.ts";
import { HTTPHeaderDict } from "../headers.ts";
import { HTTPConnection } from "../http1/connection.ts";
import { HTTP2Connection } from "../http2/connection.ts";
import type { HTTP2SessionOptions } from "../http2/session.ts";
import { RequestHeadWriter } from "../http1/_head_writer.ts";
import { hostHeaderValue } from "../_request_headers.ts";
import { DEFAULT_PARSER_LIMITS, type ParserLimits } from "../http1/response_parser.ts";
import type { RequestDescriptor } from "../request/_descriptor.ts";
import type { Dispatcher, Router } from "../request/_dispatcher.ts";
import { runRequest } from "../request/_request_loop.ts";
import {
  type RequestHeaders,
  RequestMethods,
  type UrlopenOptions,
} from "../request/request_methods.ts";
import type { HTTPResponse } from "../response.ts";
import { Retry } from "../policy/retry.ts";
import { Timeout } from "../policy/timeout.ts";
import { defaultPortFor, encodeTarget, parseUrl } from "../url.ts";
import { redactUrl } from "../_redact.ts";
import { defaultConnector } from "../runtime/default.ts";
import type { Connector, TlsConnectOptions } from "../runtime/socket.ts";
import { resolveTls, type TlsOptions } from "./tls_options.ts";
import { HeldConnection, type Holds } from "./_held_connection.ts";
import type { ProtocolConnection, ReleaseCallback } from "./_protocol.ts";
import { ConnectionSlots } from "./_slots.ts";
import { type ConnectionLifecycle, lifecycleOf } from "./_lifecycle.ts";
import { checkBoolean, checkPort, checkPositiveInteger } from "../_validate.ts";
import type { PoolStats } from "./pool_stats.ts";
import type { Hooks } from "../request/hooks.ts";
import { checkHooks } from "../request/_hook_runner.ts";
import { unbracketHost } from "../_host.ts";
import type { NetworkOptions } from "../network/network_options.ts";
import { dialSettings } from "../network/_dialer.ts";
import { networkConnector } from "../network/_network_connector.ts";
import { requestCreate } from "../diagnostics/_channels.ts";
import { publishRequestCreate } from "../diagnostics/_undici_shapes.ts";

/** Options of a connection pool (and, through the manager, of every pool it creates). */
export interface ConnectionPoolOptions extends TlsOptions, NetworkOptions {
  /** Port (default 80 for HTTP, 443 for HTTPS). */
  port?: number;
  /** Timeouts in ms for every request (a `Timeout` or one number). Default: none. */
  timeout?: Timeout | number | null;
  /** Connections kept for reuse; with `block`, also the most open at once. Default 1. */
  maxSize?: number;
  /** Wait for a free connection instead of opening more than `maxSize`. Default false. */
  block?: boolean;
  /** Default wait in ms for a connection from a blocking pool (default: forever). */
  poolTimeout?: number | null;
  /** Headers sent with every request (request headers are merged over them). */
  headers?: RequestHeaders;
  /** Default retry policy (default `Retry.DEFAULT`: 3 retries). */
  retries?: Retry | number | boolean | null;
  /** The runtime adapter (default: the current runtime's). */
  connector?: Connector;
  /**
   * Largest body accepted, in decoded bytes; more raises `ResponseTooLargeError` and closes
   * the connection.
   */
  maxResponseSize?: number | null;
  /** Largest response head, in bytes (default 65536). */
  maxHeaderSize?: number;
  /** Most header lines in a response head (default 128). */
  maxHeaderCount?: number;
  /**
   * Sends every request in absolute-form (`GET http://host/path`) with the target's
   * `Host`: the pool then talks to a forwarding proxy, for any origin. `ProxyManager`
   * makes such pools. Default false.
   */
  forwardToProxy?: boolean;
  /**
   * With `forwardToProxy`: headers for the proxy itself (`Proxy-Authorization`...), added
   * to every request after the pool's and the request's own, overriding them; a redirect
   * never removes them.
   */
  proxyHeaders?: RequestHeaders;
  /**
   * Ms an idle connection is kept before its socket is closed (default 4000, as undici's
   * `keepAliveTimeout`; `null`: kept until the server closes it; 0: never reused). A
   * server's `Keep-Alive: timeout=N` lowers it for that connection to N seconds less one
   * (but not under N / 2), so the client closes before the server does. One timer per
   * pool closes expired connections; a connection found expired when taken is not reused.
   */
  idleTimeout?: number | null;
  /**
   * Requests one socket carries before it is closed, after the exchange that reaches the
   * count (default `null`: no limit). A server's `Keep-Alive: max=N` caps it likewise.
   */
  maxRequestsPerConnection?: number | null;
  /**
   * Ms after a socket opened beyond which it carries no further request: it is closed after
   * the exchange during which the age is reached, or when reached while idle (default
   * `null`: no limit). Long-lived connections then pick up DNS changes.
   */
  maxConnectionAge?: number | null;
  /**
   * Functions run at fixed points of every request (see {@linkcode Hooks}): arrays, run in
   * order. Pools of a manager share one when the same object is given.
   */
  hooks?: Hooks;
  /**
   * Collect `response.timings` (the phases of each request, from `performance.now()`);
   * a request's own `timings` option wins. Default false.
   */
  timings?: boolean;
  /**
   * Offer HTTP/2 with ALPN on TLS connections (`h2` before `http/1.1`; the server picks),
   * through CONNECT and SOCKS tunnels as well. Default true. `false` offers only HTTP/1.1.
   * Pools that forward to a proxy (plain `http://` through an HTTP proxy) always speak
   * HTTP/1.1.
   */
  http2?: boolean;
  /**
   * Speak HTTP/2 without negotiation (h2c, "prior knowledge") on plain `http://`
   * connections: for servers known to take it. Default false.
   */
  http2PriorKnowledge?: boolean;
  /**
   * The most requests one HTTP/2 connection carries at once (default 100); the server's
   * `SETTINGS_MAX_CONCURRENT_STREAMS` lowers it. A new connection opens only when every
   * open one is full.
   */
  maxConcurrentStreams?: number;
}

export type { PoolStats } from "./pool_stats.ts";

/** What a manager and the request loop use of a pool, beyond its public API. */
export interface PoolInternals extends Dispatcher {
  /**
   * The manager dropped the pool (LRU eviction, `clear()`). It stays usable by whoever
   * holds it, as in urllib3, but keeps no socket while unused: its idle connections close
   * whenever no request runs on it. Requests running on it, their retries and redirects
   * included, go on reusing its connections meanwhile.
   */
  retire(): void;
}

let internalsOf: (pool: ConnectionPool) => PoolInternals;

/** The internal face of `pool` (for the manager; not part of the public API). */
export function poolInternals(pool: ConnectionPool): PoolInternals {
  return internalsOf(pool);
}

/**
 * A pool of connections to one origin. Use {@linkcode HTTPConnectionPool} or
 * {@linkcode HTTPSConnectionPool}.
 */
export abstract class ConnectionPool extends RequestMethods {
  /** `"http"` or `"https"`. */
  abstract readonly scheme: "http" | "https";
  /** True for a pool of a forwarding proxy (option `forwardToProxy`). */
  readonly forwardToProxy: boolean;
  /** Host name or IP literal (IPv6 in brackets). */
  readonly host: string;
  /** Port. */
  readonly port: number;
  /** Connections kept for reuse. */
  readonly maxSize: number;
  /** Whether `maxSize` also caps the open connections. */
  readonly block: boolean;
  /** Default timeouts. */
  readonly timeout: Timeout;
  /** Default retry policy. */
  readonly retries: Retry;
  /**
   * Headers sent with every request (request headers are merged over them). A change
   * made through its methods (`set`, `add`, `extend`, `delete`) applies to the requests
   * that start after it, as with urllib3's mutable `pool.headers`.
   */
  readonly headers: HTTPHeaderDict;
  /** Connection objects created (a reconnect of a dropped one is not counted). */
  numConnections = 0;
  /** Requests sent. */
  numRequests = 0;

  #options: ConnectionPoolOptions;
  #connector: Connector;
  #limits: ParserLimits;
  #slots: ConnectionSlots<ProtocolConnection>;
  #internals: PoolInternals;
  #closed = false;
  #retiring = false;
  #activeCalls = 0;
  /** Connections opening a socket for a request (counted in use, not yet running). */
  #connecting = 0;
  /** Attempts whose responses hold their connections (streamed, or `releaseConn: false`). */
  #holds: Holds = { held: new Set(), closedBy: null };
  #poolTimeout: number | null;
  #maxResponseSize: number | null;
  #netlocValue: string | null = null;
  #lastPath = "";
  #lastTarget = "";
  #heads: RequestHeadWriter | null = null;
  #tls: TlsConnectOptions | undefined;
  #proxyHeaders: HTTPHeaderDict;
  #lifecycle: ConnectionLifecycle;
  #session: HTTP2SessionOptions;

  /**
   * Creates a pool.
   *
   * @param host Host name or IP literal.
   * @param options Pool options.
   * @param defaultPort The scheme's default port.
   */
  constructor(host: string, options: ConnectionPoolOptions = {}, defaultPort: number) {
    super();
    if (typeof host !== "string" || host === "") throw new LocationValueError("No host specified");
    // The host goes into the Host header: a control character or space would split it.
    // deno-lint-ignore no-control-regex
    const bad = /[\x00-\x20\x7f]/.exec(host);
    if (bad !== null) {
      throw new LocationValueError(
        `Invalid host ${JSON.stringify(host)}: it contains ${JSON.stringify(bad[0])}`,
      );
    }
    this.host = host.toLowerCase();
    this.port = checkPort("port", options.port ?? defaultPort);
    this.maxSize = checkPositiveInteger("maxSize", options.maxSize ?? 1);
    this.block = options.block ?? false;
    this.timeout = Timeout.from(options.timeout);
    this.retries = Retry.fromInt(options.retries ?? null);
    this.headers = new HTTPHeaderDict(options.headers);
    this.forwardToProxy = options.forwardToProxy ?? false;
    this.#proxyHeaders = new HTTPHeaderDict(options.proxyHeaders);
    this.#options = options;
    // Network options are checked here, at once, and applied to every connection.
    this.#connector = networkConnector(
      options.connector ?? defaultConnector(),
      dialSettings(options),
    );
    this.#limits = {
      maxHeaderSize: options.maxHeaderSize ?? DEFAULT_PARSER_LIMITS.maxHeaderSize,
      maxHeaderCount: options.maxHeaderCount ?? DEFAULT_PARSER_LIMITS.maxHeaderCount,
    };
    this.#poolTimeout = options.poolTimeout ?? null;
    this.#maxResponseSize = options.maxResponseSize ?? null;
    this.#lifecycle = lifecycleOf(options);
    this.#session = {
      maxConcurrentStreams: checkPositiveInteger(
        "maxConcurrentStreams",
        options.maxConcurrentStreams ?? 100,
      ),
    };
    checkBoolean("http2", options.http2 ?? true);
    checkBoolean("http2PriorKnowledge", options.http2PriorKnowledge ?? false);
    this.#slots = new ConnectionSlots(this.maxSize, this.block, () => this.#newConn());
    this.#internals = {
      pool: this,
      timeout: this.timeout,
      headers: this.headers,
      hooks: checkHooks(options.hooks),
      timings: options.timings ?? false,
      dispatch: (request) => this.#dispatch(request),
      hold: () => this.#activeCalls++,
      unhold: () => {
        this.#activeCalls--;
        this.#closeIfRetired();
      },
      retire: () => {
        this.#retiring = true;
        this.#closeIfRetired();
      },
    };
  }

  static {
    internalsOf = (pool) => pool.#internals;
  }

  /** The options the pool was made with. */
  get options(): Readonly<ConnectionPoolOptions> {
    return this.#options;
  }

  /** The host to connect to: without IPv6 brackets. */
  get hostname(): string {
    return unbracketHost(this.host);
  }

  /**
   * Connection and request counts now: pooled's (`idle`, `inUse`, `queued`, `open`) and
   * undici's (`connected`, `free`, `pending`, `queued`, `running`, `size`).
   */
  get stats(): PoolStats {
    const slots = this.#slots;
    const free = slots.openIdle;
    const queued = slots.queued;
    const pending = queued + this.#connecting;
    const running = slots.inUse - this.#connecting;
    return {
      idle: slots.idle,
      inUse: slots.inUse,
      queued,
      open: free + slots.busy,
      connected: free + slots.busy - this.#connecting,
      free,
      pending,
      running,
      size: pending + running,
      streams: slots.streams,
    };
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** TLS settings for new connections (HTTPS pools). */
  protected tlsSettings(): TlsConnectOptions | undefined {
    return undefined;
  }

  /** `scheme://host:port`. */
  get origin(): string {
    return `${this.scheme}://${this.host}:${this.port}`;
  }

  /** True when `url` (absolute, or a path) is served by this pool. */
  isSameHost(url: string): boolean {
    if (url.startsWith("/")) return true;
    const parsed = parseUrl(url);
    const scheme = (parsed.scheme ?? "http").toLowerCase();
    const port = parsed.port ?? defaultPortFor(scheme);
    return scheme === this.scheme && (parsed.host ?? "").toLowerCase() === this.host &&
      port === this.port;
  }

  /**
   * Sends one request on this pool, with retries and (same-origin) redirects. `url` is a
   * path or an absolute URL of this pool's origin, or `"*"` with `OPTIONS` (the request
   * line `OPTIONS * HTTP/1.1`, asking about the server as a whole): the response's `url`
   * is then the pool's origin, and a `Location` resolves against it.
   */
  urlopen(method: string, url: string, options: UrlopenOptions = {}): Promise<HTTPResponse> {
    if (url === "*" && method !== "OPTIONS") {
      // RFC 9112, section 3.2.4: the asterisk-form is only for a server-wide OPTIONS.
      return Promise.reject(
        new TypeError(`The request target "*" is only for OPTIONS: ${method}`),
      );
    }
    const assertSameHost = options.assertSameHost !== false;
    const router: Router = (next) => {
      if (assertSameHost && !this.isSameHost(next)) {
        throw new HostChangedError(this, next, options.retries ?? this.retries);
      }
      return this.#internals;
    };
    const isPath = url === "" || url.startsWith("/");
    if (!isPath && url !== "*") {
      // Reject (never throw): callers of a Promise-returning method expect a rejection.
      try {
        router(url);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const target = url === "*" ? url : isPath ? this.#encodedPath(url || "/") : undefined;
    return runRequest(
      router,
      this.#internals,
      method,
      this.#absolute(url),
      options,
      this.retries,
      target,
    );
  }

  /** `encodeTarget(path)`, remembered for the last path: clients repeat their paths. */
  #encodedPath(path: string): string {
    if (path !== this.#lastPath) {
      this.#lastTarget = encodeTarget(path);
      this.#lastPath = path;
    }
    return this.#lastTarget;
  }

  /** The absolute URL of a path; the origin itself for the asterisk-form `*`. */
  #absolute(url: string): string {
    if (url === "*") return `${this.scheme}://${this.#netloc()}`;
    if (url === "" || url.startsWith("/")) return `${this.scheme}://${this.#netloc()}${url || "/"}`;
    return url;
  }

  #netloc(): string {
    return this.#netlocValue ??= hostHeaderValue(this.host, this.port, this.scheme);
  }

  // ---- connections ------------------------------------------------------------------

  #newConn(): ProtocolConnection {
    this.numConnections++;
    if (this.scheme === "http" && this.#options.http2PriorKnowledge && !this.forwardToProxy) {
      return this.#http2Conn();
    }
    return new HTTPConnection({
      hostname: this.hostname,
      port: this.port,
      tls: this.#tls ??= this.tlsSettings(),
      connector: this.#connector,
      limits: this.#limits,
      lifecycle: this.#lifecycle,
      onIdleDrop: this.#onIdleDrop,
    });
  }

  #http2Conn(): HTTP2Connection {
    return new HTTP2Connection({
      hostname: this.hostname,
      port: this.port,
      scheme: this.scheme,
      tls: this.#tls ??= this.tlsSettings(),
      connector: this.#connector,
      session: this.#session,
      lifecycle: this.#lifecycle,
      onIdleDrop: this.#onIdleDrop,
      onStreamLimitRaised: this.#onStreamLimitRaised,
    });
  }

  /**
   * The connection a request goes on once `connection` connected: itself, or when ALPN
   * chose `h2`, an HTTP/2 connection that takes its socket over (once the server's
   * SETTINGS are in). The pool's slots then hold the new object in its place.
   */
  #negotiated(
    connection: ProtocolConnection,
    request: RequestDescriptor,
  ): ProtocolConnection | Promise<ProtocolConnection> {
    if (!(connection instanceof HTTPConnection) || connection.alpnProtocol !== "h2") {
      return connection;
    }
    const http2 = this.#http2Conn();
    const socket = connection.detachSocket();
    return http2.adopt(socket, request.timeout.connectTimeout, request.signal).then(() => http2);
  }

  readonly #onIdleDrop = (): void => this.#slots.idleDropped();

  readonly #onStreamLimitRaised = (connection: HTTP2Connection): void =>
    this.#slots.streamLimitRaised(connection);

  #emptyPoolError(poolTimeout: number | null): Error {
    return new EmptyPoolError(
      this,
      `Pool is empty and a new connection cannot be opened due to blocking mode (poolTimeout=${poolTimeout} ms)`,
    );
  }

  /** Takes a connection back after its request ended. */
  readonly #putConn: ReleaseCallback = (connection, reusable) => {
    const idle = this.#slots.put(connection, reusable, !this.#closed);
    // An evicted pool whose last streamed response just ended: nothing will reuse it now.
    if (idle) this.#closeIfRetired();
  };

  /** An evicted pool closes its idle connections once no request runs on it. */
  #closeIfRetired(): void {
    if (this.#retiring && this.#activeCalls === 0 && this.#slots.inUse === 0) {
      this.#slots.closeIdle();
    }
  }

  // ---- one attempt ------------------------------------------------------------------

  /**
   * Sends one attempt: renders its head (a framing or header error fails it before any
   * connection is taken), takes a connection and hands the request to it. The request's
   * listener hears the outcome, possibly before this returns.
   */
  #dispatch(request: RequestDescriptor): void {
    let slot: Promise<ProtocolConnection> | ProtocolConnection;
    try {
      if (requestCreate.hasSubscribers) publishRequestCreate(request, this.headers);
      request.wire = (this.#heads ??= this.#headWriter()).headFor(request);
      if (this.#closed) throw new ClosedPoolError(this, "Pool is closed");
      const poolTimeout = request.poolTimeout ?? this.#poolTimeout;
      slot = this.#slots.take(
        poolTimeout,
        request.signal,
        () => this.#emptyPoolError(poolTimeout),
      );
    } catch (error) {
      return request.fail(error);
    }
    request.maxResponseSize ??= this.#maxResponseSize;
    if (slot instanceof Promise) {
      slot.then((waited) => this.#send(waited, request), (error) => request.fail(error));
    } else {
      this.#send(slot, request);
    }
  }

  #headWriter(): RequestHeadWriter {
    return new RequestHeadWriter(
      this.#netloc(),
      this.headers,
      this.forwardToProxy ? this.#proxyHeaders : null,
    );
  }

  /** Connects if needed and sends; the connection goes back to the pool in every case. */
  #send(connection: ProtocolConnection, request: RequestDescriptor): void {
    request.startClock();
    if (connection.isConnected) return this.#start(connection, request);
    this.#connecting++;
    connection.connect(request.timeout.connectTimeout, request.signal, request.timings)
      .then(() => this.#negotiated(connection, request)).then(
        (ready) => {
          this.#connecting--;
          this.#slots.connected(connection, ready);
          this.#start(ready, request);
        },
        (error) => {
          this.#connecting--;
          this.#slots.connectFailed(connection, error);
          this.#putConn(connection, false);
          request.fail(error);
        },
      );
  }

  /** The hold a response will keep on `connection`; it is told when the exchange ends. */
  #holdFor(connection: ProtocolConnection, request: RequestDescriptor): ReleaseCallback {
    const held = new HeldConnection(connection, this.#putConn, this.#holds, request.releaseConn);
    request.hold = held;
    return held.onExchangeEnd;
  }

  #start(connection: ProtocolConnection, request: RequestDescriptor) {
    const onRelease = request.holdsConnection ? this.#holdFor(connection, request) : this.#putConn;
    this.numRequests++;
    try {
      connection.dispatch(request, onRelease);
    } catch (error) {
      onRelease(connection, false);
      request.fail(error);
    }
  }

  // ---- lifecycle --------------------------------------------------------------------

  /**
   * Closes idle connections now, and those held by responses (streamed ones not read to
   * their end, or made with `releaseConn: false`): reading the rest of such a body fails
   * with `ClosedPoolError`. Connections of requests still waiting for their response close
   * as those end. Later requests get `ClosedPoolError`. Safe to call twice.
   */
  close(): Promise<void> {
    this.#closed = true;
    this.#slots.closeIdle();
    const holds = this.#holds;
    holds.closedBy ??= new ClosedPoolError(this, "Pool is closed");
    for (const held of [...holds.held]) held.abandon(holds.closedBy);
    this.#slots.rejectWaiters(() => new ClosedPoolError(this, "Pool is closed"));
    return Promise.resolve();
  }

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Connection counts, as urllib3's repr. */
  override toString(): string {
    return `${this.constructor.name}(host='${this.host}', port=${this.port})`;
  }
}

/**
 * A pool of plain HTTP connections to one origin.
 *
 * @example A pool with one kept connection serves two requests over it
 * ```ts ignore
 * import { HTTPConnectionPool } from "@pooled/http";
 * await using pool = new HTTPConnectionPool("127.0.0.1", { port: 8080, maxSize: 1 });
 * await pool.request("GET", "/a");
 * await pool.request("GET", "/b");
 * console.log(pool.numConnections, pool.numRequests); // 1 2
 * ```
 */
export class HTTPConnectionPool extends ConnectionPool {
  /** Always `"http"`. */
  readonly scheme = "http" as const;

  /**
   * Creates an instance.
   *
   * @param host Host name or IP literal.
   * @param options Pool options.
   */
  constructor(host: string, options: ConnectionPoolOptions = {}) {
    super(host, options, 80);
  }
}

/**
 * A pool of TLS connections to one origin. Verification is on by default against the
 * runtime's trust store; `caCerts` adds roots, `certReqs: "CERT_NONE"` turns it off.
 *
 * @example
 * ```ts ignore
 * import { HTTPSConnectionPool } from "@pooled/http";
 * await using pool = new HTTPSConnectionPool("localhost", { port: 8443, caCerts: [pem] });
 * const r = await pool.request("GET", "/");
 * ```
 */
export class HTTPSConnectionPool extends ConnectionPool {
  /** Always `"https"`. */
  readonly scheme = "https" as const;

  /**
   * Creates an instance.
   *
   * @param host Host name or IP literal.
   * @param options Pool and TLS options.
   */
  constructor(host: string, options: ConnectionPoolOptions = {}) {
    super(host, options, 443);
    // Bad TLS options fail here, at once, rather than at the first request. A pool that
    // forwards to a proxy speaks HTTP/1.1 to it.
    this.#tls = resolveTls(
      this.hostname,
      options,
      (options.http2 ?? true) && !(options.forwardToProxy ?? false),
    );
  }

  #tls: TlsConnectOptions;

  /** TLS settings built from the pool's TLS options. */
  protected override tlsSettings(): TlsConnectOptions {
    return this.#tls;
  }
}

/**
 * A standalone pool for the origin of `url` (HTTP or HTTPS by its scheme).
 *
 * @example
 * ```ts
 * import { connectionFromUrl } from "@pooled/http";
 * const pool = connectionFromUrl("http://127.0.0.1:8080/path");
 * console.log(pool.host, pool.port); // 127.0.0.1 8080
 * await pool.close();
 * ```
 */
export function connectionFromUrl(
  url: string,
  options: ConnectionPoolOptions = {},
): ConnectionPool {
  const parsed = parseUrl(url);
  const scheme = (parsed.scheme ?? "http").toLowerCase();
  if (!parsed.host) {
    throw new LocationValueError(`No host specified in ${JSON.stringify(redactUrl(url))}`);
  }
  const merged = { ...options, port: parsed.port ?? options.port };
  return scheme === "https"
    ? new HTTPSConnectionPool(parsed.host, merged)
    : new HTTPConnectionPool(parsed.host, merged);
}
