import { randomBase64Url } from "../recorder/random.ts";
import {
  createChunkEncoder,
  formatSSE,
  parseChatCompletionRequest,
  providerErrorToOpenAI,
  SSE_DONE,
  toChatCompletion,
  type ParsedChatRequest,
} from "../api/openai-chat.ts";
import { ClientError } from "../errors.ts";
import type { Dialect } from "./pipeline.ts";

/** POST /v1/chat/completions: OpenAI's Chat Completions dialect on the shared request path. */
export const chatCompletionsDialect: Dialect<ParsedChatRequest> = {
  endpoint: "chat.completions",
  newId: () => `chatcmpl-${randomBase64Url(12)}`,
  parse(body) {
    const parsed = parseChatCompletionRequest(body);
    return parsed.ok
      ? parsed
      : { ok: false, error: new ClientError(400, parsed.error.message, "invalid_request_error", parsed.error.param, parsed.error.code) };
  },
  upstreamError: providerErrorToOpenAI,
  complete: (result, ctx) => toChatCompletion(result, { id: ctx.id, created: ctx.created, model: ctx.model }),
  stream(ctx) {
    const encoder = createChunkEncoder({ id: ctx.id, created: ctx.created, model: ctx.model, includeUsage: ctx.parsed.includeUsage, provider: ctx.provider });
    return {
      encode: (event) => encoder.encode(event).map(formatSSE),
      // After an in-stream error the stream just ends, as OpenAI's does (no [DONE]).
      end: () => (encoder.failed ? [] : [SSE_DONE]),
      get failed() {
        return encoder.failed;
      },
    };
  },
  keepalive: ": keep-alive\n\n",
};
