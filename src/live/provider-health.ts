import { labelProvider } from "../core/router.ts";
import { attemptsOf, type RowFacts } from "../db/request-log.ts";

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
/** Samples kept per provider (the newest). */
const MAX_SAMPLES = 1000;

/**
 * One provider's newest samples, in a ring of typed arrays: recording a sample (once per upstream
 * call) allocates nothing and never shifts a list. Readers take the samples of the window.
 */
class SampleRing {
  private readonly at = new Float64Array(MAX_SAMPLES);
  private readonly latency = new Float64Array(MAX_SAMPLES);
  private readonly ok = new Uint8Array(MAX_SAMPLES);
  /** Slot of the oldest sample. */
  private start = 0;
  size = 0;

  push(at: number, ok: boolean, latency: number): void {
    let i = this.start + this.size;
    if (i >= MAX_SAMPLES) i -= MAX_SAMPLES;
    if (this.size === MAX_SAMPLES) this.start = this.start + 1 === MAX_SAMPLES ? 0 : this.start + 1;
    else this.size++;
    this.at[i] = at;
    this.ok[i] = ok ? 1 : 0;
    this.latency[i] = latency;
  }

  /** Time of the newest sample (-Infinity when there is none). */
  newest(): number {
    if (this.size === 0) return -Infinity;
    const i = (this.start + this.size - 1) % MAX_SAMPLES;
    return this.at[i]!;
  }

  /** The samples taken at or after `from`, oldest first. */
  since(from: number): Sample[] {
    const out: Sample[] = [];
    for (let n = 0; n < this.size; n++) {
      const i = (this.start + n) % MAX_SAMPLES;
      if (this.at[i]! >= from) out.push({ at: this.at[i]!, ok: this.ok[i] === 1, latency: this.latency[i]! });
    }
    return out;
  }
}

const CLIENT_FAULTS = new Set(["bad_request", "context_length", "content_filter", "unsupported_input", "model_not_found", "cancelled"]);

export class ProviderHealthTracker {
  private samples = new Map<string, SampleRing>();
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
  observe(row: RowFacts & { attempts?: unknown }, attempts?: Array<{ target: string; ok: boolean; errorClass?: string; message?: string; durationMs: number }>): void {
    const list = attempts ?? attemptsOf<{ target: string; ok: boolean; errorClass?: string; message?: string; durationMs: number }>(row);
    if (!list) return;
    for (const a of list) {
      // Errors the client caused say nothing about the provider's health.
      if (!a.ok && CLIENT_FAULTS.has(a.errorClass ?? "")) continue;
      this.record(labelProvider(a.target), a.ok, a.durationMs, a.ok ? undefined : { error_class: a.errorClass ?? "unknown", message: a.message });
    }
  }

  /** Records a probe result (used while a provider sees no traffic). */
  probe(provider: string, ok: boolean, errorClass?: string): void {
    this.entry(provider).last_probe = { at: this.now(), ok, error_class: errorClass };
    this.record(provider, ok, 0, ok ? undefined : { error_class: errorClass ?? "unknown" });
  }

  private record(provider: string, ok: boolean, latency: number, error?: { error_class: string; message?: string }) {
    const now = this.now();
    let ring = this.samples.get(provider);
    if (!ring) this.samples.set(provider, (ring = new SampleRing()));
    ring.push(now, ok, latency);
    const e = this.entry(provider);
    if (ok) e.last_success_at = now;
    else e.last_error = { at: now, ...error! };
    // Status changes are rare: only a failure, or a success after a non-healthy status, can change
    // it, so the common case (a success while healthy) costs no scan at all.
    const before = this.statuses.get(provider) ?? "unknown";
    if (ok && before === "healthy") return;
    const status = statusOf(ring.since(now - WINDOW_MS));
    if (status !== before) {
      this.statuses.set(provider, status);
      this.onChange(provider, before, status, this.health(provider));
    }
  }

  /** True when the provider had no traffic within `ms` (a probe is due). */
  idleFor(provider: string, ms: number): boolean {
    const ring = this.samples.get(provider);
    return !ring || ring.newest() < this.now() - ms;
  }

  health(provider: string): ProviderHealth {
    const now = this.now();
    const list = this.samples.get(provider)?.since(now - WINDOW_MS) ?? [];
    const errors = list.filter((s) => !s.ok).length;
    const rate = list.length ? errors / list.length : 0;
    const status = statusOf(list);
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

/** Status from the samples in the window: 3 failures in a row → down; ≥ 25% errors (≥ 2) → degraded. */
function statusOf(list: Sample[]): ProviderStatus {
  if (!list.length) return "unknown";
  const n = list.length;
  if (n >= 3 && !list[n - 1]!.ok && !list[n - 2]!.ok && !list[n - 3]!.ok) return "down";
  if (n === 1 && !list[0]!.ok) return "down";
  let errors = 0;
  for (const s of list) if (!s.ok) errors++;
  return errors >= 2 && errors / n >= 0.25 ? "degraded" : "healthy";
}
