import { assert, test } from "./_harness.ts";
import { changeCount, HTTPHeaderDict } from "../src/headers.ts";

// ---------------------------------------------------------------------------------------
// Construction

test("HTTPHeaderDict: empty by default", () => {
  const h = new HTTPHeaderDict();
  assert.equal(h.size, 0);
  assert.deepEqual([...h], []);
  assert.equal(h.get("x"), undefined);
  assert.deepEqual(h.toJSON(), {});
});

test("HTTPHeaderDict: from a record, skipping undefined, arrays adding one line each", () => {
  const h = new HTTPHeaderDict({
    "Content-Type": "text/plain",
    "X-Skip": undefined,
    "Set-Cookie": ["a=1", "b=2"],
  });
  assert.deepEqual([...h], [
    ["Content-Type", "text/plain"],
    ["Set-Cookie", "a=1"],
    ["Set-Cookie", "b=2"],
  ]);
  assert.equal(h.has("x-skip"), false);
  assert.equal(h.size, 2);
});

test("HTTPHeaderDict: from pairs, a Map and a WHATWG Headers", () => {
  const pairs = new HTTPHeaderDict([["A", "1"], ["b", "2"], ["a", "3"]]);
  assert.deepEqual([...pairs], [["A", "1"], ["b", "2"], ["A", "3"]]);
  const fromMap = new HTTPHeaderDict(new Map([["X-One", "1"]]));
  assert.equal(fromMap.get("x-one"), "1");
  const web = new Headers({ "X-Web": "w" });
  web.append("Set-Cookie", "a=1");
  web.append("Set-Cookie", "b=2");
  const fromHeaders = new HTTPHeaderDict(web);
  assert.equal(fromHeaders.get("X-WEB"), "w");
  assert.deepEqual(fromHeaders.getList("set-cookie"), ["a=1", "b=2"]);
});

test("HTTPHeaderDict: from another dict is an independent copy", () => {
  const a = new HTTPHeaderDict({ X: "1" });
  const b = new HTTPHeaderDict(a);
  b.add("x", "2");
  a.set("Y", "3");
  assert.deepEqual([...a], [["X", "1"], ["Y", "3"]]);
  assert.deepEqual([...b], [["X", "1"], ["X", "2"]]);
});

test("HTTPHeaderDict: bad init and values throw TypeError naming the header", () => {
  assert.throws(
    () => new HTTPHeaderDict(5 as unknown as Record<string, string>),
    { name: "TypeError", message: "Headers must be an object or an iterable: 5" },
  );
  assert.throws(
    () => new HTTPHeaderDict([["only-name"]] as unknown as [string, string][]),
    { name: "TypeError", message: "Header entries must be [name, value] pairs: an array" },
  );
  assert.throws(
    () => new HTTPHeaderDict({ "X-Num": 5 } as unknown as Record<string, string>),
    { name: "TypeError", message: 'Header "X-Num" value must be a string: 5' },
  );
  assert.throws(
    () => new HTTPHeaderDict({ "X-Null": null } as unknown as Record<string, string>),
    { name: "TypeError", message: 'Header "X-Null" value must be a string: null' },
  );
  assert.throws(
    () => new HTTPHeaderDict({ "X-List": ["a", 1] } as unknown as Record<string, string[]>),
    { name: "TypeError", message: 'Header "X-List" value must be a string: 1' },
  );
  const h = new HTTPHeaderDict();
  assert.throws(() => h.add("X", 1 as unknown as string), {
    name: "TypeError",
    message: 'Header "X" value must be a string: 1',
  });
  assert.throws(() => h.set("X", undefined as unknown as string), {
    name: "TypeError",
    message: 'Header "X" value must be a string: undefined',
  });
  assert.throws(() => h.get(1 as unknown as string), {
    name: "TypeError",
    message: "Header name must be a string: 1",
  });
  assert.throws(() => h.add({} as unknown as string, "v"), {
    name: "TypeError",
    message: "Header name must be a string: an object",
  });
  assert.equal(h.size, 0);
});

// ---------------------------------------------------------------------------------------
// Reading

test("HTTPHeaderDict: get is case-insensitive and joins values with ', '", () => {
  const h = new HTTPHeaderDict([["Accept", "a"], ["ACCEPT", "b"], ["accept", "c"]]);
  assert.equal(h.get("accept"), "a, b, c");
  assert.equal(h.get("AcCePt"), "a, b, c");
  assert.equal(h.get("missing"), undefined);
});

test("HTTPHeaderDict: getList returns a fresh array, [] when absent", () => {
  const h = new HTTPHeaderDict([["Set-Cookie", "a=1, x"], ["set-cookie", "b=2"]]);
  const list = h.getList("SET-COOKIE");
  assert.deepEqual(list, ["a=1, x", "b=2"]);
  list.push("mutated");
  assert.deepEqual(h.getList("set-cookie"), ["a=1, x", "b=2"]);
  assert.deepEqual(h.getList("nope"), []);
});

test("HTTPHeaderDict: has is case-insensitive", () => {
  const h = new HTTPHeaderDict({ "Content-Length": "0" });
  assert.equal(h.has("content-length"), true);
  assert.equal(h.has("CONTENT-LENGTH"), true);
  assert.equal(h.has("content-type"), false);
});

test("HTTPHeaderDict: an empty value is kept and is not absent", () => {
  const h = new HTTPHeaderDict([["X-Empty", ""]]);
  assert.equal(h.get("x-empty"), "");
  assert.equal(h.has("x-empty"), true);
});

// ---------------------------------------------------------------------------------------
// Writing

test("HTTPHeaderDict: set replaces every value, keeps the position, takes the new case", () => {
  const h = new HTTPHeaderDict([["A", "1"], ["B", "2"], ["a", "3"], ["C", "4"]]);
  assert.equal(h.set("a", "new"), h);
  assert.deepEqual([...h], [["a", "new"], ["B", "2"], ["C", "4"]]);
  assert.equal(h.get("A"), "new");
  h.set("D", "5");
  assert.deepEqual([...h.keys()], ["a", "B", "C", "D"]);
});

test("HTTPHeaderDict: add keeps separate lines in the first-seen case", () => {
  const h = new HTTPHeaderDict();
  assert.equal(h.add("X-Tag", "1"), h);
  h.add("x-tag", "2");
  h.add("Other", "o");
  h.add("X-TAG", "3");
  assert.deepEqual([...h], [["X-Tag", "1"], ["X-Tag", "2"], ["Other", "o"], ["X-Tag", "3"]]);
  assert.deepEqual([...h.keys()], ["X-Tag", "Other"]);
});

test("HTTPHeaderDict: add with combine appends to the last value", () => {
  const h = new HTTPHeaderDict([["Accept", "a"], ["Accept", "b"]]);
  h.add("accept", "c", { combine: true });
  assert.deepEqual(h.getList("accept"), ["a", "b, c"]);
  h.add("Vary", "x", { combine: true });
  assert.deepEqual([...h].at(-1), ["Vary", "x"]);
  h.add("vary", "y", { combine: false });
  assert.deepEqual(h.getList("vary"), ["x", "y"]);
});

test("HTTPHeaderDict: delete removes every value and reports presence", () => {
  const h = new HTTPHeaderDict([["A", "1"], ["B", "2"], ["a", "3"]]);
  assert.equal(h.delete("A"), true);
  assert.equal(h.delete("a"), false);
  assert.equal(h.has("a"), false);
  assert.deepEqual([...h], [["B", "2"]]);
  h.add("a", "4");
  assert.deepEqual([...h], [["B", "2"], ["a", "4"]]);
});

test("HTTPHeaderDict: extend adds with add semantics, from any init and from itself", () => {
  const h = new HTTPHeaderDict({ A: "1" });
  assert.equal(h.extend({ a: "2", B: ["3", "4"] }), h);
  assert.deepEqual([...h], [["A", "1"], ["A", "2"], ["B", "3"], ["B", "4"]]);
  h.extend(new HTTPHeaderDict([["b", "5"]]));
  assert.deepEqual(h.getList("b"), ["3", "4", "5"]);
  h.extend(h);
  assert.deepEqual(h.getList("a"), ["1", "2", "1", "2"]);
  assert.equal(h.size, 2);
});

test("HTTPHeaderDict: copy shares nothing", () => {
  const h = new HTTPHeaderDict([["A", "1"], ["a", "2"]]);
  const c = h.copy();
  c.set("A", "x");
  c.add("New", "n");
  assert.deepEqual([...h], [["A", "1"], ["A", "2"]]);
  assert.deepEqual([...c], [["A", "x"], ["New", "n"]]);
  assert.ok(c instanceof HTTPHeaderDict);
});

// ---------------------------------------------------------------------------------------
// Iteration and conversion

test("HTTPHeaderDict: size counts distinct names", () => {
  const h = new HTTPHeaderDict([["A", "1"], ["a", "2"], ["B", "3"]]);
  assert.equal(h.size, 2);
  h.delete("b");
  assert.equal(h.size, 1);
});

test("HTTPHeaderDict: iteration yields one pair per value in insertion order", () => {
  const h = new HTTPHeaderDict([["Set-Cookie", "a"], ["Date", "d"], ["set-cookie", "b"]]);
  assert.deepEqual([...h], [["Set-Cookie", "a"], ["Date", "d"], ["Set-Cookie", "b"]]);
  assert.deepEqual([...h.itermerged()], [["Set-Cookie", "a, b"], ["Date", "d"]]);
  assert.deepEqual([...h.keys()], ["Set-Cookie", "Date"]);
});

test("HTTPHeaderDict: toJSON merges values, keys in first-seen case, __proto__ is safe", () => {
  const h = new HTTPHeaderDict([["X-A", "1"], ["x-a", "2"], ["__proto__", "p"]]);
  const json = h.toJSON();
  assert.equal(Object.getPrototypeOf(json), Object.prototype);
  assert.deepEqual(Object.keys(json), ["X-A", "__proto__"]);
  assert.equal(json["X-A"], "1, 2");
  assert.equal(Object.getOwnPropertyDescriptor(json, "__proto__")?.value, "p");
  assert.equal(JSON.stringify(h), '{"X-A":"1, 2","__proto__":"p"}');
});

test("HTTPHeaderDict: equals compares names case-insensitively and merged values", () => {
  const h = new HTTPHeaderDict([["A", "1"], ["a", "2"], ["B", "3"]]);
  assert.equal(h.equals({ b: "3", A: "1, 2" }), true);
  assert.equal(h.equals(new HTTPHeaderDict([["b", "3"], ["a", "1"], ["A", "2"]])), true);
  assert.equal(h.equals({ A: "1", B: "3" }), false);
  assert.equal(h.equals({ A: "1, 2", B: "3", C: "4" }), false);
  assert.equal(h.equals({ A: "1, 2", C: "3" }), false);
});

test("HTTPHeaderDict: console inspection shows the merged headers", () => {
  const h = new HTTPHeaderDict([["A", "1"], ["a", "2"]]);
  const inspectors = [Symbol.for("Deno.customInspect"), Symbol.for("nodejs.util.inspect.custom")];
  for (const symbol of inspectors) {
    const inspect = (h as unknown as Record<symbol, () => string>)[symbol];
    assert.equal(inspect.call(h), 'HTTPHeaderDict {"A":"1, 2"}');
  }
});

// ---------------------------------------------------------------------------------------
// fromRawPairs and the lazy index

test("fromRawPairs: takes the array as is and reads it lazily", () => {
  const raw = ["Content-Length", "5", "X-A", "1", "x-a", "2"];
  const h = HTTPHeaderDict.fromRawPairs(raw);
  // Nothing is done to the array before the first lookup.
  assert.deepEqual(raw, ["Content-Length", "5", "X-A", "1", "x-a", "2"]);
  assert.equal(h.get("content-length"), "5");
  assert.equal(h.get("X-a"), "1, 2");
  assert.deepEqual(h.getList("x-A"), ["1", "2"]);
  assert.deepEqual([...h], [["Content-Length", "5"], ["X-A", "1"], ["X-A", "2"]]);
  assert.equal(h.size, 2);
});

test("fromRawPairs: rejects a non-array and an odd length", () => {
  assert.throws(() => HTTPHeaderDict.fromRawPairs("a" as unknown as string[]), {
    name: "TypeError",
    message: 'fromRawPairs needs an array: "a"',
  });
  assert.throws(() => HTTPHeaderDict.fromRawPairs(["a", "1", "b"]), {
    name: "RangeError",
    message: "fromRawPairs needs an even-length array: 3 entries",
  });
  assert.equal(HTTPHeaderDict.fromRawPairs([]).size, 0);
});

test("fromRawPairs: many lookups (scan mode, then the index) agree", () => {
  const raw = ["Date", "d", "Set-Cookie", "a", "Vary", "v", "set-cookie", "b", "SET-COOKIE", "c"];
  const h = HTTPHeaderDict.fromRawPairs(raw);
  for (let round = 0; round < 20; round++) {
    assert.equal(h.get("set-cookie"), "a, b, c");
    assert.deepEqual(h.getList("Set-Cookie"), ["a", "b", "c"]);
    assert.equal(h.has("vary"), true);
    assert.equal(h.has("nope"), false);
    assert.equal(h.get("DATE"), "d");
  }
  assert.deepEqual([...h.keys()], ["Date", "Set-Cookie", "Vary"]);
});

test("fromRawPairs: a large head goes straight to the index", () => {
  const raw: string[] = [];
  for (let i = 0; i < 100; i++) raw.push(i % 2 ? `X-H${i % 10}` : `x-h${i % 10}`, String(i));
  const h = HTTPHeaderDict.fromRawPairs(raw);
  assert.equal(h.size, 10);
  assert.deepEqual(h.getList("X-H3"), ["3", "13", "23", "33", "43", "53", "63", "73", "83", "93"]);
  assert.deepEqual([...h.keys()].slice(0, 2), ["x-h0", "X-H1"]);
  // Every pair now carries the first-seen case of its name.
  assert.deepEqual([...h].filter(([name]) => name.toLowerCase() === "x-h1")[3], ["X-H1", "31"]);
});

test("HTTPHeaderDict: non-ASCII names match as toLowerCase says, in every mode", () => {
  // U+212A KELVIN SIGN lower-cases to an ASCII "k".
  const raw = ["\u212A-Key", "1", "k-key", "2"];
  const scanned = HTTPHeaderDict.fromRawPairs(raw.slice());
  assert.equal(scanned.get("K-KEY"), "1, 2");
  const indexed = HTTPHeaderDict.fromRawPairs(raw.slice());
  assert.equal(indexed.size, 1);
  assert.equal(indexed.get("K-KEY"), "1, 2");
  assert.equal(indexed.get("\u212a-key"), "1, 2");
  assert.deepEqual([...indexed], [["\u212A-Key", "1"], ["\u212A-Key", "2"]]);
  const plain = new HTTPHeaderDict([["Ü-Name", "u"], ["ü-name", "v"]]);
  assert.deepEqual([...plain], [["Ü-Name", "u"], ["Ü-Name", "v"]]);
  assert.equal(plain.get("Ü-NAME"), "u, v");
});

/** A plain reference model of the dict's semantics, for the differential test. */
class ModelDict {
  pairs: [string, string][] = [];
  #canonical(name: string): string {
    const found = this.pairs.find(([n]) => n.toLowerCase() === name.toLowerCase());
    return found ? found[0] : name;
  }
  add(name: string, value: string, combine: boolean): void {
    if (combine) {
      for (let i = this.pairs.length - 1; i >= 0; i--) {
        if (this.pairs[i][0].toLowerCase() === name.toLowerCase()) {
          this.pairs[i][1] += ", " + value;
          return;
        }
      }
    }
    this.pairs.push([this.#canonical(name), value]);
  }
  set(name: string, value: string): void {
    const at = this.pairs.findIndex(([n]) => n.toLowerCase() === name.toLowerCase());
    if (at === -1) {
      this.pairs.push([name, value]);
      return;
    }
    this.pairs = this.pairs.filter(([n], i) => i === at || n.toLowerCase() !== name.toLowerCase());
    this.pairs[at] = [name, value];
  }
  delete(name: string): boolean {
    const before = this.pairs.length;
    this.pairs = this.pairs.filter(([n]) => n.toLowerCase() !== name.toLowerCase());
    return this.pairs.length !== before;
  }
  getList(name: string): string[] {
    return this.pairs.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
  }
  keys(): string[] {
    const seen = new Set<string>();
    const out: string[] = [];
    for (const [n] of this.pairs) {
      if (!seen.has(n.toLowerCase())) {
        seen.add(n.toLowerCase());
        out.push(n);
      }
    }
    return out;
  }
}

test("HTTPHeaderDict: random operations match a reference model", () => {
  // A small deterministic PRNG, so a failure is reproducible.
  let seed = 12345;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const names = ["A", "a", "B", "b", "Set-Cookie", "set-cookie", "SET-COOKIE", "X-Long-Name"];
  for (let run = 0; run < 200; run++) {
    const initial: string[] = [];
    for (let i = random(50); i > 0; i--) initial.push(names[random(names.length)], `v${i}`);
    const model = new ModelDict();
    for (let i = 0; i < initial.length; i += 2) model.add(initial[i], initial[i + 1], false);
    const dict = HTTPHeaderDict.fromRawPairs(initial);
    for (let step = 0; step < 40; step++) {
      const name = names[random(names.length)];
      const value = `s${run}.${step}`;
      switch (random(9)) {
        case 0:
          dict.add(name, value);
          model.add(name, value, false);
          break;
        case 1:
          dict.add(name, value, { combine: true });
          model.add(name, value, true);
          break;
        case 2:
          dict.set(name, value);
          model.set(name, value);
          break;
        case 3:
          assert.equal(dict.delete(name), model.delete(name));
          break;
        case 4:
          assert.deepEqual([...dict], model.pairs);
          break;
        case 5:
          assert.deepEqual([...dict.keys()], model.keys());
          assert.equal(dict.size, model.keys().length);
          break;
        case 6:
          assert.equal(dict.has(name), model.getList(name).length > 0);
          break;
        default: {
          const list = model.getList(name);
          assert.deepEqual(dict.getList(name), list);
          assert.equal(dict.get(name), list.length ? list.join(", ") : undefined);
        }
      }
    }
    assert.deepEqual([...dict], model.pairs);
    assert.deepEqual(
      [...dict.itermerged()],
      model.keys().map((k) => [k, model.getList(k).join(", ")]),
    );
  }
});

test("changeCount: grows with set, add, extend and delete, not with reads", () => {
  const h = new HTTPHeaderDict({ A: "1" });
  let last = changeCount(h);
  const changed = () => {
    const now = changeCount(h);
    const grew = now > last;
    last = now;
    return grew;
  };
  h.get("a");
  h.getList("A");
  h.has("b");
  [...h, ...h.itermerged(), ...h.keys()];
  h.toJSON();
  h.equals({ a: "1" });
  h.copy();
  assert.equal(changed(), false, "reads");
  h.set("B", "2");
  assert.equal(changed(), true, "set");
  h.add("b", "3", { combine: true });
  assert.equal(changed(), true, "add with combine");
  h.extend([["c", "4"]]);
  assert.equal(changed(), true, "extend");
  h.delete("a");
  assert.equal(changed(), true, "delete");
  assert.equal(h.delete("absent"), false);
  assert.equal(changed(), false, "deleting an absent name changes nothing");
});
