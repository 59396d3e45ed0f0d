/**
 * Startup benchmark: time from spawn to the first `/healthz` 200 of the compiled binary, with
 * `--bytecode` on and off, runs interleaved so machine noise hits both alike. Reports medians.
 *   bun run bench:startup [runs]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const ROOT = path.resolve(import.meta.dir, "../..");
const RUNS = Number(process.argv[2] ?? 11);
const variants = [
  { name: "bytecode", flag: [] as string[] },
  { name: "no bytecode", flag: ["--no-bytecode"] },
];

function build(flags: string[], out: string) {
  const r = Bun.spawnSync([process.execPath, "build.ts", ...flags], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`build failed: ${r.stderr.toString()}`);
  fs.copyFileSync(path.join(ROOT, "dist/llm-proxy"), out);
  fs.chmodSync(out, 0o755);
}

async function startOnce(binary: string, port: number): Promise<number> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "llm-proxy-bench-"));
  // A migrated database and an existing key, as on every start after the first.
  Bun.spawnSync([binary, "migrate", "--data-dir", dataDir], { stderr: "ignore" });
  const env = { ...process.env, LLM_PROXY_ENCRYPTION_KEY: "ab".repeat(32), LLM_PROXY_LOG_LEVEL: "warn" };
  const t0 = performance.now();
  const proc = Bun.spawn([binary, "serve", "--port", String(port), "--data-dir", dataDir], { cwd: "/", env, stderr: "ignore", stdout: "ignore" });
  let elapsed = NaN;
  for (let i = 0; i < 2000; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) {
        elapsed = performance.now() - t0;
        break;
      }
    } catch {}
    await Bun.sleep(2);
  }
  proc.kill("SIGTERM");
  await proc.exited;
  fs.rmSync(dataDir, { recursive: true, force: true });
  return elapsed;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * q)]!;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "llm-proxy-bench-bin-"));
const bins = variants.map((v) => {
  const out = path.join(tmp, v.name.replace(/\s/g, "-"));
  build(v.flag, out);
  return { ...v, out, size: fs.statSync(out).size, times: [] as number[] };
});
build([], path.join(tmp, "restore")); // leave dist/llm-proxy as the default build

for (let i = 0; i < RUNS; i++) {
  for (const b of bins) b.times.push(await startOnce(b.out, 20000 + Math.floor(Math.random() * 20000)));
}
console.log(`spawn → first /healthz 200, ${RUNS} interleaved runs each, cwd /, migrated database`);
console.log("| build | size | p25 | median | p75 |");
console.log("|---|---|---|---|---|");
for (const b of bins) {
  console.log(
    `| ${b.name} | ${(b.size / 1e6).toFixed(1)} MB | ${quantile(b.times, 0.25).toFixed(0)} ms | ${median(b.times).toFixed(0)} ms | ${quantile(b.times, 0.75).toFixed(0)} ms |`,
  );
}
console.log(`ratio (bytecode / no bytecode, medians): ${(median(bins[0]!.times) / median(bins[1]!.times)).toFixed(2)}`);
fs.rmSync(tmp, { recursive: true, force: true });
