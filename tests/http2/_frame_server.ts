/**
 * A raw HTTP/2 server built on the codec (`src/http2/`), for the faults real servers do not
 * make on demand: GOAWAY mid-flight, RST_STREAM with any code, a window that never opens,
 * malformed heads, CONTINUATION floods. It speaks h2c with prior knowledge, or TLS with ALPN
 * `h2` (`node:tls`, the test certificates). It acknowledges SETTINGS, answers PING, credits
 * request bodies back at once (unless told not to), and hands each request to the test when
 * its HEADERS arrive; the test writes the answer, frame by frame if it wants.
 *
 * @module
 */

import net from "node:net";
import tls from "node:tls";
import type { AddressInfo } from "node:net";
import { SERVER_TLS } from "../_certs.ts";
import { deferred } from "../_util.ts";
import {
  CONNECTION_PREFACE,
  encodeData,
  encodeGoaway,
  encodeHeaders,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeSettingsAck,
  encodeWindowUpdate,
  type Frame,
  FrameType,
} from "../../src/http2/frames.ts";
import { FrameReader } from "../../src/http2/frame_reader.ts";
import { HpackDecoder, HpackEncoder } from "../../src/http2/hpack.ts";

/** One connection of a {@linkcode FrameServer}. */
export interface FrameConnection {
  /** 1 for the first connection accepted, 2 for the next... */
  readonly id: number;
  /** The server's HPACK encoder for this connection (every block must go through it). */
  readonly encoder: HpackEncoder;
  /** Writes raw octets (ignored once the socket is gone). */
  write(bytes: Uint8Array): void;
  /** HEADERS (`fields`, through the encoder), then DATA with `body` ending the stream. */
  respond(streamId: number, fields: string[], body?: string | Uint8Array): void;
  /** GOAWAY with this last stream id and error code. */
  goaway(lastStreamId: number, errorCode: number): void;
  /** RST_STREAM with this code. */
  reset(streamId: number, errorCode: number): void;
  /** Closes the socket at once. */
  destroy(): void;
}

/** A request as the server received it. */
export interface FrameRequest {
  /** The connection it came on. */
  readonly connection: FrameConnection;
  /** Its stream. */
  readonly streamId: number;
  /** The header list, pseudo-headers first. */
  readonly fields: string[];
  /** `:method`. */
  readonly method: string;
  /** `:path`. */
  readonly path: string;
  /** 1 for the server's first request for this path, 2 for the next (any connection). */
  readonly attempt: number;
  /** The request body, once the stream has ended. */
  readonly body: Promise<Uint8Array>;
}

/** Options of {@linkcode frameServer}. */
export interface FrameServerOptions {
  /** Speak TLS with ALPN `h2` (the test certificates) instead of h2c. */
  tls?: boolean;
  /** The server's SETTINGS, as `[id, value, ...]`. */
  settings?: number[];
  /** Do not credit request bodies back: the client's windows only shrink. */
  holdWindows?: boolean;
  /** Any frame the server does not handle itself (RST_STREAM, WINDOW_UPDATE, GOAWAY...). */
  onFrame?: (frame: Frame, connection: FrameConnection) => void;
}

/** A running {@linkcode frameServer}. */
export interface FrameServer {
  /** The loopback port. */
  readonly port: number;
  /** `http://127.0.0.1:PORT`, or `https://localhost:PORT` with `tls`. */
  readonly url: string;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Every request received, in order. */
  readonly requests: FrameRequest[];
  /** Closes every connection and stops listening. */
  close(): Promise<void>;
}

interface OpenStream {
  chunks: Uint8Array[];
  done: (body: Uint8Array) => void;
}

/**
 * Starts a raw HTTP/2 server on a free loopback port; `onRequest` is called for each request
 * when its HEADERS arrive (answer it, reset it, or keep it for later).
 */
export async function frameServer(
  onRequest: (request: FrameRequest) => void,
  options: FrameServerOptions = {},
): Promise<FrameServer> {
  const sockets = new Set<net.Socket>();
  const requests: FrameRequest[] = [];
  let accepted = 0;
  const accept = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    serveConnection(socket, ++accepted, onRequest, requests, options);
  };
  const server = options.tls
    ? tls.createServer({ ...SERVER_TLS, ALPNProtocols: ["h2"] }, accept)
    : net.createServer(accept);
  server.on("tlsClientError", () => {});
  const listening = deferred();
  server.listen(0, "127.0.0.1", () => listening.resolve());
  await listening.promise;
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: options.tls ? `https://localhost:${port}` : `http://127.0.0.1:${port}`,
    get connections() {
      return accepted;
    },
    requests,
    async close() {
      for (const socket of sockets) socket.destroy();
      const closed = deferred();
      server.close(() => closed.resolve());
      await closed.promise;
    },
  };
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  chunks.reduce((at, c) => (out.set(c, at), at + c.length), 0);
  return out;
}

function serveConnection(
  socket: net.Socket,
  id: number,
  onRequest: (request: FrameRequest) => void,
  requests: FrameRequest[],
  options: FrameServerOptions,
): void {
  const decoder = new HpackDecoder();
  const encoder = new HpackEncoder();
  const streams = new Map<number, OpenStream>();
  const write = (bytes: Uint8Array) => void (socket.destroyed || socket.write(bytes));
  const connection: FrameConnection = {
    id,
    encoder,
    write,
    respond(streamId, fields, body = "") {
      const data = typeof body === "string" ? new TextEncoder().encode(body) : body;
      write(encodeHeaders(streamId, encoder.encode(fields)));
      write(encodeData(streamId, data, { endStream: true }));
    },
    goaway: (lastStreamId, errorCode) => write(encodeGoaway(lastStreamId, errorCode)),
    reset: (streamId, errorCode) => write(encodeRstStream(streamId, errorCode)),
    destroy: () => socket.destroy(),
  };
  const end = (streamId: number) => {
    const stream = streams.get(streamId);
    if (!stream) return;
    streams.delete(streamId);
    stream.done(concat(stream.chunks));
  };
  const onFrame = (frame: Frame) => {
    switch (frame.type) {
      case FrameType.SETTINGS:
        if (!frame.ack) write(encodeSettingsAck());
        return;
      case FrameType.PING:
        if (!frame.ack) write(encodePing(frame.data.slice(), true));
        return;
      case FrameType.HEADERS: {
        const fields = decoder.decode(frame.block);
        const field = (name: string) => fields[fields.indexOf(name) + 1];
        const body = deferred<Uint8Array>();
        streams.set(frame.streamId, { chunks: [], done: body.resolve });
        const request: FrameRequest = {
          connection,
          streamId: frame.streamId,
          fields,
          method: field(":method"),
          path: field(":path"),
          attempt: requests.filter((r) => r.path === field(":path")).length + 1,
          body: body.promise,
        };
        requests.push(request);
        onRequest(request);
        if (frame.endStream) end(frame.streamId);
        return;
      }
      case FrameType.DATA: {
        streams.get(frame.streamId)?.chunks.push(frame.data.slice());
        if (!options.holdWindows && frame.flowLength > 0) {
          write(encodeWindowUpdate(0, frame.flowLength));
          if (!frame.endStream) write(encodeWindowUpdate(frame.streamId, frame.flowLength));
        }
        if (frame.endStream) end(frame.streamId);
        return;
      }
      default:
        options.onFrame?.(frame, connection);
    }
  };
  const reader = new FrameReader({ onFrame, onStreamError() {} });
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
  write(encodeSettings(options.settings ?? []));
}
