import type { ChatResult, ProviderMetadata, StreamEvent, ToolCall } from './types.ts';

/** Shallow-merges provider-tagged metadata: per provider key, later fields win. */
export function mergeProviderMetadata(
  target: ProviderMetadata | undefined,
  source: ProviderMetadata | undefined,
): ProviderMetadata | undefined {
  if (!source) return target;
  const merged: ProviderMetadata = { ...target };
  for (const [provider, fields] of Object.entries(source) as [keyof ProviderMetadata, Record<string, unknown>][]) {
    merged[provider] = { ...merged[provider], ...fields };
  }
  return merged;
}

/**
 * Folds StreamEvents into a ChatResult, incrementally (streaming log rows) or at once (`accumulate`).
 * Tool-call fragments concatenate by index; id and name are taken from the first fragment that has them.
 */
export function createAccumulator() {
  const result: ChatResult = {
    text: '',
    toolCalls: [],
    finishReason: { unified: 'other', raw: undefined },
    usage: {},
    warnings: [],
  };
  const textParts: string[] = [];
  const reasoningParts: string[] = [];
  const calls = new Map<number, ToolCall & { parts: string[] }>();
  let finished = false;

  return {
    /** Whether `finish` arrived (its usage is final; before it, usage is what was reported so far). */
    get finished(): boolean {
      return finished;
    },
    push(event: StreamEvent): void {
      switch (event.type) {
        case 'response-start':
          result.warnings.push(...event.warnings);
          result.id ??= event.id;
          result.model ??= event.model;
          break;
        case 'text-delta':
          textParts.push(event.delta);
          break;
        case 'reasoning-delta':
          reasoningParts.push(event.delta);
          result.providerMetadata = mergeProviderMetadata(result.providerMetadata, event.providerMetadata);
          break;
        case 'tool-call-delta': {
          let call = calls.get(event.index);
          if (!call) {
            call = { id: '', name: '', arguments: '', parts: [] };
            calls.set(event.index, call);
          }
          if (!call.id && event.id) call.id = event.id;
          if (!call.name && event.name) call.name = event.name;
          call.parts.push(event.argumentsDelta);
          call.providerMetadata = mergeProviderMetadata(call.providerMetadata, event.providerMetadata);
          break;
        }
        case 'usage':
          if (!finished) result.usage = event.usage;
          break;
        case 'finish':
          finished = true;
          result.finishReason = event.finishReason;
          result.usage = event.usage;
          result.providerMetadata = mergeProviderMetadata(result.providerMetadata, event.providerMetadata);
          break;
        case 'error':
          result.error = event.error;
          break;
      }
    },
    /** Snapshot of everything pushed so far. */
    result(): ChatResult {
      const toolCalls = [...calls.entries()]
        .sort(([a], [b]) => a - b)
        .map(([, { parts, ...call }]) => {
          const done: ToolCall = { id: call.id, name: call.name, arguments: parts.join('') };
          if (call.providerMetadata) done.providerMetadata = call.providerMetadata;
          return done;
        });
      const snapshot: ChatResult = { ...result, text: textParts.join(''), toolCalls };
      if (reasoningParts.length > 0) snapshot.reasoning = reasoningParts.join('');
      return snapshot;
    },
  };
}

/** Folds a finished event sequence into one ChatResult. */
export function accumulate(events: Iterable<StreamEvent>): ChatResult {
  const accumulator = createAccumulator();
  for (const event of events) accumulator.push(event);
  return accumulator.result();
}

/** The inverse: a whole result as the event sequence a stream would have produced. */
export function resultToEvents(result: ChatResult): StreamEvent[] {
  const events: StreamEvent[] = [
    { type: 'response-start', warnings: result.warnings, id: result.id, model: result.model },
  ];
  if (result.reasoning) events.push({ type: 'reasoning-delta', delta: result.reasoning });
  if (result.text) events.push({ type: 'text-delta', delta: result.text });
  result.toolCalls.forEach((call, index) => {
    const event: StreamEvent = {
      type: 'tool-call-delta',
      index,
      id: call.id,
      name: call.name,
      argumentsDelta: call.arguments,
    };
    if (call.providerMetadata) event.providerMetadata = call.providerMetadata;
    events.push(event);
  });
  if (result.error) events.push({ type: 'error', error: result.error });
  const finish: StreamEvent = { type: 'finish', finishReason: result.finishReason, usage: result.usage };
  if (result.providerMetadata) finish.providerMetadata = result.providerMetadata;
  events.push(finish);
  return events;
}
