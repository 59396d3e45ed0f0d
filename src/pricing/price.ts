import type { Usage } from "../core/types.ts";
import { billOf, computeCost, costInNumbers, picoToNano } from "./cost.ts";
import type { LookupOptions, PricingLookup, PricingRegistry } from "./registry.ts";

/** JSON-safe cost breakdown for the request log (`cost_breakdown`), integers in pico-USD. */
export type CostBreakdownJson = {
  unit: "pico-usd";
  total: number;
  input: number;
  cache_read: number;
  cache_write: number;
  output: number;
  reasoning: number;
  tier?: string;
  approximate?: true;
  notes?: string[];
  upstream?: number;
};

export type PricedRequest = {
  /** Exact cost in pico-USD; null = unpriced (never a silent 0). */
  costPico: bigint | null;
  /** Cost rounded to nano-USD (see CostResult.totalNanoUsd); null = unpriced. */
  costNano: number | null;
  breakdown?: CostBreakdownJson;
  /** `openai/gpt-4o` or `override:<key>`; absent when unpriced. */
  entry?: string;
  /** Match rule, or `unpriced`. */
  rule: string;
  explanation: string;
  registryVersion: string;
  match: PricingLookup;
};

/** bigint pico-USD → number; per-request values are far below 2^53 (9,007 USD). */
const toNumber = (pico: bigint) => Number(pico);

/**
 * Lookup + cost in one call, shaped for the recorder: prices the response model first, then the
 * requested/upstream model (PROTOCOLS.md §10.1).
 */
export function priceRequest(
  registry: PricingRegistry,
  input: { providerType?: string; models: Array<string | null | undefined>; usage: Usage } & LookupOptions,
): PricedRequest {
  return priceWith(registry, input.providerType ?? "openai-compatible", input.models, input.usage, { pricingProvider: input.pricingProvider, providerName: input.providerName });
}

/** priceRequest with its parts as arguments (the request pricer passes them without building an input object). */
function priceWith(registry: PricingRegistry, providerType: string, models: Array<string | null | undefined>, usage: Usage, lookup: LookupOptions): PricedRequest {
  const match = registry.lookupBest(providerType, models, lookup);
  if (match.unpriced) {
    return { costPico: null, costNano: null, rule: "unpriced", explanation: match.explanation, registryVersion: match.registryVersion, match };
  }
  const bill = billOf(usage, match.entry.cost, providerType);
  // In numbers (always, below 9,007 USD per request); in bigints only past that.
  let costPico: bigint;
  let costNano: number;
  let breakdown: CostBreakdownJson;
  const n = costInNumbers(bill);
  if (n) {
    costPico = BigInt(n.total);
    costNano = Math.floor((n.total + 500) / 1000); // half up, as picoToNano (n.total ≥ 0)
    breakdown = { unit: "pico-usd", total: n.total, input: n.input, cache_read: n.cacheRead, cache_write: n.cacheWrite, output: n.output, reasoning: n.reasoning };
  } else {
    const cost = computeCost(usage, match.entry.cost, providerType);
    costPico = cost.totalPicoUsd;
    costNano = picoToNano(cost.totalPicoUsd);
    breakdown = {
      unit: "pico-usd",
      total: toNumber(cost.totalPicoUsd),
      input: toNumber(cost.breakdown.input),
      cache_read: toNumber(cost.breakdown.cacheRead),
      cache_write: toNumber(cost.breakdown.cacheWrite),
      output: toNumber(cost.breakdown.output),
      reasoning: toNumber(cost.breakdown.reasoning),
    };
  }
  if (bill.tier) breakdown.tier = bill.tier;
  if (match.approximate) breakdown.approximate = true;
  if (bill.notes.length) breakdown.notes = bill.notes;
  if (bill.upstreamTicks !== undefined) breakdown.upstream = bill.upstreamTicks * 100; // ticks are 1e-10 USD
  return {
    costPico,
    costNano,
    breakdown,
    entry: match.entry.id,
    rule: match.rule,
    explanation: match.explanation,
    registryVersion: match.registryVersion,
    match,
  };
}

/**
 * A pricer for the recorder: `(record) => PricedRequest`, reading the registry at call time so
 * refreshes apply. `pricingProviderOf` maps a configured provider id to its `pricing_provider`.
 * Pass the response model first and the upstream/requested model after it (`models`), or `model`.
 *
 * @example
 * const price = createPricer(() => pricing.current(), (id) => config.providers.find((p) => p.id === id)?.pricingProvider);
 * price({ providerType: "grok", provider: "xai-main", models: ["grok-4-0709", "grok-4"], usage });
 */
export function createPricer(getRegistry: () => PricingRegistry, pricingProviderOf?: (providerName: string) => string | undefined) {
  // The lookup options of each provider, kept while its pricing provider stays the same (managed
  // providers can change it at runtime): not an object per request.
  const lookups = new Map<string | undefined, LookupOptions>();
  const lookupFor = (provider: string | undefined): LookupOptions => {
    const pricingProvider = provider ? pricingProviderOf?.(provider) : undefined;
    let options = lookups.get(provider);
    if (!options || options.pricingProvider !== pricingProvider) {
      if (lookups.size >= 1000) lookups.clear(); // provider names come from config; bounded anyway
      options = { providerName: provider, pricingProvider };
      lookups.set(provider, options);
    }
    return options;
  };
  return (input: { providerType?: string; provider?: string; model?: string; models?: Array<string | null | undefined>; usage: Usage }): PricedRequest =>
    priceWith(getRegistry(), input.providerType ?? "openai-compatible", input.models ?? [input.model], input.usage, lookupFor(input.provider));
}
