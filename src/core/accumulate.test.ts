import { describe, expect, test } from 'bun:test';
import { accumulate, createAccumulator, mergeProviderMetadata, resultToEvents } from './accumulate.ts';
import type { ChatResult, StreamEvent } from './types.ts';

const events: StreamEvent[] = [
  { type: 'response-start', warnings: [{ type: 'unsupported-setting', setting: 'seed' }], id: 'r1', model: 'm-2025' },
  { type: 'reasoning-delta', delta: 'Let me ' },
  { type: 'reasoning-delta', delta: 'think.', providerMetadata: { anthropic: { signature: 'sig-1' } } },
  { type: 'text-delta', delta: 'Calling ' },
  { type: 'text-delta', delta: 'tools.' },
  { type: 'tool-call-delta', index: 1, id: 'call_b', name: 'g', argumentsDelta: '' },
  { type: 'tool-call-delta', index: 0, id: 'call_a', name: 'f', argumentsDelta: '{"x"', providerMetadata: { gemini: { thoughtSignature: 't' } } },
  { type: 'tool-call-delta', index: 1, argumentsDelta: '{}' },
  { type: 'tool-call-delta', index: 0, id: 'call_a', name: 'f', argumentsDelta: ':1}' },
  {
    type: 'finish',
    finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
    usage: { inputTokens: 10, outputTokens: 5, raw: { prompt_tokens: 10 } },
    providerMetadata: { anthropic: { redacted: false } },
  },
];

const expected: ChatResult = {
  id: 'r1',
  model: 'm-2025',
  text: 'Calling tools.',
  reasoning: 'Let me think.',
  toolCalls: [
    { id: 'call_a', name: 'f', arguments: '{"x":1}', providerMetadata: { gemini: { thoughtSignature: 't' } } },
    { id: 'call_b', name: 'g', arguments: '{}' },
  ],
  finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
  usage: { inputTokens: 10, outputTokens: 5, raw: { prompt_tokens: 10 } },
  warnings: [{ type: 'unsupported-setting', setting: 'seed' }],
  providerMetadata: { anthropic: { signature: 'sig-1', redacted: false } },
};

describe('accumulate', () => {
  test('folds text, reasoning, tool calls by index (id/name from the first fragment) and metadata', () => {
    expect(accumulate(events)).toEqual(expected);
  });

  test('incremental snapshots do not disturb later results', () => {
    const accumulator = createAccumulator();
    events.slice(0, 5).forEach((event) => accumulator.push(event));
    expect(accumulator.result().text).toBe('Calling tools.');
    expect(accumulator.result().finishReason.unified).toBe('other');
    events.slice(5).forEach((event) => accumulator.push(event));
    expect(accumulator.result()).toEqual(expected);
  });

  test('no reasoning → reasoning absent; errors are recorded', () => {
    const result = accumulate([
      { type: 'text-delta', delta: 'The capital' },
      { type: 'error', error: { message: 'boom', errorClass: 'upstream_5xx', retryable: true } },
      { type: 'finish', finishReason: { unified: 'error', raw: undefined }, usage: {} },
    ]);
    expect(result).toEqual({
      text: 'The capital',
      toolCalls: [],
      finishReason: { unified: 'error', raw: undefined },
      usage: {},
      warnings: [],
      error: { message: 'boom', errorClass: 'upstream_5xx', retryable: true },
    });
  });

  test('resultToEvents is the inverse of accumulate', () => {
    expect(accumulate(resultToEvents(expected))).toEqual(expected);
    expect(resultToEvents(expected).map((e) => e.type)).toEqual([
      'response-start', 'reasoning-delta', 'text-delta', 'tool-call-delta', 'tool-call-delta', 'finish',
    ]);
  });

  test('mergeProviderMetadata merges per provider, later fields win, inputs untouched', () => {
    const a = { gemini: { x: 1, y: 1 } };
    expect(mergeProviderMetadata(a, { gemini: { y: 2 }, anthropic: { s: 's' } })).toEqual({
      gemini: { x: 1, y: 2 },
      anthropic: { s: 's' },
    });
    expect(a).toEqual({ gemini: { x: 1, y: 1 } });
    expect(mergeProviderMetadata(undefined, undefined)).toBeUndefined();
  });
});
