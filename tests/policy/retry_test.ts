import { assert, test } from "../_harness.ts";
import {
  ConnectTimeoutError,
  IncompleteRead,
  InvalidHeader,
  MaxRetryError,
  NameResolutionError,
  NewConnectionError,
  ProtocolError,
  ProxyError,
  ReadTimeoutError,
  ResponseError,
  SSLError,
} from "../../src/errors.ts";
import {
  isConnectError,
  isReadError,
  type RequestHistory,
  Retry,
  type RetryOptions,
  type RetryResponse,
} from "../../src/policy/retry.ts";

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

function response(status: number, headers: Record<string, string> = {}): RetryResponse {
  const h = new Headers(headers);
  return {
    status,
    headers: h,
    getRedirectLocation: () => REDIRECTS.has(status) ? h.get("location") : false,
  };
}

const pool = { scheme: "http", host: "127.0.0.1", port: 8080 };
const connectError = () => new NewConnectionError("Connection refused");
const readError = () => new ReadTimeoutError(null, "/", "Read timed out");
const otherError = () => new SSLError("certificate verify failed");

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new assert.AssertionError({ message: "expected the call to throw" });
}

function maxRetry(fn: () => unknown): MaxRetryError {
  const error = catchError(fn);
  assert.ok(error instanceof MaxRetryError, `expected MaxRetryError, got ${error}`);
  return error;
}

function withRandom<T>(value: number, fn: () => T): T {
  const original = Math.random;
  Math.random = () => value;
  try {
    return fn();
  } finally {
    Math.random = original;
  }
}

/** Increments `retry` `n` times with `ctx`. */
function times(retry: Retry, n: number, ctx: Parameters<Retry["increment"]>[0]): Retry {
  for (let i = 0; i < n; i++) retry = retry.increment(ctx);
  return retry;
}

const GET_READ = { method: "GET", url: "/r", error: readError() };
const GET_REDIRECT = { method: "GET", url: "/a", response: response(302, { location: "/b" }) };

// ---------------------------------------------------------------------------
// construction and defaults
// ---------------------------------------------------------------------------

test("Retry: defaults match urllib3 (milliseconds)", () => {
  const r = new Retry();
  assert.equal(r.total, 10);
  assert.equal(r.connect, null);
  assert.equal(r.read, null);
  assert.equal(r.redirect, null);
  assert.equal(r.status, null);
  assert.equal(r.other, null);
  assert.equal(r.allowedMethods, Retry.DEFAULT_ALLOWED_METHODS);
  assert.equal(r.statusForcelist.size, 0);
  assert.equal(r.backoffFactor, 0);
  assert.equal(r.backoffMax, 120_000);
  assert.equal(r.backoffJitter, 0);
  assert.equal(r.raiseOnRedirect, true);
  assert.equal(r.raiseOnStatus, true);
  assert.deepEqual(r.history, []);
  assert.equal(r.respectRetryAfterHeader, true);
  assert.equal(r.retryAfterMax, 21_600_000);
  assert.equal(r.removeHeadersOnRedirect, Retry.DEFAULT_REMOVE_HEADERS_ON_REDIRECT);
  assert.equal(r.redirectsDisabled, false);
});

test("Retry: static sets hold urllib3's values", () => {
  assert.deepEqual(
    [...Retry.DEFAULT_ALLOWED_METHODS].sort(),
    ["DELETE", "GET", "HEAD", "OPTIONS", "PUT", "TRACE"],
  );
  assert.deepEqual([...Retry.RETRY_AFTER_STATUS_CODES].sort(), [413, 429, 503]);
  assert.deepEqual(
    [...Retry.DEFAULT_REMOVE_HEADERS_ON_REDIRECT].sort(),
    ["authorization", "cookie", "proxy-authorization"],
  );
  assert.equal(Retry.DEFAULT_BACKOFF_MAX, 120_000);
  assert.equal(Retry.DEFAULT_RETRY_AFTER_MAX, 21_600_000);
});

test("Retry.DEFAULT is new Retry({ total: 3 })", () => {
  assert.ok(Retry.DEFAULT instanceof Retry);
  assert.equal(Retry.DEFAULT.total, 3);
  assert.equal(Retry.DEFAULT.redirect, null);
  assert.equal(Retry.DEFAULT.allowedMethods, Retry.DEFAULT_ALLOWED_METHODS);
});

test("Retry: options are stored; sets are copied, methods upper-cased, headers lower-cased", () => {
  const methods = ["get", "Post"];
  const r = new Retry({
    total: null,
    connect: 1,
    read: 2,
    redirect: 3,
    status: 4,
    other: 5,
    allowedMethods: methods,
    statusForcelist: [500, 502],
    backoffFactor: 100,
    backoffMax: 1000,
    backoffJitter: 50,
    raiseOnRedirect: false,
    raiseOnStatus: false,
    respectRetryAfterHeader: false,
    retryAfterMax: 5000,
    removeHeadersOnRedirect: ["X-Secret", "Cookie"],
  });
  assert.deepEqual(
    [r.total, r.connect, r.read, r.redirect, r.status, r.other],
    [null, 1, 2, 3, 4, 5],
  );
  assert.deepEqual([...r.allowedMethods!], ["GET", "POST"]);
  methods.push("PATCH");
  assert.equal(r.allowedMethods!.has("PATCH"), false);
  assert.deepEqual([...r.statusForcelist], [500, 502]);
  assert.deepEqual([r.backoffFactor, r.backoffMax, r.backoffJitter], [100, 1000, 50]);
  assert.deepEqual(
    [r.raiseOnRedirect, r.raiseOnStatus, r.respectRetryAfterHeader],
    [false, false, false],
  );
  assert.equal(r.retryAfterMax, 5000);
  assert.deepEqual([...r.removeHeadersOnRedirect], ["x-secret", "cookie"]);
});

test("Retry: removeHeadersOnRedirect replaces the default set", () => {
  const r = new Retry({ removeHeadersOnRedirect: ["X-Api-Key"] });
  assert.equal(r.removeHeadersOnRedirect.has("authorization"), false);
  assert.equal(r.removeHeadersOnRedirect.has("x-api-key"), true);
  assert.equal(new Retry({ removeHeadersOnRedirect: [] }).removeHeadersOnRedirect.size, 0);
});

test("Retry: allowedMethods null and [] mean every method; default excludes POST and PATCH", () => {
  assert.equal(Retry.DEFAULT.isRetryableMethod("POST"), false);
  assert.equal(Retry.DEFAULT.isRetryableMethod("PATCH"), false);
  assert.equal(Retry.DEFAULT.isRetryableMethod("get"), true);
  const anyMethod = new Retry({ allowedMethods: null });
  assert.equal(anyMethod.allowedMethods, null);
  assert.equal(anyMethod.isRetryableMethod("POST"), true);
  assert.equal(new Retry({ allowedMethods: [] }).isRetryableMethod("PATCH"), true);
  const postOnly = new Retry({ allowedMethods: new Set(["post"]) });
  assert.equal(postOnly.isRetryableMethod("POST"), true);
  assert.equal(postOnly.isRetryableMethod("GET"), false);
});

test("Retry: wrong option types throw TypeError naming the option and value", () => {
  const bad: Array<[RetryOptions, RegExp]> = [
    [{ total: "3" as unknown as number }, /total.*"3"/],
    [{ total: true as unknown as number }, /total.*true/],
    [{ connect: "1" as unknown as number }, /connect/],
    [{ read: {} as unknown as number }, /read/],
    [{ status: false as unknown as number }, /status.*false/],
    [{ other: false as unknown as number }, /other.*false/],
    [{ allowedMethods: "GET" }, /allowedMethods.*"GET"/],
    [{ allowedMethods: [1] as unknown as string[] }, /allowedMethods.*1/],
    [{ statusForcelist: ["418"] as unknown as number[] }, /statusForcelist.*"418"/],
    [{ statusForcelist: 500 as unknown as number[] }, /statusForcelist.*500/],
    [{ backoffFactor: "1" as unknown as number }, /backoffFactor/],
    [{ backoffFactor: null as unknown as number }, /backoffFactor.*null/],
    [{ retryAfterMax: null as unknown as number }, /retryAfterMax.*null/],
    [{ raiseOnStatus: 1 as unknown as boolean }, /raiseOnStatus.*1/],
    [{ raiseOnRedirect: "no" as unknown as boolean }, /raiseOnRedirect/],
    [{ respectRetryAfterHeader: null as unknown as boolean }, /respectRetryAfterHeader/],
    [{ history: {} as unknown as RequestHistory[] }, /history/],
    [{ history: [null] as unknown as RequestHistory[] }, /history\[0\]/],
    [{ removeHeadersOnRedirect: "cookie" }, /removeHeadersOnRedirect/],
  ];
  for (const [options, message] of bad) {
    assert.throws(() => new Retry(options), (e: unknown) => {
      assert.ok(e instanceof TypeError, `${JSON.stringify(options)}: ${e}`);
      assert.match((e as Error).message, message);
      return true;
    });
  }
  assert.throws(() => new Retry(3 as unknown as RetryOptions), TypeError);
});

test("Retry: out-of-range values throw RangeError", () => {
  const bad: RetryOptions[] = [
    { total: 1.5 },
    { connect: NaN },
    { read: Infinity },
    { status: 0.1 },
    { statusForcelist: [500.5] },
    { backoffFactor: -1 },
    { backoffFactor: Infinity },
    { backoffJitter: NaN },
    { backoffMax: -5 },
    { retryAfterMax: NaN },
  ];
  for (const options of bad) {
    assert.throws(() => new Retry(options), RangeError, JSON.stringify(options));
  }
  // Caps may be unlimited; negative counters are legal (already exhausted).
  assert.equal(new Retry({ backoffMax: Infinity, retryAfterMax: Infinity }).backoffMax, Infinity);
  assert.equal(new Retry({ total: -1 }).isExhausted(), true);
});

// ---------------------------------------------------------------------------
// immutability
// ---------------------------------------------------------------------------

test("Retry: instances, sets and history are frozen", () => {
  const r = new Retry({ statusForcelist: [500] }).increment(GET_READ);
  assert.ok(Object.isFrozen(r));
  assert.throws(() => {
    (r as { total: number | false | null }).total = 99;
  }, TypeError);
  assert.ok(Object.isFrozen(r.history));
  assert.ok(Object.isFrozen(r.history[0]));
  assert.throws(() => (r.history as RequestHistory[]).push(r.history[0]), TypeError);
  for (const set of [r.statusForcelist, r.allowedMethods!, r.removeHeadersOnRedirect]) {
    assert.throws(() => (set as Set<unknown>).add(1), TypeError);
    assert.throws(() => (set as Set<unknown>).delete(500), TypeError);
    assert.throws(() => (set as Set<unknown>).clear(), TypeError);
  }
  assert.throws(() => (Retry.DEFAULT_ALLOWED_METHODS as Set<string>).add("POST"), TypeError);
  assert.equal(Retry.DEFAULT_ALLOWED_METHODS.has("POST"), false);
  assert.ok(Object.isFrozen(Retry.DEFAULT));
});

test("Retry: increment returns a new Retry and leaves the original untouched", () => {
  const original = new Retry({ total: 3, read: 2 });
  const next = original.increment(GET_READ);
  assert.notEqual(next, original);
  assert.equal(original.total, 3);
  assert.equal(original.read, 2);
  assert.equal(original.history.length, 0);
  assert.equal(next.total, 2);
  assert.equal(next.read, 1);
  // the shared default is reusable
  Retry.DEFAULT.increment(GET_READ);
  assert.equal(Retry.DEFAULT.total, 3);
  assert.equal(Retry.DEFAULT.history.length, 0);
});

test("Retry: the history option is copied and frozen", () => {
  const entries: RequestHistory[] = [{
    method: "GET",
    url: "/",
    error: null,
    status: 500,
    redirectLocation: null,
  }];
  const r = new Retry({ history: entries });
  entries.push(entries[0]);
  assert.equal(r.history.length, 1);
  assert.ok(Object.isFrozen(r.history[0]));
});

// ---------------------------------------------------------------------------
// newWith and subclasses
// ---------------------------------------------------------------------------

test("Retry.newWith: changes some options and copies the rest", () => {
  const base = new Retry({
    total: 5,
    statusForcelist: [503],
    backoffFactor: 10,
    removeHeadersOnRedirect: ["x-a"],
  }).increment(GET_READ);
  const copy = base.newWith({ read: 0, connect: undefined });
  assert.equal(copy.total, 4);
  assert.equal(copy.read, 0);
  assert.equal(copy.connect, null);
  assert.deepEqual([...copy.statusForcelist], [503]);
  assert.equal(copy.backoffFactor, 10);
  assert.deepEqual([...copy.removeHeadersOnRedirect], ["x-a"]);
  assert.deepEqual(copy.history, base.history);
  assert.equal(copy.history.length, 1);
  assert.equal(base.newWith({ total: null }).total, null);
  assert.equal(base.newWith({ allowedMethods: null }).allowedMethods, null);
  assert.throws(() => base.newWith(null as unknown as RetryOptions), TypeError);
});

test("Retry.newWith and increment keep the subclass", () => {
  class MyRetry extends Retry {
    readonly label = "mine";
  }
  const r = new MyRetry({ total: 2 });
  assert.equal(r.label, "mine");
  const next = r.increment(GET_READ);
  assert.ok(next instanceof MyRetry);
  assert.ok(r.newWith({}) instanceof MyRetry);
  assert.match(String(next), /^MyRetry\(total=1,/);
});

test("Retry.toString looks like urllib3's repr", () => {
  assert.equal(
    String(new Retry({ total: 3, connect: false, redirect: 2 })),
    "Retry(total=3, connect=false, read=null, redirect=2, status=null)",
  );
});

// ---------------------------------------------------------------------------
// fromInt
// ---------------------------------------------------------------------------

test("Retry.fromInt: null/undefined give the default", () => {
  assert.equal(Retry.fromInt(undefined), Retry.DEFAULT);
  assert.equal(Retry.fromInt(null), Retry.DEFAULT);
  const mine = new Retry({ total: 7 });
  assert.equal(Retry.fromInt(null, { default: mine }), mine);
  assert.equal(Retry.fromInt(undefined, { default: 4 }).total, 4);
  assert.equal(Retry.fromInt(undefined, { default: false }).total, false);
  assert.equal(Retry.fromInt(undefined, { default: null }), Retry.DEFAULT);
});

test("Retry.fromInt: a Retry is returned as is, whatever redirect says", () => {
  const mine = new Retry({ total: 7, redirect: 2 });
  assert.equal(Retry.fromInt(mine), mine);
  assert.equal(Retry.fromInt(mine, { redirect: false }), mine);
});

test("Retry.fromInt: a number becomes total, shared by redirects", () => {
  const r = Retry.fromInt(3);
  assert.equal(r.total, 3);
  assert.equal(r.redirect, null);
  assert.equal(r.raiseOnRedirect, true);
  // 3 redirects pass, the 4th throws (urllib3 row 62)
  const after = times(r, 3, GET_REDIRECT);
  const e = maxRetry(() => after.increment(GET_REDIRECT));
  assert.ok(e.reason instanceof ResponseError);
  assert.equal(e.reason.message, "too many redirects");
});

test("Retry.fromInt: false disables retries and redirects; true counts as 1", () => {
  const off = Retry.fromInt(false);
  assert.equal(off.total, false);
  assert.equal(off.redirect, 0);
  assert.equal(off.raiseOnRedirect, false);
  assert.equal(off.redirectsDisabled, true);
  const on = Retry.fromInt(true);
  assert.equal(on.total, 1);
  on.increment(GET_READ);
  assert.ok(maxRetry(() => on.increment(GET_READ).increment(GET_READ)).reason);
});

test("Retry.fromInt: the redirect option switches redirects off for numbers", () => {
  for (const redirect of [false, 0, null]) {
    const r = Retry.fromInt(5, { redirect });
    assert.equal(r.total, 5);
    assert.equal(r.redirect, 0, String(redirect));
    assert.equal(r.raiseOnRedirect, false);
    assert.equal(r.redirectsDisabled, true);
  }
  for (const redirect of [true, 3, undefined]) {
    const r = Retry.fromInt(5, { redirect });
    assert.equal(r.redirect, null, String(redirect));
    assert.equal(r.redirectsDisabled, false);
  }
});

test("Retry.fromInt: other types throw TypeError", () => {
  assert.throws(() => Retry.fromInt("3" as unknown as number), /retries.*"3"/);
  assert.throws(() => Retry.fromInt({} as unknown as number), TypeError);
  assert.throws(() => Retry.fromInt(1.5), RangeError);
});

// ---------------------------------------------------------------------------
// exhaustion
// ---------------------------------------------------------------------------

test("isExhausted: ignores null, false and 0; exhausted when the smallest is negative", () => {
  assert.equal(new Retry().isExhausted(), false);
  assert.equal(new Retry({ total: 0 }).isExhausted(), false);
  assert.equal(new Retry({ total: false }).isExhausted(), false);
  assert.equal(new Retry({ total: null }).isExhausted(), false);
  assert.equal(new Retry({ total: -1 }).isExhausted(), true);
  assert.equal(new Retry({ total: 5, connect: -1 }).isExhausted(), true);
  assert.equal(new Retry({ total: 5, connect: 0, read: false }).isExhausted(), false);
  assert.equal(new Retry({ total: null, status: -2 }).isExhausted(), true);
  assert.equal(new Retry({ total: null, other: -1, read: 3 }).isExhausted(), true);
});

test("Retry({ total: 0 }) allows the first attempt and fails on the first retry", () => {
  const r = new Retry({ total: 0 });
  assert.equal(r.isExhausted(), false);
  const error = connectError();
  const e = maxRetry(() => r.increment({ method: "GET", url: "/x", error, pool }));
  assert.equal(e.reason, error);
  assert.equal(e.url, "/x");
  assert.equal(e.pool, pool);
  assert.match(e.message, /^HTTPConnectionPool\(host='127.0.0.1', port=8080\): Max retries/);
});

test("total counts every kind of retry", () => {
  let r = new Retry({ total: 4, statusForcelist: [500] });
  r = r.increment({ method: "GET", url: "/", error: connectError() });
  r = r.increment(GET_READ);
  r = r.increment({ method: "GET", url: "/", error: otherError() });
  r = r.increment({ method: "GET", url: "/", response: response(500) });
  assert.equal(r.total, 0);
  maxRetry(() => r.increment(GET_REDIRECT));
});

test("the most restrictive counter wins", () => {
  const r = new Retry({ total: 10, connect: 1 });
  const once = r.increment({ method: "GET", url: "/", error: connectError() });
  assert.deepEqual([once.total, once.connect], [9, 0]);
  maxRetry(() => once.increment({ method: "GET", url: "/", error: connectError() }));
  // a read error does not use up connect
  assert.equal(once.increment(GET_READ).total, 8);

  const redirects = new Retry({ total: 2, redirect: 10 });
  maxRetry(() => times(redirects, 3, GET_REDIRECT));
});

test("total null: only the specific counters limit", () => {
  let r = new Retry({ total: null, read: 2 });
  r = times(r, 2, GET_READ);
  assert.equal(r.total, null);
  assert.equal(r.read, 0);
  maxRetry(() => r.increment(GET_READ));
  // with no counter at all, never exhausted
  const free = times(new Retry({ total: null }), 50, GET_READ);
  assert.equal(free.history.length, 50);
});

// ---------------------------------------------------------------------------
// 0 versus false, counter by counter
// ---------------------------------------------------------------------------

test("total: 0 wraps the error in MaxRetryError, false rethrows it unwrapped", () => {
  for (const error of [connectError(), readError(), otherError()]) {
    const zero = maxRetry(() => new Retry({ total: 0 }).increment({ method: "GET", error }));
    assert.equal(zero.reason, error);
    const thrown = catchError(() =>
      new Retry({ total: false }).increment({ method: "GET", error })
    );
    assert.equal(thrown, error);
  }
});

test("total: false with a response counts as 0 (urllib3's False - 1)", () => {
  const off = new Retry({ total: false, statusForcelist: [500] });
  const e = maxRetry(() => off.increment({ method: "GET", url: "/", response: response(500) }));
  assert.equal((e.reason as Error).message, "too many 500 error responses");
  // a redirect: MaxRetryError, and raiseOnRedirect is false so the caller returns the 3xx
  assert.equal(off.raiseOnRedirect, false);
  maxRetry(() => off.increment(GET_REDIRECT));
});

test("connect: 0 wraps, false rethrows the connect error", () => {
  const error = connectError();
  const zero = maxRetry(() => new Retry({ connect: 0 }).increment({ method: "GET", error }));
  assert.equal(zero.reason, error);
  assert.equal(catchError(() => new Retry({ connect: false }).increment({ error })), error);
  // false only concerns connect errors
  const r = new Retry({ connect: false }).increment(GET_READ);
  assert.equal(r.connect, false);
});

test("read: 0 wraps, false rethrows the read error", () => {
  const error = readError();
  const zero = maxRetry(() => new Retry({ read: 0 }).increment({ method: "GET", error }));
  assert.equal(zero.reason, error);
  assert.equal(
    catchError(() => new Retry({ read: false }).increment({ method: "GET", error })),
    error,
  );
  const r = new Retry({ read: false }).increment({ method: "GET", error: connectError() });
  assert.equal(r.read, false);
});

test("redirect: 0 throws MaxRetryError('too many redirects'); false returns the 3xx", () => {
  const zero = new Retry({ redirect: 0 });
  assert.equal(zero.raiseOnRedirect, true);
  assert.equal(zero.redirectsDisabled, false);
  const e = maxRetry(() => zero.increment(GET_REDIRECT));
  assert.ok(e.reason instanceof ResponseError);
  assert.equal(e.reason.message, "too many redirects");

  const off = new Retry({ redirect: false });
  assert.equal(off.redirect, 0);
  assert.equal(off.raiseOnRedirect, false); // implied, even if asked otherwise
  assert.equal(new Retry({ redirect: false, raiseOnRedirect: true }).raiseOnRedirect, false);
  assert.equal(off.redirectsDisabled, true);
  maxRetry(() => off.increment(GET_REDIRECT)); // caller sees raiseOnRedirect false: returns 3xx
});

test("status: 0 throws MaxRetryError('too many 500 error responses')", () => {
  const r = new Retry({ status: 0, statusForcelist: [500] });
  const e = maxRetry(() => r.increment({ method: "GET", url: "/s", response: response(500) }));
  assert.ok(e.reason instanceof ResponseError);
  assert.equal(e.reason.message, "too many 500 error responses");
  assert.equal(e.url, "/s");
});

test("other: 0 throws MaxRetryError with the error as reason", () => {
  const error = otherError();
  const e = maxRetry(() => new Retry({ other: 0 }).increment({ method: "POST", error }));
  assert.equal(e.reason, error);
  const r = new Retry({ other: 1 }).increment({ method: "POST", error });
  assert.deepEqual([r.total, r.other], [9, 0]);
});

test("redirectsDisabled: redirect false, total false, or no redirect left without raising", () => {
  assert.equal(new Retry({ total: false }).redirectsDisabled, true);
  assert.equal(new Retry({ redirect: false }).redirectsDisabled, true);
  assert.equal(new Retry({ redirect: 0, raiseOnRedirect: false }).redirectsDisabled, true);
  assert.equal(new Retry({ redirect: 0 }).redirectsDisabled, false);
  assert.equal(new Retry({ redirect: 1, raiseOnRedirect: false }).redirectsDisabled, false);
  const used = new Retry({ redirect: 1, raiseOnRedirect: false }).increment(GET_REDIRECT);
  assert.equal(used.redirectsDisabled, true);
});

// ---------------------------------------------------------------------------
// error classes and methods
// ---------------------------------------------------------------------------

test("isConnectError / isReadError classify like urllib3", () => {
  assert.equal(isConnectError(new ConnectTimeoutError("slow")), true);
  assert.equal(isConnectError(new NewConnectionError("refused")), true);
  assert.equal(isConnectError(new NameResolutionError("nxdomain")), true);
  assert.equal(isConnectError(new ProxyError("proxy", new NewConnectionError("x"))), true);
  assert.equal(isConnectError(new ProxyError("proxy", new SSLError("x"))), false);
  assert.equal(isConnectError(new ProxyError("proxy")), false);
  assert.equal(isConnectError(readError()), false);
  assert.equal(isConnectError(new Error("x")), false);

  assert.equal(isReadError(readError()), true);
  assert.equal(isReadError(new ProtocolError("Connection aborted.")), true);
  assert.equal(isReadError(new IncompleteRead(1, 2)), true);
  assert.equal(isReadError(new ConnectTimeoutError("slow")), false);
  assert.equal(isReadError(otherError()), false);
  assert.equal(isReadError(new TypeError("x")), false);
});

test("connect errors are retried for any method, POST included", () => {
  const r = Retry.DEFAULT.increment({ method: "POST", url: "/", error: connectError() });
  assert.equal(r.total, 2);
  const proxied = new ProxyError("Unable to connect to proxy", connectError());
  const p = new Retry({ connect: 1 }).increment({ method: "PATCH", error: proxied });
  assert.equal(p.connect, 0);
});

test("read errors rethrow unwrapped for a method not allowed or not given", () => {
  for (const error of [readError(), new ProtocolError("Connection aborted.")]) {
    assert.equal(catchError(() => Retry.DEFAULT.increment({ method: "POST", error })), error);
    assert.equal(catchError(() => Retry.DEFAULT.increment({ error })), error);
  }
  const any = new Retry({ allowedMethods: null, read: 1 });
  assert.equal(any.increment({ method: "POST", error: readError() }).read, 0);
  const empty = new Retry({ allowedMethods: [] });
  assert.equal(empty.increment({ method: "PATCH", error: readError() }).total, 9);
});

test("other errors use other and total, not connect or read", () => {
  const r = new Retry({ connect: 1, read: 1, other: 2 })
    .increment({ method: "POST", url: "/", error: otherError() });
  assert.deepEqual([r.total, r.connect, r.read, r.other], [9, 1, 1, 1]);
  // a plain Error is an "other" error as well
  assert.equal(new Retry({ other: 1 }).increment({ error: new Error("x") }).other, 0);
});

test("increment: a non-Error error is a TypeError", () => {
  assert.throws(
    () => Retry.DEFAULT.increment({ error: "boom" as unknown as Error }),
    /error must be an Error.*"boom"/,
  );
  assert.throws(() => Retry.DEFAULT.increment(null as unknown as undefined), TypeError);
});

test("increment without response or error: 'too many error responses'", () => {
  const e = maxRetry(() => new Retry({ total: 0 }).increment({ method: "GET", url: "/" }));
  assert.equal((e.reason as Error).message, "too many error responses");
  assert.equal(e.url, "/");
  const anonymous = maxRetry(() => new Retry({ total: 0 }).increment());
  assert.equal(anonymous.url, "");
  assert.equal(anonymous.pool, null);
});

test("a redirect status without Location counts as a status retry", () => {
  const r = new Retry({ status: 1, redirect: 1 })
    .increment({ method: "GET", response: response(302) });
  assert.deepEqual([r.status, r.redirect], [0, 1]);
  assert.equal(r.history[0].redirectLocation, null);
  assert.equal(r.history[0].status, 302);
});

// ---------------------------------------------------------------------------
// isRetry, statusForcelist, Retry-After auto-retry, raiseOnStatus
// ---------------------------------------------------------------------------

test("isRetry: statusForcelist for allowed methods only", () => {
  const r = new Retry({ statusForcelist: [500, 502] });
  assert.equal(r.isRetry("GET", 500), true);
  assert.equal(r.isRetry("get", 502), true);
  assert.equal(r.isRetry("GET", 503), false);
  assert.equal(r.isRetry("POST", 500), false);
  assert.equal(
    new Retry({ statusForcelist: [500], allowedMethods: null }).isRetry("POST", 500),
    true,
  );
  assert.equal(Retry.DEFAULT.isRetry("GET", 500), false);
  // forcelist works even with total false or null
  assert.equal(new Retry({ total: false, statusForcelist: [500] }).isRetry("GET", 500), true);
});

test("isRetry: 413/429/503 with Retry-After retry without a forcelist", () => {
  for (const status of [413, 429, 503]) {
    assert.equal(Retry.DEFAULT.isRetry("GET", status, true), true, String(status));
    assert.equal(Retry.DEFAULT.isRetry("GET", status, false), false);
    assert.equal(Retry.DEFAULT.isRetry("GET", status), false);
  }
  assert.equal(Retry.DEFAULT.isRetry("GET", 500, true), false);
  assert.equal(Retry.DEFAULT.isRetry("POST", 503, true), false);
  assert.equal(new Retry({ respectRetryAfterHeader: false }).isRetry("GET", 503, true), false);
  // needs a truthy total
  assert.equal(new Retry({ total: 0 }).isRetry("GET", 503, true), false);
  assert.equal(new Retry({ total: null }).isRetry("GET", 503, true), false);
  assert.equal(new Retry({ total: false }).isRetry("GET", 503, true), false);
});

test("statusForcelist: status limits the retries and the history records them", () => {
  let r = new Retry({ total: 10, status: 2, statusForcelist: [503] });
  r = times(r, 2, { method: "GET", url: "/", response: response(503) });
  assert.deepEqual([r.total, r.status], [8, 0]);
  assert.deepEqual(r.history.map((h) => h.status), [503, 503]);
  const e = maxRetry(() => r.increment({ method: "GET", url: "/", response: response(503) }));
  assert.equal((e.reason as Error).message, "too many 503 error responses");
});

test("raiseOnStatus false: increment still throws; the flag tells the caller to return", () => {
  const r = new Retry({ status: 0, statusForcelist: [500], raiseOnStatus: false });
  assert.equal(r.raiseOnStatus, false);
  maxRetry(() => r.increment({ method: "GET", response: response(500) }));
  assert.equal(new Retry().raiseOnStatus, true);
});

test("raiseOnRedirect false: increment still throws; the flag tells the caller to return", () => {
  const r = new Retry({ redirect: 1, raiseOnRedirect: false });
  const once = r.increment(GET_REDIRECT);
  assert.equal(once.raiseOnRedirect, false);
  maxRetry(() => once.increment(GET_REDIRECT));
});

// ---------------------------------------------------------------------------
// history
// ---------------------------------------------------------------------------

test("history: one entry per increment, in order, with every field", () => {
  const e1 = connectError();
  const e2 = readError();
  let r = new Retry({ statusForcelist: [500] });
  r = r.increment({ method: "GET", url: "/1", error: e1 });
  r = r.increment({ method: "GET", url: "/2", error: e2 });
  r = r.increment({ method: "GET", url: "/3", response: response(500) });
  r = r.increment({ method: "GET", url: "/4", response: response(301, { location: "/5" }) });
  r = r.increment({ method: "POST", url: "/6", error: otherError() });
  assert.equal(r.history.length, 5);
  assert.deepEqual(r.history.slice(0, 4), [
    { method: "GET", url: "/1", error: e1, status: null, redirectLocation: null },
    { method: "GET", url: "/2", error: e2, status: null, redirectLocation: null },
    { method: "GET", url: "/3", error: null, status: 500, redirectLocation: null },
    { method: "GET", url: "/4", error: null, status: 301, redirectLocation: "/5" },
  ]);
  assert.equal(r.history[4].method, "POST");
  assert.ok(r.history[4].error instanceof SSLError);
  const bare = new Retry().increment({});
  assert.deepEqual(bare.history, [
    { method: null, url: null, error: null, status: null, redirectLocation: null },
  ]);
});

test("history: redirects decrement redirect and total, status is kept", () => {
  const r = new Retry({ total: 5, redirect: 3 }).increment({
    method: "POST",
    url: "http://a/x",
    response: response(307, { location: "http://b/y" }),
  });
  assert.deepEqual([r.total, r.redirect], [4, 2]);
  assert.equal(r.history[0].redirectLocation, "http://b/y");
  assert.equal(r.history[0].status, 307);
});

// ---------------------------------------------------------------------------
// backoff
// ---------------------------------------------------------------------------

test("getBackoffTime: 0 for the first retry, then factor * 2 ** (n - 1)", () => {
  let r = new Retry({ total: null, backoffFactor: 100 });
  assert.equal(r.getBackoffTime(), 0);
  const expected = [0, 200, 400, 800, 1600, 3200];
  for (const value of expected) {
    r = r.increment(GET_READ);
    assert.equal(r.getBackoffTime(), value);
  }
});

test("getBackoffTime: capped at backoffMax (default 120 s)", () => {
  const r = times(new Retry({ total: null, backoffFactor: 1000 }), 10, GET_READ);
  assert.equal(r.getBackoffTime(), 120_000); // 1000 * 2 ** 9 = 512 000
  const capped = times(
    new Retry({ total: null, backoffFactor: 100, backoffMax: 300 }),
    4,
    GET_READ,
  );
  assert.equal(capped.getBackoffTime(), 300);
  assert.equal(times(new Retry({ backoffFactor: 0 }), 5, GET_READ).getBackoffTime(), 0);
});

test("getBackoffTime: only consecutive non-redirect entries count", () => {
  let r = new Retry({ total: null, backoffFactor: 100 });
  r = times(r, 3, GET_READ);
  assert.equal(r.getBackoffTime(), 400);
  r = r.increment(GET_REDIRECT);
  assert.equal(r.getBackoffTime(), 0); // a redirect resets
  r = r.increment(GET_READ);
  assert.equal(r.getBackoffTime(), 0); // one error after the redirect: first retry
  r = r.increment(GET_READ);
  assert.equal(r.getBackoffTime(), 200);
  r = r.increment({ method: "GET", url: "/", response: response(500) });
  assert.equal(r.getBackoffTime(), 400); // status entries count like errors
});

test("getBackoffTime: jitter adds uniform [0, jitter], not on the first retry", () => {
  const one = new Retry({ backoffFactor: 100, backoffJitter: 50 }).increment(GET_READ);
  assert.equal(withRandom(0.99, () => one.getBackoffTime()), 0);
  const two = one.increment(GET_READ);
  assert.equal(withRandom(0, () => two.getBackoffTime()), 200);
  assert.equal(withRandom(0.5, () => two.getBackoffTime()), 225);
  assert.equal(withRandom(0.999, () => two.getBackoffTime()), 200 + 0.999 * 50);
  for (let i = 0; i < 50; i++) {
    const value = two.getBackoffTime();
    assert.ok(value >= 200 && value <= 250, String(value));
  }
  // jitter alone (factor 0) still applies from the second retry on
  const jitterOnly = times(new Retry({ backoffJitter: 40 }), 2, GET_READ);
  assert.equal(withRandom(0.25, () => jitterOnly.getBackoffTime()), 10);
  // the cap applies after the jitter
  const capped = times(
    new Retry({ backoffFactor: 100, backoffJitter: 1000, backoffMax: 250 }),
    2,
    GET_READ,
  );
  assert.equal(withRandom(0.9, () => capped.getBackoffTime()), 250);
});

// ---------------------------------------------------------------------------
// Retry-After
// ---------------------------------------------------------------------------

const NOW = Date.UTC(2015, 9, 21, 7, 28, 0); // Wed, 21 Oct 2015 07:28:00 GMT

test("parseRetryAfter: whole seconds, whitespace allowed, in milliseconds", () => {
  const r = Retry.DEFAULT;
  assert.equal(r.parseRetryAfter("0"), 0);
  assert.equal(r.parseRetryAfter("120"), 120_000);
  assert.equal(r.parseRetryAfter("  5\t"), 5000);
  assert.equal(r.parseRetryAfter("007"), 7000);
});

test("parseRetryAfter: -1, +1, 1.0, empty and junk are InvalidHeader", () => {
  for (const value of ["-1", "+1", "1.0", "1e3", "", "   ", "soon", "5 s", "0x10", "Wed"]) {
    assert.throws(() => Retry.DEFAULT.parseRetryAfter(value, NOW), (e: unknown) => {
      assert.ok(e instanceof InvalidHeader, `${JSON.stringify(value)}: ${e}`);
      assert.ok((e as Error).message.includes(JSON.stringify(value)));
      return true;
    });
  }
  assert.throws(() => Retry.DEFAULT.parseRetryAfter(5 as unknown as string), TypeError);
});

test("parseRetryAfter: every RFC 7231 date form", () => {
  const r = Retry.DEFAULT;
  assert.equal(r.parseRetryAfter("Wed, 21 Oct 2015 07:28:30 GMT", NOW), 30_000);
  assert.equal(r.parseRetryAfter("Wednesday, 21-Oct-15 07:28:30 GMT", NOW), 30_000);
  assert.equal(r.parseRetryAfter("Wed Oct 21 07:28:30 2015", NOW), 30_000);
  assert.equal(r.parseRetryAfter("Wed Oct  21 07:29:00 2015", NOW), 60_000);
});

test("parseRetryAfter: lenient forms and zones, like Python's parsedate_tz", () => {
  const r = Retry.DEFAULT;
  assert.equal(r.parseRetryAfter("21 Oct 2015 07:28:30 GMT", NOW), 30_000); // no weekday
  assert.equal(r.parseRetryAfter("Wed, 21 Oct 2015 07:28:30", NOW), 30_000); // no zone: UTC
  assert.equal(r.parseRetryAfter("Wed, 21 Oct 2015 07:28:30 UTC", NOW), 30_000);
  assert.equal(r.parseRetryAfter("Wed, 21 Oct 2015 08:28:30 +0100", NOW), 30_000);
  assert.equal(r.parseRetryAfter("Wed, 21 Oct 2015 03:28:30 EDT", NOW), 30_000);
  assert.equal(r.parseRetryAfter("Wed, 21 Oct 2015 02:28:30 -0500", NOW), 30_000);
  assert.equal(r.parseRetryAfter("Wed, 21 Oct 2015 07:29", NOW), 60_000); // no seconds
  assert.equal(r.parseRetryAfter("wed, 21 october 2015 07:28:30 gmt", NOW), 30_000);
  assert.equal(r.parseRetryAfter("Wed,21 Oct 2015 07:28:30 GMT", NOW), 30_000);
  assert.equal(r.parseRetryAfter("Wed, 21 Oct 2015 07:28:30+0000", NOW), 30_000);
});

test("parseRetryAfter: a past date gives 0, a far one is capped at retryAfterMax", () => {
  const r = Retry.DEFAULT;
  assert.equal(r.parseRetryAfter("Wed, 21 Oct 2015 07:27:00 GMT", NOW), 0);
  assert.equal(r.parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT"), 0);
  assert.equal(r.parseRetryAfter("Fri, 01 Jan 2100 00:00:00 GMT", NOW), 21_600_000);
  assert.equal(r.parseRetryAfter("999999999999"), 21_600_000);
  const small = new Retry({ retryAfterMax: 10_000 });
  assert.equal(small.parseRetryAfter("11"), 10_000);
  assert.equal(small.parseRetryAfter("9"), 9000);
  assert.equal(new Retry({ retryAfterMax: Infinity }).parseRetryAfter("86400"), 86_400_000);
});

test("parseRetryAfter: impossible dates are InvalidHeader", () => {
  for (
    const value of [
      "Wed, 32 Oct 2015 07:28:30 GMT",
      "Sun, 29 Feb 2015 07:28:30 GMT",
      "Wed, 21 Foo 2015 07:28:30 GMT",
      "Wed, 21 Oct 2015 25:28:30 GMT",
      "Wed, 21 Oct 2015 07:61:30 GMT",
      "Wed, 21 Oct 2015 07:28:30:01 GMT",
      "Wed, 21 Oct 2015 7h28 GMT",
    ]
  ) {
    assert.throws(() => Retry.DEFAULT.parseRetryAfter(value, NOW), InvalidHeader, value);
  }
  // 29 February exists in leap years
  const leap = Date.UTC(2016, 1, 29, 0, 0, 0);
  assert.equal(Retry.DEFAULT.parseRetryAfter("Mon, 29 Feb 2016 00:00:10 GMT", leap), 10_000);
});

test("parseRetryAfter: two-digit years follow Python (69-99 → 19xx, 00-68 → 20xx)", () => {
  const r = new Retry({ retryAfterMax: Infinity });
  const at = Date.UTC(1969, 0, 1);
  assert.equal(r.parseRetryAfter("Wednesday, 01-Jan-69 00:00:01 GMT", at), 1000);
  const at2 = Date.UTC(2068, 0, 1);
  assert.equal(r.parseRetryAfter("Sunday, 01-Jan-68 00:00:01 GMT", at2), 1000);
});

test("getRetryAfter: null without the header, milliseconds with it", () => {
  assert.equal(Retry.DEFAULT.getRetryAfter(response(503)), null);
  assert.equal(Retry.DEFAULT.getRetryAfter(response(503, { "retry-after": "4" })), 4000);
  assert.equal(
    Retry.DEFAULT.getRetryAfter(
      response(503, { "retry-after": "Wed, 21 Oct 2015 07:28:05 GMT" }),
      NOW,
    ),
    5000,
  );
  assert.throws(
    () => Retry.DEFAULT.getRetryAfter(response(503, { "retry-after": "later" })),
    InvalidHeader,
  );
  // a headers object returning undefined works too
  const plain: RetryResponse = {
    status: 429,
    headers: { get: () => undefined },
    getRedirectLocation: () => false,
  };
  assert.equal(Retry.DEFAULT.getRetryAfter(plain), null);
});

test("sleepTime: Retry-After when respected and positive, else the backoff", () => {
  const r = times(new Retry({ total: null, backoffFactor: 100 }), 3, GET_READ); // backoff 400
  assert.equal(r.sleepTime(), 400);
  assert.equal(r.sleepTime(response(503)), 400);
  assert.equal(r.sleepTime(response(503, { "retry-after": "2" })), 2000);
  assert.equal(r.sleepTime(response(429, { "retry-after": "1" })), 1000);
  assert.equal(r.sleepTime(response(503, { "retry-after": "0" })), 400); // 0 falls back
  assert.equal(
    r.sleepTime(response(503, { "retry-after": "Wed, 21 Oct 2015 07:27:00 GMT" }), NOW),
    400,
  );
  // as urllib3's sleep(): any status that carries the header (the caller chooses)
  assert.equal(r.sleepTime(response(500, { "retry-after": "3" })), 3000);
  const ignoring = r.newWith({ respectRetryAfterHeader: false });
  assert.equal(ignoring.sleepTime(response(503, { "retry-after": "2" })), 400);
  assert.throws(() => r.sleepTime(response(503, { "retry-after": "x" })), InvalidHeader);
  assert.equal(Retry.DEFAULT.sleepTime(), 0);
});
