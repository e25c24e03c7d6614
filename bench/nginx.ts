/**
 * Runs nginx as the benchmark server: a temporary configuration answering `hello world\n` at
 * `/` over plain HTTP and over TLS, with keep-alive and no access log. Finding, configuring,
 * starting and stopping nginx is shared with the tests (`tests/_nginx.ts`).
 *
 * @module
 */

import { type NginxBinary, startNginx as startNginxProcess } from "../tests/_nginx.ts";
import { unusedPort } from "../tests/_servers.ts";
import { type BenchServer, BODY } from "./server.ts";
import type { SelfSignedCert } from "./self_signed.ts";

export { findNginx } from "../tests/_nginx.ts";

/** How many nginx worker processes serve: one leaves the other core(s) to the client. */
export const NGINX_WORKERS = 1;

/** The `http { }` block of the two listeners. */
export function nginxHttpBlock(plainPort: number, tlsPort: number, cert: SelfSignedCert): string {
  const body = BODY.replace("\n", "\\n");
  return `  keepalive_requests 1000000;
  keepalive_timeout 75s;
  server {
    listen 127.0.0.1:${plainPort};
    listen 127.0.0.1:${tlsPort} ssl;
    ssl_certificate ${cert.certFile};
    ssl_certificate_key ${cert.keyFile};
    ssl_protocols TLSv1.2 TLSv1.3;
    location = / {
      default_type text/plain;
      return 200 "${body}";
    }
  }`;
}

/**
 * Starts nginx with a configuration written into `dir` (a fresh temporary directory).
 *
 * @throws {Error} when nginx fails to start; the error includes its error log.
 */
export async function startNginx(
  nginx: NginxBinary,
  dir: string,
  cert: SelfSignedCert,
): Promise<BenchServer> {
  const plainPort = await unusedPort();
  const tlsPort = await unusedPort();
  const running = await startNginxProcess(nginx, {
    dir,
    ports: [plainPort, tlsPort],
    http: nginxHttpBlock(plainPort, tlsPort, cert),
    workers: NGINX_WORKERS,
    workerConnections: 4096,
  });
  return {
    description: `nginx ${nginx.version} (${NGINX_WORKERS} worker)`,
    plainUrl: `http://127.0.0.1:${plainPort}/`,
    tlsUrl: `https://127.0.0.1:${tlsPort}/`,
    close: () => running.stop(),
  };
}
