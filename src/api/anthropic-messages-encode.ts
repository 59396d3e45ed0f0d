// ChatResult / StreamEvent → Anthropic `Message` and its named SSE events (PROTOCOLS.md §6.2, §6.3, §6.6).
// Block order and indices: thinking / redacted_thinking, text and tool_use blocks are numbered 0, 1, 2…
// in the order they open, and each is closed before the next opens. Usage goes out in Anthropic
// semantics: `input_tokens` excludes cache reads and writes (ours include them).
import { mergeProviderMetadata } from '../core/accumulate.ts';
import type {
  ChatResult,
  FinishReason,
  ProviderErrorInfo,
  ProviderMetadata,
  StreamEvent,
  Usage,
} from '../core/types.ts';
import { providerErrorToAnthropic } from './anthropic-messages-errors.ts';
import {
  type AnthropicThinkingBlock,
  encodeReplayState,
  readAnthropicMetadata,
  withoutAnthropic,
} from './anthropic-messages-state.ts';

/** One SSE message: the `event:` name and the `data:` JSON. */
export type AnthropicSSEEvent = { event: string; data: Record<string, unknown> };

export type AnthropicStopReason =
  | 'end_turn'
  | 'max_tokens'
  | 'stop_sequence'
  | 'tool_use'
  | 'pause_turn'
  | 'refusal'
  | 'model_context_window_exceeded';

const STOP_REASONS: ReadonlySet<string> = new Set<AnthropicStopReason>([
  'end_turn',
  'max_tokens',
  'stop_sequence',
  'tool_use',
  'pause_turn',
  'refusal',
  'model_context_window_exceeded',
]);

/**
 * Unified → Anthropic stop reason. An Anthropic upstream's raw value passes through (`stop_sequence`,
 * `pause_turn`, `model_context_window_exceeded` have no unified equivalent). A turn that called tools is
 * `tool_use` even when the upstream said `stop` (agent loops key on it). `error` becomes `end_turn`:
 * a stream has carried an `error` event by then. Other upstreams cannot tell a stop sequence from a
 * natural end, so `stop` is always `end_turn` for them.
 */
export function toAnthropicStopReason(reason: FinishReason, hasToolCalls: boolean): AnthropicStopReason {
  const raw = reason.raw;
  if (raw && STOP_REASONS.has(raw) && reason.unified !== 'error') return raw as AnthropicStopReason;
  switch (reason.unified) {
    case 'length':
      return 'max_tokens';
    case 'tool-calls':
      return 'tool_use';
    case 'content-filter':
      return 'refusal';
    case 'stop':
    case 'other':
      return hasToolCalls ? 'tool_use' : 'end_turn';
    default:
      return 'end_turn';
  }
}

/** Usage in Anthropic semantics; an unknown input count falls back to the estimate (else 0). */
export function toAnthropicUsage(usage: Usage, inputTokensEstimate?: number): Record<string, unknown> {
  const cacheRead = usage.cachedInputTokens ?? 0;
  const cacheWrite = usage.cacheWriteInputTokens ?? 0;
  const input =
    usage.inputTokens !== undefined
      ? Math.max(0, usage.inputTokens - cacheRead - cacheWrite)
      : (inputTokensEstimate ?? 0);
  const wire: Record<string, unknown> = {
    input_tokens: input,
    cache_creation_input_tokens: cacheWrite,
    cache_read_input_tokens: cacheRead,
    output_tokens: usage.outputTokens ?? 0,
  };
  if (usage.reasoningTokens !== undefined) wire.output_tokens_details = { thinking_tokens: usage.reasoningTokens };
  return wire;
}

/** Tool `input` must be an object: arguments that are not a JSON object (the model's glitch) become `{}`. */
export function parseToolInput(args: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(args);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Upstreams that give no call id (Gemini) get a stable synthetic one. */
const toolUseId = (messageId: string, index: number, id: string | undefined) =>
  id || `toolu_${messageId.replace(/^msg_/, '')}_${index}`;

export type AnthropicMessageContext = {
  /** The gateway's message id (`msg_…`). */
  id: string;
  /** The model name to show. */
  model: string;
  /** Used as `input_tokens` when the upstream reported no usage. */
  inputTokensEstimate?: number;
};

/** A whole result as an Anthropic `Message`: [thinking…, text, replay-state thinking, tool_use…]. */
export function toAnthropicMessage(result: ChatResult, ctx: AnthropicMessageContext): Record<string, unknown> {
  const ids = result.toolCalls.map((call, index) => toolUseId(ctx.id, index, call.id));
  const calls: Record<string, ProviderMetadata> = {};
  result.toolCalls.forEach((call, index) => {
    if (call.providerMetadata) calls[ids[index]!] = call.providerMetadata;
  });
  const envelope = encodeReplayState({ message: result.providerMetadata, calls });
  const anthropic = readAnthropicMetadata(result.providerMetadata);
  const content: Record<string, unknown>[] = [];
  if (anthropic.thinking) content.push(...anthropic.thinking);
  else if (result.reasoning) {
    // The SDK types require a string: '' when nothing signed the reasoning (DeepSeek, Gemini thoughts).
    content.push({ type: 'thinking', thinking: result.reasoning, signature: '' });
  }
  if (result.text) content.push({ type: 'text', text: result.text });
  // Other providers' state: after the text (content[0] stays the text for plain replies), before the calls.
  if (envelope) content.push({ type: 'thinking', thinking: '', signature: envelope });
  result.toolCalls.forEach((call, index) => {
    content.push({ type: 'tool_use', id: ids[index], name: call.name, input: parseToolInput(call.arguments) });
  });
  const stopReason = toAnthropicStopReason(result.finishReason, result.toolCalls.length > 0);
  return {
    id: ctx.id,
    type: 'message',
    role: 'assistant',
    model: ctx.model,
    content,
    stop_reason: stopReason,
    stop_sequence: stopReason === 'stop_sequence' ? (anthropic.stopSequence ?? null) : null,
    usage: toAnthropicUsage(result.usage, ctx.inputTokensEstimate),
  };
}

// ---------------------------------------------------------------------------------------------
// Streaming

export type AnthropicStreamContext = AnthropicMessageContext & {
  /** Provider instance id, named in upstream error messages (default 'upstream'). */
  provider?: string;
};

export type AnthropicStreamEncoder = {
  /** One event in, zero or more SSE events out (each becomes one message via formatAnthropicSSE). */
  encode(event: StreamEvent): AnthropicSSEEvent[];
  /**
   * The upstream events ended. Returns [] when the message is complete (or already failed); otherwise
   * an `error` event, so the client never mistakes a cut stream for a finished one.
   */
  finish(): AnthropicSSEEvent[];
  /** True once an `error` event was emitted: the route ends the stream there. */
  readonly failed: boolean;
  /** True once `message_stop` was emitted. */
  readonly done: boolean;
};

/** Output-token estimate when the upstream reports none. */
const CHARS_PER_TOKEN = 4;

/**
 * StreamEvents → Anthropic's event sequence: `message_start`, per block `content_block_start` /
 * `content_block_delta`… / `content_block_stop`, `message_delta` (stop reason, cumulative usage),
 * `message_stop`. Thinking blocks end with a `signature_delta` when a signature is known: Anthropic's
 * (each new entry of the `providerMetadata.anthropic.thinking` list on a reasoning-delta closes the
 * open thinking block with its signature, or is a redacted_thinking block), or the replay state
 * of other providers (before a tool_use block whose call carries metadata, and once more before
 * `message_delta` for message-level metadata). Tool-call fragments stream as `input_json_delta`;
 * calls are expected one after another (a fragment for a call whose block was closed is dropped).
 * @example
 * const encoder = createAnthropicStreamEncoder({ id, model, inputTokensEstimate });
 * for await (const event of events) for (const sse of encoder.encode(event)) write(formatAnthropicSSE(sse));
 * for (const sse of encoder.finish()) write(formatAnthropicSSE(sse));
 */
export function createAnthropicStreamEncoder(ctx: AnthropicStreamContext): AnthropicStreamEncoder {
  let started = false;
  let done = false;
  let failed = false;
  let nextIndex = 0;
  let open: { index: number; kind: 'text' | 'thinking' | 'tool_use' } | undefined;
  /** Entries of the Anthropic upstream's thinking list already turned into blocks. */
  let anthropicBlocks = 0;
  const calls = new Map<number, { index: number; id: string }>();
  let messageMetadata: ProviderMetadata | undefined;
  const callMetadata: Record<string, ProviderMetadata> = {};
  const unsentCallMetadata = new Set<string>();
  let outputChars = 0;

  const provider = ctx.provider ?? 'upstream';
  const sse = (event: string, data: Record<string, unknown>): AnthropicSSEEvent => ({
    event,
    data: { type: event, ...data },
  });

  const start = (out: AnthropicSSEEvent[]) => {
    if (started) return;
    started = true;
    const message = {
      id: ctx.id,
      type: 'message',
      role: 'assistant',
      model: ctx.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: {
        input_tokens: ctx.inputTokensEstimate ?? 0,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        output_tokens: 1,
      },
    };
    out.push(sse('message_start', { message }));
  };
  const close = (out: AnthropicSSEEvent[]) => {
    if (!open) return;
    out.push(sse('content_block_stop', { index: open.index }));
    open = undefined;
  };
  const openBlock = (out: AnthropicSSEEvent[], block: Record<string, unknown> & { type: string }): number => {
    close(out);
    const index = nextIndex++;
    out.push(sse('content_block_start', { index, content_block: block }));
    const kind = block.type;
    if (kind === 'text' || kind === 'thinking' || kind === 'tool_use') open = { index, kind };
    else out.push(sse('content_block_stop', { index })); // redacted_thinking: complete at start
    return index;
  };
  const delta = (out: AnthropicSSEEvent[], index: number, body: Record<string, unknown>) =>
    out.push(sse('content_block_delta', { index, delta: body }));
  /**
   * An Anthropic upstream's thinking block is complete: sign the open thinking block (its text was
   * streamed) and close it; with none open (thinking not displayed) the block is sent whole.
   */
  const completeThinking = (out: AnthropicSSEEvent[], block: AnthropicThinkingBlock) => {
    if (block.type === 'redacted_thinking') {
      openBlock(out, { type: 'redacted_thinking', data: block.data });
      return;
    }
    if (open?.kind !== 'thinking') {
      const index = openBlock(out, { type: 'thinking', thinking: '', signature: '' });
      if (block.thinking) delta(out, index, { type: 'thinking_delta', thinking: block.thinking });
    }
    if (block.signature) delta(out, open!.index, { type: 'signature_delta', signature: block.signature });
    close(out);
  };
  /** Signs the open thinking block (or a new empty one) and closes it. */
  const sign = (out: AnthropicSSEEvent[], signature: string) => {
    const index =
      open?.kind === 'thinking' ? open.index : openBlock(out, { type: 'thinking', thinking: '', signature: '' });
    delta(out, index, { type: 'signature_delta', signature });
    close(out);
  };
  const fail = (out: AnthropicSSEEvent[], body: Record<string, unknown>) => {
    failed = true;
    out.push({ event: 'error', data: body });
  };

  const encode = (event: StreamEvent): AnthropicSSEEvent[] => {
    if (done || failed) return [];
    const out: AnthropicSSEEvent[] = [];
    switch (event.type) {
      case 'response-start':
        start(out);
        break;
      case 'text-delta':
        if (event.delta === '') break;
        start(out);
        if (open?.kind !== 'text') openBlock(out, { type: 'text', text: '' });
        delta(out, open!.index, { type: 'text_delta', text: event.delta });
        outputChars += event.delta.length;
        break;
      case 'reasoning-delta': {
        start(out);
        const anthropic = readAnthropicMetadata(event.providerMetadata);
        messageMetadata = mergeProviderMetadata(messageMetadata, withoutAnthropic(event.providerMetadata));
        if (event.delta !== '') {
          if (open?.kind !== 'thinking') openBlock(out, { type: 'thinking', thinking: '', signature: '' });
          delta(out, open!.index, { type: 'thinking_delta', thinking: event.delta });
          outputChars += event.delta.length;
        }
        const blocks = anthropic.thinking ?? [];
        for (const block of blocks.slice(anthropicBlocks)) completeThinking(out, block);
        anthropicBlocks = Math.max(anthropicBlocks, blocks.length);
        break;
      }
      case 'tool-call-delta': {
        start(out);
        let call = calls.get(event.index);
        const metadata = withoutAnthropic(event.providerMetadata);
        if (!call) {
          const id = toolUseId(ctx.id, calls.size, event.id);
          if (metadata) {
            callMetadata[id] = metadata;
            sign(out, encodeReplayState({ calls: { [id]: metadata } })!);
          }
          const index = openBlock(out, { type: 'tool_use', id, name: event.name ?? '', input: {} });
          call = { index, id };
          calls.set(event.index, call);
        } else if (metadata) {
          callMetadata[call.id] = mergeProviderMetadata(callMetadata[call.id], metadata)!;
          unsentCallMetadata.add(call.id);
        }
        if (event.argumentsDelta !== '' && open?.index === call.index) {
          delta(out, call.index, { type: 'input_json_delta', partial_json: event.argumentsDelta });
          outputChars += event.argumentsDelta.length;
        }
        break;
      }
      case 'finish': {
        start(out);
        if (event.finishReason.unified === 'error') {
          const info: ProviderErrorInfo = { message: '', errorClass: 'upstream_5xx', retryable: true };
          fail(out, providerErrorToAnthropic(info, provider).body);
          break;
        }
        messageMetadata = mergeProviderMetadata(messageMetadata, withoutAnthropic(event.providerMetadata));
        const late = Object.fromEntries([...unsentCallMetadata].map((id) => [id, callMetadata[id]!]));
        const envelope = encodeReplayState({ message: messageMetadata, calls: late });
        if (envelope) sign(out, envelope);
        close(out);
        const stopReason = toAnthropicStopReason(event.finishReason, calls.size > 0);
        const stopSequence =
          stopReason === 'stop_sequence' ? (readAnthropicMetadata(event.providerMetadata).stopSequence ?? null) : null;
        const usage: Record<string, unknown> = {
          output_tokens: event.usage.outputTokens ?? Math.ceil(outputChars / CHARS_PER_TOKEN),
        };
        if (event.usage.inputTokens !== undefined) {
          const { input_tokens, cache_creation_input_tokens, cache_read_input_tokens } = toAnthropicUsage(event.usage);
          Object.assign(usage, { input_tokens, cache_creation_input_tokens, cache_read_input_tokens });
        }
        if (event.usage.reasoningTokens !== undefined) {
          usage.output_tokens_details = { thinking_tokens: event.usage.reasoningTokens };
        }
        out.push(
          sse('message_delta', {
            delta: { stop_reason: stopReason, stop_sequence: stopSequence },
            usage,
          }),
        );
        out.push(sse('message_stop', {}));
        done = true;
        break;
      }
      case 'error':
        fail(out, providerErrorToAnthropic(event.error, provider).body);
        break;
    }
    return out;
  };

  return {
    encode,
    finish() {
      if (done || failed) return [];
      const out: AnthropicSSEEvent[] = [];
      fail(out, {
        type: 'error',
        error: { type: 'api_error', message: 'The upstream response ended before it was complete.' },
      });
      return out;
    },
    get failed() {
      return failed;
    },
    get done() {
      return done;
    },
  };
}

/** The keep-alive event Anthropic itself sends; clients skip it. */
export function anthropicPing(): AnthropicSSEEvent {
  return { event: 'ping', data: { type: 'ping' } };
}

/** One SSE message: `event: <name>\ndata: <json>\n\n` (Claude Code needs the `event:` line). */
export function formatAnthropicSSE(message: AnthropicSSEEvent): string {
  return `event: ${message.event}\ndata: ${JSON.stringify(message.data)}\n\n`;
}

/** A ready-made ping, for keep-alive timers that write bytes. */
export const ANTHROPIC_SSE_PING = formatAnthropicSSE(anthropicPing());
