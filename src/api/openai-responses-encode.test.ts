import { describe, expect, test } from 'bun:test';
import { accumulate } from '../core/accumulate.ts';
import type { ChatResult, StreamEvent } from '../core/types.ts';
import {
  type ResponseContext,
  type ResponsesStreamEvent,
  createResponsesStreamEncoder,
  decodeReasoningState,
  formatResponsesSSE,
  parseResponsesRequest,
  toResponseObject,
} from './openai-responses.ts';
import { checkResponsesEventSequence, codexTurn1, codexTurn2, geminiToolTurn } from './openai-responses-test-helpers.ts';

function contextFor(body: unknown, id = 'resp_t1'): ResponseContext {
  const parsed = parseResponsesRequest(body);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
  return { id, created: 1_760_000_000, model: 'gw-mock', request: parsed.value, provider: 'gemini-main' };
}

const simpleCtx = () => contextFor({ model: 'gw-mock', input: 'hi', instructions: 'Be brief.', metadata: { a: 'b' } });

const result = (overrides: Partial<ChatResult>): ChatResult => ({
  text: '',
  toolCalls: [],
  finishReason: { unified: 'stop', raw: 'stop' },
  usage: { inputTokens: 10, outputTokens: 4 },
  warnings: [],
  ...overrides,
});

function encodeAll(ctx: ResponseContext, events: StreamEvent[]): ResponsesStreamEvent[] {
  const encoder = createResponsesStreamEncoder(ctx);
  return events.flatMap((event) => encoder.encode(event));
}

const types = (events: ResponsesStreamEvent[]) => events.map((event) => event.type);

describe('toResponseObject', () => {
  test('a text reply: one message item, usage in Responses semantics, request echoed', () => {
    const object = toResponseObject(
      result({ text: 'Hello.', usage: { inputTokens: 100, cachedInputTokens: 40, outputTokens: 20, reasoningTokens: 5 } }),
      simpleCtx(),
    );
    expect(object).toMatchObject({
      id: 'resp_t1',
      object: 'response',
      created_at: 1_760_000_000,
      status: 'completed',
      error: null,
      incomplete_details: null,
      model: 'gw-mock',
      instructions: 'Be brief.',
      metadata: { a: 'b' },
      store: false,
      tools: [],
      output: [
        {
          id: 'msg_t1_0',
          type: 'message',
          status: 'completed',
          role: 'assistant',
          content: [{ type: 'output_text', text: 'Hello.', annotations: [], logprobs: [] }],
        },
      ],
      usage: {
        input_tokens: 100,
        input_tokens_details: { cached_tokens: 40, cache_write_tokens: 0 },
        output_tokens: 20,
        output_tokens_details: { reasoning_tokens: 5 },
        total_tokens: 120,
      },
    });
    expect(object).not.toHaveProperty('output_text');
  });

  test('reasoning, tool calls and provider state: reasoning item first, encrypted_content decodes back', () => {
    const ctx = contextFor(codexTurn1());
    const object = toResponseObject(accumulate(geminiToolTurn), ctx);
    const output = object.output as Record<string, unknown>[];
    expect(output.map((item) => item.type)).toEqual(['reasoning', 'function_call']);
    expect(output[0]).toMatchObject({
      id: 'rs_t1_0',
      summary: [{ type: 'summary_text', text: 'The user wants the files. I will run ls.' }],
    });
    expect(decodeReasoningState(output[0]!.encrypted_content as string)).toEqual({
      message: { gemini: { thoughtSignature: 'c2lnLW1lc3NhZ2U=' } },
      calls: { call_1: { gemini: { thoughtSignature: 'c2lnLWNhbGwtMQ==' } } },
    });
    expect(output[1]).toEqual({
      id: 'fc_t1_1',
      type: 'function_call',
      status: 'completed',
      arguments: '{"cmd":"ls -la"}',
      call_id: 'call_1',
      name: 'exec_command',
    });
  });

  test('namespaced tools are split back; missing call ids are synthesised', () => {
    const object = toResponseObject(
      result({
        toolCalls: [{ id: '', name: 'multi_agent_v1__spawn_agent', arguments: '{"message":"go"}' }],
        finishReason: { unified: 'tool-calls', raw: 'STOP' },
      }),
      contextFor(codexTurn1(), 'resp_ns'),
    );
    expect((object.output as unknown[])[0]).toEqual({
      id: 'fc_ns_0',
      type: 'function_call',
      status: 'completed',
      arguments: '{"message":"go"}',
      call_id: 'call_ns_0',
      name: 'spawn_agent',
      namespace: 'multi_agent_v1',
    });
  });

  test('length → incomplete (max_output_tokens); content filter → incomplete (content_filter)', () => {
    const cut = toResponseObject(result({ text: 'Once upon', finishReason: { unified: 'length', raw: 'MAX_TOKENS' } }), simpleCtx());
    expect(cut).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } });
    expect((cut.output as Record<string, unknown>[])[0]!.status).toBe('incomplete');
    const filtered = toResponseObject(result({ finishReason: { unified: 'content-filter', raw: 'SAFETY' } }), simpleCtx());
    expect(filtered).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'content_filter' }, output: [] });
  });

  test('an error after output → failed with the chat codec error classes', () => {
    const failed = toResponseObject(
      result({
        text: 'Partial',
        finishReason: { unified: 'error', raw: undefined },
        error: { message: 'boom', errorClass: 'upstream_5xx', retryable: true },
      }),
      simpleCtx(),
    );
    expect(failed).toMatchObject({
      status: 'failed',
      error: { code: 'upstream_server_error', message: expect.stringContaining("'gemini-main' failed") },
    });
  });
});

describe('createResponsesStreamEncoder', () => {
  test('text: the exact event sequence, increasing sequence numbers, completed with usage', () => {
    const events = encodeAll(simpleCtx(), [
      { type: 'response-start', warnings: [] },
      { type: 'text-delta', delta: 'Hel' },
      { type: 'text-delta', delta: 'lo.' },
      { type: 'finish', finishReason: { unified: 'stop', raw: 'stop' }, usage: { inputTokens: 3, outputTokens: 2 } },
    ]);
    expect(types(events)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, index) => index));
    expect(events[0]).toMatchObject({ response: { id: 'resp_t1', status: 'in_progress', output: [], usage: null } });
    expect(events[2]).toMatchObject({ output_index: 0, item: { id: 'msg_t1_0', type: 'message', status: 'in_progress', content: [] } });
    expect(events[4]).toMatchObject({ item_id: 'msg_t1_0', output_index: 0, content_index: 0, delta: 'Hel', logprobs: [] });
    expect(events[6]).toMatchObject({ text: 'Hello.' });
    expect(events[8]).toMatchObject({ item: { status: 'completed', content: [{ type: 'output_text', text: 'Hello.' }] } });
    expect(events[9]).toMatchObject({
      response: { status: 'completed', output: [{ id: 'msg_t1_0' }], usage: { input_tokens: 3, output_tokens: 2, total_tokens: 5 } },
    });
  });

  test('reasoning then a signed tool call: items close in order; the state rides on a last reasoning item', () => {
    const events = encodeAll(contextFor(codexTurn1()), geminiToolTurn);
    expect(types(events)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.reasoning_summary_part.added',
      'response.reasoning_summary_text.delta',
      'response.reasoning_summary_text.delta',
      'response.reasoning_summary_text.done',
      'response.reasoning_summary_part.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.output_item.done',
      'response.completed',
    ]);
    const done = events.filter((event) => event.type === 'response.output_item.done').map((event) => event.item);
    expect(done).toEqual([
      { id: 'rs_t1_0', type: 'reasoning', summary: [{ type: 'summary_text', text: 'The user wants the files. I will run ls.' }] },
      { id: 'fc_t1_1', type: 'function_call', status: 'completed', arguments: '{"cmd":"ls -la"}', call_id: 'call_1', name: 'exec_command' },
      { id: 'rs_t1_2', type: 'reasoning', summary: [], encrypted_content: expect.stringMatching(/^llmp1\./) },
    ]);
    const completed = events.at(-1)!.response as Record<string, unknown>;
    expect(completed.output).toEqual(done);
    expect(completed.usage).toMatchObject({ input_tokens: 1200, input_tokens_details: { cached_tokens: 1000 } });
  });

  test('the state lands on the reasoning item still open at finish (Anthropic-style signature)', () => {
    const events = encodeAll(simpleCtx(), [
      { type: 'reasoning-delta', delta: 'Hmm.' },
      { type: 'reasoning-delta', delta: '', providerMetadata: { anthropic: { signature: 'sig' } } },
      { type: 'finish', finishReason: { unified: 'stop', raw: 'end_turn' }, usage: {} },
    ]);
    const done = events.filter((event) => event.type === 'response.output_item.done');
    expect(done).toHaveLength(1);
    expect(decodeReasoningState((done[0]!.item as Record<string, string>).encrypted_content!)).toEqual({
      message: { anthropic: { signature: 'sig' } },
    });
  });

  test('interleaved kinds open new items with increasing output_index; parallel calls one after another', () => {
    const events = encodeAll(simpleCtx(), [
      { type: 'reasoning-delta', delta: 'a' },
      { type: 'text-delta', delta: 'b' },
      { type: 'reasoning-delta', delta: 'c' },
      { type: 'tool-call-delta', index: 0, id: 'x', name: 'f', argumentsDelta: '{"n":' },
      { type: 'tool-call-delta', index: 0, argumentsDelta: '1}' },
      { type: 'tool-call-delta', index: 1, id: 'y', name: 'f', argumentsDelta: '' },
      { type: 'tool-call-delta', index: 1, argumentsDelta: '{"n":2}' },
      { type: 'finish', finishReason: { unified: 'tool-calls', raw: 'tool_calls' }, usage: {} },
    ]);
    const added = events.filter((event) => event.type === 'response.output_item.added');
    expect(added.map((event) => [event.output_index, (event.item as { type: string }).type])).toEqual([
      [0, 'reasoning'],
      [1, 'message'],
      [2, 'reasoning'],
      [3, 'function_call'],
      [4, 'function_call'],
    ]);
    // Every item is done before the next is added.
    let openCount = 0;
    for (const event of events) {
      if (event.type === 'response.output_item.added') expect(++openCount).toBe(1);
      if (event.type === 'response.output_item.done') openCount--;
    }
    const args = events.filter((event) => event.type === 'response.function_call_arguments.done').map((event) => event.arguments);
    expect(args).toEqual(['{"n":1}', '{"n":2}']);
  });

  test('length → response.incomplete; the open item is done with status incomplete', () => {
    const events = encodeAll(simpleCtx(), [
      { type: 'text-delta', delta: 'Once' },
      { type: 'finish', finishReason: { unified: 'length', raw: 'length' }, usage: { outputTokens: 1 } },
    ]);
    expect(events.at(-2)).toMatchObject({ type: 'response.output_item.done', item: { status: 'incomplete' } });
    expect(events.at(-1)).toMatchObject({
      type: 'response.incomplete',
      response: { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } },
    });
  });

  test('an error → response.failed (partial output) then an error event; nothing after', () => {
    const encoder = createResponsesStreamEncoder(simpleCtx());
    const events = [
      ...encoder.encode({ type: 'text-delta', delta: 'Part' }),
      ...encoder.encode({ type: 'error', error: { message: 'Too many', errorClass: 'rate_limit', retryable: true, retryAfterMs: 2000 } }),
    ];
    expect(encoder.failed).toBe(true);
    expect(encoder.encode({ type: 'finish', finishReason: { unified: 'error', raw: undefined }, usage: {} })).toEqual([]);
    expect(types(events).slice(-2)).toEqual(['response.failed', 'error']);
    expect(events.at(-2)).toMatchObject({
      response: {
        status: 'failed',
        error: { code: 'rate_limit_exceeded' },
        output: [{ id: 'msg_t1_0', status: 'incomplete', content: [{ text: 'Part' }] }],
      },
    });
    expect(events.at(-1)).toMatchObject({ code: 'rate_limit_exceeded', param: null, message: expect.stringContaining('Retry after 2 s') });
  });

  test('an error before any output still opens the response first', () => {
    const events = encodeAll(simpleCtx(), [
      { type: 'error', error: { message: 'x', errorClass: 'overloaded', retryable: true } },
    ]);
    expect(types(events)).toEqual(['response.created', 'response.in_progress', 'response.failed', 'error']);
  });

  test('formatResponsesSSE names the event', () => {
    expect(formatResponsesSSE({ type: 'response.completed', sequence_number: 3 })).toBe(
      'event: response.completed\ndata: {"type":"response.completed","sequence_number":3}\n\n',
    );
  });
});

describe('reasoning state round trip (encode → client sends the items back → parse)', () => {
  const expectRestored = (body: unknown) => {
    const parsed = parseResponsesRequest(body);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
    const assistant = parsed.value.request.messages.find((message) => message.role === 'assistant');
    expect(assistant).toEqual({
      role: 'assistant',
      content: null,
      reasoning: 'The user wants the files. I will run ls.',
      toolCalls: [
        {
          id: 'call_1',
          name: 'exec_command',
          arguments: '{"cmd":"ls -la"}',
          providerMetadata: { gemini: { thoughtSignature: 'c2lnLWNhbGwtMQ==' } },
        },
      ],
      providerMetadata: { gemini: { thoughtSignature: 'c2lnLW1lc3NhZ2U=' } },
    });
  };

  test('streamed items, as Codex records them from output_item.done', () => {
    const events = encodeAll(contextFor(codexTurn1()), geminiToolTurn);
    const items = events.filter((event) => event.type === 'response.output_item.done').map((event) => event.item);
    expectRestored(JSON.parse(JSON.stringify(codexTurn2(items))));
  });

  test('a non-streamed response.output, as SDK users pass it back', () => {
    const object = toResponseObject(accumulate(geminiToolTurn), contextFor(codexTurn1()));
    expectRestored(JSON.parse(JSON.stringify(codexTurn2(object.output as unknown[]))));
  });
});

describe('custom (freeform) tools on output', () => {
  const exec = { type: 'custom', name: 'exec', description: 'Runs a command.', format: { type: 'grammar', syntax: 'lark', definition: 'start: /.+/' } };
  const customCtx = () =>
    contextFor({
      model: 'gw-mock',
      input: 'list',
      tools: [exec, { type: 'function', name: 'f' }, { type: 'namespace', name: 'shell', description: 'x', tools: [{ ...exec, name: 'run' }] }],
    });
  const finish: StreamEvent = { type: 'finish', finishReason: { unified: 'tool-calls', raw: 'tool_calls' }, usage: { inputTokens: 5, outputTokens: 3 } };

  test('toResponseObject: custom_tool_call items with the decoded input; functions unchanged; raw text kept', () => {
    const object = toResponseObject(
      result({
        finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
        toolCalls: [
          { id: 'c1', name: 'exec', arguments: '{"input":"ls -la"}' },
          { id: 'c2', name: 'f', arguments: '{}' },
          { id: 'c3', name: 'exec', arguments: 'not json' },
          { id: 'c4', name: 'shell__run', arguments: '{"input":"pwd"}' },
        ],
      }),
      customCtx(),
    );
    expect(object.output).toEqual([
      { id: 'ctc_t1_0', type: 'custom_tool_call', status: 'completed', call_id: 'c1', name: 'exec', input: 'ls -la' },
      { id: 'fc_t1_1', type: 'function_call', status: 'completed', arguments: '{}', call_id: 'c2', name: 'f' },
      { id: 'ctc_t1_2', type: 'custom_tool_call', status: 'completed', call_id: 'c3', name: 'exec', input: 'not json' },
      { id: 'ctc_t1_3', type: 'custom_tool_call', status: 'completed', call_id: 'c4', name: 'run', input: 'pwd', namespace: 'shell' },
    ]);
  });

  test('stream: added with empty input, one input delta with the decoded input, done, item done', () => {
    const events = encodeAll(customCtx(), [
      { type: 'response-start' },
      { type: 'tool-call-delta', index: 0, id: 'c1', name: 'exec', argumentsDelta: '{"inp' },
      { type: 'tool-call-delta', index: 0, argumentsDelta: 'ut":"ls \\"a b\\"' },
      { type: 'tool-call-delta', index: 0, argumentsDelta: '"}' },
      { type: 'tool-call-delta', index: 1, id: 'c2', name: 'f', argumentsDelta: '{}' },
      finish,
    ] as StreamEvent[]);
    expect(types(events)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.custom_tool_call_input.delta',
      'response.custom_tool_call_input.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events[2]).toMatchObject({
      output_index: 0,
      item: { id: 'ctc_t1_0', type: 'custom_tool_call', status: 'in_progress', call_id: 'c1', name: 'exec', input: '' },
    });
    expect(events[3]).toMatchObject({ item_id: 'ctc_t1_0', output_index: 0, delta: 'ls "a b"' });
    expect(events[4]).toMatchObject({ item_id: 'ctc_t1_0', output_index: 0, input: 'ls "a b"' });
    expect(events[5]!.item).toEqual({ id: 'ctc_t1_0', type: 'custom_tool_call', status: 'completed', call_id: 'c1', name: 'exec', input: 'ls "a b"' });
    checkResponsesEventSequence(events);
  });
});
