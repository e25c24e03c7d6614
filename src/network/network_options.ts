/**
 * The network options of pools and managers: how a host name becomes the addresses
 * connected to (`lookup`, `resolve`, `dnsCacheTtl`), which addresses may be connected to
 * (`denyPrivateAddresses`, `allowAddress`), how several addresses are raced
 * (`autoSelectFamilyAttemptDelay`), and Unix domain sockets (`socketPath`).
 *
 * @module
 */

/** One address a {@linkcode LookupFunction} found. */
export interface LookupAddress {
  /** The IP address (IPv6 without brackets). */
  readonly address: string;
  /** `4` or `6`. */
  readonly family: 4 | 6;
}

/** What a {@linkcode LookupFunction} is asked for. */
export interface LookupOptions {
  /** `0` for addresses of both families (what pools ask for), `4` or `6` for one. */
  readonly family: 0 | 4 | 6;
}

/**
 * Resolves a host name to its addresses, in the order to try them; the shape of
 * `node:dns`'s `promises.lookup(hostname, { all: true })`. Rejecting, or answering no
 * address, fails the connection with a `NameResolutionError`.
 *
 * @example Map made-up names to loopback
 * ```ts
 * import type { LookupFunction } from "@pooled/http";
 * const lookup: LookupFunction = (hostname) =>
 *   hostname.endsWith(".test")
 *     ? Promise.resolve([{ address: "127.0.0.1", family: 4 }])
 *     : Promise.reject(new Error(`unknown host: ${hostname}`));
 * ```
 */
export type LookupFunction = (
  hostname: string,
  options: LookupOptions,
) => Promise<readonly LookupAddress[]>;

/**
 * Decides whether a connection may go to `address` (IPv6 without brackets), which
 * `hostname` resolved to (the address itself for an IP literal). See
 * {@linkcode NetworkOptions.allowAddress}.
 */
export type AllowAddress = (address: string, hostname: string) => boolean;

/**
 * Network options of a pool (and, through a manager, of every pool it makes). Given none,
 * each connection goes to the runtime adapter as it is (system resolver, 250 ms Happy
 * Eyeballs stagger, no policy).
 *
 * @example An SSRF-safe manager with a DNS cache
 * ```ts
 * import { PoolManager } from "@pooled/http";
 * await using manager = new PoolManager({ denyPrivateAddresses: true, dnsCacheTtl: 30_000 });
 * ```
 */
export interface NetworkOptions {
  /**
   * Resolves host names (default: the runtime's system resolver, `/etc/hosts` included).
   * Asked with `{ family: 0 }` for each new connection to a name (not for IP literals, nor
   * for names in `resolve`).
   */
  lookup?: LookupFunction;
  /**
   * Fixed addresses, like curl's `--resolve`: `{ "example.com:443": "127.0.0.1" }`. The key
   * is `host:port` (IPv6 hosts in brackets, any case), the value an IP address (IPv6 with or
   * without brackets). A connection to that host and port goes to that address without a
   * lookup; TLS still sends the host name as SNI and verifies the certificate against it.
   */
  resolve?: Readonly<Record<string, string>>;
  /**
   * Caches `lookup` answers for this many ms (at most 1000 names; oldest dropped first).
   * A manager shares one cache between its pools. Default: no cache (each new connection
   * resolves again, so DNS changes are seen at once).
   */
  dnsCacheTtl?: number;
  /**
   * Refuses connections to addresses that are not public unicast (see
   * `isPrivateAddress`): loopback, RFC 1918, link-local, unique-local, CGNAT, multicast,
   * `0.0.0.0` and `::`, and IPv4-mapped forms of them. Checked on the resolved address of
   * every connection, redirects included, and the checked address is the one connected to.
   * A refusal is an `AddressNotAllowedError`. Default false.
   */
  denyPrivateAddresses?: boolean;
  /**
   * Decides which addresses may be connected to, called with each resolved address and
   * the host name. When given, its answer is final for every address, private ones
   * included: it can re-allow what `denyPrivateAddresses` would refuse, so keep that rule
   * inside it when you want both (`(a, h) => h === "db.internal" || !isPrivateAddress(a)`).
   * Addresses it refuses are skipped; when none is left, the connection fails with
   * `AddressNotAllowedError`. It must not throw.
   */
  allowAddress?: AllowAddress;
  /**
   * Happy Eyeballs (RFC 8305): with several addresses (both families alternated, the
   * resolver's first family first), the next attempt starts after this many ms without an
   * answer (or at once when one fails); the first connection set up wins and the others
   * are closed. The connect timeout bounds the whole race. Default 250.
   */
  autoSelectFamilyAttemptDelay?: number;
  /**
   * Connects to this Unix domain socket instead of the host and port (the host still
   * names the `Host` header and, for HTTPS, the TLS name). No lookup or address policy
   * applies. Not available on Cloudflare Workers.
   */
  socketPath?: string;
}
