import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import OpenAI from 'openai';
import type { ChatResult, ProviderErrorClass, ProviderErrorInfo, StreamEvent } from '../core/types.ts';
import {
  type ParsedChatRequest,
  SSE_DONE,
  createChunkEncoder,
  formatSSE,
  parseChatCompletionRequest,
  providerErrorToOpenAI,
  toChatCompletion,
} from './openai-chat.ts';

const user = (content: unknown) => ({ role: 'user', content });
const minimal = { model: 'gpt-4o', messages: [user('hi')] };

function parseOk(body: unknown) {
  const result = parseChatCompletionRequest(body);
  if (!result.ok) throw new Error(`expected ok, got ${JSON.stringify(result.error)}`);
  return result.value;
}

function parseError(body: unknown) {
  const result = parseChatCompletionRequest(body);
  if (result.ok) throw new Error('expected a validation error');
  return result.error;
}

/** A request using every modelled field, shaped as the openai SDK serialises it. */
const fullRequest = {
  model: 'openai/gpt-4o',
  messages: [
    { role: 'system', content: 'You are terse.' },
    { role: 'developer', content: [{ type: 'text', text: 'Rule one.' }, { type: 'text', text: 'Rule two.' }], name: 'ops' },
    {
      role: 'user',
      name: 'ann',
      content: [
        { type: 'text', text: 'What is in this image, and the weather in Paris and Rome?' },
        { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' } },
        { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
      ],
    },
    {
      role: 'assistant',
      content: null,
      refusal: null,
      annotations: [],
      reasoning_content: 'Two cities: two calls.',
      provider_metadata: { anthropic: { signature: 'sig-1' } },
      tool_calls: [
        {
          id: 'call_1',
          type: 'function',
          function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
          provider_metadata: { gemini: { thoughtSignature: 'c2ln' } },
        },
        { id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } },
      ],
    },
    { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' },
    { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: '{"temp":' }, { type: 'text', text: '25}' }] },
    { role: 'assistant', content: [{ type: 'text', text: 'Paris 21, Rome 25.' }] },
    { role: 'user', content: 'Thanks' },
  ],
  tools: [
    {
      type: 'function',
      function: {
        name: 'get_weather',
        description: 'Current weather',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        strict: true,
      },
    },
    { type: 'function', function: { name: 'now' } },
  ],
  tool_choice: { type: 'function', function: { name: 'get_weather' } },
  parallel_tool_calls: true,
  response_format: {
    type: 'json_schema',
    json_schema: { name: 'answer', description: 'An answer', schema: { type: 'object' }, strict: true },
  },
  stop: 'END',
  seed: 42,
  temperature: 0.2,
  top_p: 0.9,
  max_tokens: 100,
  max_completion_tokens: 200,
  reasoning_effort: 'low',
  n: 1,
  stream: true,
  stream_options: { include_usage: true, include_obfuscation: false },
  user: 'user-123',
  // Unmodelled: must reach `extra` verbatim.
  frequency_penalty: 0.5,
  presence_penalty: -0.5,
  logit_bias: { '50256': -100 },
  logprobs: true,
  top_logprobs: 2,
  metadata: { team: 'a' },
  prompt_cache_key: 'k1',
  service_tier: 'flex',
  store: false,
  verbosity: 'low',
  web_search_options: { search_context_size: 'low' },
};

const fullRequestParsed = {
  model: 'openai/gpt-4o',
  stream: true,
  includeUsage: true,
  request: {
    messages: [
      { role: 'system', content: 'You are terse.' },
      { role: 'system', content: 'Rule one.\nRule two.', developer: true },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is in this image, and the weather in Paris and Rome?' },
          { type: 'image', url: 'data:image/png;base64,iVBORw0KGgo=', mediaType: 'image/png', detail: 'low' },
          { type: 'image', url: 'https://example.com/cat.jpg' },
        ],
      },
      {
        role: 'assistant',
        content: null,
        reasoning: 'Two cities: two calls.',
        providerMetadata: { anthropic: { signature: 'sig-1' } },
        toolCalls: [
          {
            id: 'call_1',
            name: 'get_weather',
            arguments: '{"city":"Paris"}',
            providerMetadata: { gemini: { thoughtSignature: 'c2ln' } },
          },
          { id: 'call_2', name: 'get_weather', arguments: '{"city":"Rome"}' },
        ],
      },
      { role: 'tool', toolCallId: 'call_1', content: '{"temp":21}' },
      { role: 'tool', toolCallId: 'call_2', content: '{"temp":25}' },
      { role: 'assistant', content: 'Paris 21, Rome 25.' },
      { role: 'user', content: 'Thanks' },
    ],
    maxOutputTokens: 200,
    temperature: 0.2,
    topP: 0.9,
    stop: ['END'],
    seed: 42,
    tools: [
      {
        name: 'get_weather',
        description: 'Current weather',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        strict: true,
      },
      { name: 'now', parameters: { type: 'object', properties: {} } },
    ],
    toolChoice: { name: 'get_weather' },
    parallelToolCalls: true,
    responseFormat: { type: 'json', name: 'answer', description: 'An answer', schema: { type: 'object' }, strict: true },
    reasoningEffort: 'low',
    user: 'user-123',
    extra: {
      frequency_penalty: 0.5,
      presence_penalty: -0.5,
      logit_bias: { '50256': -100 },
      logprobs: true,
      top_logprobs: 2,
      metadata: { team: 'a' },
      prompt_cache_key: 'k1',
      service_tier: 'flex',
      store: false,
      verbosity: 'low',
      web_search_options: { search_context_size: 'low' },
    },
  },
} satisfies ParsedChatRequest;

describe('parseChatCompletionRequest', () => {
  test('maps a request with every field', () => {
    expect(parseOk(fullRequest)).toStrictEqual(fullRequestParsed);
  });

  test('minimal request: no optional keys, no extra, not streaming', () => {
    expect(parseOk(minimal)).toStrictEqual({
      model: 'gpt-4o',
      stream: false,
      includeUsage: false,
      request: { messages: [{ role: 'user', content: 'hi' }] },
    });
  });

  test('explicit nulls are treated as absent', () => {
    const value = parseOk({ ...minimal, temperature: null, tools: null, stop: null, n: null, stream: null, user: null });
    expect(value.request).toStrictEqual({ messages: [{ role: 'user', content: 'hi' }] });
  });

  test('max_tokens is used when max_completion_tokens is absent; stop arrays pass through', () => {
    const value = parseOk({ ...minimal, max_tokens: 50, stop: ['a', 'b'] });
    expect(value.request.maxOutputTokens).toBe(50);
    expect(value.request.stop).toEqual(['a', 'b']);
  });

  test('response_format text and json_object; tool_choice strings', () => {
    expect(parseOk({ ...minimal, response_format: { type: 'text' } }).request.responseFormat).toEqual({ type: 'text' });
    expect(parseOk({ ...minimal, response_format: { type: 'json_object' } }).request.responseFormat).toEqual({
      type: 'json',
    });
    for (const choice of ['none', 'auto', 'required'] as const) {
      expect(parseOk({ ...minimal, tool_choice: choice }).request.toolChoice).toBe(choice);
    }
  });

  test('include_usage only counts when streaming', () => {
    expect(parseOk({ ...minimal, stream_options: { include_usage: true } }).includeUsage).toBe(false);
    expect(parseOk({ ...minimal, stream: true }).includeUsage).toBe(false);
    expect(parseOk({ ...minimal, stream: true, stream_options: { include_usage: true } }).includeUsage).toBe(true);
  });

  test('assistant refusal without content is kept as its text; refusal parts are dropped', () => {
    const value = parseOk({
      model: 'm',
      messages: [
        user('x'),
        { role: 'assistant', content: null, refusal: "I can't help with that." },
        {
          role: 'assistant',
          content: [{ type: 'text', text: 'o' }, { type: 'refusal', refusal: 'no' }, { type: 'text', text: 'k' }],
        },
      ],
    });
    expect(value.request.messages.slice(1)).toEqual([
      { role: 'assistant', content: "I can't help with that." },
      { role: 'assistant', content: 'ok' },
    ]);
  });

  test('extras pass through verbatim; modelled and transport keys do not', () => {
    const value = parseOk({
      ...minimal,
      stream: true,
      stream_options: { include_usage: false },
      n: 1,
      temperature: 1,
      frequency_penalty: 0,
      logit_bias: null,
      custom_vendor_flag: { nested: [1, 2] },
    });
    expect(value.request.extra).toStrictEqual({
      frequency_penalty: 0,
      logit_bias: null,
      custom_vendor_flag: { nested: [1, 2] },
    });
    expect(value.request.temperature).toBe(1);
  });

  const chat = (...messages: unknown[]) => ({ model: 'm', messages });
  const calls = (...toolCalls: unknown[]) => chat({ role: 'assistant', tool_calls: toolCalls });
  const fn = { name: 'f', arguments: '{}' };
  const M = 'missing_required_parameter';

  // [case, body, param, code, message]
  const invalid: [string, unknown, string | null, string, RegExp][] = [
    ['body not an object', 'hello', null, 'invalid_type', /must be a JSON object/],
    ['body is an array', [], null, 'invalid_type', /must be a JSON object/],
    ['missing model', { messages: [user('x')] }, 'model', M, /Missing required parameter: 'model'/],
    ['missing messages', { model: 'm' }, 'messages', M, /Missing required parameter: 'messages'/],
    ['empty messages', chat(), 'messages', 'empty_array', /'messages'.*at least 1/],
    [
      'bad role',
      chat({ role: 'bot', content: 'x' }),
      'messages[0].role',
      'invalid_value',
      /expected one of 'system', 'developer', 'user', 'assistant', 'tool'/,
    ],
    ['missing role', chat({ content: 'x' }), 'messages[0].role', M, /Missing required/],
    [
      'function role',
      chat({ role: 'function', name: 'f', content: 'x' }),
      'messages[0].role',
      'unsupported_value',
      /deprecated 'function' role/,
    ],
    ['temperature 3', { ...minimal, temperature: 3 }, 'temperature', 'above_max_value', /'temperature'.*<= 2/],
    ['top_p 2', { ...minimal, top_p: 2 }, 'top_p', 'above_max_value', /<= 1/],
    ['temperature as string', { ...minimal, temperature: 'hot' }, 'temperature', 'invalid_type', /expected number/],
    ['n: 2', { ...minimal, n: 2 }, 'n', 'unsupported_value', /Only n=1 is supported/],
    [
      'tool message without tool_call_id',
      chat(user('x'), { role: 'tool', content: 'r' }),
      'messages[1].tool_call_id',
      M,
      /Missing required parameter: 'messages\[1\]\.tool_call_id'/,
    ],
    [
      'image part without url',
      chat(user([{ type: 'text', text: 'a' }, { type: 'image_url', image_url: {} }])),
      'messages[0].content[1].image_url.url',
      M,
      /image_url\.url/,
    ],
    [
      'input_audio part',
      chat(user([{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }])),
      'messages[0].content[0].type',
      'unsupported_value',
      /unsupported/,
    ],
    [
      'file part',
      chat(user([{ type: 'file', file: { file_id: 'f' } }])),
      'messages[0].content[0].type',
      'unsupported_value',
      /unsupported/,
    ],
    [
      'unknown part type',
      chat(user([{ type: 'video' }])),
      'messages[0].content[0].type',
      'invalid_value',
      /'text', 'image_url'/,
    ],
    ['empty parts', chat(user([])), 'messages[0].content', 'empty_array', /at least 1/],
    ['content of wrong type', chat(user(5)), 'messages[0].content', 'invalid_type', /expected string or array/],
    [
      'tool_call arguments as object',
      calls({ id: 'c', type: 'function', function: { name: 'f', arguments: {} } }),
      'messages[0].tool_calls[0].function.arguments',
      'invalid_type',
      /expected string/,
    ],
    ['tool_call without id', calls({ type: 'function', function: fn }), 'messages[0].tool_calls[0].id', M, /Missing/],
    ['bad tool_choice', { ...minimal, tool_choice: 'always' }, 'tool_choice', 'invalid_value', /'none', 'auto'/],
    ['custom tool', { ...minimal, tools: [{ type: 'custom' }] }, 'tools[0].type', 'unsupported_value', /Custom tools/],
    [
      'json_schema without json_schema',
      { ...minimal, response_format: { type: 'json_schema' } },
      'response_format.json_schema',
      M,
      /Missing/,
    ],
    ['fractional max_tokens', { ...minimal, max_tokens: 1.5 }, 'max_tokens', 'invalid_type', /expected integer/],
    ['stop of numbers', { ...minimal, stop: [1] }, 'stop[0]', 'invalid_type', /expected string/],
    ['deprecated functions', { ...minimal, functions: [{ name: 'f' }] }, 'functions', 'unsupported_value', /'tools'/],
    ['bad reasoning_effort', { ...minimal, reasoning_effort: 'max' }, 'reasoning_effort', 'invalid_value', /'low'/],
  ];

  test.each(invalid)('%s', (_name, body, param, code, message) => {
    const error = parseError(body);
    expect(error.param).toBe(param);
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });

  test('error messages never echo request values', () => {
    const secret = 'sk-SECRET-value-1234';
    const bodies = [
      { model: 'm', messages: [{ role: secret, content: 'x' }] },
      { ...minimal, temperature: secret },
      { ...minimal, tool_choice: secret },
      { model: 'm', messages: [user([{ type: secret }])] },
      { model: 'm', messages: [user(secret), { role: 'tool', content: secret }] },
    ];
    for (const body of bodies) expect(parseError(body).message).not.toContain('SECRET');
  });
});

// ---------------------------------------------------------------------------------------------

const ctx = { id: 'chatcmpl-gw1', created: 1761916800, model: 'gpt-4o' };

const streamEvents: StreamEvent[] = [
  { type: 'response-start', warnings: [], id: 'up-1', model: 'gpt-4o-2024-08-06' },
  { type: 'reasoning-delta', delta: 'Two cities.' },
  { type: 'reasoning-delta', delta: '', providerMetadata: { anthropic: { signature: 'sig' } } },
  { type: 'text-delta', delta: 'Checking' },
  { type: 'tool-call-delta', index: 0, id: 'call_a', name: 'get_weather', argumentsDelta: '' },
  { type: 'tool-call-delta', index: 0, argumentsDelta: '{"city":' },
  { type: 'tool-call-delta', index: 0, argumentsDelta: '"Paris"}' },
  {
    type: 'tool-call-delta',
    index: 1,
    id: 'call_b',
    name: 'get_weather',
    argumentsDelta: '{"city":',
    providerMetadata: { gemini: { thoughtSignature: 'c2ln' } },
  },
  { type: 'tool-call-delta', index: 1, argumentsDelta: '"Rome"}' },
  {
    type: 'finish',
    finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
    usage: { inputTokens: 100, cachedInputTokens: 40, outputTokens: 30, reasoningTokens: 10 },
  },
];

const base = { id: 'chatcmpl-gw1', object: 'chat.completion.chunk', created: 1761916800, model: 'gpt-4o' };
const choice = (delta: object, finish_reason: string | null = null) => ({
  ...base,
  choices: [{ index: 0, delta, logprobs: null, finish_reason }],
});
const expectedChunks = [
  choice({ role: 'assistant', content: '', refusal: null }),
  choice({ reasoning_content: 'Two cities.' }),
  choice({ content: 'Checking' }),
  choice({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '' } }] }),
  choice({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
  choice({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
  choice({
    tool_calls: [
      {
        index: 1,
        id: 'call_b',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":' },
        provider_metadata: { gemini: { thoughtSignature: 'c2ln' } },
      },
    ],
  }),
  choice({ tool_calls: [{ index: 1, function: { arguments: '"Rome"}' } }] }),
  choice({ provider_metadata: { anthropic: { signature: 'sig' } } }, 'tool_calls'),
];
const expectedUsage = {
  prompt_tokens: 100,
  completion_tokens: 30,
  total_tokens: 130,
  prompt_tokens_details: { cached_tokens: 40 },
  completion_tokens_details: { reasoning_tokens: 10 },
};

const encodeAll = (events: StreamEvent[], includeUsage: boolean) => {
  const encoder = createChunkEncoder({ ...ctx, includeUsage });
  return events.flatMap((event) => encoder.encode(event));
};

describe('createChunkEncoder', () => {
  test('without include_usage: no usage key, no usage chunk', () => {
    expect(encodeAll(streamEvents, false)).toStrictEqual(expectedChunks);
  });

  test('with include_usage: usage null on every chunk, then a choices:[] usage chunk', () => {
    expect(encodeAll(streamEvents, true)).toStrictEqual([
      ...expectedChunks.map((chunk) => ({ ...chunk, usage: null })),
      { ...base, choices: [], usage: expectedUsage },
    ]);
  });

  test('a text-only stream without response-start still opens with the role chunk', () => {
    const chunks = encodeAll(
      [
        { type: 'text-delta', delta: 'Hi' },
        { type: 'text-delta', delta: '' },
        { type: 'finish', finishReason: { unified: 'stop', raw: 'stop' }, usage: {} },
      ],
      false,
    );
    expect(chunks).toStrictEqual([
      choice({ role: 'assistant', content: '', refusal: null }),
      choice({ content: 'Hi' }),
      choice({}, 'stop'),
    ]);
  });

  test('an error event becomes an error payload and ends the encoding', () => {
    const encoder = createChunkEncoder({ ...ctx, includeUsage: true, provider: 'openai' });
    encoder.encode({ type: 'text-delta', delta: 'Hi' });
    const out = encoder.encode({
      type: 'error',
      error: { message: 'boom', errorClass: 'upstream_5xx', retryable: true },
    });
    expect(out).toStrictEqual([
      {
        error: {
          message: "The upstream provider 'openai' failed with a server error. Upstream message: boom",
          type: 'upstream_error',
          param: null,
          code: 'upstream_server_error',
        },
      },
    ]);
    expect(encoder.failed).toBe(true);
    expect(encoder.encode({ type: 'finish', finishReason: { unified: 'error', raw: undefined }, usage: {} })).toEqual([]);
  });

  test('formatSSE and SSE_DONE', () => {
    expect(formatSSE({ a: 1 })).toBe('data: {"a":1}\n\n');
    expect(SSE_DONE).toBe('data: [DONE]\n\n');
  });
});

describe('toChatCompletion', () => {
  const result: ChatResult = {
    text: '',
    reasoning: 'Because.',
    toolCalls: [
      { id: 'call_a', name: 'f', arguments: '{}', providerMetadata: { gemini: { thoughtSignature: 's' } } },
      { id: '', name: 'g', arguments: '{"x":1}' },
    ],
    finishReason: { unified: 'tool-calls', raw: 'STOP' },
    usage: { inputTokens: 10, outputTokens: 5, cacheWriteInputTokens: 3 },
    warnings: [],
    providerMetadata: { anthropic: { signature: 'sig' } },
  };

  test('tool-call reply: content null, tool_calls, reasoning_content, provider_metadata', () => {
    expect(toChatCompletion(result, ctx)).toStrictEqual({
      id: 'chatcmpl-gw1',
      object: 'chat.completion',
      created: 1761916800,
      model: 'gpt-4o',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: null,
            refusal: null,
            annotations: [],
            reasoning_content: 'Because.',
            tool_calls: [
              {
                id: 'call_a',
                type: 'function',
                function: { name: 'f', arguments: '{}' },
                provider_metadata: { gemini: { thoughtSignature: 's' } },
              },
              { id: 'call_chatcmpl-gw1_1', type: 'function', function: { name: 'g', arguments: '{"x":1}' } },
            ],
            provider_metadata: { anthropic: { signature: 'sig' } },
          },
          logprobs: null,
          finish_reason: 'tool_calls',
        },
      ],
      usage: {
        prompt_tokens: 10,
        completion_tokens: 5,
        total_tokens: 15,
        prompt_tokens_details: { cached_tokens: 0, cache_write_tokens: 3 },
        completion_tokens_details: { reasoning_tokens: 0 },
      },
    });
  });

  test.each([
    ['stop', 'stop', false],
    ['length', 'length', false],
    ['content-filter', 'content_filter', false],
    ['error', 'stop', false],
    ['other', 'stop', false],
    ['other', 'tool_calls', true],
  ] as const)('finish %s → %s (tool calls: %p)', (unified, expected, withCalls) => {
    const body = toChatCompletion(
      {
        text: 'x',
        toolCalls: withCalls ? [{ id: 'c', name: 'f', arguments: '{}' }] : [],
        finishReason: { unified, raw: undefined },
        usage: {},
        warnings: [],
      },
      ctx,
    ) as { choices: { finish_reason: string; message: { content: string | null } }[] };
    expect(body.choices[0]!.finish_reason).toBe(expected);
    expect(body.choices[0]!.message.content).toBe('x');
  });
});

describe('providerErrorToOpenAI', () => {
  const info = (errorClass: ProviderErrorClass, extra: Partial<ProviderErrorInfo> = {}): ProviderErrorInfo => ({
    message: 'Upstream said no (key sk-live-abc in org org-123)',
    errorClass,
    retryable: false,
    ...extra,
  });

  test.each([
    ['bad_request', 400, 'invalid_request_error', null],
    ['context_length', 400, 'invalid_request_error', 'context_length_exceeded'],
    ['content_filter', 400, 'invalid_request_error', 'content_filter'],
    ['unsupported_input', 400, 'invalid_request_error', 'unsupported_value'],
    ['model_not_found', 404, 'invalid_request_error', 'model_not_found'],
  ] as const)('%s is client-fixable: %i with the upstream message', (errorClass, status, type, code) => {
    const mapped = providerErrorToOpenAI(info(errorClass), 'gemini');
    expect(mapped.status).toBe(status);
    expect(mapped.body.error).toEqual({
      message: 'gemini: Upstream said no (key sk-live-abc in org org-123)',
      type,
      param: null,
      code,
    });
    expect(mapped.headers).toEqual({});
  });

  test('bad_request keeps identifier-like upstream codes and the param', () => {
    const mapped = providerErrorToOpenAI(info('bad_request', { code: 'invalid_value', param: 'messages[0]' }), 'openai');
    expect(mapped.body.error.code).toBe('invalid_value');
    expect(mapped.body.error.param).toBe('messages[0]');
    const prose = providerErrorToOpenAI(info('bad_request', { code: 'Client specified an invalid argument' }), 'grok');
    expect(prose.body.error.code).toBeNull();
  });

  test.each([
    ['authentication', 502, 'upstream_error', 'upstream_authentication_failed'],
    ['permission', 502, 'upstream_error', 'upstream_permission_denied'],
    ['quota', 502, 'upstream_error', 'upstream_quota_exceeded'],
    ['rate_limit', 429, 'rate_limit_error', 'rate_limit_exceeded'],
    ['network', 502, 'upstream_error', 'upstream_unreachable'],
    ['invalid_response', 502, 'upstream_error', 'upstream_invalid_response'],
    ['timeout', 504, 'upstream_error', 'upstream_timeout'],
  ] as const)('%s → %i %s/%s with a fixed message only', (errorClass, status, type, code) => {
    const mapped = providerErrorToOpenAI(info(errorClass), 'openai');
    expect(mapped.status).toBe(status);
    expect(mapped.body.error).toMatchObject({ type, code, param: null });
    expect(mapped.body.error.message).toContain("'openai'");
    expect(mapped.body.error.message).not.toContain('Upstream said no');
  });

  test.each([
    ['overloaded', 503, 'upstream_overloaded'],
    ['upstream_5xx', 502, 'upstream_server_error'],
  ] as const)('%s → %i upstream_error/%s, the upstream text appended', (errorClass, status, code) => {
    const mapped = providerErrorToOpenAI(info(errorClass, { message: 'Overloaded' }), 'anthropic');
    expect(mapped.status).toBe(status);
    expect(mapped.body.error).toMatchObject({ type: 'upstream_error', code, param: null });
    expect(mapped.body.error.message).toMatch(/^The upstream provider 'anthropic' .*\. Upstream message: Overloaded$/);
  });

  test('rate_limit: Retry-After in whole seconds, rounded up', () => {
    const mapped = providerErrorToOpenAI(info('rate_limit', { retryAfterMs: 2020, retryable: true }), 'openai');
    expect(mapped.headers).toEqual({ 'Retry-After': '3' });
    expect(mapped.body.error.message).toContain('Retry after 3 s.');
    expect(providerErrorToOpenAI(info('rate_limit'), 'openai').headers).toEqual({});
    expect(providerErrorToOpenAI(info('overloaded', { retryAfterMs: 500 }), 'x').headers).toEqual({ 'Retry-After': '1' });
  });

  test('long upstream messages are clipped', () => {
    const mapped = providerErrorToOpenAI(info('context_length', { message: 'x'.repeat(5000) }), 'p');
    expect(mapped.body.error.message.length).toBeLessThan(1100);
  });
});

// ---------------------------------------------------------------------------------------------
// The official SDK against a local server that speaks through this codec.

describe('official openai SDK', () => {
  let server: ReturnType<typeof Bun.serve>;
  let client: OpenAI;
  let lastParsed: ReturnType<typeof parseChatCompletionRequest> | undefined;
  let mode: 'ok' | 'midstream-error' | 'rate-limit' = 'ok';

  beforeAll(() => {
    server = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      async fetch(request) {
        lastParsed = parseChatCompletionRequest(await request.json());
        if (!lastParsed.ok) {
          return Response.json({ error: { ...lastParsed.error, type: 'invalid_request_error' } }, { status: 400 });
        }
        if (mode === 'rate-limit') {
          const mapped = providerErrorToOpenAI(
            { message: 'slow down', errorClass: 'rate_limit', retryable: true, retryAfterMs: 1000 },
            'openai',
          );
          return Response.json(mapped.body, { status: mapped.status, headers: mapped.headers });
        }
        const { stream, includeUsage } = lastParsed.value;
        if (!stream) {
          const result: ChatResult = {
            text: '',
            toolCalls: [{ id: 'call_a', name: 'f', arguments: '{}', providerMetadata: { gemini: { thoughtSignature: 's' } } }],
            finishReason: { unified: 'tool-calls', raw: undefined },
            usage: { inputTokens: 3, outputTokens: 2 },
            warnings: [],
          };
          return Response.json(toChatCompletion(result, ctx));
        }
        const encoder = createChunkEncoder({ ...ctx, includeUsage, provider: 'openai' });
        const events: StreamEvent[] =
          mode === 'midstream-error'
            ? [
                { type: 'text-delta', delta: 'Hi' },
                { type: 'error', error: { message: 'boom', errorClass: 'overloaded', retryable: true } },
                { type: 'finish', finishReason: { unified: 'error', raw: undefined }, usage: {} },
              ]
            : streamEvents;
        let sse = '';
        for (const event of events) for (const chunk of encoder.encode(event)) sse += formatSSE(chunk);
        if (!encoder.failed) sse += SSE_DONE;
        return new Response(sse, { headers: { 'content-type': 'text/event-stream; charset=utf-8' } });
      },
    });
    client = new OpenAI({ baseURL: `http://127.0.0.1:${server.port}/v1`, apiKey: 'x', maxRetries: 0 });
  });

  afterAll(() => server.stop(true));

  test('the SDK request body parses; the chunk stream is accepted chunk by chunk', async () => {
    mode = 'ok';
    const stream = await client.chat.completions.create({
      model: 'openai/gpt-4o',
      messages: [{ role: 'developer', content: 'Be brief.' }, { role: 'user', content: 'Weather in Paris and Rome?' }],
      stream: true,
      stream_options: { include_usage: true },
      max_completion_tokens: 64,
      frequency_penalty: 0.1,
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks).toEqual(encodeAll(streamEvents, true) as never);
    expect(lastParsed?.ok && lastParsed.value.request.extra).toEqual({ frequency_penalty: 0.1 });
    expect(lastParsed?.ok && lastParsed.value.includeUsage).toBe(true);
  });

  test("the SDK's stream helper accumulates text, reasoning, tool calls and provider metadata", async () => {
    mode = 'ok';
    const stream = client.chat.completions.stream({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Weather?' }],
      stream_options: { include_usage: true },
    });
    const completion = await stream.finalChatCompletion();
    const message = completion.choices[0]!.message as unknown as Record<string, unknown>;
    expect(message.content).toBe('Checking');
    expect(message.provider_metadata).toEqual({ anthropic: { signature: 'sig' } });
    expect(message.tool_calls).toEqual([
      { id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
      {
        id: 'call_b',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Rome"}' },
        provider_metadata: { gemini: { thoughtSignature: 'c2ln' } },
      },
    ]);
    expect(completion.choices[0]!.finish_reason).toBe('tool_calls');
    expect(completion.usage?.total_tokens).toBe(130);
  });

  test('a re-sent assistant message (with provider_metadata) parses back losslessly', async () => {
    mode = 'ok';
    const first = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'go' }] });
    expect(first.choices[0]!.message.content).toBeNull();
    await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [
        { role: 'user', content: 'go' },
        first.choices[0]!.message,
        { role: 'tool', tool_call_id: 'call_a', content: 'done' },
      ],
    });
    expect(lastParsed?.ok && lastParsed.value.request.messages[1]).toEqual({
      role: 'assistant',
      content: null,
      toolCalls: [{ id: 'call_a', name: 'f', arguments: '{}', providerMetadata: { gemini: { thoughtSignature: 's' } } }],
    });
  });

  test('a mid-stream error payload makes the SDK throw an APIError', async () => {
    mode = 'midstream-error';
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    const seen: string[] = [];
    let caught: unknown;
    try {
      for await (const chunk of stream) seen.push(chunk.choices[0]?.delta.content ?? '');
    } catch (error) {
      caught = error;
    }
    expect(seen.join('')).toBe('Hi');
    expect(caught).toBeInstanceOf(OpenAI.APIError);
    expect((caught as InstanceType<typeof OpenAI.APIError>).code).toBe('upstream_overloaded');
  });

  test('a pre-stream rate limit reaches the SDK as a 429 RateLimitError', async () => {
    mode = 'rate-limit';
    const promise = client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    const error = await promise.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).headers.get('retry-after')).toBe('1');
  });
});
