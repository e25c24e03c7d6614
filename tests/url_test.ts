import { assert, test } from "./_harness.ts";
import {
  defaultPortFor,
  encodeTarget,
  isSameOrigin,
  parseUrl,
  Url,
  type UrlInit,
} from "../src/url.ts";
import { LocationParseError, LocationValueError } from "../src/errors.ts";

/** The seven parts of a Url as a plain object, for deepEqual. */
function parts(url: Url): Required<UrlInit> {
  const { scheme, auth, host, port, path, query, fragment } = url;
  return { scheme, auth, host, port, path, query, fragment };
}

function expected(init: UrlInit): Required<UrlInit> {
  return parts(new Url(init));
}

function assertParseError(input: string, detail: string): void {
  assert.throws(() => parseUrl(input), (error: unknown) => {
    assert.ok(error instanceof LocationParseError, `not a LocationParseError: ${error}`);
    assert.ok(error instanceof LocationValueError);
    assert.equal(error.location, input);
    assert.equal(error.message, `Failed to parse: ${input} (${detail})`);
    return true;
  });
}

// ---------------------------------------------------------------------------------------
// parseUrl: the parts (cases from urllib3's test_util.py)

const PARSE_CASES: Array<[string, UrlInit]> = [
  ["http://google.com/mail", { scheme: "http", host: "google.com", path: "/mail" }],
  ["http://google.com/mail/", { scheme: "http", host: "google.com", path: "/mail/" }],
  ["google.com/mail", { host: "google.com", path: "/mail" }],
  ["http://google.com/", { scheme: "http", host: "google.com", path: "/" }],
  ["http://google.com", { scheme: "http", host: "google.com" }],
  ["http://google.com?foo", { scheme: "http", host: "google.com", path: "", query: "foo" }],
  ["", {}],
  ["/", { path: "/" }],
  ["#?/!google.com/?foo", { path: "", fragment: "?/!google.com/?foo" }],
  ["/foo", { path: "/foo" }],
  ["/foo?bar=baz", { path: "/foo", query: "bar=baz" }],
  [
    "/foo?bar=baz#banana?apple/orange",
    { path: "/foo", query: "bar=baz", fragment: "banana?apple/orange" },
  ],
  [
    "/redirect?target=http://localhost:61020/",
    { path: "/redirect", query: "target=http://localhost:61020/" },
  ],
  ["http://google.com:80/", { scheme: "http", host: "google.com", port: 80, path: "/" }],
  ["http://google.com:80", { scheme: "http", host: "google.com", port: 80 }],
  ["http://google.com:0", { scheme: "http", host: "google.com", port: 0 }],
  ["http://google.com:0000080", { scheme: "http", host: "google.com", port: 80 }],
  ["http://google.com:", { scheme: "http", host: "google.com" }],
  ["http://google.com:/", { scheme: "http", host: "google.com", path: "/" }],
  ["?", { path: "", query: "" }],
  ["#", { path: "", fragment: "" }],
  ["http://foo:bar@localhost/", { scheme: "http", auth: "foo:bar", host: "localhost", path: "/" }],
  ["http://foo@localhost/", { scheme: "http", auth: "foo", host: "localhost", path: "/" }],
  [
    "http://foo:bar@baz@localhost/",
    { scheme: "http", auth: "foo:bar%40baz", host: "localhost", path: "/" },
  ],
  ["http://@localhost/", { scheme: "http", host: "localhost", path: "/" }],
  ["173.194.35.7", { host: "173.194.35.7" }],
  ["http://173.194.35.7:80/test", {
    scheme: "http",
    host: "173.194.35.7",
    port: 80,
    path: "/test",
  }],
  // Missing scheme with a port.
  ["google.com:80", { host: "google.com", port: 80 }],
  ["example.com:80/x", { host: "example.com", port: 80, path: "/x" }],
  ["localhost:8080", { host: "localhost", port: 8080 }],
  ["localhost:8080/x?y", { host: "localhost", port: 8080, path: "/x", query: "y" }],
  // Case: scheme and host only.
  ["HTTP://GOOGLE.COM/MAIL/", { scheme: "http", host: "google.com", path: "/MAIL/" }],
  [
    "HTTP://JeremyCline:Hunter2@Example.com:8080/",
    { scheme: "http", auth: "JeremyCline:Hunter2", host: "example.com", port: 8080, path: "/" },
  ],
  [
    "HTTPS://Example.Com/?Key=Value",
    { scheme: "https", host: "example.com", path: "/", query: "Key=Value" },
  ],
  ["Https://Example.Com/#Fragment", {
    scheme: "https",
    host: "example.com",
    path: "/",
    fragment: "Fragment",
  }],
  // Other schemes are split but not normalised.
  ["abOut://eXamPlE.com?info=1", {
    scheme: "about",
    host: "eXamPlE.com",
    path: "",
    query: "info=1",
  }],
  [
    "http+UNIX://%2fvar%2frun%2fSOCKET/path",
    { scheme: "http+unix", host: "%2fvar%2frun%2fSOCKET", path: "/path" },
  ],
  ["ftp://h/a/../b c", { scheme: "ftp", host: "h", path: "/a/../b c" }],
  // urllib3's vulnerability cases.
  ["http://google.com#@evil.com/", {
    scheme: "http",
    host: "google.com",
    path: "",
    fragment: "@evil.com/",
  }],
  [
    "http://google.com/\uff2e\uff2e/abc",
    { scheme: "http", host: "google.com", path: "/%EF%BC%AE%EF%BC%AE/abc" },
  ],
  [
    "http://127.0.0.1:6379?\r\nSET test failure12\r\n:8080/test/?test=a",
    {
      scheme: "http",
      host: "127.0.0.1",
      port: 6379,
      path: "",
      query: "%0D%0ASET%20test%20failure12%0D%0A:8080/test/?test=a",
    },
  ],
  [
    "https://user:" + "@".repeat(100) + "example.com",
    { scheme: "https", auth: "user:" + "%40".repeat(99), host: "example.com" },
  ],
  // A backslash is not an authority delimiter: the last "@" still ends the userinfo.
  [
    "https://one.com\\@two.com/path",
    { scheme: "https", auth: "one.com%5C", host: "two.com", path: "/path" },
  ],
  // Numeric hosts are left as they are.
  ["http://0X7F.1/", { scheme: "http", host: "0X7F.1", path: "/" }],
  // A trailing dot is kept (a different host for pooling).
  ["http://localhost./", { scheme: "http", host: "localhost.", path: "/" }],
];

test("parseUrl: splits and normalises URLs like urllib3", () => {
  for (const [input, want] of PARSE_CASES) {
    assert.deepEqual(parts(parseUrl(input)), expected(want), `parseUrl(${JSON.stringify(input)})`);
  }
});

test("parseUrl: .url round-trips for canonical input", () => {
  const roundTrip = [
    "http://google.com/mail",
    "http://google.com/mail/",
    "http://google.com/",
    "http://google.com",
    "http://google.com?foo",
    "",
    "/",
    "/foo?bar=baz#banana?apple/orange",
    "http://google.com:80/",
    "http://foo:bar@localhost/",
    "http://[::1]:8080/x?y#z",
    "https://user@host:0/",
  ];
  for (const input of roundTrip) {
    assert.equal(parseUrl(input).url, input);
    assert.equal(String(parseUrl(input)), input);
  }
  assert.equal(parseUrl("HTTP://GOOGLE.COM/MAIL/").url, "http://google.com/MAIL/");
  assert.equal(parseUrl("http://google.com:").url, "http://google.com");
});

// ---------------------------------------------------------------------------------------
// Percent-encoding and dot segments

test("parseUrl: percent-encodes invalid characters in userinfo, path, query, fragment", () => {
  const u = parseUrl('http://us er:pä@host/pa th/ü?q=a b&c=\u{1F600}#frag ment"');
  assert.equal(u.auth, "us%20er:p%C3%A4");
  assert.equal(u.path, "/pa%20th/%C3%BC");
  assert.equal(u.query, "q=a%20b&c=%F0%9F%98%80");
  assert.equal(u.fragment, "frag%20ment%22");
});

test("parseUrl: control characters are percent-encoded outside the host", () => {
  for (let code = 0; code <= 0x20; code++) {
    const char = String.fromCharCode(code);
    const encoded = "%" + code.toString(16).toUpperCase().padStart(2, "0");
    const u = parseUrl(`http://user${char}@example.com/path${char}?query${char}#fragment${char}`);
    assert.deepEqual(
      parts(u),
      expected({
        scheme: "http",
        auth: `user${encoded}`,
        host: "example.com",
        path: `/path${encoded}`,
        query: `query${encoded}`,
        fragment: `fragment${encoded}`,
      }),
      `code ${code}`,
    );
  }
  assert.equal(parseUrl("http://h/\x7f").path, "/%7F");
});

test("parseUrl: existing escapes are kept (upper-cased), never encoded twice", () => {
  assert.equal(parseUrl("http://h/a%20b%2fc").path, "/a%20b%2Fc");
  assert.equal(parseUrl("http://h/?q=%e2%82%ac%20x").query, "q=%E2%82%AC%20x");
  // A "%" that starts no escape is encoded; the valid escapes next to it are kept.
  assert.equal(parseUrl("http://h/100%25%").path, "/100%25%25");
  assert.equal(parseUrl("http://x/%zz%20a%").path, "/%25zz%20a%25");
  assert.equal(parseUrl("http://u%40x:p%3a@h/").auth, "u%40x:p%3A");
});

test("parseUrl: characters allowed by RFC 3986 are left alone", () => {
  const path = "/-._~!$&'()*+,;=:@/";
  assert.equal(parseUrl("http://h" + path).path, path);
  assert.equal(parseUrl("http://h/?a/b?c=:@!$").query, "a/b?c=:@!$");
  assert.equal(parseUrl("http://h/#a/b?c").fragment, "a/b?c");
});

test("parseUrl: lone surrogates are encoded as their 3-byte form, pairs as UTF-8", () => {
  assert.equal(parseUrl("http://h/\ud800").path, "/%ED%A0%80");
  assert.equal(parseUrl("http://h/\ud83d\ude00").path, "/%F0%9F%98%80");
});

test("parseUrl: removes dot segments for http(s) and scheme-less URLs", () => {
  const cases: Array<[string, string]> = [
    ["/abc/../def", "/def"],
    ["/a/./b/../c/.", "/a/c/"],
    ["/a/b/..", "/a/"],
    ["/../../x", "/x"],
    ["/./", "/"],
    ["/a//b/../c", "/a//c"],
  ];
  for (const [input, path] of cases) {
    assert.equal(parseUrl(input).path, path, input);
    assert.equal(parseUrl("http://h" + input).path, path, "http://h" + input);
  }
  assert.equal(parseUrl("http://h/a/..").url, "http://h/");
  assert.equal(parseUrl("https://h/.%2e/x").path, "/.%2E/x");
});

// ---------------------------------------------------------------------------------------
// Hosts

test("parseUrl: IPv6 literals keep their brackets and are lower-cased", () => {
  const cases: Array<[string, string, number | null]> = [
    ["[2a00:1450:4001:c01::67]", "[2a00:1450:4001:c01::67]", null],
    ["http://[2a00:1450:4001:c01::67]:80/test", "[2a00:1450:4001:c01::67]", 80],
    [
      "HTTP://[FEDC:BA98:7654:3210:FEDC:BA98:7654:3210]:8000/index.html",
      "[fedc:ba98:7654:3210:fedc:ba98:7654:3210]",
      8000,
    ],
    ["http://[::192.9.5.5]/ipng", "[::192.9.5.5]", null],
    ["http://[::ffff:129.144.52.38]:42/index.html", "[::ffff:129.144.52.38]", 42],
    ["http://[::]/", "[::]", null],
  ];
  for (const [input, host, port] of cases) {
    const u = parseUrl(input);
    assert.equal(u.host, host, input);
    assert.equal(u.port, port, input);
    assert.equal(u.hostname, host.slice(1, -1), input);
  }
});

test("parseUrl: IPv6 zone ids are normalised (%25zone and %zone are the same)", () => {
  for (const input of ["http://[fe80::1%25eth0]/", "http://[FE80::1%eth0]/"]) {
    const u = parseUrl(input);
    assert.equal(u.host, "[fe80::1%eth0]", input);
    assert.equal(u.hostname, "fe80::1%eth0");
  }
  // The zone keeps its case; its escapes are upper-cased.
  assert.equal(parseUrl("http://[fe80::1%25En%2d0]:8080/").host, "[fe80::1%En%2D0]");
  assert.equal(parseUrl("http://[fe80::1%25]/").host, "[fe80::1%25]");
  assertParseError(
    "http://[fe80::1%25a%0a]/",
    'host "[fe80::1%25a%0a]" contains percent-encoded control character %0a',
  );
});

test("parseUrl: host escapes: unreserved decoded, others upper-cased, bad ones rejected", () => {
  assert.equal(parseUrl("http://a%41b%2e.com/").host, "aab..com");
  assert.equal(parseUrl("http://a%2fb.com/").host, "a%2Fb.com");
  assertParseError("http://a%zzb.com/", '"a%zzb.com" is not a valid host or port');
  assertParseError("http://a%4/", '"a%4" is not a valid host or port');
  assertParseError(
    "http://127.0.0.1%0d%0aConnection%3a%20keep-alive",
    'host "127.0.0.1%0d%0aConnection%3a%20keep-alive" contains percent-encoded control ' +
      "character %0d",
  );
});

test("parseUrl: non-ASCII host names are IDNA encoded", () => {
  assert.equal(parseUrl("http://ü.example/").host, "xn--tda.example");
  assert.equal(parseUrl("http://Bücher.EXAMPLE:81/").netloc, "xn--bcher-kva.example:81");
  assert.equal(parseUrl("http://例え.テスト/").host, "xn--r8jz45g.xn--zckzah");
  assert.equal(parseUrl("münchen.de/x").host, "xn--mnchen-3ya.de");
});

test("parseUrl: host names IDNA cannot encode faithfully are rejected", () => {
  const bad: Array<[input: string, host: string]> = [
    // An emoji with a variation selector (default-ignorable).
    ["http://\u2764\ufe0f.com", "\u2764\ufe0f.com"],
    // A zero-width space would silently vanish.
    ["http://e\u200bvil.com/", "e\u200bvil.com"],
    // Full-width letters map to plain ASCII.
    ["http://\uff45\uff58\uff41\uff4d.com", "\uff45\uff58\uff41\uff4d.com"],
    // Non-LDH ASCII next to non-ASCII (STD3 rules).
    ["http://ü!.com", "ü!.com"],
    // An escape that stays an escape cannot be part of an IDNA name.
    ["http://ü%2f.com", "ü%2F.com"],
    // An ideographic full stop would add a label.
    ["http://例\u3002jp/", "例\u3002jp"],
  ];
  for (const [input, host] of bad) {
    assertParseError(input, `name ${JSON.stringify(host)} is not a valid IDNA host`);
  }
  // An escaped unreserved character is decoded first, then encoded with the rest.
  assert.equal(parseUrl("http://ü%41.com").host, parseUrl("http://üa.com").host);
});

test("parseUrl: control characters, spaces and RFC 3986-invalid characters in a host fail", () => {
  const cases: Array<[string, string]> = [
    ["http://exa mple.com/", " "],
    ["http://exa\r\nmple.com/", "\r"],
    ["http://example.com\x00/", "\x00"],
    ["http://example.com\x7f/", "\x7f"],
    ["http://a\\b/", "\\"],
    ["http://a|b/", "|"],
    ["http://a<b/", "<"],
    ["http://a{b}/", "{"],
    ["http://a^b/", "^"],
    ["http://a`b/", "`"],
    ['http://a"b/', '"'],
    ["http://host:80\t/", "\t"],
  ];
  for (const [input, char] of cases) {
    const hostPort = input.slice("http://".length, input.lastIndexOf("/"));
    assertParseError(
      input,
      `host ${JSON.stringify(hostPort)} contains invalid character ${JSON.stringify(char)}`,
    );
  }
});

// ---------------------------------------------------------------------------------------
// Errors

test("parseUrl: bad ports fail with LocationParseError", () => {
  assertParseError("http://google.com:foo", '"google.com:foo" is not a valid host or port');
  assertParseError("http://google.com:-80", '"google.com:-80" is not a valid host or port');
  assertParseError(
    "https://www.google.com:-80/",
    '"www.google.com:-80" is not a valid host or port',
  );
  assertParseError("http://google.com:65536", "port 65536 is not in the range 0-65535");
  assertParseError("http://google.com:99999/", "port 99999 is not in the range 0-65535");
  assertParseError("http://google.com:123456", '"google.com:123456" is not a valid host or port');
  assertParseError(
    "http://google.com:\xb2\xb2",
    '"google.com:\xb2\xb2" is not a valid host or port',
  );
  assertParseError("http://google.com:1.5/", '"google.com:1.5" is not a valid host or port');
  assert.equal(parseUrl("http://google.com:65535").port, 65535);
});

test("parseUrl: bad IPv6 literals fail with LocationParseError", () => {
  assertParseError("[::1", '"[::1" is not a valid host or port');
  assertParseError("http://[::1", '"[::1" is not a valid host or port');
  assertParseError("http://::1/", '"::1" is not a valid host or port');
  assertParseError("http://::1:80/", '"::1:80" is not a valid host or port');
  assertParseError("http://[zz::1]/", '"[zz::1]" is not a valid host or port');
  assertParseError(
    "http://[1:2:3:4:5:6:7:8:9]/",
    '"[1:2:3:4:5:6:7:8:9]" is not a valid host or port',
  );
  assertParseError("http://[::1]x/", '"[::1]x" is not a valid host or port');
  assertParseError("http://a]b/", '"a]b" is not a valid host or port');
});

test("parseUrl: many '@' do not cause catastrophic backtracking", () => {
  const start = performance.now();
  assert.throws(() => parseUrl("https://" + "@".repeat(10000) + "["), LocationParseError);
  const u = parseUrl("https://user:" + "@".repeat(10000) + "example.com");
  assert.equal(u.host, "example.com");
  assert.ok(performance.now() - start < 1000);
});

test("parseUrl: a non-string throws TypeError", () => {
  assert.throws(() => parseUrl(42 as unknown as string), {
    name: "TypeError",
    message: "URL must be a string: 42",
  });
  assert.throws(() => parseUrl(null as unknown as string), {
    name: "TypeError",
    message: "URL must be a string: null",
  });
});

// ---------------------------------------------------------------------------------------
// Url

test("Url: derived properties", () => {
  const u = parseUrl("https://user:p%40ss@[::1]:8443/a/b?x=1#frag");
  assert.equal(u.requestUri, "/a/b?x=1");
  assert.equal(u.netloc, "[::1]:8443");
  assert.equal(u.authority, "user:p%40ss@[::1]:8443");
  assert.equal(u.hostname, "::1");
  assert.deepEqual(u.authDecoded, ["user", "p@ss"]);
  assert.equal(u.url, "https://user:p%40ss@[::1]:8443/a/b?x=1#frag");
  assert.equal(u.toString(), u.url);
  assert.equal(JSON.stringify({ u }), '{"u":"https://user:p%40ss@[::1]:8443/a/b?x=1#frag"}');
});

test("Url: requestUri is the path or '/' plus the query", () => {
  const cases: Array<[string, string]> = [
    ["http://google.com/mail", "/mail"],
    ["http://google.com/mail/", "/mail/"],
    ["http://google.com/", "/"],
    ["http://google.com", "/"],
    ["", "/"],
    ["/", "/"],
    ["?", "/?"],
    ["#", "/"],
    ["/foo?bar=baz", "/foo?bar=baz"],
    ["http://h?a=1#f", "/?a=1"],
  ];
  for (const [input, uri] of cases) assert.equal(parseUrl(input).requestUri, uri, input);
});

test("Url: netloc, authority, hostname and authDecoded edge cases", () => {
  assert.equal(parseUrl("google.com:12345").netloc, "google.com:12345");
  assert.equal(parseUrl("http://google.com/mail").netloc, "google.com");
  assert.equal(parseUrl("http://h:0/").netloc, "h:0");
  assert.equal(parseUrl("/path").netloc, null);
  assert.equal(parseUrl("/path").authority, null);
  assert.equal(parseUrl("/path").hostname, null);
  assert.equal(parseUrl("http://h/").authority, "h");
  assert.equal(parseUrl("http://h/").authDecoded, null);
  assert.deepEqual(parseUrl("http://us%C3%A9r@h/").authDecoded, ["usér", null]);
  assert.deepEqual(parseUrl("http://u:@h/").authDecoded, ["u", ""]);
  assert.deepEqual(parseUrl("http://u:a:b@h/").authDecoded, ["u", "a:b"]);
  assert.deepEqual(new Url({ auth: "%ff:x" }).authDecoded, ["%ff", "x"]);
});

test("Url: the constructor lower-cases the scheme, prefixes the path and is frozen", () => {
  const u = new Url({ scheme: "HTTPS", host: "Host.com", port: 80, path: "path", query: "q" });
  assert.equal(u.scheme, "https");
  assert.equal(u.host, "Host.com");
  assert.equal(u.path, "/path");
  assert.equal(u.url, "https://Host.com:80/path?q");
  assert.ok(Object.isFrozen(u));
  assert.deepEqual(parts(new Url()), {
    scheme: null,
    auth: null,
    host: null,
    port: null,
    path: null,
    query: null,
    fragment: null,
  });
  assert.equal(new Url({ path: "" }).path, "");
  assert.equal(
    new Url({
      scheme: "http",
      auth: "u:p",
      host: "host.com",
      port: 80,
      path: "/path",
      query: "query",
      fragment: "fragment",
    }).url,
    "http://u:p@host.com:80/path?query#fragment",
  );
});

test("Url: the constructor checks its argument types", () => {
  assert.throws(() => new Url({ port: 70000 }), {
    name: "RangeError",
    message: "Url port must be an integer from 0 to 65535: 70000",
  });
  assert.throws(() => new Url({ port: 1.5 }), { name: "RangeError" });
  assert.throws(() => new Url({ port: -1 }), { name: "RangeError" });
  assert.throws(() => new Url({ port: "80" as unknown as number }), {
    name: "TypeError",
    message: 'Url port must be a number or null: "80"',
  });
  assert.throws(() => new Url({ host: 5 as unknown as string }), {
    name: "TypeError",
    message: "Url host must be a string or null: 5",
  });
  assert.throws(() => new Url("http://x" as unknown as UrlInit), {
    name: "TypeError",
    message: 'Url init must be an object: "http://x"',
  });
});

// ---------------------------------------------------------------------------------------
// Helpers

test("defaultPortFor: http 80, https 443, others null", () => {
  assert.equal(defaultPortFor("http"), 80);
  assert.equal(defaultPortFor("HTTPS"), 443);
  assert.equal(defaultPortFor("ftp"), null);
  assert.equal(defaultPortFor(""), null);
  assert.throws(() => defaultPortFor(undefined as unknown as string), {
    name: "TypeError",
    message: "Scheme must be a string: undefined",
  });
});

test("isSameOrigin: scheme, host and port with defaults filled in", () => {
  const same = (a: string, b: string) => isSameOrigin(parseUrl(a), parseUrl(b));
  assert.equal(same("http://a.com/x", "HTTP://A.com:80/y?z"), true);
  assert.equal(same("https://a.com", "https://a.com:443/"), true);
  assert.equal(same("a.com/x", "http://a.com/"), true);
  assert.equal(same("http://[::1]/", "http://[::1]:80/"), true);
  assert.equal(same("http://u:p@a.com/", "http://a.com/"), true);
  assert.equal(same("http://a.com", "https://a.com"), false);
  assert.equal(same("http://a.com:8080", "http://a.com"), false);
  assert.equal(same("http://a.com", "http://b.com"), false);
  assert.equal(same("http://localhost./", "http://localhost/"), false);
  assert.equal(same("https://a.com:80", "http://a.com"), false);
  assert.equal(same("/path", "/path"), false);
  assert.equal(same("ftp://a.com", "ftp://a.com"), true);
  assert.equal(same("ftp://a.com", "ftp://a.com:21"), false);
  assert.throws(() => isSameOrigin("http://a" as unknown as Url, parseUrl("http://a")), {
    name: "TypeError",
  });
});

test("encodeTarget: encodes like urllib3 for pool paths, keeping dot segments", () => {
  assert.equal(encodeTarget("/a/../b c?x=ü#frag"), "/a/../b%20c?x=%C3%BC");
  assert.equal(encodeTarget("/"), "/");
  assert.equal(encodeTarget("/p?"), "/p?");
  assert.equal(encodeTarget("/p%2f?q=%e2"), "/p%2F?q=%E2");
  assert.equal(encodeTarget("/\r\n"), "/%0D%0A");
  assert.throws(() => encodeTarget("http://x/"), {
    name: "LocationParseError",
    message: 'Failed to parse: http://x/ (a request target must start with "/")',
  });
  assert.throws(() => encodeTarget(1 as unknown as string), { name: "TypeError" });
});
