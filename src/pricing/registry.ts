import { createHash } from "node:crypto";
import { candidates, type Candidate, type MatchRule } from "./match.ts";
import {
  apiJsonSchema,
  parseModelCost,
  providerSchema,
  type ModelCost,
  type PricingOverride,
  type PricingOverrides,
} from "./schema.ts";

export type { MatchRule } from "./match.ts";
export {
  pricingConfigSchema,
  pricingOverrideSchema,
  pricingOverridesSchema,
  type ModelCost,
  type PricingConfig,
  type PricingOverride,
  type PricingOverrides,
} from "./schema.ts";

/** Adapter type → models.dev provider id. `openai-compatible` has none: it needs `pricing_provider`. */
export const MODELS_DEV_PROVIDER: Readonly<Record<string, string>> = {
  openai: "openai",
  deepseek: "deepseek",
  grok: "xai",
  gemini: "google",
  anthropic: "anthropic",
};

/** The models.dev provider to price a provider type with; unknown types are taken as models.dev ids. */
export function modelsDevProviderFor(providerType: string, pricingProvider?: string): string | undefined {
  if (pricingProvider) return pricingProvider;
  if (providerType === "openai-compatible") return undefined;
  return MODELS_DEV_PROVIDER[providerType] ?? providerType;
}

/** A price card and where it came from. */
export type PricingEntry = {
  /** Stable id for the request log: `openai/gpt-4o`, or `override:<key>` for a config override. */
  id: string;
  /** models.dev provider id (or the provider type when an override has no models.dev provider). */
  provider: string;
  /** models.dev model id, or the model part of the override key. */
  modelId: string;
  /** Display name from models.dev. */
  name?: string;
  cost: ModelCost;
  source: "models.dev" | "override";
  /** The `[pricing.overrides]` key that priced it. */
  overrideKey?: string;
};

export type PricingMatch = {
  unpriced: false;
  entry: PricingEntry;
  rule: MatchRule;
  /** True when the price is that of a related model (preview/beta fallback): show it as approximate. */
  approximate: boolean;
  /** One line saying how the id was matched, e.g. `"grok-4-0709" → xai/grok-4: stripped MMDD date suffix "-0709"`. */
  explanation: string;
  /** Version of the registry data (content hash), to store with each bill. */
  registryVersion: string;
};

export type PricingMiss = {
  unpriced: true;
  explanation: string;
  /** models.dev provider searched (undefined when none is configured). */
  provider?: string;
  model: string;
  /** Set when the model IS in models.dev but has no `cost`. */
  known?: { provider: string; modelId: string; rule: MatchRule };
  registryVersion: string;
};

export type PricingLookup = PricingMatch | PricingMiss;

export type LookupOptions = {
  /** models.dev provider id for this provider (required for `openai-compatible`; overrides the type mapping). */
  pricingProvider?: string;
  /** The configured provider id (e.g. `my-groq`), so overrides can be scoped to it. */
  providerName?: string;
};

/** Where an id resolved in the raw registry (no overrides). */
export type Resolution = { provider: string; modelId: string; rule: Exclude<MatchRule, "override">; approximate: boolean; steps: string[] };

type OverrideHit = Candidate & { key: string; price: PricingOverride; scoped: boolean };
type StoredModel = { name?: string; cost?: ModelCost };
type StoredProvider = { exact: Map<string, StoredModel>; lower: Map<string, string> };

export type RegistryInfo = {
  /** `sha256:<12 hex>` of the source text, `empty`, or what the caller passed. */
  version: string;
  /** Where the data came from (`embedded`, `cache`, a URL or path, `empty`...). */
  source: string;
  loadedAt: number;
  providers: number;
  models: number;
  priced: number;
  /** Providers, models or prices that failed validation and were skipped (first 50). */
  issues: string[];
};

const LOOKUP_CACHE_LIMIT = 10_000;

/**
 * The models.dev price list plus config overrides. Immutable: a refresh builds a new registry and
 * swaps it (see source.ts). `lookup` is memoised, so calling it on every request is cheap.
 *
 * @example
 * const registry = PricingRegistry.fromText(await Bun.file("api.json").text(), { overrides });
 * const match = registry.lookup("grok", "grok-4-0709");
 * if (!match.unpriced) computeCost(usage, match.entry.cost, "grok");
 */
export class PricingRegistry {
  readonly info: RegistryInfo;
  private readonly providers: Map<string, StoredProvider>;
  private readonly overrides: Map<string, { key: string; price: PricingOverride }>;
  /** Lookups by scope (provider type, pricing provider, provider name), then model id. */
  private readonly cache = new Map<string, Map<string, PricingLookup>>();
  private cachedLookups = 0;
  /** The last scope asked for and its map: nearly every call repeats it, so no key is built. */
  private lastScope: { providerType: string; pricingProvider?: string; providerName?: string; lookups: Map<string, PricingLookup> } | undefined;

  private constructor(providers: Map<string, StoredProvider>, info: RegistryInfo, overrides?: PricingOverrides) {
    this.providers = providers;
    this.info = info;
    this.overrides = new Map(Object.entries(overrides ?? {}).map(([key, price]) => [key.toLowerCase(), { key, price }]));
  }

  /** A registry with no models.dev data (overrides still apply). */
  static empty(options: { overrides?: PricingOverrides; source?: string } = {}): PricingRegistry {
    const info = { version: "empty", source: options.source ?? "empty", loadedAt: Date.now(), providers: 0, models: 0, priced: 0, issues: [] };
    return new PricingRegistry(new Map(), info, options.overrides);
  }

  /** Parses api.json text; the version is a hash of the text. Throws on invalid JSON or a non-object. */
  static fromText(text: string, options: { overrides?: PricingOverrides; source?: string; loadedAt?: number } = {}): PricingRegistry {
    const version = `sha256:${createHash("sha256").update(text).digest("hex").slice(0, 12)}`;
    return PricingRegistry.fromJson(JSON.parse(text), { ...options, version });
  }

  /**
   * Builds a registry from parsed api.json. Tolerant: unknown fields are ignored, and a provider,
   * model or price that fails validation is skipped (or kept unpriced) and listed in `info.issues`.
   * Throws only when the document is not an object of providers.
   */
  static fromJson(data: unknown, options: { overrides?: PricingOverrides; source?: string; version?: string; loadedAt?: number } = {}): PricingRegistry {
    const doc = apiJsonSchema.parse(data);
    const providers = new Map<string, StoredProvider>();
    const issues: string[] = [];
    const issue = (text: string) => void (issues.length < 50 && issues.push(text));
    let models = 0;
    let priced = 0;
    for (const [providerId, rawProvider] of Object.entries(doc)) {
      const provider = providerSchema.safeParse(rawProvider);
      if (!provider.success) {
        issue(`provider ${providerId}: ${provider.error.issues[0]?.message ?? "invalid"}`);
        continue;
      }
      const stored: StoredProvider = { exact: new Map(), lower: new Map() };
      for (const [modelId, rawModel] of Object.entries(provider.data.models)) {
        if (typeof rawModel !== "object" || rawModel === null || Array.isArray(rawModel)) {
          issue(`model ${providerId}/${modelId}: not an object`);
          continue;
        }
        const { name, cost: rawCost } = rawModel as { name?: unknown; cost?: unknown };
        let cost: ModelCost | undefined;
        if (rawCost !== undefined) {
          const parsed = parseModelCost(rawCost);
          if (parsed.success) cost = parsed.data;
          else issue(`price of ${providerId}/${modelId}: ${parsed.error}`);
        }
        stored.exact.set(modelId, { name: typeof name === "string" ? name : undefined, cost });
        const lower = modelId.toLowerCase();
        if (!stored.lower.has(lower)) stored.lower.set(lower, modelId);
        models++;
        if (cost) priced++;
      }
      providers.set(providerId, stored);
    }
    const info: RegistryInfo = {
      version: options.version ?? "unversioned",
      source: options.source ?? "inline",
      loadedAt: options.loadedAt ?? Date.now(),
      providers: providers.size,
      models,
      priced,
      issues,
    };
    return new PricingRegistry(providers, info, options.overrides);
  }

  /** The same data with other overrides (config reload). */
  withOverrides(overrides: PricingOverrides | undefined): PricingRegistry {
    return new PricingRegistry(this.providers, this.info, overrides);
  }

  /** models.dev provider ids present. */
  providerIds(): string[] {
    return [...this.providers.keys()];
  }

  /** One model by its exact models.dev id (for re-pricing stored rows by `pricing_entry`). */
  get(provider: string, modelId: string): { name?: string; cost?: ModelCost } | undefined {
    return this.providers.get(provider)?.exact.get(modelId);
  }

  /** Resolves an id against one models.dev provider's keys (no overrides, cost not considered). */
  resolve(provider: string, model: string): Resolution | undefined {
    const stored = this.providers.get(provider);
    if (!stored || !model) return undefined;
    for (const c of candidates(model)) {
      const modelId = c.rule === "exact" ? (stored.exact.has(c.id) ? c.id : undefined) : stored.lower.get(c.id);
      if (modelId !== undefined) return { provider, modelId, rule: c.rule, approximate: c.approximate, steps: c.steps };
    }
    return undefined;
  }

  /**
   * Prices `model` as served by a provider of type `providerType`. Order: an override for the id as
   * given, the models.dev match (or an override naming the entry it matched), an override matched
   * with the same normalisation, else unpriced. Never returns a guessed $0.
   */
  lookup(providerType: string, model: string, options: LookupOptions = {}): PricingLookup {
    const { pricingProvider, providerName } = options;
    let scope = this.lastScope;
    if (!scope || scope.providerType !== providerType || scope.pricingProvider !== pricingProvider || scope.providerName !== providerName) {
      const key = `${providerType}\u0000${pricingProvider ?? ""}\u0000${providerName ?? ""}`;
      let lookups = this.cache.get(key);
      if (!lookups) this.cache.set(key, (lookups = new Map()));
      this.lastScope = scope = { providerType, pricingProvider, providerName, lookups };
    }
    const cached = scope.lookups.get(model);
    if (cached) return cached;
    const result = this.lookupUncached(providerType, model, options);
    if (this.cachedLookups >= LOOKUP_CACHE_LIMIT) {
      for (const lookups of this.cache.values()) lookups.clear();
      this.cachedLookups = 0;
    }
    scope.lookups.set(model, result);
    this.cachedLookups++;
    return result;
  }

  /**
   * Prices the first usable id of several (response model first, then the requested one): the first
   * exact-or-normalised match wins; an approximate (fallback) match is used only if no id matches better.
   */
  lookupBest(providerType: string, models: Array<string | null | undefined>, options: LookupOptions = {}): PricingLookup {
    let best: PricingLookup | undefined;
    for (const model of models) {
      if (!model) continue;
      const result = this.lookup(providerType, model, options);
      if (!result.unpriced && !result.approximate) return result;
      if (!best || (best.unpriced && !result.unpriced)) best = result;
    }
    return best ?? this.miss(modelsDevProviderFor(providerType, options.pricingProvider), "", "no model id to price");
  }

  private lookupUncached(providerType: string, model: string, options: LookupOptions): PricingLookup {
    const provider = modelsDevProviderFor(providerType, options.pricingProvider);
    const scopes = [...new Set([options.providerName, provider, providerType].filter((s): s is string => !!s))];
    const all = candidates(model.trim());
    const direct = all.filter((c) => c.rule === "exact" || c.rule === "case-insensitive");

    const first = this.findOverride(direct, scopes);
    if (first) return this.overrideMatch(first, provider ?? providerType, model);

    if (!provider) {
      const fuzzy = this.findOverride(all, scopes);
      if (fuzzy) return this.overrideMatch(fuzzy, providerType, model);
      return this.miss(undefined, model, `provider type "${providerType}" has no models.dev provider: set pricing_provider or add a [pricing.overrides] entry`);
    }

    const found = this.resolve(provider, model.trim());
    if (found) {
      const named = this.findOverride([{ id: found.modelId, rule: "exact", steps: [], approximate: false }], scopes);
      const how = describe(model, `${provider}/${found.modelId}`, found.rule, found.steps);
      if (named) return this.overrideMatch({ ...named, approximate: found.approximate }, provider, model, how);
      const stored = this.providers.get(provider)!.exact.get(found.modelId)!;
      if (stored.cost) {
        return {
          unpriced: false,
          entry: { id: `${provider}/${found.modelId}`, provider, modelId: found.modelId, name: stored.name, cost: stored.cost, source: "models.dev" },
          rule: found.rule,
          approximate: found.approximate,
          explanation: how,
          registryVersion: this.info.version,
        };
      }
      return {
        ...this.miss(provider, model, `${how}, but models.dev lists no price for it: add a [pricing.overrides] entry`),
        known: { provider, modelId: found.modelId, rule: found.rule },
      };
    }

    const fuzzy = this.findOverride(all, scopes);
    if (fuzzy) return this.overrideMatch(fuzzy, provider, model);
    const why = this.providers.has(provider)
      ? `no models.dev entry for "${model}" under ${provider} (tried exact, case-insensitive, normalised and one suffix strip)`
      : `models.dev provider "${provider}" is not in the registry (${this.info.source}, ${this.info.models} models)`;
    return this.miss(provider, model, why);
  }

  private findOverride(list: Candidate[], scopes: string[]): OverrideHit | undefined {
    if (this.overrides.size === 0) return undefined;
    for (const c of list) {
      const id = c.id.toLowerCase();
      for (const scope of scopes) {
        const hit = this.overrides.get(`${scope.toLowerCase()}/${id}`);
        if (hit) return { ...c, ...hit, scoped: true };
      }
      const bare = this.overrides.get(id);
      if (bare) return { ...c, ...bare, scoped: false };
    }
    return undefined;
  }

  /** `matched` is set when the override names the models.dev entry the id resolved to. */
  private overrideMatch(hit: OverrideHit, provider: string, model: string, matched?: string): PricingMatch {
    const by = `[pricing.overrides] "${hit.key}"`;
    return {
      unpriced: false,
      entry: {
        id: `override:${hit.key}`,
        provider,
        modelId: hit.scoped ? hit.key.slice(hit.key.length - hit.id.length) : hit.key,
        cost: { ...hit.price },
        source: "override",
        overrideKey: hit.key,
      },
      rule: "override",
      approximate: hit.approximate,
      explanation: matched ? `${matched}, priced by ${by}` : describe(model, by, hit.rule, hit.steps),
      registryVersion: this.info.version,
    };
  }

  private miss(provider: string | undefined, model: string, explanation: string): PricingMiss {
    return { unpriced: true, explanation, provider, model, registryVersion: this.info.version };
  }
}

function describe(model: string, target: string, rule: MatchRule, steps: string[]): string {
  if (rule === "exact") return `"${model}" → ${target} (exact id)`;
  const label = rule === "fallback" ? "fallback, approximate price" : rule;
  return `"${model}" → ${target} (${label}${steps.length ? `: ${steps.join(", ")}` : ""})`;
}
