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
