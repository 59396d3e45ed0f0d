import type { ResolvedProvider } from "../config.ts";
import { getAdapter } from "../providers/registry.ts";
import type { ProviderAdapter } from "../providers/types.ts";

/** One place a request can go: a provider instance, its adapter, and the upstream model id. */
export type Target = {
  provider: ResolvedProvider;
  adapter: ProviderAdapter;
  upstreamModel: string;
  /** `provider-id/model`, as shown in logs and errors. */
  label: string;
};

export type RouteResult = { ok: true; targets: Target[] } | { ok: false; message: string };

/** Model-name patterns each provider type is known to serve, for bare names without an alias. */
const KNOWN_MODELS: Record<string, RegExp> = {
  openai: /^(gpt-|chatgpt-|o\d|codex-|computer-use-)/,
  deepseek: /^deepseek-/,
  grok: /^grok-/,
  gemini: /^(gemini-|gemma-)/,
  anthropic: /^claude-/,
};

/** Built-in model ids listed by /v1/models for a provider without a `models` list. */
export const DEFAULT_MODELS: Record<string, string[]> = {
  openai: ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "o4-mini", "o3"],
  deepseek: ["deepseek-chat", "deepseek-reasoner"],
  grok: ["grok-4", "grok-3", "grok-3-mini"],
  gemini: ["gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite"],
  anthropic: ["claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"],
  "openai-compatible": [],
};

/**
 * Resolves the model named by a client:
 * 1. `provider-id/model` addresses one provider directly (its `models` allowlist applies);
 * 2. a bare name that is an alias expands to the alias's ordered fallback chain;
 * 3. otherwise the first provider (in config order) that lists the model in `models`, then the
 *    first whose type is known to serve it (gpt-*, o-series → openai; deepseek-*; grok-*).
 */
/**
 * The provider id in a target label (`provider-id/model`; the model may contain slashes itself).
 * Remembered per label (metrics and provider health ask once per upstream call, always for the
 * same few labels): no new string per call. Bounded: cleared when full.
 */
export function labelProvider(label: string): string {
  let provider = providerOfLabel.get(label);
  if (provider === undefined) {
    const slash = label.indexOf("/");
    provider = slash < 0 ? label : label.slice(0, slash);
    if (providerOfLabel.size >= 1024) providerOfLabel.clear();
    providerOfLabel.set(label, provider);
  }
  return provider;
}
const providerOfLabel = new Map<string, string>();

/** Resolutions kept (model names come from clients, so the cache is bounded: cleared when full). */
const MAX_CACHED_ROUTES = 1024;

export class Router {
  private byId: Map<string, ResolvedProvider>;
  /**
   * Resolutions by model name, frozen and shared by every request that names the model (a route is
   * a pure function of the name, the providers and the aliases). Cleared when providers change.
   */
  private routes = new Map<string, RouteResult>();

  constructor(
    public providers: ResolvedProvider[],
    readonly aliases: Record<string, string[]>,
  ) {
    this.byId = new Map(providers.map((p) => [p.id, p]));
  }

  /** Swaps the provider set in place (admin API changes apply without a restart). */
  replaceProviders(providers: ResolvedProvider[]): void {
    this.providers = providers;
    this.byId = new Map(providers.map((p) => [p.id, p]));
    this.routes = new Map();
  }

  private target(provider: ResolvedProvider, model: string): Target | undefined {
    const adapter = getAdapter(provider.type);
    if (!adapter) return undefined;
    return { provider, adapter, upstreamModel: model, label: `${provider.id}/${model}` };
  }

  /** Direct `provider-id/model` reference, or undefined when the prefix is not a provider id. */
  private direct(name: string): RouteResult | undefined {
    const slash = name.indexOf("/");
    if (slash <= 0) return undefined;
    const provider = this.byId.get(name.slice(0, slash));
    if (!provider) return undefined;
    const model = name.slice(slash + 1);
    if (!model) return { ok: false, message: `The model '${name}' does not name a model after the provider id` };
    if (provider.models && !provider.models.includes(model)) {
      return { ok: false, message: `The model '${model}' is not enabled for provider '${provider.id}'` };
    }
    const t = this.target(provider, model);
    return t ? { ok: true, targets: [t] } : { ok: false, message: `Provider '${provider.id}' has an unsupported type` };
  }

  /** The targets for a model name (a shared, frozen result: callers must not change it). */
  resolve(name: string): RouteResult {
    let route = this.routes.get(name);
    if (route) return route;
    route = this.resolveNow(name);
    if (route.ok) for (const t of Object.freeze(route.targets)) Object.freeze(t);
    Object.freeze(route);
    if (this.routes.size >= MAX_CACHED_ROUTES) this.routes.clear();
    this.routes.set(name, route);
    return route;
  }

  private resolveNow(name: string): RouteResult {
    const direct = this.direct(name);
    if (direct) return direct;
    const alias = this.aliases[name];
    if (alias) {
      const targets = alias.flatMap((ref) => {
        const r = this.direct(ref);
        return r?.ok ? r.targets : [];
      });
      return targets.length
        ? { ok: true, targets }
        : { ok: false, message: `The alias '${name}' has no usable target (its providers are not configured)` };
    }
    const listed = this.providers.find((p) => p.models?.includes(name));
    const known = listed ?? this.providers.find((p) => !p.models && KNOWN_MODELS[p.type]?.test(name));
    const t = known && this.target(known, name);
    if (t) return { ok: true, targets: [t] };
    return { ok: false, message: `The model '${name}' does not exist or no configured provider serves it` };
  }

  /** Every model id a client can use: aliases, then `provider-id/model` for each provider. */
  listModels(): Array<{ id: string; ownedBy: string }> {
    const out = Object.keys(this.aliases).map((id) => ({ id, ownedBy: "llm-proxy" }));
    for (const p of this.providers) {
      for (const m of p.models ?? DEFAULT_MODELS[p.type] ?? []) out.push({ id: `${p.id}/${m}`, ownedBy: p.id });
    }
    return out;
  }
}
