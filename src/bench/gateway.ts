/**
 * llm-proxy as the system under test: which executable to run (compiled binary if it is newer than
 * every source file, else `bun src/index.ts`), a fresh data directory whose llm-proxy.toml points
 * the `bench` provider at the mock upstream, and a client key from `keys create`.
 */
import fs from "node:fs";
import path from "node:path";
import { CORE_SERVER, spawnChild } from "./procs.ts";

export const ROOT = path.resolve(import.meta.dir, "../..");
const BINARY = path.join(ROOT, "dist/llm-proxy");

export type GatewayCommand = { cmd: string[]; label: string };

/** Newest mtime (ms) among the files the binary is built from; tests and the bench excluded. */
function newestSource(): { mtime: number; file: string } {
  let best = { mtime: 0, file: "" };
  const visit = (p: string, depth: number) => {
    if (depth > 12) return;
    const st = fs.statSync(p, { throwIfNoEntry: false });
    if (!st) return;
    if (st.isDirectory()) {
      if (p === path.join(ROOT, "src/bench") || path.basename(p) === "node_modules") return;
      for (const name of fs.readdirSync(p)) visit(path.join(p, name), depth + 1);
    } else if (!/\.test\.ts$/.test(p) && st.mtimeMs > best.mtime) best = { mtime: st.mtimeMs, file: path.relative(ROOT, p) };
  };
  for (const p of ["src", "static", "drizzle", "build.ts", "package.json", "bun.lock"]) visit(path.join(ROOT, p), 0);
  return best;
}

export function chooseGateway(mode: "auto" | "binary" | "source"): GatewayCommand {
  const source = { cmd: [process.execPath, path.join(ROOT, "src/index.ts")], label: "source: `bun src/index.ts`" };
  const bin = fs.statSync(BINARY, { throwIfNoEntry: false });
  if (mode === "source") return { ...source, label: `${source.label} (--gateway source)` };
  if (mode === "binary") {
    if (!bin) throw new Error(`--gateway binary: ${BINARY} does not exist (run \`bun run build\`)`);
    return { cmd: [BINARY], label: "compiled: `dist/llm-proxy` (--gateway binary)" };
  }
  if (!bin) return { ...source, label: `${source.label} (no dist/llm-proxy)` };
  const newest = newestSource();
  if (bin.mtimeMs > newest.mtime) return { cmd: [BINARY], label: "compiled: `dist/llm-proxy` (newer than the sources)" };
  return { ...source, label: `${source.label} (dist/llm-proxy is older than ${newest.file})` };
}

/** A models.dev-shaped price list, used when ../shared/fixtures/models-dev/api.json is absent. */
const MINI_PRICES = {
  openai: { id: "openai", name: "OpenAI", models: { "gpt-4o": { id: "gpt-4o", name: "GPT-4o", cost: { input: 2.5, output: 10, cache_read: 1.25 }, limit: { context: 128000, output: 16384 } } } },
};

/**
 * Environment for every gateway command: fixed encryption key, warn logs, no inherited LLM_PROXY_*
 * settings, and a local pricing source so the gateway never fetches models.dev (traffic stays on
 * 127.0.0.1; builds that predate pricing ignore the variable).
 */
export function gatewayEnv(dataDir: string): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith("LLM_PROXY_") && !/^(OPENAI|DEEPSEEK|XAI|ANTHROPIC|GEMINI)_API_KEY$/.test(k)) env[k] = v;
  }
  let prices = path.resolve(ROOT, "../shared/fixtures/models-dev/api.json");
  if (!fs.existsSync(prices)) {
    prices = path.join(dataDir, "bench-prices.json");
    if (!fs.existsSync(prices)) fs.writeFileSync(prices, JSON.stringify(MINI_PRICES));
  }
  return {
    ...env,
    LLM_PROXY_ENCRYPTION_KEY: "ab".repeat(32),
    LLM_PROXY_LOG_LEVEL: "warn",
    LLM_PROXY_LOG_FORMAT: "json",
    LLM_PROXY_PRICING_SOURCE: prices,
  };
}

/** Writes the config into a fresh data dir and creates a client key; returns the key. */
export function prepareGateway(gw: GatewayCommand, dataDir: string, mockPort: number, extraToml = ""): string {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(
    path.join(dataDir, "llm-proxy.toml"),
    `# written by src/bench/index.ts
log_level = "warn"

[[providers]]
id = "bench"
type = "openai"
base_url = "http://127.0.0.1:${mockPort}/v1"
api_key = "sk-bench-upstream-key-0000000000"
${extraToml}`,
  );
  const r = Bun.spawnSync([...gw.cmd, "keys", "create", "--name", "bench", "--data-dir", dataDir], {
    cwd: ROOT,
    env: gatewayEnv(dataDir),
    stdout: "pipe",
    stderr: "pipe",
    timeout: 60_000,
  });
  const lines = r.stdout.toString().trim().split("\n");
  const key = lines.at(-1)?.trim() ?? "";
  if (r.exitCode !== 0 || !key) {
    throw new Error(`keys create failed (${r.exitCode ?? r.signalCode}): ${r.stdout.toString()}${r.stderr.toString()}`);
  }
  return key;
}

/** Starts `serve` pinned to the server core; stderr goes to `logFile`. */
export function startGateway(gw: GatewayCommand, dataDir: string, port: number, logFile: string) {
  return spawnChild(CORE_SERVER, [...gw.cmd, "serve", "--port", String(port), "--data-dir", dataDir], {
    env: gatewayEnv(dataDir),
    cwd: ROOT,
    logFile,
  });
}
