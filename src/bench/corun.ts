#!/usr/bin/env bun
/**
 * Co-run: two servers pinned to the SAME core and loaded AT THE SAME TIME (one wrk each, on the
 * other core), their CPU per request read from /proc over the same seconds. Whatever the machine
 * does in those seconds (a neighbour's burst, a slow minute) hits both, so the ratio of their CPU
 * per request is steady where requests/s measured one after the other is not: two identical
 * gateways co-run came out within ±1.1% of each other in every 5 s round, while their absolute
 * CPU per request moved between 97 and 149 µs (README, session 13).
 *
 * Both share the core's caches, so absolute figures are higher than when each runs alone; the
 * ratio is what this measures. On one saturated core, requests/s ∝ 1 / CPU per request, so
 * cpu(A) / cpu(B) is B's requests/s as a share of A's at equal CPU.
 *
 *   bun run bench:ab [--rounds 8] [--seconds 5] [--connections 32] [--gateway source|binary] A B
 *
 * A and B: `passthrough`, `.` (this checkout), or the path of another checkout (its src/index.ts),
 * each optionally with `:log-off` (request log disabled). Examples:
 *   bun run bench:ab . .:log-off          what the request log costs
 *   bun run bench:ab passthrough .        the gateway against the bare passthrough
 *   bun run bench:ab /tmp/before .        an A/B of two builds (git worktree add /tmp/before HEAD~3)
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { choiceFlag, positiveFlag } from "./args.ts";
import { CHAT_BODY } from "./fixtures.ts";
import { chooseGateway, gatewayEnv, prepareGateway, ROOT, startGateway, type GatewayCommand } from "./gateway.ts";
import { bunLoadGen, wrkLoadGen, wrkVersion, type LoadGen, type Target } from "./loadgen.ts";
import * as P from "./procs.ts";
import { median } from "./report.ts";

export type CoRunServer = { name: string; pid: number; target: Target };
/** One round: each server's CPU µs per request and requests/s over the same seconds. */
export type CoRunRound = { cpu: [number, number]; rps: [number, number]; errors: number };

/**
 * Loads both servers at once for `rounds` rounds of `seconds` (after a warm-up of the same
 * length), each with its own load generator. Rounds with errors are kept and counted.
 */
export async function runCoRun(
  servers: [CoRunServer, CoRunServer],
  loads: [LoadGen, LoadGen],
  opts: { connections: number; rounds: number; seconds: number },
): Promise<CoRunRound[]> {
  const both = () => Promise.all([0, 1].map((i) => loads[i]!.run(servers[i]!.target, CHAT_BODY, opts.connections, opts.seconds)));
  await both(); // warm-up: JIT tiers, connection pools, SQLite pages
  const rounds: CoRunRound[] = [];
  for (let r = 0; r < opts.rounds; r++) {
    const cpu0 = servers.map((s) => P.cpuSeconds(s.pid));
    const out = await both();
    const cpu1 = servers.map((s) => P.cpuSeconds(s.pid));
    const perRequest = (i: number) => (out[i]!.requests ? ((cpu1[i]! - cpu0[i]!) * 1e6) / out[i]!.requests : NaN);
    rounds.push({ cpu: [perRequest(0), perRequest(1)], rps: [out[0]!.rps, out[1]!.rps], errors: out[0]!.errors + out[1]!.errors });
  }
  return rounds;
}

/** B's CPU per request over A's, per round: median and range. */
export function coRunRatio(rounds: CoRunRound[]): { median: number; min: number; max: number } {
  const ratios = rounds.map((r) => r.cpu[1] / r.cpu[0]).filter(Number.isFinite);
  if (!ratios.length) return { median: NaN, min: NaN, max: NaN };
  return { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) };
}

/** The two load generators of a co-run (wrk scripts are numbered across generators, so they share `tmpDir`). */
export function coRunLoads(tmpDir: string, wrk: string | undefined): [LoadGen, LoadGen] {
  const one = () => (wrk ? wrkLoadGen(tmpDir, wrk) : bunLoadGen());
  return [one(), one()];
}

/** One line of a co-run table: both servers' median CPU per request and the ratio. */
export function coRunLine(label: string, names: [string, string], rounds: CoRunRound[]): string {
  const r = coRunRatio(rounds);
  const cpu = (i: 0 | 1) => median(rounds.map((x) => x.cpu[i])).toFixed(1);
  const errors = rounds.reduce((n, x) => n + x.errors, 0);
  return `| ${label} | ${names[0]}: ${cpu(0)} µs | ${names[1]}: ${cpu(1)} µs | ${r.median.toFixed(3)} (${r.min.toFixed(3)}–${r.max.toFixed(3)}) | ${(1 / r.median).toFixed(3)}× | ${errors} |`;
}

export const CORUN_TABLE_HEAD =
  "| pair, connections | A: CPU per request (median) | B: CPU per request (median) | B / A CPU per request, median (range of rounds) | B's requests/s at equal CPU, as a share of A's | errors |\n|---|---:|---:|---:|---:|---:|";

/** `passthrough`, `.` or a checkout path, optionally `:log-off`. */
export type CoRunSpec = { kind: "passthrough" } | { kind: "gateway"; root: string; logOff: boolean };

export function parseSpec(text: string, cwd = process.cwd()): CoRunSpec {
  if (text === "passthrough") return { kind: "passthrough" };
  const logOff = text.endsWith(":log-off");
  const dir = path.resolve(cwd, logOff ? text.slice(0, -":log-off".length) : text);
  if (!fs.existsSync(path.join(dir, "src/index.ts"))) throw new Error(`'${text}': no src/index.ts in ${dir} (expected passthrough, . or a checkout path, optionally with :log-off)`);
  return { kind: "gateway", root: dir, logOff };
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(fs.readFileSync(import.meta.path, "utf8").split("*/")[0]);
    return;
  }
  const rounds = Math.round(positiveFlag(argv, "rounds", 8));
  const seconds = positiveFlag(argv, "seconds", 5);
  const connections = Math.round(positiveFlag(argv, "connections", 32));
  const gatewayMode = choiceFlag(argv, "gateway", ["source", "binary"] as const);
  const positional = argv.filter((a, i) => !a.startsWith("--") && !argv[i - 1]?.startsWith("--"));
  if (positional.length !== 2) throw new Error("give two servers to compare, e.g. `bun run bench:ab . .:log-off` (--help)");
  const specs = positional.map((t) => parseSpec(t)) as [CoRunSpec, CoRunSpec];

  P.installCleanup();
  P.pinSelf();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "llm-proxy-corun-"));
  P.onCleanup(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const mockPort = await P.freePort();
  const mock = P.spawnChild(P.CORE_LOAD, [process.execPath, path.join(import.meta.dir, "mock-upstream.ts"), String(mockPort), "0", "1"]);
  await P.waitReady(`http://127.0.0.1:${mockPort}/healthz`, mock);
  const servers: CoRunServer[] = [];
  for (const [i, spec] of specs.entries()) {
    const port = await P.freePort();
    const log = path.join(tmp, `server-${i}.log`);
    if (spec.kind === "passthrough") {
      const proc = P.spawnChild(P.CORE_SERVER, [process.execPath, path.join(import.meta.dir, "passthrough.ts"), String(port), String(mockPort)], { logFile: log, cwd: ROOT });
      await P.waitReady(`http://127.0.0.1:${port}/healthz`, proc, 30_000);
      servers.push({ name: "passthrough", pid: proc.pid, target: { url: `http://127.0.0.1:${port}/v1/chat/completions`, key: `llmp_${"x".repeat(43)}` } });
      continue;
    }
    const gw: GatewayCommand =
      gatewayMode === "binary" && spec.root === ROOT ? chooseGateway("binary") : { cmd: [process.execPath, path.join(spec.root, "src/index.ts")], label: `source (${spec.root})` };
    const dataDir = path.join(tmp, `data-${i}`);
    const key = prepareGateway(gw, dataDir, mockPort, spec.logOff ? "\n[request_log]\nenabled = false\n" : "");
    const proc = startGateway(gw, dataDir, port, log);
    await P.waitReady(`http://127.0.0.1:${port}/healthz`, proc, 60_000);
    const name = `${spec.root === ROOT ? "." : spec.root}${spec.logOff ? ", log off" : ""}`;
    servers.push({ name, pid: proc.pid, target: { url: `http://127.0.0.1:${port}/v1/chat/completions`, key } });
  }
  const wrk = wrkVersion();
  const loads = coRunLoads(tmp, wrk);
  console.log(`# co-run: ${servers[0]!.name} (A) and ${servers[1]!.name} (B), both on core ${P.CORE_SERVER}; ${rounds} rounds of ${seconds} s at ${connections} connections each; load: ${loads[0].name}\n`);
  const result = await runCoRun(servers as [CoRunServer, CoRunServer], loads, { connections, rounds, seconds });
  for (const [i, r] of result.entries()) {
    console.log(`round ${i + 1}: A ${r.cpu[0].toFixed(1)} µs/req (${r.rps[0].toFixed(0)} req/s), B ${r.cpu[1].toFixed(1)} µs/req (${r.rps[1].toFixed(0)} req/s), B/A ${(r.cpu[1] / r.cpu[0]).toFixed(3)}`);
  }
  console.log(`\n${CORUN_TABLE_HEAD}\n${coRunLine(`A / B, ${connections}`, [servers[0]!.name, servers[1]!.name], result)}`);
}

if (import.meta.main) {
  try {
    await main();
    process.exit(0);
  } catch (e) {
    console.error(`bench:ab: ${(e as Error).message}`);
    process.exit(2);
  }
}
