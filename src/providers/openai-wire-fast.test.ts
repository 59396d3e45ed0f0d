// The upstream fast paths (openai-wire-fast.ts) against the tolerant zod wire schemas they short-cut.
// The one invariant: whenever a fast path accepts a payload, the schema accepts it too and yields a
// strictly deep-equal value. Checked on every OpenAI/DeepSeek/xAI response body and SSE chunk in
// ../shared/fixtures (read in place), the bench payloads, hand-written cases, and single-field
// mutations of the accepted payloads (the safety net).
import { describe, expect, test } from 'bun:test';
import type { z } from 'zod';
import { COMPLETION_JSON, STREAM_EVENTS } from '../bench/fixtures.ts';
import { listFixtures, loadFixture } from '../testing/fixtures.ts';
import { REMOVE, mutate, pathsOf, type Path } from '../testing/mutation.ts';
import { openai } from './openai.ts';
import { fastOpenAIChunk, fastOpenAIResponse } from './openai-wire-fast.ts';
import { openAIChunkSchema, openAIResponseSchema } from './openai-wire.ts';
import { createSseParser } from './sse.ts';

type Payload = { name: string; data: unknown; kind: 'response' | 'chunk'; error: boolean };

/** SSE `data:` payloads of one stream body, JSON-parsed ([DONE] and comments skipped). */
function ssePayloads(text: string): unknown[] {
  const parser = createSseParser();
  const items = [...parser.push(text), ...parser.end()];
  return items.flatMap((item) => (item.type === 'message' ? [JSON.parse(item.data)] : []));
}

const isErrorBody = (data: unknown) => typeof data === 'object' && data !== null && 'error' in data;

/** Every upstream chat.completion body and chunk payload of the OpenAI-compatible fixtures. */
function fixturePayloads(): Payload[] {
  const payloads: Payload[] = [];
  for (const provider of ['openai', 'deepseek', 'xai']) {
    for (const file of listFixtures(provider)) {
      const { response, rawBody } = loadFixture(provider, file);
      const name = `${provider}/${file}.json`;
      if (response.body_file) {
        const chunks = ssePayloads(new TextDecoder().decode(rawBody));
        chunks.forEach((data, i) => {
          payloads.push({ name: `${name} chunk ${i}`, data, kind: 'chunk', error: isErrorBody(data) });
        });
      } else {
        payloads.push({ name, data: response.body, kind: 'response', error: response.status >= 300 });
      }
    }
  }
  return payloads;
}

const benchResponse = (): unknown => JSON.parse(COMPLETION_JSON);
const benchChunks = (): unknown[] => STREAM_EVENTS.flatMap((event) => ssePayloads(event));

/** The invariant, for one payload against one fast path. Returns whether the fast path accepted it. */
function expectConsistentWith(fast: (data: unknown) => unknown, schema: z.ZodType, data: unknown): boolean {
  const result = fast(data);
  if (result === undefined) return false;
  expect(result).toBe(data as never); // the same object, not a copy
  const parsed = schema.safeParse(data);
  expect(parsed.success).toBe(true);
  expect(result).toStrictEqual(parsed.data as never);
  expect(Bun.deepEquals(result, parsed.data, true)).toBe(true);
  return true;
}

/** Both fast paths on one payload (a response body is checked as a chunk too, and vice versa). */
function expectConsistent(data: unknown): { response: boolean; chunk: boolean } {
  return {
    response: expectConsistentWith(fastOpenAIResponse, openAIResponseSchema, data),
    chunk: expectConsistentWith(fastOpenAIChunk, openAIChunkSchema, data),
  };
}

describe('typical payloads take the fast path', () => {
  test('bench COMPLETION_JSON', () => {
    const data = benchResponse();
    expect(fastOpenAIResponse(data)).toBe(data as never);
    expect(expectConsistent(data).response).toBe(true);
  });

  test('bench STREAM_EVENTS chunks', () => {
    const chunks = benchChunks();
    expect(chunks.length).toBe(STREAM_EVENTS.length - 1); // all but [DONE]
    for (const data of chunks) {
      expect(fastOpenAIChunk(data)).toBe(data as never);
      expect(expectConsistent(data).chunk).toBe(true);
    }
  });

  test('the OpenAI-compatible adapters expose them', () => {
    expect(openai.fastResponse).toBe(fastOpenAIResponse);
    expect(openai.fastChunk).toBe(fastOpenAIChunk);
  });

  const handWritten: [string, unknown, 'response' | 'chunk'][] = [
    ['empty choices', { choices: [] }, 'response'],
    ['chunk without choices', { id: 'x', usage: { prompt_tokens: 1 } }, 'chunk'],
    ['chunk with null choices', { choices: null, usage: null }, 'chunk'],
    ['null message', { choices: [{ index: 0, message: null, finish_reason: null }] }, 'response'],
    [
      'tool calls with string arguments',
      {
        choices: [
          {
            message: {
              content: null,
              tool_calls: [
                { index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } },
                { id: 'call_2', type: 'function', function: null },
              ],
            },
          },
        ],
      },
      'response',
    ],
    [
      'argument fragment delta',
      { choices: [{ index: 0, delta: { tool_calls: [{ index: 1, function: { arguments: '"b' } }] } }] },
      'chunk',
    ],
    [
      'full usage',
      {
        usage: {
          prompt_tokens: 10,
          completion_tokens: 5,
          total_tokens: 15,
          prompt_tokens_details: { cached_tokens: 2, cache_write_tokens: null, audio_tokens: 0 },
          completion_tokens_details: { reasoning_tokens: 3 },
          cost_in_usd_ticks: 123,
        },
        choices: [],
      },
      'response',
    ],
  ];
  for (const [name, data, kind] of handWritten) {
    test(name, () => {
      const accepted = expectConsistent(data);
      expect(accepted[kind]).toBe(true);
    });
  }
});

describe('fixture payloads', () => {
  const payloads = fixturePayloads();

  test('there are fixture payloads to check', () => {
    expect(payloads.filter((p) => p.kind === 'response').length).toBeGreaterThan(20);
    expect(payloads.filter((p) => p.kind === 'chunk').length).toBeGreaterThan(50);
  });

  for (const payload of payloads) {
    test(payload.name, () => {
      const accepted = expectConsistent(payload.data);
      // Every successful body / chunk in the fixtures is already clean: it must take the fast path.
      if (!payload.error) expect(accepted[payload.kind]).toBe(true);
    });
  }
});

describe('the fast paths decline (zod decides)', () => {
  const message = (fields: Record<string, unknown>) => ({ choices: [{ index: 0, message: fields }] });
  const delta = (fields: Record<string, unknown>) => ({ choices: [{ index: 0, delta: fields }] });
  const call = (fields: Record<string, unknown>) => message({ tool_calls: [fields] });
  const both: [string, unknown][] = [
    ['null', null],
    ['undefined', undefined],
    ['string', 'data'],
    ['number', 1],
    ['array', [{ choices: [] }]],
    ['class instance', Object.assign(new (class X {})(), { choices: [] })],
    ['own __proto__ key', JSON.parse('{"__proto__":{"a":1},"choices":[]}')],
    ['numeric id', { id: 1, choices: [] }],
    ['object model', { model: {}, choices: [] }],
    ['choices not an array', { choices: {} }],
    ['choices a string', { choices: 'none' }],
    ['choice not an object', { choices: [1] }],
    ['choice null', { choices: [null] }],
    ['string index', { choices: [{ index: '0' }] }],
    ['numeric finish_reason', { choices: [{ finish_reason: 1 }] }],
    ['usage a string', { choices: [], usage: 'x' }],
    ['usage with string counts', { choices: [], usage: { prompt_tokens: '10' } }],
    ['usage with NaN', { choices: [], usage: { total_tokens: Number.NaN } }],
    ['usage with Infinity', { choices: [], usage: { completion_tokens: Number.POSITIVE_INFINITY } }],
    ['prompt details not an object', { choices: [], usage: { prompt_tokens_details: 5 } }],
    ['string cached_tokens', { choices: [], usage: { prompt_tokens_details: { cached_tokens: '2' } } }],
    ['string cache_write_tokens', { choices: [], usage: { prompt_tokens_details: { cache_write_tokens: '2' } } }],
    ['string reasoning_tokens', { choices: [], usage: { completion_tokens_details: { reasoning_tokens: '3' } } }],
    ['completion details an array', { choices: [], usage: { completion_tokens_details: [] } }],
  ];
  const responseOnly: [string, unknown][] = [
    ['no choices', { id: 'x' }],
    ['null choices', { choices: null }],
    ['message a string', { choices: [{ message: 'hi' }] }],
    ['message an array', { choices: [{ message: [] }] }],
    ['numeric content', message({ content: 1 })],
    ['object content', message({ content: { text: 'x' } })],
    ['array content', message({ content: [{ type: 'text', text: 'x' }] })],
    ['numeric reasoning_content', message({ reasoning_content: 1 })],
    ['boolean reasoning', message({ reasoning: true })],
    ['numeric refusal', message({ refusal: 0 })],
    ['tool_calls an object', message({ tool_calls: {} })],
    ['tool call not an object', message({ tool_calls: ['x'] })],
    ['sparse tool_calls', message({ tool_calls: [, { id: 'a' }] })],
    ['string tool call index', call({ index: '0' })],
    ['numeric tool call id', call({ id: 7 })],
    ['numeric tool call type', call({ type: 1 })],
    ['function a string', call({ function: 'f' })],
    ['numeric function name', call({ function: { name: 1 } })],
    ['arguments as an object', call({ function: { name: 'f', arguments: { a: 1 } } })],
    ['arguments as a number', call({ function: { name: 'f', arguments: 1 } })],
  ];
  const chunkOnly: [string, unknown][] = [
    ['delta a string', { choices: [{ delta: 'hi' }] }],
    ['numeric delta content', delta({ content: 1 })],
    ['delta arguments as an object', delta({ tool_calls: [{ index: 0, function: { arguments: { a: 1 } } }] })],
    ['delta usage with string counts', { choices: [], usage: { prompt_tokens: '1' } }],
  ];
  for (const [name, data] of both) {
    test(`${name} (both)`, () => {
      expect(fastOpenAIResponse(data)).toBeUndefined();
      expect(fastOpenAIChunk(data)).toBeUndefined();
    });
  }
  for (const [name, data] of responseOnly) {
    test(`${name} (response)`, () => expect(fastOpenAIResponse(data)).toBeUndefined());
  }
  for (const [name, data] of chunkOnly) {
    test(`${name} (chunk)`, () => expect(fastOpenAIChunk(data)).toBeUndefined());
  }
  test('message fields are not checked on a chunk, delta fields not on a response', () => {
    // A response's choices carry `message`; `delta` is an unknown key there (kept as is), and vice versa.
    expect(expectConsistent({ choices: [{ delta: 'x' }] }).response).toBe(true);
    expect(expectConsistent({ choices: [{ message: 'x' }] }).chunk).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Mutation test: single-field changes of the accepted payloads; every accepted mutant must agree with zod.

const MUTATIONS: unknown[] = [
  REMOVE,
  undefined,
  null,
  '',
  'x',
  '{"a":1}',
  0,
  -1,
  1.5,
  3,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  true,
  [],
  {},
  [1],
  [null],
  ['x'],
  { a: 1 },
  { content: 'x' },
  { index: 0, delta: { content: 'x' } },
  [{ index: 0, message: { content: 'x' } }],
  [{ index: 0, function: { name: 'f', arguments: { a: 1 } } }],
];

/** Modelled paths that may be absent from a given payload. */
function modelledPaths(): Path[] {
  const out: Path[] = [['id'], ['model'], ['choices'], ['usage'], ['extra']];
  const usageKeys = ['prompt_tokens', 'completion_tokens', 'total_tokens'];
  for (const key of [...usageKeys, 'prompt_tokens_details', 'completion_tokens_details']) out.push(['usage', key]);
  for (const key of ['cached_tokens', 'cache_write_tokens']) out.push(['usage', 'prompt_tokens_details', key]);
  out.push(['usage', 'completion_tokens_details', 'reasoning_tokens']);
  for (const container of ['message', 'delta']) {
    out.push(['choices', 0, container], ['choices', 0, 'index'], ['choices', 0, 'finish_reason']);
    for (const key of ['content', 'reasoning_content', 'reasoning', 'refusal', 'tool_calls']) {
      out.push(['choices', 0, container, key]);
    }
    for (const key of ['index', 'id', 'type', 'function']) out.push(['choices', 0, container, 'tool_calls', 0, key]);
    for (const key of ['name', 'arguments']) out.push(['choices', 0, container, 'tool_calls', 0, 'function', key]);
  }
  return out;
}

describe('mutation safety net', () => {
  test('every single-field mutant a fast path accepts parses identically with zod', () => {
    // One root per distinct shape (most stream chunks differ only in their text).
    const shapes = new Map<string, unknown>();
    for (const data of [benchResponse(), ...benchChunks(), ...fixturePayloads().map((p) => p.data)]) {
      if (fastOpenAIResponse(data) === undefined && fastOpenAIChunk(data) === undefined) continue;
      const shape = JSON.stringify(data, (_, v) => (typeof v === 'string' ? 's' : typeof v === 'number' ? 0 : v));
      if (!shapes.has(shape)) shapes.set(shape, data);
    }
    const roots = [...shapes.values()];
    expect(roots.length).toBeGreaterThan(30);
    const counts = { response: [0, 0], chunk: [0, 0] };
    for (const root of roots) {
      for (const at of [...pathsOf(root), ...modelledPaths()]) {
        for (const replacement of MUTATIONS) {
          let mutant: unknown;
          try {
            mutant = mutate(root, at, replacement);
          } catch {
            continue; // the parent does not exist in this root
          }
          const accepted = expectConsistent(mutant);
          counts.response[accepted.response ? 0 : 1]!++;
          counts.chunk[accepted.chunk ? 0 : 1]!++;
        }
      }
    }
    // Both outcomes must actually occur for the net to mean anything.
    for (const [accepted, declined] of Object.values(counts)) {
      expect(accepted).toBeGreaterThan(1000);
      expect(declined).toBeGreaterThan(1000);
    }
  });
});
