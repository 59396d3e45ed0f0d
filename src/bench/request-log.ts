/**
 * Request-log benchmark: sustained recorder throughput into a real SQLite file (rows + rollups in
 * batched transactions), and read-API latency over a 1,000,000-row log.
 *   bun run bench:log [rows]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { REQUEST_LOG_DEFAULTS } from "../config.ts";
import { openDatabase } from "../db/client.ts";
import { runMigrations } from "../db/migrate.ts";
import { RequestLogStore } from "../db/request-log.ts";
import { createLogger } from "../logger.ts";
import { newRequestId } from "../recorder/ids.ts";
import { Recorder, type RequestRecord } from "../recorder/recorder.ts";

const TOTAL = Number(process.argv[2] ?? 1_000_000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "llm-proxy-bench-log-"));
const db = openDatabase(path.join(dir, "log.db"));
runMigrations(db);
const store = new RequestLogStore(db.sqlite);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const providers = ["openai", "deepseek", "gemini", "xai", "anthropic"];
const models = ["gpt-4o", "deepseek-chat", "gemini-2.5-flash", "grok-4", "claude-sonnet-4-5", "gpt-4o-mini", "o4-mini", "deepseek-reasoner"];
function record(i: number, at: number): RequestRecord {
  return {
    id: newRequestId(at),
    receivedAt: at,
    firstByteAt: at + 80 + (i % 50),
    finishedAt: at + 300 + (i % 700),
    endpoint: "chat.completions",
    requestedModel: models[i % models.length],
    provider: providers[i % providers.length],
    providerType: "openai",
    upstreamModel: models[i % models.length],
    clientKeyId: `key_${i % 20}`,
    attempts: [{ target: "openai/gpt-4o", keyIndex: 0, ok: true, durationMs: 300 }],
    status: i % 37 === 0 ? 502 : 200,
    stream: i % 2 === 0,
    usage: { inputTokens: 800 + (i % 400), cachedInputTokens: i % 3 ? 0 : 512, outputTokens: 120 + (i % 90), reasoningTokens: i % 5 ? 0 : 40, raw: { prompt_tokens: 800 } },
    clientIp: "127.0.0.1",
    userAgent: "bench/1.0",
  };
}
const price = () => ({ costPico: 1_234_567_890n, entry: "openai/gpt-4o", rule: "exact" });

// 1. Sustained throughput: producers enqueue as fast as they can; the writer drains in batches.
// The shipped defaults (batch size, interval, queue bound): what a server does.
const { flushIntervalMs, batchSize, queueCapacity } = REQUEST_LOG_DEFAULTS;
const recorder = new Recorder({ store, log: createLogger({ sink: () => {} }), price, flushIntervalMs, batchSize, capacity: queueCapacity });
recorder.start();
// Live traffic lands in the current minutes; the backfill below spreads rows over 30 days.
const span = 30 * 86_400_000;
const liveStart = Date.now() - 10 * 60_000;
const LIVE = Math.min(TOTAL, 200_000);
const runs: number[] = [];
let written = 0;
for (let round = 0; round < 5 && written < LIVE; round++) {
  const n = Math.min(Math.ceil(LIVE / 5), LIVE - written);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const waited = recorder.record(record(written + i, liveStart + Math.floor(((written + i) / LIVE) * 600_000)), false);
    if (waited) await waited;
  }
  while (recorder.queued) await Bun.sleep(5);
  const seconds = (performance.now() - t0) / 1000;
  runs.push(n / seconds);
  written += n;
}
await recorder.stop();
// Backfill to TOTAL rows spread over the last 30 days (older than the live rows), for the queries.
const backfill = TOTAL - written;
const tb = performance.now();
for (let done = 0; done < backfill; done += 1000) {
  const batch = [];
  for (let i = done; i < Math.min(backfill, done + 1000); i++) batch.push(record(i, liveStart - span + Math.floor((i / backfill) * span)));
  const rec = new Recorder({ store, log: createLogger({ sink: () => {} }), price, flushIntervalMs: 250, batchSize: 1000, capacity: 2000 });
  for (const r of batch) rec.record(r, false);
  rec.flush();
}
const backfillRate = backfill / ((performance.now() - tb) / 1000);
const rows = store.count();

// 2. Read API over the full log (median of 7 runs each).
const time = (fn: () => unknown) => {
  const xs: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    fn();
    xs.push(performance.now() - t0);
  }
  return median(xs);
};
const now = Date.now();
const page1 = store.list({ limit: 50 });
const queries: Array<[string, () => unknown]> = [
  ["newest 50 rows", () => store.list({ limit: 50 })],
  ["page 2 by cursor", () => store.list({ limit: 50, cursor: page1.nextCursor! })],
  ["filter provider, 50 rows", () => store.list({ provider: "gemini", limit: 50 })],
  ["filter key + errors, 50 rows", () => store.list({ clientKeyId: "key_7", status: "error", limit: 50 })],
  ["last hour, 50 rows", () => store.list({ since: now - 3_600_000, limit: 50 })],
  ["one request by id", () => store.get(page1.rows[10]!.id)],
  ["aggregate 24 h (rollups)", () => store.aggregate({ from: now - 86_400_000, to: now })],
  ["aggregate 30 d by model (rollups)", () => store.aggregate({ from: now - span, to: now, groupBy: "model" })],
  ["series 7 d, 60 points (rollups)", () => store.series({ from: now - 7 * 86_400_000, to: now, points: 60 })],
];
console.log(`request log: ${rows.toLocaleString()} rows in ${path.join(dir, "log.db")} (${(fs.statSync(path.join(dir, "log.db")).size / 1e6).toFixed(0)} MB)`);
console.log(`\n| recorder throughput (rows + rollups, batches of ${batchSize}) | rows/s |\n|---|---|`);
console.log(`| median of ${runs.length} rounds | ${Math.round(median(runs)).toLocaleString()} |`);
console.log(`| slowest round | ${Math.round(Math.min(...runs)).toLocaleString()} |`);
if (backfill > 0) console.log(`| backfill over 30 days (more rollup keys per batch) | ${Math.round(backfillRate).toLocaleString()} |`);
console.log(`\n| query over ${rows.toLocaleString()} rows | median ms |\n|---|---|`);
for (const [name, fn] of queries) console.log(`| ${name} | ${time(fn).toFixed(2)} |`);
db.close();
fs.rmSync(dir, { recursive: true, force: true });
