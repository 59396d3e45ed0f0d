// Adapters by type id (the `type` of a configured provider instance).
import type { ProviderId } from '../core/types.ts';
import { anthropic } from './anthropic.ts';
import { deepseek } from './deepseek.ts';
import { gemini } from './gemini.ts';
import { grok } from './grok.ts';
import { openai } from './openai.ts';
import { openaiCompatible } from './openai-compat-generic.ts';
import type { ProviderAdapter } from './types.ts';

// OpenAI-compatible providers share one codec; Gemini and Anthropic have their own.
export const adapters = {
  openai,
  deepseek,
  grok,
  gemini,
  anthropic,
  'openai-compatible': openaiCompatible,
} satisfies Partial<Record<ProviderId, ProviderAdapter>>;

export type RegisteredProviderType = keyof typeof adapters;

/** The adapter for a provider type id, or undefined when the type is unknown. */
export function getAdapter(type: string): ProviderAdapter | undefined {
  return Object.hasOwn(adapters, type) ? (adapters[type as RegisteredProviderType] as ProviderAdapter) : undefined;
}
