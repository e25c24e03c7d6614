/**
 * IP address literals: strict parsing ({@linkcode ipFamily}) and the built-in address policy
 * ({@linkcode isPrivateAddress}). Only the canonical forms count as literals here (four
 * decimal octets without leading zeros; RFC 4291 IPv6 text, an IPv4 tail included): any
 * other spelling (`127.1`, `0x7f.0.0.1`, `2130706433`) is a name, resolved like one, so the
 * policy always judges the address the resolver answered.
 *
 * @module
 */

/** The value of a strict dotted-decimal IPv4 address, or null. */
function parseIpv4(text: string): number | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    value = value * 256 + octet;
  }
  return value;
}

/** The eight 16-bit groups of an IPv6 address (no brackets; a `%zone` is ignored), or null. */
function parseIpv6(text: string): number[] | null {
  const zone = text.indexOf("%");
  if (zone !== -1) text = text.slice(0, zone);
  if (!text.includes(":")) return null;
  const lastColon = text.lastIndexOf(":");
  const last = text.slice(lastColon + 1);
  if (last.includes(".")) {
    // An IPv4 tail (`::ffff:127.0.0.1`) stands for the last two groups.
    const v4 = parseIpv4(last);
    if (v4 === null) return null;
    const hex = (n: number) => n.toString(16);
    text = `${text.slice(0, lastColon + 1)}${hex(Math.floor(v4 / 65536))}:${hex(v4 % 65536)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (half: string) => half === "" ? [] : half.split(":");
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  const numbers: number[] = [];
  for (const group of [...head, ...rest]) {
    if (!/^[\da-fA-F]{1,4}$/.test(group)) return null;
    numbers.push(parseInt(group, 16));
  }
  const missing = 8 - numbers.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  return [
    ...numbers.slice(0, head.length),
    ...new Array<number>(missing).fill(0),
    ...numbers.slice(head.length),
  ];
}

/**
 * `4` or `6` for an IP address literal in canonical form (IPv6 without brackets), `0` for
 * anything else (a name).
 *
 * @example
 * ```ts
 * import { ipFamily } from "@pooled/http";
 * console.log(ipFamily("127.0.0.1"), ipFamily("::ffff:127.0.0.1"), ipFamily("127.1")); // 4 6 0
 * ```
 */
export function ipFamily(address: string): 0 | 4 | 6 {
  if (parseIpv4(address) !== null) return 4;
  return parseIpv6(address) !== null ? 6 : 0;
}

/** `[base, prefix length]` of the IPv4 blocks that are not public unicast. */
const PRIVATE_V4: readonly (readonly [string, number])[] = [
  ["0.0.0.0", 8], // "this network", 0.0.0.0 included
  ["10.0.0.0", 8], // RFC 1918
  ["100.64.0.0", 10], // carrier-grade NAT (RFC 6598)
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local (cloud metadata services live here)
  ["172.16.0.0", 12], // RFC 1918
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.0.2.0", 24], // documentation
  ["192.168.0.0", 16], // RFC 1918
  ["198.18.0.0", 15], // benchmarking
  ["198.51.100.0", 24], // documentation
  ["203.0.113.0", 24], // documentation
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, 255.255.255.255 included
];

const PRIVATE_V4_RANGES = PRIVATE_V4.map(([base, bits]) => {
  const size = 2 ** (32 - bits);
  return [parseIpv4(base)!, size] as const;
});

function isPrivateV4(value: number): boolean {
  return PRIVATE_V4_RANGES.some(([base, size]) => value >= base && value < base + size);
}

/** The IPv4 address in the last 32 bits of `groups`. */
function embeddedV4(groups: readonly number[], at = 6): number {
  return groups[at] * 65536 + groups[at + 1];
}

function isPrivateV6(g: readonly number[]): boolean {
  const zeroUntil = (end: number) => g.slice(0, end).every((group) => group === 0);
  if (zeroUntil(6)) return true; // ::, ::1 and the IPv4-compatible ::a.b.c.d (deprecated)
  if (zeroUntil(5) && g[5] === 0xffff) return isPrivateV4(embeddedV4(g)); // ::ffff:a.b.c.d
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) {
    return isPrivateV4(embeddedV4(g)); // NAT64 64:ff9b::a.b.c.d
  }
  if (g[0] === 0x2002) return isPrivateV4(embeddedV4(g, 1)); // 6to4 2002:aabb:ccdd::
  if ((g[0] & 0xfe00) === 0xfc00) return true; // unique-local fc00::/7
  if ((g[0] & 0xffc0) === 0xfe80 || (g[0] & 0xffc0) === 0xfec0) return true; // link/site-local
  if ((g[0] & 0xff00) === 0xff00) return true; // multicast
  if (g[0] === 0x2001 && g[1] === 0x0db8) return true; // documentation
  return g[0] === 0x0100 && g[1] === 0 && g[2] === 0 && g[3] === 0; // discard 100::/64
}

/**
 * True for an address `denyPrivateAddresses` refuses: anything that is not public unicast.
 * IPv4: `0.0.0.0/8`, loopback `127/8`, RFC 1918 (`10/8`, `172.16/12`, `192.168/16`), CGNAT
 * `100.64/10`, link-local `169.254/16`, multicast and reserved (`224/3`), and the
 * documentation, benchmarking and protocol blocks. IPv6: `::`, `::1`, unique-local
 * `fc00::/7`, link-local `fe80::/10`, site-local `fec0::/10`, multicast `ff00::/8`,
 * documentation `2001:db8::/32`, discard `100::/64`, and the forms that carry an IPv4
 * address (`::ffff:a.b.c.d`, `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`), judged by
 * that address. Anything that is not a canonical IP literal is refused too.
 *
 * @example Keep the built-in rule inside an allowAddress of your own
 * ```ts
 * import { isPrivateAddress } from "@pooled/http";
 * console.log(isPrivateAddress("127.0.0.1"), isPrivateAddress("::ffff:10.1.2.3")); // true true
 * console.log(isPrivateAddress("93.184.215.14")); // false
 * ```
 */
export function isPrivateAddress(address: string): boolean {
  const v4 = parseIpv4(address);
  if (v4 !== null) return isPrivateV4(v4);
  const v6 = parseIpv6(address);
  return v6 === null || isPrivateV6(v6);
}
