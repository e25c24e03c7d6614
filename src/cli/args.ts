/**
 * The command line of `cli.ts`, parsed into a {@linkcode CliCommand} by a pure function:
 * httpie's request items (`Header:value`, `field=value`, `field:=json`, `name==value`) and
 * curl's flags, plus the load-mode flags `-n`, `-c`, `-d`.
 *
 * @module
 */

/** A bad command line: the CLI prints the message and exits with code 2. */
export class UsageError extends Error {
  /** Makes the error; `message` says what is wrong and the value given. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** A JSON value, as `field:=json` items give. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };

/** Load-mode settings. */
export interface LoadSettings {
  /** Requests to send; `undefined` with a duration means "until the duration is over". */
  readonly requests: number | undefined;
  /** Requests in flight at once (also the pool's `maxSize`). */
  readonly concurrency: number;
  /** Stop after this many milliseconds, if given. */
  readonly durationMs: number | undefined;
}

/** What the command line asks for. */
export interface CliCommand {
  /** `"help"` and `"version"` print and exit; `"request"` sends one; `"load"` many. */
  readonly mode: "help" | "version" | "request" | "load";
  /** The request method, upper case. */
  readonly method: string;
  /** The absolute URL, query items (`name==value`) included. */
  readonly url: string;
  /** Headers from `Header:value` items, in order. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  /** Body fields from `field=value` (strings) and `field:=json` items, in order. */
  readonly fields: ReadonlyArray<readonly [string, JsonValue]>;
  /** Send the fields as `application/x-www-form-urlencoded` instead of JSON. */
  readonly form: boolean;
  /** Proxy URL (`--proxy`). */
  readonly proxy: string | undefined;
  /** PEM file of extra trusted roots (`--ca`). */
  readonly caFile: string | undefined;
  /** Skip certificate verification (`--insecure`, `-k`). */
  readonly insecure: boolean;
  /** Connect and read timeout in milliseconds (`--timeout` takes seconds). */
  readonly timeoutMs: number | undefined;
  /** Retries (`--retries`); `undefined` keeps pooled's default (3). */
  readonly retries: number | undefined;
  /** Show the request as well as the response (`-v`). */
  readonly verbose: boolean;
  /** Print only the response body (`-b`). */
  readonly bodyOnly: boolean;
  /** Load mode, when `-n`, `-c` or `-d` is given. */
  readonly load: LoadSettings | undefined;
}

/** The usage text. */
export const USAGE = `usage: pooled [METHOD] URL [ITEM ...] [OPTIONS]

Request mode sends one request and prints the response (httpie style):
  METHOD            GET, POST, PUT, ... (default GET, or POST when there are body fields)
  URL               http(s)://host[:port]/path; "example.com/x" means http://,
                    ":8080/x" means http://localhost:8080/x
  Header:value      a request header
  field=value       a body field (string)
  field:=json       a body field (raw JSON: numbers, booleans, arrays, objects)
  name==value       a query parameter

Options:
  -f, --form        send fields as application/x-www-form-urlencoded (default: JSON)
      --proxy URL   send through this HTTP proxy
      --ca FILE     trust the PEM certificates in FILE too
  -k, --insecure    do not verify TLS certificates
      --timeout S   connect and read timeout, seconds
      --retries N   retries on connection errors (default 3; 0 for none)
  -v, --verbose     print the request too
  -b, --body        print only the response body
  -h, --help        this text
      --version     print the version

Load mode (any of -n, -c, -d) repeats the request and reports req/s, latency
percentiles, status counts and connections opened:
  -n N              requests to send (default 1000, or unlimited with -d)
  -c N              concurrency: requests in flight and pool size (default 10)
  -d DURATION       stop after DURATION (e.g. 10s, 500ms, 1m)
`;

const METHOD = /^[A-Za-z]+$/;
/** Methods that, written in capitals alone, are a request line without its URL. */
const STANDARD_METHODS = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "PATCH",
  "OPTIONS",
  "TRACE",
  "CONNECT",
]);
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

type Flag =
  | "form"
  | "insecure"
  | "verbose"
  | "body"
  | "help"
  | "version"
  | "proxy"
  | "ca"
  | "timeout"
  | "retries"
  | "n"
  | "c"
  | "d";

const FLAGS: Record<string, Flag> = {
  "-f": "form",
  "--form": "form",
  "-k": "insecure",
  "--insecure": "insecure",
  "-v": "verbose",
  "--verbose": "verbose",
  "-b": "body",
  "--body": "body",
  "-h": "help",
  "--help": "help",
  "--version": "version",
  "--proxy": "proxy",
  "--ca": "ca",
  "--timeout": "timeout",
  "--retries": "retries",
  "-n": "n",
  "-c": "c",
  "-d": "d",
};

const TAKES_VALUE = new Set<Flag>(["proxy", "ca", "timeout", "retries", "n", "c", "d"]);

/**
 * Parses the arguments (without the program name).
 *
 * @throws {UsageError} when the command line is not valid; the message says why.
 */
export function parseCliArgs(args: readonly string[]): CliCommand {
  const values = new Map<Flag, string>();
  const switches = new Set<Flag>();
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    const [name, inline] = splitInlineValue(arg);
    const flag = FLAGS[name];
    if (flag === undefined) {
      if (arg.startsWith("-") && arg.length > 1 && !/^-\d/.test(arg)) {
        throw new UsageError(`Unknown option: ${JSON.stringify(arg)}`);
      }
      positionals.push(arg);
    } else if (TAKES_VALUE.has(flag)) {
      const value = inline ?? args[++i];
      if (value === undefined) throw new UsageError(`${name} needs a value`);
      values.set(flag, value);
    } else {
      if (inline !== undefined) {
        throw new UsageError(`${name} takes no value: ${JSON.stringify(inline)}`);
      }
      switches.add(flag);
    }
  }
  const base = {
    form: switches.has("form"),
    insecure: switches.has("insecure"),
    verbose: switches.has("verbose"),
    bodyOnly: switches.has("body"),
  };
  if (switches.has("help") || switches.has("version")) {
    return {
      ...base,
      mode: switches.has("help") ? "help" : "version",
      method: "GET",
      url: "",
      headers: [],
      fields: [],
      proxy: undefined,
      caFile: undefined,
      timeoutMs: undefined,
      retries: undefined,
      load: undefined,
    };
  }
  if (base.verbose && base.bodyOnly) throw new UsageError("-v and -b cannot be used together");
  const { method, url, items } = splitPositionals(positionals);
  const request = parseItems(url, items);
  if (base.form && request.jsonItems.length > 0) {
    throw new UsageError(`--form cannot send raw JSON items: ${request.jsonItems.join(" ")}`);
  }
  const load = parseLoad(values);
  const timeout = optionalNumber("--timeout", values.get("timeout"), { integer: false });
  return {
    ...base,
    mode: load ? "load" : "request",
    method: method ?? (request.fields.length > 0 ? "POST" : "GET"),
    url: request.url,
    headers: request.headers,
    fields: request.fields,
    proxy: optionalUrl("--proxy", values.get("proxy")),
    caFile: values.get("ca"),
    timeoutMs: timeout === undefined ? undefined : Math.round(timeout * 1000),
    retries: optionalNumber("--retries", values.get("retries"), { integer: true, zero: true }),
    load,
  };
}

function splitInlineValue(arg: string): [string, string | undefined] {
  if (!arg.startsWith("--")) return [arg, undefined];
  const eq = arg.indexOf("=");
  return eq < 0 ? [arg, undefined] : [arg.slice(0, eq), arg.slice(eq + 1)];
}

function splitPositionals(positionals: string[]): {
  method: string | undefined;
  url: string;
  items: string[];
} {
  if (positionals.length === 0) throw new UsageError("A URL is needed (see --help)");
  // `pooled GET` forgot the URL: a lone upper-case method is not taken for a host name.
  if (positionals.length === 1 && STANDARD_METHODS.has(positionals[0])) {
    throw new UsageError(`A URL is needed after ${positionals[0]} (see --help)`);
  }
  // httpie's rule: a leading word of letters followed by something else is the method.
  if (positionals.length >= 2 && METHOD.test(positionals[0])) {
    const [method, url, ...items] = positionals;
    return { method: method.toUpperCase(), url, items };
  }
  const [url, ...items] = positionals;
  return { method: undefined, url, items };
}

/** The separators of request items, longest first where they share a start. */
const SEPARATORS = [":=", "==", "=", ":"] as const;

/** Splits an item at its first separator. */
export function splitItem(item: string): [string, (typeof SEPARATORS)[number], string] | null {
  for (let i = 1; i < item.length; i++) {
    for (const sep of SEPARATORS) {
      if (item.startsWith(sep, i)) return [item.slice(0, i), sep, item.slice(i + sep.length)];
    }
  }
  return null;
}

function parseItems(rawUrl: string, items: string[]) {
  const url = new URL(normalizeUrl(rawUrl));
  const headers: Array<[string, string]> = [];
  const fields: Array<[string, JsonValue]> = [];
  const jsonItems: string[] = [];
  for (const item of items) {
    const parts = splitItem(item);
    if (!parts) {
      throw new UsageError(
        `Cannot read request item: ${
          JSON.stringify(item)
        } (use Header:value, field=value, field:=json or name==value)`,
      );
    }
    const [key, sep, value] = parts;
    if (sep === ":") {
      if (!HEADER_NAME.test(key)) {
        throw new UsageError(`Invalid header name: ${JSON.stringify(key)}`);
      }
      headers.push([key, value.trimStart()]);
    } else if (sep === "==") {
      url.searchParams.append(key, value);
    } else if (sep === "=") {
      fields.push([key, value]);
    } else {
      fields.push([key, parseJson(key, value)]);
      jsonItems.push(item);
    }
  }
  return { url: url.href, headers, fields, jsonItems };
}

function parseJson(key: string, text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    throw new UsageError(`${key}:= needs JSON: ${JSON.stringify(text)}`);
  }
}

/** Completes httpie's URL shorthands: no scheme means `http://`, `:port` means localhost. */
export function normalizeUrl(raw: string): string {
  let url = raw;
  if (/^:\d*(\/|$)/.test(url)) url = `localhost${url}`;
  if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(url)) url = `http://${url}`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`Invalid URL: ${JSON.stringify(raw)}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new UsageError(`Only http and https URLs are supported: ${JSON.stringify(raw)}`);
  }
  return url;
}

function optionalUrl(flag: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    return new URL(value).href;
  } catch {
    throw new UsageError(
      `${flag} needs a URL such as http://127.0.0.1:3128: ${JSON.stringify(value)}`,
    );
  }
}

function optionalNumber(
  flag: string,
  value: string | undefined,
  { integer, zero = false }: { integer: boolean; zero?: boolean },
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  const valid = value.trim() !== "" && Number.isFinite(n) && (zero ? n >= 0 : n > 0) &&
    (!integer || Number.isInteger(n));
  if (!valid) {
    const kind = `${zero ? "non-negative" : "positive"} ${integer ? "integer" : "number"}`;
    throw new UsageError(`${flag} needs a ${kind}: ${JSON.stringify(value)}`);
  }
  return n;
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Reads `10s`, `500ms`, `1.5m`, `2h` or a plain number of seconds, in milliseconds. */
export function parseDuration(text: string): number {
  const match = DURATION.exec(text.trim());
  const ms = match ? Number(match[1]) * UNIT_MS[match[2] ?? "s"] : NaN;
  if (!(ms > 0)) {
    throw new UsageError(`-d needs a duration such as 10s, 500ms or 1m: ${JSON.stringify(text)}`);
  }
  return ms;
}

function parseLoad(values: Map<Flag, string>): LoadSettings | undefined {
  if (!values.has("n") && !values.has("c") && !values.has("d")) return undefined;
  const durationMs = values.has("d") ? parseDuration(values.get("d")!) : undefined;
  const requests = optionalNumber("-n", values.get("n"), { integer: true }) ??
    (durationMs === undefined ? 1000 : undefined);
  const concurrency = optionalNumber("-c", values.get("c"), { integer: true }) ?? 10;
  return { requests, concurrency, durationMs };
}
