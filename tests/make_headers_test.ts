import { assert, test } from "./_harness.ts";
import {
  ACCEPT_ENCODING,
  makeHeaders,
  type MakeHeadersOptions,
  SKIP_HEADER,
} from "../src/make_headers.ts";

test("SKIP_HEADER: the same text as urllib3's", () => {
  assert.equal(SKIP_HEADER, "@@@SKIP_HEADER@@@");
});

test("makeHeaders: urllib3's cases, lower-case keys", () => {
  const cases: Array<[MakeHeadersOptions, Record<string, string>]> = [
    [{ acceptEncoding: true }, { "accept-encoding": "gzip,deflate,br" }],
    [{ acceptEncoding: "foo,bar" }, { "accept-encoding": "foo,bar" }],
    [{ acceptEncoding: ["foo", "bar"] }, { "accept-encoding": "foo,bar" }],
    [
      { acceptEncoding: true, userAgent: "banana" },
      { "accept-encoding": "gzip,deflate,br", "user-agent": "banana" },
    ],
    [{ userAgent: "banana" }, { "user-agent": "banana" }],
    [{ keepAlive: true }, { connection: "keep-alive" }],
    [{ basicAuth: "foo:bar" }, { authorization: "Basic Zm9vOmJhcg==" }],
    [{ proxyBasicAuth: "foo:bar" }, { "proxy-authorization": "Basic Zm9vOmJhcg==" }],
    [{ disableCache: true }, { "cache-control": "no-cache" }],
  ];
  for (const [options, want] of cases) {
    assert.deepEqual(makeHeaders(options), want, JSON.stringify(options));
  }
  assert.equal(ACCEPT_ENCODING, "gzip,deflate,br");
});

test("makeHeaders: everything at once, in urllib3's order", () => {
  const headers = makeHeaders({
    disableCache: true,
    proxyBasicAuth: "p:q",
    basicAuth: "u:v",
    keepAlive: true,
    userAgent: "ua",
    acceptEncoding: ["br"],
  });
  assert.deepEqual(Object.keys(headers), [
    "accept-encoding",
    "user-agent",
    "connection",
    "authorization",
    "proxy-authorization",
    "cache-control",
  ]);
  assert.equal(headers["authorization"], `Basic ${btoa("u:v")}`);
  assert.equal(headers["proxy-authorization"], `Basic ${btoa("p:q")}`);
});

test("makeHeaders: false, empty and missing options add nothing", () => {
  assert.deepEqual(makeHeaders(), {});
  assert.deepEqual(makeHeaders({}), {});
  assert.deepEqual(
    makeHeaders({
      keepAlive: false,
      acceptEncoding: false,
      userAgent: "",
      basicAuth: "",
      proxyBasicAuth: "",
      disableCache: false,
    }),
    {},
  );
  assert.deepEqual(makeHeaders({ acceptEncoding: "" }), {});
  assert.deepEqual(makeHeaders({ acceptEncoding: [] }), {});
  assert.deepEqual(makeHeaders({ userAgent: undefined }), {});
});

test("makeHeaders: basic auth is base64 of the latin-1 bytes", () => {
  // "é" is one latin-1 byte (0xE9), not two UTF-8 bytes.
  assert.equal(
    makeHeaders({ basicAuth: "josé:pässword" }).authorization,
    "Basic am9z6Tpw5HNzd29yZA==",
  );
  assert.equal(makeHeaders({ basicAuth: "\xff:\x00" }).authorization, "Basic /zoA");
  assert.equal(makeHeaders({ basicAuth: "user" }).authorization, "Basic dXNlcg==");
});

test("makeHeaders: credentials outside latin-1 throw TypeError without showing them", () => {
  assert.throws(() => makeHeaders({ basicAuth: "user:pass€word" }), (error: unknown) => {
    assert.ok(error instanceof TypeError);
    assert.equal(
      error.message,
      "makeHeaders option basicAuth must be latin-1 text; character 9 is U+20AC",
    );
    assert.ok(!error.message.includes("pass"));
    return true;
  });
  assert.throws(() => makeHeaders({ proxyBasicAuth: "\u{1F600}:x" }), {
    name: "TypeError",
    message: "makeHeaders option proxyBasicAuth must be latin-1 text; character 0 is U+D83D",
  });
});

test("makeHeaders: unknown options and wrong types throw TypeError", () => {
  assert.throws(() => makeHeaders({ basic_auth: "u:p" } as unknown as MakeHeadersOptions), {
    name: "TypeError",
    message: 'makeHeaders has no option "basic_auth"; known options: keepAlive, acceptEncoding, ' +
      "userAgent, basicAuth, proxyBasicAuth, disableCache",
  });
  const wrong: Array<[MakeHeadersOptions, string]> = [
    [{ keepAlive: "yes" as unknown as boolean }, 'keepAlive must be a boolean: "yes"'],
    [{ userAgent: 5 as unknown as string }, "userAgent must be a string: 5"],
    [{ basicAuth: null as unknown as string }, "basicAuth must be a string: null"],
    [
      { proxyBasicAuth: ["u:p"] as unknown as string },
      "proxyBasicAuth must be a string: an array",
    ],
    [{ disableCache: 1 as unknown as boolean }, "disableCache must be a boolean: 1"],
    [
      { acceptEncoding: 1 as unknown as boolean },
      "acceptEncoding must be a boolean, string or string[]: 1",
    ],
    [
      { acceptEncoding: ["gzip", 1] as unknown as string[] },
      "acceptEncoding must be a boolean, string or string[]: an array",
    ],
  ];
  for (const [options, message] of wrong) {
    assert.throws(() => makeHeaders(options), {
      name: "TypeError",
      message: `makeHeaders option ${message}`,
    });
  }
  assert.throws(() => makeHeaders(null as unknown as MakeHeadersOptions), {
    name: "TypeError",
    message: "makeHeaders options must be an object: null",
  });
  assert.throws(() => makeHeaders("gzip" as unknown as MakeHeadersOptions), {
    name: "TypeError",
    message: 'makeHeaders options must be an object: "gzip"',
  });
});

test("makeHeaders: returns a new plain object each time", () => {
  const a = makeHeaders({ keepAlive: true });
  a["x"] = "y";
  assert.deepEqual(makeHeaders({ keepAlive: true }), { connection: "keep-alive" });
  assert.equal(Object.getPrototypeOf(a), Object.prototype);
});
