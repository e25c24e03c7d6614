/**
 * `createFetch()` and `fetch`, compared with the runtime's own `fetch` (undici under Node):
 * the same requests, through both, to the same raw loopback server, must give the same
 * status, reason, headers, body, `url` and `redirected`, and reach the server the same.
 * Where ours differs on purpose (docs/fetch.md), the test says so. Then the pool side
 * (connections given back, closed on cancel, on collection) and ky running through it.
 */

import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import ky from "ky";
import { assert, runtime, test } from "../_harness.ts";
import { assertBytes, isCollected, keepAliveServer, rejects, waitFor } from "../_util.ts";
import { type RawConnection, type RawRequest, type RawServer, unusedPort } from "../_servers.ts";
import {
  createFetch,
  fetch as pooledFetch,
  MaxRetryError,
  NewConnectionError,
  type PooledFetch,
  type PooledRequestInit,
  PoolManager,
  ReadTimeoutError,
  ResponseError,
  ResponseTooLargeError,
  UnrewindableBodyError,
} from "../../mod.ts";
import { sharedPoolManager } from "../../src/manager/pool_manager.ts";

// ---------------------------------------------------------------------------------------------
// the server
// ---------------------------------------------------------------------------------------------

const encoder = new TextEncoder();
const TEXT = "pooled fetch comparison body ".repeat(200);
const LARGE = new Uint8Array(4 * 1024 * 1024).map((_, i) => (i * 31 + (i >> 12)) & 0xff);
const REASONS: Record<number, string> = {
  200: "OK",
  201: "Created",
  204: "No Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  404: "Not Found",
  503: "Service Unavailable",
};

/** What a route answers. */
interface Reply {
  status?: number;
  reason?: string;
  headers?: Array<[string, string]>;
  /** Sent with `Content-Length`. */
  body?: Uint8Array | string;
  /** Sent chunked, one chunk each. */
  chunks?: string[];
}

/** The request headers the echo reports (the others differ by client: user-agent...). */
const ECHOED = /^(content-type|authorization|cookie|accept|x-.*)$/;

/** What `/echo` answers: the request as the server got it. */
interface Echo {
  method: string;
  target: string;
  headers: Record<string, string>;
  /** The body, latin1. */
  body: string;
}

/** The headers sorted by name: clients send them in different orders. */
function sorted(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).sort(([a], [b]) => a < b ? -1 : 1));
}

function echo(req: RawRequest, all = false): Reply {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(sorted(req.headers))) {
    if (all || ECHOED.test(name)) headers[name] = value;
  }
  const body = String.fromCharCode(...req.body);
  const seen: Echo = { method: req.method, target: req.target, headers, body };
  return { headers: [["Content-Type", "application/json"]], body: JSON.stringify(seen) };
}

/** The routes, by path; `query` holds the search parameters. */
function route(req: RawRequest, query: URLSearchParams, path: string): Reply {
  const text = [["Content-Type", "text/plain; charset=utf-8"]] as Array<[string, string]>;
  switch (path) {
    case "/echo":
      return echo(req);
    case "/echo-all":
      return echo(req, true);
    case "/status": {
      const status = Number(query.get("code"));
      return { status, headers: text, body: `status ${status}` };
    }
    case "/redirect": {
      const status = Number(query.get("code") ?? 302);
      return { status, headers: [...text, ["Location", query.get("to")!]], body: "moved" };
    }
    case "/loop":
      return { status: 302, headers: [["Location", "/loop"]], body: "" };
    case "/gzip":
      return { headers: [...text, ["Content-Encoding", "gzip"]], body: gzipSync(TEXT) };
    case "/br":
      return { headers: [...text, ["Content-Encoding", "br"]], body: brotliCompressSync(TEXT) };
    case "/deflate":
      return { headers: [...text, ["Content-Encoding", "deflate"]], body: deflateSync(TEXT) };
    case "/chunked":
      return { headers: text, chunks: ["one ", "two ", "three"] };
    case "/large":
      return { headers: [["Content-Type", "application/octet-stream"]], body: LARGE };
    case "/headers":
      return {
        headers: [
          ["X-Mixed-Case", "A"],
          ["set-cookie", "a=1; Path=/"],
          ["Set-Cookie", "b=2"],
          ["X-Repeat", "1"],
          ["x-repeat", "2"],
          ["CONTENT-TYPE", "text/plain"],
        ],
        body: "headers",
      };
    case "/reason":
      return { reason: "Fine Thanks", headers: text, body: "fine" };
    default:
      return { status: 404, headers: text, body: "not found" };
  }
}

function chunk(data: string): Uint8Array {
  const bytes = encoder.encode(data);
  const head = encoder.encode(`${bytes.length.toString(16)}\r\n`);
  return new Uint8Array([...head, ...bytes, 13, 10]);
}

async function reply(conn: RawConnection, req: RawRequest, answer: Reply): Promise<void> {
  const status = answer.status ?? 200;
  let head = `HTTP/1.1 ${status} ${answer.reason ?? REASONS[status]}\r\n`;
  for (const [name, value] of answer.headers ?? []) head += `${name}: ${value}\r\n`;
  if (answer.chunks) {
    await conn.write(`${head}Transfer-Encoding: chunked\r\n\r\n`);
    for (const piece of answer.chunks) await conn.write(chunk(piece));
    return conn.write("0\r\n\r\n");
  }
  if (status === 204 || status === 304) return conn.write(`${head}\r\n`);
  const body = typeof answer.body === "string" ? encoder.encode(answer.body) : answer.body!;
  await conn.write(`${head}Content-Length: ${body.length}\r\n\r\n`);
  if (req.method !== "HEAD") await conn.write(body);
}

/** The comparison server: raw bytes, so that both clients get exactly the same. */
async function startServer(): Promise<RawServer> {
  const { server } = await keepAliveServer(async (req, _id, conn) => {
    const url = new URL(req.target, "http://server");
    if (url.pathname === "/slow") {
      // Half of the body, then nothing until the client goes away.
      await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nhalf");
      await conn.closed;
      return;
    }
    await reply(conn, req, route(req, url.searchParams, url.pathname));
  });
  return server;
}

// ---------------------------------------------------------------------------------------------
// the comparison
// ---------------------------------------------------------------------------------------------

/** What the comparison looks at in a response. */
interface Snapshot {
  status: number;
  statusText: string;
  headers: Array<[string, string]>;
  body: Uint8Array | null;
  url: string;
  redirected: boolean;
}

async function snapshot(response: Response): Promise<Snapshot> {
  const nullBody = response.body === null;
  const body = new Uint8Array(await response.arrayBuffer());
  return {
    status: response.status,
    statusText: response.statusText,
    headers: [...response.headers].filter(([name]) => name !== "date"),
    body: nullBody ? null : body,
    url: response.url,
    redirected: response.redirected,
  };
}

type Call = () => [RequestInfo | URL, PooledRequestInit?];

/** The runtime's fetch and ours, each given a fresh copy of the arguments. */
async function both(ours: PooledFetch, call: Call): Promise<[Snapshot, Snapshot]> {
  const theirs = await snapshot(await globalThis.fetch(...call()));
  return [theirs, await snapshot(await ours(...call()))];
}

function assertSame(theirs: Snapshot, ours: Snapshot, what: string): void {
  const { body: theirBody, ...theirRest } = theirs;
  const { body: ourBody, ...ourRest } = ours;
  assert.deepEqual(ourRest, theirRest, what);
  if (theirBody === null || ourBody === null) {
    assert.equal(ourBody, theirBody, `${what}: null body`);
  } else assertBytes(ourBody, theirBody, `${what}: body`);
}

/** Runs `fn` with the server and a fetch on a fresh manager, then closes both. */
async function withFetch(
  fn: (ours: PooledFetch, url: string, manager: PoolManager) => Promise<void>,
): Promise<void> {
  const server = await startServer();
  const manager = new PoolManager({ maxSize: 2 });
  try {
    await fn(createFetch(manager), server.url, manager);
  } finally {
    await manager.close();
    await server.close();
  }
}

/**
 * Compares one call through both fetches; `asSpecified` turns the runtime's response into
 * what the fetch standard says, where the runtime's own fetch departs from it.
 */
function compare(
  name: string,
  call: (url: string) => Call,
  asSpecified: (theirs: Snapshot) => Snapshot = (theirs) => theirs,
): void {
  test(`fetch comparison: ${name}`, () =>
    withFetch(async (ours, url) => {
      const [theirs, mine] = await both(ours, call(url));
      assertSame(asSpecified(theirs), mine, name);
    }));
}

const decoder = new TextDecoder();
const echoOf = (snap: Snapshot): Echo => JSON.parse(decoder.decode(snap.body!));

/**
 * Bun's fetch sends a string body without the `Content-Type: text/plain;charset=UTF-8`
 * the standard gives it (Deno's and undici's send it, and so do we).
 */
function bunTextPlain(theirs: Snapshot): Snapshot {
  if (runtime !== "bun") return theirs;
  const seen = echoOf(theirs);
  assert.equal(seen.headers["content-type"], undefined);
  seen.headers = sorted({ ...seen.headers, "content-type": "text/plain;charset=UTF-8" });
  const body = encoder.encode(JSON.stringify(seen));
  const headers = theirs.headers.map(([name, value]): [string, string] =>
    name === "content-length" ? [name, String(body.length)] : [name, value]
  );
  return { ...theirs, body, headers };
}

/** Bun's fetch keeps the fragment in `response.url`; the standard leaves it out. */
function bunFragment(theirs: Snapshot): Snapshot {
  if (runtime !== "bun") return theirs;
  assert.match(theirs.url, /#part$/);
  return { ...theirs, url: theirs.url.replace(/#.*$/, "") };
}

// ---- methods, statuses, bodies of responses ------------------------------------------------

compare("GET", (url) => () => [`${url}/echo?q=1`]);
compare("GET with a URL object", (url) => () => [new URL(`${url}/echo`)]);
compare("GET 404", (url) => () => [`${url}/nothing`]);
compare("HEAD", (url) => () => [`${url}/echo`, { method: "HEAD" }]);
compare(
  "lower-case method names are normalised",
  (url) => () => [`${url}/echo`, { method: "post", body: "x" }],
  bunTextPlain,
);
compare("204", (url) => () => [`${url}/status?code=204`]);
compare("304", (url) => () => [`${url}/status?code=304`]);
compare("503", (url) => () => [`${url}/status?code=503`]);
compare("gzip body", (url) => () => [`${url}/gzip`]);
compare("br body", (url) => () => [`${url}/br`]);
compare("chunked body", (url) => () => [`${url}/chunked`]);
compare("large streamed body", (url) => () => [`${url}/large`]);
compare("response headers: case, repeats, set-cookie", (url) => () => [`${url}/headers`]);
compare("request headers in any case and form", (url) => () => [`${url}/echo`, {
  headers: [["X-Mixed-Case", "1"], ["x-mixed-case", "2"], ["AUTHORIZATION", "Bearer t"]],
}]);
compare("a Headers object", (url) => () => [`${url}/echo`, {
  headers: new Headers({ "X-One": "1", Accept: "application/json" }),
}]);

// ---- request bodies ------------------------------------------------------------------------

const BODIES: Record<string, () => BodyInit> = {
  string: () => "héllo body",
  Uint8Array: () => encoder.encode("bytes body"),
  ArrayBuffer: () => encoder.encode("buffer body").buffer as ArrayBuffer,
  DataView: () => new DataView(encoder.encode("..view body..").buffer, 2, 9),
  "Blob with a type": () => new Blob(["blob body"], { type: "text/x-blob" }),
  "Blob without a type": () => new Blob(["untyped blob"]),
  URLSearchParams: () => new URLSearchParams({ a: "1", b: "x y&z" }),
  ReadableStream: () =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode("streamed "));
        controller.enqueue(encoder.encode("body"));
        controller.close();
      },
    }),
};

for (const [kind, body] of Object.entries(BODIES)) {
  compare(
    `POST a ${kind} body`,
    (url) => () => [`${url}/echo`, { method: "POST", body: body(), duplex: "half" } as RequestInit],
    kind === "string" ? bunTextPlain : undefined,
  );
}

test("fetch comparison: POST a FormData body (the boundary differs, the parts do not)", () =>
  withFetch(async (ours, url) => {
    const form = () => {
      const data = new FormData();
      data.append("field", "value");
      data.append("file", new File(["file content"], "a.txt", { type: "text/plain" }));
      return data;
    };
    const [theirs, mine] = await both(
      ours,
      () => [`${url}/echo`, { method: "POST", body: form() }],
    );
    const parts = async (snap: Snapshot) => {
      const seen = echoOf(snap);
      const type = seen.headers["content-type"];
      assert.match(type, /^multipart\/form-data; ?boundary=/);
      const body = Uint8Array.from(seen.body, (c) => c.charCodeAt(0));
      const parsed = await new Response(body, { headers: { "content-type": type } }).formData();
      const file = parsed.get("file") as File;
      return [parsed.get("field"), file.name, file.type, await file.text()];
    };
    assert.deepEqual(await parts(mine), await parts(theirs));
    // Bun's File adds ";charset=utf-8" to a text type.
    const type = new File([], "a.txt", { type: "text/plain" }).type;
    assert.deepEqual(await parts(mine), ["value", "a.txt", type, "file content"]);
  }));

// ---- Request objects -----------------------------------------------------------------------

compare("a Request object", (url) => () => [
  new Request(`${url}/echo`, { method: "PUT", body: "from a request", headers: { "X-Req": "1" } }),
]);
compare("a Request object with init over it", (url) => () => [
  new Request(`${url}/echo`, { method: "POST", body: "request body", headers: { "X-Req": "1" } }),
  { headers: { "X-Init": "2" } },
]);
compare("a Request object's redirect mode", (url) => () => [
  new Request(`${url}/redirect?code=302&to=/echo`, { redirect: "manual" }),
]);

// ---- redirects -----------------------------------------------------------------------------

for (const code of [301, 302, 303, 307, 308]) {
  compare(`${code} after a POST (method and body as fetch rewrites them)`, (url) => () => [
    `${url}/redirect?code=${code}&to=/echo`,
    { method: "POST", body: "posted", headers: { "Content-Type": "text/x-posted", "X-Keep": "1" } },
  ]);
  compare(`${code} after a PUT`, (url) => () => [
    `${url}/redirect?code=${code}&to=/echo`,
    { method: "PUT", body: "put" },
  ], code === 303 ? undefined : bunTextPlain);
}
compare("303 after a HEAD stays a HEAD", (url) => () => [
  `${url}/redirect?code=303&to=/echo`,
  { method: "HEAD" },
]);
compare("a relative Location", (url) => () => [`${url}/redirect?code=302&to=echo%3Fx%3D1`]);
compare(
  "a Location with a fragment",
  (url) => () => [`${url}/redirect?to=/echo%23part`],
  bunFragment,
);
compare("two redirects", (url) => () => [
  `${url}/redirect?code=301&to=${encodeURIComponent("/redirect?code=307&to=/echo")}`,
]);
compare("redirect: manual returns the 3xx", (url) => () => [
  `${url}/redirect?code=301&to=/echo`,
  { redirect: "manual" },
]);

test("fetch comparison: a 3xx without Location is returned (Deno's fetch drops its body)", () =>
  withFetch(async (ours, url) => {
    const [theirs, mine] = await both(ours, () => [`${url}/status?code=302`]);
    assert.equal(decoder.decode(mine.body!), "status 302");
    if (runtime === "deno") assert.equal(theirs.body, null);
    assertSame(runtime === "deno" ? { ...theirs, body: mine.body } : theirs, mine, "302");
  }));

test("fetch comparison: redirect: error rejects with a TypeError", () =>
  withFetch(async (ours, url) => {
    const target = `${url}/redirect?code=302&to=/echo`;
    const theirs = await rejects(globalThis.fetch(target, { redirect: "error" }));
    const mine = await rejects(ours(target, { redirect: "error" }));
    assert.ok(theirs instanceof TypeError);
    assert.ok(mine instanceof TypeError);
    assert.equal(mine.message, "fetch failed");
    assert.ok(mine.cause instanceof ResponseError);
    assert.equal(mine.cause.message, 'Unexpected redirect with redirect mode "error": 302');
  }));

test("fetch comparison: more than 20 redirects reject with a TypeError", () =>
  withFetch(async (ours, url) => {
    assert.ok((await rejects(globalThis.fetch(`${url}/loop`))) instanceof TypeError);
    const mine = await rejects(ours(`${url}/loop`));
    assert.ok(mine instanceof TypeError);
    assert.ok(mine.cause instanceof MaxRetryError);
    assert.equal(mine.cause.reason?.message, "too many redirects");
  }));

test("fetch: maxRedirects lowers the limit", () =>
  withFetch(async (ours, url) => {
    const twice = `${url}/redirect?to=${encodeURIComponent("/redirect?to=/echo")}`;
    const error = await rejects(ours(twice, { pooled: { maxRedirects: 1 } }));
    assert.ok((error as TypeError).cause instanceof MaxRetryError);
    const r = await ours(twice, { pooled: { maxRedirects: 2 } });
    assert.equal(r.status, 200);
    await r.body!.cancel();
  }));

test("fetch: a redirect to another origin drops the credentials", () =>
  withFetch(async (ours, url) => {
    const other = url.replace("127.0.0.1", "localhost");
    const headers = { Authorization: "Bearer t", Cookie: "c=1", "X-Kept": "1" };
    const r = await ours(`${url}/redirect?to=${encodeURIComponent(`${other}/echo`)}`, { headers });
    const seen: Echo = await r.json();
    assert.equal(seen.headers.authorization, undefined);
    assert.equal(seen.headers.cookie, undefined);
    assert.equal(seen.headers["x-kept"], "1");
    assert.equal(r.url, `${other}/echo`);
  }));

test("fetch: a streamed body cannot follow a 307", () =>
  withFetch(async (ours, url) => {
    const body = BODIES.ReadableStream();
    const error = await rejects(
      ours(`${url}/redirect?code=307&to=/echo`, { method: "POST", body }),
    );
    assert.ok(error instanceof TypeError);
    assert.ok(error.cause instanceof UnrewindableBodyError);
  }));

// ---- aborts and failures -------------------------------------------------------------------

test("fetch comparison: an aborted signal rejects with its reason before sending", () =>
  withFetch(async (ours, url) => {
    const signal = AbortSignal.abort();
    assert.equal(await rejects(globalThis.fetch(`${url}/echo`, { signal })), signal.reason);
    assert.equal(await rejects(ours(`${url}/echo`, { signal })), signal.reason);
    const custom = new AbortController();
    custom.abort(new Error("mine"));
    assert.equal(
      await rejects(ours(`${url}/echo`, { signal: custom.signal })),
      custom.signal.reason,
    );
  }));

test("fetch comparison: an abort during the body errors the body with the reason", () =>
  withFetch(async (ours, url, manager) => {
    for (const client of [globalThis.fetch, ours]) {
      const controller = new AbortController();
      const r = await client(`${url}/slow`, { signal: controller.signal });
      const reader = r.body!.getReader();
      const first = await reader.read();
      assert.equal(decoder.decode(first.value), "half");
      controller.abort();
      const error = await rejects(reader.read());
      assert.equal((error as Error).name, "AbortError");
      if (client === ours) assert.equal(error, controller.signal.reason);
    }
    const pool = manager.connectionFromUrl(url);
    await waitFor(() => pool.stats.inUse === 0, "the aborted connection closed");
  }));

test("fetch comparison: a refused connection rejects with a TypeError with our cause", async () => {
  const url = `http://127.0.0.1:${await unusedPort()}/`;
  assert.ok((await rejects(globalThis.fetch(url))) instanceof TypeError);
  await using manager = new PoolManager();
  const ours = createFetch(manager);
  const error = await rejects(ours(url));
  assert.ok(error instanceof TypeError);
  assert.equal(error.message, "fetch failed");
  // The manager's Retry (3 retries) ran out; without retries, the error itself.
  assert.ok(error.cause instanceof MaxRetryError);
  assert.ok(error.cause.reason instanceof NewConnectionError);
  const once = await rejects(ours(url, { pooled: { retries: false } }));
  assert.ok((once as TypeError).cause instanceof NewConnectionError);
});

test("fetch: a read timeout in the body errors it with a TypeError with our cause", () =>
  withFetch(async (ours, url) => {
    const r = await ours(`${url}/slow`, { pooled: { timeout: 200 } });
    const reader = r.body!.getReader();
    assert.equal(decoder.decode((await reader.read()).value), "half");
    const error = await rejects(reader.read());
    assert.ok(error instanceof TypeError);
    assert.equal(error.message, "terminated");
    assert.ok(error.cause instanceof ReadTimeoutError, String(error.cause));
  }));

test("fetch comparison: invalid arguments are TypeErrors", () =>
  withFetch(async (ours, url) => {
    const calls: Array<[RequestInfo | URL, RequestInit?]> = [
      ["not a url"],
      [`${url}/echo`, { method: "GET", body: "x" }],
      [`${url}/echo`, { method: "bad method" }],
      [`${url}/echo`, { method: "connect" }],
      [`${url}/echo`, { headers: { "bad header": "x" } }],
      [`${url}/echo`, { redirect: "sometimes" as RequestRedirect }],
    ];
    for (const call of calls) {
      const what = JSON.stringify(call);
      assert.ok((await rejects(ours(...call))) instanceof TypeError, what);
      // Bun's fetch sends a GET for a method that is not a token, and may send a CONNECT
      // (the standard: a TypeError for both).
      if (runtime === "bun" && /^(bad method|connect)$/.test(call[1]?.method ?? "")) {
        await globalThis.fetch(...call).then((r) => r.body?.cancel(), () => {});
        continue;
      }
      const theirs = await globalThis.fetch(...call).then(() => null, (e) => e);
      assert.ok(theirs instanceof TypeError, `${what}: ${theirs}`);
    }
  }));

// ---- documented differences ----------------------------------------------------------------

test("fetch difference: credentials in the URL are a TypeError (Deno's and Bun's fetch send them)", () =>
  withFetch(async (ours, url) => {
    const withCredentials = url.replace("http://", "http://user:secret@") + "/echo";
    const error = await rejects(ours(withCredentials));
    assert.ok(error instanceof TypeError);
    assert.equal(
      error.message,
      `Request URL must not include credentials: ${url.replace("http://", "http://***:***@")}/echo`,
    );
    const theirs = await globalThis.fetch(withCredentials).then((r) => r.json(), (e) => e);
    if (runtime === "node") assert.ok(theirs instanceof TypeError);
    else assert.equal((theirs as Echo).headers.authorization, `Basic ${btoa("user:secret")}`);
  }));

test("fetch difference: the reason phrase is the server's (Deno's fetch gives the standard one)", () =>
  withFetch(async (ours, url) => {
    const [theirs, mine] = await both(ours, () => [`${url}/reason`]);
    assert.equal(mine.statusText, "Fine Thanks");
    assert.equal(theirs.statusText, runtime === "deno" ? "OK" : "Fine Thanks");
    assertSame({ ...theirs, statusText: mine.statusText }, mine, "the rest");
  }));

test("fetch difference: the headers sent unless given: Accept, Accept-Encoding, User-Agent", () =>
  withFetch(async (ours, url) => {
    const seen: Echo = await (await ours(`${url}/echo-all`)).json();
    assert.deepEqual(Object.keys(seen.headers).sort(), [
      "accept",
      "accept-encoding",
      "host",
      "user-agent",
    ]);
    assert.equal(seen.headers.accept, "*/*");
    assert.equal(seen.headers["accept-encoding"], "gzip,deflate,br");
    assert.match(seen.headers["user-agent"], /^pooled\//);
    const given: Echo = await (await ours(`${url}/echo-all`, {
      headers: { "Accept-Encoding": "identity", Accept: "text/plain", "User-Agent": "me" },
    })).json();
    assert.equal(given.headers.accept, "text/plain");
    assert.equal(given.headers["accept-encoding"], "identity");
    assert.equal(given.headers["user-agent"], "me");
    const range: Echo = await (await ours(`${url}/echo-all`, {
      headers: { Range: "bytes=0-1" },
    })).json();
    assert.equal(range.headers["accept-encoding"], "identity");
  }));

test("fetch difference: deflate bodies are decoded (Deno's fetch leaves them as sent)", () =>
  withFetch(async (ours, url) => {
    const [theirs, mine] = await both(ours, () => [`${url}/deflate`]);
    assert.equal(decoder.decode(mine.body!), TEXT);
    if (runtime === "deno") assertBytes(theirs.body!, deflateSync(TEXT));
    assertSame(runtime === "deno" ? { ...theirs, body: mine.body } : theirs, mine, "deflate");
  }));

test("fetch difference: a Request's body goes with Content-Length, an init.body stream chunked", () =>
  withFetch(async (ours, url) => {
    const request = new Request(`${url}/echo-all`, {
      method: "POST",
      body: BODIES.ReadableStream() as ReadableStream<Uint8Array>,
      duplex: "half",
    } as RequestInit);
    const buffered: Echo = await (await ours(request)).json();
    assert.equal(buffered.headers["content-length"], "13");
    assert.equal(buffered.headers["transfer-encoding"], undefined);
    assert.equal(buffered.body, "streamed body");
    const init = { method: "POST", body: BODIES.ReadableStream() };
    const streamed: Echo = await (await ours(`${url}/echo-all`, init)).json();
    assert.equal(streamed.headers["transfer-encoding"], "chunked");
    assert.equal(streamed.body, "streamed body");
  }));

test("fetch: decodeContent: false hands the body as it came", () =>
  withFetch(async (ours, url) => {
    const r = await ours(`${url}/gzip`, { pooled: { decodeContent: false } });
    assert.equal(r.headers.get("content-encoding"), "gzip");
    assertBytes(new Uint8Array(await r.arrayBuffer()), gzipSync(TEXT));
  }));

// ---- the Response and the pool -------------------------------------------------------------

test("fetch: the Response is a standard one, and clone() keeps url and redirected", () =>
  withFetch(async (ours, url) => {
    const r = await ours(`${url}/redirect?to=/echo`);
    assert.ok(r instanceof Response);
    assert.equal(r.type, "basic");
    const copy = r.clone();
    assert.equal(copy.url, `${url}/echo`);
    assert.equal(copy.redirected, true);
    assert.equal(copy.status, 200);
    assert.deepEqual(await copy.json(), await r.json());
  }));

test("fetch: reading the body to its end gives the connection back", () =>
  withFetch(async (ours, url, manager) => {
    const r = await ours(`${url}/large`);
    const pool = manager.connectionFromUrl(url);
    assert.equal(pool.stats.inUse, 1);
    assert.equal((await r.arrayBuffer()).byteLength, LARGE.length);
    assert.equal(pool.stats.inUse, 0);
    assert.equal(pool.stats.open, 1);
  }));

test("fetch: cancelling the body closes the connection", () =>
  withFetch(async (ours, url, manager) => {
    const r = await ours(`${url}/large`);
    const pool = manager.connectionFromUrl(url);
    await r.body!.cancel();
    assert.equal(pool.stats.inUse, 0);
    assert.equal(pool.stats.open, 0);
  }));

test("fetch: a 204 and a HEAD give the connection back at once", () =>
  withFetch(async (ours, url, manager) => {
    const pool = manager.connectionFromUrl(url);
    assert.equal((await ours(`${url}/status?code=204`)).body, null);
    assert.equal((await ours(`${url}/echo`, { method: "HEAD" })).body, null);
    assert.equal(pool.stats.inUse, 0);
    assert.equal(pool.stats.open, 1);
  }));

test("fetch: a Response never read closes its connection once collected", () =>
  withFetch(async (ours, url, manager) => {
    const pool = manager.connectionFromUrl(url);
    let ref: WeakRef<Response>;
    // In a function of its own, so that no stack slot keeps the Response.
    await (async () => {
      ref = new WeakRef(await ours(`${url}/large`));
    })();
    assert.equal(pool.stats.inUse, 1);
    assert.ok(await isCollected(ref!), "the Response was collected");
    await waitFor(() => pool.stats.inUse === 0, "the connection released");
  }));

test("fetch: a body read through its reader goes on when its Response is collected", () =>
  withFetch(async (ours, url, manager) => {
    const pool = manager.connectionFromUrl(url);
    let ref: WeakRef<Response>;
    const reader = await (async () => {
      const response = await ours(`${url}/large`);
      ref = new WeakRef(response);
      return response.body!.getReader();
    })();
    assert.ok(await isCollected(ref!), "the Response was collected");
    let size = 0;
    for (let step = await reader.read(); !step.done; step = await reader.read()) {
      size += step.value.length;
    }
    assert.equal(size, LARGE.length);
    assert.equal(pool.stats.open, 1);
  }));

test("fetch: defaults apply to every call and init.pooled overrides them", () =>
  withFetch(async (_ours, url, manager) => {
    const strict = createFetch(manager, { maxResponseSize: 10 });
    // Its Content-Length says at once that it is too large; a chunked one fails to read.
    const error = await rejects(strict(`${url}/large`));
    assert.ok((error as TypeError).cause instanceof ResponseTooLargeError);
    const chunked = await strict(`${url}/chunked`);
    const late = await rejects(chunked.text());
    assert.equal((late as TypeError).message, "terminated");
    assert.ok((late as TypeError).cause instanceof ResponseTooLargeError);
    const big = await strict(`${url}/large`, { pooled: { maxResponseSize: null } });
    assert.equal((await big.arrayBuffer()).byteLength, LARGE.length);
  }));

test("fetch: the module-level fetch uses the module-wide manager", async () => {
  const server = await startServer();
  try {
    const r = await pooledFetch(`${server.url}/echo`);
    assert.equal((await r.json() as Echo).method, "GET");
    const pool = sharedPoolManager().connectionFromUrl(server.url);
    assert.equal(pool.stats.open, 1);
  } finally {
    await sharedPoolManager().clear();
    await server.close();
  }
});

// ---- a real client: ky ---------------------------------------------------------------------

test("ky through createFetch: JSON GET, JSON POST, a retry on 503", async () => {
  let flaky = 0;
  const { server } = await keepAliveServer((req, _id, conn) => {
    const path = new URL(req.target, "http://server").pathname;
    if (path === "/flaky" && flaky++ === 0) {
      return reply(conn, req, { status: 503, body: "busy" });
    }
    if (path === "/echo") return reply(conn, req, echo(req));
    return reply(conn, req, {
      headers: [["Content-Type", "application/json"]],
      body: JSON.stringify({ hello: "world", path }),
    });
  });
  await using manager = new PoolManager();
  try {
    const api = ky.create({
      fetch: createFetch(manager),
      prefixUrl: server.url,
      retry: { limit: 2, delay: () => 0 },
      timeout: false,
    });
    assert.deepEqual(await api.get("thing").json(), { hello: "world", path: "/thing" });
    const posted = await api.post("echo", { json: { a: 1 } }).json<Echo>();
    assert.equal(posted.method, "POST");
    assert.equal(posted.headers["content-type"], "application/json");
    assert.equal(posted.body, '{"a":1}');
    assert.deepEqual(await api.get("flaky").json(), { hello: "world", path: "/flaky" });
    assert.equal(flaky, 2);
  } finally {
    await manager.close();
    await server.close();
  }
});
