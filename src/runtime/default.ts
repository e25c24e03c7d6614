/**
 * Picks the adapter for the runtime the code runs on. No adapter loads a runtime module
 * statically: `node:net`/`node:tls` and `cloudflare:sockets` are imported on first connect,
 * so this module imports cleanly everywhere.
 *
 * @module
 */

import type { Connector } from "./socket.ts";
import { bunConnector } from "./bun.ts";
import { cloudflareConnector } from "./cloudflare.ts";
import { denoConnector } from "./deno.ts";
import { nodeConnector } from "./node.ts";

/**
 * The connector for the current runtime: Deno's, Bun's, Cloudflare Workers' (when
 * `navigator.userAgent` is `"Cloudflare-Workers"`), or `node:net`'s elsewhere (Node).
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
  const agent = (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent;
  if (agent === "Cloudflare-Workers") return cloudflareConnector;
  return nodeConnector;
}
