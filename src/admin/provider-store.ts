import { z } from "zod";
import { open, seal } from "../auth/secret-box.ts";
import type { ResolvedProvider } from "../config.ts";
import type { Router } from "../core/router.ts";
import type { Db } from "../db/client.ts";
import {
  deleteManagedProvider,
  getManagedProvider,
  insertManagedProvider,
  listManagedProviders,
  updateManagedProvider,
  type ManagedProviderRow,
} from "../db/managed-providers.ts";
import { ClientError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { ProviderError } from "../providers/errors.ts";
import { getAdapter } from "../providers/registry.ts";
import { runProvider } from "../providers/run.ts";

const PROVIDER_TYPES = ["openai", "deepseek", "grok", "gemini", "anthropic", "openai-compatible"] as const;

/** Body of `POST /api/providers` (and, all optional, `PATCH`). API keys go in, never come out. */
export const providerInputSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, "use lowercase letters, digits, '-', '_' or '.'"),
  type: z.enum(PROVIDER_TYPES),
  base_url: z.url({ protocol: /^https?$/, message: "must be an http(s) URL" }).nullish(),
  api_keys: z.array(z.string().min(1).max(500)).max(20).optional(),
  models: z.array(z.string().min(1)).nullish(),
  headers: z.record(z.string(), z.string()).nullish(),
  pricing_provider: z.string().min(1).nullish(),
  enabled: z.boolean().optional(),
});
export const providerPatchSchema = providerInputSchema.omit({ id: true, type: true }).partial();
export type ProviderInput = z.infer<typeof providerInputSchema>;

/** What the admin API shows for a provider: never a key, only the last four characters of each. */
export type ProviderView = {
  id: string;
  type: string;
  base_url: string | null;
  models: string[] | null;
  headers: Record<string, string>;
  pricing_provider: string | null;
  enabled: boolean;
  api_keys: Array<{ last4: string }>;
  source: "config" | "env" | "admin";
  read_only: boolean;
};

const last4 = (key: string) => key.slice(-4);
/**
 * A provider's extra headers as the API shows them: names, and each value masked to its last 4
 * characters (whole values of 8 or fewer are hidden). Headers often carry credentials under any
 * name (Azure's `api-key`, `Ocp-Apim-Subscription-Key`), so no value is shown whole.
 */
export const maskedHeaders = (headers: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, value.length > 8 ? `…${last4(value)}` : "…"]));
const aad = (id: string) => `provider:${id}`;
const headersAad = (id: string) => `provider-headers:${id}`;

/**
 * A managed provider's extra headers are sealed like its keys (they often carry credentials:
 * Azure's `api-key`). A row written before that holds them as plain JSON (`{…}`); it still reads,
 * and `reload()` seals it.
 */
function openHeaders(key: Uint8Array, row: Pick<ManagedProviderRow, "id" | "headers">): Record<string, string> {
  if (!row.headers) return {};
  const text = row.headers.startsWith("{") ? row.headers : open(key, row.headers, headersAad(row.id));
  return JSON.parse(text) as Record<string, string>;
}

function sealHeaders(key: Uint8Array, id: string, headers: Record<string, string> | null | undefined): string | null {
  return headers && Object.keys(headers).length ? seal(key, JSON.stringify(headers), headersAad(id)) : null;
}

/**
 * Providers from the config file (read-only) plus providers managed through the admin API, whose
 * keys are sealed with AES-256-GCM (associated data `provider:<id>`). Every change re-resolves the
 * router in place, so it applies to the next request without a restart.
 */
export class ProviderStore {
  constructor(
    private readonly db: Db,
    private readonly masterKey: Uint8Array,
    private readonly configProviders: ResolvedProvider[],
    private readonly router: Router,
    private readonly log: Logger,
  ) {}

  private decrypt(row: ManagedProviderRow): string[] {
    if (!row.apiKeysSealed) return [];
    return JSON.parse(open(this.masterKey, row.apiKeysSealed, aad(row.id))) as string[];
  }

  /** A row's headers for display: none when they cannot be opened (the wrong encryption key). */
  private safeHeaders(row: ManagedProviderRow): Record<string, string> {
    try {
      return openHeaders(this.masterKey, row);
    } catch {
      return {};
    }
  }

  private resolve(row: ManagedProviderRow): ResolvedProvider {
    return {
      id: row.id,
      type: row.type as ResolvedProvider["type"],
      baseUrl: row.baseUrl ?? undefined,
      apiKeys: this.decrypt(row).map((value) => ({ value, ref: `…${last4(value)}` })),
      models: row.models ? (JSON.parse(row.models) as string[]) : undefined,
      headers: openHeaders(this.masterKey, row),
      pricingProvider: row.pricingProvider ?? undefined,
      source: "file",
    };
  }

  /** Rebuilds the router's provider list: config providers first, then enabled managed ones. */
  reload(): void {
    const managed: ResolvedProvider[] = [];
    for (const row of listManagedProviders(this.db)) {
      if (row.headers?.startsWith("{")) {
        // Headers stored in plain text by an earlier version: sealed now.
        try {
          updateManagedProvider(this.db, row.id, { headers: sealHeaders(this.masterKey, row.id, openHeaders(this.masterKey, row)) });
        } catch (e) {
          this.log.error("cannot seal a stored provider's headers", { provider: row.id, error: (e as Error).message });
        }
      }
      if (!row.enabled) continue;
      try {
        managed.push(this.resolve(row));
      } catch (e) {
        this.log.error("cannot decrypt a stored provider key (wrong encryption key?); provider skipped", { provider: row.id, error: (e as Error).message });
      }
    }
    this.router.replaceProviders([...this.configProviders, ...managed]);
  }

  list(): ProviderView[] {
    const fromConfig: ProviderView[] = this.configProviders.map((p) => ({
      id: p.id,
      type: p.type,
      base_url: p.baseUrl ?? null,
      models: p.models ?? null,
      headers: maskedHeaders(p.headers),
      pricing_provider: p.pricingProvider ?? null,
      enabled: true,
      api_keys: p.apiKeys.map((k) => ({ last4: last4(k.value) })),
      source: p.source === "env" ? "env" : "config",
      read_only: true,
    }));
    const managed: ProviderView[] = listManagedProviders(this.db).map((row) => ({
      id: row.id,
      type: row.type,
      base_url: row.baseUrl,
      models: row.models ? JSON.parse(row.models) : null,
      headers: maskedHeaders(this.safeHeaders(row)),
      pricing_provider: row.pricingProvider,
      enabled: row.enabled,
      api_keys: (row.apiKeysLast4 ? (JSON.parse(row.apiKeysLast4) as string[]) : []).map((l) => ({ last4: l })),
      source: "admin",
      read_only: false,
    }));
    return [...fromConfig, ...managed];
  }

  get(id: string): ProviderView {
    const view = this.list().find((p) => p.id === id);
    if (!view) throw new ClientError(404, `No provider with id '${id}'`, "invalid_request_error", "id", "not_found");
    return view;
  }

  private requireManaged(id: string): ManagedProviderRow {
    if (this.configProviders.some((p) => p.id === id)) {
      throw new ClientError(409, `Provider '${id}' comes from the config file and is read-only here`, "invalid_request_error", "id", "read_only");
    }
    const row = getManagedProvider(this.db, id);
    if (!row) throw new ClientError(404, `No provider with id '${id}'`, "invalid_request_error", "id", "not_found");
    return row;
  }

  private checkShape(type: string, baseUrl: string | null | undefined) {
    if (!getAdapter(type)) throw new ClientError(400, `Unsupported provider type '${type}'`, "invalid_request_error", "type");
    if (type === "openai-compatible" && !baseUrl) {
      throw new ClientError(400, "openai-compatible providers need a base_url", "invalid_request_error", "base_url");
    }
  }

  private sealKeys(id: string, keys: string[]) {
    return keys.length
      ? { apiKeysSealed: seal(this.masterKey, JSON.stringify(keys), aad(id)), apiKeysLast4: JSON.stringify(keys.map(last4)) }
      : { apiKeysSealed: null, apiKeysLast4: null };
  }

  create(input: ProviderInput): ProviderView {
    if (this.configProviders.some((p) => p.id === input.id) || getManagedProvider(this.db, input.id)) {
      throw new ClientError(409, `A provider with id '${input.id}' already exists`, "invalid_request_error", "id", "conflict");
    }
    this.checkShape(input.type, input.base_url);
    const now = Date.now();
    insertManagedProvider(this.db, {
      id: input.id,
      type: input.type,
      baseUrl: input.base_url ?? null,
      ...this.sealKeys(input.id, input.api_keys ?? []),
      models: input.models ? JSON.stringify(input.models) : null,
      headers: sealHeaders(this.masterKey, input.id, input.headers),
      pricingProvider: input.pricing_provider ?? null,
      enabled: input.enabled ?? true,
      createdAt: now,
      updatedAt: now,
    });
    this.reload();
    return this.get(input.id);
  }

  update(id: string, patch: z.infer<typeof providerPatchSchema>): ProviderView {
    const row = this.requireManaged(id);
    const baseUrl = patch.base_url === undefined ? row.baseUrl : patch.base_url;
    this.checkShape(row.type, baseUrl);
    updateManagedProvider(this.db, id, {
      baseUrl: baseUrl ?? null,
      ...(patch.api_keys !== undefined ? this.sealKeys(id, patch.api_keys) : {}),
      ...(patch.models !== undefined ? { models: patch.models ? JSON.stringify(patch.models) : null } : {}),
      ...(patch.headers !== undefined ? { headers: sealHeaders(this.masterKey, id, patch.headers) } : {}),
      ...(patch.pricing_provider !== undefined ? { pricingProvider: patch.pricing_provider ?? null } : {}),
      ...(patch.enabled !== undefined ? { enabled: patch.enabled } : {}),
      updatedAt: Date.now(),
    });
    this.reload();
    return this.get(id);
  }

  delete(id: string): void {
    this.requireManaged(id);
    deleteManagedProvider(this.db, id);
    this.reload();
  }

  /** The resolved provider (with keys) for a connection test; throws 404 if unknown. */
  resolved(id: string): ResolvedProvider {
    const fromConfig = this.configProviders.find((p) => p.id === id);
    if (fromConfig) return fromConfig;
    return this.resolve(this.requireManaged(id));
  }
}

/**
 * Re-seals every stored provider key under `newKey` in one transaction (`llm-proxy secrets
 * rotate`). Fails without changing anything if any value cannot be opened with `oldKey`.
 */
export function rotateProviderSecrets(db: Db, oldKey: Uint8Array, newKey: Uint8Array): number {
  return db.transaction((tx) => {
    let n = 0;
    for (const row of listManagedProviders(tx as unknown as Db)) {
      if (!row.apiKeysSealed && !row.headers) continue;
      const keys = row.apiKeysSealed ? seal(newKey, open(oldKey, row.apiKeysSealed, aad(row.id)), aad(row.id)) : null;
      const headers = row.headers ? sealHeaders(newKey, row.id, openHeaders(oldKey, row)) : null;
      updateManagedProvider(tx as unknown as Db, row.id, { apiKeysSealed: keys, headers, updatedAt: Date.now() });
      n++;
    }
    return n;
  });
}

/**
 * "Test connection": one minimal chat call (one output token) through the real provider path, so
 * it checks the base URL, the key and the model together. Never returns or logs the key.
 */
export async function testProviderConnection(
  provider: ResolvedProvider,
  options: { model?: string; fetch?: typeof fetch; timeoutMs?: number } = {},
): Promise<{ ok: boolean; latency_ms: number; model: string; status?: number; error_class?: string; message?: string }> {
  const adapter = getAdapter(provider.type);
  const model = options.model ?? provider.models?.[0] ?? DEFAULT_TEST_MODEL[provider.type] ?? "";
  const started = performance.now();
  if (!adapter || !model) {
    return { ok: false, latency_ms: 0, model, error_class: "bad_request", message: "Name a model to test with (the provider lists none)." };
  }
  try {
    const events = runProvider(
      adapter,
      { model, messages: [{ role: "user", content: "ping" }], maxOutputTokens: 1 },
      { apiKey: provider.apiKeys[0]?.value ?? "", baseUrl: provider.baseUrl, headers: provider.headers, instanceId: provider.id },
      { stream: false, signal: AbortSignal.timeout(options.timeoutMs ?? 20_000), fetch: options.fetch, timeouts: { connectMs: 10_000 } },
    );
    for await (const _ of events) {
      // drain
    }
    return { ok: true, latency_ms: Math.round(performance.now() - started), model };
  } catch (e) {
    const error = e instanceof ProviderError ? e : undefined;
    return {
      ok: false,
      latency_ms: Math.round(performance.now() - started),
      model,
      status: error?.status,
      error_class: error?.errorClass ?? "network",
      message: error?.message ?? "the provider could not be reached in time",
    };
  }
}

const DEFAULT_TEST_MODEL: Record<string, string> = {
  openai: "gpt-4o-mini",
  deepseek: "deepseek-chat",
  grok: "grok-3-mini",
  gemini: "gemini-2.5-flash",
};
