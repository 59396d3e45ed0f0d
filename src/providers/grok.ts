// xAI Grok (OpenAI-compatible). https://docs.x.ai/docs/api-reference
import { defineOpenAICompatible } from './openai-compatible.ts';
import { convertOpenAIUsage } from './openai-response.ts';
import { type OpenAIWireUsage, toCount } from './openai-wire.ts';

/**
 * xAI counts reasoning tokens ON TOP of completion_tokens (total = prompt + completion + reasoning;
 * docs.x.ai consumption-and-rate-limits, vercel/ai#12425). We normalise to OpenAI semantics, where
 * outputTokens includes reasoning. If a response's totals show OpenAI semantics already
 * (total = prompt + completion), nothing is added, so a silent upstream change cannot double-count.
 */
export function convertXaiUsage(usage: OpenAIWireUsage) {
  const converted = convertOpenAIUsage(usage);
  const { inputTokens, outputTokens, reasoningTokens } = converted;
  const total = toCount(usage.total_tokens);
  const inclusive = total !== undefined && inputTokens !== undefined && total === inputTokens + (outputTokens ?? 0);
  if (reasoningTokens && outputTokens !== undefined && !inclusive) converted.outputTokens = outputTokens + reasoningTokens;
  return converted;
}

// Errors are `{"code": "<gRPC status text>", "error": "<message>"}` and a wrong key is a 400 with
// "Incorrect API key": both handled by the shared error reader and classifier.
export const grok = defineOpenAICompatible({
  id: 'grok',
  defaultBaseUrl: 'https://api.x.ai/v1',
  maxTokensField: 'max_tokens',
  readUsage: convertXaiUsage,
});
