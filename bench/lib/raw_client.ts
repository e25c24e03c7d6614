/**
 * The raw-socket limit of the benchmark: a bare client that writes a canned keep-alive GET on
 * the runtime's own native sockets (`Deno.connect`/`Deno.connectTls`, `Bun.connect`,
 * `node:net`/`node:tls`) and scans the reply only as far as it must to know where it ends. No
 * headers object, no string decoding: what is left is the runtime's socket cost, the ceiling
 * any HTTP client on that runtime can approach. It also copies each body into one array of its
 * length and resolves the caller's promise with it: the least a client that hands a body over
 * must do, as every client measured against it does (only counting a body's bytes would skip
 * that allocation, which no real client can).
 *
 * It handles exactly what the benchmark server sends for a GET: replies framed by
 * `Content-Length`, one at a time per connection (no pipelining).
 *
 * @module
 */

const LF = 10;
const COLON = 58;
const DIGIT_0 = 48;
/** The header name that frames the body, lower case, one byte per character. */
const CONTENT_LENGTH = new TextEncoder().encode("content-length");
/** Bytes of each Deno read: as large as pooled's reads of a large body. */
const READ_BUFFER_BYTES = 256 * 1024;

/**
 * Scans one reply at a time from chunks as the socket delivers them, byte by byte through the
 * head (keeping its place across chunk boundaries), and copies the body into one array of its
 * length. It reads the status code and `Content-Length`; every other header is skipped unread.
 */
export class ReplyScanner {
  /** The status code of the reply being scanned (complete once the head is). */
  status = 0;
  /** Body bytes seen so far. */
  bodyLength = 0;
  /** The body copied so far (until the next `begin`). */
  body: Uint8Array | null = null;
  #inHead = true;
  #line = 0;
  #column = 0;
  /** The current head line matches `content-length` so far. */
  #nameMatches = false;
  /** Reading the digits of `Content-Length`. */
  #inLength = false;
  #contentLength = -1;

  /** Starts a new reply (and lets the previous body go). */
  begin(): void {
    this.status = 0;
    this.bodyLength = 0;
    this.body = null;
    this.#inHead = true;
    this.#line = 0;
    this.#column = 0;
    this.#nameMatches = false;
    this.#inLength = false;
    this.#contentLength = -1;
  }

  /**
   * Scans `bytes[0, end)`; true when they complete the reply.
   *
   * @throws {Error} when the head has no `Content-Length` or bytes follow the body.
   */
  feed(bytes: Uint8Array, end: number): boolean {
    const bodyStart = this.#inHead ? this.#scanHead(bytes, end) : 0;
    if (this.#inHead) return false;
    const length = this.bodyLength + end - bodyStart;
    if (length > this.#contentLength) {
      throw new Error(
        `raw client: ${length} bytes after the head, Content-Length ${this.#contentLength}`,
      );
    }
    this.#copy(bytes, bodyStart, end);
    this.bodyLength = length;
    return length === this.#contentLength;
  }

  /** Copies `bytes[start, end)` to the body (allocated, of its length, by its first bytes). */
  #copy(bytes: Uint8Array, start: number, end: number): void {
    this.body ??= new Uint8Array(this.#contentLength);
    if (start < end) this.body.set(bytes.subarray(start, end), this.bodyLength);
  }

  /** Scans head bytes until the blank line; returns where the body starts. */
  #scanHead(bytes: Uint8Array, end: number): number {
    // Locals in the loop; the fields keep the place between chunks.
    let line = this.#line;
    let column = this.#column;
    let nameMatches = this.#nameMatches;
    let inLength = this.#inLength;
    let contentLength = this.#contentLength;
    let status = this.status;
    let i = 0;
    for (; i < end; i++) {
      const byte = bytes[i];
      if (byte === LF) {
        if (line > 0 && column <= 1) { // "\r\n" alone: the head ends
          this.#inHead = false;
          i++;
          break;
        }
        line++;
        column = 0;
        nameMatches = true;
        inLength = false;
        continue;
      }
      if (line === 0) {
        // "HTTP/1.1 200 ...": the code is columns 9 to 11.
        if (column >= 9 && column < 12) status = status * 10 + byte - DIGIT_0;
      } else if (nameMatches) {
        if (column < CONTENT_LENGTH.length) {
          nameMatches = (byte | 0x20) === CONTENT_LENGTH[column]; // ASCII lower case
        } else {
          nameMatches = false;
          if (byte === COLON) {
            inLength = true;
            contentLength = 0;
          }
        }
      } else if (inLength && byte >= DIGIT_0 && byte <= DIGIT_0 + 9) {
        contentLength = contentLength * 10 + byte - DIGIT_0;
      }
      column++;
    }
    this.#line = line;
    this.#column = column;
    this.#nameMatches = nameMatches;
    this.#inLength = inLength;
    this.#contentLength = contentLength;
    this.status = status;
    if (!this.#inHead && contentLength < 0) {
      throw new Error("raw client: the reply has no Content-Length");
    }
    return i;
  }
}

/** Where to connect, and the canned request to write there. */
interface Target {
  hostname: string;
  port: number;
  tls: boolean;
  caPem: string;
  request: Uint8Array;
}

/** What a transport reports to its connection. */
interface Sink {
  data(bytes: Uint8Array, end: number): void;
  closed(error?: unknown): void;
}

/** A connected native socket, reduced to what the raw client needs. */
interface Transport {
  write(bytes: Uint8Array): void;
  close(): void;
}

type Connect = (target: Target, sink: Sink) => Promise<Transport>;

/** Deno: `Deno.connect` / `Deno.connectTls`, with one read loop into a reused buffer. */
const connectDeno: Connect = async (target, sink) => {
  const { hostname, port } = target;
  const conn = target.tls
    ? await Deno.connectTls({ hostname, port, caCerts: [target.caPem] })
    : await Deno.connect({ hostname, port });
  if (!target.tls) (conn as Deno.TcpConn).setNoDelay(true);
  const buffer = new Uint8Array(READ_BUFFER_BYTES);
  (async () => {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) return sink.closed();
      sink.data(buffer, n);
    }
  })().catch((error) => sink.closed(error));
  const writeAll = async (bytes: Uint8Array) => {
    for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
  };
  return {
    write: (bytes) => void writeAll(bytes).catch((error) => sink.closed(error)),
    close: () => conn.close(),
  };
};

/** The subset of Bun's socket used here (Bun's types are not visible to `deno check`). */
interface BunSocket {
  write(data: Uint8Array): number;
  setNoDelay?(noDelay: boolean): void;
  terminate(): void;
}

interface BunApi {
  connect(options: Record<string, unknown>): Promise<BunSocket>;
}

/**
 * Bun: `Bun.connect` with `tls: { ca }`; ready on `open` (plain) or a verified `handshake`
 * (TLS). `write` sends what the kernel takes; the rest goes out on `drain`.
 */
const connectBun: Connect = (target, sink) =>
  new Promise((resolve, reject) => {
    const bun = (globalThis as unknown as { Bun: BunApi }).Bun;
    let ready = false;
    let unsent: Uint8Array | null = null;
    const flush = (socket: BunSocket, bytes: Uint8Array) => {
      const written = socket.write(bytes);
      unsent = written < bytes.length ? bytes.subarray(Math.max(written, 0)) : null;
    };
    const becomeReady = (socket: BunSocket) => {
      ready = true;
      resolve({ write: (bytes) => flush(socket, bytes), close: () => socket.terminate() });
    };
    const fail = (error: unknown) => ready ? sink.closed(error) : reject(error);
    bun.connect({
      hostname: target.hostname,
      port: target.port,
      tls: target.tls ? { ca: target.caPem } : undefined,
      socket: {
        open(socket: BunSocket) {
          socket.setNoDelay?.(true);
          if (!target.tls) becomeReady(socket);
        },
        handshake(socket: BunSocket, success: boolean, error: Error | null) {
          if (success && !error) return becomeReady(socket);
          socket.terminate();
          reject(error ?? new Error("raw client: TLS handshake failed"));
        },
        data: (_: BunSocket, chunk: Uint8Array) => sink.data(chunk, chunk.length),
        drain: (socket: BunSocket) => unsent && flush(socket, unsent),
        end: () => fail(new Error("raw client: the server ended the connection")),
        close: (_: BunSocket, error?: Error) => fail(error),
        error: (_: BunSocket, error: Error) => fail(error),
        connectError: (_: BunSocket, error: Error) => reject(error),
      },
    }).catch(reject);
  });

type NodeNet = typeof import("node:net");
type NodeTls = typeof import("node:tls");
let nodeModules: Promise<[NodeNet, NodeTls]> | undefined;

/** Node: `net.connect` / `tls.connect` with `ca`; ready on `connect` / `secureConnect`. */
const connectNode: Connect = async (target, sink) => {
  nodeModules ??= Promise.all([import("node:net"), import("node:tls")]);
  const [net, tls] = await nodeModules;
  const { hostname: host, port } = target;
  return new Promise((resolve, reject) => {
    const socket = target.tls
      ? tls.connect({ host, port, ca: target.caPem })
      : net.connect({ host, port });
    socket.setNoDelay(true);
    let ready = false;
    socket.once(target.tls ? "secureConnect" : "connect", () => {
      ready = true;
      resolve({ write: (bytes) => socket.write(bytes), close: () => socket.destroy() });
    });
    socket.on("data", (chunk: Uint8Array) => sink.data(chunk, chunk.length));
    socket.on("error", (error) => ready ? sink.closed(error) : reject(error));
    socket.on("close", () => sink.closed());
  });
};

/** The native connect of the runtime this runs on. */
function nativeConnect(): Connect {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  return g.Deno ? connectDeno : g.Bun ? connectBun : connectNode;
}

/**
 * One keep-alive connection: `request` writes the canned request and settles when the
 * scanner has seen the whole reply and `check` accepted it; the connection then goes back
 * to `idle`. A socket that fails or closes fails its pending request and every later one.
 */
class RawConnection implements Sink {
  readonly #scanner: ReplyScanner;
  readonly #idle: RawConnection[];
  readonly #check: (status: number, bodyLength: number) => void;
  #transport: Transport | null = null;
  #resolve: ((body: Uint8Array) => void) | null = null;
  #reject: ((error: unknown) => void) | null = null;
  #failure: Error | null = null;
  #closing = false;

  constructor(idle: RawConnection[], check: (status: number, bodyLength: number) => void) {
    this.#idle = idle;
    this.#check = check;
    this.#scanner = new ReplyScanner();
  }

  async open(connect: Connect, target: Target): Promise<void> {
    const transport = await connect(target, this);
    if (this.#closing) return transport.close(); // closed while connecting
    this.#transport = transport;
  }

  request(request: Uint8Array): Promise<Uint8Array> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
      this.#scanner.begin();
      this.#transport!.write(request);
    });
  }

  data(bytes: Uint8Array, end: number): void {
    const resolve = this.#resolve;
    if (!resolve) return this.closed(new Error("raw client: bytes arrived with no request"));
    const scanner = this.#scanner;
    try {
      if (!scanner.feed(bytes, end)) return;
      this.#check(scanner.status, scanner.bodyLength);
    } catch (error) {
      return this.closed(error);
    }
    // The body goes to the caller, as any client hands it over; the connection lets it go.
    const body = scanner.body!;
    scanner.begin();
    this.#resolve = this.#reject = null;
    this.#idle.push(this);
    resolve(body);
  }

  closed(error?: unknown): void {
    if (this.#closing) return;
    this.#failure ??= error instanceof Error
      ? error
      : new Error(`raw client: the connection closed${error ? `: ${error}` : ""}`);
    const reject = this.#reject;
    this.#resolve = this.#reject = null;
    reject?.(this.#failure);
    this.close();
  }

  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    try {
      this.#transport?.close();
    } catch {
      // already closed
    }
  }
}

/** Options of {@linkcode RawClient}. */
export interface RawClientOptions {
  /** The CA certificate (PEM) that signed the server's certificate, for `https:` URLs. */
  caPem: string;
  /** Called with each reply's status and body length; throws to fail the request. */
  check(status: number, bodyLength: number): void;
}

/**
 * Keep-alive connections to one origin, each writing `GET <path> HTTP/1.1` with only a `Host`
 * header. `send` takes an idle connection or opens one, so `n` concurrent callers use `n`
 * connections, like a pool.
 *
 * @example A request loop
 * ```ts ignore
 * const client = new RawClient("http://127.0.0.1:8080/", {
 *   caPem: "",
 *   check: (status) => { if (status !== 200) throw new Error(`status ${status}`); },
 * });
 * for (let i = 0; i < 1000; i++) await client.send();
 * await client.close();
 * ```
 */
export class RawClient {
  readonly #target: Target;
  readonly #check: RawClientOptions["check"];
  readonly #connect = nativeConnect();
  readonly #idle: RawConnection[] = [];
  readonly #all: RawConnection[] = [];

  constructor(url: string, options: RawClientOptions) {
    const { protocol, hostname, port, host, pathname } = new URL(url);
    const tls = protocol === "https:";
    this.#target = {
      hostname,
      port: Number(port || (tls ? 443 : 80)),
      tls,
      caPem: options.caPem,
      request: new TextEncoder().encode(`GET ${pathname} HTTP/1.1\r\nHost: ${host}\r\n\r\n`),
    };
    this.#check = options.check;
  }

  /** Sends one request; settles with its body once the whole reply has been read and checked. */
  send(): Promise<Uint8Array> {
    const connection = this.#idle.pop();
    return connection ? connection.request(this.#target.request) : this.#connectAndSend();
  }

  async #connectAndSend(): Promise<Uint8Array> {
    const connection = new RawConnection(this.#idle, this.#check);
    this.#all.push(connection);
    await connection.open(this.#connect, this.#target);
    return connection.request(this.#target.request);
  }

  /** Closes every connection. */
  close(): Promise<void> {
    for (const connection of this.#all) connection.close();
    this.#all.length = 0;
    this.#idle.length = 0;
    return Promise.resolve();
  }
}
