/**
 * `MockAgent`: mock origins for tests, in the shape of undici's. It is a
 * {@linkcode PoolManager} and a {@linkcode Connector} at once: its sockets read the
 * requests the engine writes and answer with the bytes a server would send, so retries,
 * redirects, decompression, timeouts and pools behave exactly as on the network.
 *
 * @module
 */

import { HTTPError } from "../errors.ts";
import { PoolManager, type PoolManagerOptions } from "../manager/pool_manager.ts";
import { defaultConnector } from "../runtime/default.ts";
import type { ConnectOptions, Connector, Socket } from "../runtime/socket.ts";
import { logOf, MockCallHistory } from "./_call_history.ts";
import {
  describeMatcher,
  type InterceptorRecord,
  makeInterceptor,
  matchValue,
  type MockInterceptOptions,
  type MockInterceptor,
  type MockMatcher,
} from "./_interceptor.ts";
import { type MockAction, MockSocket, type MockSocketOwner } from "./_mock_socket.ts";
import type { ReadRequest } from "./_request_reader.ts";

/**
 * Which origins a mock pool stands for: one origin (`"http://api.test"`), or any origin a
 * RegExp or predicate accepts (given as `scheme://host[:port]`, the default port left out).
 *
 * @example
 * ```ts
 * import type { MockOriginMatcher } from "@pooled/http/testing";
 * const origins: MockOriginMatcher[] = ["https://api.test", /\.test$/, (o) => o.startsWith("http:")];
 * console.log(origins.length); // 3
 * ```
 */
export type MockOriginMatcher = string | RegExp | ((origin: string) => boolean);

/**
 * Hosts that `enableNetConnect` lets through to the network: a string equal to the host
 * with or without its port (`"127.0.0.1:8080"`, `"localhost"`), or a RegExp or predicate
 * given the host with its port as in a URL (`"127.0.0.1:8080"`; no port when default).
 *
 * @example
 * ```ts
 * import type { NetConnectMatcher } from "@pooled/http/testing";
 * const hosts: NetConnectMatcher[] = ["localhost", /^127\.0\.0\.1:/, (host) => host.endsWith(":8080")];
 * console.log(hosts.length); // 3
 * ```
 */
export type NetConnectMatcher = string | RegExp | ((host: string) => boolean);

/**
 * Options of a {@linkcode MockAgent}: those of a {@linkcode PoolManager} (for the agent's
 * own pools), whether to record calls, and the connector for requests that go to the network.
 *
 * @example
 * ```ts
 * import { defaultConnector } from "@pooled/http";
 * import { MockAgent, type MockAgentOptions } from "@pooled/http/testing";
 * const options: MockAgentOptions = { enableCallHistory: true, connector: defaultConnector(), retries: 0 };
 * await using agent = new MockAgent(options);
 * ```
 */
export interface MockAgentOptions extends PoolManagerOptions {
  /** Record every request for {@linkcode MockAgent.getCallHistory}. Default false. */
  enableCallHistory?: boolean;
  /**
   * The connector that requests let through to the network go on (see
   * {@linkcode MockAgent.enableNetConnect}). Default: the current runtime's.
   */
  connector?: Connector;
}

/**
 * An interceptor not used up yet, as {@linkcode MockAgent.pendingInterceptors} lists it.
 *
 * @example
 * ```ts
 * import { MockAgent, type PendingInterceptor } from "@pooled/http/testing";
 * await using agent = new MockAgent();
 * agent.get("http://api.test").intercept({ path: "/never" }).reply(200);
 * const [pending]: PendingInterceptor[] = agent.pendingInterceptors();
 * console.log(pending.description); // GET http://api.test/never (invoked 0 of 1 times)
 * ```
 */
export interface PendingInterceptor {
  /** The origin (or origin matcher) of its pool. */
  readonly origin: MockOriginMatcher;
  /** Its method matcher. */
  readonly method: MockMatcher;
  /** Its path matcher. */
  readonly path: MockMatcher;
  /** How many times it answers (ignored when persistent). */
  readonly times: number;
  /** How many times it answered. */
  readonly timesInvoked: number;
  /** It answers for good. */
  readonly persist: boolean;
  /** One line: method, origin and path, and its use. */
  readonly description: string;
}

/**
 * No interceptor matched a request and the network is not allowed for its host (see
 * {@linkcode MockAgent.disableNetConnect}). Not retried: the request fails with it as is.
 *
 * @example
 * ```ts
 * import { MockAgent, MockNotMatchedError } from "@pooled/http/testing";
 * await using agent = new MockAgent();
 * agent.disableNetConnect();
 * const error = await agent.request("GET", "http://api.test/missing").catch((e) => e);
 * console.log(error instanceof MockNotMatchedError, error.code); // true ERR_MOCK_NOT_MATCHED
 * console.log(error.message);
 * // No mock interceptor matched the request and net connect is disabled: GET http://api.test/missing
 * ```
 */
export class MockNotMatchedError extends HTTPError {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_MOCK_NOT_MATCHED";
  /** The method of the request. */
  readonly method: string;
  /** The URL of the request. */
  readonly url: string;

  /**
   * Creates an instance.
   *
   * @param method The method of the request.
   * @param url The URL of the request.
   * @param why Why the network was not used.
   */
  constructor(method: string, url: string, why: string) {
    super(`No mock interceptor matched the request and ${why}: ${method} ${url}`);
    this.method = method;
    this.url = url;
  }
}

/**
 * Thrown by {@linkcode MockAgent.assertNoPendingInterceptors}: interceptors a test set up
 * were not used (up). The message lists them, one a line.
 *
 * @example
 * ```ts
 * import { MockAgent, MockPendingInterceptorsError } from "@pooled/http/testing";
 * await using agent = new MockAgent();
 * agent.get("http://api.test").intercept({ path: "/a" }).reply(200);
 * try {
 *   agent.assertNoPendingInterceptors();
 * } catch (error) {
 *   console.log(error instanceof MockPendingInterceptorsError); // true
 *   console.log((error as MockPendingInterceptorsError).interceptors.length); // 1
 * }
 * ```
 */
export class MockPendingInterceptorsError extends HTTPError {
  /** Stable machine-readable code of this error class. */
  override readonly code: string = "ERR_MOCK_PENDING_INTERCEPTORS";
  /** The interceptors still pending. */
  readonly interceptors: readonly PendingInterceptor[];

  /**
   * Creates an instance.
   *
   * @param interceptors The interceptors still pending.
   */
  constructor(interceptors: readonly PendingInterceptor[]) {
    const lines = interceptors.map((one) => `\n  ${one.description}`).join("");
    super(`Interceptors still pending: ${interceptors.length}${lines}`);
    this.interceptors = interceptors;
  }
}

/** `scheme://host[:port]` as a URL's `origin` reads (lower case, default port left out). */
function originOf(scheme: string, hostname: string, port: number): string {
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return new URL(`${scheme}://${host}:${port}`).origin;
}

/** Checks and normalizes an origin given as a string. */
function normalizeOrigin(origin: string): string {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    throw new TypeError(`Invalid mock origin: ${JSON.stringify(origin)}`);
  }
  const bare = url.pathname === "/" && url.search === "" && url.hash === "" &&
    url.username === "" && url.password === "";
  if ((url.protocol !== "http:" && url.protocol !== "https:") || !bare) {
    throw new TypeError(
      `A mock origin is "http(s)://host[:port]" with nothing after: ${JSON.stringify(origin)}`,
    );
  }
  return url.origin;
}

function checkOriginMatcher(origin: unknown): void {
  if (typeof origin === "string" || origin instanceof RegExp || typeof origin === "function") {
    return;
  }
  throw new TypeError(`A mock origin must be a string, a RegExp or a function: got ${origin}`);
}

// Module-private access to MockPool internals (set by its static blocks).
let newMockPool: (origin: MockOriginMatcher) => MockPool;
let poolAnswersFor: (pool: MockPool, origin: string) => boolean;
let poolRecords: (pool: MockPool) => readonly InterceptorRecord[];

/**
 * The interceptors of one origin (or of the origins a matcher accepts): made by
 * {@linkcode MockAgent.get}, which returns the same pool for the same origin.
 *
 * @example Two answers for one origin
 * ```ts
 * import { MockAgent } from "@pooled/http/testing";
 * await using agent = new MockAgent();
 * const api = agent.get("http://api.test");
 * api.intercept({ path: "/users/1" }).reply(200, { id: 1 });
 * api.intercept({ path: "/users/2" }).reply(404);
 * const r = await agent.request("GET", "http://api.test/users/2");
 * console.log(r.status, agent.get("http://api.test") === api); // 404 true
 * ```
 */
export class MockPool {
  /** The origin, or the matcher of the origins, it answers for. */
  readonly origin: MockOriginMatcher;
  #records: InterceptorRecord[] = [];
  #description: string;

  static {
    newMockPool = (origin) => new MockPool(origin);
  }

  private constructor(origin: MockOriginMatcher) {
    this.origin = origin;
    this.#description = typeof origin === "string" ? origin : `<origin ${describeMatcher(origin)}>`;
  }

  /**
   * Starts an interceptor for the requests `options` matches; `reply(...)` or
   * `replyWithError(...)` on it registers it. The first usable interceptor registered
   * answers a request.
   */
  intercept(options: MockInterceptOptions): MockInterceptor {
    return makeInterceptor(this.#description, options, (record) => this.#records.push(record));
  }

  /** True when this pool answers for `origin`. */
  #answersFor(origin: string): boolean {
    const matcher = this.origin;
    return typeof matcher === "string" ? matcher === origin : matchValue(matcher, origin);
  }

  static {
    poolAnswersFor = (pool, origin) => pool.#answersFor(origin);
    poolRecords = (pool) => pool.#records;
  }
}

/**
 * Mock origins for tests, shaped after undici's `MockAgent`. It is a {@linkcode PoolManager}
 * (`agent.request(...)`) and a {@linkcode Connector} (`new PoolManager({ connector: agent })`,
 * or any pool's `connector` option). Its sockets read each request the engine writes and
 * answer with the first interceptor that matches, as bytes on the wire, so every policy
 * (retries, redirects, decoding, timeouts, pooling) runs as it does on the network.
 *
 * A request no interceptor matches goes to the network (through the `connector` option),
 * unless {@linkcode MockAgent.disableNetConnect} was called, or
 * {@linkcode MockAgent.enableNetConnect} names other hosts: then it fails with a
 * {@linkcode MockNotMatchedError}.
 *
 * @example Test code that takes a manager
 * ```ts
 * import { PoolManager } from "@pooled/http";
 * import { MockAgent } from "@pooled/http/testing";
 *
 * async function fetchUser(manager: PoolManager, id: number): Promise<string> {
 *   const r = await manager.request("GET", `https://api.test/users/${id}`);
 *   return ((await r.json()) as { name: string }).name;
 * }
 *
 * await using agent = new MockAgent({ enableCallHistory: true });
 * agent.disableNetConnect();
 * agent.get("https://api.test").intercept({ path: "/users/1" }).reply(200, { name: "Ada" });
 * console.log(await fetchUser(agent, 1)); // Ada
 * console.log(agent.getCallHistory().lastCall()?.fullUrl); // https://api.test/users/1
 * agent.assertNoPendingInterceptors();
 * ```
 *
 * @example As the connector of another manager
 * ```ts
 * import { PoolManager, Retry } from "@pooled/http";
 * import { MockAgent } from "@pooled/http/testing";
 * await using agent = new MockAgent();
 * agent.disableNetConnect();
 * agent.get("http://api.test").intercept({ path: "/" }).reply(503);
 * agent.get("http://api.test").intercept({ path: "/" }).reply(200, "ok");
 * const retries = new Retry({ total: 2, statusForcelist: [503] });
 * await using manager = new PoolManager({ connector: agent, retries });
 * const r = await manager.request("GET", "http://api.test/");
 * console.log(r.status, await r.text()); // 200 ok
 * ```
 */
export class MockAgent extends PoolManager implements Connector {
  /** The connector's name, for messages. */
  readonly name: string = "mock";
  #pools: MockPool[] = [];
  #netConnect: boolean | NetConnectMatcher[] = true;
  #history = new MockCallHistory();
  #recording: boolean;
  #network: Connector;
  #sockets = new Set<MockSocket>();
  #agentClosed = false;

  /**
   * Creates an agent: no interceptors, the network allowed (as undici's; call
   * {@linkcode MockAgent.disableNetConnect} in tests that must not reach it).
   *
   * @param options `enableCallHistory`, `connector` (for the network) and any
   * {@linkcode PoolManager} option for the agent's own pools.
   */
  constructor(options: MockAgentOptions = {}) {
    const { enableCallHistory = false, connector, ...managerOptions } = options;
    // The agent's own pools connect through the agent, which exists only after super().
    const self: { agent?: MockAgent } = {};
    const forward: Connector = { name: "mock", connect: (o) => self.agent!.connect(o) };
    super({ ...managerOptions, connector: forward });
    self.agent = this;
    this.#recording = enableCallHistory;
    this.#network = connector ?? defaultConnector();
  }

  /**
   * The mock pool of `origin` (`"http://api.test"`, `"https://127.0.0.1:8443"`), or of the
   * origins a RegExp or predicate accepts; made on first use.
   */
  get(origin: MockOriginMatcher): MockPool {
    checkOriginMatcher(origin);
    const key = typeof origin === "string" ? normalizeOrigin(origin) : origin;
    let pool = this.#pools.find((one) => one.origin === key);
    if (pool === undefined) {
      pool = newMockPool(key);
      this.#pools.push(pool);
    }
    return pool;
  }

  /** `agent.get(options.origin).intercept(rest)` in one call. */
  intercept(
    options: MockInterceptOptions & { readonly origin: MockOriginMatcher },
  ): MockInterceptor {
    const { origin, ...rest } = options;
    return this.get(origin).intercept(rest);
  }

  /**
   * Requests no interceptor matches fail with {@linkcode MockNotMatchedError} (instead of
   * going to the network).
   */
  disableNetConnect(): void {
    this.#netConnect = false;
  }

  /**
   * Lets requests no interceptor matches go to the network: to every host (no argument), or
   * to the hosts `host` matches (calls add up).
   */
  enableNetConnect(host?: NetConnectMatcher): void {
    if (host === undefined) {
      this.#netConnect = true;
      return;
    }
    if (typeof host !== "string" && !(host instanceof RegExp) && typeof host !== "function") {
      throw new TypeError(`enableNetConnect takes a string, a RegExp or a function: got ${host}`);
    }
    if (Array.isArray(this.#netConnect)) this.#netConnect.push(host);
    else this.#netConnect = [host];
  }

  /** The requests recorded (with `enableCallHistory: true`). */
  getCallHistory(): MockCallHistory {
    return this.#history;
  }

  /** Starts recording requests. */
  enableCallHistory(): void {
    this.#recording = true;
  }

  /** Stops recording requests (those recorded stay). */
  disableCallHistory(): void {
    this.#recording = false;
  }

  /** Forgets the requests recorded. */
  clearCallHistory(): void {
    this.#history.clear();
  }

  /**
   * The interceptors a test would expect to be used and that are not used up: those with
   * uses left, and persistent ones never used.
   */
  pendingInterceptors(): PendingInterceptor[] {
    const pending: PendingInterceptor[] = [];
    for (const pool of this.#pools) {
      for (const record of poolRecords(pool)) {
        if (!record.pending) continue;
        pending.push({
          origin: pool.origin,
          method: record.options.method ?? "GET",
          path: record.options.path,
          times: record.times,
          timesInvoked: record.timesInvoked,
          persist: record.persist,
          description: record.describe(),
        });
      }
    }
    return pending;
  }

  /** Throws a {@linkcode MockPendingInterceptorsError} listing the pending interceptors, if any. */
  assertNoPendingInterceptors(): void {
    const pending = this.pendingInterceptors();
    if (pending.length > 0) throw new MockPendingInterceptorsError(pending);
  }

  /**
   * Opens a mock connection to `options.hostname`:`options.port` (`https` when
   * `options.tls` is set; no TLS is spoken). When no mock pool answers for the origin and
   * the network is allowed for it, a real connection is opened at once (its connect errors
   * and timeouts are the network's).
   */
  connect(options: ConnectOptions): Promise<Socket> {
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    if (this.#agentClosed) return Promise.reject(new TypeError("MockAgent is closed"));
    const { hostname, port, tls } = options;
    const origin = originOf(tls === undefined ? "http" : "https", hostname, port);
    const owner: MockSocketOwner = {
      dispatch: (request) => this.#dispatch(origin, port, request),
      connectUpstream: () => this.#network.connect({ hostname, port, tls }),
      socketClosed: (socket) => this.#sockets.delete(socket),
    };
    const mocked = this.#pools.some((pool) => poolAnswersFor(pool, origin));
    if (!mocked && this.#networkAllowed(origin)) {
      return this.#network.connect(options).then((upstream) =>
        this.#track(new MockSocket(owner, upstream))
      );
    }
    return Promise.resolve(this.#track(new MockSocket(owner)));
  }

  #track(socket: MockSocket): MockSocket {
    if (this.#agentClosed) socket.close();
    else this.#sockets.add(socket);
    return socket;
  }

  /** How to answer a request read on a socket to `origin`. */
  #dispatch(origin: string, port: number, request: ReadRequest): MockAction {
    const call = logOf(origin, port, request);
    if (this.#recording) this.#history.add(call);
    for (const pool of this.#pools) {
      if (!poolAnswersFor(pool, origin)) continue;
      for (const record of poolRecords(pool)) {
        if (!record.usable || !record.matches(call)) continue;
        record.timesInvoked++;
        const { answer, delay } = record;
        if (answer.kind === "error") return { kind: "error", error: answer.error, delay };
        const { bytes, close } = answer.make(call);
        return { kind: "reply", bytes, close, delay };
      }
    }
    if (this.#networkAllowed(origin)) return { kind: "network" };
    const why = this.#netConnect === false
      ? "net connect is disabled"
      : "net connect is not enabled for its host";
    throw new MockNotMatchedError(call.method, call.fullUrl, why);
  }

  #networkAllowed(origin: string): boolean {
    const allowed = this.#netConnect;
    if (typeof allowed === "boolean") return allowed;
    const url = new URL(origin);
    return allowed.some((host) =>
      typeof host === "string"
        ? host === url.host || host === url.hostname
        : matchValue(host, url.host)
    );
  }

  /**
   * Closes the agent's pools and every connection it opened (also those behind other
   * managers); it opens no more.
   */
  override async close(): Promise<void> {
    this.#agentClosed = true;
    await super.close();
    for (const socket of [...this.#sockets]) socket.close();
  }
}
