/**
 * Memory held per idle pooled connection: opens N keep-alive connections (one request each,
 * then idle), forces garbage collection, and reports (after − before) / N of the JS heap
 * (`heapUsed`) and, separately, of memory outside it (`external`: ArrayBuffer backing
 * stores such as read buffers), against a server in a separate process (`ports_server.ts`).
 *
 * Four layers, each measured on its own (opened, measured, closed), so the difference
 * between two rows is what the upper layer adds:
 *
 * 1. `runtime socket`: the runtime's own API (`Deno.connect` / `Bun.connect`), one request
 *    written and its reply read, then kept open and unread;
 * 2. `adapter socket`: pooled's runtime adapter (`defaultConnector().connect`), the same
 *    request and reply (its read loop stays armed while idle, as in a pool);
 * 3. `pooled, 1 pool`: `PoolManager({ maxSize: N })`, N concurrent GETs to one origin, so N
 *    connections sit idle in one pool;
 * 4. `pooled, N pools`: `PoolManager({ numPools: N })`, one GET to each of N origins (ports),
 *    so each pool holds one idle connection (adds the per-pool cost);
 * 5. `pooled, 1 pool, after 1 MiB`: as 3, but each connection first read a 1 MiB body (what
 *    an adapter keeps after a large response; at most 100 connections).
 *
 * Every layer warms up first (a few connections opened and closed), so code loading is not
 * counted. Needs a GC the script can call: Deno `--v8-flags=--expose-gc`, Bun `Bun.gc`.
 *
 * ```sh
 * deno task bench:idle-heap          # Deno, then Bun
 * deno run -A --v8-flags=--expose-gc bench/idle_heap.ts --connections 1000
 * bun bench/idle_heap.ts --connections 1000
 * ```
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";
import { defaultConnector, PoolManager, type Socket } from "../mod.ts";
import {
  BYTES_PATH,
  ensureOpenFiles,
  type PortsServer,
  RUNTIME,
  startPortsServer,
} from "./servers/_ports_server.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    connections: { type: "string", default: "1000" },
    warmup: { type: "string", default: "20" },
  },
});
const N = Number(values.connections);
const WARMUP = Number(values.warmup);
const LARGE_BODY = 1 << 20;
/** Connections of the large-body layer (each reads 1 MiB). */
const LARGE_N = Math.min(N, 100);

const REQUEST = (port: number) =>
  `GET /idle HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: idle-heap\r\n\r\n`;

// ---- the runtime hooks ----------------------------------------------------------------

interface BunRawSocket {
  write(data: string): number;
  end(): void;
}

interface BunApi {
  gc(force: boolean): void;
  connect(options: {
    hostname: string;
    port: number;
    socket: {
      data(socket: BunRawSocket, data: Uint8Array): void;
      error?(socket: BunRawSocket, error: Error): void;
    };
  }): Promise<BunRawSocket>;
}

interface DenoApi {
  connect(options: { hostname: string; port: number }): Promise<DenoConn>;
  memoryUsage(): { heapUsed: number; external: number };
}

interface DenoConn {
  write(data: Uint8Array): Promise<number>;
  read(buffer: Uint8Array): Promise<number | null>;
  close(): void;
}

const g = globalThis as unknown as { Deno?: DenoApi; Bun?: BunApi; gc?: () => void };

function collectGarbage(): void {
  if (g.Bun) return g.Bun.gc(true);
  if (typeof g.gc !== "function") {
    throw new Error("no gc(): run with `deno run -A --v8-flags=--expose-gc bench/idle_heap.ts`");
  }
  g.gc();
}

/** Heap in use and memory outside the heap, after a full collection (a few passes). */
async function memory(): Promise<{ heapUsed: number; external: number }> {
  for (let i = 0; i < 4; i++) {
    collectGarbage();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const usage = g.Deno ? g.Deno.memoryUsage() : process.memoryUsage();
  return { heapUsed: usage.heapUsed, external: usage.external };
}

// ---- the layers: each opens n idle connections and returns how to close them ----------

type Closer = () => Promise<void>;
type Layer = (server: PortsServer, n: number) => Promise<Closer>;

const encoder = new TextEncoder();

/** Resolves once the reply (`PORT /idle`, 10 bytes or so) has arrived in full. */
function replyDone(text: string): boolean {
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return false;
  const length = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? NaN);
  return text.length >= end + 4 + length;
}

async function denoRawSockets(server: PortsServer, n: number): Promise<Closer> {
  const port = server.ports[0];
  const buffer = new Uint8Array(4096);
  const conns = await Promise.all(Array.from({ length: n }, async () => {
    const conn = await g.Deno!.connect({ hostname: "127.0.0.1", port });
    await conn.write(encoder.encode(REQUEST(port)));
    let text = "";
    while (!replyDone(text)) {
      const read = await conn.read(buffer);
      if (read === null) throw new Error("the server closed the connection");
      text += new TextDecoder().decode(buffer.subarray(0, read));
    }
    return conn;
  }));
  return () => Promise.resolve(conns.forEach((conn) => conn.close()));
}

async function bunRawSockets(server: PortsServer, n: number): Promise<Closer> {
  const port = server.ports[0];
  const sockets = await Promise.all(Array.from({ length: n }, async () => {
    let text = "";
    let done = () => {};
    const replied = new Promise<void>((resolve) => done = resolve);
    const socket = await g.Bun!.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        data(_socket, data) {
          text += new TextDecoder().decode(data);
          if (replyDone(text)) done();
        },
      },
    });
    socket.write(REQUEST(port));
    await replied;
    return socket;
  }));
  return () => Promise.resolve(sockets.forEach((socket) => socket.end()));
}

async function adapterSockets(server: PortsServer, n: number): Promise<Closer> {
  const port = server.ports[0];
  const connector = defaultConnector();
  const sockets: Socket[] = await Promise.all(Array.from({ length: n }, async () => {
    const socket = await connector.connect({ hostname: "127.0.0.1", port });
    let text = "";
    await new Promise<void>((resolve, reject) => {
      socket.setHandler({
        onData: (chunk) => {
          text += new TextDecoder().decode(chunk);
          if (replyDone(text)) resolve();
        },
        onEnd: () => reject(new Error("the server closed the connection")),
        onError: reject,
        onWriteError: reject,
      });
      socket.write(REQUEST(port));
    });
    return socket;
  }));
  return () => Promise.resolve(sockets.forEach((socket) => socket.close()));
}

async function checkedGet(manager: PoolManager, url: string): Promise<void> {
  const r = await manager.request("GET", url);
  const expected = `${new URL(url).port} /idle`;
  const text = new TextDecoder().decode(r.data);
  if (r.status !== 200 || text !== expected) {
    throw new Error(`unexpected reply ${r.status} ${text}`);
  }
}

async function pooledOnePool(server: PortsServer, n: number): Promise<Closer> {
  const manager = new PoolManager({ maxSize: n });
  const url = `http://127.0.0.1:${server.ports[0]}/idle`;
  await Promise.all(Array.from({ length: n }, () => checkedGet(manager, url)));
  const stats = manager.connectionFromUrl(url).stats;
  if (stats.idle !== n || stats.inUse !== 0) {
    throw new Error(`expected ${n} idle connections, the pool has ${JSON.stringify(stats)}`);
  }
  return () => manager.close();
}

async function pooledAfterLargeBodies(server: PortsServer, n: number): Promise<Closer> {
  const manager = new PoolManager({ maxSize: n });
  const url = `http://127.0.0.1:${server.ports[0]}${BYTES_PATH}${LARGE_BODY}`;
  await Promise.all(Array.from({ length: n }, async () => {
    const r = await manager.request("GET", url);
    if (r.data.length !== LARGE_BODY) throw new Error(`got ${r.data.length} bytes`);
  }));
  const stats = manager.connectionFromUrl(url).stats;
  if (stats.idle !== n) throw new Error(`expected ${n} idle connections, got ${stats.idle}`);
  return () => manager.close();
}

async function pooledManyPools(server: PortsServer, n: number): Promise<Closer> {
  const manager = new PoolManager({ numPools: n });
  const ports = server.ports.slice(0, n);
  await Promise.all(ports.map((port) => checkedGet(manager, `http://127.0.0.1:${port}/idle`)));
  if (manager.pools.size !== n) throw new Error(`expected ${n} pools, got ${manager.pools.size}`);
  return () => manager.close();
}

// ---- the run ------------------------------------------------------------------------------

interface LayerResult {
  layer: string;
  connections: number;
  heapPerConnection: number;
  externalPerConnection: number;
}

/** Waits until the server sees `open` connections (closes reach it asynchronously). */
async function serverSees(server: PortsServer, open: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const stats = await server.stats();
    if (stats.open === open) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`the server does not see ${open} open connections`);
}

async function measure(
  server: PortsServer,
  name: string,
  layer: Layer,
  n = N,
): Promise<LayerResult> {
  await (await layer(server, Math.min(WARMUP, n)))();
  await serverSees(server, 0);
  const before = await memory();
  const close = await layer(server, n);
  await serverSees(server, n);
  const after = await memory();
  await close();
  await serverSees(server, 0);
  const result = {
    layer: name,
    connections: n,
    heapPerConnection: (after.heapUsed - before.heapUsed) / n,
    externalPerConnection: (after.external - before.external) / n,
  };
  console.error(`[${RUNTIME}] ${row(result)}`);
  return result;
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(2)} KiB`;
}

function row(result: LayerResult): string {
  return [
    RUNTIME,
    result.layer,
    result.connections,
    kib(result.heapPerConnection),
    kib(result.externalPerConnection),
    kib(result.heapPerConnection + result.externalPerConnection),
  ].join(" | ");
}

async function main(): Promise<number> {
  if (!g.Deno && !g.Bun) throw new Error("idle_heap.ts runs under Deno or Bun");
  collectGarbage(); // fail early without a GC hook
  ensureOpenFiles(2 * N + 1000);
  const server = await startPortsServer(N);
  const results: LayerResult[] = [];
  try {
    const raw = g.Deno ? denoRawSockets : bunRawSockets;
    results.push(await measure(server, "runtime socket", raw));
    results.push(await measure(server, "adapter socket", adapterSockets));
    results.push(await measure(server, "pooled, 1 pool", pooledOnePool));
    results.push(await measure(server, `pooled, ${N} pools`, pooledManyPools));
    results.push(
      await measure(server, "pooled, 1 pool, after 1 MiB", pooledAfterLargeBodies, LARGE_N),
    );
  } finally {
    await server.stop();
  }
  console.log(
    `\nMemory per idle keep-alive connection, after forced GC ` +
      `(server: ports_server.ts in its own process)\n`,
  );
  console.log(
    "| runtime | layer | connections | JS heap / conn | external / conn | total / conn |",
  );
  console.log("| --- | --- | ---: | ---: | ---: | ---: |");
  for (const result of results) console.log(`| ${row(result)} |`);
  const raw = results[0];
  const pooled = results[2];
  console.log(
    `\npooled adds ${kib(pooled.heapPerConnection - raw.heapPerConnection)} of JS heap and ${
      kib(pooled.externalPerConnection - raw.externalPerConnection)
    } outside it per idle connection over the runtime's own socket.`,
  );
  return 0;
}

process.exit(await main());
