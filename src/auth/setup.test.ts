import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import fs from "node:fs";
import path from "node:path";
import { openDatabase } from "../db/client.ts";
import { runMigrations } from "../db/migrate.ts";
import { countUsers } from "../db/users.ts";
import { ClientError } from "../errors.ts";
import { runCli, startCliServer } from "../testing/cli-process.ts";
import { tempDir } from "../testing/temp.ts";
import { completeSetup, hashSetupToken, issueSetupToken, SETUP_TOKEN_TTL_MS, setupLink, setupRequired } from "./setup.ts";
import { bcryptHasher } from "./users.ts";

const hasher = bcryptHasher(4);

function freshDb() {
  const handle = openDatabase(path.join(tempDir(), "setup.db"));
  runMigrations(handle);
  return handle;
}

async function code(p: Promise<unknown>): Promise<string | null> {
  try {
    await p;
    return "ok";
  } catch (e) {
    if (!(e instanceof ClientError)) throw e;
    return `${e.status} ${e.code}`;
  }
}

describe("setup token", () => {
  test("issued only while there are no users; only its SHA-256 is stored; a new one replaces the old", () => {
    const { db, sqlite, close } = freshDb();
    try {
      const first = issueSetupToken(db, 1000)!;
      expect(first).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const rows = sqlite.query("SELECT * FROM setup_tokens").all() as Array<Record<string, unknown>>;
      expect(rows).toEqual([{ token_hash: hashSetupToken(first), created_at: 1000, expires_at: 1000 + SETUP_TOKEN_TTL_MS, used_at: null }]);
      expect(JSON.stringify(rows)).not.toContain(first);
      const second = issueSetupToken(db, 2000)!;
      expect(second).not.toBe(first);
      expect((sqlite.query("SELECT token_hash FROM setup_tokens").all() as Array<{ token_hash: string }>).map((r) => r.token_hash)).toEqual([hashSetupToken(second)]);
      expect(setupLink(new URL("http://127.0.0.1:4141/"), "a+b")).toBe("http://127.0.0.1:4141/setup?token=a%2Bb");
    } finally {
      close();
    }
  });

  test("wrong, replaced and expired tokens fail; the right one creates the first admin once", async () => {
    const { db, close } = freshDb();
    try {
      const clock = { t: 10_000 };
      const now = () => clock.t;
      const old = issueSetupToken(db, clock.t)!;
      const token = issueSetupToken(db, clock.t)!;
      const input = { token, username: "Admin", password: "first-admin-password" };
      expect(await code(completeSetup(db, hasher, { ...input, token: "wrong" }, now))).toBe("401 invalid_setup_token");
      expect(await code(completeSetup(db, hasher, { ...input, token: old }, now))).toBe("401 invalid_setup_token");
      expect(await code(completeSetup(db, hasher, { ...input, token: token.slice(0, -1) }, now))).toBe("401 invalid_setup_token");
      clock.t += SETUP_TOKEN_TTL_MS;
      expect(await code(completeSetup(db, hasher, input, now))).toBe("401 invalid_setup_token");
      clock.t -= 1;
      // Policy errors come after the token check, so they cannot be used to probe it.
      expect(await code(completeSetup(db, hasher, { ...input, password: "short" }, now))).toBe("400 invalid_password");
      const user = await completeSetup(db, hasher, input, now);
      expect(user).toMatchObject({ username: "admin", role: "admin" });
      expect(setupRequired(db)).toBe(false);
      expect(await code(completeSetup(db, hasher, input, now))).toBe("409 setup_complete");
      expect(issueSetupToken(db)).toBeUndefined(); // and a restart prints no new link
    } finally {
      close();
    }
  });

  test("two concurrent setups with the same token: exactly one admin", async () => {
    const { db, close } = freshDb();
    try {
      const token = issueSetupToken(db)!;
      const results = await Promise.all(
        ["one", "two", "three"].map((username) => code(completeSetup(db, hasher, { token, username, password: "concurrent-password" }))),
      );
      expect(results.filter((r) => r === "ok").length).toBe(1);
      expect(results.filter((r) => r === "409 setup_complete").length).toBe(2);
      expect(countUsers(db)).toBe(1);
    } finally {
      close();
    }
  });
});

describe("llm-proxy admin create", () => {
  test("creates a user from --password-stdin while the server runs; setup closes; bad input is refused", async () => {
    const dir = tempDir();
    const server = await startCliServer({ args: ["--data-dir", dir] });
    const password = "cli-created-password-🔑";
    try {
      const pending = await fetch(`${server.url}/api/auth/setup`);
      expect(await pending.json()).toEqual({ setup_required: true });

      const noStdin = await runCli(["admin", "create", "--username", "ops", "--data-dir", dir]);
      expect(noStdin.code).toBe(2);
      expect(noStdin.stderr).toContain("--password-stdin");
      const short = await runCli(["admin", "create", "--username", "ops", "--password-stdin", "--data-dir", dir], { stdin: "too-short\n" });
      expect(short.code).toBe(2);
      expect(short.stderr).toContain("12 to 1024 characters");
      expect(short.stderr).not.toContain("too-short");
      const badRole = await runCli(["admin", "create", "--username", "ops", "--role", "root", "--password-stdin", "--data-dir", dir], { stdin: password });
      expect(badRole.code).toBe(2);

      const created = await runCli(["admin", "create", "--username", "Ops", "--password-stdin", "--data-dir", dir], { stdin: password + "\n" });
      expect(created.code).toBe(0);
      expect(created.stdout).toMatch(/^created admin 'ops' \(usr_[0-9a-f]{16}\)\n$/);
      expect(created.stdout + created.stderr).not.toContain(password);
      const again = await runCli(["admin", "create", "--username", "ops", "--password-stdin", "--data-dir", dir], { stdin: password });
      expect(again.code).toBe(1);
      expect(again.stderr).toContain("taken");

      // The running server sees the new user at once (nothing cached), with the trailing newline stripped.
      const headers = { "content-type": "application/json", "x-requested-with": "llm-proxy" };
      const login = await fetch(`${server.url}/api/auth/login`, { method: "POST", headers, body: JSON.stringify({ username: "ops", password }) });
      expect(login.status).toBe(200);
      expect(await login.json()).toEqual({ user: { id: expect.stringMatching(/^usr_/), username: "ops", role: "admin" } });
      const closed = await fetch(`${server.url}/api/auth/setup`, { method: "POST", headers, body: JSON.stringify({ token: "x", username: "late", password }) });
      expect(closed.status).toBe(409);
      expect(await (await fetch(`${server.url}/api/auth/setup`)).json()).toEqual({ setup_required: false });
    } finally {
      server.proc.kill("SIGTERM");
      await server.proc.exited;
    }
    const log = await server.stderr;
    expect(log).toContain('"setup_url":"http://127.0.0.1:');
    expect(log).not.toContain(password);

    const db = new Database(path.join(dir, "llm-proxy.db"), { readonly: true });
    try {
      const rows = db.query("SELECT username, role, password_hash FROM users").all() as Array<{ username: string; role: string; password_hash: string }>;
      expect(rows.map((r) => [r.username, r.role])).toEqual([["ops", "admin"]]);
      expect(rows[0]!.password_hash).toStartWith("$2b$12$"); // production cost
      expect(db.query("SELECT COUNT(*) AS n FROM setup_tokens").get()).toEqual({ n: 0 });
      const audit = db.query("SELECT action, target, detail, user_id FROM audit_log WHERE action = 'user.create'").all() as Array<Record<string, string | null>>;
      expect(audit).toHaveLength(1);
      expect(JSON.parse(audit[0]!.detail!)).toEqual({ username: "ops", role: "admin", via: "cli" });
    } finally {
      db.close();
    }
    expect(fs.readFileSync(path.join(dir, "llm-proxy.db")).includes(Buffer.from(password))).toBe(false);
  });
});
