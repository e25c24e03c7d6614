/**
 * The benchmark's server: what every server process offers, and small helpers to start one.
 *
 * @module
 */

/** A running benchmark server (a separate process). */
export interface BenchServer {
  /** What serves, for the report: `nginx 1.22.1 (1 worker)` or `canned reply server (...)`. */
  description: string;
  /** `http://127.0.0.1:PORT/`, answering `hello world\n` with keep-alive. */
  plainUrl: string;
  /** `https://127.0.0.1:PORT/`, the same over TLS with the generated certificate. */
  tlsUrl: string;
  /** Stops the server process and waits for it to exit. */
  close(): Promise<void>;
}

/** The exact body every benchmark server answers with (12 bytes). */
export const BODY = "hello world\n";

/** Returns a port that was free a moment ago on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/**
 * Waits until something accepts TCP connections on 127.0.0.1:`port`.
 *
 * @throws {Error} after `timeoutMs`.
 */
export async function waitForPort(port: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch (error) {
      if (Date.now() > deadline) {
        throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms: ${error}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Sends SIGTERM to a child process (if still running) and waits for it to exit. */
export async function stopProcess(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch {
    // already exited
  }
  await child.status;
}
