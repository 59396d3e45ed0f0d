import path from "node:path";
import { createApp, type App } from "../app.ts";
import { loadEncryptionKey, type LoadedKey } from "../auth/encryption-key.ts";
import { clientKeyProviders, type Config } from "../config.ts";
import { DB_FILE, openDatabase, type DbHandle } from "../db/client.ts";
import { recordStart } from "../db/meta.ts";
import { runMigrations } from "../db/migrate.ts";
import { startCheckpointer } from "../db/checkpointer.ts";
import type { Logger } from "../logger.ts";
import { VERSION } from "../version.ts";
import { lazyStaticAssets } from "./static.ts";
import { applyCpuScheduling } from "./cpu-scheduling.ts";
import { ClientKeyVerifier } from "../auth/client-keys.ts";
import { KeyPool } from "../core/key-pool.ts";
import { Router, type Target } from "../core/router.ts";
import { ProviderStore } from "../admin/provider-store.ts";
import { ClientKeyAdmin } from "../admin/client-key-admin.ts";
import { Live } from "../live/live.ts";
import { applyPricingOverrides, type DashboardDeps } from "../routes/api-dashboard.ts";
import { RequestLogStore } from "../db/request-log.ts";
import { Recorder } from "../recorder/recorder.ts";
import { scheduleRetention } from "../recorder/retention.ts";
import { EMBEDDED_SNAPSHOT } from "../pricing/embedded.ts";
import { createPricer } from "../pricing/price.ts";
import { createPricingSource, defaultCacheFile, type PricingSource } from "../pricing/source.ts";
import { Governance } from "../governance/governance.ts";
import { InMemoryBudgetLedger } from "../governance/ledger.ts";
import { ModelOutputLimits, pricingTextReader } from "../governance/model-limits.ts";
import { InMemoryRateLimiter } from "../governance/rate-limiter.ts";
import { createApiDeps, type ApiTestOptions } from "../routes/api-guard.ts";
import { issueSetupToken, setupLink, SETUP_TOKEN_TTL_MS } from "../auth/setup.ts";

/** Work to finish before the database closes (e.g. flushing the request-log queue). */
export type ShutdownHook = { name: string; run: () => Promise<void> | void };

export type RunningServer = {
  app: App;
  url: URL;
  db: DbHandle;
  key: LoadedKey;
  recorder: Recorder;
  pricing: PricingSource;
  /** Key policy, budgets and rate limits; `governance.ledger.spend(keyId)` is a key's spend so far. */
  governance: Governance;
  providers: ProviderStore;
  live: Live;
  /** Registers work that must complete during shutdown, after in-flight requests drain. */
  onShutdown(hook: ShutdownHook): void;
  /** Graceful stop: refuse new connections, drain (bounded by the grace period), run hooks, close the DB. */
  stop(reason?: string): Promise<void>;
};

/** Opens the data directory, migrates, and starts listening. Throws on any startup failure. */
export async function startServer(
  config: Config,
  log: Logger,
  options: {
    configure?: (app: App) => void;
    fetch?: typeof fetch;
    pricingFetch?: typeof fetch;
    /** Tests only: the clock for key expiry, budget periods and rate limits. */
    clock?: () => number;
    /** Tests only: a cheaper bcrypt cost, throttle limits, a clock. */
    api?: ApiTestOptions;
  } = {},
): Promise<RunningServer> {
  const t0 = performance.now();
  // A client key (llmp_…) in a provider key variable is a client setting exported in the same
  // shell: used upstream, it would send our own key to the provider.
  const ignored = clientKeyProviders(config.providers);
  for (const { provider, env } of ignored) {
    log.warn(`ignoring ${env}: it holds an llm-proxy client key (llmp_…), a client setting; the ${provider.id} provider needs its own API key`);
  }
  config.providers = config.providers.filter((p) => !ignored.some((i) => i.provider === p));
  const scheduling = applyCpuScheduling(config.cpuScheduling);
  if (scheduling.applied) log.debug("cpu scheduling set", { policy: scheduling.policy, threads: scheduling.threads });
  else if (config.cpuScheduling !== "normal") log.debug("cpu scheduling left at the system default", { reason: scheduling.reason });
  const key = loadEncryptionKey({
    literal: config.encryptionKey,
    file: config.encryptionKeyFile,
    dataDir: config.dataDir,
    generate: true,
  })!;
  if (key.generated) {
    log.warn("generated a new encryption key; back it up with the database, or encrypted secrets become unreadable", {
      file: path.join(config.dataDir, "encryption.key"),
    });
  }

  const db = openDatabase(path.join(config.dataDir, DB_FILE));
  try {
    const report = runMigrations(db);
    if (report.applied) log.info("database migrated", { applied: report.applied, backup: report.backup });
    recordStart(db.db, VERSION);
  } catch (e) {
    db.close();
    throw e;
  }
  // WAL checkpoints on their own thread, so a commit of the request log never stalls on one.
  const checkpointer = startCheckpointer(db.file, { log });

  const state = { draining: false, closing: false, startedAt: Date.now() };
  const assets = lazyStaticAssets();
  // Pricing never waits on the network: the cached copy (or the embedded snapshot) serves at once,
  // and the models.dev refresh runs in the background.
  // Max output tokens per model (models.dev `limit.output`) for budget reservations; re-read when pricing refreshes.
  const outputLimits = new ModelOutputLimits(
    pricingTextReader({ cacheFile: defaultCacheFile(config.dataDir), source: config.pricing.source, embedded: EMBEDDED_SNAPSHOT }),
  );
  const pricing: PricingSource = createPricingSource({
    source: config.pricing.source,
    cacheFile: defaultCacheFile(config.dataDir),
    refreshMs: config.pricing.refreshMs,
    embedded: EMBEDDED_SNAPSHOT ?? undefined,
    overrides: config.pricing.overrides,
    fetch: options.pricingFetch,
    log: { info: (m, f) => log.info(m, f), warn: (m, f) => log.warn(m, f) },
    onUpdate: () => outputLimits.reload(),
  });
  const pricingProviders = new Map(config.providers.map((p) => [p.id, p.pricingProvider]));
  // One pricer for the request log and for budgets, so holds and settlements match logged costs.
  // Priced once per request: the log row and the budget settlement share the result.
  // One pricing per request: the recorder notes the cost on the record, and the budget settlement reads it there.
  const price = createPricer(() => pricing.current(), (id) => pricingProviders.get(id));
  // Live view: WebSocket hub, metrics, host/process monitor and provider health, fed by the recorder
  // as requests end (the live table once their rows are written).
  let routerRef: Router | undefined;
  const live = new Live({ log, providers: () => routerRef?.providers ?? [], probeIntervalMs: config.monitoring.probeIntervalMs, fetch: options.fetch });
  // One store (and one set of prepared statements) for the writer, retention, budgets and the dashboard.
  const requestLog = new RequestLogStore(db.sqlite, { log });
  // With the log off the recorder still tracks requests in flight (graceful shutdown, gauges) and
  // feeds metrics and provider health; it just stores nothing.
  const recorder = new Recorder({
    store: config.requestLog.enabled ? requestLog : undefined,
    log,
    price,
    prices: () => pricing.current(),
    onStarted: live.started,
    onRecorded: live.recorded,
    onWritten: live.written,
    flushIntervalMs: config.requestLog.flushIntervalMs,
    batchSize: config.requestLog.batchSize,
    capacity: config.requestLog.queueCapacity,
  });
  recorder.start();
  const stopRetention = scheduleRetention(requestLog, config.requestLog, log);
  const router = new Router(config.providers, config.aliases);
  routerRef = router;
  // Providers managed through the admin API join the config ones; changes re-route in place.
  const providers = new ProviderStore(db.db, key.key, config.providers, router, log);
  providers.reload();
  // A target's max output tokens, by (shared) target, with the price list it was looked up in.
  const outputLimitMemo = new WeakMap<Target, { prices: unknown; limit: number | undefined }>();
  // Budget spend per key, read from the hourly rollups once, then kept in memory as requests settle.
  // The admin API reads a key's spend with `ledger.spend(keyId)` → { today, month, total, reserved } (pico-USD).
  const ledger = new InMemoryBudgetLedger((periods) => requestLog.spendByKey(periods), options.clock);
  const v1 = {
    lifecycle: state,
    router,
    verifier: new ClientKeyVerifier(db.db, db.sqlite),
    gateway: {
      settings: config.gateway,
      keyPool: new KeyPool(config.gateway.keyCooldownMs),
      fetch: options.fetch,
      maxOutputTokens: (target: Target) => {
        // Looked up once per target (routes are shared objects) and price list.
        const prices = pricing.current();
        const known = outputLimitMemo.get(target);
        if (known && known.prices === prices) return known.limit;
        const match = prices.lookupBest(target.provider.type, [target.upstreamModel], { pricingProvider: target.provider.pricingProvider, providerName: target.provider.id });
        const limit = match.unpriced ? undefined : outputLimits.get(match.entry.id);
        outputLimitMemo.set(target, { prices, limit });
        return limit;
      },
    },
    settings: { ...config.gateway, storeBodies: config.requestLog.storeBodies },
    log,
    recorder,
    governance: new Governance({
      ledger,
      limiter: new InMemoryRateLimiter(options.clock),
      price,
      outputLimits,
      settings: config.governance,
      clock: options.clock,
      onError: (message, error) => log.error(message, { error: (error as Error)?.message }),
    }),
  };
  if (!router.providers.length) {
    log.warn("no providers configured: set OPENAI_API_KEY, DEEPSEEK_API_KEY, XAI_API_KEY, GEMINI_API_KEY or ANTHROPIC_API_KEY, add [[providers]] to the config file, or add one on the dashboard");
  }
  const api = createApiDeps({ db: db.db, masterKey: key.key, log, dashboard: config.dashboard, test: options.api });
  api.users.warmUp();
  const dashboard: DashboardDeps = {
    api,
    db: db.db,
    store: requestLog,
    providers,
    keys: new ClientKeyAdmin(db.db, () => v1.verifier.invalidate(), (id) => ledger.spend(id)),
    pricing,
    configOverrides: config.pricing.overrides ?? {},
    pricingProviders,
    live,
    recorder,
    router,
    onRecomputed: () => ledger.reload(),
  };
  applyPricingOverrides(dashboard); // dashboard-set prices join the config ones
  live.metrics.addGauges(() => {
    const p = live.system.process();
    return [
      { name: "llm_proxy_in_flight_requests", help: "Requests being served.", value: recorder.inFlightCount },
      { name: "llm_proxy_log_queue_depth", help: "Request-log rows waiting to be written.", value: recorder.queued },
      { name: "llm_proxy_log_producer_waits_total", help: "Times a request waited for room in the full log queue.", value: recorder.stats.waits, type: "counter" },
      { name: "llm_proxy_log_flush_failures_total", help: "Failed request-log writes (rows kept and retried).", value: recorder.stats.failures },
      { name: "llm_proxy_db_wal_frames", help: "Pages in the database's write-ahead log at the last background checkpoint.", value: checkpointer.stats.walFrames },
      { name: "llm_proxy_db_checkpointed_frames_total", help: "WAL pages copied into the database file by the background checkpointer.", value: checkpointer.stats.frames, type: "counter" },
      { name: "llm_proxy_live_messages_dropped_total", help: "Live messages dropped for slow dashboard clients.", value: live.hub.stats.dropped },
      { name: "llm_proxy_process_resident_memory_bytes", help: "Resident set size.", value: p.rss },
      { name: "llm_proxy_process_heap_used_bytes", help: "JavaScript heap in use.", value: p.heap_used },
      { name: "llm_proxy_event_loop_lag_milliseconds", help: "Event-loop lag (500 ms probe).", value: p.event_loop_lag_ms },
      ...live.providerHealth().map((h) => ({ name: "llm_proxy_provider_up", help: "1 when the provider is healthy or unknown, 0.5 degraded, 0 down.", value: h.status === "down" ? 0 : h.status === "degraded" ? 0.5 : 1, labels: { provider: h.provider } })),
    ];
  });
  live.start();
  const app = createApp({ version: VERSION, db, log, assets, state, v1, api, dashboard, metrics: config.metrics });
  options.configure?.(app);
  try {
    // reusePort false: a second instance on the same port must fail, not split traffic (BUN-NOTES §0.3).
    app.listen({
      hostname: config.host,
      port: config.port,
      reusePort: false,
      // A hard stop well above the JSON limit; the routes answer 413 in the API's shape first.
      maxRequestBodySize: config.gateway.maxBodyBytes * 2 + 1024 * 1024,
    });
  } catch (e) {
    await checkpointer.stop();
    db.close();
    const msg = (e as Error).message ?? String(e);
    throw new Error(`cannot listen on ${config.host}:${config.port}: ${msg}`);
  }
  const server = app.server!;
  pricing.start();
  // Off the startup path, before most first requests: max output limits and booked spend per key.
  setTimeout(() => {
    try {
      outputLimits.reload();
      ledger.preload();
    } catch (e) {
      log.warn("governance preload failed; retried on first use", { error: (e as Error).message });
    }
  }, 0).unref?.();
  const url = new URL(server.url.href);
  log.info("llm-proxy listening", {
    url: url.href,
    version: VERSION,
    data_dir: config.dataDir,
    startup_ms: Math.round(performance.now() - t0),
  });
  // No default credentials: with no users yet, a one-time link (1 hour, single use) creates the first admin.
  const setupToken = issueSetupToken(db.db);
  if (setupToken) {
    // The one log line that carries a secret: `setup_url` is deliberately not a name the logger redacts.
    log.warn("no dashboard users yet: open this one-time link to create the first admin (or run 'llm-proxy admin create --username NAME --password-stdin')", {
      setup_url: setupLink(url, setupToken),
      valid_minutes: SETUP_TOKEN_TTL_MS / 60_000,
    });
  }
  if (!["127.0.0.1", "::1", "localhost"].includes(config.host)) {
    log.warn("listening on a non-loopback address; make sure client keys and TLS termination are in place", {
      host: config.host,
    });
  }

  const hooks: ShutdownHook[] = [];
  let stopping: Promise<void> | undefined;
  async function stop(reason = "stop requested") {
    if (stopping) return stopping;
    stopping = (async () => {
      state.draining = true;
      log.info("shutting down: draining in-flight requests", { reason, grace_ms: config.shutdownGraceMs });
      const drained = server.stop(false).then(() => true);
      const timer = new Promise<boolean>((r) => setTimeout(() => r(false), config.shutdownGraceMs).unref());
      if (!(await Promise.race([drained, timer]))) {
        log.warn("grace period over; closing remaining connections");
        state.closing = true; // their rows say server_shutdown (see V1Deps.lifecycle)
        await server.stop(true);
      }
      // Requests cut off above record their rows asynchronously; the recorder waits for them.
      stopRetention();
      pricing.stop();
      live.stop();
      await recorder.stop();
      log.info("request log flushed", { rows: recorder.stats.written });
      for (const hook of hooks) {
        try {
          await hook.run();
        } catch (e) {
          log.error("shutdown step failed", { step: hook.name, error: (e as Error).message });
        }
      }
      await checkpointer.stop();
      db.close();
      log.info("stopped");
    })();
    return stopping;
  }

  return { app, url, db, key, recorder, pricing, governance: v1.governance, providers, live, onShutdown: (hook) => hooks.push(hook), stop };
}
