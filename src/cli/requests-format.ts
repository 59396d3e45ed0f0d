import type { RequestRow } from "../db/request-log.ts";

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** A date, or a date and time (`T` or a space between), with an optional zone; without one it is UTC. */
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * `--since` (and the API's `since`): a duration back from now (30m, 2h, 7d) or a date/time
 * (2026-11-01, 2026-11-01T12:00, 2026-11-01 12:00:00 as `requests` prints it, 2026-11-01T12:00+02:00).
 * A time without a zone is UTC, like the times `requests` prints. Anything else (a bare number,
 * "yesterday", "Nov 1") is an error rather than a guess.
 */
export function parseSince(text: string, now = Date.now()): number {
  const t = text.trim();
  const m = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(t);
  if (m) return now - Number(m[1]) * UNITS[m[2]!]!;
  const d = DATE_TIME.exec(t);
  if (d) {
    const [, y, mo, day, h = "00", mi = "00", sec = "00", frac = "", zone = "Z"] = d;
    const iso = `${y}-${mo}-${day}T${h}:${mi}:${sec}${frac}${zone.toUpperCase() === "Z" ? "Z" : zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone}`;
    const ms = Date.parse(iso);
    // Date.parse rolls 2026-02-31 over to March: a real date reads back with the same day.
    if (!Number.isNaN(ms) && new Date(ms + (zone.toUpperCase() === "Z" ? 0 : offsetMs(zone))).toISOString().slice(0, 10) === `${y}-${mo}-${day}`) return ms;
  }
  throw new Error(`'${text}' is neither a duration (30m, 2h, 7d) nor a date (2026-11-01, 2026-11-01T09:30; times without a zone are UTC)`);
}

/** A `+02:00` / `-0530` zone's offset from UTC in ms. */
function offsetMs(zone: string): number {
  const sign = zone[0] === "-" ? -1 : 1;
  const digits = zone.slice(1).replace(":", "");
  return sign * (Number(digits.slice(0, 2)) * 3_600_000 + Number(digits.slice(2)) * 60_000);
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
    project: r.project,
    latency_ms: r.latency_ms,
    ttfb_ms: r.ttfb_ms,
    client_key_id: r.client_key_id,
    attempts: r.attempts ? JSON.parse(r.attempts).length : 0,
  };
}

/** A fixed-width table for terminals. */
export function formatRequestTable(rows: RequestRow[]): string {
  // A PROJECT column only when some row has one (the `x-llm-proxy-project` header).
  const projects = rows.some((r) => r.project !== null);
  const head = ["TIME (UTC)", "STATUS", "MODEL", ...(projects ? ["PROJECT"] : []), "PROVIDER/UPSTREAM", "IN", "CACHED", "OUT", "COST USD", "MS"];
  const numericFrom = head.indexOf("IN");
  const lines = rows.map((r) => [
    new Date(r.received_at).toISOString().slice(0, 19).replace("T", " "),
    String(r.status),
    (r.requested_model ?? "-").slice(0, 28),
    ...(projects ? [(r.project ?? "-").slice(0, 24)] : []),
    r.provider ? (r.upstream_model ? `${r.provider}/${r.upstream_model}` : r.provider).slice(0, 34) : "-",
    r.input_tokens === null ? "-" : String(r.input_tokens) + (r.usage_estimated ? "~" : ""),
    r.cached_tokens === null ? "-" : String(r.cached_tokens),
    r.output_tokens === null ? "-" : String(r.output_tokens),
    r.cost_pico === null ? (r.input_tokens || r.output_tokens ? "unpriced" : "-") : picoToUsd(r.cost_pico)!.toFixed(6),
    String(r.latency_ms),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i >= numericFrom ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [fmt(head), ...lines.map(fmt)].join("\n") + "\n";
}
