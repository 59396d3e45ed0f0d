import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { createClientKey } from "../auth/client-keys.ts";
import { loadConfig } from "../config.ts";
import { openDatabase } from "../db/client.ts";
import { createLogger } from "../logger.ts";
import { startServer } from "../server/serve.ts";
import { freePort, PRICING_SNAPSHOT } from "../testing/cli-process.ts";
import { tempDir } from "../testing/temp.ts";
import type { ApiTestOptions } from "./api-guard.ts";

/** Everything any response or log line said, checked for secrets at the end. */
const seen: string[] = [];
const SECRETS = ["first-admin-password", "viewer-password-1", "changed-password-2", "wrong-password-xyz"];

async function start(options: { toml?: string; api?: ApiTestOptions } = {}) {
  const dir = tempDir();
  const file = path.join(dir, "llm-proxy.toml");
  fs.writeFileSync(file, options.toml ?? "");
  const lines: string[] = [];
  const config = loadConfig({
    flags: { config: file },
    env: { LLM_PROXY_DATA_DIR: dir, LLM_PROXY_PORT: String(await freePort()), LLM_PROXY_ENCRYPTION_KEY: "ab".repeat(32), LLM_PROXY_PRICING_SOURCE: PRICING_SNAPSHOT },
  });
  // bcrypt cost 4 keeps these tests fast; production cost 12 is checked in auth/ tests.
  const running = await startServer(config, createLogger({ json: true, sink: (l) => (lines.push(l), seen.push(l)) }), { api: { bcryptCost: 4, ...options.api } });
  const base = running.url.href.replace(/\/$/, "");
  const setupUrl = lines.map((l) => JSON.parse(l)).find((l) => l.setup_url)?.setup_url as string | undefined;
  return { running, base, dir, lines, setupToken: setupUrl ? new URL(setupUrl).searchParams.get("token")! : undefined };
}

type Reply = { status: number; headers: Headers; json: any; text: string };

/** A browser-like client: keeps the session cookie, sends the page's own Origin. */
function browser(base: string) {
  const c = {
    cookie: undefined as string | undefined,
    async call(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
      const res = await fetch(base + url, {
        method,
        headers: {
          "content-type": "application/json",
          origin: base,
          ...(c.cookie ? { cookie: `llmp_session=${c.cookie}` } : {}),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const set = res.headers.get("set-cookie");
      if (set) c.cookie = /^llmp_session=([^;]*)/.exec(set)?.[1] || undefined;
      const text = await res.text();
      seen.push(text, set ?? "");
      return { status: res.status, headers: res.headers, text, json: text ? JSON.parse(text) : undefined };
    },
    get: (url: string, headers?: Record<string, string>) => c.call("GET", url, undefined, headers),
    post: (url: string, body?: unknown, headers?: Record<string, string>) => c.call("POST", url, body ?? {}, headers),
    async login(username: string, password: string) {
      const r = await c.post("/api/auth/login", { username, password });
      expect(r.status).toBe(200);
      return r;
    },
  };
  return c;
}

describe("sign-in (one server, users reused across tests)", () => {
  let s: Awaited<ReturnType<typeof start>>;
  const clock = { offset: 0 };
  beforeAll(async () => {
    s = await start({ api: { now: () => Date.now() + clock.offset } });
  });
  afterAll(() => s.running.stop());

  test("first start: a one-time setup link creates the first admin and signs in; the token works once", async () => {
    expect(s.setupToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const line = s.lines.find((l) => l.includes("setup_url"))!;
    expect(line).toContain(`"setup_url":"${s.base}/setup?token=`);
    const b = browser(s.base);
    expect((await b.get("/api/auth/setup")).json).toEqual({ setup_required: true });
    expect((await b.get("/api/auth/me")).status).toBe(401);

    const wrong = await b.post("/api/auth/setup", { token: "A".repeat(43), username: "root", password: "first-admin-password" });
    expect(wrong.status).toBe(401);
    expect(wrong.json.error.code).toBe("invalid_setup_token");
    expect(wrong.headers.get("set-cookie")).toBeNull();

    const done = await b.post("/api/auth/setup", { token: s.setupToken, username: "root", password: "first-admin-password" });
    expect(done.status).toBe(200);
    expect(done.json).toEqual({ user: { id: expect.stringMatching(/^usr_/), username: "root", role: "admin" } });
    const cookie = done.headers.get("set-cookie")!;
    expect(cookie).toMatch(/^llmp_session=[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}; /);
    expect(cookie).toContain("; HttpOnly");
    expect(cookie).toContain("; SameSite=Strict");
    expect(cookie).toContain("; Path=/");
    expect(cookie).not.toContain("Secure"); // plain http, secure_cookies = "auto"
    expect((await b.get("/api/auth/me")).json).toEqual(done.json);

    const reuse = await browser(s.base).post("/api/auth/setup", { token: s.setupToken, username: "evil", password: "first-admin-password" });
    expect(reuse.status).toBe(409);
    expect(reuse.json.error.code).toBe("setup_complete");
    expect((await b.get("/api/auth/setup")).json).toEqual({ setup_required: false });
  });

  test("login: a wrong password and an unknown user get the same 401; the right one sets a cookie", async () => {
    const b = browser(s.base);
    const wrong = await b.post("/api/auth/login", { username: "root", password: "wrong-password-xyz" });
    const unknown = await b.post("/api/auth/login", { username: "nobody", password: "wrong-password-xyz" });
    expect([wrong.status, unknown.status]).toEqual([401, 401]);
    expect(wrong.json).toEqual(unknown.json);
    expect(wrong.json).toEqual({ error: { message: "Incorrect username or password.", type: "authentication_error", param: null, code: "invalid_credentials" } });
    const bad = await b.post("/api/auth/login", { username: "root" });
    expect(bad.status).toBe(400);
    expect(bad.json.error.param).toBe("password");
    const ok = await b.login("ROOT", "first-admin-password");
    expect(ok.json.user.username).toBe("root");
    expect(ok.headers.get("cache-control")).toBe("no-store");
  });

  test("sign-out revokes the session at once and clears the cookie", async () => {
    const b = browser(s.base);
    await b.login("root", "first-admin-password");
    const token = b.cookie!;
    const out = await b.post("/api/auth/logout");
    expect(out.status).toBe(200);
    expect(out.headers.get("set-cookie")).toMatch(/^llmp_session=; .*Max-Age=0/);
    b.cookie = token; // a copy of the cookie kept by an attacker
    const me = await b.get("/api/auth/me");
    expect(me.status).toBe(401);
    expect(me.json.error.code).toBe("not_signed_in");
    expect((await browser(s.base).post("/api/auth/logout")).status).toBe(200); // signed out already: still fine
  });

  test("tampered and expired cookies get 401", async () => {
    const b = browser(s.base);
    await b.login("root", "first-admin-password");
    const good = b.cookie!;
    const [id, tag] = good.split(".") as [string, string];
    const flip = (x: string) => (x[0] === "A" ? "B" : "A") + x.slice(1);
    for (const bad of [`${flip(id)}.${tag}`, `${id}.${flip(tag)}`, `${id}.`, id, "garbage", `${id}.${tag}x`]) {
      b.cookie = bad;
      expect((await b.get("/api/auth/me")).status).toBe(401);
    }
    b.cookie = good;
    expect((await b.get("/api/auth/me")).status).toBe(200);
    clock.offset = 13 * 3_600_000; // idle past the 12 h TTL
    try {
      expect((await b.get("/api/auth/me")).status).toBe(401);
    } finally {
      clock.offset = 0;
    }
  });

  test("a password change keeps the current session and revokes the user's others", async () => {
    const a = browser(s.base);
    const other = browser(s.base);
    await a.login("root", "first-admin-password");
    await other.login("root", "first-admin-password");
    const wrong = await a.post("/api/auth/password", { current_password: "wrong-password-xyz", new_password: "changed-password-2" });
    expect(wrong.status).toBe(400);
    expect(wrong.json.error.code).toBe("incorrect_password");
    const short = await a.post("/api/auth/password", { current_password: "first-admin-password", new_password: "short" });
    expect(short.status).toBe(400);
    expect(short.json.error.code).toBe("invalid_password");
    const changed = await a.post("/api/auth/password", { current_password: "first-admin-password", new_password: "changed-password-2" });
    expect(changed.status).toBe(200);
    expect(changed.json.revoked_sessions).toBeGreaterThanOrEqual(1);
    expect((await a.get("/api/auth/me")).status).toBe(200);
    expect((await other.get("/api/auth/me")).status).toBe(401);
    expect((await browser(s.base).post("/api/auth/login", { username: "root", password: "first-admin-password" })).status).toBe(401);
    await browser(s.base).login("root", "changed-password-2");
  });

  test("secure_cookies = auto marks the cookie Secure behind a TLS proxy (X-Forwarded-Proto: https)", async () => {
    const r = await browser(s.base).post("/api/auth/login", { username: "root", password: "changed-password-2" }, { "x-forwarded-proto": "https" });
    expect(r.headers.get("set-cookie")).toEndWith("; Secure");
  });

  test("client keys are refused on /api, and session cookies on /v1", async () => {
    const side = openDatabase(path.join(s.dir, "llm-proxy.db"));
    const { key } = createClientKey(side.db, "ci");
    side.close();
    const b = browser(s.base);
    await b.login("root", "changed-password-2");
    for (const headers of [{ authorization: `Bearer ${key}` }, { "x-api-key": key }] as Array<Record<string, string>>) {
      const r = await b.get("/api/auth/me", headers); // even alongside a valid session
      expect(r.status).toBe(401);
      expect(r.json.error.code).toBe("api_key_not_accepted");
    }
    const v1 = await fetch(`${s.base}/v1/models`, { headers: { cookie: `llmp_session=${b.cookie}` } });
    expect(v1.status).toBe(401);
    expect((await v1.json()).error.code).toBe("invalid_api_key");
    expect((await fetch(`${s.base}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
  });
});

describe("throttling and cookie policy (clock and limits injected)", () => {
  let s: Awaited<ReturnType<typeof start>>;
  const clock = { t: Date.now() };
  beforeAll(async () => {
    s = await start({ toml: "[dashboard]\nsecure_cookies = true\nsession_ttl_hours = 1\n", api: { now: () => clock.t } });
    await browser(s.base).post("/api/auth/setup", { token: s.setupToken, username: "root", password: "first-admin-password" });
  });
  afterAll(() => s.running.stop());

  test("secure_cookies = true: Secure even over plain http", async () => {
    const r = await browser(s.base).login("root", "first-admin-password");
    expect(r.headers.get("set-cookie")).toEndWith("; Secure");
  });

  test("per user: 5 failures, then 429 with Retry-After even for the right password, until the lockout ends", async () => {
    const b = browser(s.base);
    for (let i = 0; i < 5; i++) expect((await b.post("/api/auth/login", { username: "root", password: "wrong-password-xyz" })).status).toBe(401);
    const locked = await b.post("/api/auth/login", { username: "root", password: "first-admin-password" });
    expect(locked.status).toBe(429);
    expect(locked.headers.get("retry-after")).toBe("60");
    expect(locked.json.error).toMatchObject({ type: "rate_limit_error", code: "too_many_attempts" });
    expect(locked.headers.get("set-cookie")).toBeNull();
    clock.t += 30_000;
    expect((await b.post("/api/auth/login", { username: "root", password: "first-admin-password" })).headers.get("retry-after")).toBe("30");
    clock.t += 30_000;
    await b.login("root", "first-admin-password");
  });

  test("per IP: 20 failures over any usernames lock the IP out (setup attempts count too)", async () => {
    clock.t += 3_600_000;
    const b = browser(s.base);
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await b.post("/api/auth/login", { username: `guess${i}`, password: "wrong-password-xyz" })).status);
    expect(statuses.every((x) => x === 401)).toBe(true);
    const locked = await b.post("/api/auth/login", { username: "root", password: "first-admin-password" });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await b.post("/api/auth/setup", { token: "x", username: "a", password: "first-admin-password" })).status).toBe(429);
    clock.t += 60 * 60_000;
    await b.login("root", "first-admin-password");
  });

  test("session_ttl_hours: sessions slide with use and end after that long idle", async () => {
    clock.t += 24 * 3_600_000;
    const b = browser(s.base);
    await b.login("root", "first-admin-password");
    clock.t += 50 * 60_000;
    expect((await b.get("/api/auth/me")).status).toBe(200);
    clock.t += 50 * 60_000; // 100 min after sign-in, 50 after last use
    expect((await b.get("/api/auth/me")).status).toBe(200);
    clock.t += 61 * 60_000;
    expect((await b.get("/api/auth/me")).status).toBe(401);
  });
});

test("no password, hash or session token ever appears in a response body or log line", () => {
  const all = seen.join("\n");
  for (const secret of SECRETS) expect(all).not.toContain(secret);
  expect(all).not.toContain("$2b$");
  // Session tokens appear only in Set-Cookie headers, which `seen` also holds; they must not be in logs.
  const logs = seen.filter((l) => l.startsWith("{\"time\""));
  expect(logs.length).toBeGreaterThan(5);
  expect(logs.join("\n")).not.toMatch(/[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}/);
});
