import { describe, expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { ConfigError, loadConfig } from "./config.ts";
import { runCli } from "./testing/cli-process.ts";
import { tempDir } from "./testing/temp.ts";

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

describe("config precedence: defaults < file < env < flags", () => {
  test("defaults: loopback, 4141, data dir llm-proxy-data", () => {
    const dir = tempDir();
    const c = loadConfig({ env: { LLM_PROXY_DATA_DIR: dir } });
    expect(c.host).toBe("127.0.0.1");
    expect(c.port).toBe(4141);
    expect(c.logLevel).toBe("info");
    expect(c.shutdownGraceMs).toBe(30_000);
    expect(c.configFile).toBeUndefined();
    expect(c.origin.host).toBe("default");
    expect(loadConfig({ env: {} }).dataDir.endsWith("llm-proxy-data")).toBe(true);
  });

  test("each layer overrides the one below", () => {
    const dir = tempDir();
    const file = path.join(dir, "c.toml");
    fs.writeFileSync(file, 'host = "10.1.1.1"\nport = 5000\nlog_level = "warn"\nshutdown_grace_ms = 1234\n');
    const fromFile = loadConfig({ flags: { config: file }, env: { LLM_PROXY_DATA_DIR: dir } });
    expect([fromFile.host, fromFile.port, fromFile.logLevel, fromFile.shutdownGraceMs]).toEqual(["10.1.1.1", 5000, "warn", 1234]);
    expect(fromFile.origin.port).toBe("file");
    expect(fromFile.configFile).toBe(file);

    const env = { LLM_PROXY_DATA_DIR: dir, LLM_PROXY_PORT: "6000", LLM_PROXY_LOG_LEVEL: "debug" };
    const fromEnv = loadConfig({ flags: { config: file }, env });
    expect([fromEnv.host, fromEnv.port, fromEnv.logLevel]).toEqual(["10.1.1.1", 6000, "debug"]);
    expect(fromEnv.origin.port).toBe("env");

    const fromFlags = loadConfig({ flags: { config: file, port: "7000", host: "::1" }, env });
    expect([fromFlags.host, fromFlags.port, fromFlags.logLevel]).toEqual(["::1", 7000, "debug"]);
    expect(fromFlags.origin.port).toBe("flag");
  });

  test("llm-proxy.toml in the data directory is read when no --config is given", () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "llm-proxy.toml"), "port = 4242\n");
    const c = loadConfig({ flags: { "data-dir": dir }, env: {} });
    expect(c.port).toBe(4242);
    expect(c.configFile).toBe(path.join(dir, "llm-proxy.toml"));
  });

  test("LLM_PROXY_CONFIG names the file", () => {
    const dir = tempDir();
    const file = path.join(dir, "x.toml");
    fs.writeFileSync(file, "port = 4343\n");
    expect(loadConfig({ env: { LLM_PROXY_CONFIG: file, LLM_PROXY_DATA_DIR: dir } }).port).toBe(4343);
  });
});

describe("config errors name the source and path of every bad field", () => {
  test("file: wrong types, unknown keys, all reported at once", () => {
    const dir = tempDir();
    const file = path.join(dir, "bad.toml");
    fs.writeFileSync(file, 'port = "eighty"\nlog_level = "loud"\nprot = 1\n');
    const p = problems(() => loadConfig({ flags: { config: file }, env: { LLM_PROXY_DATA_DIR: dir } }));
    expect(p.some((x) => x.startsWith(`${file}: port:`) && x.includes("expected number"))).toBe(true);
    expect(p.some((x) => x.startsWith(`${file}: log_level:`))).toBe(true);
    expect(p.some((x) => x.includes("unknown key(s) 'prot'"))).toBe(true);
  });

  test("invalid TOML and a missing explicit file", () => {
    const dir = tempDir();
    const file = path.join(dir, "broken.toml");
    fs.writeFileSync(file, "port = = 3\n");
    expect(problems(() => loadConfig({ flags: { config: file }, env: {} }))[0]).toContain("invalid TOML");
    const missing = path.join(dir, "nope.toml");
    expect(problems(() => loadConfig({ flags: { config: missing }, env: {} }))[0]).toContain("cannot read (ENOENT)");
  });

  test("env and flags are reported by name", () => {
    const p = problems(() =>
      loadConfig({ flags: { port: "99999", "log-level": "chatty" }, env: { LLM_PROXY_PORT: "abc", LLM_PROXY_HOST: "bad host!" } }),
    );
    expect(p.some((x) => x.startsWith("environment LLM_PROXY_PORT:"))).toBe(true);
    expect(p.some((x) => x.startsWith("environment LLM_PROXY_HOST:"))).toBe(true);
    expect(p.some((x) => x.startsWith("flag --port:") && x.includes("65535"))).toBe(true);
    expect(p.some((x) => x.startsWith("flag --log-level:"))).toBe(true);
  });

  test("the CLI exits 2 before binding any port, printing every problem", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "llm-proxy.toml"), "port = -1\nverbose = true\n");
    const r = await runCli(["serve", "--data-dir", dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("port:");
    expect(r.stderr).toContain("unknown key(s) 'verbose'");
    expect(r.stderr).not.toContain("listening");
    expect(fs.existsSync(path.join(dir, "llm-proxy.db"))).toBe(false);
  });
});

describe("providers, aliases and gateway settings", () => {
  test("conventional env vars enable providers when none are configured", () => {
    const c = loadConfig({ env: { OPENAI_API_KEY: "sk-o", DEEPSEEK_API_KEY: "sk-d", XAI_API_KEY: "xai-k" } });
    expect(c.providers.map((p) => [p.id, p.type, p.source])).toEqual([
      ["openai", "openai", "env"],
      ["deepseek", "deepseek", "env"],
      ["xai", "grok", "env"],
    ]);
    expect(c.providers[0]!.apiKeys[0]!.value).toBe("sk-o");
  });

  test("[[providers]] with env: references, key lists, models and headers; env detection is then off", () => {
    const dir = tempDir();
    const file = path.join(dir, "p.toml");
    fs.writeFileSync(
      file,
      `[[providers]]\nid = "oa"\ntype = "openai"\napi_keys = ["env:K1", "sk-literal-1234567890"]\nmodels = ["gpt-4o"]\nheaders = { "OpenAI-Organization" = "org-1" }\n\n` +
        `[[providers]]\nid = "ollama"\ntype = "openai-compatible"\nbase_url = "http://127.0.0.1:11434/v1"\n\n` +
        `[models.aliases]\nsmart = ["oa/gpt-4o", "ollama/llama3"]\nfast = "ollama/llama3"\n\n[gateway]\nmax_retries = 5\n`,
    );
    const c = loadConfig({ flags: { config: file }, env: { K1: "sk-from-env", OPENAI_API_KEY: "ignored" } });
    expect(c.providers.map((p) => p.id)).toEqual(["oa", "ollama"]);
    expect(c.providers[0]!.apiKeys.map((k) => k.value)).toEqual(["sk-from-env", "sk-literal-1234567890"]);
    expect(c.providers[0]!.apiKeys.map((k) => k.ref)).toEqual(["env:K1", "…7890"]);
    expect(c.providers[0]!.headers).toEqual({ "OpenAI-Organization": "org-1" });
    expect(c.providers[1]!.apiKeys).toEqual([]);
    expect(c.aliases).toEqual({ smart: ["oa/gpt-4o", "ollama/llama3"], fast: ["ollama/llama3"] });
    expect(c.gateway.maxRetries).toBe(5);
    expect(c.gateway.firstByteTimeoutMs).toBeGreaterThanOrEqual(60_000);
  });

  test("provider mistakes are reported with their path", () => {
    const dir = tempDir();
    const file = path.join(dir, "p.toml");
    fs.writeFileSync(file, `[[providers]]\nid = "x"\ntype = "openai"\napi_key = "env:MISSING_VAR"\n\n[models.aliases]\na = ["nobody/m", "bare"]\n`);
    const p = problems(() => loadConfig({ flags: { config: file }, env: {} }));
    expect(p).toContain("providers[0].api_key: environment variable MISSING_VAR is not set");
    expect(p).toContain("models.aliases.a[0]: unknown provider 'nobody'");
    expect(p.some((x) => x.includes("models.aliases.a[1]") && x.includes("provider-id/model"))).toBe(true);
    fs.writeFileSync(file, `[[providers]]\nid = "local"\ntype = "openai-compatible"\n[[providers]]\nid = "Bad Id"\ntype = "cohere"\n`);
    const q = problems(() => loadConfig({ flags: { config: file }, env: {} }));
    expect(q.some((x) => x.includes("providers[0].base_url"))).toBe(true);
    expect(q.some((x) => x.includes("providers[1].id"))).toBe(true);
    expect(q.some((x) => x.includes("providers[1].type"))).toBe(true);
  });

  test("config check masks provider keys", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "llm-proxy.toml"), `[[providers]]\nid = "oa"\ntype = "openai"\napi_key = "sk-supersecret-value-9876"\n`);
    const r = await runCli(["config", "check", "--data-dir", dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("oa (openai, keys: …9876; from file)");
    expect(r.stdout).not.toContain("supersecret");
  });
});
