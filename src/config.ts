import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { CLIENT_KEY_PREFIX } from "./auth/client-keys.ts";
import { LOG_LEVELS } from "./logger.ts";
import { CPU_SCHEDULING_VALUES, type CpuScheduling } from "./server/cpu-scheduling.ts";
import { defaultDataDir } from "./paths.ts";
import { pricingConfigSchema, type PricingOverrides } from "./pricing/schema.ts";
import { DEFAULT_PRICING_SOURCE, DEFAULT_REFRESH_MS } from "./pricing/source.ts";

/**
 * Configuration: built-in defaults < config file (TOML) < environment < flags.
 * `loadConfig` is the only reader of `process.env` for settings. Each layer is validated on its
 * own so an error names where the bad value came from (file path + key, env var, or flag).
 */

const port = z.number().int().min(0).max(65535);
const host = z.string().min(1).regex(/^[A-Za-z0-9.:\-\[\]%]+$/, "must be an IP address or host name");

const secretRef = z.string().min(1, "must not be empty");

/** One `[[providers]]` table. */
export const providerSchema = z
  .strictObject({
    id: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/, "use lowercase letters, digits, '-', '_' or '.'"),
    type: z.enum(["openai", "deepseek", "grok", "gemini", "anthropic", "openai-compatible"]),
    base_url: z.url({ protocol: /^https?$/, message: "must be an http(s) URL" }).optional(),
    api_key: secretRef.optional(),
    api_keys: z.array(secretRef).min(1).optional(),
    models: z.array(z.string().min(1)).optional(),
    headers: z.record(z.string(), z.string()).optional(),
    enabled: z.boolean().optional(),
    /** models.dev provider id to price this provider's models with (e.g. "groq" for an openai-compatible Groq). */
    pricing_provider: z.string().min(1).optional(),
  })
  .refine((p) => !(p.api_key && p.api_keys), { message: "set either api_key or api_keys, not both", path: ["api_keys"] })
  .refine((p) => p.type !== "openai-compatible" || p.base_url, { message: "openai-compatible providers need a base_url", path: ["base_url"] });
export type ProviderConfig = z.infer<typeof providerSchema>;

/** `[gateway]`: request-path limits and resilience. */
export const gatewaySchema = z.strictObject({
  max_body_bytes: z.number().int().min(1024).optional(),
  connect_timeout_ms: z.number().int().min(1).optional(),
  first_byte_timeout_ms: z.number().int().min(1).optional(),
  stream_idle_timeout_ms: z.number().int().min(1).optional(),
  keepalive_interval_ms: z.number().int().min(100).optional(),
  max_retries: z.number().int().min(0).max(10).optional(),
  retry_base_delay_ms: z.number().int().min(0).optional(),
  retry_max_delay_ms: z.number().int().min(0).optional(),
  key_cooldown_ms: z.number().int().min(0).optional(),
});

/** `[request_log]`: the request log writer, body storage and retention. */
export const requestLogSchema = z.strictObject({
  /** false turns the request log off (no rows, costs or live table; budgets still work). For benchmarks and special cases. */
  enabled: z.boolean().optional(),
  flush_interval_ms: z.number().int().min(10).max(250).optional(),
  batch_size: z.number().int().min(1).max(10_000).optional(),
  queue_capacity: z.number().int().min(100).optional(),
  store_bodies: z.boolean().optional(),
  retention_days: z.number().min(0.001).optional(),
  rollup_minute_retention_days: z.number().min(0.01).optional(),
  rollup_hour_retention_days: z.number().min(1).optional(),
});

/** `[metrics]`: Prometheus `GET /metrics`. */
export const metricsSchema = z.strictObject({
  enabled: z.boolean().optional(),
  public: z.boolean().optional(),
  token: z.string().min(16, "use at least 16 characters").optional(),
});

/** `[monitoring]`: provider health probes while a provider sees no traffic. */
export const monitoringSchema = z.strictObject({
  probe_interval_ms: z.number().int().min(0).optional(),
});

/** `[dashboard]`: sign-in sessions (see auth/sessions.ts). */
export const dashboardSchema = z.strictObject({
  /** Mark the session cookie Secure: always, never, or "auto" (when the request came over https or X-Forwarded-Proto: https). */
  secure_cookies: z.union([z.boolean(), z.literal("auto")], { message: 'must be true, false or "auto"' }).optional(),
  /** Sign-out after this many hours without activity (sessions also end 7 days after sign-in). */
  session_ttl_hours: z.number().min(0.1).max(168).optional(),
});

/** `[governance]`: what budgets do with requests whose cost cannot be counted, and reservation defaults. */
export const governanceSchema = z.strictObject({
  /** Unpriced models under a key with a budget: refuse (default) or let through uncounted. */
  unpriced: z.enum(["deny", "allow"]).optional(),
  /** Models priced at $0 under a key with a budget (default: as `unpriced`). */
  zero_cost: z.enum(["deny", "allow"]).optional(),
  /** Max output tokens assumed for reservations when a request sets none and models.dev lists no limit. */
  default_max_output_tokens: z.number().int().min(1).max(10_000_000).optional(),
});

/** Keys accepted in the TOML file (snake_case, the names are the interface). */
export const fileSchema = z.strictObject({
  request_log: requestLogSchema.optional(),
  pricing: pricingConfigSchema.optional(),
  providers: z.array(providerSchema).optional(),
  models: z.strictObject({ aliases: z.record(z.string(), z.union([z.string(), z.array(z.string()).min(1)])).optional() }).optional(),
  gateway: gatewaySchema.optional(),
  dashboard: dashboardSchema.optional(),
  governance: governanceSchema.optional(),
  metrics: metricsSchema.optional(),
  monitoring: monitoringSchema.optional(),
  host: host.optional(),
  port: port.optional(),
  data_dir: z.string().min(1).optional(),
  log_level: z.enum(LOG_LEVELS).optional(),
  log_format: z.enum(["auto", "text", "json"]).optional(),
  shutdown_grace_ms: z.number().int().min(0).max(3_600_000).optional(),
  cpu_scheduling: z.enum(CPU_SCHEDULING_VALUES).optional(),
  encryption_key_file: z.string().min(1).optional(),
});
export type FileConfig = z.infer<typeof fileSchema>;

export type Config = {
  host: string;
  port: number;
  dataDir: string;
  logLevel: (typeof LOG_LEVELS)[number];
  logFormat: "auto" | "text" | "json";
  /** How long SIGTERM waits for in-flight requests before closing them. */
  shutdownGraceMs: number;
  /** Linux scheduling policy for the server's threads (see server/cpu-scheduling.ts). */
  cpuScheduling: CpuScheduling;
  /** Literal key from LLM_PROXY_ENCRYPTION_KEY (secret; never printed). */
  encryptionKey?: string;
  /** Path from LLM_PROXY_ENCRYPTION_KEY_FILE or `encryption_key_file`. */
  encryptionKeyFile?: string;
  /** The config file that was read, if any. */
  configFile?: string;
  /** Upstream providers (from `[[providers]]`, or detected from conventional env vars). */
  providers: ResolvedProvider[];
  /** `[models.aliases]`: alias → ordered `provider-id/model` fallback chain. */
  aliases: Record<string, string[]>;
  gateway: GatewaySettings;
  requestLog: RequestLogSettings;
  pricing: { source: string; refreshMs: number; overrides?: PricingOverrides };
  dashboard: { secureCookies: boolean | "auto"; sessionTtlMs: number };
  /** `[metrics]`: GET /metrics (loopback only unless `public` or a token is set). */
  metrics: { enabled: boolean; public: boolean; token?: string };
  /** `[monitoring]`: probe idle providers every `probeIntervalMs` (0 = never). */
  monitoring: { probeIntervalMs: number };
  /** `[governance]`: budgets' unpriced/zero-cost policy and the default max output for reservations. */
  governance: GovernanceConfig;
  /** Where each effective value came from, for `config check`. */
  origin: Record<string, "default" | "file" | "env" | "flag">;
};

export type ResolvedProvider = {
  id: string;
  type: ProviderConfig["type"];
  baseUrl?: string;
  /** Keys in rotation order; `ref` is how it was written (env:NAME or a masked literal), safe to print. */
  apiKeys: Array<{ value: string; ref: string }>;
  models?: string[];
  headers: Record<string, string>;
  pricingProvider?: string;
  source: "file" | "env";
};

export type GatewaySettings = {
  maxBodyBytes: number;
  connectTimeoutMs: number;
  firstByteTimeoutMs: number;
  streamIdleTimeoutMs: number;
  keepaliveIntervalMs: number;
  maxRetries: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  keyCooldownMs: number;
};

export type GovernanceConfig = {
  unpriced: "deny" | "allow";
  zeroCost: "deny" | "allow";
  defaultMaxOutputTokens: number;
};

export const GOVERNANCE_CONFIG_DEFAULTS: GovernanceConfig = { unpriced: "deny", zeroCost: "deny", defaultMaxOutputTokens: 16_384 };

export type RequestLogSettings = {
  enabled: boolean;
  flushIntervalMs: number;
  batchSize: number;
  queueCapacity: number;
  storeBodies: boolean;
  retentionDays: number;
  minuteRollupRetentionDays: number;
  hourRollupRetentionDays: number;
};

export const REQUEST_LOG_DEFAULTS: RequestLogSettings = {
  enabled: true,
  // Writes every 50 ms (or at 500 queued rows): transactions follow the load — ~100 rows at
  // 2,000 requests/s, so requests wait behind ~1.5 ms of writing instead of ~8 ms (p99 at low
  // concurrency), while a backlog is drained 500 rows per transaction (the cheapest per row).
  flushIntervalMs: 50,
  batchSize: 500,
  queueCapacity: 20_000,
  storeBodies: false,
  retentionDays: 30,
  minuteRollupRetentionDays: 14,
  hourRollupRetentionDays: 400,
};

export const GATEWAY_DEFAULTS: GatewaySettings = {
  maxBodyBytes: 32 * 1024 * 1024, // room for several base64 images
  connectTimeoutMs: 10_000,
  firstByteTimeoutMs: 600_000, // reasoning models can think for minutes before the first byte
  streamIdleTimeoutMs: 300_000,
  keepaliveIntervalMs: 15_000,
  maxRetries: 2,
  retryBaseDelayMs: 500,
  retryMaxDelayMs: 20_000,
  keyCooldownMs: 60_000,
};

/**
 * Conventional environment variables that enable a provider when no `[[providers]]` are configured.
 * `baseUrlEnv` (only `OPENAI_BASE_URL`, the openai SDK's own variable) replaces the default base URL.
 */
export const ENV_PROVIDERS: Array<{ env: string; id: string; type: ProviderConfig["type"]; baseUrlEnv?: string }> = [
  { env: "OPENAI_API_KEY", id: "openai", type: "openai", baseUrlEnv: "OPENAI_BASE_URL" },
  { env: "DEEPSEEK_API_KEY", id: "deepseek", type: "deepseek" },
  { env: "XAI_API_KEY", id: "xai", type: "grok" },
  { env: "GEMINI_API_KEY", id: "gemini", type: "gemini" },
  { env: "GOOGLE_API_KEY", id: "gemini", type: "gemini" },
  { env: "ANTHROPIC_API_KEY", id: "anthropic", type: "anthropic" },
];

/** Masks a secret for display: only its last 4 characters. */
export function maskSecret(value: string): string {
  return value.length <= 8 ? "…" : `…${value.slice(-4)}`;
}

const envBaseUrl = z.url({ protocol: /^https?$/ });

/**
 * A provider base URL from the environment that points at this gateway itself, e.g. the
 * `OPENAI_BASE_URL=http://127.0.0.1:4141/v1` printed for clients and exported in the shell that
 * starts the gateway: every request would loop back into the gateway.
 */
function selfReferences(baseUrl: string, host: string, port: number): boolean {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    return false;
  }
  const urlPort = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  const name = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const local = ["localhost", "127.0.0.1", "::1", "0.0.0.0", "::", host.replace(/^\[|\]$/g, "").toLowerCase()];
  return port !== 0 && urlPort === port && (local.includes(name) || name.startsWith("127."));
}

function resolveProviders(
  file: FileConfig,
  env: Record<string, string | undefined>,
  problems: string[],
): { providers: ResolvedProvider[]; aliases: Record<string, string[]> } {
  const providers: ResolvedProvider[] = [];
  const configured = file.providers ?? [];
  configured.forEach((p, i) => {
    if (p.enabled === false) return;
    if (providers.some((q) => q.id === p.id)) problems.push(`providers[${i}].id: duplicate provider id '${p.id}'`);
    const refs = p.api_keys ?? (p.api_key ? [p.api_key] : []);
    const apiKeys = refs.flatMap((ref, k) => {
      const where = p.api_keys ? `providers[${i}].api_keys[${k}]` : `providers[${i}].api_key`;
      if (!ref.startsWith("env:")) return [{ value: ref, ref: maskSecret(ref) }];
      const name = ref.slice(4);
      const value = env[name];
      if (!value) {
        problems.push(`${where}: environment variable ${name} is not set`);
        return [];
      }
      return [{ value, ref }];
    });
    providers.push({
      id: p.id,
      type: p.type,
      baseUrl: p.base_url,
      apiKeys,
      models: p.models,
      headers: p.headers ?? {},
      pricingProvider: p.pricing_provider,
      source: "file",
    });
  });
  if (!file.providers) {
    for (const e of ENV_PROVIDERS) {
      const value = env[e.env];
      // GEMINI_API_KEY wins over GOOGLE_API_KEY: one provider per id.
      if (!value || providers.some((p) => p.id === e.id)) continue;
      const baseUrl = (e.baseUrlEnv && env[e.baseUrlEnv]?.trim()) || undefined;
      if (baseUrl && !envBaseUrl.safeParse(baseUrl).success) problems.push(`environment ${e.baseUrlEnv}: must be an http(s) URL`);
      providers.push({ id: e.id, type: e.type, baseUrl, apiKeys: [{ value, ref: `env:${e.env}` }], headers: {}, source: "env" });
    }
  }
  const aliases: Record<string, string[]> = {};
  for (const [name, target] of Object.entries(file.models?.aliases ?? {})) {
    const targets = Array.isArray(target) ? target : [target];
    targets.forEach((t, k) => {
      const slash = t.indexOf("/");
      const provider = slash > 0 ? t.slice(0, slash) : "";
      if (slash <= 0 || slash === t.length - 1) {
        problems.push(`models.aliases.${name}[${k}]: '${t}' must be written as provider-id/model`);
      } else if (!providers.some((p) => p.id === provider) && !configured.some((p) => p.id === provider)) {
        problems.push(`models.aliases.${name}[${k}]: unknown provider '${provider}'`);
      }
    });
    aliases[name] = targets;
  }
  return { providers, aliases };
}

/**
 * Env-detected providers whose key is an llm-proxy client key (`llmp_…`): the client settings
 * printed below, exported in the shell that starts the gateway. They would send our own key upstream.
 */
export function clientKeyProviders(providers: ResolvedProvider[]): Array<{ provider: ResolvedProvider; env: string }> {
  return providers.flatMap((p) => {
    if (p.source !== "env" || !p.apiKeys[0]?.value.startsWith(CLIENT_KEY_PREFIX)) return [];
    return [{ provider: p, env: p.apiKeys[0].ref.replace(/^env:/, "") }];
  });
}

export const DEFAULTS = {
  host: "127.0.0.1",
  port: 4141,
  log_level: "info",
  log_format: "auto",
  shutdown_grace_ms: 30_000,
  cpu_scheduling: "batch",
} as const;

/** Settings that can come from flags (already parsed by the CLI). */
export type ConfigFlags = {
  config?: string;
  host?: string;
  port?: string;
  "data-dir"?: string;
  "log-level"?: string;
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

const ENV: Record<string, keyof FileConfig> = {
  LLM_PROXY_HOST: "host",
  LLM_PROXY_PORT: "port",
  LLM_PROXY_DATA_DIR: "data_dir",
  LLM_PROXY_LOG_LEVEL: "log_level",
  LLM_PROXY_LOG_FORMAT: "log_format",
  LLM_PROXY_SHUTDOWN_GRACE_MS: "shutdown_grace_ms",
  LLM_PROXY_CPU_SCHEDULING: "cpu_scheduling",
  LLM_PROXY_ENCRYPTION_KEY_FILE: "encryption_key_file",
};
const FLAGS: Record<string, keyof FileConfig> = {
  host: "host",
  port: "port",
  "data-dir": "data_dir",
  "log-level": "log_level",
};
const NUMERIC = new Set<keyof FileConfig>(["port", "shutdown_grace_ms"]);

function issuesOf(error: z.ZodError, describe: (key: string) => string): string[] {
  return error.issues.map((i) => {
    const key = i.path.reduce<string>((a, k) => (typeof k === "number" ? `${a}[${k}]` : a ? `${a}.${String(k)}` : String(k)), "") || "(root)";
    const msg = i.code === "unrecognized_keys" ? `unknown key(s) ${i.keys.map((k) => `'${k}'`).join(", ")}` : i.message;
    return `${describe(key)}: ${msg}`;
  });
}

/** Strings from env/flags become numbers for numeric keys; anything else stays for zod to reject. */
function coerce(key: keyof FileConfig, value: string): unknown {
  if (NUMERIC.has(key) && /^\s*\d+\s*$/.test(value)) return Number(value);
  return value;
}

function readConfigFile(file: string, required: boolean, problems: string[]): FileConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (!required && code === "ENOENT") return {};
    if (!required && (code === "EACCES" || code === "ENOTDIR" || code === "EPERM")) {
      // The default config file's place is the data directory: the directory is what is wrong.
      const dir = path.dirname(file);
      problems.push(
        code === "ENOTDIR"
          ? `data directory ${dir}: is not a directory (choose one with --data-dir or LLM_PROXY_DATA_DIR)`
          : `data directory ${dir}: cannot be read (${code}); check its owner and permissions, or choose another with --data-dir or LLM_PROXY_DATA_DIR`,
      );
      return {};
    }
    problems.push(`config file ${file}: cannot read (${code ?? (e as Error).message})`);
    return {};
  }
  let raw: unknown;
  try {
    raw = Bun.TOML.parse(text);
  } catch (e) {
    problems.push(`config file ${file}: invalid TOML: ${(e as Error).message}`);
    return {};
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    problems.push(...issuesOf(parsed.error, (k) => (k === "(root)" ? file : `${file}: ${k}`)));
    return {};
  }
  return parsed.data;
}

/**
 * Builds the effective configuration. Throws ConfigError listing every invalid field.
 * @example loadConfig({ flags: { port: "8080" }, env: process.env })
 */
export function loadConfig(input: { flags?: ConfigFlags; env?: Record<string, string | undefined> } = {}): Config {
  const flags = input.flags ?? {};
  const env = input.env ?? process.env;
  const problems: string[] = [];

  const layer = (pairs: Array<[string, keyof FileConfig, string]>, describe: (src: string) => string) => {
    const obj: Record<string, unknown> = {};
    const names: Record<string, string> = {};
    for (const [src, key, value] of pairs) {
      obj[key] = coerce(key, value);
      names[key] = src;
    }
    const parsed = fileSchema.safeParse(obj);
    if (!parsed.success) {
      problems.push(...issuesOf(parsed.error, (k) => describe(names[k] ?? k)));
      return {} as FileConfig;
    }
    return parsed.data;
  };

  const envPairs = Object.entries(ENV).flatMap(([name, key]) =>
    env[name] !== undefined && env[name] !== "" ? [[name, key, env[name]!] as [string, keyof FileConfig, string]] : [],
  );
  const flagPairs = Object.entries(FLAGS).flatMap(([name, key]) => {
    const v = flags[name as keyof ConfigFlags];
    return v !== undefined ? [[name, key, v] as [string, keyof FileConfig, string]] : [];
  });
  const fromEnv = layer(envPairs, (n) => `environment ${n}`);
  const fromFlags = layer(flagPairs, (n) => `flag --${n}`);

  // The config file is looked up after env/flags because its default location is the data dir.
  const explicitFile = flags.config ?? (env.LLM_PROXY_CONFIG || undefined);
  const dataDirBeforeFile = fromFlags.data_dir ?? fromEnv.data_dir ?? defaultDataDir();
  const configFile = explicitFile ? path.resolve(explicitFile) : path.join(path.resolve(dataDirBeforeFile), "llm-proxy.toml");
  const fromFile = readConfigFile(configFile, explicitFile !== undefined, problems);
  const fileWasRead = explicitFile !== undefined || fs.existsSync(configFile);

  if (env.LLM_PROXY_ENCRYPTION_KEY !== undefined && env.LLM_PROXY_ENCRYPTION_KEY.trim() === "") {
    problems.push("environment LLM_PROXY_ENCRYPTION_KEY: is set but empty");
  }
  if (problems.length) throw new ConfigError(problems);

  const origin: Config["origin"] = {};
  function pick<K extends keyof FileConfig>(key: K, fallback: NonNullable<FileConfig[K]> | undefined) {
    if (fromFlags[key] !== undefined) return (origin[key] = "flag"), fromFlags[key];
    if (fromEnv[key] !== undefined) return (origin[key] = "env"), fromEnv[key];
    if (fromFile[key] !== undefined) return (origin[key] = "file"), fromFile[key];
    if (fallback !== undefined) origin[key] = "default";
    return fallback;
  }

  const { providers, aliases } = resolveProviders(fromFile, env, problems);
  if (problems.length) throw new ConfigError(problems);
  const g = fromFile.gateway ?? {};
  const gateway: GatewaySettings = {
    maxBodyBytes: g.max_body_bytes ?? GATEWAY_DEFAULTS.maxBodyBytes,
    connectTimeoutMs: g.connect_timeout_ms ?? GATEWAY_DEFAULTS.connectTimeoutMs,
    firstByteTimeoutMs: g.first_byte_timeout_ms ?? GATEWAY_DEFAULTS.firstByteTimeoutMs,
    streamIdleTimeoutMs: g.stream_idle_timeout_ms ?? GATEWAY_DEFAULTS.streamIdleTimeoutMs,
    keepaliveIntervalMs: g.keepalive_interval_ms ?? GATEWAY_DEFAULTS.keepaliveIntervalMs,
    maxRetries: g.max_retries ?? GATEWAY_DEFAULTS.maxRetries,
    retryBaseDelayMs: g.retry_base_delay_ms ?? GATEWAY_DEFAULTS.retryBaseDelayMs,
    retryMaxDelayMs: g.retry_max_delay_ms ?? GATEWAY_DEFAULTS.retryMaxDelayMs,
    keyCooldownMs: g.key_cooldown_ms ?? GATEWAY_DEFAULTS.keyCooldownMs,
  };

  const rl = fromFile.request_log ?? {};
  const requestLog: RequestLogSettings = {
    enabled: rl.enabled ?? REQUEST_LOG_DEFAULTS.enabled,
    flushIntervalMs: rl.flush_interval_ms ?? REQUEST_LOG_DEFAULTS.flushIntervalMs,
    batchSize: rl.batch_size ?? REQUEST_LOG_DEFAULTS.batchSize,
    queueCapacity: rl.queue_capacity ?? REQUEST_LOG_DEFAULTS.queueCapacity,
    storeBodies: rl.store_bodies ?? REQUEST_LOG_DEFAULTS.storeBodies,
    retentionDays: rl.retention_days ?? REQUEST_LOG_DEFAULTS.retentionDays,
    minuteRollupRetentionDays: rl.rollup_minute_retention_days ?? REQUEST_LOG_DEFAULTS.minuteRollupRetentionDays,
    hourRollupRetentionDays: rl.rollup_hour_retention_days ?? REQUEST_LOG_DEFAULTS.hourRollupRetentionDays,
  };

  const gov = fromFile.governance ?? {};
  const unpriced = gov.unpriced ?? GOVERNANCE_CONFIG_DEFAULTS.unpriced;
  const governance: GovernanceConfig = {
    unpriced,
    zeroCost: gov.zero_cost ?? unpriced,
    defaultMaxOutputTokens: gov.default_max_output_tokens ?? GOVERNANCE_CONFIG_DEFAULTS.defaultMaxOutputTokens,
  };

  const host = pick("host", DEFAULTS.host)!;
  const port = pick("port", DEFAULTS.port)!;
  for (const p of providers) {
    const e = ENV_PROVIDERS.find((x) => x.id === p.id && x.baseUrlEnv);
    if (p.source === "env" && p.baseUrl && e && selfReferences(p.baseUrl, host, port)) {
      problems.push(
        `environment ${e.baseUrlEnv}: ${p.baseUrl} is this gateway itself (a client setting); unset ${e.baseUrlEnv} in the shell that starts llm-proxy, or point it at the real upstream`,
      );
    }
  }
  if (problems.length) throw new ConfigError(problems);

  const encryptionKey = env.LLM_PROXY_ENCRYPTION_KEY?.trim() || undefined;
  if (encryptionKey) origin.encryption_key = "env";
  const keyFile = pick("encryption_key_file", undefined);
  return {
    host,
    port,
    dataDir: path.resolve(pick("data_dir", defaultDataDir())!),
    logLevel: pick("log_level", DEFAULTS.log_level)!,
    logFormat: pick("log_format", DEFAULTS.log_format)!,
    shutdownGraceMs: pick("shutdown_grace_ms", DEFAULTS.shutdown_grace_ms)!,
    cpuScheduling: pick("cpu_scheduling", DEFAULTS.cpu_scheduling)!,
    encryptionKey,
    encryptionKeyFile: keyFile ? path.resolve(keyFile) : undefined,
    configFile: fileWasRead ? configFile : undefined,
    providers,
    aliases,
    gateway,
    requestLog,
    pricing: {
      source: env.LLM_PROXY_PRICING_SOURCE || fromFile.pricing?.source || DEFAULT_PRICING_SOURCE,
      refreshMs: fromFile.pricing?.refresh_ms ?? DEFAULT_REFRESH_MS,
      overrides: fromFile.pricing?.overrides,
    },
    governance,
    metrics: {
      enabled: fromFile.metrics?.enabled ?? true,
      public: fromFile.metrics?.public ?? false,
      token: env.LLM_PROXY_METRICS_TOKEN || fromFile.metrics?.token,
    },
    monitoring: { probeIntervalMs: fromFile.monitoring?.probe_interval_ms ?? 300_000 },
    dashboard: {
      secureCookies: fromFile.dashboard?.secure_cookies ?? "auto",
      sessionTtlMs: Math.round((fromFile.dashboard?.session_ttl_hours ?? 12) * 3_600_000),
    },
    origin,
  };
}

/** The effective settings with secrets masked, as printed by `llm-proxy config check`. */
/** A URL with any password in it masked (`http://user:***@host/…`). */
function maskUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*):[^/@]*@/i, "$1:***@");
}

export function describeConfig(config: Config, keySource: string): Record<string, unknown> {
  return {
    config_file: config.configFile ?? "(none)",
    host: config.host,
    port: config.port,
    data_dir: config.dataDir,
    log_level: config.logLevel,
    log_format: config.logFormat,
    shutdown_grace_ms: config.shutdownGraceMs,
    cpu_scheduling: config.cpuScheduling,
    encryption_key: keySource,
    providers: config.providers.length
      ? config.providers
          .map((p) =>
            clientKeyProviders([p]).length
              ? `${p.id} (ignored: ${p.apiKeys[0]!.ref.replace(/^env:/, "")} holds an llm-proxy client key, not a ${p.id} API key)`
              : `${p.id} (${p.type}${p.baseUrl ? `, ${maskUrl(p.baseUrl)}` : ""}, keys: ${p.apiKeys.map((k) => k.ref).join(", ") || "none"}${p.models ? `, models: ${p.models.join(" ")}` : ""}; from ${p.source})`,
          )
          .join("; ")
      : "(none: set OPENAI_API_KEY, DEEPSEEK_API_KEY, XAI_API_KEY, GEMINI_API_KEY or ANTHROPIC_API_KEY, or add [[providers]])",
    aliases: Object.keys(config.aliases).length
      ? Object.entries(config.aliases).map(([a, t]) => `${a} → ${t.join(", ")}`).join("; ")
      : "(none)",
    gateway: Object.entries(config.gateway).map(([k, v]) => `${k}=${v}`).join(" "),
    request_log: Object.entries(config.requestLog).map(([k, v]) => `${k}=${v}`).join(" "),
    metrics: `enabled=${config.metrics.enabled} public=${config.metrics.public} token=${config.metrics.token ? "set" : "(none)"}`,
    monitoring: `probe_interval_ms=${config.monitoring.probeIntervalMs}`,
    dashboard: `secure_cookies=${config.dashboard.secureCookies} session_ttl_hours=${config.dashboard.sessionTtlMs / 3_600_000}`,
    governance: `unpriced=${config.governance.unpriced} zero_cost=${config.governance.zeroCost} default_max_output_tokens=${config.governance.defaultMaxOutputTokens}`,
    pricing: `source=${config.pricing.source} refresh_ms=${config.pricing.refreshMs} overrides=${Object.keys(config.pricing.overrides ?? {}).join(",") || "(none)"}`,
  };
}
