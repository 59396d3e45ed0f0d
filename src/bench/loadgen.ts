/**
 * Load generators, always run as child processes on the load core: Debian's `wrk` with a generated
 * Lua script (POST body, auth header, JSON summary in done()), or the Bun fetch client (client.ts)
 * when wrk is missing or `--loadgen bun` is given. The streaming TTFB probe is always client.ts.
 */
import fs from "node:fs";
import path from "node:path";
import { CORE_LOAD, spawnChild } from "./procs.ts";

export type LoadResult = { rps: number; requests: number; errors: number; p50: number; p99: number };
export type TtfbResult = { requests: number; errors: number; p50: number; p99: number };
export type Target = { url: string; key: string };

const CLIENT = path.join(import.meta.dir, "client.ts");

export function wrkVersion(): string | undefined {
  if (!Bun.which("wrk")) return undefined;
  const r = Bun.spawnSync(["wrk", "--version"], { stdout: "pipe", stderr: "pipe", timeout: 5000 });
  const line = (r.stdout.toString() + r.stderr.toString()).split("\n")[0]?.trim() ?? "wrk";
  return line.replace(/\s*Copyright.*$/, "");
}

function luaScript(key: string, body: string): string {
  if (body.includes("]==]")) throw new Error("body cannot be embedded in a Lua long string");
  return `wrk.method = "POST"
wrk.body = [==[${body}]==]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer ${key}"
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH_JSON {"requests":%d,"duration_us":%d,"errors":%d,"p50_us":%d,"p99_us":%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`;
}

/** Runs a child to completion with a hard time limit; returns its stdout. */
async function runChild(cmd: string[], limitS: number, what: string): Promise<string> {
  const proc = spawnChild(CORE_LOAD, cmd, { stdout: "pipe" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), limitS * 1000);
  const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${what} exited with ${code ?? proc.signalCode}: ${out.slice(0, 500)}`);
  return out;
}

export type LoadGen = {
  name: string;
  run(target: Target, body: string, connections: number, durationS: number): Promise<LoadResult>;
};

let wrkScripts = 0;

export function wrkLoadGen(tmpDir: string, version: string): LoadGen {
  const scripts = new Map<string, string>();
  return {
    name: `${version} (1 thread, Lua POST script)`,
    async run(target, body, connections, durationS) {
      const id = `${target.key}\n${body}`;
      let script = scripts.get(id);
      if (!script) {
        // Numbered across load generators: two of them may share a directory (co-run).
        script = path.join(tmpDir, `wrk-${++wrkScripts}.lua`);
        fs.writeFileSync(script, luaScript(target.key, body));
        scripts.set(id, script);
      }
      const d = Math.max(1, Math.round(durationS));
      const cmd = ["wrk", "-t1", `-c${connections}`, `-d${d}s`, "--timeout", "10s", "-s", script, target.url];
      const out = await runChild(cmd, d + 30, "wrk");
      const line = out.split("\n").find((l) => l.startsWith("BENCH_JSON "));
      if (!line) throw new Error(`wrk printed no summary:\n${out}`);
      const s = JSON.parse(line.slice("BENCH_JSON ".length)) as Record<string, number>;
      const ok = s.requests! - s.errors!;
      return { rps: ok / (s.duration_us! / 1e6), requests: ok, errors: s.errors!, p50: s.p50_us! / 1000, p99: s.p99_us! / 1000 };
    },
  };
}

export function bunLoadGen(): LoadGen {
  return {
    name: `bun ${Bun.version} fetch client (src/bench/client.ts, N keep-alive loops)`,
    async run(target, body, connections, durationS) {
      const args = JSON.stringify({ url: target.url, key: target.key, body, connections, durationS });
      const out = await runChild([process.execPath, CLIENT, "load", args], durationS + 30, "bun load client");
      return JSON.parse(out.trim().split("\n").at(-1)!) as LoadResult;
    },
  };
}

/** Sequential streaming requests; time to the first SSE data chunk. */
export async function runTtfb(target: Target, body: string, requests: number): Promise<TtfbResult> {
  const timeoutS = 60 + requests * 0.5;
  const args = JSON.stringify({ url: target.url, key: target.key, body, requests, timeoutS });
  const out = await runChild([process.execPath, CLIENT, "ttfb", args], timeoutS + 30, "bun ttfb client");
  return JSON.parse(out.trim().split("\n").at(-1)!) as TtfbResult;
}
