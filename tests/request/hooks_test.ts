/**
 * Request hooks (`hooks` option of pools and managers), against loopback servers.
 */

import { assert, test } from "../_harness.ts";
import { assertAtRest, rejects, sleep, text } from "../_util.ts";
import { serveHttp, type TestServer, unusedPort } from "../_servers.ts";
import {
  HTTPConnectionPool,
  HTTPHeaderDict,
  HTTPResponse,
  NewConnectionError,
  PoolManager,
  Retry,
} from "../../mod.ts";
import type { HookRequest, Hooks } from "../../mod.ts";

/** A server that answers with the request's method, path, a header and body, and counts. */
async function echoServer(): Promise<TestServer & { hits: string[] }> {
  const hits: string[] = [];
  const server = await serveHttp(async (req) => {
    const path = new URL(req.url).pathname;
    hits.push(path);
    if (path === "/redirect") {
      return new Response(null, { status: 302, headers: { location: "/b" } });
    }
    const body = await req.text();
    return Response.json({
      method: req.method,
      path,
      a: req.headers.get("x-a"),
      b: req.headers.get("x-b"),
      auth: req.headers.get("authorization"),
      body,
    });
  });
  return Object.assign(server, { hits });
}

function poolFor(server: TestServer, hooks: Hooks, extra = {}): HTTPConnectionPool {
  return new HTTPConnectionPool("127.0.0.1", { port: server.port, hooks, ...extra });
}

test("hooks: beforeRequest hooks run in order, sync and async, and change headers and body", async () => {
  const server = await echoServer();
  const order: string[] = [];
  const pool = poolFor(server, {
    beforeRequest: [
      (request) => {
        order.push("first");
        request.headers.set("X-A", "1");
      },
      async (request) => {
        await sleep(5);
        order.push("second");
        // Sees the first hook's change.
        request.headers.set("X-B", `${request.headers.get("x-a")}+2`);
        request.body = "replaced";
      },
    ],
  });
  try {
    const r = await pool.request("POST", "/p", { body: "original" });
    assert.deepEqual(order, ["first", "second"]);
    const seen = JSON.parse(text(r.data));
    assert.equal(seen.a, "1");
    assert.equal(seen.b, "1+2");
    assert.equal(seen.body, "replaced");
    assertAtRest(pool);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("hooks: the request view holds method, URL, headers and body as given", async () => {
  const server = await echoServer();
  let seen: HookRequest | undefined;
  const pool = poolFor(server, {
    beforeRequest: [(request) => {
      seen = request;
    }],
  });
  try {
    await pool.request("PUT", "/v", { json: { a: 1 }, headers: { "X-A": "given" } });
    assert.equal(seen!.method, "PUT");
    assert.equal(seen!.url, `http://127.0.0.1:${server.port}/v`);
    assert.ok(seen!.headers instanceof HTTPHeaderDict);
    assert.equal(seen!.headers.get("x-a"), "given");
    assert.equal(seen!.headers.get("content-type"), "application/json");
    assert.equal(text(seen!.body as Uint8Array), '{"a":1}');
  } finally {
    await pool.close();
    await server.close();
  }
});

test("hooks: every kind runs at its point, in order, across a redirect", async () => {
  const server = await echoServer();
  const order: string[] = [];
  await using manager = new PoolManager({
    hooks: {
      beforeRequest: [
        (request) => void order.push(`beforeRequest ${new URL(request.url).pathname}`),
      ],
      beforeRedirect: [
        (response, next) => void order.push(`beforeRedirect ${response.status} ${next.url}`),
      ],
      afterResponse: [
        (response) => void order.push(`afterResponse ${response.status}`),
        () => void order.push("afterResponse 2"),
      ],
      onError: [() => void order.push("onError")],
    },
  });
  try {
    const r = await manager.request("GET", `${server.url}/redirect`);
    assert.equal(r.status, 200);
    assert.deepEqual(order, [
      "beforeRequest /redirect",
      `beforeRedirect 302 ${server.url}/b`,
      "beforeRequest /b",
      "afterResponse 200",
      "afterResponse 2",
    ]);
  } finally {
    await server.close();
  }
});

test("hooks: beforeRequest answers with a response: no connection, later hooks skipped", async () => {
  const server = await echoServer();
  const later: string[] = [];
  const cached = new HTTPResponse({
    status: 203,
    reason: "Cached",
    version: 11,
    headers: new HTTPHeaderDict({ "X-Cache": "hit" }),
    url: "",
    data: new TextEncoder().encode("from cache"),
  });
  const pool = poolFor(server, {
    beforeRequest: [
      (request) => request.url.endsWith("/web") ? new Response("web", { status: 201 }) : cached,
      () => void later.push("skipped?"),
    ],
    afterResponse: [(response) => void later.push(`after ${response.status}`)],
  });
  try {
    const r = await pool.request("GET", "/cached");
    assert.equal(r, cached);
    assert.equal(r.status, 203);
    assert.equal(text(r.data), "from cache");
    assert.equal(r.reused, false);
    const web = await pool.request("GET", "/web");
    assert.equal(web.status, 201);
    assert.equal(await web.text(), "web");
    assert.equal(web.url, `http://127.0.0.1:${server.port}/web`);
    assert.deepEqual(later, ["after 203", "after 201"]);
    assert.equal(pool.numConnections, 0);
    assert.deepEqual(server.hits, []);
    assertAtRest(pool);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("hooks: afterResponse refreshes a token on 401 and sends the request once more", async () => {
  let valid = "fresh";
  const hits: (string | null)[] = [];
  const server = await serveHttp((req) => {
    const auth = req.headers.get("authorization");
    hits.push(auth);
    return auth === `Bearer ${valid}`
      ? new Response("ok")
      : new Response("expired", { status: 401 });
  });
  let token = "stale";
  let refreshes = 0;
  const hooks: Hooks = {
    beforeRequest: [(request) => void request.headers.set("Authorization", `Bearer ${token}`)],
    afterResponse: [async (response, request) => {
      if (response.status !== 401) return;
      refreshes++;
      await sleep(1);
      token = "fresh";
      return request;
    }],
  };
  await using manager = new PoolManager({ hooks });
  try {
    const r = await manager.request("GET", `${server.url}/`);
    assert.equal(r.status, 200);
    assert.equal(text(r.data), "ok");
    assert.deepEqual(hits, ["Bearer stale", "Bearer fresh"]);
    // Only once per call: a token that is still refused gives the caller the 401.
    valid = "never";
    token = "stale";
    const refused = await manager.request("GET", `${server.url}/`);
    assert.equal(refused.status, 401);
    assert.equal(hits.length, 4);
    assert.equal(refreshes, 3);
    assertAtRest(...manager.pools.values());
  } finally {
    await server.close();
  }
});

test("hooks: afterResponse may return another request object, and streams are released", async () => {
  const server = await echoServer();
  const pool = poolFor(server, {
    afterResponse: [(response, request) => {
      if (response.status !== 200 || request.headers.has("x-b")) return;
      return { ...request, headers: new HTTPHeaderDict({ "X-B": "again" }), body: "second" };
    }],
  });
  try {
    const r = await pool.request("POST", "/x", { body: "first", preloadContent: false });
    const seen = JSON.parse(await r.text());
    assert.equal(seen.b, "again");
    assert.equal(seen.body, "second");
    assert.deepEqual(server.hits, ["/x", "/x"]);
    assertAtRest(pool);
    assert.equal(pool.numConnections, 1);
  } finally {
    await pool.close();
    await server.close();
  }
});

test("hooks: beforeRetry sees the failing response and the retry; throwing vetoes it", async () => {
  let calls = 0;
  const server = await serveHttp(() =>
    ++calls === 1 ? new Response("busy", { status: 503 }) : new Response("ok")
  );
  const seen: [number, number | null][] = [];
  const retries = new Retry({ total: 3, statusForcelist: [503], backoffFactor: 0 });
  const pool = new HTTPConnectionPool("127.0.0.1", {
    port: server.port,
    retries,
    hooks: {
      beforeRetry: [(cause, retry) => {
        assert.ok(cause instanceof HTTPResponse);
        seen.push([cause.status, retry.total as number | null]);
      }],
    },
  });
  const veto = new Error("no retries today");
  const vetoing = new HTTPConnectionPool("127.0.0.1", {
    port: server.port,
    retries,
    hooks: {
      beforeRetry: [() => {
        throw veto;
      }],
    },
  });
  try {
    const r = await pool.request("GET", "/");
    assert.equal(r.status, 200);
    assert.deepEqual(seen, [[503, 2]]);
    calls = 0;
    assert.equal(await rejects(vetoing.request("GET", "/")), veto);
    assert.equal(calls, 1);
    assertAtRest(pool, vetoing);
  } finally {
    await pool.close();
    await vetoing.close();
    await server.close();
  }
});

test("hooks: beforeRetry sees a connection error", async () => {
  const port = await unusedPort();
  const causes: unknown[] = [];
  const pool = new HTTPConnectionPool("127.0.0.1", {
    port,
    retries: new Retry({ connect: 1, backoffFactor: 0 }),
    hooks: { beforeRetry: [(cause) => void causes.push(cause)] },
  });
  try {
    const error = await rejects(pool.request("GET", "/"));
    assert.equal(causes.length, 1);
    assert.ok(causes[0] instanceof NewConnectionError);
    assert.ok(error instanceof Error);
    assertAtRest(pool);
  } finally {
    await pool.close();
  }
});

test("hooks: beforeRedirect may change the next request, or veto it by throwing", async () => {
  const server = await echoServer();
  await using manager = new PoolManager({
    hooks: {
      beforeRedirect: [(response, next) => {
        if (next.headers.has("x-veto")) throw new TypeError(`Redirect refused: ${next.url}`);
        next.headers.set("X-A", `from ${response.status}`);
      }],
    },
  });
  try {
    const r = await manager.request("GET", `${server.url}/redirect`);
    assert.equal(JSON.parse(text(r.data)).a, "from 302");
    server.hits.length = 0;
    const error = await rejects(
      manager.request("GET", `${server.url}/redirect`, { headers: { "X-Veto": "1" } }),
    );
    assert.ok(error instanceof TypeError);
    assert.equal((error as Error).message, `Redirect refused: ${server.url}/b`);
    assert.deepEqual(server.hits, ["/redirect"]);
    assertAtRest(...manager.pools.values());
  } finally {
    await server.close();
  }
});

test("hooks: onError gets the error and the request; one that throws replaces the error", async () => {
  const port = await unusedPort();
  const seen: [unknown, string][] = [];
  const replaced = new Error("replaced");
  const pool = new HTTPConnectionPool("127.0.0.1", {
    port,
    retries: false,
    hooks: {
      onError: [
        (error, request) => void seen.push([error, request.url]),
        async () => {
          await sleep(1);
          throw replaced;
        },
        () => void seen.push(["never", ""]),
      ],
    },
  });
  try {
    assert.equal(await rejects(pool.request("GET", "/e")), replaced);
    assert.equal(seen.length, 1);
    assert.ok(seen[0][0] instanceof NewConnectionError);
    assert.equal(seen[0][1], `http://127.0.0.1:${port}/e`);
    assertAtRest(pool);
  } finally {
    await pool.close();
  }
});

test("hooks: a hook that throws gives the caller its error and leaves the pool at rest", async () => {
  const server = await echoServer();
  const boom = (where: string) => () => {
    throw new Error(`boom in ${where}`);
  };
  const errors: unknown[] = [];
  const cases: [string, Hooks, Record<string, unknown>][] = [
    ["beforeRequest", { beforeRequest: [boom("beforeRequest")] }, {}],
    ["afterResponse", { afterResponse: [boom("afterResponse")] }, { preloadContent: false }],
    ["afterResponse", { afterResponse: [boom("afterResponse")] }, { releaseConn: false }],
    ["beforeRedirect", { beforeRedirect: [boom("beforeRedirect")] }, { path: "/redirect" }],
  ];
  try {
    for (const [where, hooks, { path = "/", ...options }] of cases) {
      const pool = poolFor(server, { ...hooks, onError: [(error) => void errors.push(error)] });
      try {
        const error = await rejects(pool.request("GET", path as string, options));
        assert.equal((error as Error).message, `boom in ${where}`);
        assert.equal(errors.pop(), error);
        assertAtRest(pool);
        assert.equal(pool.stats.running, 0);
      } finally {
        await pool.close();
      }
    }
  } finally {
    await server.close();
  }
});

test("hooks: bad hooks are a TypeError at once; the same hooks object shares a pool", async () => {
  assert.throws(
    () => new PoolManager({ hooks: { beforeRequest: [42] } as unknown as Hooks }),
    TypeError,
  );
  assert.throws(
    () => new HTTPConnectionPool("h", { hooks: { beforeRequest: () => {} } as unknown as Hooks }),
    /hooks.beforeRequest must be an array of functions/,
  );
  assert.throws(
    () => new PoolManager({ hooks: { beforeRequests: [] } as unknown as Hooks }),
    /Unknown hook: "beforeRequests"/,
  );
  const hooks: Hooks = { onError: [() => {}] };
  await using manager = new PoolManager();
  const context = { scheme: "http", host: "127.0.0.1", port: 1 };
  const a = manager.connectionFromContext({ ...context, hooks });
  assert.equal(manager.connectionFromContext({ ...context, hooks }), a);
  assert.notEqual(manager.connectionFromContext({ ...context, hooks: { ...hooks } }), a);
});
