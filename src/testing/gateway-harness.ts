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
export async function startGateway(toml: string, env: Record<string, string> = {}) {
  const dir = tempDir();
  const file = path.join(dir, "llm-proxy.toml");
  fs.writeFileSync(file, toml);
  const lines: string[] = [];
  const config = loadConfig({
    flags: { config: file },
    env: { LLM_PROXY_DATA_DIR: dir, LLM_PROXY_PORT: String(await freePort()), LLM_PROXY_ENCRYPTION_KEY: "cd".repeat(32), LLM_PROXY_PRICING_SOURCE: PRICING_SNAPSHOT, ...env },
  });
  const running = await startServer(config, createLogger({ json: true, sink: (l) => lines.push(l) }));
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
