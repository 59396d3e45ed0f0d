import { blob, index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

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
 * The request log, one row per authenticated /v1 request, stored in chunks: each chunk holds up to
 * CHUNK_ROWS rows (db/request-log.ts) of one writer batch as a JSON array of rows (values in
 * `COLUMNS` order), zstd-compressed (`format` 1) or plain JSON text (`format` 0: rows moved from the
 * old one-row-per-request table by migration 0006). `first_id`/`last_id` bound the chunk's request
 * ids (time-ordered, so time ranges are id ranges); readers go through RequestLogStore.
 * Why chunks: a SQLite row per request (33 columns, four indexes) cost ~7-8 µs of CPU per request
 * on disk, the largest part of the log's cost; a compressed chunk costs a fraction of that and the
 * log takes ~10x less disk.
 */
export const requestChunks = sqliteTable(
  "request_chunks",
  {
    id: integer("id").primaryKey(),
    firstId: text("first_id").notNull(),
    lastId: text("last_id").notNull(),
    rows: integer("rows").notNull(),
    format: integer("format").notNull(),
    data: blob("data", { mode: "buffer" }).notNull(),
  },
  (t) => [index("request_chunks_last_id_idx").on(t.lastId)],
);

/**
 * What each chunk holds, for filtered lists: `p:<provider>`, `m:<requested model>`, `k:<client key
 * id>`, `j:<project>`, `e` (a row with status >= 400), `o` (a row below 400), and for error rows
 * `e:p:<provider>`, `e:m:…`, `e:k:…`, `e:j:…`. A filtered list reads only the chunks that have
 * every term it asks for.
 */
export const requestChunkTerms = sqliteTable(
  "request_chunk_terms",
  {
    chunk: integer("chunk").notNull(),
    term: text("term").notNull(),
  },
  (t) => [primaryKey({ columns: [t.chunk, t.term] }), index("request_chunk_terms_term_idx").on(t.term, t.chunk)],
);

/**
 * Requests that answered with tokens but had no price, per hour and provider/model (for the pricing
 * page's list of unpriced models), kept by the log writer and by cost recomputation.
 */
export const requestUnpriced = sqliteTable(
  "request_unpriced",
  {
    bucket: integer("bucket").notNull(),
    provider: text("provider").notNull(),
    providerType: text("provider_type").notNull(),
    model: text("model").notNull(),
    requests: integer("requests").notNull(),
    lastSeen: integer("last_seen").notNull(),
  },
  (t) => [primaryKey({ columns: [t.bucket, t.provider, t.providerType, t.model] })],
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
