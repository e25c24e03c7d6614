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
import { changeCount, HTTPHeaderDict } from "../headers.ts";
import { HTTPConnection, type ReleaseCallback } from "../http1/connection.ts";
import type { Exchange, ExchangeListener, ExchangeRequest } from "../http1/exchange.ts";
import {
  checkContentLength,
  checkMethod,
  chunkEncode,
  encodeLatin1,
  type HeaderFlags,
  noFlags,
  renderHeaderLines,
  sendsEmptyLength,
} from "../http1/request_head.ts";
import { DEFAULT_PARSER_LIMITS, type ParserLimits } from "../http1/response_parser.ts";
import {
  exactLength,
  NO_BODY,
  type PreparedBody,
  type StreamedBody,
} from "../body/request_body.ts";
import { type ChunkIterator, decodeBody, readAll } from "../body/content_decoder.ts";
import { type Router, runRequest } from "../request/_request_loop.ts";
import {
  hasHeader,
  requestHeaderPairs,
  type RequestHeaders,
  RequestMethods,
  type UrlopenOptions,
} from "../request/request_methods.ts";
import { type ConnectionHold, HTTPResponse } from "../response.ts";
import { Retry } from "../policy/retry.ts";
import { Timeout } from "../policy/timeout.ts";
import { defaultPortFor, encodeTarget, parseUrl, redactUrl } from "../url.ts";
import { defaultConnector } from "../runtime/default.ts";
import type { Connector, TlsConnectOptions, TlsVersion } from "../runtime/socket.ts";
import { normalizeFingerprint } from "../runtime/_tls_verify.ts";
import { VERSION } from "../version.ts";
import { isAscii } from "../_char_table.ts";
import { checkPort, checkPositiveInteger } from "../_validate.ts";
import { bracketHost, unbracketHost } from "../_host.ts";

/** TLS options of HTTPS pools and managers (ignored by HTTP pools). */
export interface TlsOptions {
  /** Extra trusted roots (PEM), added to the runtime's trust store. */
  caCerts?: readonly string[];
  /** `"CERT_REQUIRED"` (default) verifies the server; `"CERT_NONE"` does not. */
  certReqs?: "CERT_REQUIRED" | "CERT_NONE";
  /** Client certificate chain (PEM). */
  cert?: string;
  /** Client private key (PEM). */
  key?: string;
  /** Name for SNI and verification instead of the host connected to. */
  serverHostname?: string;
  /**
   * `false` skips the hostname check (the chain is still verified); a name checks the
   * certificate against that name instead (SNI stays `serverHostname` or the host).
   */
  assertHostname?: string | false;
  /**
   * Pins the server certificate: its SHA-256, SHA-1 or MD5 digest in hex (colons and
   * case ignored). Replaces the hostname check and works with `certReqs: "CERT_NONE"`.
   */
  assertFingerprint?: string;
  /** Minimum TLS version (default `"TLSv1.2"`). */
  minVersion?: TlsVersion;
}

/** Options of a connection pool (and, through the manager, of every pool it creates). */
export interface ConnectionPoolOptions extends TlsOptions {
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
}

/** Connection counts of a pool at one moment. */
export interface PoolStats {
  /** Connections waiting for reuse (some may hold no socket). */
  readonly idle: number;
  /** Connections handed out to requests now. */
  readonly inUse: number;
  /** Callers waiting for a connection (blocking pools). */
  readonly queued: number;
  /** Open sockets (idle or in use). */
  readonly open: number;
}

/** A rendered request head, with the body bytes framed to follow it. */
interface RequestHead {
  /** The head, as an ASCII string or Latin-1 bytes. */
  readonly text: string | Uint8Array;
  /** Body bytes in their wire form (chunk-encoded when chunked), or null. */
  readonly body: Uint8Array | null;
  /** The streamed body, held to its `Content-Length` when the caller declared one. */
  readonly stream: StreamedBody | null;
  /** The body goes out with chunked transfer coding. */
  readonly chunked: boolean;
}

/**
 * Hears how one attempt on a pool ended (internal): exactly one of the two is called, once,
 * and possibly from inside a socket event, so a listener that starts more I/O defers it.
 */
export interface AttemptListener {
  /** The attempt got its response: the head, or with `preload` the whole of it. */
  attemptResponded(response: HTTPResponse): void;
  /** The attempt failed. */
  attemptFailed(error: unknown): void;
}

/** One attempt at a request on this pool (internal). */
export interface Attempt {
  /** Request method. */
  readonly method: string;
  /** Origin-form request target (path and query). */
  readonly target: string;
  /** The absolute URL, for messages and the response. */
  readonly url: string;
  /** Request headers, merged over the pool's. */
  readonly headers: RequestHeaders | undefined;
  /** The body to send. */
  readonly body: PreparedBody;
  /** Send the body chunked. */
  readonly chunked: boolean;
  /** Timeouts of this attempt. */
  readonly timeout: Timeout;
  /** Longest wait for a connection, in ms, or null for the pool's default. */
  readonly poolTimeout: number | null;
  /** Read the whole body before settling. */
  readonly preload: boolean;
  /**
   * Give the connection back as soon as the body is in; false keeps it for the response
   * until it is read to its end (streamed), released, drained or closed.
   */
  readonly releaseConn: boolean;
  /** Undo `Content-Encoding`. */
  readonly decodeContent: boolean;
  /** A body shorter than its `Content-Length` is an error. */
  readonly enforceContentLength: boolean;
  /** Largest body accepted, or null for the pool's default. */
  readonly maxResponseSize: number | null;
  /** Aborts the attempt. */
  readonly signal?: AbortSignal;
}

interface Waiter {
  resolve(connection: HTTPConnection): void;
  reject(error: Error): void;
  timer?: ReturnType<typeof setTimeout>;
  signal?: AbortSignal;
  onAbort?: () => void;
  done: boolean;
}

const USER_AGENT = `pooled/${VERSION}`;

/** The `Host` header value: brackets for IPv6, port only when not the default. */
function hostHeaderValue(host: string, port: number, scheme: string): string {
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  const bracketed = bracketHost(name);
  return port === defaultPortFor(scheme) ? bracketed : `${bracketed}:${port}`;
}

/**
 * The `HTTPResponse` for an exchange: preloaded with `data`, or streaming from `decoded`
 * (an encoded body) or the exchange itself, holding its connection through `hold`.
 */
function responseOf(
  exchange: Exchange,
  attempt: SentAttempt,
  data: Uint8Array | null,
  hold: ConnectionHold | null,
  decoded: ChunkIterator | null = null,
): HTTPResponse {
  const head = exchange.head!;
  return new HTTPResponse({
    status: head.status,
    reason: head.reason,
    version: head.version,
    headers: head,
    url: attempt.url,
    data,
    exchange: attempt.preload ? null : exchange,
    decoded,
    hold,
  });
}

/** A pool's connections held by responses, and the error that ended them when it closed. */
interface Holds {
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
class HeldConnection implements ConnectionHold {
  /** Why the pool took the connection back early, or null. */
  error: Error | null = null;
  /** The exchange on the connection, once it is ready. */
  exchange: Exchange | null = null;
  /** Told when the exchange ends, in place of the pool. */
  readonly onExchangeEnd: ReleaseCallback = (_, reusable) => this.#ended(reusable);
  #connection: HTTPConnection;
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
    connection: HTTPConnection,
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

  get heldConnection(): HTTPConnection | null {
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
    const exchange = this.exchange!;
    if (exchange.finished) exchange.decodingEnded(false);
    else exchange.cancel();
  }

  /** The pool closed: the connection closes now, and the rest of the body fails with `error`. */
  abandon(error: Error): void {
    this.error = error;
    // A reader waiting for bytes hears the error at once.
    if (!this.#exchangeEnded) this.exchange!.fail(error);
    this.release(true);
  }

  #return(): void {
    if (this.#returned) return;
    this.#returned = true;
    this.#holds.held.delete(this);
    this.#putConn(this.#connection, this.#reusable && !this.#closeOnReturn);
  }
}

/**
 * One attempt sent on a connection: the request its exchange sends and, as the exchange's
 * listener, what turns the ready exchange into the attempt's {@linkcode HTTPResponse}.
 */
class SentAttempt implements ExchangeRequest, ExchangeListener {
  readonly method: string;
  readonly head: string | Uint8Array;
  readonly body: Uint8Array | null;
  readonly bodyStream: StreamedBody | null;
  readonly chunked: boolean;
  readonly preload: boolean;
  readonly decodeContent: boolean;
  readonly enforceContentLength: boolean;
  readonly readTimeout: number | null;
  readonly deadline: number | null;
  readonly maxResponseSize: number | null;
  readonly signal: AbortSignal | undefined;
  readonly url: string;
  /** The connection that carries it (and a streamed body). */
  readonly connection: HTTPConnection;
  /** Hears how the attempt ended. */
  readonly listener: AttemptListener;
  /** Told when the exchange ends: the pool, or the hold of a response that keeps it. */
  readonly onExchangeEnd: ReleaseCallback;
  #held: HeldConnection | null;

  constructor(
    attempt: Attempt,
    head: RequestHead,
    maxResponseSize: number | null,
    connection: HTTPConnection,
    listener: AttemptListener,
    putConn: ReleaseCallback,
    holds: Holds,
  ) {
    const { timeout } = attempt;
    this.method = attempt.method;
    this.head = head.text;
    this.body = head.body;
    this.bodyStream = head.stream;
    this.chunked = head.chunked;
    this.preload = attempt.preload;
    this.decodeContent = attempt.decodeContent;
    this.enforceContentLength = attempt.enforceContentLength;
    this.readTimeout = timeout.read;
    this.deadline = timeout.total === null ? null : performance.now() + timeout.total;
    this.maxResponseSize = maxResponseSize;
    this.signal = attempt.signal;
    this.url = attempt.url;
    this.connection = connection;
    this.listener = listener;
    if (attempt.preload && attempt.releaseConn) {
      this.#held = null;
      this.onExchangeEnd = putConn;
    } else {
      this.#held = new HeldConnection(connection, putConn, holds, attempt.releaseConn);
      this.onExchangeEnd = this.#held.onExchangeEnd;
    }
  }

  exchangeReady(exchange: Exchange): void {
    if (this.#held !== null) this.#held.exchange = exchange;
    let response: HTTPResponse | Promise<HTTPResponse>;
    try {
      response = this.#response(exchange);
    } catch (error) {
      return this.#failed(error);
    }
    if (response instanceof HTTPResponse) return this.listener.attemptResponded(response);
    response.then(
      (whole) => this.listener.attemptResponded(whole),
      (error) => this.#failed(error),
    );
  }

  /** No response will hold the connection: let it go (closed, its exchange unfinished). */
  #failed(error: unknown): void {
    this.#held?.release(true);
    this.listener.attemptFailed(error);
  }

  exchangeFailed(error: Error): void {
    this.listener.attemptFailed(error);
  }

  /** The response to an exchange whose head (or, preloaded, whole body) is in. */
  #response(exchange: Exchange): HTTPResponse | Promise<HTTPResponse> {
    const codings = exchange.codings;
    const decoded = codings === null ? null : decodeBody(exchange, codings, this.maxResponseSize);
    if (exchange.collected) return responseOf(exchange, this, exchange.takeBody(), this.#hold());
    if (!this.preload) return responseOf(exchange, this, null, this.#hold(), decoded);
    // An encoded body streams to its decoder even when preloaded: collect what it yields.
    return readAll(decoded!).then((data) => responseOf(exchange, this, data, this.#hold()));
  }

  /** The hold the response gets on its connection, or null when it keeps none. */
  #hold(): ConnectionHold | null {
    return this.#held?.take() ?? null;
  }
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
  #idle: HTTPConnection[] = [];
  #inUse = 0;
  #waiters: Waiter[] = [];
  #waiterHead = 0;
  #closed = false;
  #retiring = false;
  #activeCalls = 0;
  /** Attempts whose responses hold their connections (streamed, or `releaseConn: false`). */
  #holds: Holds = { held: new Set(), closedBy: null };
  #poolTimeout: number | null;
  #maxResponseSize: number | null;
  #fixedHeaderLines: string | null = null;
  /** The `changeCount` of `headers` that the cached lines and head were rendered from. */
  #headerChanges = -1;
  /** What the pool's own headers say about framing, kept with their rendered lines. */
  #fixedFlags: HeaderFlags = noFlags();
  #netlocValue: string | null = null;
  #lastPath = "";
  #lastPlainHead: { method: string; target: string; head: RequestHead } | null = null;
  #lastTarget = "";
  #fixedHeadAscii = true;
  #tls: TlsConnectOptions | undefined;
  #proxyHeaders: HTTPHeaderDict;

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
    this.#connector = options.connector ?? defaultConnector();
    this.#limits = {
      maxHeaderSize: options.maxHeaderSize ?? DEFAULT_PARSER_LIMITS.maxHeaderSize,
      maxHeaderCount: options.maxHeaderCount ?? DEFAULT_PARSER_LIMITS.maxHeaderCount,
    };
    this.#poolTimeout = options.poolTimeout ?? null;
    this.#maxResponseSize = options.maxResponseSize ?? null;
  }

  /** The options the pool was made with. */
  get options(): Readonly<ConnectionPoolOptions> {
    return this.#options;
  }

  /** The host to connect to: without IPv6 brackets. */
  get hostname(): string {
    return unbracketHost(this.host);
  }

  /** Connection counts now. */
  get stats(): PoolStats {
    let open = 0;
    for (const connection of this.#idle) if (connection.isConnected) open++;
    return {
      idle: this.#idle.length,
      inUse: this.#inUse,
      queued: this.#waiters.length - this.#waiterHead,
      open: open + this.#inUse,
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
      return this;
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
    return runRequest(router, this, method, this.#absolute(url), options, this.retries, target);
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

  // ---- connection slots -------------------------------------------------------------

  #getConn(
    poolTimeout: number | null,
    signal?: AbortSignal,
  ): Promise<HTTPConnection> | HTTPConnection {
    if (this.#closed) throw new ClosedPoolError(this, "Pool is closed");
    const idle = this.#idle.pop();
    if (idle !== undefined) {
      this.#inUse++;
      // The server closed it while it sat idle: drop the socket, the object reconnects.
      if (idle.isDropped) idle.close();
      return idle;
    }
    if (!this.block || this.#inUse < this.maxSize) {
      this.#inUse++;
      return this.#newConn();
    }
    return this.#waitForConn(poolTimeout, signal);
  }

  #newConn(): HTTPConnection {
    this.numConnections++;
    return new HTTPConnection({
      hostname: this.hostname,
      port: this.port,
      tls: this.#tls ??= this.tlsSettings(),
      connector: this.#connector,
      limits: this.#limits,
    });
  }

  #waitForConn(poolTimeout: number | null, signal?: AbortSignal): Promise<HTTPConnection> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, done: false };
      const finish = (error: Error) => {
        if (waiter.done) return;
        this.#forgetWaiter(waiter);
        reject(error);
      };
      if (poolTimeout !== null) {
        waiter.timer = setTimeout(() =>
          finish(
            new EmptyPoolError(
              this,
              `Pool is empty and a new connection cannot be opened due to blocking mode (poolTimeout=${poolTimeout} ms)`,
            ),
          ), poolTimeout);
      }
      if (signal) {
        waiter.signal = signal;
        waiter.onAbort = () => finish(signal.reason);
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.#waiters.push(waiter);
    });
  }

  #forgetWaiter(waiter: Waiter): void {
    waiter.done = true;
    if (waiter.timer !== undefined) clearTimeout(waiter.timer);
    if (waiter.onAbort) waiter.signal!.removeEventListener("abort", waiter.onAbort);
    // Drop settled waiters from the front so the queue does not grow.
    while (this.#waiterHead < this.#waiters.length && this.#waiters[this.#waiterHead].done) {
      this.#waiterHead++;
    }
    if (this.#waiterHead === this.#waiters.length) {
      this.#waiters = [];
      this.#waiterHead = 0;
    }
  }

  #nextWaiter(): Waiter | undefined {
    while (this.#waiterHead < this.#waiters.length) {
      const waiter = this.#waiters[this.#waiterHead++];
      if (!waiter.done) {
        this.#forgetWaiter(waiter);
        return waiter;
      }
    }
    return undefined;
  }

  /** Takes a connection back after its exchange ended. */
  readonly #putConn = (connection: HTTPConnection, reusable: boolean): void => {
    this.#inUse--;
    if (!reusable) connection.close();
    if (this.#closed) return connection.close();
    const waiter = this.#nextWaiter();
    if (waiter !== undefined) {
      this.#inUse++;
      waiter.resolve(connection);
      return;
    }
    if (this.#idle.length >= this.maxSize) {
      // block is false and the pool is full: discard, as urllib3 does.
      connection.close();
      return;
    }
    this.#idle.push(connection);
    // An evicted pool whose last streamed response just ended: nothing will reuse it now.
    this.#closeIfRetired();
  };

  // ---- one attempt ------------------------------------------------------------------

  /**
   * Sends one request, without retries or redirects: `listener` hears the response (its
   * head, or with `preload` the whole of it) or the failure, possibly before this returns.
   * The request loop calls it between {@linkcode ConnectionPool.hold} and
   * {@linkcode ConnectionPool.unhold}, which keep an evicted pool's connections meanwhile.
   */
  attempt(attempt: Attempt, listener: AttemptListener): void {
    let head: RequestHead;
    let slot: Promise<HTTPConnection> | HTTPConnection;
    try {
      head = this.#headFor(attempt);
      slot = this.#getConn(attempt.poolTimeout ?? this.#poolTimeout, attempt.signal);
    } catch (error) {
      return listener.attemptFailed(error);
    }
    if (slot instanceof Promise) {
      slot.then(
        (waited) => this.#send(waited, attempt, head, listener),
        (error) => listener.attemptFailed(error),
      );
    } else {
      this.#send(slot, attempt, head, listener);
    }
  }

  /**
   * Marks a request (with all its retries and redirects) as running on this pool, so
   * that an evicted pool keeps its idle connections for it. Each call needs exactly one
   * {@linkcode ConnectionPool.unhold} later.
   */
  hold(): void {
    this.#activeCalls++;
  }

  /** Ends one {@linkcode ConnectionPool.hold}. */
  unhold(): void {
    this.#activeCalls--;
    this.#closeIfRetired();
  }

  /** An evicted pool closes its idle connections once no request runs on it. */
  #closeIfRetired(): void {
    if (this.#retiring && this.#activeCalls === 0 && this.#inUse === 0) this.#closeIdle();
  }

  /** Closes the idle connections (the pool stays usable: it connects again when asked). */
  #closeIdle(): void {
    const idle = this.#idle;
    this.#idle = [];
    for (const connection of idle) connection.close();
  }

  /** Connects if needed and sends; the connection goes back to the pool in every case. */
  #send(
    connection: HTTPConnection,
    attempt: Attempt,
    head: RequestHead,
    listener: AttemptListener,
  ): void {
    const maxResponseSize = attempt.maxResponseSize ?? this.#maxResponseSize;
    const sent = new SentAttempt(
      attempt,
      head,
      maxResponseSize,
      connection,
      listener,
      this.#putConn,
      this.#holds,
    );
    if (connection.isConnected) return this.#start(connection, sent);
    connection.connect(attempt.timeout.connectTimeout, attempt.signal).then(
      () => this.#start(connection, sent),
      (error) => {
        this.#putConn(connection, false);
        listener.attemptFailed(error);
      },
    );
  }

  #start(connection: HTTPConnection, sent: SentAttempt): void {
    this.numRequests++;
    try {
      connection.request(sent, sent, sent.onExchangeEnd);
    } catch (error) {
      this.#putConn(connection, false);
      sent.listener.attemptFailed(error);
    }
  }

  // ---- request head -----------------------------------------------------------------

  /** Host, pool headers and default headers, rendered once for requests with no headers. */
  #fixedLines(): string {
    if (this.#fixedHeaderLines !== null) return this.#fixedHeaderLines;
    const flags = noFlags();
    const lines = renderHeaderLines(this.headers, flags);
    this.#fixedHeaderLines = this.#automaticLines(flags, true) + lines +
      this.#automaticLines(flags, false);
    this.#fixedFlags = flags;
    this.#fixedHeadAscii = isAscii(this.#fixedHeaderLines);
    return this.#fixedHeaderLines;
  }

  /** `Host` first (as http.client does), then the defaults the caller did not set. */
  #automaticLines(flags: HeaderFlags, hostPart: boolean, host = this.#netloc()): string {
    if (hostPart) return flags.host ? "" : `Host: ${host}\r\n`;
    let lines = "";
    if (!flags.userAgent) lines += `User-Agent: ${USER_AGENT}\r\n`;
    if (!flags.acceptEncoding) lines += "Accept-Encoding: identity\r\n";
    return lines;
  }

  /**
   * The head of a request without headers or body: the same few are sent over and over,
   * so the last one is kept, and a repeat costs two comparisons (no string building).
   */
  #plainHead(attempt: Attempt): RequestHead {
    const last = this.#lastPlainHead;
    if (last !== null && last.method === attempt.method && last.target === attempt.target) {
      return last.head;
    }
    const head = this.#buildHead(attempt);
    this.#lastPlainHead = { method: attempt.method, target: attempt.target, head };
    return head;
  }

  #headFor(attempt: Attempt): RequestHead {
    if (changeCount(this.headers) !== this.#headerChanges) this.#forgetHeaderLines();
    const plain = attempt.headers === undefined && attempt.body === NO_BODY && !attempt.chunked &&
      !this.forwardToProxy;
    return plain ? this.#plainHead(attempt) : this.#buildHead(attempt);
  }

  /** Drops what was rendered from `headers`: they changed since. */
  #forgetHeaderLines(): void {
    this.#headerChanges = changeCount(this.headers);
    this.#fixedHeaderLines = null;
    this.#lastPlainHead = null;
  }

  #buildHead(attempt: Attempt): RequestHead {
    const { method, body } = attempt;
    checkMethod(method);
    let flags: HeaderFlags;
    let lines: string;
    let ascii: boolean;
    let target = attempt.target;
    let host: string | undefined;
    if (this.forwardToProxy) {
      // The proxy reads the origin from the absolute-form target; Host names it too.
      const url = parseUrl(attempt.url);
      const scheme = url.scheme ?? "http";
      host = hostHeaderValue(url.host ?? "", url.port ?? defaultPortFor(scheme) ?? 80, scheme);
      target = `${scheme}://${host}${url.requestUri}`;
    }
    if (attempt.headers === undefined && host === undefined) {
      lines = this.#fixedLines();
      ascii = this.#fixedHeadAscii;
      flags = this.#fixedFlags;
    } else {
      flags = noFlags();
      const merged = mergeHeaders(this.headers, attempt.headers ?? {});
      const own = renderHeaderLines(
        this.forwardToProxy ? forwardedHeaders(merged, this.#proxyHeaders) : merged,
        flags,
      );
      lines = this.#automaticLines(flags, true, host) + own + this.#automaticLines(flags, false);
      ascii = isAscii(lines);
    }
    let bytes = body.bytes;
    let stream = body.stream;
    // The body's size: null for a stream of unknown length, else 0 when there is none.
    const length = stream !== null ? stream.length : bytes?.length ?? 0;
    const declared = flags.contentLength;
    if (declared !== null) {
      // The caller's Content-Length frames the body: it must be the body's, and a stream
      // of unknown length is held to it.
      if (length !== null) checkContentLength(declared, length);
      else stream = exactLength(stream!, declared);
    }
    // A stream of unknown length goes chunked unless the caller gave its length.
    const chunked = flags.chunked ||
      (declared === null && (attempt.chunked || (stream !== null && length === null)));
    if (chunked) {
      if (!flags.chunked) lines += "Transfer-Encoding: chunked\r\n";
      if (stream === null) bytes = chunkEncode(bytes ?? new Uint8Array(0));
    } else if (declared === null) {
      if (bytes !== null || stream !== null) lines += `Content-Length: ${length}\r\n`;
      else if (sendsEmptyLength(method)) lines += "Content-Length: 0\r\n";
    }
    if (
      body.contentType !== null && !this.headers.has("content-type") &&
      !hasHeader(attempt.headers, "content-type")
    ) {
      lines += `Content-Type: ${body.contentType}\r\n`;
    }
    const text = `${method} ${target} HTTP/1.1\r\n${lines}\r\n`;
    return { text: ascii ? text : encodeLatin1(text), body: bytes, stream, chunked };
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
    this.#closeIdle();
    const holds = this.#holds;
    holds.closedBy ??= new ClosedPoolError(this, "Pool is closed");
    for (const held of [...holds.held]) held.abandon(holds.closedBy);
    for (let waiter = this.#nextWaiter(); waiter; waiter = this.#nextWaiter()) {
      waiter.reject(new ClosedPoolError(this, "Pool is closed"));
    }
    return Promise.resolve();
  }

  /**
   * What a manager calls when it drops the pool (LRU eviction, `clear()`). The pool stays
   * usable by whoever holds it, as in urllib3, but keeps no socket while unused: its idle
   * connections close whenever no request runs on it, so every connection released once
   * the last request ended is closed. Requests running on it, their retries and
   * redirects included, go on reusing its connections meanwhile.
   */
  retire(): void {
    this.#retiring = true;
    this.#closeIfRetired();
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

/** Option names that only matter to HTTPS pools (HTTP pools and their keys drop them). */
export const TLS_OPTION_NAMES: ReadonlySet<string> = new Set([
  "caCerts",
  "certReqs",
  "cert",
  "key",
  "serverHostname",
  "assertHostname",
  "assertFingerprint",
  "minVersion",
]);

const CERT_REQS = ["CERT_REQUIRED", "CERT_NONE"];
const TLS_VERSIONS: readonly string[] = ["TLSv1.2", "TLSv1.3"];

/** A host name as TLS uses it: no IPv6 brackets or zone, no trailing dot. */
function tlsName(host: string): string {
  return unbracketHost(host).replace(/%.*$/, "").replace(/\.$/, "");
}

/**
 * Builds the TLS settings of connections to `hostname` from TLS options (those of an
 * HTTPS pool, or `proxyTls` for the proxy leg). Throws a `TypeError` or `RangeError`
 * naming a bad option and its value.
 */
export function resolveTls(hostname: string, options: TlsOptions): TlsConnectOptions {
  const certReqs = options.certReqs ?? "CERT_REQUIRED";
  if (!CERT_REQS.includes(certReqs)) {
    throw new RangeError(
      `certReqs must be "CERT_REQUIRED" or "CERT_NONE": ${JSON.stringify(certReqs)}`,
    );
  }
  const minVersion = options.minVersion ?? "TLSv1.2";
  if (!TLS_VERSIONS.includes(minVersion)) {
    throw new RangeError(
      `minVersion must be "TLSv1.2" or "TLSv1.3": ${JSON.stringify(minVersion)}`,
    );
  }
  const { assertHostname, assertFingerprint } = options;
  if (
    assertHostname !== undefined && assertHostname !== false && typeof assertHostname !== "string"
  ) {
    throw new TypeError(
      `assertHostname must be a host name or false: ${JSON.stringify(assertHostname)}`,
    );
  }
  const fingerprint = assertFingerprint === undefined
    ? undefined
    : normalizeFingerprint(assertFingerprint);
  return {
    serverName: tlsName(options.serverHostname ?? hostname),
    verify: certReqs === "CERT_REQUIRED",
    // A pinned fingerprint replaces the name check, as in urllib3.
    checkHostname: assertHostname !== false && fingerprint === undefined,
    assertHostname: typeof assertHostname === "string" ? tlsName(assertHostname) : undefined,
    fingerprint,
    minVersion: minVersion as TlsVersion,
    caCerts: options.caCerts,
    cert: options.cert,
    key: options.key,
    alpnProtocols: ["http/1.1"],
  };
}

/** Pool headers overridden by request headers (`undefined` removes one). */
function mergeHeaders(
  base: HTTPHeaderDict,
  request: RequestHeaders,
): Iterable<readonly [string, string]> {
  const own: [string, string][] = [];
  const named = new Set<string>();
  for (const [name, value] of requestHeaderPairs(request)) {
    named.add(name.toLowerCase());
    if (value !== undefined) own.push([name, value]);
  }
  if (base.size === 0) return own;
  const merged: [string, string][] = [];
  for (const [name, value] of base) {
    if (!named.has(name.toLowerCase())) merged.push([name, value]);
  }
  return merged.concat(own);
}

/**
 * The headers of a request forwarded to a proxy: an `Accept` for any type unless one is
 * set (urllib3's `ProxyManager` adds it), the merged pool and request headers, then the
 * proxy's, which replace any of the same name.
 */
function forwardedHeaders(
  merged: Iterable<readonly [string, string]>,
  proxy: HTTPHeaderDict,
): Iterable<readonly [string, string]> {
  const pairs: (readonly [string, string])[] = [];
  for (const pair of merged) if (!proxy.has(pair[0])) pairs.push(pair);
  pairs.push(...proxy);
  if (!pairs.some(([name]) => name.toLowerCase() === "accept")) pairs.unshift(["Accept", "*/*"]);
  return pairs;
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
    // Bad TLS options fail here, at once, rather than at the first request.
    this.#tls = resolveTls(this.hostname, options);
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
