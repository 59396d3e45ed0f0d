/**
 * Custom (freeform) tools on `POST /v1/responses`, through the real gateway and a mock
 * OpenAI-format upstream: Codex CLI with a model name it knows (e.g. `gpt-5`) sends its shell as a
 * `custom` tool `exec` with a Lark grammar. The upstream must see a function `exec` with one string
 * parameter `input`; its call `{"input": "ls -la"}` must reach the client as a `custom_tool_call`
 * item with `input: "ls -la"` (non-streaming, raw SSE, and the SDK's `responses.stream()`); and the
 * next turn's `custom_tool_call` + `custom_tool_call_output` items must reach the upstream as the
 * assistant's tool call and a tool message.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { checkResponsesEventSequence, readResponsesSSE } from "../api/openai-responses-test-helpers.ts";
import { startGateway } from "../testing/gateway-harness.ts";
import { chunkedResponse, splitBytes, startMockUpstream, type RecordedRequest, type UpstreamHandler } from "../testing/mock-upstream.ts";

const enc = new TextEncoder();
let handler: UpstreamHandler = () => new Response("no handler", { status: 500 });
const received: RecordedRequest[] = [];
const upstream = startMockUpstream((req, raw) => {
  received.push(req);
  return handler(req, raw);
});
let gw: Awaited<ReturnType<typeof startGateway>>;
let client: OpenAI;

beforeAll(async () => {
  gw = await startGateway(`
[[providers]]
id = "oa"
type = "openai"
base_url = "${upstream.url}/v1"
api_key = "sk-oa-secret"

[models.aliases]
gpt-5 = "oa/gpt-4.1"

[gateway]
max_retries = 0
`);
  client = new OpenAI({ baseURL: `${gw.base}/v1`, apiKey: gw.key, maxRetries: 0 });
});
afterAll(async () => {
  await gw.stop();
  upstream.stop();
});

const GRAMMAR = 'start: begin_patch hunk+ end_patch\nbegin_patch: "*** Begin Patch" LF\nend_patch: "*** End Patch" LF?\n%import common.LF';
const EXEC_TOOL = {
  type: "custom",
  name: "exec",
  description: "Runs a shell command and returns its output.",
  format: { type: "grammar", syntax: "lark", definition: GRAMMAR },
} as const;

const turn1Body = (stream: boolean) => ({
  model: "gpt-5",
  instructions: "You are Codex.",
  input: [{ type: "message", role: "user", content: [{ type: "input_text", text: "list the files" }] }],
  tools: [EXEC_TOOL, { type: "function", name: "view_image", parameters: { type: "object", properties: { path: { type: "string" } } } }],
  tool_choice: "auto",
  parallel_tool_calls: false,
  store: false,
  stream,
});

const ARGS = '{"input":"ls -la"}';
const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
  id: "chatcmpl-up",
  object: "chat.completion.chunk",
  created: 1,
  model: "gpt-4.1-2025-04-14",
  choices: [{ index: 0, delta, finish_reason: finish }],
});
const streamingCall = (split: number): UpstreamHandler => () =>
  chunkedResponse(
    splitBytes(
      enc.encode(
        [
          chunk({ role: "assistant", content: null, tool_calls: [{ index: 0, id: "call_X1", type: "function", function: { name: "exec", arguments: "" } }] }),
          chunk({ tool_calls: [{ index: 0, function: { arguments: ARGS.slice(0, 7) } }] }),
          chunk({ tool_calls: [{ index: 0, function: { arguments: ARGS.slice(7) } }] }),
          chunk({}, "tool_calls"),
          { ...chunk({}), choices: [], usage: { prompt_tokens: 50, completion_tokens: 8, total_tokens: 58 } },
        ]
          .map((payload) => `data: ${JSON.stringify(payload)}\n\n`)
          .join("") + "data: [DONE]\n\n",
      ),
      split,
    ),
    { headers: { "content-type": "text/event-stream" } },
  );
const jsonCall: UpstreamHandler = () =>
  Response.json({
    id: "chatcmpl-up",
    object: "chat.completion",
    created: 1,
    model: "gpt-4.1-2025-04-14",
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: null, tool_calls: [{ id: "call_X1", type: "function", function: { name: "exec", arguments: ARGS } }] },
        finish_reason: "tool_calls",
      },
    ],
    usage: { prompt_tokens: 50, completion_tokens: 8, total_tokens: 58 },
  });
const jsonText: UpstreamHandler = () =>
  Response.json({
    id: "chatcmpl-up2",
    object: "chat.completion",
    created: 2,
    model: "gpt-4.1-2025-04-14",
    choices: [{ index: 0, message: { role: "assistant", content: "Two files." }, finish_reason: "stop" }],
    usage: { prompt_tokens: 80, completion_tokens: 3, total_tokens: 83 },
  });

/** What the upstream must receive for the custom tool: a function `exec` with one string `input`. */
function expectExecFunction(body: Record<string, any>) {
  const exec = (body.tools as any[]).find((tool) => tool.function?.name === "exec");
  expect(exec).toMatchObject({
    type: "function",
    function: {
      name: "exec",
      parameters: { type: "object", properties: { input: { type: "string" } }, required: ["input"], additionalProperties: false },
    },
  });
  expect(exec.function.description).toContain("Runs a shell command and returns its output.");
  expect(exec.function.description).toContain(`The input must follow this lark grammar:\n${GRAMMAR}`);
  expect((body.tools as any[]).find((tool) => tool.function?.name === "view_image")?.function.parameters).toEqual({
    type: "object",
    properties: { path: { type: "string" } },
  });
}

const expectedItem = { type: "custom_tool_call", call_id: "call_X1", name: "exec", input: "ls -la" };

describe("custom (freeform) tools: Codex's exec", () => {
  test("non-streaming (client.responses.create): the upstream gets a function; the client a custom_tool_call", async () => {
    received.length = 0;
    handler = jsonCall;
    const response = await client.responses.create(turn1Body(false) as any);
    expect(received).toHaveLength(1);
    expectExecFunction(received[0]!.body);
    expect(response.status).toBe("completed");
    expect(response.output).toHaveLength(1);
    expect(response.output[0]).toMatchObject({ ...expectedItem, status: "completed" });
    expect(response.output[0]!.id).toStartWith("ctc_");
    expect(response.output[0]).not.toHaveProperty("arguments");
    // The request's tools are echoed as the client sent them.
    expect(response.tools[0]).toMatchObject(EXEC_TOOL);
  });

  for (const split of [1, 9]) {
    test(`streaming, raw SSE (upstream body in ${split}-byte pieces): custom_tool_call_input events, then turn 2`, async () => {
      received.length = 0;
      handler = streamingCall(split);
      const res = await fetch(`${gw.base}/v1/responses`, {
        method: "POST",
        headers: { authorization: `Bearer ${gw.key}`, "content-type": "application/json", accept: "text/event-stream" },
        body: JSON.stringify(turn1Body(true)),
      });
      expect(res.status).toBe(200);
      const events = (await readResponsesSSE(res.body)).map((event) => event.data);
      const final = checkResponsesEventSequence(events);
      expect(received).toHaveLength(1);
      expectExecFunction(received[0]!.body);

      const itemEvents = events.filter((event) => /output_item|custom_tool_call|function_call/.test(event.type));
      expect(itemEvents.map((event) => event.type)).toEqual([
        "response.output_item.added",
        "response.custom_tool_call_input.delta",
        "response.custom_tool_call_input.done",
        "response.output_item.done",
      ]);
      const [added, delta, done, itemDone] = itemEvents;
      expect(added!.item).toMatchObject({ ...expectedItem, input: "", status: "in_progress" });
      const itemId = added!.item.id;
      expect(itemId).toStartWith("ctc_");
      expect(delta).toMatchObject({ item_id: itemId, output_index: 0, delta: "ls -la" });
      expect(done).toMatchObject({ item_id: itemId, output_index: 0, input: "ls -la" });
      expect(itemDone!.item).toEqual({ id: itemId, ...expectedItem, status: "completed" });
      expect(final.status).toBe("completed");
      expect(final.output).toEqual([itemDone!.item]);

      // Turn 2: the recorded item and its output go back; the upstream sees a tool call and a tool message.
      received.length = 0;
      handler = jsonText;
      const turn2 = await client.responses.create({
        ...turn1Body(false),
        input: [
          ...turn1Body(false).input,
          itemDone!.item,
          { type: "custom_tool_call_output", call_id: "call_X1", output: "a.txt\nb.txt\n" },
        ],
      } as any);
      expect(turn2.output_text).toBe("Two files.");
      expect(received).toHaveLength(1);
      const messages = received[0]!.body.messages as any[];
      expect(messages.slice(-2)).toEqual([
        { role: "assistant", content: null, tool_calls: [{ id: "call_X1", type: "function", function: { name: "exec", arguments: ARGS } }] },
        { role: "tool", tool_call_id: "call_X1", content: "a.txt\nb.txt\n" },
      ]);
      expectExecFunction(received[0]!.body);
    });
  }

  test("streaming with the SDK: responses.stream().finalResponse() has the custom_tool_call", async () => {
    received.length = 0;
    handler = streamingCall(1 << 20);
    const stream = client.responses.stream(turn1Body(true) as any);
    const seen: string[] = [];
    stream.on("event", (event) => seen.push(event.type));
    const response = await stream.finalResponse();
    expect(seen).toContain("response.custom_tool_call_input.delta");
    expect(seen).toContain("response.custom_tool_call_input.done");
    expect(response.status).toBe("completed");
    expect(response.output).toHaveLength(1);
    expect(response.output[0]).toMatchObject({ ...expectedItem, status: "completed" });
  });

  test("tool_choice {type: 'custom', name} forces that function upstream", async () => {
    received.length = 0;
    handler = jsonCall;
    const response = await client.responses.create({ ...turn1Body(false), tool_choice: { type: "custom", name: "exec" } } as any);
    expect(received[0]!.body.tool_choice).toEqual({ type: "function", function: { name: "exec" } });
    expect(response.tool_choice).toEqual({ type: "custom", name: "exec" });
    expect(response.output[0]).toMatchObject(expectedItem);
  });
});
