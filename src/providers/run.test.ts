import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { accumulate } from '../core/accumulate.ts';
import type { ChatRequest, StreamEvent } from '../core/types.ts';
import { deepseek } from './deepseek.ts';
import { ProviderError } from './errors.ts';
import { openai } from './openai.ts';
import { openProvider, type RunOptions, runProvider, WATCH_INTERVAL_MS, watchedCalls } from './run.ts';
import { loadFixture } from './test-helpers.ts';

const KEY = 'sk-test-run-0123456789abcdef';
const request: ChatRequest = { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] };
const encoder = new TextEncoder();

const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'c1', model: 'gpt-4o', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
const usageChunk = `data: ${JSON.stringify({ id: 'c1', choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } })}\n\n`;

/** A fetch answering with the given parts (strings are sent as separate chunks). */
function fakeFetch(status: number, headers: Record<string, string>, parts: string[], onCancel?: () => void) {
  const calls: RequestInit[] = [];
  const fetchImpl = (async (_url: string, init: RequestInit) => {
    calls.push(init);
    const queue = [...parts];
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = queue.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(encoder.encode(next));
      },
      cancel: onCancel,
    });
    return new Response(body, { status, headers });
  }) as unknown as typeof fetch;
  return { fetch: fetchImpl, calls };
}

const SSE = { 'content-type': 'text/event-stream' };
const JSON_TYPE = { 'content-type': 'application/json' };

async function collect(iterable: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const events: StreamEvent[] = [];
  for await (const event of iterable) events.push(event);
  return events;
}
async function failure(iterable: AsyncIterable<StreamEvent>): Promise<ProviderError> {
  const error = await collect(iterable).then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(ProviderError);
  return error as ProviderError;
}
const run = (options: Partial<RunOptions> & { fetch: typeof fetch }, adapter = openai, req = request) =>
  runProvider(adapter, req, { apiKey: KEY, instanceId: 'openai-main' }, { stream: true, ...options });

describe('runProvider with an injected fetch', () => {
  test('sends one POST with the built body and Bearer auth; events start with response-start', async () => {
    const fake = fakeFetch(200, SSE, [chunk({ role: 'assistant', content: '' }), chunk({ content: 'Hello' }), chunk({}, 'stop'), usageChunk, 'data: [DONE]\n\n']);
    const events = await collect(run({ fetch: fake.fetch }));
    expect(fake.calls).toHaveLength(1);
    expect(fake.calls[0]!.method).toBe('POST');
    expect((fake.calls[0]!.headers as Record<string, string>).authorization).toBe(`Bearer ${KEY}`);
    expect(JSON.parse(String(fake.calls[0]!.body))).toEqual({
      model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], stream: true, stream_options: { include_usage: true },
    });
    expect(events).toEqual([
      { type: 'response-start', warnings: [], id: 'c1', model: 'gpt-4o' },
      { type: 'text-delta', delta: 'Hello' },
      {
        type: 'finish',
        finishReason: { unified: 'stop', raw: 'stop' },
        usage: { inputTokens: 3, outputTokens: 2, raw: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } },
      },
    ]);
  });

  test('non-streaming calls yield the same vocabulary (synthetic sequence)', async () => {
    const body = { id: 'x', model: 'gpt-4o', choices: [{ index: 0, message: { content: 'Hey' }, finish_reason: 'stop' }] };
    const events = await collect(run({ stream: false, fetch: fakeFetch(200, JSON_TYPE, [JSON.stringify(body)]).fetch }));
    expect(events.map((e) => e.type)).toEqual(['response-start', 'text-delta', 'finish']);
    expect(accumulate(events).text).toBe('Hey');
  });

  test('openProvider: a JSON reply comes back whole and the call is over; a stream continues as events', async () => {
    const body = { id: 'x', model: 'gpt-4o', choices: [{ index: 0, message: { content: 'Hey' }, finish_reason: 'stop' }] };
    const client = new AbortController();
    const timeouts = { connectMs: 30, firstByteMs: 30, idleMs: 30 };
    const jsonFetch = fakeFetch(200, JSON_TYPE, [JSON.stringify(body)]);
    const json = await openProvider(openai, request, { apiKey: KEY }, { stream: false, signal: client.signal, timeouts, fetch: jsonFetch.fetch });
    expect(json.events).toBeUndefined();
    expect(json.result).toMatchObject({ id: 'x', model: 'gpt-4o', text: 'Hey', finishReason: { unified: 'stop' } });
    const sseFetch = fakeFetch(200, SSE, [chunk({ content: 'Hi' }), chunk({}, 'stop'), 'data: [DONE]\n\n']);
    const sse = await openProvider(openai, request, { apiKey: KEY }, { stream: true, signal: client.signal, timeouts, fetch: sseFetch.fetch });
    expect(sse.result).toBeUndefined();
    expect(accumulate(await collect(sse.events!)).text).toBe('Hi');
    // Both calls are over: no timer and no listener on the client's signal is left to abort them.
    await Bun.sleep(80);
    client.abort();
    expect([jsonFetch.calls[0]!.signal!.aborted, sseFetch.calls[0]!.signal!.aborted]).toEqual([false, false]);
  });

  test('a stream request answered with plain JSON is still understood', async () => {
    const body = { choices: [{ index: 0, message: { content: 'JSON anyway' }, finish_reason: 'stop' }] };
    const events = await collect(run({ fetch: fakeFetch(200, JSON_TYPE, [JSON.stringify(body)]).fetch }));
    expect(accumulate(events).text).toBe('JSON anyway');
  });

  test('HTTP errors throw a classified ProviderError with the key redacted', async () => {
    const body = JSON.stringify({ error: { message: `Incorrect API key provided: ${KEY}`, type: 'invalid_request_error', code: 'invalid_api_key' } });
    const error = await failure(run({ fetch: fakeFetch(401, JSON_TYPE, [body]).fetch }));
    expect(error.provider).toBe('openai-main');
    expect(error.status).toBe(401);
    expect(error.errorClass).toBe('authentication');
    expect(error.retryable).toBe(false);
    expect(error.code).toBe('invalid_api_key');
    expect(error.message).toBe('Incorrect API key provided: [REDACTED]');
    expect(error.upstreamBody).not.toContain(KEY);
    expect(error.upstreamBody).toContain('[REDACTED]');
  });

  test('429 with retry-after → rate_limit, retryable, retryAfterMs', async () => {
    const fake = fakeFetch(429, { ...JSON_TYPE, 'retry-after': '7' }, ['{"error":{"message":"slow down","code":"rate_limit_exceeded"}}']);
    const error = await failure(run({ fetch: fake.fetch }));
    expect([error.errorClass, error.retryable, error.retryAfterMs]).toEqual(['rate_limit', true, 7000]);
  });

  test('network errors → class network, retryable, with the cause', async () => {
    const fetchImpl = (async () => {
      throw new TypeError('connect ECONNREFUSED 127.0.0.1:1');
    }) as unknown as typeof fetch;
    const error = await failure(run({ fetch: fetchImpl }));
    expect([error.errorClass, error.retryable]).toEqual(['network', true]);
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.cause).toBeInstanceOf(TypeError);
  });

  test('validate() refusals are thrown without calling the upstream', async () => {
    const fake = fakeFetch(200, SSE, []);
    const imageRequest: ChatRequest = { model: 'deepseek-chat', messages: [{ role: 'user', content: [{ type: 'image', url: 'data:image/png;base64,AA' }] }] };
    const error = await failure(run({ fetch: fake.fetch }, deepseek, imageRequest));
    expect([error.errorClass, error.retryable]).toEqual(['unsupported_input', false]);
    expect(fake.calls).toHaveLength(0);
  });

  test('malformed JSON body / foreign JSON shape / 200 error body → thrown before output', async () => {
    let error = await failure(run({ stream: false, fetch: fakeFetch(200, JSON_TYPE, ['<html>oops']).fetch }));
    expect([error.errorClass, error.retryable, error.upstreamBody]).toEqual(['invalid_response', true, '<html>oops']);
    error = await failure(run({ stream: false, fetch: fakeFetch(200, JSON_TYPE, ['{"data":[]}']).fetch }));
    expect(error.errorClass).toBe('invalid_response');
    error = await failure(run({ stream: false, fetch: fakeFetch(200, JSON_TYPE, ['{"error":{"message":"busy","type":"server_error"}}']).fetch }));
    expect([error.errorClass, error.message, error.status]).toEqual(['upstream_5xx', 'busy', undefined]);
  });

  test('malformed SSE before output is thrown; after output it becomes error + finish', async () => {
    const before = await failure(run({ fetch: fakeFetch(200, SSE, [chunk({ role: 'assistant' }), 'data: {broken\n\n']).fetch }));
    expect([before.errorClass, before.upstreamBody]).toEqual(['invalid_response', '{broken']);

    const events = await collect(run({ fetch: fakeFetch(200, SSE, [chunk({ content: 'Hi' }), 'data: {broken\n\n', chunk({ content: 'never' })]).fetch }));
    expect(events.map((e) => e.type)).toEqual(['response-start', 'text-delta', 'error', 'finish']);
    expect(accumulate(events)).toMatchObject({ text: 'Hi', finishReason: { unified: 'error' }, error: { errorClass: 'invalid_response' } });
  });

  test('an in-stream error frame that arrives first is thrown (fallback is still possible)', async () => {
    const frame = 'data: {"error":{"message":"overloaded","type":"server_error"}}\n\n';
    const error = await failure(run({ fetch: fakeFetch(200, SSE, [': keep-alive\n\n', chunk({ role: 'assistant', content: '' }), frame]).fetch }));
    expect([error.errorClass, error.retryable, error.message]).toEqual(['upstream_5xx', true, 'overloaded']);
  });

  test('a stream cut without finish_reason: thrown before output, error + finish after', async () => {
    const before = await failure(run({ fetch: fakeFetch(200, SSE, [chunk({ role: 'assistant' })]).fetch }));
    expect(before.errorClass).toBe('invalid_response');
    const events = await collect(run({ fetch: fakeFetch(200, SSE, [chunk({ content: 'Hal' })]).fetch }));
    expect(events.slice(-2).map((e) => e.type)).toEqual(['error', 'finish']);
  });

  test('data after [DONE] is ignored', async () => {
    const events = await collect(run({ fetch: fakeFetch(200, SSE, [chunk({ content: 'A' }, 'stop'), 'data: [DONE]\n\n', chunk({ content: 'B' })]).fetch }));
    expect(accumulate(events).text).toBe('A');
  });

  test('breaking out early cancels the upstream body', async () => {
    let cancelled = false;
    const fake = fakeFetch(200, SSE, [chunk({ content: 'A' }), chunk({ content: 'B' }), chunk({}, 'stop')], () => {
      cancelled = true;
    });
    for await (const event of run({ fetch: fake.fetch })) {
      if (event.type === 'text-delta') break;
    }
    expect(cancelled).toBe(true);
  });

  test('a slow consumer does not count as upstream silence', async () => {
    const fake = fakeFetch(200, SSE, [chunk({ content: 'A' }), chunk({ content: 'B' }), chunk({}, 'stop'), 'data: [DONE]\n\n']);
    const events: StreamEvent[] = [];
    for await (const event of run({ fetch: fake.fetch, timeouts: { idleMs: 40 } })) {
      events.push(event);
      await Bun.sleep(80);
    }
    expect(accumulate(events)).toMatchObject({ text: 'AB', finishReason: { unified: 'stop' } });
  });

  test('timeouts still fire when the fetch implementation ignores the abort signal', async () => {
    const fetchImpl = (async () =>
      new Response(new ReadableStream({ start: (c) => c.enqueue(encoder.encode(chunk({ content: 'A' }))) }), {
        headers: SSE,
      })) as unknown as typeof fetch;
    const started = performance.now();
    const events = await collect(run({ fetch: fetchImpl, timeouts: { idleMs: 100 } }));
    expect(events.map((e) => e.type)).toEqual(['response-start', 'text-delta', 'error', 'finish']);
    expect(accumulate(events).error).toMatchObject({ errorClass: 'timeout', message: 'upstream sent no data for 100 ms' });
    expect(performance.now() - started).toBeLessThan(1000);
  });

  test('an already aborted signal rethrows its reason, not a ProviderError', async () => {
    const controller = new AbortController();
    controller.abort(new DOMException('client went away', 'AbortError'));
    const error = await collect(run({ fetch: globalThis.fetch, signal: controller.signal })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DOMException);
    expect((error as DOMException).message).toBe('client went away');
  });
});

const midstream = await loadFixture('openai', 'stream-error-midstream');

describe('runProvider against a real mock upstream (Bun.serve)', () => {
  let server: ReturnType<typeof Bun.serve>;
  let upstreamAbortedAt: number | undefined;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  /** Streams the given parts, with `number` entries meaning "wait this many ms". */
  const streamed = (parts: (string | number)[], headers: Record<string, string> = SSE) =>
    new Response(
      new ReadableStream<Uint8Array>({
        async start(controller) {
          try {
            for (const part of parts) {
              if (typeof part === 'number') await sleep(part);
              else controller.enqueue(encoder.encode(part));
            }
            controller.close();
          } catch {
            // the client went away: enqueue on a cancelled stream throws
          }
        },
      }),
      { headers },
    );

  beforeAll(() => {
    server = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      idleTimeout: 30,
      async fetch(req) {
        upstreamAbortedAt = undefined;
        req.signal.addEventListener('abort', () => {
          upstreamAbortedAt = performance.now();
        });
        const path = new URL(req.url).pathname;
        switch (path) {
          case '/slow-stream/chat/completions':
            return streamed([chunk({ content: 'first' }), 5000, chunk({}, 'stop')]);
          case '/slow-headers/chat/completions':
            await sleep(3000);
            return streamed([chunk({}, 'stop')]);
          case '/silent/chat/completions':
            return streamed([': keep-alive\n\n', 3000]);
          case '/keepalive-after-output/chat/completions':
            return streamed([chunk({ content: 'partial' }), ...Array.from({ length: 30 }, () => [': keep-alive\n\n', 30]).flat()]);
          case '/keepalive-before-output/chat/completions':
            return streamed(Array.from({ length: 30 }, () => [': keep-alive\n\n', 30]).flat());
          case '/steady/chat/completions':
            return streamed([...Array.from({ length: 12 }, (_, i) => [chunk({ content: String(i % 10) }), 60]).flat(), chunk({}, 'stop')]);
          case '/midstream/chat/completions':
            return new Response(new Blob([midstream.sse! as Uint8Array<ArrayBuffer>]), { headers: midstream.response.headers });
          case '/json-stall/chat/completions':
            return streamed(['{"id":"x","choices":', 3000, '[]}'], JSON_TYPE);
          case '/not-json/chat/completions':
            return new Response('{"choices": [', { headers: JSON_TYPE });
          case '/bad-sse/chat/completions':
            return streamed(['data: {"choices": [\n\n']);
          case '/overloaded/chat/completions':
            return Response.json({ error: { message: 'The engine is currently overloaded', type: 'server_error' } }, { status: 503, headers: { 'retry-after-ms': '150' } });
          default:
            return new Response('not found', { status: 404 });
        }
      },
    });
  });
  afterAll(() => server.stop(true));

  const at = (path: string, options: Partial<RunOptions> = {}) =>
    runProvider(openai, request, { apiKey: KEY, baseUrl: `${server.url.origin}/${path}` }, { stream: true, ...options });

  test('client abort mid-stream reaches the upstream within 100 ms', async () => {
    const controller = new AbortController();
    let abortedAt = 0;
    const events: StreamEvent[] = [];
    const error = await (async () => {
      for await (const event of at('slow-stream', { signal: controller.signal })) {
        events.push(event);
        if (event.type === 'text-delta') {
          abortedAt = performance.now();
          controller.abort(new DOMException('client disconnected', 'AbortError'));
        }
      }
    })().catch((e: unknown) => e);
    expect(events.map((e) => e.type)).toEqual(['response-start', 'text-delta']);
    expect((error as DOMException).name).toBe('AbortError');
    await sleep(100);
    expect(upstreamAbortedAt).toBeDefined();
    expect(upstreamAbortedAt! - abortedAt).toBeLessThan(100);
  });

  test('client abort before response headers cancels the upstream at once', async () => {
    const controller = new AbortController();
    const started = performance.now();
    setTimeout(() => controller.abort(new DOMException('gone', 'AbortError')), 100);
    const error = await collect(at('slow-headers', { signal: controller.signal })).catch((e: unknown) => e);
    expect((error as DOMException).name).toBe('AbortError');
    expect(performance.now() - started).toBeLessThan(600);
    await sleep(100);
    expect(upstreamAbortedAt).toBeDefined();
    expect(upstreamAbortedAt! - started).toBeLessThan(300);
  });

  test("a JSON reply whose body stalls: Bun's fetch gives up the read at the idle limit", async () => {
    const started = performance.now();
    const error = await failure(at('json-stall', { stream: false, timeouts: { idleMs: 150 } }));
    expect([error.errorClass, error.retryable, error.message]).toEqual(['timeout', true, 'upstream sent no data for 150 ms']);
    expect(performance.now() - started).toBeLessThan(1000);
    await sleep(50);
    expect(upstreamAbortedAt).toBeDefined();
    expect(watchedCalls()).toBe(0);
  });

  test('a client abort while a JSON body stalls reaches the upstream within 100 ms', async () => {
    const controller = new AbortController();
    const started = performance.now();
    setTimeout(() => controller.abort(new DOMException('gone', 'AbortError')), 100);
    const error = await collect(at('json-stall', { stream: false, signal: controller.signal })).catch((e: unknown) => e);
    expect((error as DOMException).name).toBe('AbortError');
    await sleep(100);
    expect(upstreamAbortedAt).toBeDefined();
    expect(upstreamAbortedAt! - started).toBeLessThan(200);
    expect(watchedCalls()).toBe(0);
  });

  test('limits and caller aborts are checked every few ms by one sweep, which stops when no call is left', async () => {
    expect(WATCH_INTERVAL_MS).toBeLessThanOrEqual(20);
    const calls = [at('slow-stream'), at('slow-stream'), at('slow-stream')];
    const firsts = await Promise.all(calls.map((c) => c.next()));
    expect(firsts.every((f) => !f.done)).toBe(true);
    expect(watchedCalls()).toBe(3);
    await Promise.all(calls.map((c) => c.return(undefined)));
    expect(watchedCalls()).toBe(0);
  });

  test('calls that end in any order leave the watch consistent (limits still fire for the rest)', async () => {
    const calls = [at('slow-stream'), at('slow-stream'), at('slow-stream'), at('slow-stream')];
    await Promise.all(calls.map((c) => c.next()));
    expect(watchedCalls()).toBe(4);
    await calls[1]!.return(undefined);
    await calls[3]!.return(undefined);
    expect(watchedCalls()).toBe(2);
    // The two left are still watched: a short idle limit on a new call fires while they run.
    const started = performance.now();
    const error = await failure(at('json-stall', { stream: false, timeouts: { idleMs: 60 } }));
    expect(error.message).toBe('upstream sent no data for 60 ms');
    expect(performance.now() - started).toBeLessThan(1000);
    expect(watchedCalls()).toBe(2);
    await Promise.all([calls[0]!.return(undefined), calls[2]!.return(undefined)]);
    expect(watchedCalls()).toBe(0);
  });

  test('connect timeout (no response headers)', async () => {
    const started = performance.now();
    const error = await failure(at('slow-headers', { timeouts: { connectMs: 150 } }));
    expect([error.errorClass, error.retryable]).toEqual(['timeout', true]);
    expect(error.message).toBe('no response headers from upstream within 150 ms');
    expect(performance.now() - started).toBeLessThan(1000);
  });

  test('first-byte timeout: headers and comments arrive, no data', async () => {
    const started = performance.now();
    const error = await failure(at('silent', { timeouts: { connectMs: 1000, firstByteMs: 200 } }));
    expect([error.errorClass, error.retryable, error.message]).toEqual(['timeout', true, 'no data from upstream within 200 ms']);
    expect(performance.now() - started).toBeLessThan(1500);
  });

  test('keep-alive comments do not reset the idle timer (before output: thrown)', async () => {
    const started = performance.now();
    const error = await failure(at('keepalive-before-output', { timeouts: { idleMs: 200 } }));
    expect(error.errorClass).toBe('timeout');
    expect(error.message).toMatch(/^upstream sent no data for 200 ms \(only \d+ SSE comments\)$/);
    expect(performance.now() - started).toBeLessThan(700); // comments arrive every 30 ms for 900 ms
  });

  test('idle timeout after output: error event then finish(error)', async () => {
    const started = performance.now();
    const events = await collect(at('keepalive-after-output', { timeouts: { idleMs: 200 } }));
    expect(events.map((e) => e.type)).toEqual(['response-start', 'text-delta', 'error', 'finish']);
    const result = accumulate(events);
    expect(result.text).toBe('partial');
    expect(result.error).toMatchObject({ errorClass: 'timeout', retryable: true });
    expect(result.finishReason.unified).toBe('error');
    expect(performance.now() - started).toBeLessThan(700);
  });

  test('a stream that keeps sending within the idle limit runs past every limit several times over', async () => {
    const started = performance.now();
    const events = await collect(at('steady', { timeouts: { connectMs: 200, firstByteMs: 200, idleMs: 200 } }));
    expect(performance.now() - started).toBeGreaterThan(600); // 12 chunks, 60 ms apart
    const result = accumulate(events);
    expect(result.error).toBeUndefined();
    expect(result.text).toBe('012345678901');
    expect(result.finishReason.unified).toBe('stop');
  });

  test('mid-stream error after output (fixture bytes over HTTP)', async () => {
    const events = await collect(at('midstream'));
    const result = accumulate(events);
    expect(result.text).toBe(midstream.expect!.partial_content);
    expect(events.slice(-2).map((e) => e.type)).toEqual(['error', 'finish']);
    expect(result.error).toMatchObject({ errorClass: 'upstream_5xx', retryable: true });
    expect(result.error?.message).toStartWith('The server had an error processing your request.');
  });

  test('malformed JSON body and malformed SSE are invalid_response', async () => {
    const notJson = await failure(at('not-json', { stream: false }));
    expect([notJson.errorClass, notJson.status]).toEqual(['invalid_response', 200]);
    const badSse = await failure(at('bad-sse'));
    expect(badSse.errorClass).toBe('invalid_response');
  });

  test('503 over HTTP → overloaded with retry-after-ms', async () => {
    const error = await failure(at('overloaded'));
    expect([error.status, error.errorClass, error.retryable, error.retryAfterMs]).toEqual([503, 'overloaded', true, 150]);
  });
});
