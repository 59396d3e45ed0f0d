// StreamEvents → Responses API stream events (openai `ResponseStreamEvent`), as Codex CLI and the
// SDK's `responses.stream()` accumulator consume them (../shared/docs/AGENT-CLIENTS.md §5):
//   response.created → response.in_progress → per output item, one at a time:
//     output_item.added → (reasoning_summary_part.added → reasoning_summary_text.delta… → .done →
//     reasoning_summary_part.done) | (content_part.added → output_text.delta… → output_text.done →
//     content_part.done) | (function_call_arguments.delta… → .done) | (custom_tool_call_input.delta →
//     .done, for calls of custom tools: the upstream streams JSON arguments `{"input": …}`, so the
//     call is buffered and its decoded input sent in one delta when it closes) → output_item.done
//   → response.completed | response.incomplete | response.failed (+ `error`).
// Every event has an increasing `sequence_number`. A new item opens whenever the kind of output
// changes (interleaved thinking gives several reasoning items). The provider's opaque reasoning
// state is only complete at `finish` (Gemini signs function calls, Anthropic signs at block end),
// while clients keep items as `output_item.done` delivers them (Codex records those, not the final
// response): so the state rides on the reasoning item still open at `finish`, or else on one last
// reasoning item with an empty summary. The parser merges it back whatever its position.
import { mergeProviderMetadata } from '../core/accumulate.ts';
import type { FinishReason, ProviderMetadata, StreamEvent } from '../core/types.ts';
import {
  type OutputItem,
  type ResponseContext,
  callId,
  callState,
  customToolCallItem,
  customToolInput,
  functionCallItem,
  itemId,
  messageItem,
  outputTextPart,
  reasoningItem,
  responseShell,
  toResponseError,
  toStatus,
  toolCallItem,
  toolCallKind,
} from './openai-responses-object.ts';
import { encodeReasoningState } from './openai-responses-state.ts';

/** One wire event: becomes one SSE message via formatResponsesSSE. */
export type ResponsesStreamEvent = { type: string; sequence_number: number } & Record<string, unknown>;

export type ResponsesStreamEncoder = {
  /** One event in, zero or more wire events out. */
  encode(event: StreamEvent): ResponsesStreamEvent[];
  /** True once `response.failed` was emitted: the route ends the stream there. */
  readonly failed: boolean;
  /** True once a terminal event (completed, incomplete or failed) was emitted. */
  readonly done: boolean;
};

type Call = { callId: string; name: string; arguments: string; providerMetadata?: ProviderMetadata };
type OpenItem =
  | { kind: 'reasoning'; index: number; id: string; text: string }
  | { kind: 'message'; index: number; id: string; text: string }
  | { kind: 'function_call' | 'custom_tool_call'; index: number; id: string; call: Call };

/**
 * Creates a stateful encoder for one response.
 * @example
 * const encoder = createResponsesStreamEncoder({ id: 'resp_…', created, model, request: parsed });
 * for await (const event of events) for (const wire of encoder.encode(event)) yield formatResponsesSSE(wire);
 */
export function createResponsesStreamEncoder(ctx: ResponseContext): ResponsesStreamEncoder {
  let sequence = 0;
  let started = false;
  let failed = false;
  let done = false;
  let open: OpenItem | undefined;
  let messageMetadata: ProviderMetadata | undefined;
  const output: OutputItem[] = [];
  /** Tool calls by upstream index (their output item may already be closed). */
  const calls = new Map<number, { call: Call; outputIndex: number }>();

  let out: ResponsesStreamEvent[] = [];
  const emit = (type: string, fields: Record<string, unknown>) => {
    out.push({ type, ...fields, sequence_number: sequence++ });
  };
  const where = (item: OpenItem) => ({ item_id: item.id, output_index: item.index });

  const start = () => {
    if (started) return;
    started = true;
    const response = () => responseShell(ctx, { status: 'in_progress', output: [] });
    emit('response.created', { response: response() });
    emit('response.in_progress', { response: response() });
  };

  /** The open item as it stands (for the final response of a failed stream). */
  const snapshot = (item: OpenItem, status: string, encrypted?: string): OutputItem => {
    if (item.kind === 'reasoning') return reasoningItem(item.id, item.text, encrypted);
    if (item.kind === 'message') return messageItem(item.id, item.text, status);
    if (item.kind === 'custom_tool_call') return customToolCallItem(ctx, item.id, item.call, status);
    return functionCallItem(ctx, item.id, item.call, status);
  };

  const openItem = (kind: OpenItem['kind'], call?: Call) => {
    closeItem('completed');
    const index = output.length;
    const id = itemId(ctx, kind, index);
    const item: OpenItem =
      kind === 'function_call' || kind === 'custom_tool_call'
        ? { kind, index, id, call: call! }
        : { kind, index, id, text: '' };
    open = item;
    if (item.kind === 'reasoning') {
      output.push({ id, type: 'reasoning', summary: [] });
      emit('response.output_item.added', { output_index: index, item: { id, type: 'reasoning', summary: [] } });
      const part = { type: 'summary_text', text: '' };
      emit('response.reasoning_summary_part.added', { ...where(item), summary_index: 0, part });
    } else if (item.kind === 'message') {
      output.push(messageItem(id, '', 'in_progress'));
      const added = { ...messageItem(id, '', 'in_progress'), content: [] };
      emit('response.output_item.added', { output_index: index, item: added });
      emit('response.content_part.added', { ...where(item), content_index: 0, part: outputTextPart('') });
    } else if (item.kind === 'custom_tool_call') {
      const added = customToolCallItem(ctx, id, item.call, 'in_progress', '');
      output.push(added);
      emit('response.output_item.added', { output_index: index, item: added });
    } else {
      const added = functionCallItem(ctx, id, { ...item.call, arguments: '' }, 'in_progress');
      output.push(added);
      emit('response.output_item.added', { output_index: index, item: added });
    }
  };

  const closeItem = (status: string, encrypted?: string) => {
    const item = open;
    if (!item) return;
    open = undefined;
    if (item.kind === 'reasoning') {
      const part = { type: 'summary_text', text: item.text };
      emit('response.reasoning_summary_text.done', { ...where(item), summary_index: 0, text: item.text });
      emit('response.reasoning_summary_part.done', { ...where(item), summary_index: 0, part });
    } else if (item.kind === 'message') {
      emit('response.output_text.done', { ...where(item), content_index: 0, text: item.text, logprobs: [] });
      emit('response.content_part.done', { ...where(item), content_index: 0, part: outputTextPart(item.text) });
    } else if (item.kind === 'custom_tool_call') {
      const input = customToolInput(item.call.arguments);
      if (input !== '') emit('response.custom_tool_call_input.delta', { ...where(item), delta: input });
      emit('response.custom_tool_call_input.done', { ...where(item), input });
    } else {
      emit('response.function_call_arguments.done', { ...where(item), arguments: item.call.arguments });
    }
    output[item.index] = snapshot(item, status, encrypted);
    emit('response.output_item.done', { output_index: item.index, item: output[item.index] });
  };

  const onToolCallDelta = (event: Extract<StreamEvent, { type: 'tool-call-delta' }>) => {
    let entry = calls.get(event.index);
    if (!entry) {
      const call: Call = { callId: callId(ctx, calls.size, event.id), name: event.name ?? '', arguments: '' };
      openItem(toolCallKind(ctx, call.name), call);
      entry = { call, outputIndex: output.length - 1 };
      calls.set(event.index, entry);
    }
    const { call } = entry;
    call.providerMetadata = mergeProviderMetadata(call.providerMetadata, event.providerMetadata);
    if (event.argumentsDelta === '') return;
    call.arguments += event.argumentsDelta;
    if (open?.kind === 'custom_tool_call' && open.call === call) {
      // Buffered: closeItem sends the decoded input.
    } else if (open?.kind === 'function_call' && open.call === call) {
      emit('response.function_call_arguments.delta', { ...where(open), delta: event.argumentsDelta });
    } else {
      // Fragments of an already closed call (interleaved upstream calls, not seen in practice):
      // only the final response carries them, since `output_item.done` was already sent.
      const closed = output[entry.outputIndex]!;
      output[entry.outputIndex] = toolCallItem(ctx, closed.id, call, String(closed.status ?? 'completed'));
    }
  };

  const finish = (finishReason: FinishReason, usage: Extract<StreamEvent, { type: 'finish' }>['usage']) => {
    const { status, incomplete_details, error } = toStatus(finishReason, undefined, ctx.provider);
    const encrypted = encodeReasoningState({
      message: messageMetadata,
      calls: callState([...calls.values()].map(({ call }) => call)),
    });
    if (open?.kind === 'reasoning') closeItem('completed', encrypted);
    else {
      closeItem(status === 'completed' ? 'completed' : 'incomplete');
      if (encrypted) {
        // A state-only reasoning item: added and done at once.
        const index = output.length;
        const item = reasoningItem(itemId(ctx, 'reasoning', index), '', encrypted);
        output.push(item);
        const added = { id: item.id, type: 'reasoning', summary: [] };
        emit('response.output_item.added', { output_index: index, item: added });
        emit('response.output_item.done', { output_index: index, item });
      }
    }
    done = true;
    if (status === 'failed') failed = true;
    const type = `response.${status}`;
    emit(type, { response: responseShell(ctx, { status, output: [...output], usage, incomplete_details, error }) });
    if (error) emit('error', { code: error.code, message: error.message, param: null });
  };

  const encode = (event: StreamEvent): ResponsesStreamEvent[] => {
    if (done) return [];
    out = [];
    start();
    switch (event.type) {
      case 'response-start':
        break;
      case 'reasoning-delta':
        messageMetadata = mergeProviderMetadata(messageMetadata, event.providerMetadata);
        if (event.delta === '') break;
        if (open?.kind !== 'reasoning') openItem('reasoning');
        (open as Extract<OpenItem, { kind: 'reasoning' }>).text += event.delta;
        emit('response.reasoning_summary_text.delta', { ...where(open!), summary_index: 0, delta: event.delta });
        break;
      case 'text-delta':
        if (event.delta === '') break;
        if (open?.kind !== 'message') openItem('message');
        (open as Extract<OpenItem, { kind: 'message' }>).text += event.delta;
        emit('response.output_text.delta', { ...where(open!), content_index: 0, delta: event.delta, logprobs: [] });
        break;
      case 'tool-call-delta':
        onToolCallDelta(event);
        break;
      case 'finish':
        messageMetadata = mergeProviderMetadata(messageMetadata, event.providerMetadata);
        finish(event.finishReason, event.usage);
        break;
      case 'error': {
        // Items stay as they are (the open one unfinished); clients stop at `response.failed`, and the
        // SDK raises APIError on the `error` event that follows (Codex records the failed response).
        done = true;
        failed = true;
        const error = toResponseError(event.error, ctx.provider);
        const items = output.map((item, index) => (open?.index === index ? snapshot(open, 'incomplete') : item));
        emit('response.failed', { response: responseShell(ctx, { status: 'failed', output: items, error }) });
        emit('error', { code: error.code, message: error.message, param: null });
        break;
      }
    }
    return out;
  };

  return {
    encode,
    get failed() {
      return failed;
    },
    get done() {
      return done;
    },
  };
}

/** One SSE message with its event name (Codex and the SDK read `type` from the data as well). */
export function formatResponsesSSE(event: { type: string; [key: string]: unknown }): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}
