// Inbound `POST /v1/chat/completions` body (PROTOCOLS.md §2.1), as the official `openai` SDK sends it.
// Strict on structure, loose on extra top-level keys (STYLE.md §4.5; BUN-NOTES.md §10: z.looseObject keeps them).
// Optional fields are `.nullish()` because the SDK types most of them `T | null` and clients send explicit nulls.
// Unknown keys *inside* messages are stripped, not rejected: clients re-send whole response messages
// (`annotations`, `audio`, `function_call`…), and the OpenAI API accepts those.
import { z } from 'zod';

/** A key we recognise but refuse, with a fixed message (never echoes the value). */
const refused = (message: string) =>
  z.unknown().refine((value) => value === null, { message, params: { code: 'unsupported_value' } }).optional();

/** Opaque provider-tagged state the gateway hands out in responses and takes back on the next turn. */
const providerMetadata = z.record(z.string(), z.record(z.string(), z.unknown()));

const jsonObject = z.record(z.string(), z.unknown());

const textPart = z.object({ type: z.literal('text'), text: z.string() });

const imagePart = z.object({
  type: z.literal('image_url'),
  image_url: z.object({
    url: z.string().min(1),
    detail: z.enum(['auto', 'low', 'high']).nullish(),
  }),
});

const refusalPart = z.object({ type: z.literal('refusal'), refusal: z.string() });

/** Text-only content (system, developer, tool): a string or non-empty text parts. */
const textContent = z.union([z.string(), z.array(textPart).min(1)]);

const toolCall = z.object({
  id: z.string().min(1),
  type: z.literal('function'),
  function: z.object({ name: z.string().min(1), arguments: z.string() }),
  provider_metadata: providerMetadata.nullish(),
});

const name = z.string().nullish();

const systemMessage = z.object({ role: z.literal('system'), content: textContent, name });
const developerMessage = z.object({ role: z.literal('developer'), content: textContent, name });

const userMessage = z.object({
  role: z.literal('user'),
  content: z.union([z.string(), z.array(z.discriminatedUnion('type', [textPart, imagePart])).min(1)]),
  name,
});

const assistantMessage = z.object({
  role: z.literal('assistant'),
  content: z.union([z.string(), z.array(z.discriminatedUnion('type', [textPart, refusalPart])).min(1)]).nullish(),
  tool_calls: z.array(toolCall).nullish(),
  /** DeepSeek / xAI reasoning text, sent back by clients that keep it. */
  reasoning_content: z.string().nullish(),
  refusal: z.string().nullish(),
  name,
  provider_metadata: providerMetadata.nullish(),
});

const toolMessage = z.object({
  role: z.literal('tool'),
  tool_call_id: z.string().min(1),
  content: textContent,
});

const message = z.discriminatedUnion('role', [
  systemMessage,
  developerMessage,
  userMessage,
  assistantMessage,
  toolMessage,
]);

const tool = z.object({
  type: z.literal('function'),
  function: z.object({
    name: z.string().min(1),
    description: z.string().nullish(),
    parameters: jsonObject.nullish(),
    strict: z.boolean().nullish(),
  }),
});

const toolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z.object({ type: z.literal('function'), function: z.object({ name: z.string().min(1) }) }),
]);

const responseFormat = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
  z.object({
    type: z.literal('json_schema'),
    json_schema: z.object({
      name: z.string().min(1),
      description: z.string().nullish(),
      schema: jsonObject.nullish(),
      strict: z.boolean().nullish(),
    }),
  }),
]);

/** The request body. Unknown top-level keys survive parsing (they become `ChatRequest.extra`). */
export const chatCompletionRequestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(message).min(1),
  tools: z.array(tool).nullish(),
  tool_choice: toolChoice.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  response_format: responseFormat.nullish(),
  stop: z.union([z.string(), z.array(z.string())]).nullish(),
  seed: z.int().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  max_tokens: z.int().min(1).nullish(),
  max_completion_tokens: z.int().min(1).nullish(),
  reasoning_effort: z.enum(['none', 'minimal', 'low', 'medium', 'high', 'xhigh']).nullish(),
  n: z
    .int()
    .nullish()
    .refine((n) => n == null || n === 1, {
      message: "Only n=1 is supported: this gateway returns a single choice per request.",
      params: { code: 'unsupported_value' },
    }),
  stream: z.boolean().nullish(),
  stream_options: z
    .object({ include_usage: z.boolean().nullish(), include_obfuscation: z.boolean().nullish() })
    .nullish(),
  user: z.string().nullish(),
  functions: refused("'functions' is deprecated and not supported; send 'tools' instead."),
  function_call: refused("'function_call' is deprecated and not supported; send 'tool_choice' instead."),
});

export type ChatCompletionRequestBody = z.infer<typeof chatCompletionRequestSchema>;
export type ChatCompletionRequestMessage = z.infer<typeof message>;

/** Top-level keys the codec models or treats as transport; everything else goes to `extra`. */
export const MODELLED_KEYS: ReadonlySet<string> = new Set(Object.keys(chatCompletionRequestSchema.shape));

// ---------------------------------------------------------------------------------------------
// Zod issue → OpenAI-style error. Messages name the parameter and the expectation, never the value.

export type RequestError = { message: string; param: string | null; code: string | null };

/** Values we recognise but do not serve, keyed by `<field>:<value>`, with the message to give. */
const UNSUPPORTED: Record<string, string> = {
  'role:function':
    "The deprecated 'function' role is not supported; send tool results as 'tool' messages with a 'tool_call_id'.",
  'type:input_audio':
    "Audio input parts ('input_audio') are unsupported by this gateway; send 'text' or 'image_url' parts.",
  'type:file': "File parts ('file') are unsupported by this gateway; send 'text' or 'image_url' parts.",
  'type:custom': "Custom tools are unsupported by this gateway; use tools of type 'function'.",
  'type:allowed_tools':
    "tool_choice of type 'allowed_tools' is unsupported by this gateway; " +
    "use 'auto', 'none', 'required' or a named function.",
};

type Path = PropertyKey[];
type Issue = z.core.$ZodIssue;

/** `["messages", 0, "role"]` → `messages[0].role` (OpenAI's `param` style). */
export function formatParam(path: Path): string | null {
  let param = '';
  for (const key of path) {
    if (typeof key === 'number') param += `[${key}]`;
    else param += param ? `.${String(key)}` : String(key);
  }
  return param || null;
}

function valueAt(root: unknown, path: Path): unknown {
  let value = root;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/**
 * The issue to report. For a union, descend into the branch that got furthest: the deepest failure,
 * preferring a branch whose type matched the value (a wrong enum string beats "expected object").
 * When no branch matched even the type, report the union itself with every expected type.
 */
function pickIssue(issue: Issue, base: Path, body: unknown): { issue: Issue; path: Path; expected?: string[] } {
  const path = [...base, ...issue.path];
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return { issue, path };
  const value = valueAt(body, path);
  const typeMatched = (first: Issue) =>
    first.code !== 'invalid_type' &&
    !(first.code === 'invalid_value' && first.path.length === 0 && typeof first.values[0] !== typeof value);
  let best: Issue | undefined;
  let bestScore = 0;
  for (const [first] of issue.errors) {
    if (!first) continue;
    const score = first.path.length * 2 + (typeMatched(first) ? 1 : 0);
    if (score > bestScore) [best, bestScore] = [first, score];
  }
  if (best) return pickIssue(best, path, body);
  const expected = issue.errors.flatMap(([first]) => {
    if (first?.code === 'invalid_type') return [typeName(first.expected)];
    if (first?.code === 'invalid_value') return [typeof first.values[0]];
    return [];
  });
  return { issue, path, expected: [...new Set(expected)] };
}

const typeName = (expected: string) => (expected === 'int' ? 'integer' : expected);

const quoted = (values: readonly unknown[]) => values.map((value) => `'${String(value)}'`).join(', ');

/** Turns the first zod issue into `{ message, param, code }`; `body` is only read, never echoed. */
export function describeIssue(first: Issue, body: unknown): RequestError {
  // A discriminator mismatch already carries the discriminator key (`messages[0].role`) in its path.
  const { issue, path, expected } = pickIssue(first, [], body);
  const param = formatParam(path);
  const fail = (message: string, code: string): RequestError => ({ message, param, code });
  const name = param ?? 'body';
  const value = valueAt(body, path);
  const last = path[path.length - 1];
  const unsupported = typeof value === 'string' && typeof last === 'string' && UNSUPPORTED[`${last}:${value}`];

  if (unsupported) return fail(unsupported, 'unsupported_value');
  if (issue.code === 'custom') {
    return fail(issue.message, (issue.params as { code?: string } | undefined)?.code ?? 'invalid_value');
  }
  if (value === undefined && path.length > 0) {
    return fail(`Missing required parameter: '${name}'.`, 'missing_required_parameter');
  }
  switch (issue.code) {
    case 'invalid_type': {
      if (path.length === 0) return fail('The request body must be a JSON object.', 'invalid_type');
      const got = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
      const wanted = expected?.length ? expected.join(' or ') : typeName(issue.expected);
      return fail(`Invalid type for '${name}': expected ${wanted}, but got ${got}.`, 'invalid_type');
    }
    case 'invalid_union': {
      const options = 'options' in issue && Array.isArray(issue.options) ? issue.options : [];
      const supported = options.filter((option) => !UNSUPPORTED[`${String(last)}:${String(option)}`]);
      if (supported.length > 0) {
        return fail(`Invalid value for '${name}': expected one of ${quoted(supported)}.`, 'invalid_value');
      }
      const wanted = expected?.length ? expected.join(' or ') : 'a different shape';
      return fail(`Invalid type for '${name}': expected ${wanted}.`, 'invalid_type');
    }
    case 'invalid_value': {
      const oneOf = issue.values.length > 1 ? 'one of ' : '';
      return fail(`Invalid value for '${name}': expected ${oneOf}${quoted(issue.values)}.`, 'invalid_value');
    }
    case 'too_small':
      if (issue.origin === 'array') {
        const message = `Invalid '${name}': expected at least ${issue.minimum} element(s), but got an empty array.`;
        return fail(message, 'empty_array');
      }
      if (issue.origin === 'string') return fail(`Invalid '${name}': expected a non-empty string.`, 'empty_string');
      return fail(`Invalid '${name}': expected a value >= ${issue.minimum}.`, 'below_min_value');
    case 'too_big':
      return fail(`Invalid '${name}': expected a value <= ${issue.maximum}.`, 'above_max_value');
    default:
      return fail(`Invalid '${name}': ${issue.message}.`, 'invalid_value');
  }
}
