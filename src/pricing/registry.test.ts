import { describe, expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { candidates } from "./match.ts";
import { modelCostSchema, parseModelCost } from "./schema.ts";
import { MODELS_DEV_PROVIDER, PricingRegistry, modelsDevProviderFor, pricingConfigSchema, pricingOverridesSchema, type MatchRule } from "./registry.ts";

const MODELS_DEV = path.resolve(import.meta.dir, "../../../shared/fixtures/models-dev");
const read = (file: string) => fs.readFileSync(path.join(MODELS_DEV, file), "utf8");

type FuzzyCase = {
  input: string;
  provider: string;
  expected: string | null;
  match: "exact" | "normalized" | "fallback" | "none";
  expected_latest: string | null;
  match_latest: "exact" | "normalized" | "fallback" | "none";
  note: string;
};
const CASES: FuzzyCase[] = JSON.parse(read("fuzzy-cases.json"));

/** Reference category (fuzzy-cases.json `match`) → rules this registry may report for it. */
const CATEGORY: Record<FuzzyCase["match"], MatchRule[]> = {
  exact: ["exact", "case-insensitive"],
  normalized: ["normalized", "suffix-stripped"],
  fallback: ["fallback"],
  none: [],
};

const SNAPSHOTS = [
  { file: "api.json", expected: "expected", match: "match" },
  { file: "api.latest.json", expected: "expected_latest", match: "match_latest" },
] as const;

describe.each(SNAPSHOTS)("fuzzy cases against $file", ({ file, expected, match }) => {
  const registry = PricingRegistry.fromText(read(file), { source: file });

  test("the snapshot parses completely", () => {
    expect(registry.info.issues).toEqual([]);
    expect(registry.info.models).toBeGreaterThan(250);
    expect(registry.info.version).toMatch(/^sha256:[0-9a-f]{12}$/);
  });

  test.each(CASES.map((c) => [`${c.provider}: ${c.input}`, c] as const))("%s", (_, c) => {
    const found = registry.resolve(c.provider, c.input);
    expect(found?.modelId ?? null).toBe(c[expected]);
    if (found) {
      expect(CATEGORY[c[match]]).toContain(found.rule);
      expect(found.approximate).toBe(found.rule === "fallback");
    }
  });

  test("lookup prices every match (or says the entry has no price) and explains itself", () => {
    for (const c of CASES) {
      const result = registry.lookup(c.provider, c.input);
      if (c[expected] === null) {
        expect(result.unpriced).toBe(true);
        expect(result.explanation).toContain(c.input);
        continue;
      }
      if (result.unpriced) {
        expect(result.known?.modelId).toBe(c[expected]!);
        expect(result.explanation).toContain("no price");
        continue;
      }
      expect(result.entry.id).toBe(`${c.provider}/${c[expected]}`);
      expect(result.entry.source).toBe("models.dev");
      expect(result.explanation).toContain(`${c.provider}/${c[expected]}`);
      expect(result.registryVersion).toBe(registry.info.version);
    }
  });
});

describe("matching rules", () => {
  const registry = PricingRegistry.fromText(read("api.json"));

  test("provider types map to models.dev ids", () => {
    expect(MODELS_DEV_PROVIDER).toEqual({ openai: "openai", deepseek: "deepseek", grok: "xai", gemini: "google", anthropic: "anthropic" });
    expect(modelsDevProviderFor("grok")).toBe("xai");
    expect(modelsDevProviderFor("gemini")).toBe("google");
    expect(modelsDevProviderFor("openai-compatible")).toBeUndefined();
    expect(modelsDevProviderFor("openai-compatible", "groq")).toBe("groq");
    expect(modelsDevProviderFor("openai", "openrouter")).toBe("openrouter");
    const grok = registry.lookup("grok", "grok-4-0709");
    expect(grok.unpriced).toBe(false);
    if (!grok.unpriced) {
      expect(grok.entry.id).toBe("xai/grok-4");
      expect(grok.rule).toBe("suffix-stripped");
      expect(grok.explanation).toBe('"grok-4-0709" → xai/grok-4 (suffix-stripped: stripped MMDD date suffix "-0709")');
    }
    const gemini = registry.lookup("gemini", "models/gemini-2.5-flash");
    expect(!gemini.unpriced && gemini.entry.id).toBe("google/gemini-2.5-flash");
  });

  test("cached lookups keep each scope apart and stay bounded", () => {
    const r = PricingRegistry.fromText(read("api.json"));
    const entry = (l: ReturnType<typeof r.lookup>) => (l.unpriced ? "unpriced" : l.entry.id);
    // The same id under different scopes, alternating (each call changes the remembered scope).
    for (let i = 0; i < 3; i++) {
      expect(entry(r.lookup("openai", "gpt-4o"))).toBe("openai/gpt-4o");
      expect(entry(r.lookup("openai-compatible", "gpt-4o"))).toBe("unpriced");
      expect(entry(r.lookup("openai-compatible", "gpt-4o", { pricingProvider: "openai" }))).toBe("openai/gpt-4o");
      expect(r.lookup("openai", "gpt-4o", { providerName: "a" })).toBe(r.lookup("openai", "gpt-4o", { providerName: "a" }));
    }
    for (let i = 0; i < 12_000; i++) r.lookup("openai", `made-up-${i}`);
    expect((r as unknown as { cachedLookups: number }).cachedLookups).toBeLessThanOrEqual(10_000);
    expect(entry(r.lookup("openai", "gpt-4o"))).toBe("openai/gpt-4o");
  });

  test("openai-compatible needs a pricing provider, and uses it", () => {
    const none = registry.lookup("openai-compatible", "llama-3.1-8b-instant");
    expect(none.unpriced).toBe(true);
    expect(none.explanation).toContain("pricing_provider");
    const groq = registry.lookup("openai-compatible", "llama-3.1-8b-instant", { pricingProvider: "groq" });
    expect(!groq.unpriced && groq.entry.id).toBe("groq/llama-3.1-8b-instant");
    const router = registry.lookup("openai-compatible", "openai/gpt-4o-mini", { pricingProvider: "openrouter" });
    expect(!router.unpriced && router.entry.id).toBe("openrouter/openai/gpt-4o-mini");
  });

  test("exact beats every rewrite (dated ids keep their own price)", () => {
    const dated = registry.lookup("openai", "gpt-4o-2024-05-13");
    const alias = registry.lookup("openai", "gpt-4o");
    expect(!dated.unpriced && dated.entry.cost.input).toBe(5);
    expect(!alias.unpriced && alias.entry.cost.input).toBe(2.5);
  });

  test("never a prefix match", () => {
    for (const [provider, model] of [["openai", "gpt-4o-mini-search-preview"], ["openai", "gpt-4-1106-preview"], ["anthropic", "claude-opus-4"], ["deepseek", "deepseek-r1"], ["openai", "gpt-4o-"], ["openai", "gpt"]]) {
      expect(registry.resolve(provider!, model!)).toBeUndefined();
    }
  });

  test("suffix rules are applied once, never chained", () => {
    const ids = candidates("gpt-4-1106-preview").map((c) => c.id);
    expect(ids).toEqual(["gpt-4-1106-preview", "gpt-4-1106"]);
    expect(ids).not.toContain("gpt-4");
  });

  test("OpenRouter :free-style variants and gateway prefixes are normalised", () => {
    const free = registry.lookup("openai", "openai/gpt-4o-mini:free");
    expect(!free.unpriced && free.entry.id).toBe("openai/gpt-4o-mini");
    expect(free.explanation).toContain('stripped variant ":free"');
    const exact = registry.resolve("openrouter", "deepseek/deepseek-r1-0528:free");
    expect(exact?.rule).toBe("exact");
    const vertex = registry.resolve("google", "projects/p/locations/us-central1/publishers/google/models/gemini-2.5-pro");
    expect(vertex?.modelId).toBe("gemini-2.5-pro");
  });

  test("a model models.dev lists without a price is unpriced, never $0", () => {
    const latest = PricingRegistry.fromText(read("api.latest.json"));
    const image = latest.lookup("openai", "gpt-image-1");
    expect(image.unpriced).toBe(true);
    if (image.unpriced) {
      expect(image.known).toEqual({ provider: "openai", modelId: "gpt-image-1", rule: "exact" });
      expect(image.explanation).toContain("lists no price");
    }
  });

  test("unknown model and unknown provider are explicit misses", () => {
    const unknown = registry.lookup("openai", "gpt-9-turbo");
    expect(unknown).toMatchObject({ unpriced: true, provider: "openai", model: "gpt-9-turbo" });
    expect(unknown.explanation).toContain("no models.dev entry");
    const noProvider = registry.lookup("openai-compatible", "x", { pricingProvider: "nope" });
    expect(noProvider.explanation).toContain('provider "nope" is not in the registry');
    const empty = PricingRegistry.empty().lookup("openai", "gpt-4o");
    expect(empty.unpriced).toBe(true);
    expect(empty.registryVersion).toBe("empty");
  });

  test("lookupBest prefers the response model, falls back to the request model", () => {
    const both = registry.lookupBest("openai", ["gpt-4o-2024-05-13", "gpt-4o"]);
    expect(!both.unpriced && both.entry.id).toBe("openai/gpt-4o-2024-05-13");
    const second = registry.lookupBest("openai", ["some-unknown-id", "gpt-4o"]);
    expect(!second.unpriced && second.entry.id).toBe("openai/gpt-4o");
    // An approximate (preview fallback) match loses to an exact match of the other id.
    const approx = registry.lookupBest("gemini", ["gemini-2.5-pro-preview-03-25", "gemini-2.5-pro-preview-06-05"]);
    expect(!approx.unpriced && approx.entry.id).toBe("google/gemini-2.5-pro-preview-06-05");
    const onlyApprox = registry.lookupBest("gemini", [undefined, "gemini-2.5-pro-preview-03-25"]);
    expect(!onlyApprox.unpriced && onlyApprox.approximate).toBe(true);
    expect(registry.lookupBest("openai", [undefined, null]).unpriced).toBe(true);
  });

  test("lookups are memoised per registry", () => {
    expect(registry.lookup("grok", "grok-4-0709")).toBe(registry.lookup("grok", "grok-4-0709"));
  });
});

describe("overrides", () => {
  const base = PricingRegistry.fromText(read("api.json"));

  test("win over the registry, scoped by models.dev id, type or provider name, or bare", () => {
    const registry = base.withOverrides({
      "openai/gpt-4o": { input: 1, output: 2 },
      "grok/grok-3-mini": { input: 0.1, output: 0.2, reasoning: 0.3 },
      "my-groq/llama-3.1-8b-instant": { input: 0.01, output: 0.02 },
      "deepseek-chat": { input: 0.5, output: 0.6, cache_read: 0.05 },
    });
    const gpt = registry.lookup("openai", "gpt-4o");
    expect(gpt).toMatchObject({ unpriced: false, rule: "override", entry: { id: "override:openai/gpt-4o", provider: "openai", modelId: "gpt-4o", source: "override", cost: { input: 1, output: 2 } } });
    expect(registry.lookup("grok", "grok-3-mini")).toMatchObject({ rule: "override", entry: { cost: { reasoning: 0.3 } } });
    expect(registry.lookup("openai-compatible", "llama-3.1-8b-instant", { pricingProvider: "groq", providerName: "my-groq" })).toMatchObject({ rule: "override", entry: { cost: { input: 0.01 } } });
    expect(registry.lookup("openai-compatible", "llama-3.1-8b-instant", { pricingProvider: "groq", providerName: "other" })).toMatchObject({ rule: "exact", entry: { id: "groq/llama-3.1-8b-instant" } });
    expect(registry.lookup("deepseek", "DeepSeek-Chat")).toMatchObject({ rule: "override", entry: { cost: { input: 0.5 } } });
  });

  test("an override naming a models.dev entry applies to every id that resolves to it", () => {
    const registry = base.withOverrides({ "gpt-4o-mini": { input: 0.1, output: 0.4 } });
    const dated = registry.lookup("openai", "gpt-4o-mini-2024-07-18");
    expect(dated).toMatchObject({ rule: "override", entry: { cost: { input: 0.1 } } });
    expect(dated.explanation).toContain("openai/gpt-4o-mini");
    // …but an exact dated entry still wins over an override of its alias.
    const own = base.withOverrides({ "gpt-4o": { input: 1, output: 1 } }).lookup("openai", "gpt-4o-2024-05-13");
    expect(own).toMatchObject({ rule: "exact", entry: { cost: { input: 5 } } });
  });

  test("price models the registry does not know, with the same normalisation", () => {
    const registry = base.withOverrides({ "gpt-9-turbo": { input: 3, output: 9 }, "openai-compatible/local-llama": { input: 0, output: 0 } });
    expect(registry.lookup("openai", "gpt-9-turbo-2026-01-01")).toMatchObject({ rule: "override", entry: { cost: { input: 3 } } });
    expect(registry.lookup("openai-compatible", "local-llama")).toMatchObject({ rule: "override", entry: { cost: { input: 0, output: 0 } } });
  });

  test("an override prices a model models.dev lists without a price", () => {
    const latest = PricingRegistry.fromText(read("api.latest.json"), { overrides: { "gpt-image-1": { input: 5, output: 40 } } });
    expect(latest.lookup("openai", "gpt-image-1")).toMatchObject({ unpriced: false, rule: "override" });
  });

  test("config schema validates USD per 1M and rejects typos and per-token prices", () => {
    expect(pricingOverridesSchema.parse({ "openai/gpt-4o": { input: 2.5, output: 10, cache_read: 1.25 } })).toEqual({ "openai/gpt-4o": { input: 2.5, output: 10, cache_read: 1.25 } });
    expect(pricingOverridesSchema.safeParse({ x: { input: 1 } }).success).toBe(false);
    expect(pricingOverridesSchema.safeParse({ x: { input: 1, output: 2, "cache-read": 1 } }).success).toBe(false);
    const negative = pricingOverridesSchema.safeParse({ x: { input: -1, output: 2 } });
    expect(negative.error?.issues.map((i) => i.message)).toEqual([expect.stringContaining(">=0")]); // not also "per-token"
    const huge = pricingOverridesSchema.safeParse({ x: { input: 1e9, output: 2 } });
    expect(huge.error?.issues[0]?.message).toContain("over $100,000 per 1M tokens");
    expect(pricingOverridesSchema.safeParse({ x: { input: 600, output: 0 } }).success).toBe(true);
    const perToken = pricingOverridesSchema.safeParse({ x: { input: 0.0000025, output: 0.00001 } });
    expect(perToken.success).toBe(false);
    expect(perToken.error?.issues[0]?.message).toContain("per 1M");
    expect(pricingConfigSchema.parse({ source: "/tmp/api.json", refresh_ms: 3_600_000, overrides: {} })).toBeTruthy();
    expect(pricingConfigSchema.safeParse({ sorce: "x" }).success).toBe(false);
  });
});

describe("tolerant parsing", () => {
  test("unknown fields are ignored, broken models and prices are skipped or kept unpriced", () => {
    const registry = PricingRegistry.fromJson({
      acme: {
        id: "acme",
        future_field: { nested: true },
        models: {
          good: { id: "good", name: "Good", cost: { input: 1, output: 2, brand_new_price: 9, tiers: [{ input: 2, output: 4, tier: { type: "context", size: 1000 } }, { input: 9, output: 9, tier: { type: "time-of-day", size: 0 } }] } },
          badprice: { id: "badprice", cost: { input: "cheap" } },
          free: { id: "free" },
          notanobject: 42,
        },
      },
      broken: { models: "nope" },
    });
    expect(registry.info).toMatchObject({ providers: 1, models: 3, priced: 1 });
    expect(registry.info.issues).toHaveLength(3);
    expect(registry.get("acme", "good")?.cost).toEqual({ input: 1, output: 2, tiers: [{ input: 2, output: 4, tier: { type: "context", size: 1000 } }] });
    expect(registry.lookup("acme", "badprice").unpriced).toBe(true);
    expect(registry.lookup("acme", "free").unpriced).toBe(true);
    expect(() => PricingRegistry.fromJson([1, 2])).toThrow();
    expect(() => PricingRegistry.fromText("{not json")).toThrow();
  });
});

describe("parseModelCost fast path", () => {
  test("gives exactly what the zod schema gives, for every price in both snapshots", () => {
    let n = 0;
    for (const file of ["api.json", "api.latest.json"]) {
      for (const provider of Object.values(JSON.parse(read(file))) as Array<{ models: Record<string, { cost?: unknown }> }>) {
        for (const model of Object.values(provider.models)) {
          if (model.cost === undefined) continue;
          expect(parseModelCost(model.cost)).toEqual({ success: true, data: modelCostSchema.parse(model.cost) });
          n++;
        }
      }
    }
    expect(n).toBeGreaterThan(700);
  });

  test("odd shapes fall back to zod with the same tolerance", () => {
    const odd = [
      { input: 1, output: 2, tiers: [{ input: 2, output: 4, tier: { type: "time", size: 5 } }], extra: "x" },
      { input: 1, output: 2, tiers: [{ input: 2, output: 4, tier: { type: "context", size: 1.5 } }] },
      { input: 1, output: 2, tiers: "none" },
      { input: 1, output: 2, context_over_200k: { input: 3 } },
      { input: 1, output: 2, cache_read: -1 },
      { input: 1 },
      null,
      [],
    ];
    for (const cost of odd) {
      const zod = modelCostSchema.safeParse(cost);
      const fast = parseModelCost(cost);
      expect(fast.success).toBe(zod.success);
      if (fast.success && zod.success) expect(fast.data).toEqual(zod.data);
    }
  });
});

