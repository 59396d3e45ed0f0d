import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../lib/api.ts";
import { compact, int, ms, pct, toDate, usd } from "../lib/format.ts";
import { subscribe } from "../lib/live.ts";
import { location, navigate } from "../lib/router.ts";
import type { Group, Overview, SeriesPoint } from "../lib/types.ts";
import { Chart } from "../components/chart.tsx";
import { Card, Empty, ErrorBox, Loading, PageHeader, Segmented, useLoad } from "../components/ui.tsx";

const RANGES = [
  { value: "1h", label: "Last hour" },
  { value: "24h", label: "24 hours" },
  { value: "7d", label: "7 days" },
  { value: "30d", label: "30 days" },
] as const;
type Range = (typeof RANGES)[number]["value"];

export function OverviewPage() {
  const fromUrl = new URLSearchParams(location.value.search).get("range");
  const range: Range = RANGES.some((r) => r.value === fromUrl) ? (fromUrl as Range) : "24h";
  const setRange = (r: Range) => navigate(`/?range=${r}`, { replace: true });
  const load = useLoad((signal) => api.get<Overview>(`/api/overview?range=${range}`, signal), [range]);

  // Refresh periodically, and a few seconds after new traffic (at most one pending refresh).
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => {
    const every = setInterval(() => void load.reload(), range === "1h" ? 15_000 : 60_000);
    const off = subscribe("requests", (m) => {
      if (m?.type !== "finished" || pending.current) return;
      pending.current = setTimeout(() => {
        pending.current = undefined;
        void load.reload();
      }, 3000);
    });
    return () => {
      clearInterval(every);
      clearTimeout(pending.current);
      pending.current = undefined;
      off();
    };
  }, [range]);

  const o = load.data;
  return (
    <>
      <PageHeader title="Overview" sub={o ? `${fmtRange(o.from)} – ${fmtRange(o.to)}` : "Traffic, tokens, cost and latency"}>
        <Segmented label="Time range" value={range} options={RANGES.map((r) => ({ ...r }))} onChange={setRange} />
      </PageHeader>
      <ErrorBox error={load.error} onRetry={load.reload} />
      {!o && load.loading && <Loading />}
      {o && <OverviewBody o={o} />}
    </>
  );
}

function fmtRange(t: number | string): string {
  const d = toDate(t);
  return d ? d.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }) : "";
}

/**
 * The series lists only buckets with traffic; amounts (requests, tokens, cost) are zero in the
 * others, so fill those in for the bar and line charts. Latency stays sparse (no traffic, no value).
 */
function densify(points: SeriesPoint[], step: number, from: number | undefined, to: number | undefined): SeriesPoint[] {
  if (!step || from == null || to == null || (to - from) / step > 2000 || points.some((p) => (p.bucket - from) % step !== 0)) return points;
  const byBucket = new Map(points.map((p) => [p.bucket, p]));
  const out: SeriesPoint[] = [];
  for (let b = from; b < to; b += step) {
    out.push(
      byBucket.get(b) ?? { bucket: b, requests: 0, errors: 0, input_tokens: 0, cached_tokens: 0, output_tokens: 0, reasoning_tokens: 0, cost_usd: 0, latency_p50_ms: null, latency_p95_ms: null, ttfb_p50_ms: null },
    );
  }
  return out;
}

function OverviewBody({ o }: { o: Overview }) {
  const t = o.totals;
  const sparse = o.series?.points ?? [];
  const from = toDate(o.from)?.getTime();
  const to = toDate(o.to)?.getTime();
  const range: [number, number] | undefined = from != null && to != null && to > from ? [from, to] : undefined;
  const points = densify(sparse, o.series?.step ?? 0, from, to);
  const x = points.map((p) => p.bucket);
  const totalTokens = t.input_tokens + t.output_tokens;
  return (
    <>
      <div class="stats">
        <Stat label="Requests" value={int(t.requests)} sub={`${int(t.errors)} errors · ${pct(t.requests ? t.errors / t.requests : null)}`} tone={t.errors ? "bad" : undefined} />
        <Stat
          label="Tokens"
          value={compact(totalTokens)}
          sub={`${compact(t.input_tokens)} in (${compact(t.cached_tokens)} cached) · ${compact(t.output_tokens)} out · ${compact(t.reasoning_tokens)} reasoning`}
        />
        <Stat
          label="Cost"
          value={t.cost_usd == null && t.requests > 0 ? "unpriced" : usd(t.cost_usd ?? 0)}
          sub={t.unpriced ? `${int(t.unpriced)} unpriced request${t.unpriced === 1 ? "" : "s"} not included` : "all requests priced"}
          tone={t.unpriced ? "warn" : undefined}
        />
        <Stat label="Latency p50 / p95" value={`${ms(t.latency_p50_ms)} / ${ms(t.latency_p95_ms)}`} sub={`TTFB ${ms(t.ttfb_p50_ms)} / ${ms(t.ttfb_p95_ms)}`} />
      </div>

      <div class="chart-grid">
        <Card title="Requests and errors">
          <Chart
            label="Requests and errors over time"
            x={x}
            range={range}
            format={compact}
            series={[
              { label: "Requests", values: points.map((p) => p.requests), color: 1, bars: true },
              { label: "Errors", values: points.map((p) => p.errors), color: 4, bars: true },
            ]}
          />
        </Card>
        <Card title="Tokens by kind">
          <Chart
            label="Tokens by kind over time"
            x={x}
            range={range}
            format={compact}
            series={[
              { label: "Input", values: points.map((p) => p.input_tokens), color: 1 },
              { label: "Cached", values: points.map((p) => p.cached_tokens), color: 3, dash: true },
              { label: "Output", values: points.map((p) => p.output_tokens), color: 2 },
              { label: "Reasoning", values: points.map((p) => p.reasoning_tokens), color: 5 },
            ]}
          />
        </Card>
        <Card title="Cost">
          <Chart
            label="Cost over time in US dollars"
            x={x}
            range={range}
            format={(v) => usd(v)}
            series={[{ label: "Cost (USD)", values: points.map((p) => p.cost_usd), color: 2, bars: true }]}
          />
        </Card>
        <Card title="Latency and time to first byte">
          <Chart
            label="Latency p50, p95 and TTFB over time"
            x={sparse.map((p) => p.bucket)}
            range={range}
            format={(v) => ms(v)}
            series={[
              { label: "p50", values: sparse.map((p) => p.latency_p50_ms), color: 1 },
              { label: "p95", values: sparse.map((p) => p.latency_p95_ms), color: 4 },
              { label: "TTFB p50", values: sparse.map((p) => p.ttfb_p50_ms), color: 3, dash: true },
            ]}
          />
        </Card>
      </div>

      <Breakdowns o={o} />
    </>
  );
}

function Stat({ label, value, sub, tone }: { label: string; value: string; sub?: string; tone?: "bad" | "warn" }) {
  return (
    <div class={`stat ${tone ?? ""}`}>
      <div class="stat-label">{label}</div>
      <div class="stat-value">{value}</div>
      {sub && <div class="stat-sub">{sub}</div>}
    </div>
  );
}

const BREAKDOWNS = [
  { value: "provider", label: "By provider" },
  { value: "model", label: "By model" },
  { value: "key", label: "By client key" },
  { value: "project", label: "By project" },
] as const;
type By = (typeof BREAKDOWNS)[number]["value"];

function Breakdowns({ o }: { o: Overview }) {
  const [by, setBy] = useState<By>("provider");
  const rows: Group[] = (by === "provider" ? o.by_provider : by === "model" ? o.by_model : by === "key" ? o.by_key : o.by_project) ?? [];
  const sorted = [...rows].sort((a, b) => b.requests - a.requests);
  const max = Math.max(1, ...sorted.map((r) => r.requests));
  const filterParam = by === "key" ? "key" : by;
  return (
    <Card title="Breakdown" actions={<Segmented label="Group by" value={by} options={BREAKDOWNS.map((b) => ({ ...b }))} onChange={setBy} />}>
      {sorted.length === 0 ? (
        <Empty>No traffic in this range.</Empty>
      ) : (
        <div class="table-wrap">
          <table class="table" data-testid={`breakdown-${by}`}>
            <thead>
              <tr>
                <th scope="col">{by === "provider" ? "Provider" : by === "model" ? "Model" : by === "key" ? "Client key" : "Project"}</th>
                <th scope="col" class="num">Requests</th>
                <th scope="col" class="num">Errors</th>
                <th scope="col" class="num hide-sm">Input</th>
                <th scope="col" class="num hide-sm">Cached</th>
                <th scope="col" class="num hide-sm">Output</th>
                <th scope="col" class="num">Cost</th>
                <th scope="col" class="num hide-sm">p50 / p95</th>
              </tr>
            </thead>
            <tbody>
              {sorted.map((r) => {
                const name = by === "key" ? r.name || r.group || "(no key)" : by === "project" ? r.group || "(no project)" : r.group || "(none)";
                return (
                  <tr key={r.group ?? "none"}>
                    <th scope="row" class="name-cell">
                      {r.group ? <a href={`/requests?${filterParam}=${encodeURIComponent(r.group)}`}>{name}</a> : name}
                      <div class="share" aria-hidden="true">
                        <div class="share-bar" style={{ width: `${((r.requests / max) * 100).toFixed(1)}%` }} />
                      </div>
                    </th>
                    <td class="num">{int(r.requests)}</td>
                    <td class={`num ${r.errors ? "text-bad" : ""}`}>{int(r.errors)}</td>
                    <td class="num hide-sm">{compact(r.input_tokens)}</td>
                    <td class="num hide-sm">{compact(r.cached_tokens)}</td>
                    <td class="num hide-sm">{compact(r.output_tokens)}</td>
                    <td class="num">
                      {r.cost_usd == null && r.requests > 0 ? <span class="unpriced">unpriced</span> : usd(r.cost_usd ?? 0)}
                      {r.unpriced > 0 && r.cost_usd != null && <span class="unpriced-note" title={`${r.unpriced} unpriced requests`}> +{int(r.unpriced)} unpriced</span>}
                    </td>
                    <td class="num hide-sm">
                      {ms(r.latency_p50_ms)} / {ms(r.latency_p95_ms)}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}
