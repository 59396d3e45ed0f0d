// Inbound `POST /v1/responses` body, as the official `openai` SDK (`responses.create`) and Codex CLI
// send it (../shared/docs/AGENT-CLIENTS.md §3.2; openai `resources/responses/responses.d.ts`).
// Strict on the structure we map, loose on extra keys: clients re-send whole output items (`status`,
// `phase`, `annotations`, `logprobs`…) and add top-level keys often (`client_metadata`…).
// Optional fields are `.nullish()` because the SDK types most of them `T | null`.
// Semantic refusals (item_reference, previous_response_id, file ids…) live in the parser, which
// can name the exact parameter; this file only says what is well-formed.
import { z } from 'zod';
import { type RequestError, describeIssue } from './openai-chat-schema.ts';

export type { RequestError } from './openai-chat-schema.ts';

const jsonObject = z.record(z.string(), z.unknown());

// ---------------------------------------------------------------------------------------------
// Content parts

const inputText = z.looseObject({ type: z.literal('input_text'), text: z.string() });
const outputText = z.looseObject({ type: z.literal('output_text'), text: z.string() });
const refusal = z.looseObject({ type: z.literal('refusal'), refusal: z.string() });
const inputImage = z.looseObject({
  type: z.literal('input_image'),
  image_url: z.string().min(1).nullish(),
  file_id: z.string().nullish(),
  detail: z.enum(['auto', 'low', 'high', 'original']).nullish(),
});

/** Any message content part; which role may carry which part is checked by the parser. */
const contentPart = z.discriminatedUnion('type', [inputText, inputImage, outputText, refusal]);
export type WireContentPart = z.infer<typeof contentPart>;

// ---------------------------------------------------------------------------------------------
// Tools

export const functionTool = z.looseObject({
  type: z.literal('function'),
  name: z.string().min(1),
  description: z.string().nullish(),
  parameters: jsonObject.nullish(),
  strict: z.boolean().nullish(),
});

/**
 * An array of `{type, …}` entries where only some types are validated further: the others are kept
 * as they are (the parser skips them with a warning). Dispatching on `type` by hand keeps errors
 * precise, where a union with a catch-all branch would report the catch-all.
 */
function typedEntries(schemas: Record<string, z.ZodType>) {
  return z.array(z.looseObject({ type: z.string().min(1) })).superRefine((entries, ctx) => {
    entries.forEach((entry, index) => {
      const result = schemas[entry.type]?.safeParse(entry);
      if (!result || result.success) return;
      for (const issue of result.error.issues) ctx.addIssue({ ...issue, path: [index, ...issue.path] } as never);
    });
  });
}

/** A freeform tool (Codex's `exec`): the parser maps it to a function with one string parameter `input`. */
export const customTool = z.looseObject({
  type: z.literal('custom'),
  name: z.string().min(1),
  description: z.string().nullish(),
  /** `{type: 'text'}` or `{type: 'grammar', syntax: 'lark' | 'regex', definition}`. */
  format: z.looseObject({ type: z.string() }).nullish(),
});

export const namespaceTool = z.looseObject({
  type: z.literal('namespace'),
  name: z.string().min(1),
  description: z.string().nullish(),
  /** Functions and custom tools are flattened by the parser; other members are skipped. */
  tools: typedEntries({ function: functionTool, custom: customTool }),
});

/** `tools[]`: function, custom and namespace tools are validated; hosted tools need only a `type`. */
const toolsSchema = typedEntries({ function: functionTool, custom: customTool, namespace: namespaceTool });

export type WireFunctionTool = z.infer<typeof functionTool>;
export type WireCustomTool = z.infer<typeof customTool>;
export type WireNamespaceTool = z.infer<typeof namespaceTool>;

// ---------------------------------------------------------------------------------------------
// Input items

const message = z.looseObject({
  type: z.literal('message'),
  role: z.enum(['user', 'assistant', 'system', 'developer']),
  content: z.union([z.string(), z.array(contentPart)]),
  id: z.string().nullish(),
});

const functionCall = z.looseObject({
  type: z.literal('function_call'),
  call_id: z.string().min(1),
  name: z.string().min(1),
  arguments: z.string(),
  /** Set on calls of a tool inside a `namespace` tool. */
  namespace: z.string().nullish(),
  id: z.string().nullish(),
});

const functionCallOutput = z.looseObject({
  type: z.literal('function_call_output'),
  call_id: z.string().min(1),
  output: z.union([z.string(), z.array(contentPart)]),
  id: z.string().nullish(),
});

/** A call of a custom (freeform) tool: `input` is the raw text the model wrote. */
const customToolCall = z.looseObject({
  type: z.literal('custom_tool_call'),
  call_id: z.string().min(1),
  name: z.string().min(1),
  input: z.string(),
  namespace: z.string().nullish(),
  id: z.string().nullish(),
});

const customToolCallOutput = z.looseObject({
  type: z.literal('custom_tool_call_output'),
  call_id: z.string().min(1),
  output: z.union([z.string(), z.array(contentPart)]),
  id: z.string().nullish(),
});

const reasoning = z.looseObject({
  type: z.literal('reasoning'),
  id: z.string().nullish(),
  summary: z.array(z.looseObject({ type: z.literal('summary_text'), text: z.string() })).nullish(),
  content: z.array(z.looseObject({ type: z.literal('reasoning_text'), text: z.string() })).nullish(),
  encrypted_content: z.string().nullish(),
});

/** Refused by the parser (stateless gateway); modelled so the refusal can name the item. */
const itemReference = z.looseObject({ type: z.literal('item_reference'), id: z.string().nullish() });

/** Codex "responses-lite": tools sent as a developer input item instead of top-level `tools`. */
const additionalTools = z.looseObject({ type: z.literal('additional_tools'), tools: toolsSchema });

const inputItemUnion = z.discriminatedUnion('type', [
  message,
  functionCall,
  functionCallOutput,
  customToolCall,
  customToolCallOutput,
  reasoning,
  itemReference,
  additionalTools,
]);

/**
 * `type` is optional on easy messages (`{role, content}`) and on item references (`{id}`): fill it
 * in before dispatching, so a missing `type` is still reported as such when it cannot be inferred.
 */
const inputItem = z.preprocess((value) => {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || 'type' in value) return value;
  if ('role' in value) return { ...value, type: 'message' };
  if ('id' in value) return { ...value, type: 'item_reference' };
  return value;
}, inputItemUnion);

export type WireInputItem = z.infer<typeof inputItemUnion>;
export type WireMessage = z.infer<typeof message>;

const toolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z.looseObject({ type: z.literal('function'), name: z.string().min(1) }),
  z.looseObject({ type: z.literal('custom'), name: z.string().min(1) }),
]);

const textFormat = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('text') }),
  z.looseObject({ type: z.literal('json_object') }),
  z.looseObject({
    type: z.literal('json_schema'),
    name: z.string().min(1),
    schema: jsonObject,
    description: z.string().nullish(),
    strict: z.boolean().nullish(),
  }),
]);

// ---------------------------------------------------------------------------------------------
// The request

/** The request body. Unknown top-level keys survive parsing; the parser decides which it forwards. */
export const responsesRequestSchema = z.looseObject({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(inputItem)]),
  instructions: z.string().nullish(),
  tools: toolsSchema.nullish(),
  tool_choice: toolChoice.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  max_output_tokens: z.int().min(1).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  reasoning: z
    .looseObject({
      effort: z.enum(['none', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max']).nullish(),
      summary: z.enum(['auto', 'concise', 'detailed']).nullish(),
    })
    .nullish(),
  text: z
    .looseObject({ format: textFormat.nullish(), verbosity: z.enum(['low', 'medium', 'high']).nullish() })
    .nullish(),
  stream: z.boolean().nullish(),
  store: z.boolean().nullish(),
  include: z.array(z.string()).nullish(),
  previous_response_id: z.string().nullish(),
  prompt_cache_key: z.string().nullish(),
  prompt_cache_retention: z.string().nullish(),
  safety_identifier: z.string().nullish(),
  user: z.string().nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
  service_tier: z.string().nullish(),
  truncation: z.enum(['auto', 'disabled']).nullish(),
  background: z.boolean().nullish(),
});

export type ResponsesRequestBody = z.infer<typeof responsesRequestSchema>;

// ---------------------------------------------------------------------------------------------
// Zod issue → OpenAI-style error (the chat codec's wording, plus Responses-specific refusals).

/** Part and item types we recognise but do not serve, keyed by `type:<value>`. */
const UNSUPPORTED: Record<string, string> = {
  'type:input_file':
    "File inputs ('input_file') are not supported by this gateway; send 'input_text' or 'input_image' parts.",
  'type:input_audio': "Audio inputs are not supported by this gateway; send 'input_text' or 'input_image' parts.",
  'type:local_shell_call':
    "The 'local_shell' tool is not supported by this gateway; declare the shell as a tool of type 'function'.",
  'type:local_shell_call_output':
    "The 'local_shell' tool is not supported by this gateway; declare the shell as a tool of type 'function'.",
  'type:allowed_tools':
    "tool_choice of type 'allowed_tools' is not supported by this gateway; use 'auto', 'none', 'required' " +
    "or {type: 'function', name}.",
};

function valueAt(root: unknown, path: string): unknown {
  let value = root;
  for (const key of path.split(/\.|\[(\d+)\]/).filter(Boolean)) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** The first zod issue as `{ message, param, code }`; `body` is only read, never echoed. */
export function describeResponsesIssue(issue: z.core.$ZodIssue, body: unknown): RequestError {
  const error = describeIssue(issue, body);
  if (error.param?.endsWith('.type') || error.param === 'tool_choice') {
    const at = error.param.endsWith('.type') ? error.param : `${error.param}.type`;
    const value = valueAt(body, at);
    const message = typeof value === 'string' ? UNSUPPORTED[`type:${value}`] : undefined;
    if (message) return { message, param: at, code: 'unsupported_value' };
  }
  return error;
}
