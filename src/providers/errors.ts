// One error class for every upstream failure, classified once (STYLE.md §4.7, PROTOCOLS.md §9).
import type { ProviderErrorClass, ProviderErrorInfo } from '../core/types.ts';

/** Max UTF-8 bytes of upstream body kept on a ProviderError. */
export const UPSTREAM_BODY_MAX_BYTES = 2048;

/** An upstream call failed. Thrown by runProvider only before the first output event. */
export class ProviderError extends Error {
  override readonly name = 'ProviderError';
  /** Configured provider instance id. */
  readonly provider: string;
  /** Upstream HTTP status (absent for network errors, timeouts and in-stream errors). */
  readonly status?: number;
  /** Provider's error code, verbatim. */
  readonly code?: string;
  /** Provider's error type, verbatim. */
  readonly type?: string;
  /** Offending parameter, when named. */
  readonly param?: string;
  /** Normalised class. */
  readonly errorClass: ProviderErrorClass;
  /** Worth retrying / failing over to another target. */
  readonly retryable: boolean;
  /** Upstream's retry hint in ms (uncapped: the caller caps it). */
  readonly retryAfterMs?: number;
  /** Upstream body, ≤ 2 KB, with the API key redacted. */
  readonly upstreamBody?: string;

  constructor(init: {
    provider: string;
    info: ProviderErrorInfo;
    upstreamBody?: string;
    /** Redacted from the message and the body. */
    apiKey?: string;
    cause?: unknown;
  }) {
    const { info, apiKey } = init;
    super(redactSecret(info.message, apiKey), init.cause === undefined ? undefined : { cause: init.cause });
    this.provider = init.provider;
    this.errorClass = info.errorClass;
    this.retryable = info.retryable;
    if (info.status !== undefined) this.status = info.status;
    if (info.code !== undefined) this.code = info.code;
    if (info.type !== undefined) this.type = info.type;
    if (info.param !== undefined) this.param = info.param;
    if (info.retryAfterMs !== undefined) this.retryAfterMs = info.retryAfterMs;
    if (init.upstreamBody !== undefined) {
      this.upstreamBody = truncateUtf8(redactSecret(init.upstreamBody, apiKey), UPSTREAM_BODY_MAX_BYTES);
    }
  }

  /** The plain info, as carried by a StreamEvent `error`. */
  toInfo(): ProviderErrorInfo {
    const { message, errorClass, retryable, status, code, type, param, retryAfterMs } = this;
    return stripUndefined({ message, errorClass, retryable, status, code, type, param, retryAfterMs });
  }
}

/**
 * A suggestion for gateway.ts: may the next target (another provider or key) succeed where this
 * one failed? True for transient errors and for ones tied to this target (model, key, input kind).
 */
export function shouldFailover(error: ProviderError): boolean {
  if (error.retryable) return true;
  return ['model_not_found', 'unsupported_input', 'quota', 'authentication', 'permission'].includes(error.errorClass);
}

const QUOTA = /insufficient[_ ]quota|exceeded your current quota|insufficient balance|used all available credits|spending limit|credit balance is too low/i;
const AUTH = /incorrect api key|invalid[_ ]api[_ ]key|api key not valid|invalid x-api-key|authentication fails|authentication_error/i;
const CONTEXT = /context[_ ]length|maximum context length|maximum prompt length|context window|prompt is too long|input token count .* exceeds/i;
const MODEL = /model[_ ]not[_ ]found|model not exist|model .{1,120} does not exist|unknown model|no such model/i;
const UNSUPPORTED = /unknown variant `image_url`|does not support (?:image|vision)|image input is not supported/i;
const CONTENT_FILTER = /content[_ ]filter|content_policy_violation/i;

/**
 * Classifies an upstream error from its status and (code, type, message).
 * `status` undefined or 2xx = an error frame inside a 200 response.
 */
export function classifyError(input: {
  status?: number;
  code?: string;
  type?: string;
  message: string;
}): { errorClass: ProviderErrorClass; retryable: boolean } {
  const status = input.status !== undefined && input.status >= 300 ? input.status : undefined;
  const tags = `${input.code ?? ''} ${input.type ?? ''}`;
  const text = `${tags} ${input.message}`;
  const result = (errorClass: ProviderErrorClass, retryable: boolean) => ({ errorClass, retryable });

  // Quota first: OpenAI insufficient_quota and xAI credits come as 429 but must not be retried.
  if (status === 402 || QUOTA.test(text)) return result('quota', false);
  if (status === 401 || AUTH.test(text)) return result('authentication', false); // xAI: 400 + message
  if (status === 403) return result('permission', false);
  if (status === 429) return result('rate_limit', true);
  if (UNSUPPORTED.test(text)) return result('unsupported_input', false);
  if (CONTEXT.test(text) && (status === undefined || status < 500)) return result('context_length', false);
  if (status === 404 || (MODEL.test(text) && (status === undefined || status < 500))) {
    return result('model_not_found', false); // DeepSeek: 400 "Model Not Exist"
  }
  if (CONTENT_FILTER.test(tags)) return result('content_filter', false);
  if (status === 408) return result('timeout', true);
  if (status === 503 || status === 529 || /overloaded/i.test(tags)) return result('overloaded', true);
  if (status === undefined) {
    // In-stream error after HTTP 200: mostly server-side trouble (OpenAI `server_error`).
    if (/rate_limit/i.test(tags)) return result('rate_limit', true);
    if (/invalid_request/i.test(tags)) return result('bad_request', false);
    return result('upstream_5xx', true);
  }
  if (status >= 500 || status === 409) return result('upstream_5xx', true);
  return result('bad_request', false);
}

/**
 * Upstream retry hint in ms: `retry-after-ms`, then `retry-after` (seconds or HTTP-date), then a
 * "try again in 2.02s" / "1m30s" / "20 seconds" message. Uncapped; the caller applies its cap.
 */
export function parseRetryAfter(headers: Headers, message?: string, now = Date.now()): number | undefined {
  const ms = Number.parseFloat(headers.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return Math.round(ms);
  const retryAfter = headers.get('retry-after')?.trim();
  if (retryAfter) {
    if (/^\d+(\.\d+)?$/.test(retryAfter)) return Math.round(Number(retryAfter) * 1000);
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  if (!message) return undefined;
  const duration = /try again in ((?:\d+(?:\.\d+)?(?:ms|h|m|s))+)/i.exec(message)?.[1];
  if (duration) {
    let total = 0;
    for (const [, value, unit] of duration.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) {
      total += Number(value) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as 'ms' | 's' | 'm' | 'h'];
    }
    return Math.round(total);
  }
  const seconds = /try again in (\d+(?:\.\d+)?) ?seconds?/i.exec(message)?.[1];
  return seconds ? Math.round(Number(seconds) * 1000) : undefined;
}

/** Replaces every occurrence of the secret (keys shorter than 4 chars are not worth hiding). */
export function redactSecret(text: string, secret: string | undefined): string {
  if (!secret || secret.length < 4 || !text.includes(secret)) return text;
  return text.replaceAll(secret, '[REDACTED]');
}

/** Cuts text to at most maxBytes of UTF-8 (never inside a character), marking the cut with '…'. */
export function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.byteLength <= maxBytes) return text;
  // stream: true drops a trailing partial character instead of emitting U+FFFD.
  return new TextDecoder().decode(bytes.subarray(0, maxBytes - 3), { stream: true }) + '…';
}

function stripUndefined<T extends Record<string, unknown>>(value: T): T {
  for (const key of Object.keys(value)) if (value[key] === undefined) delete value[key];
  return value;
}
