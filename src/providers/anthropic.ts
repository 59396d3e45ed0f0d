// Anthropic Messages API (PROTOCOLS.md §6): `POST {base}/messages`, auth `x-api-key`, header
// `anthropic-version: 2023-06-01`. Request mapping lives in anthropic-request.ts; this file holds the
// wire schemas, the response side (whole messages and named-event streams), usage and errors.
//
// Thinking. Anthropic returns `thinking` blocks ({thinking, signature}) and `redacted_thinking`
// blocks ({data}) that must come back unchanged on a later turn (always when that turn used tools).
// Their text becomes `reasoning` (OpenAI clients see `reasoning_content`); the blocks themselves go,
// verbatim and in order, into `providerMetadata.anthropic.thinking` (the convention every dialect
// shares: anthropic-metadata.ts), which api/openai-chat.ts hands to clients as `provider_metadata`
// and takes back, api/anthropic-messages.ts turns into real blocks again, and anthropic-request.ts
// replays before the turn's text and tool_use blocks. In streams the whole list so far rides on a
// `reasoning-delta` (empty text) at each thinking block's content_block_stop, once its signature is
// known. A `stop_sequence` stop names its sequence in `providerMetadata.anthropic.stopSequence`.
import { z } from 'zod';
import type {
  ChatResult,
  FinishReason,
  ProviderErrorClass,
  ProviderErrorInfo,
  StreamEvent,
  ToolCall,
  Usage,
  Warning,
} from '../core/types.ts';
import type { AnthropicThinkingBlock } from './anthropic-metadata.ts';
import {
  ANTHROPIC_IMAGE_TYPES,
  ANTHROPIC_VERSION,
  anthropicBetaHeader,
  buildAnthropicBody,
  normaliseMediaType,
  parseDataUrl,
} from './anthropic-request.ts';
import { classifyError, parseRetryAfter } from './errors.ts';
import type { ErrorInput, ProviderAdapter, StreamDecoder } from './types.ts';

export const ANTHROPIC_BASE_URL = 'https://api.anthropic.com/v1';

// ---------------------------------------------------------------------------------------------
// Wire schemas: only the fields we read, all nullable, unknown keys kept (STYLE.md §4.5).

const text = z.string().nullish().catch(null);
const count = z.number().nullish().catch(null);

export const anthropicUsageSchema = z.looseObject({
  input_tokens: count,
  output_tokens: count,
  cache_creation_input_tokens: count,
  cache_read_input_tokens: count,
  output_tokens_details: z.looseObject({ thinking_tokens: count }).nullish().catch(null),
});

const blockSchema = z.looseObject({
  type: text,
  text,
  id: text,
  name: text,
  input: z.unknown().optional(),
  thinking: text,
  signature: text,
  data: text,
});

const messageFields = {
  id: text,
  type: text,
  model: text,
  content: z.array(blockSchema).nullish().catch(null),
  stop_reason: text,
  stop_sequence: text,
  usage: anthropicUsageSchema.nullish().catch(null),
};

/** A whole `Message` must at least look like one (a foreign JSON object is an invalid response). */
export const anthropicResponseSchema = z
  .looseObject(messageFields)
  .refine((body) => body.type === 'message' || Array.isArray(body.content), { message: 'not an Anthropic Message' });

/** One SSE data payload; its `type` equals the SSE event name. */
export const anthropicChunkSchema = z.looseObject({
  type: text,
  index: count,
  message: z.looseObject(messageFields).nullish().catch(null),
  content_block: blockSchema.nullish().catch(null),
  delta: z
    .looseObject({ type: text, text, partial_json: text, thinking: text, signature: text, stop_reason: text, stop_sequence: text })
    .nullish()
    .catch(null),
  usage: anthropicUsageSchema.nullish().catch(null),
});

export type AnthropicWireResponse = z.infer<typeof anthropicResponseSchema>;
export type AnthropicWireChunk = z.infer<typeof anthropicChunkSchema>;
export type AnthropicWireUsage = z.infer<typeof anthropicUsageSchema>;
type AnthropicWireBlock = z.infer<typeof blockSchema>;

// ---------------------------------------------------------------------------------------------
// Usage and finish reasons

const toCount = (value: number | null | undefined) => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);

/**
 * OpenAI semantics (PROTOCOLS.md §8): Anthropic's input_tokens EXCLUDES cache reads and writes, so
 * input = input + cache_read + cache_creation, cached = cache_read, cache writes reported apart;
 * output_tokens already includes thinking (broken out only by the newer
 * output_tokens_details.thinking_tokens). The raw object is kept.
 */
export function convertAnthropicUsage(usage: AnthropicWireUsage): Usage {
  const input = toCount(usage.input_tokens);
  const read = toCount(usage.cache_read_input_tokens);
  const write = toCount(usage.cache_creation_input_tokens);
  const converted: Usage = {};
  if (input !== undefined || read !== undefined || write !== undefined) converted.inputTokens = (input ?? 0) + (read ?? 0) + (write ?? 0);
  if (read !== undefined) converted.cachedInputTokens = read;
  if (write !== undefined) converted.cacheWriteInputTokens = write;
  const output = toCount(usage.output_tokens);
  if (output !== undefined) converted.outputTokens = output;
  const thinking = toCount(usage.output_tokens_details?.thinking_tokens);
  if (thinking !== undefined) converted.reasoningTokens = thinking;
  converted.raw = usage;
  return converted;
}

const ANTHROPIC_FINISH_REASONS: Record<string, FinishReason['unified']> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  // A server-tool loop paused; the turn is usable as it is and can be continued (PROTOCOLS.md §7).
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool-calls',
  refusal: 'content-filter',
};

export function mapAnthropicFinishReason(raw: string | undefined): FinishReason {
  return { unified: raw ? (ANTHROPIC_FINISH_REASONS[raw] ?? 'other') : 'other', raw };
}

// ---------------------------------------------------------------------------------------------
// Responses

const argumentsOf = (input: unknown) => JSON.stringify(input ?? {});

/** Non-streaming 2xx body → result. */
export function parseAnthropicResponse(body: AnthropicWireResponse, warnings: Warning[]): ChatResult {
  const texts: string[] = [];
  const reasoning: string[] = [];
  const toolCalls: ToolCall[] = [];
  const thinking: AnthropicThinkingBlock[] = [];
  for (const block of body.content ?? []) {
    switch (block.type) {
      case 'text':
        texts.push(block.text ?? '');
        break;
      case 'thinking':
        reasoning.push(block.thinking ?? '');
        thinking.push({ type: 'thinking', thinking: block.thinking ?? '', signature: block.signature ?? '' });
        break;
      case 'redacted_thinking':
        thinking.push({ type: 'redacted_thinking', data: block.data ?? '' });
        break;
      case 'tool_use':
        toolCalls.push({ id: block.id ?? '', name: block.name ?? '', arguments: argumentsOf(block.input) });
        break;
      // server_tool_use, web_search_tool_result, … are Anthropic-side work: nothing to hand over.
    }
  }
  const result: ChatResult = {
    text: texts.join(''),
    toolCalls,
    finishReason: mapAnthropicFinishReason(body.stop_reason ?? undefined),
    usage: body.usage ? convertAnthropicUsage(body.usage) : {},
    warnings,
  };
  if (body.id) result.id = body.id;
  if (body.model) result.model = body.model;
  const reasoningText = reasoning.join('');
  if (reasoningText) result.reasoning = reasoningText;
  const anthropic = { ...(thinking.length > 0 ? { thinking } : {}), ...stopSequenceOf(body.stop_reason, body.stop_sequence) };
  if (Object.keys(anthropic).length > 0) result.providerMetadata = { anthropic };
  return result;
}

/** `{stopSequence}` when a stop sequence ended the turn (Anthropic clients get it back as `stop_sequence`). */
const stopSequenceOf = (reason: string | null | undefined, sequence: string | null | undefined) =>
  reason === 'stop_sequence' && typeof sequence === 'string' ? { stopSequence: sequence } : {};

type BlockState =
  | { kind: 'text' }
  | { kind: 'thinking'; parts: string[]; signature: string }
  | { kind: 'redacted'; data: string }
  | { kind: 'tool'; index: number; sentArguments: boolean }
  | { kind: 'other' };

/**
 * Named-event stream decoder. Decodes by the payload's `type` (which equals the SSE event name):
 * message_start (id, model, input usage), content_block_start / _delta / _stop per content-block
 * index, message_delta (stop reason and CUMULATIVE usage, overlaid on message_start's), message_stop.
 * `ping` and unknown events are ignored. Tool calls are renumbered 0, 1, … in block order (a leading
 * text block is content index 0). A stream that ends before message_delta / message_stop was cut:
 * `error` then `finish` { unified: 'error' }.
 */
function createAnthropicDecoder(warnings: Warning[]): StreamDecoder<AnthropicWireChunk> {
  let started = false;
  let completed = false;
  let stopReason: string | undefined;
  let stopSequence: string | undefined;
  let usage: Record<string, unknown> | undefined;
  let calls = 0;
  const blocks = new Map<number, BlockState>();
  const thinking: AnthropicThinkingBlock[] = [];

  const overlayUsage = (next: AnthropicWireUsage | null | undefined) => {
    if (!next) return;
    usage = { ...usage };
    for (const [key, value] of Object.entries(next)) if (value !== null && value !== undefined) usage[key] = value;
  };
  const thinkingEvent = (delta: string): StreamEvent => ({
    type: 'reasoning-delta',
    delta,
    providerMetadata: { anthropic: { thinking: thinking.map((block) => ({ ...block })) } },
  });

  const startBlock = (index: number, block: AnthropicWireBlock, events: StreamEvent[]) => {
    switch (block.type) {
      case 'text':
        blocks.set(index, { kind: 'text' });
        if (block.text) events.push({ type: 'text-delta', delta: block.text });
        break;
      case 'thinking':
        blocks.set(index, { kind: 'thinking', parts: block.thinking ? [block.thinking] : [], signature: block.signature ?? '' });
        if (block.thinking) events.push({ type: 'reasoning-delta', delta: block.thinking });
        break;
      case 'redacted_thinking':
        blocks.set(index, { kind: 'redacted', data: block.data ?? '' });
        break;
      case 'tool_use': {
        const input = block.input;
        const complete = typeof input === 'object' && input !== null && Object.keys(input).length > 0;
        blocks.set(index, { kind: 'tool', index: calls, sentArguments: complete });
        events.push({
          type: 'tool-call-delta',
          index: calls++,
          id: block.id ?? '',
          name: block.name ?? '',
          argumentsDelta: complete ? argumentsOf(input) : '',
        });
        break;
      }
      default:
        blocks.set(index, { kind: 'other' });
    }
  };

  return {
    push(chunk) {
      const events: StreamEvent[] = [];
      if (!started) {
        started = true;
        const message = chunk.type === 'message_start' ? chunk.message : undefined;
        events.push({ type: 'response-start', warnings, id: message?.id ?? undefined, model: message?.model ?? undefined });
      }
      const index = chunk.index ?? 0;
      switch (chunk.type) {
        case 'message_start':
          overlayUsage(chunk.message?.usage);
          // Input and cache tokens are known now: kept if the stream is cut short.
          if (usage) events.push({ type: 'usage', usage: convertAnthropicUsage(anthropicUsageSchema.parse(usage)) });
          break;
        case 'content_block_start':
          if (chunk.content_block) startBlock(index, chunk.content_block, events);
          break;
        case 'content_block_delta': {
          const delta = chunk.delta;
          const block = blocks.get(index);
          if (!delta || !block) break;
          if (delta.type === 'text_delta' && delta.text) {
            events.push({ type: 'text-delta', delta: delta.text });
          } else if (delta.type === 'input_json_delta' && block.kind === 'tool' && delta.partial_json) {
            block.sentArguments = true;
            events.push({ type: 'tool-call-delta', index: block.index, argumentsDelta: delta.partial_json });
          } else if (delta.type === 'thinking_delta' && block.kind === 'thinking' && delta.thinking) {
            block.parts.push(delta.thinking);
            events.push({ type: 'reasoning-delta', delta: delta.thinking });
          } else if (delta.type === 'signature_delta' && block.kind === 'thinking' && delta.signature) {
            block.signature += delta.signature;
          }
          // citations_delta and unknown deltas: nothing to hand over.
          break;
        }
        case 'content_block_stop': {
          const block = blocks.get(index);
          if (block?.kind === 'thinking') {
            thinking.push({ type: 'thinking', thinking: block.parts.join(''), signature: block.signature });
            events.push(thinkingEvent(''));
          } else if (block?.kind === 'redacted') {
            thinking.push({ type: 'redacted_thinking', data: block.data });
            events.push(thinkingEvent(''));
          } else if (block?.kind === 'tool' && !block.sentArguments) {
            // A call without arguments streams none: OpenAI clients JSON.parse the arguments.
            block.sentArguments = true;
            events.push({ type: 'tool-call-delta', index: block.index, argumentsDelta: '{}' });
          }
          blocks.delete(index);
          break;
        }
        case 'message_delta':
          if (chunk.delta?.stop_reason) stopReason = chunk.delta.stop_reason;
          if (chunk.delta?.stop_sequence) stopSequence = chunk.delta.stop_sequence;
          overlayUsage(chunk.usage);
          break;
        case 'message_stop':
          completed = true;
          break;
        case 'error': {
          // run.ts catches `event: error` first; this covers a decoder used on its own.
          events.push({ type: 'error', error: parseAnthropicError({ status: 200, body: JSON.stringify(chunk), headers: new Headers() }) });
          break;
        }
        // ping and unknown events: ignored.
      }
      return events;
    },
    end() {
      const events: StreamEvent[] = [];
      const converted = usage ? convertAnthropicUsage(anthropicUsageSchema.parse(usage)) : {};
      if (!completed && stopReason === undefined) {
        const message = 'upstream stream ended before message_stop';
        events.push({ type: 'error', error: { message, errorClass: 'invalid_response', retryable: true } });
        events.push({ type: 'finish', finishReason: { unified: 'error', raw: undefined }, usage: converted });
        return events;
      }
      const finish: StreamEvent = { type: 'finish', finishReason: mapAnthropicFinishReason(stopReason), usage: converted };
      const stop = stopSequenceOf(stopReason, stopSequence);
      if (stop.stopSequence !== undefined) finish.providerMetadata = { anthropic: stop };
      events.push(finish);
      return events;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Errors: {type: "error", error: {type, message}, request_id}

function readAnthropicError(body: string): { type?: string; message?: string } {
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch {
    return {};
  }
  const error = data && typeof data === 'object' ? (data as { error?: unknown }).error : undefined;
  if (typeof error === 'string') return { message: error };
  if (!error || typeof error !== 'object') return {};
  const e = error as Record<string, unknown>;
  const fields: { type?: string; message?: string } = {};
  if (typeof e.type === 'string' && e.type) fields.type = e.type;
  if (typeof e.message === 'string' && e.message) fields.message = e.message;
  return fields;
}

const ERROR_TYPES: Record<string, [ProviderErrorClass, boolean]> = {
  authentication_error: ['authentication', false],
  permission_error: ['permission', false],
  billing_error: ['quota', false],
  not_found_error: ['model_not_found', false],
  rate_limit_error: ['rate_limit', true],
  overloaded_error: ['overloaded', true],
  api_error: ['upstream_5xx', true],
  timeout_error: ['upstream_5xx', true],
  // > 32 MB, answered by Anthropic's edge: the client must send less (images, documents).
  request_too_large: ['bad_request', false],
};

/**
 * Anthropic errors → info, classified on `error.type` first (401 authentication_error, 403
 * permission_error, 404 not_found_error, 429 rate_limit_error, 529 overloaded_error, 500 api_error,
 * …); invalid_request_error goes through the shared message rules ("prompt is too long" →
 * context_length, "credit balance is too low" → quota, else bad_request). Anthropic's own
 * `x-should-retry` header, when present, decides `retryable` (the SDK obeys it too). The retry hint
 * comes from `retry-after` (seconds). A 2xx status is an in-stream `event: error`. Never throws.
 */
export function parseAnthropicError({ status, body, headers, statusText }: ErrorInput): ProviderErrorInfo {
  const fields = readAnthropicError(body);
  const httpStatus = status >= 300 ? status : undefined;
  const message = fields.message ?? (`${httpStatus ?? 'error'} ${statusText ?? ''}`.trim() || 'upstream error');
  const known = fields.type ? ERROR_TYPES[fields.type] : undefined;
  const classified = known ? { errorClass: known[0], retryable: known[1] } : classifyError({ status: httpStatus, type: fields.type, message });
  const { errorClass } = classified;
  let { retryable } = classified;
  const shouldRetry = headers.get('x-should-retry');
  if (shouldRetry === 'true' || shouldRetry === 'false') retryable = shouldRetry === 'true';
  const info: ProviderErrorInfo = { message, errorClass, retryable };
  if (httpStatus !== undefined) info.status = httpStatus;
  if (fields.type) info.type = fields.type;
  const retryAfterMs = parseRetryAfter(headers, message);
  if (retryAfterMs !== undefined) info.retryAfterMs = retryAfterMs;
  return info;
}

// ---------------------------------------------------------------------------------------------
// The adapter

export const anthropic: ProviderAdapter<AnthropicWireResponse, AnthropicWireChunk> = {
  id: 'anthropic',
  defaultBaseUrl: ANTHROPIC_BASE_URL,

  /** Inline images Anthropic cannot read (SVG, HEIC, TIFF, …) are refused before the call. */
  validate(request) {
    for (const message of request.messages) {
      if (message.role !== 'user' || typeof message.content === 'string') continue;
      for (const part of message.content) {
        if (part.type !== 'image') continue;
        const inline = parseDataUrl(part.url);
        if (!inline) continue;
        const mediaType = normaliseMediaType(part.mediaType ?? inline.mediaType);
        if (ANTHROPIC_IMAGE_TYPES.includes(mediaType)) continue;
        return {
          message: `Anthropic accepts JPEG, PNG, GIF and WebP images, not ${mediaType}`,
          errorClass: 'unsupported_input',
          retryable: false,
        };
      }
    }
    return undefined;
  },

  /** An Anthropic client's anthropic-beta values join the operator's configured ones (one header). */
  buildRequest(request, settings, { stream }) {
    const { body, warnings } = buildAnthropicBody(request, { stream });
    const baseUrl = (settings.baseUrl ?? ANTHROPIC_BASE_URL).replace(/\/+$/, '');
    const auth: Record<string, string> = settings.apiKey ? { 'x-api-key': settings.apiKey } : {};
    const headers: Record<string, string> = { 'content-type': 'application/json', 'anthropic-version': ANTHROPIC_VERSION, ...auth };
    let configuredBetas: string | undefined;
    for (const [name, value] of Object.entries(settings.headers ?? {})) {
      if (name.toLowerCase() === 'anthropic-beta') configuredBetas = value;
      else headers[name] = value;
    }
    const betas = anthropicBetaHeader(request, configuredBetas);
    if (betas) headers['anthropic-beta'] = betas;
    return { http: { url: `${baseUrl}/messages`, headers, body }, warnings };
  },

  responseSchema: anthropicResponseSchema,
  chunkSchema: anthropicChunkSchema,
  parseResponse: parseAnthropicResponse,
  createStreamDecoder: createAnthropicDecoder,
  parseError: parseAnthropicError,
};
