import type { RequestRow } from "../db/request-log.ts";

/**
 * Provider status from live traffic: error rate and latency over the last few minutes, the last
 * error, and — for providers without traffic — the result of a cheap periodic probe. Status
 * changes are reported through `onChange` (published on the `events` topic).
 */
export type ProviderStatus = "healthy" | "degraded" | "down" | "unknown";
export type ProviderHealth = {
  provider: string;
  status: ProviderStatus;
  requests: number;
  errors: number;
  error_rate: number;
  latency_p50_ms: number | null;
  last_error: { at: number; error_class: string; message?: string } | null;
  last_success_at: number | null;
  last_probe: { at: number; ok: boolean; error_class?: string } | null;
};

type Sample = { at: number; ok: boolean; latency: number };
const WINDOW_MS = 5 * 60_000;

export class ProviderHealthTracker {
  private samples = new Map<string, Sample[]>();
  private info = new Map<string, Pick<ProviderHealth, "last_error" | "last_success_at" | "last_probe">>();
  private statuses = new Map<string, ProviderStatus>();

  constructor(
    private readonly onChange: (provider: string, from: ProviderStatus, to: ProviderStatus, health: ProviderHealth) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {}

  private entry(provider: string) {
    let i = this.info.get(provider);
    if (!i) this.info.set(provider, (i = { last_error: null, last_success_at: null, last_probe: null }));
    return i;
  }

  /** Feeds the attempts of one logged request (each upstream call counts, fallbacks included). */
  observe(row: RequestRow): void {
    if (!row.attempts) return;
    for (const a of JSON.parse(row.attempts) as Array<{ target: string; ok: boolean; errorClass?: string; message?: string; durationMs: number }>) {
      const provider = a.target.split("/")[0]!;
      // Errors the client caused say nothing about the provider's health.
      const clientFault = ["bad_request", "context_length", "content_filter", "unsupported_input", "model_not_found"].includes(a.errorClass ?? "");
      if (clientFault) continue;
      this.record(provider, a.ok, a.durationMs, a.ok ? undefined : { error_class: a.errorClass ?? "unknown", message: a.message });
    }
  }

  /** Records a probe result (used while a provider sees no traffic). */
  probe(provider: string, ok: boolean, errorClass?: string): void {
    this.entry(provider).last_probe = { at: this.now(), ok, error_class: errorClass };
    this.record(provider, ok, 0, ok ? undefined : { error_class: errorClass ?? "unknown" });
  }

  private record(provider: string, ok: boolean, latency: number, error?: { error_class: string; message?: string }) {
    const now = this.now();
    const list = this.samples.get(provider) ?? [];
    list.push({ at: now, ok, latency });
    while (list.length && (list[0]!.at < now - WINDOW_MS || list.length > 1000)) list.shift();
    this.samples.set(provider, list);
    const e = this.entry(provider);
    if (ok) e.last_success_at = now;
    else e.last_error = { at: now, ...error! };
    const health = this.health(provider);
    const before = this.statuses.get(provider) ?? "unknown";
    if (health.status !== before) {
      this.statuses.set(provider, health.status);
      this.onChange(provider, before, health.status, health);
    }
  }

  /** True when the provider had no traffic within `ms` (a probe is due). */
  idleFor(provider: string, ms: number): boolean {
    const list = this.samples.get(provider);
    return !list?.length || list[list.length - 1]!.at < this.now() - ms;
  }

  health(provider: string): ProviderHealth {
    const now = this.now();
    const list = (this.samples.get(provider) ?? []).filter((s) => s.at >= now - WINDOW_MS);
    const errors = list.filter((s) => !s.ok).length;
    const rate = list.length ? errors / list.length : 0;
    const recent = list.slice(-3);
    let status: ProviderStatus = "unknown";
    if (list.length) {
      if (recent.length >= 3 && recent.every((s) => !s.ok)) status = "down";
      else if (rate >= 0.25 && errors >= 2) status = "degraded";
      else if (recent.at(-1)?.ok === false && list.length === 1) status = "down";
      else status = "healthy";
    }
    const okLat = list.filter((s) => s.ok && s.latency > 0).map((s) => s.latency).sort((a, b) => a - b);
    return {
      provider,
      status,
      requests: list.length,
      errors,
      error_rate: Math.round(rate * 1000) / 1000,
      latency_p50_ms: okLat.length ? okLat[Math.floor(okLat.length / 2)]! : null,
      ...this.entry(provider),
    };
  }
}
