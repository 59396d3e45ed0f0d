// Inbound `POST /v1/messages` body (PROTOCOLS.md §6.1), as the official `@anthropic-ai/sdk` and Claude Code
// send it (AGENT-CLIENTS.md §3.1). Strict on the structure we translate, tolerant of extra keys: unknown
// top-level keys survive parsing (they are forwarded to Anthropic upstreams only), unknown keys inside
// blocks are stripped. Optional fields are `.nullish()`: the SDK types many of them `T | null`.
import { z } from 'zod';

const jsonObject = z.record(z.string(), z.unknown());

/** `{type: "ephemeral", ttl?}`; kept verbatim for Anthropic upstreams, ignored by the others. */
const cacheControl = z.looseObject({ type: z.string(), ttl: z.string().nullish() }).nullish();

const textBlock = z.object({
  type: z.literal('text'),
  text: z.string(),
  cache_control: cacheControl,
  citations: z.array(z.unknown()).nullish(),
});

const imageSource = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('base64'),
    media_type: z.enum(['image/jpeg', 'image/png', 'image/gif', 'image/webp']),
    data: z.string().min(1),
  }),
  z.object({ type: z.literal('url'), url: z.string().min(1) }),
  z.object({ type: z.literal('file'), file_id: z.string() }),
]);

const imageBlock = z.object({ type: z.literal('image'), source: imageSource, cache_control: cacheControl });

const documentSource = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text'), data: z.string(), media_type: z.string().nullish() }),
  z.object({ type: z.literal('content'), content: z.union([z.string(), z.array(z.unknown())]) }),
  z.object({ type: z.literal('base64'), data: z.string(), media_type: z.string().nullish() }),
  z.object({ type: z.literal('url'), url: z.string() }),
  z.object({ type: z.literal('file'), file_id: z.string() }),
]);

const documentBlock = z.object({
  type: z.literal('document'),
  source: documentSource,
  title: z.string().nullish(),
  context: z.string().nullish(),
  cache_control: cacheControl,
});

const searchResultBlock = z.object({
  type: z.literal('search_result'),
  source: z.string(),
  title: z.string(),
  content: z.array(z.object({ type: z.literal('text'), text: z.string() })),
  cache_control: cacheControl,
});

/** Tool search (defer_loading): a reference to a deferred tool, inside a tool_result. */
const toolReferenceBlock = z.object({ type: z.literal('tool_reference'), tool_name: z.string() });

/** Block types produced by Anthropic's server-side tools: nothing here can run them. */
export const SERVER_BLOCK_TYPES = [
  'server_tool_use',
  'web_search_tool_result',
  'web_fetch_tool_result',
  'code_execution_tool_result',
  'bash_code_execution_tool_result',
  'text_editor_code_execution_tool_result',
  'tool_search_tool_result',
  'mcp_tool_use',
  'mcp_tool_result',
  'container_upload',
] as const;

const serverBlock = z
  .object({ type: z.enum(SERVER_BLOCK_TYPES) })
  .refine(() => false, {
    message:
      'Server-tool content blocks (web search, web fetch, code execution, MCP, containers) are not supported by ' +
      'this gateway: their tools run on Anthropic servers. Remove these blocks from the conversation history.',
    params: { code: 'unsupported_value' },
  });

const toolResultContent = z.union([
  z.string(),
  z.array(z.discriminatedUnion('type', [textBlock, imageBlock, documentBlock, searchResultBlock, toolReferenceBlock])),
]);

const toolResultBlock = z.object({
  type: z.literal('tool_result'),
  tool_use_id: z.string().min(1),
  content: toolResultContent.nullish(),
  is_error: z.boolean().nullish(),
  cache_control: cacheControl,
});

const toolUseBlock = z.object({
  type: z.literal('tool_use'),
  id: z.string().min(1),
  name: z.string().min(1),
  input: jsonObject,
  cache_control: cacheControl,
});

const thinkingBlock = z.object({ type: z.literal('thinking'), thinking: z.string(), signature: z.string().nullish() });
const redactedThinkingBlock = z.object({ type: z.literal('redacted_thinking'), data: z.string() });

const userBlock = z.discriminatedUnion('type', [
  textBlock,
  imageBlock,
  documentBlock,
  searchResultBlock,
  toolResultBlock,
  serverBlock,
]);

const assistantBlock = z.discriminatedUnion('type', [
  textBlock,
  thinkingBlock,
  redactedThinkingBlock,
  toolUseBlock,
  serverBlock,
]);

const userMessage = z.object({
  role: z.literal('user'),
  content: z.union([z.string(), z.array(userBlock).min(1)]),
});

const assistantMessage = z.object({
  role: z.literal('assistant'),
  content: z.union([z.string(), z.array(assistantBlock)]),
});

/** Claude Code puts its environment block in a `role: "system"` message (AGENT-CLIENTS.md §3.1). */
const systemMessage = z.object({
  role: z.literal('system'),
  content: z.union([z.string(), z.array(textBlock)]),
});

const message = z.discriminatedUnion('role', [userMessage, assistantMessage, systemMessage]);

/** A custom (client-executed) tool. Anthropic-defined / server tools carry another `type`: refused. */
const tool = z.looseObject({
  type: z
    .string()
    .nullish()
    .refine((type) => type == null || type === 'custom', {
      message:
        "Anthropic-defined and server tools (web search, web fetch, bash, text editor, code execution, computer, " +
        "memory, tool search) are not supported by this gateway; declare a custom tool with 'name', " +
        "'description' and 'input_schema' instead.",
      params: { code: 'unsupported_value' },
    }),
  name: z.string().min(1),
  description: z.string().nullish(),
  input_schema: jsonObject,
  strict: z.boolean().nullish(),
  cache_control: cacheControl,
});

const parallel = { disable_parallel_tool_use: z.boolean().nullish() };

const toolChoice = z.discriminatedUnion('type', [
  z.object({ type: z.literal('auto'), ...parallel }),
  z.object({ type: z.literal('any'), ...parallel }),
  z.object({ type: z.literal('none'), ...parallel }),
  z.object({ type: z.literal('tool'), name: z.string().min(1), ...parallel }),
]);

/**
 * `enabled` (with a budget), `disabled`, `adaptive`, `between_tools`… Tolerant: Claude Code adds thinking
 * modes and options often, and the raw value is forwarded to Anthropic upstreams (which validate it).
 */
const thinking = z
  .looseObject({ type: z.string().min(1), budget_tokens: z.int().min(1).nullish() })
  .refine((value) => value.type !== 'enabled' || value.budget_tokens != null, {
    message: 'Field required when thinking is enabled.',
    path: ['budget_tokens'],
  });

/** Structured output (`output_config.format`) and effort; the rest of the object is forwarded as is. */
const outputConfig = z.looseObject({
  effort: z.string().nullish(),
  format: z.looseObject({ type: z.string(), schema: jsonObject.nullish() }).nullish(),
});

/** The request body. Unknown top-level keys survive parsing (Anthropic upstreams receive them). */
export const anthropicMessagesRequestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(message).min(1),
  /** Required by Anthropic; optional here (the upstream adapter supplies its default). */
  max_tokens: z.int().min(1).nullish(),
  system: z.union([z.string(), z.array(textBlock)]).nullish(),
  tools: z.array(tool).nullish(),
  tool_choice: toolChoice.nullish(),
  thinking: thinking.nullish(),
  output_config: outputConfig.nullish(),
  temperature: z.number().min(0).max(1).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  top_k: z.int().min(0).nullish(),
  stop_sequences: z.array(z.string()).nullish(),
  stream: z.boolean().nullish(),
  metadata: z.looseObject({ user_id: z.string().nullish() }).nullish(),
});

export type AnthropicMessagesRequestBody = z.infer<typeof anthropicMessagesRequestSchema>;
export type AnthropicMessageParam = z.infer<typeof message>;
export type AnthropicUserBlock = z.infer<typeof userBlock>;
export type AnthropicAssistantBlock = z.infer<typeof assistantBlock>;
export type AnthropicTextBlock = z.infer<typeof textBlock>;
export type AnthropicImageBlock = z.infer<typeof imageBlock>;
export type AnthropicDocumentBlock = z.infer<typeof documentBlock>;
export type AnthropicSearchResultBlock = z.infer<typeof searchResultBlock>;
export type AnthropicToolReferenceBlock = z.infer<typeof toolReferenceBlock>;
export type AnthropicToolResultBlock = z.infer<typeof toolResultBlock>;
export type AnthropicToolParam = z.infer<typeof tool>;
export type AnthropicCacheControl = NonNullable<z.infer<typeof cacheControl>>;

/** Top-level keys mapped onto ChatRequest fields; all others go to `providerOptions.anthropic` verbatim. */
export const MAPPED_KEYS: ReadonlySet<string> = new Set([
  'model',
  'messages',
  'max_tokens',
  'system',
  'tools',
  'tool_choice',
  'temperature',
  'top_p',
  'stop_sequences',
  'stream',
  'metadata',
]);

// ---------------------------------------------------------------------------------------------
// Zod issue → Anthropic-style message (`messages.0.content.1.type: …`, the API's own dotted paths).
// Messages name the field and the expectation, never the value sent.

export type AnthropicRequestError = { type: 'invalid_request_error'; message: string };

type Path = PropertyKey[];
type Issue = z.core.$ZodIssue;

const REFUSED_TAGS: ReadonlySet<string> = new Set(SERVER_BLOCK_TYPES);

function valueAt(root: unknown, path: Path): unknown {
  let value = root;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** For a union, the branch that got furthest (deepest failure, type matched); else the union itself. */
function pickIssue(issue: Issue, base: Path): { issue: Issue; path: Path } {
  const path = [...base, ...issue.path];
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return { issue, path };
  let best: Issue | undefined;
  let bestScore = 0;
  for (const [first] of issue.errors) {
    if (!first) continue;
    const score = first.path.length * 2 + (first.code === 'invalid_type' ? 0 : 1);
    if (score > bestScore) [best, bestScore] = [first, score];
  }
  return best ? pickIssue(best, path) : { issue, path };
}

/** zod's names → JSON's. */
const TYPE_NAMES: Record<string, string> = { int: 'integer', record: 'object' };

const describeType = (value: unknown) => (value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value);
const quoted = (values: readonly unknown[]) => values.map((value) => `'${String(value)}'`).join(', ');

/** Turns the first zod issue into an Anthropic `invalid_request_error`; `body` is only read, never echoed. */
export function describeIssue(first: Issue, body: unknown): AnthropicRequestError {
  const { issue, path } = pickIssue(first, []);
  const name = path.map(String).join('.');
  const fail = (text: string): AnthropicRequestError => ({
    type: 'invalid_request_error',
    message: name ? `${name}: ${text}` : text,
  });
  const value = valueAt(body, path);
  if (issue.code === 'custom') return fail(issue.message);
  if (path.length === 0) return { type: 'invalid_request_error', message: 'The request body must be a JSON object.' };
  if (value === undefined && issue.code !== 'invalid_union') return fail('Field required.');
  switch (issue.code) {
    case 'invalid_type':
      const expected = TYPE_NAMES[issue.expected] ?? issue.expected;
      return fail(`Input should be a valid ${expected}, not ${describeType(value)}.`);
    case 'invalid_union': {
      const options = 'options' in issue && Array.isArray(issue.options) ? issue.options : [];
      if (options.length > 0) {
        const tags = options.filter((option) => !REFUSED_TAGS.has(String(option)));
        return fail(`Input tag does not match any of the expected tags: ${quoted(tags)}.`);
      }
      const types = [...new Set(issue.errors.flatMap(([e]) => (e?.code === 'invalid_type' ? [e.expected] : [])))];
      return fail(`Input should be a valid ${types.join(' or ') || 'value'}, not ${describeType(value)}.`);
    }
    case 'invalid_value':
      return fail(`Input should be ${issue.values.length > 1 ? 'one of ' : ''}${quoted(issue.values)}.`);
    case 'too_small':
      if (issue.origin === 'array') return fail(`List should have at least ${issue.minimum} item(s).`);
      if (issue.origin === 'string') return fail('String should have at least 1 character.');
      return fail(`Input should be greater than or equal to ${issue.minimum}.`);
    case 'too_big':
      return fail(`Input should be less than or equal to ${issue.maximum}.`);
    default:
      return fail(`${issue.message}.`);
  }
}
