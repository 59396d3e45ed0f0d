import fs from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * Maximum output tokens per models.dev model (`limit.output`), for budget reservations of requests
 * that set no `max_tokens`. The pricing registry keeps only prices, so this reads the same
 * api.json text (cache file, source file or embedded snapshot) into its own small map, keyed like
 * pricing entries: `provider/modelId`.
 */
export class ModelOutputLimits {
  private limits: Map<string, number> | undefined;

  /** `read` returns the api.json text the pricing registry was built from (undefined when none). */
  constructor(private readonly read: () => string | undefined = () => undefined) {}

  /** Parses api.json text; providers and models without a usable `limit.output` are skipped. */
  static parse(text: string | undefined): Map<string, number> {
    const out = new Map<string, number>();
    if (!text) return out;
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      return out;
    }
    if (!doc || typeof doc !== "object") return out;
    for (const [providerId, provider] of Object.entries(doc as Record<string, unknown>)) {
      const models = provider && typeof provider === "object" ? (provider as { models?: unknown }).models : undefined;
      if (!models || typeof models !== "object") continue;
      for (const [modelId, model] of Object.entries(models as Record<string, unknown>)) {
        const limit = model && typeof model === "object" ? (model as { limit?: { output?: unknown } }).limit : undefined;
        const output = limit && typeof limit === "object" ? limit.output : undefined;
        if (typeof output === "number" && Number.isSafeInteger(output) && output > 0) out.set(`${providerId}/${modelId}`, output);
      }
    }
    return out;
  }

  /** Re-reads the text (after a pricing refresh). */
  reload(): void {
    this.limits = ModelOutputLimits.parse(this.read());
  }

  /** `limit.output` of a pricing entry id (`openai/gpt-4o`); undefined for overrides and unknown models. */
  get(entry: string | undefined): number | undefined {
    if (!this.limits) this.reload();
    return entry ? this.limits!.get(entry) : undefined;
  }

  /** Replaces the map (tests). */
  set(limits: Map<string, number>): void {
    this.limits = limits;
  }
}

/**
 * Reads the api.json text the pricing source most likely built its registry from: the cache file
 * (every successful fetch writes it), else a local `source` path, else the embedded snapshot.
 */
export function pricingTextReader(options: { cacheFile: string; source: string; embedded?: string | null }): () => string | undefined {
  return () => {
    const local = /^https?:\/\//i.test(options.source) ? undefined : options.source.startsWith("file:") ? fileURLToPath(options.source) : options.source;
    for (const file of [options.cacheFile, local]) {
      if (!file) continue;
      try {
        return fs.readFileSync(file, "utf8");
      } catch {}
    }
    return options.embedded ?? undefined;
  };
}
