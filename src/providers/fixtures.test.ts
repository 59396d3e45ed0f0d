// Every OpenAI/DeepSeek/xAI fixture in ../shared/fixtures, four ways: the outgoing request, the
// non-streaming parse, the stream decoder (whole / byte-by-byte / random splits) and the full
// runProvider path with a replay fetch. Expectations come from each fixture's `expect` block.
import { describe, expect, test } from 'bun:test';
import { accumulate } from '../core/accumulate.ts';
import type { ChatResult, StreamEvent } from '../core/types.ts';
import { deepseek } from './deepseek.ts';
import { ProviderError } from './errors.ts';
import { grok } from './grok.ts';
import { openai } from './openai.ts';
import { runProvider } from './run.ts';
import {
  SPLITS,
  chatRequestFromOpenAIBody,
  decodeSse,
  listCases,
  loadFixture,
  replayFetch,
  split,
  usageToOpenAI,
} from './test-helpers.ts';
import type { ProviderAdapter } from './types.ts';

const PROVIDERS: [folder: string, adapter: ProviderAdapter][] = [
  ['openai', openai],
  ['deepseek', deepseek],
  ['xai', grok],
];

const OPENAI_FINISH: Record<string, string> = {
  stop: 'stop',
  length: 'length',
  'tool-calls': 'tool_calls',
  'content-filter': 'content_filter',
};

/** Checks a result against a fixture's `expect` (OpenAI vocabulary). */
function expectMatches(result: ChatResult, expected: Record<string, any>) {
  if ('content' in expected) expect(result.text || null).toBe(expected.content);
  if ('reasoning_content' in expected) expect(result.reasoning).toBe(expected.reasoning_content);
  if (expected.finish_reason) expect(OPENAI_FINISH[result.finishReason.unified]).toBe(expected.finish_reason);
  if (expected.finish_reason) expect(result.finishReason.raw).toBe(expected.finish_reason);
  if (expected.tool_calls) {
    expect(result.toolCalls.map((call, index) => ({ index, ...call }))).toEqual(expected.tool_calls);
  }
  if (expected.usage) {
    const usage = usageToOpenAI(result.usage);
    const raw = result.usage.raw as any;
    const derived = {
      ...usage,
      uncached_prompt_tokens: usage.prompt_tokens! - (usage.cached_tokens ?? 0),
      cache_miss_tokens: usage.prompt_tokens! - (usage.cached_tokens ?? 0),
      visible_output_tokens: usage.completion_tokens! - (usage.reasoning_tokens ?? 0),
      image_tokens: raw?.prompt_tokens_details?.image_tokens,
    };
    expect(derived).toMatchObject(expected.usage);
    expect(result.usage.raw).toBeDefined();
  }
}

async function collect(events: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

for (const [folder, adapter] of PROVIDERS) {
  const cases = await listCases(folder);

  describe(`${folder} fixtures`, () => {
    test('the folder has the expected cases', () => {
      expect(cases.length).toBeGreaterThanOrEqual(12);
    });

    for (const name of cases) {
      describe(name, async () => {
        const fixture = await loadFixture(folder, name);
        const { upstream_request: upstream, response } = fixture;
        const apiKey = upstream.headers.authorization!.replace(/^Bearer /, '');
        const settings = { apiKey };
        const stream = upstream.body.stream === true;
        const request = chatRequestFromOpenAIBody(fixture.gateway_request ?? upstream.body);

        test('builds the upstream request', () => {
          const { http, warnings } = adapter.buildRequest(request, settings, { stream });
          expect(http.body).toEqual(upstream.body);
          expect(http.url).toBe(upstream.url);
          expect(http.headers.authorization).toBe(upstream.headers.authorization);
          expect(http.headers['content-type']).toBe('application/json');
          expect(warnings).toEqual([]);
        });

        if (response.status !== 200) {
          test('classifies the error', () => {
            const headers = new Headers(response.headers);
            const info = adapter.parseError({ status: response.status, body: JSON.stringify(response.body), headers });
            const body = response.body as any;
            expect(info.errorClass).toBe(fixture.expect!.error_class);
            expect(info.retryable).toBe(fixture.expect!.retryable);
            expect(info.status).toBe(response.status);
            expect(info.message).toBe(typeof body.error === 'string' ? body.error : body.error.message);
            if (fixture.expect!.retry_after_ms !== undefined) expect(info.retryAfterMs).toBe(fixture.expect!.retry_after_ms);
            if (headers.has('retry-after') && !headers.has('retry-after-ms')) {
              expect(info.retryAfterMs).toBe(Number(headers.get('retry-after')) * 1000);
            }
          });
        } else if (!fixture.sse) {
          test('parses the response', () => {
            const result = adapter.parseResponse(adapter.responseSchema.parse(response.body), []);
            expectMatches(result, fixture.expect!);
            expect(result.id).toBe((response.body as any).id);
            expect(result.model).toBe((response.body as any).model);
          });
        } else {
          for (const how of SPLITS) {
            test(`decodes the stream (${how})`, () => {
              const events = decodeSse(adapter, split(fixture.sse!, how));
              const result = accumulate(events);
              if (fixture.expect!.stream_error) {
                expect(result.text).toBe(fixture.expect!.partial_content);
                expect(events.at(-1)?.type).toBe('error');
              } else {
                expectMatches(result, fixture.expect!);
                expect(events.at(-1)?.type).toBe('finish');
                expect(events.filter((e) => e.type === 'response-start')).toHaveLength(1);
              }
            });
          }
        }

        for (const how of ['whole', 'random-7'] as const) {
          test(`runs through runProvider with a replay fetch (${how})`, async () => {
            const replay = replayFetch(fixture, how);
            const run = runProvider(adapter, request, settings, { stream, fetch: replay.fetch });
            if (fixture.expect?.error_class) {
              const error = await collect(run).then(() => undefined, (e: unknown) => e);
              expect(error).toBeInstanceOf(ProviderError);
              expect((error as ProviderError).errorClass).toBe(fixture.expect.error_class);
              expect((error as ProviderError).retryable).toBe(fixture.expect.retryable);
              if (fixture.expect.error_class === 'unsupported_input') expect(replay.calls).toHaveLength(0);
              else expect((error as ProviderError).upstreamBody).toBe(JSON.stringify(response.body));
              return;
            }
            const events = await collect(run);
            expect(replay.calls).toHaveLength(1);
            expect(replay.calls[0]!.url).toBe(upstream.url);
            expect(replay.calls[0]!.body).toEqual(upstream.body);
            expect(events[0]!.type).toBe('response-start');
            const result = accumulate(events);
            if (fixture.expect?.stream_error) {
              expect(result.text).toBe(fixture.expect.partial_content);
              expect(events.slice(-2).map((e) => e.type)).toEqual(['error', 'finish']);
              expect(result.finishReason.unified).toBe('error');
              expect(result.error?.errorClass).toBe('upstream_5xx');
            } else {
              expectMatches(result, fixture.expect!);
            }
          });
        }
      });
    }
  });
}
