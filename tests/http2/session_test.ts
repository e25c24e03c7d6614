/**
 * The HTTP/2 session over the library's own sockets (h2c with prior knowledge) against a
 * `node:http2` server, nginx, and a raw frame server written with the codec for what real
 * servers do not do (malformed heads, oversized header lists, floods).
 */

import http2 from "node:http2";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { assert, runtime, test } from "../_harness.ts";
import { deferred, sleep, waitFor } from "../_util.ts";
import { findNginx, makeNginxDir, removeNginxDir, startNginx } from "../_nginx.ts";
import { unusedPort } from "../_servers.ts";
import { defaultConnector } from "../../src/runtime/default.ts";
import { HTTP2Session, type HTTP2SessionOptions } from "../../src/http2/session.ts";
import type { HTTP2ResponseHead, HTTP2Stream } from "../../src/http2/stream.ts";
import {
  HTTP2FloodError,
  HTTP2HeaderListTooLargeError,
  HTTP2MalformedResponseError,
  HTTP2SettingsTimeoutError,
  HTTP2StreamRefusedError,
  HTTP2StreamResetError,
} from "../../src/http2/errors.ts";
import {
  CONNECTION_PREFACE,
  encodeData,
  encodeGoaway,
  encodeHeaders,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeSettingsAck,
  ErrorCode,
  type Frame,
  FrameType,
  SettingId,
} from "../../src/http2/frames.ts";
import { FrameReader } from "../../src/http2/frame_reader.ts";
import { HpackDecoder, HpackEncoder } from "../../src/http2/hpack.ts";
import { StreamedBody } from "../../src/body/request_body.ts";
import type { Socket } from "../../src/runtime/socket.ts";

async function openSession(port: number, options?: HTTP2SessionOptions): Promise<HTTP2Session> {
  const socket = await defaultConnector().connect({ hostname: "127.0.0.1", port });
  return new HTTP2Session(socket, options);
}

interface Sent {
  stream: HTTP2Stream;
  head: Promise<HTTP2ResponseHead>;
}

function send(
  session: HTTP2Session,
  path: string,
  init: {
    method?: string;
    body?: Uint8Array | StreamedBody | AsyncIterable<Uint8Array>;
    headers?: string[];
  } = {},
): Sent {
  let resolve!: (head: HTTP2ResponseHead) => void;
  let reject!: (error: Error) => void;
  const head = new Promise<HTTP2ResponseHead>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  head.catch(() => {});
  const stream = session.request({
    method: init.method ?? "GET",
    scheme: "http",
    authority: "127.0.0.1",
    path,
    headers: init.headers ?? ["user-agent", "pooled-test"],
    body: init.body ?? null,
  }, { responded: (s) => resolve(s.head!), failed: reject });
  return { stream, head };
}

async function readAll(stream: HTTP2Stream): Promise<Uint8Array> {
  const pieces: Uint8Array[] = [];
  let size = 0;
  for (let piece = await stream.next(); piece !== null; piece = await stream.next()) {
    pieces.push(piece);
    size += piece.length;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const piece of pieces) {
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}

async function get(session: HTTP2Session, path: string): Promise<[HTTP2ResponseHead, string]> {
  const { stream, head } = send(session, path);
  const h = await head;
  return [h, new TextDecoder().decode(await readAll(stream))];
}

function field(head: HTTP2ResponseHead, name: string): string | undefined {
  const at = head.rawHeaders.indexOf(name);
  return at >= 0 && at % 2 === 0 ? head.rawHeaders[at + 1] : undefined;
}

/** A `node:http2` server with its sessions tracked, so that closing it never hangs. */
async function nodeServer(
  onStream: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void,
  settings: http2.Settings = {},
) {
  const server = http2.createServer({ settings });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    // Resets (REFUSED_STREAM, CANCEL) are what the tests are about, not server failures.
    stream.on("error", () => {});
    onStream(stream, headers);
  });
  const listening = deferred();
  server.listen(0, "127.0.0.1", () => listening.resolve());
  await listening.promise;
  return {
    port: (server.address() as AddressInfo).port,
    sessions,
    async close() {
      for (const session of sessions) session.destroy();
      const closed = deferred();
      server.close(() => closed.resolve());
      await closed.promise;
    },
  };
}

function bytes(size: number): Uint8Array {
  return new Uint8Array(size).map((_, i) => (i * 7 + (i >> 8)) & 0xff);
}

test("HTTP2Session: 50 concurrent GETs share one session of a node:http2 server", async () => {
  const server = await nodeServer((stream, headers) => {
    stream.respond({ ":status": 200, "x-path": String(headers[":path"]) });
    stream.end(`hello ${headers[":path"]}`);
  });
  const session = await openSession(server.port);
  try {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => get(session, `/r${i}`)),
    );
    for (const [i, [head, body]] of results.entries()) {
      assert.equal(head.status, 200);
      assert.equal(head.version, 20);
      assert.equal(field(head, "x-path"), `/r${i}`);
      assert.equal(body, `hello /r${i}`);
    }
    assert.equal(server.sessions.size, 1);
    assert.equal(session.openStreams, 0);
    assert.ok(session.capacity > 1, `capacity ${session.capacity}`);
    assert.equal(session.bufferedBytes, 0);
    await waitFor(() => session.settingsAcknowledged, "the SETTINGS ACK");
  } finally {
    session.close();
    assert.ok(session.isClosed);
    assert.equal(session.capacity, 0);
    await server.close();
  }
});

test("HTTP2Session: a server's MAX_CONCURRENT_STREAMS of 8 is never exceeded", async () => {
  let active = 0;
  let most = 0;
  const server = await nodeServer((stream) => {
    active++;
    most = Math.max(most, active);
    stream.on("close", () => active--);
    setTimeout(() => {
      stream.respond({ ":status": 200 });
      stream.end("ok");
    }, 10);
  }, { maxConcurrentStreams: 8 });
  const session = await openSession(server.port);
  try {
    const all = Promise.all(Array.from({ length: 30 }, (_, i) => get(session, `/${i}`)));
    await waitFor(() => session.openStreams === 8, "8 open streams");
    assert.equal(session.capacity, 0);
    for (const [head, body] of await all) {
      assert.equal(head.status, 200);
      assert.equal(body, "ok");
    }
    assert.ok(most <= 8, `the server saw ${most} streams at once`);
    assert.ok(most >= 2, `the server saw ${most} streams at once`);
  } finally {
    session.close();
    await server.close();
  }
});

test("HTTP2Session: a 1 MiB request body and its echo pass both flow-control windows", async () => {
  const server = await nodeServer((stream) => {
    const chunks: Uint8Array[] = [];
    stream.on("data", (chunk: Uint8Array) => chunks.push(chunk));
    stream.on("end", () => {
      stream.respond({ ":status": 200 });
      for (const chunk of chunks) stream.write(chunk);
      stream.end();
    });
  });
  // Small windows on this end too: many WINDOW_UPDATEs each way.
  const session = await openSession(server.port, {
    streamWindowSize: 65535,
    connectionWindowSize: 65535,
  });
  try {
    const body = bytes(1024 * 1024);
    const { stream, head } = send(session, "/echo", { method: "POST", body });
    assert.equal((await head).status, 200);
    assert.deepEqual(await readAll(stream), body);
  } finally {
    session.close();
    await server.close();
  }
});

test("HTTP2Session: a slow reader holds the server back and memory stays bounded", async () => {
  const total = 16 * 1024 * 1024;
  const server = await nodeServer((stream) => {
    stream.respond({ ":status": 200 });
    const chunk = bytes(64 * 1024);
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        sent += chunk.length;
        if (!stream.write(chunk)) return void stream.once("drain", pump);
      }
      stream.end();
    };
    pump();
  });
  const window = 256 * 1024;
  const session = await openSession(server.port, {
    streamWindowSize: window,
    connectionWindowSize: 2 * window,
  });
  try {
    const { stream, head } = send(session, "/big");
    assert.equal((await head).status, 200);
    let received = 0;
    let most = 0;
    let pieces = 0;
    for (let piece = await stream.next(); piece !== null; piece = await stream.next()) {
      received += piece.length;
      most = Math.max(most, session.bufferedBytes);
      if (++pieces % 64 === 0) await sleep(5);
    }
    assert.equal(received, total);
    assert.ok(most <= window, `buffered ${most} octets`);
    assert.ok(most > 0, `buffered ${most} octets`);
  } finally {
    session.close();
    await server.close();
  }
});

/** Sends four requests a server holds; it answers the first two after a GOAWAY at the second. */
async function goawayMidFlight(session: HTTP2Session): Promise<void> {
  await waitFor(() => session.capacity > 1, "the server's SETTINGS");
  const sent = Array.from({ length: 4 }, () => send(session, "/held"));
  const outcomes = await Promise.all(
    sent.map((s) => s.head.then(() => readAll(s.stream)).catch((e) => e)),
  );
  assert.equal(new TextDecoder().decode(outcomes[0]), "done");
  assert.equal(new TextDecoder().decode(outcomes[1]), "done");
  for (const outcome of outcomes.slice(2)) {
    assert.ok(outcome instanceof HTTP2StreamRefusedError, String(outcome));
    assert.equal(outcome.unprocessed, true);
  }
  assert.equal(session.capacity, 0);
  const late = await send(session, "/held").head.catch((e) => e);
  assert.ok(late instanceof HTTP2StreamRefusedError, String(late));
  await waitFor(() => session.isClosed, "the session to close after its last stream");
}

test("HTTP2Session: GOAWAY mid-flight fails the streams above its last id as unprocessed", async () => {
  const held: http2.ServerHttp2Stream[] = [];
  const server = await nodeServer((stream) => {
    held.push(stream);
    if (held.length < 4) return;
    stream.session!.goaway(http2.constants.NGHTTP2_NO_ERROR, held[1].id);
    for (const s of held.slice(0, 2)) {
      s.respond({ ":status": 200 });
      s.end("done");
    }
  });
  const session = await openSession(server.port);
  try {
    await goawayMidFlight(session);
  } finally {
    session.close();
    await server.close();
  }
});

test(
  "HTTP2Session: RST_STREAM with REFUSED_STREAM is unprocessed, another code a reset",
  async () => {
    const server = await nodeServer((stream, headers) => {
      const path = headers[":path"];
      if (path === "/refuse") return stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      if (path === "/reset") return stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      stream.respond({ ":status": 200 });
      stream.end("fine");
    });
    const session = await openSession(server.port);
    try {
      const refused = await send(session, "/refuse").head.catch((e) => e);
      assert.ok(refused instanceof HTTP2StreamRefusedError, String(refused));
      assert.equal(refused.unprocessed, true);
      const reset = await send(session, "/reset").head.catch((e) => e);
      assert.ok(reset instanceof HTTP2StreamResetError, String(reset));
      assert.equal(reset.errorCode, ErrorCode.INTERNAL_ERROR);
      assert.equal((await get(session, "/ok"))[1], "fine");
      assert.ok(!session.isClosed);
    } finally {
      session.close();
      await server.close();
    }
    // Bun's node:http2 server sends an empty DATA frame before the RST_STREAM, which is a
    // malformed response: the raw server's test below covers Bun.
  },
  { ignore: runtime === "bun" },
);

test("HTTP2Session: a raw server's RST_STREAM with REFUSED_STREAM and INTERNAL_ERROR", async () => {
  const server = await rawServer({
    "/refuse": (id, write) => write(encodeRstStream(id, ErrorCode.REFUSED_STREAM)),
    "/reset": (id, write) => write(encodeRstStream(id, ErrorCode.INTERNAL_ERROR)),
    "/ok": respondWith([":status", "200"], "fine"),
  });
  const session = await openSession(server.port);
  try {
    const refused = await send(session, "/refuse").head.catch((e) => e);
    assert.ok(refused instanceof HTTP2StreamRefusedError, String(refused));
    assert.equal(refused.unprocessed, true);
    const reset = await send(session, "/reset").head.catch((e) => e);
    assert.ok(reset instanceof HTTP2StreamResetError, String(reset));
    assert.equal(reset.errorCode, ErrorCode.INTERNAL_ERROR);
    assert.equal((await get(session, "/ok"))[1], "fine");
    assert.ok(!session.isClosed);
  } finally {
    session.close();
    await server.close();
  }
});

const nginx = await findNginx();

test("HTTP2Session: 50 concurrent GETs on one session of nginx (h2c)", async () => {
  const dir = await makeNginxDir();
  const port = await unusedPort();
  const server = await startNginx(nginx!, {
    dir,
    ports: [port],
    http: `server {
      listen 127.0.0.1:${port} http2;
      location / { return 200 "nginx $request_uri"; }
    }`,
  });
  const session = await openSession(port);
  try {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => get(session, `/n${i}`)),
    );
    for (const [i, [head, body]] of results.entries()) {
      assert.equal(head.status, 200);
      assert.equal(body, `nginx /n${i}`);
    }
  } finally {
    session.close();
    await server.stop();
    await removeNginxDir(dir);
  }
}, { ignore: !nginx });

// ---------------------------------------------------------------------------------------
// A raw frame server: answers each request with what its path asks for.

type Answer = (streamId: number, write: (bytes: Uint8Array) => void, encoder: HpackEncoder) => void;

async function rawServer(
  answers: Record<string, Answer>,
  settings: number[] = [],
  onOther: (frame: Frame) => void = () => {},
  { ackSettings = true } = {},
) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    const decoder = new HpackDecoder();
    const encoder = new HpackEncoder();
    const write = (bytes: Uint8Array) => void (socket.destroyed || socket.write(bytes));
    const reader = new FrameReader({
      onFrame(frame: Frame) {
        if (frame.type === FrameType.SETTINGS && !frame.ack && ackSettings) {
          write(encodeSettingsAck());
        }
        if (frame.type !== FrameType.HEADERS) return onOther(frame);
        const fields = decoder.decode(frame.block);
        const path = fields[fields.indexOf(":path") + 1];
        answers[path](frame.streamId, write, encoder);
      },
      onStreamError() {},
    });
    let preface = 0;
    socket.on("data", (chunk: Uint8Array) => {
      if (preface < CONNECTION_PREFACE.length) {
        const skip = Math.min(CONNECTION_PREFACE.length - preface, chunk.length);
        preface += skip;
        chunk = chunk.subarray(skip);
      }
      try {
        reader.push(chunk);
      } catch {
        socket.destroy();
      }
    });
    write(encodeSettings(settings));
  });
  const listening = deferred();
  server.listen(0, "127.0.0.1", () => listening.resolve());
  await listening.promise;
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      for (const socket of sockets) socket.destroy();
      const closed = deferred();
      server.close(() => closed.resolve());
      await closed.promise;
    },
  };
}

function respondWith(fields: string[], body = "x"): Answer {
  return (id, write, encoder) => {
    write(encodeHeaders(id, encoder.encode(fields)));
    write(encodeData(id, new TextEncoder().encode(body), { endStream: true }));
  };
}

test("HTTP2Session: malformed response heads reset their stream only", async () => {
  const server = await rawServer({
    "/ok": respondWith([":status", "200"], "fine"),
    "/upper": respondWith([":status", "200", "X-Upper", "1"]),
    "/late": respondWith(["server", "raw", ":status", "200"]),
    "/twice": respondWith([":status", "200", ":status", "204"]),
    "/path": respondWith([":status", "200", ":path", "/"]),
    "/connection": respondWith([":status", "200", "connection", "close"]),
    "/status": respondWith([":status", "2000"]),
    "/length": respondWith([":status", "200", "content-length", "5"], "abc"),
  });
  const session = await openSession(server.port);
  try {
    assert.equal((await get(session, "/ok"))[1], "fine");
    for (const path of ["/upper", "/late", "/twice", "/path", "/connection", "/status"]) {
      const error = await send(session, path).head.catch((e) => e);
      assert.ok(error instanceof HTTP2MalformedResponseError, `${path}: ${error}`);
      assert.equal(error.errorCode, ErrorCode.PROTOCOL_ERROR);
    }
    const short = send(session, "/length");
    await short.head;
    const error = await readAll(short.stream).catch((e) => e);
    assert.ok(error instanceof HTTP2MalformedResponseError, String(error));
    assert.equal((await get(session, "/ok"))[1], "fine");
    assert.ok(!session.isClosed);
  } finally {
    session.close();
    await server.close();
  }
});

test("HTTP2Session: an oversized header list is a connection error", async () => {
  const server = await rawServer({
    "/big": respondWith([":status", "200", "x-big", "b".repeat(4000)]),
  });
  const session = await openSession(server.port, { maxHeaderListSize: 1024 });
  try {
    const error = await send(session, "/big").head.catch((e) => e);
    assert.ok(error instanceof HTTP2HeaderListTooLargeError, String(error));
    assert.ok(session.isClosed);
    assert.equal(session.capacity, 0);
  } finally {
    session.close();
    await server.close();
  }
});

test("HTTP2Session: a PING flood closes the session with ENHANCE_YOUR_CALM", async () => {
  const server = await rawServer({
    "/flood": (_id, write) => {
      for (let i = 0; i < 100; i++) write(encodePing(new Uint8Array(8)));
    },
  });
  const session = await openSession(server.port, { maxControlFramesPerSecond: 50 });
  try {
    const error = await send(session, "/flood").head.catch((e) => e);
    assert.ok(error instanceof HTTP2FloodError, String(error));
    assert.equal(error.errorCode, ErrorCode.ENHANCE_YOUR_CALM);
    assert.ok(session.isClosed);
  } finally {
    session.close();
    await server.close();
  }
});

test("HTTP2Session: a raw server's GOAWAY refuses the streams above its last id", async () => {
  const ids: number[] = [];
  const server = await rawServer({
    "/held": (id, write, encoder) => {
      ids.push(id);
      if (ids.length < 4) return;
      write(encodeGoaway(ids[1], ErrorCode.NO_ERROR));
      for (const done of ids.slice(0, 2)) {
        respondWith([":status", "200"], "done")(done, write, encoder);
      }
    },
  }, [SettingId.MAX_CONCURRENT_STREAMS, 10]);
  const session = await openSession(server.port);
  try {
    await goawayMidFlight(session);
  } finally {
    session.close();
    await server.close();
  }
});

test("HTTP2Session: cancelling a stream resets it, not the session", async () => {
  let resets = 0;
  const server = await nodeServer((stream, headers) => {
    stream.on("close", () => {
      if (stream.rstCode === http2.constants.NGHTTP2_CANCEL) resets++;
    });
    stream.respond({ ":status": 200 });
    if (headers[":path"] === "/small") return void stream.end("small");
    stream.write(bytes(200_000)); // Past the stream window: the server waits for credit.
  });
  const session = await openSession(server.port, { streamWindowSize: 65535 });
  try {
    const { stream, head } = send(session, "/big");
    await head;
    await stream.next();
    await waitFor(() => session.bufferedBytes > 0, "queued body octets");
    stream.cancel();
    assert.equal(session.bufferedBytes, 0);
    assert.equal(session.openStreams, 0);
    assert.ok(stream.finished);
    await assert.rejects(stream.next(), /Stream cancelled/);
    assert.equal((await get(session, "/small"))[1], "small");
    await waitFor(() => resets === 1, "the server to see RST_STREAM(CANCEL)");
    // A body that arrived whole but was not read: cancelling drops it.
    const unread = send(session, "/small");
    await unread.head;
    await waitFor(() => unread.stream.finished, "the whole small body");
    assert.equal(session.bufferedBytes, 5);
    unread.stream.cancel();
    assert.equal(session.bufferedBytes, 0);
    assert.ok(!session.isClosed);
  } finally {
    session.close();
    await server.close();
  }
});

test("HTTP2Session: a request body waits for the server's INITIAL_WINDOW_SIZE to open", async () => {
  let received = 0;
  const server = await rawServer(
    {
      "/upload": (id, write) => {
        // The window is 0: nothing may come until the SETTINGS below open it.
        setTimeout(() => write(encodeSettings([SettingId.INITIAL_WINDOW_SIZE, 100_000])), 50);
        onBody = (length, end) => {
          received += length;
          if (end) respondWith([":status", "200"], String(received))(id, write, new HpackEncoder());
        };
      },
    },
    [SettingId.INITIAL_WINDOW_SIZE, 0],
    (frame) => {
      if (frame.type === FrameType.DATA) onBody(frame.data.length, frame.endStream);
    },
  );
  let onBody: (length: number, end: boolean) => void = () => assert.fail("DATA too early");
  const session = await openSession(server.port);
  try {
    await waitFor(() => session.capacity > 1, "the server's SETTINGS");
    const { stream, head } = send(session, "/upload", { method: "POST", body: bytes(50_000) });
    assert.equal((await head).status, 200);
    assert.equal(new TextDecoder().decode(await readAll(stream)), "50000");
  } finally {
    session.close();
    await server.close();
  }
});

// ---------------------------------------------------------------------------------------
// Streamed request bodies, the SETTINGS timer, idleness and the owner's callbacks, floods.

/** `total` octets in pieces of varying size (1 to 70000 octets), as an async iterable. */
async function* pieces(total: number, onEnd: () => void = () => {}) {
  const all = bytes(total);
  try {
    for (let at = 0, i = 0; at < total; i++) {
      const size = Math.min(total - at, 1 + ((i * 7919) % 70_000));
      yield all.subarray(at, at + size);
      at += size;
      if (i % 16 === 0) await sleep(0);
    }
  } finally {
    onEnd();
  }
}

test("HTTP2Session: a 4 MiB streamed upload through a 64 KiB window is echoed back", async () => {
  const server = await nodeServer((stream) => {
    stream.respond({ ":status": 200 });
    stream.pipe(stream);
  });
  const session = await openSession(server.port, {
    streamWindowSize: 65535,
    connectionWindowSize: 65535,
  });
  try {
    const total = 4 * 1024 * 1024;
    const { stream, head } = send(session, "/echo", { method: "POST", body: pieces(total) });
    assert.equal((await head).status, 200);
    assert.deepEqual(await readAll(stream), bytes(total));
    assert.ok(stream.bodyStarted);
    assert.equal(session.openStreams, 0);
    assert.ok(session.idle);
  } finally {
    session.close();
    await server.close();
  }
});

test("HTTP2Session: a streamed body that throws resets the stream and fails with its error", async () => {
  let cancelled = 0;
  const server = await nodeServer((stream, headers) => {
    stream.on("close", () => {
      if (stream.rstCode === http2.constants.NGHTTP2_CANCEL) cancelled++;
    });
    stream.resume();
    if (headers[":path"] === "/ok") {
      stream.respond({ ":status": 200 });
      stream.end("fine");
    }
  });
  const session = await openSession(server.port);
  try {
    const broken = new Error("source broke");
    const failing = async function* () {
      yield new Uint8Array(1000);
      await sleep(10);
      throw broken;
    };
    const { stream, head } = send(session, "/upload", { method: "POST", body: failing() });
    assert.equal(await head.catch((e) => e), broken);
    assert.ok(stream.bodyStarted);
    await waitFor(() => cancelled === 1, "the server to see RST_STREAM(CANCEL)");
    assert.equal(session.openStreams, 0);
    assert.equal((await get(session, "/ok"))[1], "fine");
  } finally {
    session.close();
    await server.close();
  }
});

test("HTTP2Session: a streamed body is held to its declared length", async () => {
  const server = await nodeServer((stream) => {
    stream.resume();
    stream.on("end", () => {
      // A body of the wrong length was reset before it ended.
      if (stream.closed || stream.destroyed) return;
      stream.respond({ ":status": 200 });
      stream.end("ok");
    });
  });
  const session = await openSession(server.port);
  const of = (size: number, length: number) =>
    new StreamedBody(() => pieces(size)[Symbol.asyncIterator](), length, false);
  try {
    const short = await send(session, "/", { method: "POST", body: of(500, 1000) }).head
      .catch((e) => e);
    assert.ok(short instanceof TypeError, String(short));
    assert.match(short.message, /short of its length: 1000/);
    const long = await send(session, "/", { method: "POST", body: of(100_000, 1000) }).head
      .catch((e) => e);
    assert.ok(long instanceof TypeError, String(long));
    assert.match(long.message, /longer than its length: 1000/);
    const exact = send(session, "/", { method: "POST", body: of(100_000, 100_000) });
    assert.equal((await exact.head).status, 200);
    assert.equal(new TextDecoder().decode(await readAll(exact.stream)), "ok");
    assert.equal(session.openStreams, 0);
  } finally {
    session.close();
    await server.close();
  }
});

test("HTTP2Session: an early response stops reading the streamed body", async () => {
  const server = await nodeServer((stream) => {
    stream.respond({ ":status": 413 }, { endStream: true });
  });
  const session = await openSession(server.port);
  try {
    let stopped = false;
    const endless = async function* () {
      try {
        for (;;) {
          yield new Uint8Array(16 * 1024);
          await sleep(2);
        }
      } finally {
        stopped = true;
      }
    };
    const { stream, head } = send(session, "/upload", { method: "POST", body: endless() });
    assert.equal((await head).status, 413);
    assert.equal((await readAll(stream)).length, 0);
    await waitFor(() => stopped, "the body's source to be stopped");
    assert.equal(session.openStreams, 0);
    assert.ok(!session.isClosed);
  } finally {
    session.close();
    await server.close();
  }
});

test("HTTP2Session: a body waiting on a window that never opens can be failed", async () => {
  const frames: Frame[] = [];
  const server = await rawServer({ "/upload": () => {} }, [SettingId.INITIAL_WINDOW_SIZE, 0], (
    frame,
  ) => frames.push(frame));
  const session = await openSession(server.port);
  try {
    await waitFor(() => session.capacity > 1, "the server's SETTINGS");
    let stopped = false;
    const { stream, head } = send(session, "/upload", {
      method: "POST",
      body: pieces(100_000, () => stopped = true),
    });
    await sleep(50);
    assert.ok(!stream.bodyStarted);
    const gaveUp = new Error("gave up");
    stream.fail(gaveUp);
    assert.equal(await head.catch((e) => e), gaveUp);
    assert.equal(session.openStreams, 0);
    await waitFor(() => stopped, "the body's source to be stopped");
    await waitFor(
      () => frames.some((f) => f.type === FrameType.RST_STREAM && f.errorCode === ErrorCode.CANCEL),
      "the server to see RST_STREAM(CANCEL)",
    );
    assert.ok(!frames.some((f) => f.type === FrameType.DATA));
    // A whole body waits the same way, and fails the same way.
    const whole = send(session, "/upload", { method: "POST", body: bytes(1000) });
    await sleep(20);
    whole.stream.fail(gaveUp);
    assert.equal(await whole.head.catch((e) => e), gaveUp);
    assert.equal(session.openStreams, 0);
    assert.ok(!session.isClosed);
  } finally {
    session.close();
    await server.close();
  }
});

test("HTTP2Session: SETTINGS never acknowledged end the session with SETTINGS_TIMEOUT", async () => {
  const frames: Frame[] = [];
  const server = await rawServer({ "/held": () => {} }, [], (frame) => frames.push(frame), {
    ackSettings: false,
  });
  const closed: (Error | null)[] = [];
  const session = await openSession(server.port, {
    settingsTimeout: 200,
    onClose: (error) => closed.push(error),
  });
  try {
    const error = await send(session, "/held").head.catch((e) => e);
    assert.ok(error instanceof HTTP2SettingsTimeoutError, String(error));
    assert.equal(error.errorCode, ErrorCode.SETTINGS_TIMEOUT);
    assert.ok(session.isClosed);
    assert.deepEqual(closed, [error]);
    // Deno's adapter drops what is still queued when the socket closes right after a write
    // (no session test sees a closing GOAWAY there): checked on Bun and Node.
    if (runtime === "deno") return;
    await waitFor(
      () =>
        frames.some((f) =>
          f.type === FrameType.GOAWAY && f.errorCode === ErrorCode.SETTINGS_TIMEOUT
        ),
      "the server to see GOAWAY(SETTINGS_TIMEOUT)",
    );
  } finally {
    session.close();
    await server.close();
  }
});

test("HTTP2Session: the SETTINGS timer stops at the ACK and at close", async () => {
  const server = await rawServer({ "/ok": respondWith([":status", "200"], "fine") });
  try {
    const session = await openSession(server.port, { settingsTimeout: 100 });
    await waitFor(() => session.settingsAcknowledged, "the SETTINGS ACK");
    await sleep(200);
    assert.ok(!session.isClosed);
    assert.equal((await get(session, "/ok"))[1], "fine");
    session.close();
    // Closed before any ACK: the timer must not outlive the session (Deno's sanitizer).
    const early = await openSession(server.port);
    early.close();
  } finally {
    await server.close();
  }
});

/** A socket that records `ref`/`unref` calls, around a real one. */
function spied(socket: Socket, calls: string[]): Socket {
  return {
    setHandler: (handler) => socket.setHandler(handler),
    write: (data) => socket.write(data),
    drained: () => socket.drained(),
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    close: () => socket.close(),
    unref: () => void calls.push("unref"),
    ref: () => void calls.push("ref"),
    get closed() {
      return socket.closed;
    },
    get alpnProtocol() {
      return socket.alpnProtocol;
    },
  };
}

test("HTTP2Session: unref() lets an idle session go; onCapacity and onClose tell its owner", async () => {
  const server = await rawServer({ "/ok": respondWith([":status", "200"], "fine") }, [
    SettingId.MAX_CONCURRENT_STREAMS,
    1,
  ]);
  const calls: string[] = [];
  let capacity = 0;
  const closed: (Error | null)[] = [];
  const socket = await defaultConnector().connect({ hostname: "127.0.0.1", port: server.port });
  const session = new HTTP2Session(spied(socket, calls), {
    onCapacity: () => capacity++,
    onClose: (error) => closed.push(error),
  });
  try {
    assert.ok(session.idle);
    session.unref();
    assert.deepEqual(calls, ["unref"]);
    const first = send(session, "/ok");
    const second = send(session, "/ok");
    assert.ok(!session.idle);
    assert.deepEqual(calls, ["unref", "ref"]);
    await first.head;
    await readAll(first.stream);
    await second.head;
    await readAll(second.stream);
    await waitFor(() => session.idle, "both streams to end");
    assert.deepEqual(calls, ["unref", "ref", "unref"]);
    // The second stream took the first one's place; only its end raised the capacity.
    assert.equal(capacity, 1);
    session.ref();
    assert.deepEqual(calls, ["unref", "ref", "unref", "ref"]);
  } finally {
    session.close();
    await server.close();
  }
  assert.deepEqual(closed, [null]);
});

test("HTTP2Session: onCapacity hears the server's SETTINGS raise the stream limit", async () => {
  const server = await rawServer({}, [SettingId.MAX_CONCURRENT_STREAMS, 10]);
  let capacity = 0;
  const session = await openSession(server.port, { onCapacity: () => capacity++ });
  try {
    await waitFor(() => capacity === 1, "onCapacity");
    assert.equal(session.capacity, 10);
  } finally {
    session.close();
    await server.close();
  }
});

test("HTTP2Session: empty DATA frames and frames on closed streams are floods", async () => {
  const server = await rawServer({
    "/empty": (id, write, encoder) => {
      write(encodeHeaders(id, encoder.encode([":status", "200"])));
      for (let i = 0; i < 100; i++) write(encodeData(id, new Uint8Array(0)));
    },
    "/closed": (id, write, encoder) => {
      respondWith([":status", "200"], "done")(id, write, encoder);
      for (let i = 0; i < 100; i++) write(encodeRstStream(id, ErrorCode.CANCEL));
    },
  });
  try {
    for (const path of ["/empty", "/closed"]) {
      const closed: (Error | null)[] = [];
      const session = await openSession(server.port, {
        maxEmptyFramesPerSecond: 50,
        maxClosedStreamFramesPerSecond: 50,
        onClose: (error) => closed.push(error),
      });
      const { stream, head } = send(session, path);
      await head;
      await readAll(stream).catch(() => {});
      await waitFor(() => session.isClosed, `${path}: the session to close`);
      assert.ok(closed[0] instanceof HTTP2FloodError, `${path}: ${closed[0]}`);
      assert.equal((closed[0] as HTTP2FloodError).errorCode, ErrorCode.ENHANCE_YOUR_CALM);
      session.close();
    }
  } finally {
    await server.close();
  }
});
