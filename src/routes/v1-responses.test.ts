/**
 * `POST /v1/responses` through the real HTTP path: the official `openai` SDK's `responses` API is
 * the client, the gateway runs as in production, and mock OpenAI, DeepSeek, Gemini and Anthropic
 * upstreams on 127.0.0.1 replay every fixture in ../shared/fixtures (stream bodies also in 1- and
 * 7-byte pieces), each request rewritten from the fixture's Chat Completions body into the
 * Responses shape. Then the errors (bad key, unknown model, previous_response_id, malformed JSON,
 * upstream 429), the stateless refusals under /v1/responses/{id}, and the request log: one row
 * with endpoint "responses" for every authenticated request made here.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import OpenAI from "openai";
import path from "node:path";
import { checkResponsesEventSequence, readResponsesSSE } from "../api/openai-responses-test-helpers.ts";
import { encodeReasoningState } from "../api/openai-responses.ts";
import { anthropicClientBody } from "../providers/anthropic-test-helpers.ts";
import { geminiClientBody } from "../providers/gemini-test-helpers.ts";
import { listFixtures, loadFixture, type Fixture } from "../testing/fixtures.ts";
import { startGateway } from "../testing/gateway-harness.ts";
import { chunkedResponse, splitBytes, startMockUpstream, type UpstreamHandler } from "../testing/mock-upstream.ts";
import { responsesDialect } from "./responses.ts";
import { requestsTable } from "../testing/request-rows.ts";

type Upstream = ReturnType<typeof startMockUpstream>;
const handlers: Record<string, UpstreamHandler> = {};
const mock = (id: string) => startMockUpstream((r, q) => handlers[id]!(r, q));
const upstreams: Record<string, Upstream> = { openai: mock("openai"), deepseek: mock("deepseek"), gemini: mock("gemini"), anthropic: mock("anthropic") };

const PROVIDERS = [
  { id: "openai", type: "openai", basePath: "/v1", clientBody: (f: Fixture) => structuredClone((f.gateway_request ?? f.upstream_request.body) as Record<string, any>) },
  { id: "deepseek", type: "deepseek", basePath: "", clientBody: (f: Fixture) => structuredClone((f.gateway_request ?? f.upstream_request.body) as Record<string, any>) },
  { id: "gemini", type: "gemini", basePath: "/v1beta", clientBody: geminiClientBody },
  { id: "anthropic", type: "anthropic", basePath: "/v1", clientBody: anthropicClientBody },
] as const;

let gw: Awaited<ReturnType<typeof startGateway>>;
/** Authenticated POST /v1/responses requests made by this file: each must leave one log row. */
let authenticatedPosts = 0;
let client: OpenAI;

beforeAll(async () => {
  const toml = PROVIDERS.map(
    (p) => `[[providers]]\nid = "${p.id}"\ntype = "${p.type}"\nbase_url = "${upstreams[p.id]!.url}${p.basePath}"\napi_key = "sk-fixture-${p.id}-secret"\n`,
  ).join("\n");
  gw = await startGateway(`${toml}\n[gateway]\nmax_retries = 0\n\n[request_log]\nflush_interval_ms = 20\n`);
  // The SDK client of the harness, counting what reaches the request path with a valid key.
  client = new OpenAI({
    baseURL: `${gw.base}/v1`,
    apiKey: gw.key,
    maxRetries: 0,
    fetch: (url, init) => {
      if (String(url).endsWith("/v1/responses") && init?.method === "POST") authenticatedPosts++;
      return fetch(url, init);
    },
  });
});
afterAll(async () => {
  await gw.stop();
  for (const upstream of Object.values(upstreams)) upstream.stop();
});

const post = (body: string, key = gw.key, headers: Record<string, string> = {}) => {
  if (key === gw.key) authenticatedPosts++;
  return fetch(`${gw.base}/v1/responses`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...headers }, body });
};

/** Replays a fixture's response, its body cut into `split`-byte pieces (0 = whole). */
const replay = (fixture: Fixture, split = 0): UpstreamHandler => () =>
  chunkedResponse(split ? splitBytes(fixture.rawBody, split) : [fixture.rawBody], { status: fixture.response.status, headers: fixture.response.headers });

// ---------------------------------------------------------------------------------------------
// A Chat Completions request (as the fixtures give it) in the Responses API's words.

const textOf = (content: any) => (typeof content === "string" ? content : (content as any[]).map((part) => part.text ?? "").join(""));

function toResponsesBody(chat: Record<string, any>, model: string): Record<string, any> {
  const body: Record<string, any> = { model, input: [] };
  const input = body.input as any[];
  for (const message of chat.messages as any[]) {
    if (message.role === "system" && body.instructions === undefined && input.length === 0) body.instructions = textOf(message.content);
    else if (message.role === "system" || message.role === "developer") input.push({ role: message.role, content: textOf(message.content) });
    else if (message.role === "user") {
      const content =
        typeof message.content === "string"
          ? message.content
          : message.content.map((part: any) =>
              part.type === "image_url" ? { type: "input_image", image_url: part.image_url.url, detail: part.image_url.detail ?? "auto" } : { type: "input_text", text: part.text },
            );
      input.push({ role: "user", content });
    } else if (message.role === "assistant") {
      if (message.content) input.push({ type: "message", role: "assistant", content: [{ type: "output_text", text: textOf(message.content), annotations: [] }] });
      const signed: Record<string, any> = {};
      for (const call of message.tool_calls ?? []) {
        input.push({ type: "function_call", call_id: call.id, name: call.function.name, arguments: call.function.arguments });
        if (call.provider_metadata) signed[call.id] = call.provider_metadata;
      }
      // What the gateway gave the client for this turn: its provider state as a reasoning item.
      const encrypted = encodeReasoningState({ message: message.provider_metadata, calls: signed });
      if (encrypted) input.push({ type: "reasoning", summary: [], encrypted_content: encrypted });
    } else if (message.role === "tool") {
      input.push({ type: "function_call_output", call_id: message.tool_call_id, output: textOf(message.content) });
    }
  }
  if (Array.isArray(chat.system)) body.instructions = chat.system.map((block: any) => block.text).join("");
  for (const tool of chat.tools ?? []) {
    const { name, description, parameters, strict } = tool.function;
    (body.tools ??= []).push({ type: "function", name, description, parameters, strict: strict ?? false });
  }
  if (chat.tool_choice !== undefined) body.tool_choice = typeof chat.tool_choice === "string" ? chat.tool_choice : { type: "function", name: chat.tool_choice.function.name };
  if (chat.parallel_tool_calls !== undefined) body.parallel_tool_calls = chat.parallel_tool_calls;
  if (chat.temperature !== undefined) body.temperature = chat.temperature;
  if (chat.top_p !== undefined) body.top_p = chat.top_p;
  const max = chat.max_completion_tokens ?? chat.max_tokens;
  if (max !== undefined) body.max_output_tokens = max;
  if (chat.reasoning_effort !== undefined) body.reasoning = { effort: chat.reasoning_effort };
  if (chat.stream) body.stream = true;
  if (input.length === 1 && input[0].role === "user" && typeof input[0].content === "string") body.input = input[0].content;
  return body;
}

/**
 * Fixtures whose upstream body has something the Responses API cannot express: the expected body
 * without it. Everything else must reach the upstream exactly as the fixture has it.
 */
const withoutCacheControl = (body: Record<string, any>) => ({ ...body, system: body.system.map((block: any) => block.text).join("") });
const INEXPRESSIBLE: Record<string, (body: Record<string, any>) => Record<string, any>> = {
  // Google's `cachedContent` comes from `extra_body`, which the Responses API has no place for.
  "gemini/usage-cached-reasoning": ({ cachedContent: _, ...body }) => body,
  // `cache_control` on system blocks: Responses `instructions` are a plain string.
  "anthropic/thinking-stream": withoutCacheControl,
  "anthropic/usage-cache-write": withoutCacheControl,
  "anthropic/usage-cached-reasoning": withoutCacheControl,
};

function checkUpstreamRequest(providerId: string, basePath: string, fixture: Fixture) {
  const sent = upstreams[providerId]!.requests.at(-1)!;
  const url = new URL(fixture.upstream_request.url);
  expect(sent.method).toBe("POST");
  if (providerId === "openai" || providerId === "deepseek") expect(sent.path).toBe(basePath + url.pathname.replace(/^\/v1/, ""));
  else expect(sent.path).toBe(url.pathname + url.search);
  const adjust = INEXPRESSIBLE[`${providerId}/${fixture.name}`] ?? ((body) => body);
  expect(sent.body).toEqual(adjust(fixture.upstream_request.body as Record<string, any>));
}

// ---------------------------------------------------------------------------------------------
// Expectations

const ERROR_STATUS: Record<string, number> = {
  authentication: 502,
  quota: 502,
  rate_limit: 429,
  context_length: 400,
  model_not_found: 404,
  unsupported_input: 400,
  upstream_5xx: 502,
  overloaded: 503,
};

const outputText = (response: any) =>
  response.output
    .filter((item: any) => item.type === "message")
    .flatMap((item: any) => item.content)
    .map((part: any) => part.text)
    .join("");

function checkResponse(response: any, fixture: Fixture) {
  const e = fixture.expect ?? {};
  expect(response.object).toBe("response");
  expect(response.id).toMatch(/^resp_[0-9a-f]{48}$/);
  expect(response.store).toBe(false);
  const status = e.finish_reason === "content_filter" || e.finish_reason === "length" ? "incomplete" : "completed";
  expect(response.status).toBe(status);
  if (e.finish_reason === "content_filter") expect(response.incomplete_details).toEqual({ reason: "content_filter" });
  if ("content" in e) expect(outputText(response)).toBe(e.content ?? "");
  const reasoning = response.output
    .filter((item: any) => item.type === "reasoning")
    .flatMap((item: any) => item.summary)
    .map((part: any) => part.text)
    .join("");
  expect(reasoning).toBe(e.reasoning_content ?? "");
  const calls = response.output.filter((item: any) => item.type === "function_call");
  const expected = (e.tool_calls ?? []) as any[];
  expect(calls.length).toBe(expected.length);
  expected.forEach((call, i) => {
    // Complete arguments, exactly as the upstream gave them (Gemini's args objects are stringified).
    expect(calls[i]).toMatchObject({ type: "function_call", status: "completed", name: call.name, arguments: call.arguments });
    if (call.id && call.id !== "<synthesized>") expect(calls[i].call_id).toBe(call.id);
    else expect(calls[i].call_id).toMatch(/^call_\w+$/);
    expect(calls[i].id).toMatch(/^fc_/);
  });
  expect(new Set(calls.map((c: any) => c.call_id)).size).toBe(calls.length);
  if (expected.length > 0) expect(response.output.at(-1).type === "function_call" || response.output.at(-1).type === "reasoning").toBe(true);
  if (e.usage) {
    expect(response.usage).toMatchObject({
      input_tokens: e.usage.prompt_tokens,
      output_tokens: e.usage.completion_tokens,
      total_tokens: e.usage.total_tokens,
      input_tokens_details: { cached_tokens: e.usage.cached_tokens ?? 0 },
    });
    if (e.usage.reasoning_tokens !== undefined) expect(response.usage.output_tokens_details.reasoning_tokens).toBe(e.usage.reasoning_tokens);
  }
}

// ---------------------------------------------------------------------------------------------

for (const provider of PROVIDERS) {
  describe(`${provider.id} fixtures through POST /v1/responses`, () => {
    for (const name of listFixtures(provider.id)) {
      const fixture = loadFixture(provider.id, name);
      const isStream = !!fixture.response.body_file;
      const isError = fixture.response.status >= 400;
      const chat = provider.clientBody(fixture);
      const body = toResponsesBody(chat, `${provider.id}/${chat.model ?? /\/models\/([^:/]+):/.exec(fixture.upstream_request.url)![1]}`);
      const e = fixture.expect ?? {};

      for (const split of isStream ? [0, 1, 7] : [0]) {
        test(`${name}${split ? ` (upstream body in ${split}-byte pieces)` : ""}`, async () => {
          handlers[provider.id] = replay(fixture, split);
          const requestsBefore = upstreams[provider.id]!.requests.length;

          if (isError) {
            const err: any = await client.responses.create(body as any).then(
              () => undefined,
              (x) => x,
            );
            expect(err).toBeInstanceOf(OpenAI.APIError);
            expect(err.status).toBe(ERROR_STATUS[e.error_class]!);
            expect(JSON.stringify(err.error)).not.toContain(`sk-fixture-${provider.id}-secret`);
            expect(Object.keys(err.error).sort()).toEqual(["code", "message", "param", "type"]);
            if (e.error_class === "context_length") expect(err.code).toBe("context_length_exceeded");
            if (e.error_class === "model_not_found") expect(err.code).toBe("model_not_found");
            if (e.error_class === "rate_limit") expect(err).toBeInstanceOf(OpenAI.RateLimitError);
            if (e.retry_after_ms !== undefined) expect(err.headers.get("retry-after")).toBe(String(Math.ceil(e.retry_after_ms / 1000)));
            // DeepSeek refuses images before any upstream call.
            if (e.error_class === "unsupported_input") expect(upstreams[provider.id]!.requests.length).toBe(requestsBefore);
            else checkUpstreamRequest(provider.id, provider.basePath, fixture);
            return;
          }

          if (!isStream) {
            const { data: response, response: http } = await client.responses.create(body as any).withResponse();
            checkUpstreamRequest(provider.id, provider.basePath, fixture);
            checkResponse(response, fixture);
            if ("content" in e) expect(response.output_text).toBe(e.content ?? "");
            expect(http.headers.get("x-llm-proxy-target")).toStartWith(`${provider.id}/`);
            return;
          }

          // Raw events (`create({stream: true})`): the full sequence is checked event by event.
          const stream = await client.responses.create({ ...body, stream: true } as any);
          const events: any[] = [];
          let streamError: any;
          try {
            for await (const event of stream as any) events.push(event);
          } catch (x) {
            streamError = x;
          }
          checkUpstreamRequest(provider.id, provider.basePath, fixture);
          const final = checkResponsesEventSequence(events, { errorRaised: streamError !== undefined });
          if (e.stream_error) {
            // HTTP 200 was already sent: `response.failed`, then an `error` event the SDK raises.
            expect(streamError).toBeInstanceOf(OpenAI.APIError);
            expect(events.at(-1)!.type).toBe("response.failed");
            expect(final.status).toBe("failed");
            expect(final.error).toMatchObject({ code: expect.any(String), message: expect.any(String) });
            expect(outputText(final)).toBe(e.partial_content);
            return;
          }
          expect(streamError).toBeUndefined();
          checkResponse(final, fixture);
          const types = events.map((event) => event.type);
          if (e.content) {
            expect(types).toContain("response.output_text.delta");
            expect(types).toContain("response.content_part.added");
          }
          if (e.tool_calls) expect(types.filter((t) => t === "response.function_call_arguments.done").length).toBe(e.tool_calls.length);
          if (split === 0 && !e.tool_calls) {
            // The SDK's accumulator gives the same response.
            const viaHelper = await client.responses.stream(body as any).finalResponse();
            checkResponse(viaHelper, fixture);
            expect(viaHelper.output_text).toBe(e.content ?? "");
          }
        });
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------

const completion = (text: string) =>
  Response.json({
    id: "chatcmpl-up",
    object: "chat.completion",
    created: 1,
    model: "gpt-4o-2024-08-06",
    choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
    usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 },
  });
const sse = (chunks: unknown[], done = true) =>
  new Response(chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join("") + (done ? "data: [DONE]\n\n" : ""), { headers: { "content-type": "text/event-stream" } });
const chunk = (delta: Record<string, unknown>, finish: string | null = null, usage?: unknown) => ({
  id: "c",
  object: "chat.completion.chunk",
  created: 1,
  model: "gpt-4o",
  choices: [{ index: 0, delta, finish_reason: finish }],
  ...(usage ? { usage } : {}),
});

describe("streaming function tools with the SDK helpers", () => {
  test("responses.stream(): argument deltas snapshot to the complete arguments; finalResponse has the call", async () => {
    const args = '{"cmd":"ls -la","workdir":"/tmp/w"}';
    handlers.openai = () =>
      sse([
        chunk({ role: "assistant", content: null, tool_calls: [{ index: 0, id: "call_abc", type: "function", function: { name: "exec_command", arguments: "" } }] }),
        ...[args.slice(0, 5), args.slice(5, 17), args.slice(17)].map((part) => chunk({ tool_calls: [{ index: 0, function: { arguments: part } }] })),
        chunk({}, "tool_calls"),
        { ...chunk({}), choices: [], usage: { prompt_tokens: 40, completion_tokens: 12, total_tokens: 52 } },
      ]);
    const tool = { type: "function" as const, name: "exec_command", description: "Run a command.", strict: false, parameters: { type: "object", properties: { cmd: { type: "string" }, workdir: { type: "string" } }, required: ["cmd"] } };
    const stream = client.responses.stream({ model: "openai/gpt-4o", input: "list the files", tools: [tool], tool_choice: "auto", parallel_tool_calls: false });
    const snapshots: string[] = [];
    stream.on("response.function_call_arguments.delta", (event) => snapshots.push(event.snapshot));
    const final = await stream.finalResponse();
    expect(snapshots).toEqual([args.slice(0, 5), args.slice(0, 17), args]);
    expect(final.output).toHaveLength(1);
    expect(final.output[0]).toMatchObject({ id: expect.stringMatching(/^fc_/), type: "function_call", status: "completed", arguments: args, call_id: "call_abc", name: "exec_command" });
    expect(final.usage).toMatchObject({ input_tokens: 40, output_tokens: 12, total_tokens: 52 });
    expect(final.parallel_tool_calls).toBe(false);
    const sent = upstreams.openai!.requests.at(-1)!.body;
    expect(sent.tools).toEqual([{ type: "function", function: { name: "exec_command", description: "Run a command.", parameters: tool.parameters, strict: false } }]);
    expect(sent.parallel_tool_calls).toBe(false);
    expect(sent.tool_choice).toBe("auto");
  });

  test("an upstream stream cut off before its finish ends in response.failed + error, never a hang", async () => {
    handlers.openai = () => sse([chunk({ role: "assistant", content: "The cap" })], false);
    const res = await post(JSON.stringify({ model: "openai/gpt-4o", input: "hi", stream: true }));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/event-stream");
    const events = await readResponsesSSE(res.body);
    for (const { event, data } of events) expect(event).toBe(data.type);
    const final = checkResponsesEventSequence(events.map((e) => e.data));
    expect(final.status).toBe("failed");
    expect(outputText(final)).toBe("The cap");
    expect(events.at(-1)!.data).toMatchObject({ type: "error", code: expect.any(String) });
  });

  test("the dialect closes a stream whose events stopped without finish (end() emits response.failed)", () => {
    const parsed = responsesDialect.parse({ model: "m", input: "hi", stream: true });
    if (!parsed.ok) throw parsed.error;
    const encoder = responsesDialect.stream({ id: "resp_0123", created: 1, model: "m", provider: "p", parsed: parsed.value });
    const wire = [...encoder.encode({ type: "text-delta", delta: "Hel" }), ...encoder.end()].join("");
    expect(wire).not.toContain("[DONE]");
    const data = wire
      .split("\n\n")
      .filter(Boolean)
      .map((block) => JSON.parse(block.split("\n").find((l) => l.startsWith("data: "))!.slice(6)));
    expect(checkResponsesEventSequence(data).status).toBe("failed");
    expect(encoder.failed).toBe(true);
    expect(encoder.end()).toEqual([]);
  });
});

describe("errors in OpenAI's shape", () => {
  test("a bad key is 401 (AuthenticationError); a missing key too", async () => {
    const bad = new OpenAI({ baseURL: `${gw.base}/v1`, apiKey: "sk-wrong", maxRetries: 0 });
    const err: any = await bad.responses.create({ model: "openai/gpt-4o", input: "hi" }).catch((x) => x);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(err.code).toBe("invalid_api_key");
    const res = await fetch(`${gw.base}/v1/responses`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(res.status).toBe(401);
    expect((await res.json()).error).toMatchObject({ type: "invalid_request_error", code: "invalid_api_key", param: null });
  });

  test("an unknown model is 404 model_not_found, before any upstream call", async () => {
    const before = Object.values(upstreams).reduce((n, u) => n + u.requests.length, 0);
    const err: any = await client.responses.create({ model: "no-such-model", input: "hi", stream: true }).catch((x) => x);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err.error).toEqual({ message: expect.stringContaining("no-such-model"), type: "invalid_request_error", param: "model", code: "model_not_found" });
    expect(Object.values(upstreams).reduce((n, u) => n + u.requests.length, 0)).toBe(before);
  });

  test("previous_response_id is a 400 that says the gateway is stateless", async () => {
    const err: any = await client.responses.create({ model: "openai/gpt-4o", input: "hi", previous_response_id: "resp_123" }).catch((x) => x);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.error).toEqual({ message: expect.stringContaining("stateless"), type: "invalid_request_error", param: "previous_response_id", code: "unsupported_parameter" });
  });

  test("malformed JSON and an invalid body are 400s", async () => {
    const res = await post('{"model": "openai/gpt-4o", "input": ');
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { message: "We could not parse the JSON body of your request.", type: "invalid_request_error", param: null, code: null } });
    const missing = await post(JSON.stringify({ model: "openai/gpt-4o" }));
    expect(missing.status).toBe(400);
    expect((await missing.json()).error).toMatchObject({ type: "invalid_request_error", param: "input" });
    const empty = await post("");
    expect(empty.status).toBe(400);
  });

  test("an upstream 429 before the stream is a 429 with Retry-After (also when streaming)", async () => {
    handlers.openai = () =>
      Response.json({ error: { message: "Rate limit reached for gpt-4o", type: "tokens", code: "rate_limit_exceeded" } }, { status: 429, headers: { "retry-after": "7" } });
    for (const stream of [false, true]) {
      const res = await post(JSON.stringify({ model: "openai/gpt-4o", input: "hi", stream }));
      expect(res.status).toBe(429);
      expect(res.headers.get("retry-after")).toBe("7");
      expect(res.headers.get("content-type")).toStartWith("application/json");
      expect(await res.json()).toEqual({ error: { message: expect.stringContaining("Retry after 7 s"), type: "rate_limit_error", param: null, code: "rate_limit_exceeded" } });
    }
  });

  test("stored-response endpoints answer 404 with the reason (the gateway is stateless); they need a key", async () => {
    const auth = { authorization: `Bearer ${gw.key}` };
    const retrieved: any = await client.responses.retrieve("resp_abc").catch((x) => x);
    expect(retrieved).toBeInstanceOf(OpenAI.NotFoundError);
    expect(retrieved.error).toEqual({ message: expect.stringContaining("stateless"), type: "invalid_request_error", param: "response_id", code: "response_not_found" });
    expect(retrieved.message).toContain("resp_abc");
    const deleted = await fetch(`${gw.base}/v1/responses/resp_abc`, { method: "DELETE", headers: auth });
    expect(deleted.status).toBe(404);
    expect((await deleted.json()).error.message).toContain("cannot be deleted");
    const cancelled = await fetch(`${gw.base}/v1/responses/resp_abc/cancel`, { method: "POST", headers: auth });
    expect(cancelled.status).toBe(404);
    expect((await cancelled.json()).error.message).toContain("cancelled");
    const items = await fetch(`${gw.base}/v1/responses/resp_abc/input_items`, { headers: auth });
    expect(items.status).toBe(404);
    const compact = await fetch(`${gw.base}/v1/responses/compact`, { method: "POST", headers: auth, body: "{}" });
    expect(compact.status).toBe(404);
    expect((await compact.json()).error.message).toContain("compaction");
    const malformed = await fetch(`${gw.base}/v1/responses/%E0%A4%A`, { headers: auth });
    expect(malformed.status).toBe(404);
    const bare = await fetch(`${gw.base}/v1/responses/`, { headers: auth });
    expect(bare.status).toBe(404);
    expect((await bare.json()).error.code).toBe("unknown_url");
    const anonymous = await fetch(`${gw.base}/v1/responses/resp_abc`);
    expect(anonymous.status).toBe(401);
  });
});

describe("request log", () => {
  test("every authenticated POST /v1/responses left exactly one row, with endpoint 'responses'", async () => {
    handlers.openai = () => completion("logged");
    const res = await post(JSON.stringify({ model: "openai/gpt-4o", input: "hi", tools: [{ type: "web_search" }] }), gw.key, { "user-agent": "codex_exec/0.169.0", "x-llm-proxy-project": "demo" });
    expect(res.status).toBe(200);
    const id = res.headers.get("x-request-id");
    let rows: any[] = [];
    for (let i = 0; i < 50 && rows.length < authenticatedPosts; i++) {
      await Bun.sleep(60);
      const db = new Database(path.join(gw.dir, "llm-proxy.db"), { readonly: true });
      rows = requestsTable(db).query("SELECT * FROM requests").all() as any[];
      db.close();
    }
    expect(rows.length).toBe(authenticatedPosts);
    expect(new Set(rows.map((r) => r.endpoint))).toEqual(new Set(["responses"]));
    expect(rows.some((r) => r.stream === 1 && r.status === 200)).toBe(true);
    expect(rows.some((r) => r.status === 404 && r.requested_model === "no-such-model")).toBe(true);
    expect(rows.some((r) => r.status === 429 && r.error_class === "rate_limit")).toBe(true);
    expect(rows.some((r) => r.status === 400)).toBe(true);
    const row = rows.find((r) => r.id === id);
    expect(row).toMatchObject({ status: 200, requested_model: "openai/gpt-4o", provider: "openai", upstream_model: "gpt-4o", input_tokens: 12, output_tokens: 3, user_agent: "codex_exec/0.169.0", project: "demo", stream: 0 });
    // The parser's warnings (here: a hosted tool that cannot run elsewhere) are on the row.
    expect(JSON.parse(row.warnings)).toEqual([expect.objectContaining({ type: "unsupported-setting", setting: "tools", detail: expect.stringContaining("web_search") })]);
  });
});
