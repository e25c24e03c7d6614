/**
 * One connection per attempt to a host name with several addresses: the adapter resolves
 * the name, then {@linkcode dialInTurn} tries the addresses one at a time, going to the
 * next only when one refuses (or cannot be reached). The connection a caller gets is the
 * only one opened, so nothing is sent twice and no handshake is wasted.
 *
 * @module
 */

import { NameResolutionError, NewConnectionError } from "../errors.ts";

/** True for an IPv4 or IPv6 address literal (IPv6 without brackets), false for a name. */
export function isIpAddress(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(":");
}

/**
 * Runs `attempt` on each address in order until one connects, and returns that
 * connection. A failure to connect (`NewConnectionError`) moves on to the next address;
 * anything else (a TLS failure, an abort, a timeout) ends the dial at once. When every
 * address fails, the last failure is thrown. `addresses` holds at least one.
 */
export async function dialInTurn<T>(
  addresses: readonly string[],
  attempt: (address: string) => Promise<T>,
): Promise<T> {
  let failure: unknown;
  for (const address of addresses) {
    try {
      return await attempt(address);
    } catch (error) {
      if (!(error instanceof NewConnectionError) || error instanceof NameResolutionError) {
        throw error;
      }
      failure = error;
    }
  }
  throw failure;
}
