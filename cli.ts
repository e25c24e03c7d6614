/**
 * `pooled`, the command line of `@pooled/http`: an httpie-style request command and a load
 * generator, on Deno, Bun and Node.
 *
 * ```sh
 * deno run -A jsr:@pooled/http/cli POST http://127.0.0.1:8080/items name=pooled size:=3 X-Trace:1
 * deno run -A jsr:@pooled/http/cli -v :8080/search q==pooled
 * deno run -A jsr:@pooled/http/cli -n 20000 -c 32 http://127.0.0.1:8080/
 * ```
 *
 * Request mode prints the response head and body (`-v`: the request too; `-b`: the body
 * only). Load mode (`-n`, `-c`, `-d`) shows a live progress line on a terminal and ends with
 * req/s, latency percentiles, status counts and connections opened. Exit codes: 0 done, 1 the
 * request failed (or every load request failed), 2 bad arguments.
 *
 * @example Run the CLI from code
 * ```ts
 * import { main } from "@pooled/http/cli";
 * const code = await main(["--version"]);
 * console.log(code); // 0
 * ```
 *
 * @module
 */

import process from "node:process";
import { readFile } from "node:fs/promises";
import {
  type Connector,
  defaultConnector,
  encodeUrlencoded,
  HTTPError,
  type HTTPResponse,
  PoolManager,
  type PoolManagerOptions,
  ProxyManager,
  SOCKSProxyManager,
  Timeout,
  VERSION,
} from "./mod.ts";
import {
  type CliCommand,
  type LoadSettings,
  parseCliArgs,
  USAGE,
  UsageError,
} from "./src/cli/args.ts";
import { formatProgress, formatSummary, LoadRecorder, summarize } from "./src/cli/load_stats.ts";

/**
 * Where the CLI writes and what it reads; {@linkcode main} defaults to the process's.
 *
 * @example Capture what the CLI prints
 * ```ts
 * import { type CliIo, main } from "@pooled/http/cli";
 * let printed = "";
 * const io: CliIo = {
 *   out: (text) => void (printed += typeof text === "string" ? text : new TextDecoder().decode(text)),
 *   err: (text) => void (printed += text),
 *   errIsTty: false,
 *   readTextFile: () => Promise.reject(new Error("no files here")),
 * };
 * console.log(await main(["--version"], io), printed); // 0 "pooled 0.1.0\n"
 * ```
 */
export interface CliIo {
  /** Writes to standard output. */
  out(text: string | Uint8Array): void;
  /** Writes to standard error. */
  err(text: string): void;
  /** True when standard error is a terminal (the load progress line is shown only then). */
  readonly errIsTty: boolean;
  /** Reads a text file (`--ca`). */
  readTextFile(path: string): Promise<string>;
}

const processIo: CliIo = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  get errIsTty() {
    return process.stderr.isTTY === true;
  },
  readTextFile: (path) => readFile(path, "utf8"),
};

/**
 * Runs the CLI with `args` (without the program name) and resolves with the exit code:
 * 0 done, 1 the request failed, 2 bad arguments.
 *
 * @example
 * ```ts
 * import { main } from "@pooled/http/cli";
 * const code = await main(["GET"]); // no URL: prints the reason and the usage to stderr
 * console.log(code); // 2
 * ```
 */
export async function main(args: readonly string[], io: CliIo = processIo): Promise<number> {
  let command: CliCommand;
  try {
    command = parseCliArgs(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`pooled: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (command.mode === "help") {
    io.out(USAGE);
    return 0;
  }
  if (command.mode === "version") {
    io.out(`pooled ${VERSION}\n`);
    return 0;
  }
  let manager: PoolManager;
  const counter = countingConnector(defaultConnector());
  try {
    manager = await managerFor(command, counter.connector, io);
  } catch (error) {
    io.err(`pooled: ${error instanceof Error ? error.message : error}\n`);
    return 2;
  }
  try {
    return command.load
      ? await runLoad(manager, command, command.load, io, () => counter.opened)
      : await runRequest(manager, command, io);
  } finally {
    await manager.close();
  }
}

/** Wraps a connector to count the connections it opens. */
function countingConnector(inner: Connector): { connector: Connector; readonly opened: number } {
  let opened = 0;
  return {
    connector: {
      name: inner.name,
      connect: (options) => {
        opened++;
        return inner.connect(options);
      },
    },
    get opened() {
      return opened;
    },
  };
}

async function managerFor(
  command: CliCommand,
  connector: Connector,
  io: CliIo,
): Promise<PoolManager> {
  const options: PoolManagerOptions = {
    connector,
    maxSize: command.load?.concurrency ?? 1,
    block: command.load !== undefined,
    ...(command.caFile ? { caCerts: [await readCa(command.caFile, io)] } : {}),
    ...(command.insecure ? { certReqs: "CERT_NONE" as const } : {}),
    ...(command.timeoutMs === undefined
      ? {}
      : { timeout: new Timeout({ connect: command.timeoutMs, read: command.timeoutMs }) }),
    ...(command.retries === undefined ? {} : { retries: command.retries }),
  };
  if (command.proxy === undefined) return new PoolManager(options);
  if (/^socks/i.test(command.proxy)) return new SOCKSProxyManager(command.proxy, options);
  return new ProxyManager(command.proxy, options);
}

async function readCa(path: string, io: CliIo): Promise<string> {
  let text: string;
  try {
    text = await io.readTextFile(path);
  } catch (error) {
    throw new Error(
      `Cannot read the --ca file ${path}: ${error instanceof Error ? error.message : error}`,
    );
  }
  if (!text.includes("-----BEGIN CERTIFICATE-----")) {
    throw new Error(`The --ca file has no PEM certificate: ${path}`);
  }
  return text;
}

const encoder = new TextEncoder();

/** The request the command describes: headers as sent and the encoded body. */
function buildRequest(command: CliCommand): {
  headers: Array<[string, string]>;
  body: Uint8Array | undefined;
} {
  const headers: Array<[string, string]> = [
    ["User-Agent", `pooled-cli/${VERSION}`],
    ["Accept-Encoding", "identity"],
  ];
  let body: Uint8Array | undefined;
  if (command.fields.length > 0) {
    const text = command.form
      ? encodeUrlencoded(command.fields.map(([name, value]) => [name, String(value)]))
      : JSON.stringify(Object.fromEntries(command.fields));
    body = encoder.encode(text);
    headers.push([
      "Content-Type",
      command.form ? "application/x-www-form-urlencoded; charset=utf-8" : "application/json",
    ]);
  }
  headers.push([
    "Accept",
    command.form || command.fields.length === 0 ? "*/*" : "application/json",
  ]);
  // The user's headers replace the defaults of the same name.
  const own = new Set(command.headers.map(([name]) => name.toLowerCase()));
  return {
    headers: [
      ...headers.filter(([name]) => !own.has(name.toLowerCase())),
      ...command.headers.map(([name, value]): [string, string] => [name, value]),
    ],
    body,
  };
}

function send(manager: PoolManager, command: CliCommand, request: ReturnType<typeof buildRequest>) {
  return manager.request(command.method, command.url, {
    headers: request.headers,
    body: request.body,
  });
}

function describeError(error: unknown): string {
  if (error instanceof HTTPError) {
    const reason = (error as { reason?: unknown }).reason;
    const cause = reason instanceof HTTPError ? ` (${reason.code}: ${reason.message})` : "";
    return `${error.code}: ${error.message}${cause}`;
  }
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function requestView(command: CliCommand, request: ReturnType<typeof buildRequest>): string {
  const url = new URL(command.url);
  const lines = [
    `${command.method} ${url.pathname}${url.search} HTTP/1.1`,
    `Host: ${url.host}`,
    ...request.headers.map(([name, value]) => `${name}: ${value}`),
  ];
  if (request.body) lines.push(`Content-Length: ${request.body.length}`);
  const body = request.body ? new TextDecoder().decode(request.body) + "\n" : "";
  return `${lines.join("\n")}\n\n${body}`;
}

function responseHead(r: HTTPResponse): string {
  const lines = [`HTTP/${r.version === 10 ? "1.0" : "1.1"} ${r.status} ${r.reason}`];
  for (const [name, value] of r.headers) lines.push(`${name}: ${value}`);
  return lines.join("\n") + "\n\n";
}

async function runRequest(manager: PoolManager, command: CliCommand, io: CliIo): Promise<number> {
  const request = buildRequest(command);
  if (command.verbose) io.out(requestView(command, request) + "\n");
  let r: HTTPResponse;
  try {
    r = await send(manager, command, request);
  } catch (error) {
    io.err(`pooled: ${describeError(error)}\n`);
    return 1;
  }
  if (!command.bodyOnly) io.out(responseHead(r));
  io.out(r.data);
  if (!command.bodyOnly && r.data.length > 0 && r.data[r.data.length - 1] !== 0x0a) io.out("\n");
  return 0;
}

const PROGRESS_EVERY_MS = 200;

async function runLoad(
  manager: PoolManager,
  command: CliCommand,
  load: LoadSettings,
  io: CliIo,
  opened: () => number,
): Promise<number> {
  const request = buildRequest(command);
  const recorder = new LoadRecorder();
  const start = performance.now();
  const deadline = load.durationMs === undefined ? Infinity : start + load.durationMs;
  const total = load.requests;
  let started = 0;
  const worker = async () => {
    while ((total === undefined || started < total) && performance.now() < deadline) {
      started++;
      const t0 = performance.now();
      try {
        const r = await send(manager, command, request);
        recorder.record(performance.now() - t0, r.status);
      } catch (error) {
        recorder.record(performance.now() - t0, error instanceof HTTPError ? error.code : "error");
      }
    }
  };
  const progress = io.errIsTty
    ? setInterval(() => {
      const line = formatProgress(recorder, total, performance.now() - start, opened());
      io.err(`\r\x1b[2K${line}`);
    }, PROGRESS_EVERY_MS)
    : undefined;
  try {
    const workers = Math.min(load.concurrency, total ?? load.concurrency);
    await Promise.all(Array.from({ length: workers }, worker));
  } finally {
    if (progress !== undefined) {
      clearInterval(progress);
      io.err("\r\x1b[2K");
    }
  }
  const summary = summarize(recorder, performance.now() - start, opened());
  io.out(`${command.method} ${command.url}, concurrency ${load.concurrency}\n`);
  io.out(formatSummary(summary) + "\n");
  return summary.requests > 0 && summary.errors === summary.requests ? 1 : 0;
}

if ((import.meta as { main?: boolean }).main ?? isNodeMain()) {
  process.exitCode = await main(process.argv.slice(2));
}

/** Node before 24 has no `import.meta.main`: compare the script path instead. */
function isNodeMain(): boolean {
  const script = process.argv[1];
  return script !== undefined && new URL(import.meta.url).pathname === script;
}
