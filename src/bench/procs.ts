/**
 * Child processes for the benchmark: spawning (optionally pinned to a core with taskset), readiness
 * polling, /proc sampling (RSS, CPU), and cleanup of every child on exit, error or signal.
 */
import type { Subprocess } from "bun";
import fs from "node:fs";
import net from "node:net";

export const HAS_TASKSET = Bun.which("taskset") !== null;
const CORES = navigator.hardwareConcurrency;
/** Pinning needs taskset and at least two cores; otherwise everything shares the machine. */
export const PINNING = HAS_TASKSET && CORES >= 2;
export const CORE_SERVER = 0; // the gateway / passthrough under test
export const CORE_LOAD = 1; // load generator, mock upstream, this orchestrator

const children = new Set<Subprocess>();
const cleanups: Array<() => void> = [];

export function pinned(core: number, cmd: string[]): string[] {
  return PINNING ? ["taskset", "-c", String(core), ...cmd] : cmd;
}

/** Pins this process, all its threads, to one core: the load core (an orchestrator) unless told otherwise. */
export function pinSelf(core = CORE_LOAD): void {
  if (PINNING) Bun.spawnSync(["taskset", "-a", "-pc", String(core), String(process.pid)], { stdout: "ignore", stderr: "ignore", timeout: 5000 });
}

export function spawnChild(
  core: number,
  cmd: string[],
  opts: { env?: Record<string, string | undefined>; cwd?: string; stdout?: "pipe" | "ignore"; logFile?: string } = {},
) {
  const proc = Bun.spawn(pinned(core, cmd), {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    stdin: "ignore",
    stdout: opts.stdout ?? "ignore",
    stderr: opts.logFile ? Bun.file(opts.logFile) : "ignore",
  });
  children.add(proc);
  void proc.exited.then(() => children.delete(proc));
  return proc;
}

/** SIGTERM, then SIGKILL after `graceMs`. */
export async function stopChild(proc: Subprocess, graceMs = 3000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
  await proc.exited;
  clearTimeout(timer);
}

/** Runs `fn` at exit (after children are killed), e.g. removing the temp directory. */
export function onCleanup(fn: () => void): void {
  cleanups.push(fn);
}

function killAll(): void {
  for (const proc of children) {
    try {
      proc.kill("SIGKILL");
    } catch {}
  }
  children.clear();
  for (const fn of cleanups.splice(0)) {
    try {
      fn();
    } catch {}
  }
}

let installed = false;
/** Kills every child on exit, SIGINT/SIGTERM/SIGHUP and uncaught errors. */
export function installCleanup(): void {
  if (installed) return;
  installed = true;
  process.on("exit", killAll);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(sig, () => {
      console.error(`\n${sig}: stopping benchmark processes`);
      killAll();
      process.exit(130);
    });
  }
  const fatal = (e: unknown) => {
    console.error("bench failed:", e instanceof Error ? (e.stack ?? e.message) : e);
    killAll();
    process.exit(1);
  };
  process.on("uncaughtException", fatal);
  process.on("unhandledRejection", fatal);
}

/** A port that was free a moment ago (bind 0, read, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `url` until it answers 200; throws after `timeoutMs` or if `proc` exits. */
export async function waitReady(url: string, proc: Subprocess, timeoutMs = 20_000): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < 4000 && performance.now() - t0 < timeoutMs; i++) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${url}: process exited (${proc.exitCode ?? proc.signalCode}) before it was ready`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) return performance.now() - t0;
    } catch {}
    await Bun.sleep(20);
  }
  throw new Error(`${url}: not ready within ${timeoutMs} ms`);
}

/** VmRSS and VmHWM (peak) of a process, in MiB; NaN when unreadable. */
export function memory(pid: number): { rss: number; hwm: number } {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
    return { rss: kib("VmRSS") / 1024, hwm: kib("VmHWM") / 1024 };
  } catch {
    return { rss: NaN, hwm: NaN };
  }
}

const TICKS = 100; // USER_HZ on Linux

/** User + system CPU seconds from a `/proc/.../stat` line (fields 14 and 15, after the parenthesised name). */
function statCpuSeconds(stat: string): number {
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / TICKS;
}

/** CPU seconds (user + system, all threads) a process has used so far. */
export function cpuSeconds(pid: number): number {
  try {
    return statCpuSeconds(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return NaN;
  }
}

/** CPU seconds per kind of thread: the JavaScript (main) thread, Bun's HTTP client thread (`fetch`), and all others. */
export type ThreadCpu = { main: number; httpClient: number; other: number };

/** CPU seconds a process's threads have used so far, by kind (threads that ended are not counted). */
export function threadCpuSeconds(pid: number): ThreadCpu {
  const out: ThreadCpu = { main: 0, httpClient: 0, other: 0 };
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      try {
        const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
        const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
        const secs = statCpuSeconds(stat);
        if (Number(tid) === pid) out.main += secs;
        else if (name === "HTTP Client") out.httpClient += secs;
        else out.other += secs;
      } catch {}
    }
  } catch {
    return { main: NaN, httpClient: NaN, other: NaN };
  }
  return out;
}

/** Busy and total jiffies per core from /proc/stat, for core utilisation over an interval. */
export function coreTimes(): Array<{ busy: number; total: number }> {
  try {
    return fs
      .readFileSync("/proc/stat", "utf8")
      .split("\n")
      .filter((l) => /^cpu\d+ /.test(l))
      .map((l) => {
        const v = l.trim().split(/\s+/).slice(1).map(Number);
        const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
        return { busy: total - v[3]! - v[4]!, total };
      });
  } catch {
    return [];
  }
}

/** Percent busy per core between two coreTimes() snapshots. */
export function coreBusy(a: ReturnType<typeof coreTimes>, b: ReturnType<typeof coreTimes>): number[] {
  return b.map((x, i) => (a[i] && x.total > a[i]!.total ? (100 * (x.busy - a[i]!.busy)) / (x.total - a[i]!.total) : NaN));
}
