// Upstream failure → OpenAI error response, for the OpenAI dialects (before the stream and inside it).
// Client-fixable errors keep a 4xx and the upstream's message. Failures of the gateway's own upstream
// account, rate limits and local failures (network, timeout, unreadable response) get fixed messages:
// their text can name the gateway's key prefix, organisation or internal addresses (PROTOCOLS.md §9).
// Upstream 5xx / overload messages are generic server text, so they are appended to the fixed one.
import type { ProviderErrorClass, ProviderErrorInfo } from '../core/types.ts';

export type OpenAIErrorResponse = {
  status: number;
  body: { error: { message: string; type: string; param: string | null; code: string | null } };
  headers: Record<string, string>;
};

type Mapping = {
  status: number;
  type: string;
  code: string | null;
  /** Fixed message; when absent the upstream's message is used, prefixed by the provider. */
  message?: (provider: string, retryAfterSeconds?: number) => string;
  /** Append the upstream's message to the fixed one (server-side failures whose text is safe and useful). */
  withUpstreamMessage?: boolean;
};

/** Upstream messages longer than this are cut (they may quote large parts of the request). */
const MAX_MESSAGE_CHARS = 1000;

const MAPPINGS: Record<ProviderErrorClass, Mapping> = {
  // Client-fixable: the upstream's own words help the client fix the request.
  bad_request: { status: 400, type: 'invalid_request_error', code: null },
  context_length: { status: 400, type: 'invalid_request_error', code: 'context_length_exceeded' },
  content_filter: { status: 400, type: 'invalid_request_error', code: 'content_filter' },
  unsupported_input: { status: 400, type: 'invalid_request_error', code: 'unsupported_value' },
  model_not_found: { status: 404, type: 'invalid_request_error', code: 'model_not_found' },
  // The gateway's upstream account: not the client's fault, so not a 401/403 the client would misread.
  authentication: {
    status: 502,
    type: 'upstream_error',
    code: 'upstream_authentication_failed',
    message: (p) =>
      `The upstream provider '${p}' rejected the gateway's credentials. This is a gateway configuration problem.`,
  },
  permission: {
    status: 502,
    type: 'upstream_error',
    code: 'upstream_permission_denied',
    message: (p) => `The gateway's account at the upstream provider '${p}' is not permitted to make this request.`,
  },
  quota: {
    status: 502,
    type: 'upstream_error',
    code: 'upstream_quota_exceeded',
    message: (p) => `The gateway's account at the upstream provider '${p}' has exhausted its quota or credits.`,
  },
  rate_limit: {
    status: 429,
    type: 'rate_limit_error',
    code: 'rate_limit_exceeded',
    message: (p, seconds) =>
      `The upstream provider '${p}' is rate limiting requests. ` +
      (seconds === undefined ? 'Please retry later.' : `Retry after ${seconds} s.`),
  },
  overloaded: {
    status: 503,
    type: 'upstream_error',
    code: 'upstream_overloaded',
    withUpstreamMessage: true,
    message: (p) => `The upstream provider '${p}' is overloaded. Please retry later.`,
  },
  upstream_5xx: {
    status: 502,
    type: 'upstream_error',
    code: 'upstream_server_error',
    withUpstreamMessage: true,
    message: (p) => `The upstream provider '${p}' failed with a server error.`,
  },
  network: {
    status: 502,
    type: 'upstream_error',
    code: 'upstream_unreachable',
    message: (p) => `The upstream provider '${p}' could not be reached.`,
  },
  invalid_response: {
    status: 502,
    type: 'upstream_error',
    code: 'upstream_invalid_response',
    message: (p) => `The upstream provider '${p}' sent a response the gateway could not understand.`,
  },
  timeout: {
    status: 504,
    type: 'upstream_error',
    code: 'upstream_timeout',
    message: (p) => `The upstream provider '${p}' did not respond in time.`,
  },
};

/** Upstream codes are passed on only when they look like identifiers (not gRPC prose or numbers). */
const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

function clip(message: string): string {
  const trimmed = message.trim();
  return trimmed.length > MAX_MESSAGE_CHARS ? `${trimmed.slice(0, MAX_MESSAGE_CHARS)}…` : trimmed;
}

/** Maps a classified upstream error to the OpenAI status, body and headers the client receives. */
export function providerErrorToOpenAI(info: ProviderErrorInfo, provider: string): OpenAIErrorResponse {
  const mapping = MAPPINGS[info.errorClass] ?? MAPPINGS.upstream_5xx;
  const headers: Record<string, string> = {};
  let retryAfterSeconds: number | undefined;
  if ((info.errorClass === 'rate_limit' || info.errorClass === 'overloaded') && info.retryAfterMs !== undefined) {
    retryAfterSeconds = Math.max(0, Math.ceil(info.retryAfterMs / 1000));
    headers['Retry-After'] = String(retryAfterSeconds);
  }
  const upstream = clip(info.message);
  if (mapping.message) {
    let message = mapping.message(provider, retryAfterSeconds);
    if (mapping.withUpstreamMessage && upstream) message += ` Upstream message: ${upstream}`;
    const error = { message, type: mapping.type, param: null, code: mapping.code };
    return { status: mapping.status, body: { error }, headers };
  }
  const code = mapping.code ?? (info.code && IDENTIFIER.test(info.code) ? info.code : null);
  const message = `${provider}: ${upstream || 'The request was rejected.'}`;
  const param = info.param ?? null;
  return { status: mapping.status, body: { error: { message, type: mapping.type, param, code } }, headers };
}
