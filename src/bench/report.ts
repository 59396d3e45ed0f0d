/** Medians over rounds, the Markdown comparison table and the pass/fail lines for the targets. */
import type { LoadResult, TtfbResult } from "./loadgen.ts";
import type { ThreadCpu } from "./procs.ts";

/** Everything measured for one target (passthrough or llm-proxy) in one round. */
export type RoundResult = {
  load: Record<number, LoadResult>;
  /** Per connection count: CPU of the server process (% of one core), split by thread kind, and busy % of each core. */
  cpu: Record<number, { server: number; threads?: ThreadCpu; cores: number[] }>;
  latency: LoadResult;
  ttfb: TtfbResult;
  /** VmHWM right after the run at the largest connection count, MiB. */
  rssPeak: number;
  /** VmRSS after start-up and the readiness check, before any load, MiB. */
  rssIdle: number;
};

export const TARGETS = {
  minRpsRatio: 0.5,
  maxTtfbAddedMs: 1,
  maxRssMiB: 150,
  /** Logging on may cost at most this share of the requests/s with it off. */
  maxLogCost: 0.1,
};

export function median(xs: number[]): number {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const fmt = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : "n/a");
const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}×` : "n/a");
const plus = (x: number, digits = 3) => (Number.isFinite(x) ? `${x >= 0 ? "+" : "−"}${Math.abs(x).toFixed(digits)}` : "n/a");

export type Summary = ReturnType<typeof summarize>;

/** CPU µs per request at `c` connections, from a CPU share (% of one core) of the summary (`serverCpu`, `mainCpu`, …). */
export function cpuPerRequestUs(s: Summary, cpu: Record<number, number>, c: number): number {
  return ((cpu[c]! / 100) * 1e6) / s.rps[c]!;
}

/** Medians across rounds for one target. */
export function summarize(rounds: RoundResult[], connections: number[]) {
  const m = (f: (r: RoundResult) => number) => median(rounds.map(f));
  return {
    rps: Object.fromEntries(connections.map((c) => [c, m((r) => r.load[c]!.rps)])) as Record<number, number>,
    serverCpu: Object.fromEntries(connections.map((c) => [c, m((r) => r.cpu[c]!.server)])) as Record<number, number>,
    mainCpu: Object.fromEntries(connections.map((c) => [c, m((r) => r.cpu[c]!.threads?.main ?? NaN)])) as Record<number, number>,
    httpClientCpu: Object.fromEntries(connections.map((c) => [c, m((r) => r.cpu[c]!.threads?.httpClient ?? NaN)])) as Record<number, number>,
    loadCore: Object.fromEntries(connections.map((c) => [c, m((r) => r.cpu[c]!.cores[1] ?? NaN)])) as Record<number, number>,
    latP50: m((r) => r.latency.p50),
    latP99: m((r) => r.latency.p99),
    ttfbP50: m((r) => r.ttfb.p50),
    ttfbP99: m((r) => r.ttfb.p99),
    rssPeak: m((r) => r.rssPeak),
    rssIdle: m((r) => r.rssIdle),
    errors: rounds.reduce(
      (n, r) => n + r.latency.errors + r.ttfb.errors + Object.values(r.load).reduce((k, l) => k + l.errors, 0),
      0,
    ),
    ok: rounds.reduce((n, r) => n + r.latency.requests + r.ttfb.requests + Object.values(r.load).reduce((k, l) => k + l.requests, 0), 0),
  };
}

export function table(pt: Summary, gw: Summary, connections: number[], rounds: number): string {
  const big = Math.max(...connections);
  const rows: string[][] = [["metric", "passthrough", "llm-proxy", "ratio (llm-proxy / passthrough)"]];
  for (const c of connections) rows.push([`requests/s, non-streaming, ${c} conns`, fmt(pt.rps[c]!, 0), fmt(gw.rps[c]!, 0), ratio(gw.rps[c]!, pt.rps[c]!)]);
  const ms = (name: string, a: number, b: number) =>
    rows.push([name, fmt(a, 3), fmt(b, 3), `${ratio(b, a)} (${plus(b - a)} ms added)`]);
  ms("latency p50 @ 1 conn (ms)", pt.latP50, gw.latP50);
  ms("latency p99 @ 1 conn (ms)", pt.latP99, gw.latP99);
  ms("streaming TTFB p50, first data chunk (ms)", pt.ttfbP50, gw.ttfbP50);
  ms("streaming TTFB p99, first data chunk (ms)", pt.ttfbP99, gw.ttfbP99);
  rows.push([`peak RSS @ ${big} conns, VmHWM (MiB)`, fmt(pt.rssPeak, 1), fmt(gw.rssPeak, 1), ratio(gw.rssPeak, pt.rssPeak)]);
  rows.push(["RSS idle after start (MiB)", fmt(pt.rssIdle, 1), fmt(gw.rssIdle, 1), ratio(gw.rssIdle, pt.rssIdle)]);
  for (const c of connections) {
    rows.push([`server CPU @ ${c} conns (% of its core)`, fmt(pt.serverCpu[c]!, 0), fmt(gw.serverCpu[c]!, 0), "—"]);
  }
  for (const c of connections) {
    const a = cpuPerRequestUs(pt, pt.serverCpu, c);
    const b = cpuPerRequestUs(gw, gw.serverCpu, c);
    rows.push([`server CPU time per request @ ${c} conns (µs)`, fmt(a, 0), fmt(b, 0), ratio(b, a)]);
  }
  // Where it goes: the JavaScript thread (routing, translation, logging) and Bun's HTTP client thread (the upstream `fetch`).
  for (const c of connections) {
    const a = cpuPerRequestUs(pt, pt.mainCpu, c);
    const b = cpuPerRequestUs(gw, gw.mainCpu, c);
    rows.push([`… on the JavaScript thread @ ${c} conns (µs)`, fmt(a, 0), fmt(b, 0), ratio(b, a)]);
    const x = cpuPerRequestUs(pt, pt.httpClientCpu, c);
    const y = cpuPerRequestUs(gw, gw.httpClientCpu, c);
    rows.push([`… on Bun's HTTP client thread @ ${c} conns (µs)`, fmt(x, 0), fmt(y, 0), ratio(y, x)]);
  }
  rows.push([`load core (cpu1) busy @ ${big} conns (%)`, fmt(pt.loadCore[big]!, 0), fmt(gw.loadCore[big]!, 0), "—"]);
  rows.push(["failed requests / ok requests (all rounds)", `${pt.errors} / ${pt.ok}`, `${gw.errors} / ${gw.ok}`, "—"]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join(" | ")} |`;
  const sep = `|${widths.map((w, i) => (i === 0 ? `${"-".repeat(w + 1)}-` : `${"-".repeat(w + 1)}:`)).join("|")}|`;
  const note = `Medians over ${rounds} round${rounds > 1 ? "s" : ""}.`;
  return [line(rows[0]!), sep, ...rows.slice(1).map(line), "", note].join("\n");
}

export function targets(pt: Summary, gw: Summary, connections: number[]): { text: string; pass: boolean } {
  const big = Math.max(...connections);
  const lines: Array<[boolean, string]> = [];
  for (const c of connections) {
    const r = gw.rps[c]! / pt.rps[c]!;
    lines.push([r >= TARGETS.minRpsRatio, `non-streaming requests/s ≥ 50% of passthrough @ ${c} conns: ${(100 * r).toFixed(0)}%`]);
  }
  const added = gw.ttfbP50 - pt.ttfbP50;
  lines.push([added <= TARGETS.maxTtfbAddedMs, `streaming TTFB median within 1 ms of passthrough: ${plus(added)} ms`]);
  lines.push([gw.rssPeak <= TARGETS.maxRssMiB, `peak RSS ≤ 150 MiB @ ${big} conns: ${fmt(gw.rssPeak, 1)} MiB`]);
  const notes = connections
    .filter((c) => pt.serverCpu[c]! < 90)
    .map((c) => {
      const why = pt.loadCore[c]! >= 90 ? "the load core was saturated, so the client side limited it" : "neither core was saturated (round trips or other processes limited it)";
      return `- note: at ${c} conns the passthrough used only ${fmt(pt.serverCpu[c]!, 0)}% of its core (load core ${fmt(pt.loadCore[c]!, 0)}% busy): ${why}; the ratio flatters llm-proxy`;
    });
  const text = [...lines.map(([ok, s]) => `- ${ok ? "PASS" : "FAIL"} — ${s}`), ...notes].join("\n");
  return { text, pass: lines.every(([ok]) => ok) };
}

/** One line per round and target, so the spread behind the medians is visible. */
export function roundLine(round: number, name: string, r: RoundResult, connections: number[]): string {
  const rps = connections.map((c) => `${c}c ${fmt(r.load[c]!.rps, 0)} rps (cpu ${fmt(r.cpu[c]!.server, 0)}%)`).join(", ");
  return (
    `round ${round} ${name.padEnd(11)} ${rps}; 1c p50 ${fmt(r.latency.p50, 3)} p99 ${fmt(r.latency.p99, 3)} ms; ` +
    `ttfb p50 ${fmt(r.ttfb.p50, 3)} p99 ${fmt(r.ttfb.p99, 3)} ms; VmHWM ${fmt(r.rssPeak, 1)} MiB`
  );
}
