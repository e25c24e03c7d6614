/**
 * The fallback benchmark server, for machines without nginx: it reads every request (head
 * and `Content-Length` body) and answers with canned bytes, keeping the connection alive:
 * `hello world\n` for `/` and `POST /post`, the large file for `GET /large`.
 *
 * Run on its own it listens on two free ports of 127.0.0.1, plain and TLS, and prints them
 * as one JSON line (`{"plain":PORT,"tls":PORT}`) once ready:
 *
 * ```sh
 * deno run -A bench/servers/canned_server.ts --cert cert.pem --key key.pem --large large.bin
 * ```
 *
 * {@linkcode startCannedServer} does that in a child process.
 *
 * @module
 */

import { type BenchServer, BODY, LARGE_PATH, POST_PATH, stopProcess } from "./server.ts";
import type { SelfSignedCert } from "../lib/self_signed.ts";
import { concatBytes } from "../../src/_bytes.ts";

const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");

function reply(body: Uint8Array): Uint8Array {
  const head = encoder.encode(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
  const bytes = new Uint8Array(head.length + body.length);
  bytes.set(head);
  bytes.set(body, head.length);
  return bytes;
}

/** The canned replies: `hello world\n` for `/` and `/post`, the large file for `/large`. */
interface Replies {
  small: Uint8Array;
  large: Uint8Array;
}

/** The index of the CRLF CRLF that ends a head starting at `from`, or -1. */
function headEnd(data: Uint8Array, from: number): number {
  for (let i = from; i + 3 < data.length; i++) {
    if (data[i] === 13 && data[i + 1] === 10 && data[i + 2] === 13 && data[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}

const CONTENT_LENGTH = /\r\ncontent-length[ \t]*:[ \t]*(\d+)/i;

/** One request head: which reply it gets and how many body bytes follow it. */
function route(head: string, replies: Replies): { reply: Uint8Array; bodyBytes: number } {
  const path = head.slice(head.indexOf(" ") + 1, head.indexOf(" ", head.indexOf(" ") + 1));
  const length = CONTENT_LENGTH.exec(head);
  return {
    reply: path === LARGE_PATH ? replies.large : replies.small,
    bodyBytes: length ? Number(length[1]) : 0,
  };
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let written = 0;
  while (written < data.length) written += await conn.write(data.subarray(written));
}

/**
 * Serves one connection until the client closes it: reads each request head and its
 * `Content-Length` body in full (pipelined requests too), then writes its canned reply.
 * Chunked request bodies are not supported (no benchmark client sends one).
 */
async function serveConnection(conn: Deno.Conn, replies: Replies): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  let leftover = new Uint8Array(0);
  let bodyLeft = 0;
  let afterBody: Uint8Array | null = null;
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      const data = leftover.length > 0
        ? concatBytes([leftover, buffer.subarray(0, n)])
        : buffer.subarray(0, n);
      const out: Uint8Array[] = [];
      let at = 0;
      while (at < data.length) {
        if (bodyLeft > 0) {
          const skipped = Math.min(bodyLeft, data.length - at);
          at += skipped;
          bodyLeft -= skipped;
          if (bodyLeft === 0 && afterBody) out.push(afterBody);
          continue;
        }
        const end = headEnd(data, at);
        if (end < 0) break;
        const { reply, bodyBytes } = route(latin1.decode(data.subarray(at, end)), replies);
        at = end + 4;
        if (bodyBytes > 0) {
          bodyLeft = bodyBytes;
          afterBody = reply;
        } else {
          out.push(reply);
        }
      }
      leftover = data.slice(at);
      if (out.length > 0) await writeAll(conn, concatBytes(out));
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

async function acceptLoop(listener: Deno.Listener, replies: Replies): Promise<void> {
  for await (const conn of listener) {
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    serveConnection(conn, replies);
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
  const replies: Replies = {
    small: reply(encoder.encode(BODY)),
    large: reply(await Deno.readFile(flag(args, "--large"))),
  };
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
  await Promise.all([acceptLoop(plain, replies), acceptLoop(tls, replies)]);
}

/**
 * Starts this file as a child process (`deno run -A`) with the given certificate, answering
 * `GET /large` with the bytes of `largeFile`.
 *
 * @throws {Error} when the child does not report its ports.
 */
export async function startCannedServer(
  cert: SelfSignedCert,
  largeFile: string,
): Promise<BenchServer> {
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
      "--large",
      largeFile,
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
    largeUrl: `http://127.0.0.1:${ports.plain}${LARGE_PATH}`,
    postUrl: `http://127.0.0.1:${ports.plain}${POST_PATH}`,
    close: () => stopProcess(child),
  };
}

if (import.meta.main) await main(Deno.args);
