// Edge codec for `POST /v1/messages` and `POST /v1/messages/count_tokens` (STYLE.md §1): wire body →
// ChatRequest here; ChatResult / StreamEvent → Anthropic wire in anthropic-messages-encode.ts; errors in
// anthropic-messages-errors.ts. Pure functions: no I/O, no Elysia.
//
// Mapping decisions (see also anthropic-messages-state.ts for the replay state):
// * `system` (string or blocks) → one system message per block, first; a `role: "system"` message inside
//   `messages` (Claude Code's environment block) → a system message at its position.
// * user `tool_result` blocks → `tool` messages (placed first, in order); their text blocks joined by
//   '\n'. Images inside a tool result cannot go in a tool message: they move to the user message that
//   follows (after an intro line naming the call), with a note in the tool text and a warning.
// * `document` with text / content sources and `search_result` → text parts; PDF, URL and Files-API
//   documents and Files-API images → a text placeholder plus a warning (never a 400: they sit in
//   Claude Code's history). Server-tool blocks and Anthropic-defined / server tools → 400.
// * assistant `thinking` → `reasoning`; signed and redacted blocks also go, in order and verbatim, to
//   providerMetadata.anthropic.thinking (the Anthropic adapter's convention: providers/anthropic-metadata.ts).
// * thinking `{type:"enabled", budget_tokens}` → reasoningEffort by budget (< 4096 low, < 16384 medium,
//   else high). `adaptive`, `disabled` and `output_config.effort` leave it unset (the provider default):
//   Claude Code sends adaptive + effort to every model, and a reasoning_effort would make non-reasoning
//   upstreams (gpt-4o, …) fail. The raw values reach Anthropic upstreams through providerOptions.
// * every top-level key not mapped to a ChatRequest field (thinking, top_k, output_config,
//   context_management, service_tier, container, cache_control, unknown future keys) → verbatim in
//   `providerOptions.anthropic`, next to the non-wire `inbound` key (AnthropicInboundOptions: block-level
//   cache_control / is_error by position, extra tool keys; the route adds the anthropic-beta values),
//   which the Anthropic adapter strips and puts back on the blocks and tools it builds.
import type {
  ChatMessage,
  ChatRequest,
  ContentPart,
  ProviderMetadata,
  ReasoningEffort,
  ToolCall,
  ToolDefinition,
  Warning,
} from '../core/types.ts';
import { mergeProviderMetadata } from '../core/accumulate.ts';
import {
  type AnthropicAssistantBlock,
  type AnthropicDocumentBlock,
  type AnthropicImageBlock,
  type AnthropicMessagesRequestBody,
  type AnthropicSearchResultBlock,
  type AnthropicRequestError,
  type AnthropicTextBlock,
  type AnthropicToolResultBlock,
  type AnthropicUserBlock,
  MAPPED_KEYS,
  anthropicMessagesRequestSchema,
  describeIssue,
} from './anthropic-messages-schema.ts';
import {
  ANTHROPIC_INBOUND_KEY,
  type AnthropicBlockExtras,
  type AnthropicInboundOptions,
  type AnthropicThinkingBlock,
  decodeReplayState,
  isReplayStateSignature,
} from './anthropic-messages-state.ts';

export { anthropicMessagesRequestSchema, type AnthropicRequestError } from './anthropic-messages-schema.ts';
export * from './anthropic-messages-encode.ts';
export * from './anthropic-messages-errors.ts';
export * from './anthropic-messages-state.ts';

/** A validated request, before routing: `model` is the name the client used (alias or `provider/model`). */
export type ParsedAnthropicRequest = {
  /** Model name as the client sent it. */
  model: string;
  /** Whether the client asked for SSE. */
  stream: boolean;
  /** Everything else, in the internal vocabulary. */
  request: Omit<ChatRequest, 'model'>;
  /** Lossy conversions (documents, images in tool results, damaged replay state), for the request log. */
  warnings: Warning[];
};

export type AnthropicParseResult =
  | { ok: true; value: ParsedAnthropicRequest }
  | { ok: false; error: AnthropicRequestError };

/** Validates a request body (never throws) and maps it to the internal vocabulary. */
export function parseAnthropicMessagesRequest(body: unknown): AnthropicParseResult {
  const parsed = anthropicMessagesRequestSchema.safeParse(body);
  if (!parsed.success) return { ok: false, error: describeIssue(parsed.error.issues[0]!, body) };
  const data = parsed.data;
  const converter = new Converter();
  converter.system(data.system);
  for (const message of data.messages) converter.message(message);
  const request: Omit<ChatRequest, 'model'> = { messages: converter.messages };
  if (data.max_tokens != null) request.maxOutputTokens = data.max_tokens;
  if (data.temperature != null) request.temperature = data.temperature;
  if (data.top_p != null) request.topP = data.top_p;
  if (data.stop_sequences?.length) request.stop = data.stop_sequences;
  if (data.metadata?.user_id) request.user = data.metadata.user_id;
  const inbound: AnthropicInboundOptions = {};
  if (data.tools?.length) {
    request.tools = data.tools.map((tool) => {
      const { type: _type, name, description, input_schema, strict, ...extras } = tool;
      // `strict` is mapped for every provider and kept raw for Anthropic upstreams too.
      const kept = Object.fromEntries(Object.entries({ ...extras, strict }).filter(([, value]) => value != null));
      if (Object.keys(kept).length > 0) (inbound.tools ??= {})[name] = kept;
      const definition: ToolDefinition = { name, parameters: input_schema };
      if (description != null) definition.description = description;
      if (strict != null) definition.strict = strict;
      return definition;
    });
  }
  applyToolChoice(data, request);
  const effort = effortFromThinking(data.thinking);
  if (effort) request.reasoningEffort = effort;
  const format = data.output_config?.format;
  if (format?.type === 'json_schema' && format.schema) request.responseFormat = { type: 'json', schema: format.schema };

  if (converter.blocks.length > 0) inbound.blocks = converter.blocks;
  const anthropic: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data)) if (!MAPPED_KEYS.has(key) && value != null) anthropic[key] = value;
  if (Object.keys(inbound).length > 0) anthropic[ANTHROPIC_INBOUND_KEY] = inbound;
  if (Object.keys(anthropic).length > 0) request.providerOptions = { anthropic };
  return {
    ok: true,
    value: { model: data.model, stream: data.stream === true, request, warnings: converter.warnings },
  };
}

function applyToolChoice(data: AnthropicMessagesRequestBody, request: Omit<ChatRequest, 'model'>): void {
  const choice = data.tool_choice;
  if (!choice) return;
  if (choice.type === 'tool') request.toolChoice = { name: choice.name };
  else request.toolChoice = choice.type === 'any' ? 'required' : choice.type;
  if (choice.disable_parallel_tool_use === true) request.parallelToolCalls = false;
}

/** Thinking budget → effort; only an explicit budget maps (see the header comment). */
export function effortFromThinking(thinking: AnthropicMessagesRequestBody['thinking']): ReasoningEffort | undefined {
  if (thinking?.type !== 'enabled' || thinking.budget_tokens == null) return undefined;
  if (thinking.budget_tokens < 4096) return 'low';
  return thinking.budget_tokens < 16384 ? 'medium' : 'high';
}

// ---------------------------------------------------------------------------------------------
// Messages

type UserMessage = Extract<ChatMessage, { role: 'user' }>;
type AssistantMessage = Extract<ChatMessage, { role: 'assistant' }>;
type WireMessage = AnthropicMessagesRequestBody['messages'][number];
/** User blocks that become content parts (everything but tool results and refused server blocks). */
type OwnBlock = AnthropicTextBlock | AnthropicImageBlock | AnthropicDocumentBlock | AnthropicSearchResultBlock;

const IMAGE_IN_TOOL_RESULT_NOTE = '[image: attached in the next user message]';

class Converter {
  readonly messages: ChatMessage[] = [];
  readonly blocks: AnthropicBlockExtras[] = [];
  readonly warnings: Warning[] = [];

  private mark(message: number, part: number | undefined, extras: AnthropicBlockExtras['extras']): void {
    if (!extras.cache_control && !extras.is_error) return;
    this.blocks.push(part === undefined ? { message, extras } : { message, part, extras });
  }

  private warn(message: string): void {
    this.warnings.push({ type: 'other', message });
  }

  system(system: AnthropicMessagesRequestBody['system']): void {
    if (system == null) return;
    if (typeof system === 'string') {
      if (system) this.messages.push({ role: 'system', content: system });
      return;
    }
    this.systemBlocks(system);
  }

  private systemBlocks(blocks: AnthropicTextBlock[]): void {
    for (const block of blocks) {
      this.mark(this.messages.length, undefined, cacheExtras(block));
      this.messages.push({ role: 'system', content: block.text });
    }
  }

  message(message: WireMessage): void {
    if (message.role === 'system') {
      if (typeof message.content === 'string') this.messages.push({ role: 'system', content: message.content });
      else this.systemBlocks(message.content);
    } else if (message.role === 'user') {
      if (typeof message.content === 'string') this.messages.push({ role: 'user', content: message.content });
      else this.userBlocks(message.content);
    } else if (typeof message.content === 'string') {
      this.messages.push({ role: 'assistant', content: message.content });
    } else this.assistantBlocks(message.content);
  }

  /** tool_result blocks first (as `tool` messages), then one user message with everything else. */
  private userBlocks(blocks: AnthropicUserBlock[]): void {
    const movedImages: ContentPart[] = [];
    const own: { part: ContentPart; extras: AnthropicBlockExtras['extras'] }[] = [];
    for (const block of blocks) {
      if (block.type === 'tool_result') {
        const { content, images } = this.toolResult(block);
        if (images.length > 0) {
          movedImages.push({ type: 'text', text: `Image(s) returned by tool call ${block.tool_use_id}:` }, ...images);
          this.warn(`tool_result ${block.tool_use_id}: image(s) moved to a user message (tool messages are text only)`);
        }
        const extras = cacheExtras(block);
        if (block.is_error) extras.is_error = true;
        this.mark(this.messages.length, undefined, extras);
        this.messages.push({ role: 'tool', toolCallId: block.tool_use_id, content });
      } else {
        // Server-tool blocks never get here: the schema refuses them.
        const part = block as OwnBlock;
        own.push({ part: this.contentPart(part), extras: cacheExtras(part) });
      }
    }
    if (movedImages.length === 0 && own.length === 0) return;
    const index = this.messages.length;
    own.forEach(({ extras }, i) => this.mark(index, movedImages.length + i, extras));
    const message: UserMessage = { role: 'user', content: [...movedImages, ...own.map(({ part }) => part)] };
    this.messages.push(message);
  }

  private toolResult(block: AnthropicToolResultBlock): { content: string; images: ContentPart[] } {
    if (block.content == null) return { content: '', images: [] };
    if (typeof block.content === 'string') return { content: block.content, images: [] };
    const texts: string[] = [];
    const images: ContentPart[] = [];
    for (const item of block.content) {
      if (item.type === 'tool_reference') texts.push(`[tool reference: ${item.tool_name}]`);
      else if (item.type === 'image') {
        const part = this.contentPart(item);
        if (part.type === 'image') {
          images.push(part);
          texts.push(IMAGE_IN_TOOL_RESULT_NOTE);
        } else texts.push(part.text);
      } else {
        const part = this.contentPart(item);
        if (part.type === 'text') texts.push(part.text);
      }
    }
    return { content: texts.join('\n'), images };
  }

  private contentPart(block: OwnBlock): ContentPart {
    switch (block.type) {
      case 'text':
        return { type: 'text', text: block.text };
      case 'image':
        return this.image(block);
      case 'document':
        return { type: 'text', text: this.document(block) };
      case 'search_result': {
        const body = block.content.map((item) => item.text).join('\n');
        return { type: 'text', text: `Search result: ${block.title} (${block.source})\n${body}` };
      }
    }
  }

  private image(block: AnthropicImageBlock): ContentPart {
    const source = block.source;
    if (source.type === 'base64') {
      return { type: 'image', url: `data:${source.media_type};base64,${source.data}`, mediaType: source.media_type };
    }
    if (source.type === 'url') return { type: 'image', url: source.url };
    this.warn('image with a Files API source replaced by a placeholder (file ids cannot be forwarded)');
    return { type: 'text', text: '[image omitted: Files API references cannot be forwarded by this gateway]' };
  }

  private document(block: AnthropicDocumentBlock): string {
    const source = block.source;
    const heading = [block.title ? `Document: ${block.title}` : '', block.context ?? ''].filter(Boolean).join('\n');
    let body: string | undefined;
    if (source.type === 'text') body = source.data;
    else if (source.type === 'content') {
      body =
        typeof source.content === 'string'
          ? source.content
          : source.content
              .flatMap((item) => (isTextItem(item) ? [item.text] : []))
              .join('\n');
    }
    if (body === undefined) {
      this.warn(`document (${source.type} source) replaced by a placeholder: only text documents can be forwarded`);
      const kind = source.type === 'base64' ? 'PDF documents' : 'documents';
      body = `[document omitted: ${kind} cannot be forwarded by this gateway]`;
    }
    return heading ? `${heading}\n\n${body}` : body;
  }

  private assistantBlocks(blocks: AnthropicAssistantBlock[]): void {
    const index = this.messages.length;
    const texts: string[] = [];
    const reasoning: string[] = [];
    const toolCalls: ToolCall[] = [];
    const thinkingBlocks: AnthropicThinkingBlock[] = [];
    let metadata: ProviderMetadata | undefined;
    let callMetadata: Record<string, ProviderMetadata> = {};
    for (const block of blocks) {
      switch (block.type) {
        case 'text':
          texts.push(block.text);
          this.mark(index, undefined, cacheExtras(block));
          break;
        case 'tool_use':
          this.mark(index, toolCalls.length, cacheExtras(block));
          toolCalls.push({ id: block.id, name: block.name, arguments: JSON.stringify(block.input) });
          break;
        case 'thinking': {
          if (block.thinking) reasoning.push(block.thinking);
          const signature = block.signature ?? '';
          if (!signature) break;
          if (!isReplayStateSignature(signature)) {
            thinkingBlocks.push({ type: 'thinking', thinking: block.thinking, signature });
            break;
          }
          const state = decodeReplayState(signature);
          if (!state) this.warn('assistant thinking block: damaged llm-proxy replay state ignored');
          metadata = mergeProviderMetadata(metadata, state?.message);
          callMetadata = { ...callMetadata, ...state?.calls };
          break;
        }
        case 'redacted_thinking':
          thinkingBlocks.push({ type: 'redacted_thinking', data: block.data });
          break;
      }
    }
    const message: AssistantMessage = {
      role: 'assistant',
      content: texts.length > 0 ? texts.join('') : toolCalls.length > 0 ? null : '',
    };
    if (toolCalls.length > 0) {
      message.toolCalls = toolCalls.map((call) =>
        callMetadata[call.id] ? { ...call, providerMetadata: callMetadata[call.id] } : call,
      );
    }
    if (reasoning.length > 0) message.reasoning = reasoning.join('\n');
    if (thinkingBlocks.length > 0) metadata = mergeProviderMetadata(metadata, { anthropic: { thinking: thinkingBlocks } });
    if (metadata) message.providerMetadata = metadata;
    this.messages.push(message);
  }
}

const isTextItem = (item: unknown): item is { type: 'text'; text: string } =>
  !!item &&
  typeof item === 'object' &&
  (item as { type?: unknown }).type === 'text' &&
  typeof (item as { text?: unknown }).text === 'string';

function cacheExtras(block: { cache_control?: AnthropicTextBlock['cache_control'] }): AnthropicBlockExtras['extras'] {
  return block.cache_control ? { cache_control: block.cache_control } : {};
}

// ---------------------------------------------------------------------------------------------
// count_tokens

/** Flat per-image estimate: Anthropic bills about (width × height) / 750 tokens, at most ~1,600. */
const IMAGE_TOKENS = 1600;
/** Role markers and separators per message. */
const MESSAGE_OVERHEAD_TOKENS = 4;

/**
 * A local estimate of the input tokens of a request, for `count_tokens` when the target provider has
 * no counting endpoint and for the `message_start` placeholder: characters / 4 over system and message
 * text, reasoning, tool calls and tool results, plus tool definitions (name, description, JSON schema),
 * 1,600 tokens per image (its base64 data is not counted) and 4 tokens per message.
 */
export function estimateTokens(request: Pick<ChatRequest, 'messages' | 'tools'>): number {
  let chars = 0;
  let images = 0;
  for (const message of request.messages) {
    switch (message.role) {
      case 'system':
      case 'tool':
        chars += message.content.length;
        break;
      case 'user':
        if (typeof message.content === 'string') chars += message.content.length;
        else for (const part of message.content) part.type === 'text' ? (chars += part.text.length) : images++;
        break;
      case 'assistant':
        chars += (message.content ?? '').length + (message.reasoning ?? '').length;
        for (const call of message.toolCalls ?? []) chars += call.name.length + call.arguments.length;
        break;
    }
  }
  for (const tool of request.tools ?? []) {
    chars += tool.name.length + (tool.description ?? '').length + JSON.stringify(tool.parameters).length;
  }
  return Math.ceil(chars / 4) + images * IMAGE_TOKENS + request.messages.length * MESSAGE_OVERHEAD_TOKENS;
}

/** The `POST /v1/messages/count_tokens` answer (Claude Code reads only `input_tokens`). */
export function countTokensResponse(request: Pick<ChatRequest, 'messages' | 'tools'>): { input_tokens: number } {
  return { input_tokens: estimateTokens(request) };
}
