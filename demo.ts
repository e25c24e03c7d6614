/**
 * The demo: `deno task demo` (or `npx deno task demo` after `npm ci`).
 *
 * Starts two small HTTP servers on loopback (one of them reachable as 127.0.0.1,
 * localhost and [::1]), then shows a PoolManager at work: several origins, concurrent
 * requests through bounded pools, an LRU of pools, redirects and retries, with the
 * connections opened versus the requests sent, and timings.
 *
 * @module
 */

import { HTTPConnectionPool, MaxRetryError, PoolManager, Retry } from "./mod.ts";

const encoder = new TextEncoder();
let flaky = 0;

function handler(request: Request): Response {
  const url = new URL(request.url);
  if (url.pathname === "/redirect") return Response.redirect(new URL("/hello", url), 302);
  if (url.pathname === "/flaky") {
    // Fails twice out of three: the Retry policy hides it.
    return new Response("try again", { status: ++flaky % 3 === 0 ? 200 : 503 });
  }
  if (url.pathname === "/slow") {
    return new Promise<Response>((resolve) =>
      setTimeout(() => resolve(new Response("slow hello\n")), 20)
    ) as unknown as Response;
  }
  return new Response(encoder.encode(`hello from ${url.host}${url.pathname}\n`));
}

function serve(hostname: string) {
  return Deno.serve({ hostname, port: 0, onListen() {} }, handler);
}

function line(label: string, value: string): void {
  console.log(`  ${label.padEnd(34)} ${value}`);
}

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const result = await work();
  return [result, performance.now() - start];
}

const dualStack = serve("::");
const second = serve("127.0.0.1");
const port = dualStack.addr.port;
const origins = [
  `http://127.0.0.1:${port}`,
  `http://localhost:${port}`,
  `http://[::1]:${port}`,
  `http://127.0.0.1:${second.addr.port}`,
];

console.log("pooled demo: a PoolManager against servers on loopback\n");

{
  console.log("1. 200 concurrent requests over 4 origins, maxSize 4, block: true");
  await using manager = new PoolManager({ numPools: 4, maxSize: 4, block: true });
  const [responses, ms] = await timed(() =>
    Promise.all(
      Array.from({ length: 200 }, (_, i) => manager.request("GET", `${origins[i % 4]}/item/${i}`)),
    )
  );
  const ok = responses.filter((r) => r.status === 200).length;
  line("responses 200 OK", `${ok} / ${responses.length} in ${ms.toFixed(1)} ms`);
  for (const [key, pool] of manager.pools) {
    line(`  pool ${key}`, `${pool.numRequests} requests over ${pool.numConnections} connections`);
  }
}

{
  console.log("\n2. an LRU of numPools: 2 used on three origins");
  await using manager = new PoolManager({ numPools: 2 });
  for (const origin of origins.slice(0, 3)) await manager.request("GET", `${origin}/`);
  line("pools kept", `${manager.pools.size}: ${[...manager.pools.keys()].join(", ")}`);
}

{
  console.log("\n3. one kept-alive connection, 1000 sequential requests");
  await using pool = new HTTPConnectionPool("127.0.0.1", { port: second.addr.port, maxSize: 1 });
  const [, ms] = await timed(async () => {
    for (let i = 0; i < 1000; i++) await pool.request("GET", "/");
  });
  line("connections opened / requests sent", `${pool.numConnections} / ${pool.numRequests}`);
  line("time per request", `${(ms / 1000 * 1000).toFixed(1)} µs`);
}

{
  console.log("\n4. a blocking pool of 2 under 20 concurrent slow requests");
  await using pool = new HTTPConnectionPool("127.0.0.1", { port, maxSize: 2, block: true });
  const [, ms] = await timed(() =>
    Promise.all(Array.from({ length: 20 }, () => pool.request("GET", "/slow")))
  );
  line("connections opened / requests sent", `${pool.numConnections} / ${pool.numRequests}`);
  line("wall time (10 rounds of 20 ms)", `${ms.toFixed(0)} ms`);
}

{
  console.log("\n5. redirects and retries");
  await using manager = new PoolManager();
  const redirected = await manager.request("GET", `${origins[0]}/redirect`);
  line("GET /redirect", `${redirected.status} at ${redirected.url}`);
  const retries = new Retry({ total: 3, statusForcelist: [503], backoffFactor: 10 });
  const flakyResponse = await manager.request("GET", `${origins[0]}/flaky`, { retries });
  line(
    "GET /flaky with statusForcelist [503]",
    `${flakyResponse.status} after ${flakyResponse.retries?.history.length} retries`,
  );
  try {
    await manager.request("GET", "http://127.0.0.1:1/", { retries: 1 });
  } catch (error) {
    const reason = error instanceof MaxRetryError ? error.reason : null;
    line("GET a closed port, retries: 1", `${(error as Error).name} (reason: ${reason?.name})`);
  }
}

await dualStack.shutdown();
await second.shutdown();
