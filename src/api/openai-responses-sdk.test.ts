// The official `openai` SDK as the client: its `responses` requests must parse, and what the codec
// encodes must be accepted by its stream accumulator (`responses.stream`), its raw event stream
// (`create({stream: true})`) and its non-streaming types, including failures (the SDK must raise).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import OpenAI from 'openai';
import { accumulate } from '../core/accumulate.ts';
import type { ProviderErrorInfo, StreamEvent } from '../core/types.ts';
import {
  type ParsedResponsesRequest,
  createResponsesStreamEncoder,
  formatResponsesSSE,
  parseResponsesRequest,
  providerErrorToOpenAI,
  toResponseObject,
} from './openai-responses.ts';
import { geminiToolTurn } from './openai-responses-test-helpers.ts';

type Script = { events: StreamEvent[]; preError?: ProviderErrorInfo; chunkSize?: number };

const textTurn: StreamEvent[] = [
  { type: 'response-start', warnings: [] },
  { type: 'reasoning-delta', delta: 'Short ' },
  { type: 'reasoning-delta', delta: 'answer.' },
  { type: 'text-delta', delta: 'Hello' },
  { type: 'text-delta', delta: ', world.' },
  { type: 'finish', finishReason: { unified: 'stop', raw: 'stop' }, usage: { inputTokens: 12, cachedInputTokens: 2, outputTokens: 9, reasoningTokens: 4 } },
];

const exec = {
  type: 'function' as const,
  name: 'exec_command',
  description: 'Run a shell command.',
  parameters: { type: 'object', properties: { cmd: { type: 'string' } }, required: ['cmd'] },
  strict: false,
};

/** Splits a string into pieces of `size` characters (streams in arbitrary byte splits). */
function split(text: string, size: number): string[] {
  const pieces: string[] = [];
  for (let index = 0; index < text.length; index += size) pieces.push(text.slice(index, index + size));
  return pieces;
}

describe('openai SDK against the Responses codec', () => {
  let server: ReturnType<typeof Bun.serve>;
  let client: OpenAI;
  let script: Script = { events: textTurn };
  const received: ParsedResponsesRequest[] = [];

  beforeAll(() => {
    server = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      async fetch(request) {
        const parsed = parseResponsesRequest(await request.json());
        if (!parsed.ok) {
          return Response.json({ error: { ...parsed.error, type: 'invalid_request_error' } }, { status: 400 });
        }
        received.push(parsed.value);
        if (script.preError) {
          const mapped = providerErrorToOpenAI(script.preError, 'mock');
          return Response.json(mapped.body, { status: mapped.status, headers: mapped.headers });
        }
        const ctx = { id: `resp_${received.length}`, created: 1_760_000_000, model: 'gw-mock', request: parsed.value, provider: 'mock' };
        if (!parsed.value.stream) return Response.json(toResponseObject(accumulate(script.events), ctx));
        const encoder = createResponsesStreamEncoder(ctx);
        const sse = script.events.flatMap((event) => encoder.encode(event)).map(formatResponsesSSE).join('');
        const bytes = new TextEncoder();
        const pieces = split(sse, script.chunkSize ?? sse.length);
        const body = new ReadableStream<Uint8Array>({
          async start(controller) {
            for (const piece of pieces) {
              controller.enqueue(bytes.encode(piece));
              if (script.chunkSize) await Bun.sleep(0);
            }
            controller.close();
          },
        });
        return new Response(body, { headers: { 'content-type': 'text/event-stream; charset=utf-8' } });
      },
    });
    client = new OpenAI({ baseURL: `http://127.0.0.1:${server.port}/v1`, apiKey: 'x', maxRetries: 0 });
  });

  afterAll(() => server.stop(true));

  test('responses.stream(): finalResponse has the reasoning summary, message text, usage and status', async () => {
    script = { events: textTurn };
    const stream = client.responses.stream({ model: 'gw-mock', input: 'Say hello', instructions: 'Be brief.', reasoning: { effort: 'low', summary: 'auto' } });
    const deltas: string[] = [];
    stream.on('response.output_text.delta', (event) => deltas.push(event.delta));
    const final = await stream.finalResponse();
    expect(deltas).toEqual(['Hello', ', world.']);
    expect(final.status).toBe('completed');
    expect(final.output_text).toBe('Hello, world.');
    expect(final.output.map((item) => item.type)).toEqual(['reasoning', 'message']);
    expect(final.output[0]).toMatchObject({ type: 'reasoning', summary: [{ type: 'summary_text', text: 'Short answer.' }] });
    expect(final.usage).toEqual({
      input_tokens: 12,
      input_tokens_details: { cached_tokens: 2, cache_write_tokens: 0 },
      output_tokens: 9,
      output_tokens_details: { reasoning_tokens: 4 },
      total_tokens: 21,
    });
    expect(final.instructions).toBe('Be brief.');
    expect(received.at(-1)!.request).toMatchObject({ reasoningEffort: 'low', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello' }] });
  });

  test('a function call streamed in 7-byte pieces: complete arguments, Codex-shaped items', async () => {
    script = { events: geminiToolTurn, chunkSize: 7 };
    const stream = client.responses.stream({ model: 'gw-mock', input: 'list the files', tools: [exec], store: false, include: ['reasoning.encrypted_content'] });
    const argumentSnapshots: string[] = [];
    stream.on('response.function_call_arguments.delta', (event) => argumentSnapshots.push(event.snapshot));
    const final = await stream.finalResponse();
    expect(argumentSnapshots).toEqual(['{"cmd":"ls -la"}']);
    expect(final.output.map((item) => item.type)).toEqual(['reasoning', 'function_call', 'reasoning']);
    expect(final.output[1]).toMatchObject({ type: 'function_call', call_id: 'call_1', name: 'exec_command', arguments: '{"cmd":"ls -la"}', status: 'completed' });
    expect(final.output[2]).toMatchObject({ type: 'reasoning', summary: [], encrypted_content: expect.stringMatching(/^llmp1\./) });
    expect(final.usage?.output_tokens_details.reasoning_tokens).toBe(60);
  });

  test('two turns through the SDK: output items sent back restore the provider state for the same provider', async () => {
    script = { events: geminiToolTurn };
    const input: OpenAI.Responses.ResponseInput = [{ role: 'user', content: 'list the files' }];
    const first = await client.responses.stream({ model: 'gw-mock', input, tools: [exec], store: false }).finalResponse();
    const call = first.output.find((item) => item.type === 'function_call')!;
    script = { events: textTurn };
    const second = await client.responses.create({
      model: 'gw-mock',
      tools: [exec],
      store: false,
      input: [...input, ...(first.output as OpenAI.Responses.ResponseInputItem[]), { type: 'function_call_output', call_id: call.call_id, output: 'a.txt\nb.txt\n' }],
    });
    expect(second.output_text).toBe('Hello, world.');
    expect(received.at(-1)!.request.messages).toEqual([
      { role: 'user', content: 'list the files' },
      {
        role: 'assistant',
        content: null,
        reasoning: 'The user wants the files. I will run ls.',
        toolCalls: [{ id: 'call_1', name: 'exec_command', arguments: '{"cmd":"ls -la"}', providerMetadata: { gemini: { thoughtSignature: 'c2lnLWNhbGwtMQ==' } } }],
        providerMetadata: { gemini: { thoughtSignature: 'c2lnLW1lc3NhZ2U=' } },
      },
      { role: 'tool', toolCallId: 'call_1', content: 'a.txt\nb.txt\n' },
    ]);
  });

  test('create({stream: true}) yields every event in order with increasing sequence numbers', async () => {
    script = { events: textTurn, chunkSize: 3 };
    const stream = await client.responses.create({ model: 'gw-mock', input: 'hi', stream: true });
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    expect(events[0]!.type).toBe('response.created');
    expect(events.at(-1)!.type).toBe('response.completed');
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, index) => index));
    const completed = events.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
    expect(completed.response.usage?.total_tokens).toBe(21);
  });

  test('non-streaming create(): output_text and usage', async () => {
    script = { events: textTurn };
    const response = await client.responses.create({ model: 'gw-mock', input: [{ role: 'user', content: [{ type: 'input_text', text: 'hi' }] }] });
    expect(response.output_text).toBe('Hello, world.');
    expect(response.status).toBe('completed');
    expect(response.usage?.input_tokens).toBe(12);
  });

  test('max_output_tokens reached: the stream resolves with status incomplete', async () => {
    script = { events: [{ type: 'text-delta', delta: 'Once upon' }, { type: 'finish', finishReason: { unified: 'length', raw: 'length' }, usage: {} }] };
    const final = await client.responses.stream({ model: 'gw-mock', input: 'story', max_output_tokens: 16 }).finalResponse();
    expect(final.status).toBe('incomplete');
    expect(final.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(final.output_text).toBe('Once upon');
  });

  const midStreamError: StreamEvent[] = [
    { type: 'text-delta', delta: 'Partial' },
    { type: 'error', error: { message: 'upstream exploded', errorClass: 'upstream_5xx', retryable: true } },
    { type: 'finish', finishReason: { unified: 'error', raw: undefined }, usage: {} },
  ];

  test('an error mid-stream: responses.stream() rejects with APIError', async () => {
    script = { events: midStreamError };
    const error = await client.responses.stream({ model: 'gw-mock', input: 'hi' }).finalResponse().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).message).toContain('upstream exploded');
  });

  test('an error mid-stream: iterating create({stream: true}) throws after response.failed', async () => {
    script = { events: midStreamError };
    const stream = await client.responses.create({ model: 'gw-mock', input: 'hi', stream: true });
    const seen: string[] = [];
    const error = await (async () => {
      for await (const event of stream) seen.push(event.type);
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(seen.at(-1)).toBe('response.failed');
  });

  test('an upstream error before the stream: the SDK raises the mapped class (429 → RateLimitError)', async () => {
    script = { events: [], preError: { message: 'slow down', errorClass: 'rate_limit', retryable: true, status: 429, retryAfterMs: 1000 } };
    const error = await client.responses.create({ model: 'gw-mock', input: 'hi', stream: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe('rate_limit_exceeded');
  });

  test('a refused request: BadRequestError with param (previous_response_id)', async () => {
    script = { events: textTurn };
    const error = await client.responses.create({ model: 'gw-mock', input: 'hi', previous_response_id: 'resp_old' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.APIError>).param).toBe('previous_response_id');
    expect((error as InstanceType<typeof OpenAI.APIError>).message).toContain('stateless');
  });
});
