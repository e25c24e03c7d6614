/**
 * Fuzzing of `ResponseParser`, driven directly (no sockets), with a seeded PRNG:
 *
 * - every response of a corpus of valid ones, split at every byte offset and in random
 *   chunkings, gives exactly the events of the one-piece parse;
 * - random mutations of those responses (byte flips, insertions, deletions, truncations,
 *   huge sizes) end in a `ProtocolError` (or subclass) or in a parse, never in another
 *   exception; a mutated input parses the same in one piece as in random pieces; and the
 *   bytes the parser keeps between pieces stay under its limits.
 *
 * A hang (a parser loop that makes no progress) fails the run by the runner's time limit.
 * The run is bounded in time: `POOLED_FUZZ_SECONDS` (default 20) seconds for the whole
 * file, per runtime. A failure prints the seed; rerun it with `POOLED_FUZZ_SEED`:
 *
 * ```sh
 * POOLED_FUZZ_SECONDS=600 deno test -A tests/http1/response_parser_fuzz_test.ts   # or: deno task fuzz
 * POOLED_FUZZ_SEED=1234 bun test ./tests/http1/response_parser_fuzz_test.ts
 * ```
 */

import { assert, test } from "../_harness.ts";
import { ProtocolError } from "../../src/errors.ts";
import type { ParserLimits, ResponseParser } from "../../src/http1/response_parser.ts";
import { bytes, type Outcome, run, type RunOptions, splits } from "./_parser_driver.ts";
import { prng } from "../_prng.ts";

const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process
  ?.env ?? {};
const SECONDS = Number(env.POOLED_FUZZ_SECONDS ?? 20);
const FIRST_SEED = env.POOLED_FUZZ_SEED === undefined
  ? Math.floor(Math.random() * 2 ** 32)
  : Number(env.POOLED_FUZZ_SEED);
if (!(SECONDS > 0) || !Number.isInteger(FIRST_SEED)) {
  throw new RangeError(
    `POOLED_FUZZ_SECONDS must be > 0 and POOLED_FUZZ_SEED an integer: ${SECONDS}, ${FIRST_SEED}`,
  );
}
/** The longest chunk-size line the parser keeps (response_parser.ts MAX_CHUNK_SIZE_LINE). */
const MAX_CHUNK_SIZE_LINE = 4096;

type Random = () => number;
const below = (random: Random, n: number) => Math.floor(random() * n);

// ---------------------------------------------------------------------------------------
// Corpus

interface Sample {
  name: string;
  input: string;
  method?: string;
  /** The body runs to the close: the run ends with `finish()`. */
  finish?: boolean;
}

const CORPUS: Sample[] = [
  { name: "Content-Length", input: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello" },
  {
    name: "chunked with extensions and trailers",
    input: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
      '5;name=value;q="quoted ; x"\r\nhello\r\n6 \t; ext\r\n world\r\n' +
      "A\r\n0123456789\r\n0;last\r\nX-Trailer: yes\r\nx-other:  two \r\n\r\n",
  },
  {
    name: "chunked, LF only",
    input: "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n",
  },
  {
    name: "close-delimited",
    input: "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of this\r\n\r\nuntil the end",
    finish: true,
  },
  {
    name: "1xx then final",
    input:
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n" +
      "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
  },
  { name: "HEAD", method: "HEAD", input: "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" },
  { name: "204", input: "HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n" },
  { name: "304", input: 'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n\r\n' },
  {
    name: "obs-fold and latin1",
    input: "HTTP/1.1 200 Caf\xe9\r\nX-Folded: one\r\n  two\r\nContent-Length: 3\r\n\r\nabc",
  },
  {
    name: "both framings: chunked wins",
    input: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "5\r\nhello\r\n0\r\n\r\n",
  },
  { name: "extra bytes", input: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA" },
];

const LIMITS: ParserLimits[] = [
  { maxHeaderSize: 64 * 1024, maxHeaderCount: 128 },
  { maxHeaderSize: 96, maxHeaderCount: 3 },
];

// ---------------------------------------------------------------------------------------
// Driver

/** What a run ended in: the outcome, or the class of the error it threw. */
type Result = { outcome: Outcome } | { error: string };

/** Runs `pieces`, checking after each that the parser keeps no more than its limits. */
function attempt(pieces: Uint8Array[], options: RunOptions, limits: ParserLimits): Result {
  const bound = Math.max(limits.maxHeaderSize, MAX_CHUNK_SIZE_LINE);
  const checked: RunOptions = {
    ...options,
    limits,
    afterEach(parser: ResponseParser) {
      assert.ok(
        parser.retainedBytes <= bound,
        `the parser keeps ${parser.retainedBytes} bytes, more than ${bound}`,
      );
    },
  };
  try {
    return { outcome: run(pieces, checked) };
  } catch (error) {
    if (error instanceof assert.AssertionError) throw error;
    if (!(error instanceof ProtocolError)) {
      throw new assert.AssertionError({
        message: `not a ProtocolError: ${error instanceof Error ? error.stack : String(error)}`,
      });
    }
    return { error: error.constructor.name };
  }
}

/** Random pieces of `data` (sizes from 0 to a few dozen bytes, sometimes large). */
function randomChunks(random: Random, data: Uint8Array): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let at = 0;
  while (at < data.length) {
    const size = random() < 0.1 ? below(random, data.length + 1) : below(random, 24);
    pieces.push(data.subarray(at, at + size));
    at += size;
  }
  return pieces;
}

const SPECIAL = bytes('\r\n\0 \t:;0123456789abcdefABCDEF\x7f\xff,"');
const HUGE_SIZES = [
  "9".repeat(16),
  "9".repeat(400),
  "f".repeat(13),
  "F".repeat(4000),
  "00000000000000001",
];

/** One random mutation of `data`. */
function mutate(random: Random, data: Uint8Array): Uint8Array {
  const out = Array.from(data);
  const at = below(random, out.length + 1);
  switch (below(random, 6)) {
    case 0: // flip a bit
      if (at < out.length) out[at] ^= 1 << below(random, 8);
      break;
    case 1: // overwrite with a byte that matters to HTTP/1.1 framing
      if (at < out.length) out[at] = SPECIAL[below(random, SPECIAL.length)];
      break;
    case 2: // insert framing bytes
      out.splice(
        at,
        0,
        ...Array.from(
          { length: 1 + below(random, 4) },
          () => SPECIAL[below(random, SPECIAL.length)],
        ),
      );
      break;
    case 3: // delete a run
      out.splice(at, 1 + below(random, 8));
      break;
    case 4: // truncate
      out.length = at;
      break;
    default: { // a huge number where a length or a chunk size is
      const text = String.fromCharCode(...out);
      const spots = [...text.matchAll(/(?<=Content-Length: *)\d+|(?<=\n)[0-9A-Fa-f]+(?=[\r\n;])/g)];
      if (spots.length === 0) break;
      const spot = spots[below(random, spots.length)];
      const huge = HUGE_SIZES[below(random, HUGE_SIZES.length)];
      out.splice(spot.index, spot[0].length, ...bytes(huge));
    }
  }
  return Uint8Array.from(out);
}

let nextSeed = FIRST_SEED;

/** Runs `fn(random)` with fresh seeds until `ms` have passed; a failure names its seed. */
function forSeeds(ms: number, fn: (random: Random) => void): void {
  const end = performance.now() + ms;
  do {
    const seed = nextSeed;
    nextSeed = (nextSeed + 1) >>> 0;
    try {
      fn(prng(seed));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new assert.AssertionError({
        message: `${message}\n  (reproduce with POOLED_FUZZ_SEED=${seed})`,
      });
    }
  } while (performance.now() < end);
}

/** One random corpus response in random pieces parses like the whole. */
function chunkingCase(random: Random): void {
  const sample = CORPUS[below(random, CORPUS.length)];
  const data = bytes(sample.input);
  const limits = LIMITS[below(random, LIMITS.length)];
  const whole = attempt([data], sample, limits);
  assert.deepEqual(attempt(randomChunks(random, data), sample, limits), whole, sample.name);
}

/** One randomly mutated corpus response gives a parse or a ProtocolError, the same in pieces. */
function mutationCase(random: Random): void {
  const sample = CORPUS[below(random, CORPUS.length)];
  let data = bytes(sample.input);
  for (let n = 1 + below(random, 3); n > 0; n--) data = mutate(random, data);
  const limits = LIMITS[below(random, LIMITS.length)];
  // The peer may close at the end: the last piece is then followed by finish().
  const options = { method: sample.method, finish: random() < 0.5 || sample.finish };
  const whole = attempt([data], options, limits);
  const pieces = attempt(randomChunks(random, data), options, limits);
  assert.deepEqual(
    pieces,
    whole,
    `${sample.name} mutated to ${JSON.stringify(String.fromCharCode(...data))}`,
  );
}

// ---------------------------------------------------------------------------------------
// Tests

test("parser fuzz: every corpus response parses the same split at every offset", () => {
  for (const sample of CORPUS) {
    const data = bytes(sample.input);
    for (const limits of LIMITS) {
      const whole = attempt([data], sample, limits);
      assert.ok("outcome" in whole || limits !== LIMITS[0], `${sample.name} parses`);
      for (const pieces of splits(data)) {
        assert.deepEqual(
          attempt(pieces, sample, limits),
          whole,
          `${sample.name}: split at ${pieces[0].length}`,
        );
      }
    }
  }
});

// The time is cut into slices of at most 4 s, one test each (bun:test stops a test at 5 s).
const SLICES = Math.ceil(SECONDS / 4);
for (let slice = 1; slice <= SLICES; slice++) {
  const ms = (SECONDS * 1000) / SLICES;
  test(`parser fuzz: random chunkings and mutations, ${slice}/${SLICES} (first seed ${FIRST_SEED})`, () => {
    forSeeds(ms * 0.3, chunkingCase);
    forSeeds(ms * 0.7, mutationCase);
  });
}
