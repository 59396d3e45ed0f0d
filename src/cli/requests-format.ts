import type { RequestRow } from "../db/request-log.ts";

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `--since`: a duration back from now (30m, 2h, 7d) or a date/time (2026-11-01, 2026-11-01T12:00Z). */
export function parseSince(text: string, now = Date.now()): number {
  const m = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(text.trim());
  if (m) return now - Number(m[1]) * UNITS[m[2]!]!;
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new Error(`--since: '${text}' is neither a duration (30m, 2h, 7d) nor a date (2026-11-01)`);
  return t;
}

/** Pico-USD integer → USD as a number (the stored value stays an exact integer). */
export function picoToUsd(pico: bigint | number | null): number | null {
  return pico === null ? null : Number(pico) / 1e12;
}

/** One request as `requests --json` prints it. */
export function requestJson(r: RequestRow) {
  return {
    id: r.id,
    received_at: new Date(r.received_at).toISOString(),
    status: r.status,
    error_class: r.error_class,
    model: r.requested_model,
    provider: r.provider,
    upstream_model: r.upstream_model,
    response_model: r.response_model,
    stream: r.stream === 1,
    input_tokens: r.input_tokens,
    cached_tokens: r.cached_tokens,
    cache_write_tokens: r.cache_write_tokens,
    output_tokens: r.output_tokens,
    reasoning_tokens: r.reasoning_tokens,
    usage_estimated: r.usage_estimated === 1,
    cost_usd: picoToUsd(r.cost_pico),
    priced: r.cost_pico !== null,
    pricing_match: r.pricing_entry ? { entry: r.pricing_entry, rule: r.pricing_rule } : null,
    latency_ms: r.latency_ms,
    ttfb_ms: r.ttfb_ms,
    client_key_id: r.client_key_id,
    attempts: r.attempts ? JSON.parse(r.attempts).length : 0,
  };
}

/** A fixed-width table for terminals. */
export function formatRequestTable(rows: RequestRow[]): string {
  const head = ["TIME", "STATUS", "MODEL", "PROVIDER/UPSTREAM", "IN", "CACHED", "OUT", "COST USD", "MS"];
  const lines = rows.map((r) => [
    new Date(r.received_at).toISOString().slice(0, 19).replace("T", " "),
    String(r.status),
    (r.requested_model ?? "-").slice(0, 28),
    r.provider ? `${r.provider}/${r.upstream_model ?? ""}`.slice(0, 34) : "-",
    r.input_tokens === null ? "-" : String(r.input_tokens) + (r.usage_estimated ? "~" : ""),
    r.cached_tokens === null ? "-" : String(r.cached_tokens),
    r.output_tokens === null ? "-" : String(r.output_tokens),
    r.cost_pico === null ? (r.input_tokens || r.output_tokens ? "unpriced" : "-") : picoToUsd(r.cost_pico)!.toFixed(6),
    String(r.latency_ms),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i >= 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [fmt(head), ...lines.map(fmt)].join("\n") + "\n";
}
