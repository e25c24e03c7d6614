/**
 * The version has one source, `deno.json` (what `deno publish` publishes): `VERSION`, sent in
 * the default `User-Agent`, must say the same.
 */

import { readFileSync } from "node:fs";
import { assert, test } from "./_harness.ts";
import { VERSION } from "../mod.ts";

test("version: VERSION is the version deno.json publishes", () => {
  const config = JSON.parse(readFileSync(new URL("../deno.json", import.meta.url), "utf8"));
  assert.equal(config.name, "@pooled/http");
  assert.equal(VERSION, config.version);
});
