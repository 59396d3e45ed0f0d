#!/usr/bin/env bun
/**
 * Heap census of one request: the JavaScript objects a non-streaming chat completion allocates,
 * by type, counted with bun:jsc's heapStats() before and after a batch of requests with no
 * collection in between. Deterministic where timings are not: a change that removes allocations
 * shows here exactly, whatever the machine is doing.
 *   bun run bench:alloc [--requests 100] [--batches 5] [--log on|off] [--json]
 * The gateway runs in this process with an injected upstream fetch (a canned completion after one
 * event-loop turn); each request goes through the same handler Bun's router calls when listening.
 * The harness's own objects are counted too (its Request, the upstream Response, the reply read).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { heapStats } from "bun:jsc";
import { createClientKey } from "../auth/client-keys.ts";
import { loadConfig } from "../config.ts";
import { openDatabase } from "../db/client.ts";
import { createLogger } from "../logger.ts";
import { startServer } from "../server/serve.ts";
import { choiceFlag, positiveFlag } from "./args.ts";
import { CHAT_BODY, COMPLETION_JSON } from "./fixtures.ts";
import { gatewayEnv } from "./gateway.ts";

export type Census = { perRequest: number; byType: Array<[type: string, perRequest: number]> };

/** Objects by type allocated per call of `run`, over `batches` batches of `n` calls (no GC inside a batch). */
export async function census(run: () => Promise<unknown>, n: number, batches: number): Promise<Census> {
  const sums: Record<string, number> = {};
  for (let b = 0; b < batches; b++) {
    Bun.gc(true);
    const before = heapStats().objectTypeCounts as Record<string, number>;
    for (let i = 0; i < n; i++) await run();
    const after = heapStats().objectTypeCounts as Record<string, number>;
    for (const [type, count] of Object.entries(after)) sums[type] = (sums[type] ?? 0) + count - (before[type] ?? 0);
  }
  const byType = Object.entries(sums)
    .map(([type, total]) => [type, total / (n * batches)] as [string, number])
    .filter(([, x]) => x >= 0.05)
    .sort((a, b) => b[1] - a[1]);
  return { perRequest: byType.reduce((s, [, x]) => s + x, 0), byType };
}

async function main() {
  const argv = process.argv.slice(2);
  const requests = Math.round(positiveFlag(argv, "requests", 100));
  const batches = Math.round(positiveFlag(argv, "batches", 5));
  const log = choiceFlag(argv, "log", ["on", "off"] as const) === "on";
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "llm-proxy-alloc-"));
  try {
    const configFile = path.join(dir, "llm-proxy.toml");
    fs.writeFileSync(
      configFile,
      `[[providers]]\nid = "bench"\ntype = "openai"\nbase_url = "http://127.0.0.1:9/v1"\napi_key = "sk-bench"\n` +
        // Large batches: no flush inside a measured batch (each batch is flushed after it).
        `[request_log]\n${log ? "flush_interval_ms = 250\nbatch_size = 5000\nqueue_capacity = 20000\n" : "enabled = false\n"}`,
    );
    const reply = new TextEncoder().encode(COMPLETION_JSON);
    const upstreamFetch = (async () => {
      await new Promise((resolve) => setImmediate(resolve));
      return new Response(reply, { headers: { "content-type": "application/json" } });
    }) as unknown as typeof fetch;
    const config = loadConfig({ flags: { config: configFile }, env: { ...gatewayEnv(dir), LLM_PROXY_DATA_DIR: dir, LLM_PROXY_PORT: "0" } });
    const running = await startServer(config, createLogger({ json: true, level: "error", sink: () => {} }), { fetch: upstreamFetch });
    try {
      const side = openDatabase(path.join(dir, "llm-proxy.db"));
      const { key } = createClientKey(side.db, "alloc");
      side.close();
      for (let i = 0; i < 200 && running.pricing.current().info.models === 0; i++) await Bun.sleep(10);
      const handler = (running.app.config.serve as unknown as { routes: Record<string, { POST: (r: Request, s: null) => Promise<Response> }> }).routes["/v1/chat/completions"]!.POST;
      const url = `${running.url.href}v1/chat/completions`;
      const headers = { authorization: `Bearer ${key}`, "content-type": "application/json", "user-agent": "alloc/1" };
      const one = async () => {
        const res = await handler(new Request(url, { method: "POST", headers, body: CHAT_BODY }), null);
        if (res.status !== 200) throw new Error(`status ${res.status}: ${await res.text()}`);
        await res.arrayBuffer();
      };
      for (let i = 0; i < 3000; i++) await one(); // warm-up: JIT tiers, caches, structures
      running.recorder.flush();
      const result = await census(async () => one(), requests, batches);
      running.recorder.flush();
      if (argv.includes("--json")) {
        console.log(JSON.stringify(result));
      } else {
        console.log(`# objects allocated per request (non-streaming chat, log ${log ? "on" : "off"}; ${batches} batches of ${requests}; bun ${Bun.version})\n`);
        console.log(`total: ${result.perRequest.toFixed(1)}\n\n| type | per request |\n|---|---:|`);
        for (const [type, x] of result.byType) console.log(`| ${type} | ${x.toFixed(1)} |`);
      }
    } finally {
      await running.stop("alloc census done");
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  try {
    await main();
    process.exit(0);
  } catch (e) {
    console.error(`bench:alloc: ${(e as Error).message}`);
    process.exit(2);
  }
}
