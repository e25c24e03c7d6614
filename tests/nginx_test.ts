/**
 * Round trips through a real nginx on loopback (`tests/_nginx.ts`): request bodies through
 * `proxy_pass` to an echo backend that parses what it got, and gzip, deflate and br
 * responses decoded back to the original bytes. Skipped, with a message, when nginx is not
 * installed (`.ci/run` installs `nginx-light` and the brotli filter module).
 */

import * as fs from "node:fs/promises";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { type HTTPResponse, PoolManager } from "../mod.ts";
import { assert, test } from "./_harness.ts";
import {
  findNginx,
  findNginxModule,
  makeNginxDir,
  type NginxBinary,
  removeNginxDir,
  startNginx,
} from "./_nginx.ts";
import { serveHttp, unusedPort } from "./_servers.ts";
import { text } from "./_util.ts";

const nginx = await findNginx();
if (nginx === null) {
  console.warn(
    "tests/nginx_test.ts: SKIPPED: nginx is not installed (.ci/run installs nginx-light)",
  );
}
/** Debian's `libnginx-mod-http-brotli-filter`; without it br is served precompressed. */
const brotliModule = findNginxModule("ngx_http_brotli_filter_module");
const brotliHow = brotliModule ? "the brotli filter module" : "a precompressed file";

/** Every request is bounded: a decoder that hangs fails the test instead. */
const TIMEOUT_MS = 10_000;
const ACCEPT_ALL = { "accept-encoding": "gzip, deflate, br" };

/** ~128 KiB of text with multi-byte characters, above every `*_min_length`. */
const ORIGINAL = new TextEncoder().encode(
  Array.from(
    { length: 2000 },
    (_, i) => `${String(i).padStart(5, "0")} pooled through nginx: ünïcödé ✓ 日本語 ${i * 7919}\n`,
  ).join(""),
);

/** The static files nginx serves, by path under its root. */
const STATIC_FILES: Record<string, Uint8Array> = {
  "gzip/data.txt": ORIGINAL,
  "deflate/zlib.bin": zlib.deflateSync(ORIGINAL),
  "deflate/raw.bin": zlib.deflateRawSync(ORIGINAL),
  "br/data.txt": ORIGINAL,
  "br/data.bin": zlib.brotliCompressSync(ORIGINAL, {
    params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 },
  }),
};

function httpBlock(dir: string, port: number, backendPort: number): string {
  const br = brotliModule
    ? `location /br/ { brotli on; brotli_types text/plain; brotli_min_length 1000; }`
    : `location /br/ { add_header Content-Encoding br; }`;
  return `  types { text/plain txt; }
  default_type application/octet-stream;
  client_max_body_size 0;
  server {
    listen 127.0.0.1:${port};
    root ${dir}/www;
    location /echo {
      proxy_pass http://127.0.0.1:${backendPort};
      proxy_http_version 1.1;
      proxy_request_buffering off;
      proxy_set_header Connection "";
      proxy_set_header X-Client-Transfer-Encoding $http_transfer_encoding;
      proxy_set_header X-Client-Content-Length $http_content_length;
    }
    location /gzip/ { gzip on; gzip_types text/plain; gzip_min_length 1000; }
    location /deflate/ { add_header Content-Encoding deflate; }
    ${br}
  }`;
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** One form entry as the backend parsed it. */
interface EchoedField {
  name: string;
  value?: string;
  filename?: string;
  type?: string;
  size?: number;
  sha256?: string;
}

/** What the echo backend answers: what it received, parsed. */
interface Echo {
  method: string;
  contentType: string;
  /** `Transfer-Encoding` / `Content-Length` of the request nginx received from pooled. */
  clientTransferEncoding: string;
  clientContentLength: string;
  fields?: EchoedField[];
  json?: unknown;
  bytes?: number;
  sha256?: string;
}

/** The backend behind nginx: parses form data, JSON, or counts and hashes the bytes. */
async function echo(req: Request): Promise<Response> {
  const contentType = req.headers.get("content-type") ?? "";
  const seen: Echo = {
    method: req.method,
    contentType,
    clientTransferEncoding: req.headers.get("x-client-transfer-encoding") ?? "",
    clientContentLength: req.headers.get("x-client-content-length") ?? "",
  };
  if (/^(multipart\/form-data|application\/x-www-form-urlencoded)/.test(contentType)) {
    const fields: EchoedField[] = [];
    for (const [name, value] of await req.formData()) {
      if (typeof value === "string") {
        fields.push({ name, value });
      } else {
        const bytes = new Uint8Array(await value.arrayBuffer());
        // Bun's parser appends ";charset=utf-8" to text types: keep the essence.
        const type = value.type.split(";")[0];
        const file = { filename: value.name, type, size: bytes.length };
        fields.push({ name, ...file, sha256: await sha256(bytes) });
      }
    }
    return Response.json({ ...seen, fields });
  }
  if (contentType.startsWith("application/json")) {
    return Response.json({ ...seen, json: await req.json() });
  }
  const bytes = new Uint8Array(await req.arrayBuffer());
  return Response.json({ ...seen, bytes: bytes.length, sha256: await sha256(bytes) });
}

/** Starts the echo backend and nginx in front of it, runs `body`, then stops everything. */
async function withNginx(
  binary: NginxBinary,
  body: (origin: string, manager: PoolManager) => Promise<void>,
): Promise<void> {
  const dir = await makeNginxDir();
  const backend = await serveHttp(echo);
  try {
    for (const [file, bytes] of Object.entries(STATIC_FILES)) {
      await fs.mkdir(path.dirname(path.join(dir, "www", file)), { recursive: true });
      await fs.writeFile(path.join(dir, "www", file), bytes);
    }
    const port = await unusedPort();
    const server = await startNginx(binary, {
      dir,
      ports: [port],
      http: httpBlock(dir, port, backend.port),
      modules: brotliModule ? [brotliModule] : [],
    });
    const manager = new PoolManager({ timeout: TIMEOUT_MS, retries: false });
    try {
      await body(`http://127.0.0.1:${port}`, manager);
    } finally {
      await manager.close();
      await server.stop();
    }
  } finally {
    await backend.close();
    await removeNginxDir(dir);
  }
}

/** Registers a test that needs nginx (not registered when nginx is missing). */
function nginxTest(name: string, body: (origin: string, manager: PoolManager) => Promise<void>) {
  test(`nginx: ${name}`, () => withNginx(nginx!, body), { ignore: nginx === null });
}

async function echoed(pending: Promise<HTTPResponse>): Promise<Echo> {
  const response = await pending;
  assert.equal(response.status, 200, text(response.data));
  return await response.json() as Echo;
}

// ---------------------------------------------------------------------------------------------
// Request bodies through proxy_pass
// ---------------------------------------------------------------------------------------------

nginxTest(
  "multipart fields with a Unicode filename reach the backend intact",
  async (origin, m) => {
    const file = new TextEncoder().encode("première ligne\nzweite Zeile ✓\n");
    // No `"`: its WHATWG escape (%22) is not undone by Deno's or Bun's form parser.
    const filename = "résumé 日本語 ✓.txt";
    const got = await echoed(
      m.request("POST", `${origin}/echo`, {
        fields: { greeting: "grüß dich ✓", upload: [filename, file, "text/plain"] },
      }),
    );
    assert.match(got.contentType, /^multipart\/form-data; boundary=/);
    assert.deepEqual(got.fields, [
      { name: "greeting", value: "grüß dich ✓" },
      {
        name: "upload",
        filename,
        type: "text/plain",
        size: file.length,
        sha256: await sha256(file),
      },
    ]);
  },
);

nginxTest("urlencoded fields reach the backend intact", async (origin, m) => {
  const fields: Array<[string, string]> = [
    ["q", "a&b=c d+e"],
    ["unicode", "ünïcödé ✓ 日本語"],
    ["q", "second value"],
    ["empty", ""],
  ];
  const got = await echoed(
    m.request("POST", `${origin}/echo`, { fields, encodeMultipart: false }),
  );
  assert.match(got.contentType, /^application\/x-www-form-urlencoded/);
  assert.deepEqual(got.fields, fields.map(([name, value]) => ({ name, value })));
});

nginxTest("a JSON body reaches the backend intact", async (origin, m) => {
  const json = { name: "pooled ✓", n: [1, 2.5, null, true], nested: { "日本語": "テキスト" } };
  const got = await echoed(m.request("PUT", `${origin}/echo`, { json }));
  assert.equal(got.method, "PUT");
  assert.match(got.contentType, /^application\/json/);
  assert.deepEqual(got.json, json);
});

nginxTest("a ReadableStream body goes out chunked and arrives whole", async (origin, m) => {
  const chunks = Array.from({ length: 64 }, (_, i) => new Uint8Array(16 * 1024).fill(i));
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  chunks.reduce((at, c) => (all.set(c, at), at + c.length), 0);
  let next = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (next < chunks.length) controller.enqueue(chunks[next++]);
      else controller.close();
    },
  });
  const got = await echoed(
    m.request("POST", `${origin}/echo`, {
      body,
      headers: { "content-type": "application/octet-stream" },
    }),
  );
  assert.equal(got.clientTransferEncoding, "chunked");
  assert.equal(got.clientContentLength, "");
  assert.equal(got.bytes, all.length);
  assert.equal(got.sha256, await sha256(all));
});

// ---------------------------------------------------------------------------------------------
// Encoded responses
// ---------------------------------------------------------------------------------------------

/**
 * Checks that nginx sends `path` with `encoding` (raw bytes, not decoded, that `decode`
 * turns into the original), then that `request()` decodes it to the original bytes.
 */
async function assertDecoded(
  origin: string,
  manager: PoolManager,
  urlPath: string,
  encoding: string,
  decode: (raw: Uint8Array) => Uint8Array,
): Promise<void> {
  const url = `${origin}${urlPath}`;
  const raw = await manager.request("GET", url, { headers: ACCEPT_ALL, decodeContent: false });
  assert.equal(raw.status, 200);
  assert.equal(raw.headers.get("content-encoding"), encoding);
  assert.notDeepEqual(raw.data, ORIGINAL, "nginx sent the body unencoded");
  assert.deepEqual(new Uint8Array(decode(raw.data)), ORIGINAL, "the fixture itself is wrong");

  const decoded = await manager.request("GET", url, { headers: ACCEPT_ALL });
  assert.equal(decoded.status, 200);
  assert.equal(decoded.headers.get("content-encoding"), encoding);
  assert.equal(decoded.data.length, ORIGINAL.length, `${encoding} body was not decoded`);
  assert.deepEqual(decoded.data, ORIGINAL);
}

nginxTest(
  "a gzip response (gzip on) is decoded to the original bytes",
  (origin, m) => assertDecoded(origin, m, "/gzip/data.txt", "gzip", (raw) => zlib.gunzipSync(raw)),
);

nginxTest(
  "a deflate response (zlib-wrapped, precompressed) is decoded",
  (origin, m) =>
    assertDecoded(origin, m, "/deflate/zlib.bin", "deflate", (raw) => zlib.inflateSync(raw)),
);

nginxTest(
  "a deflate response (raw, precompressed) is decoded",
  (origin, m) =>
    assertDecoded(origin, m, "/deflate/raw.bin", "deflate", (raw) => zlib.inflateRawSync(raw)),
);

nginxTest(
  `a br response (${brotliHow}) is decoded to the original bytes`,
  (origin, m) =>
    assertDecoded(
      origin,
      m,
      brotliModule ? "/br/data.txt" : "/br/data.bin",
      "br",
      (raw) => zlib.brotliDecompressSync(raw),
    ),
);
