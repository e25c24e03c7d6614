/**
 * The `node:net` / `node:tls` adapter. Node, Deno and Bun all ship these modules; Deno
 * uses this adapter for TLS settings its native API cannot express. The modules are
 * imported on first use, so nothing loads them unless a connection needs them.
 *
 * @module
 */

import type { ConnectOptions, Connector, Socket, SocketHandler } from "./socket.ts";
import { IGNORE_EVENTS, WRITE_HIGH_WATER_MARK } from "./socket.ts";
import { abortReason, connectError } from "./_errors.ts";

/** The subset of a `node:net` socket this adapter uses. */
interface NodeStream {
  write(data: Uint8Array | string): boolean;
  readonly writableLength: number;
  pause(): void;
  resume(): void;
  destroy(): void;
  setNoDelay(noDelay: boolean): void;
  on(event: string, listener: (arg: never) => void): void;
  once(event: string, listener: (arg: never) => void): void;
  off(event: string, listener: (arg: never) => void): void;
  removeAllListeners(): void;
}

interface NodeNet {
  connect(options: { host: string; port: number }): NodeStream;
}

interface NodeTls {
  connect(options: Record<string, unknown>): NodeStream;
  readonly rootCertificates: readonly string[];
}

let modules: Promise<{ net: NodeNet; tls: NodeTls }> | undefined;

function loadModules(): Promise<{ net: NodeNet; tls: NodeTls }> {
  // Computed specifiers keep bundlers and type checkers from pulling these in statically.
  const load = (name: string) => import(`node:${name}`);
  modules ??= Promise.all([load("net"), load("tls")]).then(([net, tls]) => ({
    net: net as NodeNet,
    tls: tls as NodeTls,
  }));
  return modules;
}

class NodeSocket implements Socket {
  #stream: NodeStream;
  #handler: SocketHandler = IGNORE_EVENTS;
  #closed = false;

  constructor(stream: NodeStream) {
    this.#stream = stream;
    stream.on("data", (chunk: Uint8Array) => this.#handler.onData(chunk));
    stream.on("end", () => this.#finish());
    stream.on("close", () => this.#finish());
    stream.on("error", (error: Error) => {
      if (this.#closed) return;
      this.#closed = true;
      stream.destroy();
      this.#handler.onError(error);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stream.destroy();
    this.#handler.onEnd();
  }

  setHandler(handler: SocketHandler): void {
    this.#handler = handler;
  }

  write(data: Uint8Array | string): boolean {
    if (this.#closed) {
      queueMicrotask(() => this.#handler.onWriteError(new Error("write after the socket closed")));
      return false;
    }
    this.#stream.write(data);
    return this.#stream.writableLength < WRITE_HIGH_WATER_MARK;
  }

  drained(): Promise<void> {
    if (this.#closed || this.#stream.writableLength === 0) return Promise.resolve();
    // Each wait removes both of its listeners: a large upload waits many times, and
    // listeners left on "close" would pile up (Node warns past ten).
    return new Promise((resolve) => {
      const done = () => {
        this.#stream.off("drain", done);
        this.#stream.off("close", done);
        resolve();
      };
      this.#stream.once("drain", done);
      this.#stream.once("close", done);
    });
  }

  pause(): void {
    this.#stream.pause();
  }

  resume(): void {
    this.#stream.resume();
  }

  close(): void {
    this.#finish();
  }
}

function openStream(
  { net, tls }: { net: NodeNet; tls: NodeTls },
  options: ConnectOptions,
): NodeStream {
  const settings = options.tls;
  if (!settings) return net.connect({ host: options.hostname, port: options.port });
  return tls.connect({
    host: options.hostname,
    port: options.port,
    servername: isIpLiteral(settings.serverName) ? undefined : settings.serverName,
    rejectUnauthorized: settings.verify,
    // `ca` replaces Node's trust store; keep the built-in roots and add the caller's.
    ca: settings.caCerts ? [...tls.rootCertificates, ...settings.caCerts] : undefined,
    cert: settings.cert,
    key: settings.key,
    ALPNProtocols: [...settings.alpnProtocols],
    // Only set when needed: Deno's node:tls rejects an explicit `undefined` here.
    ...(settings.checkHostname ? {} : { checkServerIdentity: () => undefined }),
  });
}

function isIpLiteral(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(":");
}

/**
 * Opens sockets with `node:net` and `node:tls`.
 *
 * @example Use the node:net adapter explicitly
 * ```ts
 * import { HTTPConnectionPool } from "@pooled/http";
 * import { nodeConnector } from "@pooled/http/runtime/node";
 * await using server = Deno.serve({ port: 0, onListen() {} }, () => new Response("hi"));
 * await using pool = new HTTPConnectionPool("127.0.0.1", {
 *   port: server.addr.port,
 *   connector: nodeConnector,
 * });
 * const r = await pool.request("GET", "/");
 * console.log(r.status); // 200
 * ```
 */
export const nodeConnector: Connector = {
  name: "node",
  async connect(options: ConnectOptions): Promise<Socket> {
    const signal = options.signal;
    if (signal?.aborted) throw abortReason(signal);
    const loaded = await loadModules();
    // Aborted while the modules loaded: the listener below would never fire.
    if (signal?.aborted) throw abortReason(signal);
    const stream = openStream(loaded, options);
    const ready = options.tls ? "secureConnect" : "connect";
    return await new Promise<Socket>((resolve, reject) => {
      const onAbort = () => fail(abortReason(signal!));
      const fail = (error: Error) => {
        signal?.removeEventListener("abort", onAbort);
        stream.removeAllListeners();
        stream.on("error", () => {});
        stream.destroy();
        reject(error);
      };
      stream.once("error", (error: Error) => {
        fail(connectError(error, options.hostname, options.port, options.tls !== undefined));
      });
      stream.once(ready, () => {
        signal?.removeEventListener("abort", onAbort);
        stream.removeAllListeners();
        stream.setNoDelay(true);
        resolve(new NodeSocket(stream));
      });
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  },
};
