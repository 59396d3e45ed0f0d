// Linux CPU scheduling policy for the gateway's threads.
//
// A Bun server that proxies HTTP runs two busy threads: the JavaScript thread (server, gateway
// logic) and Bun's HTTP client thread (upstream sockets). Under the default policy (SCHED_OTHER)
// every upstream reply wakes the client thread, which preempts the JavaScript thread in the middle
// of its work; on a loaded core that is about two context switches per request, each evicting the
// other thread's caches. SCHED_BATCH is the same fair scheduler without wakeup preemption: a thread
// that wakes waits for the running one to block or use up its slice, so replies are handled in
// batches. Measured on the benchmark host (gateway pinned to one core, 32 connections):
// ~2.1 → ~0.1 context switches per request, ~40% more requests/s for the gateway, none for a bare
// passthrough (which does too little per request to be preempted). Latency cost: a woken thread
// may wait up to one scheduler slice (a few ms) when its core is busy; nothing when it is idle.
//
// The policy is set on every thread of the process and inherited by threads started later. No
// privilege is needed to move between SCHED_OTHER and SCHED_BATCH. Other systems (and a libc that
// cannot be loaded) keep their default scheduling: this is an optimisation, never a requirement.
import { dlopen, FFIType, ptr } from "bun:ffi";
import fs from "node:fs";

export type CpuScheduling = "batch" | "normal";
export const CPU_SCHEDULING_VALUES = ["batch", "normal"] as const;

/** Linux policy numbers (sched.h). */
const POLICY = { normal: 0, batch: 3 } as const;

export type SchedulingResult =
  | { applied: true; policy: CpuScheduling; threads: number }
  | { applied: false; policy: CpuScheduling; reason: string };

type SetScheduler = (tid: number, policy: number) => number;

let cached: SetScheduler | null | undefined;

/** `sched_setscheduler` from libc through bun:ffi, or null where it is unavailable. */
function loadSetScheduler(): SetScheduler | null {
  if (cached !== undefined) return cached;
  cached = null;
  if (process.platform !== "linux") return null;
  try {
    const libc = dlopen("libc.so.6", {
      sched_setscheduler: { args: [FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
    });
    const param = new Int32Array(1); // struct sched_param { int sched_priority = 0 }
    cached = (tid, policy) => libc.symbols.sched_setscheduler(tid, policy, ptr(param)) as number;
  } catch {
    cached = null;
  }
  return cached;
}

/** Sets `policy` on every thread of this process (Linux). Never throws. */
export function applyCpuScheduling(policy: CpuScheduling): SchedulingResult {
  const set = loadSetScheduler();
  if (!set) return { applied: false, policy, reason: process.platform === "linux" ? "libc's sched_setscheduler is not available" : `not supported on ${process.platform}` };
  let tids: number[];
  try {
    tids = fs.readdirSync("/proc/self/task").map(Number).filter((n) => Number.isInteger(n) && n > 0);
  } catch {
    return { applied: false, policy, reason: "/proc/self/task is not readable" };
  }
  let threads = 0;
  for (const tid of tids) if (set(tid, POLICY[policy]) === 0) threads++;
  return threads > 0 ? { applied: true, policy, threads } : { applied: false, policy, reason: "sched_setscheduler was refused" };
}

/** The scheduling policy of each thread of a process, this one by default (Linux, for tests and diagnostics). */
export function threadPolicies(pid: number | "self" = "self"): Array<{ tid: number; name: string; policy: number }> {
  return fs.readdirSync(`/proc/${pid}/task`).flatMap((t) => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${t}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // Field 41 (policy) of proc(5); `fields` starts at field 3.
      return [{ tid: Number(t), name: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")), policy: Number(fields[38]) }];
    } catch {
      return []; // the thread ended meanwhile
    }
  });
}
