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
