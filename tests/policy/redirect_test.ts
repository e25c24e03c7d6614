import { assert, test } from "../_harness.ts";
import { LocationParseError, URLSchemeUnknown } from "../../src/errors.ts";
import {
  CONTENT_SPECIFIC_HEADERS,
  decideRedirect,
  REDIRECT_STATUSES,
  type RedirectArgs,
  type RedirectDecision,
} from "../../src/policy/redirect.ts";
import { Retry } from "../../src/policy/retry.ts";

const DEFAULT_REMOVE = Retry.DEFAULT_REMOVE_HEADERS_ON_REDIRECT;

function decide(overrides: Partial<RedirectArgs>): RedirectDecision {
  return decideRedirect({
    status: 302,
    location: "/next",
    method: "GET",
    url: "http://example.com/start",
    removeHeadersOnRedirect: DEFAULT_REMOVE,
    ...overrides,
  });
}

function sorted(set: ReadonlySet<string>): string[] {
  return [...set].sort();
}

test("REDIRECT_STATUSES: 301 302 303 307 308, read-only", () => {
  assert.deepEqual([...REDIRECT_STATUSES].sort(), [301, 302, 303, 307, 308]);
  assert.throws(() => (REDIRECT_STATUSES as Set<number>).add(300), TypeError);
  assert.equal(REDIRECT_STATUSES.has(300), false);
});

test("CONTENT_SPECIFIC_HEADERS: urllib3's list plus transfer-encoding", () => {
  assert.deepEqual(sorted(CONTENT_SPECIFIC_HEADERS), [
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-type",
    "digest",
    "last-modified",
    "transfer-encoding",
  ]);
});

test("relative Locations resolve against the current URL", () => {
  const url = "http://example.com/a/b/c?x=1";
  const cases: Array<[string, string]> = [
    ["/end", "http://example.com/end"],
    ["d", "http://example.com/a/b/d"],
    ["../d", "http://example.com/a/d"],
    ["./", "http://example.com/a/b/"],
    ["?y=2", "http://example.com/a/b/c?y=2"],
    ["//other.example/p", "http://other.example/p"],
    ["https://secure.example/", "https://secure.example/"],
    ["/path with space", "http://example.com/path%20with%20space"],
  ];
  for (const [location, expected] of cases) {
    assert.equal(decide({ location, url }).url, expected, location);
  }
});

test("the fragment is dropped, from the Location and from the current URL", () => {
  assert.equal(decide({ location: "/x#frag" }).url, "http://example.com/x");
  assert.equal(
    decide({ location: "?q=1", url: "http://example.com/p#top" }).url,
    "http://example.com/p?q=1",
  );
  assert.equal(decide({ location: "#only" }).url, "http://example.com/start");
});

test("303 turns the method into GET, drops the body and the content headers", () => {
  for (const method of ["POST", "PUT", "DELETE", "PATCH", "GET"]) {
    const d = decide({ status: 303, method });
    assert.equal(d.method, "GET", method);
    assert.equal(d.dropBody, true);
    assert.deepEqual(sorted(d.removeHeaders), sorted(CONTENT_SPECIFIC_HEADERS));
    assert.equal(d.crossOrigin, false);
  }
});

test("303 keeps HEAD", () => {
  const d = decide({ status: 303, method: "HEAD" });
  assert.equal(d.method, "HEAD");
  assert.equal(d.dropBody, true);
  assert.equal(decide({ status: 303, method: "head" }).method, "head");
});

test("301, 302, 307 and 308 keep the method and the body", () => {
  for (const status of [301, 302, 307, 308]) {
    for (const method of ["POST", "PUT", "GET", "HEAD", "patch"]) {
      const d = decide({ status, method });
      assert.equal(d.method, method, `${status} ${method}`);
      assert.equal(d.dropBody, false);
      assert.equal(d.removeHeaders.size, 0);
      assert.equal(d.crossOrigin, false);
    }
  }
});

test("same origin: default ports and host case do not matter", () => {
  const cases: Array<[string, string]> = [
    ["http://example.com/", "http://example.com:80/x"],
    ["http://example.com:80/", "http://EXAMPLE.com/x"],
    ["https://example.com/", "https://example.com:443/x"],
    ["HTTP://Example.COM/", "http://example.com/x"],
    ["http://[::1]:8080/", "http://[0:0:0:0:0:0:0:1]:8080/x"],
    ["http://user:pw@example.com/", "http://example.com/x"],
  ];
  for (const [url, location] of cases) {
    const d = decide({ url, location });
    assert.equal(d.crossOrigin, false, `${url} -> ${location}`);
    assert.equal(d.removeHeaders.size, 0);
  }
});

test("cross origin: another scheme, host or port removes removeHeadersOnRedirect", () => {
  const cases: Array<[string, string]> = [
    ["http://example.com/", "https://example.com/"],
    ["https://example.com/", "http://example.com/"],
    ["http://example.com/", "http://other.example/"],
    ["http://example.com/", "http://example.com:8080/"],
    ["http://example.com:8080/", "http://example.com/"],
    ["http://127.0.0.1:1/", "http://127.0.0.1:2/"],
    ["http://example.com/", "http://sub.example.com/"],
    ["https://example.com/", "https://example.com:80/"],
  ];
  for (const [url, location] of cases) {
    const d = decide({ url, location });
    assert.equal(d.crossOrigin, true, `${url} -> ${location}`);
    assert.deepEqual(sorted(d.removeHeaders), ["authorization", "cookie", "proxy-authorization"]);
    assert.equal(d.method, "GET");
    assert.equal(d.dropBody, false);
  }
});

test("cross origin: custom names are lower-cased; an empty list removes nothing", () => {
  const d = decide({
    location: "http://other.example/",
    removeHeadersOnRedirect: ["X-Api-Key", "COOKIE"],
  });
  assert.deepEqual(sorted(d.removeHeaders), ["cookie", "x-api-key"]);
  const none = decide({ location: "http://other.example/", removeHeadersOnRedirect: [] });
  assert.equal(none.removeHeaders.size, 0);
  assert.equal(none.crossOrigin, true);
  const fromRetry = decide({
    location: "http://other.example/",
    removeHeadersOnRedirect: new Retry({ removeHeadersOnRedirect: ["X-Token"] })
      .removeHeadersOnRedirect,
  });
  assert.deepEqual(sorted(fromRetry.removeHeaders), ["x-token"]);
});

test("same origin never removes removeHeadersOnRedirect, even non-default ones", () => {
  const d = decide({ location: "/x", removeHeadersOnRedirect: ["X-Api-Key"] });
  assert.equal(d.removeHeaders.size, 0);
});

test("303 across origins removes both sets", () => {
  const d = decide({ status: 303, method: "POST", location: "https://other.example/done" });
  assert.equal(d.method, "GET");
  assert.equal(d.dropBody, true);
  assert.equal(d.crossOrigin, true);
  assert.deepEqual(
    sorted(d.removeHeaders),
    [...CONTENT_SPECIFIC_HEADERS, "authorization", "cookie", "proxy-authorization"].sort(),
  );
});

test("a scheme other than http/https throws URLSchemeUnknown", () => {
  const cases: Array<[string, string]> = [
    ["unknown://host/", "unknown"],
    ["ftp://example.com/file", "ftp"],
    ["javascript:alert(1)", "javascript"],
    ["mailto:someone@example.com", "mailto"],
    ["file:///etc/passwd", "file"],
    ["data:text/plain,hi", "data"],
  ];
  for (const [location, scheme] of cases) {
    assert.throws(() => decide({ location }), (e: unknown) => {
      assert.ok(e instanceof URLSchemeUnknown, `${location}: ${e}`);
      assert.equal(e.scheme, scheme);
      return true;
    });
  }
});

test("an unparsable or empty Location throws LocationParseError", () => {
  for (
    const location of ["http://[::1", "http://exa mple.com/", "https://", "http://a:99999/", ""]
  ) {
    assert.throws(() => decide({ location }), (e: unknown) => {
      assert.ok(e instanceof LocationParseError, `${JSON.stringify(location)}: ${e}`);
      assert.equal(e.location, location);
      return true;
    });
  }
});

test("a current URL that is not absolute throws LocationParseError", () => {
  assert.throws(() => decide({ url: "/relative" }), (e: unknown) => {
    assert.ok(e instanceof LocationParseError);
    assert.equal(e.location, "/relative");
    return true;
  });
});

test("misuse: a non-redirect status is a RangeError, wrong types TypeErrors", () => {
  for (const status of [200, 300, 304, 305, 306, 404]) {
    assert.throws(() => decide({ status }), RangeError, String(status));
  }
  assert.throws(() => decide({ location: null as unknown as string }), /location must be a string/);
  assert.throws(() => decide({ method: 1 as unknown as string }), /method must be a string/);
  assert.throws(() => decide({ url: undefined as unknown as string }), /url must be a string/);
  assert.throws(
    () => decide({ removeHeadersOnRedirect: "cookie" as unknown as string[] }),
    TypeError,
  );
  assert.throws(
    () =>
      decide({
        location: "http://other.example/",
        removeHeadersOnRedirect: [1] as unknown as string[],
      }),
    TypeError,
  );
  assert.throws(() => decideRedirect(null as unknown as RedirectArgs), TypeError);
});

test("the decision and its header set are read-only", () => {
  const d = decide({ status: 303 });
  assert.ok(Object.isFrozen(d));
  assert.throws(() => (d.removeHeaders as Set<string>).add("x"), TypeError);
  assert.throws(() => {
    (d as { url: string }).url = "x";
  }, TypeError);
});

test("the resolved URL keeps query, credentials and non-default ports", () => {
  assert.equal(
    decide({ location: "https://u:p@example.com:8443/a?b=c&d" }).url,
    "https://u:p@example.com:8443/a?b=c&d",
  );
  assert.equal(decide({ location: "http://example.com:80/z" }).url, "http://example.com/z");
});
