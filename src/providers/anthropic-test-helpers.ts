// Test-only helpers for the Anthropic fixtures (../shared/fixtures/anthropic, read in place): the
// OpenAI body a client sends for each case. Never imported by production code.
import { THINKING_BUDGETS } from './anthropic-request.ts';

type AnthropicFixtureLike = {
  gateway_request?: Record<string, unknown>;
  upstream_request: { body: Record<string, any> };
};

/** thinking.budget_tokens → the reasoning_effort that maps to it. */
const EFFORT_BY_BUDGET = new Map(Object.entries(THINKING_BUDGETS).map(([effort, budget]) => [budget, effort]));

const hasCacheControl = (system: unknown) => Array.isArray(system) && system.some((block) => block?.cache_control);

/**
 * The OpenAI-format body a client sends for a fixture:
 * * the fixture's `gateway_request` when it has one, else the upstream body read backwards (error,
 *   cache-write and thinking-stream cases list only the Anthropic body): `system` → a system
 *   message, `thinking` → the reasoning_effort that maps to it, sampling and max_tokens as they are;
 * * plus what a real client carries that the fixture leaves out: where the upstream system prompt
 *   carries a `cache_control` breakpoint, the client sends Anthropic's native top-level `system`
 *   blocks in place of its system message. OpenAI messages cannot carry cache_control (the
 *   inbound schema keeps only `type` and `text` on text parts), and the gateway never adds
 *   breakpoints by itself (a cache write costs 1.25× input).
 */
export function anthropicClientBody(fixture: AnthropicFixtureLike): Record<string, any> {
  const upstream = fixture.upstream_request.body;
  const body = structuredClone(fixture.gateway_request ?? reverseBody(upstream)) as Record<string, any>;
  if (hasCacheControl(upstream.system)) {
    body.messages = (body.messages as any[]).filter((message) => message.role !== 'system');
    body.system = structuredClone(upstream.system);
  }
  return body;
}

function reverseBody(upstream: Record<string, any>): Record<string, unknown> {
  const messages: Record<string, unknown>[] = [];
  if (typeof upstream.system === 'string') messages.push({ role: 'system', content: upstream.system });
  else if (Array.isArray(upstream.system)) messages.push({ role: 'system', content: upstream.system.map((block: any) => block.text).join('') });
  for (const message of upstream.messages) messages.push({ role: message.role, content: message.content });
  const out: Record<string, unknown> = { model: upstream.model, messages, max_tokens: upstream.max_tokens };
  if (upstream.temperature !== undefined) out.temperature = upstream.temperature;
  if (upstream.top_p !== undefined) out.top_p = upstream.top_p;
  if (upstream.thinking?.type === 'disabled') out.reasoning_effort = 'none';
  if (upstream.thinking?.type === 'enabled') out.reasoning_effort = EFFORT_BY_BUDGET.get(upstream.thinking.budget_tokens);
  if (upstream.stream) out.stream = true;
  return out;
}
