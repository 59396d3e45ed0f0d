// `POST /v1/responses` body → ChatRequest (the Responses API on any provider, statelessly).
// Pure: no I/O. Decisions (see also openai-responses-state.ts):
// * Stateless: `previous_response_id`, `conversation`, `prompt`, `background` and `item_reference`
//   items get a clear 400; clients send the full history with `store: false`, as Codex does.
// * Items between two non-assistant items (reasoning, assistant messages, function calls) form ONE
//   assistant turn, so the history always alternates the way every upstream accepts.
// * Tools: `function` is mapped; `custom` (freeform) tools become functions with one string
//   parameter `input` (calls become `custom_tool_call` items again on output, and
//   `custom_tool_call` / `custom_tool_call_output` items in the history become tool calls with
//   arguments `{"input": …}` and tool messages); `namespace` tools are flattened to
//   `<namespace>__<name>` functions (split back on output); hosted tools (web_search, local_shell,
//   …) cannot run on other providers and are skipped with a warning.
import { mergeProviderMetadata } from '../core/accumulate.ts';
import type { ChatMessage, ChatRequest, ContentPart, ProviderMetadata, ToolCall, Warning } from '../core/types.ts';
import {
  NAMESPACE_SEPARATOR,
  RequestRejected,
  type ToolMapper,
  assistantText,
  createToolMapper,
  instructionText,
  reject,
  toolOutput,
  userContent,
} from './openai-responses-input.ts';
import {
  type RequestError,
  type ResponsesRequestBody,
  type WireInputItem,
  describeResponsesIssue,
  responsesRequestSchema,
} from './openai-responses-schema.ts';
import { type ReasoningState, decodeReasoningState, isGatewayState } from './openai-responses-state.ts';

/** Request fields a Responses object echoes back (OpenAI returns the effective settings). */
export type ResponsesEcho = {
  instructions: string | null;
  /** Tools as the client sent them (including skipped ones). */
  tools: unknown[];
  tool_choice: unknown;
  parallel_tool_calls: boolean;
  temperature: number | null;
  top_p: number | null;
  max_output_tokens: number | null;
  text: Record<string, unknown>;
  reasoning: { effort: string | null; summary: string | null };
  metadata: Record<string, string>;
  truncation: 'auto' | 'disabled';
  prompt_cache_key: string | null;
  user?: string;
  service_tier?: string;
  safety_identifier?: string;
};

/** A validated request, before routing: `model` is the name the client used (alias or `provider/model`). */
export type ParsedResponsesRequest = {
  /** Model name as the client sent it. */
  model: string;
  /** Whether the client asked for SSE. */
  stream: boolean;
  /** Everything else, in the internal vocabulary. */
  request: Omit<ChatRequest, 'model'>;
  /** The client's `include` list (informational: gateway reasoning state is always returned). */
  include: string[];
  /** What was skipped or changed while mapping (for the request log). */
  warnings: Warning[];
  /** Flattened namespace tool names → namespace and member name, to split calls back on output. */
  namespacedTools: Record<string, { namespace: string; name: string }>;
  /** Function names (as sent upstream) that stand for custom tools: their calls are `custom_tool_call` items. */
  customTools: Set<string>;
  /** Fields to echo on the response object. */
  echo: ResponsesEcho;
};

export type ResponsesParseResult = { ok: true; value: ParsedResponsesRequest } | { ok: false; error: RequestError };

/** Between two assistant message items or two reasoning items of one turn. */
const ITEM_SEPARATOR = '\n\n';

const STATELESS = 'this gateway is stateless and stores no responses';

/** Top-level keys that need stored state, with the message to give. */
const REFUSED_KEYS: Record<string, string> = {
  previous_response_id:
    `'previous_response_id' is not supported: ${STATELESS}. ` +
    "Send the whole conversation in 'input' on every turn (with store: false), as Codex CLI does.",
  conversation: `'conversation' is not supported: ${STATELESS}. Send the whole conversation in 'input'.`,
  prompt: "Stored prompt templates ('prompt') are not supported by this gateway; send 'instructions' and 'input'.",
  background: `Background responses are not supported: ${STATELESS}. Use 'stream: true' for long responses.`,
};

/** Chat-Completions-compatible top-level keys forwarded in `extra` (OpenAI-compatible upstreams). */
const FORWARDED_KEYS = ['prompt_cache_key', 'prompt_cache_retention', 'safety_identifier', 'service_tier'] as const;

/** Validates a request body (never throws) and maps it to the internal vocabulary. */
export function parseResponsesRequest(body: unknown): ResponsesParseResult {
  const parsed = responsesRequestSchema.safeParse(body);
  if (!parsed.success) return { ok: false, error: describeResponsesIssue(parsed.error.issues[0]!, body) };
  try {
    return { ok: true, value: toParsedRequest(parsed.data) };
  } catch (error) {
    if (error instanceof RequestRejected) return { ok: false, error: error.error };
    throw error;
  }
}

function toParsedRequest(data: ResponsesRequestBody): ParsedResponsesRequest {
  for (const [key, message] of Object.entries(REFUSED_KEYS)) {
    const value = (data as Record<string, unknown>)[key];
    if (value != null && value !== false) reject(message, key, 'unsupported_parameter');
  }
  const warnings: Warning[] = [];
  const tools = createToolMapper(warnings);
  tools.add(data.tools ?? []);
  const messages = toMessages(data, tools, warnings);
  if (!messages.some((message) => message.role !== 'system')) {
    reject("'input' must contain at least one message or item.", 'input', 'empty_array');
  }

  const request: Omit<ChatRequest, 'model'> = { messages };
  // Tool settings only go with tools: upstreams reject `tool_choice` / `parallel_tool_calls` without
  // them, which happens here when every tool the client sent was skipped (e.g. only web_search).
  if (tools.definitions.length > 0) {
    request.tools = tools.definitions;
    if (data.tool_choice != null) {
      request.toolChoice = typeof data.tool_choice === 'string' ? data.tool_choice : { name: data.tool_choice.name };
    }
    if (data.parallel_tool_calls != null) request.parallelToolCalls = data.parallel_tool_calls;
  } else if (data.tool_choice === 'required' || typeof data.tool_choice === 'object') {
    const detail = 'dropped: no supported tools to call';
    warnings.push({ type: 'unsupported-setting', setting: 'toolChoice', detail });
  }
  if (data.max_output_tokens != null) request.maxOutputTokens = data.max_output_tokens;
  if (data.temperature != null) request.temperature = data.temperature;
  if (data.top_p != null) request.topP = data.top_p;
  const effort = data.reasoning?.effort;
  if (effort === 'max') {
    request.reasoningEffort = 'xhigh';
    warnings.push({ type: 'unsupported-setting', setting: 'reasoning.effort', detail: "'max' sent as 'xhigh'" });
  } else if (effort != null) request.reasoningEffort = effort;
  const format = data.text?.format;
  if (format?.type === 'text') request.responseFormat = { type: 'text' };
  if (format?.type === 'json_object') request.responseFormat = { type: 'json' };
  if (format?.type === 'json_schema') {
    request.responseFormat = { type: 'json', name: format.name, schema: format.schema };
    if (format.description != null) request.responseFormat.description = format.description;
    if (format.strict != null) request.responseFormat.strict = format.strict;
  }
  if (data.user != null) request.user = data.user;
  if (data.truncation === 'auto') {
    warnings.push({
      type: 'unsupported-setting',
      setting: 'truncation',
      detail: "'auto' is not applied: an over-long input fails instead of being truncated",
    });
  }
  // `metadata` is echoed, not forwarded: Chat Completions rejects it unless `store` is on.
  const extra: Record<string, unknown> = {};
  for (const key of FORWARDED_KEYS) if (data[key] != null) extra[key] = data[key];
  if (data.text?.verbosity != null) extra.verbosity = data.text.verbosity;
  if (Object.keys(extra).length > 0) request.extra = extra;

  return {
    model: data.model,
    stream: data.stream === true,
    request,
    include: data.include ?? [],
    warnings,
    namespacedTools: tools.namespaced,
    customTools: tools.custom,
    echo: toEcho(data),
  };
}

function toEcho(data: ResponsesRequestBody): ResponsesEcho {
  const echo: ResponsesEcho = {
    instructions: data.instructions ?? null,
    tools: data.tools ?? [],
    tool_choice: data.tool_choice ?? 'auto',
    parallel_tool_calls: data.parallel_tool_calls ?? true,
    temperature: data.temperature ?? null,
    top_p: data.top_p ?? null,
    max_output_tokens: data.max_output_tokens ?? null,
    text: {
      format: data.text?.format ?? { type: 'text' },
      ...(data.text?.verbosity ? { verbosity: data.text.verbosity } : {}),
    },
    reasoning: { effort: data.reasoning?.effort ?? null, summary: data.reasoning?.summary ?? null },
    metadata: data.metadata ?? {},
    truncation: data.truncation ?? 'disabled',
    prompt_cache_key: data.prompt_cache_key ?? null,
  };
  if (data.user != null) echo.user = data.user;
  if (data.service_tier != null) echo.service_tier = data.service_tier;
  if (data.safety_identifier != null) echo.safety_identifier = data.safety_identifier;
  return echo;
}

// ---------------------------------------------------------------------------------------------
// Input items → messages

/** One assistant turn being assembled from consecutive reasoning / message / function_call items. */
type Turn = {
  texts: string[];
  refusals: string[];
  reasoning: string[];
  metadata?: ProviderMetadata;
  calls: ToolCall[];
  callMetadata: Record<string, ProviderMetadata>;
  /** Reasoning items from another server (OpenAI's own encrypted reasoning), kept verbatim. */
  foreignReasoning: Record<string, unknown>[];
};

function toMessages(data: ResponsesRequestBody, tools: ToolMapper, warnings: Warning[]): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (data.instructions) messages.push({ role: 'system', content: data.instructions });
  if (typeof data.input === 'string') {
    messages.push({ role: 'user', content: data.input });
    return messages;
  }

  let turn: Turn | undefined;
  let toolImages: ContentPart[] = [];
  let warnedForeign = false;
  const assistantByCall = new Map<string, AssistantMessage>();
  const openTurn = (): Turn =>
    (turn ??= { texts: [], refusals: [], reasoning: [], calls: [], callMetadata: {}, foreignReasoning: [] });
  const closeTurn = () => {
    if (!turn) return;
    const message = toAssistantMessage(turn);
    messages.push(message);
    for (const call of message.toolCalls ?? []) assistantByCall.set(call.id, message);
    turn = undefined;
  };
  // Images in tool output: tool messages are text-only, so they follow the tool results as one user
  // message (after ALL results of the turn: OpenAI wants every result right after the calls).
  const flushToolImages = () => {
    if (toolImages.length > 0) messages.push({ role: 'user', content: toolImages });
    toolImages = [];
  };

  const addReasoning = (item: Extract<WireInputItem, { type: 'reasoning' }>, param: string) => {
    const summary = (item.summary ?? []).map((part) => part.text).join(ITEM_SEPARATOR);
    const text = summary || (item.content ?? []).map((part) => part.text).join('');
    const encrypted = item.encrypted_content ?? undefined;
    const state =
      encrypted && isGatewayState(encrypted) ? decodeState(encrypted, `${param}.encrypted_content`) : undefined;
    // A state-only item that arrives after the turn's tool outputs (a client that records outputs
    // before the response's last item) still belongs to the turn that made those calls.
    if (!turn && !text && state) {
      const earlier = Object.keys(state.calls ?? {}).map((id) => assistantByCall.get(id)).find(Boolean);
      if (earlier) return applyState(earlier, state);
    }
    const current = openTurn();
    if (text) current.reasoning.push(text);
    if (state) {
      current.metadata = mergeProviderMetadata(current.metadata, state.message);
      for (const [callId, metadata] of Object.entries(state.calls ?? {})) {
        current.callMetadata[callId] = mergeProviderMetadata(current.callMetadata[callId], metadata)!;
      }
    } else if (encrypted) {
      current.foreignReasoning.push({ id: item.id ?? null, summary: item.summary ?? [], encrypted_content: encrypted });
      if (!warnedForeign) {
        warnedForeign = true;
        warnings.push({
          type: 'other',
          message:
            'Reasoning items with encrypted content from another server were kept in providerMetadata.openai; ' +
            'only a Responses-API upstream could use them, so they are not sent upstream.',
        });
      }
    }
  };

  data.input.forEach((item: WireInputItem, index) => {
    const param = `input[${index}]`;
    if (item.type !== 'function_call_output' && item.type !== 'custom_tool_call_output') flushToolImages();
    switch (item.type) {
      case 'message': {
        if (item.role === 'assistant') {
          const { text, refusal } = assistantText(item.content, param);
          if (text) openTurn().texts.push(text);
          else if (refusal) openTurn().refusals.push(refusal);
          else openTurn();
          break;
        }
        closeTurn();
        if (item.role === 'user') messages.push({ role: 'user', content: userContent(item.content, param) });
        else {
          const content = instructionText(item.content, param);
          messages.push(
            item.role === 'developer' ? { role: 'system', content, developer: true } : { role: 'system', content },
          );
        }
        break;
      }
      case 'function_call': {
        const name = item.namespace ? `${item.namespace}${NAMESPACE_SEPARATOR}${item.name}` : item.name;
        openTurn().calls.push({ id: item.call_id, name, arguments: item.arguments });
        break;
      }
      case 'custom_tool_call': {
        const name = item.namespace ? `${item.namespace}${NAMESPACE_SEPARATOR}${item.name}` : item.name;
        openTurn().calls.push({ id: item.call_id, name, arguments: JSON.stringify({ input: item.input }) });
        break;
      }
      case 'function_call_output':
      case 'custom_tool_call_output': {
        closeTurn();
        const { text, images } = toolOutput(item.output, `${param}.output`);
        messages.push({ role: 'tool', toolCallId: item.call_id, content: text });
        if (images.length > 0) {
          toolImages.push({ type: 'text', text: `Images from the output of tool call ${item.call_id}:` }, ...images);
        }
        break;
      }
      case 'reasoning':
        addReasoning(item, param);
        break;
      case 'item_reference':
        reject(
          `Item references are not supported: ${STATELESS}. Send the full item instead of {type: 'item_reference'}.`,
          param,
        );
        break;
      case 'additional_tools':
        tools.add(item.tools);
        break;
    }
  });
  closeTurn();
  flushToolImages();
  return messages;
}

type AssistantMessage = Extract<ChatMessage, { role: 'assistant' }>;

function decodeState(encrypted: string, param: string): ReasoningState {
  const state = decodeReasoningState(encrypted);
  if (state) return state;
  return reject(
    'This reasoning item was not produced by this gateway or was modified; send reasoning items back unchanged.',
    param,
    'invalid_value',
  );
}

/** Merges decoded state into an already built assistant message. */
function applyState(message: AssistantMessage, state: ReasoningState): void {
  const metadata = mergeProviderMetadata(message.providerMetadata, state.message);
  if (metadata) message.providerMetadata = metadata;
  if (!message.toolCalls) return;
  message.toolCalls = message.toolCalls.map((call) => {
    const merged = mergeProviderMetadata(call.providerMetadata, state.calls?.[call.id]);
    return merged ? { ...call, providerMetadata: merged } : call;
  });
}

function toAssistantMessage(turn: Turn): AssistantMessage {
  const text = turn.texts.join(ITEM_SEPARATOR);
  // No text: null when the turn only called tools (as Chat Completions has it), else '' (or a refusal).
  const content = text || (turn.calls.length > 0 ? null : turn.refusals.join(ITEM_SEPARATOR));
  const message: AssistantMessage = { role: 'assistant', content };
  if (turn.calls.length > 0) {
    message.toolCalls = turn.calls.map((call) => {
      const metadata = turn.callMetadata[call.id];
      return metadata ? { ...call, providerMetadata: metadata } : call;
    });
  }
  if (turn.reasoning.length > 0) message.reasoning = turn.reasoning.join(ITEM_SEPARATOR);
  let metadata = turn.metadata;
  if (turn.foreignReasoning.length > 0) {
    metadata = mergeProviderMetadata(metadata, { openai: { reasoningItems: turn.foreignReasoning } });
  }
  if (metadata) message.providerMetadata = metadata;
  return message;
}

