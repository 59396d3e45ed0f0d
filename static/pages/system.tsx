import { useEffect, useState } from "preact/hooks";
import { api } from "../lib/api.ts";
import { bytes, compact, duration, ms, pct } from "../lib/format.ts";
import { liveStatus, subscribe } from "../lib/live.ts";
import type { Gauge, HostMetrics, MetricsMessage, ProcessMetrics, ProviderHealth, SystemInfo } from "../lib/types.ts";
import { Chart, type ChartSeries } from "../components/chart.tsx";
import { Badge, Card, Empty, ErrorBox, Loading, PageHeader, Progress, useLoad, type Tone } from "../components/ui.tsx";

const KEEP = 150; // samples (5 minutes at one every 2 s)
const IN_FLIGHT = "llm_proxy_in_flight_requests";
const QUEUE = "llm_proxy_log_queue_depth";

type Sample = {
  at: number;
  cpu: number | null;
  mem: number | null;
  rss: number;
  lag: number;
  inflight: number | null;
  queue: number | null;
  rx: number | null;
  tx: number | null;
};

const gauge = (gauges: Gauge[] | undefined, name: string): number | null => {
  const matching = gauges?.filter((g) => g.name === name) ?? [];
  return matching.length ? matching.reduce((a, g) => a + (Number(g.value) || 0), 0) : null;
};

function toSample(at: number, host: HostMetrics | null | undefined, proc: ProcessMetrics, gauges: Gauge[]): Sample {
  const net = host?.network ?? null;
  const sum = (k: "rx_sec" | "tx_sec") => (net && net.length ? net.reduce((a, n) => a + (n[k] ?? 0), 0) : null);
  return {
    at,
    cpu: host?.cpu?.load_percent ?? null,
    mem: host?.memory ? (host.memory.used / host.memory.total) * 100 : null,
    rss: proc.rss,
    lag: proc.event_loop_lag_ms,
    inflight: gauge(gauges, IN_FLIGHT),
    queue: gauge(gauges, QUEUE),
    rx: sum("rx_sec"),
    tx: sum("tx_sec"),
  };
}

export function SystemPage() {
  const load = useLoad((signal) => api.get<SystemInfo>("/api/system", signal), []);
  const [latest, setLatest] = useState<{ host: HostMetrics; process: ProcessMetrics; gauges: Gauge[] } | null>(null);
  const [samples, setSamples] = useState<Sample[]>([]);
  const [providers, setProviders] = useState<ProviderHealth[]>([]);

  useEffect(() => {
    const d = load.data;
    if (!d) return;
    setProviders(d.providers ?? []);
    if (!latest) {
      setLatest({ host: d.host, process: d.process, gauges: d.gauges ?? [] });
      setSamples([toSample(d.host?.at ?? Date.now(), d.host, d.process, d.gauges ?? [])]);
    }
  }, [load.data]);

  useEffect(() => {
    const offMetrics = subscribe("metrics", (m: MetricsMessage) => {
      if (!m?.process) return;
      setLatest({ host: m.host, process: m.process, gauges: m.gauges ?? [] });
      setSamples((prev) => [...prev, toSample(m.at ?? Date.now(), m.host, m.process, m.gauges ?? [])].slice(-KEEP));
    });
    const offEvents = subscribe("events", (e) => {
      if (e?.type !== "provider-status" || !e.health) return;
      setProviders((prev) => {
        const next = prev.filter((p) => p.provider !== e.provider);
        return [...next, { ...e.health, provider: e.provider }].sort((a, b) => String(a.provider).localeCompare(String(b.provider)));
      });
    });
    return () => {
      offMetrics();
      offEvents();
    };
  }, []);

  const x = samples.map((s) => s.at);
  const line = (label: string, values: Array<number | null>, color: number, extra: Partial<ChartSeries> = {}): ChartSeries => ({ label, values, color, fill: true, ...extra });
  const host = latest?.host;
  const proc = latest?.process;
  const mem = host?.memory;
  return (
    <>
      <PageHeader
        title="System"
        sub={liveStatus.value.state === "open" ? "Live host and process metrics, sampled every 2 s while this page is open." : "Waiting for the live connection…"}
      />
      <ErrorBox error={load.error} onRetry={load.reload} />
      {!latest && load.loading && <Loading />}
      {latest && proc && (
        <>
          <div class="sys-grid">
            <Card title="CPU">
              <div class="big">{host?.cpu ? `${host.cpu.load_percent.toFixed(0)}%` : "n/a"}</div>
              <div class="muted small">{host?.cpu ? `${host.cpu.cores} cores` : "not available on this host"}</div>
              <Chart compact label="CPU load" x={x} height={90} format={(v) => `${v.toFixed(0)}%`} series={[line("CPU %", samples.map((s) => s.cpu), 1)]} />
            </Card>
            <Card title="Memory">
              <div class="big">{mem ? bytes(mem.used) : "n/a"}</div>
              <div class="muted small">{mem ? `of ${bytes(mem.total)} · ${bytes(mem.available)} available` : "not available"}</div>
              {mem && <Progress value={mem.used} max={mem.total} label="Memory used" />}
              <Chart compact label="Memory used" x={x} height={72} format={(v) => `${v.toFixed(0)}%`} series={[line("Memory %", samples.map((s) => s.mem), 3)]} />
            </Card>
            <Card title="Process">
              <div class="big">{bytes(proc.rss)}</div>
              <div class="muted small">
                RSS · heap {bytes(proc.heap_used)} · up {duration(proc.uptime_seconds)}
              </div>
              <Chart compact label="Process memory (RSS)" x={x} height={90} format={bytes} series={[line("RSS", samples.map((s) => s.rss), 2)]} />
            </Card>
            <Card title="Event-loop lag">
              <div class={`big ${proc.event_loop_lag_ms > 100 ? "text-bad" : ""}`}>{ms(proc.event_loop_lag_ms)}</div>
              <div class="muted small">how late timers fire; high values mean the process is overloaded</div>
              <Chart compact label="Event-loop lag" x={x} height={90} format={(v) => ms(v)} series={[line("Lag", samples.map((s) => s.lag), 4)]} />
            </Card>
            <Card title="Gateway">
              <div class="big">
                {gauge(latest.gauges, IN_FLIGHT) ?? "–"} <span class="muted small">in flight</span>
              </div>
              <div class="muted small">log queue depth {gauge(latest.gauges, QUEUE) ?? "–"}</div>
              <Chart
                compact
                label="In-flight requests and log-queue depth"
                x={x}
                height={90}
                format={compact}
                series={[line("In flight", samples.map((s) => s.inflight), 1), line("Log queue", samples.map((s) => s.queue), 5, { fill: false })]}
              />
            </Card>
            <Card title="Network">
              <div class="big small-big">
                ↓ {bytes(samples.at(-1)?.rx ?? null)}/s · ↑ {bytes(samples.at(-1)?.tx ?? null)}/s
              </div>
              <div class="muted small">all interfaces</div>
              <Chart
                compact
                label="Network throughput"
                x={x}
                height={90}
                format={(v) => `${bytes(v)}/s`}
                series={[line("Receive", samples.map((s) => s.rx), 1), line("Send", samples.map((s) => s.tx), 2)]}
              />
            </Card>
          </div>

          <div class="two-col">
            <Card title="Disks">
              {host?.disks?.length ? (
                <ul class="disk-list">
                  {host.disks.map((d) => (
                    <li key={d.mount}>
                      <div class="budget-head">
                        <span class="mono">{d.mount}</span>
                        <span class="num">
                          {bytes(d.used)} <span class="muted">of {bytes(d.size)}</span>
                        </span>
                      </div>
                      <Progress value={d.used} max={d.size} label={`Disk ${d.mount} used`} />
                    </li>
                  ))}
                </ul>
              ) : (
                <Empty>Not available.</Empty>
              )}
            </Card>
            <Card title="Network interfaces">
              {host?.network?.length ? (
                <table class="table compact">
                  <thead>
                    <tr>
                      <th scope="col">Interface</th>
                      <th scope="col" class="num">Receive</th>
                      <th scope="col" class="num">Send</th>
                    </tr>
                  </thead>
                  <tbody>
                    {host.network.map((n) => (
                      <tr key={n.iface}>
                        <th scope="row" class="mono">
                          {n.iface}
                        </th>
                        <td class="num">{n.rx_sec == null ? "–" : `${bytes(n.rx_sec)}/s`}</td>
                        <td class="num">{n.tx_sec == null ? "–" : `${bytes(n.tx_sec)}/s`}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              ) : (
                <Empty>Not available.</Empty>
              )}
            </Card>
          </div>

          <Card title="Provider health">
            {providers.length ? (
              <div class="table-wrap">
                <table class="table">
                  <thead>
                    <tr>
                      <th scope="col">Provider</th>
                      <th scope="col">Status</th>
                      <th scope="col" class="num">Error rate</th>
                      <th scope="col" class="num">p50</th>
                      <th scope="col" class="hide-sm">Last error</th>
                    </tr>
                  </thead>
                  <tbody>
                    {providers.map((h) => (
                      <tr key={h.provider}>
                        <th scope="row">{h.provider}</th>
                        <td>
                          <Badge tone={({ healthy: "ok", degraded: "warn", down: "bad", unknown: "muted" } as Record<string, Tone>)[h.status] ?? "muted"}>{h.status}</Badge>
                        </td>
                        <td class="num">{pct(h.error_rate)}</td>
                        <td class="num">{ms(h.latency_p50_ms)}</td>
                        <td class="hide-sm small">{typeof h.last_error === "object" && h.last_error ? h.last_error.error_class : (h.last_error ?? "–")}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ) : (
              <Empty>No providers.</Empty>
            )}
          </Card>

          <details class="card gauges">
            <summary>All gauges ({latest.gauges.length})</summary>
            <table class="table compact">
              <tbody>
                {latest.gauges.map((g, i) => (
                  <tr key={i} title={g.help}>
                    <th scope="row" class="mono small">
                      {g.name}
                      {g.labels && Object.keys(g.labels).length > 0 && <span class="muted">{`{${Object.entries(g.labels).map(([k, v]) => `${k}="${v}"`).join(",")}}`}</span>}
                    </th>
                    <td class="num">{compact(g.value)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </details>
        </>
      )}
    </>
  );
}
