import type { GatewaySettings } from "../config.ts";
import { ProviderError, shouldFailover } from "../providers/errors.ts";
import { openProvider, type RunTimeouts } from "../providers/run.ts";
import type { ProviderSettings } from "../providers/types.ts";
import type { KeyPool } from "./key-pool.ts";
import type { Target } from "./router.ts";
import type { ChatRequest, ChatResult, StreamEvent } from "./types.ts";

/** One upstream call made for a request: what was tried and how it ended. */
export type Attempt = {
  target: string;
  keyIndex: number;
  ok: boolean;
  status?: number;
  errorClass?: string;
  message?: string;
  durationMs: number;
};

/** Every target failed before producing output (or a client-fixable error stopped the chain). */
export class GatewayError extends Error {
  override name = "GatewayError";
  constructor(
    readonly last: ProviderError,
    readonly attempts: Attempt[],
  ) {
    super(last.message);
  }
}

export type GatewayDeps = {
  settings: GatewaySettings;
  keyPool: KeyPool;
  /** Injected in tests; defaults to globalThis.fetch. */
  fetch?: typeof fetch;
  random?: () => number;
  /**
   * The target model's maximum output tokens, when known (models.dev `limit.output`). A request
   * asking for more is clamped to it: agents such as Claude Code ask for 32k–128k output tokens,
   * which most upstream models reject with a 400.
   */
  maxOutputTokens?: (target: Target) => number | undefined;
};

/**
 * A committed upstream call: the whole result when the upstream answered with a JSON reply (a
 * stream request can get one too), else its events, starting with the first output it produced.
 */
export type OpenedChat = { target: Target; attempts: Attempt[] } & (
  | { result: ChatResult; /** The upstream's JSON text. */ body: string; events?: undefined }
  | { result?: undefined; body?: undefined; events: AsyncGenerator<StreamEvent, void, undefined> }
);

const ACCOUNT_ERRORS = new Set(["authentication", "quota", "permission"]);

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(done, ms);
    function done() {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }
    function onAbort() {
      clearTimeout(timer);
      reject(signal.reason);
    }
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

async function* prepend(first: StreamEvent[], rest: AsyncGenerator<StreamEvent, void, undefined>) {
  yield* first;
  yield* rest;
}

type TargetProvider = Target["provider"];
/** Each provider's upstream settings per key index, made once per provider object (a reload makes new ones). */
const settingsCache = new WeakMap<TargetProvider, ProviderSettings[]>();
function providerSettings(provider: TargetProvider, keyIndex: number): ProviderSettings {
  let byKey = settingsCache.get(provider);
  if (!byKey) settingsCache.set(provider, (byKey = []));
  const slot = keyIndex + 1; // -1 (no key) at 0
  return (byKey[slot] ??= {
    apiKey: keyIndex >= 0 ? provider.apiKeys[keyIndex]!.value : "",
    baseUrl: provider.baseUrl,
    headers: provider.headers,
    instanceId: provider.id,
  });
}

const timeoutsCache = new WeakMap<GatewaySettings, RunTimeouts>();
function timeoutsOf(settings: GatewaySettings): RunTimeouts {
  let timeouts = timeoutsCache.get(settings);
  if (!timeouts) {
    timeouts = { connectMs: settings.connectTimeoutMs, firstByteMs: settings.firstByteTimeoutMs, idleMs: settings.streamIdleTimeoutMs };
    timeoutsCache.set(settings, timeouts);
  }
  return timeouts;
}

/**
 * The gateway loop: try each target in order, rotating keys and retrying transient failures with
 * exponential backoff and jitter (honouring retry-after up to `retryMaxDelayMs`), and commit at
 * the first output event. Nothing has reached the client before commit, so every failure up to
 * then can still fall back; after it, failures arrive as `error` events in the stream.
 */
export async function openChat(
  deps: GatewayDeps,
  input: {
    targets: Target[];
    request: Omit<ChatRequest, "model">;
    stream: boolean;
    signal: AbortSignal;
    /** Filled as attempts are made, so a caller still sees them if the client aborts mid-way. */
    attempts?: Attempt[];
  },
): Promise<OpenedChat> {
  const { settings, keyPool } = deps;
  const random = deps.random ?? Math.random;
  const attempts: Attempt[] = input.attempts ?? [];
  let last: ProviderError | undefined;

  const targets = input.targets;
  // An index loop, not for…of: JSC's optimised code for this async function left the for…of array
  // iterator with an OutOfBounds speculation failure on nearly every request (the function is
  // resumed inside the loop after each await), so it ran deoptimised and was recompiled again and
  // again (BUN_JSC_printEachOSRExit; see README).
  for (let t = 0; t < targets.length; t++) {
    const target = targets[t]!;
    const { provider } = target;
    const keys = provider.apiKeys.length ? keyPool.order(provider.id, provider.apiKeys.length) : [-1];
    let retries = 0;
    let nextTarget = false;
    for (let k = 0; k < keys.length && !nextTarget; k++) {
      const keyIndex = keys[k]!;
      for (;;) {
        const started = performance.now();
        const limit = input.request.maxOutputTokens !== undefined ? deps.maxOutputTokens?.(target) : undefined;
        const opening = openProvider(
          target.adapter,
          {
            ...input.request,
            model: target.upstreamModel,
            ...(limit !== undefined && input.request.maxOutputTokens! > limit ? { maxOutputTokens: limit } : {}),
          },
          providerSettings(provider, keyIndex),
          { stream: input.stream, signal: input.signal, fetch: deps.fetch, timeouts: timeoutsOf(settings) },
        );
        try {
          const opened = await opening;
          // A stream commits at its first output; a JSON reply is already whole.
          const first = opened.events ? await opened.events.next() : undefined;
          attempts.push({ target: target.label, keyIndex, ok: true, durationMs: Math.round(performance.now() - started) });
          if (opened.result) return { target, attempts, result: opened.result, body: opened.body };
          return { target, attempts, events: prepend(first!.done ? [] : [first!.value], opened.events) };
        } catch (e) {
          if (input.signal.aborted) {
            // The request ended (its client left, or the gateway is closing) while this call was in
            // flight: the provider may bill it, so it is an attempt, cancelled.
            attempts.push({ target: target.label, keyIndex, ok: false, errorClass: "cancelled", durationMs: Math.round(performance.now() - started) });
            throw input.signal.reason ?? e;
          }
          const error =
            e instanceof ProviderError
              ? e
              : new ProviderError({
                  provider: provider.id,
                  info: { message: `request to ${provider.id} failed`, errorClass: "network", retryable: true },
                  cause: e,
                });
          last = error;
          attempts.push({
            target: target.label,
            keyIndex,
            ok: false,
            status: error.status,
            errorClass: error.errorClass,
            message: error.message,
            durationMs: Math.round(performance.now() - started),
          });
          if (ACCOUNT_ERRORS.has(error.errorClass)) {
            // This key is unusable for a while; try the provider's next key, then the next target.
            if (keyIndex >= 0) keyPool.bench(provider.id, keyIndex);
            break;
          }
          if (error.retryable) {
            if (error.errorClass === "rate_limit" && k + 1 < keys.length) break; // another key may have headroom
            const hint = error.retryAfterMs;
            if (retries >= settings.maxRetries || (hint !== undefined && hint > settings.retryMaxDelayMs)) {
              nextTarget = true;
              break;
            }
            const backoff = Math.min(settings.retryMaxDelayMs, settings.retryBaseDelayMs * 2 ** retries);
            const delay = Math.min(settings.retryMaxDelayMs, Math.max(hint ?? 0, backoff * (0.5 + random() * 0.5)));
            retries++;
            await sleep(delay, input.signal);
            continue;
          }
          if (shouldFailover(error)) {
            nextTarget = true;
            break;
          }
          throw new GatewayError(error, attempts); // the client must fix the request: no fallback helps
        }
      }
    }
  }
  if (!last) {
    last = new ProviderError({
      provider: "gateway",
      info: { message: "no upstream target is available for this model", errorClass: "network", retryable: false },
    });
  }
  throw new GatewayError(last, attempts);
}
