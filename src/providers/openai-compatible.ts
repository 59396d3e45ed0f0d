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

  return {
    id: spec.id,
    defaultBaseUrl: spec.defaultBaseUrl,
    validate: spec.validate,

    buildRequest(request, settings, { stream }) {
      const warnings: Warning[] = [];
      const supported: ChatRequest = { ...request };
      for (const key of spec.unsupported ?? []) {
        if (supported[key] === undefined) continue;
        delete supported[key];
        warnings.push({ type: 'unsupported-setting', setting: key, detail: `not supported by ${spec.id}` });
      }
      const built = buildOpenAIBody(supported, stream, {
        maxTokensField: spec.maxTokensField ?? 'max_tokens',
        developerRole: spec.developerRole ?? false,
        mapAssistantMessage: spec.mapAssistantMessage,
      });
      warnings.push(...built.warnings);
      let body = built.body;
      // Operator-configured options for this provider type win over everything but the core keys.
      const { model, messages, stream: _s, stream_options: _o, ...options } = request.providerOptions?.[spec.id] ?? {};
      body = { ...body, ...options };
      if (spec.adjustBody) body = spec.adjustBody(body, supported);
      const baseUrl = (settings.baseUrl ?? spec.defaultBaseUrl ?? '').replace(/\/+$/, '');
      const auth =
        spec.authHeader ?? ((key: string): Record<string, string> => (key ? { authorization: `Bearer ${key}` } : {}));
      return {
        http: {
          url: baseUrl + (spec.path ?? '/chat/completions'),
          headers: { 'content-type': 'application/json', ...auth(settings.apiKey), ...settings.headers },
          body,
        },
        warnings,
      };
    },

    responseSchema: openAIResponseSchema,
    chunkSchema: openAIChunkSchema,
    fastResponse: fastOpenAIResponse,
    fastChunk: fastOpenAIChunk,

    parseResponse: (body, warnings) => parseOpenAIResponse(body, warnings, readers),
    createStreamDecoder: (warnings) => createOpenAIStreamDecoder(warnings, readers),
    parseError: parseOpenAIError,
  };
}
