/**
 * The soak test's misbehaving server (run in its own process by `bench/soak.ts`): a raw
 * HTTP/1.1 server on 127.0.0.1 (`node:net`, so it runs under Deno and Bun) that answers
 * each request with its own target as the body, and with a seeded PRNG:
 *
 * - closes the connection right after 10% of its responses (no `Connection: close`),
 * - resets 1% in the middle of the response body,
 * - stalls 0.1% (never answers; the client's read timeout ends them).
 *
 * It prints `{"port":PORT}` once listening and runs until it is killed.
 *
 * ```sh
 * deno run -A bench/servers/soak_server.ts --seed 1
 * ```
 *
 * @module
 */

import * as net from "node:net";
import process from "node:process";
import { parseArgs } from "node:util";
import { prng } from "../../tests/_prng.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    seed: { type: "string", default: "1" },
    close: { type: "string", default: "0.10" },
    reset: { type: "string", default: "0.01" },
    stall: { type: "string", default: "0.001" },
  },
});
const RATES = {
  close: Number(values.close),
  reset: Number(values.reset),
  stall: Number(values.stall),
};
const PADDING = "x".repeat(200);

const random = prng(Number(values.seed));

type Fate = "answer" | "close" | "reset" | "stall";

function fate(): Fate {
  const r = random();
  if (r < RATES.stall) return "stall";
  if (r < RATES.stall + RATES.reset) return "reset";
  if (r < RATES.stall + RATES.reset + RATES.close) return "close";
  return "answer";
}

function reset(socket: net.Socket): void {
  const s = socket as net.Socket & { resetAndDestroy?: () => void };
  if (typeof s.resetAndDestroy === "function") s.resetAndDestroy();
  else s.destroy();
}

/** Answers one request; false when the connection is done (closed, reset or stalled). */
function answer(socket: net.Socket, target: string): boolean {
  const body = `${target}\n${PADDING}`;
  const response = `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  switch (fate()) {
    case "stall":
      return false; // say nothing; the client gives up and closes
    case "reset":
      socket.write(response.slice(0, response.length - body.length / 2), () => reset(socket));
      return false;
    case "close":
      socket.end(response);
      return false;
    default:
      socket.write(response);
      return true;
  }
}

const HEAD_END = "\r\n\r\n";

function serve(socket: net.Socket): void {
  socket.setNoDelay(true);
  socket.setEncoding("latin1");
  let buffered = "";
  let open = true;
  socket.on("data", (chunk: string) => {
    if (!open) return;
    buffered += chunk;
    while (open) {
      const end = buffered.indexOf(HEAD_END);
      if (end === -1) return;
      const head = buffered.slice(0, end);
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (buffered.length < end + HEAD_END.length + length) return;
      buffered = buffered.slice(end + HEAD_END.length + length);
      const target = head.slice(head.indexOf(" ") + 1, head.indexOf(" HTTP/"));
      open = answer(socket, target);
    }
  });
  socket.on("error", () => {});
}

const server = net.createServer(serve);
server.listen(0, "127.0.0.1", () => {
  const address = server.address() as net.AddressInfo;
  console.log(JSON.stringify({ port: address.port }));
});
