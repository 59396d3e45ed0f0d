// The gateway's own `encrypted_content` for Responses `reasoning` items.
//
// Responses clients (Codex with `store: false` + `include: ["reasoning.encrypted_content"]`, SDK
// users re-sending `response.output`) hand reasoning items back verbatim on the next turn. That is
// where the provider's opaque reasoning state rides, so the SAME provider gets it back without the
// gateway storing anything: Gemini `thoughtSignature`s (message-level and per function call),
// Anthropic thinking signatures, … i.e. the `ProviderMetadata` of the assistant turn.
//
// Format: `llmp1.` + base64url(JSON `{ v: 1, m?: ProviderMetadata, c?: { [call_id]: ProviderMetadata } }`).
// It is opaque to the client but not secret and not signed: it only carries what the upstream
// returned, and a client that edits it can only break its own next turn (the chat codec accepts
// `provider_metadata` from clients in the same way). OpenAI's own encrypted reasoning (Fernet,
// `gAAAA…`) does not start with the prefix and is kept separately (see the parser).
import { z } from 'zod';
import type { ProviderMetadata } from '../core/types.ts';

/** Prefix of the gateway's own reasoning state; the digit is the format version. */
export const STATE_PREFIX = 'llmp1.';

/** Opaque state of one assistant turn. */
export type ReasoningState = {
  /** Message-level metadata (Anthropic thinking signatures, Gemini text-part signatures). */
  message?: ProviderMetadata;
  /** Per-call metadata by call id (Gemini functionCall signatures). */
  calls?: Record<string, ProviderMetadata>;
};

const metadataSchema = z.record(z.string(), z.record(z.string(), z.unknown()));
const stateSchema = z.object({
  v: z.literal(1),
  m: metadataSchema.optional(),
  c: z.record(z.string(), metadataSchema).optional(),
});

const isEmpty = (value: object | undefined) => !value || Object.keys(value).length === 0;

/** True when the state carries nothing worth sending to the client. */
export function isEmptyState(state: ReasoningState): boolean {
  return isEmpty(state.message) && (isEmpty(state.calls) || Object.values(state.calls!).every((m) => isEmpty(m)));
}

/** State → `encrypted_content` string, or undefined when there is nothing to carry. */
export function encodeReasoningState(state: ReasoningState): string | undefined {
  if (isEmptyState(state)) return undefined;
  const wire: z.infer<typeof stateSchema> = { v: 1 };
  if (!isEmpty(state.message)) wire.m = state.message as Record<string, Record<string, unknown>>;
  const calls = Object.entries(state.calls ?? {}).filter(([, metadata]) => !isEmpty(metadata));
  if (calls.length > 0) wire.c = Object.fromEntries(calls) as Record<string, Record<string, Record<string, unknown>>>;
  return STATE_PREFIX + Buffer.from(JSON.stringify(wire)).toString('base64url');
}

/** True for content this gateway produced (whatever its validity). */
export const isGatewayState = (encrypted: string) => encrypted.startsWith(STATE_PREFIX);

/** `encrypted_content` → state; undefined when it is not valid gateway state. Never throws. */
export function decodeReasoningState(encrypted: string): ReasoningState | undefined {
  if (!isGatewayState(encrypted)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(encrypted.slice(STATE_PREFIX.length), 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const parsed = stateSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const state: ReasoningState = {};
  if (parsed.data.m) state.message = parsed.data.m as ProviderMetadata;
  if (parsed.data.c) state.calls = parsed.data.c as Record<string, ProviderMetadata>;
  return state;
}
