#!/usr/bin/env bun
/**
 * Profiles llm-proxy (from source) under the benchmark's load, to see where gateway time goes:
 *   bun src/bench/profile.ts [--seconds 10] [--connections 32] [--stream] [--out DIR] [--heap]
 * Starts the mock upstream, runs `bun --cpu-prof-md` (or `--heap-prof-md`) src/index.ts serve
 * pinned to cpu0, drives it with wrk (or the Bun client) on cpu1, stops it with SIGTERM and
 * leaves the Markdown profile in DIR (default: a temp dir), printing its path.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CHAT_BODY, STREAM_BODY } from "./fixtures.ts";
import { gatewayEnv, prepareGateway, ROOT } from "./gateway.ts";
import { bunLoadGen, wrkLoadGen, wrkVersion } from "./loadgen.ts";
import * as P from "./procs.ts";

const argv = process.argv.slice(2);
const flag = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1]! : fallback;
};
const seconds = Math.min(120, Math.max(1, Number(flag("seconds", "10"))));
const connections = Math.min(1024, Math.max(1, Number(flag("connections", "32"))));
const stream = argv.includes("--stream");
const heap = argv.includes("--heap");

P.installCleanup();
P.pinSelf();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "llm-proxy-prof-"));
const out = path.resolve(flag("out", path.join(tmp, "profile")));
fs.mkdirSync(out, { recursive: true });
// Keep only the profile: everything else in tmp (data dir, wrk scripts, logs) goes at exit.
P.onCleanup(() => {
  for (const name of fs.readdirSync(tmp)) {
    if (path.join(tmp, name) !== out) fs.rmSync(path.join(tmp, name), { recursive: true, force: true });
  }
  if (!fs.readdirSync(tmp).length) fs.rmSync(tmp, { recursive: true, force: true });
});
setTimeout(() => {
  console.error("profile: watchdog fired");
  process.exit(1);
}, (seconds + 180) * 1000).unref();

const mockPort = await P.freePort();
const mock = P.spawnChild(P.CORE_LOAD, [process.execPath, path.join(import.meta.dir, "mock-upstream.ts"), String(mockPort), "0", stream ? "1" : "0"]);
await P.waitReady(`http://127.0.0.1:${mockPort}/healthz`, mock);
const gw = { cmd: [process.execPath, path.join(ROOT, "src/index.ts")], label: "source" };
const dataDir = path.join(tmp, "data");
const key = prepareGateway(gw, dataDir, mockPort);

const port = await P.freePort();
const profFlags = heap ? ["--heap-prof-md", `--heap-prof-dir=${out}`] : ["--cpu-prof-md", `--cpu-prof-dir=${out}`, "--cpu-prof-interval=250"];
const log = path.join(tmp, "gateway.stderr.log");
const proc = P.spawnChild(P.CORE_SERVER, [process.execPath, ...profFlags, path.join(ROOT, "src/index.ts"), "serve", "--port", String(port), "--data-dir", dataDir], {
  env: gatewayEnv(dataDir),
  cwd: ROOT,
  logFile: log,
});
await P.waitReady(`http://127.0.0.1:${port}/healthz`, proc, 60_000);

const target = { url: `http://127.0.0.1:${port}/v1/chat/completions`, key };
const wrk = wrkVersion();
const load = wrk ? wrkLoadGen(tmp, wrk) : bunLoadGen();
const r = await load.run(target, stream ? STREAM_BODY : CHAT_BODY, connections, seconds);
const mem = P.memory(proc.pid);
console.log(`${stream ? "streaming" : "non-streaming"} @ ${connections} conns: ${r.rps.toFixed(0)} req/s, ${r.errors} errors, p50 ${r.p50.toFixed(3)} ms, VmRSS ${mem.rss.toFixed(1)} MiB, VmHWM ${mem.hwm.toFixed(1)} MiB`);
await P.stopChild(proc, 20_000);
await P.stopChild(mock);
const files = fs.readdirSync(out).map((f) => path.join(out, f));
console.log(files.length ? `profile: ${files.join(", ")}` : `no profile written; gateway stderr:\n${fs.readFileSync(log, "utf8").slice(-2000)}`);
process.exit(0);
