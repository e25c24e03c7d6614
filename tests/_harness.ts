/**
 * One test API for Deno, Bun and Node. Under Deno it is `Deno.test` with the op and resource
 * sanitizers on (a test that leaks a timer or a socket fails); under Bun it is `bun:test`;
 * under Node (run through `tsx`) it is `node:test`.
 *
 * @module
 */

/** Options of one test. */
export interface TestOptions {
  /** Skip the test. */
  ignore?: boolean;
  /** Run only under this runtime. */
  only?: "deno" | "bun" | "node";
}

type TestFn = () => void | Promise<void>;
type Register = (name: string, fn: TestFn) => void;

interface DenoTestApi {
  test(def: { name: string; fn: TestFn; sanitizeOps: boolean; sanitizeResources: boolean }): void;
}

/** The name of the runtime the tests run on. */
export const runtime: "deno" | "bun" | "node" = "Deno" in globalThis
  ? "deno"
  : "Bun" in globalThis
  ? "bun"
  : "node";

async function loadRegister(): Promise<Register> {
  if (runtime === "deno") {
    const deno = (globalThis as unknown as { Deno: DenoTestApi }).Deno;
    return (name, fn) => deno.test({ name, fn, sanitizeOps: true, sanitizeResources: true });
  }
  const specifier = runtime === "bun" ? "bun:test" : "node:test";
  const mod = await import(specifier) as { test: Register };
  return mod.test;
}

const register = await loadRegister();

/** Registers a test. */
export function test(name: string, fn: TestFn, options: TestOptions = {}): void {
  if (options.ignore) return;
  if (options.only && options.only !== runtime) return;
  register(name, fn);
}

export { default as assert } from "node:assert/strict";
