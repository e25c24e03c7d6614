/**
 * The CLI: argument parsing and load statistics as pure functions, then `main()` end to end
 * against loopback servers (its output captured through `CliIo`).
 */

import { assert, test } from "./_harness.ts";
import { CA_CERT, SERVER_TLS } from "./_certs.ts";
import { serveHttp, unusedPort } from "./_servers.ts";
import { missingBinary, startMicrosocks, startTinyproxy } from "./_proxies.ts";
import { type CliIo, main } from "../cli.ts";
import {
  normalizeUrl,
  parseCliArgs,
  parseDuration,
  splitItem,
  UsageError,
} from "../src/cli/args.ts";
import {
  formatProgress,
  formatSummary,
  LoadRecorder,
  percentile,
  summarize,
} from "../src/cli/load_stats.ts";

function usageError(args: string[]): string {
  try {
    parseCliArgs(args);
  } catch (error) {
    assert.ok(error instanceof UsageError, `expected a UsageError, got ${error}`);
    return error.message;
  }
  throw new assert.AssertionError({ message: `parsed ${JSON.stringify(args)}` });
}

// --- parsing -----------------------------------------------------------------------------------

test("cli args: URL alone is a GET; fields make it a POST; an explicit method wins", () => {
  const get = parseCliArgs(["http://127.0.0.1:8080/x"]);
  assert.equal(get.mode, "request");
  assert.equal(get.method, "GET");
  assert.equal(get.url, "http://127.0.0.1:8080/x");
  assert.equal(parseCliArgs(["127.0.0.1/x", "a=1"]).method, "POST");
  assert.equal(parseCliArgs(["put", "127.0.0.1/x", "a=1"]).method, "PUT");
  assert.equal(parseCliArgs(["DELETE", "127.0.0.1/x"]).method, "DELETE");
});

test("cli args: request items are headers, string fields, JSON fields and query parameters", () => {
  const cmd = parseCliArgs([
    "POST",
    ":8080/items?x=1",
    "X-Trace:abc",
    "Accept: text/plain",
    "name=pooled",
    "size:=3",
    'tags:=["a","b"]',
    "q==two words",
    "url=http://a/b?c=d",
  ]);
  assert.equal(cmd.url, "http://localhost:8080/items?x=1&q=two+words");
  assert.deepEqual(cmd.headers, [["X-Trace", "abc"], ["Accept", "text/plain"]]);
  assert.deepEqual(cmd.fields, [
    ["name", "pooled"],
    ["size", 3],
    ["tags", ["a", "b"]],
    ["url", "http://a/b?c=d"],
  ]);
});

test("cli args: an item splits at its first separator, the longest at one place", () => {
  assert.deepEqual(splitItem("a:=1"), ["a", ":=", "1"]);
  assert.deepEqual(splitItem("a==b=c"), ["a", "==", "b=c"]);
  assert.deepEqual(splitItem("Host:x:1"), ["Host", ":", "x:1"]);
  assert.deepEqual(splitItem("a=b:c"), ["a", "=", "b:c"]);
  assert.equal(splitItem("plain"), null);
});

test("cli args: URL shorthands and schemes", () => {
  assert.equal(normalizeUrl("example.test/a"), "http://example.test/a");
  assert.equal(normalizeUrl(":3000"), "http://localhost:3000");
  assert.equal(normalizeUrl("https://127.0.0.1/"), "https://127.0.0.1/");
  assert.match(
    usageError(["ftp://x/"]),
    /Only http and https URLs are supported: "ftp:\/\/x\/"/,
  );
  assert.match(usageError(["http://[bad/"]), /Invalid URL: "http:\/\/\[bad\/"/);
});

test("cli args: options with values, inline or separate", () => {
  const cmd = parseCliArgs([
    "--timeout=2.5",
    "--retries",
    "0",
    "--ca",
    "ca.pem",
    "-k",
    "--proxy",
    "http://127.0.0.1:3128",
    "-f",
    "-v",
    "https://localhost/",
    "a=b",
  ]);
  assert.equal(cmd.timeoutMs, 2500);
  assert.equal(cmd.retries, 0);
  assert.equal(cmd.caFile, "ca.pem");
  assert.equal(cmd.insecure, true);
  assert.equal(cmd.proxy, "http://127.0.0.1:3128/");
  assert.equal(cmd.form, true);
  assert.equal(cmd.verbose, true);
  assert.equal(cmd.load, undefined);
});

test("cli args: load mode from -n, -c, -d with their defaults", () => {
  assert.deepEqual(parseCliArgs(["-n", "500", ":8080"]).load, {
    requests: 500,
    concurrency: 10,
    durationMs: undefined,
  });
  assert.deepEqual(parseCliArgs(["-c", "4", ":8080"]).load, {
    requests: 1000,
    concurrency: 4,
    durationMs: undefined,
  });
  const timed = parseCliArgs(["-d", "1.5s", "-c", "2", ":8080"]);
  assert.equal(timed.mode, "load");
  assert.deepEqual(timed.load, { requests: undefined, concurrency: 2, durationMs: 1500 });
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration("2m"), 120_000);
  assert.equal(parseDuration("3"), 3000);
});

test("cli args: bad arguments say what is wrong and the value", () => {
  assert.match(usageError([]), /A URL is needed/);
  assert.match(usageError(["GET"]), /A URL is needed after GET/);
  assert.match(usageError(["--nope", ":80"]), /Unknown option: "--nope"/);
  assert.match(usageError([":80", "-n"]), /-n needs a value/);
  assert.match(usageError(["-n", "0", ":80"]), /-n needs a positive integer: "0"/);
  assert.match(usageError(["-c", "2.5", ":80"]), /-c needs a positive integer: "2.5"/);
  assert.match(usageError(["-d", "soon", ":80"]), /-d needs a duration .*: "soon"/);
  assert.match(
    usageError(["--timeout", "-1", ":80"]),
    /--timeout needs a positive number: "-1"/,
  );
  assert.match(usageError(["--retries", "x", ":80"]), /--retries needs a non-negative integer/);
  assert.match(usageError([":80", "oops"]), /Cannot read request item: "oops"/);
  assert.match(usageError([":80", "a:=nope"]), /a:= needs JSON: "nope"/);
  assert.match(usageError([":80", "bad name:x"]), /Invalid header name: "bad name"/);
  assert.match(usageError(["-f", ":80", "a:=1"]), /--form cannot send raw JSON items: a:=1/);
  assert.match(usageError(["--proxy", "nope", ":80"]), /--proxy needs a URL .*: "nope"/);
  assert.match(usageError(["-v", "-b", ":80"]), /-v and -b cannot be used together/);
  assert.match(usageError(["-k=1", ":80"]), /Unknown option: "-k=1"/);
  assert.match(usageError(["--insecure=1", ":80"]), /--insecure takes no value/);
});

// --- statistics --------------------------------------------------------------------------------

test("load stats: nearest-rank percentiles", () => {
  const values = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(values, 50), 50);
  assert.equal(percentile(values, 90), 90);
  assert.equal(percentile(values, 99), 99);
  assert.equal(percentile(values, 100), 100);
  assert.equal(percentile(values, 0), 1);
  assert.equal(percentile([7], 99), 7);
  assert.ok(Number.isNaN(percentile([], 50)));
  assert.throws(() => percentile(values, 101), RangeError);
});

test("load stats: summary of statuses, errors, rate and connections", () => {
  const recorder = new LoadRecorder();
  for (let i = 1; i <= 8; i++) recorder.record(i, 200);
  recorder.record(20, 503);
  recorder.record(100, "ERR_READ_TIMEOUT");
  const summary = summarize(recorder, 2000, 3);
  assert.equal(summary.requests, 10);
  assert.equal(summary.errors, 1);
  assert.equal(summary.rps, 5);
  assert.equal(summary.p50, 5);
  assert.equal(summary.p90, 20);
  assert.equal(summary.p99, 100);
  assert.deepEqual(summary.outcomes, [["200", 8], ["503", 1], ["ERR_READ_TIMEOUT", 1]]);
  const text = formatSummary(summary);
  assert.match(text, /requests {5}10 in 2\.00 s, 5 req\/s/);
  assert.match(text, /latency {6}p50 5\.00 ms {2}p90 20\.0 ms {2}p99 100\.0 ms/);
  assert.match(text, /outcomes {5}200=8 503=1 ERR_READ_TIMEOUT=1/);
  assert.match(text, /connections {2}3 opened for 10 requests \(3\.3 requests per connection\)/);
  assert.equal(
    formatProgress(recorder, 50, 1000, 3),
    "10/50 requests  10 req/s  200=8 503=1 ERR_READ_TIMEOUT=1  connections=3",
  );
});

test("load stats: an empty run reports n/a, not NaN", () => {
  const summary = summarize(new LoadRecorder(), 0, 0);
  assert.equal(summary.rps, 0);
  assert.match(formatSummary(summary), /p50 n\/a/);
  assert.match(formatSummary(summary), /outcomes {5}none/);
});

// --- end to end --------------------------------------------------------------------------------

/** A CliIo that records what the CLI prints. */
function capture(files: Record<string, string> = {}, tty = false) {
  const decoder = new TextDecoder();
  const io = {
    stdout: "",
    stderr: "",
    errIsTty: tty,
    out(text: string | Uint8Array) {
      io.stdout += typeof text === "string" ? text : decoder.decode(text);
    },
    err(text: string) {
      io.stderr += text;
    },
    readTextFile(path: string) {
      return path in files
        ? Promise.resolve(files[path])
        : Promise.reject(new Error(`no such file: ${path}`));
    },
  } satisfies CliIo & { stdout: string; stderr: string };
  return io;
}

async function echoServer(options: { tls?: typeof SERVER_TLS } = {}) {
  return await serveHttp(async (req) => {
    const url = new URL(req.url);
    const body = await req.text();
    return Response.json({
      method: req.method,
      path: url.pathname + url.search,
      contentType: req.headers.get("content-type"),
      trace: req.headers.get("x-trace"),
      body,
    });
  }, options);
}

test("cli: request mode sends JSON fields and prints the response head and body", async () => {
  const server = await echoServer();
  try {
    const io = capture();
    const code = await main(["POST", `${server.url}/items`, "X-Trace:7", "a=1", "b:=true"], io);
    assert.equal(code, 0, io.stderr);
    assert.match(io.stdout, /^HTTP\/1\.1 200 OK\n/);
    assert.match(io.stdout, /content-type: application\/json/i);
    const body = JSON.parse(io.stdout.slice(io.stdout.indexOf("\n\n") + 2));
    assert.deepEqual(body, {
      method: "POST",
      path: "/items",
      contentType: "application/json",
      trace: "7",
      body: '{"a":"1","b":true}',
    });
  } finally {
    await server.close();
  }
});

test("cli: -v shows the request; --form sends urlencoded fields; -b prints the body only", async () => {
  const server = await echoServer();
  try {
    const verbose = capture();
    assert.equal(await main(["-v", "-f", `${server.url}/f`, "q==1", "name=a b"], verbose), 0);
    assert.match(verbose.stdout, /^POST \/f\?q=1 HTTP\/1\.1\nHost: 127\.0\.0\.1:\d+\n/);
    assert.match(
      verbose.stdout,
      /Content-Type: application\/x-www-form-urlencoded; charset=utf-8\n/,
    );
    assert.match(verbose.stdout, /Content-Length: 8\n\nname=a\+b\n\nHTTP\/1\.1 200 OK\n/);

    const bodyOnly = capture();
    assert.equal(await main(["-b", `${server.url}/b`], bodyOnly), 0);
    assert.equal(JSON.parse(bodyOnly.stdout).path, "/b");
  } finally {
    await server.close();
  }
});

test("cli: --ca trusts a file's certificates; --insecure skips verification", async () => {
  const server = await echoServer({ tls: SERVER_TLS });
  try {
    const url = `https://localhost:${server.port}/tls`;
    const trusted = capture({ "ca.pem": CA_CERT });
    assert.equal(await main(["--ca", "ca.pem", "-b", url], trusted), 0, trusted.stderr);
    assert.equal(JSON.parse(trusted.stdout).path, "/tls");

    const insecure = capture();
    assert.equal(await main(["-k", "-b", url], insecure), 0, insecure.stderr);

    const untrusted = capture();
    assert.equal(await main(["--retries", "0", url], untrusted), 1);
    assert.match(untrusted.stderr, /^pooled: ERR_MAX_RETRIES: .*\(ERR_SSL: /);

    const missing = capture();
    assert.equal(await main(["--ca", "nope.pem", url], missing), 2);
    assert.match(missing.stderr, /Cannot read the --ca file nope\.pem: /);
  } finally {
    await server.close();
  }
});

test("cli: a refused connection exits 1 with the error code; bad arguments exit 2", async () => {
  const port = await unusedPort();
  const refused = capture();
  assert.equal(await main(["--retries", "0", `http://127.0.0.1:${port}/`], refused), 1);
  assert.match(refused.stderr, /ERR_MAX_RETRIES: .*ERR_NEW_CONNECTION/);

  const bad = capture();
  assert.equal(await main(["-n", "many", ":80"], bad), 2);
  assert.match(bad.stderr, /^pooled: -n needs a positive integer: "many"\n\nusage: pooled/);
  assert.equal(bad.stdout, "");
});

test("cli: load mode reports requests, percentiles, statuses and connections", async () => {
  let served = 0;
  const server = await serveHttp(() => {
    served++;
    return new Response("ok");
  });
  try {
    const io = capture({}, true);
    assert.equal(await main(["-n", "200", "-c", "4", `${server.url}/`], io), 0, io.stderr);
    assert.equal(served, 200);
    assert.match(io.stdout, /requests {5}200 in \d+\.\d\d s, \d+ req\/s/);
    assert.match(io.stdout, /latency {6}p50 [\d.]+ ms {2}p90 [\d.]+ ms {2}p99 [\d.]+ ms/);
    assert.match(io.stdout, /outcomes {5}200=200\n/);
    const opened = Number(/connections {2}(\d+) opened for 200 requests/.exec(io.stdout)?.[1]);
    assert.ok(opened >= 1 && opened <= 4, `opened ${opened} connections for concurrency 4`);
    // The progress line is cleared at the end (a TTY was claimed).
    assert.ok(io.stderr.endsWith("\r\x1b[2K"), JSON.stringify(io.stderr.slice(-20)));

    const timed = capture();
    assert.equal(await main(["-d", "300ms", "-c", "2", `${server.url}/`], timed), 0);
    assert.match(timed.stdout, /outcomes {5}200=\d+\n/);
    assert.equal(timed.stderr, "", "no progress line without a TTY");
  } finally {
    await server.close();
  }
});

test("cli: load mode counts errors by code and exits 1 when every request failed", async () => {
  const port = await unusedPort();
  const io = capture();
  assert.equal(await main(["-n", "5", "-c", "2", "--retries", "0", `:${port}/`], io), 1);
  assert.match(io.stdout, /outcomes {5}ERR_MAX_RETRIES=5/);
});

test("cli: --help and --version exit 0", async () => {
  const help = capture();
  assert.equal(await main(["--help"], help), 0);
  assert.match(help.stdout, /^usage: pooled \[METHOD\] URL/);
  const version = capture();
  assert.equal(await main(["--version"], version), 0);
  assert.match(version.stdout, /^pooled \d+\.\d+\.\d+\n$/);
});

test("cli: --proxy sends the request through a real HTTP proxy (tinyproxy) or SOCKS5 (microsocks)", async () => {
  const server = await echoServer();
  const proxies = [
    missingBinary("tinyproxy") ? null : await startTinyproxy(),
    missingBinary("microsocks") ? null : await startMicrosocks(),
  ].filter((proxy) => proxy !== null);
  try {
    for (const proxy of proxies) {
      const url = proxy.url.startsWith("socks")
        ? proxy.url.replace(/^socks5/, "socks5h")
        : proxy.url;
      const io = capture();
      assert.equal(await main(["--proxy", url, "-b", `${server.url}/via`], io), 0, io.stderr);
      assert.equal(JSON.parse(io.stdout).path, "/via", url);
    }
  } finally {
    for (const proxy of proxies) await proxy.close();
    await server.close();
  }
});
