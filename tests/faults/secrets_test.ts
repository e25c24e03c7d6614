/**
 * Secrets: credentials never cross an origin on a redirect, URL userinfo never reaches the
 * wire, and TLS verification cannot be switched off by the environment.
 */

import { execFile } from "node:child_process";
import { assert, runtime, test } from "../_harness.ts";
import {
  type RawConnection,
  type RawRequest,
  type RawServer,
  rawServer,
  unusedPort,
} from "../_servers.ts";
import { SERVER_TLS } from "../_certs.ts";
import { rejects } from "../_util.ts";
import { redactUrl, redactUrlsIn } from "../../src/_redact.ts";
import {
  connectionFromUrl,
  HostChangedError,
  HTTPConnectionPool,
  LocationParseError,
  LocationValueError,
  makeHeaders,
  MaxRetryError,
  NewConnectionError,
  parseUrl,
  PoolManager,
  ProxyError,
  ProxyManager,
  ReadTimeoutError,
  SOCKSProxyManager,
} from "../../mod.ts";

/** Two raw servers (two origins) that record every request; `/to?url` redirects there. */
async function twoOrigins(
  fn: (a: RawServer, b: RawServer, seen: Map<RawServer, RawRequest[]>) => Promise<void>,
): Promise<void> {
  const seen = new Map<RawServer, RawRequest[]>();
  const recorder = (log: RawRequest[]) => async (conn: RawConnection) => {
    while (true) {
      let request: RawRequest;
      try {
        request = await conn.readRequest();
      } catch {
        return;
      }
      log.push(request);
      const to = /^\/to\?(.*)$/.exec(request.target);
      const status = to ? "303 See Other" : "200 OK";
      const location = to ? `Location: ${decodeURIComponent(to[1])}\r\n` : "";
      await conn.write(`HTTP/1.1 ${status}\r\n${location}Content-Length: 0\r\n\r\n`);
    }
  };
  const logA: RawRequest[] = [];
  const logB: RawRequest[] = [];
  const a = await rawServer(recorder(logA));
  const b = await rawServer(recorder(logB));
  seen.set(a, logA).set(b, logB);
  try {
    await fn(a, b, seen);
  } finally {
    await a.close();
    await b.close();
  }
}

const SECRET_HEADERS = {
  Authorization: "Bearer secret-token",
  Cookie: "session=secret-cookie",
  "Proxy-Authorization": "Basic c2VjcmV0",
  "X-Kept": "kept",
};

test("secrets: a cross-origin redirect drops Authorization, Cookie and Proxy-Authorization", async () => {
  await twoOrigins(async (a, b, seen) => {
    const manager = new PoolManager();
    try {
      const target = encodeURIComponent(`${b.url}/landing`);
      for (const method of ["GET", "POST"]) {
        const r = await manager.request(method, `${a.url}/to?${target}`, {
          headers: SECRET_HEADERS,
          body: method === "POST" ? "x" : undefined,
        });
        assert.equal(r.status, 200);
        assert.equal(r.url, `${b.url}/landing`);
      }
      for (const request of seen.get(a)!) {
        assert.equal(request.headers["authorization"], "Bearer secret-token", "sent to a");
      }
      assert.equal(seen.get(b)!.length, 2);
      for (const request of seen.get(b)!) {
        assert.equal(request.headers["authorization"], undefined);
        assert.equal(request.headers["cookie"], undefined);
        assert.equal(request.headers["proxy-authorization"], undefined);
        assert.equal(request.headers["x-kept"], "kept");
        assert.doesNotMatch(request.head, /secret|c2VjcmV0/);
      }
    } finally {
      await manager.close();
    }
  });
});

test("secrets: basic auth made from URL userinfo stays on its origin; userinfo itself is never sent", async () => {
  await twoOrigins(async (a, b, seen) => {
    const manager = new PoolManager();
    try {
      const withUser = a.url.replace("http://", "http://user:pa%40ss@");
      const target = encodeURIComponent(`${b.url}/landing`);
      // urllib3 (and pooled) send no credentials from the URL by themselves; a caller who
      // turns userinfo into basic auth gets it stripped on the way to another origin.
      await manager.request("GET", `${withUser}/plain`);
      await manager.request("GET", `${withUser}/to?${target}`, {
        headers: makeHeaders({ basicAuth: "user:pa@ss" }),
      });
      const [plain, redirected] = seen.get(a)!;
      assert.equal(plain.headers["authorization"], undefined);
      assert.doesNotMatch(plain.head, /user|pa%40ss|pa@ss/);
      assert.equal(redirected.headers["authorization"], `Basic ${btoa("user:pa@ss")}`);
      assert.equal(seen.get(b)!.length, 1);
      assert.equal(seen.get(b)![0].headers["authorization"], undefined);
      assert.doesNotMatch(seen.get(b)![0].head, /user|pa%40ss|pa@ss|dXNlcj/);
    } finally {
      await manager.close();
    }
  });
});

/** Runs `tests/faults/_tls_env_child.ts` under this runtime with `env` added. */
function runChild(port: number, env: Record<string, string>): Promise<string> {
  const script = new URL("./_tls_env_child.ts", import.meta.url).pathname;
  // Node 20 runs TypeScript through tsx, as scripts/test.sh does.
  const prefix = runtime === "deno" ? ["run", "-A"] : runtime === "node" ? ["--import", "tsx"] : [];
  const args = [...prefix, script, String(port)];
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      args,
      { env: { ...process.env, NO_COLOR: "1", ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`child failed: ${error.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
  });
}

test("secrets: NODE_TLS_REJECT_UNAUTHORIZED=0 does not make a wrong-CA connection succeed", async () => {
  const server = await rawServer(async (conn) => {
    try {
      await conn.readRequest();
      await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    } catch {
      // the handshake failed, as it must
    }
  }, { tls: SERVER_TLS });
  try {
    const stdout = await runChild(server.port, {
      NODE_TLS_REJECT_UNAUTHORIZED: "0",
      DENO_TLS_CA_STORE: "system",
    });
    const results = stdout.trim().split("\n").map((line) => JSON.parse(line));
    assert.deepEqual(results, [
      { way: "default", error: "SSLError", code: "ERR_SSL" },
      { way: "node", error: "SSLError", code: "ERR_SSL" },
      { way: "noHostnameCheck", error: "SSLError", code: "ERR_SSL" },
    ]);
  } finally {
    await server.close();
  }
});

// ---- credentials in error text ------------------------------------------------------------

const USER = "zed-user-7";
const PASSWORD = "pw-s3cr3t-9";
const CREDENTIALS = `${USER}:${PASSWORD}`;

/**
 * Throws unless no text `error` carries (message, `String()`, stack, string fields, and the
 * same for the errors it wraps) holds the user name or password, plain or base64.
 */
function assertRedacted(error: unknown, what: string, depth = 0): void {
  assert.ok(error instanceof Error, `${what}: not an Error: ${String(error)}`);
  const texts: [string, string][] = [
    ["message", error.message],
    ["String()", String(error)],
    ["stack", error.stack ?? ""],
  ];
  const nested: unknown[] = [error.cause];
  for (const [key, value] of Object.entries(error)) {
    if (typeof value === "string") texts.push([key, value]);
    else if (value instanceof Error) nested.push(value);
  }
  for (const [where, text] of texts) {
    for (const secret of [USER, PASSWORD, btoa(CREDENTIALS)]) {
      assert.ok(!text.includes(secret), `${what}: ${where} holds ${secret}: ${text}`);
    }
  }
  if (depth < 4) {
    for (const inner of nested) if (inner !== undefined) assertRedacted(inner, what, depth + 1);
  }
}

/** A server that answers each request with `answer` (or never, for null). */
async function answering(answer: (req: RawRequest) => string | null): Promise<RawServer> {
  return await rawServer(async (conn) => {
    for (;;) {
      let req: RawRequest;
      try {
        req = await conn.readRequest();
      } catch {
        return;
      }
      const reply = answer(req);
      if (reply === null) return void await conn.closed;
      await conn.write(reply);
    }
  });
}

test("secrets: MaxRetryError and its NewConnectionError hold no userinfo (url is http://***@host/)", async () => {
  const port = await unusedPort();
  await using manager = new PoolManager({ retries: 1 });
  const error = await rejects(
    manager.request("GET", `http://${CREDENTIALS}@127.0.0.1:${port}/x?q=1`),
  );
  assert.ok(error instanceof MaxRetryError, String(error));
  assert.ok(error.reason instanceof NewConnectionError, String(error.reason));
  assert.equal(error.url, `http://***@127.0.0.1:${port}/x?q=1`);
  assert.match(error.message, /Max retries exceeded with url: http:\/\/\*\*\*@127\.0\.0\.1/);
  assertRedacted(error, "MaxRetryError");
});

test("secrets: ReadTimeoutError.url and too-many-redirects hold no userinfo", async () => {
  const server = await answering((req) => {
    if (req.target === "/silent") return null;
    return `HTTP/1.1 302 Found\r\nLocation: http://${CREDENTIALS}@127.0.0.1:${
      req.headers.host.split(":")[1]
    }/loop\r\nContent-Length: 0\r\n\r\n`;
  });
  try {
    await using manager = new PoolManager();
    const timeout = await rejects(
      manager.request("GET", `http://${CREDENTIALS}@127.0.0.1:${server.port}/silent`, {
        retries: false,
        timeout: 100,
      }),
    );
    assert.ok(timeout instanceof ReadTimeoutError, String(timeout));
    assert.equal(timeout.url, `http://***@127.0.0.1:${server.port}/silent`);
    assertRedacted(timeout, "ReadTimeoutError");
    const loop = await rejects(manager.request("GET", `${server.url}/start`, { retries: 2 }));
    assert.ok(loop instanceof MaxRetryError, String(loop));
    assert.equal(loop.url, `http://***@127.0.0.1:${server.port}/loop`);
    assertRedacted(loop, "too many redirects");
  } finally {
    await server.close();
  }
});

test("secrets: a redirect to an unparsable Location with userinfo: LocationParseError redacts it", async () => {
  const server = await answering(() =>
    `HTTP/1.1 302 Found\r\nLocation: http://${CREDENTIALS}@127.0.0.1:99999/\r\nContent-Length: 0\r\n\r\n`
  );
  try {
    await using manager = new PoolManager();
    const error = await rejects(manager.request("GET", `${server.url}/`));
    assert.ok(error instanceof LocationParseError, String(error));
    assert.equal(error.location, "http://***@127.0.0.1:99999/");
    assertRedacted(error, "redirect LocationParseError");
  } finally {
    await server.close();
  }
});

test("secrets: URL errors (LocationParseError, LocationValueError, HostChangedError) redact userinfo", async () => {
  const urls = [
    `http://${CREDENTIALS}@127.0.0.1:99999/`,
    `https://${CREDENTIALS}@[::1/`,
    `${USER}@127.0.0.1:70000`,
    `http://${USER}:p@ss%2F${PASSWORD}@host:99999/`,
  ];
  for (const url of urls) {
    const error = (() => {
      try {
        parseUrl(url);
      } catch (caught) {
        return caught;
      }
    })();
    assert.ok(error instanceof LocationParseError, `${url}: ${String(error)}`);
    assertRedacted(error, `parseUrl(${url})`);
  }
  await using manager = new PoolManager();
  for (const url of [`http://${CREDENTIALS}@/path`, `${USER}@`]) {
    const noHost = await rejects(manager.request("GET", url));
    assert.ok(noHost instanceof LocationValueError, String(noHost));
    assertRedacted(noHost, `LocationValueError for ${url}`);
    let direct: unknown;
    try {
      connectionFromUrl(url);
    } catch (caught) {
      direct = caught;
    }
    assert.ok(direct instanceof LocationValueError, String(direct));
    assertRedacted(direct, `connectionFromUrl(${url})`);
  }
  // A proxy URL given where "env" belongs: API misuse, still no credentials in the text.
  let misuse: unknown;
  try {
    new PoolManager({ proxy: `http://${CREDENTIALS}@127.0.0.1:3128` as "env" });
  } catch (caught) {
    misuse = caught;
  }
  assert.ok(misuse instanceof TypeError, String(misuse));
  assertRedacted(misuse, "PoolManager proxy option");
  await using pool = new HTTPConnectionPool("127.0.0.1", { port: 1 });
  const foreign = await rejects(pool.urlopen("GET", `http://${CREDENTIALS}@127.0.0.2:1/`));
  assert.ok(foreign instanceof HostChangedError, String(foreign));
  assert.equal(foreign.url, "http://***@127.0.0.2:1/");
  assertRedacted(foreign, "HostChangedError");
});

test("secrets: proxy URL credentials never reach ProxyError, NewConnectionError or parse errors", async () => {
  const port = await unusedPort();
  await using unreachable = new ProxyManager(`http://${CREDENTIALS}@127.0.0.1:${port}`, {
    retries: 1,
  });
  for (const url of ["http://127.0.0.1:1/", "https://127.0.0.1:1/"]) {
    const error = await rejects(unreachable.request("GET", url));
    assert.ok(error instanceof MaxRetryError, String(error));
    assert.ok(error.reason instanceof ProxyError, String(error.reason));
    assertRedacted(error, `unreachable proxy, ${url}`);
  }
  for (const proxyUrl of [`http://${CREDENTIALS}@127.0.0.1:99999`, `http://${CREDENTIALS}@`]) {
    let error: unknown;
    try {
      new ProxyManager(proxyUrl);
    } catch (caught) {
      error = caught;
    }
    assertRedacted(error, `new ProxyManager(${proxyUrl})`);
  }
  // A proxy that wants other credentials: the CONNECT refusal and the forwarded 407.
  const proxy = await answering(() =>
    "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n"
  );
  try {
    await using refused = new ProxyManager(`http://${CREDENTIALS}@127.0.0.1:${proxy.port}`, {
      retries: 0,
    });
    const error = await rejects(refused.request("GET", `https://${CREDENTIALS}@localhost:1/`));
    assert.ok(error instanceof MaxRetryError, String(error));
    assert.match(String(error.reason), /Tunnel connection failed: 407/);
    assertRedacted(error, "CONNECT refused");
  } finally {
    await proxy.close();
  }
});

test("secrets: a SOCKS5 proxy that rejects the credentials: the error names neither", async () => {
  const proxy = await rawServer(async (conn) => {
    await conn.readBytes(4); // greeting: version, 2 methods, none and username/password
    await conn.write(Uint8Array.from([5, 2]));
    const head = await conn.readBytes(2);
    await conn.readBytes(head[1] + 1); // user name, password length
    await conn.write(Uint8Array.from([1, 1]));
    await conn.closed;
  });
  try {
    await using manager = new SOCKSProxyManager(
      `socks5h://${CREDENTIALS}@127.0.0.1:${proxy.port}`,
      {
        retries: false,
      },
    );
    const error = await rejects(manager.request("GET", "http://127.0.0.1:1/"));
    assert.ok(error instanceof ProxyError, String(error));
    assert.match(error.message, /SOCKS5 authentication failed/);
    assertRedacted(error, "SOCKS5 refusal");
  } finally {
    await proxy.close();
  }
});

test("secrets: redactUrl and redactUrlsIn: one form, http://***@host/", () => {
  const cases: [string, string][] = [
    ["http://user:pw@host/p?q=a@b#f@g", "http://***@host/p?q=a@b#f@g"],
    ["https://user@host:8443", "https://***@host:8443"],
    ["http://u:p@ss@host/", "http://***@host/"],
    ["http://a.com\\@b.com/", "http://***@b.com/"],
    ["//user:pw@host/", "//***@host/"],
    ["user@host:99999", "***@host:99999"],
    ["http://host/path@x", "http://host/path@x"],
    ["/path@x", "/path@x"],
    ["http://host/", "http://host/"],
    ["", ""],
  ];
  for (const [url, expected] of cases) assert.equal(redactUrl(url), expected, url);
  assert.equal(
    redactUrlsIn('to "http://u:p@a/x" then https://v@b:1 (c@d) and //w:x@e'),
    'to "http://***@a/x" then https://***@b:1 (c@d) and //***@e',
  );
  assert.equal(redactUrlsIn("http://***@a/"), "http://***@a/");
});
