// The one convention between the Anthropic upstream adapter and the rest of the gateway (inbound
// dialects, the accumulator, clients that hand state back), for what ChatRequest / StreamEvent
// cannot say themselves. The adapter owns it: providerOptions.anthropic is its input, and
// providerMetadata.anthropic its output (core/types.ts: "each adapter reads only its own key").
//
// providerMetadata.anthropic (written by the adapter; clients hand it back on the next turn):
// * `thinking`: AnthropicThinkingBlock[], the turn's thinking / redacted_thinking blocks in order, in
//   wire format, signatures included. On an assistant message it is replayed, verbatim, before the
//   turn's text and tool_use blocks. On a result / `finish` it is the whole list. In a stream, the
//   list so far rides on an empty `reasoning-delta` at the close of each thinking block: merged per
//   provider the last list wins, and a stream encoder learns a block's signature (or a redacted
//   block) exactly when the list grows. OpenAI-chat clients see it as
//   `provider_metadata.anthropic.thinking`; the Anthropic dialect turns it back into real blocks.
// * `stopSequence`: string, the stop sequence that ended the turn (on `finish` / the result, only
//   when the stop reason is `stop_sequence`).
//
// providerOptions.anthropic (read by the adapter only):
// * native top-level Messages API parameters (`thinking`, `top_k`, `output_config`,
//   `context_management`, `service_tier`, `container`, top-level `cache_control`, …): put in the
//   body as they are, over the mapped ones, before the thinking rules and max_tokens are applied;
// * `inbound` (AnthropicInboundOptions): never sent. What an Anthropic-speaking client said that
//   ChatRequest cannot carry: block-level cache_control and is_error by position, extra tool keys
//   (cache_control, defer_loading, strict, …) and its anthropic-beta values.
import type { ProviderMetadata } from '../core/types.ts';

/** A thinking block in Anthropic's wire format, as stored in `providerMetadata.anthropic.thinking`. */
export type AnthropicThinkingBlock =
  | { type: 'thinking'; thinking: string; signature: string }
  | { type: 'redacted_thinking'; data: string };

/** `{type: "ephemeral", ttl?}`, verbatim from the client. */
export type AnthropicCacheControl = { type: string; ttl?: string | null; [key: string]: unknown };

/**
 * Raw keys to put back on the block the adapter builds for one ChatRequest message:
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

/** Key under `providerOptions.anthropic` holding AnthropicInboundOptions (not a wire key: stripped). */
export const ANTHROPIC_INBOUND_KEY = 'inbound';

/** Stored at `providerOptions.anthropic.inbound` by the Anthropic dialect. */
export type AnthropicInboundOptions = {
  /** cache_control breakpoints and tool_result `is_error` flags, by position. */
  blocks?: AnthropicBlockExtras[];
  /** Raw extra keys per custom tool name (cache_control, defer_loading, strict, eager_input_streaming, …). */
  tools?: Record<string, Record<string, unknown>>;
  /** The client's `anthropic-beta` values, sent upstream as the same header. */
  betas?: string[];
};

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The thinking blocks in `providerMetadata.anthropic.thinking` (malformed entries are skipped). */
export function readThinkingBlocks(metadata: ProviderMetadata | undefined): AnthropicThinkingBlock[] {
  const stored = metadata?.anthropic?.thinking;
  if (!Array.isArray(stored)) return [];
  const blocks: AnthropicThinkingBlock[] = [];
  for (const block of stored) {
    if (!isPlainObject(block)) continue;
    if (block.type === 'thinking' && typeof block.thinking === 'string' && typeof block.signature === 'string') {
      blocks.push({ type: 'thinking', thinking: block.thinking, signature: block.signature });
    } else if (block.type === 'redacted_thinking' && typeof block.data === 'string') {
      blocks.push({ type: 'redacted_thinking', data: block.data });
    }
  }
  return blocks;
}

/**
 * `providerOptions.anthropic` split into the native parameters (model, messages and stream are never
 * taken from it) and the inbound options, type-checked (anything malformed is ignored).
 */
export function splitAnthropicOptions(options: Record<string, unknown> | undefined): {
  native: Record<string, unknown>;
  inbound: AnthropicInboundOptions;
} {
  const { model: _m, messages: _ms, stream: _s, [ANTHROPIC_INBOUND_KEY]: raw, ...native } = options ?? {};
  const inbound: AnthropicInboundOptions = {};
  if (!isPlainObject(raw)) return { native, inbound };
  if (Array.isArray(raw.blocks)) {
    inbound.blocks = raw.blocks.filter(
      (entry): entry is AnthropicBlockExtras =>
        isPlainObject(entry) &&
        Number.isInteger(entry.message) &&
        (entry.part === undefined || Number.isInteger(entry.part)) &&
        isPlainObject(entry.extras),
    );
  }
  if (isPlainObject(raw.tools)) {
    inbound.tools = Object.fromEntries(Object.entries(raw.tools).filter(([, extras]) => isPlainObject(extras))) as Record<
      string,
      Record<string, unknown>
    >;
  }
  if (Array.isArray(raw.betas)) inbound.betas = raw.betas.filter((beta): beta is string => typeof beta === 'string' && beta !== '');
  return { native, inbound };
}

// ---------------------------------------------------------------------------------------------
// Putting the inbound block extras back (anthropic-request.ts)

export type Extras = AnthropicBlockExtras['extras'];
/** One message's extras: `whole` for its single block (or an assistant's text block), `parts` by part index. */
export type MessageExtras = { whole?: Extras; parts: Map<number, Extras> } | undefined;
/** Inbound block extras by ChatRequest message index. */
export type ExtrasIndex = Map<number, NonNullable<MessageExtras>>;

/** Indexes `inbound.blocks` by message (several entries for one block merge). */
export function indexBlockExtras(blocks: AnthropicBlockExtras[] | undefined): ExtrasIndex {
  const index: ExtrasIndex = new Map();
  for (const { message, part, extras } of blocks ?? []) {
    let entry = index.get(message);
    if (!entry) index.set(message, (entry = { parts: new Map() }));
    if (part === undefined) entry.whole = { ...entry.whole, ...extras };
    else entry.parts.set(part, { ...entry.parts.get(part), ...extras });
  }
  return index;
}

/** Puts a client's cache_control (and is_error, on a tool_result) back on a wire block. */
export function withExtras(block: Record<string, unknown>, extras: Extras | undefined): Record<string, unknown> {
  if (extras?.is_error && block.type === 'tool_result') block.is_error = true;
  if (extras?.cache_control) block.cache_control = extras.cache_control;
  return block;
}
