/**
 * Sockets on `node:net` and `node:tls`, which Node, Deno and Bun all ship: the Node adapter
 * is made of them, Deno uses them for TLS settings its native API cannot express, and every
 * adapter uses {@linkcode startTlsOverSocket} to layer TLS on a socket its native TLS cannot
 * upgrade (TLS in TLS). The modules are imported on first use, so nothing loads them unless a
 * connection needs them.
 *
 * TLS runs with `rejectUnauthorized: false` and the checks are made after the handshake
 * ({@linkcode verifyPeer}): the chain verdict of the TLS library, then the pinned
 * fingerprint or the name, with the same messages on every runtime.
 *
 * @module
 */

import type {
  ConnectOptions,
  ConnectPhase,
  Socket,
  SocketHandler,
  StartTlsOptions,
  TlsConnectOptions,
} from "./socket.ts";
import { IGNORE_EVENTS, WRITE_HIGH_WATER_MARK } from "./socket.ts";
import { abortReason, connectError } from "./_errors.ts";
import { hostPort } from "../_host.ts";
import {
  loadTlsVerifier,
  type PeerCertificate,
  sniName,
  type TlsVerifier,
  verifyPeer,
} from "./_tls_verify.ts";

/** The subset of a `node:net` socket (or any `node:stream` Duplex) this adapter uses. */
interface NodeStream {
  write(data: Uint8Array | string): boolean;
  readonly writableLength: number;
  pause(): void;
  resume(): void;
  destroy(): void;
  setNoDelay?(noDelay: boolean): void;
  ref?(): void;
  unref?(): void;
  on(event: string, listener: (arg: never) => void): void;
  once(event: string, listener: (arg: never) => void): void;
  off(event: string, listener: (arg: never) => void): void;
  removeAllListeners(): void;
}

/** A `node:tls` client socket after its handshake. */
interface NodeTlsStream extends NodeStream {
  readonly authorizationError?: Error | string | null;
  /** The protocol ALPN negotiated, or false. */
  readonly alpnProtocol?: string | false | null;
  getPeerCertificate(detailed?: boolean): PeerCertificate | null;
}

/** Where `node:net` and `node:tls` connect: a host and port, or a Unix socket. */
type NodeEndpoint = { host: string; port: number } | { path: string };

interface NodeNet {
  connect(options: NodeEndpoint): NodeStream;
}

interface NodeTls {
  connect(options: Record<string, unknown>): NodeTlsStream;
  createSecureContext(options: Record<string, unknown>): unknown;
  readonly rootCertificates: readonly string[];
}

interface DuplexOptions {
  read(): void;
  write(chunk: Uint8Array, encoding: string, callback: (error?: Error | null) => void): void;
  final(callback: () => void): void;
  destroy(error: Error | null, callback: (error: Error | null) => void): void;
}

interface NodeDuplex extends NodeStream {
  push(chunk: Uint8Array | null): boolean;
  destroy(error?: Error): void;
}

interface NodeStreamModule {
  Duplex: new (options: DuplexOptions) => NodeDuplex;
}

interface NodeModules {
  net: NodeNet;
  tls: NodeTls;
  stream: NodeStreamModule;
}

let modules: Promise<NodeModules> | undefined;

function loadModules(): Promise<NodeModules> {
  // Computed specifiers keep bundlers and type checkers from pulling these in statically.
  const load = (name: string) => import(`node:${name}`);
  modules ??= Promise.all([load("net"), load("tls"), load("stream")]).then((
    [net, tls, stream],
  ) => ({ net: net as NodeNet, tls: tls as NodeTls, stream: stream as NodeStreamModule }));
  return modules;
}

/** Marks, among the chunks held for a first handler, where the socket ended. */
const END = new Uint8Array(0);

class NodeSocket implements Socket {
  #stream: NodeStream;
  #handler: SocketHandler = IGNORE_EVENTS;
  #closed = false;
  /** The socket under a TLS layer started with `startTls` (closed with this one). */
  #underlying: Socket | null;
  /** Chunks that came before any handler was set. */
  #early: Uint8Array[] | null = null;
  readonly alpnProtocol: string | null;

  constructor(stream: NodeStream, underlying: Socket | null = null) {
    this.#stream = stream;
    this.#underlying = underlying;
    this.alpnProtocol = (stream as NodeTlsStream).alpnProtocol || null;
    stream.on("data", (chunk: Uint8Array) => {
      if (this.#handler !== IGNORE_EVENTS) return this.#handler.onData(chunk);
      // Nobody listens yet (a server that speaks first): held for the first handler.
      (this.#early ??= []).push(chunk);
      stream.pause();
    });
    stream.on("end", () => this.#finish());
    stream.on("close", () => this.#finish());
    stream.on("error", (error: Error) => {
      if (this.#closed) return;
      this.#closed = true;
      stream.destroy();
      this.#underlying?.close();
      this.#handler.onError(error);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Hands the chunks held before the first handler to it, and reads on. */
  readonly #deliverEarly = (): void => {
    const early = this.#early;
    this.#early = null;
    if (early === null) return;
    if (!this.#closed) this.#stream.resume();
    for (const chunk of early) {
      if (chunk === END) this.#handler.onEnd();
      else this.#handler.onData(chunk);
    }
  };

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stream.destroy();
    this.#underlying?.close();
    // The end of a socket whose early bytes wait for a first handler goes after them.
    if (this.#early !== null && this.#handler === IGNORE_EVENTS) this.#early.push(END);
    else this.#handler.onEnd();
  }

  /** Hands the stream over (to a TLS layer); this object is closed without closing it. */
  detach(): NodeStream {
    this.#closed = true;
    this.#handler = IGNORE_EVENTS;
    this.#stream.removeAllListeners();
    return this.#stream;
  }

  /** True when TLS can be started on the stream itself (no layer of ours below it). */
  get detachable(): boolean {
    return !this.#closed && this.#underlying === null;
  }

  setHandler(handler: SocketHandler): void {
    this.#handler = handler;
    if (this.#early !== null && handler !== IGNORE_EVENTS) queueMicrotask(this.#deliverEarly);
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

  // A TLS layer on one of our sockets holds no handle of its own: the socket under it does.
  unref(): void {
    if (this.#underlying === null) this.#stream.unref?.();
    else this.#underlying.unref();
  }

  ref(): void {
    if (this.#underlying === null) this.#stream.ref?.();
    else this.#underlying.ref();
  }
}

/** Secure contexts kept for one list of roots (a list changed after use adds one). */
const CONTEXTS_PER_ROOTS = 8;

/**
 * Secure contexts of connections that trust extra roots: by the caller's list of roots (every
 * pool built from the same options holds the same list), then by all the context holds. The
 * list's own lifetime bounds the entries, so no key outlives the options it came from.
 */
const secureContexts = new WeakMap<readonly string[], Map<string, unknown>>();

/**
 * The secure context of a connection that trusts `caCerts` besides the built-in roots, with the
 * client certificate and minimum version of `settings`. Node parses every certificate of its
 * trust store again for each context it builds (about 40 ms of CPU), so connections with the
 * same roots, client certificate and minimum version share one; the roots are compared by
 * content too, so a list changed after use is never served the context of what it held before.
 */
export function sharedSecureContext(
  tls: Pick<NodeTls, "createSecureContext" | "rootCertificates">,
  caCerts: readonly string[],
  settings: Pick<TlsConnectOptions, "cert" | "key" | "minVersion">,
): unknown {
  const { cert, key, minVersion } = settings;
  let contexts = secureContexts.get(caCerts);
  if (contexts === undefined) secureContexts.set(caCerts, contexts = new Map());
  const id = JSON.stringify([minVersion, cert ?? null, key ?? null, caCerts]);
  let context = contexts.get(id);
  if (context === undefined) {
    if (contexts.size >= CONTEXTS_PER_ROOTS) contexts.clear();
    // `ca` replaces Node's trust store; keep the built-in roots and add the caller's.
    const ca = [...tls.rootCertificates, ...caCerts];
    context = tls.createSecureContext({ ca, cert, key, minVersion });
    contexts.set(id, context);
  }
  return context;
}

/** `node:tls` options for `settings`; the checks themselves run after the handshake. */
function tlsConnectOptions(tls: NodeTls, settings: TlsConnectOptions): Record<string, unknown> {
  const connection = {
    servername: sniName(settings.serverName),
    rejectUnauthorized: false,
    checkServerIdentity: () => undefined,
    ALPNProtocols: [...settings.alpnProtocols],
  };
  const { caCerts, cert, key, minVersion } = settings;
  if (caCerts === undefined) return { ...connection, cert, key, minVersion };
  return { ...connection, secureContext: sharedSecureContext(tls, caCerts, settings) };
}

function openStream({ net, tls }: NodeModules, options: ConnectOptions): NodeStream {
  const settings = options.tls;
  const endpoint: NodeEndpoint = options.path !== undefined
    ? { path: options.path }
    : { host: options.address ?? options.hostname, port: options.port };
  if (!settings) return net.connect(endpoint);
  return tls.connect({ ...endpoint, ...tlsConnectOptions(tls, settings) });
}

/** Code of a `node:tls` chain error, with name mismatches left to {@linkcode verifyPeer}. */
function chainErrorCode(stream: NodeTlsStream): string | null {
  const error = stream.authorizationError;
  if (!error) return null;
  const code = typeof error === "string"
    ? error
    : (error as { code?: string }).code ?? error.message;
  return code === "ERR_TLS_CERT_ALTNAME_INVALID" ? null : code;
}

interface Settle {
  /** Where, for messages. */
  hostname: string;
  port: number;
  /** TLS settings when `stream` is a TLS stream. */
  tls?: TlsConnectOptions;
  signal?: AbortSignal;
  /** Closed with the socket (the socket under a TLS layer). */
  underlying?: Socket;
}

/**
 * Waits until `stream` is connected (and verified), then wraps it; destroys it on
 * failure. Called in the same tick the stream was made, so no event is missed.
 */
function settle(stream: NodeStream, how: Settle, verifier: TlsVerifier | null): Promise<Socket> {
  const { signal, tls } = how;
  const ready = tls ? "secureConnect" : "connect";
  return new Promise<Socket>((resolve, reject) => {
    const onAbort = () => fail(abortReason(signal!));
    const fail = (error: Error) => {
      signal?.removeEventListener("abort", onAbort);
      stream.removeAllListeners();
      stream.on("error", () => {});
      stream.destroy();
      how.underlying?.close();
      reject(error);
    };
    stream.once("error", (error: Error) => {
      fail(connectError(error, how.hostname, how.port, tls !== undefined));
    });
    stream.once(ready, () => {
      if (tls) {
        const tlsStream = stream as NodeTlsStream;
        const failure = verifyPeer(
          verifier!,
          tls,
          tlsStream.getPeerCertificate(),
          chainErrorCode(tlsStream),
          hostPort(how.hostname, how.port),
        );
        if (failure) return fail(failure);
      }
      signal?.removeEventListener("abort", onAbort);
      stream.removeAllListeners();
      stream.setNoDelay?.(true);
      resolve(new NodeSocket(stream, how.underlying ?? null));
    });
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** A `node:stream` Duplex over one of our sockets, so `node:tls` can run on top of it. */
function socketDuplex(stream: NodeStreamModule, socket: Socket): NodeDuplex {
  const duplex = new stream.Duplex({
    read() {
      socket.resume();
    },
    write(chunk, _encoding, callback) {
      if (socket.write(chunk)) callback();
      else socket.drained().then(() => callback());
    },
    final(callback) {
      callback();
    },
    destroy(error, callback) {
      socket.close();
      callback(error);
    },
  });
  socket.setHandler({
    onData(chunk) {
      // The view is only valid during the call: the copy outlives it.
      if (!duplex.push(chunk.slice())) socket.pause();
    },
    onEnd() {
      duplex.push(null);
    },
    onError(error) {
      duplex.destroy(error);
    },
    onWriteError(error) {
      duplex.destroy(error);
    },
  });
  return duplex;
}

/**
 * Starts `node:tls` on any open socket: the stream itself for a `node:net` socket of this
 * adapter, otherwise a Duplex over the socket (TLS in TLS, or a Deno socket with TLS
 * settings Deno's own TLS cannot express).
 */
export async function startTlsOverSocket(
  socket: Socket,
  options: StartTlsOptions,
): Promise<Socket> {
  const [loaded, verifier] = await Promise.all([loadModules(), loadTlsVerifier()]);
  const own = socket instanceof NodeSocket && socket.detachable;
  const transport = own ? (socket as NodeSocket).detach() : socketDuplex(loaded.stream, socket);
  const stream = loaded.tls.connect({
    socket: transport,
    ...tlsConnectOptions(loaded.tls, options.tls),
  });
  return settle(stream, {
    hostname: options.hostname,
    port: options.port,
    tls: options.tls,
    signal: options.signal,
    // The TLS stream does not always close a stream it did not open.
    underlying: own ? undefined : socket,
  }, verifier);
}

/**
 * Opens one `node:net` socket (a `node:tls` one when `options.tls` is set) to
 * `options.path`, `options.address` or else `options.hostname`.
 */
export async function connectNodeStream(options: ConnectOptions): Promise<Socket> {
  const signal = options.signal;
  if (signal?.aborted) throw abortReason(signal);
  const [loaded, verifier] = await Promise.all([
    loadModules(),
    options.tls ? loadTlsVerifier() : null,
  ]);
  const stream = openStream(loaded, options);
  if (options.onPhase) reportPhases(stream, options.onPhase, options.tls !== undefined);
  return settle(stream, options, verifier);
}

/** Reports the set-up phases `node:net` and `node:tls` announce (before settle's listeners). */
function reportPhases(stream: NodeStream, onPhase: (phase: ConnectPhase) => void, tls: boolean) {
  // `lookup` is only emitted for a host name, not for an IP literal.
  stream.once("lookup", () => onPhase("lookup"));
  stream.once("connect", () => onPhase("connect"));
  if (tls) stream.once("secureConnect", () => onPhase("tls"));
}
