/**
 * A script that made its requests exits by itself: idle pooled sockets and the timers a
 * connection keeps do not hold the process open (as with `fetch`), while a request in
 * flight does. Each test runs `fixtures/exit_script.ts` in a child process of the same
 * runtime, against a loopback server that never closes an idle connection.
 */

import { spawn } from "node:child_process";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { assert, runtime, test } from "./_harness.ts";
import { sleep } from "./_util.ts";
import { SERVER_TLS } from "./_certs.ts";
import { type RawServer, rawServer } from "./_servers.ts";
import { missingBinary, type ProxyServer, startMicrosocks, startTinyproxy } from "./_proxies.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SCRIPT = fileURLToPath(new URL("./fixtures/exit_script.ts", import.meta.url));
const CA_FILE = fileURLToPath(new URL("./fixtures/ca.pem", import.meta.url));

/** How long after its last line a child may take to exit (it is the point, not the speed). */
const EXIT_LIMIT_MS = 1_000;
/** A child still running this long after its last line is killed. */
const KILL_AFTER_MS = 5_000;
/** A child that never gets to its last line is killed after this long. */
const GIVE_UP_MS = 20_000;
/** How long `/slow` makes the client wait for the response. */
const SLOW_MS = 1_500;
const BIG_BODY = 200_000;

/** The arguments that run `SCRIPT` with `args` under the runtime running the tests. */
function childArgs(args: string[]): string[] {
  if (runtime === "deno") return ["run", "-A", SCRIPT, ...args];
  if (runtime === "bun") return [SCRIPT, ...args];
  return ["--import", "tsx", SCRIPT, ...args];
}

interface ChildRun {
  /** What the child printed. */
  stdout: string;
  stderr: string;
  code: number | null;
  /** Milliseconds from its `done` line to its exit; Infinity when it had to be killed. */
  lingered: number;
}

/** Runs the script with `args`; kills it when it lingers after its `done` line, or hangs. */
function runChild(args: string[], env: Record<string, string> = {}): Promise<ChildRun> {
  const child = spawn(process.execPath, childArgs(args), {
    cwd: ROOT,
    env: { ...process.env, ...env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  let doneAt: number | undefined;
  let killer = setTimeout(() => child.kill("SIGKILL"), GIVE_UP_MS);
  child.stdout!.on("data", (chunk: Uint8Array) => {
    stdout += new TextDecoder().decode(chunk);
    if (doneAt !== undefined || !stdout.includes("done")) return;
    doneAt = performance.now();
    clearTimeout(killer);
    killer = setTimeout(() => child.kill("SIGKILL"), KILL_AFTER_MS);
  });
  child.stderr!.on("data", (chunk: Uint8Array) => stderr += new TextDecoder().decode(chunk));
  let exitedAt = 0;
  child.once("exit", () => {
    exitedAt = performance.now();
    clearTimeout(killer);
  });
  return new Promise((resolve) => {
    child.once("close", (code: number | null) => {
      const lingered = doneAt === undefined || code === null ? Infinity : exitedAt - doneAt;
      resolve({ stdout, stderr, code, lingered });
    });
  });
}

/**
 * Serves `ok` (or a large body on `/big`, or `ok` after {@linkcode SLOW_MS} on `/slow`) on
 * keep-alive connections it never closes, for the duration of `fn`.
 */
async function withServer(tls: boolean, fn: (server: RawServer) => Promise<void>): Promise<void> {
  const server = await rawServer(async (conn) => {
    for (;;) {
      const request = await conn.readRequest().catch(() => null);
      if (request === null) return; // the client closed the connection
      if (request.target === "/slow") await sleep(SLOW_MS);
      const body = request.target === "/big" ? "x".repeat(BIG_BODY) : "ok";
      await conn.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    }
  }, tls ? { tls: SERVER_TLS } : {});
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

/** Asserts the child printed `done <length>`, then exited at once and cleanly. */
function assertExitedAtOnce(run: ChildRun, length: number): void {
  const where = `stdout: ${run.stdout}\nstderr: ${run.stderr}`;
  assert.equal(run.stdout.trim(), `done ${length}`, where);
  assert.ok(
    run.lingered < EXIT_LIMIT_MS,
    `the script ran on ${run.lingered.toFixed(0)} ms after its last line\n${where}`,
  );
  assert.equal(run.code, 0, where);
}

/** Makes the top-level `request()` of a child trust the test CA (it takes no `caCerts`). */
const TRUST_TEST_CA = { NODE_EXTRA_CA_CERTS: CA_FILE, DENO_CERT: CA_FILE };

test("process exit: a script whose one request went through request() exits at once", async () => {
  await withServer(false, async (server) => {
    assertExitedAtOnce(await runChild(["request", `${server.url}/`]), 2);
  });
});

test("process exit: the same over HTTPS exits at once", async () => {
  await withServer(true, async (server) => {
    assertExitedAtOnce(await runChild(["request", `${server.url}/`], TRUST_TEST_CA), 2);
  });
});

test("process exit: a script whose PoolManager spoke HTTP/2 exits at once", async () => {
  const server = http2.createSecureServer({ ...SERVER_TLS, allowHTTP1: true });
  const sessions = new Set<http2.ServerHttp2Session>();
  let versions = "";
  server.on("session", (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  server.on("request", (request: http2.Http2ServerRequest, response: http2.Http2ServerResponse) => {
    versions += request.httpVersion;
    response.end("ok");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const url = `https://localhost:${(server.address() as AddressInfo).port}/`;
    assertExitedAtOnce(await runChild(["manager", url, CA_FILE]), 2);
    assert.equal(versions, "2.0");
  } finally {
    for (const session of sessions) session.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test("process exit: a script with a PoolManager it never closed exits at once", async () => {
  await withServer(true, async (server) => {
    assertExitedAtOnce(await runChild(["manager", `${server.url}/`, CA_FILE]), 2);
  });
});

test("process exit: a streamed response read to its end lets the script exit", async () => {
  await withServer(false, async (server) => {
    assertExitedAtOnce(await runChild(["stream", `${server.url}/big`]), BIG_BODY);
  });
});

test("process exit: a request waiting for a slow response keeps the script alive", async () => {
  await withServer(false, async (server) => {
    const started = performance.now();
    const run = await runChild(["request", `${server.url}/slow`]);
    assertExitedAtOnce(run, 2);
    assert.ok(performance.now() - started >= SLOW_MS);
  });
});

/** Runs the script through `proxy` (started by `start`) to an HTTPS server. */
async function throughProxy(mode: string, start: () => Promise<ProxyServer>): Promise<void> {
  const proxy = await start();
  try {
    await withServer(true, async (server) => {
      assertExitedAtOnce(await runChild([mode, `${server.url}/`, CA_FILE, proxy.url]), 2);
    });
  } finally {
    await proxy.close();
  }
}

test("process exit: a script that went through a CONNECT tunnel exits at once", async () => {
  await throughProxy("tunnel", startTinyproxy);
}, { ignore: missingBinary("tinyproxy") !== undefined });

test("process exit: a script that went through a SOCKS proxy exits at once", async () => {
  await throughProxy("socks", () => startMicrosocks());
}, { ignore: missingBinary("microsocks") !== undefined });
