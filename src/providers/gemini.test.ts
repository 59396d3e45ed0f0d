// Every Gemini fixture in ../shared/fixtures/gemini, four ways: the outgoing request, the
// non-streaming parse (or error parse), the stream decoder (whole / byte by byte / random splits)
// and runProvider with a replay fetch. Then the response side and errors beyond the fixtures, and a
// three-turn tool conversation whose thoughtSignatures must come back on the same parts.
import { describe, expect, test } from 'bun:test';
import path from 'node:path';
import { parseChatCompletionRequest, toChatCompletion, toOpenAIFinishReason } from '../api/openai-chat.ts';
import { accumulate } from '../core/accumulate.ts';
import type { ChatRequest, ChatResult, StreamEvent } from '../core/types.ts';
import { ProviderError } from './errors.ts';
import { convertGeminiUsage, gemini, geminiResponseSchema, mapGeminiFinishReason, parseGeminiError } from './gemini.ts';
import { geminiClientBody, toChatRequest } from './gemini-test-helpers.ts';
import { getAdapter } from './registry.ts';
import { runProvider } from './run.ts';
import { FIXTURES_DIR, SPLITS, decodeSse, listCases, loadFixture, replayFetch, split, usageToOpenAI } from './test-helpers.ts';

const API_KEY = 'AIzaREDACTED';
const settings = { apiKey: API_KEY };

/** Checks a result against a fixture's `expect` (OpenAI vocabulary). */
function expectMatches(result: ChatResult, expected: Record<string, any>) {
  if ('content' in expected) expect(result.text || null).toBe(expected.content);
  if ('reasoning_content' in expected) expect(result.reasoning).toBe(expected.reasoning_content);
  else expect(result.reasoning).toBeUndefined();
  const finish = toOpenAIFinishReason(result.finishReason, result.toolCalls.length > 0);
  if (expected.finish_reason) expect(finish).toBe(expected.finish_reason);
  // Unified, not just the OpenAI value (`other` would also print as `stop`/`tool_calls`).
  if (expected.finish_reason === 'tool_calls') expect(result.finishReason.unified).toBe('tool-calls');
  if (expected.finish_reason === 'content_filter') expect(result.finishReason.unified).toBe('content-filter');
  if (expected.tool_calls) {
    expect(result.toolCalls.map(({ name, arguments: args }, index) => ({ index, name, arguments: args }))).toEqual(
      expected.tool_calls.map(({ index, name, arguments: args }: any) => ({ index, name, arguments: args })),
    );
    for (const call of result.toolCalls) expect(call.id).toMatch(/^call_[0-9a-f]{24}$/);
    expect(new Set(result.toolCalls.map((call) => call.id)).size).toBe(result.toolCalls.length);
  }
  if (expected.usage) {
    const usage = usageToOpenAI(result.usage);
    expect(usage).toMatchObject(expected.usage);
    if (expected.usage.cached_tokens === undefined) expect(usage.cached_tokens).toBeUndefined();
    if (expected.usage.reasoning_tokens === undefined) expect(usage.reasoning_tokens).toBeUndefined();
    expect(result.usage.raw).toBeDefined();
  }
}

async function collect(events: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

const cases = await listCases('gemini');

describe('gemini fixtures', () => {
  test('the folder has the expected cases and the adapter is registered', () => {
    expect(cases.length).toBeGreaterThanOrEqual(15);
    expect(getAdapter('gemini')).toBe(gemini);
  });

  for (const name of cases) {
    describe(name, async () => {
      const fixture = await loadFixture('gemini', name);
      const { upstream_request: upstream, response } = fixture;
      const body = geminiClientBody(fixture);
      const stream = body.stream === true;
      const request = toChatRequest(body);

      test('builds the upstream request', () => {
        const { http, warnings } = gemini.buildRequest(request, settings, { stream });
        expect(http.url).toBe(upstream.url);
        expect(http.headers).toEqual({ 'content-type': 'application/json', 'x-goog-api-key': API_KEY });
        expect(http.headers['x-goog-api-key']).toBe(upstream.headers['x-goog-api-key']!);
        expect(http.body).toEqual(upstream.body);
        expect(warnings).toEqual([]);
      });

      if (response.status !== 200) {
        test('classifies the error', () => {
          const headers = new Headers(response.headers);
          const info = gemini.parseError({ status: response.status, body: JSON.stringify(response.body), headers });
          expect(info.errorClass).toBe(fixture.expect!.error_class);
          expect(info.retryable).toBe(fixture.expect!.retryable);
          expect(info.status).toBe(response.status);
          expect(info.message).toBe((response.body as any).error.message);
          expect(info.type).toBe((response.body as any).error.status);
          expect(info.retryAfterMs).toBe(fixture.expect!.retry_after_ms);
        });
      } else if (!fixture.sse) {
        test('parses the response', () => {
          const result = gemini.parseResponse(gemini.responseSchema.parse(response.body), []);
          expectMatches(result, fixture.expect!);
          expect(result.id).toBe((response.body as any).responseId);
          expect(result.model).toBe((response.body as any).modelVersion);
          expect(result.usage.raw).toEqual((response.body as any).usageMetadata);
        });
      } else {
        for (const how of SPLITS) {
          test(`decodes the stream (${how})`, () => {
            const events = decodeSse(gemini, split(fixture.sse!, how));
            expectMatches(accumulate(events), fixture.expect!);
            expect(events[0]!.type).toBe('response-start');
            expect(events.filter((e) => e.type === 'response-start')).toHaveLength(1);
            expect(events.at(-1)!.type).toBe('finish');
            // Whole calls: exactly one delta per call, complete arguments, running indexes.
            const calls = events.filter((e) => e.type === 'tool-call-delta');
            expect(calls.map((e) => e.index)).toEqual((fixture.expect!.tool_calls ?? []).map((c: any) => c.index));
          });
        }
      }

      for (const how of ['whole', 'random-7'] as const) {
        test(`runs through runProvider with a replay fetch (${how})`, async () => {
          const replay = replayFetch(fixture, how);
          const run = runProvider(gemini, request, settings, { stream, fetch: replay.fetch });
          if (fixture.expect?.error_class) {
            const error = await collect(run).then(() => undefined, (e: unknown) => e);
            expect(error).toBeInstanceOf(ProviderError);
            expect((error as ProviderError).errorClass).toBe(fixture.expect.error_class);
            expect((error as ProviderError).retryable).toBe(fixture.expect.retryable);
            expect((error as ProviderError).upstreamBody).toBe(JSON.stringify(response.body));
            return;
          }
          const events = await collect(run);
          expect(replay.calls).toHaveLength(1);
          expect(replay.calls[0]!.url).toBe(upstream.url);
          expect(replay.calls[0]!.body).toEqual(upstream.body);
          expect(events[0]!.type).toBe('response-start');
          expectMatches(accumulate(events), fixture.expect!);
        });
      }
    });
  }

  test('tool calls carry the thoughtSignature of their own part (non-streaming and streaming)', async () => {
    const fixture = await loadFixture('gemini', 'tool-call');
    const signature = (fixture.response.body as any).candidates[0].content.parts[0].thoughtSignature;
    const result = gemini.parseResponse(gemini.responseSchema.parse(fixture.response.body), []);
    expect(result.toolCalls[0]!.providerMetadata).toEqual({ gemini: { thoughtSignature: signature } });
    expect(result.toolCalls[1]!.providerMetadata).toBeUndefined();
    expect(result.providerMetadata).toBeUndefined();

    const streamed = await loadFixture('gemini', 'tool-call-stream');
    const events = decodeSse(gemini, split(streamed.sse!, 'bytes'));
    const calls = accumulate(events).toolCalls;
    expect(calls[0]!.providerMetadata).toEqual({ gemini: { thoughtSignature: signature } });
    expect(calls[1]!.providerMetadata).toBeUndefined();
  });

  test('usage-cached-reasoning: the normalised usage prices to the fixture cost (models-dev prices)', async () => {
    const fixture = await loadFixture('gemini', 'usage-cached-reasoning');
    const registry = await Bun.file(path.join(FIXTURES_DIR, 'models-dev', 'api.json')).json();
    const price = registry.google.models[fixture.expect!.pricing_model_id].cost;
    const { usage } = gemini.parseResponse(gemini.responseSchema.parse(fixture.response.body), []);
    const uncached = usage.inputTokens! - usage.cachedInputTokens!;
    const cost = (uncached * price.input + usage.cachedInputTokens! * price.cache_read + usage.outputTokens! * price.output) / 1e6;
    expect(cost).toBeCloseTo(fixture.expect!.cost_usd, 10);
  });

  test('stream usage is cumulative: the last chunk is reported once, on finish', async () => {
    const fixture = await loadFixture('gemini', 'chat-stream');
    const events = decodeSse(gemini, split(fixture.sse!, 'whole'));
    const finishes = events.filter((e) => e.type === 'finish');
    expect(finishes).toHaveLength(1);
    expect((finishes[0] as any).usage.outputTokens).toBe(7 + 38); // not 2 + 5 + 7 (+ 3 × 38)
  });
});

// ---------------------------------------------------------------------------------------------

const chunk = (body: Record<string, unknown>) => gemini.chunkSchema.parse(body);
const decodeAll = (chunks: Record<string, unknown>[]) => {
  const decoder = gemini.createStreamDecoder([]);
  return [...chunks.flatMap((c) => decoder.push(chunk(c))), ...decoder.end()];
};
const candidate = (parts: unknown[], finishReason?: string) => ({
  candidates: [{ content: { role: 'model', parts }, index: 0, ...(finishReason ? { finishReason } : {}) }],
});

describe('gemini responses', () => {
  test('thought parts are reasoning; the signature of text/thought parts is message metadata', () => {
    const events = decodeAll([
      candidate([{ text: 'Let me think. ', thought: true }, { text: 'Hmm.', thought: true, thoughtSignature: 'sig-thought' }]),
      candidate([{ text: 'Answer', thoughtSignature: 'sig-text' }]),
      candidate([{ text: '!' }, { text: '', thoughtSignature: 'sig-last' }], 'STOP'),
    ]);
    const result = accumulate(events);
    expect(result.reasoning).toBe('Let me think. Hmm.');
    expect(result.text).toBe('Answer!');
    expect(result.providerMetadata).toEqual({ gemini: { thoughtSignature: 'sig-last' } });
    expect(events.some((e) => (e.type === 'text-delta' || e.type === 'reasoning-delta') && e.delta === '')).toBe(false);
  });

  test('a functionCall id from Gemini is kept; calls across chunks get running indexes', () => {
    const events = decodeAll([
      candidate([{ text: 'Checking.' }, { functionCall: { id: 'fc-1', name: 'a', args: { x: 1 } } }]),
      candidate([{ functionCall: { name: 'b' } }], 'STOP'),
    ]);
    const result = accumulate(events);
    expect(result.toolCalls.map(({ id, name, arguments: args }) => ({ id: id.startsWith('call_') ? 'minted' : id, name, args }))).toEqual([
      { id: 'fc-1', name: 'a', args: '{"x":1}' },
      { id: 'minted', name: 'b', args: '{}' },
    ]);
    expect(result.text).toBe('Checking.');
    expect(result.finishReason).toEqual({ unified: 'tool-calls', raw: 'STOP' });
  });

  test('finish reasons', () => {
    expect(mapGeminiFinishReason('STOP', false)).toEqual({ unified: 'stop', raw: 'STOP' });
    expect(mapGeminiFinishReason('STOP', true)).toEqual({ unified: 'tool-calls', raw: 'STOP' });
    expect(mapGeminiFinishReason('MAX_TOKENS', true)).toEqual({ unified: 'length', raw: 'MAX_TOKENS' });
    for (const raw of ['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY']) {
      expect(mapGeminiFinishReason(raw, false).unified).toBe('content-filter');
    }
    for (const raw of ['MALFORMED_FUNCTION_CALL', 'OTHER', 'FINISH_REASON_UNSPECIFIED', 'SOMETHING_NEW']) {
      expect(mapGeminiFinishReason(raw, false)).toEqual({ unified: 'other', raw });
    }
  });

  test('a blocked prompt in a stream finishes with content-filter and the prompt usage', () => {
    const events = decodeAll([{ promptFeedback: { blockReason: 'SAFETY' }, usageMetadata: { promptTokenCount: 9, totalTokenCount: 9 } }]);
    expect(events.map((e) => e.type)).toEqual(['response-start', 'usage', 'finish']); // the running count, then the final one
    const result = accumulate(events);
    expect(result.finishReason).toEqual({ unified: 'content-filter', raw: 'SAFETY' });
    expect(result.text).toBe('');
    expect(usageToOpenAI(result.usage)).toMatchObject({ prompt_tokens: 9, completion_tokens: 0, total_tokens: 9 });
  });

  test('a stream cut before any finishReason ends with error, then finish error', () => {
    const events = decodeAll([candidate([{ text: 'Par' }])]);
    expect(events.slice(-2).map((e) => e.type)).toEqual(['error', 'finish']);
    expect((events.at(-1) as any).finishReason.unified).toBe('error');
    // A whole (non-streaming) reply without finishReason is not an error.
    const result = gemini.parseResponse(gemini.responseSchema.parse(candidate([{ text: 'Hi' }])), []);
    expect(result.finishReason.unified).toBe('other');
    expect(result.error).toBeUndefined();
  });

  test('usage: tool-use prompt tokens are input; thoughts are output; cached stays a subset', () => {
    const usage = { promptTokenCount: 100, cachedContentTokenCount: 40, toolUsePromptTokenCount: 20, candidatesTokenCount: 10, thoughtsTokenCount: 5, totalTokenCount: 135 };
    expect(convertGeminiUsage(usage)).toEqual({ inputTokens: 120, cachedInputTokens: 40, outputTokens: 15, reasoningTokens: 5, raw: usage });
  });

  test('a body that is not a GenerateContentResponse is rejected by the response schema', () => {
    expect(geminiResponseSchema.safeParse({ hello: 'world' }).success).toBe(false);
    expect(geminiResponseSchema.safeParse({ candidates: 'garbage', usageMetadata: { promptTokenCount: 'x' } }).success).toBe(true);
  });
});

describe('gemini errors', () => {
  const parse = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    parseGeminiError({ status, body: typeof body === 'string' ? body : JSON.stringify(body), headers: new Headers(headers) });
  const rpc = (code: number, status: string, message: string, details?: unknown[]) => ({ error: { code, message, status, ...(details ? { details } : {}) } });

  test('a per-day quota violation is quota (not retried on this key); per-minute is rate_limit', () => {
    const perDay = rpc(429, 'RESOURCE_EXHAUSTED', 'You exceeded your current quota.', [
      { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaId: 'GenerateRequestsPerDayPerProjectPerModel-FreeTier', quotaValue: '250' }] },
      { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '3600.5s' },
    ]);
    expect(parse(429, perDay)).toMatchObject({ errorClass: 'quota', retryable: false, retryAfterMs: 3_600_500 });
    const zero = rpc(429, 'RESOURCE_EXHAUSTED', 'quota', [
      { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier', quotaValue: '0' }] },
    ]);
    expect(parse(429, zero).errorClass).toBe('quota');
    expect(parse(429, rpc(429, 'RESOURCE_EXHAUSTED', 'Resource has been exhausted (e.g. check quota).'))).toMatchObject({ errorClass: 'rate_limit', retryable: true });
  });

  test('403 PERMISSION_DENIED is permission; location errors too; 401 is authentication', () => {
    expect(parse(403, rpc(403, 'PERMISSION_DENIED', 'Method doesn\'t allow unregistered callers'))).toMatchObject({ errorClass: 'permission', retryable: false, status: 403 });
    expect(parse(400, rpc(400, 'FAILED_PRECONDITION', 'User location is not supported for the API use.')).errorClass).toBe('permission');
    expect(parse(401, rpc(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.')).errorClass).toBe('authentication');
  });

  test('other statuses: 400 INVALID_ARGUMENT is bad_request, 504 is upstream_5xx, 500 is retryable', () => {
    expect(parse(400, rpc(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.'))).toMatchObject({ errorClass: 'bad_request', retryable: false, code: 'INVALID_ARGUMENT' });
    expect(parse(504, rpc(504, 'DEADLINE_EXCEEDED', 'Deadline exceeded'))).toMatchObject({ errorClass: 'upstream_5xx', retryable: true });
    expect(parse(500, rpc(500, 'INTERNAL', 'An internal error has occurred.'))).toMatchObject({ errorClass: 'upstream_5xx', retryable: true });
  });

  test('an error object inside a 200 stream is classified from its own code, with no HTTP status', () => {
    const info = parse(200, rpc(503, 'UNAVAILABLE', 'The model is overloaded.'));
    expect(info).toEqual({ message: 'The model is overloaded.', errorClass: 'overloaded', retryable: true, code: 'UNAVAILABLE', type: 'UNAVAILABLE' });
    expect(parse(200, [rpc(429, 'RESOURCE_EXHAUSTED', 'slow down')]).errorClass).toBe('rate_limit');
  });

  test('garbage bodies never throw', () => {
    expect(parse(502, '<html>Bad Gateway</html>')).toMatchObject({ errorClass: 'upstream_5xx', retryable: true, status: 502 });
    expect(parse(500, '')).toMatchObject({ message: '500', errorClass: 'upstream_5xx' });
    expect(parse(400, { error: 'plain string' })).toMatchObject({ message: 'plain string', errorClass: 'bad_request' });
    expect(parse(429, 'null', { 'retry-after': '3' })).toMatchObject({ errorClass: 'rate_limit', retryAfterMs: 3000 });
  });
});

// ---------------------------------------------------------------------------------------------
// Three turns: the signature minted on a functionCall part comes back on that same part, every turn.

describe('thoughtSignature round trip over three turns', () => {
  const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
  const reply = (parts: unknown[]) => ({ ...candidate(parts, 'STOP'), usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 5 }, modelVersion: 'gemini-3-pro-preview', responseId: 'r' });

  /** What an OpenAI client gets back and re-sends: the message of a chat.completion, through JSON. */
  const asClientMessage = (result: ChatResult) =>
    JSON.parse(JSON.stringify(toChatCompletion(result, { id: 'chatcmpl-x', created: 1, model: 'gemini-3-pro-preview' }))).choices[0].message;

  const build = (messages: unknown[]): { body: any; request: ChatRequest } => {
    const request = toChatRequest({ model: 'gemini-3-pro-preview', tools, messages });
    const { http, warnings } = gemini.buildRequest(request, settings, { stream: false });
    expect(warnings).toEqual([]); // in particular: no skip_thought_signature_validator stand-in
    return { body: http.body, request };
  };

  test('turn 1 signature is restored in turns 2 and 3; turn 2 signature in turn 3', () => {
    const messages: any[] = [{ role: 'user', content: 'Weather in Paris, then Tokyo?' }];
    build(messages);

    // Turn 1: one call with a signature on its part, plus a text part with its own signature.
    const turn1 = gemini.parseResponse(
      gemini.responseSchema.parse(reply([{ text: 'Paris first.', thoughtSignature: 'sig-text-1' }, { functionCall: { name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: 'sig-call-1' }])),
      [],
    );
    const message1 = asClientMessage(turn1);
    expect(message1.tool_calls[0].provider_metadata).toEqual({ gemini: { thoughtSignature: 'sig-call-1' } });
    expect(message1.provider_metadata).toEqual({ gemini: { thoughtSignature: 'sig-text-1' } });
    messages.push(message1, { role: 'tool', tool_call_id: message1.tool_calls[0].id, content: '18C, cloudy' });

    // Turn 2 request: the model turn has both parts with their own signatures.
    const turn2Request = build(messages).body;
    expect(turn2Request.contents[1]).toEqual({
      role: 'model',
      parts: [
        { text: 'Paris first.', thoughtSignature: 'sig-text-1' },
        { functionCall: { name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: 'sig-call-1' },
      ],
    });
    expect(turn2Request.contents[2]).toEqual({ role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { result: '18C, cloudy' } } }] });

    // Turn 2 (streamed): a second call with a new signature.
    const events = decodeAll([reply([{ functionCall: { name: 'get_weather', args: { city: 'Tokyo' } }, thoughtSignature: 'sig-call-2' }])]);
    const message2 = asClientMessage(accumulate(events));
    expect(message2.content).toBeNull();
    messages.push(message2, { role: 'tool', tool_call_id: message2.tool_calls[0].id, content: '{"temp_c": 23}' });

    // Turn 3 request: both earlier steps, each signature on its own functionCall part.
    const turn3Request = build(messages).body;
    expect(turn3Request.contents.map((c: any) => c.role)).toEqual(['user', 'model', 'user', 'model', 'user']);
    expect(turn3Request.contents[1]).toEqual(turn2Request.contents[1]);
    expect(turn3Request.contents[3]).toEqual({
      role: 'model',
      parts: [{ functionCall: { name: 'get_weather', args: { city: 'Tokyo' } }, thoughtSignature: 'sig-call-2' }],
    });
    expect(turn3Request.contents[4].parts[0].functionResponse).toEqual({ name: 'get_weather', response: { temp_c: 23 } });
  });

  test('parseChatCompletionRequest keeps provider_metadata on re-sent messages (the seam this relies on)', () => {
    const parsed = parseChatCompletionRequest({
      model: 'm',
      messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' }, provider_metadata: { gemini: { thoughtSignature: 's' } } }] }],
    });
    expect(parsed.ok && parsed.value.request.messages[0]).toEqual({
      role: 'assistant',
      content: null,
      toolCalls: [{ id: 'c', name: 'f', arguments: '{}', providerMetadata: { gemini: { thoughtSignature: 's' } } }],
    });
  });
});
