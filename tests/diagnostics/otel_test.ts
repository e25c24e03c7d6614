/**
 * A real consumer of the `undici:*` channels: OpenTelemetry's undici instrumentation
 * (`@opentelemetry/instrumentation-undici`, a devDependency) makes one client span per
 * pooled request, with the method, URL and status, and injects `traceparent` into the
 * request the loopback server receives.
 */

import { assert, runtime, test } from "../_harness.ts";
import { deferred, rejects, text } from "../_util.ts";
import { serveHttp, unusedPort } from "../_servers.ts";
import { CA_CERT, SERVER_TLS } from "../_certs.ts";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { HTTPConnectionPool, HTTPSConnectionPool, PoolManager } from "../../mod.ts";
import { propagation, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { UndiciInstrumentation } from "@opentelemetry/instrumentation-undici";
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;

/** Runs `fn` with the instrumentation on, recording finished spans. */
async function traced(fn: (exporter: InMemorySpanExporter) => Promise<void>): Promise<void> {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const instrumentation = new UndiciInstrumentation();
  instrumentation.setTracerProvider(provider);
  try {
    await fn(exporter);
  } finally {
    instrumentation.disable();
    propagation.disable();
    // The in-memory exporter reports each export from a timer: let those run out.
    await provider.forceFlush();
    await provider.shutdown();
  }
}

test(`OpenTelemetry undici instrumentation: a span per request (${runtime})`, async () => {
  const server = await serveHttp((req) => {
    const status = new URL(req.url).pathname === "/missing" ? 404 : 200;
    return new Response(req.headers.get("traceparent") ?? "", { status });
  });
  try {
    await traced(async (exporter) => {
      await using manager = new PoolManager();
      const ok = await manager.request("GET", `${server.url}/items?q=1`);
      const missing = await manager.request("POST", `${server.url}/missing`, { body: "x" });
      const spans = exporter.getFinishedSpans();
      assert.equal(spans.length, 2);
      const [first, second] = spans;

      assert.equal(first.name, "GET");
      assert.equal(first.kind, SpanKind.CLIENT);
      assert.equal(first.attributes["http.request.method"], "GET");
      assert.equal(first.attributes["url.full"], `${server.url}/items?q=1`);
      assert.equal(first.attributes["url.path"], "/items");
      assert.equal(first.attributes["url.query"], "?q=1");
      assert.equal(first.attributes["server.address"], "127.0.0.1");
      assert.equal(first.attributes["server.port"], server.port);
      assert.equal(first.attributes["http.response.status_code"], 200);
      assert.equal(first.attributes["network.peer.address"], "127.0.0.1");
      assert.equal(first.attributes["network.peer.port"], server.port);
      assert.equal(first.status.code, SpanStatusCode.UNSET);

      // The server got the span's own context in `traceparent`.
      const received = TRACEPARENT.exec(text(ok.data));
      assert.ok(received, `traceparent received: ${text(ok.data)}`);
      assert.equal(received[1], first.spanContext().traceId);
      assert.equal(received[2], first.spanContext().spanId);

      assert.equal(second.name, "POST");
      assert.equal(second.attributes["http.response.status_code"], 404);
      assert.equal(second.attributes["error.type"], "404");
      assert.equal(second.status.code, SpanStatusCode.ERROR);
      assert.equal(TRACEPARENT.exec(text(missing.data))?.[2], second.spanContext().spanId);
    });
  } finally {
    await server.close();
  }
});

test(`OpenTelemetry undici instrumentation: a failed request ends its span (${runtime})`, async () => {
  const port = await unusedPort();
  await traced(async (exporter) => {
    await using pool = new HTTPConnectionPool("127.0.0.1", { port, retries: false });
    await rejects(pool.request("GET", "/down"));
    const [span] = exporter.getFinishedSpans();
    assert.equal(exporter.getFinishedSpans().length, 1);
    assert.equal(span.attributes["url.full"], `http://127.0.0.1:${port}/down`);
    assert.equal(span.attributes["error.type"], "ERR_NEW_CONNECTION");
    assert.equal(span.status.code, SpanStatusCode.ERROR);
  });
});

test(`OpenTelemetry undici instrumentation: a span per request over HTTP/2 (${runtime})`, async () => {
  // Answers with the traceparent it received; a stream to /cut is reset mid-body.
  const server = http2.createSecureServer(SERVER_TLS);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => sessions.add(session));
  server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    stream.on("error", () => {});
    stream.respond({ ":status": 200, "content-length": "100" });
    if (headers[":path"] === "/cut") {
      stream.write("x", () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    } else stream.end(String(headers.traceparent ?? "").padEnd(100));
  });
  const listening = deferred();
  server.listen(0, "127.0.0.1", () => listening.resolve());
  await listening.promise;
  const port = (server.address() as AddressInfo).port;
  try {
    await traced(async (exporter) => {
      await using pool = new HTTPSConnectionPool("localhost", {
        port,
        caCerts: [CA_CERT],
        retries: false,
      });
      const ok = await pool.request("GET", "/items");
      assert.equal(ok.version, 20);
      const cut = await pool.request("GET", "/cut", { preloadContent: false });
      await rejects(cut.read());
      const [first, second] = exporter.getFinishedSpans();
      assert.equal(exporter.getFinishedSpans().length, 2);
      assert.equal(first.attributes["url.full"], `https://localhost:${port}/items`);
      assert.equal(first.attributes["http.response.status_code"], 200);
      assert.equal(first.status.code, SpanStatusCode.UNSET);
      const received = TRACEPARENT.exec(text(ok.data).trim());
      assert.ok(received, `traceparent received: ${text(ok.data)}`);
      assert.equal(received[2], first.spanContext().spanId);
      assert.equal(second.attributes["url.full"], `https://localhost:${port}/cut`);
      assert.equal(second.status.code, SpanStatusCode.ERROR);
    });
  } finally {
    for (const session of sessions) session.destroy();
    const closed = deferred();
    server.close(() => closed.resolve());
    await closed.promise;
  }
});
