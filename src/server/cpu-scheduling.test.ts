import { describe, expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { loadConfig, ConfigError } from "../config.ts";
import { startCliServer } from "../testing/cli-process.ts";
import { threadPolicies } from "./cpu-scheduling.ts";
import { tempDir } from "../testing/temp.ts";

const linux = process.platform === "linux";
const SCHED_OTHER = 0;
const SCHED_BATCH = 3;

/** Runs a script in a fresh Bun process (the policy is per process: keep it off the test runner). */
async function inChild(script: string): Promise<unknown> {
  const dir = tempDir();
  const file = path.join(dir, "child.ts");
  fs.writeFileSync(file, `import { applyCpuScheduling, threadPolicies } from ${JSON.stringify(path.join(import.meta.dir, "cpu-scheduling.ts"))};\n${script}`);
  const proc = Bun.spawn([process.execPath, file], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`child exited ${code}: ${err}`);
  return JSON.parse(out);
}

describe.if(linux)("CPU scheduling policy (Linux)", () => {
  test("batch: every thread, including those started later (the HTTP client's, workers'), runs SCHED_BATCH", async () => {
    const r = (await inChild(`
      // Start from the default policy whatever the parent runs under (children inherit it).
      applyCpuScheduling("normal");
      const before = threadPolicies();
      const result = applyCpuScheduling("batch");
      // A fetch starts Bun's HTTP client thread, a Worker its own thread: both must inherit the policy.
      await fetch("http://127.0.0.1:1/").catch(() => {});
      const w = new Worker("data:text/javascript,setTimeout(() => {}, 300)");
      await Bun.sleep(100);
      console.log(JSON.stringify({ before, result, after: threadPolicies() }));
      w.terminate();
    `)) as { before: Array<{ policy: number }>; result: { applied: boolean; threads: number }; after: Array<{ name: string; policy: number }> };
    expect(r.before.every((t) => t.policy === SCHED_OTHER)).toBe(true);
    expect(r.result.applied).toBe(true);
    expect(r.result.threads).toBe(r.before.length);
    expect(r.after.length).toBeGreaterThan(r.before.length);
    expect(r.after.filter((t) => t.policy !== SCHED_BATCH)).toEqual([]);
  });

  test("normal puts the threads back on the default policy", async () => {
    const r = (await inChild(`
      applyCpuScheduling("batch");
      const result = applyCpuScheduling("normal");
      console.log(JSON.stringify({ result, after: threadPolicies() }));
    `)) as { result: { applied: boolean }; after: Array<{ policy: number }> };
    expect(r.result.applied).toBe(true);
    expect(r.after.every((t) => t.policy === SCHED_OTHER)).toBe(true);
  });
});

describe.if(linux)("llm-proxy serve applies cpu_scheduling", () => {
  for (const [policy, expected] of [["batch", SCHED_BATCH], ["normal", SCHED_OTHER]] as const) {
    test(`${policy}: every thread of the server, after serving a request`, async () => {
      const server = await startCliServer({ env: { LLM_PROXY_DATA_DIR: tempDir(), LLM_PROXY_CPU_SCHEDULING: policy } });
      try {
        expect((await fetch(`${server.url}/v1/models`)).status).toBe(401);
        const policies = threadPolicies(server.proc.pid).map((t) => t.policy);
        expect(policies.length).toBeGreaterThan(1);
        expect(policies.filter((p) => p !== expected)).toEqual([]);
      } finally {
        server.proc.kill("SIGTERM");
        await server.proc.exited;
      }
    });
  }
});

describe("cpu_scheduling setting", () => {
  test("defaults to batch; file and LLM_PROXY_CPU_SCHEDULING set it", () => {
    const dir = tempDir();
    expect(loadConfig({ env: { LLM_PROXY_DATA_DIR: dir } }).cpuScheduling).toBe("batch");
    const file = path.join(dir, "c.toml");
    fs.writeFileSync(file, 'cpu_scheduling = "normal"\n');
    const fromFile = loadConfig({ flags: { config: file }, env: { LLM_PROXY_DATA_DIR: dir } });
    expect([fromFile.cpuScheduling, fromFile.origin.cpu_scheduling]).toEqual(["normal", "file"]);
    const fromEnv = loadConfig({ flags: { config: file }, env: { LLM_PROXY_DATA_DIR: dir, LLM_PROXY_CPU_SCHEDULING: "batch" } });
    expect([fromEnv.cpuScheduling, fromEnv.origin.cpu_scheduling]).toEqual(["batch", "env"]);
  });

  test("an unknown policy is a configuration error naming its source", () => {
    const dir = tempDir();
    let problems: string[] = [];
    try {
      loadConfig({ env: { LLM_PROXY_DATA_DIR: dir, LLM_PROXY_CPU_SCHEDULING: "realtime" } });
    } catch (e) {
      if (e instanceof ConfigError) problems = e.problems;
    }
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("LLM_PROXY_CPU_SCHEDULING");
  });
});
