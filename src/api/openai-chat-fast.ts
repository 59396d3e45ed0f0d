// Fast path for the inbound `POST /v1/chat/completions` body.
//
// Why: profiling showed zod validation (`chatCompletionRequestSchema.safeParse`) to be a large share
// of per-request CPU on the hot path. Most real requests are the same clean shape (text messages plus
// a few sampling knobs), so a hand-written check recognises that shape and hands the body back as is;
// anything unusual returns `undefined` and the caller falls back to zod, which keeps all the error
// reporting (describeIssue) and the handling of tools, content parts, response formats and so on.
//
// Invariant (tested in openai-chat-fast.test.ts, including a mutation test): whenever this accepts a
// value, `chatCompletionRequestSchema.parse(value)` succeeds and deep-equals (strictly) the value
// returned here. When in doubt, reject. Never throws.
import { type ChatCompletionRequestBody, MODELLED_KEYS } from './openai-chat-schema.ts';

/** A plain JSON object: `{}`-created (what JSON.parse yields), not an array, not a class instance. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

/** `.nullish()`: an own key holding undefined is accepted by zod (and kept) just like an absent one. */
const isNullish = (value: unknown): value is null | undefined => value === null || value === undefined;

/** Message roles whose text-only form (`{role, content: string, name?}`) the fast path handles. */
const TEXT_ROLES: ReadonlySet<unknown> = new Set(['system', 'developer', 'user', 'assistant']);

const REASONING_EFFORTS: ReadonlySet<unknown> = new Set(['none', 'minimal', 'low', 'medium', 'high', 'xhigh']);

/** `{role, content: string, name?: string | null}` and nothing else (zod would strip other keys). */
function isTextMessage(message: unknown): boolean {
  if (!isPlainObject(message)) return false;
  let keys = 0;
  for (const key in message) {
    if (key !== 'role' && key !== 'content' && key !== 'name') return false;
    keys++;
  }
  if (!TEXT_ROLES.has(message.role) || typeof message.content !== 'string') return false;
  // role + content, plus `name` when present (absent, null or a string).
  return keys === 2 || (keys === 3 && (isNullish(message.name) || typeof message.name === 'string'));
}

function isMessages(messages: unknown): boolean {
  if (!Array.isArray(messages) || messages.length === 0) return false;
  for (let i = 0; i < messages.length; i++) if (!isTextMessage(messages[i])) return false;
  return true;
}

/** `stream_options`: a plain object whose keys are a subset of the modelled ones, boolean-or-null values. */
function isStreamOptions(value: unknown): boolean {
  if (!isPlainObject(value)) return false;
  for (const key in value) {
    if (key !== 'include_usage' && key !== 'include_obfuscation') return false;
    const flag = value[key];
    if (!isNullish(flag) && typeof flag !== 'boolean') return false;
  }
  return true;
}

function isStop(value: unknown): boolean {
  if (typeof value === 'string') return true;
  if (!Array.isArray(value)) return false;
  for (let i = 0; i < value.length; i++) if (typeof value[i] !== 'string') return false;
  return true;
}

const inRange = (value: unknown, min: number, max: number) =>
  typeof value === 'number' && value >= min && value <= max; // NaN fails both comparisons

const isPositiveInt = (value: unknown) => Number.isSafeInteger(value) && (value as number) >= 1;

/** Optional modelled keys for which null (or an own key holding undefined) parses to itself. */
const NULLISH_OK: ReadonlySet<string> = new Set([
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'response_format',
  'stop',
  'seed',
  'temperature',
  'top_p',
  'max_tokens',
  'max_completion_tokens',
  'reasoning_effort',
  'n',
  'stream',
  'stream_options',
  'user',
  'functions',
  'function_call',
]);

/**
 * A key the schema does not model, so its value is kept untouched. A key the schema models but this
 * file does not know (added later) is not waved through; nor is an own `__proto__` key (JSON.parse
 * makes one), which zod's copy drops.
 */
const isPassThroughKey = (key: string) => key !== '__proto__' && !MODELLED_KEYS.has(key);

/**
 * Whether one present, non-nullish top-level value passes the schema unchanged. Keys the schema
 * does not model are kept as is by its loose top level, so any value is fine for them.
 */
function checkField(key: string, value: unknown): boolean {
  switch (key) {
    case 'model':
      return typeof value === 'string' && value.length > 0;
    case 'messages':
      return isMessages(value);
    case 'temperature':
      return inRange(value, 0, 2);
    case 'top_p':
      return inRange(value, 0, 1);
    case 'max_tokens':
    case 'max_completion_tokens':
      return isPositiveInt(value);
    case 'seed':
      return Number.isSafeInteger(value);
    case 'n':
      return value === 1;
    case 'stream':
    case 'parallel_tool_calls':
      return typeof value === 'boolean';
    case 'stream_options':
      return isStreamOptions(value);
    case 'user':
      return typeof value === 'string';
    case 'stop':
      return isStop(value);
    case 'reasoning_effort':
      return REASONING_EFFORTS.has(value);
    // tools, tool_choice, response_format, functions, function_call: zod's job when set.
    default:
      return isPassThroughKey(key);
  }
}

/**
 * The body unchanged when it is a clean, common chat request that `chatCompletionRequestSchema`
 * would accept and reproduce exactly; otherwise undefined (validate with zod instead).
 */
export function fastChatCompletionRequest(body: unknown): ChatCompletionRequestBody | undefined {
  if (!isPlainObject(body)) return undefined;
  for (const key in body) {
    const value = body[key];
    // Nullish is fine for the optional modelled keys (the refused `functions`/`function_call`
    // included) and for unknown ones; `model` and `messages` are required.
    const ok = isNullish(value) ? NULLISH_OK.has(key) || isPassThroughKey(key) : checkField(key, value);
    if (!ok) return undefined;
  }
  // Both required keys were checked above when present; make sure they are.
  if (typeof body.model !== 'string' || !Array.isArray(body.messages)) return undefined;
  return body as ChatCompletionRequestBody;
}
