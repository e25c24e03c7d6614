/**
 * The runtime adapters against real loopback servers: each connector that can run on the
 * current runtime (`denoConnector` on Deno, `bunConnector` on Bun, `nodeConnector` on all
 * three).
 */

import * as net from "node:net";
import process from "node:process";
import * as tls from "node:tls";
import { assert, runtime, test } from "../_harness.ts";
import { isCollected, sleep, waitFor } from "../_util.ts";
import { CA_CERT, SERVER_TLS, WRONG_CA_CERT } from "../_certs.ts";
import { type RawConnection, type RawServer, rawServer, unusedPort } from "../_servers.ts";
import { NameResolutionError, NewConnectionError, SSLError } from "../../src/errors.ts";
import { bunConnector } from "../../src/runtime/bun.ts";
import { raceAddresses } from "../../src/network/_dialer.ts";
import { defaultConnector } from "../../src/runtime/default.ts";
import { denoConnector } from "../../src/runtime/deno.ts";
import { nodeConnector } from "../../src/runtime/node.ts";
import { sharedSecureContext } from "../../src/runtime/_node_streams.ts";
import type {
  Connector,
  Socket,
  SocketHandler,
  TlsConnectOptions,
} from "../../src/runtime/socket.ts";

const NATIVE: Record<typeof runtime, Connector | undefined> = {
  deno: denoConnector,
  bun: bunConnector,
  node: undefined,
};
const CONNECTORS: Connector[] = [NATIVE[runtime], nodeConnector].flatMap((c) => c ? [c] : []);

function latin1(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

/** Records everything a socket reports. */
class Recorder implements SocketHandler {
  data = "";
  ends = 0;
  errors: Error[] = [];
  writeErrors: Error[] = [];
  onData(chunk: Uint8Array): void {
    this.data += latin1(chunk);
  }
  onEnd(): void {
    this.ends++;
  }
  onError(error: Error): void {
    this.errors.push(error);
  }
  onWriteError(error: Error): void {
    this.writeErrors.push(error);
  }
  /** onEnd and onError together: how many times the socket reported its end. */
  get terminations(): number {
    return this.ends + this.errors.length;
  }
}

/** Records only how much arrived, and weakly what: once delivered, data is the handler's. */
class WeakRecorder extends Recorder {
  delivered: WeakRef<Uint8Array>[] = [];
  received = 0;
  override onData(chunk: Uint8Array): void {
    this.delivered.push(new WeakRef(chunk));
    this.received += chunk.length;
  }
}

/** A raw server whose accepted connections the test drives itself. */
async function passiveServer(tls = false): Promise<{ server: RawServer; conns: RawConnection[] }> {
  const conns: RawConnection[] = [];
  const server = await rawServer((conn) => {
    conns.push(conn);
  }, { tls: tls ? SERVER_TLS : undefined });
  return { server, conns };
}

function tlsOptions(overrides: Partial<TlsConnectOptions> = {}): TlsConnectOptions {
  return {
    serverName: "127.0.0.1",
    verify: true,
    checkHostname: true,
    caCerts: [CA_CERT],
    alpnProtocols: ["http/1.1"],
    minVersion: "TLSv1.2",
    ...overrides,
  };
}

/** Every connection the server accepted is closed (the client left nothing open). */
async function assertAllClosed(conns: RawConnection[]): Promise<void> {
  await waitFor(() => conns.every((conn) => conn.ended), "the server to see every socket close");
  await Promise.all(conns.map((conn) => conn.closed));
}

/** Sends `text` both ways over an open socket. */
async function roundTrip(socket: Socket, rec: Recorder, conn: RawConnection, text: string) {
  const before = rec.data.length;
  socket.write(text);
  assert.equal(latin1(await conn.readBytes(text.length)), text);
  await conn.write(text.toUpperCase());
  await waitFor(() => rec.data.length >= before + text.length, "the reply");
  assert.equal(rec.data.slice(before), text.toUpperCase());
}

for (const connector of CONNECTORS) {
  const name = `${connector.name}Connector`;

  test(`${name}: connect, write, receive, drain and close`, async () => {
    const { server, conns } = await passiveServer();
    try {
      const socket = await connector.connect({ hostname: "127.0.0.1", port: server.port });
      const rec = new Recorder();
      socket.setHandler(rec);
      assert.equal(socket.closed, false);
      await waitFor(() => conns.length === 1, "the server to accept");
      const conn = conns[0];

      assert.equal(socket.write("ping "), true);
      assert.equal(socket.write(new Uint8Array([0, 1, 255])), true);
      await socket.drained();
      assert.deepEqual([...await conn.readBytes(8)], [
        ..."ping ".split("").map((c) => c.charCodeAt(0)),
        0,
        1,
        255,
      ]);

      await conn.write("pong \x00\xff");
      await waitFor(() => rec.data === "pong \x00\xff", "the reply");

      // A bigger transfer, both ways.
      const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => i % 251);
      socket.write(big);
      await socket.drained();
      const got = await conn.readBytes(big.length);
      assert.ok(got.every((byte, i) => byte === i % 251), "request bytes intact");
      rec.data = "";
      await conn.write(big);
      await waitFor(() => rec.data.length === big.length, "the big reply");
      assert.equal(rec.data, latin1(big));

      socket.close();
      assert.equal(socket.closed, true);
      socket.close();
      assert.equal(rec.ends, 1, "onEnd once, for a local close");
      assert.deepEqual(rec.errors, []);
      // Writing after close is reported, never thrown.
      assert.equal(socket.write("late"), false);
      await waitFor(() => rec.writeErrors.length === 1, "the write error");
      await socket.drained();
      await assertAllClosed(conns);
    } finally {
      await server.close();
    }
  });

  test(`${name}: waiting for drained() again and again leaves nothing behind`, async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on("warning", onWarning);
    const { server, conns } = await passiveServer();
    try {
      const socket = await connector.connect({ hostname: "127.0.0.1", port: server.port });
      socket.setHandler(new Recorder());
      await waitFor(() => conns.length === 1, "the server to accept");
      // Pieces bigger than the kernel's buffers, so that each drained() really waits; the
      // server only counts the bytes (RawConnection would keep them all).
      const piece = new Uint8Array(4 * 1024 * 1024);
      const rounds = 12; // more than Node's default of 10 listeners per event
      let received = 0;
      conns[0].socket.removeAllListeners("data");
      conns[0].socket.on("data", (chunk: Uint8Array) => received += chunk.length);
      for (let i = 0; i < rounds; i++) {
        socket.write(piece);
        await socket.drained();
      }
      await waitFor(() => received === piece.length * rounds, "every byte to arrive");
      socket.close();
      await assertAllClosed(conns);
      await sleep(10); // warnings are emitted on a later tick
      assert.deepEqual(warnings, []);
    } finally {
      process.off("warning", onWarning);
      await server.close();
    }
  });

  test(`${name}: the peer's close (FIN) is onEnd, once`, async () => {
    const { server, conns } = await passiveServer();
    try {
      const socket = await connector.connect({ hostname: "127.0.0.1", port: server.port });
      const rec = new Recorder();
      socket.setHandler(rec);
      await waitFor(() => conns.length === 1, "the server to accept");
      await conns[0].write("bye");
      conns[0].end();
      await waitFor(() => rec.ends === 1, "onEnd");
      assert.equal(rec.data, "bye");
      assert.equal(socket.closed, true);
      assert.deepEqual(rec.errors, []);
      socket.close();
      await sleep(20);
      assert.equal(rec.terminations, 1);
      await assertAllClosed(conns);
    } finally {
      await server.close();
    }
  });

  test(`${name}: the peer's reset ends the socket once`, async () => {
    const { server, conns } = await passiveServer();
    try {
      const socket = await connector.connect({ hostname: "127.0.0.1", port: server.port });
      const rec = new Recorder();
      socket.setHandler(rec);
      await waitFor(() => conns.length === 1, "the server to accept");
      conns[0].destroy();
      await waitFor(() => rec.terminations > 0, "onEnd or onError");
      assert.equal(socket.closed, true);
      socket.close();
      await sleep(20);
      assert.equal(rec.terminations, 1);
    } finally {
      await server.close();
    }
  });

  test(`${name}: pause holds data (and the end) back until resume`, async () => {
    const { server, conns } = await passiveServer();
    try {
      const socket = await connector.connect({ hostname: "127.0.0.1", port: server.port });
      const rec = new Recorder();
      socket.setHandler(rec);
      await waitFor(() => conns.length === 1, "the server to accept");
      await conns[0].write("a");
      await waitFor(() => rec.data === "a", "the first byte");
      socket.pause();
      await conns[0].write("b");
      await sleep(50);
      assert.equal(rec.data, "a", "nothing delivered while paused");
      socket.resume();
      await waitFor(() => rec.data === "ab", "the held byte");

      socket.pause();
      await conns[0].write("c");
      conns[0].end();
      await sleep(50);
      assert.equal(rec.data, "ab", "nothing delivered while paused");
      assert.equal(rec.ends, 0, "the end waits behind the data");
      socket.resume();
      socket.resume();
      await waitFor(() => rec.ends === 1, "onEnd after resume");
      assert.equal(rec.data, "abc");
      socket.close();
      await assertAllClosed(conns);
    } finally {
      await server.close();
    }
  });

  test(`${name}: a waiting socket holds no data it delivered`, async () => {
    const { server, conns } = await passiveServer();
    try {
      const socket = await connector.connect({ hostname: "127.0.0.1", port: server.port });
      const rec = new WeakRecorder();
      socket.setHandler(rec);
      await waitFor(() => conns.length === 1, "the server to accept");
      const size = 1024 * 1024;
      await conns[0].write(new Uint8Array(size));
      await waitFor(() => rec.received === size, "the whole megabyte");
      // The socket now waits for more; what it delivered must be free to collect.
      const alive = [];
      for (const [index, ref] of rec.delivered.entries()) {
        if (!await isCollected(ref)) alive.push(index);
      }
      assert.deepEqual(alive, [], `of ${rec.delivered.length} chunks`);
      socket.close();
      await assertAllClosed(conns);
    } finally {
      await server.close();
    }
  });

  test(`${name}: a refused connection is a NewConnectionError`, async () => {
    const port = await unusedPort();
    await assert.rejects(
      connector.connect({ hostname: "127.0.0.1", port }),
      (error: unknown) => {
        assert.ok(error instanceof NewConnectionError, `got ${error}`);
        assert.ok(!(error instanceof NameResolutionError), `got ${error}`);
        assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
        return true;
      },
    );
  });

  test(`${name}: an already aborted signal rejects with its reason, nothing opened`, async () => {
    const { server } = await passiveServer();
    try {
      const reason = new Error("stop");
      await assert.rejects(
        connector.connect({
          hostname: "127.0.0.1",
          port: server.port,
          signal: AbortSignal.abort(reason),
        }),
        (error: unknown) => error === reason,
      );
      await sleep(20);
      assert.equal(server.connections, 0);
    } finally {
      await server.close();
    }
  });

  for (const tls of [false, true]) {
    test(`${name}: abort right after connect() (${tls ? "TLS" : "TCP"}) rejects, nothing left open`, async () => {
      const { server, conns } = await passiveServer(tls);
      try {
        const controller = new AbortController();
        const reason = new Error("aborted at once");
        const attempt = connector.connect({
          hostname: "127.0.0.1",
          port: server.port,
          tls: tls ? tlsOptions() : undefined,
          signal: controller.signal,
        });
        controller.abort(reason);
        let socket: Socket | undefined;
        try {
          socket = await attempt;
        } catch (error) {
          assert.equal(error, reason);
        }
        // A socket handed out after the abort would be a leak nobody closes.
        socket?.close();
        assert.equal(socket, undefined, "connect() resolved although the signal was aborted");
        await sleep(30);
        await assertAllClosed(conns);
      } finally {
        await server.close();
      }
    });
  }

  // On Deno, closing a `Deno.TlsConn` whose handshake is pending keeps the TCP socket open
  // until the peer answers (denoland/deno#14547); the Deno adapter therefore runs every TLS
  // set-up that can be aborted on `node:tls`, which this test holds it to.
  test(`${name}: abort during a TLS handshake that never completes`, async () => {
    // A plain TCP server that accepts and stays silent: the handshake hangs.
    const { server, conns } = await passiveServer(false);
    try {
      const controller = new AbortController();
      const reason = new Error("handshake took too long");
      const attempt = connector.connect({
        hostname: "127.0.0.1",
        port: server.port,
        tls: tlsOptions(),
        signal: controller.signal,
      });
      await waitFor(() => conns.length === 1, "the server to accept");
      await sleep(30);
      controller.abort(reason);
      await assert.rejects(attempt, (error: unknown) => error === reason);
      await assertAllClosed(conns);
    } finally {
      await server.close();
    }
  });

  test(`${name}: TLS with the test CA`, async () => {
    const { server, conns } = await passiveServer(true);
    try {
      const socket = await connector.connect({
        hostname: "127.0.0.1",
        port: server.port,
        tls: tlsOptions(),
      });
      const rec = new Recorder();
      socket.setHandler(rec);
      await waitFor(() => conns.length === 1, "the server to accept");
      await roundTrip(socket, rec, conns[0], "hello over tls");
      socket.close();
      assert.equal(rec.ends, 1);
      await assertAllClosed(conns);
    } finally {
      await server.close();
    }
  });

  test(`${name}: TLS with the wrong CA (or none) is an SSLError`, async () => {
    const { server, conns } = await passiveServer(true);
    try {
      for (const caCerts of [[WRONG_CA_CERT], undefined]) {
        await assert.rejects(
          connector.connect({
            hostname: "127.0.0.1",
            port: server.port,
            tls: tlsOptions({ caCerts }),
          }),
          (error: unknown) => {
            assert.ok(error instanceof SSLError, `got ${error}`);
            return true;
          },
        );
      }
      await assertAllClosed(conns);
    } finally {
      await server.close();
    }
  });

  test(`${name}: verify false (CERT_NONE) connects despite the wrong CA`, async () => {
    const { server, conns } = await passiveServer(true);
    try {
      const socket = await connector.connect({
        hostname: "127.0.0.1",
        port: server.port,
        tls: tlsOptions({ verify: false, checkHostname: false, caCerts: [WRONG_CA_CERT] }),
      });
      const rec = new Recorder();
      socket.setHandler(rec);
      await waitFor(() => conns.length === 1, "the server to accept");
      await roundTrip(socket, rec, conns[0], "unverified");
      socket.close();
      await assertAllClosed(conns);
    } finally {
      await server.close();
    }
  });

  test(`${name}: serverName overrides the name verified (connect to 127.0.0.1 as localhost)`, async () => {
    const { server, conns } = await passiveServer(true);
    try {
      const socket = await connector.connect({
        hostname: "127.0.0.1",
        port: server.port,
        tls: tlsOptions({ serverName: "localhost" }),
      });
      const rec = new Recorder();
      socket.setHandler(rec);
      await waitFor(() => conns.length === 1, "the server to accept");
      await roundTrip(socket, rec, conns[0], "as localhost");
      socket.close();

      // A name the certificate does not cover fails...
      await assert.rejects(
        connector.connect({
          hostname: "127.0.0.1",
          port: server.port,
          tls: tlsOptions({ serverName: "not-covered.test" }),
        }),
        (error: unknown) => {
          assert.ok(error instanceof SSLError, `got ${error}`);
          return true;
        },
      );
      // ...unless only the chain is checked.
      const unchecked = await connector.connect({
        hostname: "127.0.0.1",
        port: server.port,
        tls: tlsOptions({ serverName: "not-covered.test", checkHostname: false }),
      });
      unchecked.setHandler(new Recorder());
      unchecked.close();
      // Without the hostname check the chain is still verified.
      for (const serverName of ["not-covered.test", "localhost"]) {
        await assert.rejects(
          connector.connect({
            hostname: "127.0.0.1",
            port: server.port,
            tls: tlsOptions({ serverName, checkHostname: false, caCerts: [WRONG_CA_CERT] }),
          }),
          (error: unknown) => {
            assert.ok(error instanceof SSLError, `${serverName}: got ${error}`);
            return true;
          },
        );
      }
      await assertAllClosed(conns);
    } finally {
      await server.close();
    }
  });

  test(`${name}: TLS to a server that does not speak TLS is an SSLError`, async () => {
    const conns: RawConnection[] = [];
    const server = await rawServer(async (conn) => {
      conns.push(conn);
      await conn.write(
        "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
      );
      conn.end();
    });
    try {
      await assert.rejects(
        connector.connect({ hostname: "127.0.0.1", port: server.port, tls: tlsOptions() }),
        (error: unknown) => {
          assert.ok(error instanceof SSLError, `got ${error}`);
          return true;
        },
      );
      await assertAllClosed(conns);
    } finally {
      await server.close();
    }
  });
}

/** A server on one port of both 127.0.0.1 and ::1 (when this host has ::1), counting accepts. */
interface DualServer {
  port: number;
  /** Both addresses listen (false: ::1 is not available here). */
  dual: boolean;
  /** TCP connections accepted, on either address. */
  readonly accepted: number;
  close(): Promise<void>;
}

async function listenOn(server: net.Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return (server.address() as net.AddressInfo).port;
}

async function dualServer(secure: boolean): Promise<DualServer> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const make = () => {
    const server = secure ? tls.createServer(SERVER_TLS) : net.createServer();
    server.on("connection", (socket: net.Socket) => {
      accepted++;
      sockets.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => sockets.delete(socket));
    });
    server.on("tlsClientError", () => {});
    return server;
  };
  const v4 = make();
  const port = await listenOn(v4, 0, "127.0.0.1");
  let v6: net.Server | null = make();
  try {
    await listenOn(v6, port, "::1");
  } catch {
    v6 = null; // no ::1 here (or the port is taken on it): test the one address
  }
  const servers = v6 ? [v4, v6] : [v4];
  return {
    port,
    dual: v6 !== null,
    get accepted() {
      return accepted;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await Promise.all(
        servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
      );
    },
  };
}

for (const connector of CONNECTORS) {
  for (const secure of [false, true]) {
    const what = secure ? "TLS" : "TCP";
    test(`${connector.name}Connector: one ${what} connection to localhost on a server at 127.0.0.1 and ::1`, async () => {
      const server = await dualServer(secure);
      try {
        const socket = await connector.connect({
          hostname: "localhost",
          port: server.port,
          tls: secure ? tlsOptions({ serverName: "localhost" }) : undefined,
        });
        socket.setHandler(new Recorder());
        // A second connection would be accepted by now (loopback, both addresses at once).
        await sleep(200);
        assert.equal(server.accepted, 1, `accepted connections (::1 too: ${server.dual})`);
        socket.close();
      } finally {
        await server.close();
      }
    });
  }
}

test("nodeConnector: connections that trust the same roots share one secure context", () => {
  const roots = [CA_CERT];
  const settings = tlsOptions({ caCerts: roots });
  const first = sharedSecureContext(tls, roots, settings);
  assert.equal(sharedSecureContext(tls, roots, tlsOptions({ caCerts: roots })), first);
  assert.notEqual(
    sharedSecureContext(tls, roots, tlsOptions({ minVersion: "TLSv1.3" })),
    first,
  );
  assert.notEqual(sharedSecureContext(tls, [CA_CERT], settings), first);
  // A list changed after use is another set of roots: it gets a context of its own.
  roots.push(WRONG_CA_CERT);
  assert.notEqual(sharedSecureContext(tls, roots, settings), first);
});

test("nodeConnector: a shared secure context still verifies each connection against its roots", async () => {
  const { server, conns } = await passiveServer(true);
  const roots = [CA_CERT];
  const connect = (caCerts: string[]) =>
    nodeConnector.connect({
      hostname: "127.0.0.1",
      port: server.port,
      tls: tlsOptions({ caCerts }),
    });
  const isSslError = (error: unknown) => {
    assert.ok(error instanceof SSLError, `got ${error}`);
    return true;
  };
  try {
    for (let i = 0; i < 2; i++) (await connect(roots)).close();
    await assert.rejects(connect([WRONG_CA_CERT]), isSslError);
    (await connect(roots)).close();
    roots[0] = WRONG_CA_CERT;
    await assert.rejects(connect(roots), isSslError);
    await assertAllClosed(conns);
  } finally {
    await server.close();
  }
});

test("raceAddresses: goes to the next address on a refused connection, stops on anything else", async () => {
  const refused = (address: string) => new NewConnectionError(`refused: ${address}`);
  const socketOf = (address: string) => ({ address, close() {} }) as unknown as Socket;
  const tried: string[] = [];
  const options = { hostname: "example.test", port: 80 };
  const result = await raceAddresses(["::1", "127.0.0.1"], options, ({ address }) => {
    tried.push(address!);
    return address === "::1"
      ? Promise.reject(refused(address))
      : Promise.resolve(socketOf(address!));
  }, 10_000);
  assert.equal((result as unknown as { address: string }).address, "127.0.0.1");
  assert.deepEqual(tried, ["::1", "127.0.0.1"], "a refusal starts the next attempt at once");
  const last = await raceAddresses(
    ["a", "b"],
    options,
    ({ address }) => Promise.reject(refused(address!)),
    10_000,
  )
    .catch((error) => error);
  assert.match(String(last), /refused: b/, "the last failure is thrown");
  tried.length = 0;
  const tls = await raceAddresses(["a", "b"], options, ({ address }) => {
    tried.push(address!);
    return Promise.reject(new SSLError("unknown CA"));
  }, 10_000).catch((error) => error);
  assert.ok(tls instanceof SSLError);
  assert.deepEqual(tried, ["a"], "a TLS failure is not retried on another address");
});

test("the default connector of this runtime is the first tested", () => {
  assert.equal(defaultConnector().name, runtime);
  assert.equal(CONNECTORS[0], defaultConnector());
});
