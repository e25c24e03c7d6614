/**
 * The request loop (`src/request/_request_loop.ts`) on the wire: every rule of `Retry`, `Timeout`
 * and redirects checked against raw loopback servers that record what reached them
 * (urllib3 rows 61-89). After every case the pools are back at rest; Deno's sanitizers
 * prove that no timer or socket is left behind.
 */

import { assert, test } from "../_harness.ts";
import { assertAtRest, rejects, sleep, text, waitFor } from "../_util.ts";
import { CA_CERT } from "../_certs.ts";
import {
  type RawConnection,
  type RawRequest,
  type RawServer,
  rawServer,
  unusedPort,
} from "../_servers.ts";
import {
  ConnectTimeoutError,
  HostChangedError,
  HTTPConnectionPool,
  HTTPSConnectionPool,
  type IncrementContext,
  MaxRetryError,
  NewConnectionError,
  PoolManager,
  ProtocolError,
  ReadTimeoutError,
  ResponseError,
  Retry,
  StaleConnectionError,
  Timeout,
  URLSchemeUnknown,
} from "../../mod.ts";

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

/** A request as the server saw it. */
interface Seen extends RawRequest {
  /** Which connection carried it (1, 2, ...). */
  conn: number;
  /** When its head arrived (`performance.now()`). */
  at: number;
}

/** Answers one request; may write anything, stall, or break the connection. */
type Respond = (req: Seen, conn: RawConnection, n: number) => Promise<void>;

/** A keep-alive raw server that records every request and can be awaited to the end. */
interface RecordingServer {
  server: RawServer;
  url: string;
  port: number;
  /** Every request, in arrival order. */
  seen: Seen[];
  /** Closes every connection and waits until every handler returned (no timer left). */
  close(): Promise<void>;
}

/** Starts a recording server; `respond` is called with the overall request index `n`. */
async function recordingServer(respond: Respond): Promise<RecordingServer> {
  const seen: Seen[] = [];
  const handlers: Promise<void>[] = [];
  let next = 0;
  const server = await rawServer((conn) => {
    const id = ++next;
    const run = (async () => {
      while (!conn.ended) {
        let req: RawRequest;
        try {
          req = await conn.readRequest();
        } catch {
          return; // the client went away
        }
        const entry: Seen = { ...req, conn: id, at: performance.now() };
        seen.push(entry);
        await respond(entry, conn, seen.length - 1);
      }
    })();
    handlers.push(run.catch(() => {}));
    return run;
  });
  return {
    server,
    url: server.url,
    port: server.port,
    seen,
    async close() {
      await server.close();
      await Promise.all(handlers);
    },
  };
}

/** Writes a complete response with a `Content-Length` body. */
function reply(
  conn: RawConnection,
  status: number,
  headers: Record<string, string> = {},
  body = "",
): Promise<void> {
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join("");
  return conn.write(
    `HTTP/1.1 ${status} X\r\n${lines}Content-Length: ${body.length}\r\n\r\n${body}`,
  );
}

/** Sends part of a response head, then closes: a read error that is never a stale one. */
async function breakMidHead(_: Seen, conn: RawConnection): Promise<void> {
  await conn.write("HTTP/1.1 200 OK\r\n");
  conn.end();
}

/** Asserts `error` is a `MaxRetryError` for `url` whose reason is a `kind`. */
function assertMaxRetry(
  error: unknown,
  kind: new (...args: never[]) => Error,
  url?: string,
): asserts error is MaxRetryError {
  assert.ok(error instanceof MaxRetryError, `expected MaxRetryError, got ${error}`);
  assert.ok(error.reason instanceof kind, `expected a ${kind.name} reason, got ${error.reason}`);
  if (url !== undefined) assert.equal(error.url, url);
}

/** The gaps between consecutive arrivals, in ms. */
const gaps = (seen: Seen[]): number[] => seen.slice(1).map((s, i) => s.at - seen[i].at);

/** Timers may fire a little early on some runtimes; lower bounds allow for it. */
const EARLY = 15;

/** Starts a pool on `server` and closes both after `fn`. */
async function withPool(
  server: RecordingServer,
  options: ConstructorParameters<typeof HTTPConnectionPool>[1],
  fn: (pool: HTTPConnectionPool) => Promise<void>,
): Promise<void> {
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port, ...options });
  try {
    await fn(pool);
    assertAtRest(pool);
  } finally {
    await pool.close();
    await server.close();
  }
}

// ---------------------------------------------------------------------------------------------
// status retries and Retry-After
// ---------------------------------------------------------------------------------------------

test("statusForcelist: listed statuses are retried on one connection, others returned", async () => {
  const statuses = [500, 502, 200, 500];
  const server = await recordingServer((_, conn, n) => reply(conn, statuses[n], {}, `#${n}`));
  await withPool(server, {}, async (pool) => {
    const retries = new Retry({ total: 5, statusForcelist: [500, 502] });
    const r = await pool.request("GET", "/s", { retries, preloadContent: false });
    assert.equal(r.status, 200);
    assert.equal(await r.text(), "#2");
    assert.deepEqual(
      r.retries?.history.map((h) => [h.method, h.url, h.status, h.error]),
      [["GET", `${server.url}/s`, 500, null], ["GET", `${server.url}/s`, 502, null]],
    );
    // 500 is not retried when only 502 is listed.
    const unlisted = await pool.request("GET", "/s", {
      retries: new Retry({ statusForcelist: [502] }),
    });
    assert.equal(unlisted.status, 500);
    assert.equal(unlisted.retries?.history.length, 0);
    assert.equal(server.seen.length, 4);
    assert.ok(server.seen.every((s) => s.conn === 1), "the retried responses were drained");
  });
});

test("statusForcelist: POST is retried only when allowedMethods includes it", async () => {
  const server = await recordingServer((_, conn) => reply(conn, 503));
  await withPool(server, {}, async (pool) => {
    const post = await pool.request("POST", "/p", {
      body: "again",
      retries: new Retry({ statusForcelist: [503] }),
    });
    assert.equal(post.status, 503, "POST is not in the default allowedMethods");
    assert.equal(server.seen.length, 1);

    const retries = new Retry({ total: 3, statusForcelist: [503], allowedMethods: ["POST"] });
    const error = await rejects(pool.request("POST", "/p", { body: "again", retries }));
    assertMaxRetry(error, ResponseError, `${server.url}/p`);
    assert.match(error.reason!.message, /too many 503 error responses/);
    assertAtRest(pool);
    assert.equal(server.seen.length, 1 + 4, "the first attempt and 3 retries");
    assert.ok(server.seen.every((s) => text(s.body) === "again"), "the body went every time");
  });
});

test("Retry-After in seconds on 429: retried without a forcelist, after the wait", async () => {
  const server = await recordingServer((_, conn, n) =>
    n === 0 ? reply(conn, 429, { "Retry-After": "1" }, "slow down") : reply(conn, 200, {}, "ok")
  );
  await withPool(server, {}, async (pool) => {
    const r = await pool.request("GET", "/");
    assert.equal(text(r.data), "ok");
    assert.equal(r.retries?.history[0].status, 429);
    const [gap] = gaps(server.seen);
    assert.ok(gap >= 1000 - EARLY, `waited ${gap} ms for Retry-After: 1`);
  });
});

test("Retry-After as an HTTP-date on 503: the wait runs to that date", async () => {
  let until = 0;
  const server = await recordingServer((_, conn, n) => {
    if (n > 0) return reply(conn, 200);
    // A whole second at least 1.2 s from now (HTTP-dates have second resolution).
    until = Math.ceil((Date.now() + 1200) / 1000) * 1000;
    return reply(conn, 503, { "Retry-After": new Date(until).toUTCString() });
  });
  await withPool(server, {}, async (pool) => {
    const r = await pool.request("GET", "/");
    assert.equal(r.status, 200);
    assert.ok(Date.now() >= until - EARLY, `retried ${until - Date.now()} ms before the date`);
    assert.ok(gaps(server.seen)[0] >= 1200 - EARLY);
  });
});

test("Retry-After: 413/429/503 only, respectRetryAfterHeader false, retryAfterMax", async () => {
  const plan: Array<[number, string]> = [];
  const server = await recordingServer((_, conn, n) => {
    const [status, after] = plan[n] ?? [200, ""];
    return reply(conn, status, after ? { "Retry-After": after } : {});
  });
  await withPool(server, {}, async (pool) => {
    // 413 with Retry-After: 0 is retried at once; 500 with Retry-After is not retried.
    plan.push([413, "0"], [200, ""], [500, "0"]);
    assert.equal((await pool.request("GET", "/")).status, 200);
    assert.equal((await pool.request("GET", "/")).status, 500);
    assert.equal(server.seen.length, 3);

    // Not respected: a 503 with a one-hour Retry-After is returned as it is...
    plan.push([503, "3600"]);
    const ignored = await pool.request("GET", "/", {
      retries: new Retry({ respectRetryAfterHeader: false }),
    });
    assert.equal(ignored.status, 503);
    // ...and with a forcelist it is retried without waiting the hour.
    plan.push([503, "3600"], [200, ""]);
    const started = performance.now();
    const forced = await pool.request("GET", "/", {
      retries: new Retry({ respectRetryAfterHeader: false, statusForcelist: [503] }),
    });
    assert.equal(forced.status, 200);
    // retryAfterMax caps the wait: 3600 s becomes 50 ms.
    plan.push([429, "3600"], [200, ""]);
    const capped = await pool.request("GET", "/", { retries: new Retry({ retryAfterMax: 50 }) });
    assert.equal(capped.status, 200);
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 30_000, `an hour-long Retry-After was waited for (${elapsed} ms)`);
    assert.ok(gaps(server.seen).at(-1)! >= 50 - EARLY, "the capped wait still happened");
    assert.equal(server.seen.length, 8);
  });
});

// ---------------------------------------------------------------------------------------------
// backoff
// ---------------------------------------------------------------------------------------------

test("backoff on the wire: 0, then backoffFactor * 2 ** (n - 1) between attempts", async () => {
  const server = await recordingServer((_, conn, n) => reply(conn, n < 3 ? 503 : 200));
  await withPool(server, {}, async (pool) => {
    const r = await pool.request("GET", "/", {
      retries: new Retry({ statusForcelist: [503], backoffFactor: 100 }),
    });
    assert.equal(r.status, 200);
    const [, second, third] = gaps(server.seen);
    // The first retry is immediate (no lower bound), then 200 ms, then 400 ms.
    assert.ok(second >= 200 - EARLY, `second gap ${second} ms`);
    assert.ok(third >= 400 - EARLY, `third gap ${third} ms`);
  });
});

test("backoff applies to error retries too, capped by backoffMax", async () => {
  const server = await recordingServer(breakMidHead);
  await withPool(server, {}, async (pool) => {
    const error = await rejects(pool.request("GET", "/e", {
      retries: new Retry({ total: 3, backoffFactor: 100, backoffMax: 150 }),
    }));
    assertMaxRetry(error, ProtocolError, `${server.url}/e`);
    const [, second, third] = gaps(server.seen);
    assert.ok(second >= 150 - EARLY, `second gap ${second} ms (200 capped at 150)`);
    assert.ok(third >= 150 - EARLY, `third gap ${third} ms (400 capped at 150)`);
    assert.equal(server.server.connections, 4, "each broken connection replaced");
  });
});

// ---------------------------------------------------------------------------------------------
// connect and read errors
// ---------------------------------------------------------------------------------------------

test("a refused port: retried per connect, then MaxRetryError(NewConnectionError) with the url", async () => {
  const port = await unusedPort();
  const url = `http://127.0.0.1:${port}/x`;
  const pool = new HTTPConnectionPool("127.0.0.1", { port, maxSize: 1, block: true });
  try {
    // POST too: the request never reached a server, so any method is retried.
    for (const method of ["GET", "POST"]) {
      const error = await rejects(pool.request(method, "/x", {
        retries: new Retry({ total: 10, connect: 2, backoffFactor: 20 }),
      }));
      assertMaxRetry(error, NewConnectionError, url);
      assert.match(error.message, /Max retries exceeded with url/);
      assertAtRest(pool);
    }
    // connect: false and retries: false give the error itself.
    for (const retries of [new Retry({ connect: false }), false]) {
      const error = await rejects(pool.request("GET", "/x", { retries }));
      assert.ok(error instanceof NewConnectionError, `expected NewConnectionError, got ${error}`);
      assertAtRest(pool);
    }
    assert.equal(pool.stats.open, 0);
  } finally {
    await pool.close();
  }
});

test("read errors: GET retried per read, POST re-raised unwrapped, POST retried when allowed", async () => {
  // Requests 0, 1, 3 and 4 break after a partial head (a read error on a fresh or reused
  // connection alike, never a stale one); the others are answered.
  const server = await recordingServer((req, conn, n) =>
    [0, 1, 3, 4].includes(n)
      ? breakMidHead(req, conn)
      : reply(conn, 200, {}, `got ${text(req.body)}`)
  );
  await withPool(server, {}, async (pool) => {
    // read: 0 allows no read retry, even with total left.
    const none = await rejects(pool.request("GET", "/g", { retries: new Retry({ read: 0 }) }));
    assertMaxRetry(none, ProtocolError, `${server.url}/g`);
    assertAtRest(pool);
    assert.equal(server.seen.length, 1);

    // GET with read: 1 is sent again on a new connection.
    const get = await pool.request("GET", "/g", { retries: new Retry({ read: 1 }) });
    assert.equal(text(get.data), "got ");
    assert.equal(get.retries?.read, 0);
    assert.ok(get.retries?.history[0].error instanceof ProtocolError);
    assert.equal(server.seen.length, 3);

    // POST: the original error, not a MaxRetryError, and nothing sent twice.
    const post = await rejects(pool.request("POST", "/p", { body: "once" }));
    assert.ok(post instanceof ProtocolError, `expected ProtocolError, got ${post}`);
    assert.ok(!(post instanceof MaxRetryError));
    assertAtRest(pool);
    assert.equal(server.seen.length, 4);

    // POST in allowedMethods: retried, with its body.
    const allowed = await pool.request("POST", "/p", {
      body: "twice",
      retries: new Retry({ allowedMethods: ["POST"] }),
    });
    assert.equal(text(allowed.data), "got twice");
    assert.deepEqual(server.seen.slice(4).map((s) => text(s.body)), ["twice", "twice"]);
  });
});

test("a read timeout on POST is a bare ReadTimeoutError, sent once", async () => {
  const server = await recordingServer((_, conn) => conn.closed);
  await withPool(server, { timeout: new Timeout({ read: 80 }) }, async (pool) => {
    const error = await rejects(pool.request("POST", "/slow", { body: "x" }));
    assert.ok(error instanceof ReadTimeoutError, `expected ReadTimeoutError, got ${error}`);
    assert.equal(server.seen.length, 1);
  });
});

test("a stale reused connection: GET resent uncounted, POST never resent", async () => {
  // Every connection answers its first request, then closes on reading the next one.
  const server = await recordingServer(async (req, conn) => {
    if (server.seen.filter((s) => s.conn === req.conn).length > 1) return conn.end();
    await reply(conn, 200, {}, `conn ${req.conn}`);
  });
  await withPool(server, {}, async (pool) => {
    assert.equal(text((await pool.request("GET", "/1")).data), "conn 1");
    const get = await pool.request("GET", "/2", { retries: 0 });
    assert.equal(text(get.data), "conn 2");
    assert.equal(get.retries?.history.length, 0, "the stale connection used no retry");

    const post = await rejects(pool.request("POST", "/3", { body: "pay", retries: 5 }));
    assert.ok(post instanceof StaleConnectionError, `expected StaleConnectionError, got ${post}`);
    assert.ok(post instanceof ProtocolError);
    assertAtRest(pool);
    assert.deepEqual(
      server.seen.map((s) => `${s.conn} ${s.method} ${s.target}`),
      ["1 GET /1", "1 GET /2", "2 GET /2", "2 POST /3"],
    );
  });
});

test("stale connections: only actual resends spend the uncounted budget, not POSTs", async () => {
  // As many stale connections may be replaced uncounted in one request (16).
  const budget = 16;
  let stalePosts = 0;
  // Each connection answers its first request and closes on reading the next one. A POST
  // is sent back to itself (307) until `budget` POSTs met a stale connection, then to a GET.
  const server = await recordingServer(async (req, conn) => {
    if (server.seen.filter((s) => s.conn === req.conn).length > 1) {
      if (req.method === "POST") stalePosts++;
      return conn.end();
    }
    if (req.method !== "POST") return reply(conn, 200, {}, req.target);
    await reply(conn, stalePosts < budget ? 307 : 303, {
      Location: stalePosts < budget ? "/post" : "/get",
    });
  });
  /** Retries a stale connection for any method, counted: the request never reached it. */
  class ResendStale extends Retry {
    override increment(context: IncrementContext = {}): Retry {
      const stale = context.error instanceof StaleConnectionError;
      return super.increment(stale ? { ...context, method: "GET" } : context);
    }
  }
  await withPool(server, {}, async (pool) => {
    await pool.request("GET", "/warm");
    // 16 stale POSTs (retried, counted), 15 redirects of 307 and one 303: 32 retries. The
    // 303's GET then meets a stale connection too, and is resent without using a retry.
    const response = await pool.request("POST", "/post", {
      body: "x",
      retries: new ResendStale({ total: 2 * budget }),
    });
    assert.equal(text(response.data), "/get");
    assert.equal(stalePosts, budget);
    assert.equal(response.retries?.history.length, 2 * budget);
    assert.equal(response.retries?.total, 0);
    const last = server.seen.slice(-3).map((s) => `${s.conn} ${s.method} ${s.target}`);
    const conns = server.seen.at(-1)!.conn;
    assert.deepEqual(last, [
      `${conns - 1} POST /post`,
      `${conns - 1} GET /get`,
      `${conns} GET /get`,
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// 0 versus false
// ---------------------------------------------------------------------------------------------

test("retries 0 vs false: MaxRetryError on the first error or redirect vs unwrapped and unfollowed", async () => {
  const server = await recordingServer((req, conn) =>
    req.target === "/break"
      ? Promise.resolve(conn.destroy())
      : reply(conn, 302, { Location: "/end" }, "moved")
  );
  await withPool(server, {}, async (pool) => {
    const zero = await rejects(pool.request("GET", "/break", { retries: 0 }));
    assertMaxRetry(zero, ProtocolError, `${server.url}/break`);
    assertAtRest(pool);
    const off = await rejects(pool.request("GET", "/break", { retries: false }));
    assert.ok(off instanceof ProtocolError && !(off instanceof MaxRetryError), `${off}`);
    assert.equal(server.seen.length, 2);

    const redirected = await rejects(pool.request("GET", "/r", { retries: 0 }));
    assertMaxRetry(redirected, ResponseError, `${server.url}/r`);
    assert.match(redirected.reason!.message, /too many redirects/);
    assertAtRest(pool);
    const unfollowed = await pool.request("GET", "/r", { retries: false });
    assert.equal(unfollowed.status, 302);
    assert.equal(unfollowed.getRedirectLocation(), "/end");
    assert.equal(text(unfollowed.data), "moved");
    assert.deepEqual(server.seen.slice(2).map((s) => s.target), ["/r", "/r"]);
    assert.equal(server.seen[3].conn, server.seen[2].conn, "the 302 was drained and reused");
  });
});

// ---------------------------------------------------------------------------------------------
// redirects
// ---------------------------------------------------------------------------------------------

test("too many redirects: MaxRetryError for the last URL; each 3xx drained on one connection", async () => {
  const server = await recordingServer((req, conn, n) =>
    reply(conn, 302, { Location: `/hop${n + 1}` }, `hop body ${req.target}`)
  );
  await withPool(server, {}, async (pool) => {
    const error = await rejects(
      pool.request("GET", "/hop0", { retries: new Retry({ total: 10, redirect: 2 }) }),
    );
    assertMaxRetry(error, ResponseError, `${server.url}/hop2`);
    assert.deepEqual(server.seen.map((s) => s.target), ["/hop0", "/hop1", "/hop2"]);
    assert.equal(server.server.connections, 1);
  });
});

test("303 after POST: GET without body, Content-Type or Content-Length on the wire", async () => {
  const server = await recordingServer((req, conn) =>
    req.target.startsWith("/form") ? reply(conn, 303, { Location: "/done" }) : reply(conn, 200)
  );
  await withPool(server, {}, async (pool) => {
    for (const chunked of [false, true]) {
      const r = await pool.request("POST", "/form", {
        body: "a=1",
        chunked,
        headers: { "Content-Type": "application/x-www-form-urlencoded", "X-Keep": "1" },
      });
      assert.equal(r.status, 200);
      const [post, get] = server.seen.slice(-2);
      assert.equal(text(post.body), "a=1");
      assert.equal(`${get.method} ${get.target}`, "GET /done");
      const names = get.rawHeaders.map(([name]) => name.toLowerCase());
      for (const gone of ["content-type", "content-length", "transfer-encoding"]) {
        assert.ok(!names.includes(gone), `${gone} sent after the 303: ${get.head}`);
      }
      assert.equal(get.headers["x-keep"], "1");
      assert.equal(get.body.length, 0);
      assert.equal(server.server.connections, 1);
    }
  });
});

test("301 and 302 keep a POST and its body (as urllib3, unlike browsers)", async () => {
  const server = await recordingServer((req, conn) =>
    req.target.startsWith("/3")
      ? reply(conn, Number(req.target.slice(1)), { Location: "/end" })
      : reply(conn, 200)
  );
  await withPool(server, {}, async (pool) => {
    for (const status of [301, 302, 307, 308]) {
      await pool.request("POST", `/${status}`, { body: "keep me" });
      const last = server.seen.at(-1)!;
      assert.equal(`${last.method} ${last.target}`, "POST /end", `after ${status}`);
      assert.equal(text(last.body), "keep me");
      assert.equal(last.headers["content-length"], "7");
    }
  });
});

test("cross-origin redirect (port change) strips Authorization, Cookie, Proxy-Authorization in any case", async () => {
  const second = await recordingServer((_, conn) => reply(conn, 200));
  const first = await recordingServer((req, conn) =>
    reply(conn, 302, { Location: `${second.url}/landing${req.target}` })
  );
  const manager = new PoolManager({ headers: { AUTHORIZATION: "Basic from-manager" } });
  try {
    const headers = {
      authorization: "Bearer secret",
      COOKIE: "a=b",
      "Proxy-AUTHORIZATION": "Basic proxy",
      "X-Secret": "s",
      "X-Keep": "kept",
    };
    await manager.request("GET", `${first.url}/default`, { headers });
    const landed = second.seen.at(-1)!;
    assert.equal(landed.target, "/landing/default");
    assert.equal(first.seen.at(-1)!.headers["authorization"], "Bearer secret");
    for (const name of ["authorization", "cookie", "proxy-authorization"]) {
      assert.equal(landed.headers[name], undefined, `${name} crossed origins: ${landed.head}`);
    }
    assert.equal(landed.headers["x-secret"], "s");
    assert.equal(landed.headers["x-keep"], "kept");

    // Without request headers, the manager's Authorization is stripped as well.
    await manager.request("GET", `${first.url}/manager`);
    assert.equal(first.seen.at(-1)!.headers["authorization"], "Basic from-manager");
    assert.equal(second.seen.at(-1)!.headers["authorization"], undefined);

    // A custom list replaces the default one.
    await manager.request("GET", `${first.url}/custom`, {
      headers,
      retries: new Retry({ removeHeadersOnRedirect: ["x-SECRET"] }),
    });
    const custom = second.seen.at(-1)!;
    assert.equal(custom.headers["x-secret"], undefined);
    assert.equal(custom.headers["authorization"], "Bearer secret");
    assert.equal(custom.headers["cookie"], "a=b");
    assertAtRest(...manager.pools.values());
  } finally {
    await manager.close();
    await first.close();
    await second.close();
  }
});

test("a same-origin redirect keeps every header", async () => {
  const server = await recordingServer((req, conn) =>
    req.target === "/from" ? reply(conn, 307, { Location: "/to" }) : reply(conn, 200)
  );
  const manager = new PoolManager();
  try {
    const headers = { Authorization: "Bearer secret", Cookie: "a=b", "Proxy-Authorization": "p" };
    await manager.request("GET", `${server.url}/from`, { headers });
    const [, to] = server.seen;
    assert.equal(to.target, "/to");
    assert.equal(to.headers["authorization"], "Bearer secret");
    assert.equal(to.headers["cookie"], "a=b");
    assert.equal(to.headers["proxy-authorization"], "p");
    assertAtRest(...manager.pools.values());
  } finally {
    await manager.close();
    await server.close();
  }
});

test("history: one RequestHistory per retry and redirect, in order", async () => {
  const server = await recordingServer((req, conn, n) => {
    if (n === 0) return reply(conn, 503);
    if (req.target === "/a") return reply(conn, 302, { Location: "/b#frag" });
    if (n === 2) return breakMidHead(req, conn);
    return reply(conn, 200, {}, "done");
  });
  await withPool(server, {}, async (pool) => {
    const r = await pool.request("GET", "/a", {
      retries: new Retry({ statusForcelist: [503] }),
    });
    assert.equal(text(r.data), "done");
    assert.equal(r.url, `${server.url}/b`);
    const history = r.retries!.history;
    assert.deepEqual(
      history.map((h) => [h.method, h.url, h.status, h.redirectLocation, h.error?.name ?? null]),
      [
        ["GET", `${server.url}/a`, 503, null, null],
        ["GET", `${server.url}/a`, 302, "/b#frag", null],
        ["GET", `${server.url}/b`, null, null, "ProtocolError"],
      ],
    );
    assert.ok(history[2].error instanceof ProtocolError);
    assert.equal(r.retries!.total, 10 - 3, "each entry used one of total");
    assert.deepEqual(server.seen.map((s) => s.target), ["/a", "/a", "/b", "/b"]);
  });
});

test("intermediate 3xx bodies (sized and chunked) are drained, so one connection serves the chain", async () => {
  const big = "x".repeat(100_000);
  const server = await recordingServer((req, conn) => {
    if (req.target === "/one") return reply(conn, 301, { Location: "/two" }, big);
    if (req.target === "/two") {
      return conn.write(
        "HTTP/1.1 302 Found\r\nLocation: /three\r\nTransfer-Encoding: chunked\r\n\r\n" +
          "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
      );
    }
    return reply(conn, 200, {}, "end");
  });
  await withPool(server, {}, async (pool) => {
    for (const preloadContent of [true, false]) {
      const r = await pool.request("GET", "/one", { preloadContent });
      assert.equal(await r.text(), "end");
    }
    assert.equal(server.seen.length, 6);
    assert.equal(server.server.connections, 1);
  });
});

test("preloadContent false: a 3xx is drained undecoded and its connection reused (bogus gzip)", async () => {
  const server = await recordingServer((req, conn) =>
    req.target === "/moved"
      ? reply(conn, 302, { Location: "/here", "Content-Encoding": "gzip" }, "not gzip at all")
      : reply(conn, 200, {}, "here")
  );
  await withPool(server, {}, async (pool) => {
    const r = await pool.request("GET", "/moved", { preloadContent: false });
    assert.equal(r.status, 200);
    assert.equal(await r.text(), "here");
    assert.deepEqual(server.seen.map((s) => [s.target, s.conn]), [["/moved", 1], ["/here", 1]]);
  });
});

test("preloadContent false: a retried status is drained undecoded and its connection reused", async () => {
  const server = await recordingServer((_, conn, n) =>
    n === 0
      ? reply(conn, 503, { "Content-Encoding": "gzip" }, "not gzip at all")
      : reply(conn, 200, {}, "ok")
  );
  await withPool(server, {}, async (pool) => {
    const retries = new Retry({ total: 2, statusForcelist: [503] });
    const r = await pool.request("GET", "/s", { retries, preloadContent: false });
    assert.equal(r.status, 200);
    assert.equal(await r.text(), "ok");
    assert.deepEqual(server.seen.map((s) => s.conn), [1, 1]);
  });
});

test("fragments are never sent, neither from the URL nor from a Location", async () => {
  const server = await recordingServer((req, conn) =>
    req.target.startsWith("/start")
      ? reply(conn, 302, { Location: "/next?q=1#section" })
      : reply(conn, 200)
  );
  const manager = new PoolManager();
  try {
    await manager.request("GET", `${server.url}/start?a=b#top`);
    assert.deepEqual(server.seen.map((s) => s.target), ["/start?a=b", "/next?q=1"]);
    assertAtRest(...manager.pools.values());
  } finally {
    await manager.close();
    await server.close();
  }
});

test("a redirect the loop cannot follow leaves the pool at rest, streamed or not", async () => {
  const other = await recordingServer((_, conn) => reply(conn, 200));
  // The 3xx body arrives in two parts, so a streamed 3xx still holds its connection.
  const server = await recordingServer(async (req, conn) => {
    const location = req.target === "/scheme" ? "ftp://127.0.0.1/file" : `${other.url}/x`;
    await conn.write(
      `HTTP/1.1 302 Found\r\nLocation: ${location}\r\nContent-Length: 8\r\n\r\n3xx `,
    );
    await sleep(20);
    if (!conn.ended) await conn.write("body").catch(() => {});
  });
  const manager = new PoolManager();
  try {
    await withPool(server, {}, async (pool) => {
      for (const preloadContent of [true, false]) {
        const scheme = await rejects(pool.request("GET", "/scheme", { preloadContent }));
        assert.ok(scheme instanceof URLSchemeUnknown, `expected URLSchemeUnknown, got ${scheme}`);
        assertAtRest(pool);
        const cross = await rejects(pool.request("GET", "/cross", { preloadContent }));
        assert.ok(cross instanceof HostChangedError, `expected HostChangedError, got ${cross}`);
        assertAtRest(pool);
        const viaManager = await rejects(
          manager.request("GET", `${server.url}/scheme`, { preloadContent }),
        );
        assert.ok(viaManager instanceof URLSchemeUnknown, `${viaManager}`);
        assertAtRest(...manager.pools.values());
      }
      assert.equal(other.seen.length, 0);
      assert.equal(server.server.connections, 2, "one per pool: each 3xx was drained");
      // The manager follows the cross-origin redirect a pool refuses.
      assert.equal((await manager.request("GET", `${server.url}/cross`)).status, 200);
      assert.equal(other.seen.length, 1);
      assertAtRest(...manager.pools.values());
    });
  } finally {
    await manager.close();
    await other.close();
  }
});

// ---------------------------------------------------------------------------------------------
// timeouts
// ---------------------------------------------------------------------------------------------

test("read timeout: a stall mid-body is a ReadTimeoutError, retried per read", async () => {
  const server = await recordingServer(async (_, conn, n) => {
    if (n > 0) return reply(conn, 200, {}, "0123456789");
    await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234");
    await conn.closed;
  });
  await withPool(server, { timeout: new Timeout({ read: 100 }) }, async (pool) => {
    const r = await pool.request("GET", "/", { retries: new Retry({ read: 1 }) });
    assert.equal(text(r.data), "0123456789");
    assert.ok(r.retries?.history[0].error instanceof ReadTimeoutError);
    assert.equal(server.server.connections, 2, "the stalled connection was dropped");
  });
});

test("read timeout: read 0 gives MaxRetryError(ReadTimeoutError) after one attempt", async () => {
  const server = await recordingServer(async (_, conn) => {
    await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234");
    await conn.closed;
  });
  await withPool(server, { timeout: new Timeout({ read: 80 }) }, async (pool) => {
    const error = await rejects(pool.request("GET", "/t", { retries: new Retry({ read: 0 }) }));
    assertMaxRetry(error, ReadTimeoutError, `${server.url}/t`);
    assert.equal(server.seen.length, 1);
  });
});

test("total timeout: a trickling body trips total, not read, and is retried per read", async () => {
  const server = await recordingServer(async (_, conn) => {
    await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
    for (let i = 0; i < 100 && !conn.ended; i++) {
      await sleep(25);
      if (!conn.ended) await conn.write("x").catch(() => {});
    }
  });
  const timeout = new Timeout({ read: 200, total: 250 });
  await withPool(server, { timeout }, async (pool) => {
    const started = performance.now();
    const error = await rejects(pool.request("GET", "/", { retries: new Retry({ read: 1 }) }));
    const elapsed = performance.now() - started;
    assertMaxRetry(error, ReadTimeoutError);
    assert.match(error.reason!.message, /total/);
    assert.equal(server.seen.length, 2);
    assert.ok(elapsed >= 2 * 250 - EARLY, `two attempts of 250 ms took ${elapsed} ms`);
  });
});

test("connect timeout: a TLS handshake nobody answers is bounded by connect, then retried", async () => {
  let accepted = 0;
  const silent = await rawServer(async (conn) => {
    accepted++;
    await conn.closed; // accepts TCP, never speaks TLS
  });
  const pool = new HTTPSConnectionPool("127.0.0.1", { port: silent.port, caCerts: [CA_CERT] });
  try {
    for (const timeout of [new Timeout({ connect: 100 }), new Timeout({ total: 100 })]) {
      const started = performance.now();
      const error = await rejects(pool.request("GET", "/", { timeout, retries: false }));
      assert.ok(error instanceof ConnectTimeoutError, `expected ConnectTimeoutError, got ${error}`);
      assert.ok(performance.now() - started >= 100 - EARLY);
      assertAtRest(pool);
    }
    const retried = await rejects(
      pool.request("GET", "/", { timeout: 100, retries: new Retry({ connect: 1 }) }),
    );
    assertMaxRetry(retried, ConnectTimeoutError, `https://127.0.0.1:${silent.port}/`);
    assert.equal(accepted, 4);
    assertAtRest(pool);
    assert.equal(pool.stats.open, 0);
  } finally {
    await pool.close();
    await silent.close();
  }
});

test("a request-level timeout overrides the pool's, null removes it", async () => {
  const server = await recordingServer(async (_, conn) => {
    await sleep(150);
    if (!conn.ended) await reply(conn, 200, {}, "late").catch(() => {});
  });
  await withPool(server, { timeout: new Timeout({ read: 50 }), retries: false }, async (pool) => {
    const poolLevel = await rejects(pool.request("GET", "/"));
    assert.ok(poolLevel instanceof ReadTimeoutError, `expected ReadTimeoutError, got ${poolLevel}`);
    assert.match(poolLevel.message, /read timeout=50 ms/);
    assertAtRest(pool);
    const longer = await pool.request("GET", "/", { timeout: new Timeout({ read: 2_000 }) });
    assert.equal(text(longer.data), "late");
    assert.equal(text((await pool.request("GET", "/", { timeout: null })).data), "late");
    assert.equal(text((await pool.request("GET", "/", { timeout: 2_000 })).data), "late");
  });
  // And a request-level limit applies where the pool has none.
  const slow = await recordingServer(async (_, conn) => {
    await sleep(150);
    if (!conn.ended) await reply(conn, 200).catch(() => {});
  });
  await withPool(slow, { retries: false }, async (pool) => {
    const error = await rejects(pool.request("GET", "/", { timeout: 40 }));
    assert.ok(error instanceof ReadTimeoutError, `expected ReadTimeoutError, got ${error}`);
    assert.match(error.message, /read timeout=40 ms/);
  });
});

// ---------------------------------------------------------------------------------------------
// abort
// ---------------------------------------------------------------------------------------------

test("abort while queued for a blocked manager pool: rejected, queue emptied, pool usable", async () => {
  let releaseHolder!: () => void;
  const held = new Promise<void>((resolve) => releaseHolder = resolve);
  const server = await recordingServer(async (req, conn) => {
    if (req.target === "/hold") {
      await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nho");
      await Promise.race([held, conn.closed]);
      if (!conn.ended) await conn.write("ld");
      return;
    }
    await reply(conn, 200, {}, "next");
  });
  const manager = new PoolManager({ maxSize: 1, block: true });
  try {
    const holder = await manager.request("GET", `${server.url}/hold`, { preloadContent: false });
    const [pool] = manager.pools.values();
    const controller = new AbortController();
    const queued = rejects(
      manager.request("GET", `${server.url}/queued`, { signal: controller.signal }),
    );
    await waitFor(() => pool.stats.queued === 1, "the request to queue");
    const reason = new Error("gave up waiting");
    controller.abort(reason);
    assert.equal(await queued, reason);
    assert.equal(pool.stats.queued, 0);
    assert.equal(pool.stats.inUse, 1, "only the holder");
    releaseHolder();
    assert.equal(await holder.text(), "hold");
    assertAtRest(pool);
    assert.equal(text((await manager.request("GET", `${server.url}/after`)).data), "next");
    assert.deepEqual(server.seen.map((s) => s.target), ["/hold", "/after"]);
    assertAtRest(pool);
  } finally {
    releaseHolder();
    await manager.close();
    await server.close();
  }
});

test("abort during a backoff sleep: rejected at once, the timer cleared", async () => {
  const server = await recordingServer((_, conn) => reply(conn, 503, { "Retry-After": "60" }));
  await withPool(server, {}, async (pool) => {
    const controller = new AbortController();
    const started = performance.now();
    const pending = rejects(pool.request("GET", "/", { signal: controller.signal }));
    await waitFor(() => server.seen.length === 1, "the first 503");
    await sleep(30);
    const reason = new Error("no more waiting");
    controller.abort(reason);
    assert.equal(await pending, reason);
    assert.ok(performance.now() - started < 30_000, "the 60 s Retry-After was not waited out");
    assert.equal(server.seen.length, 1);
  });
});

test("abort mid-response is not retried, even with retries left", async () => {
  const server = await recordingServer(async (_, conn) => {
    await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial");
    await conn.closed;
  });
  await withPool(server, {}, async (pool) => {
    const controller = new AbortController();
    const pending = rejects(pool.request("GET", "/", { signal: controller.signal, retries: 5 }));
    await waitFor(() => server.seen.length === 1, "the request to arrive");
    await sleep(30);
    const reason = new Error("user left");
    controller.abort(reason);
    assert.equal(await pending, reason);
    assert.equal(server.server.connections, 1);
    assert.equal(pool.stats.open, 0, "the half-read connection was closed");
  });
});
