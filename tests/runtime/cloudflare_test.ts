/**
 * The Cloudflare Workers adapter, for real: `_cloudflare_worker.ts` is bundled with esbuild
 * and run by `workerd` (both pinned npm devDependencies); the worker uses pooled over
 * `cloudflare:sockets` to reach loopback servers of this test. workerd's "internet" service
 * is limited to 127.0.0.1 and trusts the test CA (Workers cannot take `caCerts`).
 */

import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as net from "node:net";
import { join } from "node:path";
import { assert, test } from "../_harness.ts";
import { keepAliveServer, sleep } from "../_util.ts";
import { CA_CERT, CA_KEY, SERVER_TLS } from "../_certs.ts";
import { rawServer, serveHttp, unusedPort } from "../_servers.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const WORKERD = join(ROOT, "node_modules/.bin/workerd");
const ESBUILD = join(ROOT, "node_modules/.bin/esbuild");

/** Runs a command to its end; rejects with its output when it fails. */
function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => output += chunk);
    child.stderr.on("data", (chunk) => output += chunk);
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve();
      else reject(new Error(`${command} exited with ${code}: ${output}`));
    });
  });
}

function capnpString(text: string): string {
  return JSON.stringify(text);
}

/** A workerd process serving the bundled worker on a loopback port. */
interface Workerd {
  url: string;
  /** Asks the worker to run a scenario; resolves with its JSON answer. */
  call(scenario: string, query: Record<string, string>): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

async function startWorkerd(): Promise<Workerd> {
  const dir = await mkdtemp(join(tmpdir(), "pooled-workerd-"));
  const port = await unusedPort();
  await run(ESBUILD, [
    join(ROOT, "tests/runtime/_cloudflare_worker.ts"),
    "--bundle",
    "--format=esm",
    "--platform=neutral",
    "--log-level=error",
    `--outfile=${join(dir, "worker.js")}`,
  ]);
  await writeFile(
    join(dir, "config.capnp"),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "internet", network = (
      allow = ["127.0.0.1/32"],
      tlsOptions = (trustedCertificates = [${capnpString(CA_CERT)}]),
    )),
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [(name = "worker", esModule = embed "worker.js")],
  compatibilityDate = "2025-01-01",
);
`,
  );
  const child = spawn(WORKERD, ["serve", join(dir, "config.capnp")], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout.on("data", (chunk) => log += chunk);
  child.stderr.on("data", (chunk) => log += chunk);
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const close = async () => {
    // SIGKILL: on SIGTERM workerd waits for open connections (the test's fetch keeps one).
    child.kill("SIGKILL");
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitForListener(port, () => child.exitCode !== null, () => log);
  } catch (error) {
    await close();
    throw error;
  }
  return {
    url,
    async call(scenario, query) {
      const res = await fetch(`${url}/${scenario}?${new URLSearchParams(query)}`, {
        signal: AbortSignal.timeout(10_000),
      }).catch((error) => {
        throw new Error(`scenario ${scenario} failed: ${error}\n${log}`);
      });
      const text = await res.text();
      assert.equal(res.status, 200, `worker answered ${res.status}: ${text}\n${log}`);
      return JSON.parse(text);
    },
    close,
  };
}

/** Waits until something accepts TCP connections on `port` (workerd prints nothing). */
async function waitForListener(port: number, died: () => boolean, log: () => string) {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (died()) throw new Error(`workerd exited: ${log()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await sleep(50);
  }
  throw new Error(`workerd did not listen on ${port} within 20 s: ${log()}`);
}

test("cloudflareConnector under workerd: requests, TLS, errors and a CONNECT tunnel", async () => {
  const { server: plain } = await keepAliveServer(async (req, _id, conn) => {
    const body = req.target === "/echo"
      ? new TextDecoder().decode(req.body)
      : `hello ${req.target}`;
    await conn.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  });
  const secure = await serveHttp(() => new Response("secure"), { tls: SERVER_TLS });
  // The CA's own certificate names no host: verification fails.
  const misnamed = await serveHttp(() => new Response("?"), {
    tls: { cert: CA_CERT, key: CA_KEY },
  });
  const wrongPort = misnamed.port;
  const proxy = await rawServer(async (conn) => {
    const req = await conn.readRequest();
    const [host, port] = req.target.split(":");
    const upstream = net.connect(Number(port), host);
    await new Promise<void>((resolve, reject) => {
      upstream.once("connect", resolve);
      upstream.once("error", reject);
    });
    await conn.write("HTTP/1.1 200 Connection established\r\n\r\n");
    conn.socket.pipe(upstream);
    upstream.pipe(conn.socket);
    await new Promise<void>((resolve) => upstream.on("close", () => resolve()));
    conn.destroy();
  });
  const workerd = await startWorkerd();
  try {
    const got = await workerd.call("requests", { url: plain.url });
    assert.deepEqual(got, {
      connector: "cloudflare",
      statuses: [200, 200, 200],
      bodies: ["hello /one", "hello /two", '{"a":1}'],
      atRest: true,
    });
    assert.equal(plain.connections, 1, "keep-alive: one connection for three requests");

    const direct = await workerd.call("https", { url: `https://localhost:${secure.port}/` });
    assert.deepEqual(direct, { status: 200, body: "secure" });
    // Workers verify the name dialed only: serverHostname is refused before connecting.
    const named = await workerd.call("https", {
      url: `https://127.0.0.1:${secure.port}/`,
      serverHostname: "localhost",
    });
    assert.equal(named.code, "ERR_SSL", JSON.stringify(named));
    assert.match(String(named.message), /cannot verify another name \(localhost\)/);

    const wrongCert = await workerd.call("https", { url: `https://127.0.0.1:${wrongPort}/` });
    assert.equal(wrongCert.code, "ERR_SSL", JSON.stringify(wrongCert));

    const refused = await workerd.call("refused", {
      url: `http://127.0.0.1:${await unusedPort()}/`,
    });
    assert.equal(refused.code, "ERR_NEW_CONNECTION", JSON.stringify(refused));

    const unsupported = await workerd.call("caCerts", { url: `https://localhost:${secure.port}/` });
    assert.equal(unsupported.code, "ERR_SSL", JSON.stringify(unsupported));
    assert.match(String(unsupported.message), /cannot take caCerts/);

    const tunnel = await workerd.call("tunnel", {
      proxy: proxy.url,
      target: `127.0.0.1:${secure.port}`,
    });
    assert.deepEqual(tunnel, {
      proxyStatus: "HTTP/1.1 200 Connection established",
      response: "HTTP/1.1 200 OK",
      body: true,
    });
  } finally {
    await workerd.close();
    await Promise.all([plain.close(), secure.close(), misnamed.close(), proxy.close()]);
  }
});
