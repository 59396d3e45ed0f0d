import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Elysia } from "elysia";
import path from "node:path";
import { openDatabase } from "../db/client.ts";
import { runMigrations } from "../db/migrate.ts";
import { ClientError } from "../errors.ts";
import { createLogger } from "../logger.ts";
import { tempDir } from "../testing/temp.ts";
import { apiGate, apiGuard, apiPath, audit, createApiDeps, requireAdmin, sessionOf } from "./api-guard.ts";

const handle = openDatabase(path.join(tempDir(), "guard.db"));
runMigrations(handle);
afterAll(() => handle.close());
const deps = createApiDeps({
  db: handle.db,
  masterKey: Buffer.alloc(32, 3),
  log: createLogger({ sink: () => {} }),
  dashboard: { secureCookies: "auto", sessionTtlMs: 3_600_000 },
  test: { bcryptCost: 4 },
});

/** A route file written the way provider/key/pricing routes will be. */
function demoRoutes() {
  return new Elysia({ prefix: "/api/demo" })
    .use(apiGuard(deps))
    .get("/", ({ auth }) => ({ hello: auth.user.username }))
    .get("/secret", ({ auth }) => (requireAdmin(auth), { ok: true }))
    .post("/", ({ auth }) => {
      audit(auth, "demo.poke", "demo:1", { reason: "test", token: "must-not-be-stored" });
      return { poked: true };
    })
    .patch("/", () => ({ ok: true }))
    .delete("/", () => ({ ok: true }));
}

function withErrors(app: Elysia<any, any, any, any, any, any, any>) {
  return new Elysia()
    .onError(({ error, set, code }) => {
      if (error instanceof ClientError) {
        set.status = error.status;
        return error.toBody();
      }
      return { error: { code: String(code) } };
    })
    .use(app);
}
const gated = withErrors(new Elysia().use(apiGate(deps)).use(demoRoutes()));
const guardOnly = withErrors(demoRoutes());

let adminCookie = "";
let viewerCookie = "";
beforeAll(async () => {
  const admin = await deps.users.create({ username: "root", password: "guard-admin-password", role: "admin" });
  const viewer = await deps.users.create({ username: "watcher", password: "guard-viewer-password", role: "viewer" });
  adminCookie = `llmp_session=${deps.sessions.create(admin.id).token}`;
  viewerCookie = `llmp_session=${deps.sessions.create(viewer.id).token}`;
});

async function call(app: { handle(r: Request): Promise<Response> | Response }, method: string, url: string, headers: Record<string, string> = {}) {
  const res = await app.handle(new Request(`http://gw.test${url}`, { method, headers }));
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

describe("CSRF on mutating /api calls", () => {
  const cases: Array<[string, Record<string, string>, number]> = [
    ["no Origin, Referer or custom header", {}, 403],
    ["foreign Origin", { origin: "https://evil.example" }, 403],
    ["foreign Origin with the custom header", { origin: "https://evil.example", "x-requested-with": "llm-proxy" }, 403],
    ["same-origin Origin", { origin: "http://gw.test" }, 200],
    ["same host, other port", { origin: "http://gw.test:8443" }, 403],
    ["Origin: null without the header", { origin: "null" }, 403],
    ["Origin: null with the header (no-referrer pages)", { origin: "null", "x-requested-with": "llm-proxy" }, 200],
    ["same-origin Referer", { referer: "http://gw.test/dashboard" }, 200],
    ["foreign Referer", { referer: "https://evil.example/x" }, 403],
    ["only the custom header (scripts, curl)", { "x-requested-with": "llm-proxy" }, 200],
    ["a wrong custom header value", { "x-requested-with": "XMLHttpRequest" }, 403],
    ["Origin matching X-Forwarded-Host (proxy rewrote Host)", { host: "backend:4141", "x-forwarded-host": "gw.test", origin: "http://gw.test" }, 200],
    ["Origin not matching a rewritten Host", { host: "backend:4141", origin: "http://gw.test" }, 403],
  ];
  for (const [name, headers, status] of cases) {
    test(`${name} → ${status}`, async () => {
      for (const app of [gated, guardOnly]) {
        const r = await call(app, "POST", "/api/demo", { cookie: adminCookie, ...headers });
        expect(r.status).toBe(status);
        if (status === 403) expect(r.body.error.code).toBe("csrf_rejected");
      }
    });
  }

  test("reads need no CSRF proof; sign-in endpoints are checked too (login CSRF)", async () => {
    expect((await call(gated, "GET", "/api/demo", { cookie: adminCookie })).status).toBe(200);
    const login = await call(gated, "POST", "/api/auth/login", { origin: "https://evil.example" });
    expect(login.status).toBe(403);
  });
});

describe("sessions and roles", () => {
  test("no or bad session → 401 everywhere under /api, unknown paths included; no-store on every answer", async () => {
    for (const app of [gated, guardOnly]) {
      for (const cookie of [undefined, "llmp_session=nope", adminCookie.slice(0, -2) + "xx"]) {
        const r = await call(app, "GET", "/api/demo", cookie ? { cookie } : {});
        expect(r.status).toBe(401);
        expect(r.body.error).toMatchObject({ type: "authentication_error", code: "not_signed_in" });
        expect(r.headers.get("cache-control")).toBe("no-store");
      }
    }
    const unknown = await call(gated, "GET", "/api/not-a-route");
    expect(unknown.status).toBe(401);
    expect(unknown.headers.get("cache-control")).toBe("no-store");
    expect((await call(gated, "GET", "//api/not-a-route")).status).toBe(401);
    expect((await call(gated, "GET", "/api/not-a-route", { cookie: adminCookie })).status).toBe(404);
  });

  test("viewers read but cannot mutate (403); admin-only reads are refused too", async () => {
    for (const app of [gated, guardOnly]) {
      expect((await call(app, "GET", "/api/demo", { cookie: viewerCookie })).body).toEqual({ hello: "watcher" });
      for (const method of ["POST", "PATCH", "DELETE"]) {
        const r = await call(app, method, "/api/demo", { cookie: viewerCookie, "x-requested-with": "llm-proxy" });
        expect(r.status).toBe(403);
        expect(r.body.error).toMatchObject({ type: "permission_error", code: "read_only_role" });
      }
      const secret = await call(app, "GET", "/api/demo/secret", { cookie: viewerCookie });
      expect(secret.status).toBe(403);
      expect(secret.body.error.code).toBe("admin_required");
      expect((await call(app, "GET", "/api/demo/secret", { cookie: adminCookie })).status).toBe(200);
      expect((await call(app, "DELETE", "/api/demo", { cookie: adminCookie, "x-requested-with": "llm-proxy" })).status).toBe(200);
    }
  });

  test("a role change in the database applies on the next request (nothing cached)", async () => {
    const viewer = deps.users.list().find((u) => u.username === "watcher")!;
    deps.users.setRole(viewer.id, "admin");
    try {
      expect((await call(gated, "PATCH", "/api/demo", { cookie: viewerCookie, "x-requested-with": "llm-proxy" })).status).toBe(200);
    } finally {
      deps.users.setRole(viewer.id, "viewer");
    }
  });

  test("audit() records who, what, when and from where, with secrets redacted", async () => {
    await call(gated, "POST", "/api/demo", { cookie: adminCookie, "x-requested-with": "llm-proxy" });
    const entry = deps.auditLog.list({ limit: 1 }).data[0]!;
    expect(entry).toMatchObject({ username: "root", action: "demo.poke", target: "demo:1", detail: { reason: "test", token: "[redacted]" } });
    expect(Date.now() - Date.parse(entry.at)).toBeLessThan(5000);
  });
});

test("sessionOf: the cookie's user for WebSocket upgrades", () => {
  expect(sessionOf(deps, new Headers({ cookie: viewerCookie }))?.user.username).toBe("watcher");
  expect(sessionOf(deps, new Headers({ cookie: "llmp_session=x.y" }))).toBeUndefined();
  expect(sessionOf(deps, new Headers())).toBeUndefined();
});

test("apiPath: what counts as an /api request", () => {
  expect(apiPath("http://h/api/users?x=1")).toBe("/api/users");
  expect(apiPath("http://h/api/auth/login/")).toBe("/api/auth/login");
  expect(apiPath("http://h//api//users")).toBe("/api/users");
  expect(apiPath("http://h/api")).toBe("/api");
  expect(apiPath("http://h/api/")).toBe("/api");
  expect(apiPath("http://h/apix")).toBeUndefined();
  expect(apiPath("http://h/v1/models")).toBeUndefined();
  expect(apiPath("http://h/")).toBeUndefined();
  expect(apiPath("http://h///api")).toBe("/api");
  expect(apiPath("http://h/api?x=/api")).toBe("/api");
  expect(apiPath("http://h/v1/chat/completions?next=/api/users")).toBeUndefined();
  expect(apiPath("http://h/ap")).toBeUndefined();
  expect(apiPath("http://h")).toBeUndefined();
});
