// Chat Completions wire schemas, tolerant by design (STYLE.md §4.5): only the fields we read, all
// nullable, unknown keys kept (looseObject), and a wrongly typed leaf degrades to null instead of
// failing the whole payload. Only the overall shape (an object; `choices` an array in a full
// response) is required, so an HTML page or a foreign JSON body is rejected as invalid_response.
import { z } from 'zod';

const text = z.string().nullish().catch(null);
const count = z.number().nullish().catch(null);
/** Arguments are a JSON string; a few servers send an object, which we re-serialise. */
const argumentsText = z
  .union([z.string(), z.record(z.string(), z.unknown()).transform((value) => JSON.stringify(value))])
  .nullish()
  .catch(null);

export const openAIUsageSchema = z.looseObject({
  prompt_tokens: count,
  completion_tokens: count,
  total_tokens: count,
  prompt_tokens_details: z.looseObject({ cached_tokens: count, cache_write_tokens: count }).nullish().catch(null),
  completion_tokens_details: z.looseObject({ reasoning_tokens: count }).nullish().catch(null),
});

const functionSchema = z.looseObject({ name: text, arguments: argumentsText }).nullish().catch(null);

const toolCallSchema = z.looseObject({ index: count, id: text, type: text, function: functionSchema });

const messageFields = {
  content: text,
  /** DeepSeek, xAI, vLLM (older). */
  reasoning_content: text,
  /** OpenRouter, vLLM (newer). */
  reasoning: text,
  refusal: text,
  tool_calls: z.array(toolCallSchema).nullish().catch(null),
};

export const openAIMessageSchema = z.looseObject(messageFields);
export const openAIDeltaSchema = z.looseObject(messageFields);

export const openAIResponseSchema = z.looseObject({
  id: text,
  model: text,
  choices: z.array(
    z.looseObject({ index: count, message: openAIMessageSchema.nullish().catch(null), finish_reason: text }),
  ),
  usage: openAIUsageSchema.nullish().catch(null),
});

export const openAIChunkSchema = z.looseObject({
  id: text,
  model: text,
  choices: z
    .array(z.looseObject({ index: count, delta: openAIDeltaSchema.nullish().catch(null), finish_reason: text }))
    .nullish()
    .catch(null),
  usage: openAIUsageSchema.nullish().catch(null),
});

export type OpenAIWireUsage = z.infer<typeof openAIUsageSchema>;
export type OpenAIWireMessage = z.infer<typeof openAIMessageSchema>;
export type OpenAIWireDelta = z.infer<typeof openAIDeltaSchema>;
export type OpenAIWireResponse = z.infer<typeof openAIResponseSchema>;
export type OpenAIWireChunk = z.infer<typeof openAIChunkSchema>;

/** An outgoing request body (what we send is ours to type loosely). */
export type OpenAIWireBody = Record<string, unknown>;
/** One outgoing message. */
export type OpenAIWireRequestMessage = Record<string, unknown> & { role: string };

/** Drops undefined fields, in place (bodies deep-equal what a client would write; rows stay small). */
export function compact<T extends Record<string, unknown>>(value: T): T {
  for (const key of Object.keys(value)) if (value[key] === undefined) delete value[key];
  return value;
}

/** A finite number, or undefined (wire values may be null, strings or absent). */
export function toCount(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** Reads the error fields from any of the error bodies seen on OpenAI-compatible APIs. */
export function readOpenAIErrorFields(data: unknown): { message?: string; code?: string; type?: string; param?: string } {
  const record = Array.isArray(data) ? data[0] : data; // a few gateways wrap errors in an array
  if (!record || typeof record !== 'object') return {};
  const top = record as Record<string, unknown>;
  const str = (value: unknown) =>
    typeof value === 'string' && value !== '' ? value : typeof value === 'number' ? String(value) : undefined;
  // OpenAI / DeepSeek: {"error": {"message", "type", "param", "code"}}
  if (top.error && typeof top.error === 'object') {
    const error = top.error as Record<string, unknown>;
    return { message: str(error.message), code: str(error.code), type: str(error.type ?? error.status), param: str(error.param) };
  }
  // xAI: {"code": "<gRPC status text>", "error": "<message>"}; also {"error": "..."} elsewhere.
  if (typeof top.error === 'string') return { message: top.error, code: str(top.code), type: str(top.type) };
  // {"message": ...} (many proxies) and {"detail": ...} (FastAPI-based servers).
  return { message: str(top.message) ?? str(top.detail), code: str(top.code), type: str(top.type) };
}
