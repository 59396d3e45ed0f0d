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
 * Any failure of a `/v1` request as a complete response in OpenAI's shape, as the app's error
 * handler renders it: a ClientError's status, message and headers; 499 for an abort; otherwise a
 * logged 500 that says nothing about the cause.
 */
export function openAIErrorResponse(error: unknown, log: Pick<Logger, "error">): Response {
  let status = 500;
  let body: OpenAIErrorBody;
  let headers: Record<string, string> | undefined;
  if (error instanceof ClientError) {
    status = error.status;
    body = error.toBody();
    headers = error.headers;
  } else if ((error as { name?: string })?.name === "AbortError") {
    status = 499;
    body = openAIError("Client closed the request", "invalid_request_error", null, "client_closed_request");
  } else {
    log.error("unhandled error", { error: (error as Error)?.message });
    body = openAIError("Internal server error", "server_error");
  }
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...BASE_SECURITY_HEADERS, ...headers } });
}
