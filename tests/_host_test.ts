import { assert, test } from "./_harness.ts";
import { bracketHost, hostPort, unbracketHost } from "../src/_host.ts";

test("bracketHost: IPv6 literals get brackets once; names and IPv4 are unchanged", () => {
  assert.equal(bracketHost("::1"), "[::1]");
  assert.equal(bracketHost("fe80::1%25eth0"), "[fe80::1%25eth0]");
  assert.equal(bracketHost("[::1]"), "[::1]");
  assert.equal(bracketHost("127.0.0.1"), "127.0.0.1");
  assert.equal(bracketHost("example.com"), "example.com");
});

test("unbracketHost: brackets removed; other hosts unchanged", () => {
  assert.equal(unbracketHost("[::1]"), "::1");
  assert.equal(unbracketHost("::1"), "::1");
  assert.equal(unbracketHost("example.com"), "example.com");
  assert.equal(unbracketHost("[::1"), "[::1", "half a bracket pair is left alone");
  for (const host of ["::1", "10.0.0.1", "localhost"]) {
    assert.equal(unbracketHost(bracketHost(host)), host);
  }
});

test("hostPort: host:port with an IPv6 host in brackets", () => {
  assert.equal(hostPort("example.com", 443), "example.com:443");
  assert.equal(hostPort("127.0.0.1", 80), "127.0.0.1:80");
  assert.equal(hostPort("::1", 8080), "[::1]:8080");
  assert.equal(hostPort("[::1]", 8080), "[::1]:8080");
});
