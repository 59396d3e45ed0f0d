import { labelProvider } from "../core/router.ts";
import { LATENCY_BOUNDS_MS } from "../recorder/histogram.ts";
import { attemptsOf, rollupUnpriced, type RowFacts } from "../db/request-log.ts";

/**
 * In-process metrics: the one source for the System page, the live hub and `GET /metrics`
 * (Prometheus text format). Fed by the recorder as each request ends (log on or off), plus gauges read on demand.
 */
type Labels = Record<string, string>;
/** Series key: each metric is always called with the same label names in the same order. */
const key = (labels: Labels) => Object.values(labels).join("\u0000");

type CounterSeries = { labels: Labels; value: number };
/** `buckets[i]`: observations in (bounds[i-1], bounds[i]] (made cumulative when rendered); above the last bound only `count` has them. */
type HistogramSeries = { labels: Labels; buckets: number[]; sum: number; count: number };

class Counter {
  readonly values = new Map<string, CounterSeries>();
  constructor(readonly name: string, readonly help: string) {}
  inc(labels: Labels, by = 1) {
    this.series(key(labels), () => labels).value += by;
  }
  /** The series under key `k` (`key(labels)`), created at 0 on first use; the labels are made only then. */
  series(k: string, labels: () => Labels): CounterSeries {
    let v = this.values.get(k);
    if (!v) this.values.set(k, (v = { labels: labels(), value: 0 }));
    return v;
  }
}

class Histogram {
  readonly values = new Map<string, HistogramSeries>();
  constructor(readonly name: string, readonly help: string, readonly bounds: number[]) {}
  /** The series under key `k` (`key(labels)`), created empty on first use. */
  series(k: string, labels: () => Labels): HistogramSeries {
    let v = this.values.get(k);
    if (!v) this.values.set(k, (v = { labels: labels(), buckets: new Array(this.bounds.length).fill(0), sum: 0, count: 0 }));
    return v;
  }
  /** One bucket per observation (the first bound it is within); rendering sums them up. */
  add(v: HistogramSeries, value: number) {
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        v.buckets[i]!++;
        break;
      }
    }
    v.sum += value;
    v.count++;
  }
}

const TOKEN_KINDS = ["input", "cached", "cache_write", "output", "reasoning"] as const;

/**
 * The series one provider and model write to, found with two map lookups on strings the rows
 * share: no series key is built and no label object is made per row. Each series is still created
 * only when first counted, so a series that was never counted is never rendered.
 */
type ModelSeries = {
  provider: string;
  model: string;
  requests: Map<number, CounterSeries>;
  tokens: Array<CounterSeries | undefined>;
  cost?: CounterSeries;
  unpriced?: CounterSeries;
  latency?: HistogramSeries;
  ttfb?: HistogramSeries;
};

const esc = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
const fmtLabels = (labels: Labels, extra?: Labels) => {
  const all = { ...labels, ...extra };
  const parts = Object.entries(all).map(([k, v]) => `${k}="${esc(v)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
};

/** Values read when /metrics is rendered: gauges, or counters kept elsewhere (`type: "counter"`, names ending in `_total`). */
export type Gauges = () => Array<{ name: string; help: string; value: number; labels?: Labels; type?: "counter" }>;

export class Metrics {
  readonly requests = new Counter("llm_proxy_requests_total", "Requests by provider, model and HTTP status.");
  readonly tokens = new Counter("llm_proxy_tokens_total", "Tokens by provider, model and kind (input, cached, cache_write, output, reasoning).");
  readonly cost = new Counter("llm_proxy_cost_usd_total", "Cost in USD of priced requests by provider and model.");
  readonly unpriced = new Counter("llm_proxy_unpriced_requests_total", "Requests with tokens but no price (successes, and clients that left mid-call).");
  readonly upstreamErrors = new Counter("llm_proxy_upstream_errors_total", "Failed upstream attempts by provider and error class.");
  readonly retries = new Counter("llm_proxy_upstream_retries_total", "Upstream attempts beyond the first, by provider.");
  readonly latency = new Histogram("llm_proxy_request_duration_seconds", "Request latency.", LATENCY_BOUNDS_MS.map((b) => b / 1000));
  readonly ttfb = new Histogram("llm_proxy_time_to_first_byte_seconds", "Time to first byte.", LATENCY_BOUNDS_MS.map((b) => b / 1000));
  private gauges: Gauges[] = [];

  /** Adds on-demand gauges (queue depth, in-flight, process and host figures). */
  addGauges(g: Gauges): void {
    this.gauges.push(g);
  }

  /** Updates counters from one written request-log row (`attempts` already parsed, if the caller has them). */
  observe(row: RowFacts & { attempts?: unknown }, attempts?: Array<{ ok: boolean; errorClass?: string; target: string }>): void {
    const s = this.seriesOf(row.provider ?? "none", row.upstream_model ?? row.requested_model ?? "none");
    (s.requests.get(row.status) ?? this.requestSeries(s, row.status)).value++;
    // One call per kind rather than an array of the five counts per row.
    if (row.input_tokens) this.addTokens(s, 0, row.input_tokens);
    if (row.cached_tokens) this.addTokens(s, 1, row.cached_tokens);
    if (row.cache_write_tokens) this.addTokens(s, 2, row.cache_write_tokens);
    if (row.output_tokens) this.addTokens(s, 3, row.output_tokens);
    if (row.reasoning_tokens) this.addTokens(s, 4, row.reasoning_tokens);
    if (row.cost_pico !== null) (s.cost ?? this.modelSeries(s, "cost")).value += Number(row.cost_pico) / 1e12;
    // The rollups' rule (the counter starts with the process, so every row follows the current one).
    else if (rollupUnpriced(row, 0)) (s.unpriced ?? this.modelSeries(s, "unpriced")).value++;
    const list = attempts ?? attemptsOf<{ ok: boolean; errorClass?: string; target: string }>(row);
    if (list) {
      for (let i = 0; i < list.length; i++) {
        const a = list[i]!;
        if (a.ok && i === 0) continue;
        const p = labelProvider(a.target);
        if (!a.ok && a.errorClass !== "cancelled") this.upstreamErrors.inc({ provider: p, error_class: a.errorClass ?? "unknown" });
        if (i > 0) this.retries.inc({ provider: p });
      }
    }
    this.latency.add(s.latency ?? this.timingSeries(s, "latency"), row.latency_ms / 1000);
    if (row.ttfb_ms !== null) this.ttfb.add(s.ttfb ?? this.timingSeries(s, "ttfb"), row.ttfb_ms / 1000);
  }

  // The series are created in these helpers, not in observe(): a closure anywhere in a function
  // (even in a branch that never runs) makes every call of it allocate a scope object.

  /** Adds `n` tokens of kind `TOKEN_KINDS[i]` to the series' counter. */
  private addTokens(s: ModelSeries, i: number, n: number): void {
    (s.tokens[i] ?? this.tokenSeries(s, i)).value += n;
  }

  private requestSeries(s: ModelSeries, status: number): CounterSeries {
    const { provider, model } = s;
    const series = this.requests.series(`${provider}\u0000${model}\u0000${status}`, () => ({ provider, model, status: String(status) }));
    s.requests.set(status, series);
    return series;
  }

  private tokenSeries(s: ModelSeries, i: number): CounterSeries {
    const { provider, model } = s;
    const kind = TOKEN_KINDS[i]!;
    return (s.tokens[i] = this.tokens.series(`${provider}\u0000${model}\u0000${kind}`, () => ({ provider, model, kind })));
  }

  private modelSeries(s: ModelSeries, counter: "cost" | "unpriced"): CounterSeries {
    const { provider, model } = s;
    return (s[counter] = this[counter].series(`${provider}\u0000${model}`, () => ({ provider, model })));
  }

  private timingSeries(s: ModelSeries, histogram: "latency" | "ttfb"): HistogramSeries {
    const provider = s.provider;
    return (s[histogram] = this[histogram].series(provider, () => ({ provider })));
  }

  private readonly byProvider = new Map<string, Map<string, ModelSeries>>();

  /** The series of the last row: rows of a busy model follow each other (no map lookups then). */
  private last: ModelSeries | undefined;

  private seriesOf(provider: string, model: string): ModelSeries {
    const last = this.last;
    if (last !== undefined && last.provider === provider && last.model === model) return last;
    let models = this.byProvider.get(provider);
    if (!models) this.byProvider.set(provider, (models = new Map()));
    let s = models.get(model);
    if (!s) models.set(model, (s = { provider, model, requests: new Map(), tokens: [] }));
    return (this.last = s);
  }

  gaugeValues() {
    return this.gauges.flatMap((g) => g());
  }

  /** Prometheus text exposition format (version 0.0.4). */
  render(): string {
    const out: string[] = [];
    for (const c of [this.requests, this.tokens, this.cost, this.unpriced, this.upstreamErrors, this.retries]) {
      out.push(`# HELP ${c.name} ${c.help}`, `# TYPE ${c.name} counter`);
      for (const v of c.values.values()) out.push(`${c.name}${fmtLabels(v.labels)} ${v.value}`);
    }
    for (const h of [this.latency, this.ttfb]) {
      out.push(`# HELP ${h.name} ${h.help}`, `# TYPE ${h.name} histogram`);
      for (const v of h.values.values()) {
        let cumulative = 0;
        h.bounds.forEach((b, i) => out.push(`${h.name}_bucket${fmtLabels(v.labels, { le: String(b) })} ${(cumulative += v.buckets[i]!)}`));
        out.push(`${h.name}_bucket${fmtLabels(v.labels, { le: "+Inf" })} ${v.count}`);
        out.push(`${h.name}_sum${fmtLabels(v.labels)} ${v.sum}`, `${h.name}_count${fmtLabels(v.labels)} ${v.count}`);
      }
    }
    const seen = new Set<string>();
    for (const g of this.gaugeValues()) {
      if (!seen.has(g.name)) {
        out.push(`# HELP ${g.name} ${g.help}`, `# TYPE ${g.name} ${g.type ?? "gauge"}`);
        seen.add(g.name);
      }
      out.push(`${g.name}${fmtLabels(g.labels ?? {})} ${g.value}`);
    }
    return out.join("\n") + "\n";
  }
}
