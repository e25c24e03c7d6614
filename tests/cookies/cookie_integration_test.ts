/**
 * A manager's `cookies` jar against loopback servers: cookies set by a redirect reach the
 * next hop, never another site (`127.0.0.1` and `localhost` are two sites of one server),
 * `Secure` cookies stay off http, expired ones are not sent, and the caller's own `Cookie`
 * header is merged with the jar's.
 */

import { assert, test } from "../_harness.ts";
import { CA_CERT, SERVER_TLS } from "../_certs.ts";
import { serveHttp, type TestServer } from "../_servers.ts";
import { text } from "../_util.ts";
import { CookieJar, PoolManager, ProxyManager, SOCKSProxyManager } from "../../mod.ts";

/** What the server saw: the path and `Cookie` header of each request, in order. */
interface Seen {
  path: string;
  host: string;
  cookie: string | null;
}

/**
 * A server whose `/redirect?to=URL&set=COOKIE` answers 302 to `to` with `Set-Cookie: set`,
 * `/set?c=COOKIE` answers 200 with it, and anything else 200; every request is logged.
 */
async function cookieServer(options: { tls?: typeof SERVER_TLS } = {}) {
  const seen: Seen[] = [];
  const server = await serveHttp((req) => {
    const url = new URL(req.url);
    // The Host header: not every runtime's server builds req.url from it.
    const host = new URL(`http://${req.headers.get("host")}`).hostname;
    seen.push({ path: url.pathname, host, cookie: req.headers.get("cookie") });
    const headers = new Headers();
    for (const value of url.searchParams.getAll("set")) headers.append("set-cookie", value);
    const to = url.searchParams.get("to");
    if (to !== null) {
      headers.set("location", to);
      return new Response(null, { status: 302, headers });
    }
    return new Response("ok", { headers });
  }, options);
  return { server, seen };
}

async function using(
  server: TestServer,
  jar: CookieJar,
  fn: (manager: PoolManager) => Promise<void>,
  options: { caCerts?: string[] } = {},
): Promise<void> {
  const manager = new PoolManager({ cookies: jar, ...options });
  try {
    await fn(manager);
  } finally {
    await manager.close();
    await server.close();
  }
}

const q = encodeURIComponent;

test("a cookie set by a login redirect is sent on the next hop and after", async () => {
  const { server, seen } = await cookieServer();
  const jar = new CookieJar();
  const origin = server.url;
  await using(server, jar, async (manager) => {
    const login = `${origin}/login?to=${q("/home")}&set=${q("session=s1; Path=/; HttpOnly")}`;
    const r = await manager.request("POST", login);
    assert.equal(r.status, 200);
    assert.equal(r.url, `${origin}/home`);
    assert.deepEqual(seen.map((s) => [s.path, s.cookie]), [["/login", null], [
      "/home",
      "session=s1",
    ]]);
    await manager.request("GET", `${origin}/later`);
    assert.equal(seen[2].cookie, "session=s1");
    assert.equal(jar.getCookieHeader(`${origin}/`), "session=s1");
  });
});

test("a cookie is never sent to another site across redirects", async () => {
  const { server, seen } = await cookieServer();
  const jar = new CookieJar();
  const site1 = server.url;
  const site2 = `http://localhost:${server.port}`;
  await using(server, jar, async (manager) => {
    // site1 sets "one" and redirects to site2, which sets "two" and sends back to site1.
    const back = `${site2}/two?to=${q(`${site1}/end`)}&set=two=2`;
    await manager.request("GET", `${site1}/one?to=${q(back)}&set=one=1`);
    assert.deepEqual(seen.map((s) => [s.host, s.path, s.cookie]), [
      ["127.0.0.1", "/one", null],
      ["localhost", "/two", null],
      ["127.0.0.1", "/end", "one=1"],
    ]);
    // The caller's own Cookie header is dropped at the site change too (the default
    // removeHeadersOnRedirect), and the jar adds the new site's cookies only.
    seen.length = 0;
    await manager.request("GET", `${site1}/again?to=${q(`${site2}/x`)}`, {
      headers: { Cookie: "mine=1" },
    });
    assert.deepEqual(seen.map((s) => s.cookie), ["mine=1; one=1", "two=2"]);
  });
});

test("a cookie set by a redirect response is kept with redirect: false too", async () => {
  const { server, seen } = await cookieServer();
  const jar = new CookieJar();
  await using(server, jar, async (manager) => {
    const r = await manager.request("GET", `${server.url}/r?to=/next&set=a=1&set=b=2`, {
      redirect: false,
    });
    assert.equal(r.status, 302);
    assert.equal(seen.length, 1);
    assert.equal(jar.getCookieHeader(server.url), "a=1; b=2");
  });
});

test("a Secure cookie is not sent over http, and is over https", async () => {
  const { server, seen } = await cookieServer({ tls: SERVER_TLS });
  const jar = new CookieJar();
  const plain = await serveHttp((req) => new Response(req.headers.get("cookie") ?? "none"));
  const https = server.url;
  await using(server, jar, async (manager) => {
    try {
      await manager.request("GET", `${https}/s?set=${q("s=1; Secure")}&set=p=2`);
      assert.equal(jar.getCookieHeader(https), "s=1; p=2");
      const overHttp = await manager.request("GET", `${plain.url}/`);
      assert.equal(text(overHttp.data!), "p=2");
      await manager.request("GET", `${https}/again`);
      assert.equal(seen[1].cookie, "s=1; p=2");
    } finally {
      await plain.close();
    }
  }, { caCerts: [CA_CERT] });
});

test("expired cookies are not sent; a server deletes one with Max-Age=0", async () => {
  const { server, seen } = await cookieServer();
  const clock = { now: Date.now() };
  const jar = new CookieJar({ now: () => clock.now });
  await using(server, jar, async (manager) => {
    await manager.request("GET", `${server.url}/s?set=${q("short=1; Max-Age=60")}&set=keep=1`);
    await manager.request("GET", `${server.url}/a`);
    clock.now += 61_000;
    await manager.request("GET", `${server.url}/b`);
    await manager.request("GET", `${server.url}/logout?set=${q("keep=; Max-Age=0")}`);
    await manager.request("GET", `${server.url}/c`);
    assert.deepEqual(seen.map((s) => s.cookie), [
      null,
      "short=1; keep=1",
      "keep=1",
      "keep=1",
      null,
    ]);
  });
});

test("the caller's Cookie header comes first and wins by name; the manager's counts too", async () => {
  const { server, seen } = await cookieServer();
  const jar = new CookieJar();
  jar.setCookie("session=jar", server.url);
  jar.setCookie("theme=dark", server.url);
  await using(server, jar, async (manager) => {
    await manager.request("GET", `${server.url}/a`, { headers: { Cookie: "session=mine" } });
    await manager.request("GET", `${server.url}/b`);
    await manager.request("GET", `${server.url}/c`, {
      headers: [["cookie", "x=1"], ["cookie", "y=2"]],
    });
    assert.deepEqual(seen.map((s) => s.cookie), [
      "session=mine; theme=dark",
      "session=jar; theme=dark",
      "x=1; y=2; session=jar; theme=dark",
    ]);
  });
  const second = await cookieServer();
  jar.setCookie("theme=dark", second.server.url);
  const manager = new PoolManager({ cookies: jar, headers: { Cookie: "theme=light; lang=en" } });
  try {
    await manager.request("GET", `${second.server.url}/d`);
    await manager.request("GET", `${second.server.url}/e`, { headers: { Cookie: undefined } });
    // Cookies ignore ports: session=jar, set for the first server, goes to this one too.
    assert.deepEqual(second.seen.map((s) => s.cookie), [
      "theme=light; lang=en; session=jar",
      "session=jar; theme=dark",
    ]);
  } finally {
    await manager.close();
    await second.server.close();
  }
});

test("cookies option: proxy managers take it; anything but a CookieJar is a TypeError", async () => {
  const jar = new CookieJar();
  const proxied = new ProxyManager("http://127.0.0.1:1", { cookies: jar });
  const socks = new SOCKSProxyManager("socks5://127.0.0.1:1", { cookies: jar });
  assert.equal(proxied.cookies, jar);
  assert.equal(socks.cookies, jar);
  assert.equal(new PoolManager().cookies, null);
  assert.throws(() => new PoolManager({ cookies: {} as CookieJar }), TypeError);
  await proxied.close();
  await socks.close();
});
