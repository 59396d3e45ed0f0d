import { describe, expect, test } from 'bun:test';
import type { ChatResult, ProviderErrorClass, ProviderErrorInfo, StreamEvent } from '../core/types.ts';
import { anthropic } from '../providers/anthropic.ts';
import { loadFixture } from '../testing/fixtures.ts';
import {
  ANTHROPIC_SSE_PING,
  type AnthropicSSEEvent,
  REPLAY_STATE_PREFIX,
  anthropicClientError,
  anthropicPing,
  createAnthropicStreamEncoder,
  decodeReplayState,
  encodeReplayState,
  formatAnthropicSSE,
  parseToolInput,
  providerErrorToAnthropic,
  toAnthropicMessage,
  toAnthropicStopReason,
} from './anthropic-messages.ts';

const ctx = { id: 'msg_gw', model: 'gw-model' };

function encodeAll(events: StreamEvent[], options: Partial<Parameters<typeof createAnthropicStreamEncoder>[0]> = {}) {
  const encoder = createAnthropicStreamEncoder({ ...ctx, ...options });
  const out = events.flatMap((event) => encoder.encode(event));
  return [...out, ...encoder.finish()];
}

/** `event:data-type:index:block-or-delta-type`, the skeleton of a stream. */
const skeleton = (events: AnthropicSSEEvent[]) =>
  events.map(({ event, data }) => {
    const detail = (data.content_block ?? data.delta) as { type?: string } | undefined;
    return [event, data.index, event === 'message_delta' ? undefined : detail?.type].filter((x) => x !== undefined).join(':');
  });

const result = (overrides: Partial<ChatResult>): ChatResult => ({
  text: '',
  toolCalls: [],
  finishReason: { unified: 'stop', raw: 'stop' },
  usage: {},
  warnings: [],
  ...overrides,
});

// ---------------------------------------------------------------------------------------------
// Real Anthropic streams, mirrored: decode each fixture into StreamEvents with the Anthropic upstream
// adapter, encode them again, and compare with the fixture event by event.

function parseSSE(raw: Uint8Array): AnthropicSSEEvent[] {
  return new TextDecoder()
    .decode(raw)
    .split('\n\n')
    .filter((chunk) => chunk.trim())
    .map((chunk) => {
      const event = /^event: (.*)$/m.exec(chunk)![1]!;
      return { event, data: JSON.parse(/^data: (.*)$/m.exec(chunk)![1]!) };
    });
}

/** Decoded by the real Anthropic upstream adapter, so this also checks the metadata convention both sides share. */
function toStreamEvents(wire: AnthropicSSEEvent[]): StreamEvent[] {
  const decoder = anthropic.createStreamDecoder([]);
  return [...wire.flatMap(({ data }) => decoder.push(anthropic.chunkSchema.parse(data))), ...decoder.end()];
}

/** What we deliberately do not reproduce: pings, `caller`, Anthropic's leading empty input_json_delta. */
function normalise(wire: AnthropicSSEEvent[]): AnthropicSSEEvent[] {
  return wire
    .filter(({ event, data }) => event !== 'ping' && (data.delta as { partial_json?: string })?.partial_json !== '')
    .map(({ event, data }) => {
      const block = data.content_block as Record<string, unknown> | undefined;
      if (!block) return { event, data };
      const { caller: _caller, ...rest } = block;
      return { event, data: { ...data, content_block: rest } };
    });
}

describe('stream encoder reproduces real Anthropic streams', () => {
  for (const name of ['chat-stream', 'thinking-stream', 'tool-call-stream', 'stream-error-overloaded']) {
    test(name, () => {
      const fixture = normalise(parseSSE(loadFixture('anthropic', name).rawBody));
      const encoded = encodeAll(toStreamEvents(fixture), { provider: 'anthropic' });
      expect(skeleton(encoded)).toEqual(skeleton(fixture));
      // Everything after message_start is equal, data included (the error message names the provider).
      const rest = (events: AnthropicSSEEvent[]) => events.slice(1).filter(({ event }) => event !== 'error');
      expect(rest(encoded)).toEqual(rest(fixture));
      const fixtureStart = fixture[0]!.data.message as Record<string, unknown>;
      expect(Object.keys(encoded[0]!.data.message as object).sort()).toEqual(
        Object.keys(fixtureStart).sort(),
      );
      if (name === 'stream-error-overloaded') {
        expect(encoded.at(-1)).toEqual({
          event: 'error',
          data: {
            type: 'error',
            error: {
              type: 'overloaded_error',
              message: "The upstream provider 'anthropic' is overloaded. Please retry later. Upstream message: Overloaded",
            },
          },
        });
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------

describe('createAnthropicStreamEncoder', () => {
  const finish: StreamEvent = { type: 'finish', finishReason: { unified: 'stop', raw: 'stop' }, usage: {} };

  test('message_start comes first even without response-start; placeholder usage from the estimate', () => {
    const events = encodeAll([{ type: 'text-delta', delta: 'hi' }, finish], { inputTokensEstimate: 321 });
    expect(events[0]).toEqual({
      event: 'message_start',
      data: {
        type: 'message_start',
        message: {
          id: 'msg_gw',
          type: 'message',
          role: 'assistant',
          model: 'gw-model',
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: 321, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 },
        },
      },
    });
    // No usage from the upstream: output estimated from the characters sent, input fields left out.
    expect(events.at(-2)!.data).toEqual({
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: 1 },
    });
    expect(events.at(-1)).toEqual({ event: 'message_stop', data: { type: 'message_stop' } });
  });

  test('interleaved blocks: each block closes before the next opens; indices increase', () => {
    const events = encodeAll([
      { type: 'reasoning-delta', delta: 'a' },
      { type: 'text-delta', delta: 'b' },
      { type: 'reasoning-delta', delta: 'c' },
      { type: 'tool-call-delta', index: 0, id: 't0', name: 'f', argumentsDelta: '{}' },
      { type: 'tool-call-delta', index: 1, id: 't1', name: 'g', argumentsDelta: '{"x"' },
      { type: 'tool-call-delta', index: 1, argumentsDelta: ':1}' },
      { type: 'text-delta', delta: 'd' },
      { ...finish, finishReason: { unified: 'tool-calls', raw: 'tool_calls' } },
    ]);
    expect(skeleton(events)).toEqual([
      'message_start',
      'content_block_start:0:thinking',
      'content_block_delta:0:thinking_delta',
      'content_block_stop:0',
      'content_block_start:1:text',
      'content_block_delta:1:text_delta',
      'content_block_stop:1',
      'content_block_start:2:thinking',
      'content_block_delta:2:thinking_delta',
      'content_block_stop:2',
      'content_block_start:3:tool_use',
      'content_block_delta:3:input_json_delta',
      'content_block_stop:3',
      'content_block_start:4:tool_use',
      'content_block_delta:4:input_json_delta',
      'content_block_delta:4:input_json_delta',
      'content_block_stop:4',
      'content_block_start:5:text',
      'content_block_delta:5:text_delta',
      'content_block_stop:5',
      'message_delta',
      'message_stop',
    ]);
    expect(events[10]!.data.content_block).toEqual({ type: 'tool_use', id: 't0', name: 'f', input: {} });
    expect(events.at(-2)!.data.delta).toEqual({ stop_reason: 'tool_use', stop_sequence: null });
  });

  test('Anthropic thinking list: each new entry signs and closes its block; undisplayed and redacted blocks come whole', () => {
    const signed = { type: 'thinking', thinking: 'Plan.', signature: 'sig-1' } as const;
    const omitted = { type: 'thinking', thinking: '', signature: 'omitted-display' } as const;
    const redacted = { type: 'redacted_thinking', data: 'opaque' } as const;
    const list = (...thinking: object[]) => ({ anthropic: { thinking } });
    const events = encodeAll([
      { type: 'reasoning-delta', delta: 'Plan.' },
      { type: 'reasoning-delta', delta: '', providerMetadata: list(signed) },
      { type: 'reasoning-delta', delta: '', providerMetadata: list(signed, omitted) },
      { type: 'reasoning-delta', delta: '', providerMetadata: list(signed, omitted, redacted) },
      // A repeated list (e.g. the same metadata again at finish) adds nothing.
      { type: 'reasoning-delta', delta: '', providerMetadata: list(signed, omitted, redacted) },
      { type: 'text-delta', delta: 'ok' },
      finish,
    ]);
    expect(events.slice(1, 11).map(({ data }) => data)).toEqual([
      { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'Plan.' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'sig-1' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'content_block_start', index: 1, content_block: { type: 'thinking', thinking: '', signature: '' } },
      { type: 'content_block_delta', index: 1, delta: { type: 'signature_delta', signature: 'omitted-display' } },
      { type: 'content_block_stop', index: 1 },
      { type: 'content_block_start', index: 2, content_block: { type: 'redacted_thinking', data: 'opaque' } },
      { type: 'content_block_stop', index: 2 },
      { type: 'content_block_start', index: 3, content_block: { type: 'text', text: '' } },
    ]);
  });

  test('an Anthropic thinking entry whose text was not streamed is sent whole', () => {
    const events = encodeAll([
      { type: 'reasoning-delta', delta: '', providerMetadata: { anthropic: { thinking: [{ type: 'thinking', thinking: 'Whole.', signature: 's' }] } } },
      finish,
    ]);
    expect(skeleton(events).slice(1, 5)).toEqual([
      'content_block_start:0:thinking',
      'content_block_delta:0:thinking_delta',
      'content_block_delta:0:signature_delta',
      'content_block_stop:0',
    ]);
  });

  test('other providers: per-call state before its tool_use, message-level state last, decodable', () => {
    const events = encodeAll([
      { type: 'text-delta', delta: 'x' },
      { type: 'tool-call-delta', index: 0, name: 'f', argumentsDelta: '{}', providerMetadata: { gemini: { thoughtSignature: 's1' } } },
      { type: 'tool-call-delta', index: 1, id: 'c1', name: 'g', argumentsDelta: '{' },
      { type: 'tool-call-delta', index: 1, argumentsDelta: '}', providerMetadata: { gemini: { thoughtSignature: 's2' } } },
      { ...finish, providerMetadata: { gemini: { thoughtSignature: 'm' }, anthropic: { ignored: true } } },
    ]);
    expect(skeleton(events).slice(4, 9)).toEqual([
      'content_block_start:1:thinking',
      'content_block_delta:1:signature_delta',
      'content_block_stop:1',
      'content_block_start:2:tool_use',
      'content_block_delta:2:input_json_delta',
    ]);
    const signatures = events.flatMap(({ data }) => {
      const delta = data.delta as { type?: string; signature?: string } | undefined;
      return delta?.type === 'signature_delta' ? [delta.signature!] : [];
    });
    expect(signatures.every((signature) => signature.startsWith(REPLAY_STATE_PREFIX))).toBe(true);
    expect(signatures.map(decodeReplayState)).toEqual([
      { calls: { toolu_gw_0: { gemini: { thoughtSignature: 's1' } } } },
      { message: { gemini: { thoughtSignature: 'm' } }, calls: { c1: { gemini: { thoughtSignature: 's2' } } } },
    ]);
  });

  test('usage in message_delta: Anthropic semantics, cumulative totals, thinking tokens', () => {
    const events = encodeAll([
      { type: 'text-delta', delta: 'x' },
      {
        type: 'finish',
        finishReason: { unified: 'length', raw: 'length' },
        usage: { inputTokens: 100, cachedInputTokens: 60, cacheWriteInputTokens: 10, outputTokens: 50, reasoningTokens: 20 },
      },
    ]);
    expect(events.at(-2)!.data).toEqual({
      type: 'message_delta',
      delta: { stop_reason: 'max_tokens', stop_sequence: null },
      usage: {
        input_tokens: 30,
        cache_read_input_tokens: 60,
        cache_creation_input_tokens: 10,
        output_tokens: 50,
        output_tokens_details: { thinking_tokens: 20 },
      },
    });
  });

  test('stop_sequence from an Anthropic upstream, with the sequence when known', () => {
    const events = encodeAll([
      {
        type: 'finish',
        finishReason: { unified: 'stop', raw: 'stop_sequence' },
        usage: {},
        providerMetadata: { anthropic: { stopSequence: 'END' } },
      },
    ]);
    expect(events.at(-2)!.data.delta).toEqual({ stop_reason: 'stop_sequence', stop_sequence: 'END' });
  });

  test('errors: the error event ends the encoding; finish() after it adds nothing', () => {
    const encoder = createAnthropicStreamEncoder({ ...ctx, provider: 'openai' });
    encoder.encode({ type: 'text-delta', delta: 'partial' });
    const error: ProviderErrorInfo = { message: 'slow down', errorClass: 'rate_limit', retryable: true };
    expect(encoder.encode({ type: 'error', error })).toEqual([
      {
        event: 'error',
        data: {
          type: 'error',
          error: { type: 'rate_limit_error', message: "The upstream provider 'openai' is rate limiting requests. Please retry later." },
        },
      },
    ]);
    expect(encoder.failed).toBe(true);
    expect(encoder.encode({ type: 'finish', finishReason: { unified: 'error', raw: undefined }, usage: {} })).toEqual([]);
    expect(encoder.finish()).toEqual([]);
    expect(encoder.done).toBe(false);
  });

  test('a finish with unified error and no error event still fails the stream', () => {
    const events = encodeAll([{ type: 'finish', finishReason: { unified: 'error', raw: undefined }, usage: {} }]);
    expect(events.map(({ event }) => event)).toEqual(['message_start', 'error']);
    expect(events[1]!.data).toMatchObject({ type: 'error', error: { type: 'api_error' } });
  });

  test('finish() on a stream that never finished: an error event, not a fake end_turn', () => {
    expect(encodeAll([]).map(({ event }) => event)).toEqual(['error']);
    const events = encodeAll([{ type: 'text-delta', delta: 'cut' }]);
    expect(events.at(-1)).toEqual({
      event: 'error',
      data: { type: 'error', error: { type: 'api_error', message: 'The upstream response ended before it was complete.' } },
    });
    const encoder = createAnthropicStreamEncoder(ctx);
    encoder.encode(finish);
    expect(encoder.done).toBe(true);
    expect(encoder.finish()).toEqual([]);
    expect(encoder.encode({ type: 'text-delta', delta: 'late' })).toEqual([]);
  });

  test('formatAnthropicSSE, ping', () => {
    expect(formatAnthropicSSE({ event: 'message_stop', data: { type: 'message_stop' } })).toBe(
      'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    );
    expect(anthropicPing()).toEqual({ event: 'ping', data: { type: 'ping' } });
    expect(ANTHROPIC_SSE_PING).toBe('event: ping\ndata: {"type":"ping"}\n\n');
  });
});

// ---------------------------------------------------------------------------------------------

describe('toAnthropicMessage', () => {
  test('text only; usage from the cache-write fixture in Anthropic semantics', () => {
    const message = toAnthropicMessage(
      result({ text: 'No.', usage: { inputTokens: 18792, cachedInputTokens: 0, cacheWriteInputTokens: 18750, outputTokens: 88 } }),
      ctx,
    );
    expect(message).toEqual({
      id: 'msg_gw',
      type: 'message',
      role: 'assistant',
      model: 'gw-model',
      content: [{ type: 'text', text: 'No.' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 42, cache_creation_input_tokens: 18750, cache_read_input_tokens: 0, output_tokens: 88 },
    });
  });

  test('no usage reported: the input estimate, output 0; empty reply has no content blocks', () => {
    const message = toAnthropicMessage(result({}), { ...ctx, inputTokensEstimate: 77 });
    expect(message.content).toEqual([]);
    expect(message.usage).toEqual({ input_tokens: 77, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 0 });
  });

  test('Anthropic thinking blocks verbatim and in order when the upstream gave them', () => {
    const thinking = [
      { type: 'thinking', thinking: 'one', signature: 's1' },
      { type: 'redacted_thinking', data: 'r' },
    ];
    const message = toAnthropicMessage(result({ reasoning: 'one', text: 'ok', providerMetadata: { anthropic: { thinking } } }), ctx);
    expect(message.content).toEqual([...thinking, { type: 'text', text: 'ok' }]);
  });

  test('tool calls: synthetic ids, invalid JSON arguments become {}, stop tool_use; Gemini state first', () => {
    const message = toAnthropicMessage(
      result({
        toolCalls: [
          { id: '', name: 'f', arguments: '{"a":1}', providerMetadata: { gemini: { thoughtSignature: 'c' } } },
          { id: 'call_2', name: 'g', arguments: '{"broken' },
        ],
        finishReason: { unified: 'stop', raw: 'STOP' },
        providerMetadata: { gemini: { thoughtSignature: 'm' } },
      }),
      ctx,
    );
    const content = message.content as Record<string, unknown>[];
    expect(content.map((block) => block.type)).toEqual(['thinking', 'tool_use', 'tool_use']);
    expect(content[0]!.thinking).toBe('');
    expect(decodeReplayState(content[0]!.signature as string)).toEqual({
      message: { gemini: { thoughtSignature: 'm' } },
      calls: { toolu_gw_0: { gemini: { thoughtSignature: 'c' } } },
    });
    expect(content.slice(1)).toEqual([
      { type: 'tool_use', id: 'toolu_gw_0', name: 'f', input: { a: 1 } },
      { type: 'tool_use', id: 'call_2', name: 'g', input: {} },
    ]);
    expect(message.stop_reason).toBe('tool_use');
  });

  test('a plain Gemini reply keeps its text first; the state block sits between text and calls', () => {
    const gemini = { gemini: { thoughtSignature: 'm' } };
    const plain = toAnthropicMessage(result({ text: 'pong', providerMetadata: gemini }), ctx);
    expect((plain.content as { type: string }[]).map((block) => block.type)).toEqual(['text', 'thinking']);
    const withCall = toAnthropicMessage(
      result({ reasoning: 'r', text: 't', toolCalls: [{ id: 'c', name: 'f', arguments: '{}' }], providerMetadata: gemini }),
      ctx,
    );
    expect(withCall.content).toEqual([
      { type: 'thinking', thinking: 'r', signature: '' },
      { type: 'text', text: 't' },
      { type: 'thinking', thinking: '', signature: encodeReplayState({ message: gemini }) },
      { type: 'tool_use', id: 'c', name: 'f', input: {} },
    ]);
  });

  test('reasoning without any signature (DeepSeek): a thinking block with an empty signature', () => {
    const message = toAnthropicMessage(result({ reasoning: 'think', text: 'ok' }), ctx);
    expect(message.content).toEqual([
      { type: 'thinking', thinking: 'think', signature: '' },
      { type: 'text', text: 'ok' },
    ]);
  });
});

describe('toAnthropicStopReason / parseToolInput', () => {
  test.each([
    ['stop', 'stop', false, 'end_turn'],
    ['stop', 'stop', true, 'tool_use'],
    ['length', 'length', false, 'max_tokens'],
    ['length', 'model_context_window_exceeded', false, 'model_context_window_exceeded'],
    ['tool-calls', 'tool_calls', true, 'tool_use'],
    ['content-filter', 'SAFETY', false, 'refusal'],
    ['other', 'pause_turn', false, 'pause_turn'],
    ['other', 'MALFORMED', false, 'end_turn'],
    ['error', 'end_turn', false, 'end_turn'],
  ] as const)('%s (%s, tools: %p) → %s', (unified, raw, hasTools, expected) => {
    expect(toAnthropicStopReason({ unified, raw }, hasTools)).toBe(expected);
  });

  test('tool input must be a JSON object', () => {
    expect(parseToolInput('{"a":[1]}')).toEqual({ a: [1] });
    expect(parseToolInput('')).toEqual({});
    expect(parseToolInput('[1]')).toEqual({});
    expect(parseToolInput('"x"')).toEqual({});
  });
});

// ---------------------------------------------------------------------------------------------

describe('providerErrorToAnthropic', () => {
  const info = (errorClass: ProviderErrorClass, extra: Partial<ProviderErrorInfo> = {}): ProviderErrorInfo => ({
    message: 'upstream says no',
    errorClass,
    retryable: false,
    ...extra,
  });

  test.each([
    ['bad_request', 400, 'invalid_request_error'],
    ['unsupported_input', 400, 'invalid_request_error'],
    ['content_filter', 400, 'invalid_request_error'],
    ['model_not_found', 404, 'not_found_error'],
    ['authentication', 502, 'api_error'],
    ['permission', 502, 'api_error'],
    ['quota', 502, 'api_error'],
    ['rate_limit', 429, 'rate_limit_error'],
    ['overloaded', 529, 'overloaded_error'],
    ['upstream_5xx', 502, 'api_error'],
    ['network', 502, 'api_error'],
    ['invalid_response', 502, 'api_error'],
    ['timeout', 504, 'timeout_error'],
  ] as const)('%s → %i %s', (errorClass, status, type) => {
    const mapped = providerErrorToAnthropic(info(errorClass), 'openai');
    expect(mapped.status).toBe(status);
    expect(mapped.body).toEqual({ type: 'error', error: { type, message: expect.any(String) } });
  });

  test('client-fixable errors keep the upstream message, prefixed by the provider', () => {
    expect(providerErrorToAnthropic(info('bad_request'), 'gemini').body.error.message).toBe('gemini: upstream says no');
  });

  test("upstream account failures: a fixed message (never the upstream's), and no client retry", () => {
    const mapped = providerErrorToAnthropic(info('authentication', { message: 'Incorrect API key sk-abc…' }), 'openai');
    expect(mapped.body.error.message).toBe(
      "The upstream provider 'openai' rejected the gateway's credentials. This is a gateway configuration problem.",
    );
    expect(mapped.headers).toEqual({ 'x-should-retry': 'false' });
  });

  test('retry-after in whole seconds for rate limits and overload', () => {
    expect(providerErrorToAnthropic(info('rate_limit', { retryAfterMs: 1200 }), 'x').headers).toEqual({ 'retry-after': '2' });
    expect(providerErrorToAnthropic(info('overloaded', { retryAfterMs: 3000 }), 'x').headers).toEqual({ 'retry-after': '3' });
  });

  test("context length: Anthropic's 'prompt is too long' wording, which Claude Code reacts to", () => {
    const anthropic = providerErrorToAnthropic(info('context_length', { message: 'prompt is too long: 208310 tokens > 200000 maximum' }), 'anthropic');
    expect(anthropic.body.error.message).toBe('prompt is too long: 208310 tokens > 200000 maximum');
    const openai = providerErrorToAnthropic(info('context_length', { message: "This model's maximum context length is 128000 tokens." }), 'openai');
    expect(openai.body.error.message).toBe("prompt is too long: openai: This model's maximum context length is 128000 tokens.");
  });

  test('long upstream messages are clipped', () => {
    const mapped = providerErrorToAnthropic(info('bad_request', { message: 'x'.repeat(5000) }), 'p');
    expect(mapped.body.error.message.length).toBeLessThan(1100);
  });
});

describe('anthropicClientError', () => {
  test.each([
    [400, 'invalid_request_error'],
    [401, 'authentication_error'],
    [403, 'permission_error'],
    [404, 'not_found_error'],
    [413, 'request_too_large'],
    [429, 'rate_limit_error'],
    [500, 'api_error'],
    [503, 'api_error'],
    [422, 'invalid_request_error'],
  ] as const)('%i → %s', (status, type) => {
    expect(anthropicClientError(status, 'msg')).toEqual({ status, body: { type: 'error', error: { type, message: 'msg' } }, headers: {} });
  });

  test('explicit type wins', () => {
    expect(anthropicClientError(402, 'Budget exceeded.', 'billing_error').body.error.type).toBe('billing_error');
  });
});
