/**
 * Maps the errors of each runtime's socket API onto the library's typed errors, so the
 * engine sees the same classes whichever runtime it runs on.
 *
 * @module
 */

import { NameResolutionError, NewConnectionError, SSLError } from "../errors.ts";
import { hostPort } from "../_host.ts";

interface SystemErrorLike {
  name?: string;
  code?: string;
  message?: string;
}

const DNS_CODES = new Set(["ENOTFOUND", "EAI_AGAIN", "EAI_NONAME", "EAI_FAIL", "DNSException"]);
const DNS_PATTERN = /lookup address|name or service not known|getaddrinfo|dns/i;
const TLS_PATTERN =
  /certificate|\bcert\b|tls|ssl|handshake|self[- ]signed|issuer|altname|verify|x509|hostname/i;

function describe(error: unknown): SystemErrorLike {
  return (typeof error === "object" && error !== null
    ? error
    : { message: String(error) }) as SystemErrorLike;
}

/** True when `error` looks like a TLS failure from any runtime. */
export function isTlsFailure(error: unknown): boolean {
  const e = describe(error);
  return TLS_PATTERN.test(`${e.code ?? ""} ${e.name ?? ""} ${e.message ?? ""}`);
}

const HOSTNAME_MISMATCH = /ALTNAME|NotValidForName|not valid for name|hostname|does not match/i;
const UNKNOWN_CA = /ISSUER|LEAF_SIGNATURE|SELF_SIGNED|UnknownIssuer|unknown ca/i;

/** The cause in words, before the runtime's own text: what a caller needs to act on. */
function tlsCause(detail: string): string {
  if (HOSTNAME_MISMATCH.test(detail)) return "hostname mismatch: ";
  if (UNKNOWN_CA.test(detail)) return "certificate verify failed: unknown CA: ";
  return "";
}

/** Wraps a TLS handshake or verification failure (an `SSLError` passes unchanged). */
export function tlsError(error: unknown, hostname: string, port: number): SSLError {
  if (error instanceof SSLError) return error;
  const e = describe(error);
  const detail = [e.code, e.message].filter(Boolean).join(": ");
  return new SSLError(
    `TLS handshake with ${hostPort(hostname, port)} failed: ${tlsCause(detail)}${detail}`,
    {
      cause: error,
    },
  );
}

/**
 * Wraps a failure to open a TCP connection (or a TLS one: `tls` says whether TLS was
 * being set up, so that certificate errors become {@linkcode SSLError}s).
 */
export function connectError(
  error: unknown,
  hostname: string,
  port: number,
  tls: boolean,
): Error {
  const e = describe(error);
  const text = `${e.code ?? ""} ${e.name ?? ""} ${e.message ?? ""}`;
  const dnsCode = e.code !== undefined && DNS_CODES.has(e.code);
  // TLS before the DNS wording: a certificate message says "DNS:name" for its SANs.
  if (error instanceof SSLError) return error;
  if (tls && !dnsCode && isTlsFailure(error)) return tlsError(error, hostname, port);
  if (dnsCode || DNS_PATTERN.test(text)) {
    return new NameResolutionError(
      `Failed to resolve '${hostname}' (${e.message ?? e.code})`,
      { cause: error },
    );
  }
  return new NewConnectionError(
    `Failed to establish a new connection to ${hostPort(hostname, port)}: ${
      e.code ?? e.name ?? "Error"
    }: ${e.message ?? ""}`,
    { cause: error },
  );
}

/** What a runtime threw or rejected with, as an `Error` (a non-Error value becomes its text). */
export function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** The error to reject with when a signal aborted a connection attempt. */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error
    ? reason
    : new DOMException("The operation was aborted.", "AbortError");
}
