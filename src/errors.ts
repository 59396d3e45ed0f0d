import type { Logger } from "./logger.ts";
import { BASE_SECURITY_HEADERS } from "./server/security-headers.ts";
/**
 * Error bodies in the caller's API shape. `/v1` (OpenAI dialect) and the admin API both answer
 * `{"error":{message,type,param,code}}`; the Anthropic dialect adds its own mapping later.
 * Messages never include request bodies, secrets or stack traces.
 */
export type OpenAIErrorBody = {
  error: { message: string; type: string; param: string | null; code: string | null };
};

export function openAIError(
  message: string,
  type = "invalid_request_error",
  param: string | null = null,
  code: string | null = null,
): OpenAIErrorBody {
  return { error: { message, type, param, code } };
}

/** An error the client can act on, with the HTTP status to answer. */
export class ClientError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type = "invalid_request_error",
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ClientError";
  }
  toBody(): OpenAIErrorBody {
    return openAIError(this.message, this.type, this.param, this.code);
  }
}

/**
 * Any failure of a `/v1` request in OpenAI's shape: a ClientError's status, message and headers;
 * 499 for an abort; otherwise a logged 500 that says nothing about the cause. The app's error
 * handler and the inference endpoints (`openAIErrorResponse`) both answer with this.
 */
export function openAIErrorOf(
  error: unknown,
  log: Pick<Logger, "error">,
): { status: number; body: OpenAIErrorBody; headers: Record<string, string> } {
  if (error instanceof ClientError) return { status: error.status, body: error.toBody(), headers: error.headers };
  if ((error as { name?: string })?.name === "AbortError") {
    return { status: 499, body: openAIError("Client closed the request", "invalid_request_error", null, "client_closed_request"), headers: {} };
  }
  log.error("unhandled error", { error: (error as Error)?.message });
  return { status: 500, body: openAIError("Internal server error", "server_error"), headers: {} };
}

/** `openAIErrorOf` as a complete response, security headers included. */
export function openAIErrorResponse(error: unknown, log: Pick<Logger, "error">): Response {
  const { status, body, headers } = openAIErrorOf(error, log);
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...BASE_SECURITY_HEADERS, ...headers } });
}
