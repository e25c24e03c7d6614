/**
 * The HTTP/2 benchmark's pure helpers (`bench/`): h2load's command line and report, the
 * nginx HTTP/2 configuration for old and new nginx, and the report's rows and tables.
 */

import { assert, test } from "./_harness.ts";
import { h2loadArgs, parseH2loadOutput } from "../bench/lib/h2load.ts";
import {
  h2MarkdownTables,
  type H2Measurement,
  h2RowsOf,
  type H2WorkerResult,
  rotate,
} from "../bench/lib/h2_report.ts";
import { hasHttp2Directive, nginxH2HttpBlock } from "../bench/servers/nginx_h2.ts";
import type { SelfSignedCert } from "../bench/lib/self_signed.ts";

/** An h2load 1.52 report, as it prints it (trimmed of the latency tables' middle). */
const H2LOAD_REPORT = `starting benchmark...
spawning thread #0: 1 total client(s). Timing-based test with 0s of warm-up time and 1s of main duration for measurements.
Warm-up started for thread #0.
progress: 10% of clients started
Warm-up phase is over for thread #0.
Main benchmark duration is started for thread #0.
TLS Protocol: TLSv1.3
Cipher: TLS_AES_256_GCM_SHA384
Server Temp Key: X25519 253 bits
Application protocol: h2
Main benchmark duration is over for thread #0. Stopping all clients.
Stopped all clients for thread #0

finished in 1.00s, 63036.00 req/s, 2.34MB/s
requests: 63036 total, 63036 started, 63036 done, 63036 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 63036 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 2.34MB (2453070) total, 617.88KB (632712) headers (space savings 90.20%), 738.70KB (756432) data
                     min         max         mean         sd        +/- sd
time for request:      226us      1.96ms       488us       114us    80.24%
req/s           :   63035.12    63035.12    63035.12        0.00   100.00%
`;

test("bench h2: h2load runs one connection, -m streams, timed in milliseconds or counted", () => {
  assert.deepEqual(h2loadArgs("https://127.0.0.1:1/", 32, { seconds: 2, warmup: 0.5 }), [
    "-c1",
    "-m32",
    "-t1",
    "-D2000ms",
    "--warm-up-time=500ms",
    "https://127.0.0.1:1/",
  ]);
  assert.deepEqual(h2loadArgs("https://127.0.0.1:1/large", 4, { seconds: 1, warmup: 0 }), [
    "-c1",
    "-m4",
    "-t1",
    "-D1000ms",
    "https://127.0.0.1:1/large",
  ]);
  assert.deepEqual(h2loadArgs("https://127.0.0.1:1/", 1, { requests: 20_000 }), [
    "-c1",
    "-m1",
    "-t1",
    "-n20000",
    "https://127.0.0.1:1/",
  ]);
});

test("bench h2: h2load's report gives req/s, the duration, failures and the protocol", () => {
  assert.deepEqual(parseH2loadOutput(H2LOAD_REPORT), {
    rps: 63036,
    seconds: 1,
    succeeded: 63036,
    failed: 0,
    protocol: "h2",
  });
  const short = H2LOAD_REPORT
    .replace("finished in 1.00s, 63036.00", "finished in 250.50ms, 798.40")
    .replace(
      "63036 succeeded, 0 failed, 0 errored, 0 timeout",
      "190 succeeded, 4 failed, 5 errored, 1 timeout",
    )
    .replace("Application protocol: h2\n", "");
  assert.deepEqual(parseH2loadOutput(short), {
    rps: 798.4,
    seconds: 0.2505,
    succeeded: 190,
    failed: 10,
    protocol: null,
  });
  assert.throws(
    () => parseH2loadOutput("connect to 127.0.0.1:1 failed\nNo protocol negotiated\n"),
    /Cannot read the h2load report: "connect to 127\.0\.0\.1:1 failed \/ No protocol negotiated"/,
  );
});

test("bench h2: nginx turns HTTP/2 on with http2 on from 1.25.1, on the listen line before", () => {
  assert.equal(hasHttp2Directive("1.22.1"), false);
  assert.equal(hasHttp2Directive("1.25.0"), false);
  assert.equal(hasHttp2Directive("1.25.1"), true);
  assert.equal(hasHttp2Directive("1.27.4"), true);
  assert.equal(hasHttp2Directive("2.0.0"), true);
  const cert: SelfSignedCert = { certFile: "/c.pem", keyFile: "/k.pem", certPem: "", keyPem: "" };
  const old = nginxH2HttpBlock(8443, cert, "/tmp/d", "1.22.1");
  assert.match(old, /listen 127\.0\.0\.1:8443 ssl http2;/);
  assert.doesNotMatch(old, /http2 on;/);
  const modern = nginxH2HttpBlock(8443, cert, "/tmp/d", "1.26.2");
  assert.match(modern, /listen 127\.0\.0\.1:8443 ssl;\n\s+http2 on;/);
  for (const block of [old, modern]) {
    assert.match(block, /add_header X-Protocol \$server_protocol always;/);
    assert.match(block, /location = \/large \{[^}]*alias \/tmp\/d\/large\.bin;/);
  }
});

test("bench h2: clients rotate from round to round", () => {
  assert.deepEqual(rotate(["a", "b", "c"], 0), ["a", "b", "c"]);
  assert.deepEqual(rotate(["a", "b", "c"], 4), ["b", "c", "a"]);
  assert.deepEqual(rotate([], 3), []);
});

function runs(
  client: H2Measurement["client"],
  rates: (number | null)[],
  extra: Partial<H2Measurement> = {},
): H2Measurement[] {
  return rates.map((rps, round) => ({
    profile: "long",
    client,
    case: "small",
    concurrency: 32,
    round,
    requests: rps ?? 0,
    seconds: 1,
    rps,
    ...rps === null ? { error: "spoke HTTP/1.1, not HTTP/2.0" } : {},
    ...extra,
  }));
}

test("bench h2: a row per case, concurrency and profile with each client's median and ratios", () => {
  const result: H2WorkerResult = {
    runtime: "deno",
    version: "2.9.6",
    peer: "fetch",
    measurements: [
      ...runs("peer", [10_000, 12_000, 11_000], { protocol: "HTTP/2.0" }),
      ...runs("pooled", [33_000, 30_000, 36_000], { protocol: "HTTP/2.0" }),
      ...runs("pooled-h1", [40_000, 44_000, 42_000], { protocol: "HTTP/1.1" }),
      ...runs("h2load", [66_000, 66_000, 66_000]),
      ...runs("pooled", [null], { profile: "short", protocol: "HTTP/1.1" }),
      ...runs("peer", [1_000], { profile: "short", case: "large", concurrency: 4 }),
    ],
  };
  const rows = h2RowsOf(result);
  assert.equal(rows.length, 3);
  const [long, short, large] = rows;
  assert.equal(long.peer, "fetch (HTTP/2.0)");
  assert.deepEqual(long.rates.pooled, { rate: 33_000, range: [30_000, 36_000] });
  assert.equal(long.ratioPeer, 3);
  assert.equal(long.ratioH1, 33_000 / 42_000);
  assert.equal(long.ratioH2load, 0.5);
  assert.deepEqual(long.errors, []);
  assert.equal(short.profile, "short");
  assert.equal(short.rates.pooled.rate, null);
  assert.deepEqual(short.pooledOther, ["HTTP/1.1"]);
  assert.deepEqual(long.pooledOther, []);
  assert.equal(short.ratioPeer, null);
  assert.deepEqual(short.errors, ["pooled: spoke HTTP/1.1, not HTTP/2.0"]);
  assert.equal(large.unit, "MB/s");
  assert.equal(large.rates.peer.rate, 1_000 * (1 << 20) / 1e6);
  const text = h2MarkdownTables(rows);
  assert.match(text, /^HTTP\/2 over TLS, keep-alive GET, 12-byte body \(req\/s\):/);
  assert.match(
    text,
    /\| deno \| fetch \(HTTP\/2\.0\) \| 32 \| long \| 11,000 \(10,000–12,000\) \| 33,000 \(30,000–36,000\) \| 42,000 \(40,000–44,000\) \| 66,000 \| 3\.00x \| 0\.79x \| 0\.50x \|/,
  );
  // What pooled spoke when it was not HTTP/2 stands in its cell (measured, with
  // --no-version-check, or as here a failed run).
  assert.match(
    text,
    /\| deno \| fetch \| 32 \| short \| n\/a \| n\/a over HTTP\/1\.1 \| n\/a \| n\/a \| n\/a \| n\/a \| n\/a \|/,
  );
  assert.match(
    text,
    /HTTP\/2 over TLS, GET, 1 MiB body \(MB\/s\):[\s\S]*\| 4 \| short \| 1,048\.6 \|/,
  );
});
