// ChatRequest → Gemini body, beyond what the fixtures cover.
import { describe, expect, test } from 'bun:test';
import type { ChatRequest } from '../core/types.ts';
import { gemini } from './gemini.ts';
import { SKIP_SIGNATURE_VALIDATOR, buildGeminiBody, toGeminiSchema } from './gemini-request.ts';

const settings = { apiKey: 'AIza-test-key' };
const build = (request: Partial<ChatRequest>) =>
  buildGeminiBody({ model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'hi' }], ...request });

describe('URL and headers', () => {
  test('stream and non-stream endpoints, base URL override, models/ prefix, extra headers', () => {
    const request: ChatRequest = { model: 'models/gemini-2.5-pro', messages: [{ role: 'user', content: 'hi' }] };
    expect(gemini.buildRequest(request, settings, { stream: false }).http.url).toBe(
      'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:generateContent',
    );
    const { http } = gemini.buildRequest(request, { apiKey: '', baseUrl: 'http://proxy.local/v1beta/', headers: { 'x-extra': '1' } }, { stream: true });
    expect(http.url).toBe('http://proxy.local/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse');
    expect(http.headers).toEqual({ 'content-type': 'application/json', 'x-extra': '1' }); // '' key: no auth header
    expect(gemini.defaultBaseUrl).toBe('https://generativelanguage.googleapis.com/v1beta');
  });
});

describe('messages', () => {
  test('system and developer messages → one systemInstruction; roles; consecutive turns merged', () => {
    const { body, warnings } = build({
      messages: [
        { role: 'system', content: 'Be terse.', developer: true },
        { role: 'user', content: 'one' },
        { role: 'system', content: 'Answer in French.' },
        { role: 'user', content: [{ type: 'text', text: 'two' }] },
        { role: 'assistant', content: 'un, deux' },
        { role: 'assistant', content: null, toolCalls: [{ id: 'c1', name: 'f', arguments: '{"a":1}' }] },
        { role: 'tool', toolCallId: 'c1', content: 'done' },
        { role: 'user', content: 'thanks' },
      ],
    });
    expect(warnings).toEqual([]);
    expect(body.systemInstruction).toEqual({ parts: [{ text: 'Be terse.\n\nAnswer in French.' }] });
    expect(body.contents).toEqual([
      { role: 'user', parts: [{ text: 'one' }, { text: 'two' }] },
      { role: 'model', parts: [{ text: 'un, deux' }, { functionCall: { name: 'f', args: { a: 1 } } }] },
      { role: 'user', parts: [{ functionResponse: { name: 'f', response: { result: 'done' } } }, { text: 'thanks' }] },
    ]);
  });

  test('tool results: names from the call ids, objects as they are, other JSON and text wrapped', () => {
    const { body, warnings } = build({
      messages: [
        { role: 'user', content: 'go' },
        {
          role: 'assistant',
          content: '',
          toolCalls: [
            { id: 'a', name: 'lookup', arguments: '{}' },
            { id: 'b', name: 'search', arguments: '' },
            { id: 'c', name: 'count', arguments: 'not json' },
          ],
        },
        { role: 'tool', toolCallId: 'b', content: '[1,2]' },
        { role: 'tool', toolCallId: 'a', content: '{"ok":true}' },
        { role: 'tool', toolCallId: 'c', content: '42' },
        { role: 'tool', toolCallId: 'zzz', content: 'orphan' },
      ],
    });
    const contents = body.contents as any[];
    expect(contents[1].parts.map((p: any) => p.functionCall)).toEqual([
      { name: 'lookup', args: {} },
      { name: 'search', args: {} },
      { name: 'count', args: {} },
    ]);
    expect(contents[2]).toEqual({
      role: 'user',
      parts: [
        { functionResponse: { name: 'search', response: { result: [1, 2] } } },
        { functionResponse: { name: 'lookup', response: { ok: true } } },
        { functionResponse: { name: 'count', response: { result: 42 } } },
        { functionResponse: { name: 'zzz', response: { result: 'orphan' } } },
      ],
    });
    expect(warnings.map((w) => (w.type === 'other' ? w.message : w.setting))).toEqual([
      "arguments of tool call 'count' are not a JSON object; sent as {}",
      "tool result 'zzz' answers no earlier tool call; its id is sent as the function name",
    ]);
  });

  test('images: data URLs inline (base64 or percent-encoded), other URLs as fileData', () => {
    const { body, warnings } = build({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'image', url: 'data:image/png;base64,iVBORw0KGgo=', mediaType: 'image/png', detail: 'low' },
            { type: 'image', url: 'data:image/svg+xml,%3Csvg%2F%3E' },
            { type: 'image', url: 'https://example.com/cat.webp?size=2' },
            { type: 'image', url: 'gs://bucket/dog.png' },
            { type: 'image', url: 'https://generativelanguage.googleapis.com/v1beta/files/abc123', mediaType: 'image/heic' },
            { type: 'image', url: 'https://signed.example.com/object?sig=1' },
          ],
        },
      ],
    });
    expect((body.contents as any[])[0].parts).toEqual([
      { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
      { inlineData: { mimeType: 'image/svg+xml', data: Buffer.from('<svg/>').toString('base64') } },
      { fileData: { mimeType: 'image/webp', fileUri: 'https://example.com/cat.webp?size=2' } },
      { fileData: { mimeType: 'image/png', fileUri: 'gs://bucket/dog.png' } },
      { fileData: { mimeType: 'image/heic', fileUri: 'https://generativelanguage.googleapis.com/v1beta/files/abc123' } },
      { fileData: { mimeType: 'image/jpeg', fileUri: 'https://signed.example.com/object?sig=1' } },
    ]);
    expect(warnings).toEqual([{ type: 'other', message: 'image URL without a known extension sent to Gemini as image/jpeg' }]);
  });

  test('signatures: message-level on the text part (dropped without text); per call on its part', () => {
    const { body, warnings } = build({
      messages: [
        { role: 'user', content: 'go' },
        {
          role: 'assistant',
          content: 'Sure.',
          providerMetadata: { gemini: { thoughtSignature: 'sig-text' }, anthropic: { signature: 'other-provider' } },
          toolCalls: [
            { id: 'a', name: 'f', arguments: '{}', providerMetadata: { gemini: { thoughtSignature: 'sig-a' } } },
            { id: 'b', name: 'f', arguments: '{}', providerMetadata: { anthropic: { x: 1 } } },
          ],
        },
        { role: 'tool', toolCallId: 'a', content: '{}' },
        { role: 'tool', toolCallId: 'b', content: '{}' },
        { role: 'assistant', content: null, providerMetadata: { gemini: { thoughtSignature: 'sig-no-text' } } },
      ],
    });
    expect(warnings).toEqual([]);
    const contents = body.contents as any[];
    expect(contents[1].parts).toEqual([
      { text: 'Sure.', thoughtSignature: 'sig-text' },
      { functionCall: { name: 'f', args: {} }, thoughtSignature: 'sig-a' },
      { functionCall: { name: 'f', args: {} } },
    ]);
    expect(contents).toHaveLength(3); // the empty assistant turn has no parts to send
  });

  test('Gemini 3: a first call without a signature gets the documented skip value, with a warning', () => {
    const { body, warnings } = build({
      model: 'gemini-3-pro-preview',
      messages: [
        { role: 'user', content: 'go' },
        { role: 'assistant', content: null, toolCalls: [{ id: 'a', name: 'f', arguments: '{}' }, { id: 'b', name: 'f', arguments: '{}' }] },
        { role: 'tool', toolCallId: 'a', content: '{}' },
        { role: 'tool', toolCallId: 'b', content: '{}' },
      ],
    });
    expect((body.contents as any[])[1].parts).toEqual([
      { functionCall: { name: 'f', args: {} }, thoughtSignature: SKIP_SIGNATURE_VALIDATOR },
      { functionCall: { name: 'f', args: {} } },
    ]);
    expect(warnings).toHaveLength(1);
    expect(build({ model: 'gemini-2.5-flash', messages: [{ role: 'assistant', content: null, toolCalls: [{ id: 'a', name: 'f', arguments: '{}' }] }] }).warnings).toEqual([]);
  });

  test('Gemma models take the system instruction in the first user turn', () => {
    const { body } = build({ model: 'gemma-3-27b-it', messages: [{ role: 'system', content: 'Be terse.' }, { role: 'user', content: 'hi' }] });
    expect(body.systemInstruction).toBeUndefined();
    expect(body.contents).toEqual([{ role: 'user', parts: [{ text: 'Be terse.' }, { text: 'hi' }] }]);
  });
});

describe('generation settings, tools and options', () => {
  test('every modelled setting; unmodelled ones mapped or warned', () => {
    const { body, warnings } = build({
      temperature: 0.3,
      topP: 0.9,
      maxOutputTokens: 500,
      stop: ['END', 'STOP'],
      seed: 7,
      responseFormat: { type: 'json' },
      user: 'u-1',
      parallelToolCalls: false,
      extra: { n: 1, presence_penalty: 0.5, frequency_penalty: 0.25, top_k: 40, logprobs: true, logit_bias: { 1: 2 }, store: false, metadata: null },
    });
    expect(body.generationConfig).toEqual({
      temperature: 0.3,
      topP: 0.9,
      maxOutputTokens: 500,
      stopSequences: ['END', 'STOP'],
      seed: 7,
      candidateCount: 1,
      presencePenalty: 0.5,
      frequencyPenalty: 0.25,
      topK: 40,
      responseMimeType: 'application/json',
    });
    expect(warnings.map((w) => (w.type === 'unsupported-setting' ? w.setting : w.message))).toEqual([
      'parallelToolCalls',
      'user',
      'logprobs',
      'logit_bias',
    ]);
  });

  test('json_schema → responseMimeType + sanitised responseSchema', () => {
    const { body } = build({
      responseFormat: {
        type: 'json',
        name: 'answer',
        strict: true,
        schema: { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'], additionalProperties: false },
      },
    });
    expect(body.generationConfig).toEqual({
      responseMimeType: 'application/json',
      responseSchema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] },
    });
  });

  test('tools → functionDeclarations (empty parameters omitted); tool_choice → functionCallingConfig', () => {
    const tools = [
      { name: 'now', description: 'Current time', parameters: { type: 'object', properties: {} }, strict: true },
      { name: 'add', parameters: { type: 'object', properties: { a: { type: 'number' } }, additionalProperties: false } },
    ];
    const { body } = build({ tools, toolChoice: 'required' });
    expect(body.tools).toEqual([
      { functionDeclarations: [{ name: 'now', description: 'Current time' }, { name: 'add', parameters: { type: 'object', properties: { a: { type: 'number' } } } }] },
    ]);
    const mode = (toolChoice: ChatRequest['toolChoice']) => build({ tools, toolChoice }).body.toolConfig;
    expect(mode('auto')).toEqual({ functionCallingConfig: { mode: 'AUTO' } });
    expect(mode('none')).toEqual({ functionCallingConfig: { mode: 'NONE' } });
    expect(mode('required')).toEqual({ functionCallingConfig: { mode: 'ANY' } });
    expect(mode({ name: 'add' })).toEqual({ functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['add'] } });
    expect(mode(undefined)).toBeUndefined();
  });

  test('reasoning_effort → thinkingConfig per model family', () => {
    const thinking = (model: string, reasoningEffort: ChatRequest['reasoningEffort']) => {
      const { body, warnings } = build({ model, reasoningEffort });
      return { config: (body.generationConfig as any)?.thinkingConfig, warnings: warnings.length };
    };
    expect(thinking('gemini-2.5-flash', 'none')).toEqual({ config: { thinkingBudget: 0 }, warnings: 0 });
    expect(thinking('gemini-2.5-pro', 'none')).toEqual({ config: { thinkingBudget: 128 }, warnings: 1 });
    expect(thinking('gemini-2.5-flash', 'low')).toEqual({ config: { includeThoughts: true, thinkingBudget: 1024 }, warnings: 0 });
    expect(thinking('gemini-2.5-pro', 'medium')).toEqual({ config: { includeThoughts: true, thinkingBudget: 2048 }, warnings: 0 });
    expect(thinking('gemini-2.5-flash-lite', 'xhigh')).toEqual({ config: { includeThoughts: true, thinkingBudget: 24576 }, warnings: 0 });
    expect(thinking('gemini-3-pro-preview', 'medium')).toEqual({ config: { includeThoughts: true, thinkingLevel: 'high' }, warnings: 0 });
    expect(thinking('gemini-3-pro-preview', 'none')).toEqual({ config: { thinkingLevel: 'low' }, warnings: 1 });
    expect(thinking('gemini-3-flash-preview', 'minimal')).toEqual({ config: { includeThoughts: true, thinkingLevel: 'minimal' }, warnings: 0 });
    expect(thinking('gemini-2.5-flash', undefined)).toEqual({ config: undefined, warnings: 0 });
    expect(thinking('gemini-2.0-flash', 'high')).toEqual({ config: undefined, warnings: 1 });
    expect(thinking('gemma-3-27b-it', 'low')).toEqual({ config: undefined, warnings: 1 });
  });

  test("Google's extra_body.google options, bare cached_content, and operator providerOptions", () => {
    const { body, warnings } = build({
      reasoningEffort: 'low',
      extra: {
        cached_content: 'cachedContents/bare',
        extra_body: {
          google: {
            cached_content: 'cachedContents/abc',
            thinking_config: { thinking_budget: 99, include_thoughts: true },
            safety_settings: [{ category: 'HARM_CATEGORY_HATE_SPEECH', threshold: 'BLOCK_NONE' }],
            nonsense: 1,
          },
          other_vendor: {},
        },
      },
      providerOptions: { gemini: { labels: { team: 'a' }, generationConfig: { topK: 3 } }, openai: { ignored: true } },
    });
    expect(body.cachedContent).toBe('cachedContents/abc');
    expect(body.safetySettings).toEqual([{ category: 'HARM_CATEGORY_HATE_SPEECH', threshold: 'BLOCK_NONE' }]);
    expect(body.labels).toEqual({ team: 'a' });
    expect(body.ignored).toBeUndefined();
    expect(body.generationConfig).toEqual({ thinkingConfig: { thinkingBudget: 99, includeThoughts: true }, topK: 3 });
    expect(warnings.map((w) => (w.type === 'unsupported-setting' ? w.setting : w.message))).toEqual([
      'extra_body.other_vendor',
      'extra_body.google.nonsense',
    ]);
    expect(build({}).body).toEqual({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }); // no empty generationConfig
  });
});

describe('toGeminiSchema', () => {
  test('inlines $refs, turns null unions into nullable, merges allOf, maps const/enum/format', () => {
    const schema = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      $defs: {
        Address: { type: 'object', properties: { street: { type: 'string', default: 'x' } }, required: ['street', 'gone'], additionalProperties: false },
        Node: { type: 'object', properties: { child: { $ref: '#/$defs/Node' } } },
      },
      properties: {
        home: { $ref: '#/$defs/Address', description: 'Where they live' },
        tree: { $ref: '#/$defs/Node' },
        nickname: { type: ['string', 'null'], format: 'email', maxLength: 20 },
        age: { anyOf: [{ type: 'integer', format: 'int32' }, { type: 'null' }] },
        id: { oneOf: [{ type: 'string', format: 'uuid' }, { type: 'integer' }] },
        kind: { const: 'person' },
        level: { type: 'integer', enum: [1, 2, 3] },
        when: { type: 'string', format: 'date-time' },
        tags: { type: 'array', items: { type: 'string' }, minItems: 1, uniqueItems: true },
        extra: { type: 'object', additionalProperties: { type: 'string' } },
        both: { allOf: [{ type: 'object', properties: { a: { type: 'string' } }, required: ['a'] }, { properties: { b: { type: 'number' } }, required: ['b'] }] },
      },
      required: ['home', 'missing'],
    };
    expect(toGeminiSchema(schema)).toEqual({
      type: 'object',
      properties: {
        home: { type: 'object', description: 'Where they live', properties: { street: { type: 'string' } }, required: ['street'] },
        tree: { type: 'object', properties: { child: { type: 'object' } } }, // recursion stops at the repeated $ref
        nickname: { type: 'string', nullable: true, maxLength: 20 },
        age: { type: 'integer', format: 'int32', nullable: true },
        id: { anyOf: [{ type: 'string' }, { type: 'integer' }] },
        kind: { type: 'string', enum: ['person'] },
        level: { type: 'integer', description: 'Allowed values: 1, 2, 3.' },
        when: { type: 'string', format: 'date-time' },
        tags: { type: 'array', items: { type: 'string' }, minItems: 1 },
        extra: { type: 'object' },
        both: { type: 'object', properties: { a: { type: 'string' }, b: { type: 'number' } }, required: ['a', 'b'] },
      },
      required: ['home'],
    });
  });

  test('a root object without properties is omitted; other roots are kept', () => {
    expect(toGeminiSchema({ type: 'object' })).toBeUndefined();
    expect(toGeminiSchema({ type: 'object', properties: {}, additionalProperties: false })).toBeUndefined();
    expect(toGeminiSchema({})).toBeUndefined();
    expect(toGeminiSchema({ type: 'array', items: { type: 'string' } })).toEqual({ type: 'array', items: { type: 'string' } });
  });
});
