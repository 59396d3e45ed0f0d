// ChatRequest → Anthropic Messages API body (PROTOCOLS.md §6.1). Pure mapping: system prompt,
// user/assistant turns with tool results collapsed, images, thinking blocks replayed from provider
// metadata, tools and tool choice, max_tokens (always sent), extended thinking, JSON-mode emulation
// and Anthropic-native top-level parameters.
//
// Decisions (documented here, tested in anthropic.test.ts):
// * max_tokens is required by Anthropic. When the client sets none we send DEFAULT_MAX_TOKENS (8192;
//   4096 for Claude 3 / Claude 2 models, whose output limit is 4096), raised to at least
//   `budget + THINKING_HEADROOM` when thinking is on. A client value ≤ the thinking budget is raised
//   to `budget + client value` (Anthropic requires max_tokens > budget_tokens), with a warning.
// * reasoning_effort → `thinking: {type: "enabled", budget_tokens}` with THINKING_BUDGETS below;
//   `none` → `{type: "disabled"}`. Models that cannot think (Claude 3 and 3.5, Claude 2) get no
//   thinking parameter (and a warning unless the effort was `none`).
// * Thinking state lives in `providerMetadata.anthropic.thinking` on the assistant message: the
//   turn's thinking / redacted_thinking blocks verbatim (`{type:"thinking", thinking, signature}` |
//   `{type:"redacted_thinking", data}`), in order (the convention: anthropic-metadata.ts). They are
//   replayed before the turn's text and tool_use blocks; reasoning_content text sent back by a client
//   is not used (it carries no signature).
// * response_format json has no Anthropic equivalent: it becomes a system-prompt instruction (with the
//   schema, when there is one) and an `unsupported-setting` warning.
// * Anthropic-native top-level parameters sent as extra keys (`thinking`, `top_k`, `cache_control`,
//   `system`, `metadata.user_id`, `service_tier`, `output_config`, …) are passed through; a native
//   `system` (string or text blocks, e.g. with `cache_control`) goes before the system messages.
// * `providerOptions.anthropic` (anthropic-metadata.ts): its native parameters go into the body over
//   the mapped ones, before the thinking rules and max_tokens; its `inbound` options (from the
//   Anthropic dialect) are never sent but put cache_control / is_error back on the blocks built for
//   the messages they came with, extra keys on tools, and anthropic-beta values in the header. With
//   a cache_control on a system message, `system` is sent as text blocks (in order) to carry it.
import type { ChatMessage, ChatRequest, ContentPart, ReasoningEffort, ToolCall, Warning } from '../core/types.ts';
import {
  type Extras,
  type ExtrasIndex,
  type MessageExtras,
  indexBlockExtras,
  readThinkingBlocks,
  splitAnthropicOptions,
  withExtras,
} from './anthropic-metadata.ts';

export { type AnthropicThinkingBlock, readThinkingBlocks } from './anthropic-metadata.ts';

/** Sent as `anthropic-version` on every request. */
export const ANTHROPIC_VERSION = '2023-06-01';

/** max_tokens when the client sets none (current models; Claude 3 / 2 get LEGACY_MAX_TOKENS). */
export const DEFAULT_MAX_TOKENS = 8192;
/** Output limit of Claude 3 (Haiku, Sonnet, Opus) and Claude 2 models. */
export const LEGACY_MAX_TOKENS = 4096;
/** With thinking on and no client max_tokens: room kept above the thinking budget for the answer. */
export const THINKING_HEADROOM = 4096;

/** reasoning_effort → thinking.budget_tokens (Anthropic's minimum budget is 1024). */
export const THINKING_BUDGETS: Record<Exclude<ReasoningEffort, 'none'>, number> = {
  minimal: 1024,
  low: 2048,
  medium: 4096,
  high: 16384,
  xhigh: 24576,
};

/** Image types the Messages API accepts. */
export const ANTHROPIC_IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'];

export type AnthropicBlock = Record<string, unknown>;
export type AnthropicTurn = { role: 'user' | 'assistant'; content: string | AnthropicBlock[] };
/** An outgoing request body (what we send is ours to type loosely). */
export type AnthropicBody = Record<string, unknown>;

type AssistantMessage = Extract<ChatMessage, { role: 'assistant' }>;

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Claude 3 Haiku / Sonnet / Opus and Claude 2 / Instant: at most 4096 output tokens. */
const isLegacyModel = (model: string) => /^claude-(3-(haiku|sonnet|opus)|2|instant)/.test(model);
/** Extended thinking starts with Claude 3.7 Sonnet (3, 3.5, 2 and Instant models have none). */
const cannotThink = (model: string) => /^claude-(3-(?!7)|2|instant)/.test(model);

/**
 * Models from 4.1 on (Opus 4.1, Sonnet 4.5, Haiku 4.5, …) reject `temperature` and `top_p` together.
 * Ids look like `claude-sonnet-4-5-20250929`, `claude-opus-4-1`, `claude-sonnet-4-20250514` (4.0).
 */
function rejectsTemperatureWithTopP(model: string): boolean {
  const match = /^claude-(?:opus|sonnet|haiku)-(\d+)(?:-(\d{1,2}))?(?:-|$)/.exec(model);
  if (!match) return false;
  const major = Number(match[1]);
  return major > 4 || (major === 4 && Number(match[2] ?? 0) >= 1);
}

/** Builds the body; unsupported settings become warnings. */
export function buildAnthropicBody(request: ChatRequest, options: { stream: boolean }): { body: AnthropicBody; warnings: Warning[] } {
  const warnings: Warning[] = [];
  const unsupported = (setting: string, detail: string) => warnings.push({ type: 'unsupported-setting', setting, detail });
  const extra = { ...request.extra };
  const model = request.model;
  const { native: nativeOptions, inbound } = splitAnthropicOptions(request.providerOptions?.anthropic);

  const { system, turns } = mapMessages(request.messages, warnings, indexBlockExtras(inbound.blocks));
  const body: AnthropicBody = { model };

  // System prompt: the native top-level `system` first, then system/developer messages, then the
  // JSON-mode instruction. One plain string unless blocks are needed: native ones came in, or a
  // system message carries a cache_control breakpoint.
  const native = extra.system;
  delete extra.system;
  const entries: SystemEntry[] = [...system];
  const format = request.responseFormat;
  const nativeFormat = isPlainObject(nativeOptions.output_config) && nativeOptions.output_config.format != null;
  if (format?.type === 'json' && !nativeFormat) {
    entries.push({ text: jsonInstruction(format) });
    unsupported('responseFormat', 'Anthropic has no JSON mode; sent as a system-prompt instruction');
  }
  const blocks = entries.map(({ text, cache_control }) => (cache_control ? { type: 'text', text, cache_control } : { type: 'text', text }));
  if (Array.isArray(native)) {
    body.system = [...native, ...blocks];
  } else if (entries.some((entry) => entry.cache_control)) {
    body.system = typeof native === 'string' && native !== '' ? [{ type: 'text', text: native }, ...blocks] : blocks;
  } else {
    const texts = entries.map((entry) => entry.text);
    const all = typeof native === 'string' && native !== '' ? [native, ...texts] : texts;
    if (all.length > 0) body.system = all.join('\n\n');
  }
  body.messages = turns;

  // Tools and tool choice. An Anthropic client's extra tool keys (cache_control, defer_loading,
  // strict, …) go back on its tools.
  if (request.tools?.length) {
    body.tools = request.tools.map(({ name, description, parameters }) => {
      const tool: Record<string, unknown> = { name };
      if (description) tool.description = description;
      tool.input_schema = parameters.type === undefined ? { type: 'object', ...parameters } : parameters;
      return { ...inbound.tools?.[name], ...tool };
    });
    const choice = request.toolChoice;
    let toolChoice: Record<string, unknown> | undefined;
    if (typeof choice === 'object') toolChoice = { type: 'tool', name: choice.name };
    else if (choice) toolChoice = { type: { auto: 'auto', required: 'any', none: 'none' }[choice] };
    if (request.parallelToolCalls === false && toolChoice?.type !== 'none') {
      toolChoice = { type: 'auto', ...toolChoice, disable_parallel_tool_use: true };
    }
    if (toolChoice) body.tool_choice = toolChoice;
  }

  // Sampling.
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.topP !== undefined) {
    if (request.temperature !== undefined && rejectsTemperatureWithTopP(model)) {
      unsupported('topP', `${model} accepts temperature or top_p, not both; top_p dropped`);
    } else body.top_p = request.topP;
  }
  if (request.stop?.length) {
    const stops = request.stop.filter((stop) => stop.trim() !== '');
    if (stops.length < request.stop.length) unsupported('stop', 'Anthropic rejects whitespace-only stop sequences; dropped');
    if (stops.length > 0) body.stop_sequences = stops;
  }
  if (request.seed !== undefined) unsupported('seed', 'Anthropic has no sampling seed');

  // metadata.user_id: the OpenAI `user` (or `safety_identifier`), else a native metadata.user_id.
  const userId = request.user ?? (typeof extra.safety_identifier === 'string' ? extra.safety_identifier : undefined);
  delete extra.safety_identifier;
  const nativeMetadata = extra.metadata;
  delete extra.metadata;
  if (userId !== undefined) body.metadata = { user_id: userId };
  else if (isPlainObject(nativeMetadata) && typeof nativeMetadata.user_id === 'string') body.metadata = { user_id: nativeMetadata.user_id };
  if (isPlainObject(nativeMetadata)) {
    const others = Object.keys(nativeMetadata).filter((key) => key !== 'user_id');
    if (others.length > 0) unsupported('metadata', `Anthropic metadata takes only user_id; dropped ${others.join(', ')}`);
  }

  applyExtra(extra, body, warnings);
  // Native parameters from providerOptions win over the mapped ones (an Anthropic client's own
  // `thinking` over the reasoning effort derived from it), and then meet the same thinking rules.
  Object.assign(body, nativeOptions);
  applyThinking(request, body, turns, warnings, 'thinking' in nativeOptions);

  // max_tokens: always sent (see the top of this file).
  const budget = thinkingBudget(body.thinking);
  const defaultMax = isLegacyModel(model) ? LEGACY_MAX_TOKENS : DEFAULT_MAX_TOKENS;
  if (request.maxOutputTokens === undefined) {
    body.max_tokens = budget === undefined ? defaultMax : Math.max(defaultMax, budget + THINKING_HEADROOM);
  } else if (budget !== undefined && request.maxOutputTokens <= budget) {
    body.max_tokens = budget + request.maxOutputTokens;
    unsupported('maxOutputTokens', `raised to ${body.max_tokens}: Anthropic needs max_tokens above the thinking budget (${budget})`);
  } else {
    body.max_tokens = request.maxOutputTokens;
  }
  if (options.stream) body.stream = true;
  return { body, warnings };
}

/** The `anthropic-beta` header for a request: the client's values (Anthropic dialect) after the operator's, once each. */
export function anthropicBetaHeader(request: ChatRequest, configured: string | undefined): string | undefined {
  const { betas = [] } = splitAnthropicOptions(request.providerOptions?.anthropic).inbound;
  const all = [...(configured ?? '').split(','), ...betas].map((beta) => beta.trim()).filter(Boolean);
  return all.length > 0 ? [...new Set(all)].join(',') : undefined;
}

// ---------------------------------------------------------------------------------------------
// Messages

type SystemEntry = { text: string; cache_control?: Extras['cache_control'] };

/**
 * System/developer messages → the top-level system (wherever they stand); user and assistant turns
 * in order, consecutive same-role turns merged (Anthropic wants them alternating); every `tool`
 * message → a tool_result block in the following user turn, and within a user turn all tool_result
 * blocks come first (Anthropic answers 400 when text precedes them). Inbound block extras go on the
 * blocks built for their message (a string content becomes one text block to carry them).
 */
function mapMessages(messages: ChatMessage[], warnings: Warning[], extras: ExtrasIndex): { system: SystemEntry[]; turns: AnthropicTurn[] } {
  const system: SystemEntry[] = [];
  const turns: AnthropicTurn[] = [];
  const push = (role: AnthropicTurn['role'], content: string | AnthropicBlock[]) => {
    if (content.length === 0) return;
    const last = turns.at(-1);
    if (last?.role !== role) {
      turns.push({ role, content });
      return;
    }
    const blocks = (value: string | AnthropicBlock[]) => (typeof value === 'string' ? [{ type: 'text', text: value }] : value);
    last.content = [...blocks(last.content), ...blocks(content)];
  };
  const textWithExtras = (text: string, whole: Extras | undefined): string | AnthropicBlock[] =>
    whole?.cache_control && text !== '' ? [withExtras({ type: 'text', text }, whole)] : text;
  messages.forEach((message, index) => {
    const own = extras.get(index);
    switch (message.role) {
      case 'system':
        if (message.content === '') break;
        system.push(own?.whole?.cache_control ? { text: message.content, cache_control: own.whole.cache_control } : { text: message.content });
        break;
      case 'user':
        push('user', typeof message.content === 'string' ? textWithExtras(message.content, own?.whole) : mapUserParts(message.content, warnings, own));
        break;
      case 'assistant':
        push('assistant', mapAssistant(message, warnings, own));
        break;
      case 'tool': {
        const block: AnthropicBlock = { type: 'tool_result', tool_use_id: toolUseId(message.toolCallId) };
        if (message.content !== '') block.content = message.content;
        push('user', [withExtras(block, own?.whole)]);
        break;
      }
    }
  });
  for (const turn of turns) {
    if (turn.role !== 'user' || typeof turn.content === 'string') continue;
    const results = turn.content.filter((block) => block.type === 'tool_result');
    if (results.length > 0) turn.content = [...results, ...turn.content.filter((block) => block.type !== 'tool_result')];
  }
  // A final assistant turn is a prefill, which Anthropic rejects when it ends in whitespace.
  const last = turns.at(-1);
  if (last?.role === 'assistant' && typeof last.content === 'string') last.content = last.content.trimEnd();
  return { system, turns };
}

/** Anthropic tool_use ids must match ^[a-zA-Z0-9_-]+$; other providers' ids are made to fit. */
const toolUseId = (id: string) => id.replace(/[^a-zA-Z0-9_-]/g, '_') || '_';

function mapUserParts(parts: ContentPart[], warnings: Warning[], extras: MessageExtras): AnthropicBlock[] {
  const blocks: AnthropicBlock[] = [];
  parts.forEach((part, index) => {
    if (part.type === 'text') {
      if (part.text !== '') blocks.push(withExtras({ type: 'text', text: part.text }, extras?.parts.get(index)));
      return;
    }
    blocks.push(withExtras({ type: 'image', source: imageSource(part, warnings) }, extras?.parts.get(index)));
  });
  return blocks;
}

/**
 * `data:` URLs → a base64 source (media type from the URL); any other URL → a url source, which
 * Anthropic fetches itself. OpenAI's `detail` has no equivalent and is ignored. Types Anthropic
 * cannot read are refused before the call by validate() (anthropic.ts).
 */
function imageSource(part: Extract<ContentPart, { type: 'image' }>, warnings: Warning[]): Record<string, unknown> {
  const inline = parseDataUrl(part.url);
  if (!inline) return { type: 'url', url: part.url };
  let mediaType = normaliseMediaType(part.mediaType ?? inline.mediaType);
  if (!ANTHROPIC_IMAGE_TYPES.includes(mediaType)) {
    warnings.push({ type: 'other', message: `image of type ${mediaType} sent to Anthropic as image/png` });
    mediaType = 'image/png';
  }
  return { type: 'base64', media_type: mediaType, data: inline.data };
}

export const normaliseMediaType = (mediaType: string) => {
  const lower = mediaType.toLowerCase();
  return lower === 'image/jpg' ? 'image/jpeg' : lower;
};

export function parseDataUrl(url: string): { mediaType: string; data: string } | undefined {
  const match = /^data:([^;,]*)((?:;[^;,]*)*),(.*)$/is.exec(url);
  if (!match) return undefined;
  const mediaType = match[1]?.toLowerCase() || 'application/octet-stream';
  const payload = match[3] ?? '';
  if (/;base64$/i.test(match[2] ?? '')) return { mediaType, data: payload };
  let text = payload;
  try {
    text = decodeURIComponent(payload);
  } catch {}
  return { mediaType, data: Buffer.from(text, 'utf8').toString('base64') };
}

/** An assistant turn: stored thinking blocks first, then its text, then one tool_use per call. */
function mapAssistant(message: AssistantMessage, warnings: Warning[], extras: MessageExtras): string | AnthropicBlock[] {
  const thinking = readThinkingBlocks(message.providerMetadata);
  const calls = message.toolCalls ?? [];
  const text = message.content ?? '';
  if (thinking.length === 0 && calls.length === 0 && !extras) return text;
  const blocks: AnthropicBlock[] = [...thinking];
  if (text !== '') blocks.push(withExtras({ type: 'text', text }, extras?.whole));
  calls.forEach((call, index) => blocks.push(withExtras(toolUseBlock(call, warnings), extras?.parts.get(index))));
  return blocks;
}

function toolUseBlock(call: ToolCall, warnings: Warning[]): AnthropicBlock {
  let input: Record<string, unknown> = {};
  try {
    const value: unknown = JSON.parse(call.arguments || '{}');
    if (isPlainObject(value)) input = value;
    else throw new Error('not an object');
  } catch {
    warnings.push({ type: 'other', message: `arguments of tool call '${call.name}' are not a JSON object; sent as {}` });
  }
  return { type: 'tool_use', id: toolUseId(call.id), name: call.name, input };
}

// ---------------------------------------------------------------------------------------------
// JSON mode, thinking, extras

function jsonInstruction(format: Extract<NonNullable<ChatRequest['responseFormat']>, { type: 'json' }>): string {
  const base = 'Respond with valid JSON only: no Markdown code fences and no text before or after the JSON.';
  if (!format.schema) return `${base} The reply must be a single JSON object.`;
  const name = format.name ? ` "${format.name}"` : '';
  const description = format.description ? ` (${format.description})` : '';
  return `${base} The reply must conform to this JSON Schema${name}${description}:\n${JSON.stringify(format.schema)}`;
}

const thinkingBudget = (thinking: unknown): number | undefined =>
  isPlainObject(thinking) && thinking.type === 'enabled' && typeof thinking.budget_tokens === 'number' ? thinking.budget_tokens : undefined;

/**
 * reasoning_effort (or a native `thinking`, from an extra or providerOptions, which wins) →
 * body.thinking, then what thinking rules out: a forced tool choice (thinking is dropped: the client
 * asked for that tool), a continued tool turn whose assistant message has no thinking blocks to
 * replay (another provider answered it, or the client dropped provider_metadata: Anthropic would
 * answer 400; not for adaptive thinking), and sampling settings Anthropic refuses with thinking
 * (temperature ≠ 1, top_p < 0.95, top_k).
 */
function applyThinking(request: ChatRequest, body: AnthropicBody, turns: AnthropicTurn[], warnings: Warning[], fromProviderOptions: boolean) {
  const unsupported = (setting: string, detail: string) => warnings.push({ type: 'unsupported-setting', setting, detail });
  const effort = request.reasoningEffort;
  if (body.thinking !== undefined) {
    // An Anthropic client's effort was derived from its own `thinking` (for other providers): no conflict.
    if (effort !== undefined && !fromProviderOptions) unsupported('reasoningEffort', 'the request also sets Anthropic `thinking`, which wins');
  } else if (effort !== undefined) {
    if (cannotThink(request.model)) {
      if (effort !== 'none') unsupported('reasoningEffort', `${request.model} has no extended thinking`);
    } else {
      body.thinking = effort === 'none' ? { type: 'disabled' } : { type: 'enabled', budget_tokens: THINKING_BUDGETS[effort] };
    }
  }
  const thinking = body.thinking;
  if (!isPlainObject(thinking) || thinking.type === 'disabled') return;

  const forced = isPlainObject(body.tool_choice) && (body.tool_choice.type === 'any' || body.tool_choice.type === 'tool');
  if (forced) {
    delete body.thinking;
    unsupported('reasoningEffort', 'Anthropic cannot think while a tool choice forces tool use; thinking turned off');
    return;
  }
  // Adaptive thinking may skip thinking on any turn, so a tool turn without blocks is valid there.
  const lastAssistant = turns.findLastIndex((turn) => turn.role === 'assistant');
  const turn = turns[lastAssistant];
  if (turn && typeof turn.content !== 'string' && thinking.type !== 'adaptive') {
    const usesTools = turn.content.some((block) => block.type === 'tool_use');
    const thinks = turn.content.some((block) => block.type === 'thinking' || block.type === 'redacted_thinking');
    const continued = turns.slice(lastAssistant + 1).some((next) => typeof next.content !== 'string' && next.content.some((block) => block.type === 'tool_result'));
    if (usesTools && !thinks && continued) {
      delete body.thinking;
      unsupported(
        'reasoningEffort',
        'the tool turn being continued has no Anthropic thinking blocks to replay (send provider_metadata back); thinking turned off for this request',
      );
      return;
    }
  }
  if (body.temperature !== undefined && body.temperature !== 1) {
    delete body.temperature;
    unsupported('temperature', 'Anthropic allows only temperature 1 with thinking; dropped');
  }
  if (typeof body.top_p === 'number' && body.top_p < 0.95) {
    delete body.top_p;
    unsupported('topP', 'Anthropic allows top_p ≥ 0.95 with thinking; dropped');
  }
  if (body.top_k !== undefined) {
    delete body.top_k;
    unsupported('top_k', 'Anthropic does not allow top_k with thinking; dropped');
  }
}

/** Anthropic-native top-level parameters passed through as they are. */
const NATIVE_PARAMETERS = new Set([
  'thinking',
  'top_k',
  'cache_control',
  'output_config',
  'container',
  'inference_geo',
  'context_management',
  'mcp_servers',
  'stop_sequences',
]);

/** OpenAI parameters that have no Anthropic equivalent (dropped with a warning). */
const OPENAI_ONLY = new Set(['presence_penalty', 'frequency_penalty', 'logit_bias', 'logprobs', 'top_logprobs', 'prediction', 'modalities', 'audio', 'web_search_options', 'verbosity', 'prompt_cache_key', 'prompt_cache_retention', 'store']);

/**
 * Unmodelled parameters (ChatRequest.extra): Anthropic-native ones pass through (never overriding a
 * mapped key), `service_tier` only with an Anthropic value, `n: 1` is a no-op, everything else is
 * dropped with a warning. Null and false values are ignored silently (clients send defaults).
 */
function applyExtra(extra: Record<string, unknown>, body: AnthropicBody, warnings: Warning[]) {
  const unsupported = (setting: string, detail = 'not supported by Anthropic') => warnings.push({ type: 'unsupported-setting', setting, detail });
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined || value === null || value === false) continue;
    if (NATIVE_PARAMETERS.has(key)) {
      if (body[key] === undefined) body[key] = value;
      continue;
    }
    if (key === 'service_tier') {
      if (value === 'auto' || value === 'standard_only') body.service_tier = value;
      else unsupported(key, `Anthropic service tiers are auto and standard_only; ${JSON.stringify(value)} dropped`);
    } else if (key === 'n') {
      if (value !== 1) unsupported('n', 'only one choice is supported');
    } else if (OPENAI_ONLY.has(key)) {
      unsupported(key);
    } else {
      unsupported(key, 'unknown parameter, not sent to Anthropic');
    }
  }
}
