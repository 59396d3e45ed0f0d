// Replay state for the Anthropic dialect: what an assistant turn must carry to the next request.
//
// Anthropic clients (the SDK, Claude Code) keep assistant content blocks and send them back verbatim,
// but drop unknown fields. The one opaque string they faithfully replay is a thinking block's
// `signature`. So:
// * Anthropic upstream: thinking / redacted_thinking blocks are real; they travel in
//   `providerMetadata.anthropic` (`thinkingBlocks`, in order, wire format; `signature` for the single
//   block case) and are handed back verbatim.
// * Other upstreams: their opaque state (Gemini `thoughtSignature` on the message and on each function
//   call, …) is packed into the signature of a thinking block as `llm-proxy.v1.<base64url JSON>`,
//   which is not valid base64 and so never mistaken for (or sent to Anthropic as) a real signature.
import type { ProviderMetadata } from '../core/types.ts';
import type { AnthropicCacheControl } from './anthropic-messages-schema.ts';

/** A thinking block in Anthropic's wire format, as stored in `providerMetadata.anthropic.thinkingBlocks`. */
export type AnthropicThinkingBlock =
  | { type: 'thinking'; thinking: string; signature: string }
  | { type: 'redacted_thinking'; data: string };

/**
 * Keys this dialect reads from and writes to `providerMetadata.anthropic`:
 * - `thinkingBlocks`: AnthropicThinkingBlock[], the turn's thinking blocks in order (message level);
 * - `signature`: string, a thinking block's signature (on the message, or on a `reasoning-delta`
 *   event, where it also closes the current thinking block);
 * - `redactedData`: string, a redacted_thinking block's `data` (on a `reasoning-delta` event);
 * - `stopSequence`: string, the stop sequence that ended the turn (on `finish` / the result).
 */
export type AnthropicMetadata = {
  thinkingBlocks?: AnthropicThinkingBlock[];
  signature?: string;
  redactedData?: string;
  stopSequence?: string;
};

/** Reads the Anthropic keys from provider metadata, type-checked (anything malformed is ignored). */
export function readAnthropicMetadata(metadata: ProviderMetadata | undefined): AnthropicMetadata {
  const raw = metadata?.anthropic;
  if (!raw) return {};
  const out: AnthropicMetadata = {};
  if (typeof raw.signature === 'string' && raw.signature) out.signature = raw.signature;
  if (typeof raw.redactedData === 'string' && raw.redactedData) out.redactedData = raw.redactedData;
  if (typeof raw.stopSequence === 'string') out.stopSequence = raw.stopSequence;
  if (Array.isArray(raw.thinkingBlocks)) {
    const blocks = raw.thinkingBlocks.filter(isThinkingBlock);
    if (blocks.length > 0) out.thinkingBlocks = blocks;
  }
  return out;
}

function isThinkingBlock(value: unknown): value is AnthropicThinkingBlock {
  if (!value || typeof value !== 'object') return false;
  const block = value as Record<string, unknown>;
  if (block.type === 'thinking') return typeof block.thinking === 'string' && typeof block.signature === 'string';
  return block.type === 'redacted_thinking' && typeof block.data === 'string';
}

// ---------------------------------------------------------------------------------------------
// Other providers' state inside a thinking signature

/** Prefix of gateway-made signatures ('.' and '-' are outside the base64 alphabet of real ones). */
export const REPLAY_STATE_PREFIX = 'llm-proxy.v1.';

/** Non-Anthropic state of one assistant turn: message-level metadata and per-tool-call metadata by call id. */
export type ReplayState = { message?: ProviderMetadata; calls?: Record<string, ProviderMetadata> };

/** Provider metadata without the `anthropic` key (that one travels as real thinking blocks). */
export function withoutAnthropic(metadata: ProviderMetadata | undefined): ProviderMetadata | undefined {
  if (!metadata) return undefined;
  const { anthropic: _anthropic, ...rest } = metadata;
  return Object.keys(rest).length > 0 ? rest : undefined;
}

/** The signature carrying `state`, or undefined when there is nothing to carry. */
export function encodeReplayState(state: ReplayState): string | undefined {
  const wire: { m?: ProviderMetadata; c?: Record<string, ProviderMetadata> } = {};
  const message = withoutAnthropic(state.message);
  if (message) wire.m = message;
  const calls: Record<string, ProviderMetadata> = {};
  for (const [id, metadata] of Object.entries(state.calls ?? {})) {
    const kept = withoutAnthropic(metadata);
    if (kept) calls[id] = kept;
  }
  if (Object.keys(calls).length > 0) wire.c = calls;
  if (!wire.m && !wire.c) return undefined;
  return REPLAY_STATE_PREFIX + Buffer.from(JSON.stringify(wire)).toString('base64url');
}

export const isReplayStateSignature = (signature: string) => signature.startsWith(REPLAY_STATE_PREFIX);

const isRecord = (value: unknown): value is Record<string, unknown> =>
  !!value && typeof value === 'object' && !Array.isArray(value);

const isMetadata = (value: unknown): value is ProviderMetadata =>
  isRecord(value) && Object.values(value).every(isRecord);

/** Decodes a gateway-made signature; undefined when it is damaged (the caller warns and goes on). */
export function decodeReplayState(signature: string): ReplayState | undefined {
  try {
    const wire: unknown = JSON.parse(Buffer.from(signature.slice(REPLAY_STATE_PREFIX.length), 'base64url').toString());
    if (!isRecord(wire)) return undefined;
    const state: ReplayState = {};
    if (wire.m !== undefined) {
      if (!isMetadata(wire.m)) return undefined;
      state.message = withoutAnthropic(wire.m);
    }
    if (wire.c !== undefined) {
      if (!isRecord(wire.c) || !Object.values(wire.c).every(isMetadata)) return undefined;
      state.calls = wire.c as Record<string, ProviderMetadata>;
    }
    return state;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// What an Anthropic upstream needs that ChatRequest cannot say

/** Key under `providerOptions.anthropic` holding AnthropicInboundOptions (not a wire key: strip it). */
export const ANTHROPIC_INBOUND_KEY = 'inbound';

/**
 * Raw keys to put back on the block an Anthropic upstream builds for one ChatRequest message:
 * - `message`: index into `ChatRequest.messages`;
 * - `part`: for a user message with array content, the index into `content`; for an assistant message,
 *   the index into `toolCalls` (its tool_use block); absent for the message's single block (system
 *   text block, tool_result, user string content) or the assistant's text block.
 */
export type AnthropicBlockExtras = {
  message: number;
  part?: number;
  extras: { cache_control?: AnthropicCacheControl; is_error?: true };
};

/** Stored at `providerOptions.anthropic.inbound` by parseAnthropicMessagesRequest. */
export type AnthropicInboundOptions = {
  /** cache_control breakpoints and tool_result `is_error` flags, by position. */
  blocks?: AnthropicBlockExtras[];
  /** Raw extra keys per custom tool name (cache_control, defer_loading, eager_input_streaming, …). */
  tools?: Record<string, Record<string, unknown>>;
};
