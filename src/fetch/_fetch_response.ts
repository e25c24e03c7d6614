/**
 * Turns a streamed `HTTPResponse` into a web `Response` whose body reads from the
 * connection as it is consumed, and gives the connection back when the body is read to
 * its end, cancelled, or never read and collected.
 *
 * @module
 */

import type { HTTPResponse } from "../response.ts";

/** Statuses whose response has no body, whatever the request. */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * A body stream that was neither read to its end nor cancelled, collected (its `Response`
 * and any reader of it are gone): its connection is closed so that it does not stay in use
 * for ever (undici cancels such a body too). The stream, not the `Response`, is watched: a
 * reader may still be reading a body whose `Response` is gone.
 */
const unread: Pick<FinalizationRegistry<HTTPResponse>, "register" | "unregister"> =
  // Cloudflare Workers have no FinalizationRegistry: there a request ends with its invocation.
  typeof FinalizationRegistry === "function"
    ? new FinalizationRegistry<HTTPResponse>((response) => response.close())
    : { register() {}, unregister: () => false };

/** A web `Response` with the `url` and `redirected` that only fetch itself can set. */
class FetchResponse extends Response {
  #url: string;
  #redirected: boolean;

  constructor(body: BodyInit | null, init: ResponseInit, url: string, redirected: boolean) {
    super(body, init);
    this.#url = url;
    this.#redirected = redirected;
  }

  override get url(): string {
    return this.#url;
  }

  override get redirected(): boolean {
    return this.#redirected;
  }

  override get type(): ResponseType {
    return "basic";
  }

  override clone(): Response {
    const copy = super.clone();
    const init = { status: this.status, statusText: this.statusText, headers: this.headers };
    return new FetchResponse(copy.body, init, this.#url, this.#redirected);
  }
}

/** What a failed body read rejects with: the abort reason, or a TypeError as fetch's. */
function bodyError(error: unknown, signal: AbortSignal | null): unknown {
  if (signal?.aborted) return signal.reason;
  return new TypeError("terminated", { cause: error });
}

/** The body of `response` as fetch exposes it: read on demand, errors as fetch's. */
function bodyStream(
  response: HTTPResponse,
  signal: AbortSignal | null,
  token: object,
): ReadableStream<Uint8Array> {
  const reader = response.body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let step: ReadableStreamReadResult<Uint8Array>;
      try {
        step = await reader.read();
      } catch (error) {
        unread.unregister(token);
        throw bodyError(error, signal);
      }
      if (!step.done) return controller.enqueue(step.value);
      unread.unregister(token);
      controller.close();
    },
    cancel(reason) {
      unread.unregister(token);
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/**
 * The web `Response` of `response` (streamed, `preloadContent: false`), for a request made
 * with `method`, that ended at `url`.
 */
export async function toWebResponse(
  response: HTTPResponse,
  method: string,
  url: string,
  redirected: boolean,
  signal: AbortSignal | null,
): Promise<Response> {
  const headers = new Headers();
  for (const [name, value] of response.headers) headers.append(name, value);
  const init = { status: response.status, statusText: response.reason, headers };
  if (method === "HEAD" || NULL_BODY_STATUSES.has(response.status)) {
    // Nothing to read: the connection goes back to its pool now.
    await response.drainConn();
    return new FetchResponse(null, init, url, redirected);
  }
  const token = {};
  const body = bodyStream(response, signal, token);
  unread.register(body, response, token);
  return new FetchResponse(body, init, url, redirected);
}
