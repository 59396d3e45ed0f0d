// ChatRequest → Gemini `generateContent` body (PROTOCOLS.md §5.2). Pure mapping: messages, parts,
// tools, tool choice, generationConfig, thinking, JSON output, and the JSON-Schema → Gemini-Schema
// sanitiser shared by tool parameters and response schemas.
import type { ChatMessage, ChatRequest, ContentPart, ReasoningEffort, Warning } from '../core/types.ts';

export type GeminiPart = Record<string, unknown>;
export type GeminiContent = { role: 'user' | 'model'; parts: GeminiPart[] };
/** An outgoing request body (what we send is ours to type loosely). */
export type GeminiBody = Record<string, unknown>;

type AssistantMessage = Extract<ChatMessage, { role: 'assistant' }>;

/**
 * Gemini 3 validates the signature on the first functionCall part of every model step and answers
 * 400 without it. For history that never came from Gemini (another provider, or a client that
 * dropped `provider_metadata`), Google documents this value as the way to skip the check.
 */
export const SKIP_SIGNATURE_VALIDATOR = 'skip_thought_signature_validator';

/** Model id without the `models/` prefix Gemini accepts and returns. */
export const bareModel = (model: string) => model.replace(/^models\//, '');

/** The `thoughtSignature` stored in provider metadata (see gemini.ts), if any. */
export function readSignature(metadata: { gemini?: Record<string, unknown> } | undefined): string | undefined {
  const value = metadata?.gemini?.thoughtSignature;
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Builds the body; unsupported settings become warnings. */
export function buildGeminiBody(request: ChatRequest): { body: GeminiBody; warnings: Warning[] } {
  const warnings: Warning[] = [];
  const model = bareModel(request.model);
  const { contents, system } = mapMessages(request.messages, model, warnings);
  const body: GeminiBody = { contents };
  if (system) body.systemInstruction = { parts: [{ text: system }] };

  if (request.tools?.length) {
    body.tools = [
      {
        functionDeclarations: request.tools.map(({ name, description, parameters }) => {
          const declaration: Record<string, unknown> = { name };
          if (description) declaration.description = description;
          const schema = toGeminiSchema(parameters);
          if (schema) declaration.parameters = schema; // an empty object schema is omitted (Gemini rejects it)
          return declaration;
        }),
      },
    ];
  }
  const choice = request.toolChoice;
  if (choice) {
    const mode = typeof choice === 'object' ? 'ANY' : { auto: 'AUTO', none: 'NONE', required: 'ANY' }[choice];
    const config: Record<string, unknown> = { mode };
    if (typeof choice === 'object') config.allowedFunctionNames = [choice.name];
    body.toolConfig = { functionCallingConfig: config };
  }
  if (request.parallelToolCalls === false) {
    warnings.push({ type: 'unsupported-setting', setting: 'parallelToolCalls', detail: 'Gemini cannot disable parallel function calls' });
  }
  if (request.user !== undefined) {
    warnings.push({ type: 'unsupported-setting', setting: 'user', detail: 'Gemini has no end-user identifier' });
  }

  const config: Record<string, unknown> = {};
  const set = (key: string, value: unknown) => {
    if (value !== undefined) config[key] = value;
  };
  set('temperature', request.temperature);
  set('topP', request.topP);
  set('maxOutputTokens', request.maxOutputTokens);
  set('stopSequences', request.stop);
  set('seed', request.seed);
  const format = request.responseFormat;
  if (format?.type === 'json') {
    // Structured output goes through the same sanitiser as tool parameters (`responseSchema`, the
    // OpenAPI subset every Gemini model accepts) rather than `responseJsonSchema` (2.5+ only).
    config.responseMimeType = 'application/json';
    const schema = format.schema ? toGeminiSchema(format.schema) : undefined;
    if (schema) config.responseSchema = schema;
  }
  if (request.reasoningEffort && /^(gemini-(1\.|2\.0-)|gemma-)/.test(model)) {
    warnings.push({ type: 'unsupported-setting', setting: 'reasoningEffort', detail: `${model} does not think` });
  } else if (request.reasoningEffort) {
    config.thinkingConfig = mapReasoningEffort(request.reasoningEffort, model, warnings);
  }
  applyExtra(request.extra ?? {}, body, config, warnings);

  // Operator-configured options for this provider type: top-level keys, generationConfig merged.
  const { generationConfig, contents: _c, ...options } = request.providerOptions?.gemini ?? {};
  Object.assign(body, options);
  if (generationConfig && typeof generationConfig === 'object') Object.assign(config, generationConfig);
  if (Object.keys(config).length > 0) body.generationConfig = config;
  return { body, warnings };
}

// ---------------------------------------------------------------------------------------------
// Messages

/**
 * System/developer messages → one systemInstruction; `assistant` → `model`; tool results → one
 * `user` turn of functionResponse parts; consecutive same-role turns merged (Gemini wants them
 * alternating, and every functionResponse of a step in one turn).
 */
function mapMessages(messages: ChatMessage[], model: string, warnings: Warning[]) {
  const callNames = new Map<string, string>();
  for (const message of messages) {
    if (message.role === 'assistant') for (const call of message.toolCalls ?? []) callNames.set(call.id, call.name);
  }
  const system: string[] = [];
  const contents: GeminiContent[] = [];
  const push = (role: GeminiContent['role'], parts: GeminiPart[]) => {
    if (parts.length === 0) return;
    const last = contents.at(-1);
    if (last?.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  };
  for (const message of messages) {
    switch (message.role) {
      case 'system':
        system.push(message.content);
        break;
      case 'user':
        push('user', typeof message.content === 'string' ? [{ text: message.content }] : message.content.map((part) => mapUserPart(part, warnings)));
        break;
      case 'assistant':
        push('model', mapAssistantParts(message, model, warnings));
        break;
      case 'tool': {
        let name = callNames.get(message.toolCallId);
        if (name === undefined) {
          name = message.toolCallId;
          warnings.push({
            type: 'other',
            message: `tool result '${message.toolCallId}' answers no earlier tool call; its id is sent as the function name`,
          });
        }
        push('user', [{ functionResponse: { name, response: toFunctionResponse(message.content) } }]);
        break;
      }
    }
  }
  const instruction = system.join('\n\n');
  // Gemma models served by the Gemini API reject systemInstruction ("Developer instruction is not
  // enabled"); the instruction goes in front of the first user turn instead.
  if (instruction && /^gemma-/.test(model)) {
    const first = contents.find((content) => content.role === 'user');
    if (first) first.parts.unshift({ text: instruction });
    else contents.unshift({ role: 'user', parts: [{ text: instruction }] });
    return { contents, system: undefined };
  }
  return { contents, system: instruction || undefined };
}

/**
 * Images: `data:` URLs are inlined (`inlineData`, base64 without the prefix). Any other URL goes
 * as `fileData` {mimeType, fileUri}: since January 2026 the Gemini API fetches public and signed
 * https URLs itself (besides Files-API and gs:// URIs), which the adapter — pure, with no I/O —
 * cannot do. A URL Gemini cannot fetch gets a 400 from Gemini (a visible error), never a silently
 * image-less answer. `detail` has no per-image equivalent (mediaResolution is global) and is ignored.
 */
function mapUserPart(part: ContentPart, warnings: Warning[]): GeminiPart {
  if (part.type === 'text') return { text: part.text };
  const inline = parseDataUrl(part.url);
  if (inline) return { inlineData: { mimeType: part.mediaType ?? inline.mimeType, data: inline.data } };
  let mimeType = part.mediaType ?? guessImageType(part.url);
  if (!mimeType) {
    mimeType = 'image/jpeg';
    warnings.push({ type: 'other', message: `image URL without a known extension sent to Gemini as ${mimeType}` });
  }
  return { fileData: { mimeType, fileUri: part.url } };
}

function parseDataUrl(url: string): { mimeType: string; data: string } | undefined {
  const match = /^data:([^;,]*)((?:;[^;,]*)*),(.*)$/is.exec(url);
  if (!match) return undefined;
  const mimeType = match[1]?.toLowerCase() || 'application/octet-stream';
  const isBase64 = /;base64$/i.test(match[2] ?? '');
  const payload = match[3] ?? '';
  let data = payload;
  if (!isBase64) {
    let text = payload;
    try {
      text = decodeURIComponent(payload);
    } catch {}
    data = Buffer.from(text, 'utf8').toString('base64');
  }
  return { mimeType, data };
}

const IMAGE_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  heic: 'image/heic',
  heif: 'image/heif',
};

function guessImageType(url: string): string | undefined {
  let pathname = url;
  try {
    pathname = new URL(url).pathname;
  } catch {}
  const extension = /\.([a-z0-9]+)$/i.exec(pathname)?.[1]?.toLowerCase();
  return extension ? IMAGE_TYPES[extension] : undefined;
}

/**
 * An assistant turn as `model` parts: its text (carrying the message-level thoughtSignature, which
 * came on a text or thought part), then one functionCall part per tool call with args parsed back
 * to an object and its own thoughtSignature re-attached. Reasoning text is not replayed.
 */
function mapAssistantParts(message: AssistantMessage, model: string, warnings: Warning[]): GeminiPart[] {
  const parts: GeminiPart[] = [];
  if (message.content) {
    const part: GeminiPart = { text: message.content };
    const signature = readSignature(message.providerMetadata);
    if (signature) part.thoughtSignature = signature;
    parts.push(part);
  }
  (message.toolCalls ?? []).forEach((call, index) => {
    const part: GeminiPart = { functionCall: { name: call.name, args: parseArguments(call.arguments, call.name, warnings) } };
    let signature = readSignature(call.providerMetadata);
    if (!signature && index === 0 && /^gemini-3/.test(model)) {
      signature = SKIP_SIGNATURE_VALIDATOR;
      warnings.push({
        type: 'other',
        message: `tool call '${call.id}' has no Gemini thoughtSignature (did the client drop provider_metadata?); sent with ${SKIP_SIGNATURE_VALIDATOR}`,
      });
    }
    if (signature) part.thoughtSignature = signature;
    parts.push(part);
  });
  return parts;
}

function parseArguments(text: string, name: string, warnings: Warning[]): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text || '{}');
    if (isPlainObject(value)) return value;
  } catch {}
  warnings.push({ type: 'other', message: `arguments of tool call '${name}' are not a JSON object; sent as {}` });
  return {};
}

/** Gemini wants an object: JSON objects go as they are, anything else is wrapped as {result}. */
function toFunctionResponse(content: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(content);
    return isPlainObject(value) ? value : { result: value };
  } catch {
    return { result: content };
  }
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

// ---------------------------------------------------------------------------------------------
// Thinking

/** Gemini 2.5 thinking budgets (tokens) per effort; every value is valid on Pro, Flash and Flash-Lite. */
const THINKING_BUDGETS: Record<Exclude<ReasoningEffort, 'none'>, number> = {
  minimal: 512,
  low: 1024,
  medium: 2048,
  high: 8192,
  xhigh: 24576,
};

/**
 * reasoning_effort → thinkingConfig, with thought summaries on (`includeThoughts`) so they come
 * back as reasoning. Gemini 3 takes a thinkingLevel (Pro: low/high; Flash also minimal/medium);
 * 2.5 takes a token budget, 0 turns thinking off except on Pro, which cannot.
 */
function mapReasoningEffort(effort: ReasoningEffort, model: string, warnings: Warning[]): Record<string, unknown> {
  const pro = /-pro\b/.test(model);
  if (/^gemini-3/.test(model)) {
    const flash = /flash/.test(model);
    const levels: Record<ReasoningEffort, string> = flash
      ? { none: 'minimal', minimal: 'minimal', low: 'low', medium: 'medium', high: 'high', xhigh: 'high' }
      : { none: 'low', minimal: 'low', low: 'low', medium: 'high', high: 'high', xhigh: 'high' };
    if (effort === 'none') {
      warnings.push({ type: 'unsupported-setting', setting: 'reasoningEffort', detail: `Gemini 3 cannot turn thinking off; sent thinkingLevel ${levels.none}` });
      return { thinkingLevel: levels.none };
    }
    return { includeThoughts: true, thinkingLevel: levels[effort] };
  }
  if (effort === 'none') {
    if (!pro) return { thinkingBudget: 0 };
    warnings.push({ type: 'unsupported-setting', setting: 'reasoningEffort', detail: 'Gemini 2.5 Pro cannot turn thinking off; sent the minimum budget (128)' });
    return { thinkingBudget: 128 };
  }
  return { includeThoughts: true, thinkingBudget: THINKING_BUDGETS[effort] };
}

// ---------------------------------------------------------------------------------------------
// Unmodelled parameters (ChatRequest.extra)

/**
 * OpenAI parameters with a Gemini equivalent are mapped; Google's own OpenAI-compatibility
 * extension `extra_body: {google: {cached_content, thinking_config, safety_settings}}` (and a bare
 * top-level `cached_content`) is honoured; everything else is dropped with a warning.
 */
function applyExtra(extra: Record<string, unknown>, body: GeminiBody, config: Record<string, unknown>, warnings: Warning[]) {
  const unsupported = (setting: string, detail = 'not supported by Gemini') =>
    warnings.push({ type: 'unsupported-setting', setting, detail });
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined || value === null || value === false) continue;
    switch (key) {
      case 'n':
        if (value === 1) config.candidateCount = 1;
        else unsupported('n', 'only one choice is supported');
        break;
      case 'presence_penalty':
        config.presencePenalty = value;
        break;
      case 'frequency_penalty':
        config.frequencyPenalty = value;
        break;
      case 'top_k':
        config.topK = value;
        break;
      case 'cached_content':
        body.cachedContent = value;
        break;
      case 'extra_body': {
        const { google, ...rest } = isPlainObject(value) ? value : {};
        for (const other of Object.keys(rest)) unsupported(`extra_body.${other}`);
        if (!isPlainObject(google)) break;
        for (const [option, setting] of Object.entries(google)) {
          if (option === 'cached_content') body.cachedContent = setting;
          else if (option === 'safety_settings') body.safetySettings = setting;
          else if (option === 'thinking_config' && isPlainObject(setting)) config.thinkingConfig = camelKeys(setting);
          else unsupported(`extra_body.google.${option}`);
        }
        break;
      }
      default:
        unsupported(key);
    }
  }
}

function camelKeys(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).map(([key, v]) => [key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), v]));
}

// ---------------------------------------------------------------------------------------------
// JSON Schema → Gemini Schema (an OpenAPI 3.0 subset)

type JsonSchema = Record<string, unknown>;

/** Keywords Gemini's Schema accepts and we copy as they are. */
const COPIED = ['title', 'description', 'nullable', 'minItems', 'maxItems', 'minProperties', 'maxProperties', 'minLength', 'maxLength', 'pattern', 'minimum', 'maximum', 'example', 'propertyOrdering'];

/** `format` values Gemini accepts, per type; others (uri, email, …) are dropped. */
const FORMATS: Record<string, string[]> = { string: ['enum', 'date-time'], integer: ['int32', 'int64'], number: ['float', 'double'] };

/**
 * Rewrites a JSON Schema into what Gemini's `parameters`/`responseSchema` accept: `$ref`s inlined
 * from `$defs`/`definitions`, `type: [T, "null"]` and `anyOf [.., {type: null}]` → `nullable`,
 * `oneOf` → `anyOf`, `allOf` merged, `const` → `enum`, non-string enums moved into the
 * description, and unknown keywords (additionalProperties, $schema, default, …) dropped.
 * Returns undefined for an object (or untyped) schema without properties at the root: Gemini
 * rejects `properties: {}` for OBJECT, and a function without parameters simply has none.
 */
export function toGeminiSchema(schema: JsonSchema): JsonSchema | undefined {
  const definitions = { ...asObject(schema.definitions), ...asObject(schema.$defs) };
  const converted = convertSchema(schema, definitions, new Set());
  const bare = Object.keys(converted).every((key) => ['type', 'title', 'description', 'nullable'].includes(key));
  if (bare && (converted.type === undefined || converted.type === 'object')) return undefined;
  return converted;
}

function asObject(value: unknown): Record<string, unknown> {
  return isPlainObject(value) ? value : {};
}

function convertSchema(input: unknown, definitions: Record<string, unknown>, seen: Set<string>): JsonSchema {
  if (!isPlainObject(input)) return {};
  let schema = input;
  const ref = typeof schema.$ref === 'string' ? schema.$ref : undefined;
  if (ref) {
    const name = /^#\/(?:\$defs|definitions)\/(.+)$/.exec(ref)?.[1];
    const target = name === undefined ? undefined : definitions[decodeURIComponent(name)];
    // Unknown or recursive references cannot be inlined: the most Gemini can know is "an object".
    if (!name || !isPlainObject(target) || seen.has(name)) return { type: 'object', ...describe(schema) };
    const { $ref: _r, ...siblings } = schema;
    const inner = convertSchema(target, definitions, new Set([...seen, name]));
    return { ...inner, ...convertSchema(siblings, definitions, seen) };
  }

  const out: JsonSchema = {};
  // type: "string" | ["string", "null"] | ["string", "number"]
  const types = (Array.isArray(schema.type) ? schema.type : schema.type === undefined ? [] : [schema.type]).filter(
    (t): t is string => typeof t === 'string',
  );
  const nonNull = types.filter((t) => t !== 'null');
  if (nonNull.length === 1) out.type = nonNull[0];
  else if (nonNull.length > 1) out.anyOf = nonNull.map((type) => ({ type }));
  else if (types.length === 1) out.type = 'null';
  if (types.includes('null') && nonNull.length > 0) out.nullable = true;

  for (const key of COPIED) if (schema[key] !== undefined) out[key] = schema[key];

  const values = schema.const !== undefined ? [schema.const] : Array.isArray(schema.enum) ? schema.enum : undefined;
  if (values) {
    const strings = values.filter((v) => v !== null);
    if (strings.every((v) => typeof v === 'string')) {
      out.enum = strings;
      out.type ??= 'string';
      if (strings.length < values.length) out.nullable = true;
    } else {
      const allowed = `Allowed values: ${values.map((v) => JSON.stringify(v)).join(', ')}.`;
      out.description = typeof out.description === 'string' ? `${out.description} ${allowed}` : allowed;
    }
  }

  if (typeof schema.format === 'string' && typeof out.type === 'string' && FORMATS[out.type]?.includes(schema.format)) {
    out.format = schema.format;
  }

  if (isPlainObject(schema.properties)) {
    const properties = Object.fromEntries(
      Object.entries(schema.properties).map(([key, value]) => [key, convertSchema(value, definitions, seen)]),
    );
    if (Object.keys(properties).length > 0) {
      out.properties = properties;
      out.type ??= 'object';
      if (Array.isArray(schema.required)) {
        const required = schema.required.filter((key): key is string => typeof key === 'string' && key in properties);
        if (required.length > 0) out.required = required;
      }
    }
  }
  if (isPlainObject(schema.items)) out.items = convertSchema(schema.items, definitions, seen);
  else if (Array.isArray(schema.items) && schema.items.length > 0) out.items = convertSchema(schema.items[0], definitions, seen);

  const variants = [schema.anyOf, schema.oneOf].find(Array.isArray);
  if (variants) {
    const isNull = (v: unknown) => isPlainObject(v) && v.type === 'null' && Object.keys(v).length === 1;
    const rest = variants.filter((v) => !isNull(v));
    if (rest.length < variants.length) out.nullable = true;
    if (rest.length === 1) mergeInto(out, convertSchema(rest[0], definitions, seen));
    else if (rest.length > 1) out.anyOf = rest.map((v) => convertSchema(v, definitions, seen));
  }
  if (Array.isArray(schema.allOf)) {
    for (const part of schema.allOf) mergeInto(out, convertSchema(part, definitions, seen));
  }
  return out;
}

function describe(schema: JsonSchema): JsonSchema {
  return typeof schema.description === 'string' ? { description: schema.description } : {};
}

/** allOf: later parts add properties and required names; other keywords fill gaps. */
function mergeInto(target: JsonSchema, part: JsonSchema) {
  for (const [key, value] of Object.entries(part)) {
    if (key === 'properties' && isPlainObject(target.properties) && isPlainObject(value)) {
      target.properties = { ...target.properties, ...value };
    } else if (key === 'required' && Array.isArray(target.required) && Array.isArray(value)) {
      target.required = [...new Set([...target.required, ...value])];
    } else if (target[key] === undefined) {
      target[key] = value;
    }
  }
}
