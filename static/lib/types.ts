/** Shapes of the admin API's answers (the dashboard's contract with the backend). */

export type Totals = {
  requests: number;
  errors: number;
  input_tokens: number;
  cached_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  cost_usd: number | null;
  unpriced: number;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
  ttfb_p50_ms: number | null;
  ttfb_p95_ms: number | null;
};

export type Group = Totals & { group: string | null; name?: string | null };

export type SeriesPoint = {
  bucket: number;
  requests: number;
  errors: number;
  input_tokens: number;
  cached_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  cost_usd: number | null;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
  ttfb_p50_ms: number | null;
};

export type Overview = {
  from: number | string;
  to: number | string;
  totals: Totals;
  by_provider: Group[];
  by_model: Group[];
  by_key: Group[];
  by_project?: Group[];
  series: { step: number; points: SeriesPoint[] };
};

export type RequestRow = {
  id: string;
  received_at: number | string;
  status: number | string;
  error_class: string | null;
  endpoint: string;
  model: string | null;
  provider: string | null;
  upstream_model: string | null;
  stream: boolean;
  input_tokens: number | null;
  cached_tokens: number | null;
  output_tokens: number | null;
  reasoning_tokens: number | null;
  /** Token counts estimated by the gateway (the upstream reported none). */
  usage_estimated?: boolean | number;
  cost_usd: number | null;
  latency_ms: number | null;
  ttfb_ms: number | null;
  client_key_id: string | null;
  project?: string | null;
};

export type Attempt = { target: string; keyIndex?: number; ok: boolean; status?: number; errorClass?: string; message?: string; durationMs?: number };

export type CostBreakdown = {
  unit: "pico-usd";
  total: number;
  input: number;
  cache_read: number;
  cache_write: number;
  output: number;
  reasoning: number;
  tier?: string;
  approximate?: boolean;
  notes?: string[];
  upstream?: number;
};

export type RequestDetail = {
  request: RequestRow & {
    attempts: Attempt[] | null;
    usage_raw: unknown;
    cost_breakdown: CostBreakdown | null;
    pricing_entry: string | null;
    pricing_rule: string | null;
    warnings: Array<string | { code?: string; message?: string }> | null;
    response_model: string | null;
    usage_estimated: boolean | number;
    cache_write_tokens?: number | null;
    error_message?: string | null;
    first_byte_at: number | string | null;
    finished_at: number | string | null;
    user_agent: string | null;
    client_ip: string | null;
    provider_type?: string | null;
    /** The detail answers with the log row's column name; the list calls it `model`. */
    requested_model?: string | null;
  };
  bodies: { request: unknown; response: unknown } | null;
};

export type HealthStatus = "healthy" | "degraded" | "down" | "unknown";
export type ProviderHealth = {
  provider?: string;
  status: HealthStatus;
  error_rate: number | null;
  latency_p50_ms: number | null;
  requests?: number;
  last_error: { at: number; error_class: string; message?: string } | string | null;
  last_probe: { at: number; ok: boolean; error_class?: string } | number | string | null;
};

export type Provider = {
  id: string;
  type: string;
  base_url: string | null;
  models: string[] | null;
  headers: Record<string, string> | null;
  pricing_provider: string | null;
  enabled: boolean;
  api_keys: Array<{ last4: string }>;
  source: "config" | "env" | "admin";
  read_only: boolean;
  health?: ProviderHealth | null;
};

export type ClientKey = {
  id: string;
  name: string;
  prefix: string;
  created_at: string;
  revoked_at: string | null;
  enabled: boolean;
  expires_at: string | null;
  allowed_models: string[] | null;
  budget_daily_usd: number | null;
  budget_monthly_usd: number | null;
  budget_total_usd: number | null;
  rpm_limit: number | null;
  tpm_limit: number | null;
  store_bodies: boolean;
  spend_usd: { today: number; month: number; total: number } | null;
};

export type DashboardUser = { id: string; username: string; role: "admin" | "viewer"; created_at: number | string };

export type AuditEntry = { id: string; at: number | string; user_id: string | null; username: string | null; action: string; target: string | null; detail: unknown; ip: string | null };

export type PricingOverride = {
  model: string;
  input: number | null;
  output: number | null;
  cache_read?: number | null;
  cache_write?: number | null;
  reasoning?: number | null;
  origin: "config" | "dashboard";
};

export type Pricing = {
  source: {
    source: string;
    loadedFrom: string;
    version: string;
    models: number;
    lastSuccessAt?: number | string | null;
    lastAttemptAt?: number | string | null;
    lastError?: string | null;
    refreshing: boolean;
  };
  overrides: PricingOverride[];
  unpriced: Array<{ provider: string | null; provider_type: string | null; model: string | null; requests: number; last_seen: number | string }>;
};

export type HostMetrics = {
  cpu: { load_percent: number; cores: number } | null;
  memory: { total: number; used: number; available: number } | null;
  disks: Array<{ mount: string; size: number; used: number }> | null;
  network: Array<{ iface: string; rx_sec: number | null; tx_sec: number | null }> | null;
};
export type ProcessMetrics = { rss: number; heap_used: number; uptime_seconds: number; event_loop_lag_ms: number };
export type Gauge = { name: string; help: string; value: number; labels?: Record<string, string> };
export type MetricsMessage = { at: number; host: HostMetrics; process: ProcessMetrics; gauges: Gauge[] };
export type SystemInfo = { host: HostMetrics & { at?: number }; process: ProcessMetrics; gauges: Gauge[]; providers: ProviderHealth[] };
