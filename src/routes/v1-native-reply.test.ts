/**
 * OpenAI's JSON replies reach Chat Completions clients as OpenAI wrote them (every field, byte for
 * byte); replies from upstreams that need normalising, and replies to other APIs, are rewritten.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { RequestLogStore } from "../db/request-log.ts";
import { providerToml, startGateway } from "../testing/gateway-harness.ts";
import { startMockUpstream } from "../testing/mock-upstream.ts";

// An OpenAI reply with fields the gateway does not model (logprobs, service_tier, system_fingerprint,
// usage details), in OpenAI's key order and spacing.
const OPENAI_REPLY = JSON.stringify({
  id: "chatcmpl-upstream-42",
  object: "chat.completion",
  created: 1_761_000_000,
  model: "gpt-4o-2024-08-06",
  choices: [
    {
      index: 0,
      message: { role: "assistant", content: "Hello — “quoted” ☃", refusal: null, annotations: [] },
      logprobs: { content: [{ token: "Hello", logprob: -0.01, bytes: [72, 101, 108, 108, 111], top_logprobs: [] }] },
      finish_reason: "stop",
    },
  ],
  usage: {
    prompt_tokens: 12,
    completion_tokens: 5,
    total_tokens: 17,
    prompt_tokens_details: { cached_tokens: 4, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  },
  service_tier: "default",
  system_fingerprint: "fp_abc123",
}, null, 2);
const DEEPSEEK_REPLY = JSON.stringify({
  id: "ds-upstream-7",
  object: "chat.completion",
  created: 1_761_000_000,
  model: "deepseek-chat",
  choices: [{ index: 0, message: { role: "assistant", content: "Hi" }, finish_reason: "stop" }],
  usage: { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12, prompt_cache_hit_tokens: 8, prompt_cache_miss_tokens: 2 },
  system_fingerprint: "fp_ds",
});

const upstream = startMockUpstream((request) => {
  const body = request.path.startsWith("/deepseek/") ? DEEPSEEK_REPLY : OPENAI_REPLY;
  return new Response(body, { headers: { "content-type": "application/json" } });
});
let gw: Awaited<ReturnType<typeof startGateway>>;

beforeAll(async () => {
  gw = await startGateway(
    providerToml("oa", "openai", `${upstream.url}/openai/v1`, 'models = ["gpt-4o"]') +
      providerToml("ds", "deepseek", `${upstream.url}/deepseek`, 'models = ["deepseek-chat"]') +
      providerToml("local", "openai-compatible", `${upstream.url}/local/v1`, 'models = ["llama"]') +
      "[request_log]\nstore_bodies = true\n",
  );
  // Prices load in the background; the log row's cost is checked below.
  for (let i = 0; i < 300 && gw.running.pricing.current().info.models === 0; i++) await Bun.sleep(10);
});
afterAll(async () => {
  await gw.stop();
  upstream.stop();
});

const chat = (model: string) =>
  fetch(`${gw.base}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${gw.key}`, "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
  });

test("an OpenAI reply reaches a Chat Completions client exactly as OpenAI sent it", async () => {
  const res = await chat("oa/gpt-4o");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("application/json");
  expect(res.headers.get("x-request-id")).toMatch(/^req_/);
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  expect(await res.text()).toBe(OPENAI_REPLY);

  // The official SDK reads it like any OpenAI reply, unmodelled fields included.
  const completion = await gw.client.chat.completions.create({ model: "oa/gpt-4o", messages: [{ role: "user", content: "hi" }], logprobs: true });
  expect(completion.id).toBe("chatcmpl-upstream-42");
  expect(completion.choices[0]!.message.content).toBe("Hello — “quoted” ☃");
  expect(completion.choices[0]!.logprobs?.content?.[0]?.token).toBe("Hello");
  expect(completion.system_fingerprint).toBe("fp_abc123");
  expect(completion.usage?.prompt_tokens_details?.cached_tokens).toBe(4);

  // The log row still has the tokens and the cost, and the stored reply is the upstream's.
  const id = res.headers.get("x-request-id")!;
  gw.running.recorder.flush();
  const stored = new RequestLogStore(gw.running.db.sqlite).get(id)!;
  expect(stored.row).toMatchObject({ status: 200, input_tokens: 12, cached_tokens: 4, output_tokens: 5, response_model: "gpt-4o-2024-08-06" });
  expect(stored.row.cost_pico).not.toBeNull();
  const storedReply = JSON.parse(new TextDecoder().decode(Bun.gunzipSync(stored.responseGz! as Uint8Array<ArrayBuffer>)));
  expect(storedReply).toMatchObject({ id: "chatcmpl-upstream-42", system_fingerprint: "fp_abc123", usage: JSON.parse(OPENAI_REPLY).usage });
});

test("a DeepSeek reply is rewritten in OpenAI's semantics (cache hits as cached_tokens), with the gateway's id", async () => {
  const res = await chat("ds/deepseek-chat");
  expect(res.status).toBe(200);
  const body = (await res.json()) as Record<string, any>;
  expect(body.id).toMatch(/^chatcmpl-/);
  expect(body.id).not.toBe("ds-upstream-7");
  expect(body.usage).toEqual({ prompt_tokens: 10, completion_tokens: 2, total_tokens: 12, prompt_tokens_details: { cached_tokens: 8 }, completion_tokens_details: { reasoning_tokens: 0 } });
  expect(body.choices[0].message.content).toBe("Hi");
});

test("an OpenAI-compatible server's reply is rewritten too (its shape is not guaranteed to be OpenAI's)", async () => {
  const res = await chat("local/llama");
  const body = (await res.json()) as Record<string, any>;
  expect(body.id).not.toBe("chatcmpl-upstream-42");
  expect(body.service_tier).toBeUndefined();
  expect(body.choices[0].message.content).toBe("Hello — “quoted” ☃");
});

test("an OpenAI reply to a Responses API client is converted to a Responses object", async () => {
  const res = await fetch(`${gw.base}/v1/responses`, {
    method: "POST",
    headers: { authorization: `Bearer ${gw.key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "oa/gpt-4o", input: "hi" }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as Record<string, any>;
  expect(body.object).toBe("response");
  expect(JSON.stringify(body)).toContain("Hello — “quoted” ☃");
});
