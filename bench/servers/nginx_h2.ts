/**
 * Runs nginx as the HTTP/2 benchmark server: one TLS listener that offers `h2` and `http/1.1`
 * by ALPN, `hello world\n` at `/` and the 1 MiB file at `/large`, one worker, with every
 * response saying which protocol nginx spoke (`X-Protocol: HTTP/2.0` or `HTTP/1.1`), so a
 * client whose responses do not tell (a runtime's `fetch`) can be checked too.
 *
 * @module
 */

import { type NginxBinary, startNginx as startNginxProcess } from "../../tests/_nginx.ts";
import { unusedPort } from "../../tests/_servers.ts";
import { BODY, LARGE_FILE, LARGE_PATH } from "./server.ts";
import { NGINX_WORKERS } from "./nginx.ts";
import type { SelfSignedCert } from "../lib/self_signed.ts";

/** The response header that names the protocol nginx spoke (`$server_protocol`). */
export const PROTOCOL_HEADER = "x-protocol";

/** A running HTTP/2 benchmark server (a separate process). */
export interface H2BenchServer {
  /** What serves, for the report: `nginx 1.22.1 (1 worker, http2)`. */
  description: string;
  /** `https://127.0.0.1:PORT/`: the small body. */
  smallUrl: string;
  /** `https://127.0.0.1:PORT/large`: the 1 MiB body. */
  largeUrl: string;
  /** Stops the server process and waits for it to exit. */
  close(): Promise<void>;
}

/**
 * Whether nginx `version` has the `http2 on` directive (1.25.1 and later); older ones turn
 * HTTP/2 on with the `http2` parameter of `listen`.
 */
export function hasHttp2Directive(version: string): boolean {
  const [major = 0, minor = 0, patch = 0] = version.split(".").map(Number);
  return major > 1 || (major === 1 && (minor > 25 || (minor === 25 && patch >= 1)));
}

/**
 * The `http { }` block: a TLS listener on `port` with HTTP/2 (as nginx `version` spells it),
 * `/` answering `hello world\n` and `/large` the file `LARGE_FILE` of `dir`, both with the
 * protocol header. nginx's HTTP/2 defaults stay (128 concurrent streams per connection).
 */
export function nginxH2HttpBlock(
  port: number,
  cert: SelfSignedCert,
  dir: string,
  version: string,
): string {
  const body = BODY.replace("\n", "\\n");
  const modern = hasHttp2Directive(version);
  return `  keepalive_requests 1000000;
  keepalive_timeout 75s;
  sendfile on;
  server {
    listen 127.0.0.1:${port} ssl${modern ? "" : " http2"};${modern ? "\n    http2 on;" : ""}
    ssl_certificate ${cert.certFile};
    ssl_certificate_key ${cert.keyFile};
    ssl_protocols TLSv1.2 TLSv1.3;
    add_header X-Protocol $server_protocol always;
    location = / {
      default_type text/plain;
      return 200 "${body}";
    }
    location = ${LARGE_PATH} {
      default_type application/octet-stream;
      alias ${dir}/${LARGE_FILE};
    }
  }`;
}

/**
 * Starts nginx with HTTP/2 over TLS, its configuration written into `dir` (a fresh temporary
 * directory that holds the large body as `LARGE_FILE`).
 *
 * @throws {Error} when nginx fails to start; the error includes its error log.
 */
export async function startNginxH2(
  nginx: NginxBinary,
  dir: string,
  cert: SelfSignedCert,
): Promise<H2BenchServer> {
  const port = await unusedPort();
  const running = await startNginxProcess(nginx, {
    dir,
    ports: [port],
    http: nginxH2HttpBlock(port, cert, dir, nginx.version),
    workers: NGINX_WORKERS,
    workerConnections: 4096,
  });
  return {
    description: `nginx ${nginx.version} (${NGINX_WORKERS} worker, HTTP/2 and HTTP/1.1 over TLS)`,
    smallUrl: `https://127.0.0.1:${port}/`,
    largeUrl: `https://127.0.0.1:${port}${LARGE_PATH}`,
    close: () => running.stop(),
  };
}
