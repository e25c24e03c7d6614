/**
 * How long a pooled connection lives: closed after sitting idle for `idleTimeout`, after
 * carrying `maxRequestsPerConnection` requests, or once `maxConnectionAge` has passed
 * since it opened. The pool's options, checked and resolved once per pool; every
 * connection of the pool shares the one object.
 *
 * @module
 */

import { checkDuration, checkPositiveInteger } from "../_validate.ts";

/** The idle timeout unless a pool sets one, in ms (as undici's `keepAliveTimeout`). */
export const DEFAULT_IDLE_TIMEOUT = 4_000;

/** The lifecycle options of a pool, as given. */
export interface LifecycleOptions {
  idleTimeout?: number | null;
  maxRequestsPerConnection?: number | null;
  maxConnectionAge?: number | null;
}

/** A pool's lifecycle limits, `Infinity` where there is none. */
export interface ConnectionLifecycle {
  /** Ms a connection may sit idle before it is closed. */
  readonly idleTimeout: number;
  /** Requests one socket carries before it is closed. */
  readonly maxRequests: number;
  /** Ms from a socket's opening after which it carries no further request. */
  readonly maxAge: number;
}

/** No limit at all (a connection made outside a pool). */
export const UNLIMITED: ConnectionLifecycle = Object.freeze({
  idleTimeout: Infinity,
  maxRequests: Infinity,
  maxAge: Infinity,
});

/** `idleTimeout` checked: milliseconds `>= 0`, or null for none. */
export function checkIdleTimeout(value: unknown): number | null {
  return checkDuration("idleTimeout", value, { nullable: true });
}

/** `maxRequestsPerConnection` checked: an integer `>= 1`, or null for none. */
export function checkMaxRequests(value: unknown): number | null {
  return value === null ? null : checkPositiveInteger("maxRequestsPerConnection", value);
}

/** `maxConnectionAge` checked: milliseconds `> 0`, or null for none. */
export function checkMaxAge(value: unknown): number | null {
  return checkDuration("maxConnectionAge", value, { nullable: true, positive: true });
}

/** The limits `options` set (the default idle timeout unless given); throws on a bad value. */
export function lifecycleOf(options: LifecycleOptions): ConnectionLifecycle {
  const idleTimeout = options.idleTimeout === undefined
    ? DEFAULT_IDLE_TIMEOUT
    : checkIdleTimeout(options.idleTimeout);
  const maxRequests = checkMaxRequests(options.maxRequestsPerConnection ?? null);
  const maxAge = checkMaxAge(options.maxConnectionAge ?? null);
  return Object.freeze({
    idleTimeout: idleTimeout ?? Infinity,
    maxRequests: maxRequests ?? Infinity,
    maxAge: maxAge ?? Infinity,
  });
}
