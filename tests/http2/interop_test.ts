/**
 * The codec against real HTTP/2 implementations: a `node:http2` server (nghttp2 under
 * Node; the runtime's own under Deno and Bun) and nginx (h2c with prior knowledge) on
 * loopback, and a raw TCP socket that speaks to them only through this codec: the preface, SETTINGS, HEADERS blocks from the
 * HPACK encoder (CONTINUATION frames for a large one), DATA; and the server's SETTINGS,
 * HEADERS (Huffman and dynamic table), DATA and GOAWAY read back with the frame reader
 * and the HPACK decoder.
 */

import http2 from "node:http2";
import net from "node:net";
import type { AddressInfo } from "node:net";
import * as fs from "node:fs/promises";
import { assert, test } from "../_harness.ts";
import { findNginx, makeNginxDir, removeNginxDir, startNginx } from "../_nginx.ts";
import { unusedPort } from "../_servers.ts";
import {
  CONNECTION_PREFACE,
  DEFAULT_MAX_FRAME_SIZE,
  encodeData,
  encodeGoaway,
  encodeHeaders,
  encodePing,
  encodeSettings,
  encodeSettingsAck,
  encodeWindowUpdate,
  ErrorCode,
  type Frame,
  FrameType,
  SettingId,
} from "../../src/http2/frames.ts";
import { FrameReader } from "../../src/http2/frame_reader.ts";
import { HpackDecoder, HpackEncoder } from "../../src/http2/hpack.ts";

/** A promise with both of its settling functions at hand. */
interface Pending<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

function pending<T = void>(): Pending<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  // A rejection nobody awaits (the test already failed elsewhere) must not crash the run.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

interface Exchange {
  headers: string[] | null;
  trailers: string[] | null;
  body: Uint8Array[];
  done: Pending<void>;
}

/** A client made of the codec and a socket: just enough HTTP/2 to send requests. */
class RawClient {
  readonly #socket: net.Socket;
  readonly #reader: FrameReader;
  readonly #decoder = new HpackDecoder();
  readonly #encoder = new HpackEncoder();
  readonly #exchanges = new Map<number, Exchange>();
  #nextStream = 1;
  #peerMaxFrameSize = DEFAULT_MAX_FRAME_SIZE;
  readonly settingsAcked: Pending<void> = pending();
  readonly peerSettings: Pending<number[]> = pending();
  readonly pong: Pending<string> = pending();
  /** Every frame type received, in order. */
  readonly seen: number[] = [];
  /** The octets each request's header block took. */
  readonly blockSizes: number[] = [];

  constructor(socket: net.Socket) {
    this.#socket = socket;
    this.#reader = new FrameReader({
      onFrame: (frame) => this.#onFrame(frame),
      onStreamError: (error) => this.#failAll(error),
    });
    socket.on("data", (chunk: Uint8Array) => {
      try {
        this.#reader.push(chunk);
      } catch (error) {
        this.#failAll(error as Error);
      }
    });
    socket.on("error", (error) => this.#failAll(error));
    socket.write(CONNECTION_PREFACE);
    socket.write(encodeSettings([SettingId.ENABLE_PUSH, 0, SettingId.HEADER_TABLE_SIZE, 4096]));
  }

  request(fields: string[], body?: Uint8Array): Exchange {
    const streamId = this.#nextStream;
    this.#nextStream += 2;
    const exchange: Exchange = { headers: null, trailers: null, body: [], done: pending() };
    this.#exchanges.set(streamId, exchange);
    const block = this.#encoder.encode(fields);
    this.blockSizes.push(block.length);
    this.#socket.write(
      encodeHeaders(streamId, block, { endStream: !body, maxFrameSize: this.#peerMaxFrameSize }),
    );
    if (body) this.#socket.write(encodeData(streamId, body, { endStream: true }));
    return exchange;
  }

  ping(data: Uint8Array): void {
    this.#socket.write(encodePing(data));
  }

  close(): Promise<void> {
    const closed = pending();
    this.#socket.once("close", () => closed.resolve());
    this.#socket.end(encodeGoaway(0, ErrorCode.NO_ERROR));
    return closed.promise;
  }

  #onFrame(frame: Frame): void {
    this.seen.push(frame.type);
    switch (frame.type) {
      case FrameType.SETTINGS:
        if (frame.ack) return this.settingsAcked.resolve();
        for (let i = 0; i < frame.settings.length; i += 2) {
          const [id, value] = [frame.settings[i], frame.settings[i + 1]];
          if (id === SettingId.HEADER_TABLE_SIZE) this.#encoder.setMaxTableSize(value);
          if (id === SettingId.MAX_FRAME_SIZE) this.#peerMaxFrameSize = value;
        }
        this.#socket.write(encodeSettingsAck());
        return this.peerSettings.resolve(frame.settings);
      case FrameType.HEADERS: {
        const exchange = this.#exchanges.get(frame.streamId)!;
        const fields = this.#decoder.decode(frame.block);
        if (exchange.headers === null) exchange.headers = fields;
        else exchange.trailers = fields;
        if (frame.endStream) exchange.done.resolve();
        return;
      }
      case FrameType.DATA: {
        const exchange = this.#exchanges.get(frame.streamId)!;
        exchange.body.push(frame.data.slice());
        if (frame.flowLength > 0) {
          this.#socket.write(encodeWindowUpdate(0, frame.flowLength));
          if (!frame.endStream) {
            this.#socket.write(encodeWindowUpdate(frame.streamId, frame.flowLength));
          }
        }
        if (frame.endStream) exchange.done.resolve();
        return;
      }
      case FrameType.PING:
        if (frame.ack) this.pong.resolve(new TextDecoder().decode(frame.data));
        return;
      case FrameType.RST_STREAM:
        this.#exchanges.get(frame.streamId)?.done.reject(
          new Error(`RST_STREAM ${frame.errorCode}`),
        );
        return;
    }
  }

  #failAll(error: Error): void {
    for (const exchange of this.#exchanges.values()) exchange.done.reject(error);
    this.settingsAcked.reject(error);
  }
}

function field(fields: string[] | null, name: string): string | undefined {
  if (!fields) return undefined;
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

function text(exchange: Exchange): string {
  let out = "";
  for (const piece of exchange.body) out += new TextDecoder().decode(piece);
  return out;
}

async function startServer(): Promise<http2.Http2Server> {
  const server = http2.createServer();
  server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    const chunks: Uint8Array[] = [];
    stream.on("data", (chunk: Uint8Array) => chunks.push(chunk));
    stream.on("end", () => {
      const received = chunks.reduce((n, c) => n + c.length, 0);
      stream.respond({
        ":status": 200,
        "content-type": "text/plain",
        "x-path": String(headers[":path"]),
        "x-user-agent": String(headers["user-agent"]),
        "x-authorization": String(headers["authorization"] ?? ""),
        "x-big-length": String(String(headers["x-big"] ?? "").length),
        "x-received": String(received),
        "x-latin1": "caf\u00e9",
      });
      stream.end(`hello from node:http2 ${headers[":path"]}`);
    });
  });
  const listening = pending();
  server.listen(0, "127.0.0.1", () => listening.resolve());
  await listening.promise;
  return server;
}

async function connect(server: http2.Http2Server | number): Promise<net.Socket> {
  const port = typeof server === "number" ? server : (server.address() as AddressInfo).port;
  const socket = net.connect(port, "127.0.0.1");
  const connected = pending();
  socket.once("connect", () => connected.resolve());
  socket.once("error", (error) => connected.reject(error));
  await connected.promise;
  return socket;
}

test("a node:http2 server answers requests written and read with this codec", async () => {
  const server = await startServer();
  const closed = pending();
  try {
    const client = new RawClient(await connect(server));
    await client.peerSettings.promise;
    const base = [":method", "GET", ":scheme", "http", ":authority", "127.0.0.1"];

    const first = client.request([...base, ":path", "/", "user-agent", "pooled-test/1.0"]);
    await first.done.promise;
    assert.equal(field(first.headers, ":status"), "200");
    assert.equal(field(first.headers, "content-type"), "text/plain");
    assert.equal(field(first.headers, "x-path"), "/");
    assert.equal(field(first.headers, "x-user-agent"), "pooled-test/1.0");
    assert.equal(field(first.headers, "x-latin1"), "caf\u00e9");
    assert.equal(text(first), "hello from node:http2 /");

    // The second request refers to the dynamic table for what the first one indexed, and
    // the server's second response does likewise.
    const second = client.request([...base, ":path", "/second", "user-agent", "pooled-test/1.0"]);
    await second.done.promise;
    assert.ok(client.blockSizes[1] < client.blockSizes[0], `${client.blockSizes}`);
    assert.equal(field(second.headers, ":status"), "200");
    assert.equal(field(second.headers, "x-path"), "/second");
    assert.equal(field(second.headers, "x-user-agent"), "pooled-test/1.0");
    assert.equal(text(second), "hello from node:http2 /second");

    // A header block over the frame size (CONTINUATION frames), a never-indexed field
    // and a request body.
    const big = "b".repeat(3 * DEFAULT_MAX_FRAME_SIZE);
    const third = client.request(
      [
        ...base.map((v) => (v === "GET" ? "POST" : v)),
        ":path",
        "/third",
        "user-agent",
        "pooled-test/1.0",
        "authorization",
        "Bearer secret-token",
        "x-big",
        big,
      ],
      new TextEncoder().encode("request body"),
    );
    await third.done.promise;
    assert.equal(field(third.headers, ":status"), "200");
    assert.equal(field(third.headers, "x-authorization"), "Bearer secret-token");
    assert.equal(field(third.headers, "x-big-length"), String(big.length));
    assert.equal(field(third.headers, "x-received"), "12");
    assert.equal(text(third), "hello from node:http2 /third");

    client.ping(new TextEncoder().encode("pingpong"));
    assert.equal(await client.pong.promise, "pingpong");
    await client.settingsAcked.promise;
    assert.ok(client.seen.includes(FrameType.SETTINGS));
    await client.close();
  } finally {
    server.close(() => closed.resolve());
    await closed.promise;
  }
});

const nginx = await findNginx();

test("nginx (h2c) answers requests written and read with this codec", async () => {
  const dir = await makeNginxDir();
  const port = await unusedPort();
  const file = new Uint8Array(300_000).map((_, i) => (i * 31) & 0xff);
  await fs.mkdir(`${dir}/www`);
  await fs.writeFile(`${dir}/www/big.bin`, file);
  const server = await startNginx(nginx!, {
    dir,
    ports: [port],
    http: `server {
      listen 127.0.0.1:${port} http2;
      root ${dir}/www;
      location = /echo {
        add_header x-user-agent $http_user_agent;
        add_header x-cookie $http_cookie;
        return 200 "nginx saw $request_method $request_uri";
      }
    }`,
  });
  try {
    const client = new RawClient(await connect(port));
    await client.peerSettings.promise;
    const base = [":method", "GET", ":scheme", "http", ":authority", "127.0.0.1"];
    for (const query of ["?a=1", "?a=2"]) {
      const echo = client.request([
        ...base,
        ":path",
        "/echo" + query,
        "user-agent",
        "pooled-test/1.0 (nginx)",
        "cookie",
        "session=abc123",
      ]);
      await echo.done.promise;
      assert.equal(field(echo.headers, ":status"), "200");
      assert.equal(field(echo.headers, "x-user-agent"), "pooled-test/1.0 (nginx)");
      assert.equal(field(echo.headers, "x-cookie"), "session=abc123");
      assert.equal(text(echo), `nginx saw GET /echo${query}`);
    }
    // Many DATA frames, past the initial stream window (the client credits it back).
    const big = client.request([...base, ":path", "/big.bin"]);
    await big.done.promise;
    assert.equal(field(big.headers, ":status"), "200");
    assert.equal(field(big.headers, "content-length"), String(file.length));
    const received = new Uint8Array(big.body.reduce((n, b) => n + b.length, 0));
    let at = 0;
    for (const piece of big.body) {
      received.set(piece, at);
      at += piece.length;
    }
    assert.deepEqual(received, file);
    const missing = client.request([...base, ":path", "/missing"]);
    await missing.done.promise;
    assert.equal(field(missing.headers, ":status"), "404");
    await client.close();
  } finally {
    await server.stop();
    await removeNginxDir(dir);
  }
}, { ignore: !nginx });
