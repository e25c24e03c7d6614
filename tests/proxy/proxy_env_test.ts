/**
 * Proxies from the environment: which variable wins, curl's `NO_PROXY` matching, and
 * `proxyFromEnv()` / `proxy: "env"` sending requests through tinyproxy or directly.
 */

import { assert, test } from "../_harness.ts";
import { missingBinary, startTinyproxy } from "../_proxies.ts";
import { serveHttp } from "../_servers.ts";
import { text } from "../_util.ts";
import { PoolManager, proxyFromEnv, ProxyManager } from "../../mod.ts";
import {
  bypassesProxy,
  PROXY_VARIABLES,
  proxyEnvironment,
  proxyUrlFor,
} from "../../src/proxy/_env.ts";

test("lower-case names win; empty values are unset; HTTP_PROXY is ignored under CGI", () => {
  const env = proxyEnvironment({
    http_proxy: "http://lower:1",
    HTTP_PROXY: "http://upper:1",
    https_proxy: "",
    HTTPS_PROXY: "http://upper-s:1",
    ALL_PROXY: "socks5h://all:1",
    NO_PROXY: "internal.test",
  });
  assert.equal(env.http, "http://lower:1");
  assert.equal(env.https, "http://upper-s:1");
  assert.equal(env.all, "socks5h://all:1");
  assert.equal(env.noProxy, "internal.test");
  assert.equal(proxyEnvironment({ HTTP_PROXY: "http://x:1" }).http, "http://x:1");
  assert.equal(
    proxyEnvironment({ HTTP_PROXY: "http://x:1", REQUEST_METHOD: "GET" }).http,
    undefined,
  );
});

test("the scheme's proxy, else ALL_PROXY, unless NO_PROXY matches", () => {
  const env = proxyEnvironment({
    http_proxy: "http://h:1",
    all_proxy: "socks5://a:1",
    no_proxy: "skip.test",
  });
  assert.equal(proxyUrlFor(env, "http", "example.test", 80), "http://h:1");
  assert.equal(proxyUrlFor(env, "https", "example.test", 443), "socks5://a:1");
  assert.equal(proxyUrlFor(env, "https", "www.skip.test", 443), null);
  assert.equal(proxyUrlFor(proxyEnvironment({}), "http", "example.test", 80), null);
});

test("NO_PROXY: names and subdomains, *, IPs, CIDR, IPv6, ports, spaces", () => {
  const cases: [string, string, number, boolean][] = [
    ["example.com", "example.com", 80, true],
    ["example.com", "www.example.com", 80, true],
    ["example.com", "EXAMPLE.COM.", 80, true],
    ["example.com", "notexample.com", 80, false],
    [".example.com", "example.com", 80, true],
    ["*.example.com", "a.b.example.com", 80, true],
    ["*", "anything.test", 80, true],
    ["a.test, b.test", "b.test", 80, true],
    ["a.test b.test", "b.test", 80, true],
    ["127.0.0.1", "127.0.0.1", 80, true],
    ["127.0.0.1", "127.0.0.2", 80, false],
    ["10.0.0.0/8", "10.20.30.40", 80, true],
    ["10.0.0.0/8", "11.0.0.1", 80, false],
    ["::1", "[::1]", 80, true],
    ["[::1]", "::1", 80, true],
    ["fd00::/8", "[fd12:3456::1]", 80, true],
    ["fd00::/8", "[fe80::1]", 80, false],
    ["example.com:8080", "example.com", 8080, true],
    ["example.com:8080", "example.com", 80, false],
    ["[::1]:8080", "[::1]", 8080, true],
    ["[::1]:8080", "[::1]", 80, false],
    ["127.0.0.1", "localhost", 80, false],
    ["", "example.com", 80, false],
  ];
  for (const [noProxy, host, port, expected] of cases) {
    assert.equal(bypassesProxy(noProxy, host, port), expected, `${noProxy} vs ${host}:${port}`);
  }
});

/** Runs `fn` with environment variables set, then puts the old values back. */
async function withEnv(vars: Record<string, string>, fn: () => Promise<void>): Promise<void> {
  const process = (globalThis as { process?: { env: Record<string, string | undefined> } })
    .process;
  const deno = (globalThis as {
    Deno?: {
      env: {
        get(n: string): string | undefined;
        set(n: string, v: string): void;
        delete(n: string): void;
      };
    };
  }).Deno;
  const get = (name: string) => deno ? deno.env.get(name) : process!.env[name];
  const set = (name: string, value: string | undefined) => {
    if (deno) value === undefined ? deno.env.delete(name) : deno.env.set(name, value);
    else if (value === undefined) delete process!.env[name];
    else process!.env[name] = value;
  };
  const names = [...Object.keys(vars), ...PROXY_VARIABLES];
  const saved = new Map(names.map((name) => [name, get(name)]));
  for (const name of names) set(name, vars[name]);
  try {
    await fn();
  } finally {
    for (const [name, value] of saved) set(name, value);
  }
}

test("proxyFromEnv and proxy: 'env' go through HTTP_PROXY, NO_PROXY goes direct", async () => {
  const proxy = await startTinyproxy();
  const origin = await serveHttp((req) => new Response(new URL(req.url).pathname));
  try {
    await withEnv({ HTTP_PROXY: proxy.url, NO_PROXY: "localhost" }, async () => {
      for (const manager of [proxyFromEnv(), new PoolManager({ proxy: "env" })]) {
        await using _ = manager;
        assert.ok(!(manager instanceof ProxyManager));
        const proxied = await manager.request("GET", `http://127.0.0.1:${origin.port}/via`);
        assert.equal(text(proxied.data), "/via");
        const direct = await manager.request("GET", `http://localhost:${origin.port}/direct`);
        assert.equal(text(direct.data), "/direct");
      }
    });
    const log = proxy.log();
    assert.equal(log.split(`GET http://127.0.0.1:${origin.port}/via`).length - 1, 2, log);
    assert.ok(!log.includes("/direct"), "NO_PROXY hosts are not proxied");
  } finally {
    await Promise.all([origin.close(), proxy.close()]);
  }
}, { ignore: missingBinary("tinyproxy") !== undefined });

test("without proxy: 'env' the environment is never read", async () => {
  await withEnv({ HTTP_PROXY: "http://127.0.0.1:1" }, async () => {
    const origin = await serveHttp(() => new Response("direct"));
    try {
      await using manager = new PoolManager();
      assert.equal(text((await manager.request("GET", `${origin.url}/`)).data), "direct");
    } finally {
      await origin.close();
    }
  });
  assert.throws(
    () => new PoolManager({ proxy: "http://x" as "env" }),
    (error: unknown) => error instanceof TypeError && /"http:\/\/x"/.test(error.message),
  );
});

test("proxy: 'env': a cross-origin redirect keeps the proxy's credentials", async () => {
  const proxy = await startTinyproxy({ basicAuth: ["alice", "s3cret"] });
  const b = await serveHttp((req) => new Response(new URL(req.url).pathname));
  const a = await serveHttp(() =>
    new Response(null, { status: 302, headers: { location: `http://localhost:${b.port}/landed` } })
  );
  try {
    await withEnv({ HTTP_PROXY: `http://alice:s3cret@127.0.0.1:${proxy.port}` }, async () => {
      await using manager = new PoolManager({ proxy: "env" });
      const response = await manager.request("GET", `${a.url}/start`);
      assert.equal(response.status, 200, text(response.data));
      assert.equal(text(response.data), "/landed");
    });
  } finally {
    await Promise.all([a.close(), b.close(), proxy.close()]);
  }
}, { ignore: missingBinary("tinyproxy") !== undefined });
