/**
 * Runs nginx as the benchmark server: a temporary configuration answering `hello world\n` at
 * `/` over plain HTTP and over TLS, with keep-alive and no access log.
 *
 * @module
 */

import { type BenchServer, BODY, freePort, stopProcess, waitForPort } from "./server.ts";
import type { SelfSignedCert } from "./self_signed.ts";

const CANDIDATES = [
  "nginx",
  "/usr/sbin/nginx",
  "/usr/local/sbin/nginx",
  "/usr/local/nginx/sbin/nginx",
];

/** How many nginx worker processes serve: one leaves the other core(s) to the client. */
export const NGINX_WORKERS = 1;

/** Returns the nginx binary and its version, or null when nginx is not installed. */
export async function findNginx(): Promise<{ path: string; version: string } | null> {
  for (const path of CANDIDATES) {
    try {
      const out = await new Deno.Command(path, { args: ["-v"], stdout: "piped", stderr: "piped" })
        .output();
      const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
      const version = /nginx\/(\S+)/.exec(text)?.[1];
      if (out.success && version) return { path, version };
    } catch {
      // not there: try the next place
    }
  }
  return null;
}

/** The nginx configuration for the two listeners. */
export function nginxConfig(
  dir: string,
  plainPort: number,
  tlsPort: number,
  cert: SelfSignedCert,
): string {
  const body = BODY.replace("\n", "\\n");
  return `worker_processes ${NGINX_WORKERS};
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events {
  worker_connections 4096;
}
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  server_tokens off;
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
  }
}
`;
}

/**
 * Starts nginx with a configuration written into `dir` (a fresh temporary directory).
 *
 * @throws {Error} when nginx fails to start; the error includes its error log.
 */
export async function startNginx(
  nginx: { path: string; version: string },
  dir: string,
  cert: SelfSignedCert,
): Promise<BenchServer> {
  const plainPort = freePort();
  const tlsPort = freePort();
  const confFile = `${dir}/nginx.conf`;
  await Deno.writeTextFile(confFile, nginxConfig(dir, plainPort, tlsPort, cert));
  const child = new Deno.Command(nginx.path, {
    args: ["-p", dir, "-c", confFile, "-e", `${dir}/error.log`],
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  try {
    await Promise.race([
      Promise.all([waitForPort(plainPort), waitForPort(tlsPort)]),
      child.status.then((status) => {
        throw new Error(`nginx exited with code ${status.code}`);
      }),
    ]);
  } catch (error) {
    await stopProcess(child);
    const log = await Deno.readTextFile(`${dir}/error.log`).catch(() => "");
    throw new Error(`nginx did not start: ${error}\n${log}`);
  }
  return {
    description: `nginx ${nginx.version} (${NGINX_WORKERS} worker)`,
    plainUrl: `http://127.0.0.1:${plainPort}/`,
    tlsUrl: `https://127.0.0.1:${tlsPort}/`,
    close: () => stopProcess(child),
  };
}
