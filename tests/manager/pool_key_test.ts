/**
 * Pool keys (src/_pool_key.ts): one normaliser per pool option, as urllib3's `PoolKey`.
 * Equal option values give one key, different ones two; objects without a canonical
 * form (connectors, subclassed policies) compare by identity; secrets never show.
 */

import { assert, test } from "../_harness.ts";
import { PoolKeys } from "../../src/manager/_pool_key.ts";
import { defaultConnector, HTTPHeaderDict, Retry, Timeout } from "../../mod.ts";
import type { ConnectionPoolOptions } from "../../src/pool/connection_pool.ts";
import type { Connector } from "../../src/runtime/socket.ts";

const keys = new PoolKeys();
const https = (options: ConnectionPoolOptions) => keys.key("https", "example.com", 443, options);
const http = (options: ConnectionPoolOptions) => keys.key("http", "example.com", 80, options);

test("pool key: scheme, host and port alone without options", () => {
  assert.equal(keys.key("http", "127.0.0.1", 8080, {}), "http://127.0.0.1:8080");
  assert.equal(keys.key("https", "[::1]", 443, { port: 443 }), "https://[::1]:443");
  assert.equal(http({ maxSize: undefined }), http({}), "undefined is no option");
});

test("pool key: headers by value, names case-insensitive, values in order", () => {
  const a = https({ headers: new Headers({ "x-tenant": "a" }) });
  const b = https({ headers: new Headers({ "x-tenant": "b" }) });
  assert.notEqual(a, b, "two Headers objects never share a key");
  assert.equal(https({ headers: { "X-Tenant": "a" } }), a);
  assert.equal(https({ headers: new HTTPHeaderDict([["x-TENANT", "a"]]) }), a);
  assert.equal(
    https({ headers: [["a", "1"], ["b", "2"]] }),
    https({ headers: [["B", "2"], ["A", "1"]] }),
    "the order of different names does not matter",
  );
  assert.notEqual(
    https({ headers: [["a", "1"], ["a", "2"]] }),
    https({ headers: [["a", "2"], ["a", "1"]] }),
    "the order of one name's values does",
  );
  assert.equal(https({ headers: { a: "1", b: undefined } }), https({ headers: { a: "1" } }));
  assert.equal(https({ headers: {} }), https({}), "no headers is no option");
  assert.equal(https({ headers: [["__proto__", "x"]] }), https({ headers: [["__PROTO__", "x"]] }));
});

test("pool key: retries by their option values; a subclass by identity", () => {
  const forced = https({ retries: new Retry({ total: 3, statusForcelist: [503] }) });
  const plain = https({ retries: new Retry({ total: 3 }) });
  assert.notEqual(forced, plain);
  assert.equal(https({ retries: new Retry({ total: 3, statusForcelist: [503] }) }), forced);
  assert.equal(
    https({ retries: new Retry({ statusForcelist: [503, 502], total: 3 }) }),
    https({
      retries: new Retry({ total: 3, statusForcelist: [502, 503] }),
    }),
  );
  assert.equal(https({ retries: 3 }), plain, "a number is Retry.fromInt of it");
  assert.equal(https({ retries: null }), plain, "null is the default policy");
  assert.notEqual(https({ retries: false }), plain);
  assert.notEqual(https({ retries: new Retry({ total: 3, backoffFactor: 10 }) }), plain);
  assert.notEqual(
    https({ retries: new Retry({ total: 3, allowedMethods: ["GET"] }) }),
    plain,
  );

  class Loud extends Retry {}
  const loud = new Loud({ total: 3 });
  assert.notEqual(https({ retries: loud }), plain);
  assert.equal(https({ retries: loud }), https({ retries: loud }));
  assert.notEqual(https({ retries: loud }), https({ retries: new Loud({ total: 3 }) }));
});

test("pool key: timeouts by their option values", () => {
  const five = https({ timeout: 5_000 });
  assert.equal(https({ timeout: Timeout.fromFloat(5_000) }), five);
  assert.equal(https({ timeout: new Timeout({ connect: 5_000, read: 5_000 }) }), five);
  assert.notEqual(https({ timeout: new Timeout({ connect: 5_000 }) }), five);
  assert.notEqual(https({ timeout: new Timeout({ total: 5_000 }) }), five);
  assert.equal(https({ timeout: null }), https({ timeout: new Timeout() }));
  assert.notEqual(https({ timeout: null }), https({}), "null overrides a manager's timeout");
});

test("pool key: connectors by identity, whatever their name", () => {
  const inner = defaultConnector();
  const wrapper: Connector = { name: inner.name, connect: (options) => inner.connect(options) };
  assert.notEqual(https({ connector: wrapper }), https({ connector: inner }));
  assert.equal(https({ connector: inner }), https({ connector: inner }));
  assert.notEqual(https({ connector: inner }), https({}));
});

test("pool key: TLS options by value, dropped for http, PEM texts never shown", () => {
  const pem = "-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----\n";
  const withKey = https({ key: pem, cert: "CERT" });
  assert.ok(!withKey.includes("secret"), withKey);
  assert.ok(!withKey.includes("CERT"), withKey);
  assert.equal(https({ cert: "CERT", key: `${pem}` }), withKey);
  assert.notEqual(https({ key: pem + "\n", cert: "CERT" }), withKey);
  assert.equal(https({ caCerts: ["A", "B"] }), https({ caCerts: ["A", "B"] }));
  assert.notEqual(https({ caCerts: ["A", "B"] }), https({ caCerts: ["B", "A"] }));
  assert.notEqual(https({ assertHostname: false }), https({}));
  assert.notEqual(https({ serverHostname: "a" }), https({ serverHostname: "b" }));
  assert.equal(http({ caCerts: ["A"], certReqs: "CERT_NONE", key: pem }), http({}));
});

test("pool key: other options by value; unknown names are ignored", () => {
  assert.equal(https({ maxSize: 2, block: true }), https({ block: true, maxSize: 2 }));
  assert.notEqual(https({ maxSize: 2 }), https({ maxSize: 3 }));
  assert.notEqual(https({ poolTimeout: null }), https({}));
  assert.notEqual(https({ forwardToProxy: true }), https({}));
  assert.notEqual(https({ http2: false }), https({ http2: true }));
  assert.notEqual(http({ http2PriorKnowledge: true }), http({}));
  assert.equal(https({ maxConcurrentStreams: 8 }), https({ maxConcurrentStreams: 8 }));
  assert.notEqual(https({ maxConcurrentStreams: 8 }), https({ maxConcurrentStreams: 9 }));
  const unknown = { numPools: 3, "__proto__&x": 1 } as ConnectionPoolOptions;
  assert.equal(https(unknown), https({}));
  // The options part follows the first "#" (proxied keys keep what follows it).
  assert.match(https({ maxSize: 2 }), /^https:\/\/example\.com:443#[^#]/);
});

test("pool key: a value that is not valid throws as the pool would", () => {
  assert.throws(() => https({ timeout: "5" as unknown as number }), TypeError);
  assert.throws(() => https({ retries: "3" as unknown as number }), TypeError);
});
