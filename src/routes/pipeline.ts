import type { ClientKeyIdentity } from "../auth/client-keys.ts";
import { createAccumulator, resultToEvents } from "../core/accumulate.ts";
import { GatewayError, openChat, type OpenedChat } from "../core/gateway.ts";
import type { Target } from "../core/router.ts";
import type { ChatRequest, ChatResult, ProviderErrorInfo, StreamEvent, Warning } from "../core/types.ts";
import { ClientError } from "../errors.ts";
import { GovernanceError } from "../governance/governance.ts";
import { GovernedTrace } from "../governance/trace.ts";
import type { RequestRecord } from "../recorder/recorder.ts";
import { usageOrEstimate } from "../recorder/trace.ts";
import { randomBase64Url } from "../recorder/random.ts";
import { BASE_SECURITY_HEADERS } from "../server/security-headers.ts";
import { readJsonBody } from "./request-body.ts";
import type { V1Deps } from "./v1.ts";

// The security headers are part of every response built here: the handlers send these responses as they are.
const JSON_HEADERS = { "content-type": "application/json", ...BASE_SECURITY_HEADERS };
const SSE_HEADERS = {
  ...BASE_SECURITY_HEADERS,
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  connection: "keep-alive",
  "x-accel-buffering": "no",
};
const JSON_REPLY_HEADERS = new Headers(JSON_HEADERS);
const SSE_REPLY_HEADERS = new Headers(SSE_HEADERS);

/**
 * Reply headers of a first-attempt answer from one target (the fixed ones, the target and
 * `x-llm-proxy-attempts: 1`), built once per target and reply kind: a reply then sets only its own
 * request id. Keyed by the target object (the router shares one per model name), so no key string
 * is built per request and a target dropped by the router takes its entries with it.
 */
const firstAttemptHeaders = { json: new WeakMap<Target, Headers>(), sse: new WeakMap<Target, Headers>() };
function replyHeaders(fixed: Headers, target: Target, attempts: number): Headers {
  const cache = fixed === SSE_REPLY_HEADERS ? firstAttemptHeaders.sse : firstAttemptHeaders.json;
  let headers = attempts === 1 ? cache.get(target) : undefined;
  if (headers) return headers;
  headers = new Headers(fixed);
  headers.set("x-llm-proxy-target", target.label);
  headers.set("x-llm-proxy-attempts", String(attempts));
  if (attempts === 1) cache.set(target, headers);
  return headers;
}

/** A parsed inbound request, in any dialect. */
export type ParsedInbound = {
  /** The model as the client named it (alias, `provider/model` or bare). */
  model: string;
  stream: boolean;
  request: Omit<ChatRequest, "model">;
  /** Lossy conversions made while parsing (recorded on the request-log row). */
  warnings?: Warning[];
};

/** What the request path needs to know about one inbound API (OpenAI chat, Anthropic messages, Responses). */
export type Dialect<P extends ParsedInbound> = {
  /** Request-log endpoint name, e.g. "chat.completions". */
  endpoint: string;
  /** Id of the reply, e.g. `chatcmpl-…`. */
  newId(): string;
  /** Validates and converts the body; a ClientError (rendered in this dialect by the route) when it is invalid. */
  parse(body: unknown): { ok: true; value: P } | { ok: false; error: ClientError };
  /** An upstream failure before any output, as this dialect's error response. */
  upstreamError(info: ProviderErrorInfo, provider: string): { status: number; body: unknown; headers: Record<string, string> };
  /** The whole reply of a non-streaming call. */
  complete(result: ChatResult, ctx: DialectContext<P>): unknown;
  /** Wire encoder for a streaming call: each event → preformatted SSE text. */
  stream(ctx: DialectContext<P>): { encode(event: StreamEvent): string[]; end(): string[]; readonly failed: boolean };
  /** Sent after this much upstream silence (an SSE comment, or Anthropic's `ping` event). */
  keepalive: string;
};

export type DialectContext<P> = { id: string; created: number; model: string; provider: string; parsed: P };

/**
 * The request path shared by every inbound API: key policy → parse → route → allowed model →
 * admission (rate limits, budget hold) → gateway loop → JSON or SSE in the caller's dialect.
 * Exactly one request-log row per authenticated request, whatever happens; admission settles from
 * that row's facts. ClientErrors are thrown for the route to render in its dialect's shape.
 */
export async function runDialect<P extends ParsedInbound>(
  deps: V1Deps,
  dialect: Dialect<P>,
  request: Request,
  identity: ClientKeyIdentity,
  clientIp: string | undefined,
): Promise<Response> {
  const { router, settings, log, governance } = deps;
  const trace = new GovernedTrace(deps.recorder, {
    endpoint: dialect.endpoint,
    stream: false,
    clientKeyId: identity.id,
    clientIp,
    userAgent: request.headers.get("user-agent") ?? undefined,
    project: request.headers.get("x-llm-proxy-project")?.slice(0, 100) || undefined,
  });
  let body: unknown;
  // The prompt, for estimating usage when a request ends without the upstream's count (client
  // disconnects): turned into text only then (promptTextOf), not on every request.
  let messages: unknown;
  // `x-ratelimit-*` headers from admission, sent on every response after it.
  let limitHeaders: Record<string, string> | undefined;
  const storeBodies = settings.storeBodies || identity.policy.storeBodies;
  try {
    governance.checkKey(identity);
    body = await readJsonBody(request, settings.maxBodyBytes);
    const parsed = dialect.parse(body);
    if (!parsed.ok) throw parsed.error;
    const { model, stream, request: chat } = parsed.value;
    trace.requested(model, stream);
    if (parsed.value.warnings?.length) trace.set({ warnings: parsed.value.warnings });
    const route = router.resolve(model);
    if (!route.ok) throw new ClientError(404, route.message, "invalid_request_error", "model", "model_not_found");
    // Allowed model, rate limits and budget hold; settled to the actual cost when the row is recorded.
    const enforced = governance.enforce(identity, trace, { requestedModel: model, targets: route.targets, request: chat });
    limitHeaders = enforced instanceof Promise ? await enforced : enforced;
    messages = chat.messages;

    // Linked to the client connection: a disconnect aborts the upstream call at once. A stream
    // also aborts it when its body is cancelled, so it gets its own controller; a JSON reply
    // needs nothing more than the request's signal.
    const upstream = stream ? linkedController(request.signal) : undefined;
    const signal = upstream?.signal ?? request.signal;

    let opened;
    try {
      opened = await openChat(deps.gateway, { targets: route.targets, request: chat, stream, signal, attempts: trace.attempts });
    } catch (e) {
      if (e instanceof GatewayError) {
        const mapped = dialect.upstreamError(e.last.toInfo(), e.last.provider);
        servedByLastCall(trace, route.targets); // grouped with its model's successes in rollups and metrics
        trace.finish({ status: mapped.status, errorClass: e.last.errorClass, errorMessage: e.last.message, provider: e.last.provider, bodies: storedBodies(storeBodies, body, mapped.body) });
        log.warn("upstream request failed", { model, attempts: e.attempts.length, error_class: e.last.errorClass, provider: e.last.provider });
        return new Response(JSON.stringify(mapped.body), { status: mapped.status, headers: { ...JSON_HEADERS, ...mapped.headers, ...limitHeaders, "x-request-id": trace.id } });
      }
      if (signal.aborted) {
        servedByLastCall(trace, route.targets, "cancelled"); // the call in flight may be billed: priced by its target
        trace.finish({ ...cutOff(deps), usage: usageOrEstimate(undefined, promptTextOf(messages), ""), bodies: storedBodies(storeBodies, body) });
        return new Response(null, { status: 499, headers: BASE_SECURITY_HEADERS });
      }
      throw e;
    }
    const { target } = opened;
    trace.served(target.provider.id, target.provider.type, target.upstreamModel);
    if (!stream) {
      let result: ChatResult;
      if (opened.result) {
        // A JSON reply: the adapter's result as it is.
        result = opened.result;
        trace.observeResult(result);
      } else {
        // An upstream that streamed anyway: folded into one result.
        const acc = createAccumulator();
        try {
          for await (const event of opened.events) {
            trace.observe(event);
            acc.push(event);
          }
        } catch (e) {
          const partial = acc.result();
          trace.finish({ ...cutOff(deps), usage: usageOrEstimate(partial.usage, promptTextOf(messages), partial.text, acc.finished), bodies: storedBodies(storeBodies, body) });
          throw e;
        }
        result = acc.result();
      }
      // A reply already in this dialect's format (OpenAI's own, to a Chat Completions client) is
      // sent as the upstream wrote it: writing it again from the result would only drop fields.
      const native = opened.body !== undefined && target.adapter.nativeReplyEndpoint === dialect.endpoint ? opened.body : undefined;
      let completed: unknown;
      if (native === undefined) {
        const ctx = dialectContext(dialect, target, parsed.value);
        if (result.model) ctx.model = result.model;
        completed = dialect.complete(result, ctx);
      }
      trace.firstByte();
      trace.finish({
        status: 200,
        usage: result.usage,
        errorClass: result.error?.errorClass,
        errorMessage: result.error?.message,
        bodies: storeBodies ? { request: body, response: completed ?? JSON.parse(native!) } : undefined,
      });
      return reply(native ?? JSON.stringify(completed), JSON_REPLY_HEADERS, target, trace, limitHeaders);
    }

    const sseBody = streamBody(deps, dialect, dialectContext(dialect, target, parsed.value), opened, trace, { target, signal, upstream: upstream!, messages, body: storeBodies ? body : undefined });
    return reply(sseBody, SSE_REPLY_HEADERS, target, trace, limitHeaders);
  } catch (e) {
    if (e instanceof ClientError) {
      trace.finish({ status: e.status, errorClass: e instanceof GovernanceError ? e.errorClass : "invalid_request", errorMessage: e.message, bodies: storedBodies(storeBodies, body, e.toBody()) });
      e.headers["x-request-id"] = trace.id; // the id of its log row, as on every reply
      // Refusals before admission still report the key's rate-limit state (not for a refused key).
      if (e.status !== 401 && !Object.keys(e.headers).some((h) => h.startsWith("x-ratelimit-"))) {
        Object.assign(e.headers, limitHeaders ?? (await governance.peekHeaders(identity).catch(() => ({}))));
      }
    } else trace.finish({ status: 500, errorClass: "internal", errorMessage: (e as Error)?.message, bodies: storedBodies(storeBodies, body) });
    throw e;
  }
}

/**
 * A streaming reply's body: the committed upstream stream as SSE in the dialect, with keep-alives
 * during upstream silence, and the request's log row when it ends however it ends. Its own
 * function: the closures here would otherwise make every request (JSON replies too) allocate the
 * scopes they capture from the request path.
 */
function streamBody<P extends ParsedInbound>(
  deps: V1Deps,
  dialect: Dialect<P>,
  ctx: DialectContext<P>,
  opened: OpenedChat,
  trace: GovernedTrace,
  call: { target: Target; signal: AbortSignal; upstream: AbortController; messages: unknown; body: unknown },
): ReadableStream<Uint8Array> {
  const { settings, log } = deps;
  const { target, signal, upstream, messages } = call;
  const storeBodies = call.body !== undefined;
  // Made at the first event, so the reply names the model the upstream reports (a dated snapshot
  // such as gpt-4o-2024-08-06), as a JSON reply does, not the name the gateway asked for.
  let encoder: ReturnType<Dialect<P>["stream"]> | undefined;
  const encoderFor = (event: StreamEvent) => {
    if (!encoder) {
      if (event.type === "response-start" && event.model) ctx.model = event.model;
      encoder = dialect.stream(ctx);
    }
    return encoder;
  };
  const acc = createAccumulator();
  const bytes = new TextEncoder();
  const keepaliveBytes = bytes.encode(dialect.keepalive);
  let keepalive: ReturnType<typeof setInterval> | undefined;
  let clientGone = false;
  const sseBody = new ReadableStream<Uint8Array>({
    async start(controller) {
      let lastWrite = Date.now();
      const write = (chunk: Uint8Array) => {
        lastWrite = Date.now();
        controller.enqueue(chunk);
      };
      keepalive = setInterval(() => {
        if (Date.now() - lastWrite >= settings.keepaliveIntervalMs) write(keepaliveBytes);
      }, Math.max(100, Math.floor(settings.keepaliveIntervalMs / 2)));
      let failure: { errorClass: string; message: string; status: number } | undefined;
      try {
        // A JSON reply to a stream request is sent as the events a stream would have carried.
        for await (const event of opened.events ?? eventsOf(opened.result)) {
          trace.observe(event);
          acc.push(event);
          if (event.type === "error") {
            failure = { errorClass: event.error.errorClass, message: event.error.message, status: dialect.upstreamError(event.error, target.provider.id).status };
          }
          for (const text of encoderFor(event).encode(event)) {
            trace.firstByte();
            write(bytes.encode(text));
          }
        }
        for (const text of (encoder ?? dialect.stream(ctx)).end()) write(bytes.encode(text));
      } catch (e) {
        if (!clientGone && !signal.aborted) log.error("stream failed", { error: (e as Error).message });
      } finally {
        clearInterval(keepalive);
        const result = acc.result();
        const gone = clientGone || signal.aborted ? cutOff(deps) : undefined;
        if (failure && !gone) {
          // The call answered (it committed at its first output) and then failed: the attempt says so,
          // so provider health and the upstream-error metric count it.
          const call = trace.attempts.at(-1);
          if (call?.ok) Object.assign(call, { ok: false, errorClass: failure.errorClass, message: failure.message });
        }
        trace.finish({
          status: gone ? gone.status : (failure?.status ?? 200),
          errorClass: gone ? gone.errorClass : failure?.errorClass,
          errorMessage: gone ? gone.errorMessage : failure?.message,
          usage: gone ? usageOrEstimate(result.usage, promptTextOf(messages), result.text + (result.reasoning ?? "") + result.toolCalls.map((c) => c.arguments).join(""), acc.finished) : result.usage,
          bodies: storeBodies ? { request: call.body, response: streamedReply(dialect, result, ctx) } : undefined,
        });
        try {
          controller.close();
        } catch {}
      }
    },
    cancel() {
      clientGone = true;
      clearInterval(keepalive);
      upstream.abort(new Error("client disconnected"));
    },
  });
  return sseBody;
}

/**
 * Names the target of the request's last call on its row (provider, type, upstream model), for a
 * request that ended without a served reply; with `only`, just when that call ended so.
 */
function servedByLastCall(trace: GovernedTrace, targets: readonly Target[], only?: string): void {
  const call = trace.attempts.at(-1);
  if (!call || (only !== undefined && call.errorClass !== only)) return;
  const target = targets.find((t) => t.label === call.target);
  if (target) trace.served(target.provider.id, target.provider.type, target.upstreamModel);
}

/**
 * A streamed reply as it is stored: the non-streaming reply of the caller's API that carries the
 * same content (what the client assembled from the events), not the gateway's internal result.
 */
function streamedReply<P extends ParsedInbound>(dialect: Dialect<P>, result: ChatResult, ctx: DialectContext<P>): unknown {
  try {
    return dialect.complete(result, ctx);
  } catch {
    return result;
  }
}

/**
 * The bodies to store for a request that did not succeed (when body logging is on and the request
 * body was read): the request, and the error the gateway answered with, if any.
 */
function storedBodies(on: boolean, request: unknown, response?: unknown): RequestRecord["bodies"] {
  return on && request !== undefined ? { request, ...(response !== undefined ? { response } : {}) } : undefined;
}

/**
 * How a request whose connection closed before it was done ends in the log: the client left (499),
 * or the gateway closed it when its shutdown grace period ran out (503).
 */
function cutOff(deps: V1Deps): { status: number; errorClass: string; errorMessage?: string } {
  return deps.lifecycle?.closing
    ? { status: 503, errorClass: "server_shutdown", errorMessage: "closed by the gateway when its shutdown grace period ended" }
    : { status: 499, errorClass: "client_disconnected" };
}

/** The reply: its headers copied from a prebuilt Headers (cheaper than from an object), then this request's. */
function reply(
  body: string | ReadableStream<Uint8Array>,
  fixed: Headers,
  target: Target,
  trace: GovernedTrace,
  limitHeaders: Record<string, string> | undefined,
): Response {
  const response = new Response(body, { headers: replyHeaders(fixed, target, trace.attempts.length) });
  const h = response.headers;
  h.set("x-request-id", trace.id);
  if (limitHeaders) for (const name in limitHeaders) h.set(name, limitHeaders[name]!);
  return response;
}

/** The reply's id, time and model for the dialect's encoder (not made for a reply passed through as is). */
function dialectContext<P extends ParsedInbound>(dialect: Dialect<P>, target: Target, parsed: P): DialectContext<P> {
  return { id: dialect.newId(), created: Math.floor(Date.now() / 1000), model: target.upstreamModel, provider: target.provider.id, parsed };
}

/** A controller aborted when `signal` aborts (or already aborted if it has). */
function linkedController(signal: AbortSignal): AbortController {
  const controller = new AbortController();
  if (signal.aborted) controller.abort(signal.reason);
  else signal.addEventListener("abort", () => controller.abort(signal.reason), { once: true });
  return controller;
}

/** A request's prompt as text, for estimating its tokens. */
function promptTextOf(messages: unknown): string {
  return messages === undefined ? "" : JSON.stringify(messages);
}

async function* eventsOf(result: ChatResult): AsyncGenerator<StreamEvent, void, undefined> {
  yield* resultToEvents(result);
}

/** `<prefix><24 url-safe random characters>` */
export function randomId(prefix: string): string {
  return prefix + randomBase64Url(18);
}
