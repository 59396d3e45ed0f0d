// The official @anthropic-ai/sdk against a local server that speaks through this codec: what the SDK
// sends parses, and what the codec encodes is what the SDK accumulates (blocks, indices, stop reason, usage).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import type { ChatResult, ProviderErrorInfo, StreamEvent } from '../core/types.ts';
import {
  type AnthropicParseResult,
  anthropicClientError,
  countTokensResponse,
  createAnthropicStreamEncoder,
  estimateTokens,
  formatAnthropicSSE,
  parseAnthropicMessagesRequest,
  providerErrorToAnthropic,
  toAnthropicMessage,
} from './anthropic-messages.ts';

const finish = (unified: 'stop' | 'tool-calls', usage = {}): Extract<StreamEvent, { type: 'finish' }> => ({
  type: 'finish',
  finishReason: { unified, raw: undefined },
  usage,
});

/** An Anthropic-upstream turn: signed thinking, text, two parallel tool calls in fragments. */
const anthropicTurn: StreamEvent[] = [
  { type: 'response-start', warnings: [], id: 'up-1', model: 'gw-sonnet' },
  { type: 'reasoning-delta', delta: 'Two cities, ' },
  { type: 'reasoning-delta', delta: 'two calls.' },
  // As the Anthropic adapter reports a completed thinking block: the list so far, signatures included.
  {
    type: 'reasoning-delta',
    delta: '',
    providerMetadata: { anthropic: { thinking: [{ type: 'thinking', thinking: 'Two cities, two calls.', signature: 'EqQBCgIYAhIM' }] } },
  },
  { type: 'text-delta', delta: "I'll check " },
  { type: 'text-delta', delta: 'both.' },
  { type: 'tool-call-delta', index: 0, id: 'toolu_A', name: 'get_weather', argumentsDelta: '' },
  { type: 'tool-call-delta', index: 0, argumentsDelta: '{"city":' },
  { type: 'tool-call-delta', index: 0, argumentsDelta: ' "Paris"}' },
  { type: 'tool-call-delta', index: 1, id: 'toolu_B', name: 'get_weather', argumentsDelta: '{"city": "Rome", "days": [1, 2]}' },
  {
    type: 'finish',
    finishReason: { unified: 'tool-calls', raw: 'tool_use' },
    usage: { inputTokens: 1700, cachedInputTokens: 1000, cacheWriteInputTokens: 200, outputTokens: 90, reasoningTokens: 20 },
  },
];

/** A Gemini-like turn: thought text, a call with a per-call thoughtSignature, a message-level one at finish. */
const geminiTurn: StreamEvent[] = [
  { type: 'response-start', warnings: [] },
  { type: 'reasoning-delta', delta: 'Need the shell.' },
  {
    type: 'tool-call-delta',
    index: 0,
    name: 'Bash',
    argumentsDelta: '{"command":"echo hi"}',
    providerMetadata: { gemini: { thoughtSignature: 'call-sig' } },
  },
  { ...finish('tool-calls', { inputTokens: 50, outputTokens: 7 }), providerMetadata: { gemini: { thoughtSignature: 'msg-sig' } } },
];

/** A DeepSeek-like turn: reasoning_content text without any signature, then a tool call. */
const deepseekTurn: StreamEvent[] = [
  { type: 'reasoning-delta', delta: 'Let me run it.' },
  { type: 'tool-call-delta', index: 0, id: 'call_0', name: 'Bash', argumentsDelta: '{"command":"ls"}' },
  finish('tool-calls', { inputTokens: 30, cachedInputTokens: 10, outputTokens: 12 }),
];

const upstreamError: ProviderErrorInfo = { message: 'Overloaded', errorClass: 'overloaded', retryable: true };

type Mode =
  | { kind: 'stream'; events: StreamEvent[]; cut?: boolean }
  | { kind: 'result'; result: ChatResult }
  | { kind: 'error'; status: number; body: unknown; headers?: Record<string, string> };

describe('official @anthropic-ai/sdk', () => {
  let server: ReturnType<typeof Bun.serve>;
  let client: Anthropic;
  let mode: Mode = { kind: 'stream', events: anthropicTurn };
  let lastParsed: AnthropicParseResult | undefined;
  let lastUrl = '';

  beforeAll(() => {
    server = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      async fetch(request) {
        lastUrl = request.url;
        lastParsed = parseAnthropicMessagesRequest(await request.json());
        if (!lastParsed.ok) {
          const error = anthropicClientError(400, lastParsed.error.message);
          return Response.json(error.body, { status: error.status });
        }
        const { request: chat, stream } = lastParsed.value;
        if (new URL(request.url).pathname === '/v1/messages/count_tokens') return Response.json(countTokensResponse(chat));
        if (mode.kind === 'error') return Response.json(mode.body, { status: mode.status, headers: mode.headers });
        const ctx = { id: 'msg_gw1', model: lastParsed.value.model, inputTokensEstimate: estimateTokens(chat) };
        if (mode.kind === 'result') return Response.json(toAnthropicMessage(mode.result, ctx));
        expect(stream).toBe(true);
        const encoder = createAnthropicStreamEncoder({ ...ctx, provider: 'test' });
        let sse = '';
        for (const event of mode.events) for (const message of encoder.encode(event)) sse += formatAnthropicSSE(message);
        if (!mode.cut) for (const message of encoder.finish()) sse += formatAnthropicSSE(message);
        return new Response(sse, { headers: { 'content-type': 'text/event-stream; charset=utf-8' } });
      },
    });
    client = new Anthropic({ baseURL: `http://127.0.0.1:${server.port}`, apiKey: 'x', maxRetries: 0 });
  });

  afterAll(() => server.stop(true));

  const weatherTool = {
    name: 'get_weather',
    description: 'Weather for a city',
    input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] },
  };

  test('messages.stream(): finalMessage has signed thinking, text, complete tool inputs, stop reason, usage', async () => {
    mode = { kind: 'stream', events: anthropicTurn };
    const stream = client.messages.stream({
      model: 'gw-sonnet',
      max_tokens: 1024,
      thinking: { type: 'enabled', budget_tokens: 2048 },
      tools: [weatherTool],
      messages: [{ role: 'user', content: 'Weather in Paris and Rome?' }],
    });
    const indices: string[] = [];
    stream.on('streamEvent', (event) => {
      if (event.type.startsWith('content_block')) indices.push(`${event.type}:${(event as { index: number }).index}`);
    });
    const message = await stream.finalMessage();
    expect(message.content).toEqual([
      { type: 'thinking', thinking: 'Two cities, two calls.', signature: 'EqQBCgIYAhIM' },
      { type: 'text', text: "I'll check both." },
      { type: 'tool_use', id: 'toolu_A', name: 'get_weather', input: { city: 'Paris' } },
      { type: 'tool_use', id: 'toolu_B', name: 'get_weather', input: { city: 'Rome', days: [1, 2] } },
    ] as never);
    expect(indices).toEqual([
      'content_block_start:0',
      'content_block_delta:0',
      'content_block_delta:0',
      'content_block_delta:0',
      'content_block_stop:0',
      'content_block_start:1',
      'content_block_delta:1',
      'content_block_delta:1',
      'content_block_stop:1',
      'content_block_start:2',
      'content_block_delta:2',
      'content_block_delta:2',
      'content_block_stop:2',
      'content_block_start:3',
      'content_block_delta:3',
      'content_block_stop:3',
    ]);
    expect(message.id).toBe('msg_gw1');
    expect(message.stop_reason).toBe('tool_use');
    expect(message.stop_sequence).toBeNull();
    expect(message.usage).toMatchObject({
      input_tokens: 500,
      cache_read_input_tokens: 1000,
      cache_creation_input_tokens: 200,
      output_tokens: 90,
      output_tokens_details: { thinking_tokens: 20 },
    });
    // The SDK's own request parsed: budget 2048 → low effort, raw thinking kept for Anthropic upstreams.
    expect(lastParsed?.ok && lastParsed.value.request.reasoningEffort).toBe('low');
    expect(lastParsed?.ok && lastParsed.value.request.providerOptions?.anthropic?.thinking).toEqual({
      type: 'enabled',
      budget_tokens: 2048,
    });
  });

  test('messages.create({stream: true}): raw events in Anthropic order, text deltas, message_delta usage', async () => {
    mode = { kind: 'stream', events: [{ type: 'text-delta', delta: 'po' }, { type: 'text-delta', delta: 'ng' }, finish('stop', { inputTokens: 12, outputTokens: 2 })] };
    const stream = await client.messages.create({
      model: 'gw-model',
      max_tokens: 64,
      stream: true,
      messages: [{ role: 'user', content: 'say pong' }],
    });
    const types: string[] = [];
    let text = '';
    let startUsage: unknown;
    let deltaUsage: unknown;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'message_start') startUsage = event.message.usage;
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
      if (event.type === 'message_delta') {
        expect(event.delta.stop_reason).toBe('end_turn');
        deltaUsage = event.usage;
      }
    }
    expect(types).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(text).toBe('pong');
    expect(startUsage).toMatchObject({ input_tokens: expect.any(Number), output_tokens: 1 });
    expect(deltaUsage).toEqual({ output_tokens: 2, input_tokens: 12, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
  });

  test('non-streaming create(): the Message the SDK returns', async () => {
    mode = {
      kind: 'result',
      result: {
        text: 'Paris.',
        reasoning: 'Easy.',
        toolCalls: [{ id: 'toolu_X', name: 'get_weather', arguments: '{"city":"Paris"}' }],
        finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
        usage: { inputTokens: 40, cachedInputTokens: 30, outputTokens: 9 },
        warnings: [],
        providerMetadata: { anthropic: { thinking: [{ type: 'thinking', thinking: 'Easy.', signature: 'sig-1' }] } },
      },
    };
    const message = await client.messages.create({
      model: 'gw-model',
      max_tokens: 64,
      tools: [weatherTool],
      messages: [{ role: 'user', content: 'Weather?' }],
    });
    expect(message.content).toEqual([
      { type: 'thinking', thinking: 'Easy.', signature: 'sig-1' },
      { type: 'text', text: 'Paris.' },
      { type: 'tool_use', id: 'toolu_X', name: 'get_weather', input: { city: 'Paris' } },
    ] as never);
    expect(message.stop_reason).toBe('tool_use');
    expect(message.usage).toMatchObject({ input_tokens: 10, cache_read_input_tokens: 30, output_tokens: 9 });
  });

  test('every request block type the SDK serialises is accepted', async () => {
    mode = { kind: 'stream', events: [{ type: 'text-delta', delta: 'ok' }, finish('stop')] };
    await client.messages
      .stream({
        model: 'gw-model',
        max_tokens: 256,
        system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral', ttl: '1h' } }],
        metadata: { user_id: 'user-7' },
        stop_sequences: ['END'],
        temperature: 0.5,
        top_k: 40,
        tool_choice: { type: 'any', disable_parallel_tool_use: true },
        tools: [{ ...weatherTool, cache_control: { type: 'ephemeral' }, defer_loading: true }],
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Look:' },
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
              { type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } },
              { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'Doc body' }, title: 'Spec' },
              {
                type: 'search_result',
                source: 'https://example.com',
                title: 'Result',
                content: [{ type: 'text', text: 'Found it' }],
              },
            ],
          },
          {
            role: 'assistant',
            content: [
              { type: 'thinking', thinking: 'Hmm.', signature: 'sig-a' },
              { type: 'redacted_thinking', data: 'opaque' },
              { type: 'text', text: 'Checking.' },
              { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
            ],
          },
          {
            role: 'user',
            content: [
              {
                type: 'tool_result',
                tool_use_id: 'toolu_1',
                is_error: true,
                content: [{ type: 'text', text: 'timeout' }],
                cache_control: { type: 'ephemeral' },
              },
              { type: 'text', text: 'Try again.' },
            ],
          },
        ],
      })
      .finalMessage();
    if (!lastParsed?.ok) throw new Error(JSON.stringify(lastParsed?.error));
    const { request, warnings } = lastParsed.value;
    expect(warnings).toEqual([]);
    expect(request.messages.map((message) => message.role)).toEqual(['system', 'user', 'assistant', 'tool', 'user']);
    expect(request.toolChoice).toBe('required');
    expect(request.parallelToolCalls).toBe(false);
    expect(request.stop).toEqual(['END']);
    expect(request.user).toBe('user-7');
    expect(request.providerOptions?.anthropic?.top_k).toBe(40);
  });

  test('multi-turn: Gemini thought signatures survive the Anthropic client and come back on the right calls', async () => {
    mode = { kind: 'stream', events: geminiTurn };
    const first = await client.messages
      .stream({ model: 'gemini-3', max_tokens: 512, tools: [weatherTool], messages: [{ role: 'user', content: 'run echo' }] })
      .finalMessage();
    // [thinking(text, state for the call), tool_use, thinking('', message-level state)]
    expect(first.content.map((block) => block.type)).toEqual(['thinking', 'tool_use', 'thinking']);
    const toolUse = first.content[1] as Anthropic.ToolUseBlock;
    expect(toolUse).toMatchObject({ id: 'toolu_gw1_0', name: 'Bash', input: { command: 'echo hi' } });

    mode = { kind: 'stream', events: [{ type: 'text-delta', delta: 'done' }, finish('stop')] };
    await client.messages
      .stream({
        model: 'gemini-3',
        max_tokens: 512,
        tools: [weatherTool],
        messages: [
          { role: 'user', content: 'run echo' },
          { role: 'assistant', content: first.content },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: toolUse.id, content: 'hi' }] },
        ],
      })
      .finalMessage();
    if (!lastParsed?.ok) throw new Error('parse failed');
    expect(lastParsed.value.request.messages[1]).toEqual({
      role: 'assistant',
      content: null,
      reasoning: 'Need the shell.',
      toolCalls: [
        {
          id: 'toolu_gw1_0',
          name: 'Bash',
          arguments: '{"command":"echo hi"}',
          providerMetadata: { gemini: { thoughtSignature: 'call-sig' } },
        },
      ],
      providerMetadata: { gemini: { thoughtSignature: 'msg-sig' } },
    });
    expect(lastParsed.value.request.messages[2]).toEqual({ role: 'tool', toolCallId: 'toolu_gw1_0', content: 'hi' });
  });

  test('multi-turn: DeepSeek reasoning content comes back as reasoning, without Anthropic state', async () => {
    mode = { kind: 'stream', events: deepseekTurn };
    const first = await client.messages
      .stream({ model: 'deepseek-reasoner', max_tokens: 512, messages: [{ role: 'user', content: 'ls' }] })
      .finalMessage();
    expect(first.content).toEqual([
      { type: 'thinking', thinking: 'Let me run it.', signature: '' },
      { type: 'tool_use', id: 'call_0', name: 'Bash', input: { command: 'ls' } },
    ] as never);
    expect(first.usage).toMatchObject({ input_tokens: 20, cache_read_input_tokens: 10, output_tokens: 12 });
    mode = { kind: 'stream', events: [finish('stop')] };
    await client.messages
      .stream({
        model: 'deepseek-reasoner',
        max_tokens: 512,
        messages: [
          { role: 'user', content: 'ls' },
          { role: 'assistant', content: first.content },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_0', content: 'a.txt' }] },
        ],
      })
      .finalMessage();
    if (!lastParsed?.ok) throw new Error('parse failed');
    expect(lastParsed.value.request.messages[1]).toEqual({
      role: 'assistant',
      content: null,
      reasoning: 'Let me run it.',
      toolCalls: [{ id: 'call_0', name: 'Bash', arguments: '{"command":"ls"}' }],
    });
  });

  test('an in-stream error event makes the SDK throw an APIError of the right type', async () => {
    mode = {
      kind: 'stream',
      events: [
        { type: 'text-delta', delta: 'Hi' },
        { type: 'error', error: upstreamError },
        { type: 'finish', finishReason: { unified: 'error', raw: undefined }, usage: {} },
      ],
    };
    const stream = client.messages.stream({ model: 'm', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] });
    let text = '';
    stream.on('text', (delta) => (text += delta));
    const error = await stream.finalMessage().catch((caught: unknown) => caught);
    expect(text).toBe('Hi');
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect((error as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({
      type: 'error',
      error: { type: 'overloaded_error' },
    });
  });

  test('a cut stream ends with an error event, never as a finished message', async () => {
    mode = { kind: 'stream', events: [{ type: 'text-delta', delta: 'Hi' }] };
    const error = await client.messages
      .stream({ model: 'm', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] })
      .finalMessage()
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect((error as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ error: { type: 'api_error' } });
  });

  const errorCases: [string, () => { status: number; body: unknown; headers?: Record<string, string> }, unknown][] = [
    ['rate limit', () => providerErrorToAnthropic({ ...upstreamError, errorClass: 'rate_limit', retryAfterMs: 1500 }, 'openai'), Anthropic.RateLimitError],
    ['upstream overload', () => providerErrorToAnthropic(upstreamError, 'gemini'), Anthropic.OverloadedError],
    ['unknown model', () => anthropicClientError(404, "Model 'x' is not configured."), Anthropic.NotFoundError],
    ['bad client key', () => anthropicClientError(401, 'Invalid API key.'), Anthropic.AuthenticationError],
    ['upstream auth failure', () => providerErrorToAnthropic({ ...upstreamError, errorClass: 'authentication' }, 'openai'), Anthropic.InternalServerError],
  ];
  for (const [name, make, errorClass] of errorCases) {
    test(`pre-stream error (${name}) → ${(errorClass as { name: string }).name}`, async () => {
      mode = { kind: 'error', ...make() };
      const error = await client.messages
        .create({ model: 'm', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(errorClass as typeof Anthropic.APIError);
      if (name === 'rate limit') expect((error as InstanceType<typeof Anthropic.RateLimitError>).headers.get('retry-after')).toBe('2');
    });
  }

  test('an invalid body → BadRequestError with the field named, the value not echoed', async () => {
    const error = await client.messages
      .create({
        model: 'm',
        max_tokens: 8,
        messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/bmp' as 'image/png', data: 'SECRET' } }] }],
      })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Anthropic.BadRequestError);
    const apiError = error as InstanceType<typeof Anthropic.BadRequestError>;
    expect(apiError.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(apiError.message).toContain('messages.0.content.0.source.media_type');
    expect(apiError.message).not.toContain('SECRET');
    expect(apiError.message).not.toContain('bmp');
  });

  test('messages.countTokens() gets the local estimate', async () => {
    const counted = await client.messages.countTokens({
      model: 'm',
      system: 'You are terse.',
      tools: [weatherTool],
      messages: [{ role: 'user', content: 'foo' }],
    });
    expect(lastUrl).toContain('/v1/messages/count_tokens');
    expect(counted.input_tokens).toBeGreaterThan(10);
  });
});
