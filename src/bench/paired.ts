/**
 * The paired phase of `bun run bench`: every server runs at once (all pinned to the server core,
 * idle while the others are loaded) and they take turns, one short slice of load each, rotating
 * the order every slice. A ratio is taken within each slice set (seconds apart), then the median
 * over the slice sets. The machine's speed drifts by ±30% within minutes, which moves the rounds'
 * medians (each target measured ~30 s after the other) more than it moves these per-slice ratios.
 */
import { CHAT_BODY } from "./fixtures.ts";
import type { LoadGen, Target } from "./loadgen.ts";
import * as P from "./procs.ts";
import { median, TARGETS } from "./report.ts";

export type PairedServer = { name: string; pid: number; target: Target };
export type Slice = { rps: number; cpuUsPerRequest: number; errors: number; requests: number };
/** connections → server name → one entry per slice set, in order. */
export type PairedResult = Record<number, Record<string, Slice[]>>;

export async function runPaired(
  servers: PairedServer[],
  load: LoadGen,
  opts: { connections: number[]; slices: number; sliceDuration: number; warmup: number },
): Promise<PairedResult> {
  for (const s of servers) await load.run(s.target, CHAT_BODY, 32, Math.max(1, opts.warmup));
  const result: PairedResult = {};
  for (const c of opts.connections) {
    const byServer: Record<string, Slice[]> = Object.fromEntries(servers.map((s) => [s.name, []]));
    for (let i = 0; i < opts.slices; i++) {
      const k = i % servers.length; // every server takes every position in turn
      for (const s of [...servers.slice(k), ...servers.slice(0, k)]) {
        const cpu0 = P.cpuSeconds(s.pid);
        const r = await load.run(s.target, CHAT_BODY, c, opts.sliceDuration);
        const cpu = P.cpuSeconds(s.pid) - cpu0;
        byServer[s.name]!.push({ rps: r.rps, requests: r.requests, errors: r.errors, cpuUsPerRequest: r.requests ? (cpu * 1e6) / r.requests : NaN });
      }
    }
    result[c] = byServer;
  }
  return result;
}

/** Median over slice sets of a / b, each taken within one set. */
export function pairedRatio(a: Slice[], b: Slice[]): number {
  return median(a.map((x, i) => x.rps / b[i]!.rps));
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** The phase's table and its pass/fail lines (the same targets as the rounds). */
export function pairedReport(result: PairedResult, opts: { connections: number[]; slices: number; sliceDuration: number }): string {
  const names = Object.keys(result[opts.connections[0]!] ?? {});
  const lines = [
    `## Paired slices (all servers side by side, taking turns: ${opts.slices} slices of ${opts.sliceDuration} s per server and connection count)\n`,
    `| metric | ${names.join(" | ")} |`,
    `|---|${names.map(() => "---:").join("|")}|`,
  ];
  const ratio: Record<number, number> = {};
  const logCost: Record<number, number> = {};
  for (const c of opts.connections) {
    const r = result[c]!;
    lines.push(`| requests/s, ${c} conns (median) | ${names.map((n) => median(r[n]!.map((s) => s.rps)).toFixed(0)).join(" | ")} |`);
    lines.push(`| server CPU per request, ${c} conns (µs) | ${names.map((n) => median(r[n]!.map((s) => s.cpuUsPerRequest)).toFixed(0)).join(" | ")} |`);
    if (r["passthrough"]) {
      lines.push(`| ratio to the passthrough, ${c} conns (median of per-slice ratios) | ${names.map((n) => `${pairedRatio(r[n]!, r["passthrough"]!).toFixed(2)}×`).join(" | ")} |`);
      if (r["llm-proxy"]) ratio[c] = pairedRatio(r["llm-proxy"]!, r["passthrough"]!);
    }
    if (r["llm-proxy"] && r["llm-proxy, log off"]) logCost[c] = 1 - pairedRatio(r["llm-proxy"]!, r["llm-proxy, log off"]!);
  }
  const errors = names.map((n) => opts.connections.reduce((k, c) => k + result[c]![n]!.reduce((e, s) => e + s.errors, 0), 0));
  const ok = names.map((n) => opts.connections.reduce((k, c) => k + result[c]![n]!.reduce((e, s) => e + s.requests, 0), 0));
  lines.push(`| failed / ok requests | ${names.map((_, i) => `${errors[i]} / ${ok[i]}`).join(" | ")} |`);
  lines.push("");
  for (const c of opts.connections) {
    if (ratio[c] !== undefined) {
      lines.push(`- ${ratio[c]! >= TARGETS.minRpsRatio ? "PASS" : "FAIL"} — paired: non-streaming requests/s ≥ 50% of passthrough @ ${c} conns: ${(100 * ratio[c]!).toFixed(0)}%`);
    }
  }
  const costs = Object.values(logCost);
  if (costs.length) {
    const worst = Math.max(...costs);
    const each = opts.connections.filter((c) => logCost[c] !== undefined).map((c) => `${pct(logCost[c]!)} @ ${c} conns`).join(", ");
    lines.push(`- ${worst <= TARGETS.maxLogCost ? "PASS" : "FAIL"} — paired: logging costs ≤ 10% of requests/s: ${each}`);
  }
  return lines.join("\n");
}
