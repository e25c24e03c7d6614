/**
 * The real HTTP/2 servers of `tests/_h2_servers.ts` start, speak HTTP/2 and stop cleanly, as
 * an independent client (curl, built with nghttp2) sees them: so that a failure in the pooled
 * tests against them is pooled's, not the setup's. Each server's tests are skipped, with a
 * message, when it or curl is not installed.
 */

import * as fs from "node:fs/promises";
import { assert, test } from "../_harness.ts";
import { findNginx } from "../_nginx.ts";
import {
  curlVersion,
  findH2Server,
  type H2Server,
  type H2ServerName,
  hasCurl,
  HELLO,
  skipMessage,
  startApache,
  startH2o,
  startNghttpd,
  startNginxH2,
} from "../_h2_servers.ts";

const FILE = "tests/http2/h2_servers_test.ts";
const curl = await hasCurl();
if (!curl) console.warn(`${FILE}: SKIPPED: curl is not installed (the independent client)`);

const nginx = await findNginx();
const binaries = {
  h2o: await findH2Server("h2o"),
  nghttpd: await findH2Server("nghttpd"),
  apache: await findH2Server("apache"),
};
if (!nginx) console.warn(skipMessage("nginx", FILE));
for (const [name, binary] of Object.entries(binaries)) {
  if (!binary) console.warn(skipMessage(name as H2ServerName, FILE));
}

async function assertSpeaksH2(server: H2Server): Promise<void> {
  for (const origin of [server.https, server.h2c]) {
    if (origin === null) continue;
    const got = await curlVersion(`${origin}/hello.txt`);
    assert.equal(got.version, "2", `${server.name} ${origin}`);
    assert.equal(got.status, 200, `${server.name} ${origin}`);
    assert.equal(got.body, HELLO);
  }
}

async function assertStops(server: H2Server): Promise<void> {
  await server.stop();
  await assert.rejects(fs.access(server.dir), `${server.name} left ${server.dir}`);
  await assert.rejects(curlVersion(`${server.https}/hello.txt`), `${server.name} still listens`);
  await server.stop(); // twice is harmless
}

test(
  "h2 servers: nginx speaks h2 over TLS and h2c, HTTP/1.1 on its plain TLS listener",
  async () => {
    const server = await startNginxH2(nginx!, { maxConcurrentStreams: 8 });
    try {
      await assertSpeaksH2(server);
      assert.equal((await curlVersion(`${server.limited}/hello.txt`)).version, "2");
      // Offered h2, the listener without HTTP/2 picks http/1.1.
      const plain = await curlVersion(`${server.http1}/hello.txt`);
      assert.equal(plain.version, "1.1");
      assert.equal(plain.body, HELLO);
      assert.equal((await curlVersion(`${server.https}/redirect`)).status, 302);
    } finally {
      await assertStops(server);
    }
  },
  { ignore: !curl || !nginx },
);

test("h2 servers: h2o speaks h2 over TLS (and http/1.1 when asked) and h2c", async () => {
  const server = await startH2o(binaries.h2o!);
  try {
    await assertSpeaksH2(server);
    assert.equal((await curlVersion(`${server.https}/hello.txt`, true)).version, "1.1");
    assert.equal((await curlVersion(`${server.https}/redirect`)).status, 302);
  } finally {
    await assertStops(server);
  }
}, { ignore: !curl || !binaries.h2o });

test("h2 servers: nghttpd speaks h2 over TLS and h2c (--no-tls)", async () => {
  const server = await startNghttpd(binaries.nghttpd!);
  try {
    await assertSpeaksH2(server);
  } finally {
    await assertStops(server);
  }
}, { ignore: !curl || !binaries.nghttpd });

test(
  "h2 servers: Apache mod_http2 speaks h2 over TLS (and http/1.1 when asked) and h2c",
  async () => {
    const server = await startApache(binaries.apache!);
    try {
      await assertSpeaksH2(server);
      assert.equal((await curlVersion(`${server.https}/hello.txt`, true)).version, "1.1");
      assert.equal((await curlVersion(`${server.https}/redirect`)).status, 302);
    } finally {
      await assertStops(server);
    }
  },
  { ignore: !curl || !binaries.apache },
);
