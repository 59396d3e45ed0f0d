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
