import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import fs from "node:fs";
import path from "node:path";
import { openDatabase } from "../db/client.ts";
import { runMigrations } from "../db/migrate.ts";
import { RequestLogStore, type LogRow } from "../db/request-log.ts";
import { newRequestId } from "../recorder/ids.ts";
import { cleanEnv, runCli, startCliServer } from "../testing/cli-process.ts";
import { tempDir } from "../testing/temp.ts";
import { VERSION } from "../version.ts";
import { binaryNotes } from "./service.ts";

const KEY = "a1".repeat(32);

describe("llm-proxy CLI", () => {
  test("--version and --help", async () => {
    const v = await runCli(["--version"]);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toBe(`llm-proxy ${VERSION}`);
    const h = await runCli(["--help"]);
    expect(h.code).toBe(0);
    for (const word of ["serve", "migrate", "config check", "backup FILE", "service install", "--data-dir", "LLM_PROXY_PORT"]) {
      expect(h.stdout).toContain(word);
    }
  });

  test("output to a pipe is delivered whole when the reader is slow (`requests --json | slow-consumer`)", async () => {
    const dir = tempDir();
    const h = openDatabase(path.join(dir, "llm-proxy.db"));
    runMigrations(h);
    const now = Date.now();
    const rows = Array.from({ length: 600 }, (_, i): LogRow => ({
      id: newRequestId(now - 600 + i), received_at: now - 600 + i, first_byte_at: null, finished_at: now - 500 + i, client_key_id: null,
      endpoint: "chat.completions", requested_model: "oa/gpt-4o", provider: "oa", provider_type: "openai", upstream_model: "gpt-4o",
      response_model: null, pricing_entry: null, pricing_rule: null, attempts: null, status: 200, error_class: null, error_message: null, stream: 0,
      input_tokens: 10, cached_tokens: null, cache_write_tokens: null, output_tokens: 5, reasoning_tokens: null, usage_estimated: 0,
      usage_raw: null, cost_pico: null, cost_breakdown: null, warnings: null, latency_ms: 100, ttfb_ms: null, client_ip: "127.0.0.1",
      user_agent: "pipe-test/" + "x".repeat(200), project: null,
    }));
    new RequestLogStore(h.sqlite).writeBatch(rows);
    h.close();
    const entry = path.resolve(import.meta.dir, "../index.ts");
    const proc = Bun.spawn([process.execPath, entry, "requests", "--json", "--limit", "1000", "--data-dir", dir], { env: cleanEnv(), stdout: "pipe", stderr: "pipe" });
    await Bun.sleep(1500); // a reader that is not reading yet: the pipe (64 KB) fills long before the output ends
    const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    expect(code).toBe(0);
    const lines = out.trim().split("\n");
    expect(out.length).toBeGreaterThan(150_000);
    expect(lines.length).toBe(600);
    expect(lines.map((l) => JSON.parse(l).id).sort()).toEqual(rows.map((r) => r.id).sort());
  });

  test("serve ignores a client key (llmp_…) in a provider key variable, with a warning; config check says so and masks a URL's password", async () => {
    const seen: string[] = [];
    const up = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (r) => (seen.push(r.headers.get("authorization") ?? ""), Response.json({})) });
    const dir = tempDir();
    const clientKey = "llmp_" + "k".repeat(43);
    const env = { OPENAI_API_KEY: clientKey, OPENAI_BASE_URL: `http://user:pw-SECRET@127.0.0.1:${up.port}/v1`, LLM_PROXY_ENCRYPTION_KEY: KEY };
    try {
      const check = await runCli(["config", "check", "--data-dir", dir], { env });
      expect(check.stdout).toContain("openai (ignored: OPENAI_API_KEY holds an llm-proxy client key");
      expect(check.stdout).not.toContain("pw-SECRET");
      const key = (await runCli(["keys", "create", "--name", "t", "--data-dir", dir], { env })).stdout.trim().split("\n").at(-1)!;
      const server = await startCliServer({ args: ["--data-dir", dir], env });
      try {
        const res = await fetch(`${server.url}/v1/chat/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
          body: JSON.stringify({ model: "openai/gpt-4o", messages: [{ role: "user", content: "hi" }] }),
        });
        expect(res.status).toBe(404); // no openai provider: the client key was not used as one
        expect(seen).toEqual([]);
      } finally {
        server.proc.kill("SIGTERM");
        await server.proc.exited;
      }
      expect(await server.stderr).toContain("ignoring OPENAI_API_KEY: it holds an llm-proxy client key");
    } finally {
      up.stop(true);
    }
  });

  test("a data directory that is a file is named as the problem, not its config file", async () => {
    const file = path.join(tempDir(), "not-a-dir.txt");
    fs.writeFileSync(file, "x");
    const r = await runCli(["keys", "list", "--data-dir", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`data directory ${file}: is not a directory`);
  });

  test("unknown commands and flags exit 2 with a hint", async () => {
    const a = await runCli(["frobnicate"]);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain("unknown command 'frobnicate'");
    const b = await runCli(["serve", "--colour"]);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain("--help");
  });

  test("config check prints effective settings with the key masked", async () => {
    const dir = tempDir();
    const r = await runCli(["config", "check", "--data-dir", dir, "--port", "5555"], { env: { LLM_PROXY_ENCRYPTION_KEY: KEY } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("configuration is valid");
    expect(r.stdout).toMatch(/port\s+5555\s+\(flag\)/);
    expect(r.stdout).toContain("set (32 bytes, from LLM_PROXY_ENCRYPTION_KEY)");
    expect(r.stdout + r.stderr).not.toContain(KEY);
    expect(fs.readdirSync(dir)).toEqual([]); // checking writes nothing
  });

  test("migrate applies migrations and exits; a newer database is refused", async () => {
    const dir = tempDir();
    const r = await runCli(["migrate", "--data-dir", dir]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("migrations applied");
    expect((await runCli(["migrate", "--data-dir", dir])).stderr).toContain("up to date");

    const db = new Database(path.join(dir, "llm-proxy.db"));
    db.run("INSERT INTO __drizzle_migrations (hash, created_at) VALUES ('from-the-future', 99999999999999)");
    db.close();
    const refused = await runCli(["serve", "--data-dir", dir]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("newer llm-proxy");
  });

  test("serve: backup while running, SIGTERM exits 0 with the database closed", async () => {
    const dir = tempDir();
    const server = await startCliServer({ args: ["--data-dir", dir], env: { LLM_PROXY_ENCRYPTION_KEY: KEY } });
    try {
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      const target = path.join(tempDir(), "snap.db");
      const b = await runCli(["backup", target, "--data-dir", dir]);
      expect(b.code).toBe(0);
      const copy = new Database(target, { readonly: true });
      // instance_id, created_at, last_version, the log chunk format (migration 0008) and when 499s began to count as unpriced (0009)
      expect(copy.query("SELECT count(*) AS n FROM meta").get()).toEqual({ n: 5 });
      expect(copy.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
      copy.close();
      expect((await runCli(["backup", target, "--data-dir", dir])).stderr).toContain("already exists");
      // A typo in the directory is an error, not a new directory tree.
      const typo = path.join(tempDir(), "no-such-dir", "snap.db");
      const t = await runCli(["backup", typo, "--data-dir", dir]);
      expect([t.code, t.stderr.includes("does not exist; create it first"), fs.existsSync(path.dirname(typo))]).toEqual([1, true, false]);
    } finally {
      server.proc.kill("SIGTERM");
    }
    expect(await server.proc.exited).toBe(0);
    const log = await server.stderr;
    expect(log).toContain('"msg":"stopped"');
    expect(log).not.toContain(KEY);
    // No key file is generated when the key comes from the environment.
    expect(fs.existsSync(path.join(dir, "encryption.key"))).toBe(false);
  });

  test("service install --print shows a hardened unit; --user installs and uninstalls under HOME", async () => {
    const p = await runCli(["service", "install", "--print"]);
    expect(p.code).toBe(0);
    // Flags the unit would ignore are refused; a binary under /tmp (hidden by PrivateTmp) is flagged.
    for (const flag of [["--port", "9999"], ["--host", "0.0.0.0"], ["--data-dir", "/srv/x"]]) {
      const r = await runCli(["service", "install", "--print", ...flag]);
      expect([r.code, r.stderr.includes(`${flag[0]} does not apply to 'service install'`)]).toEqual([2, true]);
    }
    expect((await runCli(["keys", "list", "--port", "5"])).stderr).toContain("--port does not apply to 'keys list'");
    expect(binaryNotes({ user: false, binary: "/tmp/qa/llm-proxy" }).join(" ")).toContain("PrivateTmp=yes");
    expect(binaryNotes({ user: false, binary: "/usr/local/bin/llm-proxy" })).toEqual([]);
    for (const line of [
      "NoNewPrivileges=yes",
      "ProtectSystem=strict",
      "StateDirectory=llm-proxy",
      "Restart=on-failure",
      "LoadCredential=encryption-key:/etc/llm-proxy/encryption.key",
      "Environment=LLM_PROXY_ENCRYPTION_KEY_FILE=%d/encryption-key",
      "DynamicUser=yes",
    ]) {
      expect(p.stdout).toContain(line);
    }
    const home = tempDir();
    const env = { HOME: home, LLM_PROXY_DATA_DIR: tempDir() };
    const i = await runCli(["service", "install", "--user"], { env });
    expect(i.code).toBe(0);
    const unit = path.join(home, ".config/systemd/user/llm-proxy.service");
    expect(fs.readFileSync(unit, "utf8")).toContain("WantedBy=default.target");
    expect(fs.existsSync(path.join(home, ".config/llm-proxy/llm-proxy.toml"))).toBe(true);
    expect(i.stdout).toContain("systemctl --user daemon-reload");
    const u = await runCli(["service", "uninstall", "--user"], { env });
    expect(u.code).toBe(0);
    expect(fs.existsSync(unit)).toBe(false);
  });

  test("keys create/list/revoke; a key revoked from the terminal stops working on the running server at once", async () => {
    const dir = tempDir();
    const server = await startCliServer({ args: ["--data-dir", dir], env: { LLM_PROXY_ENCRYPTION_KEY: KEY } });
    try {
      const created = await runCli(["keys", "create", "--name", "ci bot", "--data-dir", dir]);
      expect(created.code).toBe(0);
      const key = created.stdout.trim().split("\n").at(-1)!;
      expect(key).toMatch(/^llmp_[A-Za-z0-9_-]{43}$/);
      const id = /created client key (key_[0-9a-f]+)/.exec(created.stdout)![1]!;

      const list = await runCli(["keys", "list", "--data-dir", dir]);
      expect(list.stdout).toContain(id);
      expect(list.stdout).toContain("ci bot");
      expect(list.stdout).toContain("active");
      expect(list.stdout).not.toContain(key);
      const json = await runCli(["keys", "list", "--json", "--data-dir", dir]);
      expect(JSON.parse(json.stdout.trim())).toMatchObject({ id, name: "ci bot", revoked_at: null });

      const auth = { headers: { authorization: `Bearer ${key}` } };
      expect((await fetch(`${server.url}/v1/models`, auth)).status).toBe(200);
      expect((await runCli(["keys", "revoke", id, "--data-dir", dir])).code).toBe(0);
      expect((await fetch(`${server.url}/v1/models`, auth)).status).toBe(401);
      expect((await runCli(["keys", "revoke", id, "--data-dir", dir])).code).toBe(1);
      expect((await runCli(["keys", "list", "--data-dir", dir])).stdout).toContain("revoked");
      expect((await runCli(["keys", "create", "--data-dir", dir])).code).toBe(2);
    } finally {
      server.proc.kill("SIGTERM");
      await server.proc.exited;
    }
  });
});
