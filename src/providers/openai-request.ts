// ChatRequest → Chat Completions request body. Pure mapping, shared by every OpenAI-compatible adapter.
import type { ChatMessage, ChatRequest, ContentPart, Warning } from '../core/types.ts';
import { type OpenAIWireBody, type OpenAIWireRequestMessage, compact } from './openai-wire.ts';

export type AssistantMessage = Extract<ChatMessage, { role: 'assistant' }>;

export type OpenAIBodyOptions = {
  /** Where maxOutputTokens goes: OpenAI wants max_completion_tokens (o-series reject max_tokens). */
  maxTokensField: 'max_tokens' | 'max_completion_tokens';
  /** Send `developer` system messages with that role (OpenAI); otherwise as `system`. */
  developerRole: boolean;
  /** Last-mile change to an assistant message (e.g. DeepSeek reasoning_content). */
  mapAssistantMessage?: (message: AssistantMessage, wire: OpenAIWireRequestMessage) => OpenAIWireRequestMessage;
};

/** Wire keys the builder owns: `extra` never overrides them. */
const MODELLED_KEYS = new Set([
  'model', 'messages', 'stream', 'stream_options', 'max_tokens', 'max_completion_tokens', 'temperature',
  'top_p', 'stop', 'seed', 'tools', 'tool_choice', 'parallel_tool_calls', 'response_format',
  'reasoning_effort', 'user',
]);

/** Builds the body; warnings report `extra` keys that were ignored (pushed to `warnings` when given). */
export function buildOpenAIBody(
  request: ChatRequest,
  stream: boolean,
  options: OpenAIBodyOptions,
  warnings: Warning[] = [],
): { body: OpenAIWireBody; warnings: Warning[] } {
  const source = request.messages;
  const messages: OpenAIWireRequestMessage[] = new Array(source.length);
  for (let i = 0; i < source.length; i++) messages[i] = mapMessage(source[i]!, options);
  const body: OpenAIWireBody = { model: request.model, messages };
  // Each key set only when present (plain assignments, no helper closure per request).
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.topP !== undefined) body.top_p = request.topP;
  if (request.maxOutputTokens !== undefined) body[options.maxTokensField] = request.maxOutputTokens;
  if (request.stop !== undefined) body.stop = request.stop;
  if (request.seed !== undefined) body.seed = request.seed;
  if (request.tools !== undefined) {
    body.tools = request.tools.map(({ name, description, parameters, strict }) => ({
      type: 'function',
      function: compact({ name, description, parameters, strict }),
    }));
  }
  const choice = request.toolChoice;
  if (choice !== undefined) body.tool_choice = typeof choice === 'object' ? { type: 'function', function: { name: choice.name } } : choice;
  if (request.parallelToolCalls !== undefined) body.parallel_tool_calls = request.parallelToolCalls;
  const format = mapResponseFormat(request.responseFormat);
  if (format !== undefined) body.response_format = format;
  if (request.reasoningEffort !== undefined) body.reasoning_effort = request.reasoningEffort;
  if (request.user !== undefined) body.user = request.user;

  const extra = request.extra;
  for (const key in extra) {
    const value = extra[key];
    if (key === 'stream_options' && stream && value && typeof value === 'object') continue; // merged below
    if (key === 'n' && value !== 1) {
      warnings.push({ type: 'unsupported-setting', setting: 'n', detail: 'only one choice is supported' });
    } else if (MODELLED_KEYS.has(key)) {
      warnings.push({ type: 'other', message: `extra.${key} ignored: it is a modelled parameter` });
    } else if (value !== undefined) body[key] = value;
  }
  if (stream) {
    // Always ask for the usage chunk: metering needs it; the route strips it if the client did not ask.
    const clientOptions = request.extra?.stream_options;
    body.stream = true;
    body.stream_options = { ...(typeof clientOptions === 'object' ? clientOptions : {}), include_usage: true };
  }
  return { body, warnings };
}

function mapMessage(message: ChatMessage, options: OpenAIBodyOptions): OpenAIWireRequestMessage {
  switch (message.role) {
    case 'system':
      return { role: message.developer && options.developerRole ? 'developer' : 'system', content: message.content };
    case 'user':
      return {
        role: 'user',
        content: typeof message.content === 'string' ? message.content : message.content.map(mapPart),
      };
    case 'assistant': {
      const wire: OpenAIWireRequestMessage = { role: 'assistant', content: message.content };
      if (message.toolCalls?.length) {
        wire.tool_calls = message.toolCalls.map((call) => ({
          id: call.id,
          type: 'function',
          function: { name: call.name, arguments: call.arguments },
        }));
      }
      return options.mapAssistantMessage ? options.mapAssistantMessage(message, wire) : wire;
    }
    case 'tool':
      return { role: 'tool', tool_call_id: message.toolCallId, content: message.content };
  }
}

function mapPart(part: ContentPart): Record<string, unknown> {
  if (part.type === 'text') return { type: 'text', text: part.text };
  return { type: 'image_url', image_url: compact({ url: part.url, detail: part.detail }) };
}

function mapResponseFormat(format: ChatRequest['responseFormat']): unknown {
  if (!format) return undefined;
  if (format.type === 'text') return { type: 'text' };
  if (!format.schema) return { type: 'json_object' };
  return {
    type: 'json_schema',
    json_schema: compact({
      name: format.name ?? 'response',
      description: format.description,
      schema: format.schema,
      strict: format.strict,
    }),
  };
}
