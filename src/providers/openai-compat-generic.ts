// type = "openai-compatible": any Chat Completions server (vLLM, Ollama, LM Studio, Groq, OpenRouter…).
import { defineOpenAICompatible } from './openai-compatible.ts';

/**
 * No default base URL: the instance must configure `base_url` (validated before any call).
 * Conservative defaults: `max_tokens` (the widest-supported name), `developer` sent as `system`,
 * reasoning read from `reasoning_content` or `reasoning`, never sent back.
 */
export const openaiCompatible = defineOpenAICompatible({
  id: 'openai-compatible',
  maxTokensField: 'max_tokens',
  validate: (_request, settings) =>
    settings.baseUrl
      ? undefined
      : { message: 'provider type "openai-compatible" requires base_url', errorClass: 'bad_request', retryable: false },
});
