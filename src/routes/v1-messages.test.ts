/**
 * POST /v1/messages through the real gateway (real SQLite file, real HTTP on 127.0.0.1) with the
 * official `@anthropic-ai/sdk` as the client and mock OpenAI, Gemini and DeepSeek upstreams replaying
 * the shared fixtures (streams also in 1- and 7-byte pieces): content, tool calls with complete
 * arguments, block indices, stop reasons and usage; multi-turn tool conversations that hand Gemini
 * thought signatures and DeepSeek reasoning content back; a Claude-Code-shaped two-turn run with a
 * Bash call against an OpenAI-format and a Gemini upstream; errors in Anthropic's shape (the SDK
 * raises the right class); count_tokens; one request-log row per request, endpoint "messages".
 * The Anthropic upstream (thinking signatures, cache_control, betas) is in v1-messages-anthropic.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import Anthropic from "@anthropic-ai/sdk";
import path from "node:path";
import { openDatabase } from "../db/client.ts";
import { createClientKey } from "../auth/client-keys.ts";
import { updateClientKey } from "../db/client-keys.ts";
import { loadFixture, type Fixture } from "../testing/fixtures.ts";
import { startGateway } from "../testing/gateway-harness.ts";
import { chunkedResponse, splitBytes, startMockUpstream, type UpstreamHandler } from "../testing/mock-upstream.ts";
import { requestsTable } from "../testing/request-rows.ts";

const enc = new TextEncoder();
type Upstream = "oai" | "gemini" | "deepseek";
const handlers: Partial<Record<Upstream, UpstreamHandler>> = {};
const up = {
  oai: startMockUpstream((r, q) => handlers.oai!(r, q)),
  gemini: startMockUpstream((r, q) => handlers.gemini!(r, q)),
  deepseek: startMockUpstream((r, q) => handlers.deepseek!(r, q)),
};
let gw: Awaited<ReturnType<typeof startGateway>>;
let client: Anthropic;

beforeAll(async () => {
  gw = await startGateway(`
[[providers]]
id = "oai"
type = "openai"
base_url = "${up.oai.url}/v1"
api_key = "sk-oai-upstream-secret"

[[providers]]
id = "gemini"
type = "gemini"
base_url = "${up.gemini.url}/v1beta"
api_key = "AIza-gemini-upstream-secret"

[[providers]]
id = "deepseek"
type = "deepseek"
base_url = "${up.deepseek.url}"
api_key = "sk-deepseek-upstream-secret"

[models.aliases]
cc-openai = ["oai/gpt-4o"]
cc-gemini = ["gemini/gemini-2.5-flash"]

[gateway]
max_retries = 0

[request_log]
flush_interval_ms = 20
`);
  client = new Anthropic({ baseURL: gw.base, apiKey: gw.key, maxRetries: 0 });
});
afterAll(async () => {
  await gw.stop();
  for (const u of Object.values(up)) u.stop();
});

/** Replays a fixture's response, its body cut into `split`-byte pieces (0 = whole). */
const replay = (fixture: Fixture, split = 0): UpstreamHandler => () =>
  chunkedResponse(split ? splitBytes(fixture.rawBody, split) : [fixture.rawBody], { status: fixture.response.status, headers: fixture.response.headers });
/** An SSE body from `data:` payloads (OpenAI: `[DONE]` at the end; Gemini: none), in 7-byte pieces. */
const sse = (payloads: unknown[], done = true): UpstreamHandler => () =>
  chunkedResponse(splitBytes(enc.encode(payloads.map((p) => `data: ${JSON.stringify(p)}\n\n`).join("") + (done ? "data: [DONE]\n\n" : "")), 7), {
    headers: { "content-type": "text/event-stream" },
  });
const last = (name: Upstream) => up[name].requests.at(-1)!;

/** `type[:index[:block or delta type]]`, the skeleton of an Anthropic event stream. */
const skeleton = (events: { type: string; index?: number; content_block?: { type: string }; delta?: { type?: string } }[]) =>
  events.map((e) => [e.type, e.index, e.type === "message_delta" ? undefined : (e.content_block ?? e.delta)?.type].filter((x) => x !== undefined).join(":"));

async function rawEvents(params: Record<string, unknown>): Promise<any[]> {
  const stream = await client.messages.create({ ...params, stream: true } as Anthropic.MessageCreateParamsStreaming);
  const events: any[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

const weatherTool = (fixture: Fixture) => {
  const fn = ((fixture.gateway_request ?? fixture.upstream_request.body) as any).tools[0].function;
  return { name: fn.name, description: fn.description, input_schema: fn.parameters };
};

// ---------------------------------------------------------------------------------------------

describe("OpenAI upstream", () => {
  test("non-streaming: system string, sampling, content, stop reason, usage; the upstream request is the fixture's", async () => {
    const fixture = loadFixture("openai", "chat");
    handlers.oai = replay(fixture);
    // (This SDK's types no longer list `temperature`; the API and the gateway still take it.)
    const params = {
      model: "oai/gpt-4o",
      max_tokens: 256,
      temperature: 0.2,
      system: "You are a concise assistant.",
      messages: [{ role: "user", content: "What is the capital of France?" }],
    } as Anthropic.MessageCreateParamsNonStreaming;
    const { data: message, response } = await client.messages.create(params).withResponse();
    expect(last("oai").body).toEqual(fixture.upstream_request.body);
    expect(last("oai").headers.get("authorization")).toBe("Bearer sk-oai-upstream-secret");
    expect(message.id).toMatch(/^msg_[A-Za-z0-9_-]{24}$/);
    expect(message).toMatchObject({
      type: "message",
      role: "assistant",
      model: "gpt-4o-2024-08-06",
      content: [{ type: "text", text: fixture.expect!.content }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: { input_tokens: 24, output_tokens: 8, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
    });
    expect(response.headers.get("content-type")).toContain("application/json");
    expect(response.headers.get("x-request-id")).toBeTruthy();
  });

  for (const split of [0, 1, 7]) {
    test(`streaming text, raw events${split ? ` (upstream in ${split}-byte pieces)` : ""}: exact sequence, one text block, usage in message_delta`, async () => {
      const fixture = loadFixture("openai", "chat-stream");
      handlers.oai = replay(fixture, split);
      const events = await rawEvents({
        model: "oai/gpt-4o",
        max_tokens: 256,
        temperature: 0.2,
        system: "You are a concise assistant.",
        messages: [{ role: "user", content: "What is the capital of France?" }],
      });
      expect(last("oai").body).toEqual(fixture.upstream_request.body);
      const shape = skeleton(events);
      expect(shape[0]).toBe("message_start");
      expect(shape[1]).toBe("content_block_start:0:text");
      expect(shape.slice(2, -4).every((s) => s === "content_block_delta:0:text_delta")).toBe(true);
      expect(shape.slice(-3)).toEqual(["content_block_stop:0", "message_delta", "message_stop"]);
      expect(events.filter((e) => e.type === "content_block_delta").map((e) => e.delta.text).join("")).toBe(fixture.expect!.content);
      // The model the upstream reports (a dated snapshot), as the JSON reply names it.
      expect(events[0].message).toMatchObject({ role: "assistant", content: [], stop_reason: null, model: "gpt-4o-2024-08-06" });
      expect(events.at(-2)).toEqual({
        type: "message_delta",
        delta: { stop_reason: "end_turn", stop_sequence: null },
        // OpenAI's completion_tokens_details.reasoning_tokens (0 here) passes on as thinking tokens.
        usage: { output_tokens: 8, input_tokens: 24, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens_details: { thinking_tokens: 0 } },
      });
    });
  }

  for (const split of [1, 7]) {
    test(`messages.stream(): parallel tool calls with complete arguments at block indices 0 and 1 (${split}-byte pieces)`, async () => {
      const fixture = loadFixture("openai", "tool-call-stream");
      handlers.oai = replay(fixture, split);
      const request = fixture.upstream_request.body as any;
      const stream = client.messages.stream({
        model: "oai/gpt-4o",
        max_tokens: 1024,
        system: request.messages[0].content,
        tools: [weatherTool(fixture)],
        tool_choice: { type: "auto" },
        messages: [{ role: "user", content: request.messages[1].content }],
      });
      const indices: string[] = [];
      stream.on("streamEvent", (event) => {
        if (event.type.startsWith("content_block_") && event.type !== "content_block_delta") indices.push(`${event.type}:${(event as any).index}`);
      });
      const message = await stream.finalMessage();
      expect(message.content).toEqual(
        fixture.expect!.tool_calls.map((call: any) => ({ type: "tool_use", id: call.id, name: call.name, input: JSON.parse(call.arguments) })),
      );
      expect(indices).toEqual(["content_block_start:0", "content_block_stop:0", "content_block_start:1", "content_block_stop:1"]);
      expect(message.stop_reason).toBe("tool_use");
      expect(message.usage).toMatchObject({ input_tokens: fixture.expect!.usage.prompt_tokens, output_tokens: fixture.expect!.usage.completion_tokens });
      const sent = last("oai").body;
      expect(sent.tools).toEqual([{ type: "function", function: { name: "get_weather", description: request.tools[0].function.description, parameters: request.tools[0].function.parameters } }]);
      expect(sent.tool_choice).toBe("auto");
    });
  }

  test("system blocks, images, stop sequences and metadata reach the upstream", async () => {
    const fixture = loadFixture("openai", "image-input");
    handlers.oai = replay(fixture);
    const image = (fixture.upstream_request.body as any).messages[0].content[1].image_url.url as string;
    const message = await client.messages.create({
      model: "oai/gpt-4o",
      max_tokens: 100,
      system: [
        { type: "text", text: "You describe images." },
        { type: "text", text: "One sentence only.", cache_control: { type: "ephemeral" } },
      ],
      stop_sequences: ["###"],
      metadata: { user_id: "user-7" },
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "What is in this image? Answer in one sentence." },
            { type: "image", source: { type: "base64", media_type: "image/png", data: image.split(",")[1]! } },
          ],
        },
      ],
    });
    expect(message.content).toEqual([{ type: "text", text: fixture.expect!.content }] as never);
    expect(last("oai").body).toEqual({
      model: "gpt-4o",
      messages: [
        { role: "system", content: "You describe images." },
        { role: "system", content: "One sentence only." },
        { role: "user", content: [{ type: "text", text: "What is in this image? Answer in one sentence." }, { type: "image_url", image_url: { url: image } }] },
      ],
      max_completion_tokens: 100,
      stop: ["###"],
      user: "user-7",
    });
  });

  test("an upstream error after output ends the stream with an error event; the SDK throws", async () => {
    const fixture = loadFixture("openai", "stream-error-midstream");
    handlers.oai = replay(fixture, 7);
    const stream = client.messages.stream({ model: "oai/gpt-4o", max_tokens: 64, messages: [{ role: "user", content: "hi" }] });
    let text = "";
    stream.on("text", (delta) => (text += delta));
    const error = await stream.finalMessage().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect((error as any).error).toMatchObject({ type: "error", error: { type: expect.any(String), message: expect.any(String) } });
    expect(text.length).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------------------------------------

describe("Gemini upstream", () => {
  const request = () => {
    const fixture = loadFixture("gemini", "tool-result-request");
    const body = fixture.gateway_request as any;
    return { fixture, system: body.messages[0].content as string, question: body.messages[1].content as string, tool: weatherTool(fixture) };
  };

  for (const split of [0, 1, 7]) {
    test(`a tool turn${split ? ` streamed in ${split}-byte pieces` : " (non-streaming)"}, then the thought signature goes back on the right call`, async () => {
      const { fixture: resultRequest, system, question, tool } = request();
      const turn1 = loadFixture("gemini", split ? "tool-call-stream" : "tool-call");
      handlers.gemini = replay(turn1, split);
      const params = { model: "gemini/gemini-2.5-flash", max_tokens: 1024, system, tools: [tool], messages: [{ role: "user" as const, content: question }] };
      const first = split ? await client.messages.stream(params).finalMessage() : await client.messages.create(params);
      // [thinking (the gateway's replay state for call 0), tool_use, tool_use]
      expect(first.content.map((block) => block.type)).toEqual(["thinking", "tool_use", "tool_use"]);
      const calls = first.content.filter((block): block is Anthropic.ToolUseBlock => block.type === "tool_use");
      expect(calls.map(({ name, input }) => ({ name, input }))).toEqual(
        turn1.expect!.tool_calls.map((call: any) => ({ name: call.name, input: JSON.parse(call.arguments) })),
      );
      expect(new Set(calls.map((call) => call.id)).size).toBe(2);
      expect(first.stop_reason).toBe("tool_use");
      expect(first.usage).toMatchObject({ input_tokens: 96, output_tokens: 93 });
      if (split) expect(last("gemini").path).toBe("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");

      // Turn 2 (non-streaming): the client sends the whole assistant turn back with both results.
      handlers.gemini = replay(resultRequest);
      const second = await client.messages.create({
        ...params,
        messages: [
          ...params.messages,
          { role: "assistant", content: first.content },
          {
            role: "user",
            content: [
              { type: "tool_result", tool_use_id: calls[0]!.id, content: '{"temp_c": 18, "condition": "cloudy"}' },
              { type: "tool_result", tool_use_id: calls[1]!.id, content: "23C and sunny" },
            ],
          },
        ],
      });
      const sent = last("gemini").body;
      const expected = resultRequest.upstream_request.body as any;
      expect(sent.contents).toEqual(expected.contents);
      expect(sent.systemInstruction).toEqual(expected.systemInstruction);
      expect(second.content).toEqual([{ type: "text", text: (resultRequest.response.body as any).candidates[0].content.parts[0].text }] as never);
      expect(second.stop_reason).toBe("end_turn");
    });
  }

  test("streamed text with thinking tokens: usage reports them; thinking budget reaches Gemini", async () => {
    const fixture = loadFixture("gemini", "chat-stream");
    handlers.gemini = replay(fixture, 7);
    const events = await rawEvents({
      model: "gemini/gemini-2.5-flash",
      max_tokens: 8192,
      thinking: { type: "enabled", budget_tokens: 2048 },
      system: "You are a concise assistant.",
      messages: [{ role: "user", content: "What is the capital of France?" }],
    });
    expect(events.filter((e) => e.type === "content_block_delta").map((e) => e.delta.text).join("")).toBe(fixture.expect!.content);
    expect(events.at(-2).usage).toMatchObject({ input_tokens: 14, output_tokens: 45, output_tokens_details: { thinking_tokens: 38 } });
    expect(last("gemini").body.generationConfig).toMatchObject({ maxOutputTokens: 8192, thinkingConfig: expect.any(Object) });
  });
});

// ---------------------------------------------------------------------------------------------

describe("DeepSeek upstream", () => {
  test("reasoner stream (7-byte pieces): an unsigned thinking block, then text; cache reads outside input_tokens", async () => {
    const fixture = loadFixture("deepseek", "reasoner-stream");
    handlers.deepseek = replay(fixture, 7);
    const stream = client.messages.stream({
      model: "deepseek/deepseek-reasoner",
      max_tokens: 1024,
      system: (fixture.upstream_request.body as any).messages[0].content,
      messages: [{ role: "user", content: "Is 1001 prime?" }],
    });
    const shape: string[] = [];
    stream.on("streamEvent", (event) => shape.push(skeleton([event as any])[0]!));
    const message = await stream.finalMessage();
    expect(message.content).toEqual([
      { type: "thinking", thinking: fixture.expect!.reasoning_content, signature: "" },
      { type: "text", text: fixture.expect!.content },
    ] as never);
    expect(shape.filter((s) => s.startsWith("content_block_start") || s.startsWith("content_block_stop"))).toEqual([
      "content_block_start:0:thinking",
      "content_block_stop:0",
      "content_block_start:1:text",
      "content_block_stop:1",
    ]);
    const usage = fixture.expect!.usage;
    expect(message.usage).toMatchObject({
      input_tokens: usage.prompt_tokens - usage.cached_tokens,
      cache_read_input_tokens: usage.cached_tokens,
      output_tokens: usage.completion_tokens,
    });
  });

  test("a tool loop with reasoning: the reasoning content goes back with the call on the next turn", async () => {
    const chunk = (delta: object, finish: string | null = null) => ({ id: "ds", object: "chat.completion.chunk", created: 1, model: "deepseek-reasoner", choices: [{ index: 0, delta, finish_reason: finish }] });
    handlers.deepseek = sse([
      chunk({ role: "assistant", reasoning_content: "I should list " }),
      chunk({ reasoning_content: "the files." }),
      chunk({ tool_calls: [{ index: 0, id: "call_ds_1", type: "function", function: { name: "Bash", arguments: "" } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"command":' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '"ls"}' } }] }),
      chunk({}, "tool_calls"),
      { id: "ds", object: "chat.completion.chunk", created: 1, model: "deepseek-reasoner", choices: [], usage: { prompt_tokens: 40, completion_tokens: 12, total_tokens: 52 } },
    ]);
    const bash = { name: "Bash", description: "Run a shell command", input_schema: { type: "object" as const, properties: { command: { type: "string" } }, required: ["command"] } };
    const params = { model: "deepseek/deepseek-reasoner", max_tokens: 1024, tools: [bash], messages: [{ role: "user" as const, content: "What files are here?" }] };
    const first = await client.messages.stream(params).finalMessage();
    expect(first.content).toEqual([
      { type: "thinking", thinking: "I should list the files.", signature: "" },
      { type: "tool_use", id: "call_ds_1", name: "Bash", input: { command: "ls" } },
    ] as never);

    handlers.deepseek = sse([chunk({ role: "assistant", content: "Two files." }), chunk({}, "stop")]);
    const second = await client.messages
      .stream({
        ...params,
        messages: [...params.messages, { role: "assistant", content: first.content }, { role: "user", content: [{ type: "tool_result", tool_use_id: "call_ds_1", content: "a.txt\nb.txt" }] }],
      })
      .finalMessage();
    expect(second.content).toEqual([{ type: "text", text: "Two files." }] as never);
    expect(last("deepseek").body.messages).toEqual([
      { role: "user", content: "What files are here?" },
      {
        role: "assistant",
        content: null,
        reasoning_content: "I should list the files.",
        tool_calls: [{ id: "call_ds_1", type: "function", function: { name: "Bash", arguments: '{"command":"ls"}' } }],
      },
      { role: "tool", tool_call_id: "call_ds_1", content: "a.txt\nb.txt" },
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// Claude Code, as AGENT-CLIENTS.md §3.1 records it: `?beta=true`, its headers, system blocks with
// cache_control, a `role: "system"` environment message inside `messages`, tools (one deferred),
// adaptive thinking, context_management, output_config; two turns with a Bash call.

const BASH = {
  name: "Bash",
  description: "Executes a given bash command and returns its output.",
  input_schema: { type: "object", properties: { command: { type: "string" }, description: { type: "string" } }, required: ["command"], additionalProperties: false },
};
const READ = { name: "Read", description: "Reads a file.", input_schema: { type: "object", properties: { file_path: { type: "string" } }, required: ["file_path"] } };
const TOOL_SEARCH = { name: "ToolSearch", description: "Search deferred tools.", input_schema: { type: "object", properties: { query: { type: "string" } } }, defer_loading: true };
const ephemeral = { type: "ephemeral" };
const CC_SYSTEM = [
  { type: "text", text: "x-anthropic-billing-header: cc_version=2.1.332; cc_entrypoint=sdk-cli;" },
  { type: "text", text: "You are a Claude agent, built on Anthropic's Claude Agent SDK.", cache_control: ephemeral },
  { type: "text", text: "You are an interactive CLI tool that helps users with software engineering tasks.", cache_control: ephemeral },
];
const ENV = "<env>Working directory: /tmp/w\nPlatform: linux</env>";
const CC_USER = {
  role: "user",
  content: [
    { type: "text", text: "<system-reminder>As you answer, use the tools available.</system-reminder>" },
    { type: "text", text: "Run `echo hello-from-tool` and tell me what it printed." },
  ],
};

const ccHeaders = (key: string, bearer = false) => ({
  "content-type": "application/json",
  accept: "application/json",
  "accept-encoding": "gzip, deflate, br, zstd",
  "anthropic-version": "2023-06-01",
  "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,effort-2025-11-24",
  "anthropic-dangerous-direct-browser-access": "true",
  "x-app": "cli",
  "x-claude-code-session-id": "3f2b6c1e-session",
  "x-stainless-retry-count": "0",
  "x-stainless-timeout": "600",
  "user-agent": "claude-cli/2.1.332 (external, sdk-cli)",
  ...(bearer ? { authorization: `Bearer ${key}` } : { "x-api-key": key }),
});
const ccBody = (model: string, messages: unknown[], stream = true) => ({
  model,
  messages,
  system: CC_SYSTEM,
  tools: [BASH, READ, TOOL_SEARCH],
  metadata: { user_id: JSON.stringify({ device_id: "d1", account_uuid: "", session_id: "s1" }) },
  max_tokens: stream ? 32000 : 64000,
  thinking: { type: "adaptive", display: "omitted" },
  context_management: { edits: [{ type: "clear_thinking_20251015", keep: "all" }] },
  output_config: { effort: "medium" },
  stream,
});

function parseSSE(text: string): { event: string | undefined; data: any }[] {
  return text
    .split("\n\n")
    .filter((chunk) => chunk.trim())
    .map((chunk) => ({ event: /^event: (.*)$/m.exec(chunk)?.[1], data: JSON.parse(/^data: (.*)$/m.exec(chunk)![1]!) }));
}

/** The SDK's accumulation, written out, after checking the stream is well formed (as Claude Code needs it). */
function assemble(events: any[]): any {
  expect(events[0].type).toBe("message_start");
  expect(events.at(-1).type).toBe("message_stop");
  expect(events.at(-2).type).toBe("message_delta");
  const message = structuredClone(events[0].message);
  const blocks: any[] = [];
  const json: string[] = [];
  let open: number | undefined;
  for (const event of events.slice(1, -2)) {
    if (event.type === "ping") continue;
    if (event.type === "content_block_start") {
      expect(open).toBeUndefined();
      expect(event.index).toBe(blocks.length);
      blocks.push(structuredClone(event.content_block));
      json.push("");
      open = event.index;
    } else if (event.type === "content_block_delta") {
      expect(event.index).toBe(open!);
      const block = blocks[event.index];
      const delta = event.delta;
      if (delta.type === "text_delta") block.text += delta.text;
      else if (delta.type === "thinking_delta") block.thinking += delta.thinking;
      else if (delta.type === "signature_delta") block.signature = delta.signature;
      else if (delta.type === "input_json_delta") json[event.index] += delta.partial_json;
      else throw new Error(`unexpected delta ${delta.type}`);
    } else if (event.type === "content_block_stop") {
      expect(event.index).toBe(open!);
      if (blocks[event.index].type === "tool_use") blocks[event.index].input = JSON.parse(json[event.index] || "{}");
      open = undefined;
    } else throw new Error(`unexpected event ${event.type}`);
  }
  expect(open).toBeUndefined();
  const end = events.at(-2);
  return { ...message, content: blocks, ...end.delta, usage: { ...message.usage, ...end.usage } };
}

async function claudeCode(model: string, messages: unknown[], stream = true) {
  const res = await fetch(`${gw.base}/v1/messages?beta=true`, { method: "POST", headers: ccHeaders(gw.key), body: JSON.stringify(ccBody(model, messages, stream)) });
  expect(res.status).toBe(200);
  if (!stream) return { message: await res.json(), events: [] as any[] };
  expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
  const parsed = parseSSE(await res.text());
  // Claude Code needs the `event:` line on every message (it falls back to stream:false otherwise).
  for (const { event, data } of parsed) expect(event).toBe(data.type);
  const events = parsed.map(({ data }) => data);
  return { message: assemble(events), events };
}

const turn2 = (assistant: any, toolUseId: string) => [
  CC_USER,
  // 2.1.332 sends the environment block as a plain string after turn 1.
  { role: "system", content: ENV },
  { role: "assistant", content: assistant.content },
  { role: "user", content: [{ type: "tool_result", tool_use_id: toolUseId, content: "hello-from-tool\n", is_error: false, cache_control: ephemeral }] },
];

describe("Claude Code: two turns with a Bash call", () => {
  test("OpenAI-format upstream: tool_use with complete input, then the result goes back as a tool message", async () => {
    const chunk = (delta: object, finish: string | null = null) => ({ id: "c", object: "chat.completion.chunk", created: 1, model: "gpt-4o", choices: [{ index: 0, delta, finish_reason: finish }] });
    handlers.oai = sse([
      chunk({ role: "assistant", content: "" }),
      chunk({ content: "I'll run " }),
      chunk({ content: "it." }),
      chunk({ tool_calls: [{ index: 0, id: "call_cc_1", type: "function", function: { name: "Bash", arguments: "" } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"command": "echo hel' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: 'lo-from-tool", "description": "Print"}' } }] }),
      chunk({}, "tool_calls"),
      { id: "c", object: "chat.completion.chunk", created: 1, model: "gpt-4o", choices: [], usage: { prompt_tokens: 1200, completion_tokens: 30, total_tokens: 1230, prompt_tokens_details: { cached_tokens: 1024 } } },
    ]);
    const turn1 = [CC_USER, { role: "system", content: [{ type: "text", text: ENV, cache_control: ephemeral }] }];
    const { message: first, events } = await claudeCode("cc-openai", turn1);
    expect(skeleton(events).filter((s) => !s.startsWith("content_block_delta"))).toEqual([
      "message_start",
      "content_block_start:0:text",
      "content_block_stop:0",
      "content_block_start:1:tool_use",
      "content_block_stop:1",
      "message_delta",
      "message_stop",
    ]);
    expect(first.content).toEqual([
      { type: "text", text: "I'll run it." },
      { type: "tool_use", id: "call_cc_1", name: "Bash", input: { command: "echo hello-from-tool", description: "Print" } },
    ]);
    expect(first).toMatchObject({ stop_reason: "tool_use", usage: { input_tokens: 176, cache_read_input_tokens: 1024, output_tokens: 30 } });

    const sent1 = last("oai");
    expect(sent1.headers.get("authorization")).toBe("Bearer sk-oai-upstream-secret");
    expect(sent1.headers.get("anthropic-beta")).toBeNull();
    expect(sent1.body).toEqual({
      model: "gpt-4o",
      messages: [
        ...CC_SYSTEM.map(({ text }) => ({ role: "system", content: text })),
        { role: "user", content: CC_USER.content },
        { role: "system", content: ENV },
      ],
      tools: [BASH, READ, TOOL_SEARCH].map(({ name, description, input_schema }) => ({ type: "function", function: { name, description, parameters: input_schema } })),
      max_completion_tokens: 16384, // Claude Code's 32000, clamped to gpt-4o's models.dev output limit
      user: ccBody("", []).metadata.user_id,
      stream: true,
      stream_options: { include_usage: true },
    });

    // Turn 2, streamed, and Claude Code's non-streaming fallback of the same turn.
    for (const stream of [true, false]) {
      handlers.oai = stream
        ? sse([chunk({ role: "assistant", content: "It printed " }), chunk({ content: "`hello-from-tool`." }), chunk({}, "stop")])
        : () => Response.json({ id: "c2", object: "chat.completion", created: 1, model: "gpt-4o", choices: [{ index: 0, message: { role: "assistant", content: "It printed `hello-from-tool`." }, finish_reason: "stop" }], usage: { prompt_tokens: 1300, completion_tokens: 9, total_tokens: 1309 } });
      const { message: second } = await claudeCode("cc-openai", turn2(first, "call_cc_1"), stream);
      expect(second.content).toEqual([{ type: "text", text: "It printed `hello-from-tool`." }]);
      expect(second.stop_reason).toBe("end_turn");
      expect(last("oai").body.messages.slice(3)).toEqual([
        { role: "user", content: CC_USER.content },
        { role: "system", content: ENV },
        { role: "assistant", content: "I'll run it.", tool_calls: [{ id: "call_cc_1", type: "function", function: { name: "Bash", arguments: '{"command":"echo hello-from-tool","description":"Print"}' } }] },
        { role: "tool", tool_call_id: "call_cc_1", content: "hello-from-tool\n" },
      ]);
      expect(last("oai").body.max_completion_tokens).toBe(16384); // 32000 / 64000 clamped to gpt-4o's limit
    }
  });

  test("Gemini upstream: thought and thought signature ride a thinking block and come back on the Bash call", async () => {
    const usageMetadata = { promptTokenCount: 1500, candidatesTokenCount: 20, thoughtsTokenCount: 12, totalTokenCount: 1532 };
    handlers.gemini = sse(
      [
        { candidates: [{ content: { role: "model", parts: [{ text: "The user wants the output of echo.", thought: true }] }, index: 0 }], modelVersion: "gemini-2.5-flash" },
        {
          candidates: [{ content: { role: "model", parts: [{ functionCall: { name: "Bash", args: { command: "echo hello-from-tool" } }, thoughtSignature: "c2lnLWJhc2gtY2FsbA==" }] }, finishReason: "STOP", index: 0 }],
          usageMetadata,
          modelVersion: "gemini-2.5-flash",
        },
      ],
      false,
    );
    const turn1 = [CC_USER, { role: "system", content: [{ type: "text", text: ENV, cache_control: ephemeral }] }];
    const { message: first, events } = await claudeCode("cc-gemini", turn1);
    expect(skeleton(events).filter((s) => !s.startsWith("content_block_delta") || s.endsWith("signature_delta"))).toEqual([
      "message_start",
      "content_block_start:0:thinking",
      "content_block_delta:0:signature_delta",
      "content_block_stop:0",
      "content_block_start:1:tool_use",
      "content_block_stop:1",
      "message_delta",
      "message_stop",
    ]);
    expect(first.content[0]).toEqual({ type: "thinking", thinking: "The user wants the output of echo.", signature: expect.stringMatching(/^llm-proxy\.v1\./) });
    expect(first.content[1]).toEqual({ type: "tool_use", id: expect.stringMatching(/^[A-Za-z0-9_-]+$/), name: "Bash", input: { command: "echo hello-from-tool" } });
    expect(first).toMatchObject({ stop_reason: "tool_use", usage: { input_tokens: 1500, output_tokens: 32, output_tokens_details: { thinking_tokens: 12 } } });
    const sent1 = last("gemini").body;
    // Every system text, the environment message included, in order (the Gemini adapter joins them).
    expect(sent1.systemInstruction.parts.map((p: any) => p.text).join("\n\n")).toBe([...CC_SYSTEM.map(({ text }) => text), ENV].join("\n\n"));
    expect(sent1.tools[0].functionDeclarations.map((f: any) => f.name)).toEqual(["Bash", "Read", "ToolSearch"]);
    expect(sent1.generationConfig.maxOutputTokens).toBe(32000);

    handlers.gemini = sse(
      [{ candidates: [{ content: { role: "model", parts: [{ text: "It printed `hello-from-tool`." }] }, finishReason: "STOP", index: 0 }], usageMetadata, modelVersion: "gemini-2.5-flash" }],
      false,
    );
    const { message: second } = await claudeCode("cc-gemini", turn2(first, first.content[1].id));
    expect(second.content).toEqual([{ type: "text", text: "It printed `hello-from-tool`." }]);
    const contents = last("gemini").body.contents;
    expect(contents.map((c: any) => c.role)).toEqual(["user", "model", "user"]);
    const call = contents[1].parts.find((part: any) => part.functionCall);
    expect(call).toMatchObject({ functionCall: { name: "Bash", args: { command: "echo hello-from-tool" } }, thoughtSignature: "c2lnLWJhc2gtY2FsbA==" });
    expect(contents[2].parts).toEqual([{ functionResponse: { name: "Bash", response: { result: "hello-from-tool\n" } } }]);
    expect(last("gemini").body.systemInstruction.parts.at(-1).text).toEndWith(ENV);
  });

  test("Bearer auth (ANTHROPIC_AUTH_TOKEN) works the same", async () => {
    handlers.oai = () => Response.json({ id: "c", object: "chat.completion", created: 1, model: "gpt-4o", choices: [{ index: 0, message: { role: "assistant", content: "pong" }, finish_reason: "stop" }], usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 } });
    const res = await fetch(`${gw.base}/v1/messages?beta=true`, { method: "POST", headers: ccHeaders(gw.key, true), body: JSON.stringify(ccBody("cc-openai", [{ role: "user", content: "say pong" }], false)) });
    expect(res.status).toBe(200);
    expect((await res.json()).content).toEqual([{ type: "text", text: "pong" }]);
  });
});

// ---------------------------------------------------------------------------------------------

describe("errors in Anthropic's shape", () => {
  const ask = (c: Anthropic, model = "oai/gpt-4o") => caught(c.messages.create({ model, max_tokens: 16, messages: [{ role: "user", content: "hi" }] }));
  const post = (body: BodyInit | undefined, headers: Record<string, string> = { "x-api-key": gw.key }) =>
    fetch(`${gw.base}/v1/messages`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
  const errorBody = (type: string) => ({ type: "error", error: { type, message: expect.any(String) } });

  test("a wrong or missing client key: 401 authentication_error (x-api-key and Bearer)", async () => {
    const wrong = await ask(new Anthropic({ baseURL: gw.base, apiKey: "sk-wrong", maxRetries: 0 }));
    expect(wrong).toBeInstanceOf(Anthropic.AuthenticationError);
    expect(wrong!.status).toBe(401);
    expect(wrong!.error).toEqual(errorBody("authentication_error"));
    const bearer = await ask(new Anthropic({ baseURL: gw.base, apiKey: null, authToken: "sk-wrong", maxRetries: 0 }));
    expect(bearer).toBeInstanceOf(Anthropic.AuthenticationError);
    const missing = await post(JSON.stringify({ model: "oai/gpt-4o", max_tokens: 1, messages: [{ role: "user", content: "hi" }] }), {});
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual(errorBody("authentication_error"));
  });

  test("an unknown model: 404 not_found_error", async () => {
    const error = await ask(client, "no-such-model");
    expect(error).toBeInstanceOf(Anthropic.NotFoundError);
    expect(error!.error).toEqual(errorBody("not_found_error"));
    expect(error!.message).toContain("no-such-model");
  });

  test("malformed JSON, an empty body and invalid fields: 400 invalid_request_error, nothing echoed", async () => {
    for (const body of ['{"model": "oai/gpt-4o", "messages": [', "", "[1, 2]"]) {
      const res = await post(body);
      expect(res.status).toBe(400);
      expect(res.headers.get("content-type")).toContain("application/json");
      const json = await res.json();
      expect(json).toEqual(errorBody("invalid_request_error"));
      expect(JSON.stringify(json)).not.toMatch(/stack|at \//);
    }
    const invalid = await caught(client.messages.create({ model: "oai/gpt-4o", max_tokens: 16, messages: [{ role: "user", content: [{ type: "image", source: { type: "base64", media_type: "image/tiff" as "image/png", data: "SECRETDATA" } }] }] }));
    expect(invalid).toBeInstanceOf(Anthropic.BadRequestError);
    expect(invalid!.message).toContain("messages.0.content.0.source.media_type");
    expect(invalid!.message).not.toContain("SECRETDATA");
  });

  test("an upstream 429: rate_limit_error with Retry-After", async () => {
    handlers.oai = replay(loadFixture("openai", "error-rate-limit"));
    const error = await ask(client);
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    expect(error!.error).toEqual(errorBody("rate_limit_error"));
    expect(error!.headers?.get("retry-after")).toBe("3");
    expect(error!.message).not.toContain("org-gwtest");
  });

  test("an overloaded upstream: 529 overloaded_error (Gemini's 503)", async () => {
    handlers.gemini = replay(loadFixture("gemini", "error-overloaded"));
    const error = await ask(client, "gemini/gemini-2.5-flash");
    expect(error).toBeInstanceOf(Anthropic.OverloadedError);
    expect(error!.status).toBe(529);
    expect(error!.error).toEqual(errorBody("overloaded_error"));
  });

  test("the key's own limits: 429 rate_limit_error with Retry-After and x-ratelimit-*; 403 permission_error", async () => {
    const side = openDatabase(path.join(gw.dir, "llm-proxy.db"));
    const limited = createClientKey(side.db, "rpm-1");
    updateClientKey(side.db, limited.row.id, { rpmLimit: 1 });
    const narrow = createClientKey(side.db, "gemini-only");
    updateClientKey(side.db, narrow.row.id, { allowedModels: JSON.stringify(["cc-gemini"]) });
    side.close();
    handlers.oai = () => Response.json({ id: "c", object: "chat.completion", created: 1, model: "gpt-4o", choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }], usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 } });
    const limitedClient = new Anthropic({ baseURL: gw.base, apiKey: limited.key, maxRetries: 0 });
    expect(await ask(limitedClient)).toBeUndefined();
    const error = await ask(limitedClient);
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    expect(error!.error).toEqual(errorBody("rate_limit_error"));
    expect(Number(error!.headers?.get("retry-after"))).toBeGreaterThan(0);
    expect(error!.headers?.get("x-ratelimit-limit-requests")).toBe("1");
    const refused = await ask(new Anthropic({ baseURL: gw.base, apiKey: narrow.key, maxRetries: 0 }));
    expect(refused).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect(refused!.error).toEqual(errorBody("permission_error"));
  });

  test("other paths under /v1/messages (Message Batches): 404 not_found_error, after authentication", async () => {
    const batches = await fetch(`${gw.base}/v1/messages/batches`, { method: "POST", headers: { "x-api-key": gw.key }, body: "{}" });
    expect(batches.status).toBe(404);
    expect(await batches.json()).toEqual(errorBody("not_found_error"));
    const list = await fetch(`${gw.base}/v1/messages/batches/msgbatch_1`, { headers: { "x-api-key": "sk-wrong" } });
    expect(list.status).toBe(401);
    expect(await list.json()).toEqual(errorBody("authentication_error"));
  });
});

// ---------------------------------------------------------------------------------------------

describe("count_tokens", () => {
  test("a positive local estimate for what the SDK and Claude Code send; no upstream call; authenticated", async () => {
    const before = up.oai.requests.length;
    const counted = await client.messages.countTokens({
      model: "cc-openai",
      system: "You are terse.",
      tools: [BASH as Anthropic.Tool],
      messages: [{ role: "user", content: "foo" }],
    });
    expect(counted.input_tokens).toBeGreaterThan(20);
    const res = await fetch(`${gw.base}/v1/messages/count_tokens?beta=true`, {
      method: "POST",
      headers: { ...ccHeaders(gw.key), "anthropic-beta": "claude-code-20250219,token-counting-2024-11-01" },
      body: JSON.stringify({ model: "cc-gemini", messages: [{ role: "user", content: "foo" }], tools: [BASH, READ, TOOL_SEARCH] }),
    });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(Object.keys(body)).toEqual(["input_tokens"]);
    expect(body.input_tokens).toBeGreaterThan(counted.input_tokens);
    expect(up.oai.requests.length).toBe(before);

    const wrongKey = await caught(new Anthropic({ baseURL: gw.base, apiKey: "sk-wrong", maxRetries: 0 }).messages.countTokens({ model: "cc-openai", messages: [{ role: "user", content: "foo" }] }));
    expect(wrongKey).toBeInstanceOf(Anthropic.AuthenticationError);
    const unknown = await caught(client.messages.countTokens({ model: "no-such-model", messages: [{ role: "user", content: "foo" }] }));
    expect(unknown).toBeInstanceOf(Anthropic.NotFoundError);
    const invalid = await caught(client.messages.countTokens({ model: "cc-openai", messages: [] }));
    expect(invalid).toBeInstanceOf(Anthropic.BadRequestError);
  });
});

function caught(promise: Promise<unknown>) {
  return promise.then(() => undefined, (error: unknown) => error as InstanceType<typeof Anthropic.APIError>);
}

// ---------------------------------------------------------------------------------------------

describe("request log", () => {
  async function rows(): Promise<any[]> {
    await Bun.sleep(250); // well over the 20 ms flush interval
    const db = new Database(path.join(gw.dir, "llm-proxy.db"), { readonly: true });
    const out = requestsTable(db).query("SELECT * FROM requests ORDER BY id").all();
    db.close();
    return out;
  }

  test("one row per authenticated request, endpoint messages, whatever happens; count_tokens is not logged", async () => {
    const before = (await rows()).length;
    handlers.oai = replay(loadFixture("openai", "chat"));
    await client.messages.create({ model: "oai/gpt-4o", max_tokens: 16, messages: [{ role: "user", content: "hi" }] });
    handlers.oai = replay(loadFixture("openai", "chat-stream"), 7);
    await client.messages.stream({ model: "cc-openai", max_tokens: 16, messages: [{ role: "user", content: "hi" }] }).finalMessage();
    handlers.oai = replay(loadFixture("openai", "error-rate-limit"));
    await caught(client.messages.create({ model: "oai/gpt-4o", max_tokens: 16, messages: [{ role: "user", content: "hi" }] }));
    await caught(client.messages.create({ model: "no-such-model", max_tokens: 16, messages: [{ role: "user", content: "hi" }] }));
    await fetch(`${gw.base}/v1/messages`, { method: "POST", headers: { "x-api-key": gw.key }, body: "{not json" });
    await client.messages.countTokens({ model: "cc-openai", messages: [{ role: "user", content: "foo" }] });
    const all = await rows();
    const added = all.slice(before);
    expect(added.map((row) => [row.endpoint, row.status, row.stream, row.requested_model])).toEqual([
      ["messages", 200, 0, "oai/gpt-4o"],
      ["messages", 200, 1, "cc-openai"],
      ["messages", 429, 0, "oai/gpt-4o"],
      ["messages", 404, 0, "no-such-model"],
      ["messages", 400, 0, null],
    ]);
    expect(added[0]).toMatchObject({ provider: "oai", upstream_model: "gpt-4o", input_tokens: 24, output_tokens: 8, client_key_id: gw.keyId });
    // Every request this file made through the gateway went to /v1/messages.
    expect(new Set(all.map((row) => row.endpoint))).toEqual(new Set(["messages"]));
  });
});
