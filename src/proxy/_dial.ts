/**
 * The two steps every proxy connector shares: reaching the proxy (failures become
 * {@linkcode ProxyError}s, as in urllib3) and starting TLS to the target on the
 * tunnelled socket (through the connector's `startTls`).
 *
 * @module
 */

import {
  AddressNotAllowedError,
  ConnectTimeoutError,
  HTTPError,
  ProxyError,
  ProxySchemeUnsupported,
} from "../errors.ts";
import { abortReason, tlsError, toError } from "../runtime/_errors.ts";
import type { ConnectOptions, Connector, Socket, TlsConnectOptions } from "../runtime/socket.ts";

/** Where a proxy listens, and the TLS settings for an `https://` proxy. */
export interface ProxyEndpoint {
  /** Host name or IP literal (IPv6 without brackets). */
  readonly hostname: string;
  /** Port. */
  readonly port: number;
  /** TLS to the proxy itself, or undefined for a plain one. */
  readonly tls?: TlsConnectOptions;
}

/**
 * The error for a failure while talking to the proxy: the caller's own abort passes
 * unchanged; everything else, a connect timeout included, is a `ProxyError`.
 */
export function proxyFailure(error: unknown, signal: AbortSignal | undefined): Error {
  // A refused address is a policy decision, reported as such (and never retried).
  if (error instanceof ProxyError || error instanceof AddressNotAllowedError) return error;
  if (signal?.aborted) {
    const reason = abortReason(signal);
    if (!(reason instanceof ConnectTimeoutError)) return reason;
    return new ProxyError("Unable to connect to proxy", reason);
  }
  return new ProxyError("Unable to connect to proxy", toError(error));
}

/** Opens a connection to the proxy (TLS for an `https://` proxy). */
export async function dialProxy(
  base: Connector,
  proxy: ProxyEndpoint,
  signal: AbortSignal | undefined,
): Promise<Socket> {
  try {
    return await base.connect({
      hostname: proxy.hostname,
      port: proxy.port,
      tls: proxy.tls,
      signal,
    });
  } catch (error) {
    throw proxyFailure(error, signal);
  }
}

/**
 * The connector of a forwarding pool: the runtime adapter, with failures to reach the
 * proxy reported as `ProxyError`s.
 */
export function proxyLegConnector(base: Connector): Connector {
  return {
    name: `proxy(${base.name})`,
    connect: (options) => dialProxy(base, options, options.signal),
  };
}

/**
 * Hands over a tunnel whose proxy handshake is done: TLS to the target started through it
 * for https, or the socket itself (resumed: the handshake reader paused it) for http.
 */
export function openedTunnel(
  base: Connector,
  socket: Socket,
  options: ConnectOptions,
): Socket | Promise<Socket> {
  if (!options.tls) {
    socket.resume();
    return socket;
  }
  return startTlsThrough(base, socket, { ...options, tls: options.tls });
}

/** Starts TLS to the target on a tunnelled socket; closes the socket on failure. */
function startTlsThrough(
  base: Connector,
  socket: Socket,
  options: ConnectOptions & { tls: TlsConnectOptions },
): Promise<Socket> {
  if (base.startTls === undefined) {
    socket.close();
    return Promise.reject(
      new ProxySchemeUnsupported(
        `The ${base.name} connector cannot start TLS on a proxy tunnel (it has no startTls), so https://${options.hostname}:${options.port} cannot be reached through this proxy`,
      ),
    );
  }
  return base.startTls(socket, {
    hostname: options.hostname,
    port: options.port,
    tls: options.tls,
    signal: options.signal,
  }).catch((error: unknown) => {
    socket.close(); // a connector that failed before taking the socket over left it open
    throw tlsFailure(error, options);
  });
}

/**
 * The error for a failed TLS start through a tunnel: the connector's typed errors, API
 * misuse and the caller's abort pass unchanged; a plain error (a Workers socket that
 * closed, a connector's own failure) becomes an `SSLError`, as the handshake failed.
 */
function tlsFailure(error: unknown, options: ConnectOptions): unknown {
  if (error instanceof HTTPError || error instanceof TypeError || error instanceof RangeError) {
    return error;
  }
  if (options.signal?.aborted) return abortReason(options.signal);
  return tlsError(error, options.hostname, options.port);
}
