/**
 * Every TLS option of HTTPS pools against real TLS servers on loopback, with the test CA
 * of `tests/fixtures` (see `_certs.ts`): verification, `caCerts`, `certReqs`,
 * `serverHostname`, `assertHostname`, `assertFingerprint`, client certificates,
 * `minVersion` and ALPN. Under Deno the pool's default adapter is `denoConnector` (which
 * hands some of these to `node:tls`), under Bun `bunConnector`; `nodeConnector` runs too.
 */

import { createHash, X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";
import { assert, runtime, test } from "./_harness.ts";
import {
  CA_CERT,
  CLIENT_CERT,
  CLIENT_KEY,
  CN_ONLY_TLS,
  SERVER_CERT,
  SERVER_TLS,
  WRONG_CA_CERT,
} from "./_certs.ts";
import { type RawServer, rawServer } from "./_servers.ts";
import { rejects, text } from "./_util.ts";
import {
  type ConnectionPoolOptions,
  HTTPSConnectionPool,
  MaxRetryError,
  PoolManager,
  SSLError,
  Timeout,
} from "../mod.ts";
import { bunConnector } from "../src/runtime/bun.ts";
import { denoConnector } from "../src/runtime/deno.ts";
import { nodeConnector } from "../src/runtime/node.ts";
import { resolveTls } from "../src/pool/tls_options.ts";

const NATIVE = { deno: [denoConnector], bun: [bunConnector], node: [] }[runtime];
const CONNECTORS = [...NATIVE, nodeConnector];

/** What the server saw of one connection, sent back as the response body. */
interface Seen {
  sni: string | null;
  alpn: string | false | null;
  protocol: string | null;
  clientCert: string | null;
}

/** A keep-alive HTTPS server that answers every request with what it saw of the TLS. */
function tlsServer(extra: Record<string, unknown> = {}): Promise<RawServer> {
  return rawServer(async (conn) => {
    const socket = conn.socket as TLSSocket;
    for (;;) {
      try {
        await conn.readRequest();
      } catch {
        return; // the client left
      }
      const peer = socket.getPeerCertificate?.();
      const seen: Seen = {
        sni: (socket as unknown as { servername?: string | false }).servername || null,
        alpn: socket.alpnProtocol ?? null,
        protocol: socket.getProtocol?.() ?? null,
        clientCert: peer && "subject" in peer && peer.subject ? String(peer.subject.CN) : null,
      };
      const body = JSON.stringify(seen);
      await conn.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    }
  }, {
    tls: { ...SERVER_TLS, ALPNProtocols: ["h2", "http/1.1"], ...extra },
  });
}

/** The server certificate's digest in hex, as `openssl x509 -fingerprint` prints it. */
function fingerprint(algorithm: "sha256" | "sha1" | "md5"): string {
  const der = new X509Certificate(SERVER_CERT).raw;
  return createHash(algorithm).update(der).digest("hex").toUpperCase().match(/../g)!.join(":");
}

async function get(
  host: string,
  server: RawServer,
  options: ConnectionPoolOptions,
): Promise<{ seen: Seen; pool: HTTPSConnectionPool }> {
  // The server offers h2 but answers in HTTP/1.1: only the TLS is under test here.
  const pool = new HTTPSConnectionPool(host, {
    port: server.port,
    retries: false,
    http2: false,
    ...options,
  });
  try {
    const response = await pool.request("GET", "/");
    assert.equal(response.status, 200);
    return { seen: JSON.parse(text(response.data)), pool };
  } finally {
    await pool.close();
  }
}

/** The SSLError a request fails with (the pool is left at rest). */
async function sslFailure(
  host: string,
  server: RawServer,
  options: ConnectionPoolOptions,
): Promise<SSLError> {
  const pool = new HTTPSConnectionPool(host, { port: server.port, retries: false, ...options });
  try {
    const error = await rejects(pool.request("GET", "/"));
    assert.ok(error instanceof SSLError, `expected an SSLError, got ${error}`);
    assert.equal(pool.stats.inUse, 0);
    assert.equal(pool.stats.queued, 0);
    return error;
  } finally {
    await pool.close();
  }
}

/** The request options of each code path of a connector: Deno takes `node:tls` for the last two. */
const PATHS: { path: string; options: ConnectionPoolOptions; signal?: boolean }[] = [
  { path: "no connect timeout", options: {} },
  { path: "a connect timeout", options: { timeout: new Timeout({ connect: 10_000 }) } },
  { path: "a signal", options: {}, signal: true },
];

/** The SSLError a request to a server with only a subject CN fails with. */
async function cnOnlyFailure(
  host: string,
  server: RawServer,
  options: ConnectionPoolOptions,
  signal: boolean,
): Promise<SSLError> {
  const pool = new HTTPSConnectionPool(host, { port: server.port, retries: false, ...options });
  try {
    const controller = signal ? new AbortController() : undefined;
    const error = await rejects(pool.request("GET", "/", { signal: controller?.signal }));
    assert.ok(error instanceof SSLError, `expected an SSLError, got ${error}`);
    assert.equal(error.code, "ERR_SSL");
    assert.match(error.message, /hostname mismatch/i);
    assert.match(error.message, /subjectAltName/);
    assert.equal(pool.stats.inUse, 0);
    return error;
  } finally {
    await pool.close();
  }
}

async function withServer(
  fn: (server: RawServer) => Promise<void>,
  extra?: Record<string, unknown>,
): Promise<void> {
  const server = await tlsServer(extra);
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

for (const connector of CONNECTORS) {
  const name = `${connector.name}Connector`;

  test(`${name}: the socket reports the protocol ALPN chose (h2 offered first, or not at all)`, () =>
    withServer(async (server) => {
      for (const [http2, expected] of [[true, "h2"], [false, "http/1.1"]] as const) {
        const socket = await connector.connect({
          hostname: "localhost",
          port: server.port,
          tls: resolveTls("localhost", { caCerts: [CA_CERT] }, http2),
        });
        assert.equal(socket.alpnProtocol, expected);
        socket.close();
      }
      const plain = await connector.connect({ hostname: "127.0.0.1", port: server.port });
      assert.equal(plain.alpnProtocol, null);
      plain.close();
    }));

  test(`${name}: verified against caCerts, by name and by IP, http2: false offers http/1.1 only`, () =>
    withServer(async (server) => {
      const byName = await get("localhost", server, { caCerts: [CA_CERT], connector });
      assert.equal(byName.seen.sni, "localhost");
      assert.equal(byName.seen.alpn, "http/1.1");
      const byIp = await get("127.0.0.1", server, { caCerts: [CA_CERT], connector });
      assert.equal(byIp.seen.sni, null, "no SNI for an IP address");
    }));

  test(`${name}: the runtime's trust store alone does not know the test CA`, () =>
    withServer(async (server) => {
      const error = await sslFailure("localhost", server, { connector });
      assert.match(error.message, /unknown CA/i);
    }));

  test(`${name}: a wrong CA fails as unknown CA, even with assertHostname false`, () =>
    withServer(async (server) => {
      const error = await sslFailure("localhost", server, { caCerts: [WRONG_CA_CERT], connector });
      assert.match(error.message, /unknown CA/i);
      await sslFailure("localhost", server, {
        caCerts: [WRONG_CA_CERT],
        assertHostname: false,
        connector,
      });
    }));

  test(`${name}: serverHostname sets SNI and the name verified`, () =>
    withServer(async (server) => {
      const { seen } = await get("127.0.0.1", server, {
        caCerts: [CA_CERT],
        serverHostname: "localhost",
        connector,
      });
      assert.equal(seen.sni, "localhost");
      const error = await sslFailure("127.0.0.1", server, {
        caCerts: [CA_CERT],
        serverHostname: "other.test",
        connector,
      });
      assert.match(error.message, /hostname mismatch/i);
      assert.match(error.message, /other\.test/);
    }));

  test(`${name}: assertHostname false skips the name, a name replaces it`, () =>
    withServer(async (server) => {
      const skipped = await get("127.0.0.1", server, {
        caCerts: [CA_CERT],
        serverHostname: "other.test",
        assertHostname: false,
        connector,
      });
      assert.equal(skipped.seen.sni, "other.test");
      const named = await get("127.0.0.1", server, {
        caCerts: [CA_CERT],
        serverHostname: "other.test",
        assertHostname: "localhost",
        connector,
      });
      assert.equal(named.seen.sni, "other.test", "SNI stays serverHostname");
      const error = await sslFailure("localhost", server, {
        caCerts: [CA_CERT],
        assertHostname: "wrong.test",
        connector,
      });
      assert.match(error.message, /hostname mismatch.*wrong\.test/i);
    }));

  test(`${name}: assertFingerprint pins SHA-256, SHA-1 and MD5, colons and case ignored`, () =>
    withServer(async (server) => {
      for (const algorithm of ["sha256", "sha1", "md5"] as const) {
        const pin = fingerprint(algorithm);
        await get("localhost", server, { caCerts: [CA_CERT], assertFingerprint: pin, connector });
        await get("localhost", server, {
          caCerts: [CA_CERT],
          assertFingerprint: pin.replaceAll(":", "").toLowerCase(),
          connector,
        });
      }
      // The pin replaces the name check.
      await get("127.0.0.1", server, {
        caCerts: [CA_CERT],
        serverHostname: "other.test",
        assertFingerprint: fingerprint("sha256"),
        connector,
      });
    }));

  test(`${name}: assertFingerprint works with CERT_NONE, and a mismatch names both digests`, () =>
    withServer(async (server) => {
      await get("localhost", server, {
        certReqs: "CERT_NONE",
        assertFingerprint: fingerprint("sha256"),
        connector,
      });
      const wrong = "00".repeat(32);
      for (const certReqs of ["CERT_NONE", "CERT_REQUIRED"] as const) {
        const error = await sslFailure("localhost", server, {
          certReqs,
          caCerts: [CA_CERT],
          assertFingerprint: wrong,
          connector,
        });
        assert.match(error.message, /Fingerprints did not match/);
        assert.ok(error.message.includes(`expected "${"00:".repeat(31)}00"`), error.message);
        assert.ok(error.message.includes(`got "${fingerprint("sha256")}"`), error.message);
      }
    }));

  test(`${name}: CERT_NONE accepts an unknown CA and a wrong name`, () =>
    withServer(async (server) => {
      await get("127.0.0.1", server, {
        certReqs: "CERT_NONE",
        serverHostname: "other.test",
        connector,
      });
    }));

  test(`${name}: a client certificate is sent when the server requires one`, () =>
    withServer(async (server) => {
      const { seen } = await get("localhost", server, {
        caCerts: [CA_CERT],
        cert: CLIENT_CERT,
        key: CLIENT_KEY,
        connector,
      });
      assert.equal(seen.clientCert, "pooled-test-client");
      // Without one the server ends the handshake: under TLS 1.3 the client learns it
      // only on its first read, so the error may be the TLS alert or the closed socket.
      const pool = new HTTPSConnectionPool("localhost", {
        port: server.port,
        caCerts: [CA_CERT],
        retries: false,
        connector,
      });
      try {
        const error = await rejects(pool.request("GET", "/"));
        assert.ok(error instanceof Error && error.name !== "AssertionError", String(error));
        assert.equal(pool.stats.inUse, 0);
      } finally {
        await pool.close();
      }
    }, { requestCert: true, rejectUnauthorized: true, ca: [CA_CERT] }));

  test(`${name}: minVersion TLSv1.3 refuses a TLS 1.2-only server; the default accepts it`, () =>
    withServer(async (server) => {
      const { seen } = await get("localhost", server, { caCerts: [CA_CERT], connector });
      assert.equal(seen.protocol, "TLSv1.2");
      await sslFailure("localhost", server, {
        caCerts: [CA_CERT],
        minVersion: "TLSv1.3",
        connector,
      });
    }, { maxVersion: "TLSv1.2" }));
}

for (const connector of CONNECTORS) {
  for (const { path, options, signal } of PATHS) {
    const name = `${connector.name}Connector with ${path}`;
    const base = { ...options, caCerts: [CA_CERT], connector };

    test(`${name}: a certificate named only in its subject CN fits no host name`, () =>
      withServer(async (server) => {
        await cnOnlyFailure("localhost", server, base, signal ?? false);
        await cnOnlyFailure("127.0.0.1", server, base, signal ?? false);
        await cnOnlyFailure("127.0.0.1", server, { ...base, serverHostname: "localhost" }, false);
        await cnOnlyFailure("127.0.0.1", server, { ...base, assertHostname: "localhost" }, false);
      }, CN_ONLY_TLS));

    test(`${name}: a certificate named only in its CN passes when no name is checked`, () =>
      withServer(async (server) => {
        await get("localhost", server, { ...base, assertHostname: false });
        await get("localhost", server, { ...options, certReqs: "CERT_NONE", connector });
      }, CN_ONLY_TLS));
  }
}

test("PoolManager: a certificate named only in its CN ends in MaxRetryError with an SSLError", () =>
  withServer(async (server) => {
    await using manager = new PoolManager({ caCerts: [CA_CERT], retries: 1 });
    const error = await rejects(manager.request("GET", `https://localhost:${server.port}/`));
    assert.ok(error instanceof MaxRetryError, String(error));
    assert.ok(error.reason instanceof SSLError, String(error.reason));
    assert.match(error.reason.message, /hostname mismatch.*subjectAltName/);
  }, CN_ONLY_TLS));

test("bad TLS options fail when the pool is made, naming the value", () => {
  assert.throws(
    () => new HTTPSConnectionPool("localhost", { assertFingerprint: "abc" }),
    (error: unknown) => error instanceof RangeError && /"abc"/.test(error.message),
  );
  assert.throws(
    () => new HTTPSConnectionPool("localhost", { minVersion: "TLSv1.1" as "TLSv1.2" }),
    (error: unknown) => error instanceof RangeError && /TLSv1\.1/.test(error.message),
  );
  assert.throws(
    () => new HTTPSConnectionPool("localhost", { certReqs: "NONE" as "CERT_NONE" }),
    (error: unknown) => error instanceof RangeError && /"NONE"/.test(error.message),
  );
});

test("PoolManager: TLS options reach its HTTPS pools; a failure ends in MaxRetryError", () =>
  withServer(async (server) => {
    const url = `https://localhost:${server.port}/`;
    // The server offers h2 but answers in HTTP/1.1: only the TLS is under test here.
    await using trusting = new PoolManager({ caCerts: [CA_CERT], http2: false });
    assert.equal((await trusting.request("GET", url)).status, 200);
    await using wrong = new PoolManager({ caCerts: [WRONG_CA_CERT], retries: 1 });
    const error = await rejects(wrong.request("GET", url));
    assert.ok(error instanceof MaxRetryError, String(error));
    assert.ok(error.reason instanceof SSLError);
  }));
