import type { ResolvedProvider } from "../config.ts";
import type { RowFacts } from "../db/request-log.ts";
import type { Logger } from "../logger.ts";
import { probeProvider } from "../providers/probe.ts";
import { Hub } from "./hub.ts";
import { Metrics } from "./metrics.ts";
import { ProviderHealthTracker } from "./provider-health.ts";
import { SystemMonitor } from "./system.ts";

type RequestRecordAttempts = Array<{ target: string; ok: boolean; errorClass?: string; message?: string; durationMs: number }>;

/** A request-log row as the live table shows it (no bodies, no raw usage). */
export function liveRequest(row: RowFacts) {
  return {
    id: row.id,
    received_at: row.received_at,
    status: row.status,
    error_class: row.error_class,
    endpoint: row.endpoint,
    model: row.requested_model,
    provider: row.provider,
    upstream_model: row.upstream_model,
    stream: row.stream === 1,
    input_tokens: row.input_tokens,
    cached_tokens: row.cached_tokens,
    output_tokens: row.output_tokens,
    reasoning_tokens: row.reasoning_tokens,
    usage_estimated: row.usage_estimated === 1,
    cost_usd: row.cost_pico === null ? null : Number(row.cost_pico) / 1e12,
    latency_ms: row.latency_ms,
    ttfb_ms: row.ttfb_ms,
    client_key_id: row.client_key_id,
    project: row.project,
  };
}

/**
 * Everything live: the WebSocket hub, the metrics registry, host/process monitoring and provider
 * health (from traffic, plus a probe of idle providers every `probeIntervalMs`; 0 disables it).
 */
export class Live {
  readonly hub = new Hub();
  readonly metrics = new Metrics();
  readonly system = new SystemMonitor();
  readonly health: ProviderHealthTracker;
  private timers: Array<ReturnType<typeof setInterval>> = [];

  constructor(
    private readonly options: {
      log: Logger;
      providers: () => ResolvedProvider[];
      probeIntervalMs: number;
      fetch?: typeof fetch;
    },
  ) {
    this.health = new ProviderHealthTracker((provider, from, to, health) => {
      options.log.info("provider status changed", { provider, from, to });
      this.hub.publish("events", { type: "provider-status", provider, from, to, health });
    });
  }

  /** Recorder hook: a request started. */
  started = (id: string, receivedAt: number, endpoint: string, clientKeyId: string | undefined) => {
    if (!this.hub.subscribers("requests")) return; // no message built while no dashboard watches
    this.hub.publish("requests", { type: "started", request: { id, received_at: receivedAt, endpoint, client_key_id: clientKeyId ?? null } });
  };

  /** Recorder hook: a request ended (its row is built, log on or off). */
  recorded = (row: RowFacts & { attempts?: unknown }, attempts?: RequestRecordAttempts) => {
    this.metrics.observe(row, attempts);
    this.health.observe(row, attempts);
  };

  /** Recorder hook: rows were committed to the request log (the live table shows them now). */
  written = (rows: () => RowFacts[]) => {
    if (this.hub.subscribers("requests")) this.hub.publish("requests", { type: "finished", requests: rows().map(liveRequest) });
  };

  start(): void {
    this.system.start();
    // Host metrics are sampled only while someone watches the `metrics` topic.
    this.timers.push(
      setInterval(async () => {
        if (!this.hub.subscribers("metrics")) return;
        const host = await this.system.hostSnapshot(1500);
        this.hub.publish("metrics", { at: Date.now(), host, process: this.system.process(), gauges: this.metrics.gaugeValues() });
      }, 2000),
    );
    if (this.options.probeIntervalMs > 0) {
      this.timers.push(setInterval(() => void this.probeIdle(), this.options.probeIntervalMs));
    }
    for (const t of this.timers) t.unref?.();
  }

  /** Probes every provider that has had no traffic for a probe interval. */
  async probeIdle(): Promise<void> {
    for (const p of this.options.providers()) {
      if (!this.health.idleFor(p.id, this.options.probeIntervalMs)) continue;
      const result = await probeProvider(p, { fetch: this.options.fetch });
      this.health.probe(p.id, result.ok, result.errorClass);
    }
  }

  providerHealth() {
    return this.options.providers().map((p) => this.health.health(p.id));
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.system.stop();
  }
}
