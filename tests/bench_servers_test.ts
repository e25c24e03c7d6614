/**
 * Smoke tests of the benchmark's own servers (`bench/`), so a broken server shows up here
 * rather than as odd benchmark figures: `ports_server.ts` (every runtime) and the canned
 * reply server (Deno only: it is a Deno script, started by `compare.ts`).
 */

import { assert, test } from "./_harness.ts";
import { text } from "./_util.ts";
import { SERVER_CERT, SERVER_KEY } from "./_certs.ts";
import { PoolManager } from "../mod.ts";
import { BYTES_PATH, startPortsServer } from "../bench/servers/_ports_server.ts";
import { startCannedServer } from "../bench/servers/canned_server.ts";
import { BODY, fixedBytes, LARGE_BODY_BYTES, POST_BODY_BYTES } from "../bench/servers/server.ts";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";

test("ports_server: each port answers its own port and path, with keep-alive and counters", async () => {
  const server = await startPortsServer(3);
  const manager = new PoolManager({ numPools: 3 });
  try {
    assert.equal(server.ports.length, 3);
    for (const port of server.ports) {
      for (const target of ["/a", "/b?x=1"]) {
        const r = await manager.request("GET", `http://127.0.0.1:${port}${target}`);
        assert.equal(text(r.data), `${port} ${target}`);
      }
    }
    const bytes = await manager.request(
      "GET",
      `http://127.0.0.1:${server.ports[1]}${BYTES_PATH}5000`,
    );
    assert.equal(bytes.data.length, 5000);
    const stats = await server.stats();
    assert.deepEqual(stats, {
      open: 3,
      peakOpen: 3,
      accepted: 3,
      requests: 7,
      maxRequestsPerConnection: 3,
    });
    await server.reset();
    assert.equal((await server.stats()).requests, 0);
  } finally {
    await manager.close();
    await server.stop();
  }
});

test("canned server: reads POST bodies in full, answers /large, keeps the connection", async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "pooled-canned-"));
  const cert = {
    certFile: path.join(dir, "cert.pem"),
    keyFile: path.join(dir, "key.pem"),
    certPem: SERVER_CERT,
    keyPem: SERVER_KEY,
  };
  await fs.writeFile(cert.certFile, SERVER_CERT);
  await fs.writeFile(cert.keyFile, SERVER_KEY);
  const largeFile = path.join(dir, "large.bin");
  const large = fixedBytes(LARGE_BODY_BYTES);
  await fs.writeFile(largeFile, large);
  const server = await startCannedServer(cert, largeFile);
  const manager = new PoolManager({ maxSize: 1 });
  try {
    const body = fixedBytes(POST_BODY_BYTES, 2);
    for (let i = 0; i < 3; i++) {
      const r = await manager.request("POST", server.postUrl, { body });
      assert.equal(text(r.data), BODY);
    }
    const r = await manager.request("GET", server.largeUrl);
    assert.deepEqual(r.data, large);
    assert.equal(text((await manager.request("GET", server.plainUrl)).data), BODY);
    const pool = manager.connectionFromUrl(server.plainUrl);
    assert.equal(pool.numConnections, 1, "one kept-alive connection served every request");
  } finally {
    await manager.close();
    await server.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
}, { only: "deno" });
