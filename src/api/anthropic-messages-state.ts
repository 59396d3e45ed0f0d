// Replay state for the Anthropic dialect: what an assistant turn must carry to the next request.
//
// Anthropic clients (the SDK, Claude Code) keep assistant content blocks and send them back verbatim,
// but drop unknown fields. The one opaque string they faithfully replay is a thinking block's
// `signature`. So:
// * Anthropic upstream: thinking / redacted_thinking blocks are real; they travel in
//   `providerMetadata.anthropic.thinking` (in order, wire format), the Anthropic adapter's convention
//   (providers/anthropic-metadata.ts), and are handed back verbatim.
// * Other upstreams: their opaque state (Gemini `thoughtSignature` on the message and on each function
//   call, …) is packed into the signature of a thinking block as `llm-proxy.v1.<base64url JSON>`,
//   which is not valid base64 and so never mistaken for (or sent to Anthropic as) a real signature.
import type { ProviderMetadata } from '../core/types.ts';
import { type AnthropicThinkingBlock, readThinkingBlocks } from '../providers/anthropic-metadata.ts';

// The contract with the Anthropic upstream adapter (what this dialect writes into providerOptions and
// reads from providerMetadata) is the adapter's: re-exported here for the dialect's users.
export {
  ANTHROPIC_INBOUND_KEY,
  type AnthropicBlockExtras,
  type AnthropicInboundOptions,
  type AnthropicThinkingBlock,
} from '../providers/anthropic-metadata.ts';

/**
 * Keys this dialect reads from `providerMetadata.anthropic` (and writes on parsed assistant messages):
 * - `thinking`: AnthropicThinkingBlock[], the turn's thinking blocks in order (message level; on a
 *   `reasoning-delta` event, the list so far: each new entry closes a block, with its signature);
 * - `stopSequence`: string, the stop sequence that ended the turn (on `finish` / the result).
 */
export type AnthropicMetadata = {
  thinking?: AnthropicThinkingBlock[];
  stopSequence?: string;
};

/** Reads the Anthropic keys from provider metadata, type-checked (anything malformed is ignored). */
export function readAnthropicMetadata(metadata: ProviderMetadata | undefined): AnthropicMetadata {
  const raw = metadata?.anthropic;
  if (!raw) return {};
  const out: AnthropicMetadata = {};
  if (typeof raw.stopSequence === 'string') out.stopSequence = raw.stopSequence;
  const blocks = readThinkingBlocks(metadata);
  if (blocks.length > 0) out.thinking = blocks;
  return out;
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
