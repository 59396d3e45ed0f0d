// Test-only helpers: shared fixtures (read in place, never copied), chunk splitters, a replay fetch
// and the reverse OpenAI-body → ChatRequest mapping used to state "the equivalent ChatRequest".
// Never imported by production code.
import path from 'node:path';
import type { ChatMessage, ChatRequest, ContentPart, StreamEvent, Usage } from '../core/types.ts';
import { createSseParser } from './sse.ts';
import type { ProviderAdapter } from './types.ts';

export const FIXTURES_DIR = path.resolve(import.meta.dir, '../../../shared/fixtures');

export type Fixture = {
  meta: { provider: string; case: string; description: string; notes?: string[] };
  gateway_request?: Record<string, unknown>;
  upstream_request: { method: string; url: string; headers: Record<string, string>; body: Record<string, any> };
  response: { status: number; headers: Record<string, string>; body?: unknown; body_file?: string };
  expect?: Record<string, any>;
};

/** Case names of a provider folder (files `<case>.json`). */
export async function listCases(provider: string): Promise<string[]> {
  const glob = new Bun.Glob('*.json');
  const names: string[] = [];
  for await (const file of glob.scan(path.join(FIXTURES_DIR, provider))) names.push(file.replace(/\.json$/, ''));
  return names.sort();
}

export async function loadFixture(provider: string, name: string): Promise<Fixture & { sse?: Uint8Array }> {
  const fixture = (await Bun.file(path.join(FIXTURES_DIR, provider, `${name}.json`)).json()) as Fixture;
  if (!fixture.response.body_file) return fixture;
  const sse = await Bun.file(path.join(FIXTURES_DIR, provider, fixture.response.body_file)).bytes();
  return { ...fixture, sse };
}

/** The fixture's raw response body as bytes. */
export function responseBytes(fixture: Fixture & { sse?: Uint8Array }): Uint8Array {
  return fixture.sse ?? new TextEncoder().encode(JSON.stringify(fixture.response.body));
}

/** Deterministic PRNG (mulberry32) so random splits are reproducible. */
export function seededRandom(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Split = 'whole' | 'bytes' | `random-${number}`;
export const SPLITS: Split[] = ['whole', 'bytes', 'random-1', 'random-2', 'random-3'];

/** Cuts bytes into chunks: whole, one byte at a time, or random sizes 1..40 (seeded). */
export function split(bytes: Uint8Array, how: Split): Uint8Array[] {
  if (how === 'whole') return [bytes];
  if (how === 'bytes') return Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
  const random = seededRandom(Number(how.slice('random-'.length)));
  const pieces: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; ) {
    const size = 1 + Math.floor(random() * 40);
    pieces.push(bytes.subarray(at, at + size));
    at += size;
  }
  return pieces;
}

/** Pure decode path (no run.ts): SSE pieces → parser → chunk schema → decoder. */
export function decodeSse(adapter: ProviderAdapter, pieces: Uint8Array[]): StreamEvent[] {
  const parser = createSseParser();
  const decoder = adapter.createStreamDecoder([]);
  const events: StreamEvent[] = [];
  const items = [...pieces.flatMap((piece) => parser.push(piece)), ...parser.end()];
  for (const item of items) {
    if (item.type === 'done') break;
    if (item.type !== 'message') continue;
    const payload = JSON.parse(item.data);
    if (payload.error) {
      events.push({ type: 'error', error: adapter.parseError({ status: 200, body: item.data, headers: new Headers() }) });
      return events;
    }
    events.push(...decoder.push(adapter.chunkSchema.parse(payload)));
  }
  return [...events, ...decoder.end()];
}

/** Usage in the fixtures' OpenAI vocabulary. */
export function usageToOpenAI(usage: Usage) {
  return {
    prompt_tokens: usage.inputTokens,
    cached_tokens: usage.cachedInputTokens,
    completion_tokens: usage.outputTokens,
    reasoning_tokens: usage.reasoningTokens,
    total_tokens:
      usage.inputTokens === undefined || usage.outputTokens === undefined
        ? undefined
        : usage.inputTokens + usage.outputTokens,
  };
}

/** A fetch that answers with the fixture's response (bodies split as asked) and records calls. */
export function replayFetch(fixture: Fixture & { sse?: Uint8Array }, how: Split = 'whole') {
  const calls: { url: string; init: RequestInit; body: any }[] = [];
  const fetchImpl = (async (url: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: String(url), init: init ?? {}, body: JSON.parse(String(init?.body)) });
    const pieces = split(responseBytes(fixture), how);
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const piece = pieces.shift();
        if (piece) controller.enqueue(piece);
        else controller.close();
      },
    });
    return new Response(body, { status: fixture.response.status, headers: fixture.response.headers });
  }) as typeof fetch;
  return { fetch: fetchImpl, calls };
}

/** Reverse of buildOpenAIBody: what api/openai-chat.ts would make of a client's body. */
export function chatRequestFromOpenAIBody(body: Record<string, any>): ChatRequest {
  const {
    model, messages, temperature, top_p, max_tokens, max_completion_tokens, stop, seed, tools, tool_choice,
    parallel_tool_calls, response_format, reasoning_effort, user, stream: _stream, stream_options: _options,
    ...extra
  } = body;
  const request: ChatRequest = { model, messages: messages.map(messageFromOpenAI) };
  const set = <K extends keyof ChatRequest>(key: K, value: ChatRequest[K] | undefined) => {
    if (value !== undefined) request[key] = value;
  };
  set('temperature', temperature);
  set('topP', top_p);
  set('maxOutputTokens', max_completion_tokens ?? max_tokens);
  set('stop', typeof stop === 'string' ? [stop] : stop);
  set('seed', seed);
  set('tools', tools?.map((tool: any) => ({ ...tool.function })));
  set('toolChoice', typeof tool_choice === 'object' ? { name: tool_choice.function.name } : tool_choice);
  set('parallelToolCalls', parallel_tool_calls);
  if (response_format) {
    request.responseFormat =
      response_format.type === 'json_schema'
        ? { type: 'json', ...response_format.json_schema }
        : response_format.type === 'json_object'
          ? { type: 'json' }
          : { type: 'text' };
  }
  set('reasoningEffort', reasoning_effort);
  set('user', user);
  if (Object.keys(extra).length > 0) request.extra = extra;
  return request;
}

function messageFromOpenAI(message: Record<string, any>): ChatMessage {
  switch (message.role) {
    case 'system':
      return { role: 'system', content: message.content };
    case 'developer':
      return { role: 'system', content: message.content, developer: true };
    case 'user':
      return {
        role: 'user',
        content:
          typeof message.content === 'string'
            ? message.content
            : message.content.map(
                (part: any): ContentPart =>
                  part.type === 'text'
                    ? { type: 'text', text: part.text }
                    : { type: 'image', url: part.image_url.url, ...(part.image_url.detail ? { detail: part.image_url.detail } : {}) },
              ),
      };
    case 'assistant':
      return {
        role: 'assistant',
        content: message.content ?? null,
        ...(message.tool_calls
          ? { toolCalls: message.tool_calls.map((call: any) => ({ id: call.id, name: call.function.name, arguments: call.function.arguments })) }
          : {}),
        ...(message.reasoning_content !== undefined ? { reasoning: message.reasoning_content } : {}),
      };
    default:
      return { role: 'tool', toolCallId: message.tool_call_id, content: message.content };
  }
}
