/**
 * The library version, sent in the default `User-Agent: pooled/<version>`. It is the
 * `version` of `deno.json`, the one source of the published version (a test checks that
 * they agree).
 *
 * @example The version
 * ```ts
 * import { VERSION } from "@pooled/http";
 * console.log(`pooled/${VERSION}`);
 * ```
 */
export const VERSION = "0.1.0";
