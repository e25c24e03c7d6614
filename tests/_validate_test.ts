import { assert, test } from "./_harness.ts";
import {
  checkBoolean,
  checkDuration,
  checkInteger,
  checkIntegers,
  checkNonNegativeInteger,
  checkObject,
  checkPort,
  checkPositiveInteger,
  checkStrings,
  describe,
  isIterable,
  readonlySet,
} from "../src/_validate.ts";

function throwsExactly(fn: () => unknown, kind: ErrorConstructor, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof kind, `expected ${kind.name}, got ${e}`);
    assert.equal((e as Error).message, message);
    return true;
  });
}

test("describe: strings quoted, bigints with n, kinds for what has no short text", () => {
  assert.equal(describe('a"b'), '"a\\"b"');
  assert.equal(describe(5), "5");
  assert.equal(describe(NaN), "NaN");
  assert.equal(describe(-Infinity), "-Infinity");
  assert.equal(describe(true), "true");
  assert.equal(describe(null), "null");
  assert.equal(describe(undefined), "undefined");
  assert.equal(describe(5n), "5n");
  assert.equal(describe(Symbol("s")), "Symbol(s)");
  assert.equal(describe(() => {}), "a function");
  assert.equal(describe([1, 2]), "an array");
  assert.equal(describe(new Uint8Array(3)), "a Uint8Array (3 bytes)");
  assert.equal(describe({}), "an object");
  assert.equal(describe(Object.create(null)), "an object");
  assert.equal(describe(new Map()), "an object (Map)");
});

test("readonlySet: reads like a Set, every change throws", () => {
  const set = readonlySet([1, 2, 2]);
  assert.equal(set.size, 2);
  assert.ok(set.has(1) && Object.isFrozen(set));
  for (const change of [() => (set as Set<number>).add(3), () => (set as Set<number>).delete(1)]) {
    throwsExactly(change, TypeError, "Cannot modify a read-only set");
  }
  assert.throws(() => (set as Set<number>).clear(), TypeError);
  assert.equal(set.size, 2);
});

test("isIterable: objects with Symbol.iterator, not strings", () => {
  assert.ok(isIterable([]) && isIterable(new Set()) && isIterable(new Map()));
  assert.ok(!isIterable("abc") && !isIterable(null) && !isIterable({}) && !isIterable(5));
});

test("checkObject and checkBoolean: the value back, or a TypeError with the value", () => {
  const object = { a: 1 };
  assert.equal(checkObject("Options", object), object);
  throwsExactly(() => checkObject("Options", null), TypeError, "Options must be an object: null");
  throwsExactly(
    () => checkObject("Options", [1]),
    TypeError,
    "Options must be an object: an array",
  );
  assert.equal(checkBoolean("flag", false), false);
  throwsExactly(() => checkBoolean("flag", 1), TypeError, "flag must be a boolean: 1");
});

test("integer checks: counters of either sign, >= 1, >= 0", () => {
  assert.equal(checkInteger("total", -3), -3);
  throwsExactly(() => checkInteger("total", "3"), TypeError, 'total must be an integer: "3"');
  throwsExactly(
    () => checkInteger("total", true, "an integer or null"),
    TypeError,
    "total must be an integer or null: true",
  );
  throwsExactly(() => checkInteger("total", 1.5), RangeError, "total must be an integer: 1.5");
  assert.equal(checkPositiveInteger("maxSize", 1), 1);
  for (const bad of [0, -1, 1.5, NaN, Infinity, "2"]) {
    assert.throws(() => checkPositiveInteger("maxSize", bad), RangeError);
  }
  throwsExactly(
    () => checkPositiveInteger("maxSize", 0),
    RangeError,
    "maxSize must be an integer >= 1: 0",
  );
  assert.equal(checkNonNegativeInteger("amt", 0), 0);
  throwsExactly(
    () => checkNonNegativeInteger("amt", -1),
    RangeError,
    "amt must be a non-negative integer: -1",
  );
});

test("checkPort: an integer from 0 to 65535", () => {
  assert.equal(checkPort("port", 0), 0);
  assert.equal(checkPort("port", 65535), 65535);
  throwsExactly(
    () => checkPort("port", 70000),
    RangeError,
    "port must be an integer from 0 to 65535: 70000",
  );
  throwsExactly(
    () => checkPort("port", 80.5),
    RangeError,
    "port must be an integer from 0 to 65535: 80.5",
  );
  throwsExactly(() => checkPort("port", "80"), TypeError, 'port must be a number: "80"');
  throwsExactly(
    () => checkPort("Url port", "80", "a number or null"),
    TypeError,
    'Url port must be a number or null: "80"',
  );
});

test("checkDuration: finite >= 0 by default; null, Infinity and > 0 where the rules say", () => {
  assert.equal(checkDuration("backoff", 0), 0);
  assert.equal(checkDuration("backoff", 1.5), 1.5);
  throwsExactly(
    () => checkDuration("backoff", -1),
    RangeError,
    "backoff must be a finite number of milliseconds >= 0: -1",
  );
  throwsExactly(
    () => checkDuration("backoff", Infinity),
    RangeError,
    "backoff must be a finite number of milliseconds >= 0: Infinity",
  );
  throwsExactly(
    () => checkDuration("backoff", null),
    TypeError,
    "backoff must be a number of milliseconds: null",
  );
  assert.equal(checkDuration("max", Infinity, { infinite: true }), Infinity);
  throwsExactly(
    () => checkDuration("max", NaN, { infinite: true }),
    RangeError,
    "max must be a number of milliseconds >= 0: NaN",
  );
  const limit = { nullable: true, positive: true } as const;
  assert.equal(checkDuration("Timeout read", null, limit), null);
  assert.equal(checkDuration("Timeout read", 0.5, limit), 0.5);
  throwsExactly(
    () => checkDuration("Timeout read", 0, limit),
    RangeError,
    "Timeout read must be a finite number of milliseconds > 0 or null: 0",
  );
  throwsExactly(
    () => checkDuration("Timeout read", "5", limit),
    TypeError,
    'Timeout read must be a number of milliseconds or null: "5"',
  );
});

test("checkStrings and checkIntegers: iterables (not a string) of the right entries", () => {
  assert.deepEqual(checkStrings("methods", new Set(["GET"]), "method names"), ["GET"]);
  throwsExactly(
    () => checkStrings("methods", "GET", "method names"),
    TypeError,
    'methods must be an iterable of method names: "GET"',
  );
  throwsExactly(
    () => checkStrings("methods", ["GET", 1], "method names"),
    TypeError,
    "methods must hold strings: 1",
  );
  assert.deepEqual(checkIntegers("statuses", [500, 503], "status codes"), [500, 503]);
  throwsExactly(
    () => checkIntegers("statuses", 500, "status codes"),
    TypeError,
    "statuses must be an iterable of status codes: 500",
  );
  throwsExactly(
    () => checkIntegers("statuses", ["500"], "status codes"),
    TypeError,
    'statuses must hold integers: "500"',
  );
  throwsExactly(
    () => checkIntegers("statuses", [500.5], "status codes"),
    RangeError,
    "statuses must hold integers: 500.5",
  );
});
