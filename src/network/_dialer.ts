/**
 * The one way every connection is made, whatever the runtime: resolve the host name
 * (`lookup`, `resolve`, the DNS cache), check each address against the policy
 * (`denyPrivateAddresses`, `allowAddress`), then race the allowed addresses (Happy Eyeballs,
 * RFC 8305). The runtime adapters only open one socket to one address (`address`) or
 * Unix socket (`path`), given by {@linkcode dial}.
 *
 * @module
 */

import { AddressNotAllowedError, NameResolutionError, NewConnectionError } from "../errors.ts";
import type { ConnectOptions, Socket } from "../runtime/socket.ts";
import { abortReason } from "../runtime/_errors.ts";
import { systemLookup } from "../runtime/_lookup.ts";
import { unbracketHost } from "../_host.ts";
import { cachedLookup } from "./_dns_cache.ts";
import { ipFamily, isPrivateAddress } from "./ip_address.ts";
import type {
  AllowAddress,
  LookupAddress,
  LookupFunction,
  NetworkOptions,
} from "./network_options.ts";
import { checkBoolean, checkDuration, checkObject, describe } from "../_validate.ts";

/** How connections are made, from a pool's {@linkcode NetworkOptions}. */
export interface DialSettings {
  /** Resolves names not in `resolve`. */
  readonly lookup: LookupFunction;
  /** `host:port` (lower case, IPv6 bracketed) to an address. */
  readonly resolve: ReadonlyMap<string, string>;
  /** Whether an address may be connected to; null allows all. */
  readonly allows: AllowAddress | null;
  /** Happy Eyeballs stagger, in ms. */
  readonly attemptDelay: number;
  /** A Unix socket to connect to instead, or null. */
  readonly socketPath: string | null;
}

/** What an adapter does with no network option: system resolver, 250 ms, no policy. */
export const DEFAULT_DIAL_SETTINGS: DialSettings = {
  lookup: systemLookup,
  resolve: new Map(),
  allows: null,
  attemptDelay: 250,
  socketPath: null,
};

/** Opens one socket to `options.address` (or `options.path`). */
export type OpenOne = (options: ConnectOptions) => Promise<Socket>;

function checkResolve(value: object): Map<string, string> {
  const map = new Map<string, string>();
  for (const [key, address] of Object.entries(checkObject("resolve", value))) {
    const colon = key.lastIndexOf(":");
    const port = Number(key.slice(colon + 1));
    if (colon < 1 || !/^\d{1,5}$/.test(key.slice(colon + 1)) || port > 65535) {
      throw new TypeError(`resolve keys must be "host:port": ${describe(key)}`);
    }
    const ip = typeof address === "string" ? unbracketHost(address) : "";
    if (ipFamily(ip) === 0) {
      throw new TypeError(`resolve values must be IP addresses: ${describe(address)}`);
    }
    map.set(`${key.slice(0, colon).toLowerCase()}:${port}`, ip);
  }
  return map;
}

function checkFunction<T>(name: string, value: T): T {
  if (typeof value !== "function") {
    throw new TypeError(`${name} must be a function: ${describe(value)}`);
  }
  return value;
}

/**
 * The dial settings of `options`, checked (a wrong value throws `TypeError` or
 * `RangeError`), or null when no network option is given: connections then go to the
 * adapter as they are.
 */
export function dialSettings(options: NetworkOptions): DialSettings | null {
  const {
    lookup,
    resolve,
    dnsCacheTtl,
    denyPrivateAddresses,
    allowAddress,
    autoSelectFamilyAttemptDelay,
    socketPath,
  } = options;
  if (
    lookup === undefined && resolve === undefined && dnsCacheTtl === undefined &&
    denyPrivateAddresses === undefined && allowAddress === undefined &&
    autoSelectFamilyAttemptDelay === undefined && socketPath === undefined
  ) return null;
  let lookupFn = lookup === undefined ? systemLookup : checkFunction("lookup", lookup);
  if (dnsCacheTtl !== undefined) {
    lookupFn = cachedLookup(lookupFn, checkDuration("dnsCacheTtl", dnsCacheTtl));
  }
  const denyPrivate = denyPrivateAddresses !== undefined &&
    checkBoolean("denyPrivateAddresses", denyPrivateAddresses);
  const allow = allowAddress === undefined ? null : checkFunction("allowAddress", allowAddress);
  if (socketPath !== undefined && (typeof socketPath !== "string" || socketPath === "")) {
    throw new TypeError(`socketPath must be a non-empty string: ${describe(socketPath)}`);
  }
  return {
    lookup: lookupFn,
    resolve: resolve === undefined ? new Map() : checkResolve(resolve),
    allows: allow ?? (denyPrivate ? (address) => !isPrivateAddress(address) : null),
    attemptDelay: autoSelectFamilyAttemptDelay === undefined
      ? DEFAULT_DIAL_SETTINGS.attemptDelay
      : checkDuration("autoSelectFamilyAttemptDelay", autoSelectFamilyAttemptDelay),
    socketPath: socketPath ?? null,
  };
}

/** The addresses of `hostname`, checked: an IP literal, a `resolve` entry, or a lookup. */
async function addressesOf(
  hostname: string,
  port: number,
  settings: DialSettings,
): Promise<LookupAddress[]> {
  const literal = ipFamily(hostname);
  if (literal !== 0) return [{ address: hostname, family: literal }];
  const fixed = settings.resolve.get(`${hostname.toLowerCase()}:${port}`);
  if (fixed !== undefined) return [{ address: fixed, family: ipFamily(fixed) as 4 | 6 }];
  let found: readonly LookupAddress[];
  try {
    found = await settings.lookup(hostname, { family: 0 });
  } catch (error) {
    if (error instanceof NameResolutionError) throw error;
    throw new NameResolutionError(
      `Failed to resolve '${hostname}' (${error instanceof Error ? error.message : error})`,
      { cause: error },
    );
  }
  const addresses: LookupAddress[] = [];
  for (const entry of Array.isArray(found) ? found : []) {
    const address = typeof entry?.address === "string" ? unbracketHost(entry.address) : "";
    const family = ipFamily(address);
    // A lookup that answers something other than an IP literal is not trusted to name one.
    if (family === 0) {
      throw new NameResolutionError(
        `Failed to resolve '${hostname}' (the lookup answered an invalid address: ${
          describe(entry?.address)
        })`,
      );
    }
    addresses.push({ address, family });
  }
  if (addresses.length === 0) {
    throw new NameResolutionError(`Failed to resolve '${hostname}' (no address)`);
  }
  return addresses;
}

/** The allowed addresses in Happy Eyeballs order: families alternated, the first's first. */
function attemptOrder(
  hostname: string,
  addresses: readonly LookupAddress[],
  allows: AllowAddress | null,
): string[] {
  const allowed = allows === null
    ? addresses
    : addresses.filter(({ address }) => allows(address, hostname) === true);
  if (allowed.length === 0) throw new AddressNotAllowedError(addresses[0].address, hostname);
  if (allowed.length === 1) return [allowed[0].address];
  const first = allowed.filter(({ family }) => family === allowed[0].family);
  const other = allowed.filter(({ family }) => family !== allowed[0].family);
  const order: string[] = [];
  for (let i = 0; i < Math.max(first.length, other.length); i++) {
    if (i < first.length) order.push(first[i].address);
    if (i < other.length) order.push(other[i].address);
  }
  return order;
}

/**
 * The addresses a connection to `hostname:port` may go to, resolved and checked, in the
 * order to try them. Rejects with `NameResolutionError` or `AddressNotAllowedError`.
 */
export async function allowedAddresses(
  hostname: string,
  port: number,
  settings: DialSettings,
): Promise<string[]> {
  return attemptOrder(hostname, await addressesOf(hostname, port, settings), settings.allows);
}

/**
 * Opens a connection for `options`: to `options.path` or `options.address` when given
 * (already resolved), else to the addresses of `options.hostname`, resolved and checked
 * with `settings` and raced by {@linkcode raceAddresses}.
 */
export async function dial(
  options: ConnectOptions,
  open: OpenOne,
  settings: DialSettings = DEFAULT_DIAL_SETTINGS,
): Promise<Socket> {
  if (options.path !== undefined || options.address !== undefined) return open(options);
  if (settings.socketPath !== null) return open({ ...options, path: settings.socketPath });
  const signal = options.signal;
  if (signal?.aborted) throw abortReason(signal);
  const addresses = await allowedAddresses(options.hostname, options.port, settings);
  if (signal?.aborted) throw abortReason(signal);
  if (addresses[0] !== options.hostname) options.onPhase?.("lookup");
  if (addresses.length === 1) return open({ ...options, address: addresses[0] });
  return raceAddresses(addresses, options, open, settings.attemptDelay);
}

/** True when a failed attempt lets the race go on to the next address. */
function isUnreachable(error: unknown): boolean {
  return error instanceof NewConnectionError && !(error instanceof NameResolutionError);
}

/**
 * Happy Eyeballs: starts an attempt on each address in turn, the next one `delay` ms after
 * the previous (or at once when it fails to connect); the first socket set up wins and
 * every other attempt is aborted (or its socket closed). Any failure other than an
 * unreachable address (TLS, abort, connect timeout) ends the race with that error; when
 * every address is unreachable, the last failure is thrown.
 */
export function raceAddresses(
  addresses: readonly string[],
  options: ConnectOptions,
  open: OpenOne,
  delay: number,
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const outer = options.signal;
    const attempts: AbortController[] = [];
    let next = 0;
    let running = 0;
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const end = (winner: AbortController | null) => {
      settled = true;
      clearTimeout(timer);
      outer?.removeEventListener("abort", onAbort);
      for (const attempt of attempts) if (attempt !== winner) attempt.abort();
    };
    const onAbort = () => {
      if (settled) return;
      end(null);
      reject(abortReason(outer!));
    };
    const start = () => {
      clearTimeout(timer);
      const address = addresses[next++];
      const attempt = new AbortController();
      attempts.push(attempt);
      running++;
      const signal = outer ? AbortSignal.any([outer, attempt.signal]) : attempt.signal;
      open({ ...options, address, signal }).then((socket) => {
        running--;
        if (settled) return socket.close();
        end(attempt);
        resolve(socket);
      }, (error: unknown) => {
        running--;
        if (settled) return;
        if (isUnreachable(error) && next < addresses.length) return start();
        if (isUnreachable(error) && running > 0) return;
        end(null);
        reject(error);
      });
      if (next < addresses.length) timer = setTimeout(start, delay);
    };
    if (outer?.aborted) return reject(abortReason(outer));
    outer?.addEventListener("abort", onAbort, { once: true });
    start();
  });
}
