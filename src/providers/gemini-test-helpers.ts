// Test-only helpers for the Gemini fixtures (../shared/fixtures/gemini, read in place): the OpenAI
// body a client sends for each case, and its ChatRequest as api/openai-chat.ts makes it.
// Never imported by production code.
import { parseChatCompletionRequest } from '../api/openai-chat.ts';
import type { ChatRequest } from '../core/types.ts';

type GeminiFixtureLike = {
  gateway_request?: Record<string, unknown>;
  upstream_request: { url: string; body: Record<string, any> };
};

const textOf = (parts: any[] | undefined) => (parts ?? []).map((part) => part.text ?? '').join('');

/**
 * The OpenAI-format body a client sends for a fixture:
 * * the fixture's `gateway_request` when it has one, else the upstream body read backwards (error
 *   and safety cases list only the Gemini body: system, user turns, temperature, max tokens);
 * * plus what a real client carries that the fixture leaves out, taken from the fixture's own
 *   upstream body: the `provider_metadata` with each functionCall's thoughtSignature (clients
 *   re-send it as the gateway returned it) and Google's `extra_body.google.cached_content`.
 */
export function geminiClientBody(fixture: GeminiFixtureLike): Record<string, any> {
  const upstream = fixture.upstream_request.body;
  const body = structuredClone(fixture.gateway_request ?? reverseBody(fixture)) as Record<string, any>;

  const signatures: (string | undefined)[] = [];
  for (const content of upstream.contents ?? []) {
    if (content.role !== 'model') continue;
    for (const part of content.parts ?? []) if (part.functionCall) signatures.push(part.thoughtSignature);
  }
  const calls = (body.messages as any[]).flatMap((message) => (message.role === 'assistant' ? (message.tool_calls ?? []) : []));
  calls.forEach((call, i) => {
    if (signatures[i]) call.provider_metadata = { gemini: { thoughtSignature: signatures[i] } };
  });
  if (upstream.cachedContent && !body.extra_body) body.extra_body = { google: { cached_content: upstream.cachedContent } };
  return body;
}

function reverseBody(fixture: GeminiFixtureLike): Record<string, unknown> {
  const { url, body } = fixture.upstream_request;
  const messages: Record<string, unknown>[] = [];
  if (body.systemInstruction) messages.push({ role: 'system', content: textOf(body.systemInstruction.parts) });
  for (const content of body.contents) {
    messages.push({ role: content.role === 'model' ? 'assistant' : 'user', content: textOf(content.parts) });
  }
  const out: Record<string, unknown> = { model: /\/models\/([^:/]+):/.exec(url)![1], messages };
  const config = body.generationConfig ?? {};
  if (config.temperature !== undefined) out.temperature = config.temperature;
  if (config.topP !== undefined) out.top_p = config.topP;
  if (config.maxOutputTokens !== undefined) out.max_tokens = config.maxOutputTokens;
  if (url.includes(':streamGenerateContent')) out.stream = true;
  return out;
}

/** An OpenAI request body → the ChatRequest the route hands to the gateway (model unchanged). */
export function toChatRequest(body: Record<string, unknown>): ChatRequest {
  const parsed = parseChatCompletionRequest(body);
  if (!parsed.ok) throw new Error(`invalid request body: ${parsed.error.message}`);
  return { model: parsed.value.model, ...parsed.value.request };
}
