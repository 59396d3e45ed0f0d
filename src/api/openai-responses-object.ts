// ChatResult → a Responses API `response` object (non-streaming), and the pieces the stream encoder
// shares with it: item ids, output items, usage in Responses semantics, status and the echo.
// Shapes follow openai `resources/responses/responses.d.ts` (Response, ResponseOutputItem, ResponseUsage).
import type { ChatResult, FinishReason, ProviderErrorInfo, ProviderMetadata, ToolCall, Usage } from '../core/types.ts';
import { providerErrorToOpenAI } from './openai-errors.ts';
import type { ParsedResponsesRequest } from './openai-responses-parse.ts';
import { encodeReasoningState } from './openai-responses-state.ts';

/** What the route reports back: its own response id (`resp_…`), timestamp, model name and the request. */
export type ResponseContext = {
  /** Response id, e.g. `resp_<random>`; item ids are derived from it. */
  id: string;
  /** Unix seconds. */
  created: number;
  /** Model name to show. */
  model: string;
  /** The parsed request: echoed fields, namespaced and custom tool names. */
  request: Pick<ParsedResponsesRequest, 'echo' | 'namespacedTools'> & Partial<Pick<ParsedResponsesRequest, 'customTools'>>;
  /** Provider instance id, prefixed to upstream error messages (default 'upstream'). */
  provider?: string;
};

export type OutputItem = Record<string, unknown> & { type: string; id: string };
type ItemKind = 'reasoning' | 'message' | 'function_call' | 'custom_tool_call';
const ID_PREFIX: Record<ItemKind, string> = {
  reasoning: 'rs',
  message: 'msg',
  function_call: 'fc',
  custom_tool_call: 'ctc',
};

/** Deterministic ids (`msg_<response>_<output index>`): the stream and the final object agree. */
export function itemId(ctx: ResponseContext, kind: ItemKind, outputIndex: number): string {
  return `${ID_PREFIX[kind]}_${ctx.id.replace(/^resp_/, '')}_${outputIndex}`;
}

/** Upstreams that give no call id (Gemini) get a stable synthetic one. */
export function callId(ctx: ResponseContext, callIndex: number, id: string | undefined): string {
  return id || `call_${ctx.id.replace(/^resp_/, '')}_${callIndex}`;
}

export function reasoningItem(id: string, text: string, encrypted?: string): OutputItem {
  const item: OutputItem = { id, type: 'reasoning', summary: text ? [{ type: 'summary_text', text }] : [] };
  if (encrypted) item.encrypted_content = encrypted;
  return item;
}

export const outputTextPart = (text: string) => ({ type: 'output_text', annotations: [], logprobs: [], text });

export function messageItem(id: string, text: string, status: string): OutputItem {
  return { id, type: 'message', status, role: 'assistant', content: [outputTextPart(text)] };
}

/** A function_call item; flattened namespace tools (`ns__name`) are split back into `namespace` + `name`. */
export function functionCallItem(
  ctx: ResponseContext,
  id: string,
  call: { callId: string; name: string; arguments: string },
  status: string,
): OutputItem {
  const namespaced = ctx.request.namespacedTools[call.name];
  const item: OutputItem = {
    id,
    type: 'function_call',
    status,
    arguments: call.arguments,
    call_id: call.callId,
    name: namespaced?.name ?? call.name,
  };
  if (namespaced) item.namespace = namespaced.namespace;
  return item;
}

/** True when calls of this (upstream) function name are calls of a custom tool. */
export const isCustomTool = (ctx: ResponseContext, name: string): boolean => ctx.request.customTools?.has(name) ?? false;

/** The kind of output item for a call of this function name. */
export const toolCallKind = (ctx: ResponseContext, name: string): 'function_call' | 'custom_tool_call' =>
  isCustomTool(ctx, name) ? 'custom_tool_call' : 'function_call';

/** A custom tool's freeform input from the function arguments `{"input": …}`; else the raw arguments. */
export function customToolInput(args: string): string {
  try {
    const parsed: unknown = JSON.parse(args);
    if (parsed !== null && typeof parsed === 'object' && typeof (parsed as { input?: unknown }).input === 'string') {
      return (parsed as { input: string }).input;
    }
  } catch {
    // Not JSON: the model wrote the input itself.
  }
  return args;
}

/** A custom_tool_call item (the call of a custom tool, made upstream as a function call). */
export function customToolCallItem(
  ctx: ResponseContext,
  id: string,
  call: { callId: string; name: string; arguments: string },
  status: string,
  input = customToolInput(call.arguments),
): OutputItem {
  const namespaced = ctx.request.namespacedTools[call.name];
  const item: OutputItem = {
    id,
    type: 'custom_tool_call',
    status,
    call_id: call.callId,
    name: namespaced?.name ?? call.name,
    input,
  };
  if (namespaced) item.namespace = namespaced.namespace;
  return item;
}

/** A function_call or custom_tool_call item, by the tool's kind. */
export function toolCallItem(
  ctx: ResponseContext,
  id: string,
  call: { callId: string; name: string; arguments: string },
  status: string,
): OutputItem {
  return isCustomTool(ctx, call.name)
    ? customToolCallItem(ctx, id, call, status)
    : functionCallItem(ctx, id, call, status);
}

/** Usage in Responses semantics (cached ⊂ input, reasoning ⊂ output; core/types.ts already normalised). */
export function toResponsesUsage(usage: Usage) {
  const input = usage.inputTokens ?? 0;
  const output = usage.outputTokens ?? 0;
  return {
    input_tokens: input,
    input_tokens_details: {
      cached_tokens: usage.cachedInputTokens ?? 0,
      cache_write_tokens: usage.cacheWriteInputTokens ?? 0,
    },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: usage.reasoningTokens ?? 0 },
    total_tokens: input + output,
  };
}

export type ResponseStatus = 'completed' | 'incomplete' | 'failed';

/** The `error` of a failed response, in the chat codec's words (same classes, same safe messages). */
export function toResponseError(info: ProviderErrorInfo | undefined, provider: string | undefined) {
  if (!info) return { code: 'server_error', message: 'The upstream response ended with an error.' };
  const { error } = providerErrorToOpenAI(info, provider ?? 'upstream').body;
  return { code: error.code ?? 'server_error', message: error.message, type: error.type, param: error.param };
}

/** Status, incomplete_details and error for a finished turn. */
export function toStatus(finishReason: FinishReason, error: ProviderErrorInfo | undefined, provider?: string) {
  if (error || finishReason.unified === 'error') {
    return { status: 'failed' as const, incomplete_details: null, error: toResponseError(error, provider) };
  }
  if (finishReason.unified === 'length') {
    return { status: 'incomplete' as const, incomplete_details: { reason: 'max_output_tokens' }, error: null };
  }
  if (finishReason.unified === 'content-filter') {
    return { status: 'incomplete' as const, incomplete_details: { reason: 'content_filter' }, error: null };
  }
  return { status: 'completed' as const, incomplete_details: null, error: null };
}

/** The response object around `output`: lifecycle fields plus the request echo. */
export function responseShell(
  ctx: ResponseContext,
  fields: {
    status: ResponseStatus | 'in_progress';
    output: OutputItem[];
    usage?: Usage;
    incomplete_details?: unknown;
    error?: unknown;
  },
): Record<string, unknown> {
  const { echo } = ctx.request;
  const shell: Record<string, unknown> = {
    id: ctx.id,
    object: 'response',
    created_at: ctx.created,
    status: fields.status,
    background: false,
    error: fields.error ?? null,
    incomplete_details: fields.incomplete_details ?? null,
    instructions: echo.instructions,
    max_output_tokens: echo.max_output_tokens,
    model: ctx.model,
    output: fields.output,
    parallel_tool_calls: echo.parallel_tool_calls,
    previous_response_id: null,
    prompt_cache_key: echo.prompt_cache_key,
    reasoning: echo.reasoning,
    // Nothing is stored, whatever the client asked: retrieval by id is not possible.
    store: false,
    temperature: echo.temperature,
    text: echo.text,
    tool_choice: echo.tool_choice,
    tools: echo.tools,
    top_p: echo.top_p,
    truncation: echo.truncation,
    usage: fields.usage ? toResponsesUsage(fields.usage) : null,
    metadata: echo.metadata,
  };
  if (fields.status === 'completed') shell.completed_at = Math.max(ctx.created, Math.floor(Date.now() / 1000));
  if (echo.user !== undefined) shell.user = echo.user;
  if (echo.service_tier !== undefined) shell.service_tier = echo.service_tier;
  if (echo.safety_identifier !== undefined) shell.safety_identifier = echo.safety_identifier;
  return shell;
}

/** Per-call metadata keyed by the call id the client sees. */
export function callState(
  calls: { callId: string; providerMetadata?: ProviderMetadata }[],
): Record<string, ProviderMetadata> {
  const state: Record<string, ProviderMetadata> = {};
  for (const call of calls) if (call.providerMetadata) state[call.callId] = call.providerMetadata;
  return state;
}

/**
 * A whole result as a `response` object. Output order: one `reasoning` item (summary text, and the
 * provider's opaque state as `encrypted_content`), a `message` item, then `function_call` items
 * (`custom_tool_call` items for calls of custom tools).
 * When generation stopped early (incomplete, failed), the last item has status `incomplete`.
 */
export function toResponseObject(result: ChatResult, ctx: ResponseContext): Record<string, unknown> {
  const { status, incomplete_details, error } = toStatus(result.finishReason, result.error, ctx.provider);
  const calls = result.toolCalls.map((call: ToolCall, index) => ({ ...call, callId: callId(ctx, index, call.id) }));
  const encrypted = encodeReasoningState({ message: result.providerMetadata, calls: callState(calls) });
  const output: OutputItem[] = [];
  if (result.reasoning || encrypted) {
    output.push(reasoningItem(itemId(ctx, 'reasoning', output.length), result.reasoning ?? '', encrypted));
  }
  if (result.text !== '' || (calls.length === 0 && status === 'completed')) {
    output.push(messageItem(itemId(ctx, 'message', output.length), result.text, 'completed'));
  }
  for (const call of calls) {
    output.push(toolCallItem(ctx, itemId(ctx, toolCallKind(ctx, call.name), output.length), call, 'completed'));
  }
  const last = output[output.length - 1];
  if (status !== 'completed' && last && last.type !== 'reasoning') last.status = 'incomplete';
  return responseShell(ctx, { status, output, usage: result.usage, incomplete_details, error });
}
