import path from "node:path";

const ENTRY = path.resolve(import.meta.dir, "../index.ts");
/** The models.dev snapshot tests price with (never the live URL). */
export const PRICING_SNAPSHOT = path.resolve(import.meta.dir, "../../../shared/fixtures/models-dev/api.json");

/** Environment for child processes: no inherited LLM_PROXY_* or provider keys. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k.startsWith("LLM_PROXY_") || /_API_KEY$/.test(k)) continue;
    env[k] = v;
  }
  // No network in tests: pricing comes from the models.dev snapshot in the shared fixtures.
  return { ...env, LLM_PROXY_LOG_FORMAT: "json", LLM_PROXY_PRICING_SOURCE: PRICING_SNAPSHOT, ...extra };
}

/** Runs `llm-proxy ARGS` from source to completion. */
export async function runCli(args: string[], options: { env?: Record<string, string>; cwd?: string; stdin?: string } = {}) {
  const proc = Bun.spawn([process.execPath, ENTRY, ...args], {
    env: cleanEnv(options.env),
    cwd: options.cwd,
    stdin: options.stdin !== undefined ? new Blob([options.stdin]) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, stdout, stderr };
}

/** Starts `llm-proxy serve` from source (or `command` for a built binary) and waits for /healthz. */
export async function startCliServer(options: {
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
  command?: string[];
  timeoutMs?: number;
}) {
  const port = await freePort();
  const command = options.command ?? [process.execPath, ENTRY];
  const proc = Bun.spawn([...command, "serve", "--port", String(port), ...(options.args ?? [])], {
    env: cleanEnv(options.env),
    cwd: options.cwd,
    stdout: "pipe",
    stderr: "pipe",
  });
  const stderrText = new Response(proc.stderr).text();
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`server exited early (${proc.exitCode}): ${await stderrText}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) break;
    } catch {}
    if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`server did not become healthy: ${await stderrText}`);
    }
    await Bun.sleep(25);
  }
  return { proc, url, port, stderr: stderrText };
}

/** A TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = server.port!;
  await server.stop(true);
  return port;
}
