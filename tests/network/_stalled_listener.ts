/**
 * A loopback address whose connections never complete, for Happy Eyeballs tests: a
 * `python3` child listens on `127.0.0.2` with a backlog of 0 and fills its own accept queue
 * with one connection it never accepts, so Linux drops every later SYN and a connect to it
 * hangs until the client gives up. No runtime's own API can listen without accepting.
 */

import { spawn } from "node:child_process";

const SCRIPT = `
import socket, sys
s = socket.socket()
s.bind(("127.0.0.2", int(sys.argv[1])))
s.listen(0)
f = socket.socket()
f.setblocking(False)
try:
    f.connect(s.getsockname())
except BlockingIOError:
    pass
print(s.getsockname()[1], flush=True)
sys.stdin.read()
`;

/** A stalled listener: its port, and `close()` to end it. */
export interface StalledListener {
  readonly hostname: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Starts a listener on `127.0.0.2:port` (0: any free port) that never completes a connect. */
export function stalledListener(port = 0): Promise<StalledListener> {
  const child = spawn("python3", ["-c", SCRIPT, String(port)], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.stdout!.once("data", (chunk: Uint8Array) => {
      resolve({
        hostname: "127.0.0.2",
        port: Number(new TextDecoder().decode(chunk).trim()),
        close: async () => {
          child.stdin!.end();
          await exited;
        },
      });
    });
  });
}
