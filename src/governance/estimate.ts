import type { ChatRequest } from "../core/types.ts";

/** Tokens assumed per image part (above what OpenAI, Gemini and Anthropic bill for one image). */
export const IMAGE_TOKENS = 1_600;
/** Per-message framing tokens (role markers), as OpenAI's chat format adds. */
const MESSAGE_OVERHEAD = 4;
/** Tokens that prime the reply. */
const REPLY_OVERHEAD = 3;

/**
 * Tokens in a text, estimated on the high side without a tokenizer: ASCII at 3 characters per
 * token (English prose runs near 4, code and JSON nearer 3) and every other UTF-16 unit as one
 * token (CJK text is about one token per character; chars/4 would undercount it fourfold).
 */
export function estimateTextTokens(text: string): number {
  let ascii = 0;
  let other = 0;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) < 0x80) ascii++;
    else other++;
  }
  return Math.ceil(ascii / 3) + other;
}

/**
 * Prompt tokens of a request, estimated before the call for budget reservations and TPM admission:
 * message text, tool calls and tool results, tool definitions, a fixed allowance per image (never
 * the length of a base64 data URL) and the chat format's framing.
 */
export function estimatePromptTokens(request: Pick<ChatRequest, "messages" | "tools">): number {
  let tokens = REPLY_OVERHEAD;
  for (const m of request.messages) {
    tokens += MESSAGE_OVERHEAD;
    switch (m.role) {
      case "system":
        tokens += estimateTextTokens(m.content);
        break;
      case "user":
        if (typeof m.content === "string") tokens += estimateTextTokens(m.content);
        else for (const part of m.content) tokens += part.type === "text" ? estimateTextTokens(part.text) : IMAGE_TOKENS;
        break;
      case "assistant":
        if (m.content) tokens += estimateTextTokens(m.content);
        if (m.reasoning) tokens += estimateTextTokens(m.reasoning);
        for (const call of m.toolCalls ?? []) tokens += MESSAGE_OVERHEAD + estimateTextTokens(call.name) + estimateTextTokens(call.arguments);
        break;
      case "tool":
        tokens += estimateTextTokens(m.content);
        break;
    }
  }
  if (request.tools?.length) tokens += estimateTextTokens(JSON.stringify(request.tools));
  return tokens;
}
