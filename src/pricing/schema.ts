import { z } from "zod";

/**
 * Tolerant schemas for models.dev `api.json` (shape: ../shared/fixtures/models-dev/README.md) and the
 * strict schema for `[pricing.overrides]`. Only the fields pricing reads are declared; everything else
 * is ignored, so new upstream fields never break parsing. All prices are USD per 1,000,000 tokens.
 */

const price = z.number().nonnegative();

/** Prices of one context tier (models.dev `cost.tiers[]` / legacy `cost.context_over_200k`). */
export const tierPricesSchema = z.object({
  input: price,
  output: price,
  reasoning: price.optional(),
  cache_read: price.optional(),
  cache_write: price.optional(),
});

const tierSchema = tierPricesSchema.extend({ tier: z.object({ type: z.string(), size: z.number().int().nonnegative() }) });

/** models.dev `cost`. Unknown tier types are dropped (only `context` tiers exist today). */
export const modelCostSchema = z.object({
  input: price,
  output: price,
  reasoning: price.optional(),
  cache_read: price.optional(),
  cache_write: price.optional(),
  input_audio: price.optional(),
  output_audio: price.optional(),
  tiers: z
    .array(z.unknown())
    .transform((tiers) => tiers.flatMap((t) => {
      const parsed = tierSchema.safeParse(t);
      return parsed.success && parsed.data.tier.type === "context" ? [parsed.data] : [];
    }))
    .optional(),
  context_over_200k: tierPricesSchema.optional(),
});

export type TierPrices = z.infer<typeof tierPricesSchema>;
export type ContextTier = TierPrices & { tier: { type: string; size: number } };
/** A model's price card in USD per 1M tokens (models.dev `cost`, or an override). */
export type ModelCost = {
  input: number;
  output: number;
  reasoning?: number;
  cache_read?: number;
  cache_write?: number;
  input_audio?: number;
  output_audio?: number;
  tiers?: ContextTier[];
  context_over_200k?: TierPrices;
};

const PRICE_FIELDS = ["input", "output", "reasoning", "cache_read", "cache_write", "input_audio", "output_audio"] as const;
const isPrice = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0;

function fastPrices(raw: Record<string, unknown>, fields: readonly string[]): Record<string, number> | undefined {
  if (!isPrice(raw.input) || !isPrice(raw.output)) return undefined;
  const out: Record<string, number> = {};
  for (const field of fields) {
    const v = raw[field];
    if (v === undefined) continue;
    if (!isPrice(v)) return undefined;
    out[field] = v;
  }
  return out;
}

/**
 * `modelCostSchema.safeParse` with a hand-written fast path for well-formed input (a full models.dev
 * document has ~5,000 prices; zod alone takes tens of ms). Anything unusual goes through zod, so the
 * result and the tolerance are the same either way.
 */
export function parseModelCost(raw: unknown): { success: true; data: ModelCost } | { success: false; error: string } {
  if (raw && typeof raw === "object" && !Array.isArray(raw)) {
    const r = raw as Record<string, unknown>;
    const base = fastPrices(r, PRICE_FIELDS) as ModelCost | undefined;
    let ok = base !== undefined;
    if (ok && r.tiers !== undefined) {
      if (!Array.isArray(r.tiers)) ok = false;
      else {
        const tiers: ContextTier[] = [];
        for (const t of r.tiers as unknown[]) {
          const tier = t && typeof t === "object" ? (t as Record<string, unknown>).tier : undefined;
          const prices = t && typeof t === "object" ? fastPrices(t as Record<string, unknown>, PRICE_FIELDS.slice(0, 5)) : undefined;
          const meta = tier && typeof tier === "object" ? (tier as Record<string, unknown>) : undefined;
          if (!prices || !meta || typeof meta.type !== "string" || !Number.isSafeInteger(meta.size) || (meta.size as number) < 0) {
            ok = false;
            break;
          }
          if (meta.type === "context") tiers.push({ ...(prices as TierPrices), tier: { type: meta.type, size: meta.size as number } });
        }
        if (ok) base!.tiers = tiers;
      }
    }
    if (ok && r.context_over_200k !== undefined) {
      const legacy = r.context_over_200k && typeof r.context_over_200k === "object" ? fastPrices(r.context_over_200k as Record<string, unknown>, PRICE_FIELDS.slice(0, 5)) : undefined;
      if (legacy) base!.context_over_200k = legacy as TierPrices;
      else ok = false;
    }
    if (ok) return { success: true, data: base! };
  }
  const parsed = modelCostSchema.safeParse(raw);
  if (parsed.success) return { success: true, data: parsed.data };
  const first = parsed.error.issues[0];
  return { success: false, error: `${first?.path.join(".") ?? ""} ${first?.message ?? "invalid"}`.trim() };
}

/** One provider: only `models` is required. */
export const providerSchema = z.object({
  name: z.string().optional(),
  models: z.record(z.string(), z.unknown()),
});

/** The whole document: provider id → provider. Per-provider and per-model errors are tolerated. */
export const apiJsonSchema = z.record(z.string(), z.unknown());

/**
 * One `[pricing.overrides]` entry, USD per 1M tokens. Strict: a typo such as `cache-read` is an error,
 * not a silently ignored price. Values below 0.0001 are rejected because they are almost always a
 * per-token price typed into a per-1M field (the 1,000,000× mistake of LANDSCAPE.md pain 7).
 */
const overridePrice = z
  .number()
  .nonnegative()
  .max(100_000, "prices are USD per 1M tokens; over $100,000 per 1M tokens is surely a mistake")
  .refine((v) => v <= 0 || v >= 0.0001, { message: "prices are USD per 1M tokens; this looks like a per-token price" });

export const pricingOverrideSchema = z.strictObject({
  input: overridePrice,
  output: overridePrice,
  cache_read: overridePrice.optional(),
  cache_write: overridePrice.optional(),
  reasoning: overridePrice.optional(),
});
export type PricingOverride = z.infer<typeof pricingOverrideSchema>;

/**
 * `[pricing.overrides]`: `"provider/model"` or `"model"` → prices. `provider` may be the configured
 * provider id, its type (`grok`) or the models.dev id (`xai`). Example (TOML):
 * ```toml
 * [pricing.overrides]
 * "openai/gpt-4o" = { input = 2.0, output = 8.0, cache_read = 1.0 }
 * "my-finetune"   = { input = 0.5, output = 1.5 }
 * ```
 */
export const pricingOverridesSchema = z.record(z.string().min(1, "model id must not be empty"), pricingOverrideSchema);
export type PricingOverrides = z.infer<typeof pricingOverridesSchema>;

/**
 * Suggested `[pricing]` table for the config owner: `source` is a URL or a file path (default
 * https://models.dev/api.json), `refresh_ms` the refresh interval (default 24 h).
 */
export const pricingConfigSchema = z.strictObject({
  source: z.string().min(1).optional(),
  refresh_ms: z.number().int().min(60_000).optional(),
  overrides: pricingOverridesSchema.optional(),
});
export type PricingConfig = z.infer<typeof pricingConfigSchema>;
