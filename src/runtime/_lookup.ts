/**
 * Host name resolution with the system resolver (`node:dns`, which Node, Deno and Bun all
 * ship; imported on first use), shared by the adapters.
 *
 * @module
 */

import { NameResolutionError } from "../errors.ts";

interface NodeDns {
  promises: {
    lookup(hostname: string, options: { all: true }): Promise<{ address: string }[]>;
  };
}

let dns: Promise<NodeDns> | undefined;

/** Resolves a host name with the system resolver (`/etc/hosts` included). */
export async function lookupHost(hostname: string): Promise<string> {
  return (await lookupAddresses(hostname))[0];
}

/**
 * Every address of a host name, in the system resolver's order (`/etc/hosts` included);
 * never empty. Fails with a `NameResolutionError`.
 */
export async function lookupAddresses(hostname: string): Promise<string[]> {
  const name = "node:dns";
  dns ??= import(name) as Promise<NodeDns>;
  let found: { address: string }[];
  try {
    found = await (await dns).promises.lookup(hostname, { all: true });
  } catch (error) {
    throw new NameResolutionError(
      `Failed to resolve '${hostname}' (${(error as Error).message})`,
      { cause: error },
    );
  }
  if (found.length === 0) {
    throw new NameResolutionError(`Failed to resolve '${hostname}' (no address)`);
  }
  return found.map((entry) => entry.address);
}
