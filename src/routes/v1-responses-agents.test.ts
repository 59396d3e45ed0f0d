/**
 * Coding agents on `POST /v1/responses`, through the real gateway and mock upstreams on 127.0.0.1:
 * Codex CLI's two-turn shell-tool run (its headers and request shapes from
 * ../shared/docs/AGENT-CLIENTS.md §3.2, read off the wire as Codex reads it) against an
 * OpenAI-format upstream and against Gemini, whose thoughtSignature must ride out on a reasoning
 * item's `encrypted_content` and come back on the same functionCall part; and the `openai` SDK's
 * two-turn tool runs that must hand DeepSeek its `reasoning_content` and Anthropic its signed
 * thinking blocks on the next turn.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import type OpenAI from "openai";
import path from "node:path";
import { checkResponsesEventSequence, codexTurn1, readResponsesSSE } from "../api/openai-responses-test-helpers.ts";
import { decodeReasoningState } from "../api/openai-responses.ts";
import { startGateway } from "../testing/gateway-harness.ts";
import { chunkedResponse, splitBytes, startMockUpstream, type UpstreamHandler } from "../testing/mock-upstream.ts";
import { requestsTable } from "../testing/request-rows.ts";

const enc = new TextEncoder();
const handlers: Record<string, UpstreamHandler> = {};
const mock = (id: string) => startMockUpstream((r, q) => handlers[id]!(r, q));
const openaiUp = mock("openai");
const geminiUp = mock("gemini");
const deepseekUp = mock("deepseek");
const anthropicUp = mock("anthropic");
let gw: Awaited<ReturnType<typeof startGateway>>;

beforeAll(async () => {
  gw = await startGateway(`
[[providers]]
id = "oa"
type = "openai"
base_url = "${openaiUp.url}/v1"
api_key = "sk-oa-secret"

[[providers]]
id = "gemini"
type = "gemini"
base_url = "${geminiUp.url}/v1beta"
api_key = "AIza-gemini-secret"

[[providers]]
id = "deepseek"
type = "deepseek"
base_url = "${deepseekUp.url}"
api_key = "sk-deepseek-secret"

[[providers]]
id = "anthropic"
type = "anthropic"
base_url = "${anthropicUp.url}/v1"
api_key = "sk-ant-secret"

[models.aliases]
gw-codex-oa = "oa/gpt-4.1"
gw-codex-gemini = "gemini/gemini-3-pro-preview"

[gateway]
max_retries = 0

[request_log]
flush_interval_ms = 20
`);
});
afterAll(async () => {
  await gw.stop();
  for (const upstream of [openaiUp, geminiUp, deepseekUp, anthropicUp]) upstream.stop();
});

/** An SSE body sent in `split`-byte pieces (`separator` "\r\n\r\n" for Gemini). */
const sseResponse = (payloads: unknown[], split: number, separator = "\n\n", trailer = "") => () =>
  chunkedResponse(splitBytes(enc.encode(payloads.map((p) => `data: ${JSON.stringify(p)}${separator}`).join("") + trailer), split), {
    headers: { "content-type": "text/event-stream" },
  });
const oaChunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
  id: "chatcmpl-up",
  object: "chat.completion.chunk",
  created: 1,
  model: "gpt-4.1-2025-04-14",
  choices: [{ index: 0, delta, finish_reason: finish }],
});
const oaUsage = (usage: Record<string, unknown>) => ({ ...oaChunk({}), choices: [], usage });

// ---------------------------------------------------------------------------------------------
// Codex CLI, as it talks to a custom provider (`wire_api = "responses"`)

const SESSION = "0199a0c2-1b7e-7a51-9d3e-5b6f0e9c2a11";
const CODEX_HEADERS = {
  accept: "text/event-stream",
  "content-type": "application/json",
  originator: "codex_exec",
  "session-id": SESSION,
  "thread-id": SESSION,
  "x-client-request-id": SESSION,
  "x-codex-window-id": "w-1",
  "x-codex-beta-features": "remote_compaction_v2",
  "x-codex-turn-metadata": JSON.stringify({ installation_id: "i-1", turn_id: "t1", sandbox: "workspace-write", analytics_enabled: false }),
  "user-agent": "codex_exec/0.169.0 (Debian 12.0.0; x86_64) dumb (codex_exec; 0.169.0)",
};

type CodexTurn = { status: number; events: { event: string | undefined; data: Record<string, any> }[]; items: Record<string, any>[]; final: Record<string, any>; requestId: string | null };

/** One Codex turn: POST, read the SSE like Codex (by `type`), record the items `output_item.done` delivers. */
async function codexTurn(body: Record<string, unknown>): Promise<CodexTurn> {
  const res = await fetch(`${gw.base}/v1/responses`, {
    method: "POST",
    headers: { ...CODEX_HEADERS, authorization: `Bearer ${gw.key}` },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toStartWith("text/event-stream");
  const events = await readResponsesSSE(res.body);
  // Named events (the SDK) agree with the `type` in the data (what Codex reads); no [DONE].
  for (const { event, data } of events) expect(event).toBe(data.type);
  const final = checkResponsesEventSequence(events.map((e) => e.data));
  const items = events.filter((e) => e.data.type === "response.output_item.done").map((e) => e.data.item);
  return { status: res.status, events, items, final, requestId: res.headers.get("x-request-id") };
}

/** Turn 2: turn 1's whole input again, the model's items as Codex recorded them, the tool's output. */
function codexSecondTurn(turn1: Record<string, any>, items: Record<string, any>[], output: string) {
  const call = items.find((item) => item.type === "function_call")!;
  return {
    ...turn1,
    client_metadata: { "x-codex-turn-metadata": '{"turn_id":"t2","sandbox":"workspace-write"}' },
    input: [...turn1.input, ...items, { type: "function_call_output", id: "fco_1", call_id: call.call_id, output }],
  };
}

const TOOL_OUTPUT = "Chunk ID: 4f2a\nProcess exited with code 0\nOriginal token count: 3\nOutput:\nhello-from-tool\n";

describe("Codex CLI: two turns with a shell tool call", () => {
  for (const split of [1, 7]) {
    test(`OpenAI-format upstream (upstream bodies in ${split}-byte pieces)`, async () => {
      const turn1Body = { ...codexTurn1(), model: "gw-codex-oa" };
      const args = '{"cmd":"echo hello-from-tool","workdir":"/tmp/w"}';
      handlers.openai = sseResponse(
        [
          oaChunk({ role: "assistant", content: null, tool_calls: [{ index: 0, id: "call_Ab12", type: "function", function: { name: "exec_command", arguments: "" } }] }),
          oaChunk({ tool_calls: [{ index: 0, function: { arguments: args.slice(0, 9) } }] }),
          oaChunk({ tool_calls: [{ index: 0, function: { arguments: args.slice(9) } }] }),
          oaChunk({}, "tool_calls"),
          oaUsage({ prompt_tokens: 5100, completion_tokens: 30, total_tokens: 5130, prompt_tokens_details: { cached_tokens: 4096 } }),
        ],
        split,
        "\n\n",
        "data: [DONE]\n\n",
      );
      const turn1 = await codexTurn(turn1Body);
      expect(turn1.final.status).toBe("completed");
      expect(turn1.items).toEqual([
        { id: expect.stringMatching(/^fc_/), type: "function_call", status: "completed", arguments: args, call_id: "call_Ab12", name: "exec_command" },
      ]);
      const argumentDeltas = turn1.events.filter((e) => e.data.type === "response.function_call_arguments.delta").map((e) => e.data.delta);
      expect(argumentDeltas).toEqual([args.slice(0, 9), args.slice(9)]);
      expect(turn1.final.usage).toEqual({
        input_tokens: 5100,
        input_tokens_details: { cached_tokens: 4096, cache_write_tokens: 0 },
        output_tokens: 30,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: 5130,
      });
      const sent1 = openaiUp.requests.at(-1)!.body;
      expect(sent1.messages.map((m: any) => m.role)).toEqual(["developer", "developer", "user", "user"]);
      // Function tools pass, the namespace is flattened, the hosted web_search is skipped.
      expect(sent1.tools.map((t: any) => t.function.name)).toEqual(["exec_command", "write_stdin", "view_image", "multi_agent_v1__spawn_agent"]);
      expect(sent1).toMatchObject({ model: "gpt-4.1", stream: true, tool_choice: "auto", parallel_tool_calls: true, prompt_cache_key: SESSION });

      handlers.openai = sseResponse(
        [
          oaChunk({ role: "assistant", content: "" }),
          oaChunk({ content: "The command printed " }),
          oaChunk({ content: "hello-from-tool." }),
          oaChunk({}, "stop"),
          oaUsage({ prompt_tokens: 5200, completion_tokens: 8, total_tokens: 5208, prompt_tokens_details: { cached_tokens: 5100 } }),
        ],
        split,
        "\n\n",
        "data: [DONE]\n\n",
      );
      const turn2 = await codexTurn(codexSecondTurn(turn1Body, turn1.items, TOOL_OUTPUT));
      const sent2 = openaiUp.requests.at(-1)!.body;
      expect(sent2.messages.slice(0, 4)).toEqual(sent1.messages);
      expect(sent2.messages.slice(4)).toEqual([
        { role: "assistant", content: null, tool_calls: [{ id: "call_Ab12", type: "function", function: { name: "exec_command", arguments: args } }] },
        { role: "tool", tool_call_id: "call_Ab12", content: TOOL_OUTPUT },
      ]);
      // Codex prints the last message's output_text and takes "tokens used" from response.completed.
      expect(turn2.final.status).toBe("completed");
      expect(turn2.items).toEqual([
        { id: expect.stringMatching(/^msg_/), type: "message", status: "completed", role: "assistant", content: [{ type: "output_text", annotations: [], logprobs: [], text: "The command printed hello-from-tool." }] },
      ]);
      expect(turn2.final.output).toEqual(turn2.items);
      expect(turn2.final.usage).toMatchObject({ input_tokens: 5200, input_tokens_details: { cached_tokens: 5100 }, output_tokens: 8, total_tokens: 5208 });
      const types = turn2.events.map((e) => e.data.type);
      expect(types).toEqual([
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
      ]);
    });
  }

  test("Gemini upstream: the thoughtSignature rides on encrypted_content and returns on the same functionCall part", async () => {
    const turn1Body = { ...codexTurn1(), model: "gw-codex-gemini" };
    handlers.gemini = sseResponse(
      [
        { candidates: [{ content: { role: "model", parts: [{ text: "The user wants the files. ", thought: true }] }, index: 0 }] },
        { candidates: [{ content: { role: "model", parts: [{ text: "I will run ls.", thought: true }] }, index: 0 }] },
        {
          candidates: [
            {
              content: { role: "model", parts: [{ functionCall: { name: "exec_command", args: { cmd: "ls -la", workdir: "/tmp/w" } }, thoughtSignature: "c2lnLWNhbGwtMQ==" }] },
              finishReason: "STOP",
              index: 0,
            },
          ],
          usageMetadata: { promptTokenCount: 5100, candidatesTokenCount: 20, thoughtsTokenCount: 60, totalTokenCount: 5180, cachedContentTokenCount: 4000 },
          modelVersion: "gemini-3-pro-preview",
          responseId: "g-turn-1",
        },
      ],
      7,
      "\r\n\r\n",
    );
    const turn1 = await codexTurn(turn1Body);
    expect(geminiUp.requests.at(-1)!.path).toBe("/v1beta/models/gemini-3-pro-preview:streamGenerateContent?alt=sse");
    expect(turn1.items.map((item) => item.type)).toEqual(["reasoning", "function_call", "reasoning"]);
    expect(turn1.items[0]).toEqual({ id: expect.stringMatching(/^rs_/), type: "reasoning", summary: [{ type: "summary_text", text: "The user wants the files. I will run ls." }] });
    const call = turn1.items[1]!;
    const callId: string = call.call_id;
    expect(callId).toMatch(/^call_\w+$/);
    expect(call).toEqual({ id: expect.stringMatching(/^fc_/), type: "function_call", name: "exec_command", arguments: '{"cmd":"ls -la","workdir":"/tmp/w"}', status: "completed", call_id: callId });
    const state = turn1.items[2]!;
    expect(state).toEqual({ id: expect.stringMatching(/^rs_/), type: "reasoning", summary: [], encrypted_content: expect.stringMatching(/^llmp1\./) });
    expect(decodeReasoningState(state.encrypted_content)).toEqual({ calls: { [callId]: { gemini: { thoughtSignature: "c2lnLWNhbGwtMQ==" } } } });
    expect(turn1.final.usage).toMatchObject({ input_tokens: 5100, input_tokens_details: { cached_tokens: 4000 }, output_tokens: 80, output_tokens_details: { reasoning_tokens: 60 } });
    const sent1 = geminiUp.requests.at(-1)!.body;
    expect(sent1.systemInstruction.parts.map((p: any) => p.text).join("\n")).toContain("You are Codex");
    expect(sent1.tools[0].functionDeclarations.map((f: any) => f.name)).toEqual(["exec_command", "write_stdin", "view_image", "multi_agent_v1__spawn_agent"]);

    handlers.gemini = sseResponse(
      [
        {
          candidates: [{ content: { role: "model", parts: [{ text: "Two files: a.txt and b.txt.", thoughtSignature: "c2lnLXRleHQtMg==" }] }, finishReason: "STOP", index: 0 }],
          usageMetadata: { promptTokenCount: 5300, candidatesTokenCount: 9, totalTokenCount: 5309 },
          modelVersion: "gemini-3-pro-preview",
        },
      ],
      1,
      "\r\n\r\n",
    );
    const turn2 = await codexTurn(codexSecondTurn(turn1Body, turn1.items, "a.txt\nb.txt\n"));
    const contents = geminiUp.requests.at(-1)!.body.contents;
    expect(contents.slice(0, -2)).toEqual(sent1.contents);
    // The model turn: the call with its signature on the same part (Gemini 3 rejects it otherwise);
    // the reasoning summary is not replayed. Then the tool's output as a functionResponse.
    expect(contents.at(-2)).toEqual({
      role: "model",
      parts: [{ functionCall: { name: "exec_command", args: { cmd: "ls -la", workdir: "/tmp/w" } }, thoughtSignature: "c2lnLWNhbGwtMQ==" }],
    });
    expect(contents.at(-1)).toEqual({ role: "user", parts: [{ functionResponse: { name: "exec_command", response: { result: "a.txt\nb.txt\n" } } }] });
    // The final answer; the text part's signature comes back as state for a third turn.
    expect(turn2.items.map((item) => item.type)).toEqual(["message", "reasoning"]);
    expect(turn2.items[0]!.content[0].text).toBe("Two files: a.txt and b.txt.");
    expect(decodeReasoningState(turn2.items[1]!.encrypted_content)).toEqual({ message: { gemini: { thoughtSignature: "c2lnLXRleHQtMg==" } } });
    expect(turn2.final.status).toBe("completed");

    // Both turns are on the request log as Responses calls, streamed, with the skipped tool noted.
    let rows: any[] = [];
    for (let i = 0; i < 50 && rows.length < 2; i++) {
      await Bun.sleep(60);
      const db = new Database(path.join(gw.dir, "llm-proxy.db"), { readonly: true });
      rows = requestsTable(db).query("SELECT * FROM requests WHERE id IN (?, ?)").all(turn1.requestId, turn2.requestId) as any[];
      db.close();
    }
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row).toMatchObject({ endpoint: "responses", status: 200, stream: 1, provider: "gemini", requested_model: "gw-codex-gemini", user_agent: CODEX_HEADERS["user-agent"] });
      expect(row.warnings).toContain("web_search");
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The openai SDK: output items sent back as they came restore each provider's reasoning state

const exec = {
  type: "function" as const,
  name: "exec_command",
  description: "Run a shell command.",
  strict: false,
  parameters: { type: "object", properties: { cmd: { type: "string" } }, required: ["cmd"] },
};

describe("reasoning state round trips through the SDK", () => {
  test("DeepSeek: the turn's reasoning comes back as reasoning_content on the tool-calling assistant message", async () => {
    const ds = (delta: Record<string, unknown>, finish: string | null = null) => ({ ...oaChunk(delta, finish), model: "deepseek-reasoner" });
    handlers.deepseek = sseResponse(
      [
        ds({ role: "assistant", content: null, reasoning_content: "" }),
        ds({ content: null, reasoning_content: "I should list " }),
        ds({ content: null, reasoning_content: "the files." }),
        ds({ tool_calls: [{ index: 0, id: "call_0_ds", type: "function", function: { name: "exec_command", arguments: "" } }] }),
        ds({ tool_calls: [{ index: 0, function: { arguments: '{"cmd":' } }] }),
        ds({ tool_calls: [{ index: 0, function: { arguments: '"ls"}' } }] }),
        ds({}, "tool_calls"),
        { ...oaUsage({ prompt_tokens: 100, completion_tokens: 40, total_tokens: 140, completion_tokens_details: { reasoning_tokens: 25 }, prompt_cache_hit_tokens: 64 }), model: "deepseek-reasoner" },
      ],
      7,
      "\n\n",
      "data: [DONE]\n\n",
    );
    const input: OpenAI.Responses.ResponseInput = [{ role: "user", content: "list the files" }];
    const request = { model: "deepseek/deepseek-reasoner", tools: [exec], store: false, include: ["reasoning.encrypted_content" as const] };
    const first = await gw.client.responses.stream({ ...request, input }).finalResponse();
    expect(first.output.map((item) => item.type)).toEqual(["reasoning", "function_call"]);
    expect(first.output[0]).toMatchObject({ summary: [{ type: "summary_text", text: "I should list the files." }] });
    expect(first.output[1]).toMatchObject({ call_id: "call_0_ds", name: "exec_command", arguments: '{"cmd":"ls"}' });
    expect(first.usage).toMatchObject({ input_tokens: 100, input_tokens_details: { cached_tokens: 64 }, output_tokens: 40, output_tokens_details: { reasoning_tokens: 25 } });

    handlers.deepseek = () =>
      Response.json({
        id: "ds-2",
        object: "chat.completion",
        created: 1,
        model: "deepseek-reasoner",
        choices: [{ index: 0, message: { role: "assistant", content: "a.txt and b.txt.", reasoning_content: "Done." }, finish_reason: "stop" }],
        usage: { prompt_tokens: 150, completion_tokens: 9, total_tokens: 159 },
      });
    const second = await gw.client.responses.create({
      ...request,
      input: [...input, ...(first.output as OpenAI.Responses.ResponseInputItem[]), { type: "function_call_output", call_id: "call_0_ds", output: "a.txt\nb.txt\n" }],
    });
    expect(second.output_text).toBe("a.txt and b.txt.");
    expect(second.output[0]).toMatchObject({ type: "reasoning", summary: [{ type: "summary_text", text: "Done." }] });
    expect(deepseekUp.requests.at(-1)!.body.messages).toEqual([
      { role: "user", content: "list the files" },
      {
        role: "assistant",
        content: null,
        reasoning_content: "I should list the files.",
        tool_calls: [{ id: "call_0_ds", type: "function", function: { name: "exec_command", arguments: '{"cmd":"ls"}' } }],
      },
      { role: "tool", tool_call_id: "call_0_ds", content: "a.txt\nb.txt\n" },
    ]);
  });

  test("Anthropic: the signed thinking block returns verbatim before the turn's text and tool_use", async () => {
    const events = [
      { type: "message_start", message: { id: "msg_1", type: "message", role: "assistant", model: "claude-sonnet-4-5-20250929", content: [], usage: { input_tokens: 300, output_tokens: 1 } } },
      { type: "content_block_start", index: 0, content_block: { type: "thinking", thinking: "", signature: "" } },
      { type: "content_block_delta", index: 0, delta: { type: "thinking_delta", thinking: "List them with ls." } },
      { type: "content_block_delta", index: 0, delta: { type: "signature_delta", signature: "EqQBsig-turn-1" } },
      { type: "content_block_stop", index: 0 },
      { type: "content_block_start", index: 1, content_block: { type: "text", text: "" } },
      { type: "content_block_delta", index: 1, delta: { type: "text_delta", text: "Listing the files." } },
      { type: "content_block_stop", index: 1 },
      { type: "content_block_start", index: 2, content_block: { type: "tool_use", id: "toolu_01", name: "exec_command", input: {} } },
      { type: "content_block_delta", index: 2, delta: { type: "input_json_delta", partial_json: '{"cmd": ' } },
      { type: "content_block_delta", index: 2, delta: { type: "input_json_delta", partial_json: '"ls"}' } },
      { type: "content_block_stop", index: 2 },
      { type: "message_delta", delta: { stop_reason: "tool_use" }, usage: { output_tokens: 60 } },
      { type: "message_stop" },
    ];
    handlers.anthropic = () =>
      chunkedResponse(splitBytes(enc.encode(events.map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join("")), 7), { headers: { "content-type": "text/event-stream" } });
    const input: OpenAI.Responses.ResponseInput = [{ role: "user", content: "list the files" }];
    const request = { model: "anthropic/claude-sonnet-4-5-20250929", tools: [exec], store: false, reasoning: { effort: "low" as const }, max_output_tokens: 4096 };
    const first = await gw.client.responses.stream({ ...request, input }).finalResponse();
    expect(first.output.map((item) => item.type)).toEqual(["reasoning", "message", "function_call", "reasoning"]);
    expect(first.output_text).toBe("Listing the files.");
    expect(first.output[2]).toMatchObject({ call_id: "toolu_01", arguments: '{"cmd": "ls"}' });

    handlers.anthropic = () =>
      Response.json({
        id: "msg_2",
        type: "message",
        role: "assistant",
        model: "claude-sonnet-4-5-20250929",
        content: [{ type: "text", text: "a.txt, b.txt" }],
        stop_reason: "end_turn",
        usage: { input_tokens: 400, output_tokens: 5 },
      });
    const second = await gw.client.responses.create({
      ...request,
      input: [...input, ...(first.output as OpenAI.Responses.ResponseInputItem[]), { type: "function_call_output", call_id: "toolu_01", output: "a.txt\nb.txt\n" }],
    });
    expect(second.output_text).toBe("a.txt, b.txt");
    const messages = anthropicUp.requests.at(-1)!.body.messages;
    expect(messages[1]).toEqual({
      role: "assistant",
      content: [
        { type: "thinking", thinking: "List them with ls.", signature: "EqQBsig-turn-1" },
        { type: "text", text: "Listing the files." },
        { type: "tool_use", id: "toolu_01", name: "exec_command", input: { cmd: "ls" } },
      ],
    });
    expect(messages[2]).toEqual({ role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_01", content: "a.txt\nb.txt\n" }] });
  });
});
