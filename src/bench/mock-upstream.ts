/**
 * Mock OpenAI upstream for the benchmark (run as its own process by index.ts, pinned to the load
 * generator's core):  bun src/bench/mock-upstream.ts PORT [FIRST_CHUNK_DELAY_MS] [CHUNK_GAP_MS]
 *
 * POST …/chat/completions: a fixed chat.completion, or, when the body asks for `"stream":true`, an
 * SSE stream whose first chunk is sent after FIRST_CHUNK_DELAY_MS and the following ones
 * CHUNK_GAP_MS apart (0 = written back to back). GET /healthz answers 200 for readiness checks.
 */
import { COMPLETION_JSON, STREAM_EVENTS } from "./fixtures.ts";

const port = Number(process.argv[2]);
const firstDelayMs = Number(process.argv[3] ?? 0);
const gapMs = Number(process.argv[4] ?? 0);
if (!Number.isInteger(port) || port <= 0) throw new Error("usage: mock-upstream.ts PORT [FIRST_CHUNK_DELAY_MS] [CHUNK_GAP_MS]");

const completion = new TextEncoder().encode(COMPLETION_JSON);
const events = STREAM_EVENTS.map((e) => new TextEncoder().encode(e));
const JSON_HEADERS = { "content-type": "application/json", "openai-processing-ms": "312", "x-request-id": "req_bench" };
const SSE_HEADERS = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-request-id": "req_bench" };

function sseBody(): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async start(controller) {
      try {
        if (firstDelayMs > 0) await Bun.sleep(firstDelayMs);
        for (let i = 0; i < events.length; i++) {
          if (i > 0 && gapMs > 0) await Bun.sleep(gapMs);
          controller.enqueue(events[i]!);
        }
        controller.close();
      } catch {
        // The reader went away (client disconnected): nothing to do.
      }
    },
  });
}

Bun.serve({
  hostname: "127.0.0.1",
  port,
  idleTimeout: 120,
  async fetch(req) {
    if (req.method === "GET") return new Response("ok");
    if (!req.url.endsWith("/chat/completions")) return new Response("not found", { status: 404 });
    const body = await req.text();
    if (body.includes('"stream":true')) return new Response(sseBody(), { headers: SSE_HEADERS });
    return new Response(completion, { headers: JSON_HEADERS });
  },
});
