/**
 * Proves the test servers of `_servers.ts` work under Deno, Bun and Node, using only the
 * runtime's own `fetch` (undici's under Node, for its TLS options) and `node:net`.
 */

import * as net from "node:net";
import { assert, runtime, test } from "./_harness.ts";
import { CA_CERT, SERVER_TLS, WRONG_CA_CERT } from "./_certs.ts";
import { rawServer, serveHttp, unusedPort } from "./_servers.ts";
import { concatBytes } from "../src/_bytes.ts";

interface DenoClientApi {
  createHttpClient(options: { caCerts: string[] }): { close(): void };
}

/**
 * `fetch` trusting `ca`: a `Deno.HttpClient` under Deno, the `tls.ca` option under Bun, an
 * undici `Agent` under Node.
 */
async function fetchTrusting(url: string, ca: string): Promise<Response> {
  if (runtime === "node") return await undiciFetchTrusting(url, ca);
  const deno = (globalThis as unknown as { Deno?: DenoClientApi }).Deno;
  if (!deno) return await fetch(url, { tls: { ca } } as RequestInit);
  const client = deno.createHttpClient({ caCerts: [ca] });
  try {
    const res = await fetch(url, { client } as RequestInit);
    const body = await res.arrayBuffer();
    return new Response(body, { status: res.status, headers: res.headers });
  } finally {
    client.close();
  }
}

async function undiciFetchTrusting(url: string, ca: string): Promise<Response> {
  const undici = await import("undici");
  const dispatcher = new undici.Agent({ connect: { ca } });
  try {
    const res = await undici.fetch(url, { dispatcher });
    const body = await res.arrayBuffer();
    return new Response(body, { status: res.status, headers: res.headers as Headers });
  } finally {
    await dispatcher.close();
  }
}

/**
 * Sends raw bytes over a fresh TCP connection (then half-closes it when `end` is set) and
 * returns everything received until the server closes.
 */
function rawExchange(port: number, data: string, end = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    const socket = net.connect(
      port,
      "127.0.0.1",
      () => end ? socket.end(data) : socket.write(data),
    );
    socket.on("data", (chunk: Uint8Array) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => resolve(new TextDecoder("latin1").decode(concatBytes(chunks))));
  });
}

test("serveHttp answers fetch over plain HTTP", async () => {
  const server = await serveHttp(async (req) => {
    const url = new URL(req.url);
    return new Response(`${req.method} ${url.pathname}${url.search} ${await req.text()}`, {
      headers: { "x-test": "yes" },
    });
  });
  try {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(server.hostname, "127.0.0.1");
    const res = await fetch(`${server.url}/a/b?c=1`, { method: "POST", body: "payload" });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-test"), "yes");
    assert.equal(await res.text(), "POST /a/b?c=1 payload");
  } finally {
    await server.close();
  }
});

test("serveHttp turns a throwing handler into a 500", async () => {
  const server = await serveHttp(() => {
    throw new Error("boom");
  });
  try {
    const res = await fetch(server.url);
    assert.equal(res.status, 500);
    assert.match(await res.text(), /boom/);
  } finally {
    await server.close();
  }
});

test("serveHttp serves HTTPS with the fixture certificate", async () => {
  const server = await serveHttp(() => new Response("secure"), { tls: SERVER_TLS });
  try {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetchTrusting(`${server.url}/`, CA_CERT);
    assert.equal(await res.text(), "secure");
    await assert.rejects(fetchTrusting(`${server.url}/`, WRONG_CA_CERT));
  } finally {
    await server.close();
  }
});

test("serveHttp listens on ::1 and localhost names the certificate covers", async () => {
  const server = await serveHttp(() => new Response("v6"), { hostname: "::1", tls: SERVER_TLS });
  try {
    assert.match(server.url, /^https:\/\/\[::1\]:\d+$/);
    assert.equal(await (await fetchTrusting(server.url, CA_CERT)).text(), "v6");
  } finally {
    await server.close();
  }
});

test("rawServer reads a request head and writes exact bytes", async () => {
  const server = await rawServer(async (conn) => {
    const req = await conn.readRequest();
    const reply = `${req.method} ${req.target} ${req.headers["x-a"]} ${req.body.length}`;
    await conn.write(`HTTP/1.1 200 OK\r\nContent-Length: ${reply.length}\r\n\r\n${reply}`);
    conn.end();
  });
  try {
    const res = await fetch(`${server.url}/raw?x=1`, {
      method: "PUT",
      headers: { "x-a": "b" },
      body: "12345",
    });
    assert.equal(await res.text(), "PUT /raw?x=1 b 5");
    assert.equal(server.connections, 1);
    assert.deepEqual(server.errors, []);
  } finally {
    await server.close();
  }
});

test("rawServer de-chunks a chunked request body and keeps raw header order", async () => {
  let seen: { body: string; trailers: Record<string, string>; names: string[] } | undefined;
  const server = await rawServer(async (conn) => {
    const req = await conn.readRequest();
    seen = {
      body: new TextDecoder().decode(req.body),
      trailers: req.trailers,
      names: req.rawHeaders.map(([name]) => name),
    };
    await conn.write("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
    conn.end();
  });
  try {
    const reply = await rawExchange(
      server.port,
      "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nX-B: 1\r\n\r\n" +
        "5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n",
    );
    assert.match(reply, /^HTTP\/1\.1 204 No Content\r\n/);
    assert.deepEqual(seen, {
      body: "hello, world",
      trailers: { "x-trailer": "t" },
      names: ["Host", "Transfer-Encoding", "X-B"],
    });
  } finally {
    await server.close();
  }
});

test("rawServer destroy() makes the client's request fail", async () => {
  const server = await rawServer(async (conn) => {
    await conn.readUntil("\r\n\r\n");
    conn.destroy();
  });
  try {
    await assert.rejects(fetch(`${server.url}/`));
    await assert.rejects(fetch(`${server.url}/`));
    assert.equal(server.connections >= 2, true);
  } finally {
    await server.close();
  }
});

test("rawServer close() destroys connections that are still open", async () => {
  let accepted!: () => void;
  const ready = new Promise<void>((resolve) => accepted = resolve);
  const server = await rawServer(async (conn) => {
    accepted();
    await conn.closed;
  });
  const socket = net.connect(server.port, "127.0.0.1");
  socket.on("error", () => {});
  const clientClosed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  await ready;
  await server.close();
  await clientClosed;
  assert.equal(server.connections, 1);
});

test("rawServer records handler errors without crashing", async () => {
  const server = await rawServer(async (conn) => {
    await conn.readUntil("never-sent-marker");
  });
  try {
    const reply = await rawExchange(server.port, "GET / HTTP/1.1\r\n\r\n", true).catch(() => "");
    assert.equal(reply, "");
    assert.equal(server.errors.length, 1);
    assert.match(String(server.errors[0]), /connection ended before "never-sent-marker"/);
  } finally {
    await server.close();
  }
});

test("rawServer serves TLS", async () => {
  const server = await rawServer(async (conn) => {
    await conn.readRequest();
    await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\ntls");
    conn.end();
  }, { tls: SERVER_TLS });
  try {
    assert.match(server.url, /^https:/);
    assert.equal(await (await fetchTrusting(`${server.url}/`, CA_CERT)).text(), "tls");
  } finally {
    await server.close();
  }
});

test("unusedPort gives a port that refuses connections", async () => {
  const port = await unusedPort();
  await assert.rejects(fetch(`http://127.0.0.1:${port}/`));
});

test("the harness names the runtime", () => {
  assert.equal(["deno", "bun", "node"].includes(runtime), true);
});
