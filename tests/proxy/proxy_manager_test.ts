/**
 * `ProxyManager` against tinyproxy from Debian (forwarding, `CONNECT`, basic auth,
 * `ConnectPort` refusals), an HTTPS proxy made of a TLS front on tinyproxy, and a
 * recording proxy (raw sockets) where the exact bytes sent to the proxy matter.
 */

import * as net from "node:net";
import { assert, test } from "../_harness.ts";
import { CA_CERT, SERVER_TLS } from "../_certs.ts";
import { missingBinary, type ProxyServer, startTinyproxy } from "../_proxies.ts";
import {
  type RawConnection,
  type RawRequest,
  type RawServer,
  rawServer,
  serveHttp,
  type TestServer,
  unusedPort,
  withHttpAndHttps,
} from "../_servers.ts";
import { assertAtRest, rejects, text, waitFor } from "../_util.ts";
import {
  type Connector,
  defaultConnector,
  makeHeaders,
  MaxRetryError,
  NewConnectionError,
  ProxyError,
  proxyFromUrl,
  ProxyManager,
  ProxySchemeUnknown,
  SSLError,
} from "../../mod.ts";

const NO_TINYPROXY = { ignore: missingBinary("tinyproxy") !== undefined };

/** What an echo origin saw. */
interface Echo {
  path: string;
  headers: Record<string, string>;
}

const echo = (req: Request) => {
  const url = new URL(req.url);
  return Response.json({
    path: url.pathname + url.search,
    headers: Object.fromEntries(req.headers),
  });
};

/** An http and an https echo origin on 127.0.0.1. */
function withOrigins(fn: (http: TestServer, https: TestServer) => Promise<void>): Promise<void> {
  return withHttpAndHttps(echo, SERVER_TLS, fn);
}

async function withTinyproxy(
  fn: (proxy: ProxyServer) => Promise<void>,
  options?: Parameters<typeof startTinyproxy>[0],
): Promise<void> {
  const proxy = await startTinyproxy(options);
  try {
    await fn(proxy);
  } catch (error) {
    console.error(`tinyproxy log:\n${proxy.log()}`);
    throw error;
  } finally {
    await proxy.close();
  }
}

async function json(manager: ProxyManager, url: string): Promise<Echo> {
  const response = await manager.request("GET", url);
  assert.equal(response.status, 200, text(response.data));
  return JSON.parse(text(response.data));
}

/** Lines of tinyproxy's log that record a request line starting with `method`. */
function loggedRequests(proxy: ProxyServer, method: string): string[] {
  return proxy.log().split("\n").filter((line) => line.includes(`: ${method} `));
}

test("tinyproxy: http targets are forwarded through one pool, proxyHeaders on each", async () => {
  await withTinyproxy((proxy) =>
    withOrigins(async (http) => {
      await using manager = new ProxyManager(proxy.url, { proxyHeaders: { "X-Proxy-Note": "n1" } });
      const first = await json(manager, `${http.url}/a?x=1#frag`);
      assert.equal(first.path, "/a?x=1");
      assert.equal(first.headers["x-proxy-note"], "n1");
      const second = await json(manager, `http://localhost:${http.port}/b`);
      assert.equal(second.path, "/b");
      assert.equal(manager.pools.size, 1, "one pool, for the proxy");
      const pool = [...manager.pools.values()][0];
      assert.equal(pool.port, proxy.port);
      assert.equal(pool.numConnections, 1, "kept alive to the proxy");
      assertAtRest(pool);
      const lines = loggedRequests(proxy, "GET");
      assert.ok(
        lines.some((line) => line.includes(`GET ${http.url}/a?x=1 HTTP/1.1`)),
        lines.join("\n"),
      );
    })
  );
}, NO_TINYPROXY);

test("tinyproxy: https targets go through CONNECT, a pool per origin, kept alive", async () => {
  await withTinyproxy((proxy) =>
    withOrigins(async (_http, https) => {
      await using manager = new ProxyManager(proxy.url, {
        proxyHeaders: { "X-Proxy-Note": "only-on-connect" },
        caCerts: [CA_CERT],
      });
      for (const path of ["/one", "/two", "/three"]) {
        const seen = await json(manager, `https://localhost:${https.port}${path}`);
        assert.equal(seen.path, path);
        assert.equal(seen.headers["x-proxy-note"], undefined, "proxyHeaders stay at the proxy");
      }
      await json(manager, `https://127.0.0.1:${https.port}/`);
      assert.equal(manager.pools.size, 2, "one pool per target origin");
      const pool = manager.connectionFromUrl(`https://localhost:${https.port}/`);
      assert.equal(pool.numConnections, 1);
      assertAtRest(pool);
      assert.equal(loggedRequests(proxy, "CONNECT").length, 2, "one tunnel per origin");
    })
  );
}, NO_TINYPROXY);

test("tinyproxy: basic auth from the proxy URL, proxyHeaders, missing or wrong", async () => {
  await withTinyproxy((proxy) =>
    withOrigins(async (http, https) => {
      const authority = `127.0.0.1:${proxy.port}`;
      const good = [
        new ProxyManager(`http://alice:s%33cret@${authority}`, { caCerts: [CA_CERT] }),
        new ProxyManager(`http://${authority}`, {
          proxyHeaders: makeHeaders({ proxyBasicAuth: "alice:s3cret" }),
          caCerts: [CA_CERT],
        }),
      ];
      for (const manager of good) {
        await using _ = manager;
        await json(manager, `${http.url}/`);
        await json(manager, `https://localhost:${https.port}/`);
      }
      for (const url of [`http://${authority}`, `http://alice:wrong@${authority}`]) {
        await using manager = new ProxyManager(url, { caCerts: [CA_CERT], retries: false });
        const forwarded = await manager.request("GET", `${http.url}/`);
        // tinyproxy answers 407 without credentials and 401 for wrong ones.
        assert.ok([401, 407].includes(forwarded.status), `the proxy's answer: ${forwarded.status}`);
        const error = await rejects(manager.request("GET", `https://localhost:${https.port}/`));
        assert.ok(error instanceof ProxyError, String(error));
        assert.match(error.message, /Tunnel connection failed: 40[17]/);
        assertAtRest(manager.connectionFromUrl(`https://localhost:${https.port}/`));
      }
    }), { basicAuth: ["alice", "s3cret"] });
}, NO_TINYPROXY);

test("tinyproxy: a CONNECT to a port it refuses is a ProxyError naming the status", async () => {
  await withTinyproxy((proxy) =>
    withOrigins(async (_http, https) => {
      await using manager = new ProxyManager(proxy.url, { caCerts: [CA_CERT], retries: 1 });
      const error = await rejects(manager.request("GET", `https://localhost:${https.port}/`));
      assert.ok(error instanceof MaxRetryError, String(error));
      assert.ok(error.reason instanceof ProxyError);
      assert.match(error.reason.message, /Tunnel connection failed: 403/);
      assertAtRest(manager.connectionFromUrl(`https://localhost:${https.port}/`));
    }), { connectPorts: [1] });
}, NO_TINYPROXY);

test(
  "tinyproxy: a redirect from an http origin to an https one never leaks Proxy-Authorization",
  async () => {
    await withTinyproxy(async (proxy) => {
      const https = await serveHttp(echo, { tls: SERVER_TLS });
      const http = await serveHttp(() =>
        new Response(null, {
          status: 302,
          headers: { location: `https://localhost:${https.port}/landed` },
        })
      );
      try {
        await using manager = new ProxyManager(`http://alice:s3cret@127.0.0.1:${proxy.port}`, {
          caCerts: [CA_CERT],
        });
        const seen = await json(manager, `${http.url}/start`);
        assert.equal(seen.path, "/landed");
        assert.equal(seen.headers["proxy-authorization"], undefined);
      } finally {
        await Promise.all([http.close(), https.close()]);
      }
    }, { basicAuth: ["alice", "s3cret"] });
  },
  NO_TINYPROXY,
);

test("an unreachable proxy is a ProxyError whose originalError says why", async () => {
  const port = await unusedPort();
  await using manager = new ProxyManager(`http://127.0.0.1:${port}`, { retries: false });
  for (const url of ["http://127.0.0.1:1/", "https://localhost:1/"]) {
    const error = await rejects(manager.request("GET", url));
    assert.ok(error instanceof ProxyError, String(error));
    assert.ok(error.originalError instanceof NewConnectionError, String(error.originalError));
    assert.match(error.message, /Unable to connect to proxy/);
  }
});

/** A TLS front on `port`: an HTTPS proxy made of TLS plus tinyproxy behind it. */
function tlsFront(port: number): Promise<RawServer> {
  return rawServer(async (conn) => {
    const upstream = net.connect({ host: "127.0.0.1", port });
    pipeBoth(conn, upstream);
    await conn.closed;
  }, { tls: SERVER_TLS });
}

/** Copies bytes both ways between a raw connection and a socket until either closes. */
function pipeBoth(conn: RawConnection, upstream: net.Socket): void {
  if (conn.buffered.length > 0) upstream.write(conn.buffered);
  conn.socket.on("data", (chunk: Uint8Array) => upstream.write(chunk));
  upstream.on("data", (chunk: Uint8Array) => conn.socket.write(chunk));
  upstream.on("error", () => conn.destroy());
  upstream.on("close", () => conn.destroy());
  conn.closed.then(() => upstream.destroy());
}

test("https proxy: TLS to the proxy (proxyTls), http forwarded, https as TLS in TLS", async () => {
  await withTinyproxy(async (proxy) => {
    const front = await tlsFront(proxy.port);
    try {
      await withOrigins(async (http, https) => {
        await using manager = new ProxyManager(`https://localhost:${front.port}`, {
          proxyTls: { caCerts: [CA_CERT] },
          caCerts: [CA_CERT],
        });
        assert.equal((await json(manager, `${http.url}/plain`)).path, "/plain");
        for (const path of ["/tls-in-tls", "/again"]) {
          assert.equal((await json(manager, `https://localhost:${https.port}${path}`)).path, path);
        }
        const pool = manager.connectionFromUrl(`https://localhost:${https.port}/`);
        assert.equal(pool.numConnections, 1, "kept alive through the tunnel");
        assertAtRest(pool);
      });
      // Without the proxy's CA the proxy leg fails: a ProxyError around the SSLError.
      await using untrusting = new ProxyManager(`https://localhost:${front.port}`, {
        retries: false,
      });
      const error = await rejects(untrusting.request("GET", "http://127.0.0.1:1/"));
      assert.ok(error instanceof ProxyError, String(error));
      assert.ok(error.originalError instanceof SSLError, String(error.originalError));
    } finally {
      await front.close();
    }
  });
}, NO_TINYPROXY);

const OK = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/**
 * A proxy that answers every request itself (`answer`, default 200 "ok") and records the
 * heads it got; over TLS unless `tls` is false.
 */
async function recordingProxy(
  { tls = true, answer = () => OK }: { tls?: boolean; answer?: (req: RawRequest) => string } = {},
): Promise<{ server: RawServer; heads: RawRequest[] }> {
  const heads: RawRequest[] = [];
  const server = await rawServer(async (conn) => {
    for (;;) {
      let req: RawRequest;
      try {
        req = await conn.readRequest();
      } catch {
        return;
      }
      heads.push(req);
      await conn.write(answer(req));
    }
  }, tls ? { tls: SERVER_TLS } : {});
  return { server, heads };
}

test("useForwardingForHttps: https targets go to an https proxy in absolute-form", async () => {
  const { server, heads } = await recordingProxy();
  try {
    await using manager = new ProxyManager(`https://user:pw@localhost:${server.port}`, {
      proxyTls: { caCerts: [CA_CERT] },
      useForwardingForHttps: true,
      proxyHeaders: { "X-Proxy-Note": "n" },
    });
    await manager.request("GET", "https://example.test:8443/p?q=1");
    await manager.request("GET", "http://example.test/plain");
    assert.equal(heads.length, 2);
    assert.equal(heads[0].target, "https://example.test:8443/p?q=1");
    assert.equal(heads[0].headers.host, "example.test:8443");
    assert.equal(heads[0].headers["x-proxy-note"], "n");
    assert.equal(heads[0].headers["proxy-authorization"], `Basic ${btoa("user:pw")}`);
    assert.equal(heads[1].target, "http://example.test/plain");
    assert.equal(heads[1].headers.host, "example.test");
    assert.equal(manager.pools.size, 1, "both through the proxy's one pool");
  } finally {
    await server.close();
  }
});

test("proxy URLs: schemes checked at once, default ports, proxyFromUrl", async () => {
  assert.throws(
    () => new ProxyManager("ftp://127.0.0.1"),
    (error: unknown) =>
      error instanceof ProxySchemeUnknown &&
      error.message === "Unsupported proxy URL scheme: ftp (use http:// or https://)",
  );
  assert.throws(() => new ProxyManager("127.0.0.1:3128"), ProxySchemeUnknown);
  assert.throws(() => new ProxyManager("socks5://127.0.0.1"), ProxySchemeUnknown);
  await using http = proxyFromUrl("http://PROXY.test");
  assert.ok(http instanceof ProxyManager);
  assert.equal(http.proxy.url, "http://proxy.test:80");
  await using https = proxyFromUrl("https://[::1]");
  assert.equal(https.proxy.url, "https://[::1]:443");
  assert.equal(https.proxy.hostname, "::1");
});

test("a proxy that never answers CONNECT: the connect timeout ends it, nothing leaks", async () => {
  const server = await rawServer(async (conn) => {
    await conn.readRequest();
    await conn.closed; // silent
  });
  try {
    await using manager = new ProxyManager(server.url, { timeout: 200, retries: false });
    const error = await rejects(manager.request("GET", "https://localhost:1/"));
    assert.ok(error instanceof ProxyError, String(error));
    assert.match(String(error.originalError), /timed out/);
    assertAtRest(manager.connectionFromUrl("https://localhost:1/"));
    await waitFor(() => server.connections === 1, "the proxy to see the connection");
  } finally {
    await server.close();
  }
});

const ALICE = `Basic ${btoa("alice:s3cret")}`;

/**
 * A plain forwarding proxy that wants alice's credentials (407 without them) and answers
 * `http://a.test/start` with a 302 to `http://b.test:8080/landed`, anything else with 200.
 */
function authenticatingProxy(): Promise<{ server: RawServer; heads: RawRequest[] }> {
  return recordingProxy({
    tls: false,
    answer: (req) => {
      if (req.headers["proxy-authorization"] !== ALICE) {
        return "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n";
      }
      if (req.target === "http://a.test/start") {
        return "HTTP/1.1 302 Found\r\nLocation: http://b.test:8080/landed\r\nContent-Length: 0\r\n\r\n";
      }
      return OK;
    },
  });
}

test("forwarding: a cross-origin redirect keeps the proxy's credentials on hop 2", async () => {
  const { server, heads } = await authenticatingProxy();
  try {
    const managers = [
      new ProxyManager(`http://alice:s3cret@127.0.0.1:${server.port}`),
      new ProxyManager(server.url, {
        proxyHeaders: makeHeaders({ proxyBasicAuth: "alice:s3cret" }),
      }),
    ];
    for (const manager of managers) {
      await using _ = manager;
      heads.length = 0;
      const response = await manager.request("GET", "http://a.test/start", {
        headers: { Authorization: "Bearer origin-secret" },
      });
      assert.equal(response.status, 200, `hop 2 answered ${response.status}`);
      assert.equal(response.url, "http://b.test:8080/landed");
      assert.deepEqual(heads.map((head) => head.target), [
        "http://a.test/start",
        "http://b.test:8080/landed",
      ]);
      for (const head of heads) assert.equal(head.headers["proxy-authorization"], ALICE);
      assert.equal(heads[0].headers.authorization, "Bearer origin-secret");
      assert.equal(heads[1].headers.authorization, undefined, "origin credentials dropped");
      assert.equal(heads[1].headers.host, "b.test:8080");
    }
  } finally {
    await server.close();
  }
});

test("forwarding: a caller's own Proxy-Authorization header is dropped across origins", async () => {
  const { server, heads } = await authenticatingProxy();
  try {
    // A request header is the request's, not the proxy's: the redirect policy applies.
    await using manager = new ProxyManager(server.url);
    const response = await manager.request("GET", "http://a.test/start", {
      headers: { "Proxy-Authorization": ALICE },
    });
    assert.equal(response.status, 407);
    assert.equal(heads[1].headers["proxy-authorization"], undefined);
  } finally {
    await server.close();
  }
});

test("forwarding: Accept: */* by default (urllib3's proxy headers); the caller's wins", async () => {
  const { server, heads } = await recordingProxy({ tls: false });
  try {
    await using plain = new ProxyManager(server.url);
    await plain.request("GET", "http://a.test/");
    await plain.request("GET", "http://a.test/", { headers: { Accept: "text/html" } });
    await plain.request("GET", "http://a.test/", { headers: { "X-Other": "1" } });
    await using withHeaders = new ProxyManager(server.url, {
      headers: { Accept: "application/json" },
    });
    await withHeaders.request("GET", "http://a.test/");
    await using fromProxyHeaders = new ProxyManager(server.url, {
      proxyHeaders: { Accept: "text/plain" },
    });
    await fromProxyHeaders.request("GET", "http://a.test/", { headers: { Accept: "text/html" } });
    assert.deepEqual(heads.map((head) => head.headers.accept), [
      "*/*",
      "text/html",
      "*/*",
      "application/json",
      "text/plain",
    ]);
    for (const head of heads) {
      assert.equal(head.rawHeaders.filter(([name]) => /^accept$/i.test(name)).length, 1);
    }
  } finally {
    await server.close();
  }
});

test("tinyproxy: a cross-origin redirect through an authenticating proxy succeeds", async () => {
  await withTinyproxy(async (proxy) => {
    const b = await serveHttp(echo);
    const a = await serveHttp(() =>
      new Response(null, {
        status: 302,
        headers: { location: `http://localhost:${b.port}/landed` },
      })
    );
    try {
      await using manager = new ProxyManager(`http://alice:s3cret@127.0.0.1:${proxy.port}`);
      const seen = await json(manager, `${a.url}/start`);
      assert.equal(seen.path, "/landed");
      assert.equal(seen.headers["proxy-authorization"], undefined, "never sent to the origin");
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }, { basicAuth: ["alice", "s3cret"] });
}, NO_TINYPROXY);

test("tinyproxy: a cross-origin https redirect opens a second authenticated CONNECT", async () => {
  await withTinyproxy(async (proxy) => {
    const b = await serveHttp(echo, { tls: SERVER_TLS });
    const a = await serveHttp(() =>
      new Response(null, {
        status: 302,
        headers: { location: `https://127.0.0.1:${b.port}/landed` },
      }), { tls: SERVER_TLS });
    try {
      await using manager = new ProxyManager(`http://alice:s3cret@127.0.0.1:${proxy.port}`, {
        caCerts: [CA_CERT],
      });
      const seen = await json(manager, `https://localhost:${a.port}/start`);
      assert.equal(seen.path, "/landed");
      assert.equal(seen.headers["proxy-authorization"], undefined, "never sent to the origin");
      assert.equal(loggedRequests(proxy, "CONNECT").length, 2);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }, { basicAuth: ["alice", "s3cret"] });
}, NO_TINYPROXY);

test("a connector whose startTls fails with a plain error gives an SSLError", async () => {
  // A proxy that accepts CONNECT; TLS to the target then fails inside the connector.
  const proxy = await rawServer(async (conn) => {
    await conn.readUntil("\r\n\r\n");
    await conn.write("HTTP/1.1 200 Connection established\r\n\r\n");
    await conn.closed;
  });
  const base = defaultConnector();
  const failing: Connector = {
    name: "failing-tls",
    connect: (options) => base.connect(options),
    startTls: () => Promise.reject(new Error("startTls on a closed socket")),
  };
  const manager = new ProxyManager(proxy.url, { connector: failing, retries: false });
  try {
    const error = await rejects(manager.request("GET", "https://localhost:1/"));
    assert.ok(error instanceof SSLError, `expected SSLError, got ${error}`);
    assert.match(error.message, /localhost:1.*startTls on a closed socket/);
    assert.equal(proxy.connections, 1);
  } finally {
    await manager.close();
    await proxy.close();
  }
});
