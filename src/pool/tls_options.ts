/**
 * The TLS options of HTTPS pools and managers, checked once and turned into the settings a
 * connector uses (`TlsConnectOptions`).
 *
 * @module
 */

import type { TlsConnectOptions, TlsVersion } from "../runtime/socket.ts";
import { normalizeFingerprint } from "../runtime/_tls_verify.ts";
import { unbracketHost } from "../_host.ts";

/** TLS options of HTTPS pools and managers (ignored by HTTP pools). */
export interface TlsOptions {
  /** Extra trusted roots (PEM), added to the runtime's trust store. */
  caCerts?: readonly string[];
  /** `"CERT_REQUIRED"` (default) verifies the server; `"CERT_NONE"` does not. */
  certReqs?: "CERT_REQUIRED" | "CERT_NONE";
  /** Client certificate chain (PEM). */
  cert?: string;
  /** Client private key (PEM). */
  key?: string;
  /** Name for SNI and verification instead of the host connected to. */
  serverHostname?: string;
  /**
   * `false` skips the hostname check (the chain is still verified); a name checks the
   * certificate against that name instead (SNI stays `serverHostname` or the host).
   */
  assertHostname?: string | false;
  /**
   * Pins the server certificate: its SHA-256, SHA-1 or MD5 digest in hex (colons and
   * case ignored). Replaces the hostname check and works with `certReqs: "CERT_NONE"`.
   */
  assertFingerprint?: string;
  /** Minimum TLS version (default `"TLSv1.2"`). */
  minVersion?: TlsVersion;
}

/** Option names that only matter to HTTPS pools (HTTP pools and their keys drop them). */
export const TLS_OPTION_NAMES: ReadonlySet<string> = new Set([
  "caCerts",
  "certReqs",
  "cert",
  "key",
  "serverHostname",
  "assertHostname",
  "assertFingerprint",
  "minVersion",
]);

const CERT_REQS = ["CERT_REQUIRED", "CERT_NONE"];
const TLS_VERSIONS: readonly string[] = ["TLSv1.2", "TLSv1.3"];

/** A host name as TLS uses it: no IPv6 brackets or zone, no trailing dot. */
function tlsName(host: string): string {
  return unbracketHost(host).replace(/%.*$/, "").replace(/\.$/, "");
}

/** ALPN offer with HTTP/2: the server picks. */
const OFFER_H2: readonly string[] = ["h2", "http/1.1"];
/** ALPN offer without HTTP/2. */
const OFFER_HTTP1: readonly string[] = ["http/1.1"];

/**
 * Builds the TLS settings of connections to `hostname` from TLS options (those of an
 * HTTPS pool, or `proxyTls` for the proxy leg); `http2` offers `h2` before `http/1.1`
 * with ALPN, otherwise only `http/1.1` is offered. Throws a `TypeError` or `RangeError`
 * naming a bad option and its value.
 */
export function resolveTls(
  hostname: string,
  options: TlsOptions,
  http2 = false,
): TlsConnectOptions {
  const certReqs = options.certReqs ?? "CERT_REQUIRED";
  if (!CERT_REQS.includes(certReqs)) {
    throw new RangeError(
      `certReqs must be "CERT_REQUIRED" or "CERT_NONE": ${JSON.stringify(certReqs)}`,
    );
  }
  const minVersion = options.minVersion ?? "TLSv1.2";
  if (!TLS_VERSIONS.includes(minVersion)) {
    throw new RangeError(
      `minVersion must be "TLSv1.2" or "TLSv1.3": ${JSON.stringify(minVersion)}`,
    );
  }
  const { assertHostname, assertFingerprint } = options;
  if (
    assertHostname !== undefined && assertHostname !== false && typeof assertHostname !== "string"
  ) {
    throw new TypeError(
      `assertHostname must be a host name or false: ${JSON.stringify(assertHostname)}`,
    );
  }
  const fingerprint = assertFingerprint === undefined
    ? undefined
    : normalizeFingerprint(assertFingerprint);
  return {
    serverName: tlsName(options.serverHostname ?? hostname),
    verify: certReqs === "CERT_REQUIRED",
    // A pinned fingerprint replaces the name check, as in urllib3.
    checkHostname: assertHostname !== false && fingerprint === undefined,
    assertHostname: typeof assertHostname === "string" ? tlsName(assertHostname) : undefined,
    fingerprint,
    minVersion: minVersion as TlsVersion,
    caCerts: options.caCerts,
    cert: options.cert,
    key: options.key,
    alpnProtocols: http2 ? OFFER_H2 : OFFER_HTTP1,
  };
}
