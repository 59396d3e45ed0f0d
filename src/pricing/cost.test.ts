import { describe, expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import type { Usage } from "../core/types.ts";
import { computeCost, parseUsd, picoToNano, ratePico, selectPrices, usd, usdNumber, type CostResult } from "./cost.ts";
import { createPricer, priceRequest } from "./price.ts";
import { PricingRegistry } from "./registry.ts";
import type { ModelCost } from "./schema.ts";

const FIXTURES = path.resolve(import.meta.dir, "../../../shared/fixtures");
const registry = PricingRegistry.fromText(fs.readFileSync(path.join(FIXTURES, "models-dev/api.json"), "utf8"));
const latest = PricingRegistry.fromText(fs.readFileSync(path.join(FIXTURES, "models-dev/api.latest.json"), "utf8"));

/** Fixture folder → provider type in this repo. */
const PROVIDER_TYPE = { openai: "openai", deepseek: "deepseek", xai: "grok", gemini: "gemini", anthropic: "anthropic" } as const;

type Json = Record<string, any>;
type PricedFixture = { name: string; type: string; fixture: Json; responseModel?: string; requestModel?: string };

function load(): PricedFixture[] {
  const out: PricedFixture[] = [];
  for (const [dir, type] of Object.entries(PROVIDER_TYPE)) {
    for (const file of fs.readdirSync(path.join(FIXTURES, dir)).filter((f) => f.endsWith(".json")).sort()) {
      const fixture = JSON.parse(fs.readFileSync(path.join(FIXTURES, dir, file), "utf8"));
      if (!fixture.expect?.usage) continue;
      const body = fixture.response.body ?? {};
      const sse = fixture.response.body_file ? fs.readFileSync(path.join(FIXTURES, dir, fixture.response.body_file), "utf8") : "";
      const responseModel = body.model ?? body.modelVersion ?? /"(?:model|modelVersion)":\s*"([^"]+)"/.exec(sse)?.[1];
      const requestModel = fixture.upstream_request?.body?.model ?? /\/models\/([^/:]+):/.exec(fixture.upstream_request?.url ?? "")?.[1];
      out.push({ name: `${dir}/${file.slice(0, -5)}`, type, fixture, responseModel, requestModel });
    }
  }
  return out;
}
const WITH_USAGE = load();
const PRICED = WITH_USAGE.filter((f) => "pricing_model_id" in f.fixture.expect || "cost_usd" in f.fixture.expect);

/** `expect.usage` (OpenAI semantics, as the fixtures README defines it) → our Usage. */
function usageFromExpect(f: PricedFixture): Usage {
  const u = f.fixture.expect.usage;
  const body = f.fixture.response.body ?? {};
  return {
    inputTokens: u.prompt_tokens,
    cachedInputTokens: u.cached_tokens,
    cacheWriteInputTokens: u.cache_write_tokens,
    outputTokens: u.completion_tokens,
    reasoningTokens: u.reasoning_tokens,
    raw: body.usage ?? body.usageMetadata,
  };
}

/** Independent normalisation from the raw provider usage (PROTOCOLS.md §10.13), to cross-check expect.usage. */
function usageFromRaw(type: string, raw: Json): Usage {
  switch (type) {
    case "anthropic":
      return {
        inputTokens: raw.input_tokens + raw.cache_read_input_tokens + raw.cache_creation_input_tokens,
        cachedInputTokens: raw.cache_read_input_tokens,
        cacheWriteInputTokens: raw.cache_creation_input_tokens,
        outputTokens: raw.output_tokens,
        raw,
      };
    case "gemini":
      return {
        inputTokens: raw.promptTokenCount,
        cachedInputTokens: raw.cachedContentTokenCount,
        outputTokens: (raw.candidatesTokenCount ?? 0) + (raw.thoughtsTokenCount ?? 0),
        reasoningTokens: raw.thoughtsTokenCount,
        raw,
      };
    case "grok": {
      const reasoning = raw.completion_tokens_details?.reasoning_tokens ?? 0;
      return {
        inputTokens: raw.prompt_tokens,
        cachedInputTokens: raw.prompt_tokens_details?.cached_tokens,
        outputTokens: raw.completion_tokens + reasoning,
        reasoningTokens: reasoning,
        raw,
      };
    }
    default:
      return {
        inputTokens: raw.prompt_tokens,
        cachedInputTokens: raw.prompt_cache_hit_tokens ?? raw.prompt_tokens_details?.cached_tokens,
        outputTokens: raw.completion_tokens,
        reasoningTokens: raw.completion_tokens_details?.reasoning_tokens,
        raw,
      };
  }
}

/** Reference formula from the fixtures README, in exact decimal arithmetic (scaled integers). */
function referencePico(usage: Usage, cost: ModelCost): bigint {
  const p = (x: number | undefined) => BigInt(Math.round((x ?? 0) * 1e6));
  const prompt = BigInt(usage.inputTokens ?? 0);
  const cached = BigInt(usage.cachedInputTokens ?? 0);
  const write = BigInt(usage.cacheWriteInputTokens ?? 0);
  const completion = BigInt(usage.outputTokens ?? 0);
  return (prompt - cached - write) * p(cost.input) + cached * p(cost.cache_read ?? cost.input) + write * p(cost.cache_write ?? cost.input) + completion * p(cost.output);
}

describe("fixtures: pricing entry and exact cost", () => {
  test("fixtures with a price expectation exist for all five providers", () => {
    expect(new Set(PRICED.map((f) => f.type))).toEqual(new Set(Object.values(PROVIDER_TYPE)));
    expect(PRICED.filter((f) => f.fixture.expect.cost_usd != null).length).toBeGreaterThanOrEqual(6);
  });

  test.each(PRICED.map((f) => [f.name, f] as const))("%s", (_, f) => {
    const { expect: want } = f.fixture;
    const match = registry.lookupBest(f.type, [f.responseModel, f.requestModel]);
    expect(match.unpriced).toBe(false);
    if (match.unpriced) return;
    if (want.pricing_model_id) expect(match.entry.modelId).toBe(want.pricing_model_id);
    expect(match.approximate).toBe(false);

    const usage = usageFromExpect(f);
    const raw = usageFromRaw(f.type, usage.raw as Json);
    for (const key of ["inputTokens", "cachedInputTokens", "cacheWriteInputTokens", "outputTokens", "reasoningTokens"] as const) {
      expect(raw[key] ?? 0).toBe(usage[key] ?? 0);
    }

    const cost = computeCost(usage, match.entry.cost, f.type);
    expect(computeCost(raw, match.entry.cost, f.type)).toEqual(cost);
    expect(cost.totalPicoUsd).toBe(referencePico(usage, match.entry.cost));
    expect(cost.totalPicoUsd).toBe(cost.breakdown.input + cost.breakdown.cacheRead + cost.breakdown.cacheWrite + cost.breakdown.output + cost.breakdown.reasoning);
    if (want.cost_usd != null) {
      expect(cost.totalPicoUsd).toBe(parseUsd(String(want.cost_usd)));
      expect(usd(cost.totalPicoUsd)).toBe(String(want.cost_usd));
      expect(usdNumber(cost.totalPicoUsd)).toBe(want.cost_usd);
    }
    expect(cost.notes).toEqual([]);
    expect(cost.tier).toBeUndefined();

    const priced = priceRequest(registry, { providerType: f.type, models: [f.responseModel, f.requestModel], usage });
    expect(priced.costPico).toBe(cost.totalPicoUsd);
    expect(priced.entry).toBe(match.entry.id);
    expect(JSON.parse(JSON.stringify(priced.breakdown)).total).toBe(Number(cost.totalPicoUsd));
  });

  test.each(WITH_USAGE.map((f) => [f.name, f] as const))("every fixture with usage is priced: %s", (_, f) => {
    expect(f.requestModel ?? f.responseModel).toBeTruthy();
    const match = registry.lookupBest(f.type, [f.responseModel, f.requestModel]);
    expect(match.unpriced).toBe(false);
    if (match.unpriced) return;
    const usage = usageFromExpect(f);
    expect(computeCost(usage, match.entry.cost, f.type).totalPicoUsd).toBe(referencePico(usage, match.entry.cost));
  });

  test("xAI reasoning is billed once, at the reasoning rate when models.dev has one", () => {
    const f = PRICED.find((x) => x.name === "xai/usage-cached-reasoning")!;
    const usage = usageFromExpect(f);
    const cost = computeCost(usage, { input: 0.3, output: 0.5, reasoning: 2, cache_read: 0.075 }, "grok");
    expect(cost.tokens).toEqual({ input: 58, cacheRead: 1152, cacheWrite: 0, cacheWrite1h: 0, output: 56, reasoning: 447 });
    expect(cost.breakdown.output).toBe(56n * 500_000n);
    expect(cost.breakdown.reasoning).toBe(447n * 2_000_000n);
    // xAI also reports its own figure (cost_in_usd_ticks, 1e-10 USD): kept beside ours for audit.
    expect(cost.upstreamPicoUsd).toBe(parseUsd("0.00030804"));
  });
});

describe("computeCost", () => {
  const sonnet: ModelCost = { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 };

  test("uncached input = input − cache reads − cache writes; breakdown in pico-USD", () => {
    const cost = computeCost({ inputTokens: 1000, cachedInputTokens: 600, cacheWriteInputTokens: 300, outputTokens: 50 }, sonnet, "anthropic");
    expect(cost.breakdown).toEqual({ input: 100n * 3_000_000n, cacheRead: 600n * 300_000n, cacheWrite: 300n * 3_750_000n, output: 50n * 15_000_000n, reasoning: 0n });
    expect(usd(cost.totalPicoUsd)).toBe("0.002355");
  });

  test("missing cache_read / cache_write prices fall back to input, and say so", () => {
    const cost = computeCost({ inputTokens: 100, cachedInputTokens: 40, cacheWriteInputTokens: 10, outputTokens: 0 }, { input: 1, output: 2 }, "openai");
    expect(cost.breakdown.cacheRead).toBe(40n * 1_000_000n);
    expect(cost.breakdown.cacheWrite).toBe(10n * 1_000_000n);
    expect(cost.totalPicoUsd).toBe(100n * 1_000_000n);
    expect(cost.notes).toEqual(["no cache_read price: cache reads billed at the input price", "no cache_write price: cache writes billed at the input price"]);
  });

  test("reasoning inside output is never double counted", () => {
    const usage: Usage = { inputTokens: 0, outputTokens: 1250, reasoningTokens: 1024 };
    expect(computeCost(usage, { input: 1, output: 4 }, "openai").totalPicoUsd).toBe(1250n * 4_000_000n);
    const cost = computeCost(usage, { input: 1, output: 4, reasoning: 10 }, "grok");
    expect(cost.breakdown).toMatchObject({ output: 226n * 4_000_000n, reasoning: 1024n * 10_000_000n });
  });

  test("Anthropic 1-hour cache writes at 2× input", () => {
    const raw = { input_tokens: 10, cache_creation_input_tokens: 1000, cache_read_input_tokens: 0, cache_creation: { ephemeral_5m_input_tokens: 400, ephemeral_1h_input_tokens: 600 }, output_tokens: 0 };
    const cost = computeCost({ inputTokens: 1010, cacheWriteInputTokens: 1000, outputTokens: 0, raw }, sonnet, "anthropic");
    expect(cost.breakdown.cacheWrite).toBe(400n * 3_750_000n + 600n * 6_000_000n);
    expect(cost.tokens.cacheWrite1h).toBe(600);
    expect(cost.notes[0]).toContain("1-hour");
    // Only Anthropic's raw usage is read that way.
    expect(computeCost({ inputTokens: 1010, cacheWriteInputTokens: 1000, raw }, sonnet, "openai").breakdown.cacheWrite).toBe(1000n * 3_750_000n);
  });

  test("inconsistent usage is clamped and noted, never negative", () => {
    const cost = computeCost({ inputTokens: 10, cachedInputTokens: 20, outputTokens: 5, reasoningTokens: 9 }, { input: 1, output: 1, cache_read: 0.5 }, "openai");
    expect(cost.tokens).toMatchObject({ input: 0, cacheRead: 20, output: 0, reasoning: 9 });
    expect(cost.notes).toHaveLength(2);
    expect(computeCost({}, { input: 1, output: 1 }, "openai").totalPicoUsd).toBe(0n);
  });

  test("sub-nano prices are exact in pico-USD (0.0375 and 0.01875 USD/1M)", () => {
    const cost = computeCost({ inputTokens: 1, cachedInputTokens: 1, outputTokens: 0 }, { input: 0.075, output: 0.3, cache_read: 0.01875 }, "gemini");
    expect(cost.totalPicoUsd).toBe(18_750n);
    expect(cost.totalNanoUsd).toBe(19);
    expect(ratePico(0.083333)).toBe(83_333n);
    expect(ratePico(0.3)).toBe(300_000n);
    expect(() => ratePico(-1)).toThrow();
  });

  test("1,000,000 additions of a small cost equal the product exactly", () => {
    const one = computeCost({ inputTokens: 7, cachedInputTokens: 3, outputTokens: 1 }, { input: 0.0375, output: 0.15, cache_read: 0.01875 }, "gemini").totalPicoUsd;
    expect(one).toBe(4n * 37_500n + 3n * 18_750n + 150_000n);
    let sum = 0n;
    for (let i = 0; i < 1_000_000; i++) sum += one;
    expect(sum).toBe(one * 1_000_000n);
    expect(usd(sum)).toBe("0.35625");
    // The float way drifts: this is what exact integers avoid.
    let float = 0;
    for (let i = 0; i < 1_000_000; i++) float += 3.5625e-7;
    expect(float).not.toBe(0.35625);
  });
});

describe("context tiers", () => {
  const pro = latest.get("google", "gemini-2.5-pro")!.cost!;
  const legacy = registry.get("google", "gemini-3-pro-preview")!.cost!;

  test("the tier applies to the whole request only above its size", () => {
    expect(selectPrices(pro, 200_000)).toEqual({ prices: pro });
    const above = selectPrices(pro, 200_001);
    expect(above.tier).toBe("context>200000");
    expect(above.prices).toMatchObject({ input: 2.5, output: 15, cache_read: 0.25 });
    const cost = computeCost({ inputTokens: 250_000, cachedInputTokens: 50_000, outputTokens: 1000, reasoningTokens: 400 }, pro, "gemini");
    expect(cost.tier).toBe("context>200000");
    expect(cost.totalPicoUsd).toBe(200_000n * 2_500_000n + 50_000n * 250_000n + 1000n * 15_000_000n);
    const small = computeCost({ inputTokens: 1000, outputTokens: 10 }, pro, "gemini");
    expect(small.tier).toBeUndefined();
    expect(small.totalPicoUsd).toBe(1000n * 1_250_000n + 10n * 10_000_000n);
  });

  test("legacy context_over_200k (2025 snapshot) is a 200k tier", () => {
    expect(legacy.tiers).toBeUndefined();
    expect(selectPrices(legacy, 200_001)).toMatchObject({ tier: "context>200000", prices: { input: 4, output: 18, cache_read: 0.4 } });
    expect(selectPrices(legacy, 199_999).tier).toBeUndefined();
  });

  test("tiers win over the legacy mirror (gpt-5.4: 272k although the legacy field says 200k)", () => {
    const gpt = latest.get("openai", "gpt-5.4")!.cost!;
    expect(selectPrices(gpt, 250_000).tier).toBeUndefined();
    expect(selectPrices(gpt, 272_001).tier).toBe("context>272000");
  });

  test("the largest exceeded tier is chosen; a tier without cache_read bills reads at its input", () => {
    const cost: ModelCost = {
      input: 1, output: 2, cache_read: 0.1,
      tiers: [
        { input: 2, output: 4, cache_read: 0.2, tier: { type: "context", size: 100 } },
        { input: 3, output: 6, tier: { type: "context", size: 1000 } },
      ],
    };
    expect(selectPrices(cost, 500).tier).toBe("context>100");
    const big = computeCost({ inputTokens: 2000, cachedInputTokens: 1000 }, cost, "openai");
    expect(big.tier).toBe("context>1000");
    expect(big.totalPicoUsd).toBe(2000n * 3_000_000n);
    expect(big.notes).toEqual(["no cache_read price: cache reads billed at the input price"]);
  });
});

describe("usd formatting", () => {
  test("exact decimal strings", () => {
    expect(usd(6_132_200_000n)).toBe("0.0061322");
    expect(usd(0n)).toBe("0.00");
    expect(usd(12_500_000_000_000n)).toBe("12.50");
    expect(usd(1n)).toBe("0.000000000001");
    expect(usd(-1_500_000_000_000n)).toBe("-1.50");
    expect(usd(24_409_280_000n, 4)).toBe("0.0244");
    expect(usd(5_000_000_000n, 2)).toBe("0.01");
    expect(usd(4_999_999_999n, 2)).toBe("0.00");
    expect(usd(1_234_567, 12)).toBe("0.000001234567");
    expect(parseUsd("0.02440928")).toBe(24_409_280_000n);
    expect(parseUsd("3")).toBe(3_000_000_000_000n);
    expect(() => parseUsd("1e-5")).toThrow();
    expect(picoToNano(1_499n)).toBe(1);
    expect(picoToNano(1_500n)).toBe(2);
  });
});

describe("priceRequest", () => {
  test("unpriced is explicit: null cost, never 0", () => {
    const priced = priceRequest(registry, { providerType: "openai", models: ["gpt-9-turbo"], usage: { inputTokens: 10, outputTokens: 10 } });
    expect(priced).toMatchObject({ costPico: null, costNano: null, rule: "unpriced" });
    expect(priced.entry).toBeUndefined();
    expect(priced.explanation).toContain("gpt-9-turbo");
  });

  test("overrides price, with the rule recorded", () => {
    const withOverride = registry.withOverrides({ "gpt-9-turbo": { input: 1, output: 2 } });
    const priced = priceRequest(withOverride, { providerType: "openai", models: ["gpt-9-turbo"], usage: { inputTokens: 10, outputTokens: 10 } });
    expect(priced).toMatchObject({ costPico: 30_000_000n, costNano: 30_000, rule: "override", entry: "override:gpt-9-turbo" });
    expect(priced.breakdown).toMatchObject({ total: 30_000_000, input: 10_000_000, output: 20_000_000 });
  });

  test("the number path gives the bigint path's cost to the pico-USD, and hands over past 2^53", () => {
    const overrides = {
      "m-plain": { input: 2.5, output: 10, cache_read: 1.25 },
      "m-odd": { input: 0.083333, output: 0.01875, cache_write: 0.0375, reasoning: 3.7 },
      "m-tiers": { input: 1.25, output: 10, context_over_200k: { input: 2.5, output: 15 } },
      "m-huge": { input: 9_000_000, output: 9_000_000 },
    };
    const priced = registry.withOverrides(overrides);
    let seed = 7;
    const rnd = (max: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % max);
    for (let i = 0; i < 400; i++) {
      const model = Object.keys(overrides)[i % 4]!;
      const input = rnd(400_000);
      const usage: Usage = { inputTokens: input, cachedInputTokens: rnd(input + 1), cacheWriteInputTokens: rnd(1000), outputTokens: rnd(50_000), reasoningTokens: rnd(60_000) };
      for (const providerType of ["openai", "anthropic", "grok"]) {
        const raw = { cache_creation: { ephemeral_1h_input_tokens: rnd(500) }, cost_in_usd_ticks: rnd(1e9) };
        const got = priceRequest(priced, { providerType, models: [model], usage: { ...usage, raw } });
        const exact = computeCost({ ...usage, raw }, priced.get("override", model)?.cost ?? (priced as any).lookupBest(providerType, [model], {}).entry.cost, providerType);
        expect(got.costPico).toBe(exact.totalPicoUsd);
        expect(got.costNano).toBe(exact.totalNanoUsd);
        expect(got.breakdown).toMatchObject({
          total: Number(exact.totalPicoUsd), input: Number(exact.breakdown.input), cache_read: Number(exact.breakdown.cacheRead),
          cache_write: Number(exact.breakdown.cacheWrite), output: Number(exact.breakdown.output), reasoning: Number(exact.breakdown.reasoning),
        });
        if (exact.tier) expect(got.breakdown?.tier).toBe(exact.tier);
        if (exact.notes.length) expect(got.breakdown?.notes).toEqual(exact.notes);
      }
    }
    // 9,000,000 USD per 1M tokens × 10M tokens: far past 2^53 pico-USD, still exact.
    const huge = priceRequest(priced, { providerType: "openai", models: ["m-huge"], usage: { inputTokens: 10_000_000, outputTokens: 0 } });
    expect(huge.costPico).toBe(90_000_000_000_000_000_000n);
  });

  test("approximate matches are flagged in the stored breakdown", () => {
    const priced = priceRequest(registry, { providerType: "gemini", models: ["gemini-2.5-pro-preview-03-25"], usage: { inputTokens: 10, outputTokens: 1 } });
    expect(priced.rule).toBe("fallback");
    expect(priced.breakdown?.approximate).toBe(true);
  });
});

describe("createPricer", () => {
  test("reads the current registry and maps provider ids to their pricing provider", () => {
    let current = PricingRegistry.empty();
    const price = createPricer(() => current, (id) => (id === "my-groq" ? "groq" : undefined));
    const usage = { inputTokens: 1_000_000, outputTokens: 0 };
    expect(price({ providerType: "openai-compatible", provider: "my-groq", model: "llama-3.1-8b-instant", usage }).costPico).toBeNull();
    current = registry;
    const priced = price({ providerType: "openai-compatible", provider: "my-groq", model: "llama-3.1-8b-instant", usage });
    expect(priced).toMatchObject({ entry: "groq/llama-3.1-8b-instant", rule: "exact" });
    expect(priced.costPico).toBe(ratePico(registry.get("groq", "llama-3.1-8b-instant")!.cost!.input) * 1_000_000n);
    expect(price({ providerType: "grok", provider: "x", models: ["grok-4-0709", "grok-4"], usage }).entry).toBe("xai/grok-4");
  });
});

