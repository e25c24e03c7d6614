/**
 * HTTP/2 through the pools against real servers from Debian (`tests/_h2_servers.ts`): nginx,
 * h2o, nghttpd and Apache with mod_http2, over TLS (ALPN) and h2c (prior knowledge). The
 * version each negotiates, `http2: false`, one connection carrying hundreds of requests, a
 * server's stream limit never exceeded, a cold burst opening one connection, a 16 MiB body
 * read slowly in bounded memory, gzip, redirects and request bodies; every case ends with the
 * pools at rest. A server that is not installed has its tests skipped, with a message.
 */

import process from "node:process";
import { type ConnectionPoolOptions, type HTTPResponse, PoolManager } from "../../mod.ts";
import { CA_CERT } from "../_certs.ts";
import { assert, test } from "../_harness.ts";
import { findNginx } from "../_nginx.ts";
import { serveHttp, type TestServer } from "../_servers.ts";
import { assertAtRest, collectGarbage, sleep, text } from "../_util.ts";
import {
  BIG_SIZE,
  bigByte,
  findH2Server,
  type H2Binary,
  type H2Server,
  type H2ServerName,
  HELLO,
  type NginxH2Server,
  skipMessage,
  startApache,
  startH2o,
  startNghttpd,
  startNginxH2,
  TEXT,
} from "../_h2_servers.ts";

const FILE = "tests/http2/real_servers_test.ts";

/** Every request is bounded: a hang fails the test instead of stalling the suite. */
const TIMEOUT_MS = 20_000;

function manager(options: ConnectionPoolOptions = {}): PoolManager {
  const all: ConnectionPoolOptions = {
    caCerts: [CA_CERT],
    timeout: TIMEOUT_MS,
    retries: false,
    ...options,
  };
  return new PoolManager(all);
}

/** Runs `body` with a manager, closing it after checking that each of its pools is at rest. */
async function withManager(
  options: ConnectionPoolOptions,
  body: (m: PoolManager) => Promise<void>,
): Promise<void> {
  const m = manager(options);
  try {
    await body(m);
    for (const pool of m.pools.values()) {
      assertAtRest(pool);
      assert.equal(pool.stats.streams, 0, `${pool}: open streams at rest`);
    }
  } finally {
    await m.close();
  }
}

async function getHello(m: PoolManager, origin: string): Promise<HTTPResponse> {
  const response = await m.request("GET", `${origin}/hello.txt`);
  assert.equal(response.status, 200, `${origin}: ${text(response.data)}`);
  assert.equal(text(response.data), HELLO);
  return response;
}

// ---------------------------------------------------------------------------------------------
// Every server: negotiation, h2c, gzip, redirects
// ---------------------------------------------------------------------------------------------

const nginx = await findNginx();
const binaries: Record<Exclude<H2ServerName, "nginx">, H2Binary | null> = {
  h2o: await findH2Server("h2o"),
  nghttpd: await findH2Server("nghttpd"),
  apache: await findH2Server("apache"),
};
if (!nginx) console.warn(skipMessage("nginx", FILE));
for (const [name, binary] of Object.entries(binaries)) {
  if (!binary) console.warn(skipMessage(name as H2ServerName, FILE));
}

/** How to start each server, and what it does beyond the common document root. */
interface ServerCase {
  name: H2ServerName;
  installed: boolean;
  start(): Promise<H2Server>;
  /** Offers http/1.1 over TLS as well (nghttpd speaks only h2). */
  http1OverTls: boolean;
  /** Speaks HTTP/1.1 on its h2c port too (nginx's h2c listener speaks only h2). */
  http1OnH2cPort: boolean;
  /** Compresses `/text.txt` with gzip when asked. */
  gzip: boolean;
  /** Answers `/redirect` with 302 to `/hello.txt`. */
  redirect: boolean;
}

const SERVERS: ServerCase[] = [
  {
    name: "nginx",
    installed: nginx !== null,
    start: () => startNginxH2(nginx!),
    http1OverTls: true,
    http1OnH2cPort: false,
    gzip: true,
    redirect: true,
  },
  {
    name: "h2o",
    installed: binaries.h2o !== null,
    start: () => startH2o(binaries.h2o!),
    http1OverTls: true,
    http1OnH2cPort: true,
    gzip: true,
    redirect: true,
  },
  {
    name: "nghttpd",
    installed: binaries.nghttpd !== null,
    start: () => startNghttpd(binaries.nghttpd!),
    http1OverTls: false,
    http1OnH2cPort: false,
    gzip: false,
    redirect: false,
  },
  {
    name: "apache",
    installed: binaries.apache !== null,
    start: () => startApache(binaries.apache!),
    http1OverTls: true,
    http1OnH2cPort: true,
    gzip: true,
    redirect: true,
  },
];

function serverTest(
  server: ServerCase,
  name: string,
  body: (running: H2Server) => Promise<void>,
  when = true,
): void {
  test(`HTTP/2 ${server.name}: ${name}`, async () => {
    const running = await server.start();
    try {
      await body(running);
    } finally {
      await running.stop();
    }
  }, { ignore: !server.installed || !when });
}

for (const server of SERVERS) {
  serverTest(server, "https:// negotiates h2 by ALPN: version 20", async (running) => {
    await withManager({}, async (m) => {
      const first = await getHello(m, running.https);
      assert.equal(first.version, 20);
      assert.equal((await getHello(m, running.https)).version, 20);
      const pool = m.connectionFromUrl(running.https);
      assert.equal(pool.numConnections, 1);
      assert.equal(pool.numRequests, 2);
    });
  });

  serverTest(server, "http2: false speaks HTTP/1.1 over TLS: version 11", async (running) => {
    await withManager({ http2: false }, async (m) => {
      assert.equal((await getHello(m, running.https)).version, 11);
    });
  }, server.http1OverTls);

  serverTest(
    server,
    "http:// with http2PriorKnowledge speaks h2c: version 20",
    async (running) => {
      await withManager({ http2PriorKnowledge: true }, async (m) => {
        assert.equal((await getHello(m, running.h2c!)).version, 20);
        assert.equal((await getHello(m, running.h2c!)).version, 20);
        assert.equal(m.connectionFromUrl(running.h2c!).numConnections, 1);
      });
    },
  );

  serverTest(server, "http:// without prior knowledge stays HTTP/1.1", async (running) => {
    await withManager({}, async (m) => {
      assert.equal((await getHello(m, running.h2c!)).version, 11);
    });
  }, server.http1OnH2cPort);

  serverTest(server, "a gzip response is decoded", async (running) => {
    await withManager({}, async (m) => {
      const response = await m.request("GET", `${running.https}/text.txt`, {
        headers: { "accept-encoding": "gzip" },
      });
      assert.equal(response.status, 200);
      assert.equal(response.version, 20);
      assert.equal(response.headers.get("content-encoding"), "gzip");
      assert.deepEqual(response.data, TEXT);
    });
  }, server.gzip);

  serverTest(server, "a redirect is followed on the same connection", async (running) => {
    await withManager({}, async (m) => {
      // `retries: false` (the manager's here) would turn redirects off as well.
      const response = await m.request("GET", `${running.https}/redirect`, { retries: 3 });
      assert.equal(response.status, 200);
      assert.equal(response.version, 20);
      assert.equal(text(response.data), HELLO);
      assert.equal(new URL(response.url!).pathname, "/hello.txt");
      assert.equal(m.connectionFromUrl(running.https).numConnections, 1);
    });
  }, server.redirect);
}

const nghttpd = SERVERS.find((s) => s.name === "nghttpd")!;

serverTest(nghttpd, "a POST body is echoed (--echo-upload), over TLS and h2c", async (running) => {
  const body = new Uint8Array(300_000).map((_, i) => i % 251);
  await withManager({ http2PriorKnowledge: true }, async (m) => {
    for (const origin of [running.https, running.h2c!]) {
      const response = await m.request("POST", `${origin}/hello.txt`, { body });
      assert.equal(response.status, 200, origin);
      assert.equal(response.version, 20, origin);
      assert.deepEqual(response.data, body, origin);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// nginx: one connection, the server's stream limit, a cold burst, flow control, bodies
// ---------------------------------------------------------------------------------------------

/** The slow and echo backend behind nginx's `/backend/`, counting what it serves. */
interface Backend {
  server: TestServer;
  /** Requests to `/backend/slow` received (each exactly once: nothing sent twice). */
  slow: Map<string, number>;
  /** The most `/backend/slow` requests in progress at once. */
  most: number;
}

async function startBackend(): Promise<Backend> {
  let active = 0;
  const backend: Backend = { server: undefined!, slow: new Map(), most: 0 };
  backend.server = await serveHttp(async (req) => {
    const url = new URL(req.url);
    if (url.pathname === "/backend/echo") {
      return new Response(new Uint8Array(await req.arrayBuffer()));
    }
    const id = url.searchParams.get("id") ?? "";
    backend.slow.set(id, (backend.slow.get(id) ?? 0) + 1);
    active++;
    backend.most = Math.max(backend.most, active);
    await sleep(20);
    active--;
    return new Response(`slow ${id}`);
  });
  return backend;
}

function nginxTest(
  name: string,
  body: (server: NginxH2Server, backend: Backend) => Promise<void>,
  options: { maxConcurrentStreams?: number; bigFile?: boolean } = {},
): void {
  test(`HTTP/2 nginx: ${name}`, async () => {
    const backend = await startBackend();
    try {
      const server = await startNginxH2(nginx!, { ...options, backendPort: backend.server.port });
      try {
        await body(server, backend);
      } finally {
        await server.stop();
      }
    } finally {
      await backend.server.close();
    }
  }, { ignore: nginx === null });
}

/**
 * The octets the process holds in its heap and in buffers outside it (`rss` is too noisy:
 * pages freed are not always returned to the system).
 */
function heldMemory(): number {
  const { heapUsed, external } = process.memoryUsage();
  return heapUsed + external;
}

/** The distinct `X-Connection` values (nginx's connection numbers) of `responses`. */
function serverConnections(responses: HTTPResponse[]): Set<string> {
  return new Set(responses.map((r) => r.headers.get("x-connection") ?? "none"));
}

nginxTest("a TLS listener without HTTP/2 gives version 11", async (server) => {
  await withManager({}, async (m) => {
    assert.equal((await getHello(m, server.http1)).version, 11);
    assert.equal(m.connectionFromUrl(server.http1).stats.streams, 0);
  });
});

nginxTest("500 concurrent GETs with maxSize 1 share one connection", async (server) => {
  await withManager({ maxSize: 1 }, async (m) => {
    const responses = await Promise.all(
      Array.from({ length: 500 }, (_, i) => m.request("GET", `${server.https}/status?i=${i}`)),
    );
    for (const response of responses) {
      assert.equal(response.status, 200);
      assert.equal(response.version, 20);
      assert.match(text(response.data), /^HTTP\/2\.0 \d+$/);
    }
    const pool = m.connectionFromUrl(server.https);
    assert.equal(pool.numConnections, 1);
    assert.equal(pool.numRequests, 500);
    assert.equal(serverConnections(responses).size, 1, "connections nginx saw");
  });
});

nginxTest(
  "http2_max_concurrent_streams 8: 200 slow GETs, never more than 8 open, none sent twice",
  async (server, backend) => {
    await withManager({ maxSize: 1 }, async (m) => {
      const pool = m.connectionFromUrl(server.limited!);
      let most = 0;
      // Never throws: a throw in a timer callback would take the whole test file down.
      const sample = () => {
        most = Math.max(most, pool.stats.streams);
      };
      const sampler = setInterval(sample, 1);
      try {
        const responses = await Promise.all(
          Array.from(
            { length: 200 },
            (_, i) =>
              m.request("GET", `${server.limited}/backend/slow?id=${i}`).then((response) => {
                sample();
                return response;
              }),
          ),
        );
        for (const [i, response] of responses.entries()) {
          assert.equal(response.status, 200);
          assert.equal(response.version, 20);
          assert.equal(text(response.data), `slow ${i}`);
        }
      } finally {
        clearInterval(sampler);
      }
      assert.ok(most <= 8, `the pool had ${most} streams open at once`);
      assert.ok(most >= 2, `the pool had at most ${most} stream open: no multiplexing`);
      assert.ok(backend.most <= 8, `the backend saw ${backend.most} requests at once`);
      assert.equal(backend.slow.size, 200);
      for (const [id, count] of backend.slow) {
        assert.equal(count, 1, `request ${id} sent ${count}×`);
      }
      assert.equal(pool.numConnections, 1);
    });
  },
  { maxConcurrentStreams: 8 },
);

nginxTest("a cold burst of 100 GETs opens one connection (maxSize 10)", async (server) => {
  await withManager({ maxSize: 10 }, async (m) => {
    const responses = await Promise.all(
      Array.from({ length: 100 }, () => m.request("GET", `${server.https}/hello.txt`)),
    );
    for (const response of responses) {
      assert.equal(response.status, 200);
      assert.equal(response.version, 20);
    }
    assert.equal(m.connectionFromUrl(server.https).numConnections, 1);
    assert.equal(serverConnections(responses).size, 1, "connections nginx saw");
  });
});

nginxTest("a 16 MiB body read slowly keeps memory bounded", async (server) => {
  await withManager({}, async (m) => {
    collectGarbage();
    const before = heldMemory();
    const response = await m.request("GET", `${server.https}/big.bin`, { preloadContent: false });
    assert.equal(response.status, 200);
    assert.equal(response.version, 20);
    let received = 0;
    const check = (piece: Uint8Array) => {
      for (let i = 0; i < piece.length; i += 4099) {
        if (piece[i] !== bigByte(received + i)) assert.fail(`byte ${received + i} differs`);
      }
      received += piece.length;
    };
    // Read 1 MiB, then stop: without flow control the whole file would arrive meanwhile.
    while (received < 1024 * 1024) check(await response.read(64 * 1024));
    await sleep(1500);
    collectGarbage();
    const grown = heldMemory() - before;
    assert.ok(grown < 8 * 1024 * 1024, `memory held grew by ${(grown / 1048576).toFixed(1)} MiB`);
    let pieces = 0;
    for await (const piece of response.stream(64 * 1024)) {
      check(piece);
      if (++pieces % 16 === 0) await sleep(1);
    }
    assert.equal(received, BIG_SIZE);
  });
}, { bigFile: true });

nginxTest("a 1 MiB POST body is echoed through proxy_pass", async (server) => {
  const body = new Uint8Array(1024 * 1024).map((_, i) => (i * 13) & 0xff);
  await withManager({}, async (m) => {
    const response = await m.request("POST", `${server.https}/backend/echo`, { body });
    assert.equal(response.status, 200);
    assert.equal(response.version, 20);
    assert.deepEqual(response.data, body);
  });
});

nginxTest("an absolute redirect is followed; gzip decoded after it", async (server) => {
  await withManager({}, async (m) => {
    const response = await m.request("GET", `${server.https}/redirect-absolute`, {
      headers: { "accept-encoding": "gzip" },
      retries: 3,
    });
    assert.equal(response.status, 200);
    assert.equal(response.version, 20);
    assert.equal(response.headers.get("content-encoding"), "gzip");
    assert.deepEqual(response.data, TEXT);
    assert.equal(m.connectionFromUrl(server.https).numConnections, 1);
  });
});

nginxTest("h2c with prior knowledge and http2: false side by side", async (server) => {
  await withManager({ http2PriorKnowledge: true }, async (m) => {
    assert.equal((await getHello(m, server.h2c!)).version, 20);
  });
  await withManager({ http2: false }, async (m) => {
    assert.equal((await getHello(m, server.https)).version, 11);
    assert.equal((await getHello(m, server.http1)).version, 11);
  });
});
