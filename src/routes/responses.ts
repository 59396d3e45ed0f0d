import crypto from "node:crypto";
import { Elysia } from "elysia";
import {
  createResponsesStreamEncoder,
  formatResponsesSSE,
  parseResponsesRequest,
  providerErrorToOpenAI,
  toResponseObject,
  type ParsedResponsesRequest,
} from "../api/openai-responses.ts";
import type { ClientKeyIdentity } from "../auth/client-keys.ts";
import { ClientError } from "../errors.ts";
import { type Dialect, type DialectContext } from "./pipeline.ts";
import type { V1Deps } from "./v1.ts";

/**
 * The error for an upstream stream that ended before its `finish` (the client sees the mapped
 * `invalid_response` text in `response.failed` + `error`: never a stream that just stops).
 */
const CUT_SHORT = "The upstream stream ended before the response was complete.";

const codecContext = (ctx: DialectContext<ParsedResponsesRequest>) => ({
  id: ctx.id,
  created: ctx.created,
  model: ctx.model,
  request: ctx.parsed,
  provider: ctx.provider,
});

/**
 * POST /v1/responses: OpenAI's Responses API (the `openai` SDK's `responses.*`, Codex CLI) on the
 * shared request path, statelessly (../api/openai-responses.ts). Streams have no `[DONE]`: they
 * end with `response.completed`, `response.incomplete`, or `response.failed` + `error`.
 */
export const responsesDialect: Dialect<ParsedResponsesRequest> = {
  endpoint: "responses",
  newId: () => `resp_${crypto.randomBytes(24).toString("hex")}`,
  parse(body) {
    const parsed = parseResponsesRequest(body);
    return parsed.ok
      ? parsed
      : { ok: false, error: new ClientError(400, parsed.error.message, "invalid_request_error", parsed.error.param, parsed.error.code) };
  },
  upstreamError: providerErrorToOpenAI,
  complete: (result, ctx) => toResponseObject(result, codecContext(ctx)),
  stream(ctx) {
    const encoder = createResponsesStreamEncoder(codecContext(ctx));
    return {
      encode: (event) => encoder.encode(event).map(formatResponsesSSE),
      // The upstream events always end with `finish` (or `error` + `finish`), so the encoder has
      // normally emitted its terminal event already. If they stopped short anyway, the client still
      // gets `response.failed` + `error` (clients retry on those) rather than a stream that just stops.
      end: () =>
        encoder.done
          ? []
          : encoder
              .encode({ type: "error", error: { message: CUT_SHORT, errorClass: "invalid_response", retryable: true } })
              .map(formatResponsesSSE),
      get failed() {
        return encoder.failed;
      },
    };
  },
  keepalive: ": keep-alive\n\n",
};

/** The other routes under /v1/responses; `identify` is v1's key lookup (401 for a missing or unknown key). */
export function responsesRoutes(deps: V1Deps, identify: (headers: Headers) => ClientKeyIdentity) {
  const refuse = ({ request, params }: { request: Request; params: Record<string, string> }): never => {
    deps.governance.checkKey(identify(request.headers));
    throw statelessRefusal(request.method, params["*"] ?? "");
  };
  return new Elysia({ name: "v1-responses" })
    .get("/v1/responses/*", refuse, { parse: "none" })
    .post("/v1/responses/*", refuse, { parse: "none" })
    .delete("/v1/responses/*", refuse, { parse: "none" });
}

/**
 * Everything under /v1/responses/{…} needs stored responses (retrieve, delete, cancel, input items)
 * or a feature this gateway does not serve (compaction, input token counts): a clear 404 instead
 * of a bare "Invalid URL".
 */
function statelessRefusal(method: string, rest: string): ClientError {
  let path = rest;
  try {
    path = decodeURIComponent(rest);
  } catch {}
  const [first = "", action] = path.split("/");
  const stateless =
    "this gateway is stateless and stores no responses (every response has store: false). " +
    "Keep the output items of each response and send the whole conversation in 'input' on every turn.";
  if (first === "") return new ClientError(404, `Invalid URL (${method} /v1/responses/)`, "invalid_request_error", null, "unknown_url");
  if (first === "compact") {
    return new ClientError(404, "Response compaction (/v1/responses/compact) is not supported by this gateway.", "invalid_request_error", null, "unknown_url");
  }
  if (first === "input_tokens") {
    return new ClientError(404, "Input token counting (/v1/responses/input_tokens) is not supported by this gateway.", "invalid_request_error", null, "unknown_url");
  }
  const what =
    action === "cancel"
      ? "cannot be cancelled (background responses are not supported)"
      : action === "input_items"
        ? "has no stored input items"
        : method === "DELETE"
          ? "cannot be deleted"
          : "cannot be retrieved";
  return new ClientError(404, `Response '${first.slice(0, 100)}' ${what}: ${stateless}`, "invalid_request_error", "response_id", "response_not_found");
}
