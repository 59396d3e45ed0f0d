import { describe, expect, test } from 'bun:test';
import { accumulate } from '../core/accumulate.ts';
import type { ChatRequest } from '../core/types.ts';
import { convertDeepSeekUsage, deepseek } from './deepseek.ts';
import { convertXaiUsage, grok } from './grok.ts';
import { openaiCompatible } from './openai-compat-generic.ts';
import { defineOpenAICompatible } from './openai-compatible.ts';
import { openai } from './openai.ts';
import { adapters, getAdapter } from './registry.ts';

const settings = { apiKey: 'sk-test-0123456789' };

const conversation: ChatRequest = {
  model: 'm',
  messages: [
    { role: 'system', content: 'Be terse.', developer: true },
    { role: 'system', content: 'Plain system.' },
    {
      role: 'user',
      content: [
        { type: 'text', text: 'Look:' },
        { type: 'image', url: 'https://example.com/a.png', mediaType: 'image/png', detail: 'high' },
      ],
    },
    { role: 'assistant', content: 'Earlier answer.', reasoning: 'old thoughts' },
    { role: 'user', content: 'Weather?' },
    {
      role: 'assistant',
      content: null,
      reasoning: 'I should call the tool.',
      toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }],
    },
    { role: 'tool', toolCallId: 'call_1', content: '{"temp":21}' },
  ],
  maxOutputTokens: 100,
  temperature: 0.5,
  topP: 0.9,
  stop: ['END'],
  seed: 7,
  tools: [{ name: 'get_weather', description: 'Weather', parameters: { type: 'object' }, strict: true }],
  toolChoice: { name: 'get_weather' },
  parallelToolCalls: false,
  responseFormat: { type: 'json', name: 'answer', schema: { type: 'object' }, strict: true },
  reasoningEffort: 'xhigh',
  user: 'user-42',
  extra: { frequency_penalty: 0.1, metadata: { a: '1' }, max_tokens: 5, n: 2, stream_options: { include_obfuscation: false } },
};

describe('buildRequest (OpenAI)', () => {
  test('maps every modelled field, passes extra through without overriding modelled keys', () => {
    const { http, warnings } = openai.buildRequest(conversation, settings, { stream: true });
    expect(http.url).toBe('https://api.openai.com/v1/chat/completions');
    expect(http.headers).toEqual({ 'content-type': 'application/json', authorization: 'Bearer sk-test-0123456789' });
    expect(http.body).toEqual({
      model: 'm',
      messages: [
        { role: 'developer', content: 'Be terse.' },
        { role: 'system', content: 'Plain system.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Look:' },
            { type: 'image_url', image_url: { url: 'https://example.com/a.png', detail: 'high' } },
          ],
        },
        { role: 'assistant', content: 'Earlier answer.' },
        { role: 'user', content: 'Weather?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' },
      ],
      max_completion_tokens: 100,
      temperature: 0.5,
      top_p: 0.9,
      stop: ['END'],
      seed: 7,
      tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object' }, strict: true } }],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      parallel_tool_calls: false,
      response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object' }, strict: true } },
      reasoning_effort: 'xhigh',
      user: 'user-42',
      frequency_penalty: 0.1,
      metadata: { a: '1' },
      stream: true,
      stream_options: { include_obfuscation: false, include_usage: true },
    });
    expect(warnings).toEqual([
      { type: 'other', message: 'extra.max_tokens ignored: it is a modelled parameter' },
      { type: 'unsupported-setting', setting: 'n', detail: 'only one choice is supported' },
    ]);
  });

  test('non-streaming requests carry neither stream nor stream_options', () => {
    const { http } = openai.buildRequest({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }, settings, { stream: false });
    expect(http.body).toEqual({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
  });

  test('response formats: JSON mode and text', () => {
    const build = (responseFormat: ChatRequest['responseFormat']) =>
      (openai.buildRequest({ model: 'm', messages: [], responseFormat }, settings, { stream: false }).http.body as any)
        .response_format;
    expect(build({ type: 'json' })).toEqual({ type: 'json_object' });
    expect(build({ type: 'text' })).toEqual({ type: 'text' });
    expect(build({ type: 'json', schema: { type: 'object' } })).toEqual({
      type: 'json_schema',
      json_schema: { name: 'response', schema: { type: 'object' } },
    });
  });

  test('base URL override, extra headers, no auth header for an empty key, providerOptions by id', () => {
    const request: ChatRequest = {
      model: 'm',
      messages: [],
      providerOptions: { openai: { service_tier: 'flex', model: 'hijack' }, deepseek: { thinking: { type: 'enabled' } } },
    };
    const { http } = openai.buildRequest(
      request,
      { apiKey: '', baseUrl: 'http://127.0.0.1:9999/v1/', headers: { 'x-org': 'o' } },
      { stream: false },
    );
    expect(http.url).toBe('http://127.0.0.1:9999/v1/chat/completions');
    expect(http.headers).toEqual({ 'content-type': 'application/json', 'x-org': 'o' });
    expect(http.body).toEqual({ model: 'm', messages: [], service_tier: 'flex' });
  });

  test('unsupported settings are dropped with a warning', () => {
    const strict = defineOpenAICompatible({ id: 'openai-compatible', defaultBaseUrl: 'http://x', unsupported: ['seed', 'stop'] });
    const { http, warnings } = strict.buildRequest({ model: 'm', messages: [], seed: 1 }, settings, { stream: false });
    expect(http.body).toEqual({ model: 'm', messages: [] });
    expect(warnings).toEqual([{ type: 'unsupported-setting', setting: 'seed', detail: 'not supported by openai-compatible' }]);
  });
});

describe('buildRequest (DeepSeek, xAI, generic)', () => {
  test('DeepSeek: developer → system, max_tokens, reasoning_content only on tool-call turns', () => {
    const { http } = deepseek.buildRequest({ ...conversation, extra: undefined }, settings, { stream: false });
    const body = http.body as any;
    expect(http.url).toBe('https://api.deepseek.com/chat/completions');
    expect(body.max_tokens).toBe(100);
    expect(body.max_completion_tokens).toBeUndefined();
    expect(body.messages[0]).toEqual({ role: 'system', content: 'Be terse.' });
    expect(body.messages[3]).toEqual({ role: 'assistant', content: 'Earlier answer.' });
    expect(body.messages[5]).toEqual({
      role: 'assistant',
      content: null,
      reasoning_content: 'I should call the tool.',
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
    });
  });

  test('DeepSeek: a tool-call turn without known reasoning still carries reasoning_content ""', () => {
    const request: ChatRequest = {
      model: 'deepseek-reasoner',
      messages: [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: '', toolCalls: [{ id: 'c', name: 'f', arguments: '{}' }] },
        { role: 'tool', toolCallId: 'c', content: 'r' },
      ],
    };
    const body = deepseek.buildRequest(request, settings, { stream: false }).http.body as any;
    expect(body.messages[1].reasoning_content).toBe('');
  });

  test('DeepSeek refuses image input up front (validate) with unsupported_input', () => {
    expect(deepseek.validate!(conversation, settings)).toEqual({
      message: 'DeepSeek models accept text only; image input is not supported',
      errorClass: 'unsupported_input',
      retryable: false,
      param: 'messages[2].content[1]',
    });
    expect(deepseek.validate!({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] }, settings)).toBeUndefined();
  });

  test('xAI: max_tokens, system instead of developer', () => {
    const body = grok.buildRequest(conversation, settings, { stream: false }).http.body as any;
    expect(body.max_tokens).toBe(100);
    expect(body.messages[0].role).toBe('system');
    expect(body.messages[5].reasoning_content).toBeUndefined();
  });

  test('generic openai-compatible requires a base URL', () => {
    expect(openaiCompatible.defaultBaseUrl).toBeUndefined();
    expect(openaiCompatible.validate!(conversation, settings)).toMatchObject({ errorClass: 'bad_request', retryable: false });
    expect(openaiCompatible.validate!(conversation, { ...settings, baseUrl: 'http://localhost:8000/v1' })).toBeUndefined();
    const { http } = openaiCompatible.buildRequest(conversation, { ...settings, baseUrl: 'http://localhost:8000/v1' }, { stream: false });
    expect(http.url).toBe('http://localhost:8000/v1/chat/completions');
    expect((http.body as any).max_tokens).toBe(100);
  });
});

describe('registry', () => {
  test('adapters by type id', () => {
    expect(Object.keys(adapters).sort()).toEqual(['anthropic', 'deepseek', 'gemini', 'grok', 'openai', 'openai-compatible']);
    expect(getAdapter('grok')).toBe(grok);
    expect(getAdapter('openai-compatible')).toBe(openaiCompatible);
    expect(getAdapter('toString')).toBeUndefined();
    expect(getAdapter('nope')).toBeUndefined();
  });
});

describe('stream decoder', () => {
  const decode = (chunks: unknown[]) => {
    const decoder = openai.createStreamDecoder([{ type: 'other', message: 'w' }]);
    return [...chunks.flatMap((chunk) => decoder.push(openai.chunkSchema.parse(chunk))), ...decoder.end()];
  };

  test('role-only and empty deltas produce nothing; other choices are ignored', () => {
    const events = decode([
      { id: 'c1', model: 'gpt', choices: [{ index: 0, delta: { role: 'assistant', content: '', refusal: null } }] },
      { choices: [{ index: 0, delta: {} }] },
      { choices: [{ index: 1, delta: { content: 'other choice' } }] },
      { choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: 'stop' }] },
    ]);
    expect(events).toEqual([
      { type: 'response-start', warnings: [{ type: 'other', message: 'w' }], id: 'c1', model: 'gpt' },
      { type: 'text-delta', delta: 'Hi' },
      { type: 'finish', finishReason: { unified: 'stop', raw: 'stop' }, usage: {} },
    ]);
  });

  test('a stream cut before finish_reason ends with error then finish(error)', () => {
    const events = decode([{ choices: [{ index: 0, delta: { content: 'partial' } }] }]);
    expect(events.slice(-2)).toEqual([
      { type: 'error', error: { message: 'upstream stream ended without a finish_reason', errorClass: 'invalid_response', retryable: true } },
      { type: 'finish', finishReason: { unified: 'error', raw: undefined }, usage: {} },
    ]);
  });

  test('tool calls: missing ids are minted once, late names are kept, fragments concatenate by index', () => {
    const events = decode([
      { choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '' } }] } }] },
      { choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { name: 'f', arguments: '{"a"' } }] } }] },
      { choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: 'ignored-late-id', function: { arguments: ':1}' } }] } }] },
      { choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] },
    ]);
    const result = accumulate(events);
    expect(result.toolCalls).toHaveLength(1);
    expect(result.toolCalls[0]!.id).toMatch(/^call_[0-9a-f]{24}$/);
    expect(result.toolCalls[0]!.name).toBe('f');
    expect(result.toolCalls[0]!.arguments).toBe('{"a":1}');
    expect(result.finishReason).toEqual({ unified: 'tool-calls', raw: 'tool_calls' });
  });

  test('reasoning from `reasoning` (OpenRouter/vLLM), refusal as text, unknown finish reason → other', () => {
    const events = decode([
      { choices: [{ index: 0, delta: { reasoning: 'think' } }] },
      { choices: [{ index: 0, delta: { refusal: 'I cannot help with that.' } }] },
      { choices: [{ index: 0, delta: {}, finish_reason: 'weird' }] },
    ]);
    const result = accumulate(events);
    expect(result.reasoning).toBe('think');
    expect(result.text).toBe('I cannot help with that.');
    expect(result.finishReason).toEqual({ unified: 'other', raw: 'weird' });
  });

  test('DeepSeek insufficient_system_resource maps to length', () => {
    const decoder = deepseek.createStreamDecoder([]);
    decoder.push(deepseek.chunkSchema.parse({ choices: [{ index: 0, delta: { content: 'x' }, finish_reason: 'insufficient_system_resource' }] }));
    expect(decoder.end()).toEqual([
      { type: 'finish', finishReason: { unified: 'length', raw: 'insufficient_system_resource' }, usage: {} },
    ]);
  });
});

describe('tolerant wire schemas', () => {
  test('wrongly typed leaves degrade to null; arguments objects are re-serialised', () => {
    const body = openai.responseSchema.parse({
      id: 42,
      choices: [
        {
          message: {
            content: 'ok',
            tool_calls: [{ id: 'c', function: { name: 'f', arguments: { a: 1 } } }],
          },
          finish_reason: 'tool_calls',
        },
      ],
      usage: { prompt_tokens: '12', completion_tokens: 3, prompt_tokens_details: 'nope' },
    });
    const result = openai.parseResponse(body, []);
    expect(result.id).toBeUndefined();
    expect(result.toolCalls).toEqual([{ id: 'c', name: 'f', arguments: '{"a":1}' }]);
    expect(result.usage.inputTokens).toBeUndefined();
    expect(result.usage.outputTokens).toBe(3);
  });

  test('a body without choices is rejected (invalid_response upstream of parseResponse)', () => {
    expect(openai.responseSchema.safeParse({ object: 'list', data: [] }).success).toBe(false);
    expect(openai.chunkSchema.safeParse('text').success).toBe(false);
  });
});

describe('usage normalisation', () => {
  test('DeepSeek prefers prompt_cache_hit_tokens', () => {
    const usage = convertDeepSeekUsage({ prompt_tokens: 100, completion_tokens: 5, prompt_cache_hit_tokens: 64, prompt_cache_miss_tokens: 36 });
    expect(usage).toMatchObject({ inputTokens: 100, cachedInputTokens: 64, outputTokens: 5 });
  });

  test('xAI adds reasoning to output unless the totals already include it', () => {
    const additive = convertXaiUsage({ prompt_tokens: 10, completion_tokens: 2, total_tokens: 17, completion_tokens_details: { reasoning_tokens: 5 } });
    expect(additive).toMatchObject({ outputTokens: 7, reasoningTokens: 5 });
    const inclusive = convertXaiUsage({ prompt_tokens: 10, completion_tokens: 7, total_tokens: 17, completion_tokens_details: { reasoning_tokens: 5 } });
    expect(inclusive).toMatchObject({ outputTokens: 7, reasoningTokens: 5 });
  });
});
