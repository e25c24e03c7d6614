/**
 * Checks a server certificate after the handshake, for the adapters whose TLS hands out
 * the peer certificate (`node:tls`, Bun): the chain verdict of the TLS library, then the
 * pinned fingerprint or the name. One place, so every adapter fails with the same
 * {@linkcode SSLError} messages: unknown CA, hostname mismatch, fingerprint mismatch.
 * Names are matched against subjectAltName only, never the subject CN (RFC 6125), which
 * is also what Deno's native TLS does.
 *
 * @module
 */

import { SSLError } from "../errors.ts";
import type { TlsConnectOptions } from "./socket.ts";

/** What the adapters know about the peer's certificate (`getPeerCertificate()`). */
export interface PeerCertificate {
  /** The DER bytes. */
  readonly raw?: Uint8Array;
  /** `DNS:a, IP Address:b` (what `checkServerIdentity` reads). */
  readonly subjectaltname?: string;
}

interface NodeCrypto {
  createHash(algorithm: string): {
    update(data: Uint8Array): { digest(encoding: "hex"): string };
  };
}

interface NodeTlsIdentity {
  checkServerIdentity(hostname: string, cert: { subjectaltname: string }): Error | undefined;
}

/** The `node:` modules the checks use, loaded once before the first handshake. */
export interface TlsVerifier {
  readonly crypto: NodeCrypto;
  readonly tls: NodeTlsIdentity;
}

let verifier: Promise<TlsVerifier> | undefined;

/** Loads what {@linkcode verifyPeer} needs (a runtime built-in: `node:crypto`, `node:tls`). */
export function loadTlsVerifier(): Promise<TlsVerifier> {
  // Computed specifiers keep bundlers and type checkers from pulling these in statically.
  const load = (name: string) => import(`node:${name}`);
  verifier ??= Promise.all([load("crypto"), load("tls")]).then(([crypto, tls]) => ({
    crypto: crypto as NodeCrypto,
    tls: tls as NodeTlsIdentity,
  }));
  return verifier;
}

const DIGEST_BY_LENGTH: Record<number, string> = { 32: "md5", 40: "sha1", 64: "sha256" };

/**
 * The canonical form of an `assertFingerprint` value: lower-case hex without colons.
 * Throws a `RangeError` naming the value when it is not an MD5, SHA-1 or SHA-256 digest.
 */
export function normalizeFingerprint(fingerprint: string): string {
  const hex = fingerprint.replaceAll(":", "").toLowerCase();
  if (!/^[0-9a-f]*$/.test(hex) || !(hex.length in DIGEST_BY_LENGTH)) {
    throw new RangeError(
      `assertFingerprint must be an MD5, SHA-1 or SHA-256 digest in hex (32, 40 or 64 digits, colons allowed): ${
        JSON.stringify(fingerprint)
      }`,
    );
  }
  return hex;
}

/** The SNI to send for `serverName`: none for an IP address (RFC 6066 section 3). */
export function sniName(serverName: string): string | undefined {
  const isIpAddress = /^[\d.]+$/.test(serverName) || serverName.includes(":");
  return isIpAddress ? undefined : serverName;
}

/** Chain error codes (OpenSSL's, as Node and Bun report them) that mean "unknown CA". */
const UNKNOWN_CA = /ISSUER|LEAF_SIGNATURE|SELF_SIGNED|UnknownIssuer|unknown ca/i;

/** Words for a chain error code: "unknown CA", "certificate expired", or the code. */
export function describeChainError(code: string): string {
  if (UNKNOWN_CA.test(code)) return `unknown CA (${code})`;
  if (/EXPIRED/i.test(code)) return `certificate expired (${code})`;
  return code;
}

/** Formats hex as `AB:CD:...`, as certificate tools print fingerprints. */
function withColons(hex: string): string {
  return hex.toUpperCase().match(/../g)!.join(":");
}

/**
 * Checks the peer certificate against `tls`. `chainError` is the TLS library's verdict
 * on the chain (an OpenSSL code such as `UNABLE_TO_VERIFY_LEAF_SIGNATURE`, or null), with
 * name mismatches left out: the name is checked here. Returns the error to fail the
 * connection with, or null.
 */
export function verifyPeer(
  verifier: TlsVerifier,
  tls: TlsConnectOptions,
  peer: PeerCertificate | null | undefined,
  chainError: string | null,
  where: string,
): SSLError | null {
  if (tls.verify && chainError) {
    return new SSLError(
      `TLS handshake with ${where} failed: certificate verify failed: ${
        describeChainError(chainError)
      }`,
    );
  }
  if (tls.fingerprint !== undefined) {
    const raw = peer?.raw;
    if (!raw || raw.length === 0) {
      return new SSLError(`TLS handshake with ${where}: the server sent no certificate to pin`);
    }
    const expected = tls.fingerprint;
    const actual = verifier.crypto.createHash(DIGEST_BY_LENGTH[expected.length]).update(raw)
      .digest("hex");
    if (actual !== expected) {
      return new SSLError(
        `TLS handshake with ${where}: Fingerprints did not match: expected "${
          withColons(expected)
        }", got "${withColons(actual)}"`,
      );
    }
    return null;
  }
  if (tls.verify && tls.checkHostname) {
    const name = tls.assertHostname ?? tls.serverName;
    const mismatch = nameMismatch(verifier, name, peer?.subjectaltname);
    if (mismatch !== null) {
      return new SSLError(`TLS handshake with ${where} failed: hostname mismatch: ${mismatch}`);
    }
  }
  return null;
}

/** A `DNS:` or `IP Address:` entry in `subjectaltname` (other kinds name no host). */
const HOST_ENTRY = /(?:^|, )(?:DNS|IP Address):/;

/**
 * Why `name` does not fit the certificate, or null when it does. Only subjectAltName is
 * read (RFC 6125, as browsers and Deno's native TLS do): `checkServerIdentity` falls back
 * to the subject CN when there is no DNS entry, so it never sees the subject.
 */
function nameMismatch(
  verifier: TlsVerifier,
  name: string,
  altNames: string | undefined,
): string | null {
  if (altNames === undefined || !HOST_ENTRY.test(altNames)) {
    return `the certificate has no DNS or IP subjectAltName (its subject CN is not used): "${name}"`;
  }
  if (verifier.tls.checkServerIdentity(name, { subjectaltname: altNames }) === undefined) {
    return null;
  }
  return `not in the certificate's subjectAltName (${altNames}): "${name}"`;
}
