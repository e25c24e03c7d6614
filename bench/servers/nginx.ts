/**
 * Runs nginx as the benchmark server: a temporary configuration answering `hello world\n` at
 * `/` over plain HTTP and over TLS, a 1 MiB file at `/large` and `POST /post` (see
 * {@linkcode nginxHttpBlock}), with keep-alive and no access log. Finding, configuring,
 * starting and stopping nginx is shared with the tests (`tests/_nginx.ts`).
 *
 * @module
 */

import { type NginxBinary, startNginx as startNginxProcess } from "../../tests/_nginx.ts";
import { unusedPort } from "../../tests/_servers.ts";
import {
  type BenchServer,
  BODY,
  LARGE_FILE,
  LARGE_PATH,
  POST_BODY_BYTES,
  POST_PATH,
} from "./server.ts";
import type { SelfSignedCert } from "../lib/self_signed.ts";

export { findNginx } from "../../tests/_nginx.ts";

/** The internal location whose mirror subrequest makes nginx read a POST body first. */
const READ_BODY_PATH = "/_read_body";

/** How many nginx worker processes serve: one leaves the other core(s) to the client. */
export const NGINX_WORKERS = 1;

/**
 * The `http { }` block of the two listeners: `/` answers `hello world\n`, `/large` the file
 * `LARGE_FILE` of `dir`, and `POST /post` reads the whole request body, then answers
 * `hello world\n` on the same kept-alive connection. (`return` alone would answer as soon as
 * the head arrives and discard the body afterwards.)
 */
export function nginxHttpBlock(
  plainPort: number,
  tlsPort: number,
  cert: SelfSignedCert,
  dir: string,
): string {
  const body = BODY.replace("\n", "\\n");
  return `  keepalive_requests 1000000;
  keepalive_timeout 75s;
  sendfile on;
  client_max_body_size ${4 * POST_BODY_BYTES};
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
    location = ${LARGE_PATH} {
      default_type application/octet-stream;
      alias ${dir}/${LARGE_FILE};
    }
    # POST: the mirror reads the whole request body (into memory) before the content
    # phase; the static handler then refuses POST with 405 (after finding the file), and
    # error_page turns that into the small reply. So the reply waits for the whole body.
    location = ${POST_PATH} {
      client_body_buffer_size ${2 * POST_BODY_BYTES};
      mirror ${READ_BODY_PATH};
      mirror_request_body on;
      alias ${dir}/${LARGE_FILE};
      error_page 405 =200 @small_reply;
    }
    location = ${READ_BODY_PATH} {
      internal;
      return 204;
    }
    location @small_reply {
      default_type text/plain;
      return 200 "${body}";
    }
  }`;
}

/**
 * Starts nginx with a configuration written into `dir` (a fresh temporary directory that
 * holds the large body as `LARGE_FILE`).
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
    http: nginxHttpBlock(plainPort, tlsPort, cert, dir),
    workers: NGINX_WORKERS,
    workerConnections: 4096,
  });
  return {
    description: `nginx ${nginx.version} (${NGINX_WORKERS} worker)`,
    plainUrl: `http://127.0.0.1:${plainPort}/`,
    tlsUrl: `https://127.0.0.1:${tlsPort}/`,
    largeUrl: `http://127.0.0.1:${plainPort}${LARGE_PATH}`,
    postUrl: `http://127.0.0.1:${plainPort}${POST_PATH}`,
    close: () => running.stop(),
  };
}
