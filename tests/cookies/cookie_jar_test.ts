/**
 * `CookieJar` against the rules of RFC 6265bis, one group per rule: parsing, domain and
 * host-only, path, Secure, HttpOnly, expiry, size limits, SameSite, prefixes, header order
 * and JSON.
 */

import { assert, test } from "../_harness.ts";
import { type Cookie, CookieJar, LocationParseError } from "../../mod.ts";
import { parseCookieDate } from "../../src/cookies/_cookie_date.ts";

const names = (cookies: Cookie[]) => cookies.map((cookie) => cookie.name);

/** A jar with a clock the test moves. */
function clockedJar(start = Date.UTC(2030, 0, 1)) {
  const clock = { now: start };
  const jar = new CookieJar({ now: () => clock.now });
  return { jar, clock };
}

// ---- parsing ----------------------------------------------------------------------------

test("parsing: name and value trimmed of spaces and tabs, attributes case-insensitive", () => {
  const jar = new CookieJar();
  assert.equal(jar.setCookie(" a \t= 1 2 ; pAtH=/x ; SECURE; httponly", "https://h.test/"), true);
  const [cookie] = jar.getCookies("https://h.test/x");
  assert.equal(cookie.name, "a");
  assert.equal(cookie.value, "1 2");
  assert.equal(cookie.path, "/x");
  assert.equal(cookie.secure, true);
  assert.equal(cookie.httpOnly, true);
});

test("parsing: a header without = is a nameless cookie, sent as its value", () => {
  const jar = new CookieJar();
  assert.equal(jar.setCookie("justvalue", "http://h.test/"), true);
  assert.equal(jar.getCookieHeader("http://h.test/"), "justvalue");
  assert.equal(jar.setCookie("=", "http://h.test/"), false, "empty name and value");
  assert.equal(jar.setCookie("; Path=/", "http://h.test/"), false);
});

test("parsing: control characters in the name or value reject the header", () => {
  const jar = new CookieJar();
  for (const bad of ["a\x00=1", "a=1\x01", "a=\x7f", "a\n=1", "a=1\r", "a=1; Path=/\x1f"]) {
    assert.equal(jar.setCookie(bad, "http://h.test/"), false, JSON.stringify(bad));
  }
  assert.equal(jar.setCookie("a=1\t2", "http://h.test/"), true, "HTAB is allowed");
  assert.deepEqual(names(jar.getCookies("http://h.test/")), ["a"]);
});

test("parsing: the last of a repeated attribute wins; unknown attributes are ignored", () => {
  const jar = new CookieJar();
  jar.setCookie("a=1; Path=/one; Path=/two; Flavour=x", "http://h.test/");
  assert.equal(jar.getCookies("http://h.test/two")[0].path, "/two");
  assert.equal(jar.getCookies("http://h.test/one").length, 0);
});

// ---- domain and host-only --------------------------------------------------------------

test("domain: no Domain attribute makes a host-only cookie, not sent to subdomains", () => {
  const jar = new CookieJar();
  jar.setCookie("a=1", "http://example.test/");
  const [cookie] = jar.getCookies("http://example.test/");
  assert.equal(cookie.hostOnly, true);
  assert.equal(cookie.domain, "example.test");
  assert.equal(jar.getCookies("http://www.example.test/").length, 0);
  assert.equal(jar.getCookies("http://other.test/").length, 0);
});

test("domain: a Domain attribute is sent to the domain and its subdomains", () => {
  const jar = new CookieJar();
  jar.setCookie("a=1; Domain=.Example.TEST", "http://www.example.test/");
  const [cookie] = jar.getCookies("http://example.test/");
  assert.equal(cookie.hostOnly, false);
  assert.equal(cookie.domain, "example.test");
  assert.equal(jar.getCookies("http://a.b.example.test/").length, 1);
  assert.equal(jar.getCookies("http://badexample.test/").length, 0, "not a suffix on a dot");
});

test("domain: a Domain that does not domain-match the request host is rejected", () => {
  const jar = new CookieJar();
  assert.equal(jar.setCookie("a=1; Domain=other.test", "http://www.example.test/"), false);
  assert.equal(jar.setCookie("a=1; Domain=www.example.test", "http://example.test/"), false);
  assert.equal(jar.setCookie("a=1; Domain=ample.test", "http://example.test/"), false);
  assert.equal(jar.toJSON().cookies.length, 0);
});

test("domain: a bare top-level Domain is refused, unless it is the host (then host-only)", () => {
  const jar = new CookieJar();
  assert.equal(jar.setCookie("a=1; Domain=test", "http://example.test/"), false);
  assert.equal(jar.setCookie("a=1; Domain=.com", "http://example.com/"), false);
  assert.equal(jar.setCookie("b=2; Domain=localhost", "http://localhost/"), true);
  const [cookie] = jar.getCookies("http://localhost/");
  assert.equal(cookie.hostOnly, true);
  assert.equal(jar.getCookies("http://app.localhost/").length, 0);
});

test("domain: an IP address only matches itself", () => {
  const jar = new CookieJar();
  assert.equal(jar.setCookie("a=1; Domain=0.0.1", "http://127.0.0.1/"), false);
  assert.equal(jar.setCookie("a=1; Domain=127.0.0.2", "http://127.0.0.1/"), false);
  assert.equal(jar.setCookie("a=1; Domain=127.0.0.1", "http://127.0.0.1/"), true);
  assert.equal(jar.setCookie("b=1", "http://[::1]:8080/"), true);
  assert.equal(jar.getCookieHeader("http://127.0.0.1:9/"), "a=1", "ports are not part of it");
  assert.equal(jar.getCookieHeader("http://[::1]/"), "b=1");
  assert.equal(jar.getCookieHeader("http://localhost/"), "");
});

// ---- path ---------------------------------------------------------------------------------

test("path: the default path is the directory of the request path", () => {
  const jar = new CookieJar();
  jar.setCookie("a=1", "http://h.test/docs/page?q=/x");
  jar.setCookie("b=1", "http://h.test/top");
  jar.setCookie("c=1; Path=relative", "http://h.test/x/y/z");
  const paths = jar.toJSON().cookies.map((cookie) => cookie.path);
  assert.deepEqual(paths, ["/docs", "/", "/x/y"]);
});

test("path: path-match needs the whole cookie path, up to a slash", () => {
  const jar = new CookieJar();
  jar.setCookie("a=1; Path=/docs", "http://h.test/");
  jar.setCookie("b=1; Path=/docs/", "http://h.test/");
  assert.deepEqual(names(jar.getCookies("http://h.test/docs")), ["a"]);
  assert.deepEqual(names(jar.getCookies("http://h.test/docs/x")), ["b", "a"]);
  assert.deepEqual(names(jar.getCookies("http://h.test/docsx")), []);
  assert.deepEqual(names(jar.getCookies("http://h.test/")), []);
});

// ---- Secure and HttpOnly -------------------------------------------------------------------

test("secure: a Secure cookie is sent over https only and cannot be set from http", () => {
  const jar = new CookieJar();
  assert.equal(jar.setCookie("a=1; Secure", "http://h.test/"), false);
  assert.equal(jar.setCookie("a=1; Secure", "https://h.test/"), true);
  assert.equal(jar.getCookieHeader("https://h.test/"), "a=1");
  assert.equal(jar.getCookieHeader("http://h.test/"), "");
});

test("secure: http cannot replace or shadow a Secure cookie of the same name", () => {
  const jar = new CookieJar();
  jar.setCookie("a=secure; Secure; Path=/", "https://h.test/");
  assert.equal(jar.setCookie("a=plain; Path=/x", "http://h.test/"), false);
  assert.equal(jar.setCookie("a=plain; Domain=h.test", "http://www.h.test/"), false);
  assert.equal(jar.setCookie("b=plain", "http://h.test/"), true);
  assert.equal(jar.setCookie("a=over-https", "https://h.test/"), true);
  assert.equal(jar.getCookieHeader("https://h.test/"), "a=over-https; b=plain");
});

test("httpOnly: stored and sent (this client is not a browser)", () => {
  const jar = new CookieJar();
  jar.setCookie("a=1; HttpOnly", "http://h.test/");
  assert.equal(jar.getCookies("http://h.test/")[0].httpOnly, true);
  assert.equal(jar.getCookieHeader("http://h.test/"), "a=1");
});

// ---- expiry ---------------------------------------------------------------------------------

test("expiry: Max-Age counts from now; the cookie goes once it passes", () => {
  const { jar, clock } = clockedJar();
  jar.setCookie("a=1; Max-Age=60", "http://h.test/");
  assert.equal(jar.getCookies("http://h.test/")[0].expires, clock.now + 60_000);
  clock.now += 59_999;
  assert.equal(jar.getCookieHeader("http://h.test/"), "a=1");
  clock.now += 1;
  assert.equal(jar.getCookieHeader("http://h.test/"), "");
  assert.equal(jar.toJSON().cookies.length, 0);
});

test("expiry: Max-Age wins over Expires, whichever comes first", () => {
  const { jar, clock } = clockedJar();
  jar.setCookie("a=1; Max-Age=10; Expires=Wed, 01 Jan 2031 00:00:00 GMT", "http://h.test/");
  jar.setCookie("b=1; Expires=Wed, 01 Jan 2031 00:00:00 GMT; Max-Age=10", "http://h.test/");
  jar.setCookie("c=1; Expires=Wed, 01 Jan 2031 00:00:00 GMT", "http://h.test/");
  const expiries = jar.toJSON().cookies.map((cookie) => cookie.expires);
  assert.deepEqual(expiries, [clock.now + 10_000, clock.now + 10_000, Date.UTC(2031, 0, 1)]);
  assert.equal(jar.setCookie("d=1; Max-Age=1x", "http://h.test/"), true);
  assert.equal(jar.getCookies("http://h.test/").at(-1)!.expires, null, "bad Max-Age ignored");
});

test("expiry: no Max-Age or Expires makes a session cookie; the lifetime is capped at 400 days", () => {
  const { jar, clock } = clockedJar();
  jar.setCookie("a=1", "http://h.test/");
  jar.setCookie("b=1; Max-Age=999999999999", "http://h.test/");
  jar.setCookie("c=1; Expires=Fri, 31 Dec 9999 23:59:59 GMT", "http://h.test/");
  const expiries = jar.toJSON().cookies.map((cookie) => cookie.expires);
  const cap = clock.now + 400 * 86_400_000;
  assert.deepEqual(expiries, [null, cap, cap]);
});

test("expiry: a past Expires or a Max-Age of zero or less deletes the cookie", () => {
  const { jar } = clockedJar();
  for (const deletion of ["Max-Age=0", "Max-Age=-5", "Expires=Thu, 01 Jan 1970 00:00:00 GMT"]) {
    jar.setCookie("a=1; Path=/", "http://h.test/");
    assert.equal(jar.getCookieHeader("http://h.test/"), "a=1");
    assert.equal(jar.setCookie(`a=; Path=/; ${deletion}`, "http://h.test/"), true);
    assert.equal(jar.getCookieHeader("http://h.test/"), "", deletion);
  }
  jar.setCookie("a=1; Path=/p", "http://h.test/");
  jar.setCookie("a=; Path=/; Max-Age=0", "http://h.test/");
  assert.equal(jar.getCookieHeader("http://h.test/p"), "a=1", "another path is another cookie");
});

test("expiry: cookie dates are parsed leniently (RFC 6265bis §5.1.1)", () => {
  const expected = Date.UTC(2031, 10, 6, 8, 49, 37);
  for (
    const text of [
      "Thu, 06 Nov 2031 08:49:37 GMT",
      "Thursday, 06-Nov-31 08:49:37 GMT",
      "Thu Nov  6 08:49:37 2031",
      "06 November 2031 08:49:37",
      "2031 Nov 6 8:49:37",
      "6-nov-2031 08:49:37utc",
    ]
  ) {
    assert.equal(parseCookieDate(text), expected, text);
  }
  assert.equal(parseCookieDate("Sat, 01 Jan 70 00:00:00 GMT"), Date.UTC(1970, 0, 1));
  assert.equal(parseCookieDate("01 Jan 69 00:00:00"), Date.UTC(2069, 0, 1));
  for (
    const bad of [
      "",
      "Thu, 06 Nov 2031",
      "31 Feb 2031 00:00:00",
      "32 Jan 2031 00:00:00",
      "06 Nov 1600 00:00:00",
      "06 Nov 2031 24:00:00",
      "06 Nov 2031 00:60:00",
      "06 Nov 2031 00:00:60",
      "06 Xyz 2031 00:00:00",
      "06 Nov 20311 00:00:00",
    ]
  ) {
    assert.equal(parseCookieDate(bad), null, bad);
  }
  const jar = new CookieJar();
  jar.setCookie("a=1; Expires=not a date", "http://h.test/");
  assert.equal(jar.getCookies("http://h.test/")[0].expires, null, "bad Expires ignored");
});

// ---- size limits ----------------------------------------------------------------------------

test("limits: a name and value over 4096 octets is ignored; 4096 is kept", () => {
  const jar = new CookieJar();
  assert.equal(jar.setCookie(`n=${"v".repeat(4095)}`, "http://h.test/"), true);
  assert.equal(jar.setCookie(`m=${"v".repeat(4096)}`, "http://h.test/"), false);
  assert.equal(jar.setCookie(`m=${"é".repeat(2048)}`, "http://h.test/"), false, "octets");
  assert.deepEqual(names(jar.getCookies("http://h.test/")), ["n"]);
  jar.setCookie(`p=1; Path=/${"x".repeat(1100)}`, "http://h.test/a/b");
  assert.equal(jar.getCookies("http://h.test/a/b")[0].path, "/a", "long attribute ignored");
});

test("limits: 50 cookies per domain, the oldest evicted first", () => {
  const { jar, clock } = clockedJar();
  for (let i = 0; i < 55; i++) {
    clock.now++;
    jar.setCookie(`c${i}=1`, "http://h.test/");
  }
  jar.setCookie("other=1", "http://o.test/");
  const kept = names(jar.getCookies("http://h.test/"));
  assert.equal(kept.length, 50);
  assert.equal(kept[0], "c5");
  assert.equal(jar.getCookieHeader("http://o.test/"), "other=1");
});

test("limits: 3000 cookies in all, the oldest evicted first, expired ones before them", () => {
  const { jar, clock } = clockedJar();
  for (let i = 0; i < 2999; i++) {
    jar.setCookie(`c${i % 40}=1`, `http://d${Math.floor(i / 40)}.test/`);
  }
  clock.now++;
  jar.setCookie("short=1; Max-Age=1", "http://e.test/");
  clock.now += 2_000;
  jar.setCookie("more=1", "http://e.test/");
  let all = jar.toJSON().cookies;
  assert.equal(all.length, 3000);
  assert.equal(all[0].name, "c0", "the expired cookie went, not the oldest");
  assert.equal(jar.getCookieHeader("http://e.test/"), "more=1");
  jar.setCookie("again=1", "http://e.test/");
  all = jar.toJSON().cookies;
  assert.equal(all.length, 3000);
  assert.equal(all[0].name, "c1", "then the oldest: c0 of d0");
  assert.equal(jar.getCookieHeader("http://d0.test/").startsWith("c1=1; c2=1"), true);
});

// ---- SameSite -------------------------------------------------------------------------------

test("sameSite: parsed and stored (any case), unknown values stored as null", () => {
  const jar = new CookieJar();
  jar.setCookie("a=1; SameSite=strict", "https://h.test/");
  jar.setCookie("b=1; SameSite=NONE; Secure", "https://h.test/");
  jar.setCookie("c=1; SameSite=Lax", "https://h.test/");
  jar.setCookie("d=1; SameSite=constructor", "https://h.test/");
  jar.setCookie("e=1", "https://h.test/");
  const stored = jar.getCookies("https://h.test/").map((cookie) => cookie.sameSite);
  assert.deepEqual(stored, ["Strict", "None", "Lax", null, null]);
});

// ---- prefixes -------------------------------------------------------------------------------

test("prefixes: __Secure- needs Secure (and so https)", () => {
  const jar = new CookieJar();
  assert.equal(jar.setCookie("__Secure-a=1", "https://h.test/"), false);
  assert.equal(jar.setCookie("__secure-a=1", "https://h.test/"), false, "any case");
  assert.equal(jar.setCookie("__Secure-a=1; Secure", "http://h.test/"), false);
  assert.equal(jar.setCookie("__Secure-a=1; Secure; Domain=h.test", "https://h.test/"), true);
});

test("prefixes: __Host- needs Secure, no Domain and Path=/", () => {
  const jar = new CookieJar();
  const url = "https://h.test/x/y";
  assert.equal(jar.setCookie("__Host-a=1; Secure", url), false, "no Path");
  assert.equal(jar.setCookie("__Host-a=1; Secure; Path=/x", url), false);
  assert.equal(jar.setCookie("__Host-a=1; Path=/", url), false);
  assert.equal(jar.setCookie("__Host-a=1; Secure; Path=/; Domain=h.test", url), false);
  assert.equal(jar.setCookie("__Host-a=1; Secure; Path=/", url), true);
  assert.equal(jar.getCookies("https://h.test/")[0].hostOnly, true);
  assert.equal(jar.setCookie("__Host-b", url), false, "a nameless value with the prefix");
});

// ---- order and replacement ------------------------------------------------------------------

test("order: longer paths first, then earlier creation; a replacement keeps its creation", () => {
  const { jar, clock } = clockedJar();
  jar.setCookie("first=1", "http://h.test/");
  clock.now++;
  jar.setCookie("deep=1; Path=/a/b", "http://h.test/");
  clock.now++;
  jar.setCookie("second=1", "http://h.test/");
  clock.now++;
  jar.setCookie("mid=1; Path=/a", "http://h.test/");
  jar.setCookie("same-ms=1", "http://h.test/");
  clock.now++;
  jar.setCookie("first=2", "http://h.test/");
  assert.equal(
    jar.getCookieHeader("http://h.test/a/b/c"),
    "deep=1; mid=1; first=2; second=1; same-ms=1",
  );
});

test("replacement: same name, domain, host-only and path replace; others coexist", () => {
  const jar = new CookieJar();
  jar.setCookie("a=host", "http://www.h.test/");
  jar.setCookie("a=domain; Domain=www.h.test", "http://www.h.test/");
  jar.setCookie("a=path; Path=/p", "http://www.h.test/");
  jar.setCookie("a=domain2; Domain=www.h.test", "http://www.h.test/");
  assert.equal(jar.getCookieHeader("http://www.h.test/p"), "a=path; a=host; a=domain2");
});

// ---- URLs and JSON --------------------------------------------------------------------------

test("urls: a URL without a host or a header that is not a string is a TypeError", () => {
  const jar = new CookieJar();
  assert.throws(() => jar.setCookie("a=1", "/relative"), TypeError);
  assert.throws(() => jar.getCookies("//"), TypeError);
  assert.throws(() => jar.getCookies("http://bad host/"), LocationParseError);
  assert.throws(() => jar.setCookie(1 as unknown as string, "http://h.test/"), TypeError);
  assert.throws(() => new CookieJar({ maxCookies: 0 }), RangeError);
});

test("json: toJSON and fromJSON round-trip every field; expired cookies are left out", () => {
  const { jar, clock } = clockedJar();
  jar.setCookie("a=1; Domain=h.test; Path=/p; Secure; HttpOnly; SameSite=Lax", "https://h.test/");
  clock.now++;
  jar.setCookie("b=2; Max-Age=10", "http://h.test/");
  jar.setCookie("c=3", "http://[::1]/");
  const saved = JSON.stringify(jar);
  const copy = CookieJar.fromJSON(saved, { now: () => clock.now });
  assert.deepEqual(copy.toJSON(), jar.toJSON());
  assert.equal(copy.getCookieHeader("https://x.h.test/p"), "a=1");
  const later = CookieJar.fromJSON(JSON.parse(saved), { now: () => clock.now + 10_000 });
  assert.deepEqual(names(later.toJSON().cookies as Cookie[]), ["a", "c"]);
});

test("json: fromJSON refuses what is not a saved jar", () => {
  const valid = {
    name: "a",
    value: "1",
    domain: "h.test",
    hostOnly: true,
    path: "/",
    secure: false,
    httpOnly: false,
    sameSite: null,
    expires: null,
    created: 0,
  };
  assert.equal(
    CookieJar.fromJSON({ version: 1, cookies: [valid] }).getCookieHeader("http://h.test"),
    "a=1",
  );
  const bad = [
    null,
    {},
    { version: 2, cookies: [] },
    { version: 1, cookies: [{ ...valid, name: 1 }] },
    { version: 1, cookies: [{ ...valid, value: "x\n" }] },
    { version: 1, cookies: [{ ...valid, value: "x;y" }] },
    { version: 1, cookies: [{ ...valid, domain: "" }] },
    { version: 1, cookies: [{ ...valid, path: "x" }] },
    { version: 1, cookies: [{ ...valid, secure: "yes" }] },
    { version: 1, cookies: [{ ...valid, sameSite: "lax" }] },
    { version: 1, cookies: [{ ...valid, expires: "never" }] },
  ];
  for (const json of bad) {
    assert.throws(
      () => CookieJar.fromJSON(json as never),
      TypeError,
      JSON.stringify(json),
    );
  }
});
