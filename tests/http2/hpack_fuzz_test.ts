/**
 * HPACK round trips with a seeded PRNG: random header lists through an encoder and a
 * decoder that share a history, with random table sizes changing between blocks; and
 * random bytes into a decoder, which must only ever throw its typed errors.
 */

import { assert, test } from "../_harness.ts";
import { prng } from "../_prng.ts";
import { HpackDecoder, HpackEncoder } from "../../src/http2/hpack.ts";
import { HTTP2Error } from "../../src/http2/errors.ts";

const SEEDS = [1, 7, 42, 1234, 99991];

const NAMES = [
  ":method",
  ":path",
  ":authority",
  ":scheme",
  ":status",
  "accept",
  "accept-encoding",
  "user-agent",
  "cookie",
  "authorization",
  "content-length",
  "content-type",
  "x-request-id",
  "x-custom-a",
  "x-custom-b",
];

const VALUES = ["GET", "/", "200", "gzip, deflate", "", "text/html", "pooled/0.1"];

function randomText(random: () => number, length: number): string {
  let text = "";
  for (let i = 0; i < length; i++) {
    const pick = random();
    // Mostly printable ASCII, sometimes any octet (control, high latin1).
    const code = pick < 0.85 ? 0x20 + Math.floor(random() * 95) : Math.floor(random() * 256);
    text += String.fromCharCode(code);
  }
  return text;
}

function randomFields(random: () => number): string[] {
  const fields: string[] = [];
  const count = Math.floor(random() * 12);
  for (let i = 0; i < count; i++) {
    const name = random() < 0.8
      ? NAMES[Math.floor(random() * NAMES.length)]
      : "x-" + randomText(random, 1 + Math.floor(random() * 10)).toLowerCase();
    const roll = random();
    const value = roll < 0.4
      ? VALUES[Math.floor(random() * VALUES.length)]
      : roll < 0.95
      ? randomText(random, Math.floor(random() * 40))
      : randomText(random, 500 + Math.floor(random() * 3000));
    fields.push(name, value);
  }
  return fields;
}

const TABLE_SIZES = [0, 1, 32, 64, 100, 256, 1000, 4096, 8192, 65536];

for (const seed of SEEDS) {
  test(`HPACK round-trips random header lists (seed ${seed})`, () => {
    const random = prng(seed);
    const pick = (list: number[]) => list[Math.floor(random() * list.length)];
    const encoder = new HpackEncoder({ maxTableSize: pick(TABLE_SIZES), huffman: random() < 0.7 });
    const decoder = new HpackDecoder({ maxHeaderListSize: 1 << 20 });
    for (let block = 0; block < 400; block++) {
      if (random() < 0.05) {
        // The decoding end announces a new table size; the encoder hears it, and the
        // decoder applies it once "acknowledged" (before the next block).
        const size = pick(TABLE_SIZES);
        encoder.setMaxTableSize(size);
        decoder.setMaxTableSize(size);
      }
      const fields = randomFields(random);
      const wire = encoder.encode(fields);
      assert.deepEqual(decoder.decode(wire), fields, `seed ${seed}, block ${block}`);
      assert.equal(decoder.tableSize, encoder.tableSize);
    }
  });

  test(`HPACK decoder throws only typed errors on random bytes (seed ${seed})`, () => {
    const random = prng(seed);
    for (let round = 0; round < 2000; round++) {
      const bytes = new Uint8Array(1 + Math.floor(random() * 40));
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
      try {
        new HpackDecoder({ maxHeaderListSize: 4096 }).decode(bytes);
      } catch (error) {
        assert.ok(error instanceof HTTP2Error, `round ${round}: ${error}`);
      }
    }
  });
}
