import crypto from "node:crypto";
import { Elysia } from "elysia";
import {
  createChunkEncoder,
  formatSSE,
  parseChatCompletionRequest,
  providerErrorToOpenAI,
  SSE_DONE,
  toChatCompletion,
} from "../api/openai-chat.ts";
import { presentedKey, type ClientKeyIdentity, type ClientKeyVerifier } from "../auth/client-keys.ts";
import type { GatewaySettings } from "../config.ts";
import { accumulate } from "../core/accumulate.ts";
import { GatewayError, openChat, type GatewayDeps } from "../core/gateway.ts";
import type { Router } from "../core/router.ts";
import type { StreamEvent } from "../core/types.ts";
import { ClientError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { readJsonBody } from "./request-body.ts";

export type V1Deps = {
  router: Router;
  verifier: ClientKeyVerifier;
  gateway: GatewayDeps;
  settings: GatewaySettings;
  log: Logger;
};

const JSON_HEADERS = { "content-type": "application/json" };
const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  connection: "keep-alive",
  "x-accel-buffering": "no",
};
const KEEPALIVE = new TextEncoder().encode(": keep-alive\n\n");

function authenticate(verifier: ClientKeyVerifier, headers: Headers): ClientKeyIdentity {
  const identity = verifier.verify(presentedKey(headers));
  if (identity) return identity;
  const sent = presentedKey(headers) !== undefined;
  throw new ClientError(
    401,
    sent
      ? "Incorrect API key provided. Use a client key created with `llm-proxy keys create`."
      : "You didn't provide an API key. Send it as 'Authorization: Bearer <key>' (or 'x-api-key').",
    "invalid_request_error",
    null,
    "invalid_api_key",
  );
}

function errorResponse(error: GatewayError): Response {
  const mapped = providerErrorToOpenAI(error.last.toInfo(), error.last.provider);
  return new Response(JSON.stringify(mapped.body), { status: mapped.status, headers: { ...JSON_HEADERS, ...mapped.headers } });
}

/** `/v1` in OpenAI's dialect: chat completions and the model list. */
export function v1Routes(deps: V1Deps) {
  const { router, verifier, settings, log } = deps;
  return new Elysia({ name: "v1" })
    .get("/v1/models", ({ request }) => {
      authenticate(verifier, request.headers);
      return { object: "list", data: router.listModels().map((m) => ({ id: m.id, object: "model", created: 0, owned_by: m.ownedBy })) };
    })
    .get("/v1/models/*", ({ request, params }) => {
      authenticate(verifier, request.headers);
      const id = decodeURIComponent(params["*"]);
      const model = router.listModels().find((m) => m.id === id);
      if (!model) {
        throw new ClientError(404, `The model '${id}' does not exist or no configured provider serves it`, "invalid_request_error", "model", "model_not_found");
      }
      return { id: model.id, object: "model", created: 0, owned_by: model.ownedBy };
    })
    .post(
      "/v1/chat/completions",
      async ({ request, server }) => {
        // LLM calls outlive Bun's idle timeout (BUN-NOTES §5): disable it for this request.
        server?.timeout(request, 0);
        authenticate(verifier, request.headers);
        const body = await readJsonBody(request, settings.maxBodyBytes);
        const parsed = parseChatCompletionRequest(body);
        if (!parsed.ok) throw new ClientError(400, parsed.error.message, "invalid_request_error", parsed.error.param, parsed.error.code);
        const { model, stream, includeUsage, request: chat } = parsed.value;
        const route = router.resolve(model);
        if (!route.ok) throw new ClientError(404, route.message, "invalid_request_error", "model", "model_not_found");

        // Linked to the client connection: a disconnect aborts the upstream call at once.
        const upstream = new AbortController();
        const onAbort = () => upstream.abort(request.signal.reason);
        if (request.signal.aborted) onAbort();
        else request.signal.addEventListener("abort", onAbort, { once: true });

        let opened;
        try {
          opened = await openChat(deps.gateway, { targets: route.targets, request: chat, stream, signal: upstream.signal });
        } catch (e) {
          if (e instanceof GatewayError) {
            log.warn("upstream request failed", { model, attempts: e.attempts.length, error_class: e.last.errorClass, provider: e.last.provider });
            return errorResponse(e);
          }
          if (upstream.signal.aborted) return new Response(null, { status: 499 });
          throw e;
        }
        const id = `chatcmpl-${crypto.randomBytes(12).toString("base64url")}`;
        const created = Math.floor(Date.now() / 1000);
        const headers = { "x-llm-proxy-target": opened.target.label, "x-llm-proxy-attempts": String(opened.attempts.length) };

        if (!stream) {
          const events: StreamEvent[] = [];
          for await (const event of opened.events) events.push(event);
          const result = accumulate(events);
          const reported = result.model ?? opened.target.upstreamModel;
          return new Response(JSON.stringify(toChatCompletion(result, { id, created, model: reported })), {
            headers: { ...JSON_HEADERS, ...headers },
          });
        }

        const encoder = createChunkEncoder({ id, created, model: opened.target.upstreamModel, includeUsage, provider: opened.target.provider.id });
        const bytes = new TextEncoder();
        const iterator = opened.events;
        let keepalive: ReturnType<typeof setInterval> | undefined;
        const sseBody = new ReadableStream<Uint8Array>({
          async start(controller) {
            let lastWrite = Date.now();
            const write = (chunk: Uint8Array) => {
              lastWrite = Date.now();
              controller.enqueue(chunk);
            };
            keepalive = setInterval(() => {
              if (Date.now() - lastWrite >= settings.keepaliveIntervalMs) write(KEEPALIVE);
            }, Math.max(100, Math.floor(settings.keepaliveIntervalMs / 2)));
            try {
              let failed = false;
              for await (const event of iterator) {
                if (event.type === "error") failed = true;
                for (const chunk of encoder.encode(event)) write(bytes.encode(formatSSE(chunk)));
              }
              // After an in-stream error the stream just ends, as OpenAI's does (no [DONE]).
              if (!failed) write(bytes.encode(SSE_DONE));
            } catch (e) {
              if (!upstream.signal.aborted) log.error("stream failed", { error: (e as Error).message });
            } finally {
              clearInterval(keepalive);
              try {
                controller.close();
              } catch {}
            }
          },
          cancel() {
            clearInterval(keepalive);
            upstream.abort(new Error("client disconnected"));
          },
        });
        return new Response(sseBody, { headers: { ...SSE_HEADERS, ...headers } });
      },
      { parse: "none" },
    );
}
