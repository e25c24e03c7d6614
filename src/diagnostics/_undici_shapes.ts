/**
 * pooled's requests and connections in undici's message shapes, for the `undici:*`
 * channels: tools written for undici read `request.origin`, `request.path`,
 * `request.headers` (flat `[name, value, ...]`), call `request.addHeader()` during
 * `undici:request:create`, read `response.statusCode` and `response.headers` (flat, as
 * Buffers), `connectParams` and `socket.remoteAddress`. Every function here runs only
 * when its channel has subscribers: the call sites check `hasSubscribers` first.
 *
 * @module
 */

import type { HTTPHeaderDict } from "../headers.ts";
import { hostHeaderValue, mergeHeaders } from "../_request_headers.ts";
import { checkHeader } from "../http1/request_head.ts";
import type { ResponseHeadInfo } from "../body/_body_source.ts";
import { requestInit } from "../http2/_request_fields.ts";
import { requestFields } from "../http2/session.ts";
import { observeFailures, type RequestDescriptor } from "../request/_descriptor.ts";
import { requestHeaderPairs, type RequestHeaders } from "../request/request_methods.ts";
import type { Connector, Socket, TlsConnectOptions } from "../runtime/socket.ts";
import { defaultPortFor } from "../url.ts";
import {
  builtinModule,
  clientBeforeConnect,
  clientConnected,
  clientConnectError,
  clientSendHeaders,
  requestBodySent,
  requestCreate,
  requestError,
  requestHeaders,
  requestTrailers,
} from "./_channels.ts";

let addedHeaders: (view: UndiciRequest) => string[];

/** Where a connection goes, as the connect channels describe it. */
interface ConnectTarget {
  /** Host to connect to (IPv6 without brackets). */
  readonly hostname: string;
  /** Port to connect to. */
  readonly port: number;
  /** TLS settings for HTTPS, or undefined. */
  readonly tls?: TlsConnectOptions;
  /** The runtime adapter. */
  readonly connector: Connector;
}

observeFailures((request, error) => {
  if (requestError.hasSubscribers) publishRequestError(request, error);
});
/**
 * One attempt as undici's `Request` shows it: the same object in every message about the
 * attempt (tools key their state on it). `headers` are the pool's and the request's
 * headers as `[name, value, ...]`, without those the library adds (`Host`, framing,
 * defaults), as undici's are without `host`.
 */
export class UndiciRequest {
  /** `scheme://host[:port]`, as `URL.origin`. */
  readonly origin: string;
  /** `"http:"` or `"https:"`. */
  readonly protocol: string;
  /** Request method. */
  readonly method: string;
  /** Request target: path and query (or `*`). */
  readonly path: string;
  /** Header names and values, flat: `[name, value, name, value, ...]`. */
  readonly headers: string[];
  /** True once the whole response arrived. */
  completed = false;
  /** True once the attempt failed. */
  aborted = false;
  #added: string[] = [];

  /** The view of `request`, whose headers (merged over the pool's) are `headers`. */
  constructor(request: RequestDescriptor, headers: Iterable<readonly [string, string]>) {
    this.origin = originOf(request.url);
    this.protocol = this.origin.slice(0, this.origin.indexOf(":") + 1);
    this.method = request.method;
    this.path = request.target;
    this.headers = [];
    for (const [name, value] of headers) this.headers.push(name, value);
  }

  static {
    addedHeaders = (view) => view.#added;
  }

  /**
   * Adds a header line to the request; during `undici:request:create` it is sent. A name
   * that is not a token or a value with a control character is a `TypeError`.
   */
  addHeader(name: string, value: string): this {
    checkHeader(name, value);
    this.headers.push(name, value);
    this.#added.push(name, value);
    return this;
  }
}

/** Origins by the scheme and authority they were parsed from: clients reuse a few. */
const origins = new Map<string, string>();
const MAX_ORIGINS = 64;

/** `URL.origin` of an absolute URL, parsed once per scheme and authority. */
function originOf(url: string): string {
  const end = url.indexOf("/", url.indexOf("//") + 2);
  const prefix = end === -1 ? url : url.slice(0, end);
  let origin = origins.get(prefix);
  if (origin === undefined) {
    origin = new URL(url).origin;
    if (origins.size >= MAX_ORIGINS) origins.clear();
    origins.set(prefix, origin);
  }
  return origin;
}

/**
 * The response head as undici's `response` shows it; `headers` become Buffers when first
 * read (most subscribers never read them).
 */
export class UndiciResponse {
  /** Status code. */
  readonly statusCode: number;
  /** Reason phrase. */
  readonly statusText: string;
  #head: ResponseHeadInfo;
  #headers: Uint8Array[] | null = null;

  /** The view of a response head (HTTP/2's has no reason phrase: `statusText` is empty). */
  constructor(head: ResponseHeadInfo) {
    this.statusCode = head.status;
    this.statusText = head.reason;
    this.#head = head;
  }

  /** Header names and values as received, flat, each a Buffer (latin1). */
  get headers(): Uint8Array[] {
    return this.#headers ??= toBuffers(this.#head.rawHeaders);
  }
}

/** A connection's protocol as undici names it: HTTP/1.1 or HTTP/2. */
export type ProtocolVersion = "h1" | "h2";

/** Where a connection goes, as undici's `connectParams`. */
export interface ConnectParams {
  /** Host as in a URL: IPv6 in brackets, the port when not the scheme's default. */
  readonly host: string;
  /** Host name or IP address (IPv6 without brackets). */
  readonly hostname: string;
  /** `"http:"` or `"https:"`. */
  readonly protocol: string;
  /** The port as in a URL: `""` when it is the scheme's default. */
  readonly port: string;
  /** The protocol once connected (`"h1"`, or `"h2"` when it speaks HTTP/2), undefined before. */
  readonly version: ProtocolVersion | undefined;
  /** The TLS server name (SNI), or null for plain HTTP. */
  readonly servername: string | null;
  /** Always null: pooled does not bind a local address. */
  readonly localAddress: null;
}

/**
 * A connected socket as tools read undici's: the peer's address and port. pooled's sockets
 * do not report the address they reached, so `remoteAddress` is the host connected to (an
 * IP literal, or a name when the pool's host is one).
 */
export interface SocketView {
  /** The host connected to. */
  readonly remoteAddress: string;
  /** The port connected to. */
  readonly remotePort: number;
  /** True for TLS. */
  readonly encrypted: boolean;
}

const socketViews = new WeakMap<Socket, SocketView>();

/** The view of `request`, made on first use (a subscriber may arrive mid-request). */
function viewOf(request: RequestDescriptor): UndiciRequest {
  return (request.diagnostic ??= new UndiciRequest(
    request,
    headerPairs(request.headers),
  )) as UndiciRequest;
}

function* headerPairs(headers: RequestHeaders | undefined): Iterable<readonly [string, string]> {
  if (headers === undefined) return;
  for (const [name, value] of requestHeaderPairs(headers)) {
    if (value !== undefined) yield [name, value];
  }
}

/**
 * Publishes `undici:request:create` for an attempt whose pool headers are `poolHeaders`;
 * headers a subscriber added join the request's own, to be sent.
 */
export function publishRequestCreate(request: RequestDescriptor, poolHeaders: HTTPHeaderDict) {
  const view = new UndiciRequest(request, mergeHeaders(poolHeaders, request.headers ?? {}));
  request.diagnostic = view;
  requestCreate.publish({ request: view });
  const added = addedHeaders(view);
  if (added.length > 0) request.headers = withHeaders(request.headers, added);
}

/** `headers` with the flat `added` pairs appended, as a new object (removals kept). */
function withHeaders(headers: RequestHeaders | undefined, added: string[]): RequestHeaders {
  // No prototype: a header may be named "__proto__".
  const merged: Record<string, string[] | undefined> = Object.create(null);
  for (const [name, value] of headers === undefined ? [] : requestHeaderPairs(headers)) {
    if (value !== undefined) (merged[name] ??= []).push(value);
    else if (!(name in merged)) merged[name] = undefined;
  }
  for (let i = 0; i < added.length; i += 2) (merged[added[i]] ??= []).push(added[i + 1]);
  return merged;
}

/** Publishes `undici:client:sendHeaders`: the head as written, without its final CRLF. */
export function publishSendHeaders(
  request: RequestDescriptor,
  settings: ConnectTarget,
  socket: Socket,
): void {
  const text = request.wire!.text;
  const head = typeof text === "string" ? text : decodeLatin1(text);
  clientSendHeaders.publish({
    request: viewOf(request),
    headers: head.endsWith("\r\n\r\n") ? head.slice(0, -2) : head,
    socket: socketView(settings, socket),
  });
}

/**
 * Publishes `undici:client:sendHeaders` for a request going out on an HTTP/2 stream of a
 * `scheme` connection: its fields as sent, pseudo-headers first, each as `name: value\r\n`
 * (as undici shows an HTTP/2 request).
 */
export function publishHTTP2SendHeaders(
  request: RequestDescriptor,
  settings: ConnectTarget,
  scheme: string,
  socket: Socket,
): void {
  const fields = requestFields(requestInit(request, scheme, null));
  let headers = "";
  for (let i = 0; i < fields.length; i += 2) headers += `${fields[i]}: ${fields[i + 1]}\r\n`;
  clientSendHeaders.publish({
    request: viewOf(request),
    headers,
    socket: socketView(settings, socket),
  });
}

/** Publishes `undici:request:bodySent`. */
export function publishBodySent(request: RequestDescriptor): void {
  requestBodySent.publish({ request: viewOf(request) });
}

/** Publishes `undici:request:headers` for the final response head. */
export function publishResponseHeaders(request: RequestDescriptor, head: ResponseHeadInfo): void {
  requestHeaders.publish({ request: viewOf(request), response: new UndiciResponse(head) });
}

/** Publishes `undici:request:trailers`: the response is complete. */
export function publishTrailers(request: RequestDescriptor, trailers: string[] | null): void {
  const view = viewOf(request);
  view.completed = true;
  requestTrailers.publish({
    request: view,
    trailers: trailers === null ? [] : toBuffers(trailers),
  });
}

/** Publishes `undici:request:error`. */
export function publishRequestError(request: RequestDescriptor, error: unknown): void {
  const view = viewOf(request);
  view.aborted = true;
  requestError.publish({ request: view, error });
}

/** Publishes `undici:client:beforeConnect`. */
export function publishBeforeConnect(settings: ConnectTarget): void {
  clientBeforeConnect.publish({
    connectParams: connectParams(settings, undefined),
    connector: settings.connector satisfies Connector,
  });
}

/** Publishes `undici:client:connected` for a connection that speaks `version`. */
export function publishConnected(
  settings: ConnectTarget,
  socket: Socket,
  version: ProtocolVersion,
): void {
  clientConnected.publish({
    connectParams: connectParams(settings, version),
    connector: settings.connector,
    socket: socketView(settings, socket),
  });
}

/** Publishes `undici:client:connectError`. */
export function publishConnectError(settings: ConnectTarget, error: unknown): void {
  clientConnectError.publish({
    connectParams: connectParams(settings, undefined),
    connector: settings.connector,
    error,
  });
}

function connectParams(
  settings: ConnectTarget,
  version: ProtocolVersion | undefined,
): ConnectParams {
  const { hostname, port, tls } = settings;
  const scheme = tls === undefined ? "http" : "https";
  return {
    host: hostHeaderValue(hostname, port, scheme),
    hostname,
    protocol: `${scheme}:`,
    port: port === defaultPortFor(scheme) ? "" : String(port),
    version,
    servername: tls?.serverName ?? null,
    localAddress: null,
  };
}

function socketView(settings: ConnectTarget, socket: Socket): SocketView {
  let view = socketViews.get(socket);
  if (view === undefined) {
    view = {
      remoteAddress: settings.hostname,
      remotePort: settings.port,
      encrypted: settings.tls !== undefined,
    };
    socketViews.set(socket, view);
  }
  return view;
}

interface BufferClass {
  from(text: string, encoding: "latin1"): Uint8Array;
}

let bufferClass: BufferClass | null | undefined;

/** Header lines as undici gives them: Buffers (plain bytes where there is no Buffer). */
function toBuffers(lines: readonly string[]): Uint8Array[] {
  bufferClass ??= builtinModule<{ Buffer: BufferClass }>("node:buffer")?.Buffer ?? null;
  const buffer = bufferClass;
  return lines.map((line) =>
    buffer === null ? Uint8Array.from(line, (c) => c.charCodeAt(0)) : buffer.from(line, "latin1")
  );
}

function decodeLatin1(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
  return text;
}
