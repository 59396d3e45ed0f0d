// OpenAI Chat Completions. https://platform.openai.com/docs/api-reference/chat
import { defineOpenAICompatible } from './openai-compatible.ts';

/** OpenAI: the reference dialect; everything else in this folder is measured against it. */
export const openai = defineOpenAICompatible({
  id: 'openai',
  defaultBaseUrl: 'https://api.openai.com/v1',
  // o-series and gpt-5 reject `max_tokens`; `max_completion_tokens` works on every current model.
  maxTokensField: 'max_completion_tokens',
  // Only OpenAI knows the `developer` role; keep it so the upstream sees what the client sent.
  developerRole: true,
  // Its replies are the Chat Completions format itself: passed to chat clients as they come.
  nativeReplies: true,
});
