// DeepSeek (OpenAI-compatible). https://api-docs.deepseek.com
import type { ChatRequest, ProviderErrorInfo } from '../core/types.ts';
import { defineOpenAICompatible } from './openai-compatible.ts';
import { convertOpenAIUsage } from './openai-response.ts';
import { type OpenAIWireUsage, toCount } from './openai-wire.ts';

/** DeepSeek usage: cache hits come as `prompt_cache_hit_tokens` (⊂ prompt_tokens). */
export function convertDeepSeekUsage(usage: OpenAIWireUsage) {
  const converted = convertOpenAIUsage(usage);
  const hit = toCount(usage.prompt_cache_hit_tokens);
  if (hit !== undefined) converted.cachedInputTokens = hit;
  return converted;
}

/**
 * DeepSeek chat models are text-only: an `image_url` part is a 400 serde error upstream. We refuse
 * it before the call (class unsupported_input) instead of dropping the image with a warning: an
 * answer about an image the model never saw would be silently wrong, and the gateway can fail over
 * to a vision-capable target. See fixtures/deepseek/image-input.json.
 */
function rejectImages(request: ChatRequest): ProviderErrorInfo | undefined {
  for (const [i, message] of request.messages.entries()) {
    if (message.role !== 'user' || typeof message.content === 'string') continue;
    const j = message.content.findIndex((part) => part.type === 'image');
    if (j === -1) continue;
    const message_ = 'DeepSeek models accept text only; image input is not supported';
    return { message: message_, errorClass: 'unsupported_input', retryable: false, param: `messages[${i}].content[${j}]` };
  }
  return undefined;
}

export const deepseek = defineOpenAICompatible({
  id: 'deepseek',
  defaultBaseUrl: 'https://api.deepseek.com',
  maxTokensField: 'max_tokens',
  // Generation cut for lack of server capacity: the closest OpenAI reason is `length` (PROTOCOLS §7).
  finishReasons: { insufficient_system_resource: 'length' },
  readUsage: convertDeepSeekUsage,
  validate: rejectImages,
  // reasoning_content round trip. In thinking mode (deepseek-reasoner, V3.2+/V4) an assistant turn
  // that called tools must carry its `reasoning_content` in every later request, or the API answers
  // 400 "The reasoning_content in the thinking mode must be passed back" / "Missing reasoning_content
  // field" (api-docs.deepseek.com/guides/thinking_mode#tool-calls) — the key must be present even when
  // the model produced no reasoning, hence ''. Turns WITHOUT tool calls keep omitting it, as the
  // fixtures and PROTOCOLS.md §3 say: DeepSeek ignores it there, and older deepseek-reasoner
  // deployments rejected it with a 400.
  mapAssistantMessage: (message, wire) =>
    wire.tool_calls ? { ...wire, reasoning_content: message.reasoning ?? '' } : wire,
});
