/**
 * The testing kit (`@pooled/http/testing`): `MockAgent` as a manager and as a connector,
 * interceptors and their matchers, replies (bodies, headers, trailers, callbacks, errors,
 * delays, times, persist), net connect rules against a real loopback server, call history,
 * pending interceptors, and the engine's policies (retries, redirects, decoding, timeouts,
 * pooling) running over mock sockets.
 */

import { assert, test } from "../_harness.ts";
import { assertAtRest, rejects } from "../_util.ts";
import { serveHttp } from "../_servers.ts";
import {
  type ConnectionPool,
  type Connector,
  HTTPConnectionPool,
  HTTPError,
  MaxRetryError,
  NewConnectionError,
  PoolManager,
  ProtocolError,
  ReadTimeoutError,
  Retry,
  Timeout,
} from "../../mod.ts";
import { MockAgent, MockNotMatchedError, MockPendingInterceptorsError } from "../../testing.ts";

const API = "http://api.test";

/** A fresh agent with the network off (most tests). */
function offlineAgent(options: ConstructorParameters<typeof MockAgent>[0] = {}): MockAgent {
  const agent = new MockAgent({ enableCallHistory: true, ...options });
  agent.disableNetConnect();
  return agent;
}

function pools(manager: PoolManager): ConnectionPool[] {
  return [...manager.pools.values()];
}

async function gzip(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

// ---------------------------------------------------------------------------------------------
// replies
// ---------------------------------------------------------------------------------------------

test("mock: reply with a string, bytes or JSON body and headers from a record", async () => {
  await using agent = offlineAgent();
  const api = agent.get(API);
  api.intercept({ path: "/text" }).reply(200, "hello", { headers: { "x-a": "1" } });
  api.intercept({ path: "/bytes" }).reply(200, new Uint8Array([0, 1, 255]));
  api.intercept({ path: "/json" }).reply(201, { id: 7 }, {
    headers: { "set-cookie": ["a=1", "b=2"] },
  });
  api.intercept({ path: "/empty" }).reply(204);

  const text = await agent.request("GET", `${API}/text`);
  assert.equal(text.status, 200);
  assert.equal(await text.text(), "hello");
  assert.equal(text.headers.get("x-a"), "1");
  assert.equal(text.headers.get("content-length"), "5");
  const bytes = await agent.request("GET", `${API}/bytes`);
  assert.deepEqual([...bytes.data], [0, 1, 255]);
  const json = await agent.request("GET", `${API}/json`);
  assert.equal(json.status, 201);
  assert.equal(json.reason, "Created");
  assert.equal(json.headers.get("content-type"), "application/json");
  assert.deepEqual(json.headers.getList("set-cookie"), ["a=1", "b=2"]);
  assert.deepEqual(await json.json(), { id: 7 });
  const empty = await agent.request("GET", `${API}/empty`);
  assert.equal(empty.status, 204);
  assert.equal(empty.data.length, 0);
  // One keep-alive connection served them all.
  const [pool] = pools(agent);
  assert.equal(pool.numConnections, 1);
  assertAtRest(...pools(agent));
});

test("mock: reply callbacks see the request; trailers make a chunked body", async () => {
  await using agent = offlineAgent();
  const api = agent.get(API);
  api.intercept({ path: "/echo", method: "PUT" }).reply((request) => ({
    statusCode: 200,
    data: `${request.method} ${request.path} ${request.body}`,
    responseOptions: { headers: { "x-echo": "yes" } },
  }));
  api.intercept({ path: "/data", query: { q: 1 } }).reply(
    200,
    (request) => ({ q: request.searchParams.q }),
  );
  api.intercept({ path: "/trailers" }).reply(200, "abc", { trailers: { "x-sum": "6" } });

  const echo = await agent.request("PUT", `${API}/echo`, { body: "hi" });
  assert.equal(await echo.text(), "PUT /echo hi");
  assert.equal(echo.headers.get("x-echo"), "yes");
  const data = await agent.request("GET", `${API}/data?q=1`);
  assert.deepEqual(await data.json(), { q: "1" });
  const chunked = await agent.request("GET", `${API}/trailers`);
  assert.equal(chunked.headers.get("transfer-encoding"), "chunked");
  assert.equal(await chunked.text(), "abc");
  assertAtRest(...pools(agent));
});

test("mock: a HEAD reply has no body; a reply that closes the connection is not reused", async () => {
  await using agent = offlineAgent();
  const api = agent.get(API);
  api.intercept({ path: "/", method: "HEAD" }).reply(200, "twelve bytes");
  api.intercept({ path: "/close" }).reply(200, "x", { headers: { connection: "close" } }).times(2);
  let opened = 0;
  const counting: Connector = {
    name: "counting",
    connect: (options) => {
      opened++;
      return agent.connect(options);
    },
  };
  await using manager = new PoolManager({ connector: counting });
  const head = await manager.request("HEAD", `${API}/`);
  assert.equal(head.headers.get("content-length"), "12");
  assert.equal(head.data.length, 0);
  await manager.request("GET", `${API}/close`);
  await manager.request("GET", `${API}/close`);
  assert.equal(opened, 2, "the HEAD connection (closed after the first close) and one more");
  assertAtRest(...pools(manager));
});

test("mock: a gzip-encoded reply is decoded", async () => {
  await using agent = offlineAgent();
  const body = "squeezed ".repeat(1000);
  agent.get(API).intercept({ path: "/gz" }).reply(200, await gzip(body), {
    headers: { "content-encoding": "gzip" },
  });
  const r = await agent.request("GET", `${API}/gz`);
  assert.equal(await r.text(), body);
  assertAtRest(...pools(agent));
});

test("mock: a large reply streams with backpressure (pause and resume)", async () => {
  await using agent = offlineAgent();
  const body = new Uint8Array(2 * 1024 * 1024).map((_, i) => i % 251);
  agent.get(API).intercept({ path: "/big" }).reply(200, body);
  const r = await agent.request("GET", `${API}/big`, { preloadContent: false });
  let received = 0;
  let ok = true;
  for await (const piece of r.stream(64 * 1024)) {
    for (let i = 0; i < piece.length; i++) ok &&= piece[i] === (received + i) % 251;
    received += piece.length;
    await new Promise((resolve) => setTimeout(resolve, 0)); // a slow reader
  }
  assert.equal(received, body.length);
  assert.ok(ok, "the bytes arrive in order");
  assertAtRest(...pools(agent));
});

test("mock: an https origin is mocked without TLS or certificates", async () => {
  await using agent = offlineAgent();
  agent.get("https://secure.test").intercept({ path: "/" }).reply(200, "tls-free");
  const r = await agent.request("GET", "https://secure.test/");
  assert.equal(await r.text(), "tls-free");
  assert.equal(agent.getCallHistory().lastCall()?.protocol, "https:");
});

// ---------------------------------------------------------------------------------------------
// errors, retries, redirects, timeouts
// ---------------------------------------------------------------------------------------------

test("mock: replyWithError fails the connection; the retry policy retries, then success", async () => {
  await using agent = offlineAgent();
  const api = agent.get(API);
  api.intercept({ path: "/flaky" }).replyWithError(new Error("connection reset by mock"));
  api.intercept({ path: "/flaky" }).reply(200, "second time lucky");
  const r = await agent.request("GET", `${API}/flaky`, { retries: new Retry({ total: 2 }) });
  assert.equal(await r.text(), "second time lucky");
  const [retry] = r.retries!.history;
  assert.ok(retry.error instanceof ProtocolError, `got ${retry.error}`);
  assert.match(retry.error.message, /connection reset by mock/);
  assert.equal(agent.getCallHistory().calls().length, 2);
  assertAtRest(...pools(agent));
  agent.assertNoPendingInterceptors();
});

test("mock: replyWithError with no retries left, and with a typed error kept as it is", async () => {
  await using agent = offlineAgent();
  const api = agent.get(API);
  api.intercept({ path: "/post", method: "POST" }).replyWithError(new Error("boom"));
  api.intercept({ path: "/refused" }).replyWithError(new NewConnectionError("mock refusal"));
  // POST is not retried on a read error: the ProtocolError comes as is.
  const post = await rejects(agent.request("POST", `${API}/post`, { body: "x" }));
  assert.ok(post instanceof ProtocolError, `got ${post}`);
  assert.equal((post.cause as Error).message, "boom");
  const refused = await rejects(agent.request("GET", `${API}/refused`, { retries: false }));
  assert.ok(refused instanceof NewConnectionError, `got ${refused}`);
  assertAtRest(...pools(agent));
});

test("mock: a redirect between two mocked origins is followed, credentials dropped", async () => {
  await using agent = offlineAgent();
  agent.get("http://a.test").intercept({ path: "/start" }).reply(302, "", {
    headers: { location: "http://b.test/end?x=1" },
  });
  agent.get("http://b.test").intercept({ path: "/end", query: { x: 1 } }).reply(200, "arrived");
  const r = await agent.request("GET", "http://a.test/start", {
    headers: { authorization: "Bearer secret" },
  });
  assert.equal(await r.text(), "arrived");
  assert.equal(r.url, "http://b.test/end?x=1");
  assert.equal(r.retries!.history[0].redirectLocation, "http://b.test/end?x=1");
  const [first, second] = agent.getCallHistory().calls();
  assert.equal(first.headers.authorization, "Bearer secret");
  assert.equal(second.fullUrl, "http://b.test/end?x=1");
  assert.equal(second.headers.authorization, undefined, "dropped across origins");
  assert.equal(agent.pools.size, 2);
  assertAtRest(...pools(agent));
});

test("mock: a delay longer than the read timeout is a ReadTimeoutError", async () => {
  await using agent = offlineAgent();
  agent.get(API).intercept({ path: "/slow" }).reply(200, "late").delay(2_000);
  const started = performance.now();
  const error = await rejects(
    agent.request("GET", `${API}/slow`, { timeout: new Timeout({ read: 100 }), retries: false }),
  );
  assert.ok(error instanceof ReadTimeoutError, `got ${error}`);
  assert.ok(performance.now() - started < 1_500, "it did not wait for the reply");
  assertAtRest(...pools(agent));
});

test("mock: a delay shorter than the read timeout only delays", async () => {
  await using agent = offlineAgent();
  agent.get(API).intercept({ path: "/slow" }).reply(200, "late").delay(60);
  const started = performance.now();
  const r = await agent.request("GET", `${API}/slow`, { timeout: new Timeout({ read: 5_000 }) });
  assert.equal(await r.text(), "late");
  assert.ok(performance.now() - started >= 50, "the reply waited");
});

// ---------------------------------------------------------------------------------------------
// times, persist, pending interceptors
// ---------------------------------------------------------------------------------------------

test("mock: times(2) answers twice, then the interceptor is used up", async () => {
  await using agent = offlineAgent();
  agent.get(API).intercept({ path: "/twice" }).reply(200, "ok").times(2);
  assert.equal((await agent.request("GET", `${API}/twice`)).status, 200);
  assert.equal(agent.pendingInterceptors()[0].timesInvoked, 1);
  assert.equal((await agent.request("GET", `${API}/twice`)).status, 200);
  assert.deepEqual(agent.pendingInterceptors(), []);
  const error = await rejects(agent.request("GET", `${API}/twice`));
  assert.ok(error instanceof MockNotMatchedError, `got ${error}`);
  assertAtRest(...pools(agent));
});

test("mock: persist() answers every time; it is pending only until first used", async () => {
  await using agent = offlineAgent();
  agent.get(API).intercept({ path: "/always" }).reply(200, "again").persist();
  assert.equal(agent.pendingInterceptors().length, 1);
  assert.match(agent.pendingInterceptors()[0].description, /persistent, invoked 0 times/);
  for (let i = 0; i < 5; i++) {
    assert.equal(await (await agent.request("GET", `${API}/always`)).text(), "again");
  }
  assert.deepEqual(agent.pendingInterceptors(), []);
  agent.assertNoPendingInterceptors();
});

test("mock: assertNoPendingInterceptors fails listing them, then passes once they are used", async () => {
  await using agent = offlineAgent();
  agent.get(API).intercept({ path: "/a" }).reply(200);
  agent.get("http://other.test").intercept({ path: /^\/b/, method: "POST" }).reply(200).times(2);
  let error: unknown;
  try {
    agent.assertNoPendingInterceptors();
  } catch (caught) {
    error = caught;
  }
  assert.ok(error instanceof MockPendingInterceptorsError, `got ${error}`);
  assert.ok(error instanceof HTTPError);
  assert.equal(error.code, "ERR_MOCK_PENDING_INTERCEPTORS");
  assert.equal(
    error.message,
    "Interceptors still pending: 2\n" +
      "  GET http://api.test/a (invoked 0 of 1 times)\n" +
      "  POST http://other.test/^\\/b/ (invoked 0 of 2 times)",
  );
  assert.equal(error.interceptors.length, 2);
  await agent.request("GET", `${API}/a`);
  await agent.request("POST", "http://other.test/b1");
  await agent.request("POST", "http://other.test/b2");
  agent.assertNoPendingInterceptors();
});

// ---------------------------------------------------------------------------------------------
// matching
// ---------------------------------------------------------------------------------------------

test("mock: path, query, method, headers and body matchers; the first usable match answers", async () => {
  await using agent = offlineAgent();
  const api = agent.get(API);
  api.intercept({ path: "/q?b=2&a=1" }).reply(200, "sorted query");
  api.intercept({ path: "/q", query: { page: 2 } }).reply(200, "query option");
  api.intercept({ path: /^\/items\/\d+$/, method: "delete" }).reply(200, "regexp path");
  api.intercept({ path: (p) => p.startsWith("/fn/") }).reply(200, "predicate path");
  api.intercept({ path: "/h", headers: { "X-Token": /^t-/, "x-absent": undefined } }).reply(
    200,
    "header matchers",
  );
  api.intercept({ path: "/h", headers: (h) => h["x-token"] === "other" }).reply(200, "header fn");
  api.intercept({ path: "/body", method: "POST", body: '{"n":1}' }).reply(200, "body string");
  api.intercept({ path: "/body", method: "POST", body: /"n":2/ }).reply(200, "body regexp");
  api.intercept({ path: "/first" }).reply(200, "first");
  api.intercept({ path: "/first" }).reply(200, "second");

  const get = async (method: string, path: string, options = {}) =>
    await (await agent.request(method, `${API}${path}`, options)).text();
  assert.equal(await get("GET", "/q?a=1&b=2"), "sorted query");
  assert.equal(await get("GET", "/q?page=2"), "query option");
  assert.equal(await get("DELETE", "/items/12"), "regexp path");
  assert.equal(await get("GET", "/fn/x"), "predicate path");
  assert.equal(await get("GET", "/h", { headers: { "x-token": "t-1" } }), "header matchers");
  assert.equal(await get("GET", "/h", { headers: { "x-token": "other" } }), "header fn");
  assert.equal(await get("POST", "/body", { json: { n: 1 } }), "body string");
  assert.equal(await get("POST", "/body", { json: { n: 2 } }), "body regexp");
  assert.equal(await get("GET", "/first"), "first");
  assert.equal(await get("GET", "/first"), "second");
  agent.assertNoPendingInterceptors();
});

test("mock: agent.intercept({ origin, ... }) is get(origin).intercept(...)", async () => {
  await using agent = offlineAgent();
  agent.intercept({ origin: "HTTP://API.test:80/", path: "/x" }).reply(200, "short");
  assert.equal(agent.get(API), agent.get("http://api.test:80"));
  agent.get(/\.wild\.test$/).intercept({ path: "/" }).reply(200, "any subdomain");
  assert.equal(await (await agent.request("GET", `${API}/x`)).text(), "short");
  const wild = await agent.request("GET", "http://a.wild.test/");
  assert.equal(await wild.text(), "any subdomain");
});

test("mock: misuse is a TypeError or RangeError where it is written", () => {
  const agent = new MockAgent();
  const api = agent.get(API);
  assert.throws(() => agent.get("http://api.test/path"), TypeError);
  assert.throws(() => agent.get("not a url"), TypeError);
  assert.throws(() => api.intercept({ path: 42 as unknown as string }), TypeError);
  assert.throws(
    () => api.intercept({ path: "/" }).reply(200, "x", { "content-type": "x" } as never),
    /Unknown reply option \(headers go in \{ headers \}\): "content-type"/,
  );
  assert.throws(() => api.intercept({ path: "/" }).reply(99), RangeError);
  assert.throws(() => api.intercept({ path: "/" }).reply(200).times(0), RangeError);
  assert.throws(() => api.intercept({ path: "/" }).reply(200).delay(-1), RangeError);
  assert.throws(() => agent.enableNetConnect(1 as never), TypeError);
});

// ---------------------------------------------------------------------------------------------
// net connect
// ---------------------------------------------------------------------------------------------

test("mock: disableNetConnect: an unmatched request fails with MockNotMatchedError, not retried", async () => {
  await using agent = offlineAgent();
  agent.get(API).intercept({ path: "/known" }).reply(200);
  for (const url of [`${API}/unknown?q=1`, "http://elsewhere.test/"]) {
    const error = await rejects(agent.request("GET", url, { retries: 3 }));
    assert.ok(error instanceof MockNotMatchedError, `got ${error}`);
    assert.ok(error instanceof HTTPError);
    assert.equal(error.code, "ERR_MOCK_NOT_MATCHED");
    assert.equal(error.method, "GET");
    assert.equal(error.url, url);
    assert.equal(
      error.message,
      `No mock interceptor matched the request and net connect is disabled: GET ${url}`,
    );
  }
  assert.equal(agent.getCallHistory().calls().length, 2, "each request was tried once");
  assertAtRest(...pools(agent));
});

test("mock: enableNetConnect lets unmatched requests reach a real loopback server", async () => {
  const server = await serveHttp((req) => new Response(`real ${new URL(req.url).pathname}`));
  try {
    await using agent = offlineAgent();
    agent.enableNetConnect("127.0.0.1");
    agent.get(server.url).intercept({ path: "/mocked" }).reply(200, "mock");
    agent.get(API).intercept({ path: "/known" }).reply(200);
    // An origin without mock pools connects for real; a mocked one passes unmatched
    // requests on, on the same connection as its mocked ones.
    assert.equal(await (await agent.request("GET", `${server.url}/mocked`)).text(), "mock");
    assert.equal(await (await agent.request("GET", `${server.url}/real`)).text(), "real /real");
    assert.equal(
      await (await agent.request("GET", `${server.url}/mocked2`)).text(),
      "real /mocked2",
    );
    // Other hosts stay off the network.
    const error = await rejects(agent.request("GET", `${API}/unknown`));
    assert.ok(error instanceof MockNotMatchedError, `got ${error}`);
    assert.match(error.message, /net connect is not enabled for its host/);
    assert.deepEqual(
      agent.getCallHistory().calls().map((call) => call.path),
      ["/mocked", "/real", "/mocked2", "/unknown"],
    );
    assertAtRest(...pools(agent));

    // A RegExp on host:port, on a new agent where the origin has no mock pool at all.
    await using direct = offlineAgent();
    direct.enableNetConnect(new RegExp(`^127\\.0\\.0\\.1:${server.port}$`));
    const r = await direct.request("POST", `${server.url}/direct`, { body: "b" });
    assert.equal(await r.text(), "real /direct");
    assert.equal(direct.getCallHistory().lastCall()?.body, "b");
    assertAtRest(...pools(direct));
  } finally {
    await server.close();
  }
});

test("mock: the network is allowed by default, as in undici; enableNetConnect(predicate), ()", async () => {
  const server = await serveHttp(() => new Response("real"));
  try {
    await using agent = new MockAgent();
    assert.equal(await (await agent.request("GET", `${server.url}/`)).text(), "real");
    agent.disableNetConnect();
    assert.ok(await rejects(agent.request("GET", `${server.url}/`)) instanceof MockNotMatchedError);
    agent.enableNetConnect((host) => host === `127.0.0.1:${server.port}`);
    assert.equal(await (await agent.request("GET", `${server.url}/`)).text(), "real");
    agent.disableNetConnect();
    agent.enableNetConnect();
    assert.equal(await (await agent.request("GET", `${server.url}/`)).text(), "real");
  } finally {
    await server.close();
  }
});

test("mock: a real connection refused is a NewConnectionError the policy counts", async () => {
  await using agent = new MockAgent();
  const error = await rejects(agent.request("GET", "http://127.0.0.1:1/", { retries: 1 }));
  assert.ok(error instanceof MaxRetryError, `got ${error}`);
  assert.ok(error.reason instanceof NewConnectionError, `got ${error.reason}`);
});

// ---------------------------------------------------------------------------------------------
// call history
// ---------------------------------------------------------------------------------------------

test("mock: call history records POST bodies (JSON, text, streamed chunked) and headers", async () => {
  await using agent = offlineAgent();
  agent.get(API).intercept({ path: /^\/items/, method: "POST" }).reply(201).persist();
  await agent.request("POST", `${API}/items?src=json`, { json: { name: "a" } });
  await agent.request("POST", `${API}/items`, { body: "plain text", headers: { "x-id": "2" } });
  async function* pieces() {
    yield "chunk-1,";
    yield new TextEncoder().encode("chunk-2");
  }
  await agent.request("POST", `${API}/items/stream`, { body: pieces(), chunked: true });

  const [json, plain, streamed] = agent.getCallHistory().calls();
  assert.equal(json.method, "POST");
  assert.equal(json.fullUrl, `${API}/items?src=json`);
  assert.equal(json.origin, API);
  assert.equal(json.host, "api.test");
  assert.equal(json.port, 80);
  assert.deepEqual(json.searchParams, { src: "json" });
  assert.equal(json.headers["content-type"], "application/json");
  assert.equal(json.body, '{"name":"a"}');
  assert.equal(plain.body, "plain text");
  assert.equal(plain.headers["x-id"], "2");
  assert.equal(plain.headers["content-length"], "10");
  assert.equal(streamed.headers["transfer-encoding"], "chunked");
  assert.equal(streamed.body, "chunk-1,chunk-2");
  assert.equal(new TextDecoder().decode(streamed.bodyBytes), "chunk-1,chunk-2");
  assert.equal(agent.getCallHistory().nthCall(2), plain);
  assert.equal([...agent.getCallHistory()].length, 3);

  agent.clearCallHistory();
  assert.deepEqual(agent.getCallHistory().calls(), []);
  agent.disableCallHistory();
  await agent.request("POST", `${API}/items`);
  assert.equal(agent.getCallHistory().calls().length, 0);
});

test("mock: call history is off unless asked for", async () => {
  await using agent = new MockAgent();
  agent.disableNetConnect();
  agent.get(API).intercept({ path: "/" }).reply(200);
  await agent.request("GET", `${API}/`);
  assert.equal(agent.getCallHistory().calls().length, 0);
});

// ---------------------------------------------------------------------------------------------
// as a connector; close
// ---------------------------------------------------------------------------------------------

test("mock: as the connector behind a plain PoolManager and a pool", async () => {
  await using agent = offlineAgent();
  agent.get(API).intercept({ path: "/n" }).reply(200, "from the agent").persist();
  await using manager = new PoolManager({ connector: agent, maxSize: 2 });
  const results = await Promise.all(
    [1, 2, 3, 4].map(async () => await (await manager.request("GET", `${API}/n`)).text()),
  );
  assert.deepEqual(results, Array(4).fill("from the agent"));
  assert.equal(agent.pools.size, 0, "the agent's own pools were not used");
  assertAtRest(...pools(manager));

  await using pool = new HTTPConnectionPool("api.test", { connector: agent });
  const r = await pool.request("GET", "/n");
  assert.equal(await r.text(), "from the agent");
  assert.equal(pool.numConnections, 1);
  assertAtRest(pool);
  assert.equal(agent.getCallHistory().calls().length, 5);
});

test("mock: close() ends the connections the agent opened, and it opens no more", async () => {
  const agent = offlineAgent();
  agent.get(API).intercept({ path: "/" }).reply(200).persist();
  await using manager = new PoolManager({ connector: agent });
  await manager.request("GET", `${API}/`);
  const [pool] = pools(manager);
  assert.equal(pool.stats.idle, 1);
  await agent.close();
  const error = await rejects(manager.request("GET", `${API}/`));
  assert.ok(error instanceof TypeError, `got ${error}`);
  assert.equal(error.message, "MockAgent is closed");
  assertAtRest(pool);
});

test("mock: the socket reads requests written a byte at a time and answers after write returns", async () => {
  await using agent = offlineAgent();
  agent.get(API).intercept({ path: "/split", method: "POST" }).reply(200, "whole").times(2);
  const socket = await agent.connect({ hostname: "api.test", port: 80 });
  const received: string[] = [];
  let ended = 0;
  let inWrite = false;
  socket.setHandler({
    onData(chunk) {
      assert.ok(!inWrite, "no data inside write()");
      received.push(new TextDecoder().decode(chunk));
    },
    onEnd: () => ended++,
    onError: (error) => assert.fail(error),
    onWriteError: (error) => assert.fail(error),
  });
  const request = (body: string) =>
    "POST /split HTTP/1.1\r\nHost: api.test\r\nTransfer-Encoding: chunked\r\n\r\n" +
    `${body.length.toString(16)};ext=1\r\n${body}\r\n0\r\nX-Trailer: 1\r\n\r\n`;
  for (const byte of request("first")) {
    inWrite = true;
    assert.equal(socket.write(byte), true);
    inWrite = false;
  }
  await socket.drained();
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(received.length, 1, "the first answer");
  socket.pause();
  inWrite = true;
  socket.write(new TextEncoder().encode(request("second")));
  inWrite = false;
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(received.length, 1, "paused: the second answer waits");
  socket.resume();
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(received.join("").match(/whole/g)?.length, 2);
  assert.deepEqual(agent.getCallHistory().calls().map((call) => call.body), ["first", "second"]);
  socket.unref();
  socket.ref();
  socket.close();
  socket.close();
  assert.equal(socket.closed, true);
  assert.equal(ended, 1);
});
