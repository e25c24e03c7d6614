/**
 * A throw-away self-signed certificate for the benchmark's TLS listener, made with the
 * `openssl` command line.
 *
 * @module
 */

/** PEM files of a self-signed certificate. */
export interface SelfSignedCert {
  /** Path of the certificate (PEM). */
  certFile: string;
  /** Path of the private key (PEM, PKCS#8). */
  keyFile: string;
  /** The certificate itself: what a client must trust. */
  certPem: string;
  /** The private key itself. */
  keyPem: string;
}

/**
 * Generates an EC P-256 certificate for `127.0.0.1` and `localhost` into `dir`. It is its
 * own issuer and not a CA (`CA:FALSE`), which every TLS stack accepts as a trusted leaf.
 *
 * @throws {Error} when `openssl` is missing or fails.
 */
export async function generateSelfSignedCert(dir: string): Promise<SelfSignedCert> {
  const certFile = `${dir}/cert.pem`;
  const keyFile = `${dir}/key.pem`;
  const args = [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    keyFile,
    "-out",
    certFile,
    "-days",
    "2",
    "-subj",
    "/CN=localhost",
    "-addext",
    "subjectAltName=IP:127.0.0.1,DNS:localhost",
    "-addext",
    "basicConstraints=critical,CA:FALSE",
  ];
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("openssl", { args, stdout: "piped", stderr: "piped" })
      .output();
  } catch (error) {
    throw new Error(`cannot run openssl (install it: apt-get install openssl): ${error}`);
  }
  if (!output.success) {
    const stderr = new TextDecoder().decode(output.stderr);
    throw new Error(`openssl req -x509 failed (exit ${output.code}): ${stderr}`);
  }
  return {
    certFile,
    keyFile,
    certPem: await Deno.readTextFile(certFile),
    keyPem: await Deno.readTextFile(keyFile),
  };
}
