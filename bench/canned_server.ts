/**
 * The fallback benchmark server, for machines without nginx: it answers every request head
 * it reads with the same canned bytes, keeping the connection alive.
 *
 * Run on its own it listens on two free ports of 127.0.0.1, plain and TLS, and prints them
 * as one JSON line (`{"plain":PORT,"tls":PORT}`) once ready:
 *
 * ```sh
 * deno run -A bench/canned_server.ts --cert cert.pem --key key.pem
 * ```
 *
 * {@linkcode startCannedServer} does that in a child process.
 *
 * @module
 */

import { type BenchServer, BODY, stopProcess } from "./server.ts";
import type { SelfSignedCert } from "./self_signed.ts";

const REPLY = new TextEncoder().encode(
  `HTTP/1.1 200 OK\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`,
);
const CR = 13;
const LF = 10;

/**
 * Counts the request heads that end in `chunk` (each ends with CRLF CRLF). `state` carries
 * how many bytes of that marker were seen at the end of the previous chunk.
 */
function countHeads(chunk: Uint8Array, state: { matched: number }): number {
  let heads = 0;
  let matched = state.matched;
  for (const byte of chunk) {
    const expected = matched % 2 === 0 ? CR : LF;
    if (byte === expected) {
      matched++;
      if (matched === 4) {
        heads++;
        matched = 0;
      }
    } else {
      matched = byte === CR ? 1 : 0;
    }
  }
  state.matched = matched;
  return heads;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let written = 0;
  while (written < data.length) written += await conn.write(data.subarray(written));
}

/** Serves one connection until the client closes it (pipelined heads are answered too). */
async function serveConnection(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  const state = { matched: 0 };
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      const heads = countHeads(buffer.subarray(0, n), state);
      if (heads === 1) {
        await writeAll(conn, REPLY);
      } else if (heads > 1) {
        const replies = new Uint8Array(REPLY.length * heads);
        for (let i = 0; i < heads; i++) replies.set(REPLY, i * REPLY.length);
        await writeAll(conn, replies);
      }
    }
  } catch {
    // the client went away: nothing to do
  } finally {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}

async function acceptLoop(listener: Deno.Listener): Promise<void> {
  for await (const conn of listener) {
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    serveConnection(conn);
  }
}

function flag(args: string[], name: string): string {
  const at = args.indexOf(name);
  if (at < 0 || at + 1 >= args.length) throw new Error(`canned_server.ts: missing ${name} FILE`);
  return args[at + 1];
}

async function main(args: string[]): Promise<void> {
  const cert = await Deno.readTextFile(flag(args, "--cert"));
  const key = await Deno.readTextFile(flag(args, "--key"));
  const plain = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const tls = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert,
    key,
    alpnProtocols: ["http/1.1"],
  });
  const ports = { plain: plain.addr.port, tls: tls.addr.port };
  console.log(JSON.stringify(ports));
  await Promise.all([acceptLoop(plain), acceptLoop(tls)]);
}

/**
 * Starts this file as a child process (`deno run -A`) with the given certificate.
 *
 * @throws {Error} when the child does not report its ports.
 */
export async function startCannedServer(cert: SelfSignedCert): Promise<BenchServer> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--no-config",
      new URL(import.meta.url).pathname,
      "--cert",
      cert.certFile,
      "--key",
      cert.keyFile,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  const line = text.split("\n")[0];
  let ports: { plain: number; tls: number };
  try {
    ports = JSON.parse(line);
  } catch {
    await stopProcess(child);
    throw new Error(`canned server did not start (printed ${JSON.stringify(line)})`);
  }
  return {
    description: `canned reply server (Deno ${Deno.version.deno}, 1 process)`,
    plainUrl: `http://127.0.0.1:${ports.plain}/`,
    tlsUrl: `https://127.0.0.1:${ports.tls}/`,
    close: () => stopProcess(child),
  };
}

if (import.meta.main) await main(Deno.args);
