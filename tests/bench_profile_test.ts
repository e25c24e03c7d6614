/**
 * The comparison runner's pure helpers (`bench/`): its profile and count options, and the
 * report's rows, ranges and table with a row per profile.
 */

import { assert, test } from "./_harness.ts";
import { numberOption } from "../bench/lib/args.ts";
import {
  DEFAULT_REQUEST_COUNTS,
  profileOption,
  requestCountsOption,
  shortRequestCount,
} from "../bench/lib/profile.ts";
import {
  markdownTables,
  range,
  rateCell,
  roundOrder,
  rowsOf,
  targetSummary,
} from "../bench/lib/report.ts";
import { neededRawShare, targetMet, targetOf, targetText } from "../bench/lib/targets.ts";
import { ReplyScanner } from "../bench/lib/raw_client.ts";
import type { Measurement, WorkerResult } from "../bench/lib/client_worker.ts";

test("bench profile: --profile takes long, short or both, in report order", () => {
  assert.deepEqual(profileOption("both"), ["long", "short"]);
  assert.deepEqual(profileOption("short"), ["short"]);
  assert.deepEqual(profileOption("short,long"), ["long", "short"]);
  assert.throws(() => profileOption("brief"), /--profile: unknown "brief"/);
});

test("bench profile: --requests sets the counts at c=1 and above, one number both", () => {
  assert.deepEqual(requestCountsOption("20000,60000"), DEFAULT_REQUEST_COUNTS);
  const small = requestCountsOption("2000");
  assert.deepEqual(small, { single: 2000, parallel: 2000, large: DEFAULT_REQUEST_COUNTS.large });
  assert.equal(shortRequestCount(DEFAULT_REQUEST_COUNTS, "plain", 1), 20_000);
  assert.equal(shortRequestCount(DEFAULT_REQUEST_COUNTS, "tls", 32), 60_000);
  assert.equal(shortRequestCount(DEFAULT_REQUEST_COUNTS, "large", 4), 2_000);
  assert.throws(() => requestCountsOption("1,2,3"), /--requests takes one or two counts/);
  assert.throws(() => requestCountsOption("1.5"), /--requests must be a positive integer/);
  assert.throws(() => numberOption("rounds", "0", true), /--rounds must be a positive integer/);
  assert.equal(numberOption("warmup", "0", false, true), 0);
});

test("bench report: clients rotate from round to round, raw only for GETs", () => {
  assert.deepEqual(roundOrder(["peer", "pooled", "raw"], "plain", 1), ["pooled", "raw", "peer"]);
  assert.deepEqual(roundOrder(["peer", "pooled", "raw"], "large", 1), ["pooled", "raw", "peer"]);
  assert.deepEqual(roundOrder(["peer", "pooled", "raw"], "post", 1), ["pooled", "peer"]);
});

const encoder = new TextEncoder();

test("bench raw client: a body split across reads is copied whole, then let go", () => {
  const scanner = new ReplyScanner();
  scanner.begin();
  const head = encoder.encode("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nab");
  assert.equal(scanner.feed(head, head.length), false);
  const rest = encoder.encode("cdefXX");
  assert.equal(scanner.feed(rest, 4), true);
  assert.equal(scanner.status, 200);
  assert.deepEqual(scanner.body, encoder.encode("abcdef"));
  scanner.begin();
  assert.equal(scanner.body, null);
  const whole = encoder.encode("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
  assert.equal(scanner.feed(whole, whole.length), true);
  assert.equal(scanner.bodyLength, 2);
  assert.deepEqual(scanner.body, encoder.encode("ok"));
  const tooLong = encoder.encode("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nok");
  assert.throws(
    () => new ReplyScanner().feed(tooLong, tooLong.length),
    /2 bytes after the head/,
  );
});

function runs(
  profile: Measurement["profile"],
  client: Measurement["client"],
  rates: number[],
): Measurement[] {
  return rates.map((rps, round) => ({
    profile,
    client,
    case: "plain",
    concurrency: 1,
    round,
    requests: rps,
    seconds: 1,
    rps,
  }));
}

/** A worker's result on `runtime` with `fetch` as its peer. */
function fetchResult(runtime: string, measurements: Measurement[]): WorkerResult {
  return { runtime, version: "0", peer: "fetch", measurements };
}

test("bench report: a row per profile with medians and min–max, long beside short", () => {
  const result = fetchResult("deno", [
    ...runs("short", "peer", [1000, 3000, 2000]),
    ...runs("short", "pooled", [4000, 4000, 4000]),
    ...runs("long", "peer", [5000]),
    ...runs("long", "pooled", [10000]),
  ]);
  const rows = rowsOf(result);
  assert.deepEqual(rows.map((row) => [row.profile, row.peerRate, row.ratio]), [
    ["short", 2000, 2],
    ["long", 5000, 2],
  ]);
  assert.deepEqual(rows[0].peerRange, [1000, 3000]);
  assert.equal(range([]), null);
  assert.equal(rateCell(2000, [1000, 3000], "req/s"), "2,000 (1,000–3,000)");
  assert.equal(rateCell(4000, [4000, 4000], "req/s"), "4,000");
  assert.equal(rateCell(null, null, "req/s"), "n/a");
  const lines = markdownTables(rows).split("\n");
  assert.equal(
    lines[2],
    "| runtime | peer | case | concurrency | profile | peer req/s | pooled req/s | pooled/peer | target |",
  );
  assert.equal(lines[4], "| deno | fetch | plain | 1 | long | 5,000 | 10,000 | **2.00x** | 1.6x |");
  assert.equal(
    lines[5],
    "| deno | fetch | plain | 1 | short | 2,000 (1,000–3,000) | 4,000 | **2.00x** | 1.6x |",
  );
});

test("bench targets: per runtime, case and concurrency; bodies and POSTs at least the peer", () => {
  assert.deepEqual(targetOf("deno", "plain", 32), { peer: 3.0, raw: 0.9 });
  assert.deepEqual(targetOf("node", "large", 4), { peer: 1.0 });
  assert.deepEqual(targetOf("bun", "post", 32), { peer: 1.0 });
  assert.equal(targetOf("deno", "plain", 4), null);
  assert.equal(targetOf("workerd", "plain", 1), null);
  assert.equal(targetText({ peer: 3, raw: 0.9 }), "3.0x, 90% of raw");
  const target = { peer: 3, raw: 0.9 };
  assert.equal(targetMet(target, 3.4, 340 / 370), true);
  assert.equal(targetMet(target, 3.4, 340 / 440), false);
  assert.equal(targetMet(target, 2.9, 290 / 300), false);
  assert.equal(targetMet(target, 3.4, null), null);
  assert.equal(targetMet(target, null, null), null);
  assert.equal(targetMet({ peer: 1 }, 1, null), true);
  // 3.0x of a peer that raw beats 4.4 times is 68% of raw; the 90% asked is more.
  assert.equal(neededRawShare(target, 4.4), 0.9);
  assert.equal(neededRawShare({ peer: 1.8 }, 1.5), 1.2);
  assert.equal(neededRawShare({ peer: 1.8 }, null), null);
});

test("bench report: raw columns say what the target asks of raw, the summary what was missed", () => {
  const atConcurrency = (runs: Measurement[], concurrency: number) =>
    runs.map((m) => ({ ...m, concurrency }));
  const bun = fetchResult(
    "bun",
    atConcurrency([
      ...runs("long", "peer", [100_000]),
      ...runs("long", "pooled", [158_000]),
      ...runs("long", "raw", [181_000]),
      ...runs("short", "peer", [100_000]),
      ...runs("short", "pooled", [190_000]),
      ...runs("short", "raw", [185_000]),
    ], 32),
  );
  const deno = fetchResult(
    "deno",
    atConcurrency([
      ...runs("long", "peer", [30_000]),
      ...runs("long", "pooled", [84_000]),
      ...runs("long", "raw", [87_000]),
    ], 32),
  );
  const rows = [...rowsOf(bun), ...rowsOf(deno)];
  const lines = markdownTables(rows).split("\n");
  assert.equal(
    lines[2],
    "| runtime | peer | case | concurrency | profile | peer req/s | pooled req/s | raw req/s | pooled/peer | target | pooled/raw | target needs of raw |",
  );
  assert.equal(
    lines[4],
    "| bun | fetch | plain | 32 | long | 100,000 | 158,000 | 181,000 | 1.58x | 1.8x | 87% | 99% |",
  );
  assert.equal(
    lines[5],
    "| bun | fetch | plain | 32 | short | 100,000 | 190,000 | 185,000 | **1.90x** | 1.8x | 103% | 97% |",
  );
  assert.equal(
    targetSummary(rows),
    [
      "Targets met: 1 of 3 cells.",
      "- bun plain c=32 long: 1.58x, 87% of raw against 1.8x (the target needs 99% of raw)",
      "- deno plain c=32 long: 2.80x, 97% of raw against 3.0x, 90% of raw " +
      "(the target needs 103% of raw, more than the raw loop itself reached)",
    ].join("\n"),
  );
});
