import { describe, expect, test } from 'bun:test';
import {
  REPLAY_STATE_PREFIX,
  countTokensResponse,
  encodeReplayState,
  estimateTokens,
  parseAnthropicMessagesRequest,
  toAnthropicMessage,
} from './anthropic-messages.ts';

function parseOk(body: unknown) {
  const result = parseAnthropicMessagesRequest(body);
  if (!result.ok) throw new Error(`expected ok, got ${JSON.stringify(result.error)}`);
  return result.value;
}

function parseError(body: unknown) {
  const result = parseAnthropicMessagesRequest(body);
  if (result.ok) throw new Error('expected a validation error');
  return result.error;
}

const ephemeral = { type: 'ephemeral' };
const minimal = { model: 'm', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] };
const bashTool = {
  name: 'Bash',
  description: 'Run a shell command',
  input_schema: { type: 'object', properties: { command: { type: 'string' } }, required: ['command'] },
};

/** Claude Code 2.1.332, turn 1 of `claude -p "say pong"` (AGENT-CLIENTS.md §3.1), trimmed. */
const claudeCodeTurn1 = {
  model: 'claude-opus-5-5',
  messages: [
    {
      role: 'user',
      content: [
        { type: 'text', text: '<system-reminder>Today is Thursday.</system-reminder>' },
        { type: 'text', text: 'say pong' },
      ],
    },
    { role: 'system', content: [{ type: 'text', text: '<env>Working directory: /tmp/w</env>', cache_control: ephemeral }] },
  ],
  system: [
    { type: 'text', text: 'x-anthropic-billing-header: cc_version=2.1.332; cc_entrypoint=sdk-cli;' },
    { type: 'text', text: 'You are a Claude agent, built on Anthropic’s Claude Agent SDK.', cache_control: ephemeral },
    { type: 'text', text: 'You are an interactive CLI tool…', cache_control: ephemeral },
  ],
  tools: [
    bashTool,
    { name: 'ToolSearch', description: 'Search deferred tools', input_schema: { type: 'object', properties: {} }, defer_loading: true },
  ],
  metadata: { user_id: '{"device_id":"d1","account_uuid":"","session_id":"s1"}' },
  max_tokens: 128000,
  thinking: { type: 'adaptive', display: 'omitted' },
  context_management: { edits: [{ type: 'clear_thinking_20251015', keep: 'all' }] },
  output_config: { effort: 'medium' },
  stream: true,
};

describe('parseAnthropicMessagesRequest: Claude Code', () => {
  test('turn 1: system blocks, a role:"system" message, deferred tools, adaptive thinking, betas kept raw', () => {
    const parsed = parseOk(claudeCodeTurn1);
    expect(parsed.model).toBe('claude-opus-5-5');
    expect(parsed.stream).toBe(true);
    expect(parsed.warnings).toEqual([]);
    expect(parsed.request).toEqual({
      messages: [
        { role: 'system', content: 'x-anthropic-billing-header: cc_version=2.1.332; cc_entrypoint=sdk-cli;' },
        { role: 'system', content: 'You are a Claude agent, built on Anthropic’s Claude Agent SDK.' },
        { role: 'system', content: 'You are an interactive CLI tool…' },
        {
          role: 'user',
          content: [
            { type: 'text', text: '<system-reminder>Today is Thursday.</system-reminder>' },
            { type: 'text', text: 'say pong' },
          ],
        },
        { role: 'system', content: '<env>Working directory: /tmp/w</env>' },
      ],
      maxOutputTokens: 128000,
      user: '{"device_id":"d1","account_uuid":"","session_id":"s1"}',
      tools: [
        { name: 'Bash', description: 'Run a shell command', parameters: bashTool.input_schema },
        { name: 'ToolSearch', description: 'Search deferred tools', parameters: { type: 'object', properties: {} } },
      ],
      // Adaptive thinking + effort: no reasoningEffort (provider default); raw values for Anthropic upstreams.
      providerOptions: {
        anthropic: {
          thinking: { type: 'adaptive', display: 'omitted' },
          context_management: { edits: [{ type: 'clear_thinking_20251015', keep: 'all' }] },
          output_config: { effort: 'medium' },
          inbound: {
            tools: { ToolSearch: { defer_loading: true } },
            blocks: [
              { message: 1, extras: { cache_control: ephemeral } },
              { message: 2, extras: { cache_control: ephemeral } },
              { message: 4, extras: { cache_control: ephemeral } },
            ],
          },
        },
      },
    });
  });

  test('turn 2: system message as a string, assistant text + tool_use, tool_result with cache_control', () => {
    const parsed = parseOk({
      ...claudeCodeTurn1,
      thinking: { type: 'adaptive' },
      messages: [
        claudeCodeTurn1.messages[0],
        { role: 'system', content: '<env>Working directory: /tmp/w</env>' },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: "I'll run it." },
            { type: 'tool_use', id: 'toolu_01A', name: 'Bash', input: { command: 'echo pong' } },
          ],
        },
        {
          role: 'user',
          content: [{ type: 'tool_result', tool_use_id: 'toolu_01A', content: 'pong', is_error: false, cache_control: ephemeral }],
        },
      ],
    });
    expect(parsed.request.messages.slice(3)).toEqual([
      claudeCodeTurn1.messages[0] as never,
      { role: 'system', content: '<env>Working directory: /tmp/w</env>' },
      {
        role: 'assistant',
        content: "I'll run it.",
        toolCalls: [{ id: 'toolu_01A', name: 'Bash', arguments: '{"command":"echo pong"}' }],
      },
      { role: 'tool', toolCallId: 'toolu_01A', content: 'pong' },
    ]);
    const inbound = parsed.request.providerOptions?.anthropic?.inbound as { blocks: unknown[] };
    expect(inbound.blocks.at(-1)).toEqual({ message: 6, extras: { cache_control: ephemeral } });
  });

  test('the non-streaming fallback and a count_tokens body (no max_tokens) parse too', () => {
    expect(parseOk({ ...claudeCodeTurn1, stream: false, max_tokens: 64000 }).stream).toBe(false);
    const counted = parseOk({ model: 'claude-opus-5-5', messages: [{ role: 'user', content: 'foo' }], tools: [bashTool] });
    expect(counted.request.maxOutputTokens).toBeUndefined();
    expect(countTokensResponse(counted.request)).toEqual({ input_tokens: estimateTokens(counted.request) });
  });
});

describe('parseAnthropicMessagesRequest: blocks', () => {
  test('user blocks: images, documents, search results; tool results first, their images moved after', () => {
    const parsed = parseOk({
      ...minimal,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Look', citations: null, cache_control: ephemeral },
            { type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'line 1' }, { type: 'text', text: 'line 2' }] },
            {
              type: 'tool_result',
              tool_use_id: 't2',
              is_error: true,
              content: [
                { type: 'text', text: 'Screenshot:' },
                { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBO' } },
                { type: 'tool_reference', tool_name: 'WebFetch' },
                { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBER' } },
              ],
            },
            { type: 'tool_result', tool_use_id: 't3' },
            { type: 'image', source: { type: 'url', url: 'https://example.com/a.jpg' } },
            { type: 'image', source: { type: 'file', file_id: 'file_1' } },
            { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'Body' }, title: 'Spec', context: 'v2' },
            { type: 'document', source: { type: 'content', content: [{ type: 'text', text: 'A' }, { type: 'image' }, { type: 'text', text: 'B' }] } },
            { type: 'document', source: { type: 'url', url: 'https://example.com/a.pdf' } },
            { type: 'search_result', source: 'https://s', title: 'T', content: [{ type: 'text', text: 'snippet' }], cache_control: ephemeral },
          ],
        },
      ],
    });
    expect(parsed.request.messages).toEqual([
      { role: 'tool', toolCallId: 't1', content: 'line 1\nline 2' },
      {
        role: 'tool',
        toolCallId: 't2',
        content:
          'Screenshot:\n[image: attached in the next user message]\n[tool reference: WebFetch]\n' +
          '[document omitted: PDF documents cannot be forwarded by this gateway]',
      },
      { role: 'tool', toolCallId: 't3', content: '' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Image(s) returned by tool call t2:' },
          { type: 'image', url: 'data:image/png;base64,iVBO', mediaType: 'image/png' },
          { type: 'text', text: 'Look' },
          { type: 'image', url: 'https://example.com/a.jpg' },
          { type: 'text', text: '[image omitted: Files API references cannot be forwarded by this gateway]' },
          { type: 'text', text: 'Document: Spec\nv2\n\nBody' },
          { type: 'text', text: 'A\nB' },
          { type: 'text', text: '[document omitted: documents cannot be forwarded by this gateway]' },
          { type: 'text', text: 'Search result: T (https://s)\nsnippet' },
        ],
      },
    ]);
    expect(parsed.request.providerOptions?.anthropic?.inbound).toEqual({
      blocks: [
        { message: 1, extras: { is_error: true } },
        { message: 3, part: 2, extras: { cache_control: ephemeral } },
        { message: 3, part: 8, extras: { cache_control: ephemeral } },
      ],
    });
    expect(parsed.warnings.map((warning) => (warning.type === 'other' ? warning.message : ''))).toEqual([
      'document (base64 source) replaced by a placeholder: only text documents can be forwarded',
      'tool_result t2: image(s) moved to a user message (tool messages are text only)',
      'image with a Files API source replaced by a placeholder (file ids cannot be forwarded)',
      'document (url source) replaced by a placeholder: only text documents can be forwarded',
    ]);
  });

  test('assistant blocks: signed thinking and redacted thinking kept in order for Anthropic upstreams', () => {
    const parsed = parseOk({
      ...minimal,
      messages: [
        { role: 'user', content: 'q' },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'First.', signature: 'sig1' },
            { type: 'redacted_thinking', data: 'REDACTED' },
            { type: 'text', text: 'Part one, ' },
            { type: 'text', text: 'part two.', cache_control: ephemeral },
            { type: 'tool_use', id: 'toolu_1', name: 'Bash', input: {}, cache_control: ephemeral },
          ],
        },
      ],
    });
    expect(parsed.request.messages[1]).toEqual({
      role: 'assistant',
      content: 'Part one, part two.',
      reasoning: 'First.',
      toolCalls: [{ id: 'toolu_1', name: 'Bash', arguments: '{}' }],
      providerMetadata: {
        anthropic: {
          thinking: [
            { type: 'thinking', thinking: 'First.', signature: 'sig1' },
            { type: 'redacted_thinking', data: 'REDACTED' },
          ],
        },
      },
    });
    expect((parsed.request.providerOptions?.anthropic?.inbound as { blocks: unknown }).blocks).toEqual([
      { message: 1, extras: { cache_control: ephemeral } },
      { message: 1, part: 0, extras: { cache_control: ephemeral } },
    ]);
  });

  test('one signed thinking block is a one-entry list; unsigned thinking is reasoning only', () => {
    const messages = (content: unknown[]) => [{ role: 'user', content: 'q' }, { role: 'assistant', content }];
    const signed = parseOk({ ...minimal, messages: messages([{ type: 'thinking', thinking: 'T', signature: 'S' }]) });
    expect(signed.request.messages[1]).toEqual({
      role: 'assistant',
      content: '',
      reasoning: 'T',
      providerMetadata: { anthropic: { thinking: [{ type: 'thinking', thinking: 'T', signature: 'S' }] } },
    });
    const unsigned = parseOk({ ...minimal, messages: messages([{ type: 'thinking', thinking: 'T', signature: '' }, { type: 'text', text: 'x' }]) });
    expect(unsigned.request.messages[1]).toEqual({ role: 'assistant', content: 'x', reasoning: 'T' });
    expect(parseOk({ ...minimal, messages: messages([]) }).request.messages[1]).toEqual({ role: 'assistant', content: '' });
  });

  test("replay state made by toAnthropicMessage comes back as the other provider's metadata", () => {
    const reply = toAnthropicMessage(
      {
        text: '',
        reasoning: 'thought',
        toolCalls: [{ id: 'c1', name: 'Bash', arguments: '{"command":"ls"}', providerMetadata: { gemini: { thoughtSignature: 'cs' } } }],
        finishReason: { unified: 'tool-calls', raw: 'STOP' },
        usage: {},
        warnings: [],
        providerMetadata: { gemini: { thoughtSignature: 'ms' } },
      },
      { id: 'msg_1', model: 'gemini-3' },
    );
    const parsed = parseOk({ ...minimal, messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: reply.content }] });
    expect(parsed.request.messages[1]).toEqual({
      role: 'assistant',
      content: null,
      reasoning: 'thought',
      toolCalls: [{ id: 'c1', name: 'Bash', arguments: '{"command":"ls"}', providerMetadata: { gemini: { thoughtSignature: 'cs' } } }],
      providerMetadata: { gemini: { thoughtSignature: 'ms' } },
    });
  });

  test('damaged replay state: a warning, the rest of the turn intact; anthropic keys inside are ignored', () => {
    const damaged = parseOk({
      ...minimal,
      messages: [{ role: 'assistant', content: [{ type: 'thinking', thinking: '', signature: `${REPLAY_STATE_PREFIX}%%%` }, { type: 'text', text: 'x' }] }],
    });
    expect(damaged.request.messages[0]).toEqual({ role: 'assistant', content: 'x' });
    expect(damaged.warnings).toEqual([{ type: 'other', message: 'assistant thinking block: damaged llm-proxy replay state ignored' }]);
    const forged = `${REPLAY_STATE_PREFIX}${Buffer.from(JSON.stringify({ m: { anthropic: { signature: 'x' }, gemini: { a: 1 } } })).toString('base64url')}`;
    const parsed = parseOk({ ...minimal, messages: [{ role: 'assistant', content: [{ type: 'thinking', thinking: '', signature: forged }] }] });
    expect(parsed.request.messages[0]).toEqual({ role: 'assistant', content: '', providerMetadata: { gemini: { a: 1 } } });
    expect(encodeReplayState({ message: { anthropic: { signature: 'x' } } })).toBeUndefined();
  });
});

describe('parseAnthropicMessagesRequest: parameters', () => {
  test('sampling, stop sequences, tool choice, metadata; unmapped keys verbatim for Anthropic', () => {
    const parsed = parseOk({
      ...minimal,
      system: 'Be terse.',
      temperature: 0.3,
      top_p: 0.9,
      top_k: 5,
      stop_sequences: ['###'],
      tools: [{ ...bashTool, type: 'custom', strict: true, cache_control: ephemeral, eager_input_streaming: null }],
      tool_choice: { type: 'tool', name: 'Bash', disable_parallel_tool_use: true },
      metadata: { user_id: 'u1' },
      service_tier: 'auto',
      container: 'c1',
      cache_control: ephemeral,
      brand_new_field: { x: 1 },
    });
    expect(parsed.request).toEqual({
      messages: [{ role: 'system', content: 'Be terse.' }, { role: 'user', content: 'hi' }],
      maxOutputTokens: 16,
      temperature: 0.3,
      topP: 0.9,
      stop: ['###'],
      user: 'u1',
      tools: [{ name: 'Bash', description: 'Run a shell command', parameters: bashTool.input_schema, strict: true }],
      toolChoice: { name: 'Bash' },
      parallelToolCalls: false,
      providerOptions: {
        anthropic: {
          top_k: 5,
          service_tier: 'auto',
          container: 'c1',
          cache_control: ephemeral,
          brand_new_field: { x: 1 },
          inbound: { tools: { Bash: { cache_control: ephemeral, strict: true } } },
        },
      },
    });
  });

  test('minimal request: nothing optional; explicit nulls are absent', () => {
    expect(parseOk(minimal)).toEqual({
      model: 'm',
      stream: false,
      request: { messages: [{ role: 'user', content: 'hi' }], maxOutputTokens: 16 },
      warnings: [],
    });
    const nulls = { ...minimal, system: null, tools: null, tool_choice: null, thinking: null, temperature: null, stop_sequences: null, metadata: null, stream: null };
    expect(parseOk(nulls).request).toEqual({ messages: [{ role: 'user', content: 'hi' }], maxOutputTokens: 16 });
  });

  test.each([
    [{ type: 'auto' }, 'auto'],
    [{ type: 'any' }, 'required'],
    [{ type: 'none' }, 'none'],
  ] as const)('tool_choice %o → %s', (choice, expected) => {
    const parsed = parseOk({ ...minimal, tool_choice: choice });
    expect(parsed.request.toolChoice).toBe(expected);
    expect(parsed.request.parallelToolCalls).toBeUndefined();
  });

  test.each([
    [{ type: 'enabled', budget_tokens: 1024 }, 'low'],
    [{ type: 'enabled', budget_tokens: 4096 }, 'medium'],
    [{ type: 'enabled', budget_tokens: 16384 }, 'high'],
    [{ type: 'enabled', budget_tokens: 63999, display: 'summarized' }, 'high'],
    [{ type: 'adaptive' }, undefined],
    [{ type: 'disabled' }, undefined],
    [{ type: 'between_tools' }, undefined],
  ])('thinking %o → reasoningEffort %p (raw value kept)', (thinking, effort) => {
    const parsed = parseOk({ ...minimal, thinking });
    expect(parsed.request.reasoningEffort).toBe(effort as never);
    expect(parsed.request.providerOptions?.anthropic?.thinking).toEqual(thinking);
  });

  test('output_config.format json_schema → responseFormat json with schema', () => {
    const schema = { type: 'object', properties: { a: { type: 'string' } } };
    const parsed = parseOk({ ...minimal, output_config: { effort: 'high', format: { type: 'json_schema', schema } } });
    expect(parsed.request.responseFormat).toEqual({ type: 'json', schema });
    expect(parsed.request.reasoningEffort).toBeUndefined();
  });
});

describe('parseAnthropicMessagesRequest: validation errors', () => {
  const user = (content: unknown) => ({ ...minimal, messages: [{ role: 'user', content }] });
  const cases: [string, unknown, string][] = [
    ['not an object', 'hello', 'The request body must be a JSON object.'],
    ['no model', { messages: minimal.messages }, 'model: Field required.'],
    ['empty messages', { ...minimal, messages: [] }, 'messages: List should have at least 1 item(s).'],
    [
      'tool role',
      { ...minimal, messages: [{ role: 'tool', content: 'x' }] },
      "messages.0.role: Input tag does not match any of the expected tags: 'user', 'assistant', 'system'.",
    ],
    ['content type', user(42), 'messages.0.content: Input should be a valid string or array, not number.'],
    ['empty content', user([]), 'messages.0.content: List should have at least 1 item(s).'],
    [
      'unknown block',
      user([{ type: 'audio' }]),
      "messages.0.content.0.type: Input tag does not match any of the expected tags: 'text', 'image', 'document', 'search_result', 'tool_result'.",
    ],
    ['text without text', user([{ type: 'text' }]), 'messages.0.content.0.text: Field required.'],
    [
      'bad media type',
      user([{ type: 'image', source: { type: 'base64', media_type: 'image/bmp', data: 'x' } }]),
      "messages.0.content.0.source.media_type: Input should be one of 'image/jpeg', 'image/png', 'image/gif', 'image/webp'.",
    ],
    ['tool_result without id', user([{ type: 'tool_result', content: 'x' }]), 'messages.0.content.0.tool_use_id: Field required.'],
    [
      'tool_use input not an object',
      { ...minimal, messages: [{ role: 'assistant', content: [{ type: 'tool_use', id: 'a', name: 'b', input: '{}' }] }] },
      'messages.0.content.0.input: Input should be a valid object, not string.',
    ],
    [
      'server block in history',
      { ...minimal, messages: [{ role: 'assistant', content: [{ type: 'server_tool_use', id: 'x', name: 'web_search', input: {} }] }] },
      'messages.0.content.0: Server-tool content blocks (web search, web fetch, code execution, MCP, containers) are not supported by this gateway: their tools run on Anthropic servers. Remove these blocks from the conversation history.',
    ],
    [
      'server tool',
      { ...minimal, tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 3 }] },
      "tools.0.type: Anthropic-defined and server tools (web search, web fetch, bash, text editor, code execution, computer, memory, tool search) are not supported by this gateway; declare a custom tool with 'name', 'description' and 'input_schema' instead.",
    ],
    ['tool without schema', { ...minimal, tools: [{ name: 'f' }] }, 'tools.0.input_schema: Field required.'],
    ['tool_choice tool without name', { ...minimal, tool_choice: { type: 'tool' } }, 'tool_choice.name: Field required.'],
    ['tool_choice string', { ...minimal, tool_choice: 'auto' }, 'tool_choice: Input should be a valid object, not string.'],
    ['thinking without budget', { ...minimal, thinking: { type: 'enabled' } }, 'thinking.budget_tokens: Field required when thinking is enabled.'],
    ['temperature', { ...minimal, temperature: 1.5 }, 'temperature: Input should be less than or equal to 1.'],
    ['max_tokens', { ...minimal, max_tokens: 0 }, 'max_tokens: Input should be greater than or equal to 1.'],
    ['system type', { ...minimal, system: [{ type: 'image' }] }, "system.0.type: Input should be 'text'."],
  ];
  test.each(cases)('%s', (_name, body, message) => {
    expect(parseError(body)).toEqual({ type: 'invalid_request_error', message });
  });

  test('error messages never echo request values', () => {
    const secret = 'sk-SECRET-in-a-prompt';
    const bodies = [
      { ...minimal, model: 42, messages: [{ role: 'user', content: secret }] },
      { ...minimal, messages: [{ role: secret, content: 'x' }] },
      { ...minimal, messages: [{ role: 'user', content: [{ type: secret }] }] },
      { ...minimal, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: secret, data: secret } }] }] },
      { ...minimal, tools: [{ type: secret, name: secret }] },
      { ...minimal, stop_sequences: secret },
      { ...minimal, thinking: { type: secret, budget_tokens: secret } },
    ];
    for (const body of bodies) expect(parseError(body).message).not.toContain('SECRET');
  });
});

describe('estimateTokens', () => {
  test('characters / 4 over text, tools and calls; images flat; per-message overhead', () => {
    const request = {
      messages: [
        { role: 'system' as const, content: 'x'.repeat(40) },
        { role: 'user' as const, content: [{ type: 'text' as const, text: 'y'.repeat(40) }, { type: 'image' as const, url: `data:image/png;base64,${'A'.repeat(9999)}` }] },
        { role: 'assistant' as const, content: null, reasoning: 'r'.repeat(8), toolCalls: [{ id: 'a', name: 'f', arguments: '{}' }] },
        { role: 'tool' as const, toolCallId: 'a', content: 'z'.repeat(9) },
      ],
      tools: [{ name: 'f', parameters: { type: 'object' } }],
    };
    // chars: 40 + 40 + 8 + 3 + 9 + (1 + 17) = 118 → 30; + 1600 (image) + 4 × 4 (messages)
    expect(estimateTokens(request)).toBe(30 + 1600 + 16);
  });
});
