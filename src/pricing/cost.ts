import type { Usage } from "../core/types.ts";
import type { ModelCost, TierPrices } from "./schema.ts";

/**
 * Exact request cost from normalised usage (OpenAI semantics, core/types.ts `Usage`).
 *
 * Unit: **pico-dollars** (1e-12 USD) as `bigint`. A price of P USD per 1M tokens is P×1e6 pico-USD per
 * token, an integer for every price with up to 6 decimals (models.dev has prices such as 0.0375,
 * 0.01875 and 0.083333, which nano-dollars cannot represent per token). Costs are sums of integer
 * products, so any number of additions is exact. A price with more than 6 decimals is rounded to the
 * nearest pico-USD per token. int64 holds ±9.2 million USD in pico-USD, far above one request.
 *
 * Billing rules:
 * - uncached input = input − cache reads − cache writes, at `input`;
 * - cache reads at `cache_read`, or at `input` when models.dev lists none (the provider then bills
 *   them as normal input; noted in `notes`);
 * - cache writes at `cache_write`, or `input` when none is listed; Anthropic 1-hour writes
 *   (`usage.raw.cache_creation.ephemeral_1h_input_tokens`) at 2× input, as Anthropic bills them;
 * - output: reasoning tokens are inside `outputTokens`, so (output − reasoning) at `output` plus
 *   reasoning at `reasoning` (xAI) or `output` when absent — never counted twice;
 * - context tiers: when `inputTokens` exceeds a tier's `size` (the largest such tier; legacy
 *   `context_over_200k` = size 200,000 when no `tiers` are listed), that tier's prices apply to the
 *   whole request, as Google and Anthropic bill. Fields a tier lacks fall back as above within the tier.
 */

export const PICO_PER_USD = 1_000_000_000_000n;

/** Per-component cost in pico-USD; the components sum to the total. */
export type CostBreakdown = {
  /** Uncached input tokens. */
  input: bigint;
  cacheRead: bigint;
  cacheWrite: bigint;
  /** Visible output tokens (output − reasoning). */
  output: bigint;
  reasoning: bigint;
};

export type CostResult = {
  /** Exact total in pico-USD (1e-12 USD). */
  totalPicoUsd: bigint;
  /**
   * Total rounded to the nearest nano-USD (1e-9, half up), for nano columns. Exact whenever every
   * price used has at most 3 decimals in USD/1M; otherwise off by < 0.5 nano-USD. Prefer `totalPicoUsd`.
   */
  totalNanoUsd: number;
  breakdown: CostBreakdown;
  /** Tokens billed per component (after the subtractions above). */
  tokens: { input: number; cacheRead: number; cacheWrite: number; cacheWrite1h: number; output: number; reasoning: number };
  /** Context tier applied, e.g. `context>200000`; absent for base prices. */
  tier?: string;
  /** Assumptions made for this bill (missing cache price, inconsistent usage...). Empty when none. */
  notes: string[];
  /** The provider's own figure when it reports one (xAI `cost_in_usd_ticks`, 1 tick = 1e-10 USD). */
  upstreamPicoUsd?: bigint;
};

/** USD per 1M tokens → pico-USD per token (exact up to 6 decimals). */
export function ratePico(usdPerMillion: number): bigint {
  if (!Number.isFinite(usdPerMillion) || usdPerMillion < 0) throw new RangeError(`invalid price ${usdPerMillion}`);
  return BigInt(Math.round(usdPerMillion * 1e6));
}

/** The prices that apply to a prompt of `promptTokens` tokens, and the tier label if not the base. */
export function selectPrices(cost: ModelCost, promptTokens: number): { prices: TierPrices; tier?: string } {
  const tier = selectTier(cost, promptTokens);
  return tier ? { prices: tier, tier: `context>${tier.tier.size}` } : { prices: cost };
}

/** The context tier whose prices apply (the largest size the prompt exceeds), or undefined for the base prices. */
function selectTier(cost: ModelCost, promptTokens: number) {
  const tiers = cost.tiers && cost.tiers.length > 0
    ? cost.tiers
    : cost.context_over_200k
      ? [{ ...cost.context_over_200k, tier: { type: "context", size: 200_000 } }]
      : undefined;
  if (!tiers) return undefined;
  let chosen: (typeof tiers)[number] | undefined;
  for (const t of tiers) {
    if (t.tier.type === "context" && promptTokens > t.tier.size && (!chosen || t.tier.size > chosen.tier.size)) chosen = t;
  }
  return chosen;
}

const count = (n: number | undefined) => (typeof n === "number" && Number.isFinite(n) && n > 0 ? Math.round(n) : 0);

function rawNumber(raw: unknown, ...path: string[]): number | undefined {
  let v: unknown = raw;
  for (const key of path) {
    if (!v || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/** USD per 1M tokens → pico-USD per token, as a number (an integer up to 6 decimals). */
function rate(usdPerMillion: number): number {
  if (!Number.isFinite(usdPerMillion) || usdPerMillion < 0) throw new RangeError(`invalid price ${usdPerMillion}`);
  return Math.round(usdPerMillion * 1e6);
}

/**
 * What a request is billed for, before any multiplication: the tokens of each component and its
 * rate in pico-USD per token, the tier and the notes (the billing rules at the top of this file).
 * `computeCost` multiplies it out in bigints; `costInNumbers` in numbers while they are exact.
 */
export type Bill = {
  tokens: CostResult["tokens"];
  /** Pico-USD per token (integers). `cacheWrite1h` tokens are billed at 2 × `input`. */
  rates: { input: number; cacheRead: number; cacheWrite: number; output: number; reasoning: number };
  tier?: string;
  notes: string[];
  /** xAI's own figure, in its ticks (1e-10 USD). */
  upstreamTicks?: number;
};

/** The bill for one request (see `Bill`); `providerType` selects what is read from `usage.raw`. */
export function billOf(usage: Usage, cost: ModelCost, providerType: string): Bill {
  const notes: string[] = [];
  const inputTokens = count(usage.inputTokens);
  const cacheRead = count(usage.cachedInputTokens);
  const cacheWrite = count(usage.cacheWriteInputTokens);
  if (cacheRead + cacheWrite > inputTokens) {
    notes.push(`cached + cache-write tokens (${cacheRead + cacheWrite}) exceed input tokens (${inputTokens}): billed as reported`);
  }
  const uncached = Math.max(0, inputTokens - cacheRead - cacheWrite);
  const outputTokens = count(usage.outputTokens);
  const reasoning = count(usage.reasoningTokens);
  if (reasoning > outputTokens) notes.push(`reasoning tokens (${reasoning}) exceed output tokens (${outputTokens}): all reasoning billed`);
  const visible = Math.max(0, outputTokens - reasoning);

  const tier = selectTier(cost, inputTokens);
  const prices: TierPrices = tier ?? cost;
  const input = rate(prices.input);
  if (cacheRead > 0 && prices.cache_read === undefined) notes.push("no cache_read price: cache reads billed at the input price");
  if (cacheWrite > 0 && prices.cache_write === undefined) notes.push("no cache_write price: cache writes billed at the input price");

  let cacheWrite1h = 0;
  if (providerType === "anthropic") {
    cacheWrite1h = Math.min(cacheWrite, count(rawNumber(usage.raw, "cache_creation", "ephemeral_1h_input_tokens")));
    if (cacheWrite1h > 0) notes.push(`${cacheWrite1h} 1-hour cache-write tokens billed at 2× the input price`);
  }
  const bill: Bill = {
    tokens: { input: uncached, cacheRead, cacheWrite, cacheWrite1h, output: visible, reasoning },
    rates: {
      input,
      cacheRead: prices.cache_read === undefined ? input : rate(prices.cache_read),
      cacheWrite: prices.cache_write === undefined ? input : rate(prices.cache_write),
      output: rate(prices.output),
      reasoning: rate(prices.reasoning ?? prices.output),
    },
    notes,
  };
  if (tier) bill.tier = `context>${tier.tier.size}`;
  if (providerType === "grok") {
    const ticks = rawNumber(usage.raw, "cost_in_usd_ticks");
    if (ticks !== undefined && Number.isSafeInteger(ticks) && ticks >= 0) bill.upstreamTicks = ticks;
  }
  return bill;
}

/**
 * Cost of one request. `providerType` selects provider-specific details read from `usage.raw`
 * (Anthropic 1-hour cache writes, xAI's reported cost); the arithmetic is the same for all.
 */
export function computeCost(usage: Usage, cost: ModelCost, providerType: string): CostResult {
  const { tokens, rates, tier, notes, upstreamTicks } = billOf(usage, cost, providerType);
  const breakdown: CostBreakdown = {
    input: BigInt(tokens.input) * BigInt(rates.input),
    cacheRead: BigInt(tokens.cacheRead) * BigInt(rates.cacheRead),
    cacheWrite: BigInt(tokens.cacheWrite - tokens.cacheWrite1h) * BigInt(rates.cacheWrite) + BigInt(tokens.cacheWrite1h) * 2n * BigInt(rates.input),
    output: BigInt(tokens.output) * BigInt(rates.output),
    reasoning: BigInt(tokens.reasoning) * BigInt(rates.reasoning),
  };
  const total = breakdown.input + breakdown.cacheRead + breakdown.cacheWrite + breakdown.output + breakdown.reasoning;
  const result: CostResult = { totalPicoUsd: total, totalNanoUsd: picoToNano(total), breakdown, tokens, notes };
  if (tier) result.tier = tier;
  if (upstreamTicks !== undefined) result.upstreamPicoUsd = BigInt(upstreamTicks) * 100n;
  return result;
}

/**
 * A bill's cost components and total in pico-USD as numbers, or undefined when one of them (or an
 * intermediate product) is not an exact integer below 2^53 (9,007 USD): then use `computeCost`.
 * The request path prices every request this way, without a bigint per component.
 */
export function costInNumbers(bill: Bill): { total: number; input: number; cacheRead: number; cacheWrite: number; output: number; reasoning: number } | undefined {
  const { tokens, rates } = bill;
  const input = tokens.input * rates.input;
  const cacheRead = tokens.cacheRead * rates.cacheRead;
  const cacheWrite1h = tokens.cacheWrite1h * 2 * rates.input;
  const cacheWrite = (tokens.cacheWrite - tokens.cacheWrite1h) * rates.cacheWrite + cacheWrite1h;
  const output = tokens.output * rates.output;
  const reasoning = tokens.reasoning * rates.reasoning;
  const total = input + cacheRead + cacheWrite + output + reasoning;
  // Every term is a non-negative integer product, so an exact total (≤ 2^53) means exact terms.
  return Number.isSafeInteger(total) && Number.isSafeInteger(cacheWrite1h) ? { total, input, cacheRead, cacheWrite, output, reasoning } : undefined;
}

/** pico-USD → nano-USD, rounded half up (half away from zero). */
export function picoToNano(pico: bigint): number {
  const half = pico >= 0n ? 500n : -500n;
  return Number((pico + half) / 1000n);
}

/**
 * Formats pico-USD as a decimal USD string without float rounding: exact with at least 2 decimals by
 * default (`usd(6_132_200_000n)` → `"0.0061322"`, `usd(0n)` → `"0.00"`), or rounded half up to `decimals` places.
 */
export function usd(pico: bigint | number, decimals?: number): string {
  let value = typeof pico === "bigint" ? pico : BigInt(Math.round(pico));
  const negative = value < 0n;
  if (negative) value = -value;
  let scale = 12;
  if (decimals !== undefined && decimals < 12) {
    const unit = 10n ** BigInt(12 - decimals);
    value = (value + unit / 2n) / unit;
    scale = decimals;
  }
  const digits = value.toString().padStart(scale + 1, "0");
  let whole = digits.slice(0, digits.length - scale);
  let frac = digits.slice(digits.length - scale);
  if (decimals === undefined) frac = frac.replace(/0+$/, "").padEnd(2, "0");
  whole = whole || "0";
  const text = frac ? `${whole}.${frac}` : whole;
  return negative && /[1-9]/.test(text) ? `-${text}` : text;
}

/** pico-USD → USD as a JS number (for JSON APIs and display; not for sums). */
export function usdNumber(pico: bigint | number): number {
  return Number(usd(pico));
}

/** Exact decimal USD text (e.g. "0.02440928") → pico-USD. Throws on more than 12 decimals or bad input. */
export function parseUsd(text: string): bigint {
  const m = /^(-)?(\d+)(?:\.(\d{0,12}))?$/.exec(text.trim());
  if (!m) throw new RangeError(`not a USD amount with at most 12 decimals: ${text}`);
  const value = BigInt(m[2]!) * PICO_PER_USD + BigInt((m[3] ?? "").padEnd(12, "0") || "0");
  return m[1] ? -value : value;
}
