import { describe, expect, test } from "bun:test";
import type { RequestRow } from "../db/request-log.ts";
import { Hub, type LiveSocket } from "./hub.ts";
import { Metrics } from "./metrics.ts";
import { ProviderHealthTracker } from "./provider-health.ts";

function fakeSocket(buffered = 0) {
  const sent: string[] = [];
  const socket: LiveSocket & { sent: string[]; buffered: number } = {
    sent,
    buffered,
    send(data) {
      if (this.buffered > 0) return 0;
      sent.push(data);
      return data.length;
    },
    getBufferedAmount() {
      return this.buffered;
    },
  };
  return socket;
}

describe("hub", () => {
  test("publishes to subscribers of a topic only", () => {
    const hub = new Hub();
    const a = fakeSocket();
    const b = fakeSocket();
    hub.add(a, ["requests"]);
    hub.add(b, ["metrics"]);
    hub.publish("requests", { n: 1 });
    expect(a.sent.map((m) => JSON.parse(m))).toEqual([{ topic: "requests", data: { n: 1 } }]);
    expect(b.sent).toEqual([]);
    expect(hub.subscribers("metrics")).toBe(1);
    hub.remove(b);
    expect(hub.subscribers("metrics")).toBe(0);
  });

  test("a slow client gets its oldest messages dropped and the rest on drain; others are unaffected", () => {
    const hub = new Hub({ maxQueue: 3, maxBufferedBytes: 100 });
    const slow = fakeSocket(1000);
    const fast = fakeSocket();
    hub.add(slow);
    hub.add(fast);
    for (let i = 0; i < 6; i++) hub.publish("requests", i);
    expect(fast.sent.length).toBe(6);
    expect(slow.sent.length).toBe(0);
    expect(hub.stats.dropped).toBe(3);
    slow.buffered = 0;
    hub.drain(slow);
    expect(slow.sent.map((m) => JSON.parse(m).data)).toEqual([3, 4, 5]);
  });
});

const row = (over: Partial<RequestRow> = {}): RequestRow => ({
  id: "req_1", received_at: 0, first_byte_at: null, finished_at: 100, client_key_id: "k", endpoint: "chat.completions",
  requested_model: "gpt-4o", provider: "oa", provider_type: "openai", upstream_model: "gpt-4o", response_model: null,
  pricing_entry: null, pricing_rule: null, attempts: JSON.stringify([{ target: "oa/gpt-4o", ok: true, durationMs: 90 }]),
  status: 200, error_class: null, error_message: null, stream: 0, input_tokens: 10, cached_tokens: 2, cache_write_tokens: null,
  output_tokens: 5, reasoning_tokens: null, usage_estimated: 0, usage_raw: null, cost_pico: 1_500_000, cost_breakdown: null,
  warnings: null, latency_ms: 100, ttfb_ms: 40, client_ip: null, user_agent: null, project: null, ...over,
});

test("metrics render valid Prometheus text with counters, histograms and gauges", () => {
  const m = new Metrics();
  m.addGauges(() => [{ name: "llm_proxy_log_queue_depth", help: "Rows waiting.", value: 3 }]);
  m.observe(row());
  m.observe(row({ status: 502, cost_pico: null, attempts: JSON.stringify([{ target: "oa/gpt-4o", ok: false, errorClass: "upstream_5xx" }, { target: "b/x", ok: false, errorClass: "timeout" }]) }));
  const text = m.render();
  expect(text).toContain('llm_proxy_requests_total{provider="oa",model="gpt-4o",status="200"} 1');
  expect(text).toContain('llm_proxy_tokens_total{provider="oa",model="gpt-4o",kind="input"} 20');
  expect(text).toContain('llm_proxy_cost_usd_total{provider="oa",model="gpt-4o"} 0.0000015');
  expect(text).toContain('llm_proxy_upstream_errors_total{provider="oa",error_class="upstream_5xx"} 1');
  const left = new Metrics();
  left.observe(row({ status: 499, attempts: JSON.stringify([{ target: "oa/gpt-4o", ok: false, errorClass: "cancelled" }]) }));
  expect(left.render()).not.toContain("llm_proxy_upstream_errors_total{"); // a client that left is not an upstream error
  left.observe(row({ status: 499, cost_pico: null, usage_estimated: 1 })); // tokens and no price: counted, never a silent $0
  left.observe(row({ status: 502, cost_pico: null }));
  expect(left.render()).toContain('llm_proxy_unpriced_requests_total{provider="oa",model="gpt-4o"} 1');
  expect(text).toContain('llm_proxy_upstream_retries_total{provider="b"} 1');
  expect(text).toContain('llm_proxy_request_duration_seconds_bucket{provider="oa",le="+Inf"} 2');
  // Buckets are cumulative: each counts every observation at or below its bound.
  m.observe(row({ latency_ms: 7, ttfb_ms: 400_000 }));
  const after = m.render();
  const bucket = (name: string, le: string) => {
    const prefix = `${name}_bucket{provider="oa",le="${le}"} `;
    const line = after.split("\n").find((l) => l.startsWith(prefix));
    return line === undefined ? NaN : Number(line.slice(prefix.length));
  };
  expect([bucket("llm_proxy_request_duration_seconds", "0.01"), bucket("llm_proxy_request_duration_seconds", "0.05")]).toEqual([1, 1]);
  expect([bucket("llm_proxy_request_duration_seconds", "0.1"), bucket("llm_proxy_request_duration_seconds", "300"), bucket("llm_proxy_request_duration_seconds", "+Inf")]).toEqual([3, 3, 3]);
  // A time past the last bound is only in +Inf (and in _count and _sum).
  expect([bucket("llm_proxy_time_to_first_byte_seconds", "0.025"), bucket("llm_proxy_time_to_first_byte_seconds", "0.05"), bucket("llm_proxy_time_to_first_byte_seconds", "300")]).toEqual([0, 2, 2]);
  expect(bucket("llm_proxy_time_to_first_byte_seconds", "+Inf")).toBe(3);
  expect(after).toContain('llm_proxy_time_to_first_byte_seconds_count{provider="oa"} 3');
  expect(text).toContain("# TYPE llm_proxy_log_queue_depth gauge\nllm_proxy_log_queue_depth 3");
  m.addGauges(() => [{ name: "llm_proxy_log_producer_waits_total", help: "Waits.", value: 2, type: "counter" }]);
  expect(m.render()).toContain("# TYPE llm_proxy_log_producer_waits_total counter\nllm_proxy_log_producer_waits_total 2"); // a _total is a counter
  for (const line of text.trim().split("\n")) expect(line).toMatch(/^(# (HELP|TYPE) \S+ .+|[a-z_]+(\{[^}]*\})? [0-9.e+-]+)$/);
});

test("provider health follows traffic: healthy, degraded, down, and change events", () => {
  let now = 1_000_000;
  const changes: string[] = [];
  const t = new ProviderHealthTracker((p, from, to) => changes.push(`${p}:${from}->${to}`), () => now);
  const attempt = (ok: boolean, errorClass?: string) => row({ attempts: JSON.stringify([{ target: "oa/m", ok, errorClass, durationMs: 50 }]) });
  t.observe(attempt(true));
  expect(t.health("oa").status).toBe("healthy");
  t.observe(attempt(false, "bad_request")); // the client's fault: ignored
  t.observe(attempt(false, "cancelled")); // the request ended mid-call (its client left): ignored
  expect(t.health("oa").errors).toBe(0);
  t.observe(attempt(false, "upstream_5xx"));
  t.observe(attempt(false, "upstream_5xx"));
  expect(t.health("oa").status).toBe("degraded");
  t.observe(attempt(false, "timeout"));
  expect(t.health("oa").status).toBe("down");
  expect(t.health("oa").last_error?.error_class).toBe("timeout");
  now += 10 * 60_000;
  expect(t.idleFor("oa", 5 * 60_000)).toBe(true);
  t.probe("oa", true);
  expect(t.health("oa").status).toBe("healthy");
  expect(changes).toEqual(["oa:unknown->healthy", "oa:healthy->degraded", "oa:degraded->down", "oa:down->healthy"]);
});

test("provider health counts the newest 1,000 calls within the last 5 minutes", () => {
  let now = 1_000_000;
  const t = new ProviderHealthTracker(undefined, () => now);
  const call = (ok: boolean, durationMs: number) => t.observe(row({ attempts: JSON.stringify([{ target: "oa/m", ok, errorClass: ok ? undefined : "upstream_5xx", durationMs }]) }));
  for (let i = 0; i < 400; i++) call(false, 10);
  now += 1000;
  for (let i = 0; i < 1200; i++) call(true, 20 + (i % 3));
  // The failures were pushed out by newer calls: only the newest 1,000 are kept.
  expect(t.health("oa")).toMatchObject({ requests: 1000, errors: 0, status: "healthy", latency_p50_ms: 21 });
  now += 4 * 60_000;
  for (let i = 0; i < 3; i++) call(false, 5);
  expect(t.health("oa")).toMatchObject({ requests: 1000, errors: 3, status: "down" });
  // Past the window, only the calls of the last 5 minutes count.
  now += 2 * 60_000;
  expect(t.health("oa")).toMatchObject({ requests: 3, errors: 3 });
  expect(t.idleFor("oa", 2 * 60_000 - 1)).toBe(true);
  expect(t.idleFor("oa", 2 * 60_000)).toBe(false);
  expect(t.idleFor("nobody", 1)).toBe(true);
});

test("metrics: series appear only once counted, and repeated rows add up in the same series", () => {
  const m = new Metrics();
  for (let i = 0; i < 3; i++) m.observe(row());
  m.observe(row({ provider: "b", upstream_model: "m2", cost_pico: null, status: 200, input_tokens: 4, output_tokens: 1, cached_tokens: null, ttfb_ms: null }));
  const text = m.render();
  expect(text).toContain('llm_proxy_requests_total{provider="oa",model="gpt-4o",status="200"} 3');
  expect(text).toContain('llm_proxy_tokens_total{provider="oa",model="gpt-4o",kind="cached"} 6');
  expect(text).toContain('llm_proxy_tokens_total{provider="oa",model="gpt-4o",kind="output"} 15');
  expect(text).not.toContain('kind="cache_write"'); // never counted: no series
  expect(text).not.toContain('kind="reasoning"');
  expect(text).toContain('llm_proxy_unpriced_requests_total{provider="b",model="m2"} 1');
  expect(text).not.toContain('llm_proxy_cost_usd_total{provider="b"');
  expect(text).toContain('llm_proxy_time_to_first_byte_seconds_count{provider="oa"} 3');
  expect(text).not.toContain('llm_proxy_time_to_first_byte_seconds_count{provider="b"}');
  expect(text).toContain('llm_proxy_request_duration_seconds_count{provider="b"} 1');
});

test("metrics: a provider and model's series are created as they are first counted, in any order", () => {
  const m = new Metrics();
  m.observe(row({ reasoning_tokens: null }));
  expect(m.render()).not.toContain('kind="reasoning"');
  m.observe(row({ status: 429, reasoning_tokens: 7, input_tokens: 1, cached_tokens: null, output_tokens: null, cost_pico: null, ttfb_ms: null }));
  m.observe(row({ reasoning_tokens: 3 }));
  const text = m.render();
  expect(text).toContain('llm_proxy_requests_total{provider="oa",model="gpt-4o",status="200"} 2');
  expect(text).toContain('llm_proxy_requests_total{provider="oa",model="gpt-4o",status="429"} 1');
  expect(text).toContain('llm_proxy_tokens_total{provider="oa",model="gpt-4o",kind="reasoning"} 10');
  expect(text).toContain('llm_proxy_tokens_total{provider="oa",model="gpt-4o",kind="input"} 21');
  expect(text).toContain('llm_proxy_cost_usd_total{provider="oa",model="gpt-4o"} 0.000003');
  expect(text).not.toContain("llm_proxy_unpriced_requests_total{"); // the 429 had no price and is an error
  expect(text).toContain('llm_proxy_time_to_first_byte_seconds_count{provider="oa"} 2');
  expect(text).toContain('llm_proxy_request_duration_seconds_count{provider="oa"} 3');
});
