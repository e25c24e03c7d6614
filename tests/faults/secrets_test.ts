/**
 * Secrets: credentials never cross an origin on a redirect, URL userinfo never reaches the
 * wire, and TLS verification cannot be switched off by the environment.
 */

import { execFile } from "node:child_process";
import { assert, runtime, test } from "../_harness.ts";
import { type RawConnection, type RawRequest, type RawServer, rawServer } from "../_servers.ts";
import { SERVER_TLS } from "../_certs.ts";
import { makeHeaders, PoolManager } from "../../mod.ts";

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
