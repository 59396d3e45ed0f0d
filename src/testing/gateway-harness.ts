import fs from "node:fs";
import path from "node:path";
import OpenAI from "openai";
import { createClientKey } from "../auth/client-keys.ts";
import { loadConfig } from "../config.ts";
import { openDatabase } from "../db/client.ts";
import { createLogger } from "../logger.ts";
import { startServer } from "../server/serve.ts";
import { freePort, PRICING_SNAPSHOT } from "./cli-process.ts";
import { tempDir } from "./temp.ts";

/**
 * Starts the real gateway (real SQLite file, real HTTP on 127.0.0.1) with the given TOML config,
 * creates a client key through a second database connection (as `llm-proxy keys create` does),
 * and returns an official `openai` SDK client pointed at it.
 */
export async function startGateway(toml: string, env: Record<string, string> = {}, options: Parameters<typeof startServer>[2] = {}) {
  const dir = tempDir();
  const file = path.join(dir, "llm-proxy.toml");
  fs.writeFileSync(file, toml);
  const lines: string[] = [];
  const config = loadConfig({
    flags: { config: file },
    env: { LLM_PROXY_DATA_DIR: dir, LLM_PROXY_PORT: String(await freePort()), LLM_PROXY_ENCRYPTION_KEY: "cd".repeat(32), LLM_PROXY_PRICING_SOURCE: PRICING_SNAPSHOT, ...env },
  });
  const running = await startServer(config, createLogger({ json: true, sink: (l) => lines.push(l) }), options);
  // The pricing registry loads in the background (startup never waits for it); tests that check
  // costs must not race it: wait for its first load (joins the one start() began).
  await running.pricing.refresh();
  const side = openDatabase(path.join(dir, "llm-proxy.db"));
  const { key, row } = createClientKey(side.db, "test");
  side.close();
  const base = running.url.href.replace(/\/$/, "");
  const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: key, maxRetries: 0 });
  return { running, base, key, keyId: row.id, client, dir, lines, stop: () => running.stop() };
}

/** A `[[providers]]` table for a mock upstream. */
export function providerToml(id: string, type: string, baseUrl: string, extra = ""): string {
  return `[[providers]]\nid = "${id}"\ntype = "${type}"\nbase_url = "${baseUrl}"\napi_key = "sk-test-${id}-secret"\n${extra}\n`;
}

/**
 * Creates the first admin through the one-time setup link the server logged and returns a
 * `fetch` that sends its session cookie (and the CSRF header) on every call to `/api`.
 */
export async function adminSession(gw: { base: string; lines: string[] }, username = "admin", password = "correct horse battery") {
  const line = gw.lines.find((l) => l.includes("setup_url"));
  if (!line) throw new Error("the server logged no setup link (is there a user already?)");
  const token = new URL(JSON.parse(line).setup_url).searchParams.get("token");
  const res = await fetch(`${gw.base}/api/auth/setup`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-requested-with": "llm-proxy" },
    body: JSON.stringify({ token, username, password }),
  });
  if (res.status !== 200) throw new Error(`setup failed: ${res.status} ${await res.text()}`);
  const cookie = res.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  const call = (pathname: string, init: RequestInit = {}) =>
    fetch(`${gw.base}${pathname}`, {
      ...init,
      headers: { cookie, "content-type": "application/json", "x-requested-with": "llm-proxy", ...(init.headers as Record<string, string>) },
    });
  return Object.assign(call, { cookie });
}

/**
 * Starts a streaming Chat Completions request and reads its first chunk; `leave()` then
 * disconnects the client as a user closing the tab would.
 */
export async function streamFirstChunk(base: string, key: string, body: Record<string, unknown>): Promise<{ id: string | null; first: string; leave: () => void }> {
  const controller = new AbortController();
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: "POST",
    signal: controller.signal,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ ...body, stream: true }),
  });
  const { value } = await res.body!.getReader().read();
  return { id: res.headers.get("x-request-id"), first: new TextDecoder().decode(value), leave: () => controller.abort() };
}
