/**
 * Hosts in their two spellings: bare, as sockets, TLS and SOCKS take them (`::1`), and
 * bracketed, as URLs, `Host` headers and `host:port` authorities write an IPv6 address
 * (`[::1]`, RFC 3986 section 3.2.2).
 *
 * @module
 */

/** `host` with IPv6 brackets, once: `::1` gives `[::1]`; names and IPv4 are unchanged. */
export function bracketHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/** `host` without IPv6 brackets: `[::1]` gives `::1`; other hosts are unchanged. */
export function unbracketHost(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/** `host:port`, an IPv6 host in brackets (`[::1]:443`), as CONNECT and messages write it. */
export function hostPort(host: string, port: number): string {
  return `${bracketHost(host)}:${port}`;
}
