/**
 * `SOCKSProxyManager` against microsocks (SOCKS5, with and without username/password)
 * and dante (`danted`: SOCKS4 and SOCKS5) from Debian. dante does not implement SOCKS4a:
 * it answers a 4a request with "request rejected", which the test holds to the typed
 * refusal; the 4a request encoding itself is covered by the dante refusal only.
 */

import { assert, test } from "../_harness.ts";
import { CA_CERT, SERVER_TLS } from "../_certs.ts";
import { missingBinary, type ProxyServer, startDante, startMicrosocks } from "../_proxies.ts";
import { type TestServer, unusedPort, withHttpAndHttps } from "../_servers.ts";
import { assertAtRest, rejects, text } from "../_util.ts";
import {
  MaxRetryError,
  NewConnectionError,
  ProxyError,
  ProxySchemeUnknown,
  SOCKSProxyManager,
} from "../../mod.ts";

const NO_MICROSOCKS = { ignore: missingBinary("microsocks") !== undefined };
const NO_DANTE = { ignore: missingBinary("danted") !== undefined };

const echo = (req: Request) => new Response(`${req.method} ${new URL(req.url).pathname}`);

function withOrigins(fn: (http: TestServer, https: TestServer) => Promise<void>): Promise<void> {
  return withHttpAndHttps(echo, SERVER_TLS, fn);
}

async function withProxy(
  start: () => Promise<ProxyServer>,
  fn: (proxy: ProxyServer) => Promise<void>,
): Promise<void> {
  const proxy = await start();
  try {
    await fn(proxy);
  } catch (error) {
    console.error(`proxy output:\n${proxy.log()}`);
    throw error;
  } finally {
    await proxy.close();
  }
}

async function body(manager: SOCKSProxyManager, url: string): Promise<string> {
  const response = await manager.request("GET", url);
  assert.equal(response.status, 200);
  return text(response.data);
}

/** The refusal a request through `manager` fails with: a ProxyError around a NewConnectionError. */
async function refusal(manager: SOCKSProxyManager, url: string): Promise<NewConnectionError> {
  const error = await rejects(manager.request("GET", url));
  assert.ok(error instanceof ProxyError, String(error));
  assert.ok(error.originalError instanceof NewConnectionError, String(error.originalError));
  assertAtRest(manager.connectionFromUrl(url));
  return error.originalError;
}

test(
  "microsocks: socks5 and socks5h, http and https (TLS over the tunnel), kept alive",
  async () => {
    await withProxy(() => startMicrosocks(), (proxy) =>
      withOrigins(async (http, https) => {
        for (const scheme of ["socks5", "socks5h"]) {
          await using manager = new SOCKSProxyManager(`${scheme}://127.0.0.1:${proxy.port}`, {
            caCerts: [CA_CERT],
          });
          assert.equal(await body(manager, `http://localhost:${http.port}/a`), "GET /a");
          assert.equal(await body(manager, `https://localhost:${https.port}/b`), "GET /b");
          assert.equal(await body(manager, `https://localhost:${https.port}/c`), "GET /c");
          const pool = manager.connectionFromUrl(`https://localhost:${https.port}/`);
          assert.equal(pool.numConnections, 1, "kept alive through the tunnel");
          assertAtRest(pool);
          assert.equal(manager.pools.size, 2, "one pool per origin");
        }
      }));
  },
  NO_MICROSOCKS,
);

test(
  "microsocks: username/password from the URL or the options; bad or missing ones refused",
  async () => {
    await withProxy(
      () => startMicrosocks(["bob", "pa ss"]),
      (proxy) =>
        withOrigins(async (http, https) => {
          const authority = `127.0.0.1:${proxy.port}`;
          await using fromUrl = new SOCKSProxyManager(`socks5h://bob:pa%20ss@${authority}`, {
            caCerts: [CA_CERT],
          });
          assert.equal(await body(fromUrl, `https://localhost:${https.port}/x`), "GET /x");
          await using fromOptions = new SOCKSProxyManager(`socks5://${authority}`, {
            username: "bob",
            password: "pa ss",
          });
          assert.equal(await body(fromOptions, `http://127.0.0.1:${http.port}/y`), "GET /y");

          await using wrong = new SOCKSProxyManager(`socks5h://bob:nope@${authority}`, {
            retries: false,
          });
          const bad = await refusal(wrong, `http://127.0.0.1:${http.port}/`);
          assert.match(bad.message, /authentication failed: the proxy rejected the user name/);
          assert.doesNotMatch(bad.message, /bob|nope/);
          await using anonymous = new SOCKSProxyManager(`socks5h://${authority}`, {
            retries: false,
          });
          const missing = await refusal(anonymous, `http://127.0.0.1:${http.port}/`);
          assert.match(
            missing.message,
            /accepts none of the offered methods.*no user name and password/,
          );
        }),
    );
  },
  NO_MICROSOCKS,
);

test(
  "microsocks: a target that refuses is a typed refusal; retries end in MaxRetryError",
  async () => {
    const closed = await unusedPort();
    await withProxy(() => startMicrosocks(), async (proxy) => {
      await using manager = new SOCKSProxyManager(`socks5h://127.0.0.1:${proxy.port}`, {
        retries: false,
      });
      const error = await refusal(manager, `http://127.0.0.1:${closed}/`);
      assert.match(
        error.message,
        /SOCKS5 proxy could not connect to 127\.0\.0\.1:\d+: .*\(0x0\d\)/,
      );
      await using retrying = new SOCKSProxyManager(`socks5h://127.0.0.1:${proxy.port}`, {
        retries: 1,
      });
      const exhausted = await rejects(retrying.request("GET", `http://127.0.0.1:${closed}/`));
      assert.ok(exhausted instanceof MaxRetryError, String(exhausted));
      assert.ok(exhausted.reason instanceof ProxyError);
    });
  },
  NO_MICROSOCKS,
);

test(
  "dante: socks4 (local DNS) and socks5, http and https; socks4a is refused by dante",
  async () => {
    await withProxy(startDante, (proxy) =>
      withOrigins(async (http, https) => {
        const authority = `127.0.0.1:${proxy.port}`;
        for (const scheme of ["socks4", "socks5"]) {
          await using manager = new SOCKSProxyManager(`${scheme}://${authority}`, {
            caCerts: [CA_CERT],
          });
          assert.equal(await body(manager, `http://localhost:${http.port}/four`), "GET /four");
          assert.equal(await body(manager, `https://localhost:${https.port}/tls`), "GET /tls");
        }
        await using socks4a = new SOCKSProxyManager(`socks4a://${authority}`, { retries: false });
        const error = await refusal(socks4a, `http://localhost:${http.port}/`);
        assert.match(
          error.message,
          /SOCKS4 proxy could not connect to localhost:\d+: request rejected/,
        );
      }));
  },
  NO_DANTE,
);

test("dante: socks4 to a closed port is a typed refusal", async () => {
  const closed = await unusedPort();
  await withProxy(startDante, async (proxy) => {
    await using manager = new SOCKSProxyManager(`socks4://127.0.0.1:${proxy.port}`, {
      retries: false,
    });
    const error = await refusal(manager, `http://127.0.0.1:${closed}/`);
    assert.match(error.message, /request rejected or failed \(0x5b\)/);
  });
}, NO_DANTE);

test("an unreachable SOCKS proxy is a ProxyError; bad schemes are refused at once", async () => {
  const port = await unusedPort();
  await using manager = new SOCKSProxyManager(`socks5://127.0.0.1:${port}`, { retries: false });
  const error = await rejects(manager.request("GET", "http://127.0.0.1:1/"));
  assert.ok(error instanceof ProxyError, String(error));
  assert.match(error.message, /Unable to connect to proxy/);
  assert.throws(() => new SOCKSProxyManager("http://127.0.0.1:1080"), ProxySchemeUnknown);
  await using defaults = new SOCKSProxyManager("socks4a://127.0.0.1");
  assert.equal(defaults.proxy.url, "socks4a://127.0.0.1:1080");
});
