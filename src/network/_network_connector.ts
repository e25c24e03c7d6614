/**
 * A pool's network options applied to its connector: each connection is resolved, checked
 * and raced by the shared dialer before the connector opens one socket to one address.
 * Proxy pools are made with connectors that apply the options themselves
 * ({@linkcode proxyLegConnector}, {@linkcode checkedTunnel}), which pools use as they are.
 *
 * @module
 */

import { AddressNotAllowedError } from "../errors.ts";
import type { Connector } from "../runtime/socket.ts";
import { allowedAddresses, dial, type DialSettings } from "./_dialer.ts";
import { ipFamily } from "./ip_address.ts";

/** Connectors that already apply their pool's network options. */
const applied = new WeakSet<Connector>();

/** `connector`, marked as applying the network options of the pool it is made for. */
export function appliesNetworkOptions(connector: Connector): Connector {
  applied.add(connector);
  return connector;
}

/**
 * `base` with `settings` applied to each connection it opens (`base` itself when there are
 * none, or when it already applies them). `checkConnects: false` leaves the address policy
 * out of its connections (a proxy's own address, which the caller chose) but not out of
 * its `lookup`, which resolves targets (SOCKS4 and SOCKS5 resolve them locally).
 */
export function networkConnector(
  base: Connector,
  settings: DialSettings | null,
  checkConnects = true,
): Connector {
  if (settings === null || applied.has(base)) return base;
  const connects = checkConnects ? settings : { ...settings, allows: null };
  return {
    name: base.name,
    connect: (options) => dial(options, (one) => base.connect(one), connects),
    startTls: base.startTls?.bind(base),
    lookup: async (hostname, port = 0) => (await allowedAddresses(hostname, port, settings))[0],
  };
}

/**
 * A tunnelling connector (`CONNECT`, SOCKS) whose target is refused before the tunnel is
 * opened when it is an IP literal the address policy refuses. A target name is resolved
 * by the proxy, or by the SOCKS connector's `lookup`, which checks what it resolves.
 */
export function checkedTunnel(tunnel: Connector, settings: DialSettings | null): Connector {
  const allows = settings?.allows ?? null;
  if (allows === null) return appliesNetworkOptions(tunnel);
  return appliesNetworkOptions({
    name: tunnel.name,
    connect: (options) => {
      const target = options.hostname;
      if (ipFamily(target) !== 0 && allows(target, target) !== true) {
        return Promise.reject(new AddressNotAllowedError(target, target));
      }
      return tunnel.connect(options);
    },
    startTls: tunnel.startTls?.bind(tunnel),
    lookup: tunnel.lookup?.bind(tunnel),
  });
}
