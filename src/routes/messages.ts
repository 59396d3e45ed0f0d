import { Elysia } from "elysia";
import {
  ANTHROPIC_INBOUND_KEY,
  ANTHROPIC_SSE_PING,
  anthropicClientError,
  countTokensResponse,
  createAnthropicStreamEncoder,
  estimateTokens,
  formatAnthropicSSE,
  parseAnthropicMessagesRequest,
  providerErrorToAnthropic,
  toAnthropicMessage,
  type AnthropicInboundOptions,
  type ParsedAnthropicRequest,
} from "../api/anthropic-messages.ts";
import type { ClientKeyIdentity } from "../auth/client-keys.ts";
import { ClientError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { BASE_SECURITY_HEADERS } from "../server/security-headers.ts";
import { randomId, type Dialect } from "./pipeline.ts";
import { readJsonBody } from "./request-body.ts";
import type { V1Deps } from "./v1.ts";

/**
 * POST /v1/messages: Anthropic's Messages API (the `@anthropic-ai/sdk`, Claude Code) on the shared
 * request path, to any provider (../api/anthropic-messages.ts). Streams are Anthropic's named events
 * and always end with `message_stop` or an `error` event; keep-alives are Anthropic's own `ping`.
 */
export const anthropicMessagesDialect: Dialect<ParsedAnthropicRequest> = {
  endpoint: "messages",
  newId: () => randomId("msg_"),
  parse(body) {
    const parsed = parseAnthropicMessagesRequest(body);
    return parsed.ok ? parsed : { ok: false, error: new ClientError(400, parsed.error.message) };
  },
  upstreamError: providerErrorToAnthropic,
  complete: (result, ctx) => toAnthropicMessage(result, { id: ctx.id, model: ctx.model, inputTokensEstimate: estimateTokens(ctx.parsed.request) }),
  stream(ctx) {
    const encoder = createAnthropicStreamEncoder({
      id: ctx.id,
      model: ctx.model,
      inputTokensEstimate: estimateTokens(ctx.parsed.request),
      provider: ctx.provider,
    });
    return {
      encode: (event) => encoder.encode(event).map(formatAnthropicSSE),
      // A stream that stopped short gets an `error` event: clients re-request instead of taking it as finished.
      end: () => encoder.finish().map(formatAnthropicSSE),
      get failed() {
        return encoder.failed;
      },
    };
  },
  keepalive: ANTHROPIC_SSE_PING,
};

/** At most this many `anthropic-beta` values (of at most 100 characters) are forwarded. */
const MAX_BETAS = 32;

/**
 * The dialect for one request: the client's `anthropic-beta` values ride along (in the inbound
 * options) so that an Anthropic upstream gets them too; other upstreams ignore them.
 */
export function messagesDialectFor(headers: Headers): Dialect<ParsedAnthropicRequest> {
  const betas = (headers.get("anthropic-beta") ?? "")
    .split(",")
    .map((beta) => beta.trim())
    .filter((beta) => beta !== "" && beta.length <= 100)
    .slice(0, MAX_BETAS);
  if (betas.length === 0) return anthropicMessagesDialect;
  return {
    ...anthropicMessagesDialect,
    parse(body) {
      const parsed = anthropicMessagesDialect.parse(body);
      if (parsed.ok) {
        const anthropic = ((parsed.value.request.providerOptions ??= {}).anthropic ??= {});
        const inbound = (anthropic[ANTHROPIC_INBOUND_KEY] ??= {}) as AnthropicInboundOptions;
        inbound.betas = betas;
      }
      return parsed;
    },
  };
}

/** The other routes under /v1/messages; `identify` is v1's key lookup (401 for a missing or unknown key). */
export function messagesRoutes(deps: V1Deps, identify: (headers: Headers) => ClientKeyIdentity) {
  const { router, governance, settings, log } = deps;
  /** A usable key: 401 for a missing, unknown, revoked, disabled or expired one. */
  const authenticate = (headers: Headers) => {
    const key = identify(headers);
    governance.checkKey(key);
    return key;
  };
  /** Everything else under /v1/messages (the Message Batches API): a clear 404, once authenticated. */
  const unsupported = ({ request }: { request: Request }) => {
    try {
      authenticate(request.headers);
      throw new ClientError(404, `${request.method} ${new URL(request.url).pathname} is not supported by this gateway (the Message Batches API is not served).`);
    } catch (error) {
      return anthropicErrorResponse(error, log);
    }
  };
  return new Elysia({ name: "v1-messages" })
    .post(
      "/v1/messages/count_tokens",
      async ({ request }) => {
        try {
          const key = authenticate(request.headers);
          const parsed = parseAnthropicMessagesRequest(await readJsonBody(request, settings.maxBodyBytes));
          if (!parsed.ok) throw new ClientError(400, parsed.error.message);
          const route = router.resolve(parsed.value.model);
          if (!route.ok) throw new ClientError(404, route.message);
          governance.checkModel(key, parsed.value.model, route.targets);
          // A local estimate: no upstream call, nothing to log or bill.
          return Response.json(countTokensResponse(parsed.value.request));
        } catch (error) {
          return anthropicErrorResponse(error, log);
        }
      },
      { parse: "none" },
    )
    .get("/v1/messages/*", unsupported, { parse: "none" })
    .post("/v1/messages/*", unsupported, { parse: "none" })
    .delete("/v1/messages/*", unsupported, { parse: "none" });
}

/**
 * Any failure on these paths in Anthropic's shape, `{"type":"error","error":{"type","message"}}`,
 * with its status: the type follows the status (401 authentication_error, 403 permission_error,
 * 404 not_found_error, 413 request_too_large, 429 rate_limit_error, other 4xx
 * invalid_request_error, 5xx api_error), and a ClientError's headers (Retry-After, x-ratelimit-*)
 * are kept. Never OpenAI's shape, never a stack trace.
 */
export function anthropicErrorResponse(error: unknown, log: Logger): Response {
  let status = 500;
  let message = "Internal server error.";
  let headers: Record<string, string> = {};
  if (error instanceof ClientError) {
    ({ status, message, headers } = error);
  } else if ((error as { name?: string })?.name === "AbortError") {
    status = 499;
    message = "Client closed the request.";
  } else {
    log.error("messages request failed", { error: (error as Error)?.message });
  }
  const mapped = anthropicClientError(status, message);
  return new Response(JSON.stringify(mapped.body), { status, headers: { "content-type": "application/json", ...BASE_SECURITY_HEADERS, ...headers } });
}
