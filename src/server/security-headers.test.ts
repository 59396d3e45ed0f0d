/** Every kind of response carries the base security headers (set as Elysia default headers). */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { adminSession, providerToml, startGateway } from "../testing/gateway-harness.ts";
import { startMockUpstream } from "../testing/mock-upstream.ts";
import { BASE_SECURITY_HEADERS } from "./security-headers.ts";

const up = startMockUpstream((req) =>
  req.body?.stream
    ? new Response(`data: ${JSON.stringify({ id: "c", model: "gpt-4o", choices: [{ index: 0, delta: { content: "hi" }, finish_reason: "stop" }] })}\n\ndata: [DONE]\n\n`, {
        headers: { "content-type": "text/event-stream" },
      })
    : Response.json({ id: "c", model: "gpt-4o", choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }], usage: { prompt_tokens: 1, completion_tokens: 1 } }),
);
let gw: Awaited<ReturnType<typeof startGateway>>;
beforeAll(async () => {
  gw = await startGateway(providerToml("up", "openai", `${up.url}/v1`, 'models = ["gpt-4o"]'));
});
afterAll(async () => {
  await gw.stop();
  up.stop();
});

function expectSecured(res: Response, what: string) {
  for (const [name, value] of Object.entries(BASE_SECURITY_HEADERS)) {
    expect({ what, name, value: res.headers.get(name) }).toEqual({ what, name, value });
  }
}

test("success, error, stream, API, page and 404 responses all carry the security headers", async () => {
  const auth = { authorization: `Bearer ${gw.key}`, "content-type": "application/json" };
  const chat = (body: unknown, headers: Record<string, string> = auth) =>
    fetch(`${gw.base}/v1/chat/completions`, { method: "POST", headers, body: JSON.stringify(body) });
  const ok = await chat({ model: "up/gpt-4o", messages: [{ role: "user", content: "hi" }] });
  expect(ok.status).toBe(200);
  expectSecured(ok, "chat completion");
  const streamed = await chat({ model: "up/gpt-4o", stream: true, messages: [{ role: "user", content: "hi" }] });
  expect(await streamed.text()).toContain("[DONE]");
  expectSecured(streamed, "chat completion stream");
  const invalid = await chat({ model: "up/gpt-4o", messages: [] });
  expect(invalid.status).toBe(400);
  expectSecured(invalid, "400");
  const unauthenticated = await chat({ model: "up/gpt-4o", messages: [{ role: "user", content: "hi" }] }, { "content-type": "application/json" });
  expect(unauthenticated.status).toBe(401);
  expectSecured(unauthenticated, "401");
  const models = await fetch(`${gw.base}/v1/models`, { headers: auth });
  expect(models.status).toBe(200);
  expectSecured(models, "/v1/models");
  const messages = await fetch(`${gw.base}/v1/messages`, { method: "POST", headers: { "x-api-key": gw.key, "content-type": "application/json" }, body: "{" });
  expect(messages.status).toBe(400);
  expectSecured(messages, "/v1/messages 400");
  for (const path of ["/healthz", "/readyz", "/v1/nope", "/api/nope", "/", "/requests/abc"]) {
    const res = await fetch(`${gw.base}${path}`);
    expectSecured(res, path);
  }
  const api = await adminSession(gw);
  const me = await api("/api/auth/me");
  expect(me.status).toBe(200);
  expectSecured(me, "/api/auth/me");
});
