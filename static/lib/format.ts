/** Display formatting: numbers, money, bytes, durations and times. Missing values show as "–". */

export const DASH = "–";

const intFmt = new Intl.NumberFormat("en-US");

export function int(n: number | null | undefined): string {
  return n == null || !Number.isFinite(n) ? DASH : intFmt.format(Math.round(n));
}

/** 1234 → "1.2k", 5_600_000 → "5.6M": for chart axes and stat cards. */
export function compact(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return DASH;
  const a = Math.abs(n);
  if (a < 1000) return String(Math.round(n * 100) / 100);
  const units: Array<[number, string]> = [[1e12, "T"], [1e9, "B"], [1e6, "M"], [1e3, "k"]];
  for (const [v, s] of units) if (a >= v) return `${trim((n / v).toFixed(a / v < 10 ? 1 : 0))}${s}`;
  return String(n);
}

function trim(s: string): string {
  return s.includes(".") ? s.replace(/\.?0+$/, "") : s;
}

/**
 * Whether a request without a cost is unpriced (the provider may bill it and no price is known) or
 * simply cost nothing (it failed, or no tokens were used). The server's rule (`isUnpriced` in
 * request-log.ts): tokens, and a success or a client that left mid-call (499).
 */
export function isUnpricedRow(r: { cost_usd: number | null; status: number | string; error_class?: string | null; input_tokens: number | null; output_tokens: number | null }): boolean {
  const status = Number(r.status);
  return r.cost_usd === null && (r.input_tokens !== null || r.output_tokens !== null) && (status < 400 || status === 499 || r.error_class === "server_shutdown");
}

/**
 * US dollars with enough precision for per-request costs ($0.000125) without noise on large ones.
 * `null` means unpriced, which is never shown as $0.
 */
export function usd(n: number | null | undefined, unpriced = "unpriced"): string {
  if (n === null) return unpriced;
  if (n === undefined || !Number.isFinite(n)) return DASH;
  if (n === 0) return "$0";
  const a = Math.abs(n);
  const s = a >= 1 ? money.format(a) : trim(a.toFixed(a >= 0.01 ? 4 : a >= 0.0001 ? 6 : 8));
  return (n < 0 ? "-$" : "$") + s;
}

const money = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** pico-USD (integer, 10^-12 USD) → USD number. */
export const picoToUsd = (pico: number | null | undefined) => (pico == null ? null : pico / 1e12);

export function pct(n: number | null | undefined, digits = 1): string {
  return n == null || !Number.isFinite(n) ? DASH : `${(n * 100).toFixed(digits)}%`;
}

export function ms(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return DASH;
  if (n >= 10_000) return `${(n / 1000).toFixed(1)} s`;
  if (n >= 1000) return `${(n / 1000).toFixed(2)} s`;
  return `${Math.round(n)} ms`;
}

export function bytes(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return DASH;
  const units = ["B", "KB", "MB", "GB", "TB", "PB"];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? (v % 1 && v < 10 ? v.toFixed(1) : Math.round(v)) : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function duration(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds)) return DASH;
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

/** Accepts epoch ms or an ISO string. */
export function toDate(t: number | string | null | undefined): Date | null {
  if (t == null || t === "") return null;
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? null : d;
}

export function dateTime(t: number | string | null | undefined): string {
  const d = toDate(t);
  return d ? d.toLocaleString(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" }) : DASH;
}

export function time(t: number | string | null | undefined): string {
  const d = toDate(t);
  if (!d) return DASH;
  const sameDay = d.toDateString() === new Date().toDateString();
  return sameDay
    ? d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" })
    : d.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

export function ago(t: number | string | null | undefined, now = Date.now()): string {
  const d = toDate(t);
  if (!d) return DASH;
  const s = Math.round((now - d.getTime()) / 1000);
  if (s < 5) return "just now";
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** HTTP status of a request-log row → ok / error (the API may also send "ok" / "error"). */
export function isOk(status: number | string | null | undefined): boolean {
  if (typeof status === "string") return status === "ok" || /^[23]\d\d$/.test(status);
  return status != null && status < 400;
}

/** "a, b, c" or newline-separated text → trimmed, non-empty items. */
export function splitList(text: string): string[] {
  return text
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter(Boolean);
}

export function json(value: unknown): string {
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}
