/**
 * Pool keys: what makes two pools of a manager the same one, as urllib3's `PoolKey`. Each
 * pool option has its own normaliser, so equal values share a pool however they were
 * written (`retries: 3` and `new Retry({ total: 3 })`, `{ "X-A": "1" }` and
 * `new Headers({ "x-a": "1" })`), and values without a canonical form (connectors,
 * subclassed policies) compare by identity.
 *
 * @module
 */

import type { ConnectionPoolOptions } from "../pool/connection_pool.ts";
import { TLS_OPTION_NAMES } from "../pool/tls_options.ts";
import { HTTPHeaderDict } from "../headers.ts";
import type { RequestHeaders } from "../request/request_methods.ts";
import { Retry } from "../policy/retry.ts";
import { Timeout } from "../policy/timeout.ts";
import { checkIdleTimeout, checkMaxAge, checkMaxRequests } from "../pool/_lifecycle.ts";

/** Ids of objects compared by identity (weak: a key never keeps its object alive). */
const objectIds = new WeakMap<object, number>();
let lastObjectId = 0;

/** `@n`, the same for the same object and different for any other. */
function identity(value: object): string {
  let id = objectIds.get(value);
  if (id === undefined) objectIds.set(value, id = ++lastObjectId);
  return `@${id}`;
}

/** Plain data (primitives, arrays, sets) by value; functions and other objects by identity. */
function data(value: unknown): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "function":
      return identity(value);
    case "object":
      if (value === null) return "null";
      if (Array.isArray(value)) return `[${value.map(data).join(",")}]`;
      if (value instanceof Set) return `{${[...value].map(data).sort().join(",")}}`;
      return identity(value);
    default:
      return String(value);
  }
}

/** The fields of an instance of exactly `type`, by value; a subclass's by identity. */
function fieldsOf(value: object, type: object, skip = ""): string {
  if (Object.getPrototypeOf(value) !== type) return identity(value);
  const fields = Object.keys(value).filter((name) => name !== skip).sort();
  return `(${fields.map((name) => `${name}:${data(value[name as keyof typeof value])}`)})`;
}

/** A policy by its options; one with a history (it has been used) by identity. */
function retries(value: Retry | number | boolean | null): string {
  const retry = Retry.fromInt(value);
  if (retry.history.length > 0) return identity(retry);
  return `Retry${fieldsOf(retry, Retry.prototype, "history")}`;
}

function timeout(value: Timeout | number | null): string {
  return `Timeout${fieldsOf(Timeout.from(value), Timeout.prototype)}`;
}

/**
 * Names case-insensitively, each name's values merged in order, names sorted (their
 * relative order carries no meaning): `HTTPHeaderDict.equals` semantics.
 */
function headers(value: RequestHeaders): string {
  const merged: [string, string][] = [];
  for (const [name, joined] of new HTTPHeaderDict(value).itermerged()) {
    merged.push([name.toLowerCase(), joined]);
  }
  if (merged.length === 0) return "";
  merged.sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
  return JSON.stringify(merged);
}

/** A certificate or private key, by value but never shown (left to the pool to check). */
function pemText(pem: string, keys: PoolKeys): string {
  return typeof pem === "string" ? keys.text(pem) : data(pem);
}

/** A `resolve` map by its entries (keys in lower case, sorted); anything else by identity. */
function resolveMap(value: Readonly<Record<string, string>>): string {
  if (value === null || typeof value !== "object") return data(value);
  const entries = Object.entries(value).map(([key, address]) => [key.toLowerCase(), address]);
  entries.sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
  return JSON.stringify(entries);
}

/** Turns an option's value into its part of a key; `""` leaves the option out. */
type Normaliser<T> = (value: T, keys: PoolKeys) => string;

/** One normaliser per pool option (the compiler checks that none is missing). */
const NORMALISERS: {
  readonly [Name in Exclude<keyof ConnectionPoolOptions, "port">]-?: Normaliser<
    Exclude<ConnectionPoolOptions[Name], undefined>
  >;
} = {
  timeout,
  maxSize: data,
  block: data,
  poolTimeout: data,
  headers,
  proxyHeaders: headers,
  retries,
  connector: identity,
  maxResponseSize: data,
  maxHeaderSize: data,
  maxHeaderCount: data,
  forwardToProxy: data,
  http2: data,
  http2PriorKnowledge: data,
  maxConcurrentStreams: data,
  caCerts: (pems, keys) =>
    Array.isArray(pems) ? data(pems.map((pem) => pemText(pem, keys))) : data(pems),
  certReqs: data,
  cert: pemText,
  key: pemText,
  serverHostname: data,
  assertHostname: data,
  assertFingerprint: data,
  minVersion: data,
  lookup: identity,
  resolve: resolveMap,
  dnsCacheTtl: data,
  denyPrivateAddresses: data,
  allowAddress: identity,
  autoSelectFamilyAttemptDelay: data,
  socketPath: data,
  // Checked here as the pool would: a wrong value fails before two spellings share a pool.
  idleTimeout: (value) => data(checkIdleTimeout(value)),
  maxRequestsPerConnection: (value) => data(checkMaxRequests(value)),
  maxConnectionAge: (value) => data(checkMaxAge(value)),
  // The same hooks object shares a pool; equal-looking arrays of functions do not.
  hooks: identity,
  timings: data,
};

/**
 * Builds the keys of one manager's pools: `scheme://host:port`, then `#` and the options
 * that were given, each normalised (`name=value`, sorted by name). A manager keeps one, so
 * the PEM texts it has seen are forgotten with it.
 */
export class PoolKeys {
  /** PEM texts (certificates, private keys), numbered so that no key shows one. */
  #texts = new Map<string, number>();

  /** `pem<n>`, the same for equal texts and different for any other. */
  text(value: string): string {
    let id = this.#texts.get(value);
    if (id === undefined) this.#texts.set(value, id = this.#texts.size + 1);
    return `pem${id}`;
  }

  /**
   * The key of the pool for `scheme://host:port` with `options` (those given for this
   * pool, not the manager's). TLS options do not count for `http`; names that are not pool
   * options, and `undefined` values, are left out. A value of the wrong type throws the
   * `TypeError` the pool would.
   */
  key(scheme: string, host: string, port: number, options: ConnectionPoolOptions): string {
    const origin = `${scheme}://${host}:${port}`;
    const parts: string[] = [];
    for (const name of Object.keys(options).sort()) {
      if (!Object.hasOwn(NORMALISERS, name)) continue;
      if (scheme === "http" && TLS_OPTION_NAMES.has(name)) continue;
      const value = options[name as keyof typeof NORMALISERS];
      if (value === undefined) continue;
      const normalise = NORMALISERS[name as keyof typeof NORMALISERS] as Normaliser<unknown>;
      const part = normalise(value, this);
      if (part !== "") parts.push(`${name}=${part}`);
    }
    return parts.length === 0 ? origin : `${origin}#${parts.join("&")}`;
  }
}
