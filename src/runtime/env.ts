/**
 * Reads environment variables on any runtime (the only place the library does so, and
 * only when asked: `proxy: "env"`, `proxyFromEnv()`).
 *
 * @module
 */

interface DenoEnv {
  env: { get(name: string): string | undefined };
}

interface NodeProcess {
  env: Record<string, string | undefined>;
}

/**
 * The values of `names` (unset ones left out). Under Deno this needs `--allow-env` for
 * those names.
 *
 * @example
 * ```ts ignore
 * const env = readEnvironment(["HTTP_PROXY", "http_proxy"]);
 * ```
 */
export function readEnvironment(names: readonly string[]): Record<string, string> {
  const deno = (globalThis as { Deno?: DenoEnv }).Deno;
  const process = (globalThis as { process?: NodeProcess }).process;
  const get = deno ? (name: string) => deno.env.get(name) : (name: string) => process?.env[name];
  const values: Record<string, string> = {};
  for (const name of names) {
    const value = get(name);
    if (value !== undefined) values[name] = value;
  }
  return values;
}
