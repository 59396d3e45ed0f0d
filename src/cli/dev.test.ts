import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { hashClientKey } from "../auth/client-keys.ts";
import { ConfigError, loadConfig, type ResolvedProvider } from "../config.ts";
import { openDatabase } from "../db/client.ts";
import { listClientKeys, revokeClientKey, updateClientKey } from "../db/client-keys.ts";
import { runMigrations } from "../db/migrate.ts";
import { clientKeyProviders } from "../config.ts";
import { cleanEnv, freePort } from "../testing/cli-process.ts";
import { startMockUpstream } from "../testing/mock-upstream.ts";
import { tempDir } from "../testing/temp.ts";
import {
  CLAUDE_MODEL_NAMES,
  claudeAliases,
  codexModel,
  DEV_KEY_FILE,
  devDataDir,
  ensureDevKey,
  mergeAliases,
  planClaudeMapping,
} from "./dev.ts";
import { requestsTable } from "../testing/request-rows.ts";

const ENTRY = path.resolve(import.meta.dir, "../index.ts");

const provider = (id: string, type: ResolvedProvider["type"], extra: Partial<ResolvedProvider> = {}): ResolvedProvider => ({
  id,
  type,
  apiKeys: [{ value: "sk-x", ref: `env:${id.toUpperCase()}_API_KEY` }],
  headers: {},
  source: "env",
  ...extra,
});

describe("dev mode: pure parts", () => {
  test("data directory: XDG_DATA_HOME, else ~/.local/share, else LOCALAPPDATA on Windows", () => {
    expect(devDataDir({ HOME: "/h", XDG_DATA_HOME: "/x/data" }, "linux")).toBe("/x/data/llm-proxy");
    expect(devDataDir({ HOME: "/h", XDG_DATA_HOME: "relative" }, "linux")).toBe("/h/.local/share/llm-proxy"); // invalid per spec
    expect(devDataDir({ HOME: "/h", XDG_DATA_HOME: "" }, "darwin")).toBe("/h/.local/share/llm-proxy");
    expect(devDataDir({ HOME: "/h", LOCALAPPDATA: "/appdata" }, "win32")).toBe(path.join("/appdata", "llm-proxy"));
  });

  test("Claude names map to the best provider; Anthropic keeps them; user aliases win", () => {
    const openai = planClaudeMapping([provider("deepseek", "deepseek"), provider("openai", "openai")]);
    expect(openai).toEqual({
      kind: "mapped",
      provider: "openai",
      targets: { opus: "openai/gpt-4.1", sonnet: "openai/gpt-4.1", haiku: "openai/gpt-4.1-mini" },
      maxOutputTokens: 32768,
    });
    expect(planClaudeMapping([provider("deepseek", "deepseek"), provider("gemini", "gemini")])).toMatchObject({
      provider: "gemini",
      targets: { sonnet: "gemini/gemini-2.5-pro", haiku: "gemini/gemini-2.5-flash" },
    });
    expect(planClaudeMapping([provider("xai", "grok")])).toMatchObject({ targets: { opus: "xai/grok-4", haiku: "xai/grok-3-mini" }, maxOutputTokens: 8192 });
    expect(planClaudeMapping([provider("deepseek", "deepseek")])).toMatchObject({ targets: { haiku: "deepseek/deepseek-chat" } });
    // An allowlist without our pick: its first model, and no output limit we could vouch for.
    expect(planClaudeMapping([provider("openai", "openai", { models: ["o4-mini"] })])).toEqual({
      kind: "mapped",
      provider: "openai",
      targets: { opus: "openai/o4-mini", sonnet: "openai/o4-mini", haiku: "openai/o4-mini" },
      maxOutputTokens: undefined,
    });
    expect(planClaudeMapping([provider("ollama", "openai-compatible", { apiKeys: [], models: ["qwen3:8b"] })])).toMatchObject({ targets: { sonnet: "ollama/qwen3:8b" } });
    expect(planClaudeMapping([provider("openai", "openai"), provider("anthropic", "anthropic")])).toEqual({ kind: "anthropic", provider: "anthropic" });
    expect(planClaudeMapping([])).toEqual({ kind: "none" });

    const aliases = claudeAliases(openai);
    for (const name of CLAUDE_MODEL_NAMES.sonnet) expect(aliases[name]).toEqual(["openai/gpt-4.1"]);
    expect(aliases["claude-haiku-4-5-20251001"]).toEqual(["openai/gpt-4.1-mini"]);
    expect(aliases["claude-opus-5-5"]).toEqual(["openai/gpt-4.1"]); // what Claude Code 2.1.332 sends by default
    expect(claudeAliases({ kind: "anthropic", provider: "anthropic" })).toEqual({});
    const merged = mergeAliases(aliases, { "claude-sonnet-4-5": ["deepseek/deepseek-chat"], smart: ["openai/o3"] });
    expect(merged["claude-sonnet-4-5"]).toEqual(["deepseek/deepseek-chat"]);
    expect(merged["claude-opus-4-1"]).toEqual(["openai/gpt-4.1"]);
    expect(merged.smart).toEqual(["openai/o3"]);

    expect(codexModel([], openai)).toBe("openai/gpt-4.1");
    expect(codexModel([provider("anthropic", "anthropic")], { kind: "anthropic", provider: "anthropic" })).toBe("anthropic/claude-sonnet-4-5");
  });

  test("an llm-proxy client key exported as a provider key is recognised", () => {
    const bad = provider("openai", "openai", { apiKeys: [{ value: "llmp_abc", ref: "env:OPENAI_API_KEY" }] });
    expect(clientKeyProviders([bad, provider("gemini", "gemini")])).toEqual([{ provider: bad, env: "OPENAI_API_KEY" }]);
  });

  test("the dev key: created once (0600 plaintext file, hash in the database), kept, replaced when revoked", () => {
    const dir = tempDir();
    const handle = openDatabase(path.join(dir, "llm-proxy.db"));
    try {
      runMigrations(handle);
      const first = ensureDevKey(handle.db, dir);
      expect(first.created).toBe(true);
      expect(first.key).toMatch(/^llmp_/);
      const file = path.join(dir, DEV_KEY_FILE);
      expect(fs.readFileSync(file, "utf8").trim()).toBe(first.key);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      expect(listClientKeys(handle.db).map((r) => r.keyHash)).toEqual([hashClientKey(first.key)]);

      fs.chmodSync(file, 0o644);
      const again = ensureDevKey(handle.db, dir);
      expect(again).toMatchObject({ key: first.key, created: false });
      expect(fs.statSync(file).mode & 0o777).toBe(0o600); // tightened

      updateClientKey(handle.db, first.row.id, { enabled: false });
      expect(ensureDevKey(handle.db, dir)).toMatchObject({ key: first.key, created: false, unusable: "disabled" });

      revokeClientKey(handle.db, first.row.id);
      const replaced = ensureDevKey(handle.db, dir);
      expect(replaced.created).toBe(true);
      expect(replaced.key).not.toBe(first.key);
      expect(replaced.replaced).toContain("revoked");
      expect(fs.readFileSync(file, "utf8").trim()).toBe(replaced.key);
      expect(fs.readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    } finally {
      handle.close();
    }
  });

  test("OPENAI_BASE_URL points the env-detected openai provider elsewhere; never at the gateway itself", () => {
    const dir = tempDir();
    const env = { LLM_PROXY_DATA_DIR: dir, OPENAI_API_KEY: "sk-a", DEEPSEEK_API_KEY: "sk-b" };
    const c = loadConfig({ env: { ...env, OPENAI_BASE_URL: "http://127.0.0.1:9999/v1" } });
    expect(c.providers.find((p) => p.id === "openai")?.baseUrl).toBe("http://127.0.0.1:9999/v1");
    expect(c.providers.find((p) => p.id === "deepseek")?.baseUrl).toBeUndefined();
    expect(loadConfig({ env }).providers.find((p) => p.id === "openai")?.baseUrl).toBeUndefined();
    expect(() => loadConfig({ env: { ...env, OPENAI_BASE_URL: "ftp://x" } })).toThrow(/OPENAI_BASE_URL: must be an http\(s\) URL/);
    // The client setting printed by `dev`, exported where the gateway starts, would loop forever.
    for (const url of ["http://127.0.0.1:4141/v1", "http://localhost:4141/v1", "http://[::1]:4141"]) {
      let error: unknown;
      try {
        loadConfig({ env: { ...env, OPENAI_BASE_URL: url } });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toContain("is this gateway itself");
    }
    expect(loadConfig({ env: { ...env, OPENAI_BASE_URL: "http://127.0.0.1:4141/v1" }, flags: { port: "4142" } }).providers[0]?.baseUrl).toBe("http://127.0.0.1:4141/v1");
  });
});

/** Starts `llm-proxy dev` from source and resolves once its settings are printed. */
async function startDev(env: Record<string, string>, args: string[] = []) {
  const port = await freePort();
  const proc = Bun.spawn([process.execPath, ENTRY, "dev", "--port", String(port), ...args], {
    env: cleanEnv({ XDG_DATA_HOME: "", ...env }),
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const stderr = new Response(proc.stderr).text();
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  let stdout = "";
  const deadline = Date.now() + 10_000;
  while (!stdout.includes("Stop: Ctrl-C")) {
    const next = await Promise.race([reader.read(), Bun.sleep(Math.max(0, deadline - Date.now())).then(() => null)]);
    if (!next || next.done) {
      proc.kill("SIGKILL");
      throw new Error(`dev did not print its settings (exit ${proc.exitCode}):\n${stdout}\n${await stderr}`);
    }
    stdout += decoder.decode(next.value, { stream: true });
  }
  reader.releaseLock();
  const stop = async () => {
    proc.kill("SIGTERM");
    return { code: await proc.exited, stderr: await stderr };
  };
  return { proc, port, url: `http://127.0.0.1:${port}`, stdout, stop, stderrText: () => stderr };
}

/**
 * Each process test starts the server from source and sends it several requests. On a loaded CI
 * machine one of them once needed more than the suite's 30 s (the whole run took 105 s instead of
 * ~75), so these get more room; a hung server still fails them.
 */
const PROCESS_TEST_MS = 60_000;

/**
 * `promise`, or a failure naming the step after `ms` (the dev process is then killed and its stderr
 * shown): a step that hangs says which one it was instead of running into the test's timeout.
 */
async function within<T>(step: string, promise: Promise<T>, dev: { proc: { kill(signal?: NodeJS.Signals): void }; stderrText?: () => Promise<string> }, ms = 20_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${step}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, hung]);
  } catch (e) {
    dev.proc.kill("SIGKILL");
    const stderr = dev.stderrText ? await dev.stderrText() : "";
    throw new Error(`${(e as Error).message}${stderr ? `\ndev stderr:\n${stderr.slice(-3000)}` : ""}`);
  } finally {
    clearTimeout(timer);
  }
}

/** The value of `export NAME=value` in the printed settings. */
const exported = (text: string, name: string) => text.match(new RegExp(`^export ${name}=(\\S+)`, "m"))?.[1];

describe("llm-proxy dev (process)", () => {
  const home = tempDir("llm-proxy-dev-home-");
  const upstream = startMockUpstream((req) =>
    Response.json({
      id: "chatcmpl-up",
      object: "chat.completion",
      created: 1,
      model: req.body?.model,
      choices: [{ index: 0, message: { role: "assistant", content: "pong" }, finish_reason: "stop" }],
      usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
    }),
  );
  afterAll(() => upstream.stop());
  const dataDir = path.join(home, ".local", "share", "llm-proxy");
  let firstKey = "";

  test("first run: loopback, data dir under HOME, a new key, ready-to-paste settings, Claude names routed to OpenAI", async () => {
    const dev = await startDev({ HOME: home, OPENAI_API_KEY: "sk-test", OPENAI_BASE_URL: `${upstream.url}/v1` });
    try {
      const out = dev.stdout;
      expect(out).toContain(`llm-proxy dev is ready on ${dev.url} `);
      expect(fs.statSync(dataDir).isDirectory()).toBe(true);
      expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
      const keyFile = path.join(dataDir, DEV_KEY_FILE);
      firstKey = fs.readFileSync(keyFile, "utf8").trim();
      expect(firstKey).toMatch(/^llmp_[\w-]{40,}$/);
      expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
      expect(out).toContain("created now");

      // Claude Code
      expect(exported(out, "ANTHROPIC_BASE_URL")).toBe(dev.url);
      expect(exported(out, "ANTHROPIC_AUTH_TOKEN")).toBe(firstKey);
      expect(exported(out, "ANTHROPIC_DEFAULT_SONNET_MODEL")).toBe("claude-sonnet-4-5");
      expect(exported(out, "ANTHROPIC_DEFAULT_OPUS_MODEL")).toBe("claude-opus-4-1");
      expect(exported(out, "ANTHROPIC_DEFAULT_HAIKU_MODEL")).toBe("claude-haiku-4-5");
      expect(exported(out, "ANTHROPIC_SMALL_FAST_MODEL")).toBe("claude-haiku-4-5");
      expect(exported(out, "CLAUDE_CODE_MAX_OUTPUT_TOKENS")).toBe("32768");
      expect(out).toContain('ANTHROPIC_CUSTOM_HEADERS="x-llm-proxy-project: myproj"');
      expect(out).toMatch(/sonnet\s+claude-sonnet-4-5 .*→ openai\/gpt-4\.1\n/);
      expect(out).toMatch(/haiku\s+claude-haiku-4-5 .*→ openai\/gpt-4\.1-mini\n/);
      // Codex: a TOML block that parses, with the right URL
      const toml = out.slice(out.indexOf("[model_providers.llm-proxy]"), out.indexOf("then run:"));
      expect(Bun.TOML.parse(toml)).toEqual({
        model_providers: {
          "llm-proxy": { name: "llm-proxy", base_url: `${dev.url}/v1`, env_key: "LLM_PROXY_API_KEY", wire_api: "responses", http_headers: { "x-llm-proxy-project": "myproj" } },
        },
      });
      expect(out).toContain(`export LLM_PROXY_API_KEY=${firstKey}`);
      expect(out).toContain("codex -c model_provider=llm-proxy -m openai/gpt-4.1");
      // OpenAI SDKs
      expect(exported(out, "OPENAI_BASE_URL")).toBe(`${dev.url}/v1`);
      expect(exported(out, "OPENAI_API_KEY")).toBe(firstKey);
      expect(out).toContain("defaultHeaders");
      expect(out).toContain(`llm-proxy keys create --name claude-code --data-dir ${dataDir}`);

      // Not reachable on another interface of this machine (only checked when there is one).
      const other = Object.values(os.networkInterfaces()).flat().find((i) => i && i.family === "IPv4" && !i.internal);
      if (other) {
        const refused = fetch(`http://${other.address}:${dev.port}/healthz`, { signal: AbortSignal.timeout(2000) }).then(() => false, () => true);
        expect(await within("fetch on another interface", refused, dev)).toBe(true);
      }

      const auth = { authorization: `Bearer ${firstKey}`, "content-type": "application/json" };
      const models = (await (await within("GET /v1/models", fetch(`${dev.url}/v1/models`, { headers: auth }), dev)).json()) as { data: Array<{ id: string }> };
      const ids = models.data.map((m) => m.id);
      for (const name of ["claude-sonnet-4-5", "claude-sonnet-4-5-20250929", "claude-opus-4-1", "claude-haiku-4-5", "openai/gpt-4.1"]) expect(ids).toContain(name);

      const chat = await within("POST /v1/chat/completions (sonnet)", fetch(`${dev.url}/v1/chat/completions`, {
        method: "POST",
        headers: { ...auth, "x-llm-proxy-project": "proj-a" },
        body: JSON.stringify({ model: "claude-sonnet-4-5", messages: [{ role: "user", content: "ping" }] }),
      }), dev);
      expect(chat.status).toBe(200);
      expect(chat.headers.get("x-llm-proxy-target")).toBe("openai/gpt-4.1");
      expect(((await chat.json()) as any).choices[0].message.content).toBe("pong");
      expect(upstream.requests.at(-1)).toMatchObject({ path: "/v1/chat/completions", body: { model: "gpt-4.1" } });
      expect(upstream.requests.at(-1)!.headers.get("authorization")).toBe("Bearer sk-test");

      // The haiku tier, by a dated name as Claude Code sends it.
      const haiku = await within("POST /v1/chat/completions (haiku)", fetch(`${dev.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "x-api-key": firstKey, "content-type": "application/json" },
        body: JSON.stringify({ model: "claude-haiku-4-5-20251001", messages: [{ role: "user", content: "ping" }] }),
      }), dev);
      expect(haiku.status).toBe(200);
      expect(haiku.headers.get("x-llm-proxy-target")).toBe("openai/gpt-4.1-mini");
      expect(upstream.requests.at(-1)!.body.model).toBe("gpt-4.1-mini");

      // What Claude Code itself sends: the Anthropic Messages API with the printed token.
      const messages = await within("POST /v1/messages", fetch(`${dev.url}/v1/messages?beta=true`, {
        method: "POST",
        headers: { "x-api-key": firstKey, "anthropic-version": "2023-06-01", "content-type": "application/json" },
        body: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 32000, messages: [{ role: "user", content: "ping" }] }),
      }), dev);
      expect(messages.status).toBe(200);
      expect(((await messages.json()) as any).content[0]).toEqual({ type: "text", text: "pong" });
      expect(upstream.requests.at(-1)!.body.model).toBe("gpt-4.1");

      const bad = await within("GET /v1/models (wrong key)", fetch(`${dev.url}/v1/models`, { headers: { authorization: "Bearer llmp_wrong" } }), dev);
      expect(bad.status).toBe(401);
    } finally {
      expect((await within("SIGTERM and exit", dev.stop(), dev)).code).toBe(0);
    }
    // Per-project attribution reached the request log; the database holds the key's hash only.
    const db = new Database(path.join(dataDir, "llm-proxy.db"), { readonly: true });
    try {
      const rows = requestsTable(db).query("SELECT requested_model, provider, upstream_model, project FROM requests ORDER BY id").all();
      expect(rows).toContainEqual({ requested_model: "claude-sonnet-4-5", provider: "openai", upstream_model: "gpt-4.1", project: "proj-a" });
      const keys = db.query("SELECT name, key_hash FROM client_keys").all();
      expect(keys).toEqual([{ name: "dev", key_hash: hashClientKey(firstKey) }]);
    } finally {
      db.close();
    }
    expect(fs.readFileSync(path.join(dataDir, "llm-proxy.db")).includes(firstKey)).toBe(false);
  }, PROCESS_TEST_MS);

  test("second run: the same key again; with no provider keys it starts anyway and says what to set", async () => {
    expect(firstKey).not.toBe("");
    const dev = await startDev({ HOME: home });
    try {
      expect(exported(dev.stdout, "ANTHROPIC_AUTH_TOKEN")).toBe(firstKey);
      expect(exported(dev.stdout, "OPENAI_API_KEY")).toBe(firstKey);
      expect(dev.stdout).toContain(`export LLM_PROXY_API_KEY=${firstKey}`);
      expect(dev.stdout).not.toContain("created now");
      expect(dev.stdout).toContain("No provider keys found");
      for (const v of ["OPENAI_API_KEY", "GEMINI_API_KEY (or GOOGLE_API_KEY)", "DEEPSEEK_API_KEY", "XAI_API_KEY", "ANTHROPIC_API_KEY"]) expect(dev.stdout).toContain(v);
      expect(dev.stdout).not.toContain("ANTHROPIC_DEFAULT_SONNET_MODEL"); // nothing to map to yet
      expect((await fetch(`${dev.url}/healthz`)).ok).toBe(true);
      const models = await fetch(`${dev.url}/v1/models`, { headers: { authorization: `Bearer ${firstKey}` } });
      expect(models.status).toBe(200);
    } finally {
      expect((await dev.stop()).code).toBe(0);
    }
  }, PROCESS_TEST_MS);

  test("--data-dir wins; an exported client key is not used as a provider key; an Anthropic key keeps Claude names", async () => {
    const dir = tempDir();
    const dev = await startDev({ HOME: home, OPENAI_API_KEY: "llmp_exported-by-mistake", ANTHROPIC_API_KEY: "sk-ant-test" }, ["--data-dir", dir]);
    try {
      expect(fs.existsSync(path.join(dir, DEV_KEY_FILE))).toBe(true);
      const key = fs.readFileSync(path.join(dir, DEV_KEY_FILE), "utf8").trim();
      expect(key).not.toBe(firstKey);
      expect(dev.stdout).toContain("WARNING: ignored OPENAI_API_KEY");
      expect(dev.stdout).toContain("providers       anthropic (ANTHROPIC_API_KEY)");
      expect(dev.stdout).toContain("Claude model names go to anthropic");
      expect(dev.stdout).not.toContain("ANTHROPIC_DEFAULT_SONNET_MODEL");
      const models = (await (await fetch(`${dev.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).json()) as { data: Array<{ id: string }> };
      expect(models.data.map((m) => m.id)).not.toContain("claude-sonnet-4-5"); // no alias: the real model via the anthropic provider
      expect(models.data.map((m) => m.id)).toContain("anthropic/claude-sonnet-4-5");
      expect(models.data.some((m) => m.id.startsWith("openai/"))).toBe(false);
    } finally {
      expect((await dev.stop()).code).toBe(0);
    }
  }, PROCESS_TEST_MS);
});
