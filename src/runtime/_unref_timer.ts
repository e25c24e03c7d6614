/**
 * Timers that do not keep the process alive, on every runtime: what a connection's timeout
 * timer must be, since it may outlive its request while the connection waits idle.
 *
 * @module
 */

interface DenoTimers {
  unrefTimer(id: number): void;
}

const deno = (globalThis as { Deno?: DenoTimers }).Deno;

/**
 * Lets the process exit while `timer` is pending: `Deno.unrefTimer` on Deno, the timer's own
 * `unref()` on Node and Bun, nothing on Workers (whose timers are plain numbers too).
 */
export function unrefTimer(timer: ReturnType<typeof setTimeout>): void {
  if (typeof timer === "number") deno?.unrefTimer(timer);
  else (timer as { unref?(): void }).unref?.();
}
