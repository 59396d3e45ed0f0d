import { blob, index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { sql } from "drizzle-orm";

/**
 * All tables. Each later feature adds its tables here and generates a migration with
 * `bun run db:generate` (drizzle-kit), never by editing files in drizzle/.
 */

/** Instance-wide key/value facts (instance id, creation time, last started version). */
export const meta = sqliteTable("meta", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
  updatedAt: integer("updated_at", { mode: "number" }).notNull(),
});

/**
 * Client API keys for `/v1`. Only the SHA-256 of the key is stored; `prefix` (the first
 * characters) lets people recognise a key in lists without revealing it.
 */
export const clientKeys = sqliteTable(
  "client_keys",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    keyHash: text("key_hash").notNull(),
    prefix: text("prefix").notNull(),
    createdAt: integer("created_at", { mode: "number" }).notNull(),
    revokedAt: integer("revoked_at", { mode: "number" }),
    // Governance (admin API): all optional; NULL = no limit.
    enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
    expiresAt: integer("expires_at"),
    /** JSON array of model names/aliases the key may use; NULL = all. */
    allowedModels: text("allowed_models"),
    /** Spend budgets in pico-USD (exact integers, like request costs). */
    budgetDailyPico: integer("budget_daily_pico"),
    budgetMonthlyPico: integer("budget_monthly_pico"),
    budgetTotalPico: integer("budget_total_pico"),
    rpmLimit: integer("rpm_limit"),
    tpmLimit: integer("tpm_limit"),
    storeBodies: integer("store_bodies", { mode: "boolean" }).notNull().default(false),
    updatedAt: integer("updated_at"),
  },
  (t) => [uniqueIndex("client_keys_key_hash_unique").on(t.keyHash)],
);

/**
 * The request log: one row per authenticated /v1 request. `id` is time-sortable (ULID-style), so
 * time ranges and cursor pagination both walk the primary key. Costs are exact integers in
 * pico-dollars (1e-12 USD: exact for every models.dev price, which have at most 6 decimals per
 * million tokens); `cost_pico` is NULL when the model has no price (never a silent 0).
 */
export const requests = sqliteTable(
  "requests",
  {
    id: text("id").primaryKey(),
    receivedAt: integer("received_at").notNull(),
    firstByteAt: integer("first_byte_at"),
    finishedAt: integer("finished_at").notNull(),
    clientKeyId: text("client_key_id"),
    endpoint: text("endpoint").notNull(),
    requestedModel: text("requested_model"),
    provider: text("provider"),
    providerType: text("provider_type"),
    upstreamModel: text("upstream_model"),
    responseModel: text("response_model"),
    pricingEntry: text("pricing_entry"),
    pricingRule: text("pricing_rule"),
    attempts: text("attempts"),
    status: integer("status").notNull(),
    errorClass: text("error_class"),
    errorMessage: text("error_message"),
    stream: integer("stream", { mode: "boolean" }).notNull(),
    inputTokens: integer("input_tokens"),
    cachedTokens: integer("cached_tokens"),
    cacheWriteTokens: integer("cache_write_tokens"),
    outputTokens: integer("output_tokens"),
    reasoningTokens: integer("reasoning_tokens"),
    usageEstimated: integer("usage_estimated", { mode: "boolean" }).notNull().default(false),
    usageRaw: text("usage_raw"),
    costPico: integer("cost_pico"),
    costBreakdown: text("cost_breakdown"),
    warnings: text("warnings"),
    latencyMs: integer("latency_ms").notNull(),
    ttfbMs: integer("ttfb_ms"),
    clientIp: text("client_ip"),
    userAgent: text("user_agent"),
    /** Optional attribution from the `x-llm-proxy-project` header (per agent session/project). */
    project: text("project"),
  },
  (t) => [
    // Partial: most rows have no project, and `project = ?` implies `project IS NOT NULL`.
    index("requests_project_idx").on(t.project, t.id).where(sql`${t.project} IS NOT NULL`),
    index("requests_key_idx").on(t.clientKeyId, t.id),
    index("requests_provider_idx").on(t.provider, t.id),
    index("requests_model_idx").on(t.requestedModel, t.id),
    // No index on received_at: ids are time-ordered, so time ranges are id ranges (idLowerBound).
    // The table is WITHOUT ROWID (migration 0004; drizzle cannot declare it): clustered on the
    // time-ordered id, one b-tree instead of a rowid table plus a primary-key index.
  ],
);

/** Request and response bodies, only when enabled; gzip-compressed, secrets redacted. */
export const requestBodies = sqliteTable("request_bodies", {
  id: text("id").primaryKey(),
  requestGz: blob("request_gz", { mode: "buffer" }),
  responseGz: blob("response_gz", { mode: "buffer" }),
});

/**
 * Rollups maintained by the log writer as rows are written, so dashboards never scan raw rows.
 * `bucket` is the epoch-ms start of the minute (rollup_minute) or hour (rollup_hour).
 * Latency and TTFB histograms are counts over fixed bounds (recorder/histogram.ts), a column per bucket.
 */
/** Latency histogram buckets: LATENCY_BOUNDS_MS.length + 1 (the last is "above the largest bound"). */
const HIST_BUCKETS = 15;
const rollupColumns = {
  bucket: integer("bucket").notNull(),
  provider: text("provider").notNull(),
  model: text("model").notNull(),
  clientKeyId: text("client_key_id").notNull(),
  project: text("project").notNull().default(""),
  requests: integer("requests").notNull(),
  errors: integer("errors").notNull(),
  inputTokens: integer("input_tokens").notNull(),
  cachedTokens: integer("cached_tokens").notNull(),
  cacheWriteTokens: integer("cache_write_tokens").notNull(),
  outputTokens: integer("output_tokens").notNull(),
  reasoningTokens: integer("reasoning_tokens").notNull(),
  costPico: integer("cost_pico").notNull(),
  unpriced: integer("unpriced").notNull(),
  latencySumMs: integer("latency_sum_ms").notNull(),
  // Histogram bucket counts (bounds in recorder/histogram.ts), one column each so SQL can SUM them.
  ...Object.fromEntries(
    Array.from({ length: HIST_BUCKETS }, (_, i) => [
      [`lat${i}`, integer(`lat${i}`).notNull().default(0)],
      [`ttfb${i}`, integer(`ttfb${i}`).notNull().default(0)],
    ]).flat(),
  ),
};
export const rollupMinute = sqliteTable("rollup_minute", rollupColumns, (t) => [
  primaryKey({ columns: [t.bucket, t.provider, t.model, t.clientKeyId, t.project] }),
]);
export const rollupHour = sqliteTable("rollup_hour", rollupColumns, (t) => [
  primaryKey({ columns: [t.bucket, t.provider, t.model, t.clientKeyId, t.project] }),
]);

/** Dashboard users. Passwords are bcrypt (cost 12); there is never a default user. */
export const users = sqliteTable(
  "users",
  {
    id: text("id").primaryKey(),
    username: text("username").notNull(),
    passwordHash: text("password_hash").notNull(),
    role: text("role", { enum: ["admin", "viewer"] }).notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [uniqueIndex("users_username_unique").on(t.username)],
);

/**
 * Server-side session records behind the signed cookie: sign-out, password change and user
 * removal revoke them at once. `id` is random; the cookie carries it with an HMAC-SHA256 tag.
 */
export const sessions = sqliteTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    lastSeenAt: integer("last_seen_at").notNull(),
    revokedAt: integer("revoked_at"),
    ip: text("ip"),
    userAgent: text("user_agent"),
  },
  (t) => [index("sessions_user_idx").on(t.userId)],
);

/** One-time first-admin setup tokens (only the SHA-256 is stored). */
export const setupTokens = sqliteTable("setup_tokens", {
  tokenHash: text("token_hash").primaryKey(),
  createdAt: integer("created_at").notNull(),
  expiresAt: integer("expires_at").notNull(),
  usedAt: integer("used_at"),
});

/** Every admin action: who, what, when, from where. `id` is time-sortable like request ids. */
export const auditLog = sqliteTable(
  "audit_log",
  {
    id: text("id").primaryKey(),
    at: integer("at").notNull(),
    userId: text("user_id"),
    username: text("username"),
    action: text("action").notNull(),
    target: text("target"),
    detail: text("detail"),
    ip: text("ip"),
  },
  (t) => [index("audit_log_at_idx").on(t.at)],
);

/**
 * Providers managed from the dashboard/admin API (config-file providers are read-only and not
 * stored). API keys are sealed with AES-256-GCM, associated data `provider:<id>`; only their last
 * four characters are ever shown.
 */
export const managedProviders = sqliteTable("managed_providers", {
  id: text("id").primaryKey(),
  type: text("type").notNull(),
  baseUrl: text("base_url"),
  apiKeysSealed: text("api_keys_sealed"),
  apiKeysLast4: text("api_keys_last4"),
  models: text("models"),
  headers: text("headers"),
  pricingProvider: text("pricing_provider"),
  enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/**
 * Price overrides set from the dashboard (USD per 1M tokens). They join `[pricing.overrides]` from
 * the config file, which wins on a clash. `model` is a bare model id or `provider/model`.
 */
export const pricingOverrides = sqliteTable("pricing_overrides", {
  model: text("model").primaryKey(),
  input: real("input").notNull(),
  output: real("output").notNull(),
  cacheRead: real("cache_read"),
  cacheWrite: real("cache_write"),
  reasoning: real("reasoning"),
  updatedAt: integer("updated_at").notNull(),
  updatedBy: text("updated_by"),
});
