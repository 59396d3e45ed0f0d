// Every Anthropic fixture in ../shared/fixtures/anthropic, four ways: the outgoing request, the
// non-streaming parse (or error parse), the named-event stream decoder (whole / byte by byte /
// random splits) and runProvider with a replay fetch. Then request mapping, responses and errors
// beyond the fixtures, and a multi-turn thinking + tool conversation whose thinking blocks (with
// their signatures) come back before the turn's text and tool_use blocks.
import { describe, expect, test } from 'bun:test';
import path from 'node:path';
import { parseAnthropicMessagesRequest } from '../api/anthropic-messages.ts';
import { toChatCompletion, toOpenAIFinishReason } from '../api/openai-chat.ts';
import { accumulate } from '../core/accumulate.ts';
import type { ChatRequest, ChatResult, StreamEvent } from '../core/types.ts';
import {
  anthropic,
  anthropicResponseSchema,
  convertAnthropicUsage,
  mapAnthropicFinishReason,
  parseAnthropicError,
} from './anthropic.ts';
import { DEFAULT_MAX_TOKENS, LEGACY_MAX_TOKENS, THINKING_BUDGETS } from './anthropic-request.ts';
import { anthropicClientBody } from './anthropic-test-helpers.ts';
import { ProviderError } from './errors.ts';
import { toChatRequest } from './gemini-test-helpers.ts';
import { getAdapter } from './registry.ts';
import { runProvider } from './run.ts';
import { FIXTURES_DIR, SPLITS, decodeSse, listCases, loadFixture, replayFetch, split, usageToOpenAI } from './test-helpers.ts';

const API_KEY = 'sk-ant-api03-REDACTED';
const settings = { apiKey: API_KEY };
const MODEL = 'claude-sonnet-4-5-20250929';

/** Checks a result against a fixture's `expect` (OpenAI vocabulary). */
function expectMatches(result: ChatResult, expected: Record<string, any>) {
  if ('content' in expected) expect(result.text || null).toBe(expected.content);
  if ('reasoning_content' in expected) expect(result.reasoning).toBe(expected.reasoning_content);
  else expect(result.reasoning).toBeUndefined();
  const finish = toOpenAIFinishReason(result.finishReason, result.toolCalls.length > 0);
  expect(finish).toBe(expected.finish_reason ?? 'stop');
  // Unified, not just the OpenAI value (`other` would also print as `stop`/`tool_calls`).
  if (expected.finish_reason === 'tool_calls') expect(result.finishReason.unified).toBe('tool-calls');
  else expect(result.finishReason.unified).toBe('stop');
  expect(result.toolCalls.map(({ id, name, arguments: args }, index) => ({ index, id, name, arguments: args }))).toEqual(
    expected.tool_calls ?? [],
  );
  if (expected.usage) {
    const { cache_write_tokens, ...usage } = expected.usage;
    expect(usageToOpenAI(result.usage)).toMatchObject(usage);
    if (cache_write_tokens !== undefined) expect(result.usage.cacheWriteInputTokens).toBe(cache_write_tokens);
    expect(result.usage.raw).toBeDefined();
  }
}

async function collect(events: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

const cases = await listCases('anthropic');

describe('anthropic fixtures', () => {
  test('the folder has the expected cases and the adapter is registered', () => {
    expect(cases.length).toBeGreaterThanOrEqual(16);
    expect(getAdapter('anthropic')).toBe(anthropic);
  });

  for (const name of cases) {
    describe(name, async () => {
      const fixture = await loadFixture('anthropic', name);
      const { upstream_request: upstream, response } = fixture;
      const body = anthropicClientBody(fixture);
      const stream = body.stream === true;
      const request = toChatRequest(body);

      test('builds the upstream request', () => {
        const { http, warnings } = anthropic.buildRequest(request, settings, { stream });
        expect(http.url).toBe(upstream.url);
        expect(http.headers).toEqual({ 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': API_KEY });
        expect(http.headers['x-api-key']).toBe(upstream.headers['x-api-key']!);
        expect(http.headers['anthropic-version']).toBe(upstream.headers['anthropic-version']!);
        expect(http.body).toEqual(upstream.body);
        expect(warnings).toEqual([]);
      });

      if (response.status !== 200) {
        test('classifies the error', () => {
          const headers = new Headers(response.headers);
          const info = anthropic.parseError({ status: response.status, body: JSON.stringify(response.body), headers });
          expect(info.errorClass).toBe(fixture.expect!.error_class);
          expect(info.retryable).toBe(fixture.expect!.retryable);
          expect(info.status).toBe(response.status);
          expect(info.message).toBe((response.body as any).error.message);
          expect(info.type).toBe((response.body as any).error.type);
          expect(info.retryAfterMs).toBe(fixture.expect!.retry_after_ms);
        });
      } else if (!fixture.sse) {
        test('parses the response', () => {
          const result = anthropic.parseResponse(anthropic.responseSchema.parse(response.body), []);
          expectMatches(result, fixture.expect!);
          expect(result.id).toBe((response.body as any).id);
          expect(result.model).toBe((response.body as any).model);
          expect(result.usage.raw).toEqual((response.body as any).usage);
        });
      } else {
        for (const how of SPLITS) {
          test(`decodes the stream (${how})`, () => {
            const events = decodeSse(anthropic, split(fixture.sse!, how));
            expect(events[0]).toMatchObject({ type: 'response-start', id: expect.stringMatching(/^msg_/), model: MODEL });
            expect(events.filter((e) => e.type === 'response-start')).toHaveLength(1);
            const result = accumulate(events);
            if (fixture.expect!.stream_error) {
              expect(result.text).toBe(fixture.expect!.partial_content);
              expect(events.at(-1)!.type).toBe('error');
              expect(result.error?.errorClass).toBe(fixture.expect!.error_class);
              return;
            }
            expectMatches(result, fixture.expect!);
            expect(events.at(-1)!.type).toBe('finish');
            // Tool calls renumbered 0, 1, … (Anthropic's content-block indexes are 1 and 2 here).
            const indexes = [...new Set(events.flatMap((e) => (e.type === 'tool-call-delta' ? [e.index] : [])))];
            expect(indexes).toEqual((fixture.expect!.tool_calls ?? []).map((c: any) => c.index));
          });
        }
      }

      for (const how of ['whole', 'random-7'] as const) {
        test(`runs through runProvider with a replay fetch (${how})`, async () => {
          const replay = replayFetch(fixture, how);
          const run = runProvider(anthropic, request, settings, { stream, fetch: replay.fetch });
          if (fixture.expect?.error_class && !fixture.expect.stream_error) {
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
          const result = accumulate(events);
          if (fixture.expect?.stream_error) {
            // Output came first, so the in-stream `event: error` is an event, not a throw.
            expect(result.text).toBe(fixture.expect.partial_content);
            expect(events.slice(-2).map((e) => e.type)).toEqual(['error', 'finish']);
            expect(result.finishReason.unified).toBe('error');
            expect(result.error).toMatchObject({ errorClass: 'overloaded', retryable: true, type: 'overloaded_error' });
            return;
          }
          expectMatches(result, fixture.expect!);
        });
      }
    });
  }

  test('usage-cached-reasoning as its gateway_request stands: the same body, the system prompt without its cache breakpoint', async () => {
    const fixture = await loadFixture('anthropic', 'usage-cached-reasoning');
    const { http, warnings } = anthropic.buildRequest(toChatRequest(fixture.gateway_request!), settings, { stream: false });
    expect(warnings).toEqual([]);
    expect(http.body).toEqual({ ...fixture.upstream_request.body, system: (fixture.gateway_request as any).messages[0].content });
  });

  test('usage fixtures price to the fixture cost (models-dev prices, cache writes at the cache_write price)', async () => {
    const registry = await Bun.file(path.join(FIXTURES_DIR, 'models-dev', 'api.json')).json();
    for (const name of ['usage-cache-write', 'usage-cached-reasoning']) {
      const fixture = await loadFixture('anthropic', name);
      const price = registry.anthropic.models[fixture.expect!.pricing_model_id].cost;
      const { usage } = anthropic.parseResponse(anthropic.responseSchema.parse(fixture.response.body), []);
      const uncached = usage.inputTokens! - usage.cachedInputTokens! - usage.cacheWriteInputTokens!;
      const cost =
        (uncached * price.input + usage.cachedInputTokens! * price.cache_read + usage.cacheWriteInputTokens! * price.cache_write + usage.outputTokens! * price.output) / 1e6;
      expect(cost).toBeCloseTo(fixture.expect!.cost_usd, 10);
    }
  });

  test('stream usage is cumulative: message_delta overlays message_start, reported once on finish', async () => {
    const fixture = await loadFixture('anthropic', 'thinking-stream');
    const events = decodeSse(anthropic, split(fixture.sse!, 'whole'));
    const finishes = events.filter((e) => e.type === 'finish');
    expect(finishes).toHaveLength(1);
    expect((finishes[0] as any).usage).toMatchObject({ inputTokens: 42 + 18750, cachedInputTokens: 18750, cacheWriteInputTokens: 0, outputTokens: 412 });
  });

  test('thinking-stream: the signature arrives with the thinking block as message metadata', async () => {
    const fixture = await loadFixture('anthropic', 'thinking-stream');
    const result = accumulate(decodeSse(anthropic, split(fixture.sse!, 'bytes')));
    expect(result.providerMetadata).toEqual({
      anthropic: {
        thinking: [{ type: 'thinking', thinking: fixture.expect!.reasoning_content, signature: expect.stringMatching(/^EqQBCgIYAhIM/) }],
      },
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Request mapping beyond the fixtures

const build = (request: Partial<ChatRequest>, stream = false) =>
  anthropic.buildRequest({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], ...request } as ChatRequest, settings, { stream });
const bodyOf = (request: Partial<ChatRequest>) => build(request).http.body as Record<string, any>;
const tool = { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } };

describe('anthropic request mapping', () => {
  test('max_tokens is always sent: 8192 by default, 4096 for Claude 3 models, the client value otherwise', () => {
    expect(bodyOf({}).max_tokens).toBe(DEFAULT_MAX_TOKENS);
    expect(bodyOf({ model: 'claude-3-haiku-20240307' }).max_tokens).toBe(LEGACY_MAX_TOKENS);
    expect(bodyOf({ model: 'claude-3-5-haiku-20241022' }).max_tokens).toBe(DEFAULT_MAX_TOKENS);
    expect(bodyOf({ maxOutputTokens: 300 }).max_tokens).toBe(300);
  });

  test('reasoning_effort → thinking budget; max_tokens stays above the budget', () => {
    for (const [effort, budget] of Object.entries(THINKING_BUDGETS)) {
      const body = bodyOf({ reasoningEffort: effort as any });
      expect(body.thinking).toEqual({ type: 'enabled', budget_tokens: budget });
      expect(body.max_tokens).toBe(Math.max(DEFAULT_MAX_TOKENS, budget + 4096));
    }
    expect(bodyOf({ reasoningEffort: 'none' }).thinking).toEqual({ type: 'disabled' });
    // A client max_tokens at or under the budget is raised by the budget (and says so).
    const { http, warnings } = build({ reasoningEffort: 'high', maxOutputTokens: 1000 });
    expect((http.body as any).max_tokens).toBe(16384 + 1000);
    expect(warnings).toEqual([{ type: 'unsupported-setting', setting: 'maxOutputTokens', detail: expect.stringContaining('16384') }]);
    // Models without extended thinking get none.
    const legacy = build({ model: 'claude-3-5-sonnet-20241022', reasoningEffort: 'low' });
    expect((legacy.http.body as any).thinking).toBeUndefined();
    expect(legacy.warnings[0]).toMatchObject({ setting: 'reasoningEffort' });
  });

  test('thinking drops what Anthropic refuses with it: temperature ≠ 1, top_p < 0.95, top_k, forced tools', () => {
    const { http, warnings } = build({ reasoningEffort: 'low', temperature: 0.2, topP: 0.5, extra: { top_k: 5 } });
    const body = http.body as any;
    expect(body.thinking).toEqual({ type: 'enabled', budget_tokens: 2048 });
    expect([body.temperature, body.top_p, body.top_k]).toEqual([undefined, undefined, undefined]);
    expect(warnings.map((w: any) => w.setting).sort()).toEqual(['temperature', 'topP', 'top_k']);
    expect(bodyOf({ reasoningEffort: 'low', temperature: 1, topP: 0.99, model: 'claude-sonnet-4-20250514' })).toMatchObject({ temperature: 1, top_p: 0.99 });

    const forced = build({ reasoningEffort: 'low', tools: [tool], toolChoice: 'required' });
    expect((forced.http.body as any).thinking).toBeUndefined();
    expect((forced.http.body as any).tool_choice).toEqual({ type: 'any' });
    expect(forced.warnings[0]).toMatchObject({ setting: 'reasoningEffort' });
  });

  test('a native `thinking` (Anthropic OpenAI-SDK style extra) wins over reasoning_effort', () => {
    const { http, warnings } = build({ reasoningEffort: 'low', extra: { thinking: { type: 'enabled', budget_tokens: 3000 } } });
    expect((http.body as any).thinking).toEqual({ type: 'enabled', budget_tokens: 3000 });
    expect((http.body as any).max_tokens).toBe(8192);
    expect(warnings[0]).toMatchObject({ setting: 'reasoningEffort' });
    expect(bodyOf({ extra: { thinking: { type: 'adaptive' } } }).thinking).toEqual({ type: 'adaptive' });
  });

  test('temperature and top_p together: dropped top_p for 4.1+ models only', () => {
    expect(bodyOf({ temperature: 0.5, topP: 0.9 })).toMatchObject({ temperature: 0.5 });
    expect(bodyOf({ temperature: 0.5, topP: 0.9 }).top_p).toBeUndefined();
    expect(bodyOf({ temperature: 0.5, topP: 0.9, model: 'claude-opus-4-1' }).top_p).toBeUndefined();
    expect(bodyOf({ temperature: 0.5, topP: 0.9, model: 'claude-sonnet-4-20250514' }).top_p).toBe(0.9);
    expect(bodyOf({ temperature: 0.5, topP: 0.9, model: 'claude-3-7-sonnet-20250219' }).top_p).toBe(0.9);
    expect(bodyOf({ topP: 0.9 }).top_p).toBe(0.9);
  });

  test('tool choice, parallel tool calls and tool schemas', () => {
    const choice = (request: Partial<ChatRequest>) => bodyOf({ tools: [tool], ...request }).tool_choice;
    expect(choice({})).toBeUndefined();
    expect(choice({ toolChoice: 'auto' })).toEqual({ type: 'auto' });
    expect(choice({ toolChoice: 'required' })).toEqual({ type: 'any' });
    expect(choice({ toolChoice: 'none' })).toEqual({ type: 'none' });
    expect(choice({ toolChoice: { name: 'get_weather' } })).toEqual({ type: 'tool', name: 'get_weather' });
    expect(choice({ parallelToolCalls: false })).toEqual({ type: 'auto', disable_parallel_tool_use: true });
    expect(choice({ toolChoice: 'required', parallelToolCalls: false })).toEqual({ type: 'any', disable_parallel_tool_use: true });
    expect(choice({ toolChoice: 'none', parallelToolCalls: false })).toEqual({ type: 'none' });
    // No tools: no tool_choice (Anthropic rejects one without tools).
    expect(bodyOf({ toolChoice: 'none' }).tool_choice).toBeUndefined();
    expect(bodyOf({ tools: [{ name: 'ping', description: 'Ping.', parameters: {}, strict: true }] }).tools).toEqual([
      { name: 'ping', description: 'Ping.', input_schema: { type: 'object' } },
    ]);
  });

  test('system and developer messages anywhere become one top-level system; a native system goes first', () => {
    const messages: ChatRequest['messages'] = [
      { role: 'system', content: 'Be terse.', developer: true },
      { role: 'user', content: 'hi' },
      { role: 'system', content: 'Answer in French.' },
      { role: 'user', content: 'again' },
    ];
    const body = bodyOf({ messages });
    expect(body.system).toBe('Be terse.\n\nAnswer in French.');
    expect(body.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'hi' }, { type: 'text', text: 'again' }] }]);
    const blocks = [{ type: 'text', text: 'Cached.', cache_control: { type: 'ephemeral' } }];
    expect(bodyOf({ messages, extra: { system: blocks } }).system).toEqual([
      ...blocks,
      { type: 'text', text: 'Be terse.' },
      { type: 'text', text: 'Answer in French.' },
    ]);
    expect(bodyOf({ messages, extra: { system: 'Native.' } }).system).toBe('Native.\n\nBe terse.\n\nAnswer in French.');
  });

  test('tool results: one user turn, tool_result blocks before any text, ids made Anthropic-safe', () => {
    const body = bodyOf({
      messages: [
        { role: 'user', content: 'Weather in Paris and Tokyo?' },
        {
          role: 'assistant',
          content: null,
          toolCalls: [
            { id: 'call:1', name: 'get_weather', arguments: '{"city":"Paris"}' },
            { id: 'call_2', name: 'get_weather', arguments: 'not json' },
          ],
        },
        { role: 'tool', toolCallId: 'call:1', content: '18C' },
        { role: 'user', content: 'Also, be brief.' },
        { role: 'tool', toolCallId: 'call_2', content: '' },
      ],
    });
    expect(body.messages).toEqual([
      { role: 'user', content: 'Weather in Paris and Tokyo?' },
      {
        role: 'assistant',
        content: [
          { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'call_2', name: 'get_weather', input: {} },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'call_1', content: '18C' },
          { type: 'tool_result', tool_use_id: 'call_2' },
          { type: 'text', text: 'Also, be brief.' },
        ],
      },
    ]);
  });

  test('images: data: URLs inline as base64, other URLs by url; unreadable types refused before the call', () => {
    const content = [
      { type: 'image' as const, url: 'https://example.com/cat.jpg', detail: 'high' as const },
      { type: 'image' as const, url: 'data:image/jpg;base64,/9j/4AAQ', mediaType: 'image/jpg' },
    ];
    expect(bodyOf({ messages: [{ role: 'user', content }] }).messages[0].content).toEqual([
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
      { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: '/9j/4AAQ' } },
    ]);
    const svg: ChatRequest = { model: MODEL, messages: [{ role: 'user', content: [{ type: 'image', url: 'data:image/svg+xml,<svg/>', mediaType: 'image/svg+xml' }] }] };
    expect(anthropic.validate!(svg, settings)).toMatchObject({ errorClass: 'unsupported_input', retryable: false });
    expect(anthropic.validate!({ model: MODEL, messages: [{ role: 'user', content }] }, settings)).toBeUndefined();
  });

  test('stop, user, seed, JSON mode and unmodelled parameters', () => {
    const { http, warnings } = build({
      stop: ['END', '\n'],
      user: 'user-42',
      seed: 7,
      responseFormat: { type: 'json', name: 'answer', schema: { type: 'object', properties: { a: { type: 'number' } } } },
      extra: { top_k: 3, cache_control: { type: 'ephemeral' }, service_tier: 'flex', frequency_penalty: 0.5, logprobs: false, n: 1, metadata: { user_id: 'ignored', trace: 'x' }, mystery: 1 },
    });
    const body = http.body as any;
    expect(body.stop_sequences).toEqual(['END']);
    expect(body.metadata).toEqual({ user_id: 'user-42' });
    expect(body.top_k).toBe(3);
    expect(body.cache_control).toEqual({ type: 'ephemeral' });
    expect(body.service_tier).toBeUndefined();
    expect(body.system).toContain('JSON Schema "answer"');
    expect(body.system).toContain('{"type":"object","properties":{"a":{"type":"number"}}}');
    expect(warnings.map((w: any) => w.setting).sort()).toEqual(['frequency_penalty', 'metadata', 'mystery', 'responseFormat', 'seed', 'service_tier', 'stop']);
    expect(bodyOf({ extra: { metadata: { user_id: 'u-1' }, service_tier: 'standard_only' } })).toMatchObject({ metadata: { user_id: 'u-1' }, service_tier: 'standard_only' });
    expect(bodyOf({ responseFormat: { type: 'json' } }).system).toContain('single JSON object');
  });

  test('providerOptions.anthropic is merged last; stream only when streaming; headers and base URL', () => {
    expect(bodyOf({ providerOptions: { anthropic: { top_k: 9, model: 'other', service_tier: 'auto' } } })).toMatchObject({ model: MODEL, top_k: 9, service_tier: 'auto' });
    expect(bodyOf({}).stream).toBeUndefined();
    expect((build({}, true).http.body as any).stream).toBe(true);
    const { http } = anthropic.buildRequest({ model: MODEL, messages: [] }, { apiKey: '', baseUrl: 'http://127.0.0.1:9/anthropic/v1/', headers: { 'anthropic-beta': 'b1' } }, { stream: false });
    expect(http.url).toBe('http://127.0.0.1:9/anthropic/v1/messages');
    expect(http.headers).toEqual({ 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'anthropic-beta': 'b1' });
  });
});

// ---------------------------------------------------------------------------------------------
// Responses and streams beyond the fixtures

const sseOf = (events: Record<string, any>[]) => new TextEncoder().encode(events.map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join(''));
const messageStart = (usage: Record<string, number> = { input_tokens: 10, output_tokens: 1 }) => ({
  type: 'message_start',
  message: { id: 'msg_x', type: 'message', role: 'assistant', model: MODEL, content: [], stop_reason: null, usage },
});
const blockEvents = (index: number, block: Record<string, any>, deltas: Record<string, any>[]) => [
  { type: 'content_block_start', index, content_block: block },
  ...deltas.map((delta) => ({ type: 'content_block_delta', index, delta })),
  { type: 'content_block_stop', index },
];
const messageEnd = (stopReason: string, usage: Record<string, number> = { output_tokens: 20 }) => [
  { type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: null }, usage },
  { type: 'message_stop' },
];

describe('anthropic responses', () => {
  test('finish reasons', () => {
    expect(mapAnthropicFinishReason('end_turn')).toEqual({ unified: 'stop', raw: 'end_turn' });
    expect(mapAnthropicFinishReason('stop_sequence').unified).toBe('stop');
    expect(mapAnthropicFinishReason('pause_turn').unified).toBe('stop');
    expect(mapAnthropicFinishReason('max_tokens').unified).toBe('length');
    expect(mapAnthropicFinishReason('model_context_window_exceeded').unified).toBe('length');
    expect(mapAnthropicFinishReason('tool_use').unified).toBe('tool-calls');
    expect(mapAnthropicFinishReason('refusal')).toEqual({ unified: 'content-filter', raw: 'refusal' });
    expect(mapAnthropicFinishReason('something_new')).toEqual({ unified: 'other', raw: 'something_new' });
    expect(mapAnthropicFinishReason(undefined)).toEqual({ unified: 'other', raw: undefined });
  });

  test('usage: cache reads and writes are added to input; thinking tokens when reported', () => {
    const usage = { input_tokens: 5, cache_read_input_tokens: 100, cache_creation_input_tokens: 20, output_tokens: 50, output_tokens_details: { thinking_tokens: 30 } };
    expect(convertAnthropicUsage(usage)).toEqual({ inputTokens: 125, cachedInputTokens: 100, cacheWriteInputTokens: 20, outputTokens: 50, reasoningTokens: 30, raw: usage });
    expect(convertAnthropicUsage({ output_tokens: 3 })).toEqual({ outputTokens: 3, raw: { output_tokens: 3 } });
  });

  test('a body that is not a Message is rejected by the response schema', () => {
    expect(anthropicResponseSchema.safeParse({ hello: 'world' }).success).toBe(false);
    expect(anthropicResponseSchema.safeParse({ type: 'message', content: 'garbage', usage: { input_tokens: 'x' } }).success).toBe(true);
  });

  test('non-streaming: thinking and redacted thinking in order as metadata, tool calls with their ids', () => {
    const result = anthropic.parseResponse(
      anthropicResponseSchema.parse({
        id: 'msg_1',
        type: 'message',
        model: MODEL,
        content: [
          { type: 'thinking', thinking: 'Plan.', signature: 'sig-1' },
          { type: 'redacted_thinking', data: 'opaque' },
          { type: 'text', text: 'Checking.' },
          { type: 'tool_use', id: 'toolu_1', name: 'ping', input: {} },
        ],
        stop_reason: 'tool_use',
        usage: { input_tokens: 1, output_tokens: 2 },
      }),
      [],
    );
    expect(result.reasoning).toBe('Plan.');
    expect(result.text).toBe('Checking.');
    expect(result.toolCalls).toEqual([{ id: 'toolu_1', name: 'ping', arguments: '{}' }]);
    expect(result.providerMetadata).toEqual({
      anthropic: { thinking: [{ type: 'thinking', thinking: 'Plan.', signature: 'sig-1' }, { type: 'redacted_thinking', data: 'opaque' }] },
    });
  });

  test('streams: pings ignored, a call without arguments gets {}, redacted thinking kept, server tools skipped', () => {
    const events = decodeSse(
      anthropic,
      split(
        sseOf([
          messageStart(),
          { type: 'ping' },
          ...blockEvents(0, { type: 'redacted_thinking', data: 'opaque' }, []),
          ...blockEvents(1, { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: {} }, [{ type: 'input_json_delta', partial_json: '{"q":1}' }]),
          ...blockEvents(2, { type: 'tool_use', id: 'toolu_a', name: 'ping', input: {} }, [{ type: 'input_json_delta', partial_json: '' }]),
          ...blockEvents(3, { type: 'tool_use', id: 'toolu_b', name: 'add', input: {} }, [{ type: 'input_json_delta', partial_json: '{"a":' }, { type: 'input_json_delta', partial_json: '1}' }]),
          { type: 'ping' },
          ...messageEnd('tool_use'),
        ]),
        'random-5',
      ),
    );
    const result = accumulate(events);
    expect(result.toolCalls).toEqual([
      { id: 'toolu_a', name: 'ping', arguments: '{}' },
      { id: 'toolu_b', name: 'add', arguments: '{"a":1}' },
    ]);
    expect(result.providerMetadata).toEqual({ anthropic: { thinking: [{ type: 'redacted_thinking', data: 'opaque' }] } });
    expect(result.finishReason).toEqual({ unified: 'tool-calls', raw: 'tool_use' });
    expect(result.usage).toMatchObject({ inputTokens: 10, outputTokens: 20 });
  });

  test('a stream cut before message_delta / message_stop ends with error, then finish error', () => {
    const events = decodeSse(anthropic, [sseOf([messageStart(), ...blockEvents(0, { type: 'text', text: '' }, [{ type: 'text_delta', text: 'Par' }])])]);
    expect(events.slice(-2).map((e) => e.type)).toEqual(['error', 'finish']);
    expect((events.at(-2) as any).error).toMatchObject({ errorClass: 'invalid_response', retryable: true });
    expect(accumulate(events)).toMatchObject({ text: 'Par', finishReason: { unified: 'error' } });
  });

  test('an error event inside a stream is classified from its type, without an HTTP status', () => {
    const decoder = anthropic.createStreamDecoder([]);
    decoder.push(anthropic.chunkSchema.parse(messageStart()));
    const events = decoder.push(anthropic.chunkSchema.parse({ type: 'error', error: { type: 'api_error', message: 'Internal server error' } }));
    expect(events).toEqual([{ type: 'error', error: { message: 'Internal server error', errorClass: 'upstream_5xx', retryable: true, type: 'api_error' } }]);
  });
});

describe('anthropic errors', () => {
  const parse = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    parseAnthropicError({ status, body: typeof body === 'string' ? body : JSON.stringify(body), headers: new Headers(headers) });
  const envelope = (type: string, message: string) => ({ type: 'error', error: { type, message }, request_id: 'req_1' });

  test('error types beyond the fixtures', () => {
    expect(parse(403, envelope('permission_error', 'no access'))).toMatchObject({ errorClass: 'permission', retryable: false, status: 403 });
    expect(parse(402, envelope('billing_error', 'pay up'))).toMatchObject({ errorClass: 'quota', retryable: false });
    expect(parse(400, envelope('invalid_request_error', 'Your credit balance is too low to access the Anthropic API.'))).toMatchObject({ errorClass: 'quota' });
    expect(parse(400, envelope('invalid_request_error', 'max_tokens: 100000 > 64000'))).toMatchObject({ errorClass: 'bad_request', retryable: false });
    expect(parse(413, envelope('request_too_large', 'Request exceeds the maximum allowed number of bytes.'))).toMatchObject({ errorClass: 'bad_request', status: 413 });
    expect(parse(504, envelope('timeout_error', 'Request timed out'))).toMatchObject({ errorClass: 'upstream_5xx', retryable: true });
    expect(parse(529, envelope('overloaded_error', 'Overloaded'))).toMatchObject({ errorClass: 'overloaded', retryable: true, status: 529 });
  });

  test('x-should-retry decides retryable when present', () => {
    expect(parse(500, envelope('api_error', 'x'), { 'x-should-retry': 'false' }).retryable).toBe(false);
    expect(parse(409, envelope('invalid_request_error', 'conflict'), { 'x-should-retry': 'true' }).retryable).toBe(true);
  });

  test('garbage bodies never throw', () => {
    expect(parse(529, '<html>overloaded</html>')).toMatchObject({ errorClass: 'overloaded', retryable: true, status: 529 });
    expect(parse(502, '')).toMatchObject({ message: '502', errorClass: 'upstream_5xx', retryable: true });
    expect(parse(401, 'null')).toMatchObject({ errorClass: 'authentication' });
    expect(parse(400, { error: 'plain string' })).toMatchObject({ message: 'plain string', errorClass: 'bad_request' });
    expect(parse(429, '{}', { 'retry-after': '3' })).toMatchObject({ errorClass: 'rate_limit', retryAfterMs: 3000 });
  });
});

// ---------------------------------------------------------------------------------------------
// Thinking + tools over three turns: every thinking block comes back, signature intact, first.

describe('thinking signatures round trip over three turns', () => {
  const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];

  /** What an OpenAI client gets back and re-sends: the message of a chat.completion, through JSON. */
  const asClientMessage = (result: ChatResult) =>
    JSON.parse(JSON.stringify(toChatCompletion(result, { id: 'chatcmpl-x', created: 1, model: MODEL }))).choices[0].message;

  const build = (messages: unknown[]) => {
    const { http, warnings } = anthropic.buildRequest(toChatRequest({ model: MODEL, tools, reasoning_effort: 'low', messages }), settings, { stream: false });
    expect(warnings).toEqual([]); // in particular: thinking stays on
    return http.body as any;
  };

  test('turn 1 blocks are replayed in turns 2 and 3; turn 2 blocks (with redacted thinking) in turn 3', () => {
    const messages: any[] = [{ role: 'user', content: 'Weather in Paris, then Tokyo?' }];
    expect(build(messages).thinking).toEqual({ type: 'enabled', budget_tokens: 2048 });

    // Turn 1 (non-streaming): thinking, text, one tool call.
    const turn1 = anthropic.parseResponse(
      anthropicResponseSchema.parse({
        id: 'msg_1',
        type: 'message',
        model: MODEL,
        content: [
          { type: 'thinking', thinking: 'Paris first.', signature: 'sig-1' },
          { type: 'text', text: 'Checking Paris.' },
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
        ],
        stop_reason: 'tool_use',
        usage: { input_tokens: 10, output_tokens: 5 },
      }),
      [],
    );
    const message1 = asClientMessage(turn1);
    expect(message1.reasoning_content).toBe('Paris first.');
    expect(message1.provider_metadata).toEqual({ anthropic: { thinking: [{ type: 'thinking', thinking: 'Paris first.', signature: 'sig-1' }] } });
    messages.push(message1, { role: 'tool', tool_call_id: message1.tool_calls[0].id, content: '18C, cloudy' });

    const turn2Request = build(messages);
    expect(turn2Request.messages[1]).toEqual({
      role: 'assistant',
      content: [
        { type: 'thinking', thinking: 'Paris first.', signature: 'sig-1' },
        { type: 'text', text: 'Checking Paris.' },
        { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
      ],
    });
    expect(turn2Request.messages[2]).toEqual({ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: '18C, cloudy' }] });

    // Turn 2 (streamed, byte by byte): redacted thinking, thinking with a split signature, a call.
    const events = decodeSse(
      anthropic,
      split(
        sseOf([
          messageStart(),
          ...blockEvents(0, { type: 'redacted_thinking', data: 'opaque-2' }, []),
          ...blockEvents(1, { type: 'thinking', thinking: '', signature: '' }, [
            { type: 'thinking_delta', thinking: 'Now ' },
            { type: 'thinking_delta', thinking: 'Tokyo.' },
            { type: 'signature_delta', signature: 'sig-2' },
          ]),
          ...blockEvents(2, { type: 'tool_use', id: 'toolu_2', name: 'get_weather', input: {} }, [{ type: 'input_json_delta', partial_json: '{"city": "Tokyo"}' }]),
          ...messageEnd('tool_use'),
        ]),
        'bytes',
      ),
    );
    const message2 = asClientMessage(accumulate(events));
    expect(message2.content).toBeNull();
    expect(message2.provider_metadata).toEqual({
      anthropic: { thinking: [{ type: 'redacted_thinking', data: 'opaque-2' }, { type: 'thinking', thinking: 'Now Tokyo.', signature: 'sig-2' }] },
    });
    messages.push(message2, { role: 'tool', tool_call_id: message2.tool_calls[0].id, content: '{"temp_c": 23}' });

    const turn3Request = build(messages);
    expect(turn3Request.messages.map((m: any) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant', 'user']);
    expect(turn3Request.messages[1]).toEqual(turn2Request.messages[1]);
    expect(turn3Request.messages[3]).toEqual({
      role: 'assistant',
      content: [
        { type: 'redacted_thinking', data: 'opaque-2' },
        { type: 'thinking', thinking: 'Now Tokyo.', signature: 'sig-2' },
        { type: 'tool_use', id: 'toolu_2', name: 'get_weather', input: { city: 'Tokyo' } },
      ],
    });
  });

  test('a continued tool turn without thinking blocks (metadata dropped) turns thinking off, with a warning', () => {
    const request = toChatRequest({
      model: MODEL,
      tools,
      reasoning_effort: 'low',
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: null, reasoning_content: 'unsigned', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '18C' },
      ],
    });
    const { http, warnings } = anthropic.buildRequest(request, settings, { stream: false });
    expect((http.body as any).thinking).toBeUndefined();
    expect((http.body as any).messages[1].content).toEqual([{ type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } }]);
    expect(warnings).toEqual([{ type: 'unsupported-setting', setting: 'reasoningEffort', detail: expect.stringContaining('provider_metadata') }]);
  });
});

// ---------------------------------------------------------------------------------------------
// providerOptions.anthropic from the Anthropic dialect (anthropic-metadata.ts): native parameters,
// and the `inbound` options that put cache_control, is_error, tool keys and betas back.

describe('an Anthropic client through the adapter', () => {
  const ephemeral = { type: 'ephemeral' };
  const parse = (body: Record<string, unknown>) => {
    const parsed = parseAnthropicMessagesRequest(body);
    if (!parsed.ok) throw new Error(parsed.error.message);
    return { model: MODEL, ...parsed.value.request } as ChatRequest;
  };
  const bash = { name: 'Bash', description: 'Run a shell command', input_schema: { type: 'object', properties: { command: { type: 'string' } }, required: ['command'] } };

  test("Claude Code's turn 2 reaches Anthropic as sent: every cache_control, deferred tools, native parameters, no `inbound`", () => {
    const sent = {
      model: MODEL,
      max_tokens: 32000,
      stream: true,
      system: [
        { type: 'text', text: 'x-anthropic-billing-header: cc_version=2.1.332; cc_entrypoint=sdk-cli;' },
        { type: 'text', text: 'You are a Claude agent.', cache_control: ephemeral },
        { type: 'text', text: 'You are an interactive CLI tool…', cache_control: { type: 'ephemeral', ttl: '1h' } },
      ],
      messages: [
        { role: 'user', content: [{ type: 'text', text: '<system-reminder>Today is Thursday.</system-reminder>' }, { type: 'text', text: 'list the files' }] },
        { role: 'system', content: [{ type: 'text', text: '<env>Working directory: /tmp/w</env>', cache_control: ephemeral }] },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: '', signature: 'EqQBCgIYAhIMsig' },
            { type: 'redacted_thinking', data: 'opaque' },
            { type: 'text', text: 'Running ls.' },
            { type: 'tool_use', id: 'toolu_01A', name: 'Bash', input: { command: 'ls' } },
          ],
        },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01A', content: 'a.txt\nb.txt', is_error: false, cache_control: ephemeral }] },
      ],
      tools: [bash, { name: 'ToolSearch', description: 'Search deferred tools', input_schema: { type: 'object', properties: {} }, defer_loading: true }],
      metadata: { user_id: '{"device_id":"d1","session_id":"s1"}' },
      thinking: { type: 'adaptive', display: 'omitted' },
      context_management: { edits: [{ type: 'clear_thinking_20251015', keep: 'all' }] },
      output_config: { effort: 'medium' },
    };
    const { http, warnings } = anthropic.buildRequest(parse(sent), settings, { stream: true });
    expect(warnings).toEqual([]);
    const { messages, system, ...rest } = sent;
    // The role:"system" message joins the top-level system blocks (its cache breakpoint kept).
    expect(http.body).toEqual({ ...rest, system: [...system, messages[1]!.content[0]], messages: [messages[0], messages[2], { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01A', content: 'a.txt\nb.txt', cache_control: ephemeral }] }] });
    expect(JSON.stringify(http.body)).not.toContain('inbound');
  });

  test('block extras land on the block built for their message: strings become blocks, results move first with theirs', () => {
    const body = anthropic.buildRequest(
      parse({
        model: MODEL,
        max_tokens: 100,
        system: 'Plain system.',
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'Look:' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' }, cache_control: ephemeral }] },
          { role: 'assistant', content: [{ type: 'text', text: 'Calling.', cache_control: ephemeral }, { type: 'tool_use', id: 'toolu_1', name: 'Bash', input: {} }, { type: 'tool_use', id: 'toolu_2', name: 'Bash', input: { command: 'pwd' }, cache_control: ephemeral }] },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Results:' },
              { type: 'tool_result', tool_use_id: 'toolu_1', content: 'boom', is_error: true },
              { type: 'tool_result', tool_use_id: 'toolu_2', content: [{ type: 'text', text: '/tmp' }], cache_control: ephemeral },
            ],
          },
          { role: 'assistant', content: 'Done.' },
          { role: 'user', content: [{ type: 'text', text: 'Thanks', cache_control: ephemeral }] },
        ],
        tools: [{ ...bash, strict: true, cache_control: ephemeral }],
      }),
      settings,
      { stream: false },
    ).http.body as Record<string, any>;
    expect(body.system).toBe('Plain system.');
    expect(body.tools).toEqual([{ ...bash, strict: true, cache_control: ephemeral }]);
    expect(body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Look:' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' }, cache_control: ephemeral }] },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Calling.', cache_control: ephemeral },
          { type: 'tool_use', id: 'toolu_1', name: 'Bash', input: {} },
          { type: 'tool_use', id: 'toolu_2', name: 'Bash', input: { command: 'pwd' }, cache_control: ephemeral },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: 'boom', is_error: true },
          { type: 'tool_result', tool_use_id: 'toolu_2', content: '/tmp', cache_control: ephemeral },
          { type: 'text', text: 'Results:' },
        ],
      },
      { role: 'assistant', content: 'Done.' },
      { role: 'user', content: [{ type: 'text', text: 'Thanks', cache_control: ephemeral }] },
    ]);
  });

  test('malformed inbound options are ignored, never sent; out-of-range positions change nothing', () => {
    const request = {
      model: MODEL,
      messages: [{ role: 'user', content: 'hi' }],
      providerOptions: { anthropic: { inbound: { blocks: [{ message: 9, extras: { cache_control: ephemeral } }, { message: 'x' }, null], tools: 'no', betas: [1, 'b-1'] } } },
    } as unknown as ChatRequest;
    const { http } = anthropic.buildRequest(request, settings, { stream: false });
    expect(http.body).toEqual({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: DEFAULT_MAX_TOKENS });
    expect(http.headers['anthropic-beta']).toBe('b-1');
  });

  test("the client's anthropic-beta values join the configured ones, once each", () => {
    const request = { model: MODEL, messages: [], providerOptions: { anthropic: { inbound: { betas: ['claude-code-20250219', 'b1', 'context-management-2025-06-27'] } } } };
    const { http } = anthropic.buildRequest(request, { apiKey: 'k', headers: { 'Anthropic-Beta': 'b1, b0', 'x-extra': 'y' } }, { stream: false });
    expect(http.headers).toEqual({
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      'x-api-key': 'k',
      'x-extra': 'y',
      'anthropic-beta': 'b1,b0,claude-code-20250219,context-management-2025-06-27',
    });
    expect(anthropic.buildRequest({ model: MODEL, messages: [] }, { apiKey: 'k' }, { stream: false }).http.headers['anthropic-beta']).toBeUndefined();
  });

  test('native thinking meets the thinking rules: budget kept without a conflict warning; adaptive survives a turn without blocks', () => {
    const enabled = build({ reasoningEffort: 'low', maxOutputTokens: 8000, providerOptions: { anthropic: { thinking: { type: 'enabled', budget_tokens: 3000 } } } });
    expect((enabled.http.body as any).thinking).toEqual({ type: 'enabled', budget_tokens: 3000 });
    expect((enabled.http.body as any).max_tokens).toBe(8000);
    expect(enabled.warnings).toEqual([]);

    const toolTurn: ChatRequest['messages'] = [
      { role: 'user', content: 'ls' },
      { role: 'assistant', content: null, toolCalls: [{ id: 'call_1', name: 'Bash', arguments: '{"command":"ls"}' }] },
      { role: 'tool', toolCallId: 'call_1', content: 'a.txt' },
    ];
    // Another provider answered the tool turn (no Anthropic blocks to replay).
    const adaptive = build({ messages: toolTurn, providerOptions: { anthropic: { thinking: { type: 'adaptive' } } } });
    expect((adaptive.http.body as any).thinking).toEqual({ type: 'adaptive' });
    expect(adaptive.warnings).toEqual([]);
    const budgeted = build({ messages: toolTurn, providerOptions: { anthropic: { thinking: { type: 'enabled', budget_tokens: 2048 } } } });
    expect((budgeted.http.body as any).thinking).toBeUndefined();
    expect(budgeted.warnings).toEqual([expect.objectContaining({ setting: 'reasoningEffort' })]);
    // top_k from the client with thinking: dropped, as for any other client.
    const topK = build({ providerOptions: { anthropic: { thinking: { type: 'adaptive' }, top_k: 5 } } });
    expect((topK.http.body as any).top_k).toBeUndefined();
  });

  test('a native output_config.format replaces the JSON-mode system instruction', () => {
    const format = { type: 'json_schema', schema: { type: 'object' } };
    const { http, warnings } = build({ responseFormat: { type: 'json', schema: { type: 'object' } }, providerOptions: { anthropic: { output_config: { format } } } });
    expect((http.body as any).system).toBeUndefined();
    expect((http.body as any).output_config).toEqual({ format });
    expect(warnings).toEqual([]);
  });

  test('a stop sequence is reported as providerMetadata.anthropic.stopSequence, streamed or not', () => {
    const body = { id: 'msg_s', type: 'message', model: MODEL, content: [{ type: 'text', text: '1, 2' }], stop_reason: 'stop_sequence', stop_sequence: ', 3', usage: { input_tokens: 5, output_tokens: 4 } };
    expect(anthropic.parseResponse(anthropicResponseSchema.parse(body), []).providerMetadata).toEqual({ anthropic: { stopSequence: ', 3' } });
    const events = decodeSse(anthropic, [
      sseOf([
        messageStart(),
        ...blockEvents(0, { type: 'text', text: '' }, [{ type: 'text_delta', text: '1, 2' }]),
        { type: 'message_delta', delta: { stop_reason: 'stop_sequence', stop_sequence: ', 3' }, usage: { output_tokens: 4 } },
        { type: 'message_stop' },
      ]),
    ]);
    expect(events.at(-1)).toMatchObject({ type: 'finish', finishReason: { raw: 'stop_sequence' }, providerMetadata: { anthropic: { stopSequence: ', 3' } } });
    expect(anthropic.parseResponse(anthropicResponseSchema.parse({ ...body, stop_reason: 'end_turn' }), []).providerMetadata).toBeUndefined();
  });
});
