/**
 * The error classes, named after urllib3's. Every error is an {@linkcode HTTPError}
 * with a stable string `code` that callers can switch on.
 *
 * No error text holds URL credentials: the userinfo of every URL in a message, and of the
 * URLs errors carry (`url`, `location`), reads `***` (`http://***@host/`).
 *
 * @module
 */

import { redactUrl, redactUrlsIn } from "./_redact.ts";

/**
 * What an error needs to know about the pool it came from (for messages only).
 *
 * @example Errors name the pool they came from
 * ```ts
 * import { EmptyPoolError, type PoolDescription } from "@pooled/http";
 * const pool: PoolDescription = { scheme: "http", host: "127.0.0.1", port: 8080 };
 * console.log(new EmptyPoolError(pool, "Pool is empty").message);
 * ```
 */
export interface PoolDescription {
  /** `"http"` or `"https"`. */
  readonly scheme: string;
  /** Host name or IP literal of the pool's origin. */
  readonly host: string;
  /** Port of the pool's origin. */
  readonly port: number;
}

/**
 * Base class of every error this library throws. The userinfo of any URL in the message
 * is replaced by `***`.
 *
 * @example Catch everything from the library
 * ```ts
 * import { HTTPError } from "@pooled/http";
 * const e: unknown = new HTTPError("boom");
 * if (e instanceof HTTPError) console.log(e.code); // "ERR_HTTP"
 * ```
 */
export class HTTPError extends Error {
  /** Stable machine-readable code, for example `"ERR_EMPTY_POOL"`. */
  readonly code: string = "ERR_HTTP";
  /**
   * Creates an instance.
   *
   * @param message What failed.
   * @param options `cause`: the underlying error.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(redactUrlsIn(message), options);
    this.name = new.target.name;
  }
}

function describePool(pool: PoolDescription | null): string {
  if (!pool) return "";
  const kind = pool.scheme === "https" ? "HTTPSConnectionPool" : "HTTPConnectionPool";
  return `${kind}(host='${pool.host}', port=${pool.port}): `;
}

/**
 * An error tied to a connection pool; the message starts with the pool's origin.
 *
 * @example
 * ```ts
 * import { PoolError } from "@pooled/http";
 * const e = new PoolError({ scheme: "http", host: "127.0.0.1", port: 80 }, "broken");
 * console.log(e.message); // HTTPConnectionPool(host='127.0.0.1', port=80): broken
 * ```
 */
export class PoolError extends HTTPError {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_POOL";
  /** The pool the error came from, or `null`. */
  readonly pool: PoolDescription | null;
  /**
   * Creates an instance.
   *
   * @param pool The pool.
   * @param message What failed.
   * @param options `cause`.
   */
  constructor(pool: PoolDescription | null, message: string, options?: ErrorOptions) {
    super(describePool(pool) + message, options);
    this.pool = pool;
  }
}

/**
 * A {@linkcode PoolError} about one request URL.
 *
 * @example
 * ```ts
 * import { RequestError } from "@pooled/http";
 * const e = new RequestError(null, "/x", "failed");
 * console.log(e.url); // "/x"
 * ```
 */
export class RequestError extends PoolError {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_REQUEST";
  /** The URL of the request that failed, its userinfo replaced by `***`. */
  readonly url: string;
  /**
   * Creates an instance.
   *
   * @param pool The pool.
   * @param url The request URL.
   * @param message What failed.
   * @param options `cause`.
   */
  constructor(
    pool: PoolDescription | null,
    url: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(pool, message, options);
    this.url = redactUrl(url);
  }
}

/**
 * The retry policy ran out; `reason` holds the last underlying error.
 *
 * @example
 * ```ts
 * import { MaxRetryError, ProtocolError } from "@pooled/http";
 * const e = new MaxRetryError(null, "/x", new ProtocolError("reset"));
 * console.log(e.reason?.message); // "reset"
 * ```
 */
export class MaxRetryError extends RequestError {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_MAX_RETRIES";
  /** The last error that caused a retry, or `null`. */
  readonly reason: Error | null;
  /**
   * Creates an instance.
   *
   * @param pool The pool.
   * @param url The request URL.
   * @param reason The last error.
   */
  constructor(pool: PoolDescription | null, url: string, reason: Error | null = null) {
    super(
      pool,
      url,
      `Max retries exceeded with url: ${redactUrl(url)} (Caused by ${
        reason ? `${reason.name}: ${reason.message}` : "None"
      })`,
      { cause: reason ?? undefined },
    );
    this.reason = reason;
  }
}

/**
 * A request for another origin reached a pool that only serves its own.
 *
 * @example
 * ```ts
 * import { HostChangedError } from "@pooled/http";
 * const e = new HostChangedError(null, "http://other/", 3);
 * console.log(e.code); // "ERR_HOST_CHANGED"
 * ```
 */
export class HostChangedError extends RequestError {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_HOST_CHANGED";
  /** The retry state at the time (a `Retry` or a number). */
  readonly retries: unknown;
  /**
   * Creates an instance.
   *
   * @param pool The pool.
   * @param url The foreign URL.
   * @param retries The retry state.
   */
  constructor(pool: PoolDescription | null, url: string, retries: unknown = 3) {
    super(pool, url, `Tried to open a foreign host with url: ${redactUrl(url)}`);
    this.retries = retries;
  }
}

/**
 * Base class of the timeout errors.
 *
 * @example
 * ```ts
 * import { ReadTimeoutError, TimeoutError } from "@pooled/http";
 * console.log(new ReadTimeoutError(null, "/", "slow") instanceof TimeoutError); // true
 * ```
 */
export class TimeoutError extends HTTPError {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_TIMEOUT";
}

/**
 * No byte arrived within the read timeout.
 *
 * @example
 * ```ts
 * import { ReadTimeoutError } from "@pooled/http";
 * const e = new ReadTimeoutError(null, "/slow", "Read timed out (read timeout=100 ms)");
 * console.log(e.url); // "/slow"
 * ```
 */
export class ReadTimeoutError extends TimeoutError {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_READ_TIMEOUT";
  /** The pool, or `null`. */
  readonly pool: PoolDescription | null;
  /** The request URL, its userinfo replaced by `***`. */
  readonly url: string;
  /**
   * Creates an instance.
   *
   * @param pool The pool.
   * @param url The request URL.
   * @param message What timed out.
   */
  constructor(pool: PoolDescription | null, url: string, message: string) {
    super(describePool(pool) + message);
    this.pool = pool;
    this.url = redactUrl(url);
  }
}

/**
 * Connecting (TCP, TLS handshake or proxy set-up) did not finish in time.
 *
 * @example
 * ```ts
 * import { ConnectTimeoutError } from "@pooled/http";
 * console.log(new ConnectTimeoutError("too slow").code); // "ERR_CONNECT_TIMEOUT"
 * ```
 */
export class ConnectTimeoutError extends TimeoutError {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_CONNECT_TIMEOUT";
}

/**
 * A new connection could not be opened (refused, unreachable, reset during set-up).
 * A subclass of {@linkcode ConnectTimeoutError}, as in urllib3, so it is retried as a
 * connect error.
 *
 * @example
 * ```ts
 * import { ConnectTimeoutError, NewConnectionError } from "@pooled/http";
 * console.log(new NewConnectionError("refused") instanceof ConnectTimeoutError); // true
 * ```
 */
export class NewConnectionError extends ConnectTimeoutError {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_NEW_CONNECTION";
}

/**
 * The host name could not be resolved.
 *
 * @example
 * ```ts
 * import { NameResolutionError } from "@pooled/http";
 * console.log(new NameResolutionError("no such host").code); // "ERR_NAME_RESOLUTION"
 * ```
 */
export class NameResolutionError extends NewConnectionError {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_NAME_RESOLUTION";
}

/**
 * The connection broke or the server broke the HTTP/1.1 protocol.
 *
 * @example
 * ```ts
 * import { ProtocolError } from "@pooled/http";
 * console.log(new ProtocolError("Connection aborted").code); // "ERR_PROTOCOL"
 * ```
 */
export class ProtocolError extends HTTPError {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_PROTOCOL";
}

/**
 * The body ended before `Content-Length` bytes arrived. Thrown wrapped in a
 * {@linkcode ProtocolError} (as its `cause`).
 *
 * @example
 * ```ts
 * import { IncompleteRead } from "@pooled/http";
 * console.log(new IncompleteRead(12, 10).message); // IncompleteRead(12 bytes read, 10 more expected)
 * ```
 */
export class IncompleteRead extends ProtocolError {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_INCOMPLETE_READ";
  /** Bytes read. */
  readonly partial: number;
  /** Bytes still expected. */
  readonly expected: number;
  /**
   * Creates an instance.
   *
   * @param partial Bytes read.
   * @param expected Bytes still expected.
   */
  constructor(partial: number, expected: number) {
    super(`IncompleteRead(${partial} bytes read, ${expected} more expected)`);
    this.partial = partial;
    this.expected = expected;
  }
}

/**
 * A chunk-size line of a chunked body was not valid.
 *
 * @example
 * ```ts
 * import { InvalidChunkLength } from "@pooled/http";
 * console.log(new InvalidChunkLength("zz").message); // Invalid chunk length: "zz"
 * ```
 */
export class InvalidChunkLength extends ProtocolError {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_INVALID_CHUNK_LENGTH";
  /** The offending line (truncated to 64 characters). */
  readonly line: string;
  /**
   * Creates an instance.
   *
   * @param line The offending chunk-size line.
   */
  constructor(line: string) {
    const shown = line.length > 64 ? line.slice(0, 64) + "…" : line;
    super(`Invalid chunk length: ${JSON.stringify(shown)}`);
    this.line = shown;
  }
}

/**
 * A response header (or a header the caller gave) is not valid.
 *
 * @example
 * ```ts
 * import { InvalidHeader } from "@pooled/http";
 * console.log(new InvalidHeader("bad").code); // "ERR_INVALID_HEADER"
 * ```
 */
export class InvalidHeader extends ProtocolError {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_INVALID_HEADER";
}

/**
 * The response head is larger than the size or count limit.
 *
 * @example
 * ```ts
 * import { HeadersTooLargeError } from "@pooled/http";
 * console.log(new HeadersTooLargeError("too big").code); // "ERR_HEADERS_TOO_LARGE"
 * ```
 */
export class HeadersTooLargeError extends ProtocolError {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_HEADERS_TOO_LARGE";
}

/**
 * TLS failed: handshake, verification or pinning.
 *
 * @example
 * ```ts
 * import { SSLError } from "@pooled/http";
 * console.log(new SSLError("unknown CA").code); // "ERR_SSL"
 * ```
 */
export class SSLError extends HTTPError {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_SSL";
}

/**
 * The proxy could not be reached or refused the tunnel.
 *
 * @example
 * ```ts
 * import { ProxyError } from "@pooled/http";
 * const e = new ProxyError("Unable to connect to proxy", new Error("refused"));
 * console.log(e.originalError?.message); // "refused"
 * ```
 */
export class ProxyError extends HTTPError {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_PROXY";
  /** The underlying error. */
  readonly originalError: Error | null;
  /**
   * Creates an instance.
   *
   * @param message What failed.
   * @param originalError The underlying error.
   */
  constructor(message: string, originalError: Error | null = null) {
    super(
      originalError ? `${message}: ${originalError.message}` : message,
      { cause: originalError ?? undefined },
    );
    this.originalError = originalError;
  }
}

/**
 * A response body could not be decoded (for example corrupt gzip data).
 *
 * @example
 * ```ts
 * import { DecodeError } from "@pooled/http";
 * console.log(new DecodeError("bad gzip").code); // "ERR_DECODE"
 * ```
 */
export class DecodeError extends HTTPError {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_DECODE";
}

/**
 * A blocking pool had no free connection within `poolTimeout`.
 *
 * @example
 * ```ts
 * import { EmptyPoolError } from "@pooled/http";
 * console.log(new EmptyPoolError(null, "empty").code); // "ERR_EMPTY_POOL"
 * ```
 */
export class EmptyPoolError extends PoolError {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_EMPTY_POOL";
}

/**
 * urllib3's error for a connection returned to a blocking pool that was already full.
 * pooled never throws it: a pool with no room for a returned connection closes that
 * connection instead (urllib3 does the same, with a warning). The class stays so that code
 * written against urllib3's names keeps working.
 *
 * @example
 * ```ts
 * import { FullPoolError } from "@pooled/http";
 * console.log(new FullPoolError(null, "full").code); // "ERR_FULL_POOL"
 * ```
 */
export class FullPoolError extends PoolError {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_FULL_POOL";
}

/**
 * The pool, or the `PoolManager`, was closed: a request on it, a caller waiting for one of
 * its connections, or a body still being read from one of them fails with this error.
 *
 * @example
 * ```ts
 * import { ClosedPoolError } from "@pooled/http";
 * console.log(new ClosedPoolError(null, "Pool is closed").code); // "ERR_CLOSED_POOL"
 * ```
 */
export class ClosedPoolError extends PoolError {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_CLOSED_POOL";
}

/**
 * A URL or host is not usable (for example no host).
 *
 * @example
 * ```ts
 * import { LocationValueError } from "@pooled/http";
 * console.log(new LocationValueError("No host specified").code); // "ERR_LOCATION_VALUE"
 * ```
 */
export class LocationValueError extends HTTPError {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_LOCATION_VALUE";
}

/**
 * A URL could not be parsed.
 *
 * @example
 * ```ts
 * import { LocationParseError } from "@pooled/http";
 * const e = new LocationParseError("http://[::1");
 * console.log(e.location); // "http://[::1"
 * ```
 */
export class LocationParseError extends LocationValueError {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_LOCATION_PARSE";
  /** The text that failed to parse, its userinfo replaced by `***`. */
  readonly location: string;
  /**
   * Creates an instance.
   *
   * @param location The text that failed to parse.
   * @param detail Why.
   */
  constructor(location: string, detail?: string) {
    const shown = redactUrl(location);
    super(`Failed to parse: ${shown}${detail ? ` (${detail})` : ""}`);
    this.location = shown;
  }
}

/**
 * A URL's scheme is not `http` or `https`.
 *
 * @example
 * ```ts
 * import { URLSchemeUnknown } from "@pooled/http";
 * console.log(new URLSchemeUnknown("ftp").message); // Unsupported URL scheme: ftp
 * ```
 */
export class URLSchemeUnknown extends LocationValueError {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_URL_SCHEME_UNKNOWN";
  /** The scheme. */
  readonly scheme: string;
  /**
   * Creates an instance.
   *
   * @param scheme The unsupported scheme.
   */
  constructor(scheme: string) {
    super(`Unsupported URL scheme: ${scheme}`);
    this.scheme = scheme;
  }
}

/**
 * A proxy URL has no scheme or one the manager does not support.
 *
 * @example
 * ```ts
 * import { ProxySchemeUnknown } from "@pooled/http";
 * const e = new ProxySchemeUnknown("ftp");
 * console.log(e.code); // "ERR_PROXY_SCHEME_UNKNOWN"
 * console.log(e.message); // Unsupported proxy URL scheme: ftp (use http:// or https://)
 * ```
 */
export class ProxySchemeUnknown extends URLSchemeUnknown {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_PROXY_SCHEME_UNKNOWN";
  /**
   * Creates an instance.
   *
   * @param scheme The scheme, or null when the URL had none.
   * @param supported The schemes that would do, for the message.
   */
  constructor(scheme: string | null, supported = "http:// or https://") {
    super(scheme ?? "");
    this.message = scheme === null
      ? `Proxy URL has no scheme (use ${supported})`
      : `Unsupported proxy URL scheme: ${scheme} (use ${supported})`;
  }
}

/**
 * The proxy set-up asked for is not possible on this runtime.
 *
 * @example
 * ```ts
 * import { ProxySchemeUnsupported } from "@pooled/http";
 * console.log(new ProxySchemeUnsupported("TLS in TLS").code); // "ERR_PROXY_SCHEME_UNSUPPORTED"
 * ```
 */
export class ProxySchemeUnsupported extends HTTPError {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_PROXY_SCHEME_UNSUPPORTED";
}

/**
 * A request body had to be sent again (retry or redirect) but cannot be replayed.
 *
 * @example
 * ```ts
 * import { UnrewindableBodyError } from "@pooled/http";
 * console.log(new UnrewindableBodyError("stream").code); // "ERR_UNREWINDABLE_BODY"
 * ```
 */
export class UnrewindableBodyError extends HTTPError {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_UNREWINDABLE_BODY";
}

/**
 * Carries the reason a response caused a retry (for example "too many redirects").
 *
 * @example
 * ```ts
 * import { ResponseError } from "@pooled/http";
 * console.log(new ResponseError("too many redirects").code); // "ERR_RESPONSE"
 * ```
 */
export class ResponseError extends HTTPError {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_RESPONSE";
}

/**
 * The decoded body grew past `maxResponseSize`.
 *
 * @example
 * ```ts
 * import { ResponseTooLargeError } from "@pooled/http";
 * console.log(new ResponseTooLargeError(10, 11).message);
 * ```
 */
export class ResponseTooLargeError extends HTTPError {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_RESPONSE_TOO_LARGE";
  /** The limit in bytes. */
  readonly limit: number;
  /**
   * Creates an instance.
   *
   * @param limit The limit in bytes.
   * @param received Bytes received when the limit was passed.
   */
  constructor(limit: number, received: number) {
    super(`Response body exceeded maxResponseSize: ${received} > ${limit} bytes`);
    this.limit = limit;
  }
}

/**
 * The address a host name resolved to (or an IP literal) is refused by the pool's address
 * policy (`denyPrivateAddresses`, `allowAddress`): no connection was opened and nothing was
 * sent. A policy decision, not a transient failure, so no `Retry` retries it.
 *
 * @example
 * ```ts
 * import { AddressNotAllowedError } from "@pooled/http";
 * const e = new AddressNotAllowedError("127.0.0.1", "localhost");
 * console.log(e.code, e.message); // ERR_ADDRESS_NOT_ALLOWED Address not allowed for localhost: 127.0.0.1
 * ```
 */
export class AddressNotAllowedError extends HTTPError {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_ADDRESS_NOT_ALLOWED";
  /** The refused IP address (IPv6 without brackets). */
  readonly address: string;
  /** The host name that resolved to it (the address itself for an IP literal). */
  readonly hostname: string;
  /**
   * Creates an instance.
   *
   * @param address The refused IP address.
   * @param hostname The host name that resolved to it.
   */
  constructor(address: string, hostname: string) {
    super(`Address not allowed for ${hostname}: ${address}`);
    this.address = address;
    this.hostname = hostname;
  }
}
