// Edge codec for `POST /v1/chat/completions` (STYLE.md §1): wire body → ChatRequest, and
// ChatResult / StreamEvent → `chat.completion` / `chat.completion.chunk` (PROTOCOLS.md §2).
// Pure functions: no I/O, no Elysia.
import { mergeProviderMetadata } from '../core/accumulate.ts';
import type {
  ChatMessage,
  ChatRequest,
  ChatResult,
  ContentPart,
  FinishReason,
  ProviderMetadata,
  StreamEvent,
  ToolCall,
  Usage,
} from '../core/types.ts';
import {
  type ChatCompletionRequestBody,
  type ChatCompletionRequestMessage,
  MODELLED_KEYS,
  type RequestError,
  chatCompletionRequestSchema,
  describeIssue,
} from './openai-chat-schema.ts';
import { fastChatCompletionRequest } from './openai-chat-fast.ts';
import { providerErrorToOpenAI } from './openai-errors.ts';

export { chatCompletionRequestSchema } from './openai-chat-schema.ts';
export { type OpenAIErrorResponse, providerErrorToOpenAI } from './openai-errors.ts';

/** A validated request, before routing: `model` is the name the client used (alias or `provider/model`). */
export type ParsedChatRequest = {
  /** Model name as the client sent it. */
  model: string;
  /** Whether the client asked for SSE. */
  stream: boolean;
  /** Whether the client asked for the final usage chunk (`stream_options.include_usage`). */
  includeUsage: boolean;
  /** Everything else, in the internal vocabulary. */
  request: Omit<ChatRequest, 'model'>;
};

export type ParseResult = { ok: true; value: ParsedChatRequest } | { ok: false; error: RequestError };

/**
 * Text parts folded into one string: instructions (system, developer) are separate paragraphs, so
 * they are joined by a newline; tool output and assistant text are one text split up, joined as is.
 */
const INSTRUCTION_SEPARATOR = '\n';

/** Validates a request body (never throws) and maps it to the internal vocabulary. */
export function parseChatCompletionRequest(body: unknown): ParseResult {
  // Common clean bodies skip zod (openai-chat-fast.ts); the rest, and every error, go through the schema.
  let data = fastChatCompletionRequest(body);
  if (!data) {
    const parsed = chatCompletionRequestSchema.safeParse(body);
    if (!parsed.success) return { ok: false, error: describeIssue(parsed.error.issues[0]!, body) };
    data = parsed.data;
  }
  const stream = data.stream === true;
  return {
    ok: true,
    value: {
      model: data.model,
      stream,
      includeUsage: stream && data.stream_options?.include_usage === true,
      request: toChatRequest(data),
    },
  };
}

function toChatRequest(data: ChatCompletionRequestBody): Omit<ChatRequest, 'model'> {
  const request: Omit<ChatRequest, 'model'> = { messages: data.messages.map(toChatMessage) };
  const maxOutputTokens = data.max_completion_tokens ?? data.max_tokens;
  if (maxOutputTokens != null) request.maxOutputTokens = maxOutputTokens;
  if (data.temperature != null) request.temperature = data.temperature;
  if (data.top_p != null) request.topP = data.top_p;
  if (data.stop != null) {
    const stop = typeof data.stop === 'string' ? [data.stop] : data.stop;
    if (stop.length > 0) request.stop = stop;
  }
  if (data.seed != null) request.seed = data.seed;
  if (data.tools?.length) {
    request.tools = data.tools.map(({ function: fn }) =>
      compact({
        name: fn.name,
        description: fn.description ?? undefined,
        // OpenAI: omitting `parameters` defines a function with an empty parameter list.
        parameters: fn.parameters ?? { type: 'object', properties: {} },
        strict: fn.strict ?? undefined,
      }),
    );
  }
  if (data.tool_choice != null) {
    request.toolChoice =
      typeof data.tool_choice === 'string' ? data.tool_choice : { name: data.tool_choice.function.name };
  }
  if (data.parallel_tool_calls != null) request.parallelToolCalls = data.parallel_tool_calls;
  const format = data.response_format;
  if (format?.type === 'text') request.responseFormat = { type: 'text' };
  if (format?.type === 'json_object') request.responseFormat = { type: 'json' };
  if (format?.type === 'json_schema') {
    const { name, description, schema, strict } = format.json_schema;
    request.responseFormat = compact({
      type: 'json' as const,
      name,
      description: description ?? undefined,
      schema: schema ?? undefined,
      strict: strict ?? undefined,
    });
  }
  if (data.reasoning_effort != null) request.reasoningEffort = data.reasoning_effort;
  if (data.user != null) request.user = data.user;

  // Keys the gateway does not model are passed through (a for-in loop: no entries array per request).
  let extra: Record<string, unknown> | undefined;
  for (const key in data) if (!MODELLED_KEYS.has(key)) (extra ??= {})[key] = (data as Record<string, unknown>)[key];
  if (extra) request.extra = extra;
  return request;
}

const joinText = (content: string | { text: string }[], separator = ''): string =>
  typeof content === 'string' ? content : content.map((part) => part.text).join(separator);

function toChatMessage(message: ChatCompletionRequestMessage): ChatMessage {
  switch (message.role) {
    case 'system':
      return { role: 'system', content: joinText(message.content, INSTRUCTION_SEPARATOR) };
    case 'developer':
      return { role: 'system', content: joinText(message.content, INSTRUCTION_SEPARATOR), developer: true };
    case 'user':
      return {
        role: 'user',
        content: typeof message.content === 'string' ? message.content : message.content.map(toContentPart),
      };
    case 'assistant': {
      // Refusal parts are not replayable content; a refusal-only turn keeps its refusal as text.
      let content =
        typeof message.content === 'string' || message.content == null
          ? (message.content ?? null)
          : joinText(message.content.filter((part) => part.type === 'text'));
      if (!content && message.refusal) content = message.refusal;
      const assistant: Extract<ChatMessage, { role: 'assistant' }> = { role: 'assistant', content };
      if (message.tool_calls?.length) assistant.toolCalls = message.tool_calls.map(toToolCall);
      if (message.reasoning_content) assistant.reasoning = message.reasoning_content;
      if (message.provider_metadata) assistant.providerMetadata = message.provider_metadata as ProviderMetadata;
      return assistant;
    }
    case 'tool':
      return { role: 'tool', toolCallId: message.tool_call_id, content: joinText(message.content) };
  }
}

type WireToolCall = NonNullable<Extract<ChatCompletionRequestMessage, { role: 'assistant' }>['tool_calls']>[number];

function toToolCall(call: WireToolCall): ToolCall {
  const result: ToolCall = { id: call.id, name: call.function.name, arguments: call.function.arguments };
  if (call.provider_metadata) result.providerMetadata = call.provider_metadata as ProviderMetadata;
  return result;
}

type WirePart = Exclude<Extract<ChatCompletionRequestMessage, { role: 'user' }>['content'], string>[number];

function toContentPart(part: WirePart): ContentPart {
  if (part.type === 'text') return { type: 'text', text: part.text };
  const { url, detail } = part.image_url;
  const mediaType = /^data:([^;,]+)[;,]/i.exec(url)?.[1]?.toLowerCase();
  return compact({ type: 'image' as const, url, mediaType, detail: detail ?? undefined });
}

// ---------------------------------------------------------------------------------------------
// Responses

/** What the route reports back: its own response id, timestamp and the model name to show. */
export type CompletionContext = { id: string; created: number; model: string };

type OpenAIFinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

/**
 * Unified → OpenAI finish reason. `other` becomes `tool_calls` when the turn called tools (clients
 * loop on that value), else `stop`. `error` becomes `stop`: by then a stream has already carried an
 * error payload, and a non-streaming reply with partial output has no better OpenAI value.
 */
export function toOpenAIFinishReason(reason: FinishReason, hasToolCalls: boolean): OpenAIFinishReason {
  switch (reason.unified) {
    case 'length':
      return 'length';
    case 'tool-calls':
      return 'tool_calls';
    case 'content-filter':
      return 'content_filter';
    case 'other':
      return hasToolCalls ? 'tool_calls' : 'stop';
    default:
      return 'stop';
  }
}

/** Usage in OpenAI semantics (cached ⊂ prompt, reasoning ⊂ completion; core/types.ts already normalised). */
export function toOpenAIUsage(usage: Usage) {
  const prompt = usage.inputTokens ?? 0;
  const completion = usage.outputTokens ?? 0;
  const promptDetails: Record<string, number> = { cached_tokens: usage.cachedInputTokens ?? 0 };
  if (usage.cacheWriteInputTokens !== undefined) promptDetails.cache_write_tokens = usage.cacheWriteInputTokens;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: promptDetails,
    completion_tokens_details: { reasoning_tokens: usage.reasoningTokens ?? 0 },
  };
}

/** Upstreams that give no call id (Gemini) get a stable synthetic one. */
const callId = (responseId: string, index: number, id: string | undefined) => id || `call_${responseId}_${index}`;

/** A whole result as a `chat.completion` object. */
export function toChatCompletion(result: ChatResult, ctx: CompletionContext): Record<string, unknown> {
  const hasToolCalls = result.toolCalls.length > 0;
  const message: Record<string, unknown> = {
    role: 'assistant',
    // No text: null when the turn only called tools or was filtered (as OpenAI answers), '' otherwise.
    content: result.text === '' && (hasToolCalls || result.finishReason.unified === 'content-filter') ? null : result.text,
    refusal: null,
    annotations: [],
  };
  if (result.reasoning) message.reasoning_content = result.reasoning;
  if (hasToolCalls) {
    message.tool_calls = result.toolCalls.map((call, index) => {
      const wire: Record<string, unknown> = {
        id: callId(ctx.id, index, call.id),
        type: 'function',
        function: { name: call.name, arguments: call.arguments },
      };
      if (call.providerMetadata) wire.provider_metadata = call.providerMetadata;
      return wire;
    });
  }
  if (result.providerMetadata) message.provider_metadata = result.providerMetadata;
  return {
    id: ctx.id,
    object: 'chat.completion',
    created: ctx.created,
    model: ctx.model,
    choices: [
      { index: 0, message, logprobs: null, finish_reason: toOpenAIFinishReason(result.finishReason, hasToolCalls) },
    ],
    usage: toOpenAIUsage(result.usage),
  };
}

export type ChunkEncoderContext = CompletionContext & {
  /** Client asked for `stream_options.include_usage`. */
  includeUsage: boolean;
  /** Provider instance id, prefixed to upstream error messages (default 'upstream'). */
  provider?: string;
};

export type ChunkEncoder = {
  /** One event in, zero or more wire objects out (each becomes one `data:` line via formatSSE). */
  encode(event: StreamEvent): Record<string, unknown>[];
  /** True once an `error` payload was emitted: the route ends the stream there, without [DONE]. */
  readonly failed: boolean;
};

/**
 * StreamEvents → `chat.completion.chunk` objects, in OpenAI's order: a role chunk, deltas, a
 * finish chunk (empty delta), then the `choices: []` usage chunk when `includeUsage`.
 * Message-level provider metadata (merged) rides on the finish chunk's delta; per-call metadata on
 * that call's `tool_calls[]` item (the SDK's stream accumulator copies both onto the message).
 * @example
 * const encoder = createChunkEncoder({ id, created, model: 'gpt-4o', includeUsage: true });
 * for await (const event of events) for (const chunk of encoder.encode(event)) yield formatSSE(chunk);
 */
export function createChunkEncoder(ctx: ChunkEncoderContext): ChunkEncoder {
  let started = false;
  let failed = false;
  let finished = false;
  let messageMetadata: ProviderMetadata | undefined;
  const wireIndex = new Map<number, number>();
  const callMetadata = new Map<number, ProviderMetadata | undefined>();

  const chunk = (choices: unknown[]): Record<string, unknown> => {
    const wire: Record<string, unknown> = {
      id: ctx.id,
      object: 'chat.completion.chunk',
      created: ctx.created,
      model: ctx.model,
      choices,
    };
    if (ctx.includeUsage) wire.usage = null;
    return wire;
  };
  const choiceChunk = (delta: Record<string, unknown>, finishReason: OpenAIFinishReason | null = null) =>
    chunk([{ index: 0, delta, logprobs: null, finish_reason: finishReason }]);
  const start = (out: Record<string, unknown>[]) => {
    if (started) return;
    started = true;
    out.push(choiceChunk({ role: 'assistant', content: '', refusal: null }));
  };

  const encode = (event: StreamEvent): Record<string, unknown>[] => {
    if (failed || finished) return [];
    const out: Record<string, unknown>[] = [];
    switch (event.type) {
      case 'response-start':
        start(out);
        break;
      case 'text-delta':
        if (event.delta === '') break;
        start(out);
        out.push(choiceChunk({ content: event.delta }));
        break;
      case 'reasoning-delta':
        messageMetadata = mergeProviderMetadata(messageMetadata, event.providerMetadata);
        if (event.delta === '') break;
        start(out);
        out.push(choiceChunk({ reasoning_content: event.delta }));
        break;
      case 'tool-call-delta': {
        start(out);
        let index = wireIndex.get(event.index);
        let item: Record<string, unknown>;
        if (index === undefined) {
          index = wireIndex.size;
          wireIndex.set(event.index, index);
          item = {
            index,
            id: callId(ctx.id, index, event.id),
            type: 'function',
            function: { name: event.name ?? '', arguments: event.argumentsDelta },
          };
        } else if (event.argumentsDelta !== '' || event.providerMetadata) {
          item = { index, function: { arguments: event.argumentsDelta } };
        } else break;
        if (event.providerMetadata) {
          // Cumulative per call: the SDK accumulator assigns unknown fields, so the last one must be complete.
          const merged = mergeProviderMetadata(callMetadata.get(index), event.providerMetadata);
          callMetadata.set(index, merged);
          item.provider_metadata = merged;
        }
        out.push(choiceChunk({ tool_calls: [item] }));
        break;
      }
      case 'finish': {
        start(out);
        finished = true;
        messageMetadata = mergeProviderMetadata(messageMetadata, event.providerMetadata);
        const delta = messageMetadata ? { provider_metadata: messageMetadata } : {};
        out.push(choiceChunk(delta, toOpenAIFinishReason(event.finishReason, wireIndex.size > 0)));
        if (ctx.includeUsage) out.push({ ...chunk([]), usage: toOpenAIUsage(event.usage) });
        break;
      }
      case 'error':
        // The SDK throws APIError on any data payload with an `error` key (PROTOCOLS.md §2.3).
        failed = true;
        out.push(providerErrorToOpenAI(event.error, ctx.provider ?? 'upstream').body);
        break;
    }
    return out;
  };

  return {
    encode,
    get failed() {
      return failed;
    },
  };
}

/** One SSE message: `data: <json>\n\n`. */
export function formatSSE(payload: object): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

/** The stream terminator OpenAI clients wait for. */
export const SSE_DONE = 'data: [DONE]\n\n';

/** Drops undefined-valued keys (keeps the mapped request free of `key: undefined`). */
function compact<T extends Record<string, unknown>>(value: T): T {
  for (const key of Object.keys(value)) if (value[key] === undefined) delete value[key];
  return value;
}
