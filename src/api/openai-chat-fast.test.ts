// The chat-request fast path (openai-chat-fast.ts) against the zod schema it short-cuts. The one
// invariant: whenever the fast path accepts a body, the schema accepts it too and yields a strictly
// deep-equal value. Checked on every client body in ../shared/fixtures (read in place), hand-written
// cases, and single-field mutations of the accepted bodies (the safety net).
import { describe, expect, test } from 'bun:test';
import { CHAT_BODY, STREAM_BODY } from '../bench/fixtures.ts';
import { listFixtures, loadFixture } from '../testing/fixtures.ts';
import { REMOVE, mutate, pathsOf } from '../testing/mutation.ts';
import { fastChatCompletionRequest } from './openai-chat-fast.ts';
import { parseChatCompletionRequest } from './openai-chat.ts';
import { MODELLED_KEYS, chatCompletionRequestSchema } from './openai-chat-schema.ts';

const CHAT_COMPLETIONS_PROVIDERS = new Set(['openai', 'deepseek', 'xai']);

/** Every chat-completions body a client sends in the fixtures (gateway requests, OpenAI-shaped upstream requests). */
function fixtureBodies(): [name: string, body: unknown][] {
  const bodies: [string, unknown][] = [];
  for (const provider of ['openai', 'deepseek', 'xai', 'anthropic', 'gemini']) {
    for (const name of listFixtures(provider)) {
      const fixture = loadFixture(provider, name);
      if (fixture.gateway_request) bodies.push([`${provider}/${name}.json gateway_request`, fixture.gateway_request]);
      if (CHAT_COMPLETIONS_PROVIDERS.has(provider)) {
        bodies.push([`${provider}/${name}.json upstream_request.body`, fixture.upstream_request.body]);
      }
    }
  }
  return bodies;
}

/** The invariant, for one body. Returns whether the fast path accepted it. */
function expectConsistent(body: unknown): boolean {
  const fast = fastChatCompletionRequest(body);
  if (fast === undefined) return false;
  expect(fast).toBe(body as never); // the same object, not a copy
  const parsed = chatCompletionRequestSchema.safeParse(body);
  expect(parsed.success).toBe(true);
  expect(fast).toStrictEqual(parsed.data!);
  expect(Bun.deepEquals(fast, parsed.data, true)).toBe(true);
  return true;
}

const TYPICAL = {
  model: 'bench/gpt-4o',
  messages: [
    { role: 'system', content: 'You are a concise assistant.' },
    { role: 'user', content: 'Why do HTTP clients keep connections alive?' },
  ],
  temperature: 0.2,
  max_tokens: 256,
};

/** Every modelled field set to a valid value, plus unknown keys and all text roles. */
const KITCHEN_SINK = {
  model: 'openai/gpt-4o',
  messages: [
    { role: 'system', content: 'Be terse.', name: 'ops' },
    { role: 'developer', content: '' },
    { role: 'user', content: 'Hi', name: null },
    { role: 'assistant', content: 'Hello!' },
    { role: 'user', content: 'Again?' },
  ],
  temperature: 2,
  top_p: 0,
  max_tokens: 1,
  max_completion_tokens: 4096,
  seed: -42,
  stream: true,
  stream_options: { include_usage: true, include_obfuscation: false },
  user: 'user-1',
  stop: ['\n\n', 'END'],
  n: 1,
  parallel_tool_calls: false,
  reasoning_effort: 'low',
  tools: null,
  tool_choice: null,
  response_format: null,
  functions: null,
  function_call: null,
  metadata: { trace: 'abc' },
  logprobs: false,
  store: true,
};

const SIMPLE_BODIES: [string, unknown][] = [
  ['typical', TYPICAL],
  ['bench CHAT_BODY', JSON.parse(CHAT_BODY)],
  ['bench STREAM_BODY', JSON.parse(STREAM_BODY)],
  ['kitchen sink', KITCHEN_SINK],
  ['minimal', { model: 'm', messages: [{ role: 'user', content: 'x' }] }],
  ['stop as a string', { ...TYPICAL, stop: 'END' }],
  ['empty stop array', { ...TYPICAL, stop: [] }],
  ['empty stream_options', { ...TYPICAL, stream_options: {} }],
  ['stream_options with nulls', { ...TYPICAL, stream_options: { include_usage: null, include_obfuscation: null } }],
  ['all nullish', { ...TYPICAL, temperature: null, max_tokens: undefined, seed: null, n: null, user: null }],
  ['large safe seed', { ...TYPICAL, seed: Number.MAX_SAFE_INTEGER }],
  ['edge ranges', { ...TYPICAL, temperature: 0, top_p: 1 }],
];

describe('fastChatCompletionRequest accepts the common clean shapes', () => {
  for (const [name, body] of SIMPLE_BODIES) {
    test(name, () => {
      expect(fastChatCompletionRequest(body)).toBe(body as never);
      expect(expectConsistent(body)).toBe(true);
    });
  }

  test('every reasoning_effort value of the schema', () => {
    const schemaValues = (chatCompletionRequestSchema.shape.reasoning_effort as any).unwrap().unwrap().options;
    expect(schemaValues.length).toBeGreaterThan(0);
    for (const value of schemaValues) expect(expectConsistent({ ...TYPICAL, reasoning_effort: value })).toBe(true);
  });

  test('null for every optional modelled key', () => {
    for (const key of MODELLED_KEYS) {
      if (key === 'model' || key === 'messages') continue;
      expect(expectConsistent({ ...TYPICAL, [key]: null })).toBe(true);
      expect(expectConsistent({ ...TYPICAL, [key]: undefined })).toBe(true);
    }
  });

  test('parseChatCompletionRequest gives the same result with and without the fast path', () => {
    for (const [, body] of SIMPLE_BODIES) {
      // A class instance is not a plain object, so the fast path declines it and zod runs instead.
      const viaZod = Object.assign(new (class Body {})(), structuredClone(body));
      expect(fastChatCompletionRequest(viaZod)).toBeUndefined();
      expect(parseChatCompletionRequest(body)).toStrictEqual(parseChatCompletionRequest(viaZod));
    }
  });
});

describe('fixture bodies', () => {
  const bodies = fixtureBodies();

  test('there are fixture bodies to check', () => {
    expect(bodies.length).toBeGreaterThan(40);
  });

  for (const [name, body] of bodies) {
    test(name, () => {
      expectConsistent(body);
    });
  }

  test('plain text fixture bodies take the fast path', () => {
    const accepted = bodies.filter(([, body]) => fastChatCompletionRequest(body) !== undefined);
    const names = accepted.map(([name]) => name);
    expect(names).toContain('openai/chat.json upstream_request.body');
    expect(names).toContain('openai/chat-stream.json upstream_request.body');
    expect(names).toContain('deepseek/chat.json upstream_request.body');
    expect(names).toContain('xai/chat.json upstream_request.body');
    expect(names).toContain('anthropic/chat.json gateway_request');
    expect(names).toContain('gemini/chat-stream.json gateway_request');
  });
});

describe('fastChatCompletionRequest declines (zod decides)', () => {
  const msg = (extra: Record<string, unknown>) => ({
    ...TYPICAL,
    messages: [{ role: 'user', content: 'x', ...extra }],
  });
  const cases: [string, unknown][] = [
    ['null body', null],
    ['undefined body', undefined],
    ['array body', [TYPICAL]],
    ['string body', JSON.stringify(TYPICAL)],
    ['number body', 1],
    ['class instance', Object.assign(new (class X {})(), TYPICAL)],
    ['missing model', { messages: TYPICAL.messages }],
    ['empty model', { ...TYPICAL, model: '' }],
    ['numeric model', { ...TYPICAL, model: 4 }],
    ['null model', { ...TYPICAL, model: null }],
    ['missing messages', { model: 'm' }],
    ['null messages', { ...TYPICAL, messages: null }],
    ['empty messages', { ...TYPICAL, messages: [] }],
    ['messages not an array', { ...TYPICAL, messages: { 0: { role: 'user', content: 'x' } } }],
    ['message not an object', { ...TYPICAL, messages: ['hi'] }],
    ['message is null', { ...TYPICAL, messages: [null] }],
    ['sparse messages', { ...TYPICAL, messages: [, { role: 'user', content: 'x' }] }],
    ['unknown message key (zod strips it)', msg({ foo: 1 })],
    ['tool_calls on a message', msg({ tool_calls: [] })],
    ['tool role', { ...TYPICAL, messages: [{ role: 'tool', content: 'x' }] }],
    ['function role', { ...TYPICAL, messages: [{ role: 'function', content: 'x' }] }],
    ['missing role', { ...TYPICAL, messages: [{ content: 'x' }] }],
    ['content array', { ...TYPICAL, messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }] }] }],
    ['null content', { ...TYPICAL, messages: [{ role: 'assistant', content: null }] }],
    ['missing content', { ...TYPICAL, messages: [{ role: 'user' }] }],
    ['numeric name', msg({ name: 1 })],
    ['temperature too high', { ...TYPICAL, temperature: 2.5 }],
    ['temperature negative', { ...TYPICAL, temperature: -0.1 }],
    ['temperature string', { ...TYPICAL, temperature: '0.2' }],
    ['temperature NaN', { ...TYPICAL, temperature: Number.NaN }],
    ['temperature Infinity', { ...TYPICAL, temperature: Number.POSITIVE_INFINITY }],
    ['top_p too high', { ...TYPICAL, top_p: 1.01 }],
    ['top_p negative', { ...TYPICAL, top_p: -1 }],
    ['max_tokens 0', { ...TYPICAL, max_tokens: 0 }],
    ['max_tokens 1.5', { ...TYPICAL, max_tokens: 1.5 }],
    ['max_tokens string', { ...TYPICAL, max_tokens: '256' }],
    ['max_tokens unsafe', { ...TYPICAL, max_tokens: 2 ** 53 }],
    ['max_completion_tokens 0', { ...TYPICAL, max_completion_tokens: 0 }],
    ['seed 1.5', { ...TYPICAL, seed: 1.5 }],
    ['seed string', { ...TYPICAL, seed: '1' }],
    ['stream string', { ...TYPICAL, stream: 'true' }],
    ['stream_options unknown key', { ...TYPICAL, stream_options: { include_usage: true, foo: 1 } }],
    ['stream_options non-boolean', { ...TYPICAL, stream_options: { include_usage: 1 } }],
    ['stream_options array', { ...TYPICAL, stream_options: [] }],
    ['user number', { ...TYPICAL, user: 1 }],
    ['stop number', { ...TYPICAL, stop: 1 }],
    ['stop with a number', { ...TYPICAL, stop: ['a', 1] }],
    ['n=2', { ...TYPICAL, n: 2 }],
    ['n=0', { ...TYPICAL, n: 0 }],
    ['parallel_tool_calls string', { ...TYPICAL, parallel_tool_calls: 'yes' }],
    ['unknown reasoning_effort', { ...TYPICAL, reasoning_effort: 'max' }],
    ['tools present', { ...TYPICAL, tools: [] }],
    ['tool_choice present', { ...TYPICAL, tool_choice: 'auto' }],
    ['response_format present', { ...TYPICAL, response_format: { type: 'text' } }],
    ['functions present', { ...TYPICAL, functions: [{ name: 'f' }] }],
    ['function_call present', { ...TYPICAL, function_call: 'auto' }],
    ['own __proto__ key (zod drops it)', JSON.parse(`{"__proto__":{"a":1},${JSON.stringify(TYPICAL).slice(1)}`)],
  ];
  for (const [name, body] of cases) {
    test(name, () => {
      expect(fastChatCompletionRequest(body)).toBeUndefined();
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Mutation test: single-field changes of the accepted bodies; every accepted mutant must agree with zod.

const MUTATIONS: unknown[] = [
  REMOVE,
  undefined,
  null,
  '',
  'x',
  'user',
  'assistant',
  'tool',
  'low',
  0,
  -0,
  -1,
  1,
  0.5,
  1.5,
  2,
  3,
  2 ** 53,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  true,
  false,
  [],
  {},
  [1],
  ['a'],
  [null],
  { include_usage: true },
  { role: 'user', content: 'x' },
  [{ role: 'user', content: 'x' }],
  [{ type: 'text', text: 'x' }],
];

describe('mutation safety net', () => {
  test('every single-field mutant the fast path accepts parses identically with zod', () => {
    const roots = [...SIMPLE_BODIES.map(([, body]) => body), ...fixtureBodies().map(([, body]) => body)].filter(
      (body) => fastChatCompletionRequest(body) !== undefined,
    );
    expect(roots.length).toBeGreaterThan(20);
    let accepted = 0;
    let declined = 0;
    for (const root of roots) {
      // Existing nodes, plus every modelled / message / stream_options key even where absent.
      const paths = pathsOf(root);
      for (const key of [...MODELLED_KEYS, 'metadata', 'store']) paths.push([key]);
      for (const key of ['role', 'content', 'name', 'tool_calls', 'refusal', 'extra']) paths.push(['messages', 0, key]);
      paths.push(['stream_options']);
      for (const key of ['include_usage', 'include_obfuscation', 'other']) {
        paths.push(['stream_options', key]);
      }
      for (const at of paths) {
        for (const replacement of MUTATIONS) {
          let mutant: unknown;
          try {
            mutant = mutate(root, at, replacement);
          } catch {
            continue; // the parent does not exist in this root (e.g. no stream_options object)
          }
          if (expectConsistent(mutant)) accepted++;
          else declined++;
        }
      }
    }
    // Both outcomes must actually occur for the net to mean anything.
    expect(accepted).toBeGreaterThan(500);
    expect(declined).toBeGreaterThan(500);
  });
});
