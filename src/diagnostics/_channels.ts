/**
 * The diagnostics channels pooled publishes on: undici's names, so that tools written for
 * undici (OpenTelemetry's instrumentation among them) see pooled's requests, and pooled's
 * own for what undici has no name for. `node:diagnostics_channel` is taken from
 * `process.getBuiltinModule` (Deno, Bun, Node 20.16 and later, Workers with
 * `nodejs_compat`); where there is none, every channel is a silent stand-in that never has
 * subscribers, so nothing is ever built or published.
 *
 * The channel objects live here for the life of the process: Node keeps a channel only
 * while someone references it, and a publisher must hold the one its subscribers reach.
 * Call sites check `hasSubscribers` first and build a message only when it is true.
 *
 * @module
 */

/** A channel as a publisher uses it. */
export interface Channel {
  /** True while someone subscribes. */
  readonly hasSubscribers: boolean;
  /** Hands `message` to every subscriber, synchronously. */
  publish(message: unknown): void;
}

interface DiagnosticsChannelModule {
  channel(name: string): Channel;
}

/** What `globalThis.process` offers for loading built-in modules, where it exists. */
interface BuiltinLoader {
  getBuiltinModule?(id: string): unknown;
}

/** The stand-in where the runtime has no `node:diagnostics_channel`. */
const SILENT: Channel = { hasSubscribers: false, publish() {} };

/** A built-in module by its `node:` name, or undefined where the runtime has none. */
export function builtinModule<T>(id: string): T | undefined {
  const process = (globalThis as { process?: BuiltinLoader }).process;
  try {
    return process?.getBuiltinModule?.(id) as T | undefined;
  } catch {
    return undefined;
  }
}

const diagnostics = builtinModule<DiagnosticsChannelModule>("node:diagnostics_channel");

function channel(name: string): Channel {
  return diagnostics?.channel(name) ?? SILENT;
}

/** `undici:request:create`: `{ request }`, once per attempt, before its head is rendered. */
export const requestCreate: Channel = channel("undici:request:create");
/** `undici:request:bodySent`: `{ request }`, once the body (if any) is written. */
export const requestBodySent: Channel = channel("undici:request:bodySent");
/** `undici:request:headers`: `{ request, response }`, when the final head is in. */
export const requestHeaders: Channel = channel("undici:request:headers");
/** `undici:request:trailers`: `{ request, trailers }`, when the response is complete. */
export const requestTrailers: Channel = channel("undici:request:trailers");
/** `undici:request:error`: `{ request, error }`, when the attempt fails. */
export const requestError: Channel = channel("undici:request:error");
/** `undici:client:beforeConnect`: `{ connectParams, connector }`. */
export const clientBeforeConnect: Channel = channel("undici:client:beforeConnect");
/** `undici:client:connected`: `{ connectParams, connector, socket }`. */
export const clientConnected: Channel = channel("undici:client:connected");
/** `undici:client:connectError`: `{ connectParams, connector, error }`. */
export const clientConnectError: Channel = channel("undici:client:connectError");
/** `undici:client:sendHeaders`: `{ request, headers, socket }`, before the head is written. */
export const clientSendHeaders: Channel = channel("undici:client:sendHeaders");
/** `pooled:pool:create`: `{ manager, key, origin, pool }`, when a manager makes a pool. */
export const poolCreate: Channel = channel("pooled:pool:create");
/** `pooled:pool:evict`: `{ manager, key, origin, pool, reason }`, when a manager drops one. */
export const poolEvict: Channel = channel("pooled:pool:evict");
/** `pooled:retry`: one message per attempt the request loop is about to send again. */
export const retry: Channel = channel("pooled:retry");
/** `pooled:redirect`: one message per redirect the request loop follows. */
export const redirect: Channel = channel("pooled:redirect");
