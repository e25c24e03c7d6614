/**
 * The fault suite's one harness: a raw loopback server that does one bad thing, a
 * `PoolManager` in front of it, and the checks every fault case ends with (the exact typed
 * error, and the pool back at rest).
 *
 * @module
 */

import { assert } from "../_harness.ts";
import { type RawConnection, type RawServer, rawServer } from "../_servers.ts";
import { rejects, sleep } from "../_util.ts";
import { type ConnectionPool, PoolManager, type PoolManagerOptions } from "../../mod.ts";

/** What a fault case gets. */
export interface Fault {
  /** The misbehaving server. */
  server: RawServer;
  /** A manager with `retries: false` unless the case says otherwise. */
  manager: PoolManager;
  /** The server's origin, without a trailing slash. */
  url: string;
  /** The manager's pool for the server. */
  pool: ConnectionPool;
  /** Accepted connections, in order. */
  conns: RawConnection[];
}

/** Drives connection number `index` (0-based) of the fault server. */
export type FaultHandler = (conn: RawConnection, index: number) => Promise<void>;

/** Pool counts a case expects once it is over (`inUse` and `queued` are always 0). */
export interface Rest {
  /** Open sockets. */
  open?: number;
  /** Idle connections. */
  idle?: number;
}

/**
 * Runs `fn` against a raw server driven by `handler` through a `PoolManager`. Afterwards
 * the pool must be at rest (and match `rest`); then everything is closed and every handler
 * has returned, so Deno's sanitizers see no socket or timer left.
 */
export async function withFault(
  handler: FaultHandler,
  fn: (fault: Fault) => Promise<void>,
  options: PoolManagerOptions & { rest?: Rest } = {},
): Promise<void> {
  const { rest, ...managerOptions } = options;
  const handlers: Promise<void>[] = [];
  const conns: RawConnection[] = [];
  const server = await rawServer((conn) => {
    const done = handler(conn, conns.push(conn) - 1);
    handlers.push(done.catch(() => {}));
    return done;
  });
  const manager = new PoolManager({ retries: false, ...managerOptions });
  const pool = manager.connectionFromUrl(server.url);
  try {
    await fn({ server, manager, url: server.url, pool, conns });
    assertAtRest(pool, rest);
  } finally {
    await manager.close();
    await server.close();
    await Promise.all(handlers);
  }
}

/** Nothing in use, nobody queued, and the expected open and idle counts. */
export function assertAtRest(pool: ConnectionPool, rest: Rest = {}): void {
  const stats = pool.stats;
  assert.equal(stats.inUse, 0, "no connection in use");
  assert.equal(stats.queued, 0, "nobody queued");
  if (rest.open !== undefined) assert.equal(stats.open, rest.open, "open sockets");
  if (rest.idle !== undefined) assert.equal(stats.idle, rest.idle, "idle connections");
}

/**
 * Awaits the rejection of `promise` and checks it is exactly a `kind` (not a subclass) with
 * `code`, and a message matching `message`. Returns the error for further checks.
 */
export async function expectError<T extends Error>(
  promise: Promise<unknown>,
  kind: abstract new (...args: never[]) => T,
  code: string,
  message: RegExp,
): Promise<T> {
  const error = await rejects(promise);
  assert.ok(error instanceof Error, `expected ${kind.name}, got ${String(error)}`);
  assert.equal(error.constructor, kind, `expected ${kind.name}, got ${error.name}: ${error}`);
  assert.equal((error as Error & { code?: string }).code, code);
  assert.match(error.message, message);
  return error as T;
}

/** Reads one request; false when the client went away first. */
export async function readRequest(conn: RawConnection): Promise<boolean> {
  try {
    await conn.readRequest();
    return true;
  } catch {
    return false;
  }
}

/** A handler that reads one request, writes `bytes`, then does `then` to the connection. */
export function answerOnce(bytes: string, then: "end" | "reset" | "stall" = "end"): FaultHandler {
  return async (conn) => {
    if (!await readRequest(conn)) return;
    if (bytes !== "") await conn.write(bytes);
    if (then === "end") return conn.end();
    if (then === "stall") return await conn.closed;
    // Let the bytes reach the client before the reset, which may discard unread data.
    await sleep(30);
    conn.destroy();
  };
}

/** A handler that answers every request on every connection with `response` (keep-alive). */
export function answerEvery(response: string): FaultHandler {
  return async (conn) => {
    while (await readRequest(conn)) await conn.write(response);
  };
}
