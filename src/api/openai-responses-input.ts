// Building blocks of the Responses parser: tools and content parts → the internal vocabulary, and
// the refusal helper (the parser turns a RequestRejected into `{ ok: false, error }`).
import type { ContentPart, ToolDefinition, Warning } from '../core/types.ts';
import type {
  RequestError,
  WireContentPart,
  WireCustomTool,
  WireFunctionTool,
  WireNamespaceTool,
} from './openai-responses-schema.ts';

/** Joins a namespace tool's name and a member's name into one portable function name. */
export const NAMESPACE_SEPARATOR = '__';

/** How much of a custom tool's grammar goes into the function description. */
export const MAX_GRAMMAR_CHARS = 4000;

/**
 * A custom (freeform) tool as a function every upstream can call: one required string parameter
 * `input` carries the freeform text, and the grammar (if any) is described in plain text.
 */
export function customToolFunction(tool: WireCustomTool, name = tool.name): ToolDefinition {
  const lines: string[] = [];
  if (tool.description) lines.push(tool.description);
  const format = tool.format as { type: string; syntax?: unknown; definition?: unknown } | null | undefined;
  let inputDescription = 'The raw freeform input of the tool (plain text, not JSON).';
  if (format?.type === 'grammar' && typeof format.definition === 'string' && format.definition) {
    const syntax = typeof format.syntax === 'string' ? `${format.syntax} ` : '';
    let grammar = format.definition;
    if (grammar.length > MAX_GRAMMAR_CHARS) grammar = `${grammar.slice(0, MAX_GRAMMAR_CHARS)}\n… (grammar truncated)`;
    lines.push(`The input must follow this ${syntax}grammar:\n${grammar}`);
    inputDescription = 'The raw freeform input of the tool, following the grammar in the tool description.';
  }
  const definition: ToolDefinition = {
    name,
    parameters: {
      type: 'object',
      properties: { input: { type: 'string', description: inputDescription } },
      required: ['input'],
      additionalProperties: false,
    },
  };
  const description = lines.join('\n\n');
  if (description) definition.description = description;
  return definition;
}

/** Instruction parts are separate paragraphs; assistant text and tool output are one text split up. */
const INSTRUCTION_SEPARATOR = '\n';

/** A client-fixable problem found while mapping (after schema validation). */
export class RequestRejected extends Error {
  constructor(readonly error: RequestError) {
    super(error.message);
  }
}

export const reject = (message: string, param: string, code = 'unsupported_value'): never => {
  throw new RequestRejected({ message, param, code });
};

// ---------------------------------------------------------------------------------------------
// Tools

export type ToolMapper = ReturnType<typeof createToolMapper>;

/**
 * Collects tool definitions from `tools[]` and `additional_tools` items: functions as they are,
 * custom tools as functions (see customToolFunction), skipping what cannot run elsewhere.
 */
export function createToolMapper(warnings: Warning[]) {
  const definitions: ToolDefinition[] = [];
  const namespaced: Record<string, { namespace: string; name: string }> = {};
  /** Names (as sent upstream) of the functions that stand for custom tools. */
  const custom = new Set<string>();
  const skipped = new Set<string>();
  /** `label` names the tool type, e.g. `'web_search'` or `'custom' (in namespace 'x')`. */
  const skip = (label: string) => {
    if (skipped.has(label)) return;
    skipped.add(label);
    warnings.push({
      type: 'unsupported-setting',
      setting: 'tools',
      detail: `tools of type ${label} are not supported by this gateway and were skipped`,
    });
  };
  const define = (tool: WireFunctionTool, name = tool.name) => {
    const definition: ToolDefinition = {
      name,
      // OpenAI: omitting `parameters` defines a function with an empty parameter list.
      parameters: tool.parameters ?? { type: 'object', properties: {} },
    };
    if (tool.description != null) definition.description = tool.description;
    if (tool.strict != null) definition.strict = tool.strict;
    if (!definitions.some((existing) => existing.name === name)) definitions.push(definition);
  };
  const defineCustom = (tool: WireCustomTool, name = tool.name) => {
    if (definitions.some((existing) => existing.name === name)) return;
    definitions.push(customToolFunction(tool, name));
    custom.add(name);
  };
  return {
    definitions,
    namespaced,
    custom,
    /** Adds validated `tools[]` entries (top-level or from an `additional_tools` item). */
    add(tools: { type: string }[]) {
      for (const tool of tools) {
        if (tool.type === 'function') define(tool as WireFunctionTool);
        else if (tool.type === 'custom') defineCustom(tool as WireCustomTool);
        else if (tool.type === 'namespace') {
          const space = tool as WireNamespaceTool;
          for (const member of space.tools) {
            if (member.type !== 'function' && member.type !== 'custom') {
              skip(`'${member.type}' (in namespace '${space.name}')`);
              continue;
            }
            const memberName = (member as WireFunctionTool | WireCustomTool).name;
            const name = `${space.name}${NAMESPACE_SEPARATOR}${memberName}`;
            namespaced[name] = { namespace: space.name, name: memberName };
            if (member.type === 'custom') defineCustom(member as WireCustomTool, name);
            else define(member as WireFunctionTool, name);
          }
        } else skip(`'${tool.type}'`);
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Content

const isText = (part: WireContentPart): part is Extract<WireContentPart, { type: 'input_text' | 'output_text' }> =>
  part.type === 'input_text' || part.type === 'output_text';

const imageOnlyIn = (param: string): never =>
  reject("Image parts are only supported in user messages and function call outputs.", `${param}.type`);

export function instructionText(content: string | WireContentPart[], param: string): string {
  if (typeof content === 'string') return content;
  return content
    .map((part, index) => {
      if (part.type === 'input_image') imageOnlyIn(`${param}.content[${index}]`);
      return part.type === 'refusal' ? part.refusal : (part as { text: string }).text;
    })
    .join(INSTRUCTION_SEPARATOR);
}

export function assistantText(content: string | WireContentPart[], param: string): { text: string; refusal: string } {
  if (typeof content === 'string') return { text: content, refusal: '' };
  let text = '';
  let refusal = '';
  content.forEach((part, index) => {
    if (part.type === 'input_image') imageOnlyIn(`${param}.content[${index}]`);
    else if (part.type === 'refusal') refusal += part.refusal;
    else text += part.text;
  });
  return { text, refusal };
}

export function userContent(content: string | WireContentPart[], param: string): string | ContentPart[] {
  if (typeof content === 'string') return content;
  return content.map((part, index): ContentPart => {
    if (part.type === 'input_image') return toImagePart(part, `${param}.content[${index}]`);
    return { type: 'text', text: part.type === 'refusal' ? part.refusal : part.text };
  });
}

export function toolOutput(output: string | WireContentPart[], param: string): { text: string; images: ContentPart[] } {
  if (typeof output === 'string') return { text: output, images: [] };
  const images: ContentPart[] = [];
  const texts: string[] = [];
  output.forEach((part, index) => {
    if (part.type === 'input_image') images.push(toImagePart(part, `${param}[${index}]`));
    else texts.push(isText(part) ? part.text : part.refusal);
  });
  return { text: texts.join(''), images };
}

function toImagePart(part: Extract<WireContentPart, { type: 'input_image' }>, param: string): ContentPart {
  if (!part.image_url) {
    if (part.file_id) {
      reject(
        "Images by 'file_id' are not supported: this gateway has no Files API. Send 'image_url' (https or data URL).",
        `${param}.file_id`,
      );
    }
    reject(`Missing required parameter: '${param}.image_url'.`, `${param}.image_url`, 'missing_required_parameter');
  }
  const url = part.image_url!;
  const image: ContentPart = { type: 'image', url };
  const mediaType = /^data:([^;,]+)[;,]/i.exec(url)?.[1]?.toLowerCase();
  if (mediaType) image.mediaType = mediaType;
  // 'original' (full resolution) has no equivalent elsewhere; 'high' is the closest hint.
  if (part.detail) image.detail = part.detail === 'original' ? 'high' : part.detail;
  return image;
}
