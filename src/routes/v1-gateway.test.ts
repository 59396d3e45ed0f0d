/** Routing, resilience, streaming and client-input behaviour of /v1, over real HTTP on loopback. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import path from "node:path";
import { openDatabase } from "../db/client.ts";
import { revokeClientKey } from "../db/client-keys.ts";
import { startGateway, streamFirstChunk } from "../testing/gateway-harness.ts";
import { chunkedResponse, sendThenHang, startMockUpstream, type RecordedRequest, type UpstreamHandler } from "../testing/mock-upstream.ts";

const enc = new TextEncoder();

function completion(text: string, model = "gpt-4o-2024-08-06") {
  return Response.json({
    id: "chatcmpl-up",
    object: "chat.completion",
    created: 1,
    model,
    choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
    usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
  });
}
function sse(chunks: unknown[]): string {
  return chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join("") + "data: [DONE]\n\n";
}
const chunk = (content: string, finish: string | null = null) => ({
  id: "c",
  object: "chat.completion.chunk",
  created: 1,
  model: "gpt-4o",
  choices: [{ index: 0, delta: { content }, finish_reason: finish }],
});
const usageChunk = { id: "c", object: "chat.completion.chunk", created: 1, model: "gpt-4o", choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } };
const errorBody = (status: number, message: string, type = "server_error", code: string | null = null) =>
  Response.json({ error: { message, type, param: null, code } }, { status });

// Two upstreams so fallback crosses servers; handlers are set per test.
const handlers: Record<string, UpstreamHandler> = {};
const up1 = startMockUpstream((r, q) => handlers.a!(r, q));
const up2 = startMockUpstream((r, q) => handlers.b!(r, q));
let gw: Awaited<ReturnType<typeof startGateway>>;
const ask = (model: string, extra: Record<string, unknown> = {}) =>
  gw.client.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }], ...extra } as any);

beforeAll(async () => {
  gw = await startGateway(`
[[providers]]
id = "a"
type = "openai"
base_url = "${up1.url}/v1"
api_keys = ["sk-a-key-one-secret", "sk-a-key-two-secret"]
models = ["gpt-4o", "m1"]

[[providers]]
id = "b"
type = "openai-compatible"
base_url = "${up2.url}/v1"
models = ["local-model"]

[[providers]]
id = "c"
type = "openai"
base_url = "${up1.url}/v1"
api_key = "sk-c-only-key"
models = ["m2"]

[models.aliases]
smart = ["a/gpt-4o", "b/local-model"]

[gateway]
max_retries = 1
retry_base_delay_ms = 10
retry_max_delay_ms = 3000
keepalive_interval_ms = 200
max_body_bytes = 65536
`);
});
afterAll(async () => {
  await gw.stop();
  up1.stop();
  up2.stop();
});

describe("routing", () => {
  test("provider-id/model, bare names and aliases resolve; unknown models get 404 model_not_found", async () => {
    handlers.a = (r) => completion(`a:${r.body.model}`);
    handlers.b = (r) => completion(`b:${r.body.model}`, r.body.model);
    expect((await ask("a/gpt-4o")).choices[0]!.message.content).toBe("a:gpt-4o");
    expect((await ask("gpt-4o")).choices[0]!.message.content).toBe("a:gpt-4o");
    expect((await ask("local-model")).choices[0]!.message.content).toBe("b:local-model");
    expect((await ask("smart")).choices[0]!.message.content).toBe("a:gpt-4o");
    const err: any = await ask("nope-9").catch((e) => e);
    expect(err.status).toBe(404);
    expect(err.code).toBe("model_not_found");
    const notListed: any = await ask("a/gpt-5-secret").catch((e) => e);
    expect(notListed.status).toBe(404);
  });

  test("/v1/models lists aliases and provider models; /v1/models/{id} finds one", async () => {
    const list = await gw.client.models.list();
    const ids = list.data.map((m) => m.id);
    expect(ids).toEqual(["smart", "a/gpt-4o", "a/m1", "b/local-model", "c/m2"]);
    expect((await gw.client.models.retrieve("a/gpt-4o")).owned_by).toBe("a");
    expect(((await gw.client.models.retrieve("zzz").catch((e) => e)) as any).status).toBe(404);
  });
});

describe("resilience", () => {
  test("a failing target is retried, then the alias falls back to the next target", async () => {
    let aCalls = 0;
    handlers.a = () => (aCalls++, errorBody(500, "boom"));
    handlers.b = () => completion("from b", "local-model");
    const res = await gw.client.chat.completions
      .create({ model: "smart", messages: [{ role: "user", content: "hi" }] })
      .withResponse();
    expect(res.data.choices[0]!.message.content).toBe("from b");
    expect(aCalls).toBe(2); // one try + one retry
    expect(res.response.headers.get("x-llm-proxy-target")).toBe("b/local-model");
    expect(res.response.headers.get("x-llm-proxy-attempts")).toBe("3");
  });

  test("a key that fails authentication is benched and the next key is used", async () => {
    const seen: string[] = [];
    handlers.a = (r) => {
      const auth = r.headers.get("authorization")!;
      seen.push(auth.slice(-10));
      return auth.includes("one") ? errorBody(401, "Incorrect API key provided: sk-a-...", "invalid_request_error", "invalid_api_key") : completion("ok");
    };
    for (let i = 0; i < 3; i++) expect((await ask("a/gpt-4o")).choices[0]!.message.content).toBe("ok");
    // Key one is tried at most once; afterwards only key two is used while key one cools down.
    expect(seen.filter((s) => s.includes("one")).length).toBe(1);
    expect(seen.filter((s) => s.includes("two")).length).toBe(3);
  });

  test("retry-after is honoured before retrying", async () => {
    const times: number[] = [];
    handlers.a = () => {
      times.push(performance.now());
      return times.length === 1
        ? Response.json({ error: { message: "Rate limit reached", type: "requests", code: "rate_limit_exceeded" } }, { status: 429, headers: { "retry-after": "1" } })
        : completion("after wait");
    };
    handlers.b = () => completion("b");
    // Provider c has a single key, so the gateway must wait out retry-after before trying again.
    const res = await ask("c/m2");
    expect(res.choices[0]!.message.content).toBe("after wait");
    expect(times.length).toBe(2);
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(950);
  });

  test("when every target fails, the client gets the last error in OpenAI's shape with the provider named", async () => {
    handlers.a = () => errorBody(503, "overloaded");
    handlers.b = () => errorBody(500, "b exploded");
    const err: any = await ask("smart").catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect([502, 503]).toContain(err.status);
    expect(err.message).toContain("b");
    expect(JSON.stringify(err.error)).not.toContain("sk-a-key");
  });

  test("client-fixable upstream errors are not retried and keep their 4xx", async () => {
    let calls = 0;
    handlers.a = () => (calls++, errorBody(400, "This model's maximum context length is 128000 tokens.", "invalid_request_error", "context_length_exceeded"));
    const err: any = await ask("smart").catch((e) => e);
    expect(err.status).toBe(400);
    expect(err.message).toContain("maximum context length");
    expect(calls).toBe(1);
  });

  test("malformed upstream JSON becomes a 502, and the server keeps serving", async () => {
    handlers.a = () => new Response("{not json", { headers: { "content-type": "application/json" } });
    handlers.b = () => new Response("<html>bad gateway</html>", { status: 200, headers: { "content-type": "text/html" } });
    const err: any = await ask("smart").catch((e) => e);
    expect(err.status).toBe(502);
    handlers.a = () => completion("fine");
    expect((await ask("a/gpt-4o")).choices[0]!.message.content).toBe("fine");
  });
});

describe("response headers", () => {
  test("replies, streams, upstream errors and refusals on every /v1 API carry the security headers, once each", async () => {
    handlers.a = (req) =>
      (req.body as { stream?: boolean }).stream
        ? new Response(sse([chunk("Hi"), chunk("", "stop"), usageChunk]), { headers: { "content-type": "text/event-stream" } })
        : completion("Hi");
    const post = (path: string, body: unknown, key = gw.key) =>
      fetch(`${gw.base}${path}`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    const messages = [{ role: "user", content: "hi" }];
    const replies = [
      await post("/v1/chat/completions", { model: "a/gpt-4o", messages }),
      await post("/v1/chat/completions", { model: "a/gpt-4o", messages, stream: true }),
      await post("/v1/messages", { model: "a/gpt-4o", max_tokens: 16, messages }),
      await post("/v1/responses", { model: "a/gpt-4o", input: "hi" }),
      await post("/v1/chat/completions", { model: "a/gpt-4o", messages }, "llmp_wrong"),
    ];
    handlers.a = () => errorBody(400, "bad thing", "invalid_request_error");
    replies.push(await post("/v1/chat/completions", { model: "a/gpt-4o", messages }));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 401, 400]);
    for (const res of replies) {
      await res.arrayBuffer();
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("x-frame-options")).toBe("DENY");
      expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    }
    expect(replies[0]!.headers.get("content-type")).toBe("application/json");
    expect(replies[0]!.headers.get("x-request-id")).toMatch(/^req_/);
    expect(replies[1]!.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
  });
});

describe("streaming", () => {
  test("SSE headers, no usage chunk unless asked, usage chunk when include_usage", async () => {
    handlers.a = () => new Response(sse([chunk("Hel"), chunk("lo"), chunk("", "stop"), usageChunk]), { headers: { "content-type": "text/event-stream" } });
    const raw = await fetch(`${gw.base}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${gw.key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "a/gpt-4o", stream: true, messages: [{ role: "user", content: "hi" }] }),
    });
    expect(raw.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(raw.headers.get("cache-control")).toContain("no-cache");
    const text = await raw.text();
    expect(text).toContain('"content":"Hel"');
    expect(text).not.toContain('"usage":{');
    expect(text.trim().endsWith("data: [DONE]")).toBe(true);
    // The gateway always asked the upstream for usage.
    expect(up1.requests.at(-1)!.body.stream_options).toEqual({ include_usage: true });

    const s = await gw.client.chat.completions.create({ model: "a/gpt-4o", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "hi" }] });
    let usage: any;
    for await (const c of s) if (c.usage) usage = c.usage;
    expect(usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 });
  });

  test("a stream request answered with a JSON reply streams it; a JSON request answered with SSE gets one reply", async () => {
    handlers.a = () => completion("whole at once");
    const s = await gw.client.chat.completions.create({ model: "a/gpt-4o", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "hi" }] });
    let text = "";
    let finish: string | null | undefined;
    let usage: any;
    for await (const c of s) {
      text += c.choices[0]?.delta?.content ?? "";
      finish ??= c.choices[0]?.finish_reason;
      if (c.usage) usage = c.usage;
    }
    expect({ text, finish }).toEqual({ text: "whole at once", finish: "stop" });
    expect(usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 });

    handlers.a = () => new Response(sse([chunk("Hel"), chunk("lo", "stop"), usageChunk]), { headers: { "content-type": "text/event-stream" } });
    const reply = await ask("a/gpt-4o");
    expect(reply.choices[0]!.message.content).toBe("Hello");
    expect(reply.choices[0]!.finish_reason).toBe("stop");
    expect(reply.usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 });
  });

  test("a client disconnect aborts the upstream request within 100 ms", async () => {
    let upstreamRequest: RecordedRequest | undefined;
    handlers.a = (r) => {
      upstreamRequest = r;
      return sendThenHang(`data: ${JSON.stringify(chunk("first"))}\n\n`); // then silence: the upstream keeps the stream open
    };
    const stream = await streamFirstChunk(gw.base, gw.key, { model: "a/gpt-4o", messages: [{ role: "user", content: "hi" }] });
    expect(stream.first).toContain("first");
    const t0 = performance.now();
    stream.leave();
    const abortedAt = await Promise.race([upstreamRequest!.aborted, Bun.sleep(2000).then(() => NaN)]);
    expect(abortedAt - t0).toBeLessThan(100);
  });

  test("a client disconnect before the first byte also aborts the upstream", async () => {
    let upstreamRequest: RecordedRequest | undefined;
    handlers.a = (r) => {
      upstreamRequest = r;
      return new Promise<Response>(() => {}); // never answers
    };
    const controller = new AbortController();
    const pending = fetch(`${gw.base}/v1/chat/completions`, {
      method: "POST",
      signal: controller.signal,
      headers: { authorization: `Bearer ${gw.key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "a/gpt-4o", messages: [{ role: "user", content: "hi" }] }),
    }).catch(() => "aborted");
    for (let i = 0; i < 100 && !upstreamRequest; i++) await Bun.sleep(10);
    const t0 = performance.now();
    controller.abort();
    expect(await pending).toBe("aborted");
    const abortedAt = await Promise.race([upstreamRequest!.aborted, Bun.sleep(2000).then(() => NaN)]);
    expect(abortedAt - t0).toBeLessThan(100);
  });

  test("an upstream error mid-stream reaches the client as a stream error and a clean close", async () => {
    handlers.a = () =>
      new Response(`data: ${JSON.stringify(chunk("partial"))}\n\ndata: {"error":{"message":"The server had an error","type":"server_error"}}\n\n`, {
        headers: { "content-type": "text/event-stream" },
      });
    const s = await gw.client.chat.completions.create({ model: "a/gpt-4o", stream: true, messages: [{ role: "user", content: "hi" }] });
    let content = "";
    const err = await (async () => {
      for await (const c of s) content += c.choices[0]?.delta?.content ?? "";
    })().catch((e) => e);
    expect(content).toBe("partial");
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.message).toContain("server had an error");
  });

  test("malformed SSE after output ends the stream with an error event", async () => {
    handlers.a = () => new Response(`data: ${JSON.stringify(chunk("ok"))}\n\ndata: {broken\n\n`, { headers: { "content-type": "text/event-stream" } });
    const s = await gw.client.chat.completions.create({ model: "a/gpt-4o", stream: true, messages: [{ role: "user", content: "hi" }] });
    let content = "";
    const err = await (async () => {
      for await (const c of s) content += c.choices[0]?.delta?.content ?? "";
    })().catch((e) => e);
    expect(content).toBe("ok");
    expect(err).toBeDefined();
  });

  test(
    "a 30 s silent upstream still completes, with keep-alive comments meanwhile",
    async () => {
      handlers.a = () =>
        chunkedResponse([enc.encode(`data: ${JSON.stringify(chunk("before"))}\n\n`), enc.encode(sse([chunk(" after", "stop")]))], {
          headers: { "content-type": "text/event-stream" },
          delayMs: 31_000,
        });
      const res = await fetch(`${gw.base}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${gw.key}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "a/gpt-4o", stream: true, messages: [{ role: "user", content: "hi" }] }),
      });
      const text = await res.text();
      expect(text).toContain('"content":"before"');
      expect(text).toContain('"content":" after"');
      expect(text).toContain(": keep-alive");
      expect(text.trim().endsWith("data: [DONE]")).toBe(true);
    },
    { timeout: 60_000 },
  );
});

describe("client input and keys", () => {
  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(`${gw.base}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${gw.key}`, "content-type": "application/json", ...headers },
      body,
    });

  test("malformed JSON, wrong types, missing messages and huge bodies get 4xx in OpenAI's shape", async () => {
    const bad = await post("{nope");
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.type).toBe("invalid_request_error");
    const wrongType = await post(JSON.stringify({ model: "a/gpt-4o", messages: "hi" }));
    expect(wrongType.status).toBe(400);
    expect((await wrongType.json()).error.param).toBe("messages");
    const missing = await post(JSON.stringify({ model: "a/gpt-4o" }));
    expect(missing.status).toBe(400);
    const huge = await post(JSON.stringify({ model: "a/gpt-4o", messages: [{ role: "user", content: "x".repeat(100_000) }] }));
    expect(huge.status).toBe(413);
    expect((await huge.json()).error.code).toBe("request_too_large");
    handlers.a = () => completion("still serving");
    expect((await ask("a/gpt-4o")).choices[0]!.message.content).toBe("still serving");
  });

  test("missing, wrong and revoked keys get 401; dashboard-style credentials do not work", async () => {
    const noKey = await fetch(`${gw.base}/v1/models`);
    expect(noKey.status).toBe(401);
    expect((await noKey.json()).error.code).toBe("invalid_api_key");
    const wrong = await fetch(`${gw.base}/v1/models`, { headers: { authorization: "Bearer llmp_wrong" } });
    expect(wrong.status).toBe(401);
    const viaXApiKey = await fetch(`${gw.base}/v1/models`, { headers: { "x-api-key": gw.key } });
    expect(viaXApiKey.status).toBe(200);

    const side = openDatabase(path.join(gw.dir, "llm-proxy.db"));
    expect(revokeClientKey(side.db, gw.keyId)).toBe(true);
    side.close();
    const revoked = await fetch(`${gw.base}/v1/models`, { headers: { authorization: `Bearer ${gw.key}` } });
    expect(revoked.status).toBe(401);
  });
});
