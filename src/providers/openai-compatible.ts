// defineOpenAICompatible(spec): the Chat Completions codec shared by OpenAI, DeepSeek, xAI and any
// OpenAI-compatible server. A provider file is the spec: base URL, and a few small hooks.
import type { ChatRequest, FinishReason, ProviderId, Usage, Warning } from '../core/types.ts';
import { type AssistantMessage, buildOpenAIBody } from './openai-request.ts';
import {
  OPENAI_FINISH_REASONS,
  type OpenAIReaders,
  convertOpenAIUsage,
  createOpenAIStreamDecoder,
  parseOpenAIError,
  parseOpenAIResponse,
} from './openai-response.ts';
import {
  type OpenAIWireBody,
  type OpenAIWireChunk,
  type OpenAIWireDelta,
  type OpenAIWireRequestMessage,
  type OpenAIWireResponse,
  type OpenAIWireUsage,
  openAIChunkSchema,
  openAIResponseSchema,
} from './openai-wire.ts';
import { fastOpenAIChunk, fastOpenAIResponse } from './openai-wire-fast.ts';
import type { ProviderAdapter } from './types.ts';

export type OpenAICompatibleSpec = {
  id: ProviderId;
  /** Undefined: the instance must configure base_url. */
  defaultBaseUrl?: string;
  /** Default '/chat/completions'. */
  path?: string;
  /** Default `Authorization: Bearer <key>` (omitted when the key is ''). */
  authHeader?: (apiKey: string) => Record<string, string>;
  /** Default 'max_tokens' (widest support); OpenAI uses 'max_completion_tokens'. */
  maxTokensField?: 'max_tokens' | 'max_completion_tokens';
  /** Keep role `developer` (OpenAI only); others get `system`. Default false. */
  developerRole?: boolean;
  /** Merged over the OpenAI table. */
  finishReasons?: Record<string, FinishReason['unified']>;
  /** Default: OpenAI semantics (cached ⊂ prompt, reasoning ⊂ completion). */
  readUsage?: (usage: OpenAIWireUsage) => Usage;
  /** Default: `reasoning_content`, else `reasoning`. */
  readReasoning?: (delta: OpenAIWireDelta) => string | undefined;
  /** Last-mile change to each outgoing assistant message. */
  mapAssistantMessage?: (message: AssistantMessage, wire: OpenAIWireRequestMessage) => OpenAIWireRequestMessage;
  /** Last-mile change to the whole body. */
  adjustBody?: (body: OpenAIWireBody, request: ChatRequest) => OpenAIWireBody;
  /** ChatRequest keys this upstream cannot honour: dropped with a warning. */
  unsupported?: Array<keyof ChatRequest>;
  /** Requests to refuse before any upstream call (see ProviderAdapter.validate). */
  validate?: ProviderAdapter['validate'];
  /** Its JSON replies are OpenAI's own (see ProviderAdapter.nativeReplyEndpoint): OpenAI only. */
  nativeReplies?: boolean;
};

/**
 * Builds a ProviderAdapter for an OpenAI Chat Completions-compatible upstream.
 * @example
 * export const groq = defineOpenAICompatible({ id: 'openai-compatible', defaultBaseUrl: 'https://api.groq.com/openai/v1' });
 */
export function defineOpenAICompatible(
  spec: OpenAICompatibleSpec,
): ProviderAdapter<OpenAIWireResponse, OpenAIWireChunk> {
  const finishTable = { ...OPENAI_FINISH_REASONS, ...spec.finishReasons };
  const readers: OpenAIReaders = {
    mapFinishReason: (raw) => ({ unified: raw ? (finishTable[raw] ?? 'other') : 'other', raw: raw ?? undefined }),
    readUsage: spec.readUsage ?? convertOpenAIUsage,
    readReasoning: spec.readReasoning ?? ((delta) => delta.reasoning_content || delta.reasoning || undefined),
  };

  const auth = spec.authHeader ?? ((key: string): Record<string, string> => (key ? { authorization: `Bearer ${key}` } : {}));
  // The URL and headers of the last call, reused while its base URL, key and extra headers are the
  // same ones (a provider's settings are stable objects; each key string is held by its provider).
  // The headers object is frozen: shared by every call, it is only read (and run.ts hands fetch a
  // Headers object built once from it).
  let lastBase: string | undefined;
  let lastUrl = '';
  const urlFor = (base: string | undefined): string => {
    if (base !== lastBase || !lastUrl) {
      lastBase = base;
      lastUrl = (base ?? spec.defaultBaseUrl ?? '').replace(/\/+$/, '') + (spec.path ?? '/chat/completions');
    }
    return lastUrl;
  };
  let lastKey: string | undefined;
  let lastExtra: Record<string, string> | undefined;
  let lastHeaders: Record<string, string> | undefined;
  const headersFor = (key: string, extra: Record<string, string> | undefined): Record<string, string> => {
    if (!lastHeaders || key !== lastKey || extra !== lastExtra) {
      lastKey = key;
      lastExtra = extra;
      lastHeaders = Object.freeze({ 'content-type': 'application/json', ...auth(key), ...extra });
    }
    return lastHeaders;
  };

  const bodyOptions = {
    maxTokensField: spec.maxTokensField ?? 'max_tokens',
    developerRole: spec.developerRole ?? false,
    mapAssistantMessage: spec.mapAssistantMessage,
  } as const;

  return {
    id: spec.id,
    defaultBaseUrl: spec.defaultBaseUrl,
    validate: spec.validate,

    buildRequest(request, settings, { stream }) {
      const warnings: Warning[] = [];
      // Copied only when a setting this provider lacks has to be dropped.
      let supported: ChatRequest = request;
      if (spec.unsupported) {
        for (const key of spec.unsupported) {
          if (supported[key] === undefined) continue;
          if (supported === request) supported = { ...request };
          delete supported[key];
          warnings.push({ type: 'unsupported-setting', setting: key, detail: `not supported by ${spec.id}` });
        }
      }
      let body = buildOpenAIBody(supported, stream, bodyOptions, warnings).body;
      // Operator-configured options for this provider type win over everything but the core keys.
      const configured = request.providerOptions?.[spec.id];
      if (configured) {
        const { model, messages, stream: _s, stream_options: _o, ...options } = configured;
        body = { ...body, ...options };
      }
      if (spec.adjustBody) body = spec.adjustBody(body, supported);
      return { http: { url: urlFor(settings.baseUrl), headers: headersFor(settings.apiKey, settings.headers), body }, warnings };
    },

    responseSchema: openAIResponseSchema,
    chunkSchema: openAIChunkSchema,
    fastResponse: fastOpenAIResponse,
    fastChunk: fastOpenAIChunk,

    parseResponse: (body, warnings) => parseOpenAIResponse(body, warnings, readers),
    createStreamDecoder: (warnings) => createOpenAIStreamDecoder(warnings, readers),
    parseError: parseOpenAIError,
    ...(spec.nativeReplies ? { nativeReplyEndpoint: 'chat.completions' } : {}),
  };
}
