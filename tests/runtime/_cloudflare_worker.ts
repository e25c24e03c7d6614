/**
 * A Cloudflare Worker that uses pooled, bundled and run under `workerd` by
 * `cloudflare_test.ts`. Each path is one scenario; the query says where to connect; the
 * answer is JSON describing what happened (or the error's class, code and message).
 *
 * @module
 */

import { defaultConnector, HTTPError, PoolManager, SSLError } from "../../mod.ts";
import { cloudflareConnector, type CloudflareSocket } from "../../src/runtime/cloudflare.ts";
import type { SocketHandler } from "../../src/runtime/socket.ts";

type Scenario = (query: URLSearchParams) => Promise<unknown>;

const decoder = new TextDecoder();

/** Two GETs through one manager (the server counts the connections) and a JSON POST. */
async function requests(query: URLSearchParams): Promise<unknown> {
  const url = query.get("url")!;
  await using manager = new PoolManager({ maxSize: 2 });
  const first = await manager.request("GET", `${url}/one`);
  const second = await manager.request("GET", `${url}/two`);
  const posted = await manager.request("POST", `${url}/echo`, { json: { a: 1 } });
  const stats = manager.connectionFromUrl(url).stats;
  return {
    connector: defaultConnector().name,
    statuses: [first.status, second.status, posted.status],
    bodies: [decoder.decode(first.data), decoder.decode(second.data), decoder.decode(posted.data)],
    atRest: stats.inUse === 0 && stats.queued === 0,
  };
}

/** One GET with the given `serverHostname` (verified by workerd's trust settings). */
async function https(query: URLSearchParams): Promise<unknown> {
  await using manager = new PoolManager({
    serverHostname: query.get("serverHostname") ?? undefined,
    retries: false,
  });
  const r = await manager.request("GET", query.get("url")!);
  return { status: r.status, body: decoder.decode(r.data) };
}

/** A GET with extra CA roots, which Workers' sockets cannot take. */
async function caCerts(query: URLSearchParams): Promise<unknown> {
  await using manager = new PoolManager({ caCerts: ["not used"], retries: false });
  await manager.request("GET", query.get("url")!);
  return { unexpected: "the request succeeded" };
}

/** A GET that fails to connect (nothing listens), without retries. */
async function refused(query: URLSearchParams): Promise<unknown> {
  await using manager = new PoolManager({ retries: false });
  await manager.request("GET", query.get("url")!);
  return { unexpected: "the request succeeded" };
}

/** Collects what a socket delivers. */
class Collector implements SocketHandler {
  text = "";
  ended = false;
  #wake: (() => void) | undefined;
  /** `onMarker` is called from `onData` once `marker` has arrived. */
  constructor(readonly onMarker?: () => void, readonly marker?: string) {}
  onData(chunk: Uint8Array): void {
    this.text += decoder.decode(chunk, { stream: true });
    if (this.marker && this.text.includes(this.marker)) this.onMarker?.();
    this.#wake?.();
  }
  onEnd(): void {
    this.ended = true;
    this.#wake?.();
  }
  onError(error: Error): void {
    this.text += `\n[error: ${error.message}]`;
    this.onEnd();
  }
  onWriteError(error: Error): void {
    this.onError(error);
  }
  async until(marker: string): Promise<string> {
    while (!this.text.includes(marker) && !this.ended) {
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    return this.text;
  }
}

/** CONNECT through a proxy, then TLS in place with `startTls`, then a GET to the origin. */
async function tunnel(query: URLSearchParams): Promise<unknown> {
  const proxy = new URL(query.get("proxy")!);
  const target = query.get("target")!; // host:port of the TLS origin
  const plain = await cloudflareConnector.connect({
    hostname: proxy.hostname,
    port: Number(proxy.port),
  });
  // Pause once the proxy's answer is complete: Workers upgrade only streams with no read
  // outstanding.
  const proxyReply = new Collector(() => plain.pause(), "\r\n\r\n");
  plain.setHandler(proxyReply);
  plain.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
  const head = await proxyReply.until("\r\n\r\n");
  const secure = await (plain as CloudflareSocket).startTls({
    serverName: target.split(":")[0],
    verify: true,
    checkHostname: true,
    minVersion: "TLSv1.2",
    alpnProtocols: ["http/1.1"],
  });
  const reply = new Collector();
  secure.setHandler(reply);
  secure.write(`GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
  const response = await reply.until("secure");
  secure.close();
  return {
    proxyStatus: head.split("\r\n")[0],
    response: response.split("\r\n")[0],
    body: response.endsWith("secure"),
  };
}

const SCENARIOS: Record<string, Scenario> = { requests, https, caCerts, refused, tunnel };

function describe(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { error: String(error) };
  const reason = (error as { reason?: unknown }).reason;
  return {
    error: error.name,
    code: error instanceof HTTPError ? error.code : undefined,
    isSSLError: error instanceof SSLError,
    message: error.message,
    reason: reason instanceof Error ? describe(reason) : undefined,
  };
}

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const scenario = SCENARIOS[url.pathname.slice(1)];
    if (!scenario) return new Response(`no scenario ${url.pathname}`, { status: 404 });
    let result: unknown;
    try {
      result = await scenario(url.searchParams);
    } catch (error) {
      result = describe(error);
    }
    return Response.json(result);
  },
};
