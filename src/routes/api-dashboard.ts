import { Elysia } from "elysia";
import { z } from "zod";
import { ClientKeyAdmin, clientKeyCreateSchema, clientKeyPatchSchema } from "../admin/client-key-admin.ts";
import { providerInputSchema, providerPatchSchema, testProviderConnection, type ProviderStore } from "../admin/provider-store.ts";
import { parseSince } from "../cli/requests-format.ts";
import type { Router } from "../core/router.ts";
import type { Db } from "../db/client.ts";
import { deletePricingOverride, loadPricingOverrides, savePricingOverride } from "../db/pricing-overrides.ts";
import type { Aggregate, RequestLogStore, RequestRow } from "../db/request-log.ts";
import { listClientKeys } from "../db/client-keys.ts";
import { ClientError } from "../errors.ts";
import { liveRequest, type Live } from "../live/live.ts";
import { pricingOverrideSchema, type PricingOverrides } from "../pricing/schema.ts";
import type { PricingSource } from "../pricing/source.ts";
import { createPricer } from "../pricing/price.ts";
import type { Recorder } from "../recorder/recorder.ts";
import { recomputeCosts } from "../recorder/recompute.ts";
import { apiGuard, audit, parseBody, requireAdmin, type ApiDeps } from "./api-guard.ts";

/** What the dashboard's data, provider, key and pricing endpoints need. */
export type DashboardDeps = {
  api: ApiDeps;
  db: Db;
  store: RequestLogStore;
  providers: ProviderStore;
  keys: ClientKeyAdmin;
  pricing: PricingSource;
  /** `[pricing.overrides]` from the config file (read-only; wins over dashboard overrides). */
  configOverrides: PricingOverrides;
  pricingProviders: Map<string, string | undefined>;
  live: Live;
  recorder: Recorder;
  router: Router;
  /** Told after a re-price changed stored costs (budgets re-read their spend). */
  onRecomputed?: () => void;
};

const RANGES: Record<string, number> = { "1h": 3_600_000, "24h": 86_400_000, "7d": 7 * 86_400_000, "30d": 30 * 86_400_000 };
const usd = (pico: bigint | number | null) => (pico === null ? null : Number(pico) / 1e12);
const json = (s: string | null) => (s ? JSON.parse(s) : null);

function aggregateJson({ cost_pico, ...rest }: Aggregate & { group: string | null }) {
  return { ...rest, cost_usd: usd(cost_pico) };
}

/** Applies config + dashboard price overrides to the running registry (config wins on a clash). */
export function applyPricingOverrides(deps: Pick<DashboardDeps, "db" | "pricing" | "configOverrides">): void {
  deps.pricing.setOverrides({ ...loadPricingOverrides(deps.db), ...deps.configOverrides });
}

function requestDetail(row: RequestRow, requestGz: Uint8Array | null, responseGz: Uint8Array | null) {
  const unzip = (gz: Uint8Array | null) => (gz ? JSON.parse(new TextDecoder().decode(Bun.gunzipSync(gz as Uint8Array<ArrayBuffer>))) : null);
  return {
    request: {
      ...row,
      stream: row.stream === 1,
      usage_estimated: row.usage_estimated === 1,
      attempts: json(row.attempts) ?? [],
      usage_raw: json(row.usage_raw),
      cost_breakdown: json(row.cost_breakdown),
      warnings: json(row.warnings),
      cost_pico: row.cost_pico === null ? null : String(row.cost_pico),
      cost_usd: usd(row.cost_pico),
    },
    bodies: requestGz || responseGz ? { request: unzip(requestGz), response: unzip(responseGz) } : null,
  };
}

/** `/api` endpoints behind the dashboard: overview, requests, providers, client keys, pricing, system. */
export function dashboardRoutes(deps: DashboardDeps) {
  const { store, providers, keys, pricing, live } = deps;
  /** A `since` value (a duration or a date), or a 400 that names it. */
  const sinceParam = (text: string) => {
    try {
      return parseSince(text);
    } catch (e) {
      throw new ClientError(400, `since: ${(e as Error).message}`, "invalid_request_error", "since");
    }
  };
  const keyNames = () => new Map(listClientKeys(deps.db).map((k) => [k.id, k.name]));
  return new Elysia({ name: "api-dashboard" })
    .use(apiGuard(deps.api))
    .get("/api/overview", ({ query }) => {
      const span = RANGES[query.range ?? "24h"];
      if (!span) throw new ClientError(400, "range must be one of 1h, 24h, 7d, 30d", "invalid_request_error", "range");
      const to = Date.now();
      const from = to - span;
      const [totals] = store.aggregate({ from, to });
      const names = keyNames();
      const series = store.series({ from, to, points: 60 });
      return {
        from,
        to,
        totals: totals ? aggregateJson(totals) : aggregateJson({ group: null, requests: 0, errors: 0, input_tokens: 0, cached_tokens: 0, cache_write_tokens: 0, output_tokens: 0, reasoning_tokens: 0, cost_pico: 0n, unpriced: 0, latency_avg_ms: null, latency_p50_ms: null, latency_p95_ms: null, latency_p99_ms: null, ttfb_p50_ms: null, ttfb_p95_ms: null }),
        by_provider: store.aggregate({ from, to, groupBy: "provider" }).map(aggregateJson),
        by_model: store.aggregate({ from, to, groupBy: "model" }).map(aggregateJson),
        by_key: store.aggregate({ from, to, groupBy: "client_key_id" }).map((a) => ({ ...aggregateJson(a), name: names.get(a.group ?? "") ?? null })),
        by_project: store.aggregate({ from, to, groupBy: "project" }).map(aggregateJson),
        series: { step: series.step, points: series.points.map(({ cost_pico, ...p }) => ({ ...p, cost_usd: usd(cost_pico) })) },
      };
    })
    .get("/api/requests", ({ query }) => {
      if (query.status && query.status !== "ok" && query.status !== "error") throw new ClientError(400, "status must be ok or error", "invalid_request_error", "status");
      const status = query.status === "ok" || query.status === "error" ? query.status : undefined;
      const page = store.list({
        cursor: query.cursor || undefined,
        limit: query.limit ? Number(query.limit) : 100,
        provider: query.provider || undefined,
        model: query.model || undefined,
        clientKeyId: query.key || undefined,
        project: query.project || undefined,
        status,
        since: query.since ? sinceParam(query.since) : undefined,
      });
      return { data: page.rows.map(liveRequest), next_cursor: page.nextCursor };
    })
    .get("/api/requests/:id", ({ params }) => {
      const found = store.get(params.id);
      if (!found) throw new ClientError(404, `No request with id '${params.id}'`, "invalid_request_error", "id", "not_found");
      return requestDetail(found.row, found.requestGz, found.responseGz);
    })
    .get("/api/models", () => ({ data: deps.router.listModels() }))
    .get("/api/providers", () => ({ data: providers.list().map((p) => ({ ...p, health: live.health.health(p.id) })) }))
    .post("/api/providers", ({ auth, body }) => {
      const view = providers.create(parseBody(providerInputSchema, body));
      audit(auth, "provider.create", `provider:${view.id}`, { type: view.type, keys: view.api_keys.length });
      return view;
    })
    .patch("/api/providers/:id", ({ auth, body, params }) => {
      const patch = parseBody(providerPatchSchema, body);
      const view = providers.update(params.id, patch);
      audit(auth, "provider.update", `provider:${params.id}`, { fields: Object.keys(patch).join(",") });
      return view;
    })
    .delete("/api/providers/:id", ({ auth, params }) => {
      providers.delete(params.id);
      audit(auth, "provider.delete", `provider:${params.id}`);
      return { deleted: true };
    })
    .post("/api/providers/:id/test", async ({ auth, body, params }) => {
      const input = parseBody(z.strictObject({ model: z.string().min(1).optional() }), body ?? {});
      const result = await testProviderConnection(providers.resolved(params.id), { model: input.model });
      live.health.probe(params.id, result.ok, result.error_class);
      audit(auth, "provider.test", `provider:${params.id}`, { ok: result.ok });
      return result;
    })
    .get("/api/keys", () => ({ data: keys.list() }))
    .post("/api/keys", ({ auth, body }) => {
      const created = keys.create(parseBody(clientKeyCreateSchema, body));
      audit(auth, "key.create", `key:${created.id}`, { name: created.name });
      return created;
    })
    .patch("/api/keys/:id", ({ auth, body, params }) => {
      const patch = parseBody(clientKeyPatchSchema, body);
      const view = keys.update(params.id, patch);
      audit(auth, "key.update", `key:${params.id}`, { fields: Object.keys(patch).join(",") });
      return view;
    })
    .post("/api/keys/:id/revoke", ({ auth, params }) => {
      const view = keys.revoke(params.id);
      audit(auth, "key.revoke", `key:${params.id}`);
      return view;
    })
    .get("/api/pricing", () => {
      const dashboard = loadPricingOverrides(deps.db);
      const overrides = [
        ...Object.entries(deps.configOverrides).map(([model, p]) => ({ model, ...p, origin: "config" as const })),
        ...Object.entries(dashboard).filter(([m]) => !(m in deps.configOverrides)).map(([model, p]) => ({ model, ...p, origin: "dashboard" as const })),
      ];
      return { source: pricing.status(), overrides, unpriced: store.unpricedModels(Date.now() - 30 * 86_400_000) };
    })
    .post("/api/pricing/refresh", async ({ auth }) => {
      const updated = await pricing.refresh();
      audit(auth, "pricing.refresh", null, { updated });
      return { updated, source: pricing.status() };
    })
    .put("/api/pricing/overrides/*", ({ auth, body, params }) => {
      const model = decodeURIComponent(params["*"]);
      if (model in deps.configOverrides) throw new ClientError(409, `The price of '${model}' is set in the config file`, "invalid_request_error", "model", "read_only");
      const price = parseBody(pricingOverrideSchema, body);
      savePricingOverride(deps.db, model, price, auth.user.username);
      applyPricingOverrides(deps);
      audit(auth, "pricing.override.set", `model:${model}`, price);
      return { model, ...price, origin: "dashboard" };
    })
    .delete("/api/pricing/overrides/*", ({ auth, params }) => {
      const model = decodeURIComponent(params["*"]);
      if (!deletePricingOverride(deps.db, model)) throw new ClientError(404, `No dashboard price for '${model}'`, "invalid_request_error", "model", "not_found");
      applyPricingOverrides(deps);
      audit(auth, "pricing.override.delete", `model:${model}`);
      return { deleted: true };
    })
    .post("/api/pricing/recompute", ({ auth, body }) => {
      requireAdmin(auth);
      const input = parseBody(z.strictObject({ since: z.string().min(1) }), body);
      const since = sinceParam(input.since);
      deps.recorder.flush(); // queued rows were priced when recorded: store them so the recompute re-prices them too
      const report = recomputeCosts(store, createPricer(() => pricing.current(), (id) => deps.pricingProviders.get(id)), since);
      if (report.changed) deps.onRecomputed?.(); // key budgets and spend follow the new costs at once
      audit(auth, "pricing.recompute", null, { since: input.since, changed: report.changed });
      return { scanned: report.scanned, changed: report.changed, newly_priced: report.newlyPriced, unpriced: report.unpriced, delta_usd: usd(report.deltaPico) };
    })
    .get("/api/system", async () => ({
      host: await live.system.hostSnapshot(),
      process: live.system.process(),
      gauges: live.metrics.gaugeValues(),
      providers: live.providerHealth(),
      recorder: { ...deps.recorder.stats, queued: deps.recorder.queued, in_flight: deps.recorder.inFlightCount },
      hub: live.hub.stats,
    }));
}
