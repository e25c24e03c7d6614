/**
 * Network controls against loopback servers: `lookup`, `resolve` and the DNS cache,
 * TLS still verified against the host name, the address policy (`denyPrivateAddresses`,
 * `allowAddress`) on direct connections and redirects, Happy Eyeballs, Unix sockets.
 */

import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import * as fs from "node:fs";
import { assert, test } from "../_harness.ts";
import { rejects, text } from "../_util.ts";
import { CA_CERT, SERVER_TLS } from "../_certs.ts";
import { rawServer, serveHttp } from "../_servers.ts";
import {
  AddressNotAllowedError,
  HTTPConnectionPool,
  HTTPSConnectionPool,
  isPrivateAddress,
  type LookupFunction,
  NameResolutionError,
  PoolManager,
  SSLError,
  Timeout,
  URLSchemeUnknown,
} from "../../mod.ts";
import { cloudflareConnector } from "../../src/runtime/cloudflare.ts";
import { stalledListener } from "./_stalled_listener.ts";
import { missingBinary, startMicrosocks, startTinyproxy } from "../_proxies.ts";
import { ProxyManager, SOCKSProxyManager } from "../../mod.ts";

/** A lookup answering `address` for every name, counting its calls by name. */
function countingLookup(address = "127.0.0.1"): LookupFunction & { calls: string[] } {
  const calls: string[] = [];
  const lookup = (hostname: string) => {
    calls.push(hostname);
    return Promise.resolve([{ address, family: address.includes(":") ? 6 : 4 } as const]);
  };
  return Object.assign(lookup, { calls });
}

// Over HTTP/2 (Deno.serve speaks it on TLS) the host is the `:authority`, in the URL alone.
const echoHost = (req: Request) =>
  new Response(`host=${req.headers.get("host") ?? new URL(req.url).host}`);

test("lookup: a made-up name connects to the address the lookup answers", async () => {
  const server = await serveHttp(echoHost);
  const lookup = countingLookup();
  await using manager = new PoolManager({ lookup });
  try {
    const r = await manager.request("GET", `http://api.test:${server.port}/`);
    assert.equal(text(r.data), `host=api.test:${server.port}`);
    assert.deepEqual(lookup.calls, ["api.test"]);
    const failing = new PoolManager({ lookup: () => Promise.reject(new Error("no such name")) });
    const error = await rejects(failing.request("GET", `http://api.test:${server.port}/`, {
      retries: false,
    }));
    assert.ok(error instanceof NameResolutionError, String(error));
    assert.match((error as Error).message, /api\.test.*no such name/);
    await failing.close();
  } finally {
    await server.close();
  }
});

test("resolve: a host:port entry is connected to without a lookup", async () => {
  const server = await serveHttp(echoHost);
  const lookup = countingLookup("192.0.2.1");
  await using pool = new HTTPConnectionPool("API.test", {
    port: server.port,
    lookup,
    resolve: { [`api.TEST:${server.port}`]: "127.0.0.1" },
  });
  try {
    const r = await pool.request("GET", "/");
    assert.equal(text(r.data), `host=api.test:${server.port}`);
    assert.deepEqual(lookup.calls, [], "no lookup for a resolved host");
  } finally {
    await server.close();
  }
});

test("dnsCacheTtl: a manager's pools share one cached lookup per name", async () => {
  const a = await serveHttp(echoHost);
  const b = await serveHttp(echoHost);
  const lookup = countingLookup();
  try {
    const manager = new PoolManager({ lookup, dnsCacheTtl: 60_000, maxSize: 1 });
    for (const server of [a, b, a, b]) {
      // A new connection each time (the previous one is closed), so each would look up.
      const r = await manager.request("GET", `http://api.test:${server.port}/`, {
        headers: { connection: "close" },
      });
      assert.equal(r.status, 200);
    }
    assert.deepEqual(lookup.calls, ["api.test"], "one lookup for four connections, two pools");
    await manager.close();
    const uncached = new PoolManager({ lookup });
    for (const server of [a, b]) {
      await uncached.request("GET", `http://api.test:${server.port}/`);
    }
    assert.equal(lookup.calls.length, 3, "no cache unless asked");
    await uncached.close();
    const expiring = new HTTPConnectionPool("api.test", {
      port: a.port,
      lookup,
      dnsCacheTtl: 0,
    });
    await expiring.request("GET", "/", { headers: { connection: "close" } });
    await expiring.request("GET", "/", { headers: { connection: "close" } });
    assert.equal(lookup.calls.length, 5, "an expired entry is looked up again");
    await expiring.close();
  } finally {
    await a.close();
    await b.close();
  }
});

test("lookup: TLS sends the host name as SNI and verifies the certificate against it", async () => {
  const raw = await rawServer(async (conn) => {
    const servername = (conn.socket as unknown as { servername?: string }).servername;
    await conn.readRequest();
    const body = `sni=${servername}`;
    await conn.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  }, { tls: SERVER_TLS });
  try {
    const lookup = countingLookup();
    await using pool = new HTTPSConnectionPool("localhost", {
      port: raw.port,
      caCerts: [CA_CERT],
      lookup,
    });
    const r = await pool.request("GET", "/");
    assert.equal(text(r.data), "sni=localhost");
    assert.deepEqual(lookup.calls, ["localhost"]);
    // The certificate names localhost and 127.0.0.1, not api.test: connecting to the right
    // address does not make the name right.
    await using other = new HTTPSConnectionPool("api.test", {
      port: raw.port,
      caCerts: [CA_CERT],
      resolve: { [`api.test:${raw.port}`]: "127.0.0.1" },
      retries: false,
    });
    const error = await rejects(other.request("GET", "/"));
    assert.ok(error instanceof SSLError, String(error));
    assert.match((error as Error).message, /hostname mismatch|api\.test/);
  } finally {
    await raw.close();
  }
});

test("denyPrivateAddresses: every loopback form is refused before any connection", async () => {
  const raw = await rawServer((conn) => conn.destroy());
  const lookup = countingLookup();
  await using manager = new PoolManager({ denyPrivateAddresses: true, retries: 3 });
  await using named = new PoolManager({ denyPrivateAddresses: true, lookup });
  try {
    const urls = ["127.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "0.0.0.0", "localhost"].map(
      (host) => `http://${host}:${raw.port}/`,
    );
    for (const url of urls) {
      const error = await rejects(manager.request("GET", url));
      assert.ok(error instanceof AddressNotAllowedError, `${url}: ${error}`);
      assert.equal((error as AddressNotAllowedError).code, "ERR_ADDRESS_NOT_ALLOWED");
    }
    const error = await rejects(named.request("GET", `http://api.test:${raw.port}/`));
    assert.ok(error instanceof AddressNotAllowedError, String(error));
    assert.equal((error as AddressNotAllowedError).address, "127.0.0.1");
    assert.equal((error as AddressNotAllowedError).hostname, "api.test");
    assert.equal(raw.connections, 0, "no connection was made");
  } finally {
    await raw.close();
  }
});

test("denyPrivateAddresses: a redirect to loopback is refused, allowAddress re-allows", async () => {
  const target = await rawServer((conn) => conn.destroy());
  const origin = await serveHttp(() =>
    new Response(null, { status: 302, headers: { location: `http://127.0.0.1:${target.port}/` } })
  );
  const lookup = countingLookup();
  // public.test is let through (a re-allowed name); every other private address is refused.
  const allowAddress = (address: string, hostname: string) =>
    hostname === "public.test" || !isPrivateAddress(address);
  await using manager = new PoolManager({ lookup, allowAddress, denyPrivateAddresses: true });
  try {
    const error = await rejects(manager.request("GET", `http://public.test:${origin.port}/`));
    assert.ok(error instanceof AddressNotAllowedError, String(error));
    assert.equal(target.connections, 0, "the redirect target was never connected to");
    const r = await manager.request("GET", `http://public.test:${origin.port}/`, {
      redirect: false,
    });
    assert.equal(r.status, 302, "the allowed origin itself is reached");
  } finally {
    await origin.close();
    await target.close();
  }
});

test("allowAddress: its answer is final, and the error names the refused address", async () => {
  const server = await serveHttp(echoHost);
  try {
    const seen: string[] = [];
    await using manager = new PoolManager({
      allowAddress: (address, hostname) => {
        seen.push(`${hostname}=${address}`);
        return hostname !== "127.0.0.1";
      },
    });
    const error = await rejects(manager.request("GET", `http://127.0.0.1:${server.port}/`));
    assert.ok(error instanceof AddressNotAllowedError);
    assert.equal(
      (error as Error).message,
      "Address not allowed for 127.0.0.1: 127.0.0.1",
    );
    const r = await manager.request("GET", `http://localhost:${server.port}/`);
    assert.equal(r.status, 200);
    assert.ok(seen.includes("localhost=127.0.0.1"), seen.join(" "));
  } finally {
    await server.close();
  }
});

test("Happy Eyeballs: an address that never answers loses to the next after the stagger", async () => {
  const stalled = await stalledListener();
  const server = http.createServer((_req, res) => res.end("ok"));
  await new Promise<void>((resolve) => server.listen(stalled.port, "127.0.0.1", resolve));
  const lookup: LookupFunction = () =>
    Promise.resolve([
      { address: "127.0.0.2", family: 4 },
      { address: "127.0.0.1", family: 4 },
    ]);
  try {
    for (const delay of [undefined, 50]) {
      await using pool = new HTTPConnectionPool("dual.test", {
        port: stalled.port,
        lookup,
        autoSelectFamilyAttemptDelay: delay,
        timeout: new Timeout({ connect: 10_000 }),
        retries: false,
      });
      const started = performance.now();
      const r = await pool.request("GET", "/");
      const elapsed = performance.now() - started;
      assert.equal(text(r.data), "ok");
      // The stagger, not the 10 s connect timeout (generous margin for a loaded machine).
      assert.ok(elapsed < 3_000, `took ${elapsed.toFixed(0)} ms`);
      assert.ok(elapsed >= (delay ?? 250) - 20, `took ${elapsed.toFixed(0)} ms`);
    }
    // The connect timeout bounds the whole race.
    await using slow = new HTTPConnectionPool("dual.test", {
      port: stalled.port,
      lookup: () => Promise.resolve([{ address: "127.0.0.2", family: 4 }]),
      timeout: new Timeout({ connect: 300 }),
      retries: false,
    });
    const started = performance.now();
    const error = await rejects(slow.request("GET", "/"));
    assert.match(String(error), /timed out/);
    assert.ok(performance.now() - started < 3_000);
  } finally {
    server.closeAllConnections?.();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await stalled.close();
  }
});

test(
  "address policy through proxies: the proxy on loopback is reached, loopback targets are not",
  async () => {
    const origin = await serveHttp(echoHost, { tls: SERVER_TLS });
    const socks = await startMicrosocks();
    const tiny = await startTinyproxy();
    const lookup = countingLookup();
    try {
      // socks5: the target name is resolved here, so the address sent is checked.
      await using local = new SOCKSProxyManager(socks.url, { denyPrivateAddresses: true, lookup });
      let error = await rejects(local.request("GET", `http://api.test:${origin.port}/`));
      assert.ok(error instanceof AddressNotAllowedError, String(error));
      // socks5h and CONNECT: an IP literal target is checked; a name is the proxy's to check.
      await using remote = new SOCKSProxyManager(socks.url.replace("socks5:", "socks5h:"), {
        denyPrivateAddresses: true,
      });
      error = await rejects(remote.request("GET", `http://127.0.0.1:${origin.port}/`));
      assert.ok(error instanceof AddressNotAllowedError, String(error));
      await using tunnel = new ProxyManager(tiny.url, {
        denyPrivateAddresses: true,
        caCerts: [CA_CERT],
      });
      error = await rejects(tunnel.request("GET", `https://127.0.0.1:${origin.port}/`));
      assert.ok(error instanceof AddressNotAllowedError, String(error));
      const r = await tunnel.request("GET", `https://localhost:${origin.port}/`);
      assert.equal(text(r.data), `host=localhost:${origin.port}`, "the proxy resolved the name");
    } finally {
      await tiny.close();
      await socks.close();
      await origin.close();
    }
  },
  { ignore: missingBinary("microsocks") !== undefined || missingBinary("tinyproxy") !== undefined },
);

/** A node:http server on a Unix socket in a fresh temporary directory. */
async function unixServer(name = "s.sock") {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pooled-unix-"));
  const socketPath = path.join(dir, name);
  const server = http.createServer((req, res) => {
    const chunks: Uint8Array[] = [];
    req.on("data", (chunk: Uint8Array) => chunks.push(chunk));
    req.on("end", () => {
      if (req.url === "/redirect") return res.writeHead(302, { location: "/after" }).end();
      res.end(`${req.method} ${req.url} host=${req.headers.host} body=${Buffer.concat(chunks)}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    socketPath,
    url: `http+unix://${encodeURIComponent(socketPath)}`,
    close: async () => {
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

test("http+unix: GET and POST through a Unix socket, one pool per socket path", async () => {
  const a = await unixServer();
  const b = await unixServer("Other.sock");
  await using manager = new PoolManager({ denyPrivateAddresses: true });
  try {
    let r = await manager.request("GET", `${a.url}/info?x=1`);
    assert.equal(text(r.data), "GET /info?x=1 host=localhost body=");
    r = await manager.request("POST", `${a.url}/items`, { body: "hello" });
    assert.equal(text(r.data), "POST /items host=localhost body=hello");
    // The same path spelled with lower-case escapes is the same pool.
    r = await manager.request("GET", `${a.url.replaceAll("%2F", "%2f")}/again`);
    assert.equal(r.status, 200);
    r = await manager.request("GET", `${a.url}/redirect`);
    assert.equal(text(r.data), "GET /after host=localhost body=", "a relative redirect stays");
    // A server on the network cannot send the client to a local socket.
    const web = await serveHttp(() =>
      new Response(null, { status: 302, headers: { location: `${a.url}/info` } })
    );
    const plain = new PoolManager();
    const error = await rejects(plain.request("GET", `${web.url}/`))
      .finally(() => Promise.all([web.close(), plain.close()]));
    assert.ok(error instanceof URLSchemeUnknown, String(error));
    r = await manager.request("GET", `${b.url}/b`);
    assert.equal(text(r.data), "GET /b host=localhost body=");
    assert.equal(manager.pools.size, 2, [...manager.pools.keys()].join(" "));
    const [first] = manager.pools.values();
    assert.equal(first.numConnections, 1, "the connection to a was reused");
  } finally {
    await a.close();
    await b.close();
  }
});

test("socketPath: a pool connects to the Unix socket, its host names the Host header", async () => {
  const server = await unixServer();
  await using pool = new HTTPConnectionPool("docker", { socketPath: server.socketPath });
  try {
    const r = await pool.request("GET", "/version");
    assert.equal(text(r.data), "GET /version host=docker body=");
  } finally {
    await server.close();
  }
});

test("Unix sockets on Cloudflare Workers are a TypeError", async () => {
  const error = await rejects(
    cloudflareConnector.connect({ hostname: "localhost", port: 80, path: "/tmp/x.sock" }),
  );
  assert.ok(error instanceof TypeError, String(error));
  assert.match((error as Error).message, /Unix domain socket: "\/tmp\/x\.sock"/);
});

test("network options are checked when the pool is made", () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ lookup: "dns" }, /lookup must be a function: "dns"/],
    [{ allowAddress: true }, /allowAddress must be a function: true/],
    [{ denyPrivateAddresses: "yes" }, /denyPrivateAddresses must be a boolean: "yes"/],
    [{ dnsCacheTtl: -1 }, /dnsCacheTtl must be a finite number of milliseconds >= 0: -1/],
    [{ autoSelectFamilyAttemptDelay: "1" }, /autoSelectFamilyAttemptDelay must be a number/],
    [{ resolve: { "example.com": "127.0.0.1" } }, /resolve keys must be "host:port"/],
    [{ resolve: { "example.com:80": "localhost" } }, /resolve values must be IP addresses/],
    [{ socketPath: "" }, /socketPath must be a non-empty string: ""/],
  ];
  for (const [options, message] of bad) {
    assert.throws(() => new HTTPConnectionPool("example.com", options), message);
  }
  assert.throws(() => new PoolManager({ dnsCacheTtl: Number.NaN }), /dnsCacheTtl/);
});

test("network options count in pool keys: values by value, functions by identity", async () => {
  await using manager = new PoolManager();
  const lookup = countingLookup();
  const pool = (options: Record<string, unknown>) =>
    manager.connectionFromContext({ scheme: "http", host: "a.test", port: 80, ...options });
  assert.equal(
    pool({ resolve: { "A.test:80": "127.0.0.1" } }),
    pool({ resolve: { "a.test:80": "127.0.0.1" } }),
  );
  assert.notEqual(
    pool({ resolve: { "a.test:80": "127.0.0.1" } }),
    pool({ resolve: { "a.test:80": "127.0.0.2" } }),
  );
  assert.equal(pool({ lookup }), pool({ lookup }));
  assert.notEqual(pool({ lookup }), pool({ lookup: countingLookup() }));
  assert.equal(pool({ denyPrivateAddresses: true }), pool({ denyPrivateAddresses: true }));
  assert.notEqual(pool({ socketPath: "/a" }), pool({ socketPath: "/b" }));
});
