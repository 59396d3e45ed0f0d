#!/usr/bin/env bun
/**
 * Gateway benchmark: llm-proxy vs a bare Bun passthrough proxy, both in front of the same mock
 * upstream, measured in the same run, in interleaved rounds with fresh processes; medians reported.
 *   bun run bench [--quick] [--duration S] [--repeat N] …   (see args.ts or --help)
 *
 * Layout on a 2-core machine: the server under test (gateway or passthrough, one at a time) is
 * pinned to cpu0; the load generator, the mock upstream and this orchestrator share cpu1. A paired
 * phase follows (paired.ts): every server at once on cpu0, taking turns in short slices of load.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs, type Options } from "./args.ts";
import { CHAT_BODY, checkCompletion, checkStream, STREAM_BODY } from "./fixtures.ts";
import { chooseGateway, prepareGateway, ROOT, startGateway, type GatewayCommand } from "./gateway.ts";
import { bunLoadGen, runTtfb, wrkLoadGen, wrkVersion, type LoadGen, type Target } from "./loadgen.ts";
import * as P from "./procs.ts";
import { CORUN_TABLE_HEAD, coRunLine, coRunLoads, coRunRatio, runCoRun, type CoRunServer } from "./corun.ts";
import { pairedReport, runPaired } from "./paired.ts";
import { cpuPerRequestUs, roundLine, summarize, table, targets, TARGETS, type RoundResult } from "./report.ts";

type Server = { name: "passthrough" | "elysia floor" | "llm-proxy" | "llm-proxy, log off"; proc: ReturnType<typeof P.spawnChild>; target: Target; log: string };

const opts = (() => {
  try {
    return parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`bench: ${(e as Error).message}`);
    process.exit(2);
  }
})();
P.installCleanup();
P.pinSelf();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "llm-proxy-bench-"));
P.onCleanup(() => fs.rmSync(tmp, { recursive: true, force: true }));

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync("/proc/cpuinfo", "utf8"));
    if (m) return m[1]!.trim();
  } catch {}
  return os.cpus()[0]?.model ?? "unknown";
}

/** Upper bound on the whole run, enforced by a watchdog. */
function timeBudgetS(o: Options): number {
  const perTarget = 60 + o.warmup + (o.connections.length + 1) * (o.duration + 5) + o.ttfbRequests * 0.2 + 30;
  const servers = o.floor ? 4 : 3;
  const paired = o.slices ? 120 + servers * (o.warmup + 2) + o.connections.length * o.slices * servers * (o.sliceDuration + 3) : 0;
  const corun = o.corunRounds ? 2 * (120 + o.connections.length * (o.corunRounds + 1) * (o.corunSeconds + 3)) : 0;
  return 120 + o.repeat * servers * 1.5 * perTarget + paired + corun;
}

async function sanity(s: Server): Promise<void> {
  const headers = { "content-type": "application/json", authorization: `Bearer ${s.target.key}` };
  for (const [body, check] of [[CHAT_BODY, checkCompletion], [STREAM_BODY, checkStream]] as const) {
    const res = await fetch(s.target.url, { method: "POST", headers, body, signal: AbortSignal.timeout(15_000) });
    const problem = check(res.status, await res.text());
    if (problem) throw new Error(`${s.name} sanity check failed (${body === STREAM_BODY ? "stream" : "json"}): ${problem}`);
  }
}

async function measure(s: Server, load: LoadGen, o: Options): Promise<RoundResult> {
  const pid = s.proc.pid;
  const big = Math.max(...o.connections);
  await sanity(s);
  const rssIdle = P.memory(pid).rss;
  if (o.warmup > 0) await load.run(s.target, CHAT_BODY, Math.min(32, big), o.warmup);
  // Unloaded metrics first, on a warmed-up process; then throughput, ending at the peak-RSS point.
  const latency = await load.run(s.target, CHAT_BODY, 1, o.duration);
  await runTtfb(s.target, STREAM_BODY, 10); // warm the streaming path
  const ttfb = await runTtfb(s.target, STREAM_BODY, o.ttfbRequests);
  const result: RoundResult = { load: {}, cpu: {}, latency, ttfb, rssPeak: NaN, rssIdle };
  for (const c of [...o.connections].sort((a, b) => a - b)) {
    const cpu0 = P.cpuSeconds(pid);
    const threads0 = P.threadCpuSeconds(pid);
    const cores0 = P.coreTimes();
    const t0 = performance.now();
    result.load[c] = await load.run(s.target, CHAT_BODY, c, o.duration);
    const elapsed = (performance.now() - t0) / 1000;
    const threads1 = P.threadCpuSeconds(pid);
    const share = (k: keyof P.ThreadCpu) => (100 * (threads1[k] - threads0[k])) / elapsed;
    result.cpu[c] = {
      server: (100 * (P.cpuSeconds(pid) - cpu0)) / elapsed,
      threads: { main: share("main"), httpClient: share("httpClient"), other: share("other") },
      cores: P.coreBusy(cores0, P.coreTimes()),
    };
    if (c === big) result.rssPeak = P.memory(pid).hwm;
  }
  return result;
}

/** The passthrough ignores the key; it gets one of the same length so requests are byte-identical. */
const DUMMY_KEY = `llmp_${"x".repeat(43)}`;
let dirs = 0;

async function startServer(name: Server["name"], gw: GatewayCommand, mockPort: number): Promise<Server> {
  const port = await P.freePort();
  const log = path.join(tmp, `${name}.stderr.log`);
  if (name === "passthrough" || name === "elysia floor") {
    const script = name === "passthrough" ? "passthrough.ts" : "elysia-floor.ts";
    const proc = P.spawnChild(P.CORE_SERVER, [process.execPath, path.join(import.meta.dir, script), String(port), String(mockPort)], { logFile: log, cwd: ROOT });
    await P.waitReady(`http://127.0.0.1:${port}/healthz`, proc, 30_000);
    return { name, proc, log, target: { url: `http://127.0.0.1:${port}/v1/chat/completions`, key: DUMMY_KEY } };
  }
  // A fresh data dir (empty request log) and client key for every start, so rounds are independent.
  // The key is made right before `serve`: the tree may change under a long run (new migrations).
  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= 2; attempt++) {
    const dataDir = path.join(tmp, `data-${++dirs}`);
    let proc: Server["proc"] | undefined;
    try {
      // The "log off" target measures what the request log costs ([request_log] enabled = false).
      const key = prepareGateway(gw, dataDir, mockPort, name === "llm-proxy, log off" ? "\n[request_log]\nenabled = false\n" : "");
      proc = startGateway(gw, dataDir, port, log);
      await P.waitReady(`http://127.0.0.1:${port}/healthz`, proc, 60_000);
      return { name, proc, log, target: { url: `http://127.0.0.1:${port}/v1/chat/completions`, key } };
    } catch (e) {
      if (proc) await P.stopChild(proc);
      const stderr = fs.existsSync(log) ? fs.readFileSync(log, "utf8").slice(-2000) : "";
      lastError = new Error(`${(e as Error).message}${stderr ? `\nllm-proxy stderr: ${stderr}` : ""}`);
      console.error(`llm-proxy did not start (attempt ${attempt} of 2): ${lastError.message}`);
      if (attempt < 2) await Bun.sleep(5000); // the source tree may be mid-edit
    }
  }
  throw lastError;
}

async function main() {
  const budget = timeBudgetS(opts);
  setTimeout(() => {
    console.error(`bench: watchdog fired after ${budget} s; stopping`);
    process.exit(1); // the exit handler kills every child
  }, budget * 1000).unref();

  const wrk = opts.loadgen === "bun" ? undefined : wrkVersion();
  if (opts.loadgen === "wrk" && !wrk) throw new Error("--loadgen wrk: wrk is not installed (apt-get install -y wrk)");
  const load = wrk ? wrkLoadGen(tmp, wrk) : bunLoadGen();
  const gw = chooseGateway(opts.gateway);

  console.log("# llm-proxy gateway benchmark\n");
  console.log(`- machine: ${navigator.hardwareConcurrency} CPUs (nproc), ${cpuModel()}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${os.release()}`);
  console.log(`- load average at start: ${os.loadavg().map((x) => x.toFixed(2)).join(" ")} (other processes on the machine add noise)`);
  console.log(`- bun: ${Bun.version} (${Bun.revision.slice(0, 9)})`);
  console.log(`- llm-proxy: ${gw.label}`);
  console.log(`- load generator: ${load.name}${wrk ? "" : opts.loadgen === "bun" ? " (--loadgen bun)" : " (wrk not installed)"}; TTFB: bun fetch client`);
  console.log(
    P.PINNING
      ? "- pinning: server under test `taskset -c 0`; load generator, mock upstream and orchestrator `taskset -c 1`"
      : "- pinning: none (needs taskset and ≥ 2 cores) — numbers include client/server contention",
  );
  console.log(
    `- run: ${opts.repeat} round(s), each starting fresh processes, order alternating; ${opts.warmup} s warm-up, ` +
      `${opts.duration} s per load point (${opts.connections.join(", ")} conns and 1 conn), ${opts.ttfbRequests} sequential streams; ` +
      `mock SSE: 20 content chunks + finish + usage + [DONE], first chunk after ${opts.firstChunkDelay} ms, ${opts.chunkGap} ms apart${opts.quick ? " (--quick)" : ""}; ` +
      `then ${opts.slices ? `a paired phase: ${opts.slices} slices of ${opts.sliceDuration} s per server and connection count` : "no paired phase (--slices 0)"}, ` +
      `then ${opts.corunRounds ? `a co-run phase: ${opts.corunRounds} rounds of ${opts.corunSeconds} s per pair and connection count` : "no co-run phase (--corun-rounds 0)"}\n`,
  );

  const mockPort = await P.freePort();
  const mockLog = path.join(tmp, "mock.stderr.log");
  const mock = P.spawnChild(
    P.CORE_LOAD,
    [process.execPath, path.join(import.meta.dir, "mock-upstream.ts"), String(mockPort), String(opts.firstChunkDelay), String(opts.chunkGap)],
    { logFile: mockLog },
  );
  await P.waitReady(`http://127.0.0.1:${mockPort}/healthz`, mock);

  const results: Record<Server["name"], RoundResult[]> = { passthrough: [], "elysia floor": [], "llm-proxy": [], "llm-proxy, log off": [] };
  const gatewayLog: string[] = [];
  const names: Array<Server["name"]> = ["passthrough", ...(opts.floor ? (["elysia floor"] as const) : []), "llm-proxy", "llm-proxy, log off"];
  /** Stops a server and keeps llm-proxy's stderr for the summary at the end. */
  const stopServer = async (server: Server) => {
    await P.stopChild(server.proc);
    const text = fs.readFileSync(server.log, "utf8").trim();
    if (server.name === "llm-proxy" && text) gatewayLog.push(...text.split("\n"));
  };
  /** Starts `which` side by side (each checked), runs `body`, then stops them all. */
  const withServers = async (which: ReadonlyArray<Server["name"]>, body: (servers: Server[]) => Promise<void>) => {
    const servers: Server[] = [];
    try {
      for (const name of which) {
        const server = await startServer(name, gw, mockPort);
        servers.push(server);
        await sanity(server);
      }
      await body(servers);
    } finally {
      for (const server of servers) await stopServer(server);
    }
  };
  for (let round = 1; round <= opts.repeat; round++) {
    const order = round % 2 ? names : [...names].reverse();
    for (const name of order) {
      const server = await startServer(name, gw, mockPort);
      try {
        const r = await measure(server, load, opts);
        results[name].push(r);
        console.log(roundLine(round, name, r, opts.connections));
      } finally {
        await stopServer(server);
      }
    }
  }

  // The paired phase: every server at once, taking turns in short slices (see paired.ts).
  let paired: string | undefined;
  if (opts.slices > 0) {
    await withServers(names, async (servers) => {
      const result = await runPaired(
        servers.map((s) => ({ name: s.name, pid: s.proc.pid, target: s.target })),
        load,
        { connections: opts.connections, slices: opts.slices, sliceDuration: opts.sliceDuration, warmup: opts.warmup },
      );
      paired = pairedReport(result, opts);
    });
  }

  // The co-run phase: two servers on the one core under load at the same time (see corun.ts).
  let corun: string | undefined;
  if (opts.corunRounds > 0) {
    const lines: string[] = [];
    const ratio: Record<number, number> = {};
    const logCost: Record<number, number> = {};
    for (const pair of [["passthrough", "llm-proxy"], ["llm-proxy, log off", "llm-proxy"]] as const) {
      await withServers(pair, async (servers) => {
        const loads = coRunLoads(tmp, wrk);
        for (const c of opts.connections) {
          const rounds = await runCoRun(
            servers.map((s) => ({ name: s.name, pid: s.proc.pid, target: s.target })) as [CoRunServer, CoRunServer],
            loads,
            { connections: c, rounds: opts.corunRounds, seconds: opts.corunSeconds },
          );
          lines.push(coRunLine(`${pair[0]} (A) / ${pair[1]} (B), ${c} conns`, ["A", "B"], rounds));
          const r = coRunRatio(rounds).median;
          if (pair[0] === "passthrough") ratio[c] = 1 / r;
          else logCost[c] = 1 - 1 / r;
        }
      });
    }
    const verdicts = opts.connections.map(
      (c) => `- ${ratio[c]! >= TARGETS.minRpsRatio ? "PASS" : "FAIL"} — co-run: llm-proxy's requests/s at equal CPU ≥ 50% of the passthrough's @ ${c} conns: ${(100 * ratio[c]!).toFixed(0)}%`,
    );
    const worstLog = Math.max(...Object.values(logCost));
    verdicts.push(`- ${worstLog <= TARGETS.maxLogCost ? "PASS" : "FAIL"} — co-run: logging costs ≤ 10% of requests/s at equal CPU: ${opts.connections.map((c) => `${(100 * logCost[c]!).toFixed(1)}% @ ${c} conns`).join(", ")}`);
    corun =
      `## Co-run (two servers pinned to the one core and loaded at the same time, ${opts.corunRounds} rounds of ${opts.corunSeconds} s per pair and connection count)\n\n` +
      "Both see the same machine noise at every instant. Their CPU per request is shared-cache CPU (higher than alone); the ratio is what counts: " +
      "on a saturated core requests/s ∝ 1 / CPU per request.\n\n" +
      `${CORUN_TABLE_HEAD}\n${lines.join("\n")}\n\n${verdicts.join("\n")}`;
  }

  const pt = summarize(results.passthrough, opts.connections);
  const gwSum = summarize(results["llm-proxy"], opts.connections);
  console.log(`\n## Results\n\n${table(pt, gwSum, opts.connections, opts.repeat)}\n`);
  console.log(`load average at end: ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}\n`);
  const t = targets(pt, gwSum, opts.connections);
  console.log(`## Targets\n\n${t.text}\n`);
  if (opts.floor) {
    // The framework floor: the same upstream call from a minimal Elysia route, same run.
    const fl = summarize(results["elysia floor"], opts.connections);
    const us = (s: typeof fl, c: number) => cpuPerRequestUs(s, s.serverCpu, c);
    console.log("## Framework floor (minimal Elysia proxy route, same run)\n");
    console.log("| metric | passthrough | elysia floor | llm-proxy |\n|---|---:|---:|---:|");
    for (const c of opts.connections) {
      console.log(`| requests/s, ${c} conns | ${pt.rps[c]!.toFixed(0)} | ${fl.rps[c]!.toFixed(0)} (${(fl.rps[c]! / pt.rps[c]!).toFixed(2)}×) | ${gwSum.rps[c]!.toFixed(0)} (${(gwSum.rps[c]! / pt.rps[c]!).toFixed(2)}×) |`);
      console.log(`| server CPU per request, ${c} conns (µs) | ${us(pt, c).toFixed(0)} | ${us(fl, c).toFixed(0)} | ${us(gwSum, c).toFixed(0)} |`);
    }
    console.log("");
  }
  // What the request log costs: the same gateway with [request_log] enabled = false, same run.
  const off = summarize(results["llm-proxy, log off"], opts.connections);
  console.log("## Request log cost (llm-proxy with logging on vs off, same run)\n");
  console.log("| metric | log off | log on | cost of logging |\n|---|---:|---:|---:|");
  for (const c of opts.connections) {
    const cost = 1 - gwSum.rps[c]! / off.rps[c]!;
    console.log(`| requests/s, ${c} conns | ${off.rps[c]!.toFixed(0)} | ${gwSum.rps[c]!.toFixed(0)} | ${(cost * 100).toFixed(1)}% |`);
  }
  const signed = (x: number) => `${x < 0 ? "−" : "+"}${Math.abs(x).toFixed(0)}`;
  for (const c of opts.connections) {
    const a = cpuPerRequestUs(off, off.serverCpu, c);
    const b = cpuPerRequestUs(gwSum, gwSum.serverCpu, c);
    const x = cpuPerRequestUs(off, off.mainCpu, c);
    const y = cpuPerRequestUs(gwSum, gwSum.mainCpu, c);
    console.log(`| server CPU per request, ${c} conns (µs) | ${a.toFixed(0)} | ${b.toFixed(0)} | ${signed(b - a)} µs |`);
    console.log(`| … on the JavaScript thread, ${c} conns (µs) | ${x.toFixed(0)} | ${y.toFixed(0)} | ${signed(y - x)} µs |`);
  }
  console.log(`| latency p50 @ 1 conn (ms) | ${off.latP50.toFixed(3)} | ${gwSum.latP50.toFixed(3)} | ${(gwSum.latP50 - off.latP50).toFixed(3)} ms |`);
  const worst = Math.max(...opts.connections.map((c) => 1 - gwSum.rps[c]! / off.rps[c]!));
  console.log(`\n- ${worst <= TARGETS.maxLogCost ? "PASS" : "FAIL"} — logging costs ≤ 10% of requests/s: ${(worst * 100).toFixed(1)}%\n`);
  if (paired) console.log(`${paired}\n`);
  if (corun) console.log(`${corun}\n`);
  if (gatewayLog.length) {
    // Messages only (fields can hold one-time tokens), with counts.
    const counts = new Map<string, number>();
    for (const line of gatewayLog) {
      let msg = line.slice(0, 160);
      try {
        const j = JSON.parse(line) as { level?: string; msg?: string };
        msg = `${j.level ?? "?"}: ${j.msg ?? line.slice(0, 160)}`;
      } catch {}
      counts.set(msg, (counts.get(msg) ?? 0) + 1);
    }
    console.log(`llm-proxy stderr (warn level and above), by message:\n${[...counts].map(([m, n]) => `- ${n}× ${m}`).join("\n")}\n`);
  }
  await P.stopChild(mock);
  process.exit(0);
}

await main();
