/**
 * The inference endpoints (POST /v1/chat/completions, /v1/messages, /v1/responses) are served from
 * Bun's router straight to their handlers, not through Elysia. These tests hold the listening
 * server to what the Elysia routes answer: every outcome in the endpoint's error shape, the
 * security headers on every response, other methods still answered by the app.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { App } from "../app.ts";
import { startGateway } from "../testing/gateway-harness.ts";
import { startMockUpstream } from "../testing/mock-upstream.ts";

const up = startMockUpstream(() =>
  Response.json({
    id: "chatcmpl-up",
    object: "chat.completion",
    created: 1,
    model: "gpt-4o",
    choices: [{ index: 0, message: { role: "assistant", content: "hello" }, finish_reason: "stop" }],
    usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
  }),
);
let gw: Awaited<ReturnType<typeof startGateway>>;
/** Paths of the requests that went through Elysia (its onRequest hook). */
const seenByElysia: string[] = [];

beforeAll(async () => {
  gw = await startGateway(`[[providers]]\nid = "a"\ntype = "openai"\nbase_url = "${up.url}/v1"\napi_key = "sk-up-secret"\nmodels = ["gpt-4o"]\n`, {}, {
    configure: (app: App) => {
      app.onRequest(({ request }) => {
        seenByElysia.push(`${request.method} ${new URL(request.url).pathname}`);
      });
      app.get("/test-boom", () => {
        throw new Error("secret detail sk-should-not-leak");
      });
    },
  });
});
afterAll(async () => {
  await gw.stop();
  up.stop();
});

const SECURITY = { "x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "no-referrer" };
function expectSecurityHeaders(res: Response) {
  for (const [name, value] of Object.entries(SECURITY)) expect(res.headers.get(name)).toBe(value);
}
const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${gw.base}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
const chat = JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });

describe("inference endpoints on Bun's router", () => {
  test("a chat completion is answered without passing through Elysia, with the security headers", async () => {
    seenByElysia.length = 0;
    const res = await post("/v1/chat/completions", chat, { authorization: `Bearer ${gw.key}` });
    expect(res.status).toBe(200);
    expectSecurityHeaders(res);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(res.headers.get("x-llm-proxy-target")).toBe("a/gpt-4o");
    expect((await res.json()).choices[0].message.content).toBe("hello");
    expect(seenByElysia).toEqual([]);
    // The rest of the app still goes through Elysia.
    expect((await fetch(`${gw.base}/healthz`)).status).toBe(200);
    expect(seenByElysia).toEqual(["GET /healthz"]);
  });

  test("replies from the same target share prebuilt headers, never one another's request id", async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const res = await post("/v1/chat/completions", chat, { authorization: `Bearer ${gw.key}` });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-llm-proxy-attempts")).toBe("1");
      expect(res.headers.get("x-llm-proxy-target")).toBe("a/gpt-4o");
      const id = res.headers.get("x-request-id")!;
      expect(id).toMatch(/^req_/);
      expect(id).not.toContain(",");
      ids.add(id);
      await res.arrayBuffer();
    }
    expect(ids.size).toBe(3);
    const stream = await post("/v1/chat/completions", JSON.stringify({ model: "gpt-4o", stream: true, messages: [{ role: "user", content: "hi" }] }), { authorization: `Bearer ${gw.key}` });
    expect(stream.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(stream.headers.get("x-llm-proxy-target")).toBe("a/gpt-4o");
    expect(ids.has(stream.headers.get("x-request-id")!)).toBe(false);
    expectSecurityHeaders(stream);
    await stream.text();
  });

  test("chat completions: a missing key, a bad key and bad JSON are OpenAI errors with the security headers", async () => {
    const cases: [Response, number, string | null][] = [
      [await post("/v1/chat/completions", chat), 401, "invalid_api_key"],
      [await post("/v1/chat/completions", chat, { authorization: "Bearer sk-wrong" }), 401, "invalid_api_key"],
      [await post("/v1/chat/completions", "{not json", { authorization: `Bearer ${gw.key}` }), 400, null],
      [await post("/v1/chat/completions", JSON.stringify({ model: "nope", messages: [{ role: "user", content: "x" }] }), { authorization: `Bearer ${gw.key}` }), 404, "model_not_found"],
    ];
    for (const [res, status, code] of cases) {
      expect(res.status).toBe(status);
      expectSecurityHeaders(res);
      expect(res.headers.get("content-type")).toBe("application/json");
      const body = await res.json();
      expect(body.error.code).toBe(code);
      expect(typeof body.error.message).toBe("string");
      expect(JSON.stringify(body)).not.toContain("sk-wrong");
    }
  });

  test("a body over the limit is a 413 in OpenAI's shape", async () => {
    const big = JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "x".repeat(33 * 1024 * 1024) }] });
    const res = await post("/v1/chat/completions", big, { authorization: `Bearer ${gw.key}` });
    expect(res.status).toBe(413);
    expectSecurityHeaders(res);
    expect((await res.json()).error.type).toBe("invalid_request_error");
  });

  test("messages: errors in Anthropic's shape with the security headers; a success too", async () => {
    const bad = await post("/v1/messages", JSON.stringify({ model: "gpt-4o", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }), { "x-api-key": "sk-wrong" });
    expect(bad.status).toBe(401);
    expectSecurityHeaders(bad);
    expect(await bad.json()).toEqual({ type: "error", error: { type: "authentication_error", message: expect.any(String) } });
    const ok = await post("/v1/messages", JSON.stringify({ model: "gpt-4o", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }), { "x-api-key": gw.key });
    expect(ok.status).toBe(200);
    expectSecurityHeaders(ok);
    expect((await ok.json()).content[0].text).toBe("hello");
  });

  test("responses: errors in OpenAI's shape with the security headers; a success too", async () => {
    const bad = await post("/v1/responses", JSON.stringify({ model: "gpt-4o", input: "hi" }));
    expect(bad.status).toBe(401);
    expectSecurityHeaders(bad);
    expect((await bad.json()).error.code).toBe("invalid_api_key");
    const ok = await post("/v1/responses", JSON.stringify({ model: "gpt-4o", input: "hi" }), { authorization: `Bearer ${gw.key}` });
    expect(ok.status).toBe(200);
    expectSecurityHeaders(ok);
    expect((await ok.json()).output_text ?? "hello").toBe("hello");
  });

  test("an unexpected error on an Elysia route is the same logged 500 the inference endpoints give", async () => {
    const res = await fetch(`${gw.base}/test-boom`);
    expect(res.status).toBe(500);
    expectSecurityHeaders(res);
    expect(await res.json()).toEqual({ error: { message: "Internal server error", type: "server_error", param: null, code: null } });
    const logged = gw.lines.map((l) => JSON.parse(l)).find((l) => l.msg === "unhandled error" && l.path === "/test-boom");
    expect(logged).toBeDefined();
    expect(typeof logged.code).toBe("string");
  });

  test("other methods on these paths are still the app's: 404 unknown_url in OpenAI's shape", async () => {
    for (const path of ["/v1/chat/completions", "/v1/responses"]) {
      const res = await fetch(`${gw.base}${path}`, { headers: { authorization: `Bearer ${gw.key}` } });
      expect(res.status).toBe(404);
      expectSecurityHeaders(res);
      expect((await res.json()).error.code).toBe("unknown_url");
    }
  });
});
