/**
 * Test certificates from `tests/fixtures/` (regenerate with `tests/fixtures/generate.sh`).
 * All are PEM strings, valid for 100 years.
 *
 * ```ts
 * import { CA_CERT, SERVER_CERT, SERVER_KEY } from "./_certs.ts";
 * const server = await serveHttp(handler, { tls: { cert: SERVER_CERT, key: SERVER_KEY } });
 * // the client trusts CA_CERT; the certificate covers localhost, 127.0.0.1 and ::1
 * ```
 *
 * @module
 */

import { readFileSync } from "node:fs";

function fixture(name: string): string {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8");
}

/** The test CA that signed {@linkcode SERVER_CERT} and {@linkcode CLIENT_CERT}. */
export const CA_CERT: string = fixture("ca.pem");
/** The private key of {@linkcode CA_CERT}. */
export const CA_KEY: string = fixture("ca-key.pem");
/** Server certificate for `localhost`, `127.0.0.1` and `::1`, signed by {@linkcode CA_CERT}. */
export const SERVER_CERT: string = fixture("server.pem");
/** The private key (PKCS#8) of {@linkcode SERVER_CERT}. */
export const SERVER_KEY: string = fixture("server-key.pem");
/** Client certificate (`CN=pooled-test-client`), signed by {@linkcode CA_CERT}. */
export const CLIENT_CERT: string = fixture("client.pem");
/** The private key (PKCS#8) of {@linkcode CLIENT_CERT}. */
export const CLIENT_KEY: string = fixture("client-key.pem");
/** An unrelated self-signed CA: trusting only it must make verification fail. */
export const WRONG_CA_CERT: string = fixture("wrong-ca.pem");

/** The server's certificate and key, ready for `serveHttp(..., { tls: SERVER_TLS })`. */
export const SERVER_TLS: { cert: string; key: string } = { cert: SERVER_CERT, key: SERVER_KEY };

/**
 * A server certificate whose only name is its subject `CN=localhost` (no subjectAltName),
 * signed by {@linkcode CA_CERT}: names are matched against subjectAltName only, so it
 * fits no host.
 */
export const CN_ONLY_TLS: { cert: string; key: string } = {
  cert: fixture("cn-only.pem"),
  key: fixture("cn-only-key.pem"),
};
