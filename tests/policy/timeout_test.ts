import { assert, test } from "../_harness.ts";
import { Timeout, type TimeoutOptions } from "../../src/policy/timeout.ts";

function throwsWith(fn: () => unknown, kind: ErrorConstructor, ...parts: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof kind, `expected ${kind.name}, got ${e}`);
    for (const part of parts) assert.ok((e as Error).message.includes(part), (e as Error).message);
    return true;
  });
}

test("Timeout: defaults are no limits", () => {
  const t = new Timeout();
  assert.deepEqual([t.connect, t.read, t.total], [null, null, null]);
  assert.equal(t.connectTimeout, null);
  assert.equal(t.readTimeout(0), null);
  assert.equal(t.readTimeout(1e9), null);
  const explicit = new Timeout({ connect: null, read: undefined, total: null });
  assert.deepEqual([explicit.connect, explicit.read, explicit.total], [null, null, null]);
});

test("Timeout.DEFAULT has no limits and is frozen", () => {
  assert.ok(Timeout.DEFAULT instanceof Timeout);
  assert.deepEqual(
    [Timeout.DEFAULT.connect, Timeout.DEFAULT.read, Timeout.DEFAULT.total],
    [null, null, null],
  );
  assert.ok(Object.isFrozen(Timeout.DEFAULT));
});

test("Timeout: values are stored in milliseconds, fractions allowed", () => {
  const t = new Timeout({ connect: 1500, read: 0.5, total: 60_000 });
  assert.deepEqual([t.connect, t.read, t.total], [1500, 0.5, 60_000]);
});

test("Timeout: 0, negatives, NaN and Infinity are RangeErrors naming field and value", () => {
  const cases: Array<[TimeoutOptions, string, string]> = [
    [{ connect: 0 }, "connect", ": 0"],
    [{ read: -1 }, "read", ": -1"],
    [{ total: NaN }, "total", ": NaN"],
    [{ connect: Infinity }, "connect", ": Infinity"],
    [{ read: -Infinity }, "read", ": -Infinity"],
  ];
  for (const [options, field, value] of cases) {
    throwsWith(() => new Timeout(options), RangeError, `Timeout ${field} `, value);
  }
});

test("Timeout: booleans, strings and objects are TypeErrors naming field and value", () => {
  const cases: Array<[Record<string, unknown>, string, string]> = [
    [{ connect: true }, "connect", ": true"],
    [{ read: false }, "read", ": false"],
    [{ total: "5" }, "total", ': "5"'],
    [{ connect: {} }, "connect", ": an object"],
    [{ read: 5n }, "read", ": 5n"],
  ];
  for (const [options, field, value] of cases) {
    throwsWith(() => new Timeout(options as TimeoutOptions), TypeError, `Timeout ${field} `, value);
  }
  throwsWith(() => new Timeout(5 as unknown as TimeoutOptions), TypeError, "options");
  throwsWith(() => new Timeout(null as unknown as TimeoutOptions), TypeError, "options");
});

test("Timeout: instances are frozen", () => {
  const t = new Timeout({ connect: 1 });
  assert.ok(Object.isFrozen(t));
  assert.throws(() => {
    (t as { connect: number | null }).connect = 5;
  }, TypeError);
  assert.equal(t.connect, 1);
});

test("Timeout.fromFloat: connect = read = ms, total unset", () => {
  const t = Timeout.fromFloat(250);
  assert.deepEqual([t.connect, t.read, t.total], [250, 250, null]);
  const none = Timeout.fromFloat(null);
  assert.deepEqual([none.connect, none.read, none.total], [null, null, null]);
  throwsWith(() => Timeout.fromFloat(0), RangeError, "connect", ": 0");
  throwsWith(() => Timeout.fromFloat("1" as unknown as number), TypeError, "connect");
});

test("Timeout.from: request value overrides the pool value", () => {
  const pool = new Timeout({ connect: 1000, read: 2000 });
  assert.equal(Timeout.from(undefined, pool), pool);
  assert.equal(Timeout.from(undefined), Timeout.DEFAULT);
  const own = new Timeout({ total: 5 });
  assert.equal(Timeout.from(own, pool), own);
  const n = Timeout.from(300, pool);
  assert.deepEqual([n.connect, n.read, n.total], [300, 300, null]);
  const none = Timeout.from(null, pool);
  assert.deepEqual([none.connect, none.read, none.total], [null, null, null]);
});

test("Timeout.from: wrong types throw TypeError, bad numbers RangeError", () => {
  throwsWith(() => Timeout.from("100" as unknown as number), TypeError, '"100"');
  throwsWith(() => Timeout.from(true as unknown as number), TypeError, "true");
  throwsWith(() => Timeout.from({} as unknown as number), TypeError, "timeout");
  throwsWith(() => Timeout.from(-5), RangeError, ": -5");
  throwsWith(
    () => Timeout.from(undefined, { connect: 1 } as unknown as Timeout),
    TypeError,
    "fallback",
  );
});

test("connectTimeout: min(connect, total) with null as no limit", () => {
  assert.equal(new Timeout({ connect: 5000 }).connectTimeout, 5000);
  assert.equal(new Timeout({ total: 3000 }).connectTimeout, 3000);
  assert.equal(new Timeout({ connect: 5000, total: 3000 }).connectTimeout, 3000);
  assert.equal(new Timeout({ connect: 1000, total: 3000 }).connectTimeout, 1000);
  assert.equal(new Timeout({ read: 1000 }).connectTimeout, null);
});

test("readTimeout: min(read, total - elapsed)", () => {
  const both = new Timeout({ read: 1000, total: 3000 });
  assert.equal(both.readTimeout(0), 1000);
  assert.equal(both.readTimeout(1999), 1000);
  assert.equal(both.readTimeout(2000), 1000);
  assert.equal(both.readTimeout(2500), 500);
  assert.equal(both.readTimeout(2999.5), 0.5);

  const totalOnly = new Timeout({ total: 3000 });
  assert.equal(totalOnly.readTimeout(0), 3000);
  assert.equal(totalOnly.readTimeout(1200), 1800);

  const readOnly = new Timeout({ read: 700, connect: 100 });
  assert.equal(readOnly.readTimeout(0), 700);
  assert.equal(readOnly.readTimeout(1e7), 700);
});

test("readTimeout: 0, never negative, once total is used up", () => {
  const t = new Timeout({ read: 1000, total: 3000 });
  assert.equal(t.readTimeout(3000), 0);
  assert.equal(t.readTimeout(10_000), 0);
  assert.ok(Object.is(new Timeout({ total: 10 }).readTimeout(50), 0));
});

test("readTimeout: elapsed must be a finite number >= 0", () => {
  const t = new Timeout({ total: 10 });
  throwsWith(() => t.readTimeout(-1), RangeError, "elapsedMs", ": -1");
  throwsWith(() => t.readTimeout(NaN), RangeError, "elapsedMs", "NaN");
  throwsWith(() => t.readTimeout(Infinity), RangeError, "elapsedMs");
  throwsWith(() => t.readTimeout("1" as unknown as number), TypeError, "elapsedMs", '"1"');
  throwsWith(() => t.readTimeout(undefined as unknown as number), TypeError, "elapsedMs");
});

test("Timeout.toString looks like urllib3's repr", () => {
  assert.equal(
    String(new Timeout({ connect: 1, read: 2, total: 3 })),
    "Timeout(connect=1, read=2, total=3)",
  );
  assert.equal(String(Timeout.DEFAULT), "Timeout(connect=null, read=null, total=null)");
});

test("Timeout: subclasses work (not frozen by the base constructor)", () => {
  class Labeled extends Timeout {
    readonly label = "x";
  }
  const t = new Labeled({ read: 5 });
  assert.equal(t.label, "x");
  assert.equal(t.readTimeout(0), 5);
  assert.equal(Timeout.from(t), t);
});
