/**
 * Tunnels through an HTTP proxy with `CONNECT host:port` (RFC 9110 section 9.3.6): the
 * {@linkcode HTTPTunnelConnector} opens a connection to the proxy, asks for the tunnel
 * with the proxy headers (and only there), then starts TLS to the target over it. Pools
 * use it as their connector, so keep-alive works through the tunnel unchanged.
 *
 * @module
 */

import { ProxyError } from "../errors.ts";
import { SocketReader } from "./_handshake_reader.ts";
import { hostPort } from "../_host.ts";
import { dialProxy, openedTunnel, type ProxyEndpoint, proxyFailure } from "./_dial.ts";
import type { ConnectOptions, Connector, Socket } from "../runtime/socket.ts";
import { headBytes, noFlags, renderHeaderLines } from "../http1/request_head.ts";
import { decodeLatin1 } from "../_bytes.ts";

/** Headers of `CONNECT` that the library sets (its framing: no body, and the target). */
const CONNECT_OWN = new Set(["host", "content-length", "transfer-encoding"]);

/**
 * The rendered lines of the proxy headers of a `CONNECT`. Throws a `TypeError` for a bad
 * name or value, or for a header the library sets itself.
 */
function connectHeaderLines(headers: Iterable<readonly [string, string]>): string {
  for (const [name] of headers) {
    if (CONNECT_OWN.has(name.toLowerCase())) {
      throw new TypeError(
        `Proxy headers cannot set Host, Content-Length or Transfer-Encoding on CONNECT: ${
          JSON.stringify(name)
        }`,
      );
    }
  }
  return renderHeaderLines(headers, noFlags());
}

/** Longest `CONNECT` answer head accepted. */
const MAX_ANSWER_HEAD = 64 * 1024;
const STATUS_LINE = /^HTTP\/1\.\d (\d{3})(?: ([^\r\n]*))?\r\n/;

/**
 * Asks the proxy on `socket` for a tunnel to `target` (`host:port`), sending `headerLines`
 * (rendered `Name: value\r\n` lines). Resolves once the proxy answered 2xx; rejects with a
 * `ProxyError` naming the status otherwise.
 */
export async function openConnectTunnel(
  socket: Socket,
  target: string,
  headerLines: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  const reader = new SocketReader(
    socket,
    signal,
    () => new ProxyError(`The proxy closed the connection before answering CONNECT ${target}`),
  );
  socket.write(headBytes(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${headerLines}\r\n`));
  const head = decodeLatin1(
    await reader.readUntil(
      "\r\n\r\n",
      MAX_ANSWER_HEAD,
      () =>
        new ProxyError(`The proxy's answer to CONNECT ${target} is over ${MAX_ANSWER_HEAD} bytes`),
    ),
  );
  const status = STATUS_LINE.exec(head);
  if (status === null) {
    throw new ProxyError(
      `The proxy answered CONNECT ${target} with no HTTP status line: ${
        JSON.stringify(head.slice(0, 80))
      }`,
    );
  }
  const code = Number(status[1]);
  if (code < 200 || code > 299) {
    throw new ProxyError(`Tunnel connection failed: ${code} ${status[2] ?? ""}`.trimEnd());
  }
  if (reader.hasExtraBytes) {
    throw new ProxyError(`The proxy sent bytes after its answer to CONNECT ${target}`);
  }
  reader.release();
}

/**
 * A connector that reaches every target through a `CONNECT` tunnel of one HTTP (or
 * HTTPS) proxy, then starts TLS to the target when asked for it.
 *
 * @example A pool for an https origin behind a proxy (what `ProxyManager` builds)
 * ```ts ignore
 * const connector = new HTTPTunnelConnector(defaultConnector(), { hostname: "127.0.0.1", port: 3128 }, []);
 * const pool = new HTTPSConnectionPool("example.com", { connector });
 * ```
 */
export class HTTPTunnelConnector implements Connector {
  /** `http-tunnel(<base>)`. */
  readonly name: string;
  readonly #base: Connector;
  readonly #proxy: ProxyEndpoint;
  readonly #headerLines: string;

  /**
   * Creates an instance.
   *
   * @param base The runtime adapter that opens the socket to the proxy.
   * @param proxy Where the proxy listens (and TLS to it, for an https proxy).
   * @param headers Headers sent with each `CONNECT` (`Proxy-Authorization`...); a bad
   *   name or value, or `Host`, `Content-Length` or `Transfer-Encoding`, is a `TypeError`
   *   here, before any connection.
   */
  constructor(
    base: Connector,
    proxy: ProxyEndpoint,
    headers: readonly (readonly [string, string])[],
  ) {
    this.name = `http-tunnel(${base.name})`;
    this.#base = base;
    this.#proxy = proxy;
    this.#headerLines = connectHeaderLines(headers);
  }

  /** Opens a tunnel to `options.hostname:port`, with TLS over it when asked. */
  async connect(options: ConnectOptions): Promise<Socket> {
    const socket = await dialProxy(this.#base, this.#proxy, options.signal);
    try {
      await openConnectTunnel(
        socket,
        hostPort(options.hostname, options.port),
        this.#headerLines,
        options.signal,
      );
    } catch (error) {
      socket.close();
      throw proxyFailure(error, options.signal);
    }
    return openedTunnel(this.#base, socket, options);
  }
}
