import { describe, expect, test } from 'bun:test';
import { type ParsedResponsesRequest, encodeReasoningState, parseResponsesRequest } from './openai-responses.ts';
import { codexTurn1, codexTurn2 } from './openai-responses-test-helpers.ts';

function parseOk(body: unknown): ParsedResponsesRequest {
  const result = parseResponsesRequest(body);
  if (!result.ok) throw new Error(`expected ok, got ${JSON.stringify(result.error)}`);
  return result.value;
}

function parseError(body: unknown) {
  const result = parseResponsesRequest(body);
  if (result.ok) throw new Error('expected a validation error');
  return result.error;
}

const minimal = { model: 'gpt-5', input: 'hi' };

describe('parseResponsesRequest: Codex CLI', () => {
  test('turn 1: developer messages, user context, function + namespace tools, web_search skipped', () => {
    const parsed = parseOk(codexTurn1());
    expect(parsed.model).toBe('gw-mock');
    expect(parsed.stream).toBe(true);
    expect(parsed.include).toEqual(['reasoning.encrypted_content']);
    expect(parsed.request.messages).toEqual([
      { role: 'system', content: 'You are Codex, a coding agent based on GPT-5.', developer: true },
      { role: 'system', content: '<permissions instructions>workspace-write</permissions instructions>', developer: true },
      { role: 'user', content: [{ type: 'text', text: '<environment_context>\n  <cwd>/tmp/w</cwd>\n</environment_context>' }] },
      { role: 'user', content: [{ type: 'text', text: 'list the files' }] },
    ]);
    expect(parsed.request.tools?.map((tool) => tool.name)).toEqual([
      'exec_command',
      'write_stdin',
      'view_image',
      'multi_agent_v1__spawn_agent',
    ]);
    expect(parsed.request.tools?.[0]).toMatchObject({ strict: false, parameters: { required: ['cmd'] } });
    expect(parsed.namespacedTools).toEqual({
      multi_agent_v1__spawn_agent: { namespace: 'multi_agent_v1', name: 'spawn_agent' },
    });
    expect(parsed.request.toolChoice).toBe('auto');
    expect(parsed.request.parallelToolCalls).toBe(true);
    expect(parsed.request.reasoningEffort).toBeUndefined();
    // Chat-Completions-compatible extras only: client_metadata, store and include stay behind.
    expect(parsed.request.extra).toEqual({ prompt_cache_key: '0199a0c2-1b7e-7a51-9d3e-5b6f0e9c2a11' });
    expect(parsed.warnings).toEqual([
      {
        type: 'unsupported-setting',
        setting: 'tools',
        detail: "tools of type 'web_search' are not supported by this gateway and were skipped",
      },
    ]);
    expect(parsed.echo.tools).toHaveLength(5);
  });

  test('turn 2: reasoning + function_call + function_call_output become one assistant turn and a tool message', () => {
    const state = encodeReasoningState({
      message: { gemini: { thoughtSignature: 'sig-msg' } },
      calls: { call_1: { gemini: { thoughtSignature: 'sig-call' } } },
    });
    const parsed = parseOk(
      codexTurn2([
        { type: 'reasoning', id: 'rs_1', summary: [{ type: 'summary_text', text: 'I will run ls.' }], encrypted_content: state },
        {
          type: 'function_call',
          id: 'fc_1',
          call_id: 'call_1',
          name: 'exec_command',
          arguments: '{"cmd":"ls -la"}',
          status: 'completed',
        },
      ]),
    );
    expect(parsed.request.messages.slice(4)).toEqual([
      {
        role: 'assistant',
        content: null,
        reasoning: 'I will run ls.',
        toolCalls: [
          {
            id: 'call_1',
            name: 'exec_command',
            arguments: '{"cmd":"ls -la"}',
            providerMetadata: { gemini: { thoughtSignature: 'sig-call' } },
          },
        ],
        providerMetadata: { gemini: { thoughtSignature: 'sig-msg' } },
      },
      {
        role: 'tool',
        toolCallId: 'call_1',
        content: 'Chunk ID: 4f2a\nProcess exited with code 0\nOriginal token count: 3\nOutput:\nhello-from-tool\n',
      },
    ]);
  });

  test('the state item may come last (as the stream encoder emits it) and namespaced calls are re-flattened', () => {
    const state = encodeReasoningState({ calls: { call_9: { gemini: { thoughtSignature: 's9' } } } });
    const parsed = parseOk(
      codexTurn2([
        { type: 'reasoning', id: 'rs_0', summary: [{ type: 'summary_text', text: 'Delegate.' }] },
        { type: 'message', role: 'assistant', id: 'msg_1', content: [{ type: 'output_text', text: 'Spawning.', annotations: [] }] },
        { type: 'function_call', call_id: 'call_9', namespace: 'multi_agent_v1', name: 'spawn_agent', arguments: '{}' },
        { type: 'reasoning', id: 'rs_3', summary: [], encrypted_content: state },
      ]),
    );
    expect(parsed.request.messages[4]).toEqual({
      role: 'assistant',
      content: 'Spawning.',
      reasoning: 'Delegate.',
      toolCalls: [
        {
          id: 'call_9',
          name: 'multi_agent_v1__spawn_agent',
          arguments: '{}',
          providerMetadata: { gemini: { thoughtSignature: 's9' } },
        },
      ],
    });
    expect(parsed.request.messages[5]).toMatchObject({ role: 'tool', toolCallId: 'call_1' });
  });

  test('a state-only item recorded after the tool outputs still restores the calls of its turn', () => {
    const state = encodeReasoningState({
      message: { gemini: { thoughtSignature: 'm' } },
      calls: { call_1: { gemini: { thoughtSignature: 'c' } } },
    });
    const turn = codexTurn1();
    const parsed = parseOk({
      ...turn,
      input: [
        ...turn.input,
        { type: 'reasoning', id: 'rs_0', summary: [{ type: 'summary_text', text: 'Run ls.' }] },
        { type: 'function_call', call_id: 'call_1', name: 'exec_command', arguments: '{}' },
        { type: 'function_call_output', call_id: 'call_1', output: 'ok' },
        { type: 'reasoning', id: 'rs_2', summary: [], encrypted_content: state },
        { role: 'user', content: 'thanks' },
      ],
    });
    expect(parsed.request.messages.slice(4)).toEqual([
      {
        role: 'assistant',
        content: null,
        reasoning: 'Run ls.',
        toolCalls: [{ id: 'call_1', name: 'exec_command', arguments: '{}', providerMetadata: { gemini: { thoughtSignature: 'c' } } }],
        providerMetadata: { gemini: { thoughtSignature: 'm' } },
      },
      { role: 'tool', toolCallId: 'call_1', content: 'ok' },
      { role: 'user', content: 'thanks' },
    ]);
  });

  test('responses-lite: additional_tools items add their function tools', () => {
    const body = {
      model: 'gpt-6.1-sol',
      input: [
        {
          type: 'additional_tools',
          role: 'developer',
          tools: [
            { type: 'namespace', name: 'shell', description: 'x', tools: [{ type: 'custom', name: 'exec', format: { type: 'grammar' } }] },
            { type: 'function', name: 'get_goal', parameters: null, strict: false },
          ],
        },
        { role: 'user', content: 'hi' },
      ],
      reasoning: { effort: 'low', context: 'all_turns' },
      text: { verbosity: 'low' },
      parallel_tool_calls: false,
    };
    const parsed = parseOk(body);
    expect(parsed.request.tools).toEqual([
      {
        name: 'shell__exec',
        parameters: {
          type: 'object',
          properties: { input: { type: 'string', description: 'The raw freeform input of the tool (plain text, not JSON).' } },
          required: ['input'],
          additionalProperties: false,
        },
      },
      { name: 'get_goal', parameters: { type: 'object', properties: {} }, strict: false },
    ]);
    expect(parsed.namespacedTools).toEqual({ shell__exec: { namespace: 'shell', name: 'exec' } });
    expect([...parsed.customTools]).toEqual(['shell__exec']);
    expect(parsed.warnings).toEqual([]);
    expect(parsed.request.reasoningEffort).toBe('low');
    expect(parsed.request.extra).toEqual({ verbosity: 'low' });
    expect(parsed.request.parallelToolCalls).toBe(false);
  });
});

describe('parseResponsesRequest: SDK requests', () => {
  test('a string input is one user message; instructions become the first system message', () => {
    const parsed = parseOk({ ...minimal, instructions: 'Be terse.' });
    expect(parsed.stream).toBe(false);
    expect(parsed.request.messages).toEqual([
      { role: 'system', content: 'Be terse.' },
      { role: 'user', content: 'hi' },
    ]);
    expect(parsed.echo).toMatchObject({ instructions: 'Be terse.', tool_choice: 'auto', parallel_tool_calls: true });
  });

  test('every item type and modelled field', () => {
    const parsed = parseOk({
      model: 'gemini/gemini-3-pro',
      instructions: 'System prompt.',
      input: [
        { role: 'system', content: 'Old-style system.' },
        {
          role: 'user',
          content: [
            { type: 'input_text', text: 'What is in these images?' },
            { type: 'input_image', image_url: 'data:image/PNG;base64,iVBORw0KGgo=', detail: 'low' },
            { type: 'input_image', image_url: 'https://example.com/cat.jpg', detail: 'original' },
          ],
        },
        {
          type: 'message',
          role: 'assistant',
          id: 'msg_a',
          status: 'completed',
          content: [
            { type: 'output_text', text: 'A cat', annotations: [], logprobs: [] },
            { type: 'output_text', text: ' and a dog.', annotations: [] },
          ],
        },
        { type: 'message', role: 'assistant', content: [{ type: 'refusal', refusal: 'I cannot help.' }] },
        { role: 'user', content: 'Weather in Paris and Rome?' },
        { type: 'reasoning', id: 'rs_x', summary: [{ type: 'summary_text', text: 'Two cities.' }], encrypted_content: 'gAAAAABfernet' },
        { type: 'function_call', call_id: 'c1', name: 'weather', arguments: '{"city":"Paris"}' },
        { type: 'function_call', call_id: 'c2', name: 'weather', arguments: '{"city":"Rome"}' },
        { type: 'function_call_output', call_id: 'c1', output: [{ type: 'input_text', text: '18C' }, { type: 'input_image', image_url: 'https://example.com/map.png', detail: 'auto' }] },
        { type: 'function_call_output', call_id: 'c2', output: '21C' },
        { role: 'developer', content: [{ type: 'input_text', text: 'Rule 1.' }, { type: 'input_text', text: 'Rule 2.' }] },
      ],
      tools: [{ type: 'function', name: 'weather', description: 'Weather by city', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: true }],
      tool_choice: { type: 'function', name: 'weather' },
      max_output_tokens: 2048,
      temperature: 0.5,
      top_p: 0.9,
      reasoning: { effort: 'max', summary: 'detailed' },
      text: { format: { type: 'json_schema', name: 'answer', schema: { type: 'object' }, strict: true, description: 'An answer' } },
      user: 'user-1',
      metadata: { team: 'a' },
      service_tier: 'flex',
      safety_identifier: 'hash-1',
      truncation: 'auto',
      store: true,
    });
    expect(parsed.request.messages).toEqual([
      { role: 'system', content: 'System prompt.' },
      { role: 'system', content: 'Old-style system.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is in these images?' },
          { type: 'image', url: 'data:image/PNG;base64,iVBORw0KGgo=', mediaType: 'image/png', detail: 'low' },
          { type: 'image', url: 'https://example.com/cat.jpg', detail: 'high' },
        ],
      },
      { role: 'assistant', content: 'A cat and a dog.' },
      { role: 'user', content: 'Weather in Paris and Rome?' },
      {
        role: 'assistant',
        content: null,
        reasoning: 'Two cities.',
        toolCalls: [
          { id: 'c1', name: 'weather', arguments: '{"city":"Paris"}' },
          { id: 'c2', name: 'weather', arguments: '{"city":"Rome"}' },
        ],
        providerMetadata: {
          openai: { reasoningItems: [{ id: 'rs_x', summary: [{ type: 'summary_text', text: 'Two cities.' }], encrypted_content: 'gAAAAABfernet' }] },
        },
      },
      { role: 'tool', toolCallId: 'c1', content: '18C' },
      { role: 'tool', toolCallId: 'c2', content: '21C' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Images from the output of tool call c1:' },
          { type: 'image', url: 'https://example.com/map.png', detail: 'auto' },
        ],
      },
      { role: 'system', content: 'Rule 1.\nRule 2.', developer: true },
    ]);
    expect(parsed.request).toMatchObject({
      tools: [{ name: 'weather', description: 'Weather by city', strict: true }],
      toolChoice: { name: 'weather' },
      maxOutputTokens: 2048,
      temperature: 0.5,
      topP: 0.9,
      reasoningEffort: 'xhigh',
      responseFormat: { type: 'json', name: 'answer', schema: { type: 'object' }, strict: true, description: 'An answer' },
      user: 'user-1',
      // metadata is echoed only: Chat Completions rejects it without store.
      extra: { service_tier: 'flex', safety_identifier: 'hash-1' },
    });
    expect(parsed.echo.metadata).toEqual({ team: 'a' });
    expect(parsed.warnings.map((warning) => (warning.type === 'other' ? warning.message : warning.setting))).toEqual([
      expect.stringContaining('providerMetadata.openai') as unknown as string,
      'reasoning.effort',
      'truncation',
    ]);
  });

  test('consecutive assistant messages merge; a refusal-only turn keeps the refusal as text', () => {
    const parsed = parseOk({
      model: 'm',
      input: [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: 'First.' },
        { role: 'assistant', content: [{ type: 'output_text', text: 'Second.' }] },
        { role: 'user', content: 'q2' },
        { role: 'assistant', content: [{ type: 'refusal', refusal: 'No.' }] },
        { role: 'user', content: 'q3' },
      ],
    });
    expect(parsed.request.messages.filter((m) => m.role === 'assistant')).toEqual([
      { role: 'assistant', content: 'First.\n\nSecond.' },
      { role: 'assistant', content: 'No.' },
    ]);
  });

  test('text formats, tool choice strings and an absent parameters object', () => {
    expect(parseOk({ ...minimal, text: { format: { type: 'json_object' } } }).request.responseFormat).toEqual({ type: 'json' });
    expect(parseOk({ ...minimal, text: { format: { type: 'text' } } }).request.responseFormat).toEqual({ type: 'text' });
    expect(parseOk({ ...minimal, tools: [{ type: 'function', name: 'f' }], tool_choice: 'required' }).request.toolChoice).toBe('required');
    const tools = parseOk({ ...minimal, tools: [{ type: 'function', name: 'f' }] }).request.tools;
    expect(tools).toEqual([{ name: 'f', parameters: { type: 'object', properties: {} } }]);
  });

  test('tool settings are dropped when every tool was skipped (upstreams reject them without tools)', () => {
    const parsed = parseOk({ ...minimal, tools: [{ type: 'web_search' }], tool_choice: 'required', parallel_tool_calls: true });
    expect(parsed.request.tools).toBeUndefined();
    expect(parsed.request.toolChoice).toBeUndefined();
    expect(parsed.request.parallelToolCalls).toBeUndefined();
    expect(parsed.warnings.map((warning) => (warning.type === 'unsupported-setting' ? warning.setting : ''))).toEqual(['tools', 'toolChoice']);
  });
});

describe('parseResponsesRequest: refusals and validation errors carry param', () => {
  const cases: [string, unknown, { param: string; code: string; message?: RegExp }][] = [
    ['missing model', { input: 'hi' }, { param: 'model', code: 'missing_required_parameter' }],
    ['missing input', { model: 'm' }, { param: 'input', code: 'missing_required_parameter' }],
    ['empty input', { model: 'm', input: [] }, { param: 'input', code: 'empty_array' }],
    ['temperature out of range', { ...minimal, temperature: 3 }, { param: 'temperature', code: 'above_max_value' }],
    [
      'previous_response_id',
      { ...minimal, previous_response_id: 'resp_1' },
      { param: 'previous_response_id', code: 'unsupported_parameter', message: /stateless.*full conversation|whole conversation/ },
    ],
    ['conversation', { ...minimal, conversation: 'conv_1' }, { param: 'conversation', code: 'unsupported_parameter' }],
    ['background', { ...minimal, background: true }, { param: 'background', code: 'unsupported_parameter' }],
    ['explicit item_reference', { model: 'm', input: [{ type: 'item_reference', id: 'msg_1' }] }, { param: 'input[0]', code: 'unsupported_value', message: /stateless/ }],
    ['implicit item_reference', { model: 'm', input: [{ role: 'user', content: 'x' }, { id: 'msg_1' }] }, { param: 'input[1]', code: 'unsupported_value' }],
    [
      'image by file_id',
      { model: 'm', input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'file-1', detail: 'auto' }] }] },
      { param: 'input[0].content[0].file_id', code: 'unsupported_value', message: /Files API/ },
    ],
    [
      'image without url',
      { model: 'm', input: [{ role: 'user', content: [{ type: 'input_image', detail: 'auto' }] }] },
      { param: 'input[0].content[0].image_url', code: 'missing_required_parameter' },
    ],
    [
      'input_file',
      { model: 'm', input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'f' }] }] },
      { param: 'input[0].content[0].type', code: 'unsupported_value', message: /input_file/ },
    ],
    [
      'image in a developer message',
      { model: 'm', input: [{ role: 'developer', content: [{ type: 'input_image', image_url: 'https://x/y.png' }] }, { role: 'user', content: 'x' }] },
      { param: 'input[0].content[0].type', code: 'unsupported_value' },
    ],
    ['unknown item type', { model: 'm', input: [{ type: 'computer_call_output', call_id: 'c' }] }, { param: 'input[0].type', code: 'invalid_value' }],
    ['custom tool call without input', { model: 'm', input: [{ type: 'custom_tool_call', call_id: 'c', name: 'x' }] }, { param: 'input[0].input', code: 'missing_required_parameter' }],
    ['custom tool without name', { ...minimal, tools: [{ type: 'custom', description: 'x' }] }, { param: 'tools[0].name', code: 'missing_required_parameter' }],
    ['function_call without arguments', { model: 'm', input: [{ type: 'function_call', call_id: 'c', name: 'f' }] }, { param: 'input[0].arguments', code: 'missing_required_parameter' }],
    ['bad function tool', { ...minimal, tools: [{ type: 'web_search' }, { type: 'function', name: 7 }] }, { param: 'tools[1].name', code: 'invalid_type' }],
    ['json_schema without name', { ...minimal, text: { format: { type: 'json_schema', schema: {} } } }, { param: 'text.format.name', code: 'missing_required_parameter' }],
    ['allowed_tools tool_choice', { ...minimal, tool_choice: { type: 'allowed_tools', mode: 'auto', tools: [] } }, { param: 'tool_choice.type', code: 'unsupported_value' }],
    ['bad effort', { ...minimal, reasoning: { effort: 'extreme' } }, { param: 'reasoning.effort', code: 'invalid_value' }],
    [
      'gateway reasoning state that was tampered with',
      { model: 'm', input: [{ role: 'user', content: 'x' }, { type: 'reasoning', id: 'rs', summary: [], encrypted_content: 'llmp1.bm90LWpzb24' }] },
      { param: 'input[1].encrypted_content', code: 'invalid_value' },
    ],
  ];
  for (const [name, body, expected] of cases) {
    test(name, () => {
      const error = parseError(body);
      expect(error.param).toBe(expected.param);
      expect(error.code).toBe(expected.code);
      if (expected.message) expect(error.message).toMatch(expected.message);
    });
  }

  test('a body that is not an object', () => {
    expect(parseError('hello')).toMatchObject({ param: null, code: 'invalid_type' });
  });

  test('never throws on garbage', () => {
    for (const body of [null, 42, [], { model: 'm', input: [null] }, { model: 'm', input: [{ type: 'message' }] }]) {
      expect(parseResponsesRequest(body).ok).toBe(false);
    }
  });
});

describe('parseResponsesRequest: custom (freeform) tools', () => {
  const grammar = 'start: command\ncommand: /.+/';
  const exec = { type: 'custom', name: 'exec', description: 'Runs a shell command.', format: { type: 'grammar', syntax: 'lark', definition: grammar } };

  test('a custom tool becomes a function with one string parameter `input`; tool_choice custom names it', () => {
    const parsed = parseOk({ ...minimal, tools: [exec, { type: 'function', name: 'f' }], tool_choice: { type: 'custom', name: 'exec' } });
    const [tool] = parsed.request.tools!;
    expect(tool).toEqual({
      name: 'exec',
      description: `Runs a shell command.\n\nThe input must follow this lark grammar:\n${grammar}`,
      parameters: {
        type: 'object',
        properties: { input: { type: 'string', description: 'The raw freeform input of the tool, following the grammar in the tool description.' } },
        required: ['input'],
        additionalProperties: false,
      },
    });
    expect([...parsed.customTools]).toEqual(['exec']);
    expect(parsed.request.toolChoice).toEqual({ name: 'exec' });
    expect(parsed.warnings).toEqual([]);
    expect(parsed.echo.tools).toEqual([exec, { type: 'function', name: 'f' }]);
  });

  test('a long grammar is cut to 4,000 characters in the description', () => {
    const definition = 'x'.repeat(10_000);
    const parsed = parseOk({ ...minimal, tools: [{ ...exec, format: { type: 'grammar', syntax: 'lark', definition } }] });
    const description = parsed.request.tools![0]!.description!;
    expect(description.length).toBeLessThan(4_200);
    expect(description).toContain('x'.repeat(4_000));
    expect(description).not.toContain('x'.repeat(4_001));
    expect(description).toEndWith('(grammar truncated)');
  });

  test('custom_tool_call items join the assistant turn with function calls; outputs become tool messages', () => {
    const parsed = parseOk({
      model: 'm',
      tools: [exec],
      input: [
        { role: 'user', content: 'list' },
        { type: 'function_call', call_id: 'c1', name: 'f', arguments: '{}' },
        { type: 'custom_tool_call', id: 'ctc_1', call_id: 'c2', name: 'exec', input: 'ls -la' },
        { type: 'function_call_output', call_id: 'c1', output: 'ok' },
        { type: 'custom_tool_call_output', call_id: 'c2', output: [{ type: 'input_text', text: 'a\n' }, { type: 'input_text', text: 'b' }] },
      ],
    });
    expect(parsed.request.messages).toEqual([
      { role: 'user', content: 'list' },
      {
        role: 'assistant',
        content: null,
        toolCalls: [
          { id: 'c1', name: 'f', arguments: '{}' },
          { id: 'c2', name: 'exec', arguments: '{"input":"ls -la"}' },
        ],
      },
      { role: 'tool', toolCallId: 'c1', content: 'ok' },
      { role: 'tool', toolCallId: 'c2', content: 'a\nb' },
    ]);
  });
});
