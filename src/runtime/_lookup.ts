/**
 * Host name resolution with the system resolver (`node:dns`, which Node, Deno and Bun all
 * ship; imported on first use), shared by the adapters: the default `lookup` of every
 * connection.
 *
 * @module
 */

import { NameResolutionError } from "../errors.ts";
import type { LookupAddress, LookupOptions } from "../network/network_options.ts";

interface NodeDns {
  promises: {
    lookup(
      hostname: string,
      options: { all: true; family: number },
    ): Promise<{ address: string; family: number }[]>;
  };
}

let dns: Promise<NodeDns> | undefined;

/** Resolves a host name with the system resolver (`/etc/hosts` included). */
export async function lookupHost(hostname: string): Promise<string> {
  return (await systemLookup(hostname, { family: 0 }))[0].address;
}

/**
 * Every address of a host name, in the system resolver's order (`/etc/hosts` included);
 * never empty. Fails with a `NameResolutionError`.
 */
export async function systemLookup(
  hostname: string,
  options: LookupOptions,
): Promise<LookupAddress[]> {
  const name = "node:dns";
  dns ??= import(name) as Promise<NodeDns>;
  let found: { address: string; family: number }[];
  try {
    found = await (await dns).promises.lookup(hostname, { all: true, family: options.family });
  } catch (error) {
    throw new NameResolutionError(
      `Failed to resolve '${hostname}' (${(error as Error).message})`,
      { cause: error },
    );
  }
  if (found.length === 0) {
    throw new NameResolutionError(`Failed to resolve '${hostname}' (no address)`);
  }
  return found.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }));
}
