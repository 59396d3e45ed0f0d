// Google Gemini, native API (PROTOCOLS.md §5): `models/{model}:generateContent` and
// `:streamGenerateContent?alt=sse`, auth `x-goog-api-key`. Request mapping lives in
// gemini-request.ts; this file holds the wire schemas, the response side and errors.
//
// Thought signatures. Gemini puts an opaque `thoughtSignature` on some parts and (Gemini 3) answers
// 400 unless the one on a functionCall part comes back on that same part. We carry it as provider
// metadata, which api/openai-chat.ts hands to OpenAI clients as `provider_metadata` and takes back:
// * on a functionCall part → that ToolCall's providerMetadata.gemini.thoughtSignature (restored on
//   the same functionCall part);
// * on a text or thought part → the message's providerMetadata.gemini.thoughtSignature (the last
//   one seen; restored on the turn's text part, dropped when the turn has no text).
import { z } from 'zod';
import { accumulate } from '../core/accumulate.ts';
import type {
  ChatResult,
  FinishReason,
  ProviderErrorClass,
  ProviderErrorInfo,
  ProviderMetadata,
  StreamEvent,
  Usage,
  Warning,
} from '../core/types.ts';
import { classifyError, parseRetryAfter } from './errors.ts';
import { bareModel, buildGeminiBody } from './gemini-request.ts';
import type { ErrorInput, ProviderAdapter, StreamDecoder } from './types.ts';

export const GEMINI_BASE_URL = 'https://generativelanguage.googleapis.com/v1beta';

// ---------------------------------------------------------------------------------------------
// Wire schemas: only the fields we read, all nullable, unknown keys kept (STYLE.md §4.5).

const text = z.string().nullish().catch(null);
const count = z.number().nullish().catch(null);

const partSchema = z.looseObject({
  text,
  thought: z.boolean().nullish().catch(null),
  thoughtSignature: text,
  functionCall: z
    .looseObject({ id: text, name: text, args: z.record(z.string(), z.unknown()).nullish().catch(null) })
    .nullish()
    .catch(null),
});

const candidateSchema = z.looseObject({
  index: count,
  content: z.looseObject({ role: text, parts: z.array(partSchema).nullish().catch(null) }).nullish().catch(null),
  finishReason: text,
  finishMessage: text,
});

export const geminiUsageSchema = z.looseObject({
  promptTokenCount: count,
  cachedContentTokenCount: count,
  candidatesTokenCount: count,
  thoughtsTokenCount: count,
  toolUsePromptTokenCount: count,
  totalTokenCount: count,
});

/** One GenerateContentResponse: a whole reply, or one SSE chunk of a stream. */
export const geminiChunkSchema = z.looseObject({
  candidates: z.array(candidateSchema).nullish().catch(null),
  promptFeedback: z.looseObject({ blockReason: text, blockReasonMessage: text }).nullish().catch(null),
  usageMetadata: geminiUsageSchema.nullish().catch(null),
  modelVersion: text,
  responseId: text,
});

/** A whole reply must at least look like one (a foreign JSON object is an invalid response). */
export const geminiResponseSchema = geminiChunkSchema.refine(
  (body) => body.candidates != null || body.promptFeedback != null || body.usageMetadata != null,
  { message: 'not a GenerateContentResponse' },
);

export type GeminiWireResponse = z.infer<typeof geminiChunkSchema>;
export type GeminiWireUsage = z.infer<typeof geminiUsageSchema>;

// ---------------------------------------------------------------------------------------------
// Usage and finish reasons

const toCount = (value: number | null | undefined) => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);

/**
 * OpenAI semantics (PROTOCOLS.md §8): input = promptTokenCount (which already includes cached
 * content) + toolUsePromptTokenCount; output = candidates + thoughts (thinking is billed as output
 * and is NOT inside candidatesTokenCount); reasoning = thoughts. The raw object is kept.
 */
export function convertGeminiUsage(usage: GeminiWireUsage): Usage {
  const prompt = toCount(usage.promptTokenCount);
  const toolPrompt = toCount(usage.toolUsePromptTokenCount);
  const thoughts = toCount(usage.thoughtsTokenCount);
  const converted: Usage = {};
  if (prompt !== undefined || toolPrompt !== undefined) converted.inputTokens = (prompt ?? 0) + (toolPrompt ?? 0);
  const cached = toCount(usage.cachedContentTokenCount);
  if (cached !== undefined) converted.cachedInputTokens = cached;
  converted.outputTokens = (toCount(usage.candidatesTokenCount) ?? 0) + (thoughts ?? 0);
  if (thoughts !== undefined) converted.reasoningTokens = thoughts;
  converted.raw = usage;
  return converted;
}

const GEMINI_FINISH_REASONS: Record<string, FinishReason['unified']> = {
  STOP: 'stop',
  MAX_TOKENS: 'length',
  SAFETY: 'content-filter',
  RECITATION: 'content-filter',
  BLOCKLIST: 'content-filter',
  PROHIBITED_CONTENT: 'content-filter',
  SPII: 'content-filter',
  IMAGE_SAFETY: 'content-filter',
  IMAGE_PROHIBITED_CONTENT: 'content-filter',
  IMAGE_RECITATION: 'content-filter',
  // "Unsupported language": the output was withheld, which clients handle like a filter (PROTOCOLS §7).
  LANGUAGE: 'content-filter',
  // MALFORMED_FUNCTION_CALL, UNEXPECTED_TOOL_CALL, TOO_MANY_TOOL_CALLS, OTHER, NO_IMAGE, … → other
  // (reported to OpenAI clients as `stop`; the raw value stays on the log row).
};

/** Gemini says STOP when it called functions: any functionCall part makes it `tool-calls`. */
export function mapGeminiFinishReason(raw: string | undefined, hasToolCalls: boolean): FinishReason {
  const unified = raw ? (GEMINI_FINISH_REASONS[raw] ?? 'other') : 'other';
  if (hasToolCalls && (unified === 'stop' || raw === undefined)) return { unified: 'tool-calls', raw };
  return { unified, raw };
}

// ---------------------------------------------------------------------------------------------
// Responses and streams

/**
 * One decoder for both paths: a whole reply is a stream of one chunk. Per chunk: thought parts →
 * reasoning, other text → text, each functionCall (always whole) → one tool-call delta with a
 * running index and a minted id. usageMetadata is cumulative on every chunk: the last one wins and
 * is reported once, on `finish`.
 *
 * Blocked prompt (HTTP 200, no candidates, promptFeedback.blockReason): a normal result with no
 * content and finish reason content-filter (raw = the blockReason), not an error — the request
 * was served and billed for its prompt tokens, and OpenAI clients already handle
 * `finish_reason: "content_filter"`. A failover would only resend the same prompt elsewhere.
 */
function createGeminiDecoder(warnings: Warning[], options: { stream: boolean }): StreamDecoder<GeminiWireResponse> {
  let started = false;
  let finishRaw: string | undefined;
  let blockReason: string | undefined;
  let usage: Usage = {};
  let calls = 0;
  let signature: string | undefined;

  return {
    push(chunk) {
      const events: StreamEvent[] = [];
      if (!started) {
        started = true;
        events.push({ type: 'response-start', warnings, id: chunk.responseId ?? undefined, model: chunk.modelVersion ?? undefined });
      }
      if (chunk.usageMetadata) {
        usage = convertGeminiUsage(chunk.usageMetadata);
        if (options.stream) events.push({ type: 'usage', usage }); // kept if the stream is cut short
      }
      if (chunk.promptFeedback?.blockReason) blockReason = chunk.promptFeedback.blockReason;
      // Only one candidate is ever requested.
      const candidate = chunk.candidates?.find((c) => (c.index ?? 0) === 0);
      for (const part of candidate?.content?.parts ?? []) {
        if (part.functionCall) {
          const event: StreamEvent = {
            type: 'tool-call-delta',
            index: calls++,
            id: part.functionCall.id || mintToolCallId(),
            name: part.functionCall.name ?? '',
            argumentsDelta: JSON.stringify(part.functionCall.args ?? {}),
          };
          if (part.thoughtSignature) event.providerMetadata = { gemini: { thoughtSignature: part.thoughtSignature } };
          events.push(event);
          continue;
        }
        if (part.thoughtSignature) signature = part.thoughtSignature;
        if (part.text) events.push({ type: part.thought ? 'reasoning-delta' : 'text-delta', delta: part.text });
      }
      if (candidate?.finishReason) finishRaw = candidate.finishReason;
      return events;
    },
    end() {
      const events: StreamEvent[] = [];
      let finishReason: FinishReason;
      if (finishRaw === undefined && blockReason !== undefined) {
        finishReason = { unified: 'content-filter', raw: blockReason };
      } else if (finishRaw === undefined && options.stream) {
        // The last chunk of a complete stream carries finishReason; without it the stream was cut.
        const message = 'upstream stream ended without a finishReason';
        events.push({ type: 'error', error: { message, errorClass: 'invalid_response', retryable: true } });
        finishReason = { unified: 'error', raw: undefined };
      } else {
        finishReason = mapGeminiFinishReason(finishRaw, calls > 0);
      }
      const finish: StreamEvent = { type: 'finish', finishReason, usage };
      const metadata: ProviderMetadata | undefined = signature ? { gemini: { thoughtSignature: signature } } : undefined;
      if (metadata) finish.providerMetadata = metadata;
      events.push(finish);
      return events;
    },
  };
}

/** Non-streaming 2xx body → result (the one-chunk stream, folded). */
export function parseGeminiResponse(body: GeminiWireResponse, warnings: Warning[]): ChatResult {
  const decoder = createGeminiDecoder(warnings, { stream: false });
  const result = accumulate([...decoder.push(body), ...decoder.end()]);
  result.warnings = warnings;
  return result;
}

function mintToolCallId(): string {
  return `call_${crypto.randomUUID().replaceAll('-', '').slice(0, 24)}`;
}

// ---------------------------------------------------------------------------------------------
// Errors: google.rpc.Status {error: {code, message, status, details[]}}

type GeminiErrorFields = {
  message?: string;
  code?: number;
  status?: string;
  reason?: string;
  retryDelay?: string;
  quotaIds: string[];
};

function readGeminiError(body: string): GeminiErrorFields {
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch {
    return { quotaIds: [] };
  }
  const record = Array.isArray(data) ? data[0] : data; // non-SSE streams wrap everything in an array
  const error = record && typeof record === 'object' ? (record as { error?: unknown }).error : undefined;
  if (!error || typeof error !== 'object') {
    const message = typeof error === 'string' ? error : undefined;
    return { message, quotaIds: [] };
  }
  const e = error as Record<string, unknown>;
  const fields: GeminiErrorFields = { quotaIds: [] };
  if (typeof e.message === 'string' && e.message) fields.message = e.message;
  if (typeof e.code === 'number') fields.code = e.code;
  if (typeof e.status === 'string' && e.status) fields.status = e.status;
  for (const detail of Array.isArray(e.details) ? e.details : []) {
    if (!detail || typeof detail !== 'object') continue;
    const d = detail as Record<string, unknown>;
    const type = typeof d['@type'] === 'string' ? d['@type'] : '';
    if (type.endsWith('google.rpc.ErrorInfo') && typeof d.reason === 'string') fields.reason = d.reason;
    if (type.endsWith('google.rpc.RetryInfo') && typeof d.retryDelay === 'string') fields.retryDelay = d.retryDelay;
    if (type.endsWith('google.rpc.QuotaFailure') && Array.isArray(d.violations)) {
      for (const v of d.violations) {
        if (!v || typeof v !== 'object') continue;
        const violation = v as Record<string, unknown>;
        fields.quotaIds.push([violation.quotaId, violation.quotaMetric, violation.quotaValue === '0' ? 'limit:0' : ''].filter((x) => typeof x === 'string').join(' '));
      }
    }
  }
  return fields;
}

/** A protobuf Duration as JSON ("47s", "0.5s", "47.301624193s") → ms. */
function parseDuration(value: string | undefined): number | undefined {
  const seconds = value ? /^(\d+(?:\.\d+)?)s$/.exec(value.trim())?.[1] : undefined;
  return seconds === undefined ? undefined : Math.round(Number(seconds) * 1000);
}

/**
 * Gemini errors → info. Classified on the gRPC status and ErrorInfo reason first, because the
 * HTTP status misleads: a bad key is 400 API_KEY_INVALID (authentication, not a client error), and
 * every 429 says "exceeded your current quota" (a per-minute limit is a retryable rate limit; only
 * a per-day — or zero — quota is `quota`, which the gateway does not retry on the same key). The
 * retry delay comes from RetryInfo in the body (Gemini sends no Retry-After). Never throws.
 */
export function parseGeminiError({ status, body, headers, statusText }: ErrorInput): ProviderErrorInfo {
  const fields = readGeminiError(body);
  const httpStatus = status >= 300 ? status : undefined; // 2xx: an error object inside a 200 stream
  const effective = httpStatus ?? fields.code;
  const message = fields.message ?? (`${httpStatus ?? 'error'} ${statusText ?? ''}`.trim() || 'upstream error');
  const grpc = fields.status;
  const result = (errorClass: ProviderErrorClass, retryable: boolean) => ({ errorClass, retryable });

  let classified: { errorClass: ProviderErrorClass; retryable: boolean };
  if (/^API_KEY_(INVALID|EXPIRED)$/.test(fields.reason ?? '') || grpc === 'UNAUTHENTICATED' || effective === 401) {
    classified = result('authentication', false);
  } else if (grpc === 'PERMISSION_DENIED' || effective === 403) {
    classified = result('permission', false);
  } else if (grpc === 'FAILED_PRECONDITION' && /location|country|region|billing/i.test(message)) {
    classified = result('permission', false); // "User location is not supported for the API use."
  } else if (grpc === 'RESOURCE_EXHAUSTED' || effective === 429) {
    const exhausted = fields.quotaIds.some((id) => /per ?day|limit:0/i.test(id));
    classified = exhausted ? result('quota', false) : result('rate_limit', true);
  } else if (grpc === 'NOT_FOUND' || effective === 404) {
    classified = result('model_not_found', false);
  } else if (grpc === 'UNAVAILABLE' || effective === 503) {
    classified = result('overloaded', true);
  } else if (grpc === 'DEADLINE_EXCEEDED' || effective === 504) {
    classified = result('upstream_5xx', true);
  } else {
    classified = classifyError({ status: effective, code: fields.reason, type: grpc, message });
  }
  const info: ProviderErrorInfo = { message, ...classified };
  if (httpStatus !== undefined) info.status = httpStatus;
  const code = fields.reason ?? grpc;
  if (code) info.code = code;
  if (grpc) info.type = grpc;
  const retryAfterMs = parseDuration(fields.retryDelay) ?? parseRetryAfter(headers, message);
  if (retryAfterMs !== undefined) info.retryAfterMs = retryAfterMs;
  return info;
}

// ---------------------------------------------------------------------------------------------
// The adapter

export const gemini: ProviderAdapter<GeminiWireResponse, GeminiWireResponse> = {
  id: 'gemini',
  defaultBaseUrl: GEMINI_BASE_URL,

  buildRequest(request, settings, { stream }) {
    const { body, warnings } = buildGeminiBody(request);
    const baseUrl = (settings.baseUrl ?? GEMINI_BASE_URL).replace(/\/+$/, '');
    // `?alt=sse` matters: without it the stream endpoint answers one JSON array, not SSE.
    const method = stream ? 'streamGenerateContent?alt=sse' : 'generateContent';
    const auth: Record<string, string> = settings.apiKey ? { 'x-goog-api-key': settings.apiKey } : {};
    return {
      http: {
        url: `${baseUrl}/models/${bareModel(request.model)}:${method}`,
        headers: { 'content-type': 'application/json', ...auth, ...settings.headers },
        body,
      },
      warnings,
    };
  },

  responseSchema: geminiResponseSchema,
  chunkSchema: geminiChunkSchema,
  parseResponse: parseGeminiResponse,
  createStreamDecoder: (warnings) => createGeminiDecoder(warnings, { stream: true }),
  parseError: parseGeminiError,
};
