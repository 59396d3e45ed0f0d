#!/usr/bin/env bun
/**
 * In-process benchmark: CPU per request of the gateway's own code, with the request log on and off,
 * without Bun's HTTP server, the network or an upstream process in the way.
 *   bun run bench:inprocess [--seconds 1] [--rounds 8] [--concurrency 32]
 * Two gateways (log on, log off) run in this one process, which is pinned to one core. Each is
 * driven through `app.handle()` with an injected upstream `fetch` that answers after one event-loop
 * turn with a canned chat completion. They take turns in rounds of `--seconds`, so both see the same
 * machine minute; the log-on gateway's queue is flushed inside its own rounds. Reports medians.
 * Quieter than the server benchmark (no wrk, no sockets), so it resolves differences of a few µs;
 * the server costs more per step (see README), so it ranks changes rather than predicting req/s.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createClientKey } from "../auth/client-keys.ts";
import { loadConfig } from "../config.ts";
import { openDatabase } from "../db/client.ts";
import { RequestLogStore } from "../db/request-log.ts";
import { createLogger } from "../logger.ts";
import { startServer, type RunningServer } from "../server/serve.ts";
import { positiveFlag } from "./args.ts";
import { CHAT_BODY, COMPLETION_JSON } from "./fixtures.ts";
import { gatewayEnv } from "./gateway.ts";
import { CORE_SERVER, PINNING, pinSelf } from "./procs.ts";

const argv = process.argv.slice(2);
const flag = (name: string, fallback: number) => positiveFlag(argv, name, fallback);
const seconds = flag("seconds", 1);
const rounds = Math.round(flag("rounds", 8));
const concurrency = Math.round(flag("concurrency", 32));

pinSelf(CORE_SERVER);

const reply = new TextEncoder().encode(COMPLETION_JSON);
/** The upstream: one event-loop turn, then a canned completion (what a fast local upstream does). */
const upstreamFetch = (async () => {
  await new Promise((resolve) => setImmediate(resolve));
  return new Response(reply, { headers: { "content-type": "application/json" } });
}) as unknown as typeof fetch;

type Gateway = { name: string; running: RunningServer; key: string; dir: string; log: boolean };

async function startGateway(log: boolean): Promise<Gateway> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "llm-proxy-inprocess-"));
  const configFile = path.join(dir, "llm-proxy.toml");
  fs.writeFileSync(
    configFile,
    `[[providers]]\nid = "bench"\ntype = "openai"\nbase_url = "http://127.0.0.1:9/v1"\napi_key = "sk-bench"\n${log ? "" : "[request_log]\nenabled = false\n"}`,
  );
  const env = { ...gatewayEnv(dir), LLM_PROXY_DATA_DIR: dir, LLM_PROXY_PORT: "0" };
  const config = loadConfig({ flags: { config: configFile }, env });
  const running = await startServer(config, createLogger({ json: true, level: "error", sink: () => {} }), { fetch: upstreamFetch });
  const side = openDatabase(path.join(dir, "llm-proxy.db"));
  const { key } = createClientKey(side.db, "bench");
  side.close();
  // The price list loads in the background: wait for it, so every logged row is priced.
  for (let i = 0; i < 200 && running.pricing.current().info.models === 0; i++) await Bun.sleep(10);
  return { name: log ? "log on" : "log off", running, key, dir, log };
}

/** Runs `concurrency` clients for `ms`; returns requests/s and CPU µs per request (this process). */
async function round(gw: Gateway, ms: number): Promise<{ rps: number; cpu: number }> {
  const url = `${gw.running.url.href}v1/chat/completions`;
  const headers = { authorization: `Bearer ${gw.key}`, "content-type": "application/json" };
  let count = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const until = t0 + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const res = await gw.running.app.handle(new Request(url, { method: "POST", headers, body: CHAT_BODY }));
        if (res.status !== 200) throw new Error(`${gw.name}: status ${res.status}: ${await res.text()}`);
        await res.arrayBuffer();
        count++;
      }
    }),
  );
  if (gw.log) {
    // This round's rows are written, and copied from the WAL into the database file, in this round
    // (else the checkpointer thread would do the copying during the other gateway's round).
    gw.running.recorder.flush();
    gw.running.db.sqlite.run("PRAGMA wal_checkpoint(PASSIVE)");
  }
  const cpu = process.cpuUsage(c0);
  return { rps: count / ((performance.now() - t0) / 1000), cpu: (cpu.user + cpu.system) / count };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number, d = 1) => n.toFixed(d);

const on = await startGateway(true);
const off = await startGateway(false);
try {
  for (const gw of [on, off, on, off]) await round(gw, 500); // warm-up (JIT)
  const results = { on: [] as Array<{ rps: number; cpu: number }>, off: [] as Array<{ rps: number; cpu: number }> };
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first, so neither always follows the other's flush.
    for (const gw of r % 2 ? [off, on] : [on, off]) results[gw.log ? "on" : "off"].push(await round(gw, seconds * 1000));
  }
  const cpuOn = median(results.on.map((x) => x.cpu));
  const cpuOff = median(results.off.map((x) => x.cpu));
  const rpsOn = median(results.on.map((x) => x.rps));
  const rpsOff = median(results.off.map((x) => x.rps));
  const logged = { n: 0, priced: 0 };
  for (const row of new RequestLogStore(on.running.db.sqlite).rows()) logged.n++, row.cost_pico !== null && logged.priced++;
  console.log(`# llm-proxy in-process benchmark

- ${rounds} rounds of ${seconds} s per gateway, ${concurrency} concurrent clients, ${PINNING ? `pinned to core ${CORE_SERVER}` : "not pinned (no taskset or one core)"}; bun ${Bun.version}
- log-on gateway wrote ${logged.n} rows, ${logged.priced} of them priced

| gateway | requests/s (median) | CPU per request (median) | min – max |
|---|---:|---:|---:|
| log off | ${fmt(rpsOff, 0)} | ${fmt(cpuOff)} µs | ${fmt(Math.min(...results.off.map((x) => x.cpu)))} – ${fmt(Math.max(...results.off.map((x) => x.cpu)))} µs |
| log on | ${fmt(rpsOn, 0)} | ${fmt(cpuOn)} µs | ${fmt(Math.min(...results.on.map((x) => x.cpu)))} – ${fmt(Math.max(...results.on.map((x) => x.cpu)))} µs |

Cost of logging: ${fmt(cpuOn - cpuOff)} µs per request, ${fmt((1 - rpsOn / rpsOff) * 100)}% of requests/s.`);
} finally {
  for (const gw of [on, off]) {
    await gw.running.stop("bench done");
    fs.rmSync(gw.dir, { recursive: true, force: true });
  }
}
process.exit(0);
