// Errors in Anthropic's shape, `{"type":"error","error":{"type","message"}}` (PROTOCOLS.md §6.5), before the
// stream (status + body + headers) and inside it (`event: error`, same body).
// Like openai-errors.ts: client-fixable upstream errors keep a 4xx and the upstream's message; failures of
// the gateway's own upstream account, rate limits and local failures get fixed messages (their text can
// name the gateway's key prefix, organisation or internal addresses). Only the client's own credential
// problems are 401 `authentication_error` (anthropicClientError): an upstream 401 is the gateway's
// configuration problem, answered 502 `api_error` with `x-should-retry: false` (the SDK and Claude Code
// would otherwise retry a 5xx for minutes). Upstream overload is 529 `overloaded_error`, Anthropic's own.
import type { ProviderErrorClass, ProviderErrorInfo } from '../core/types.ts';

export type AnthropicErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'billing_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'api_error'
  | 'timeout_error'
  | 'overloaded_error';

export type AnthropicErrorBody = { type: 'error'; error: { type: AnthropicErrorType; message: string } };

export type AnthropicErrorResponse = { status: number; body: AnthropicErrorBody; headers: Record<string, string> };

type Mapping = {
  status: number;
  type: AnthropicErrorType;
  /** Fixed message; when absent the upstream's message is used, prefixed by the provider. */
  message?: (provider: string, retryAfterSeconds?: number) => string;
  /** Append the upstream's message to the fixed one (server-side failures whose text is safe and useful). */
  withUpstreamMessage?: boolean;
  /** Tell the SDK (and Claude Code) not to retry: retrying cannot fix the gateway's configuration. */
  noRetry?: boolean;
};

/** Upstream messages longer than this are cut (they may quote large parts of the request). */
const MAX_MESSAGE_CHARS = 1000;

const MAPPINGS: Record<ProviderErrorClass, Mapping> = {
  // Client-fixable: the upstream's own words help the client fix the request.
  bad_request: { status: 400, type: 'invalid_request_error' },
  context_length: { status: 400, type: 'invalid_request_error' },
  content_filter: { status: 400, type: 'invalid_request_error' },
  unsupported_input: { status: 400, type: 'invalid_request_error' },
  model_not_found: { status: 404, type: 'not_found_error' },
  // The gateway's upstream account: not the client's fault, so not a 401/403 the client would misread.
  authentication: {
    status: 502,
    type: 'api_error',
    noRetry: true,
    message: (p) =>
      `The upstream provider '${p}' rejected the gateway's credentials. This is a gateway configuration problem.`,
  },
  permission: {
    status: 502,
    type: 'api_error',
    noRetry: true,
    message: (p) => `The gateway's account at the upstream provider '${p}' is not permitted to make this request.`,
  },
  quota: {
    status: 502,
    type: 'api_error',
    noRetry: true,
    message: (p) => `The gateway's account at the upstream provider '${p}' has exhausted its quota or credits.`,
  },
  rate_limit: {
    status: 429,
    type: 'rate_limit_error',
    message: (p, seconds) =>
      `The upstream provider '${p}' is rate limiting requests. ` +
      (seconds === undefined ? 'Please retry later.' : `Retry after ${seconds} s.`),
  },
  overloaded: {
    status: 529,
    type: 'overloaded_error',
    withUpstreamMessage: true,
    message: (p) => `The upstream provider '${p}' is overloaded. Please retry later.`,
  },
  upstream_5xx: {
    status: 502,
    type: 'api_error',
    withUpstreamMessage: true,
    message: (p) => `The upstream provider '${p}' failed with a server error.`,
  },
  network: {
    status: 502,
    type: 'api_error',
    message: (p) => `The upstream provider '${p}' could not be reached.`,
  },
  invalid_response: {
    status: 502,
    type: 'api_error',
    message: (p) => `The upstream provider '${p}' sent a response the gateway could not understand.`,
  },
  timeout: {
    status: 504,
    type: 'timeout_error',
    message: (p) => `The upstream provider '${p}' did not respond in time.`,
  },
};

function clip(message: string): string {
  const trimmed = message.trim();
  return trimmed.length > MAX_MESSAGE_CHARS ? `${trimmed.slice(0, MAX_MESSAGE_CHARS)}…` : trimmed;
}

/** Claude Code recognises an over-long prompt by this phrase (Anthropic's own wording) and compacts. */
const PROMPT_TOO_LONG = 'prompt is too long';

const errorBody = (type: AnthropicErrorType, message: string): AnthropicErrorBody => ({
  type: 'error',
  error: { type, message },
});

/** Maps a classified upstream error to the Anthropic status, body and headers the client receives. */
export function providerErrorToAnthropic(info: ProviderErrorInfo, provider: string): AnthropicErrorResponse {
  const mapping = MAPPINGS[info.errorClass] ?? MAPPINGS.upstream_5xx;
  const headers: Record<string, string> = {};
  let retryAfterSeconds: number | undefined;
  if ((info.errorClass === 'rate_limit' || info.errorClass === 'overloaded') && info.retryAfterMs !== undefined) {
    retryAfterSeconds = Math.max(0, Math.ceil(info.retryAfterMs / 1000));
    headers['retry-after'] = String(retryAfterSeconds);
  }
  if (mapping.noRetry) headers['x-should-retry'] = 'false';
  const upstream = clip(info.message);
  let message: string;
  if (mapping.message) {
    message = mapping.message(provider, retryAfterSeconds);
    if (mapping.withUpstreamMessage && upstream) message += ` Upstream message: ${upstream}`;
  } else if (info.errorClass === 'context_length' && upstream.toLowerCase().startsWith(PROMPT_TOO_LONG)) {
    message = upstream;
  } else {
    message = `${provider}: ${upstream || 'The request was rejected.'}`;
    if (info.errorClass === 'context_length') message = `${PROMPT_TOO_LONG}: ${message}`;
  }
  return { status: mapping.status, body: errorBody(mapping.type, message), headers };
}

const STATUS_TYPES: Record<number, AnthropicErrorType> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

/**
 * A gateway-side error (unreadable body, unknown model, bad or missing client key, budget exceeded…)
 * in Anthropic's shape. The type follows the status unless given.
 * @example anthropicClientError(401, 'Invalid API key.') // authentication_error
 */
export function anthropicClientError(
  status: number,
  message: string,
  type?: AnthropicErrorType,
): AnthropicErrorResponse {
  const resolved = type ?? STATUS_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
  return { status, body: errorBody(resolved, message), headers: {} };
}
