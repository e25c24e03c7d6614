/**
 * A server in its own process that closes every connection as soon as it accepts it:
 * `end` (FIN) or `reset` (RST), from argv. It prints its port, then runs until its stdin
 * closes. In another process the close can reach the client between its connect and its
 * first write, which a server on the client's own event loop never manages.
 *
 * @module
 */

import * as net from "node:net";
import process from "node:process";

const how = process.argv.at(-1);
const server = net.createServer((socket) => {
  socket.on("error", () => {});
  if (how === "reset") socket.resetAndDestroy();
  else socket.end();
});
server.listen(0, "127.0.0.1", () => {
  const address = server.address() as net.AddressInfo;
  process.stdout.write(`${address.port}\n`);
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
