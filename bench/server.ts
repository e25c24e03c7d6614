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

/** Sends SIGTERM to a child process (if still running) and waits for it to exit. */
export async function stopProcess(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch {
    // already exited
  }
  await child.status;
}
