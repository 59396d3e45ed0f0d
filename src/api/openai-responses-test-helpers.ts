// Test fixtures (test-only): request bodies shaped as Codex CLI 0.169 and the openai SDK send them
// (../shared/docs/AGENT-CLIENTS.md §3.2), and upstream event sequences.
import type { StreamEvent } from '../core/types.ts';

const execCommand = {
  type: 'function',
  name: 'exec_command',
  description: 'Runs a command in a PTY, returning output or a session ID for ongoing interaction.',
  strict: false,
  parameters: {
    type: 'object',
    properties: {
      cmd: { type: 'string', description: 'Shell command to execute.' },
      workdir: { type: 'string' },
      tty: { type: 'boolean' },
      yield_time_ms: { type: 'number' },
    },
    required: ['cmd'],
    additionalProperties: false,
  },
};

export const codexTools = [
  execCommand,
  {
    type: 'function',
    name: 'write_stdin',
    description: 'Writes characters to an existing exec session.',
    strict: false,
    parameters: {
      type: 'object',
      properties: { session_id: { type: 'number' }, chars: { type: 'string' } },
      required: ['session_id'],
    },
  },
  {
    type: 'function',
    name: 'view_image',
    description: 'Attach a local image.',
    strict: false,
    parameters: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] },
  },
  {
    type: 'namespace',
    name: 'multi_agent_v1',
    description: 'Sub-agents.',
    tools: [
      {
        type: 'function',
        name: 'spawn_agent',
        description: 'Spawn a sub-agent.',
        strict: false,
        parameters: { type: 'object', properties: { message: { type: 'string' } }, required: ['message'] },
      },
    ],
  },
  { type: 'web_search', external_web_access: false },
];

const developer = (id: string, text: string) => ({
  type: 'message',
  role: 'developer',
  id,
  content: [{ type: 'input_text', text }],
});
const user = (id: string, text: string) => ({
  type: 'message',
  role: 'user',
  id,
  content: [{ type: 'input_text', text }],
});

/** Turn 1 of `codex exec "list the files"` with an unknown model slug. */
export function codexTurn1() {
  return {
    model: 'gw-mock',
    input: [
      developer('msg_dev1', 'You are Codex, a coding agent based on GPT-5.'),
      developer('msg_dev2', '<permissions instructions>workspace-write</permissions instructions>'),
      user('msg_env', '<environment_context>\n  <cwd>/tmp/w</cwd>\n</environment_context>'),
      user('msg_prompt', 'list the files'),
    ],
    tools: codexTools,
    tool_choice: 'auto',
    parallel_tool_calls: true,
    reasoning: { summary: 'auto' },
    store: false,
    stream: true,
    include: ['reasoning.encrypted_content'],
    prompt_cache_key: '0199a0c2-1b7e-7a51-9d3e-5b6f0e9c2a11',
    client_metadata: { 'x-codex-turn-metadata': '{"turn_id":"t1","sandbox":"workspace-write"}' },
  };
}

/** Turn 2: turn 1 plus the model's items (as Codex records them) and the tool's output. */
export function codexTurn2(modelItems: unknown[]) {
  const turn = codexTurn1();
  return {
    ...turn,
    input: [
      ...turn.input,
      ...modelItems,
      {
        type: 'function_call_output',
        id: 'fco_1',
        call_id: 'call_1',
        output: 'Chunk ID: 4f2a\nProcess exited with code 0\nOriginal token count: 3\nOutput:\nhello-from-tool\n',
      },
    ],
  };
}

/** What a Gemini upstream streams for turn 1: thoughts, a signed function call, usage. */
export const geminiToolTurn: StreamEvent[] = [
  { type: 'response-start', warnings: [], model: 'gemini-3-pro' },
  { type: 'reasoning-delta', delta: 'The user wants the files. ' },
  { type: 'reasoning-delta', delta: 'I will run ls.' },
  {
    type: 'tool-call-delta',
    index: 0,
    id: 'call_1',
    name: 'exec_command',
    argumentsDelta: '{"cmd":"ls -la"}',
    providerMetadata: { gemini: { thoughtSignature: 'c2lnLWNhbGwtMQ==' } },
  },
  {
    type: 'finish',
    finishReason: { unified: 'tool-calls', raw: 'STOP' },
    usage: { inputTokens: 1200, cachedInputTokens: 1000, outputTokens: 80, reasoningTokens: 60 },
    providerMetadata: { gemini: { thoughtSignature: 'c2lnLW1lc3NhZ2U=' } },
  },
];

// ---------------------------------------------------------------------------------------------
// Reading and checking a Responses event stream (gateway tests that read the wire as Codex does)

/** One SSE message of a Responses stream: its `event:` name and parsed `data`. */
export type WireEvent = { event: string | undefined; data: Record<string, any> };

/** Reads a whole `text/event-stream` body (Codex reads `type` from the data; the SDK wants `event:`). */
export async function readResponsesSSE(body: ReadableStream<Uint8Array> | null): Promise<WireEvent[]> {
  const text = await new Response(body).text();
  const events: WireEvent[] = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    let event: string | undefined;
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (data.length > 0) events.push({ event, data: JSON.parse(data.join('\n')) });
  }
  return events;
}

/**
 * Checks the structure of a Responses event stream and returns its terminal response:
 * `response.created`, `response.in_progress`, then output items one at a time with
 * `output_index` 0, 1, 2…, deltas on the open item that add up to its `.done` text, every event's
 * `sequence_number` equal to its position, and one terminal event (`response.completed` |
 * `response.incomplete`, or `response.failed` followed by `error`) whose `output` is the items as
 * `output_item.done` delivered them. Throws a descriptive Error on the first violation.
 */
export function checkResponsesEventSequence(
  events: Record<string, any>[],
  /** The `error` after `response.failed` was consumed by the SDK (which raises it instead of yielding it). */
  options: { errorRaised?: boolean } = {},
): Record<string, any> {
  const fail = (at: number, why: string): never => {
    throw new Error(`event ${at} (${events[at]?.type}): ${why}`);
  };
  if (events[0]?.type !== 'response.created') fail(0, 'the stream must start with response.created');
  if (events[1]?.type !== 'response.in_progress') fail(1, 'response.in_progress must follow response.created');
  const done: Record<string, any>[] = [];
  let open: { index: number; id: string; text: string; args: string; type: string } | undefined;
  let terminal: Record<string, any> | undefined;
  events.forEach((event, at) => {
    if (event.sequence_number !== at) fail(at, `sequence_number ${event.sequence_number}, expected ${at}`);
    if (terminal && !(terminal.type === 'response.failed' && event.type === 'error' && at === events.length - 1)) {
      fail(at, 'nothing may follow the terminal event (except one `error` after response.failed)');
    }
    const onOpen = () => {
      if (!open || event.output_index !== open.index || event.item_id !== open.id) fail(at, 'not on the open output item');
      return open!;
    };
    switch (event.type) {
      case 'response.output_item.added':
        if (open) fail(at, 'an item was added while another is open');
        if (event.output_index !== done.length) fail(at, `output_index ${event.output_index}, expected ${done.length}`);
        open = { index: event.output_index, id: event.item.id, text: '', args: '', type: event.item.type };
        break;
      case 'response.output_text.delta':
      case 'response.reasoning_summary_text.delta':
        onOpen().text += event.delta;
        break;
      case 'response.function_call_arguments.delta':
      case 'response.custom_tool_call_input.delta':
        onOpen().args += event.delta;
        break;
      case 'response.output_text.done':
      case 'response.reasoning_summary_text.done':
        if (onOpen().text !== event.text) fail(at, 'the deltas do not add up to the done text');
        break;
      case 'response.function_call_arguments.done':
        if (onOpen().args !== event.arguments) fail(at, 'the deltas do not add up to the done arguments');
        break;
      case 'response.custom_tool_call_input.done':
        if (onOpen().args !== event.input) fail(at, 'the deltas do not add up to the done input');
        break;
      case 'response.output_item.done': {
        if (!open || event.output_index !== open.index || event.item.id !== open.id) fail(at, 'output_item.done is not for the open item');
        const item = event.item as Record<string, any>;
        if (item.type === 'function_call' && item.arguments !== open!.args) fail(at, 'function_call arguments differ from the deltas');
        if (item.type === 'custom_tool_call' && item.input !== open!.args) fail(at, 'custom_tool_call input differs from the deltas');
        if (item.type === 'message' && item.content[0].text !== open!.text) fail(at, 'message text differs from the deltas');
        done.push(item);
        open = undefined;
        break;
      }
      case 'response.completed':
      case 'response.incomplete':
      case 'response.failed':
        terminal = event;
        if (event.response.status !== event.type.slice('response.'.length)) fail(at, 'status differs from the event type');
        if (event.type !== 'response.failed') {
          if (open) fail(at, 'an item is still open');
          if (JSON.stringify(event.response.output) !== JSON.stringify(done)) fail(at, 'response.output differs from the items delivered');
        }
        break;
    }
  });
  if (!terminal) fail(events.length - 1, 'the stream has no terminal event');
  if (terminal!.type === 'response.failed' && events.at(-1)?.type !== 'error' && !options.errorRaised) {
    fail(events.length - 1, 'response.failed must be followed by error');
  }
  return terminal!.response;
}
