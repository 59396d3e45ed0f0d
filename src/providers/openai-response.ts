// Chat Completions response side: whole responses, stream chunks and error bodies → canonical
// types. Pure; parameterised by the few things providers differ in (see OpenAICompatibleSpec).
import type { ChatResult, FinishReason, ProviderErrorInfo, StreamEvent, Usage, Warning } from '../core/types.ts';
import { classifyError, parseRetryAfter } from './errors.ts';
import {
  type OpenAIWireChunk,
  type OpenAIWireDelta,
  type OpenAIWireResponse,
  type OpenAIWireUsage,
  compact,
  readOpenAIErrorFields,
  toCount,
} from './openai-wire.ts';
import type { ErrorInput, StreamDecoder } from './types.ts';

/** How one provider reads the shared wire format. */
export type OpenAIReaders = {
  mapFinishReason: (raw: string | null | undefined) => FinishReason;
  readUsage: (usage: OpenAIWireUsage) => Usage;
  readReasoning: (delta: OpenAIWireDelta) => string | undefined;
};

export const OPENAI_FINISH_REASONS: Record<string, FinishReason['unified']> = {
  stop: 'stop',
  length: 'length',
  tool_calls: 'tool-calls',
  function_call: 'tool-calls',
  content_filter: 'content-filter',
};

/**
 * OpenAI usage semantics, which every OpenAI-compatible provider is normalised to. Fields are
 * assigned only when present (no `delete` afterwards: an object that loses a property leaves the
 * shared shape its kind of object has, and every later read of it is slower).
 */
export function convertOpenAIUsage(usage: OpenAIWireUsage): Usage {
  const out: Usage = {};
  const input = toCount(usage.prompt_tokens);
  if (input !== undefined) out.inputTokens = input;
  const prompt = usage.prompt_tokens_details;
  if (prompt) {
    const cached = toCount(prompt.cached_tokens);
    if (cached !== undefined) out.cachedInputTokens = cached;
    const cacheWrite = toCount(prompt.cache_write_tokens);
    if (cacheWrite !== undefined) out.cacheWriteInputTokens = cacheWrite;
  }
  const output = toCount(usage.completion_tokens);
  if (output !== undefined) out.outputTokens = output;
  const reasoning = toCount(usage.completion_tokens_details?.reasoning_tokens);
  if (reasoning !== undefined) out.reasoningTokens = reasoning;
  out.raw = usage;
  return out;
}

/** Non-streaming 2xx body → result. Refusals count as text; content '' beside tool calls stays ''. */
export function parseOpenAIResponse(body: OpenAIWireResponse, warnings: Warning[], readers: OpenAIReaders): ChatResult {
  const choices = body.choices;
  let choice = choices[0];
  for (let i = 0; i < choices.length; i++) {
    if ((choices[i]!.index ?? 0) === 0) {
      choice = choices[i];
      break;
    }
  }
  const message = choice?.message;
  const calls = message?.tool_calls;
  const result: ChatResult = {
    text: message?.content || message?.refusal || '',
    toolCalls: calls?.length
      ? calls.map((call) => ({ id: call.id || mintToolCallId(), name: call.function?.name ?? '', arguments: call.function?.arguments ?? '' }))
      : [],
    finishReason: readers.mapFinishReason(choice?.finish_reason),
    usage: body.usage ? readers.readUsage(body.usage) : {},
    warnings,
  };
  if (body.id) result.id = body.id;
  if (body.model) result.model = body.model;
  const reasoning = message ? readers.readReasoning(message) : undefined;
  if (reasoning) result.reasoning = reasoning;
  return result;
}

/** Stream decoder: the finish waits for end(), because the usage chunk comes after finish_reason. */
export function createOpenAIStreamDecoder(warnings: Warning[], readers: OpenAIReaders): StreamDecoder<OpenAIWireChunk> {
  let started = false;
  let finishRaw: string | undefined;
  let usage: Usage = {};
  const seenCalls = new Set<number>();
  const namedCalls = new Set<number>();

  return {
    push(chunk) {
      const events: StreamEvent[] = [];
      if (!started) {
        started = true;
        events.push({ type: 'response-start', warnings, id: chunk.id ?? undefined, model: chunk.model ?? undefined });
      }
      if (chunk.usage) usage = readers.readUsage(chunk.usage);
      // Only choice 0 is requested (`n` is refused); the usage chunk has `choices: []`.
      const choice = chunk.choices?.find((c) => (c.index ?? 0) === 0);
      if (!choice) return events;
      const delta = choice.delta;
      if (delta) {
        // Role-only and empty deltas ({}, content '' or null) produce nothing.
        const reasoning = readers.readReasoning(delta);
        if (reasoning) events.push({ type: 'reasoning-delta', delta: reasoning });
        const text = delta.content || delta.refusal;
        if (text) events.push({ type: 'text-delta', delta: text });
        delta.tool_calls?.forEach((call, position) => {
          const index = call.index ?? position;
          const event: StreamEvent = { type: 'tool-call-delta', index, argumentsDelta: call.function?.arguments ?? '' };
          if (!seenCalls.has(index)) {
            seenCalls.add(index);
            event.id = call.id || mintToolCallId(); // some local servers send none
          }
          if (call.function?.name && !namedCalls.has(index)) {
            namedCalls.add(index);
            event.name = call.function.name;
          }
          if (event.id || event.name || event.argumentsDelta) events.push(event);
        });
      }
      if (choice.finish_reason) finishRaw = choice.finish_reason;
      return events;
    },
    end() {
      if (finishRaw === undefined) {
        // Cut off before the last choice chunk: whatever was streamed, this is not a clean finish.
        const message = 'upstream stream ended without a finish_reason';
        return [
          { type: 'error', error: { message, errorClass: 'invalid_response', retryable: true } },
          { type: 'finish', finishReason: { unified: 'error', raw: undefined }, usage },
        ];
      }
      return [{ type: 'finish', finishReason: readers.mapFinishReason(finishRaw), usage }];
    },
  };
}

/** Error body (any OpenAI-compatible shape, or garbage) → info. Never throws. */
export function parseOpenAIError({ status, body, headers, statusText }: ErrorInput): ProviderErrorInfo {
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch {
    data = undefined;
  }
  const fields = readOpenAIErrorFields(data);
  const httpStatus = status >= 300 ? status : undefined; // 2xx: an error frame inside a 200 response
  const message = fields.message ?? (`${httpStatus ?? 'error'} ${statusText ?? ''}`.trim() || 'upstream error');
  let { errorClass, retryable } = classifyError({ ...fields, status, message });
  const shouldRetry = headers.get('x-should-retry'); // OpenAI's explicit override
  if (shouldRetry === 'true' || shouldRetry === 'false') retryable = shouldRetry === 'true';
  const retryAfterMs = parseRetryAfter(headers, message);
  return compact({ ...fields, message, errorClass, retryable, status: httpStatus, retryAfterMs });
}

function mintToolCallId(): string {
  return `call_${crypto.randomUUID().replaceAll('-', '').slice(0, 24)}`;
}
