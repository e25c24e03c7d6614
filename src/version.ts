/**
 * The library version, sent in the default `User-Agent: pooled/<version>`.
 *
 * @example The version
 * ```ts
 * import { VERSION } from "@pooled/http";
 * console.log(`pooled/${VERSION}`);
 * ```
 */
export const VERSION = "0.1.0";
