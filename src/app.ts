import { Elysia } from "elysia";
import type { DbHandle } from "./db/client.ts";
import { isMigrated } from "./db/migrate.ts";
import { ClientError, openAIError, openAIErrorOf } from "./errors.ts";
import type { Logger } from "./logger.ts";
import { BASE_SECURITY_HEADERS, PAGE_SECURITY_HEADERS } from "./server/security-headers.ts";
import { serveAsset, type StaticAsset } from "./server/static.ts";
import { inferenceHandlers, inferenceRoutes, v1Routes, type V1Deps } from "./routes/v1.ts";
import { apiGate, type ApiDeps } from "./routes/api-guard.ts";
import { authRoutes } from "./routes/api-auth.ts";
import { userRoutes } from "./routes/api-users.ts";
import { auditRoutes } from "./routes/api-audit.ts";
import { dashboardRoutes, type DashboardDeps } from "./routes/api-dashboard.ts";
import { liveRoutes } from "./routes/live-ws.ts";
import { metricsRoutes, type MetricsSettings } from "./routes/metrics.ts";

export type AppDeps = {
  version: string;
  db: DbHandle;
  log: Logger;
  /** The dashboard bundle, loaded on first use. */
  assets: () => Promise<Map<string, StaticAsset>>;
  /** Shared with the shutdown sequence: once draining, /readyz answers 503. */
  state: { draining: boolean; startedAt: number };
  migrationsFolder?: string;
  /** The OpenAI-compatible gateway routes. */
  v1: V1Deps;
  /** The admin API (`/api`): dashboard sign-in, users, audit log. Absent: no /api routes. */
  api?: ApiDeps;
  /** The dashboard's data, provider, key and pricing endpoints and the live WebSocket. */
  dashboard?: DashboardDeps;
  /** `GET /metrics`. */
  metrics?: MetricsSettings;
};

/**
 * Composes the HTTP application without listening, so tests drive it with `app.handle()`.
 * Only `server/serve.ts` calls `.listen()`.
 */
export function createApp(deps: AppDeps) {
  const { db, state, assets, log } = deps;
  const inference = inferenceHandlers(deps.v1);
  // The inference endpoints go straight from Bun's router to their handlers when listening (see
  // `InferenceHandler`); everything else, and `app.handle()`, goes through Elysia.
  const app = new Elysia({ serve: { routes: inferenceRoutes(inference) } })
    // Default headers (`.headers()`) rather than an onRequest hook copying them into `set.headers`:
    // the hook made Elysia merge headers into every returned Response, ~20% of a minimal
    // proxy route's requests/s in the benchmark.
    .headers(BASE_SECURITY_HEADERS)
    .onError(({ code, error, set, request, path }) => {
      // Total: this handler must never throw (BUN-NOTES §0.4), and never echo the request.
      try {
        // Elysia's own errors first (they are never ClientErrors or aborts); the rest as the
        // inference endpoints answer them.
        switch (code) {
          case "NOT_FOUND":
            set.status = 404;
            return openAIError(`Invalid URL (${request.method} ${path})`, "invalid_request_error", null, "unknown_url");
          case "PARSE":
            set.status = 400;
            return openAIError("We could not parse the JSON body of your request.");
          case "VALIDATION":
            set.status = 400;
            return openAIError(`Invalid request: ${(error as { message?: string }).message?.slice(0, 200) ?? "bad input"}`);
        }
        const failure = openAIErrorOf(error, { error: (message, fields) => log.error(message, { path, code: String(code), ...fields }) });
        set.status = failure.status;
        Object.assign(set.headers, failure.headers);
        return failure.body;
      } catch {
        set.status = 500;
        return openAIError("Internal server error", "server_error");
      }
    })
    .use(v1Routes(deps.v1, inference))
    .use(deps.api ? adminApi(deps.api, deps.dashboard) : new Elysia())
    .use(deps.dashboard && deps.metrics ? metricsRoutes(deps.dashboard.live, deps.metrics) : new Elysia())
    .get("/healthz", () => ({
      status: "ok",
      version: deps.version,
      uptime_seconds: Math.round((Date.now() - state.startedAt) / 1000),
    }))
    .get("/readyz", ({ set }) => {
      let database: "ok" | "error" = "ok";
      let migrated = false;
      try {
        db.sqlite.query("SELECT 1").get();
        migrated = isMigrated(db.sqlite, deps.migrationsFolder);
      } catch {
        database = "error";
      }
      const ready = database === "ok" && migrated && !state.draining;
      if (!ready) set.status = 503;
      return {
        status: ready ? "ready" : state.draining ? "draining" : "not_ready",
        version: deps.version,
        database,
        migrations: migrated ? "current" : "pending",
      };
    });

  // The dashboard: hashed assets, and the page itself for every other GET that is not an API path
  // (the app routes on the client, e.g. /setup?token=… or /requests/req_…).
  return app.get("/*", async ({ request, path }) => {
    if (/^\/(v1|api|metrics)(\/|$)/.test(path)) {
      throw new ClientError(404, `Invalid URL (${request.method} ${path})`, "invalid_request_error", null, "unknown_url");
    }
    const files = await assets();
    const asset = files.get(path) ?? (path.includes(".") ? undefined : files.get("/index.html"));
    if (!asset) throw new ClientError(404, `Invalid URL (${request.method} ${path})`, "invalid_request_error", null, "unknown_url");
    return serveAsset(asset, request, asset.type.startsWith("text/html") ? PAGE_SECURITY_HEADERS : BASE_SECURITY_HEADERS);
  });
}

/**
 * The admin API. `apiGate` runs before routing for every /api path (unknown ones too): no-store,
 * no client keys, CSRF, session, viewer read-only. Route files add `.use(apiGuard(api))` for `auth`.
 */
function adminApi(api: ApiDeps, dashboard?: DashboardDeps) {
  const routes = new Elysia({ name: "admin-api" }).use(apiGate(api)).use(authRoutes(api)).use(userRoutes(api)).use(auditRoutes(api));
  return dashboard ? routes.use(dashboardRoutes(dashboard)).use(liveRoutes(dashboard.live)) : routes;
}

export type App = ReturnType<typeof createApp>;
