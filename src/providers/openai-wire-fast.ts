// Fast path for upstream Chat Completions payloads (a `chat.completion` body, a `chat.completion.chunk`).
//
// Why: profiling showed zod validation (`openAIResponseSchema` / `openAIChunkSchema`, once per body
// and once per SSE chunk) to be a large share of per-request CPU on the hot path. The wire schemas are
// tolerant (openai-wire.ts): wrongly typed leaves are repaired to null and object `arguments` are
// re-serialised. Nearly every real payload needs none of that, so a hand-written check recognises
// payloads whose modelled leaves already have valid types and hands them back as is; anything else
// returns `undefined` and the caller falls back to zod, which performs the repairs.
//
// Invariant (tested in openai-wire-fast.test.ts, including a mutation test): whenever this accepts a
// value, `schema.parse(value)` succeeds and deep-equals (strictly) the value returned here. When in
// doubt, reject. Never throws.
import type { OpenAIWireChunk, OpenAIWireResponse } from './openai-wire.ts';

type Json = Record<string, unknown>;

/**
 * A plain JSON object (what JSON.parse yields), as every `looseObject` here needs. An own `__proto__`
 * key (JSON.parse makes one) is dropped by zod's copy, so such an object is not reproduced as is.
 */
function isRecord(value: unknown): value is Json {
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.getPrototypeOf(value) === Object.prototype &&
    !Object.hasOwn(value, '__proto__')
  );
}

/** `text`: string, null or undefined (anything else zod would replace with null). */
const isText = (value: unknown) => value === null || value === undefined || typeof value === 'string';

/** `count`: finite number, null or undefined. */
const isCount = (value: unknown) =>
  value === null || value === undefined || (typeof value === 'number' && Number.isFinite(value));

/** `.nullish()` object: absent, null, or a plain object. */
const isOptionalRecord = (value: unknown): value is Json | null | undefined =>
  value === null || value === undefined || isRecord(value);

function isUsage(usage: unknown): boolean {
  if (usage === null || usage === undefined) return true;
  if (!isRecord(usage)) return false;
  if (!isCount(usage.prompt_tokens) || !isCount(usage.completion_tokens) || !isCount(usage.total_tokens)) return false;
  const prompt = usage.prompt_tokens_details;
  if (!isOptionalRecord(prompt)) return false;
  if (prompt && !(isCount(prompt.cached_tokens) && isCount(prompt.cache_write_tokens))) return false;
  const completion = usage.completion_tokens_details;
  if (!isOptionalRecord(completion)) return false;
  return !completion || isCount(completion.reasoning_tokens);
}

/** One `tool_calls` entry; `arguments` must already be a string (an object is re-serialised by zod). */
function isToolCall(call: unknown): boolean {
  if (!isRecord(call) || !isCount(call.index) || !isText(call.id) || !isText(call.type)) return false;
  const fn = call.function;
  if (!isOptionalRecord(fn)) return false;
  return !fn || (isText(fn.name) && isText(fn.arguments));
}

/** `message` (response) or `delta` (chunk): absent, null, or an object with valid text fields. */
function isMessage(message: unknown): boolean {
  if (message === null || message === undefined) return true;
  if (!isRecord(message)) return false;
  if (
    !isText(message.content) ||
    !isText(message.reasoning_content) ||
    !isText(message.reasoning) ||
    !isText(message.refusal)
  ) {
    return false;
  }
  const calls = message.tool_calls;
  if (calls === null || calls === undefined) return true;
  if (!Array.isArray(calls)) return false;
  for (let i = 0; i < calls.length; i++) if (!isToolCall(calls[i])) return false;
  return true;
}

function isChoices(choices: unknown[], messageKey: 'message' | 'delta'): boolean {
  for (let i = 0; i < choices.length; i++) {
    const choice = choices[i];
    if (!isRecord(choice) || !isCount(choice.index) || !isText(choice.finish_reason)) return false;
    if (!isMessage(choice[messageKey])) return false;
  }
  return true;
}

/** The fields both payloads share: a plain object with valid `id`, `model` and `usage`. */
const isEnvelope = (data: unknown): data is Json =>
  isRecord(data) && isText(data.id) && isText(data.model) && isUsage(data.usage);

/** The body unchanged when `openAIResponseSchema` would reproduce it exactly; otherwise undefined. */
export function fastOpenAIResponse(data: unknown): OpenAIWireResponse | undefined {
  if (!isEnvelope(data)) return undefined;
  const choices = data.choices;
  if (!Array.isArray(choices) || !isChoices(choices, 'message')) return undefined;
  return data as OpenAIWireResponse;
}

/** The chunk unchanged when `openAIChunkSchema` would reproduce it exactly; otherwise undefined. */
export function fastOpenAIChunk(data: unknown): OpenAIWireChunk | undefined {
  if (!isEnvelope(data)) return undefined;
  const choices = data.choices;
  if (choices !== null && choices !== undefined && !(Array.isArray(choices) && isChoices(choices, 'delta'))) {
    return undefined;
  }
  return data as OpenAIWireChunk;
}
