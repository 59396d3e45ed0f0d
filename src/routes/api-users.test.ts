import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import path from "node:path";
import { loadConfig } from "../config.ts";
import { createLogger } from "../logger.ts";
import { startServer } from "../server/serve.ts";
import { freePort, PRICING_SNAPSHOT } from "../testing/cli-process.ts";
import { tempDir } from "../testing/temp.ts";

/** Users and audit API against the real server on loopback with a real SQLite file. */
const seen: string[] = [];
const PASSWORDS = ["users-admin-password", "users-viewer-password", "reset-by-admin-pw", "own-new-password-3", "extra-admin-password"];

let base = "";
let dir = "";
let stop: () => Promise<void>;

beforeAll(async () => {
  dir = tempDir();
  const lines: string[] = [];
  const config = loadConfig({
    env: { LLM_PROXY_DATA_DIR: dir, LLM_PROXY_PORT: String(await freePort()), LLM_PROXY_ENCRYPTION_KEY: "ef".repeat(32), LLM_PROXY_PRICING_SOURCE: PRICING_SNAPSHOT },
  });
  const running = await startServer(config, createLogger({ json: true, sink: (l) => (lines.push(l), seen.push(l)) }), { api: { bcryptCost: 4 } });
  base = running.url.href.replace(/\/$/, "");
  stop = () => running.stop();
  const token = new URL(lines.map((l) => JSON.parse(l)).find((l) => l.setup_url).setup_url).searchParams.get("token");
  const setup = await browser().post("/api/auth/setup", { token, username: "root", password: "users-admin-password" });
  expect(setup.status).toBe(200);
});
afterAll(() => stop());

function browser() {
  const c = {
    cookie: "",
    async call(method: string, url: string, body?: unknown) {
      const res = await fetch(base + url, {
        method,
        headers: { "content-type": "application/json", origin: base, cookie: `llmp_session=${c.cookie}` },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const set = res.headers.get("set-cookie");
      if (set) c.cookie = /^llmp_session=([^;]*)/.exec(set)?.[1] ?? "";
      const text = await res.text();
      seen.push(text);
      return { status: res.status, json: text ? JSON.parse(text) : undefined, headers: res.headers };
    },
    get: (url: string) => c.call("GET", url),
    post: (url: string, body: unknown = {}) => c.call("POST", url, body),
    patch: (url: string, body: unknown) => c.call("PATCH", url, body),
    del: (url: string) => c.call("DELETE", url),
    async as(username: string, password: string) {
      const r = await c.post("/api/auth/login", { username, password });
      expect(r.status).toBe(200);
      return c;
    },
  };
  return c;
}

const admin = () => browser().as("root", "users-admin-password");
let viewerId = "";

describe("users API", () => {
  test("admins create, list and see users; never a hash; duplicates and weak passwords refused", async () => {
    const a = await admin();
    const created = await a.post("/api/users", { username: "Watcher", password: "users-viewer-password", role: "viewer" });
    expect(created.status).toBe(201);
    viewerId = created.json.user.id; // read first: Bun's toMatchObject writes matchers into the received object
    expect(viewerId).toMatch(/^usr_[0-9a-f]{16}$/);
    expect(created.json.user).toMatchObject({ username: "watcher", role: "viewer" });
    const list = await a.get("/api/users");
    expect(list.status).toBe(200);
    expect(list.json.data.map((u: { username: string; role: string }) => [u.username, u.role])).toEqual([
      ["root", "admin"],
      ["watcher", "viewer"],
    ]);
    expect(Object.keys(list.json.data[0]).sort()).toEqual(["created_at", "id", "role", "updated_at", "username"]);
    expect((await a.post("/api/users", { username: "WATCHER", password: "users-viewer-password", role: "viewer" })).status).toBe(409);
    const weak = await a.post("/api/users", { username: "weak", password: "password", role: "viewer" });
    expect(weak.status).toBe(400);
    expect(weak.json.error).toMatchObject({ param: "password", code: "invalid_password" });
    const badRole = await a.post("/api/users", { username: "x", password: "users-viewer-password", role: "root" });
    expect(badRole.status).toBe(400);
    expect(badRole.json.error.param).toBe("role");
  });

  test("viewers can read their own identity but not the users API, and cannot mutate anything", async () => {
    const v = await browser().as("watcher", "users-viewer-password");
    expect((await v.get("/api/auth/me")).json.user).toMatchObject({ username: "watcher", role: "viewer" });
    const list = await v.get("/api/users");
    expect(list.status).toBe(403);
    expect(list.json.error.code).toBe("admin_required");
    expect((await v.get("/api/audit")).status).toBe(403);
    for (const r of [
      await v.post("/api/users", { username: "sneaky", password: "users-viewer-password", role: "admin" }),
      await v.patch(`/api/users/${viewerId}`, { role: "admin" }),
      await v.del(`/api/users/${viewerId}`),
    ]) {
      expect(r.status).toBe(403);
      expect(r.json.error.code).toBe("read_only_role");
    }
    // Self-service stays open to viewers: their own password (here: a wrong current one) and sign-out.
    const own = await v.post("/api/auth/password", { current_password: "not-my-password", new_password: "whatever-password" });
    expect(own.status).toBe(400);
    expect(own.json.error.code).toBe("incorrect_password");
    expect((await v.post("/api/auth/logout")).status).toBe(200);
    expect((await v.get("/api/auth/me")).status).toBe(401);
    expect((await (await admin()).get(`/api/users`)).json.data.find((u: { id: string }) => u.id === viewerId).role).toBe("viewer");
  });

  test("a role change revokes all of that user's sessions at once", async () => {
    const a = await admin();
    const v = await browser().as("watcher", "users-viewer-password");
    const r = await a.patch(`/api/users/${viewerId}`, { role: "admin" });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ user: { role: "admin" }, revoked_sessions: expect.any(Number) });
    expect((await v.get("/api/auth/me")).status).toBe(401);
    const again = await browser().as("watcher", "users-viewer-password");
    expect((await again.get("/api/users")).status).toBe(200);
    expect((await a.patch(`/api/users/${viewerId}`, { role: "viewer" })).status).toBe(200);
    expect((await again.get("/api/auth/me")).status).toBe(401);
  });

  test("an admin's password reset revokes the user's sessions; resetting your own keeps the current one", async () => {
    const a = await admin();
    const otherRoot = await admin();
    const v = await browser().as("watcher", "users-viewer-password");
    const reset = await a.patch(`/api/users/${viewerId}`, { password: "reset-by-admin-pw" });
    expect(reset.status).toBe(200);
    expect((await v.get("/api/auth/me")).status).toBe(401);
    await browser().as("watcher", "reset-by-admin-pw");

    const me = (await a.get("/api/auth/me")).json.user.id;
    expect((await a.patch(`/api/users/${me}`, { password: "own-new-password-3" })).status).toBe(200);
    expect((await a.get("/api/auth/me")).status).toBe(200);
    expect((await otherRoot.get("/api/auth/me")).status).toBe(401);
    expect((await a.patch(`/api/users/${me}`, { password: "users-admin-password" })).status).toBe(200);
    const half = await a.patch(`/api/users/${viewerId}`, { role: "admin", password: "short" });
    expect(half.status).toBe(400); // validated before anything changes
    expect((await a.get("/api/users")).json.data.find((u: { id: string }) => u.id === viewerId).role).toBe("viewer");
    expect((await a.patch(`/api/users/${viewerId}`, {})).status).toBe(400);
    expect((await a.patch("/api/users/usr_0000000000000000", { role: "admin" })).status).toBe(404);
  });

  test("the last admin can be neither demoted nor removed", async () => {
    const a = await admin();
    const me = (await a.get("/api/auth/me")).json.user.id;
    const demote = await a.patch(`/api/users/${me}`, { role: "viewer" });
    expect(demote.status).toBe(409);
    expect(demote.json.error.code).toBe("last_admin");
    expect((await a.del(`/api/users/${me}`)).json.error.code).toBe("last_admin");
    expect((await a.get("/api/auth/me")).json.user.role).toBe("admin");
  });

  test("removing a user ends their sessions at once", async () => {
    const a = await admin();
    const extra = await a.post("/api/users", { username: "temp-admin", password: "extra-admin-password", role: "admin" });
    const t = await browser().as("temp-admin", "extra-admin-password");
    expect((await t.get("/api/users")).status).toBe(200);
    const del = await a.del(`/api/users/${extra.json.user.id}`);
    expect(del.status).toBe(200);
    expect(del.json).toEqual({ id: extra.json.user.id, deleted: true });
    expect((await t.get("/api/users")).status).toBe(401);
    expect((await a.del(`/api/users/${extra.json.user.id}`)).status).toBe(404);
    expect((await browser().post("/api/auth/login", { username: "temp-admin", password: "extra-admin-password" })).status).toBe(401);
  });
});

describe("audit API", () => {
  test("every admin action is listed newest first: who, what, when, from which IP", async () => {
    const a = await admin();
    const page = await a.get("/api/audit?limit=500");
    expect(page.status).toBe(200);
    expect(page.headers.get("cache-control")).toBe("no-store");
    const actions = page.json.data.map((e: { action: string }) => e.action);
    for (const action of ["setup.first_admin", "auth.login", "user.create", "user.role_change", "user.password_reset", "user.remove"]) {
      expect(actions).toContain(action);
    }
    const ids = page.json.data.map((e: { id: string }) => e.id);
    expect([...ids].sort().reverse()).toEqual(ids);
    const removal = page.json.data.find((e: { action: string }) => e.action === "user.remove");
    expect(removal).toMatchObject({
      id: expect.stringMatching(/^aud_/),
      username: "root",
      user_id: expect.stringMatching(/^usr_/),
      target: expect.stringMatching(/^user:usr_/),
      detail: { username: "temp-admin", role: "admin" },
      ip: expect.stringMatching(/127\.0\.0\.1|::1/),
    });
    expect(Date.now() - Date.parse(removal.at)).toBeLessThan(60_000);
  });

  test("pages with a cursor; bad parameters are 400", async () => {
    const a = await admin();
    const all = (await a.get("/api/audit?limit=500")).json.data.map((e: { id: string }) => e.id);
    const ids: string[] = [];
    let url = "/api/audit?limit=4";
    for (;;) {
      const page = await a.get(url);
      ids.push(...page.json.data.map((e: { id: string }) => e.id));
      if (!page.json.next_cursor) break;
      url = `/api/audit?limit=4&cursor=${page.json.next_cursor}`;
    }
    expect(ids).toEqual(all.slice(all.length - ids.length));
    expect(ids.length).toBeGreaterThanOrEqual(all.length);
    for (const bad of ["?limit=0", "?limit=abc", "?limit=501", "?cursor=nope", "?other=1"]) expect((await a.get(`/api/audit${bad}`)).status).toBe(400);
  });
});

test("no password or hash in any response, log line or audit row", () => {
  const db = new Database(path.join(dir, "llm-proxy.db"), { readonly: true });
  const auditRows = JSON.stringify(db.query("SELECT * FROM audit_log").all());
  db.close();
  const all = seen.join("\n") + auditRows;
  for (const p of PASSWORDS) expect(all).not.toContain(p);
  expect(all).not.toContain("$2b$");
});
