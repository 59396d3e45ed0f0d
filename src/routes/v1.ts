import type { Server } from "bun";
import { Elysia } from "elysia";
import { presentedKey, type ClientKeyIdentity, type ClientKeyVerifier } from "../auth/client-keys.ts";
import type { GatewaySettings } from "../config.ts";
import type { GatewayDeps } from "../core/gateway.ts";
import type { Router } from "../core/router.ts";
import { ClientError, openAIErrorResponse } from "../errors.ts";
import type { Governance } from "../governance/governance.ts";
import type { Logger } from "../logger.ts";
import type { Recorder } from "../recorder/recorder.ts";
import { chatCompletionsDialect } from "./chat-completions.ts";
import { anthropicErrorResponse, messagesDialectFor, messagesRoutes } from "./messages.ts";
import { runDialect, type Dialect, type ParsedInbound } from "./pipeline.ts";
import { responsesDialect, responsesRoutes } from "./responses.ts";

export type V1Deps = {
  router: Router;
  verifier: ClientKeyVerifier;
  gateway: GatewayDeps;
  settings: GatewaySettings & { storeBodies: boolean };
  log: Logger;
  /** The request log; absent only in tests that do not care about it. */
  recorder?: Recorder;
  /** Key policy (expiry, allowed models), budgets and rate limits. */
  governance: Governance;
  /**
   * `closing` is set when the shutdown grace period is over and the gateway closes the connections
   * still open: requests cut off then are logged as `server_shutdown` (503), not as clients that left.
   */
  lifecycle?: { closing: boolean };
};

/**
 * The presented key's identity and policy: 401 for a missing, unknown or revoked key. A disabled
 * or expired key is returned: the caller must refuse it with `governance.checkKey` (after it has
 * started the request's log row, so the refusal is logged). Otherwise use `authenticate`.
 */
function identifyKey(verifier: ClientKeyVerifier, headers: Headers): ClientKeyIdentity {
  const presented = presentedKey(headers);
  const identity = verifier.identify(presented);
  if (identity) return identity;
  throw new ClientError(
    401,
    presented !== undefined
      ? "Incorrect API key provided. Use a client key created with `llm-proxy keys create`."
      : "You didn't provide an API key. Send it as 'Authorization: Bearer <key>' (or 'x-api-key').",
    "invalid_request_error",
    null,
    "invalid_api_key",
  );
}

/**
 * A `/v1` inference endpoint as a plain Bun handler. It answers every outcome itself: errors in its
 * dialect's shape, the security headers on every response. The listening server takes these
 * requests straight from Bun's router (`inferenceRoutes`), without Elysia's per-request context,
 * hooks and response mapping; the Elysia routes call the same function (for `app.handle()`).
 */
export type InferenceHandler = (request: Request, server: Server<unknown> | null | undefined) => Promise<Response>;

/** The three inference endpoints (POST only; every other method and path stays with Elysia). */
export type InferenceHandlers = Record<"/v1/chat/completions" | "/v1/messages" | "/v1/responses", InferenceHandler>;

export function inferenceHandlers(deps: V1Deps): InferenceHandlers {
  const identify = (headers: Headers) => identifyKey(deps.verifier, headers);
  const openAIErrors = (error: unknown) => openAIErrorResponse(error, deps.log);
  return {
    "/v1/chat/completions": dialectHandler(deps, identify, () => chatCompletionsDialect, openAIErrors),
    "/v1/messages": dialectHandler(deps, identify, (request) => messagesDialectFor(request.headers), (error) => anthropicErrorResponse(error, deps.log)),
    "/v1/responses": dialectHandler(deps, identify, () => responsesDialect, openAIErrors),
  };
}

/** One dialect on the shared request path as an `InferenceHandler`; `renderError` answers any failure in the dialect's shape. */
function dialectHandler<P extends ParsedInbound>(
  deps: V1Deps,
  identify: (headers: Headers) => ClientKeyIdentity,
  dialectOf: (request: Request) => Dialect<P>,
  renderError: (error: unknown) => Response,
): InferenceHandler {
  // Not an async function: `catch` costs less per request than an async frame. Every response of
  // runDialect, and of renderError, carries the security headers already.
  return (request, server) => {
    try {
      // LLM calls outlive Bun's idle timeout (BUN-NOTES §5): disable it for this request.
      server?.timeout(request, 0);
      // Disabled/expired keys are refused inside, once the request's log row has started.
      const identity = identify(request.headers);
      return runDialect(deps, dialectOf(request), request, identity, server?.requestIP(request)?.address).catch(renderError);
    } catch (error) {
      return Promise.resolve(renderError(error));
    }
  };
}

/** The inference endpoints as Bun `routes` for `Bun.serve` (Elysia's `serve.routes`). */
export function inferenceRoutes(handlers: InferenceHandlers): Record<string, { POST: InferenceHandler }> {
  return Object.fromEntries(Object.entries(handlers).map(([path, handler]) => [path, { POST: handler }]));
}

/** An inference handler as an Elysia route handler: its Response is passed on untouched. */
function elysiaInference(handler: InferenceHandler) {
  return ({ request, server, set }: { request: Request; server: Server<unknown> | null; set: { headers: Record<string, unknown> } }) => {
    // The handler's response carries every header; with the defaults dropped, Elysia has nothing to merge.
    set.headers = {};
    return handler(request, server);
  };
}

/** `/v1` in OpenAI's dialect: chat completions and the model list. */
export function v1Routes(deps: V1Deps, handlers: InferenceHandlers = inferenceHandlers(deps)) {
  const { router, verifier, governance } = deps;
  const modelNotFound = (id: string) =>
    new ClientError(404, `The model '${id}' does not exist or no configured provider serves it`, "invalid_request_error", "model", "model_not_found");
  /** The models this key may use (its allowlist applied). */
  const visibleModels = (key: ClientKeyIdentity) =>
    router.listModels().filter((m) => {
      if (key.policy.allowedModels === null) return true;
      const route = router.resolve(m.id);
      return governance.canList(key, m.id, route.ok ? route.targets : []);
    });
  /** A usable key: 401 for a missing, unknown, revoked, disabled or expired one. */
  const authenticate = (headers: Headers) => {
    const key = identifyKey(verifier, headers);
    governance.checkKey(key);
    return key;
  };
  return new Elysia({ name: "v1" })
    .get("/v1/models", ({ request }) => {
      const key = authenticate(request.headers);
      return { object: "list", data: visibleModels(key).map((m) => ({ id: m.id, object: "model", created: 0, owned_by: m.ownedBy })) };
    })
    .get("/v1/models/*", ({ request, params }) => {
      const key = authenticate(request.headers);
      const id = decodeURIComponent(params["*"]);
      const model = visibleModels(key).find((m) => m.id === id);
      if (!model) throw modelNotFound(id);
      return { id: model.id, object: "model", created: 0, owned_by: model.ownedBy };
    })
    .post("/v1/chat/completions", elysiaInference(handlers["/v1/chat/completions"]), { parse: "none" })
    .post("/v1/responses", elysiaInference(handlers["/v1/responses"]), { parse: "none" })
    .post("/v1/messages", elysiaInference(handlers["/v1/messages"]), { parse: "none" })
    .use(responsesRoutes(deps, (headers) => identifyKey(verifier, headers)))
    .use(messagesRoutes(deps, (headers) => identifyKey(verifier, headers)));
}
