/**
 * SOCKS tunnels: the SOCKS4/4a (no RFC; the 1992 protocol note and its 4A extension)
 * and SOCKS5 (RFC 1928, with RFC 1929 username/password) `CONNECT` handshakes, and the
 * {@linkcode SOCKSConnector} that pools use to reach their origin through a SOCKS
 * proxy, with TLS to the origin over the tunnel for https.
 *
 * `socks4` and `socks5` resolve the target's name here; `socks4a` and `socks5h` send the
 * name and let the proxy resolve it. As in urllib3, a refusal or an authentication
 * failure is a {@linkcode NewConnectionError} (wrapped in a {@linkcode ProxyError}).
 *
 * @module
 */

import { NewConnectionError, ProxyError } from "../errors.ts";
import { SocketReader } from "./_handshake_reader.ts";
import { hostPort } from "../_host.ts";
import { dialProxy, openedTunnel, type ProxyEndpoint, proxyFailure } from "./_dial.ts";
import type { ConnectOptions, Connector, Socket } from "../runtime/socket.ts";

/** The SOCKS flavours, named by their URL schemes. */
export type SOCKSVersion = "socks4" | "socks4a" | "socks5" | "socks5h";

/** A SOCKS proxy: where it listens, its flavour and its credentials. */
export interface SOCKSProxy extends ProxyEndpoint {
  /** The flavour (the proxy URL's scheme). */
  readonly version: SOCKSVersion;
  /** User name (SOCKS5 authentication, or the SOCKS4 user id). */
  readonly username?: string;
  /** Password (SOCKS5 authentication). */
  readonly password?: string;
}

const encoder = new TextEncoder();

const SOCKS5_REPLIES: Record<number, string> = {
  1: "general SOCKS server failure",
  2: "connection not allowed by ruleset",
  3: "network unreachable",
  4: "host unreachable",
  5: "connection refused",
  6: "TTL expired",
  7: "command not supported",
  8: "address type not supported",
};

const SOCKS4_REPLIES: Record<number, string> = {
  0x5b: "request rejected or failed",
  0x5c: "request rejected: the proxy cannot reach the client's identd",
  0x5d: "request rejected: identd reports a different user id",
};

function isIpv4(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host);
}

function ipv4Bytes(host: string): number[] {
  return host.split(".").map(Number);
}

/** The 16 bytes of an IPv6 literal (`::` and a trailing dotted IPv4 part allowed). */
function ipv6Bytes(host: string): number[] {
  const address = host.replace(/%.*$/, "");
  const [head, tail] = address.includes("::") ? address.split("::") : [address, undefined];
  const groups = (part: string | undefined) => {
    if (!part) return [];
    return part.split(":").flatMap((group) => {
      if (!group.includes(".")) return [parseInt(group, 16)];
      const [a, b, c, d] = ipv4Bytes(group);
      return [(a << 8) | b, (c << 8) | d];
    });
  };
  const front = groups(head);
  const back = groups(tail);
  const middle = tail === undefined ? [] : new Array(8 - front.length - back.length).fill(0);
  return [...front, ...middle, ...back].flatMap((group) => [group >> 8, group & 0xff]);
}

function portBytes(port: number): number[] {
  return [port >> 8, port & 0xff];
}

/** A name or password as SOCKS5 sends it: one length byte, then at most 255 bytes. */
function counted(what: string, text: string): number[] {
  const bytes = encoder.encode(text);
  if (bytes.length > 255) {
    throw new RangeError(`SOCKS5 allows at most 255 bytes of ${what}: ${bytes.length}`);
  }
  return [bytes.length, ...bytes];
}

function refused(message: string): ProxyError {
  return new ProxyError("SOCKS proxy refused the connection", new NewConnectionError(message));
}

/** Runs the SOCKS5 greeting, authentication and `CONNECT` on `reader`'s socket. */
async function socks5(
  socket: Socket,
  reader: SocketReader,
  proxy: SOCKSProxy,
  host: string,
  port: number,
): Promise<void> {
  const hasCredentials = proxy.username !== undefined;
  socket.write(Uint8Array.from(hasCredentials ? [5, 2, 0, 2] : [5, 1, 0]));
  const [version, method] = await reader.read(2);
  if (version !== 5) {
    throw new ProxyError(`The proxy did not answer as a SOCKS5 server (${version})`);
  }
  if (method === 2 && hasCredentials) {
    socket.write(
      Uint8Array.from([
        1,
        ...counted("user name", proxy.username!),
        ...counted("password", proxy.password ?? ""),
      ]),
    );
    const [, status] = await reader.read(2);
    if (status !== 0) {
      // Neither credential goes into the message: error text ends up in logs.
      throw refused("SOCKS5 authentication failed: the proxy rejected the user name and password");
    }
  } else if (method !== 0) {
    const offered = hasCredentials
      ? "no authentication, username/password"
      : "no authentication only: the proxy URL has no user name and password";
    throw refused(
      `SOCKS5 authentication failed: the proxy accepts none of the offered methods (${offered})`,
    );
  }
  const address = isIpv4(host)
    ? [1, ...ipv4Bytes(host)]
    : host.includes(":")
    ? [4, ...ipv6Bytes(host)]
    : [3, ...counted("host name", host)];
  socket.write(Uint8Array.from([5, 1, 0, ...address, ...portBytes(port)]));
  const [, reply, , type] = await reader.read(4);
  if (reply !== 0) {
    throw refused(
      `SOCKS5 proxy could not connect to ${hostPort(host, port)}: ${
        SOCKS5_REPLIES[reply] ?? "unknown reply"
      } (0x${reply.toString(16).padStart(2, "0")})`,
    );
  }
  // The address the proxy bound: read and dropped.
  const length = type === 1 ? 4 : type === 4 ? 16 : (await reader.read(1))[0];
  await reader.read(length + 2);
}

/** Runs the SOCKS4 (or 4a, with `host` a name) `CONNECT` on `reader`'s socket. */
async function socks4(
  socket: Socket,
  reader: SocketReader,
  proxy: SOCKSProxy,
  host: string,
  port: number,
): Promise<void> {
  const userId = [...encoder.encode(proxy.username ?? ""), 0];
  const byName = !isIpv4(host);
  const address = byName ? [0, 0, 0, 1] : ipv4Bytes(host);
  const name = byName ? [...encoder.encode(host), 0] : [];
  socket.write(Uint8Array.from([4, 1, ...portBytes(port), ...address, ...userId, ...name]));
  const [, status] = await reader.read(8);
  if (status !== 0x5a) {
    throw refused(
      `SOCKS4 proxy could not connect to ${hostPort(host, port)}: ${
        SOCKS4_REPLIES[status] ?? "unknown reply"
      } (0x${status.toString(16)})`,
    );
  }
}

/**
 * A connector that reaches every target through one SOCKS proxy, with TLS to the target
 * over the tunnel when asked for it.
 *
 * @example A pool for an origin behind a SOCKS5 proxy (what `SOCKSProxyManager` builds)
 * ```ts ignore
 * const connector = new SOCKSConnector(defaultConnector(), { hostname: "127.0.0.1", port: 1080, version: "socks5h" });
 * const pool = new HTTPConnectionPool("example.com", { connector });
 * ```
 */
export class SOCKSConnector implements Connector {
  /** `socks5h(<base>)` and so on. */
  readonly name: string;
  readonly #base: Connector;
  readonly #proxy: SOCKSProxy;

  /**
   * Creates an instance.
   *
   * @param base The runtime adapter that opens the socket to the proxy.
   * @param proxy The proxy, its flavour and credentials.
   */
  constructor(base: Connector, proxy: SOCKSProxy) {
    this.name = `${proxy.version}(${base.name})`;
    this.#base = base;
    this.#proxy = proxy;
  }

  /** Opens a tunnel to `options.hostname:port`, with TLS over it when asked. */
  async connect(options: ConnectOptions): Promise<Socket> {
    const { version } = this.#proxy;
    const host = await this.#address(options.hostname, options.port);
    const socket = await dialProxy(this.#base, this.#proxy, options.signal);
    try {
      const reader = new SocketReader(
        socket,
        options.signal,
        () =>
          new ProxyError(`The SOCKS proxy closed the connection during the ${version} handshake`),
      );
      const handshake = version === "socks5" || version === "socks5h" ? socks5 : socks4;
      await handshake(socket, reader, this.#proxy, host, options.port);
      if (reader.hasExtraBytes) {
        throw new ProxyError(`The SOCKS proxy sent bytes after its ${version} answer`);
      }
      reader.release();
    } catch (error) {
      socket.close();
      throw proxyFailure(error, options.signal);
    }
    return openedTunnel(this.#base, socket, options);
  }

  /** The address to send: the name for remote DNS, else an IP resolved here. */
  async #address(hostname: string, port: number): Promise<string> {
    const { version } = this.#proxy;
    if (version === "socks4a" || version === "socks5h") return hostname;
    const ip = isIpv4(hostname) || hostname.includes(":")
      ? hostname
      : await this.#lookup(hostname, port);
    if (version === "socks4" && !isIpv4(ip)) {
      throw new NewConnectionError(
        `SOCKS4 can only reach IPv4 addresses; ${hostname} is ${ip} (use socks5:// instead)`,
      );
    }
    return ip;
  }

  #lookup(hostname: string, port: number): Promise<string> {
    const lookup = this.#base.lookup;
    if (lookup === undefined) {
      return Promise.reject(
        new NewConnectionError(
          `The ${this.#base.name} connector cannot resolve ${hostname} (it has no lookup); use socks4a:// or socks5h:// to let the proxy resolve it`,
        ),
      );
    }
    return lookup.call(this.#base, hostname, port);
  }
}
