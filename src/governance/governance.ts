import type { ChatRequest, Usage } from "../core/types.ts";
import { GOVERNANCE_CONFIG_DEFAULTS, type GovernanceConfig } from "../config.ts";
import { ClientError } from "../errors.ts";
import { usd } from "../pricing/cost.ts";
import { isPricedOutcome, type Pricer, type RequestRecord } from "../recorder/recorder.ts";
import { estimatePromptTokens } from "./estimate.ts";
import type { BudgetLedger, Clock, Reservation, ReserveResult } from "./ledger.ts";
import type { ModelOutputLimits } from "./model-limits.ts";
import type { GovernedTrace } from "./trace.ts";
import { hasBudget, keyUsability, modelAllowed, type KeyPolicy } from "./policy.ts";
import { rateLimitHeaders, type AdmitResult, type RateLimiter, type RatePermit } from "./rate-limiter.ts";

/**
 * `[governance]`: `unpriced` / `zeroCost` say what happens to requests whose cost a budget cannot
 * count (models without a price, or priced at $0) under a key with a budget ("deny" by default);
 * `defaultMaxOutputTokens` is the max output assumed when a request sets none and models.dev
 * lists no `limit.output`.
 */
export type GovernanceSettings = GovernanceConfig;

/** A verified client key with its policy (what `ClientKeyVerifier` returns). */
export type GovernedKey = { id: string; name: string; policy: KeyPolicy };

/** A target as routing produced it (only what governance reads). */
export type GovernedTarget = { label: string; upstreamModel: string; provider: { id: string; type: string } };

/** The facts of a finished request that settlement prices, as the recorder prices them. */
export type SettleInput = Pick<RequestRecord, "status" | "usage" | "providerType" | "provider" | "responseModel" | "upstreamModel" | "costPico"> & { errorClass?: string };

/** Tells the OpenAI and Anthropic SDKs not to retry a refusal that a retry cannot pass. */
const NO_RETRY = { "x-should-retry": "false" } as const;

/** A refusal by key policy, budget or rate limit. `code` doubles as the request log's error class. */
export class GovernanceError extends ClientError {
  override name = "GovernanceError";
  get errorClass(): string {
    return this.code ?? "governance";
  }
}

/** An admitted request: headers for its response, and the settlement to run once it has ended. */
export type Admission = {
  /** `x-ratelimit-*` headers (empty when the key has no rate limits). */
  headers: Record<string, string>;
  /** The budget hold (0 when the key has no budget). */
  reservedPico: bigint;
  promptTokens: number;
  maxOutputTokens: number;
  /** Books the actual cost and tokens; idempotent. */
  settle(record: SettleInput): void;
};

export type GovernanceDeps = {
  ledger: BudgetLedger;
  limiter: RateLimiter;
  /** The request log's pricer, so reservations and settlements use the prices rows are logged with. */
  price?: Pricer;
  outputLimits?: ModelOutputLimits;
  settings?: Partial<GovernanceSettings>;
  clock?: Clock;
  /** Where failures of an asynchronous (shared) ledger or limiter are reported. */
  onError?: (message: string, error: unknown) => void;
};

/** `$0.01`, `$0.000603`: exact, trailing zeros trimmed, at least 2 decimals. */
export function formatUsd(pico: bigint): string {
  const text = usd(pico, 8);
  const [whole, frac = ""] = text.split(".");
  const trimmed = frac.replace(/0+$/, "").padEnd(2, "0");
  return `$${whole}.${trimmed}`;
}

const hasUsage = (u: Usage | undefined): u is Usage => !!u && (u.inputTokens !== undefined || u.outputTokens !== undefined);

/**
 * The actual cost of a finished request, by the recorder's rule: priced when usage is known and the
 * status is below 500, otherwise 0; unpriced counts 0 (its log row has a NULL cost).
 */
export function actualCostPico(price: Pricer | undefined, r: SettleInput): bigint {
  if (!price || !hasUsage(r.usage) || !isPricedOutcome(r.status, r.errorClass)) return 0n;
  if (r.costPico !== undefined) return r.costPico ?? 0n; // priced by the recorder already
  try {
    return price({ providerType: r.providerType, provider: r.provider, models: [r.responseModel, r.upstreamModel], usage: r.usage }).costPico ?? 0n;
  } catch {
    return 0n;
  }
}

/** Tokens a finished request used (input + output), for TPM settlement. */
export function actualTokens(r: SettleInput): number {
  return (r.usage?.inputTokens ?? 0) + (r.usage?.outputTokens ?? 0);
}

/** An admission between its rate-limit permit and its budget hold. */
type PendingHold = {
  key: GovernedKey;
  amount: bigint;
  permit: RatePermit | undefined;
  headers: Record<string, string>;
  promptTokens: number;
  maxOutputTokens: number;
};

type Quote = {
  maxCostPico: bigint;
  maxOutputTokens: number;
  unpriced?: { target: string; why: string };
  zeroCost?: { target: string; entry?: string };
};

/** The `x-ratelimit-*` headers of a key without rate limits: none (shared, never written to). */
const NO_HEADERS: Record<string, string> = Object.freeze({});

const PERIOD_LABEL = { daily: "daily", monthly: "monthly", total: "total" } as const;

/**
 * Key policy, budgets and rate limits for `/v1` requests. The request path calls, in order:
 * `checkKey` (401 disabled/expired), `checkModel` (403), then `admit` (403 unpriced, 429 rate
 * limit, 429 budget), and settles the admission when the request's log row is recorded.
 */
export class Governance {
  readonly settings: GovernanceSettings;
  readonly ledger: BudgetLedger;
  readonly limiter: RateLimiter;
  private readonly clock: Clock;

  constructor(private readonly deps: GovernanceDeps) {
    this.settings = {
      ...GOVERNANCE_CONFIG_DEFAULTS,
      ...deps.settings,
      zeroCost: deps.settings?.zeroCost ?? deps.settings?.unpriced ?? GOVERNANCE_CONFIG_DEFAULTS.zeroCost,
    };
    this.ledger = deps.ledger;
    this.limiter = deps.limiter;
    this.clock = deps.clock ?? Date.now;
  }

  /** 401 for a disabled or expired key. */
  checkKey(key: GovernedKey): void {
    const state = keyUsability(key.policy, this.clock());
    if (state === "ok") return;
    const message =
      state === "disabled"
        ? `The API key '${key.name}' is disabled. An administrator can enable it again.`
        : `The API key '${key.name}' expired at ${new Date(key.policy.expiresAt!).toISOString()}.`;
    throw new GovernanceError(401, message, "invalid_request_error", null, "invalid_api_key");
  }

  /** 403 `model_not_allowed` when the key's allowlist does not cover the model (see `modelAllowed`). */
  checkModel(key: GovernedKey, requested: string, targets: ReadonlyArray<GovernedTarget>): void {
    if (modelAllowed(key.policy.allowedModels, requested, targets)) return;
    throw new GovernanceError(
      403,
      `The API key '${key.name}' is not allowed to use the model '${requested}'.`,
      "invalid_request_error",
      "model",
      "model_not_allowed",
    );
  }

  /** Whether the key may see a model in `/v1/models`. */
  canList(key: GovernedKey, id: string, targets: ReadonlyArray<GovernedTarget>): boolean {
    return modelAllowed(key.policy.allowedModels, id, targets);
  }

  /** `x-ratelimit-*` headers without taking anything (for responses refused before admission). */
  async peekHeaders(key: GovernedKey): Promise<Record<string, string>> {
    if (key.policy.rpm === null && key.policy.tpm === null) return {};
    return rateLimitHeaders(await this.limiter.peek(key.id, key.policy));
  }

  /** The most a request can cost on any of its targets, and its max output tokens. */
  private quote(targets: ReadonlyArray<GovernedTarget>, promptTokens: number, requestedMax: number | undefined): Quote {
    const quote: Quote = { maxCostPico: 0n, maxOutputTokens: 0 };
    const fallbackMax = requestedMax ?? this.settings.defaultMaxOutputTokens;
    for (const t of targets) {
      const base = { providerType: t.provider.type, provider: t.provider.id, models: [t.upstreamModel] };
      let first: ReturnType<Pricer> | undefined;
      try {
        first = this.deps.price?.({ ...base, usage: { inputTokens: promptTokens, outputTokens: 0 } });
      } catch {
        first = undefined;
      }
      if (!first || first.costPico === null) {
        quote.maxOutputTokens = Math.max(quote.maxOutputTokens, fallbackMax);
        const why = (first as { explanation?: string } | undefined)?.explanation ?? "no price found";
        quote.unpriced ??= { target: t.label, why };
        continue;
      }
      const limit = this.deps.outputLimits?.get(first.entry);
      const maxOut = requestedMax !== undefined ? (limit !== undefined ? Math.min(requestedMax, limit) : requestedMax) : (limit ?? this.settings.defaultMaxOutputTokens);
      quote.maxOutputTokens = Math.max(quote.maxOutputTokens, maxOut);
      // The dearest way the provider could bill these tokens: output as visible or reasoning
      // tokens, input as plain or cache-write tokens.
      let cost = first.costPico;
      for (const usage of [
        { inputTokens: promptTokens, outputTokens: maxOut },
        { inputTokens: promptTokens, outputTokens: maxOut, reasoningTokens: maxOut },
        { inputTokens: promptTokens, cacheWriteInputTokens: promptTokens, outputTokens: maxOut },
      ]) {
        const c = this.deps.price!({ ...base, usage }).costPico;
        if (c !== null && c > cost) cost = c;
      }
      if (cost === 0n) quote.zeroCost ??= { target: t.label, entry: first.entry };
      if (cost > quote.maxCostPico) quote.maxCostPico = cost;
    }
    return quote;
  }

  /**
   * Admits a request: the unpriced/zero-cost policy for keys with a budget, then RPM/TPM, then the
   * budget hold (spent + reserved + this request's maximum ≤ each budget). Throws a
   * GovernanceError (403/429) with `x-ratelimit-*` and `Retry-After` headers when refused.
   */
  async admit(
    key: GovernedKey,
    input: { requestedModel: string; targets: ReadonlyArray<GovernedTarget>; request: Pick<ChatRequest, "messages" | "tools" | "maxOutputTokens"> },
  ): Promise<Admission> {
    return this.admitNow(key, input);
  }

  /** `admit`, synchronous unless the key has rate limits (the limiter may be asynchronous). */
  private admitNow(
    key: GovernedKey,
    input: { requestedModel: string; targets: ReadonlyArray<GovernedTarget>; request: Pick<ChatRequest, "messages" | "tools" | "maxOutputTokens"> },
  ): Admission | Promise<Admission> {
    const { policy } = key;
    const budgeted = hasBudget(policy);
    const limited = policy.rpm !== null || policy.tpm !== null;
    const promptTokens = budgeted || policy.tpm !== null ? estimatePromptTokens(input.request) : 0;
    const quote: Quote =
      budgeted || policy.tpm !== null
        ? this.quote(input.targets, promptTokens, input.request.maxOutputTokens)
        : { maxCostPico: 0n, maxOutputTokens: 0 };

    if (budgeted) this.checkCostPolicy(key, input.requestedModel, quote);
    // Every request holds (0 when the key has no budget), so spend is tracked for all keys.
    const amount = budgeted ? quote.maxCostPico : 0n;
    const hold: PendingHold = { key, amount, permit: undefined, headers: {}, promptTokens, maxOutputTokens: quote.maxOutputTokens };
    if (!limited) return this.hold(hold);
    return this.admitLimited(hold, promptTokens + quote.maxOutputTokens);
  }

  /** Admission for a key with rate limits: the limiter first (it may be asynchronous), then the hold. */
  private async admitLimited(hold: PendingHold, tokens: number): Promise<Admission> {
    const { key, promptTokens } = hold;
    const admitted = await this.limiter.admit(key.id, key.policy, tokens);
    hold.headers = rateLimitHeaders(admitted.state);
    if (!admitted.ok) throw this.rateLimited(key, admitted, hold.headers, promptTokens);
    hold.permit = admitted.permit;
    return this.hold(hold);
  }

  /** The budget hold of an admission (after its rate-limit permit, if any, which a refusal cancels). */
  private hold(h: PendingHold): Admission | Promise<Admission> {
    let reserved: ReserveResult | Promise<ReserveResult>;
    try {
      reserved = this.ledger.reserve(h.key.id, h.key.policy.budgets, h.amount);
    } catch (e) {
      if (!h.permit) throw e;
      return this.release(h.permit, e);
    }
    if (reserved instanceof Promise) return this.heldLater(h, reserved);
    return this.held(h, reserved);
  }

  private async heldLater(h: PendingHold, reserved: Promise<ReserveResult>): Promise<Admission> {
    let result: ReserveResult;
    try {
      result = await reserved;
    } catch (e) {
      return this.release(h.permit, e);
    }
    return this.held(h, result);
  }

  /** Cancels a rate-limit permit (if any), then rethrows. */
  private async release(permit: RatePermit | undefined, error: unknown): Promise<never> {
    if (permit) await this.limiter.cancel(permit);
    throw error;
  }

  /** The admission once the ledger answered: settled later, or refused over budget. */
  private held(h: PendingHold, result: ReserveResult): Admission | Promise<Admission> {
    const { key, permit, promptTokens, maxOutputTokens } = h;
    if (!result.ok) {
      if (!permit) throw this.overBudget(key, result, h.headers, promptTokens, maxOutputTokens);
      return this.refuseOverBudget(h, result, permit);
    }
    return this.admission(h, result.reservation);
  }

  private async refuseOverBudget(h: PendingHold, result: Extract<ReserveResult, { ok: false }>, permit: RatePermit): Promise<never> {
    const { key, promptTokens, maxOutputTokens } = h;
    await this.limiter.cancel(permit);
    const now = rateLimitHeaders(await this.limiter.peek(key.id, key.policy));
    throw this.overBudget(key, result, now, promptTokens, maxOutputTokens);
  }

  /** An admitted request: its headers, and the settlement the trace runs with its log row. */
  private admission(h: PendingHold, reservation: Reservation): Admission {
    const { permit, promptTokens, maxOutputTokens } = h;
    let settled = false;
    return {
      headers: h.headers,
      reservedPico: h.amount,
      promptTokens,
      maxOutputTokens,
      settle: (record) => {
        if (settled) return;
        settled = true;
        try {
          this.quietly("budget settlement failed", this.ledger.settle(reservation, actualCostPico(this.deps.price, record)));
        } catch (e) {
          this.deps.onError?.("budget settlement failed", e);
        }
        if (permit) {
          try {
            this.quietly("rate-limit settlement failed", this.limiter.settle(permit, actualTokens(record)));
          } catch (e) {
            this.deps.onError?.("rate-limit settlement failed", e);
          }
        }
      },
    };
  }

  /**
   * The whole policy for one routed request, for every `/v1` endpoint: the allowlist, then
   * admission, settled when `trace` finishes (its log row). Returns the `x-ratelimit-*` headers
   * for the response (synchronously when the key has no rate limits); throws a GovernanceError
   * for a refusal. Call `checkKey` first. `trace` is the request's own, started with the key's id
   * (`clientKeyId`): a key without budgets or rate limits books its spend from the trace's record.
   */
  enforce(
    key: GovernedKey,
    trace: GovernedTrace,
    input: { requestedModel: string; targets: ReadonlyArray<GovernedTarget>; request: Pick<ChatRequest, "messages" | "tools" | "maxOutputTokens"> },
  ): Record<string, string> | Promise<Record<string, string>> {
    this.checkModel(key, input.requestedModel, input.targets);
    const { policy } = key;
    if (policy.rpm === null && policy.tpm === null && !hasBudget(policy)) {
      // Nothing to hold or limit: the request is admitted as it is and its cost booked at the end
      // (by one shared listener, so such a request allocates no admission, hold or closure).
      trace.onFinish(this.bookSpend);
      return NO_HEADERS;
    }
    const admission = this.admitNow(key, input);
    if (admission instanceof Promise) return this.settleLater(admission, trace);
    trace.onFinish(admission.settle);
    return admission.headers;
  }

  /** The settlement of a request that held nothing: its actual cost booked to its key's spend. */
  private readonly bookSpend = (record: RequestRecord): void => {
    if (record.clientKeyId === undefined) return;
    try {
      this.quietly("budget settlement failed", this.ledger.book(record.clientKeyId, actualCostPico(this.deps.price, record), record.receivedAt));
    } catch (e) {
      this.deps.onError?.("budget settlement failed", e);
    }
  };

  // The asynchronous branches below are methods of their own: a closure anywhere in a function
  // (even in a branch that rarely runs) makes every call of it allocate a scope object.

  private async settleLater(admission: Promise<Admission>, trace: GovernedTrace): Promise<Record<string, string>> {
    const a = await admission;
    trace.onFinish(a.settle);
    return a.headers;
  }

  /** Reports a settlement that fails later (an asynchronous ledger or limiter); one that throws is caught by the caller. */
  private quietly(message: string, result: unknown): void {
    if (result instanceof Promise) this.reportFailure(message, result);
  }

  private reportFailure(message: string, result: Promise<unknown>): void {
    result.catch((e) => this.deps.onError?.(message, e));
  }

  private checkCostPolicy(key: GovernedKey, model: string, quote: Quote): void {
    if (quote.unpriced && this.settings.unpriced === "deny") {
      throw new GovernanceError(
        403,
        `The API key '${key.name}' has a spend budget, and the model '${model}' has no known price (${quote.unpriced.target}: ${quote.unpriced.why}), so its cost cannot be counted against the budget. ` +
          `Requests to unpriced models are refused ([governance] unpriced = "deny"); add a [pricing.overrides] entry for the model, or set unpriced = "allow".`,
        "invalid_request_error",
        "model",
        "unpriced_model",
      );
    }
    if (quote.zeroCost && this.settings.zeroCost === "deny") {
      throw new GovernanceError(
        403,
        `The API key '${key.name}' has a spend budget, and the model '${model}' is priced at $0 (${quote.zeroCost.target}${quote.zeroCost.entry ? ` → ${quote.zeroCost.entry}` : ""}), so the budget cannot limit it. ` +
          `Requests to zero-cost models are refused ([governance] zero_cost = "deny"); add a [pricing.overrides] entry, or set zero_cost = "allow".`,
        "invalid_request_error",
        "model",
        "unpriced_model",
      );
    }
  }

  private rateLimited(key: GovernedKey, r: Extract<AdmitResult, { ok: false }>, headers: Record<string, string>, promptTokens: number): GovernanceError {
    const w = r.exceeded === "requests" ? r.state.requests! : r.state.tokens!;
    const label = r.exceeded === "requests" ? "requests per min (RPM)" : "tokens per min (TPM)";
    const requested = r.exceeded === "requests" ? 1 : r.requestedTokens;
    const what = r.exceeded === "tokens" ? ` (≈${promptTokens} prompt tokens estimated + ${r.requestedTokens - promptTokens} max output tokens)` : "";
    if (r.retryAfterMs === null) {
      return new GovernanceError(
        429,
        `Request too large for key '${key.name}' on ${label}: Limit ${w.limit}, Requested ${requested}${what}. Lower max_tokens or shorten the prompt.`,
        "tokens",
        null,
        "rate_limit_exceeded",
        { ...headers, ...NO_RETRY },
      );
    }
    const used = Math.max(0, w.limit - w.remaining);
    const seconds = Math.max(1, Math.ceil(r.retryAfterMs / 1000));
    return new GovernanceError(
      429,
      `Rate limit reached for key '${key.name}' on ${label}: Limit ${w.limit}, Used ${used}, Requested ${requested}${what}. Please try again in ${seconds}s.`,
      r.exceeded,
      null,
      "rate_limit_exceeded",
      { ...headers, "retry-after": String(seconds) },
    );
  }

  private overBudget(
    key: GovernedKey,
    r: Extract<ReserveResult, { ok: false }>,
    headers: Record<string, string>,
    promptTokens: number,
    maxOutputTokens: number,
  ): GovernanceError {
    const left = r.limitPico - r.spentPico;
    const exhausted = left <= 0n;
    let message =
      `${PERIOD_LABEL[r.period][0]!.toUpperCase()}${PERIOD_LABEL[r.period].slice(1)} budget of ${formatUsd(r.limitPico)} for key '${key.name}' ` +
      `${exhausted ? "exhausted" : "would be exceeded"}: ${formatUsd(r.spentPico)} spent, ${formatUsd(r.reservedPico)} reserved by requests in flight, ` +
      `and this request may cost up to ${formatUsd(r.requestedPico)} (≈${promptTokens} prompt tokens + ${maxOutputTokens} max output tokens).`;
    if (!exhausted && r.requestedPico > left) message += ` That alone is more than the ${formatUsd(left)} left: lower max_tokens.`;
    const extra: Record<string, string> = {};
    // Waiting only helps when the period ends; a budget held by requests in flight frees up sooner.
    if (r.spentPico + r.requestedPico > r.limitPico) {
      // Spent alone leaves no room: an SDK's automatic retry cannot succeed (they retry 429s, and
      // ignore a retry-after of more than a minute), so it is told not to.
      Object.assign(extra, NO_RETRY);
      if (r.resetsAt !== undefined) {
        extra["retry-after"] = String(Math.max(1, Math.ceil((r.resetsAt - this.clock()) / 1000)));
        message += ` The ${r.period} budget resets at ${new Date(r.resetsAt).toISOString()}.`;
      }
    }
    return new GovernanceError(429, message, "insufficient_quota", null, "budget_exceeded", { ...headers, ...extra });
  }
}
