/**
 * Request-side injection: CR, LF or NUL wherever the caller's text reaches the request
 * head. Each is either rejected with a typed error before anything is sent (the raw server
 * sees no connection at all), or, where urllib3 and WHATWG define an encoding (URL paths,
 * multipart names and filenames), encoded so that no raw CR, LF or NUL reaches the wire.
 *
 * Control characters other than HTAB are refused in header values like CR, LF and NUL:
 * in request, pool, manager and proxy headers.
 */

import { assert, test } from "../_harness.ts";
import { type RawRequest, rawServer } from "../_servers.ts";
import { escapeRegExp, rejects, sleep } from "../_util.ts";
import {
  HTTPConnectionPool,
  LocationParseError,
  LocationValueError,
  makeHeaders,
  PoolManager,
  ProxyManager,
  RequestField,
} from "../../mod.ts";

const BAD = ["\r", "\n", "\0", "\r\nX-Injected: 1"];

/**
 * A raw server that records what it receives and answers 200, with a manager and a pool on
 * it; `fn` runs, then the server must have seen exactly `connections` connections.
 */
async function withRecorder(
  fn: (ctx: { manager: PoolManager; pool: HTTPConnectionPool; url: string }) => Promise<void>,
  connections: number,
  seen: RawRequest[] = [],
): Promise<void> {
  const server = await rawServer(async (conn) => {
    while (true) {
      try {
        seen.push(await conn.readRequest());
      } catch {
        return;
      }
      await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    }
  });
  const manager = new PoolManager({ retries: false });
  const pool = new HTTPConnectionPool("127.0.0.1", { port: server.port, retries: false });
  try {
    await fn({ manager, pool, url: server.url });
    await sleep(20); // a stray connection would have arrived by now
    assert.equal(server.connections, connections, "connections the server saw");
    assert.equal(pool.stats.inUse, 0);
  } finally {
    await manager.close();
    await pool.close();
    await server.close();
  }
}

/** The rejection of `promise` is exactly a `kind` whose message matches `message`. */
async function rejected(
  promise: Promise<unknown>,
  kind: new (...args: never[]) => Error,
  message: RegExp,
): Promise<void> {
  const error = await rejects(promise);
  assert.ok(error instanceof Error);
  assert.equal(error.constructor, kind, `expected ${kind.name}, got ${error.name}: ${error}`);
  assert.match(error.message, message);
}

test("injection: CR, LF or NUL in a header name or value is a TypeError, nothing sent", async () => {
  await withRecorder(async ({ manager, pool, url }) => {
    for (const bad of BAD) {
      const value = `a${bad}b`;
      await rejected(
        manager.request("GET", url, { headers: { "X-Test": value } }),
        TypeError,
        /^Invalid value for header "X-Test": .* contains a control character$/,
      );
      await rejected(
        pool.request("GET", "/", { headers: { [`X${bad}`]: "v" } }),
        TypeError,
        /^Invalid header name ".*": it must be a token$/,
      );
      await rejected(
        manager.request("GET", url, { headers: { Host: `127.0.0.1${bad}` } }),
        TypeError,
        /^Invalid value for header "Host"/,
      );
    }
  }, 0);
});

test("injection: CR, LF or NUL in pool, manager or makeHeaders headers fails every request, nothing sent", async () => {
  await withRecorder(async ({ url }) => {
    const poisoned = [
      new PoolManager({ headers: { "X-Pool": "a\r\nX-Injected: 1" } }),
      new PoolManager({ headers: makeHeaders({ userAgent: "agent\r\nX-Injected: 1" }) }),
    ];
    try {
      for (const manager of poisoned) {
        await rejected(manager.request("GET", url), TypeError, /contains a control character$/);
      }
    } finally {
      for (const manager of poisoned) await manager.close();
    }
  }, 0);
});

/** Every control character but HTAB: C0 without 0x09, and DEL. */
const CONTROLS = [
  ...Array.from({ length: 0x20 }, (_, code) => String.fromCharCode(code)),
  "\x7f",
].filter((c) => c !== "\t");

test("injection: any control character but HTAB in a request header value is a TypeError, nothing sent", async () => {
  await withRecorder(async ({ manager, pool, url }) => {
    for (const control of CONTROLS) {
      const value = `a${control}b`;
      const message = new RegExp(
        `^Invalid value for header "X-Test": ${
          escapeRegExp(JSON.stringify(value))
        } contains a control character$`,
      );
      await rejected(
        pool.request("GET", "/", { headers: { "X-Test": value } }),
        TypeError,
        message,
      );
      await rejected(
        manager.request("POST", url, { headers: { "X-Test": value }, body: "x" }),
        TypeError,
        message,
      );
    }
  }, 0);
  // HTAB is field whitespace: it goes out as given.
  const seen: RawRequest[] = [];
  await withRecorder(
    async ({ pool }) => {
      await pool.request("GET", "/", { headers: { "X-Tab": "a\tb" } });
    },
    1,
    seen,
  );
  assert.ok(seen[0].head.includes("\r\nX-Tab: a\tb\r\n"), seen[0].head);
});

test("injection: any control character but HTAB in pool or manager headers fails every request, nothing sent", async () => {
  await withRecorder(async ({ url }) => {
    const port = Number(new URL(url).port);
    for (const control of ["\x0b", "\x0c", "\x1b", "\x7f", "\x01"]) {
      const headers = { "X-Pool": `a${control}b` };
      const pool = new HTTPConnectionPool("127.0.0.1", { port, headers, retries: false });
      const manager = new PoolManager({ headers, retries: false });
      try {
        // No request headers (the cached head), then with some (the merged head).
        await rejected(pool.request("GET", "/"), TypeError, /contains a control character$/);
        await rejected(
          pool.request("GET", "/", { headers: { "X-A": "1" } }),
          TypeError,
          /contains a control character$/,
        );
        await rejected(manager.request("GET", url), TypeError, /contains a control character$/);
      } finally {
        await pool.close();
        await manager.close();
      }
    }
  }, 0);
});

test("injection: any control character but HTAB in proxy headers is a TypeError, nothing sent", async () => {
  const proxy = await rawServer((conn) => conn.end());
  try {
    for (const control of ["\x0b", "\x1b", "\x7f", "\r\nX-Injected: 1"]) {
      const manager = new ProxyManager(proxy.url, {
        proxyHeaders: { "X-Proxy": `a${control}b` },
        retries: false,
        timeout: 2000,
      });
      try {
        // Forwarded (http) and tunnelled (https): nothing reaches the proxy.
        for (const target of ["http://127.0.0.1:9/", "https://127.0.0.1:9/"]) {
          const error = await rejects(manager.request("GET", target));
          assert.ok(error instanceof TypeError, `${target}: expected a TypeError, got ${error}`);
          assert.match(error.message, /^Invalid value for header "X-Proxy": /);
        }
      } finally {
        await manager.close();
      }
    }
    await sleep(20);
    assert.equal(proxy.connections, 0);
  } finally {
    await proxy.close();
  }
});

test("injection: proxy headers cannot set the Host or framing of CONNECT, nothing sent", async () => {
  const proxy = await rawServer((conn) => conn.end());
  try {
    const framing = [{ Host: "elsewhere:443" }, { "Content-Length": "0" }, {
      "Transfer-Encoding": "chunked",
    }];
    for (const proxyHeaders of framing) {
      const manager = new ProxyManager(proxy.url, { proxyHeaders, retries: false, timeout: 2000 });
      try {
        await rejected(
          manager.request("GET", "https://127.0.0.1:9/"),
          TypeError,
          /^Proxy headers cannot set Host, Content-Length or Transfer-Encoding on CONNECT: "/,
        );
      } finally {
        await manager.close();
      }
    }
    await sleep(20);
    assert.equal(proxy.connections, 0);
  } finally {
    await proxy.close();
  }
});

test("injection: CR, LF, NUL or a space in a method is a TypeError, nothing sent", async () => {
  await withRecorder(async ({ manager, pool, url }) => {
    for (const bad of [...BAD, " "]) {
      await rejected(
        manager.request(`GET${bad}`, url),
        TypeError,
        /^Invalid HTTP method ".*": it must be a token$/,
      );
      await rejected(pool.request(`G${bad}T`, "/"), TypeError, /^Invalid HTTP method/);
    }
  }, 0);
});

test("injection: CR, LF, NUL or a space in a host is a LocationParseError or LocationValueError, nothing sent", async () => {
  await withRecorder(async ({ manager, url }) => {
    const port = new URL(url).port;
    for (const bad of [...BAD, " "]) {
      await rejected(
        manager.request("GET", `http://127.0.0.1${bad}:${port}/`),
        LocationParseError,
        /contains invalid character/,
      );
      assert.throws(
        () => new HTTPConnectionPool(`127.0.0.1${bad}`, { port: Number(port) }),
        (error: Error) =>
          error instanceof LocationValueError &&
          /^Invalid host ".*": it contains /.test(error.message),
      );
      assert.throws(() => manager.connectionFromHost(`127.0.0.1${bad}`), LocationValueError);
    }
  }, 0);
});

test("injection: CR, LF and NUL in a path or query are percent-encoded, one request line", async () => {
  const seen: RawRequest[] = [];
  await withRecorder(
    async ({ manager, pool, url }) => {
      await manager.request("GET", `${url}/a\r\nX-Injected: 1\r\n\r\nGET /b?q=\0`);
      await pool.request("GET", "/c\r\nX-Injected: 1?q=\n");
    },
    2,
    seen,
  );
  assert.deepEqual(seen.map((r) => r.target), [
    "/a%0D%0AX-Injected:%201%0D%0A%0D%0AGET%20/b?q=%00",
    "/c%0D%0AX-Injected:%201?q=%0A",
  ]);
  for (const request of seen) assert.equal(request.headers["x-injected"], undefined);
});

test("injection: a redirect Location with control characters cannot split the next request", async () => {
  const seen: RawRequest[] = [];
  const server = await rawServer(async (conn) => {
    while (true) {
      try {
        seen.push(await conn.readRequest());
      } catch {
        return;
      }
      await conn.write(
        seen.length === 1
          ? "HTTP/1.1 302 Found\r\nLocation: /next\x0bX: 1\x01 y\r\nContent-Length: 0\r\n\r\n"
          : "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
      );
    }
  });
  const manager = new PoolManager();
  try {
    assert.equal((await manager.request("GET", server.url)).status, 200);
    assert.equal(seen[1].target, "/next%0BX:%201%01%20y");
    assert.equal(seen[1].rawHeaders.length, seen[0].rawHeaders.length);
  } finally {
    await manager.close();
    await server.close();
  }
});

test("injection: multipart names and filenames are escaped, NUL and forged part headers rejected", async () => {
  const seen: RawRequest[] = [];
  await withRecorder(
    async ({ manager, url }) => {
      await manager.request("POST", url, {
        fields: { "a\r\nX-Injected: 1": ["f\r\n\r\n--x.txt", "data", "text/plain"] },
        multipartBoundary: "B",
      });
      const rejections: Array<[Record<string, unknown>, RegExp]> = [
        [{ "name\0": "v" }, /^Invalid value for header "Content-Disposition"/],
        [{ f: ["x.txt\0", "data"] }, /^Invalid value for header "Content-Disposition"/],
        [
          { f: ["x.txt", "data", "text/plain\r\nX-Injected: 1"] },
          /"Content-Type".* a control character/,
        ],
      ];
      for (const [fields, message] of rejections) {
        await rejected(
          manager.request("POST", url, { fields: fields as never }),
          TypeError,
          message,
        );
      }
      const field = new RequestField("f", "data", null, { "X-Part": "a\nX-Injected: 1" });
      field.makeMultipart();
      await rejected(
        manager.request("POST", url, { fields: [["f", field]] as never }),
        TypeError,
        /^Invalid value for header "X-Part"/,
      );
    },
    1,
    seen,
  );
  assert.equal(
    new TextDecoder().decode(seen[0].body),
    '--B\r\nContent-Disposition: form-data; name="a%0D%0AX-Injected: 1"; ' +
      'filename="f%0D%0A%0D%0A--x.txt"\r\nContent-Type: text/plain\r\n\r\ndata\r\n--B--\r\n',
  );
});
