/**
 * Child process of `secrets_test.ts`: connects to the HTTPS test server at the port given
 * as the first argument while trusting only an unrelated CA, in three ways (the runtime's
 * connector, the node:tls connector, and without the hostname check), and prints one JSON
 * line per way: the error's class and code, or the status if the request went through.
 * The parent sets `NODE_TLS_REJECT_UNAUTHORIZED=0` (and the like) in this process's
 * environment: verification must not notice.
 *
 * @module
 */

import { WRONG_CA_CERT } from "../_certs.ts";
import {
  type ConnectionPoolOptions,
  HTTPSConnectionPool,
  MaxRetryError,
  nodeConnector,
} from "../../mod.ts";

const port = Number((globalThis as { process?: { argv: string[] } }).process?.argv.at(-1));
const ways: Record<string, ConnectionPoolOptions> = {
  default: {},
  node: { connector: nodeConnector },
  noHostnameCheck: { assertHostname: false },
};
for (const [way, options] of Object.entries(ways)) {
  const pool = new HTTPSConnectionPool("localhost", {
    port,
    caCerts: [WRONG_CA_CERT],
    retries: false,
    ...options,
  });
  try {
    const response = await pool.request("GET", "/");
    console.log(JSON.stringify({ way, status: response.status }));
  } catch (error) {
    const reason = error instanceof MaxRetryError ? error.reason : error;
    const e = reason as Error & { code?: string };
    console.log(JSON.stringify({ way, error: e.name, code: e.code }));
  } finally {
    await pool.close();
  }
}
