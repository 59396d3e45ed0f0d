import { describe, expect, test } from 'bun:test';
import {
  ProviderError,
  UPSTREAM_BODY_MAX_BYTES,
  classifyError,
  parseRetryAfter,
  redactSecret,
  shouldFailover,
  truncateUtf8,
} from './errors.ts';
import { openai } from './openai.ts';

const KEY = 'sk-proj-abcdefghijklmnop1234';

describe('ProviderError', () => {
  test('redacts the API key from the message and the upstream body', () => {
    const error = new ProviderError({
      provider: 'my-openai',
      info: { message: `Incorrect API key provided: ${KEY}.`, errorClass: 'authentication', retryable: false, status: 401 },
      upstreamBody: `{"error":{"message":"Incorrect API key provided: ${KEY}. And again ${KEY}"}}`,
      apiKey: KEY,
    });
    expect(error.message).toBe('Incorrect API key provided: [REDACTED].');
    expect(error.upstreamBody).toBe('{"error":{"message":"Incorrect API key provided: [REDACTED]. And again [REDACTED]"}}');
    expect(JSON.stringify(error.toInfo())).not.toContain(KEY);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('ProviderError');
    expect(error.provider).toBe('my-openai');
    expect(error.toInfo()).toEqual({
      message: 'Incorrect API key provided: [REDACTED].',
      errorClass: 'authentication',
      retryable: false,
      status: 401,
    });
  });

  test('truncates the upstream body to 2 KB after redaction, never leaving part of the key', () => {
    const body = 'é'.repeat(1000) + KEY + 'x'.repeat(5000);
    const error = new ProviderError({
      provider: 'p',
      info: { message: 'm', errorClass: 'upstream_5xx', retryable: true },
      upstreamBody: body,
      apiKey: KEY,
      cause: new Error('root'),
    });
    expect(new TextEncoder().encode(error.upstreamBody!).byteLength).toBeLessThanOrEqual(UPSTREAM_BODY_MAX_BYTES);
    expect(error.upstreamBody).toStartWith('é'.repeat(1000) + '[REDACTED]');
    expect(error.upstreamBody).toEndWith('…');
    expect(error.upstreamBody).not.toContain(KEY.slice(0, 8));
    expect((error.cause as Error).message).toBe('root');
  });

  test('truncateUtf8 never cuts inside a character', () => {
    const out = truncateUtf8('😀'.repeat(10), 13); // 4-byte chars: room for 2 plus '…'
    expect(out).toBe('😀😀…');
    expect(truncateUtf8('short', 10)).toBe('short');
  });

  test('redactSecret ignores empty and tiny keys', () => {
    expect(redactSecret('abc', '')).toBe('abc');
    expect(redactSecret('a b a', 'a')).toBe('a b a');
    expect(redactSecret('key=secret-key!', 'secret-key')).toBe('key=[REDACTED]!');
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  test('retry-after-ms wins over retry-after', () => {
    expect(parseRetryAfter(new Headers({ 'retry-after-ms': '2020', 'retry-after': '3' }), undefined, now)).toBe(2020);
  });
  test('retry-after in seconds (fractional) and as an HTTP-date', () => {
    expect(parseRetryAfter(new Headers({ 'retry-after': '1.5' }), undefined, now)).toBe(1500);
    expect(parseRetryAfter(new Headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:30 GMT' }), undefined, now)).toBe(30_000);
    expect(parseRetryAfter(new Headers({ 'retry-after': 'Wed, 31 Dec 2025 00:00:00 GMT' }), undefined, now)).toBe(0);
  });
  test('falls back to the message text', () => {
    expect(parseRetryAfter(new Headers(), 'Please try again in 2.02s. Visit …')).toBe(2020);
    expect(parseRetryAfter(new Headers(), 'Please try again in 1m30s.')).toBe(90_000);
    expect(parseRetryAfter(new Headers(), 'try again in 240ms')).toBe(240);
    expect(parseRetryAfter(new Headers(), 'Please try again in 20 seconds')).toBe(20_000);
    expect(parseRetryAfter(new Headers({ 'retry-after': 'garbage' }), 'no hint')).toBeUndefined();
  });
});

describe('classifyError', () => {
  const cases: [Parameters<typeof classifyError>[0], string, boolean][] = [
    [{ status: 401, message: 'x' }, 'authentication', false],
    [{ status: 403, message: 'x' }, 'permission', false],
    [{ status: 402, message: 'Insufficient Balance' }, 'quota', false],
    [{ status: 429, code: 'insufficient_quota', message: 'x' }, 'quota', false],
    [{ status: 429, message: 'Rate limit reached' }, 'rate_limit', true],
    [{ status: 400, message: 'Incorrect API key provided: xa***Ab.' }, 'authentication', false],
    [{ status: 400, message: 'prompt is too long: 208310 tokens > 200000 maximum' }, 'context_length', false],
    [{ status: 400, message: 'Model Not Exist' }, 'model_not_found', false],
    [{ status: 404, message: 'Not Found' }, 'model_not_found', false],
    [{ status: 400, code: 'content_filter', message: 'blocked' }, 'content_filter', false],
    [{ status: 422, message: 'Invalid parameters' }, 'bad_request', false],
    [{ status: 408, message: 'x' }, 'timeout', true],
    [{ status: 409, message: 'x' }, 'upstream_5xx', true],
    [{ status: 500, message: 'The model is overloaded' }, 'upstream_5xx', true],
    [{ status: 503, message: 'x' }, 'overloaded', true],
    [{ status: 529, message: 'Overloaded' }, 'overloaded', true],
    [{ status: 502, message: 'Bad Gateway' }, 'upstream_5xx', true],
    // In-stream errors (HTTP 200): by type/code.
    [{ status: 200, type: 'server_error', message: 'x' }, 'upstream_5xx', true],
    [{ status: 200, type: 'overloaded_error', message: 'Overloaded' }, 'overloaded', true],
    [{ type: 'rate_limit_error', message: 'x' }, 'rate_limit', true],
    [{ type: 'invalid_request_error', message: 'x' }, 'bad_request', false],
  ];
  for (const [input, errorClass, retryable] of cases) {
    test(`${input.status ?? 'in-stream'} ${input.code ?? input.type ?? ''} ${input.message} → ${errorClass}`, () => {
      expect(classifyError(input)).toEqual({ errorClass: errorClass as never, retryable });
    });
  }
});

describe('parseError (OpenAI-compatible reader)', () => {
  test('never throws on garbage and falls back to status text', () => {
    const info = openai.parseError({ status: 502, body: '<html>bad gateway</html>', headers: new Headers(), statusText: 'Bad Gateway' });
    expect(info).toEqual({ message: '502 Bad Gateway', errorClass: 'upstream_5xx', retryable: true, status: 502 });
    expect(openai.parseError({ status: 500, body: '', headers: new Headers() }).message).toBe('500');
    expect(openai.parseError({ status: 400, body: 'null', headers: new Headers() }).errorClass).toBe('bad_request');
    expect(openai.parseError({ status: 400, body: '[{"error":{"message":"wrapped"}}]', headers: new Headers() }).message).toBe('wrapped');
    expect(openai.parseError({ status: 422, body: '{"detail":"field required"}', headers: new Headers() }).message).toBe('field required');
    expect(openai.parseError({ status: 500, body: '{"foo":1}', headers: new Headers(), statusText: 'Internal Server Error' })).toEqual({
      message: '500 Internal Server Error',
      errorClass: 'upstream_5xx',
      retryable: true,
      status: 500,
    });
  });

  test('x-should-retry overrides the default decision', () => {
    const body = '{"error":{"message":"conflict"}}';
    expect(openai.parseError({ status: 400, body, headers: new Headers({ 'x-should-retry': 'true' }) }).retryable).toBe(true);
    expect(openai.parseError({ status: 500, body, headers: new Headers({ 'x-should-retry': 'false' }) }).retryable).toBe(false);
  });

  test('rate-limit message hint is used when there is no header', () => {
    const body = JSON.stringify({ error: { message: 'Rate limit reached. Please try again in 6m0s.', code: 'rate_limit_exceeded' } });
    expect(openai.parseError({ status: 429, body, headers: new Headers() }).retryAfterMs).toBe(360_000);
  });
});

test('shouldFailover: transient errors and target-specific ones', () => {
  const make = (errorClass: ProviderError['errorClass'], retryable: boolean) =>
    new ProviderError({ provider: 'p', info: { message: 'm', errorClass, retryable } });
  expect(shouldFailover(make('rate_limit', true))).toBe(true);
  expect(shouldFailover(make('unsupported_input', false))).toBe(true);
  expect(shouldFailover(make('model_not_found', false))).toBe(true);
  expect(shouldFailover(make('context_length', false))).toBe(false);
  expect(shouldFailover(make('bad_request', false))).toBe(false);
});
