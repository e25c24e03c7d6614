/**
 * Picks the adapter for the runtime the code runs on.
 *
 * @module
 */

import type { Connector } from "./socket.ts";
import { bunConnector } from "./bun.ts";
import { denoConnector } from "./deno.ts";
import { nodeConnector } from "./node.ts";

/**
 * The connector for the current runtime: Deno's, Bun's, or `node:net`'s elsewhere.
 *
 * @example
 * ```ts
 * import { defaultConnector } from "@pooled/http";
 * console.log(defaultConnector().name); // "deno" under Deno
 * ```
 */
export function defaultConnector(): Connector {
  if ("Deno" in globalThis) return denoConnector;
  if ("Bun" in globalThis) return bunConnector;
  return nodeConnector;
}
