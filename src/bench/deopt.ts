#!/usr/bin/env bun
/**
 * Deoptimisation check: runs llm-proxy under the benchmark's load with JSC's `printEachOSRExit`
 * on, and counts the speculation failures ("OSR exits") per code site.
 *   bun run bench:deopt [--seconds 8] [--connections 32] [--max 1000] [--gateway auto|binary|source]
 *                       [--endpoint chat|messages|responses]
 * A site that exits now and then is normal: JSC recompiles the function after ~100 exits with the
 * new type information. A site that exits thousands of times is a function that keeps running
 * deoptimised and being recompiled, on every request (session 12 found one in the gateway loop:
 * 25,508 exits in 12 s, about one in four requests; README "Measured"). Exits 1 when a site passes
 * `--max` in the non-streaming or the streaming run.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { choiceFlag, positiveFlag } from "./args.ts";
import { CHAT_BODY, MODEL, STREAM_BODY } from "./fixtures.ts";
import { chooseGateway, gatewayEnv, prepareGateway, ROOT } from "./gateway.ts";
import { bunLoadGen, wrkLoadGen, wrkVersion } from "./loadgen.ts";
import * as P from "./procs.ts";

/** One code site's exits: `function#hash`, bytecode index and JSC's exit kind (BadType, OutOfBounds…). */
export type ExitSite = { site: string; exits: number };

const EXIT_LINE = /^Speculation failure in ([^:\s]*):.*?\((bc#\d+), ([A-Za-z]+)\)/;

/** Counts `Speculation failure in …` lines of a JSC log by site, most exits first. */
export function countExits(log: string): ExitSite[] {
  const counts = new Map<string, number>();
  for (const line of log.split("\n")) {
    const m = EXIT_LINE.exec(line);
    if (!m) continue;
    const site = `${m[1] || "(anonymous)"} ${m[2]} ${m[3]}`;
    counts.set(site, (counts.get(site) ?? 0) + 1);
  }
  return [...counts].map(([site, exits]) => ({ site, exits })).sort((a, b) => b.exits - a.exits || a.site.localeCompare(b.site));
}

if (import.meta.main) {
  const argv = process.argv.slice(2);
  const seconds = Math.min(120, positiveFlag(argv, "seconds", 8));
  const connections = Math.round(positiveFlag(argv, "connections", 32));
  const max = positiveFlag(argv, "max", 1000);
  const gw = chooseGateway(choiceFlag(argv, "gateway", ["source", "auto", "binary"]));
  const endpoint = choiceFlag(argv, "endpoint", ["chat", "messages", "responses"]);
  const system = "You are a concise assistant. Answer in plain English.";
  const question = "In two sentences, why do HTTP clients keep connections alive between requests?";
  /** Path and body (non-streaming, streaming) of each inbound API, all served by the same mock. */
  const endpoints: Record<typeof endpoint, { path: string; body: (stream: boolean) => string }> = {
    chat: { path: "/v1/chat/completions", body: (stream) => (stream ? STREAM_BODY : CHAT_BODY) },
    messages: { path: "/v1/messages", body: (stream) => JSON.stringify({ model: MODEL, max_tokens: 256, system, messages: [{ role: "user", content: question }], ...(stream ? { stream } : {}) }) },
    responses: { path: "/v1/responses", body: (stream) => JSON.stringify({ model: MODEL, instructions: system, input: question, max_output_tokens: 256, ...(stream ? { stream } : {}) }) },
  };
  const api = endpoints[endpoint];

  P.installCleanup();
  P.pinSelf();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "llm-proxy-deopt-"));
  P.onCleanup(() => fs.rmSync(tmp, { recursive: true, force: true }));
  setTimeout(() => {
    console.error("deopt: watchdog fired");
    process.exit(1);
  }, (2 * seconds + 240) * 1000).unref();

  const wrk = wrkVersion();
  const load = wrk ? wrkLoadGen(tmp, wrk) : bunLoadGen();
  let failed = false;
  console.log(`# Speculation failures per code site (llm-proxy ${gw.label}, POST ${api.path}, ${seconds} s at ${connections} connections, ${wrk ? "wrk" : "Bun client"})\n`);
  for (const stream of [false, true]) {
    const mockPort = await P.freePort();
    const mock = P.spawnChild(P.CORE_LOAD, [process.execPath, path.join(import.meta.dir, "mock-upstream.ts"), String(mockPort), "0", stream ? "1" : "0"]);
    await P.waitReady(`http://127.0.0.1:${mockPort}/healthz`, mock);
    const dataDir = path.join(tmp, stream ? "data-stream" : "data");
    const key = prepareGateway(gw, dataDir, mockPort);
    const port = await P.freePort();
    const log = path.join(tmp, stream ? "stream.log" : "json.log");
    const proc = P.spawnChild(P.CORE_SERVER, [...gw.cmd, "serve", "--port", String(port), "--data-dir", dataDir], {
      env: { ...gatewayEnv(dataDir), BUN_JSC_printEachOSRExit: "1" },
      cwd: ROOT,
      logFile: log,
    });
    await P.waitReady(`http://127.0.0.1:${port}/healthz`, proc, 60_000);
    const r = await load.run({ url: `http://127.0.0.1:${port}${api.path}`, key }, api.body(stream), connections, seconds);
    await P.stopChild(proc, 20_000);
    await P.stopChild(mock);
    const sites = countExits(fs.readFileSync(log, "utf8"));
    const requests = Math.round(r.rps * seconds);
    console.log(`## ${stream ? "Streaming" : "Non-streaming"}: ${requests} requests, ${r.errors} errors, ${sites.reduce((n, s) => n + s.exits, 0)} exits\n`);
    console.log("| exits | site (function#hash, bytecode, kind) |\n|---:|---|");
    for (const s of sites.slice(0, 12)) console.log(`| ${s.exits} | \`${s.site}\` |`);
    const bad = sites.filter((s) => s.exits > max);
    for (const s of bad) console.log(`\n- FAIL — \`${s.site}\`: ${s.exits} exits (more than ${max})`);
    if (!bad.length) console.log(`\n- PASS — no site exits more than ${max} times`);
    console.log("");
    failed ||= bad.length > 0 || r.errors > 0;
  }
  process.exit(failed ? 1 : 0);
}
