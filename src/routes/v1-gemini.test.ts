/**
 * Gemini through the real HTTP path: the official `openai` SDK is the client, the gateway runs as
 * it does in production, and a mock Gemini upstream on 127.0.0.1 replays every fixture in
 * ../shared/fixtures/gemini (stream bodies also in 1- and 7-byte pieces). Then a three-turn tool
 * conversation whose thoughtSignatures must survive the client round trip, and an alias that
 * falls back from a failing Gemini target to an OpenAI-compatible one.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { geminiClientBody } from "../providers/gemini-test-helpers.ts";
import { listFixtures, loadFixture, type Fixture } from "../testing/fixtures.ts";
import { startGateway } from "../testing/gateway-harness.ts";
import { chunkedResponse, splitBytes, startMockUpstream, type UpstreamHandler } from "../testing/mock-upstream.ts";

const GEMINI_KEY = "AIza-fixture-gemini-secret";
const enc = new TextEncoder();

const handlers: { gemini?: UpstreamHandler; oai?: UpstreamHandler } = {};
const geminiUp = startMockUpstream((r, q) => handlers.gemini!(r, q));
const oaiUp = startMockUpstream((r, q) => handlers.oai!(r, q));
let gw: Awaited<ReturnType<typeof startGateway>>;

beforeAll(async () => {
  gw = await startGateway(`
[[providers]]
id = "gemini"
type = "gemini"
base_url = "${geminiUp.url}/v1beta"
api_key = "${GEMINI_KEY}"

[[providers]]
id = "oai"
type = "openai-compatible"
base_url = "${oaiUp.url}/v1"
api_key = "sk-oai-fixture-secret"
models = ["local-model"]

[models.aliases]
resilient = ["gemini/gemini-2.5-flash", "oai/local-model"]

[gateway]
max_retries = 0
`);
});
afterAll(async () => {
  await gw.stop();
  geminiUp.stop();
  oaiUp.stop();
});

/** Replays a fixture's response, its body cut into `split`-byte pieces (0 = whole). */
const replay = (fixture: Fixture, split = 0): UpstreamHandler => () =>
  chunkedResponse(split ? splitBytes(fixture.rawBody, split) : [fixture.rawBody], {
    status: fixture.response.status,
    headers: fixture.response.headers,
  });

/** The last request the Gemini mock saw is exactly the fixture's upstream request. */
function checkUpstreamRequest(fixture: Fixture) {
  const sent = geminiUp.requests.at(-1)!;
  const url = new URL(fixture.upstream_request.url);
  expect(sent.method).toBe("POST");
  expect(sent.path).toBe(url.pathname + url.search);
  expect(sent.body).toEqual(fixture.upstream_request.body);
  expect(sent.headers.get("x-goog-api-key")).toBe(GEMINI_KEY);
  expect(sent.headers.get("authorization")).toBeNull();
  expect(sent.headers.get("content-type")).toBe("application/json");
}

function checkUsage(usage: any, expected: any) {
  if (!expected) return;
  expect(usage.prompt_tokens).toBe(expected.prompt_tokens);
  expect(usage.completion_tokens).toBe(expected.completion_tokens);
  expect(usage.total_tokens).toBe(expected.total_tokens);
  expect(usage.prompt_tokens_details?.cached_tokens ?? 0).toBe(expected.cached_tokens ?? 0);
  expect(usage.completion_tokens_details?.reasoning_tokens ?? 0).toBe(expected.reasoning_tokens ?? 0);
}

/** Tool calls vs `expect.tool_calls`; Gemini gives no ids, so they are minted (and distinct). */
function checkToolCalls(calls: any[] | undefined, fixture: Fixture) {
  const expected = fixture.expect?.tool_calls as any[] | undefined;
  if (!expected) return expect(calls ?? []).toEqual([]);
  expect(calls?.length).toBe(expected.length);
  expected.forEach((e, i) => {
    const call = calls![i];
    expect(call.id).toMatch(/^call_\w+$/);
    expect(call.type ?? "function").toBe("function");
    expect(call.function.name).toBe(e.name);
    expect(call.function.arguments).toBe(e.arguments);
  });
  expect(new Set(calls!.map((c) => c.id)).size).toBe(calls!.length);
  // The first call's part carried a thoughtSignature: it reaches the client on that call only.
  const parts = fixture.name.endsWith("-stream") ? undefined : (fixture.response.body as any).candidates[0].content.parts;
  const signature = parts?.[0].thoughtSignature ?? new TextDecoder().decode(fixture.rawBody).match(/"thoughtSignature": "([^"]+)"/)?.[1];
  expect(signature).toStartWith("CloB");
  expect(calls![0].provider_metadata).toEqual({ gemini: { thoughtSignature: signature } });
  expect(calls![1].provider_metadata).toBeUndefined();
}

describe("gemini fixtures through the gateway", () => {
  for (const name of listFixtures("gemini")) {
    const fixture = loadFixture("gemini", name);
    const isStream = !!fixture.response.body_file;
    const isError = fixture.response.status >= 400;
    for (const split of isStream ? [0, 1, 7] : [0]) {
      test(`${name}${split ? ` (upstream body in ${split}-byte pieces)` : ""}`, async () => {
        handlers.gemini = replay(fixture, split);
        const body = geminiClientBody(fixture);
        body.model = `gemini/${body.model}`;
        const e = fixture.expect ?? {};

        if (isError) {
          const err: any = await gw.client.chat.completions.create(body as any).then(
            () => undefined,
            (x) => x,
          );
          checkUpstreamRequest(fixture);
          expect(err).toBeInstanceOf(OpenAI.APIError);
          expect(JSON.stringify(err.error)).not.toContain(GEMINI_KEY);
          const status: Record<string, number> = { authentication: 502, rate_limit: 429, context_length: 400, model_not_found: 404, upstream_5xx: 502, overloaded: 503 };
          expect(err.status).toBe(status[e.error_class]!);
          if (e.error_class === "context_length") expect(err.code).toBe("context_length_exceeded");
          if (e.error_class === "model_not_found") expect(err.code).toBe("model_not_found");
          if (e.error_class === "authentication") expect(err.code).toBe("upstream_authentication_failed");
          // The delay Gemini put in the body (RetryInfo "47s") reaches the client as Retry-After.
          if (e.retry_after_ms !== undefined) expect(err.headers.get("retry-after")).toBe(String(e.retry_after_ms / 1000));
          return;
        }

        if (!isStream) {
          const res: any = await gw.client.chat.completions.create(body as any);
          checkUpstreamRequest(fixture);
          const message = res.choices[0].message;
          if ("content" in e) expect(message.content).toBe(e.content);
          if (e.reasoning_content !== undefined) expect(message.reasoning_content).toBe(e.reasoning_content);
          else expect(message.reasoning_content).toBeUndefined();
          if (e.finish_reason) expect(res.choices[0].finish_reason).toBe(e.finish_reason);
          else expect(res.choices[0].finish_reason).toBe("stop");
          checkToolCalls(message.tool_calls, fixture);
          checkUsage(res.usage, e.usage);
          expect(res.model).toBe((fixture.response.body as any).modelVersion);
          return;
        }

        const stream = await gw.client.chat.completions.create(body as any);
        let content = "";
        let finish: string | null = null;
        let usage: any;
        let usageChunks = 0;
        const calls: any[] = [];
        for await (const chunk of stream as any) {
          if (chunk.usage) (usage = chunk.usage), usageChunks++;
          for (const choice of chunk.choices) {
            content += choice.delta?.content ?? "";
            for (const tc of choice.delta?.tool_calls ?? []) {
              // Whole calls: one delta per call, carrying id, name and the complete arguments.
              expect(calls[tc.index]).toBeUndefined();
              calls[tc.index] = tc;
            }
            if (choice.finish_reason) finish = choice.finish_reason;
          }
        }
        checkUpstreamRequest(fixture);
        expect(content).toBe(e.content ?? "");
        expect(finish).toBe(e.finish_reason);
        checkToolCalls(calls, fixture);
        if (body.stream_options?.include_usage) {
          expect(usageChunks).toBe(1);
          checkUsage(usage, e.usage);
        }
      });
    }
  }
});

// ---------------------------------------------------------------------------------------------

const sse = (chunks: unknown[]) => chunks.map((c) => `data: ${JSON.stringify(c)}\r\n\r\n`).join("");
const geminiSse = (chunks: unknown[]) => () =>
  chunkedResponse(splitBytes(enc.encode(sse(chunks)), 5), { headers: { "content-type": "text/event-stream" } });

describe("thoughtSignature round trip through the OpenAI SDK", () => {
  test("three turns: each signature comes back on its own part, turn after turn", async () => {
    const toolCall = loadFixture("gemini", "tool-call");
    const toolResult = loadFixture("gemini", "tool-result-request");
    const request = toolCall.gateway_request as any;
    const { tool_choice: _choice, ...withoutChoice } = request;

    // Turn 1 (non-streaming): Gemini calls get_weather twice; a signature rides on the first call.
    handlers.gemini = replay(toolCall);
    const turn1 = await gw.client.chat.completions.create(request);
    const message1: any = turn1.choices[0]!.message;
    expect(message1.tool_calls[0].provider_metadata).toEqual({ gemini: { thoughtSignature: expect.stringMatching(/^CloB/) } });

    // Turn 2 (streamed via the SDK's stream helper): the client re-sends message 1 as returned.
    const messages: any[] = [
      ...request.messages,
      message1,
      { role: "tool", tool_call_id: message1.tool_calls[0].id, content: '{"temp_c": 18, "condition": "cloudy"}' },
      { role: "tool", tool_call_id: message1.tool_calls[1].id, content: "23C and sunny" },
    ];
    handlers.gemini = geminiSse([
      { candidates: [{ content: { role: "model", parts: [{ text: "Paris 18°C, Tokyo 23°C. ", thoughtSignature: "sig-text-2" }] }, index: 0 }] },
      {
        candidates: [
          {
            content: { role: "model", parts: [{ functionCall: { name: "get_weather", args: { location: "Berlin, Germany" } }, thoughtSignature: "sig-call-2" }] },
            finishReason: "STOP",
            index: 0,
          },
        ],
        usageMetadata: { promptTokenCount: 171, candidatesTokenCount: 30, totalTokenCount: 201 },
        modelVersion: "gemini-2.5-flash",
        responseId: "turn-2",
      },
    ]);
    const stream = gw.client.chat.completions.stream({ ...withoutChoice, messages });
    const message2: any = await stream.finalMessage();
    // Turn 2's upstream request is exactly the tool-result fixture: signature back on call 1's part.
    expect(geminiUp.requests.at(-1)!.body).toEqual(toolResult.upstream_request.body);
    expect(message2.content).toBe("Paris 18°C, Tokyo 23°C. ");
    expect(message2.provider_metadata).toEqual({ gemini: { thoughtSignature: "sig-text-2" } });
    expect(message2.tool_calls[0].provider_metadata).toEqual({ gemini: { thoughtSignature: "sig-call-2" } });

    // Turn 3: both earlier steps, every signature on the part it came on.
    messages.push(message2, { role: "tool", tool_call_id: message2.tool_calls[0].id, content: '{"temp_c": 12}' });
    handlers.gemini = replay(toolResult);
    const turn3 = await gw.client.chat.completions.create({ ...withoutChoice, messages });
    expect(turn3.choices[0]!.message.content).toBe(toolResult.expect!.content);
    const contents = geminiUp.requests.at(-1)!.body.contents;
    expect(contents.map((c: any) => c.role)).toEqual(["user", "model", "user", "model", "user"]);
    expect(contents.slice(0, 3)).toEqual(toolResult.upstream_request.body.contents);
    expect(contents[3]).toEqual({
      role: "model",
      parts: [
        { text: "Paris 18°C, Tokyo 23°C. ", thoughtSignature: "sig-text-2" },
        { functionCall: { name: "get_weather", args: { location: "Berlin, Germany" } }, thoughtSignature: "sig-call-2" },
      ],
    });
    expect(contents[4]).toEqual({ role: "user", parts: [{ functionResponse: { name: "get_weather", response: { temp_c: 12 } } }] });
  });
});

describe("fallback from Gemini to an OpenAI-compatible target", () => {
  const completion = (text: string) =>
    Response.json({
      id: "chatcmpl-oai",
      object: "chat.completion",
      created: 1,
      model: "local-model",
      choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
      usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
    });

  test("a 503 UNAVAILABLE from Gemini falls through to the next target of the alias", async () => {
    const overloaded = loadFixture("gemini", "error-overloaded");
    let geminiCalls = 0;
    handlers.gemini = (r, q) => (geminiCalls++, replay(overloaded)(r, q));
    handlers.oai = (r) => completion(`oai:${r.body.model}`);
    const res = await gw.client.chat.completions
      .create({ model: "resilient", messages: [{ role: "user", content: "What is the capital of France?" }] })
      .withResponse();
    expect(res.data.choices[0]!.message.content).toBe("oai:local-model");
    expect(res.response.headers.get("x-llm-proxy-target")).toBe("oai/local-model");
    expect(res.response.headers.get("x-llm-proxy-attempts")).toBe("2");
    expect(geminiCalls).toBe(1);
    expect(geminiUp.requests.at(-1)!.path).toBe("/v1beta/models/gemini-2.5-flash:generateContent");
    expect(oaiUp.requests.at(-1)!.headers.get("authorization")).toBe("Bearer sk-oai-fixture-secret");
  });

  test("streaming: the failure before any output still falls back, and the client sees one clean stream", async () => {
    handlers.gemini = replay(loadFixture("gemini", "error-server"));
    handlers.oai = () =>
      new Response(
        [
          { id: "c", object: "chat.completion.chunk", created: 1, model: "local-model", choices: [{ index: 0, delta: { content: "from oai" }, finish_reason: null }] },
          { id: "c", object: "chat.completion.chunk", created: 1, model: "local-model", choices: [{ index: 0, delta: {}, finish_reason: "stop" }] },
        ]
          .map((c) => `data: ${JSON.stringify(c)}\n\n`)
          .join("") + "data: [DONE]\n\n",
        { headers: { "content-type": "text/event-stream" } },
      );
    const stream = await gw.client.chat.completions.create({ model: "resilient", stream: true, messages: [{ role: "user", content: "hi" }] });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    expect(text).toBe("from oai");
    expect(geminiUp.requests.at(-1)!.path).toBe("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
  });
});
