/**
 * POST /v1/messages with an Anthropic upstream behind it, through the real gateway: the official
 * `@anthropic-ai/sdk` and a Claude-Code-shaped client on one side, a mock Anthropic API on the other.
 * The Anthropic dialect and the Anthropic adapter share one metadata convention
 * (providers/anthropic-metadata.ts), so a request goes upstream as the client sent it (cache_control
 * on the same blocks, deferred tools, native parameters, the client's betas) and thinking blocks,
 * signatures included, come back to the client and go upstream again unchanged, streamed or not.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import { loadFixture, type Fixture } from "../testing/fixtures.ts";
import { startGateway } from "../testing/gateway-harness.ts";
import { chunkedResponse, splitBytes, startMockUpstream, type UpstreamHandler } from "../testing/mock-upstream.ts";

const ANTHROPIC_KEY = "sk-ant-upstream-secret";
const MODEL = "claude-sonnet-4-5-20250929";
const enc = new TextEncoder();

let handler: UpstreamHandler = () => new Response(null, { status: 500 });
const upstream = startMockUpstream((r, q) => handler(r, q));
let gw: Awaited<ReturnType<typeof startGateway>>;
let client: Anthropic;

beforeAll(async () => {
  gw = await startGateway(`
[[providers]]
id = "anthropic"
type = "anthropic"
base_url = "${upstream.url}/v1"
api_key = "${ANTHROPIC_KEY}"

[models.aliases]
cc-anthropic = ["anthropic/${MODEL}"]

[gateway]
max_retries = 0
`);
  client = new Anthropic({ baseURL: gw.base, apiKey: gw.key, maxRetries: 0 });
});
afterAll(async () => {
  await gw.stop();
  upstream.stop();
});

const replay = (fixture: Fixture, split = 0): UpstreamHandler => () =>
  chunkedResponse(split ? splitBytes(fixture.rawBody, split) : [fixture.rawBody], { status: fixture.response.status, headers: fixture.response.headers });
/** Anthropic's named-event SSE, in `split`-byte pieces. */
const anthropicSse = (events: Record<string, unknown>[], split = 7): UpstreamHandler => () =>
  chunkedResponse(splitBytes(enc.encode(events.map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join("")), split), {
    headers: { "content-type": "text/event-stream; charset=utf-8" },
  });
const block = (index: number, content_block: Record<string, unknown>, deltas: Record<string, unknown>[]) => [
  { type: "content_block_start", index, content_block },
  ...deltas.map((delta) => ({ type: "content_block_delta", index, delta })),
  { type: "content_block_stop", index },
];
const messageStart = (usage: Record<string, number>) => ({
  type: "message_start",
  message: { id: "msg_up", type: "message", role: "assistant", model: MODEL, content: [], stop_reason: null, stop_sequence: null, usage },
});
const messageEnd = (stop_reason: string, usage: Record<string, number>, stop_sequence: string | null = null) => [
  { type: "message_delta", delta: { stop_reason, stop_sequence }, usage },
  { type: "message_stop" },
];
const sent = () => upstream.requests.at(-1)!;
/** The content-block events of a stream (what must pass through unchanged), pings and empty JSON deltas aside. */
const blockEvents = (events: any[]) =>
  events.filter((e) => e.type.startsWith("content_block_") && e.delta?.partial_json !== "").map((e) => JSON.parse(JSON.stringify(e)));

async function rawEvents(params: object, options?: Anthropic.RequestOptions): Promise<any[]> {
  const stream = await client.messages.create({ ...params, stream: true } as Anthropic.MessageCreateParamsStreaming, options);
  const events: any[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

// ---------------------------------------------------------------------------------------------

describe("the official SDK with an Anthropic upstream", () => {
  const fixtureParams = (fixture: Fixture) => {
    const { stream: _s, ...params } = fixture.upstream_request.body as Record<string, any>;
    return params as Anthropic.MessageCreateParamsNonStreaming;
  };

  for (const split of [0, 1, 7]) {
    test(`thinking-stream${split ? ` in ${split}-byte pieces` : ""}: the request goes up as sent, the events come down block for block`, async () => {
      const fixture = loadFixture("anthropic", "thinking-stream");
      handler = replay(fixture, split);
      const events = await rawEvents(fixtureParams(fixture));
      expect(sent().body).toEqual(fixture.upstream_request.body);
      expect(sent().headers.get("x-api-key")).toBe(ANTHROPIC_KEY);
      expect(sent().headers.get("anthropic-version")).toBe("2023-06-01");
      const wire = new TextDecoder().decode(fixture.rawBody).split("\n\n").filter((c) => c.trim()).map((c) => JSON.parse(/^data: (.*)$/m.exec(c)![1]!));
      expect(blockEvents(events)).toEqual(blockEvents(wire));
      expect(events.at(-2)).toEqual({
        type: "message_delta",
        delta: { stop_reason: "end_turn", stop_sequence: null },
        usage: { input_tokens: 42, cache_creation_input_tokens: 0, cache_read_input_tokens: 18750, output_tokens: 412 },
      });
      expect(events.at(-1)).toEqual({ type: "message_stop" });
    });
  }

  test("thinking + tools, streamed then not: the signed block goes back verbatim, first, with thinking kept on", async () => {
    const weather = { name: "get_weather", description: "Weather for a city", input_schema: { type: "object" as const, properties: { city: { type: "string" } }, required: ["city"] } };
    const params = {
      model: MODEL,
      max_tokens: 4096,
      thinking: { type: "enabled" as const, budget_tokens: 2048 },
      tools: [weather],
      messages: [{ role: "user" as const, content: "Weather in Paris?" }],
    };
    handler = anthropicSse([
      messageStart({ input_tokens: 600, output_tokens: 1 }),
      { type: "ping" },
      ...block(0, { type: "thinking", thinking: "", signature: "" }, [
        { type: "thinking_delta", thinking: "Paris: " },
        { type: "thinking_delta", thinking: "call the tool." },
        { type: "signature_delta", signature: "EqQBsig-turn-1" },
      ]),
      ...block(1, { type: "redacted_thinking", data: "EmwKAhgBEgy-redacted" }, []),
      ...block(2, { type: "text", text: "" }, [{ type: "text_delta", text: "Checking." }]),
      ...block(3, { type: "tool_use", id: "toolu_01P", name: "get_weather", input: {} }, [
        { type: "input_json_delta", partial_json: "" },
        { type: "input_json_delta", partial_json: '{"city":' },
        { type: "input_json_delta", partial_json: '"Paris"}' },
      ]),
      ...messageEnd("tool_use", { output_tokens: 90 }),
    ], 1);
    const first = await client.messages.stream(params).finalMessage();
    expect(first.content).toEqual([
      { type: "thinking", thinking: "Paris: call the tool.", signature: "EqQBsig-turn-1" },
      { type: "redacted_thinking", data: "EmwKAhgBEgy-redacted" },
      { type: "text", text: "Checking." },
      { type: "tool_use", id: "toolu_01P", name: "get_weather", input: { city: "Paris" } },
    ] as never);
    expect(sent().body).toEqual({ ...params, stream: true });

    // Turn 2, not streamed: the whole assistant turn goes back as the SDK returned it.
    const cached = loadFixture("anthropic", "usage-cached-reasoning");
    handler = replay(cached);
    const messages: Anthropic.MessageParam[] = [
      ...params.messages,
      { role: "assistant", content: first.content },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_01P", content: "18C, cloudy" }] },
    ];
    const second = await client.messages.create({ ...params, messages });
    expect(sent().body).toEqual({ ...params, messages });
    const upstreamMessage = cached.response.body as any;
    expect(second.content).toEqual(upstreamMessage.content);
    expect(second).toMatchObject({ stop_reason: "end_turn", usage: { input_tokens: 42, cache_read_input_tokens: 18750, cache_creation_input_tokens: 0 } });

    // Turn 3: both assistant turns keep their own blocks.
    handler = anthropicSse([messageStart({ input_tokens: 700, output_tokens: 1 }), ...block(0, { type: "text", text: "" }, [{ type: "text_delta", text: "Done." }]), ...messageEnd("end_turn", { output_tokens: 2 })]);
    const third: Anthropic.MessageParam[] = [...messages, { role: "assistant", content: second.content }, { role: "user", content: "Thanks!" }];
    await client.messages.stream({ ...params, messages: third }).finalMessage();
    expect(sent().body.messages).toEqual(JSON.parse(JSON.stringify(third)));
  });

  test("a stop sequence comes back as stop_reason stop_sequence with the sequence, streamed and not", async () => {
    const params = { model: MODEL, max_tokens: 64, stop_sequences: ["###"], messages: [{ role: "user" as const, content: "Count." }] };
    handler = () =>
      Response.json({ id: "msg_s", type: "message", role: "assistant", model: MODEL, content: [{ type: "text", text: "1, 2" }], stop_reason: "stop_sequence", stop_sequence: "###", usage: { input_tokens: 5, output_tokens: 4 } });
    const whole = await client.messages.create(params);
    expect(whole).toMatchObject({ stop_reason: "stop_sequence", stop_sequence: "###", content: [{ type: "text", text: "1, 2" }] });
    expect(sent().body.stop_sequences).toEqual(["###"]);
    handler = anthropicSse([messageStart({ input_tokens: 5, output_tokens: 1 }), ...block(0, { type: "text", text: "" }, [{ type: "text_delta", text: "1, 2" }]), ...messageEnd("stop_sequence", { output_tokens: 4 }, "###")]);
    const streamed = await client.messages.stream(params).finalMessage();
    expect(streamed).toMatchObject({ stop_reason: "stop_sequence", stop_sequence: "###" });
  });

  test("upstream errors: 529 overloaded_error, 429 rate_limit_error with Retry-After, a bad gateway key upstream is a non-retryable 502", async () => {
    const ask = () =>
      client.messages.create({ model: MODEL, max_tokens: 16, messages: [{ role: "user", content: "hi" }] }).then(
        () => undefined,
        (error: unknown) => error as InstanceType<typeof Anthropic.APIError>,
      );
    handler = replay(loadFixture("anthropic", "error-overloaded"));
    const overloaded = await ask();
    expect(overloaded).toBeInstanceOf(Anthropic.OverloadedError);
    expect(overloaded!.error).toMatchObject({ type: "error", error: { type: "overloaded_error" } });
    handler = replay(loadFixture("anthropic", "error-rate-limit"));
    const limited = await ask();
    expect(limited).toBeInstanceOf(Anthropic.RateLimitError);
    expect(limited!.headers?.get("retry-after")).toBe("18");
    expect(limited!.message).not.toContain("3c5e7a9b");
    handler = replay(loadFixture("anthropic", "error-auth"));
    const auth = await ask();
    expect(auth).toBeInstanceOf(Anthropic.InternalServerError);
    expect(auth!.status).toBe(502);
    expect(auth!.headers?.get("x-should-retry")).toBe("false");
    expect(JSON.stringify(auth!.error)).not.toContain(ANTHROPIC_KEY);
  });

  test("an overloaded_error event inside the stream reaches the SDK as an APIError after the partial text", async () => {
    handler = replay(loadFixture("anthropic", "stream-error-overloaded"), 7);
    const stream = client.messages.stream({ model: MODEL, max_tokens: 64, messages: [{ role: "user", content: "hi" }] });
    let text = "";
    stream.on("text", (delta) => (text += delta));
    const error = await stream.finalMessage().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect((error as any).error).toMatchObject({ type: "error", error: { type: "overloaded_error" } });
    expect(text).toBe(loadFixture("anthropic", "stream-error-overloaded").expect!.partial_content);
  });
});

// ---------------------------------------------------------------------------------------------
// Claude Code → gateway → Anthropic (AGENT-CLIENTS.md §3.1): what it sends arrives as it was sent.

const ephemeral = { type: "ephemeral" };
const BETAS = "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,effort-2025-11-24";
const BASH = { name: "Bash", description: "Executes a bash command.", input_schema: { type: "object", properties: { command: { type: "string" } }, required: ["command"] } };
const TOOL_SEARCH = { name: "ToolSearch", description: "Search deferred tools.", input_schema: { type: "object", properties: { query: { type: "string" } } }, defer_loading: true };
const SYSTEM = [
  { type: "text", text: "x-anthropic-billing-header: cc_version=2.1.332; cc_entrypoint=sdk-cli;" },
  { type: "text", text: "You are a Claude agent, built on Anthropic's Claude Agent SDK.", cache_control: ephemeral },
  { type: "text", text: "You are an interactive CLI tool.", cache_control: ephemeral },
];
const ENV = "<env>Working directory: /tmp/w</env>";
const USER = { role: "user", content: [{ type: "text", text: "<system-reminder>Be careful.</system-reminder>" }, { type: "text", text: "Run echo hi." }] };
const native = {
  thinking: { type: "adaptive", display: "omitted" },
  context_management: { edits: [{ type: "clear_thinking_20251015", keep: "all" }] },
  output_config: { effort: "medium" },
  metadata: { user_id: '{"device_id":"d1","session_id":"s1"}' },
};
const ccBody = (messages: unknown[], stream: boolean) => ({ model: "cc-anthropic", messages, system: SYSTEM, tools: [BASH, TOOL_SEARCH], max_tokens: stream ? 32000 : 64000, stream, ...native });

async function claudeCode(messages: unknown[], stream: boolean): Promise<{ status: number; body: any; events: any[] }> {
  const res = await fetch(`${gw.base}/v1/messages?beta=true`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", "anthropic-version": "2023-06-01", "anthropic-beta": BETAS, "x-app": "cli", "x-api-key": gw.key, "user-agent": "claude-cli/2.1.332 (external, sdk-cli)" },
    body: JSON.stringify(ccBody(messages, stream)),
  });
  const text = await res.text();
  if (!stream || res.status !== 200) return { status: res.status, body: JSON.parse(text), events: [] };
  const events = text.split("\n\n").filter((c) => c.trim()).map((c) => ({ event: /^event: (.*)$/m.exec(c)?.[1], data: JSON.parse(/^data: (.*)$/m.exec(c)![1]!) }));
  for (const { event, data } of events) expect(event).toBe(data.type);
  return { status: res.status, body: undefined, events: events.map(({ data }) => data) };
}

describe("Claude Code → Anthropic upstream", () => {
  test("two turns: thinking signatures round-trip (streamed, then the non-streaming fallback), cache_control and betas pass through", async () => {
    // Turn 1 (streamed). Adaptive thinking with display omitted: a thinking block with only a signature.
    const upstreamEvents = [
      messageStart({ input_tokens: 12, cache_creation_input_tokens: 9000, cache_read_input_tokens: 0, output_tokens: 1 }),
      ...block(0, { type: "thinking", thinking: "", signature: "" }, [{ type: "signature_delta", signature: "EqMDCkYIBhgCKkD-omitted" }]),
      ...block(1, { type: "text", text: "" }, [{ type: "text_delta", text: "Running it." }]),
      ...block(2, { type: "tool_use", id: "toolu_01Bash", name: "Bash", input: {} }, [
        { type: "input_json_delta", partial_json: "" },
        { type: "input_json_delta", partial_json: '{"command":' },
        { type: "input_json_delta", partial_json: '"echo hi"}' },
      ]),
      ...messageEnd("tool_use", { input_tokens: 12, cache_creation_input_tokens: 9000, cache_read_input_tokens: 0, output_tokens: 40 }),
    ];
    handler = anthropicSse(upstreamEvents, 1);
    const turn1 = [USER, { role: "system", content: [{ type: "text", text: ENV, cache_control: ephemeral }] }];
    const first = await claudeCode(turn1, true);
    expect(first.status).toBe(200);
    expect(blockEvents(first.events)).toEqual(blockEvents(upstreamEvents));
    expect(first.events.at(-2)).toMatchObject({ delta: { stop_reason: "tool_use" }, usage: { input_tokens: 12, cache_creation_input_tokens: 9000, output_tokens: 40 } });

    // What went upstream: the body as sent (the environment message folded into `system`, its
    // cache breakpoint kept), the upstream key, the client's betas; nothing of the gateway's own.
    const up1 = sent();
    expect(up1.path).toBe("/v1/messages");
    expect(up1.headers.get("x-api-key")).toBe(ANTHROPIC_KEY);
    expect(up1.headers.get("anthropic-beta")).toBe(BETAS);
    expect(up1.body).toEqual({
      model: MODEL,
      system: [...SYSTEM, { type: "text", text: ENV, cache_control: ephemeral }],
      messages: [USER],
      tools: [BASH, TOOL_SEARCH],
      max_tokens: 32000,
      stream: true,
      ...native,
    });

    // The client's copy of the assistant turn, as Claude Code accumulates it.
    const assistant = [
      { type: "thinking", thinking: "", signature: "EqMDCkYIBhgCKkD-omitted" },
      { type: "text", text: "Running it." },
      { type: "tool_use", id: "toolu_01Bash", name: "Bash", input: { command: "echo hi" } },
    ];
    const toolResult = { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_01Bash", content: "hi\n", is_error: false, cache_control: ephemeral }] };
    const turn2 = [USER, { role: "system", content: ENV }, { role: "assistant", content: assistant }, toolResult];

    // Turn 2 as Claude Code's non-streaming fallback: the upstream answers with a whole Message.
    const reply = {
      id: "msg_up2",
      type: "message",
      role: "assistant",
      model: MODEL,
      content: [
        { type: "thinking", thinking: "", signature: "EqMDCkYIBhgCKkD-turn-2" },
        { type: "text", text: "It printed hi." },
      ],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: { input_tokens: 30, cache_creation_input_tokens: 50, cache_read_input_tokens: 9000, output_tokens: 12 },
    };
    handler = () => Response.json(reply);
    const second = await claudeCode(turn2, false);
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ type: "message", role: "assistant", content: reply.content, stop_reason: "end_turn", usage: reply.usage });
    expect(second.body.id).toMatch(/^msg_/);
    const up2 = sent();
    expect(up2.headers.get("anthropic-beta")).toBe(BETAS);
    expect(up2.body).toEqual({
      model: MODEL,
      system: [...SYSTEM, { type: "text", text: ENV }],
      messages: [USER, { role: "assistant", content: assistant }, { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_01Bash", content: "hi\n", cache_control: ephemeral }] }],
      tools: [BASH, TOOL_SEARCH],
      max_tokens: 64000,
      ...native,
    });

    // Turn 3 (streamed): both assistant turns replayed with their own signatures.
    handler = anthropicSse([messageStart({ input_tokens: 5, output_tokens: 1 }), ...block(0, { type: "text", text: "" }, [{ type: "text_delta", text: "ok" }]), ...messageEnd("end_turn", { output_tokens: 1 })]);
    const turn3 = [...turn2, { role: "assistant", content: second.body.content }, { role: "user", content: [{ type: "text", text: "thanks", cache_control: ephemeral }] }];
    const third = await claudeCode(turn3, true);
    expect(third.status).toBe(200);
    const replayed = sent().body.messages.filter((m: any) => m.role === "assistant").map((m: any) => m.content[0].signature);
    expect(replayed).toEqual(["EqMDCkYIBhgCKkD-omitted", "EqMDCkYIBhgCKkD-turn-2"]);
    expect(sent().body.messages.at(-1)).toEqual({ role: "user", content: [{ type: "text", text: "thanks", cache_control: ephemeral }] });
  });

  test("the upstream refusing a beta is a 400 invalid_request_error Claude Code can act on (it retries with fewer betas)", async () => {
    handler = () => Response.json({ type: "error", error: { type: "invalid_request_error", message: "Unexpected value(s) `effort-2025-11-24` for the `anthropic-beta` header." } }, { status: 400 });
    const res = await claudeCode([{ role: "user", content: "hi" }], true);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ type: "error", error: { type: "invalid_request_error", message: expect.stringContaining("anthropic-beta") } });
  });
});
