/**
 * Loopback test servers that work the same under Deno, Bun and Node.
 *
 * - {@linkcode serveHttp}: a real HTTP/1.1 server (`Deno.serve` / `Bun.serve` /
 *   `node:http`) driven by a
 *   `Request => Response` handler, optionally over TLS.
 * - {@linkcode rawServer}: a raw TCP (or TLS) server on `node:net` / `node:tls` that hands each
 *   accepted connection to a callback as a {@linkcode RawConnection}, for exact bytes on the
 *   wire and for faults (early close, reset, stalls, malformed responses).
 *
 * Every server listens on a free port of a loopback address (`127.0.0.1` unless told) and
 * must be closed with `await server.close()`, which releases every socket, timer and op, so
 * Deno's sanitizers pass.
 *
 * ```ts
 * const server = await serveHttp((req) => new Response(`you asked for ${new URL(req.url).pathname}`));
 * try {
 *   const res = await fetch(`${server.url}/x`);
 *   assert.equal(await res.text(), "you asked for /x");
 * } finally {
 *   await server.close();
 * }
 *
 * const raw = await rawServer(async (conn) => {
 *   const req = await conn.readRequest();
 *   await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
 *   conn.end();
 * });
 * ```
 *
 * @module
 */

import * as http from "node:http";
import * as https from "node:https";
import * as net from "node:net";
import { Readable } from "node:stream";
import * as tls from "node:tls";
import { concatBytes } from "../src/_bytes.ts";

/** A handler of {@linkcode serveHttp}. */
export type HttpHandler = (req: Request) => Response | Promise<Response>;

/** A TLS identity for a test server: PEM certificate (chain) and PEM private key. */
export interface ServerTls {
  /** The certificate, PEM. */
  cert: string;
  /** The private key, PEM. */
  key: string;
}

/** Options of {@linkcode serveHttp}. */
export interface ServeHttpOptions {
  /** Serve HTTPS with this certificate and key (see `tests/_certs.ts`). */
  tls?: ServerTls;
  /** The loopback address to listen on: `127.0.0.1` (default), `::1` or `localhost`. */
  hostname?: string;
}

/** A running test server. */
export interface TestServer {
  /** The origin, without a trailing slash: `http://127.0.0.1:PORT` or `https://...`. */
  url: string;
  /** The port listened on. */
  port: number;
  /** The address listened on, as given (default `127.0.0.1`). */
  hostname: string;
  /** Stops the server and closes every connection it holds. */
  close(): Promise<void>;
}

/** Builds `scheme://host:port`, bracketing an IPv6 address. */
export function originOf(scheme: "http" | "https", hostname: string, port: number): string {
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return `${scheme}://${host}:${port}`;
}

// ---------------------------------------------------------------------------------------------
// serveHttp
// ---------------------------------------------------------------------------------------------

interface DenoServeApi {
  serve(
    options: {
      port: number;
      hostname: string;
      cert?: string;
      key?: string;
      onListen?: (addr: { port: number }) => void;
      onError?: (error: unknown) => Response | Promise<Response>;
    },
    handler: HttpHandler,
  ): { addr: { port: number }; shutdown(): Promise<void>; finished: Promise<void> };
}

interface BunServeApi {
  serve(options: {
    port: number;
    hostname: string;
    tls?: ServerTls;
    fetch: HttpHandler;
    error?: (error: Error) => Response;
  }): { port: number; stop(closeActiveConnections?: boolean): Promise<void> | void };
}

function handlerError(error: unknown): Response {
  const message = error instanceof Error ? error.stack ?? error.message : String(error);
  return new Response(`test server handler failed: ${message}`, { status: 500 });
}

/**
 * Starts an HTTP/1.1 server on a free loopback port: `Deno.serve` under Deno, `Bun.serve`
 * under Bun, `node:http` / `node:https` under Node. A handler that throws answers 500 with
 * the error in the body.
 *
 * @param handler answers each request.
 * @param options `tls` for HTTPS, `hostname` for the address (default `127.0.0.1`).
 * @returns the server; `close()` shuts it down and waits until it is fully released.
 */
export function serveHttp(
  handler: HttpHandler,
  options: ServeHttpOptions = {},
): Promise<TestServer> {
  const hostname = options.hostname ?? "127.0.0.1";
  const g = globalThis as unknown as { Deno?: DenoServeApi; Bun?: BunServeApi };
  if (g.Deno) return Promise.resolve(serveDeno(g.Deno, handler, hostname, options.tls));
  if (g.Bun) return Promise.resolve(serveBun(g.Bun, handler, hostname, options.tls));
  return serveNode(handler, hostname, options.tls);
}

/**
 * Runs `fn` with an HTTP and an HTTPS server (`SERVER_TLS` certificates from
 * `tests/_certs.ts`, passed in as `tls`) on 127.0.0.1 answering with `handler`, and
 * closes both afterwards.
 */
export async function withHttpAndHttps(
  handler: HttpHandler,
  tls: ServerTls,
  fn: (http: TestServer, https: TestServer) => Promise<void>,
): Promise<void> {
  const http = await serveHttp(handler);
  const https = await serveHttp(handler, { tls });
  try {
    await fn(http, https);
  } finally {
    await Promise.all([http.close(), https.close()]);
  }
}

function serveDeno(
  deno: DenoServeApi,
  handler: HttpHandler,
  hostname: string,
  serverTls: ServerTls | undefined,
): TestServer {
  const server = deno.serve({
    port: 0,
    hostname,
    ...(serverTls ? { cert: serverTls.cert, key: serverTls.key } : {}),
    onListen: () => {},
    onError: handlerError,
  }, handler);
  const port = server.addr.port;
  let closing: Promise<void> | undefined;
  return {
    url: originOf(serverTls ? "https" : "http", hostname, port),
    port,
    hostname,
    close: () => closing ??= server.shutdown().then(() => server.finished),
  };
}

function serveBun(
  bun: BunServeApi,
  handler: HttpHandler,
  hostname: string,
  serverTls: ServerTls | undefined,
): TestServer {
  const server = bun.serve({
    port: 0,
    hostname,
    ...(serverTls ? { tls: serverTls } : {}),
    fetch: handler,
    error: handlerError,
  });
  const port = server.port;
  let closing: Promise<void> | undefined;
  return {
    url: originOf(serverTls ? "https" : "http", hostname, port),
    port,
    hostname,
    close: () => closing ??= Promise.resolve(server.stop(true)),
  };
}

async function serveNode(
  handler: HttpHandler,
  hostname: string,
  serverTls: ServerTls | undefined,
): Promise<TestServer> {
  const scheme = serverTls ? "https" : "http";
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    answerNode(handler, req, res, originOf(scheme, hostname, port));
  };
  const server = serverTls
    ? https.createServer({ cert: serverTls.cert, key: serverTls.key }, onRequest)
    : http.createServer(onRequest);
  server.on("tlsClientError", () => {});
  const port = await listen(server, hostname);
  let closing: Promise<void> | undefined;
  const close = () => {
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    return stopped;
  };
  return {
    url: originOf(scheme, hostname, port),
    port,
    hostname,
    close: () => closing ??= close(),
  };
}

/** Runs `handler` on a `node:http` request, as `Deno.serve` and `Bun.serve` would. */
async function answerNode(
  handler: HttpHandler,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  origin: string,
): Promise<void> {
  const aborted = new AbortController();
  res.on("close", () => {
    if (!res.writableFinished) aborted.abort();
  });
  const hasBody = req.method !== "GET" && req.method !== "HEAD";
  let response: Response;
  try {
    const headers = new Headers();
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
    }
    response = await handler(
      new Request(`${origin}${req.url}`, {
        method: req.method,
        headers,
        body: hasBody ? Readable.toWeb(req) as ReadableStream<Uint8Array> : undefined,
        signal: aborted.signal,
        duplex: "half",
      } as RequestInit),
    );
  } catch (error) {
    response = handlerError(error);
  }
  await sendNode(response, res);
}

/**
 * Writes a `Response`: with a `Content-Length` when its whole body is at hand before the next
 * event-loop turn (a string or bytes, as `Deno.serve` does), else chunked as it streams.
 */
async function sendNode(response: Response, res: http.ServerResponse): Promise<void> {
  const headers: string[] = [];
  response.headers.forEach((value, name) => {
    if (name !== "set-cookie") headers.push(name, value);
  });
  for (const cookie of response.headers.getSetCookie()) headers.push("set-cookie", cookie);
  if (response.statusText) res.statusMessage = response.statusText;
  try {
    if (!response.body) {
      res.writeHead(response.status, headers).end();
      return;
    }
    const reader = response.body.getReader();
    const { chunks, pending } = await readAvailable(reader);
    if (!pending && !response.headers.has("content-length")) {
      headers.push("content-length", String(chunks.reduce((sum, c) => sum + c.length, 0)));
    }
    res.writeHead(response.status, headers);
    for (const chunk of chunks) res.write(chunk);
    for (let next = pending; next; next = reader.read()) {
      const { value, done } = await next;
      if (done) break;
      if (!res.write(value)) await new Promise((resolve) => res.once("drain", resolve));
    }
    res.end();
  } catch {
    res.destroy();
  }
}

/**
 * Reads what the stream yields before the event loop turns. `pending` is the read still
 * waiting when it turned; without one, the chunks are the whole body.
 */
async function readAvailable(
  reader: ReadableStreamDefaultReader<Uint8Array>,
): Promise<{ chunks: Uint8Array[]; pending?: Promise<ReadableStreamReadResult<Uint8Array>> }> {
  const chunks: Uint8Array[] = [];
  for (;;) {
    const next = reader.read();
    let timer: ReturnType<typeof setImmediate> | undefined;
    const turned = new Promise<null>((resolve) => timer = setImmediate(resolve, null));
    const result = await Promise.race([next, turned]);
    clearImmediate(timer);
    if (result === null) return { chunks, pending: next };
    if (result.done) return { chunks };
    chunks.push(result.value);
  }
}

// ---------------------------------------------------------------------------------------------
// rawServer
// ---------------------------------------------------------------------------------------------

/** A request read by {@linkcode RawConnection.readRequest}. */
export interface RawRequest {
  /** The request line and header lines, including the final empty line (`\r\n\r\n`). */
  head: string;
  /** The method, as sent. */
  method: string;
  /** The request target, as sent (`/path?q`, or an absolute URL through a proxy). */
  target: string;
  /** The HTTP version, as sent (`HTTP/1.1`). */
  version: string;
  /** Header fields by lower-case name; repeated fields are joined with `", "`. */
  headers: Record<string, string>;
  /** Header fields in order, names as sent. */
  rawHeaders: Array<[string, string]>;
  /** The body: by `Content-Length`, or the de-chunked `Transfer-Encoding: chunked` body. */
  body: Uint8Array;
  /** The body bytes exactly as received: still chunk-encoded (with trailers) when chunked. */
  rawBody: Uint8Array;
  /** Trailer fields of a chunked body, by lower-case name. */
  trailers: Record<string, string>;
}

/** One accepted connection of a {@linkcode rawServer}. */
export interface RawConnection {
  /** The underlying socket, for anything the helpers do not cover. */
  readonly socket: net.Socket;
  /** Everything received so far and not yet consumed by a read. */
  readonly buffered: Uint8Array;
  /** True once the peer has ended its side (EOF) or the connection is closed. */
  readonly ended: boolean;
  /**
   * Reads up to and including `marker` (e.g. `"\r\n\r\n"`), decoded as latin1 so that every
   * byte survives. Rejects if the connection ends first.
   */
  readUntil(marker: string): Promise<string>;
  /** Reads exactly `n` bytes. Rejects if the connection ends first. */
  readBytes(n: number): Promise<Uint8Array>;
  /** Reads until the peer ends its side; resolves with everything left. */
  readToEnd(): Promise<Uint8Array>;
  /** Reads one request: head, then a `Content-Length` or chunked body. */
  readRequest(): Promise<RawRequest>;
  /** Writes bytes (a string is encoded as latin1); resolves once handed to the OS. */
  write(data: string | Uint8Array): Promise<void>;
  /** Ends the write side (FIN) after pending writes; the socket closes once both sides end. */
  end(): void;
  /** Aborts the connection: a TCP RST where the runtime can (`resetAndDestroy`). */
  destroy(): void;
  /** Resolves when the socket is fully closed (never rejects). */
  readonly closed: Promise<void>;
}

/** Options of {@linkcode rawServer}. */
export interface RawServerOptions {
  /** The loopback address to listen on (default `127.0.0.1`). */
  hostname?: string;
  /**
   * Wrap connections in TLS (`node:tls`) with this certificate and key, and any other
   * `node:tls` server option (`requestCert`, `ca`, `maxVersion`, `ALPNProtocols`...).
   */
  tls?: ServerTls & tls.TlsOptions;
}

/** A running {@linkcode rawServer}. */
export interface RawServer extends TestServer {
  /** How many connections were accepted so far. */
  readonly connections: number;
  /**
   * Errors thrown by the connection callback (the connection was destroyed). A callback that
   * fails because the client went away is expected in fault tests, so these are not rethrown;
   * assert on them when a test relies on the server side succeeding.
   */
  readonly errors: unknown[];
}

/** Called for each accepted connection; the connection is destroyed if it throws. */
export type RawConnectionHandler = (conn: RawConnection) => void | Promise<void>;

/**
 * Starts a raw TCP server (`node:net`, or `node:tls` with `options.tls`) on a free loopback
 * port and calls `onConnection` for each accepted connection.
 *
 * @param onConnection drives one connection: read what the client sent, write exact bytes.
 * @param options `hostname` (default `127.0.0.1`), `tls`.
 * @returns the server; `close()` stops listening and destroys every open connection.
 */
export async function rawServer(
  onConnection: RawConnectionHandler,
  options: RawServerOptions = {},
): Promise<RawServer> {
  const hostname = options.hostname ?? "127.0.0.1";
  const sockets = new Set<RawConnectionImpl>();
  const errors: unknown[] = [];
  let accepted = 0;
  const accept = (socket: net.Socket) => {
    accepted++;
    const conn = new RawConnectionImpl(socket);
    sockets.add(conn);
    conn.closed.then(() => sockets.delete(conn));
    runHandler(onConnection, conn, errors);
  };
  const server = options.tls
    ? tls.createServer({ ...options.tls }, accept)
    : net.createServer(accept);
  // A failed handshake or a client reset must not crash the test process.
  server.on("tlsClientError", () => {});
  server.on("error", (error) => errors.push(error));
  const port = await listen(server, hostname);
  let closing: Promise<void> | undefined;
  const close = async () => {
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    const all = [...sockets];
    for (const conn of all) conn.socket.destroy();
    await Promise.all([stopped, ...all.map((conn) => conn.closed)]);
  };
  return {
    url: originOf(options.tls ? "https" : "http", hostname, port),
    port,
    hostname,
    get connections() {
      return accepted;
    },
    errors,
    close: () => closing ??= close(),
  };
}

/**
 * Returns a loopback port that nothing listens on (it was free a moment ago), for
 * "connection refused" tests.
 */
export async function unusedPort(hostname = "127.0.0.1"): Promise<number> {
  const server = net.createServer();
  const port = await listen(server, hostname);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function listen(server: net.Server, hostname: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, hostname, () => {
      server.off("error", reject);
      const address = server.address();
      if (address === null || typeof address === "string") {
        reject(new Error(`rawServer: unexpected listening address ${String(address)}`));
      } else {
        resolve(address.port);
      }
    });
  });
}

async function runHandler(
  onConnection: RawConnectionHandler,
  conn: RawConnectionImpl,
  errors: unknown[],
): Promise<void> {
  try {
    await onConnection(conn);
  } catch (error) {
    errors.push(error);
    conn.socket.destroy();
  }
}

const latin1 = new TextDecoder("latin1");

function encodeLatin1(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 0xff;
  return bytes;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = from; i <= haystack.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

class RawConnectionImpl implements RawConnection {
  readonly socket: net.Socket;
  readonly closed: Promise<void>;
  #buffer: Uint8Array = new Uint8Array(0);
  #ended = false;
  #wake: (() => void) | undefined;

  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Uint8Array) => {
      this.#buffer = concatBytes([this.#buffer, new Uint8Array(chunk)]);
      this.#notify();
    });
    socket.on("end", () => this.#finish());
    socket.on("error", () => this.#finish());
    this.closed = new Promise((resolve) => {
      socket.on("close", () => {
        this.#finish();
        resolve();
      });
    });
  }

  get buffered(): Uint8Array {
    return this.#buffer;
  }

  get ended(): boolean {
    return this.#ended;
  }

  #finish(): void {
    this.#ended = true;
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Waits until more data arrives or the peer ends; false if nothing more can come. */
  async #more(): Promise<boolean> {
    if (this.#ended) return false;
    const before = this.#buffer.length;
    await new Promise<void>((resolve) => this.#wake = resolve);
    return this.#buffer.length > before || !this.#ended;
  }

  #take(n: number): Uint8Array {
    const out = this.#buffer.slice(0, n);
    this.#buffer = this.#buffer.slice(n);
    return out;
  }

  async readUntil(marker: string): Promise<string> {
    const needle = encodeLatin1(marker);
    let from = 0;
    while (true) {
      const at = indexOf(this.#buffer, needle, from);
      if (at >= 0) return latin1.decode(this.#take(at + needle.length));
      from = Math.max(0, this.#buffer.length - needle.length + 1);
      if (!await this.#more()) {
        throw new Error(
          `connection ended before ${JSON.stringify(marker)} (got ${
            JSON.stringify(latin1.decode(this.#buffer))
          })`,
        );
      }
    }
  }

  async readBytes(n: number): Promise<Uint8Array> {
    while (this.#buffer.length < n) {
      if (!await this.#more()) {
        throw new Error(`connection ended after ${this.#buffer.length} of ${n} bytes`);
      }
    }
    return this.#take(n);
  }

  async readToEnd(): Promise<Uint8Array> {
    while (await this.#more());
    return this.#take(this.#buffer.length);
  }

  async readRequest(): Promise<RawRequest> {
    const head = await this.readUntil("\r\n\r\n");
    const [requestLine, ...lines] = head.slice(0, -4).split("\r\n");
    const [method = "", target = "", version = ""] = requestLine.split(" ");
    const rawHeaders = lines.map(parseField);
    const headers = fieldRecord(rawHeaders);
    const trailers: Array<[string, string]> = [];
    let body: Uint8Array = new Uint8Array(0);
    let rawBody = body;
    if (/\bchunked\b/i.test(headers["transfer-encoding"] ?? "")) {
      const wire: Uint8Array[] = [];
      body = await this.#readChunked(trailers, wire);
      rawBody = concatBytes(wire);
    } else if (headers["content-length"] !== undefined) {
      body = rawBody = await this.readBytes(Number(headers["content-length"]));
    }
    return {
      head,
      method,
      target,
      version,
      headers,
      rawHeaders,
      body,
      rawBody,
      trailers: fieldRecord(trailers),
    };
  }

  /** Reads a chunked body; `wire` collects every byte as received, framing included. */
  async #readChunked(
    trailers: Array<[string, string]>,
    wire: Uint8Array[],
  ): Promise<Uint8Array> {
    const pieces: Uint8Array[] = [];
    const line = async () => {
      const text = await this.readUntil("\r\n");
      wire.push(encodeLatin1(text));
      return text.slice(0, -2);
    };
    while (true) {
      const sizeLine = await line();
      const size = parseInt(sizeLine.split(";")[0].trim(), 16);
      if (!Number.isFinite(size)) {
        throw new Error(`bad chunk size line ${JSON.stringify(sizeLine)}`);
      }
      if (size === 0) break;
      const data = await this.readBytes(size);
      pieces.push(data);
      const crlf = await this.readBytes(2);
      wire.push(data, crlf);
      if (latin1.decode(crlf) !== "\r\n") {
        throw new Error(`chunk not followed by CRLF: ${JSON.stringify(latin1.decode(crlf))}`);
      }
    }
    while (true) {
      const field = await line();
      if (field === "") return concatBytes(pieces);
      trailers.push(parseField(field));
    }
  }

  write(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? encodeLatin1(data) : data;
    return new Promise((resolve, reject) => {
      this.socket.write(bytes, (error) => error ? reject(error) : resolve());
    });
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    const socket = this.socket as net.Socket & { resetAndDestroy?: () => void };
    if (typeof socket.resetAndDestroy === "function" && !(socket instanceof tls.TLSSocket)) {
      socket.resetAndDestroy();
    } else {
      socket.destroy();
    }
  }
}

function parseField(line: string): [string, string] {
  const colon = line.indexOf(":");
  if (colon < 0) return [line, ""];
  return [line.slice(0, colon), line.slice(colon + 1).trim()];
}

function fieldRecord(fields: Array<[string, string]>): Record<string, string> {
  const record: Record<string, string> = {};
  for (const [name, value] of fields) {
    const key = name.toLowerCase();
    record[key] = key in record ? `${record[key]}, ${value}` : value;
  }
  return record;
}
