/**
 * Anthropic through the real HTTP path: the official `openai` SDK is the client, the gateway runs as
 * it does in production, and a mock Anthropic upstream on 127.0.0.1 replays every fixture in
 * ../shared/fixtures/anthropic (stream bodies also in 1- and 7-byte pieces), with the logged cost of
 * the usage fixtures checked. Then a three-turn thinking + tool conversation whose thinking blocks
 * (signatures included) must survive the client round trip, and an alias that falls back from an
 * overloaded (529) Anthropic target to an OpenAI-compatible one.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import OpenAI from "openai";
import path from "node:path";
import { anthropicClientBody } from "../providers/anthropic-test-helpers.ts";
import { listFixtures, loadFixture, type Fixture } from "../testing/fixtures.ts";
import { startGateway, streamFirstChunk } from "../testing/gateway-harness.ts";
import { chunkedResponse, sendThenHang, splitBytes, startMockUpstream, type UpstreamHandler } from "../testing/mock-upstream.ts";
import { requestsTable } from "../testing/request-rows.ts";

const ANTHROPIC_KEY = "sk-ant-fixture-anthropic-secret";
const MODEL = "claude-sonnet-4-5-20250929";
const enc = new TextEncoder();

const handlers: { anthropic?: UpstreamHandler; oai?: UpstreamHandler } = {};
const anthropicUp = startMockUpstream((r, q) => handlers.anthropic!(r, q));
const oaiUp = startMockUpstream((r, q) => handlers.oai!(r, q));
let gw: Awaited<ReturnType<typeof startGateway>>;

beforeAll(async () => {
  gw = await startGateway(`
[[providers]]
id = "anthropic"
type = "anthropic"
base_url = "${anthropicUp.url}/v1"
api_key = "${ANTHROPIC_KEY}"

[[providers]]
id = "oai"
type = "openai-compatible"
base_url = "${oaiUp.url}/v1"
api_key = "sk-oai-fixture-secret"
models = ["local-model"]

[models.aliases]
resilient = ["anthropic/${MODEL}", "oai/local-model"]

[gateway]
max_retries = 0
`);
});
afterAll(async () => {
  await gw.stop();
  anthropicUp.stop();
  oaiUp.stop();
});

/** Replays a fixture's response, its body cut into `split`-byte pieces (0 = whole). */
const replay = (fixture: Fixture, split = 0): UpstreamHandler => () =>
  chunkedResponse(split ? splitBytes(fixture.rawBody, split) : [fixture.rawBody], {
    status: fixture.response.status,
    headers: fixture.response.headers,
  });

/** The last request the Anthropic mock saw is exactly the fixture's upstream request. */
function checkUpstreamRequest(fixture: Fixture) {
  const sent = anthropicUp.requests.at(-1)!;
  expect(sent.method).toBe("POST");
  expect(sent.path).toBe(new URL(fixture.upstream_request.url).pathname);
  expect(sent.body).toEqual(fixture.upstream_request.body);
  expect(sent.headers.get("x-api-key")).toBe(ANTHROPIC_KEY);
  expect(sent.headers.get("anthropic-version")).toBe(fixture.upstream_request.headers["anthropic-version"]!);
  expect(sent.headers.get("authorization")).toBeNull();
  expect(sent.headers.get("content-type")).toBe("application/json");
}

function checkUsage(usage: any, expected: any) {
  if (!expected) return;
  expect(usage.prompt_tokens).toBe(expected.prompt_tokens);
  expect(usage.completion_tokens).toBe(expected.completion_tokens);
  expect(usage.total_tokens).toBe(expected.total_tokens);
  expect(usage.prompt_tokens_details?.cached_tokens ?? 0).toBe(expected.cached_tokens ?? 0);
  if (expected.cache_write_tokens !== undefined) expect(usage.prompt_tokens_details?.cache_write_tokens).toBe(expected.cache_write_tokens);
}

/** Tool calls vs `expect.tool_calls`: Anthropic's ids are kept, arguments are complete JSON. */
function checkToolCalls(calls: any[] | undefined, expected: any[] | undefined) {
  if (!expected) return expect(calls ?? []).toEqual([]);
  expect(calls?.length).toBe(expected.length);
  expected.forEach((e, i) => {
    const call = calls![i];
    expect(call.id).toBe(e.id);
    expect(call.type ?? "function").toBe("function");
    expect(call.function.name).toBe(e.name);
    expect(call.function.arguments).toBe(e.arguments);
  });
}

/** A request's log row (these columns), once it has been written. */
async function loggedRow(requestId: string | null, columns: string): Promise<any> {
  let row: any;
  for (let i = 0; i < 50 && !row; i++) {
    await Bun.sleep(60);
    const db = new Database(path.join(gw.dir, "llm-proxy.db"), { readonly: true });
    row = requestsTable(db).query(`SELECT ${columns} FROM requests WHERE id = ?`).get(requestId);
    db.close();
  }
  return row;
}

/** The request-log row of a fixture request carries the fixture's price match and exact cost. */
async function checkLoggedCost(requestId: string, e: Record<string, any>) {
  const row = await loggedRow(requestId, "provider, pricing_entry, CAST(cost_pico AS TEXT) AS cost");
  expect(row.provider).toBe("anthropic");
  expect(row.pricing_entry.split("/").slice(1).join("/")).toBe(e.pricing_model_id);
  // Fixture costs are given to at most 9 decimals; the log keeps exact pico-dollars.
  expect(Number(row.cost) / 1e12).toBeCloseTo(e.cost_usd, 12);
}

describe("anthropic fixtures through the gateway", () => {
  for (const name of listFixtures("anthropic")) {
    const fixture = loadFixture("anthropic", name);
    const isStream = !!fixture.response.body_file;
    const isError = fixture.response.status >= 400;
    for (const split of isStream ? [0, 1, 7] : [0]) {
      test(`${name}${split ? ` (upstream body in ${split}-byte pieces)` : ""}`, async () => {
        handlers.anthropic = replay(fixture, split);
        // Bare claude-* names route to the anthropic provider.
        const body = anthropicClientBody(fixture);
        const e = fixture.expect ?? {};

        if (isError) {
          const err: any = await gw.client.chat.completions.create(body as any).then(
            () => undefined,
            (x) => x,
          );
          checkUpstreamRequest(fixture);
          expect(err).toBeInstanceOf(OpenAI.APIError);
          expect(JSON.stringify(err.error)).not.toContain(ANTHROPIC_KEY);
          const status: Record<string, number> = { authentication: 502, rate_limit: 429, context_length: 400, model_not_found: 404, upstream_5xx: 502, overloaded: 503 };
          expect(err.status).toBe(status[e.error_class]!);
          if (e.error_class === "context_length") expect(err.code).toBe("context_length_exceeded");
          if (e.error_class === "model_not_found") expect(err.code).toBe("model_not_found");
          if (e.error_class === "authentication") expect(err.code).toBe("upstream_authentication_failed");
          if (e.error_class === "overloaded") expect(err.code).toBe("upstream_overloaded");
          // Anthropic's retry-after (seconds) reaches the client as Retry-After.
          if (e.retry_after_ms !== undefined) expect(err.headers.get("retry-after")).toBe(String(e.retry_after_ms / 1000));
          return;
        }

        if (!isStream) {
          const { data: res, response } = (await gw.client.chat.completions.create(body as any).withResponse()) as any;
          checkUpstreamRequest(fixture);
          const message = res.choices[0].message;
          if ("content" in e) expect(message.content).toBe(e.content);
          if (e.reasoning_content !== undefined) {
            expect(message.reasoning_content).toBe(e.reasoning_content);
            const block = (fixture.response.body as any).content[0];
            expect(message.provider_metadata).toEqual({ anthropic: { thinking: [block] } });
          } else {
            expect(message.reasoning_content).toBeUndefined();
            expect(message.provider_metadata).toBeUndefined();
          }
          expect(res.choices[0].finish_reason).toBe(e.finish_reason ?? "stop");
          checkToolCalls(message.tool_calls, e.tool_calls);
          checkUsage(res.usage, e.usage);
          expect(res.model).toBe(MODEL);
          if (e.cost_usd !== undefined) await checkLoggedCost(response.headers.get("x-request-id"), e);
          return;
        }

        const stream = await gw.client.chat.completions.create(body as any);
        let content = "";
        let reasoning = "";
        let finish: string | null = null;
        let metadata: unknown;
        let usage: any;
        let usageChunks = 0;
        let streamError: unknown;
        const calls: any[] = [];
        try {
          for await (const chunk of stream as any) {
            if (chunk.usage) (usage = chunk.usage), usageChunks++;
            for (const choice of chunk.choices) {
              content += choice.delta?.content ?? "";
              reasoning += choice.delta?.reasoning_content ?? "";
              if (choice.delta?.provider_metadata) metadata = choice.delta.provider_metadata;
              for (const tc of choice.delta?.tool_calls ?? []) {
                // Fragments: id and name on the first one, arguments concatenate per index.
                const call = (calls[tc.index] ??= { id: tc.id, type: tc.type, function: { name: tc.function?.name ?? "", arguments: "" } });
                if (call.id !== tc.id) expect(tc.id).toBeUndefined();
                call.function.arguments += tc.function?.arguments ?? "";
              }
              if (choice.finish_reason) finish = choice.finish_reason;
            }
          }
        } catch (x) {
          streamError = x;
        }
        checkUpstreamRequest(fixture);
        if (e.stream_error) {
          // HTTP 200 was already sent: the overloaded_error event arrives as an error payload.
          expect(streamError).toBeInstanceOf(OpenAI.APIError);
          expect((streamError as any).error?.code ?? (streamError as any).code).toBe("upstream_overloaded");
          expect(content).toBe(e.partial_content);
          return;
        }
        expect(streamError).toBeUndefined();
        expect(content).toBe(e.content ?? "");
        expect(reasoning).toBe(e.reasoning_content ?? "");
        expect(finish).toBe(e.finish_reason);
        checkToolCalls(calls, e.tool_calls);
        if (e.reasoning_content) {
          expect(metadata).toEqual({ anthropic: { thinking: [{ type: "thinking", thinking: e.reasoning_content, signature: expect.stringMatching(/^EqQB/) }] } });
        } else {
          expect(metadata).toBeUndefined();
        }
        if (body.stream_options?.include_usage) {
          expect(usageChunks).toBe(1);
          checkUsage(usage, e.usage);
        } else {
          expect(usageChunks).toBe(0);
        }
      });
    }
  }
});

// ---------------------------------------------------------------------------------------------

const anthropicSse = (events: Record<string, unknown>[]) => () =>
  chunkedResponse(splitBytes(enc.encode(events.map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join("")), 5), {
    headers: { "content-type": "text/event-stream; charset=utf-8" },
  });
const block = (index: number, content_block: Record<string, unknown>, deltas: Record<string, unknown>[]) => [
  { type: "content_block_start", index, content_block },
  ...deltas.map((delta) => ({ type: "content_block_delta", index, delta })),
  { type: "content_block_stop", index },
];

describe("thinking signatures round trip through the OpenAI SDK", () => {
  test("three turns: every thinking block comes back, signature intact, before the turn's text and tool_use", async () => {
    const toolCall = loadFixture("anthropic", "tool-call");
    const cached = loadFixture("anthropic", "usage-cached-reasoning");
    const request = { ...(toolCall.gateway_request as any), reasoning_effort: "low", max_tokens: 4096 };
    const { tool_choice: _choice, ...withoutChoice } = request;

    // Turn 1 (streamed via the SDK's stream helper): thinking, text, two tool calls.
    handlers.anthropic = anthropicSse([
      { type: "message_start", message: { id: "msg_t1", type: "message", role: "assistant", model: MODEL, content: [], usage: { input_tokens: 600, output_tokens: 1 } } },
      { type: "ping" },
      ...block(0, { type: "thinking", thinking: "", signature: "" }, [
        { type: "thinking_delta", thinking: "Two cities, " },
        { type: "thinking_delta", thinking: "two calls." },
        { type: "signature_delta", signature: "sig-turn-1" },
      ]),
      ...block(1, { type: "text", text: "" }, [{ type: "text_delta", text: "I'll check the weather in both cities." }]),
      ...block(2, { type: "tool_use", id: "toolu_01UYxUYC2zRPY8wiutnF48eP", name: "get_weather", input: {} }, [
        { type: "input_json_delta", partial_json: "" },
        { type: "input_json_delta", partial_json: '{"location":"Paris, France",' },
        { type: "input_json_delta", partial_json: '"unit":"celsius"}' },
      ]),
      ...block(3, { type: "tool_use", id: "toolu_01VaRx1jpWCvPhi7L4kywAcd", name: "get_weather", input: {} }, [
        { type: "input_json_delta", partial_json: '{"location":"Tokyo, Japan","unit":"celsius"}' },
      ]),
      { type: "message_delta", delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { output_tokens: 150 } },
      { type: "message_stop" },
    ]);
    const stream = gw.client.chat.completions.stream({ ...request, stream: true });
    const message1: any = await stream.finalMessage();
    expect(anthropicUp.requests.at(-1)!.body.thinking).toEqual({ type: "enabled", budget_tokens: 2048 });
    expect(message1.content).toBe("I'll check the weather in both cities.");
    expect(message1.tool_calls.map((c: any) => c.function.arguments)).toEqual([
      '{"location":"Paris, France","unit":"celsius"}',
      '{"location":"Tokyo, Japan","unit":"celsius"}',
    ]);
    expect(message1.provider_metadata).toEqual({ anthropic: { thinking: [{ type: "thinking", thinking: "Two cities, two calls.", signature: "sig-turn-1" }] } });

    // Turn 2 (non-streaming): the client re-sends message 1 as returned, plus both tool results.
    const messages: any[] = [
      ...request.messages,
      message1,
      { role: "tool", tool_call_id: message1.tool_calls[0].id, content: '{"temp_c": 18, "condition": "cloudy"}' },
      { role: "tool", tool_call_id: message1.tool_calls[1].id, content: "23C and sunny" },
    ];
    handlers.anthropic = replay(cached);
    const turn2 = await gw.client.chat.completions.create({ ...withoutChoice, messages });
    const message2: any = turn2.choices[0]!.message;
    expect(message2.content).toBe(cached.expect!.content);
    expect(message2.reasoning_content).toBe(cached.expect!.reasoning_content);
    // Turn 2's upstream request is the tool-result fixture, with turn 1's thinking block put back first.
    const expected = structuredClone(loadFixture("anthropic", "tool-result-request").upstream_request.body) as any;
    expected.messages[1].content.unshift({ type: "thinking", thinking: "Two cities, two calls.", signature: "sig-turn-1" });
    expect(anthropicUp.requests.at(-1)!.body).toEqual({ ...expected, thinking: { type: "enabled", budget_tokens: 2048 }, max_tokens: 4096 });

    // Turn 3: both assistant turns, each with its own thinking block.
    messages.push(message2, { role: "user", content: "And Berlin?" });
    handlers.anthropic = replay(toolCall);
    await gw.client.chat.completions.create({ ...withoutChoice, messages });
    const sent = anthropicUp.requests.at(-1)!.body;
    expect(sent.messages.map((m: any) => m.role)).toEqual(["user", "assistant", "user", "assistant", "user"]);
    expect(sent.messages.slice(0, 3)).toEqual(expected.messages);
    expect(sent.messages[3]).toEqual({ role: "assistant", content: [(cached.response.body as any).content[0], { type: "text", text: cached.expect!.content }] });
    expect(sent.messages[4]).toEqual({ role: "user", content: "And Berlin?" });
  });
});

describe("fallback from Anthropic to an OpenAI-compatible target", () => {
  test("a 529 overloaded_error falls through to the next target of the alias", async () => {
    const overloaded = loadFixture("anthropic", "error-overloaded");
    let anthropicCalls = 0;
    handlers.anthropic = (r, q) => (anthropicCalls++, replay(overloaded)(r, q));
    handlers.oai = (r) =>
      Response.json({
        id: "chatcmpl-oai",
        object: "chat.completion",
        created: 1,
        model: "local-model",
        choices: [{ index: 0, message: { role: "assistant", content: `oai:${r.body.model}` }, finish_reason: "stop" }],
        usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
      });
    const res = await gw.client.chat.completions
      .create({ model: "resilient", messages: [{ role: "user", content: "What is the capital of France?" }] })
      .withResponse();
    expect(res.data.choices[0]!.message.content).toBe("oai:local-model");
    expect(res.response.headers.get("x-llm-proxy-target")).toBe("oai/local-model");
    expect(res.response.headers.get("x-llm-proxy-attempts")).toBe("2");
    expect(anthropicCalls).toBe(1);
    expect(anthropicUp.requests.at(-1)!.path).toBe("/v1/messages");
    expect(anthropicUp.requests.at(-1)!.body.max_tokens).toBe(8192);
  });
});

describe("a stream cut short by the client", () => {
  test("keeps the input and cache tokens Anthropic reported at its start, with output counted so far (marked estimated), and prices them", async () => {
    const fixture = loadFixture("anthropic", "thinking-stream");
    const text = new TextDecoder().decode(fixture.rawBody);
    // Everything up to the first thinking delta, then the upstream goes quiet.
    const cut = text.indexOf("event: content_block_delta");
    const head = text.slice(0, text.indexOf("\n\n", cut) + 2);
    handlers.anthropic = () => sendThenHang(head);
    const { id, leave } = await streamFirstChunk(gw.base, gw.key, { model: `anthropic/${MODEL}`, messages: [{ role: "user", content: "Summarise clause 12.2." }] });
    leave(); // after the first output arrived
    const row = await loggedRow(id, "status, input_tokens, cached_tokens, output_tokens, usage_estimated, CAST(cost_pico AS TEXT) AS cost");
    // message_start: input_tokens 42, cache_read_input_tokens 18750 (folded into input, as on a whole reply).
    expect(row).toMatchObject({ status: 499, input_tokens: 42 + 18_750, cached_tokens: 18_750, usage_estimated: 1 });
    expect(row.output_tokens).toBeGreaterThanOrEqual(3);
    // $3/M uncached input, $0.30/M cache reads, $15/M output: at least the reported input's cost.
    expect(Number(row.cost) / 1e12).toBeGreaterThanOrEqual((42 * 3 + 18_750 * 0.3 + 3 * 15) / 1e6 - 1e-12);
  });
});
