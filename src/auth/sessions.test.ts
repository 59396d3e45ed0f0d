import { afterAll, describe, expect, test } from "bun:test";
import path from "node:path";
import { openDatabase } from "../db/client.ts";
import { runMigrations } from "../db/migrate.ts";
import { insertUser } from "../db/users.ts";
import { tempDir } from "../testing/temp.ts";
import {
  clearedSessionCookie,
  DEFAULT_SESSION_TTL_MS,
  MAX_SESSION_AGE_MS,
  readSessionCookie,
  SESSION_COOKIE,
  sessionCookie,
  Sessions,
  wantsSecureCookie,
} from "./sessions.ts";

const handle = openDatabase(path.join(tempDir(), "s.db"));
runMigrations(handle);
afterAll(() => handle.close());
const KEY = Buffer.alloc(32, 7);
const clock = { t: 1_700_000_000_000 };
const now = () => clock.t;
const sessions = new Sessions(handle.db, KEY, { ttlMs: DEFAULT_SESSION_TTL_MS, now });
for (const id of ["usr_a", "usr_b"]) {
  insertUser(handle.db, { id, username: id, passwordHash: "x", role: "admin", createdAt: 0, updatedAt: 0 });
}

function flip(token: string, at: number): string {
  const c = token[at] === "A" ? "B" : "A";
  return token.slice(0, at) + c + token.slice(at + 1);
}

describe("Sessions", () => {
  test("a new token verifies to its user; the database holds a hash of the id, never the cookie", () => {
    const { token, session } = sessions.create("usr_a", { ip: "127.0.0.1", userAgent: "test" });
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/);
    const active = sessions.verify(token)!;
    expect(active.user).toEqual({ id: "usr_a", username: "usr_a", role: "admin" });
    expect(active.session.id).toBe(session.id);
    const stored = handle.sqlite.query("SELECT * FROM sessions").all() as Array<Record<string, unknown>>;
    const text = JSON.stringify(stored);
    expect(text).not.toContain(token.split(".")[0]!);
    expect(text).not.toContain(token.split(".")[1]!);
  });

  test("tampered tokens are refused: any changed character, swapped tags, another key, junk", () => {
    const { token } = sessions.create("usr_a");
    const other = sessions.create("usr_b").token;
    for (const at of [0, 20, 42, 44, 60, 86]) expect(sessions.verify(flip(token, at))).toBeUndefined();
    // The last character of each half carries spare bits that decoding ignores: still refused.
    const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (const at of [42, 86]) {
      const sibling = B64[B64.indexOf(token[at]!) ^ 1]!;
      expect(Buffer.from(token.slice(at - 42, at) + sibling, "base64url")).toEqual(Buffer.from(token.slice(at - 42, at + 1), "base64url"));
      expect(sessions.verify(token.slice(0, at) + sibling + token.slice(at + 1))).toBeUndefined();
    }
    expect(sessions.verify(`${token.split(".")[0]}.${other.split(".")[1]}`)).toBeUndefined();
    expect(new Sessions(handle.db, Buffer.alloc(32, 8), { now }).verify(token)).toBeUndefined();
    for (const junk of ["", ".", "a.b", token + "x", token.replace(".", ""), `${token}.${token}`]) {
      expect(sessions.verify(junk)).toBeUndefined();
    }
    expect(sessions.verify(token)).toBeDefined();
  });

  test("expiry slides with use, and never past the maximum age", () => {
    const start = clock.t;
    const { token } = sessions.create("usr_a");
    clock.t += DEFAULT_SESSION_TTL_MS - 1000;
    expect(sessions.verify(token)).toBeDefined(); // used just in time: slides forward
    clock.t += DEFAULT_SESSION_TTL_MS - 1000;
    expect(sessions.verify(token)).toBeDefined();
    clock.t += DEFAULT_SESSION_TTL_MS; // idle for a whole TTL
    expect(sessions.verify(token)).toBeUndefined();

    clock.t = start;
    const busy = sessions.create("usr_a").token;
    while (clock.t - start < MAX_SESSION_AGE_MS - DEFAULT_SESSION_TTL_MS) {
      clock.t += 3_600_000;
      expect(sessions.verify(busy)).toBeDefined();
    }
    clock.t = start + MAX_SESSION_AGE_MS;
    expect(sessions.verify(busy)).toBeUndefined(); // in use all week, still ends
    clock.t = start;
  });

  test("revocation is immediate: one session, or all of a user's except the current", () => {
    const a1 = sessions.create("usr_a");
    const a2 = sessions.create("usr_a");
    const b1 = sessions.create("usr_b");
    expect(sessions.revoke(a1.session.id)).toBe(true);
    expect(sessions.verify(a1.token)).toBeUndefined();
    expect(sessions.revoke(a1.session.id)).toBe(false);
    const a3 = sessions.create("usr_a");
    expect(sessions.revokeUser("usr_a", a3.session.id)).toBeGreaterThanOrEqual(1);
    expect(sessions.verify(a2.token)).toBeUndefined();
    expect(sessions.verify(a3.token)).toBeDefined();
    expect(sessions.verify(b1.token)).toBeDefined();
    sessions.revokeUser("usr_a");
    expect(sessions.verify(a3.token)).toBeUndefined();
  });

  test("a second connection's revocation (e.g. another process) is seen on the next check", () => {
    const { token, session } = sessions.create("usr_b");
    const side = openDatabase(handle.file);
    new Sessions(side.db, KEY, { now }).revoke(session.id);
    side.close();
    expect(sessions.verify(token)).toBeUndefined();
  });
});

describe("cookies", () => {
  test("attributes: HttpOnly, SameSite=Strict, Path=/, Secure only when asked", () => {
    const plain = sessionCookie("t.v", false);
    expect(plain).toStartWith(`${SESSION_COOKIE}=t.v; `);
    expect(plain).toContain("; HttpOnly");
    expect(plain).toContain("; SameSite=Strict");
    expect(plain).toContain("; Path=/");
    expect(plain).not.toContain("Secure");
    expect(sessionCookie("t.v", true)).toEndWith("; Secure");
    expect(clearedSessionCookie(true)).toMatch(/^llmp_session=; .*Max-Age=0.*; Secure$/);
  });

  test("Secure policy: true/false as configured; auto = https or X-Forwarded-Proto: https", () => {
    const http = new Request("http://x/api");
    const https = new Request("https://x/api");
    const proxied = new Request("http://x/api", { headers: { "x-forwarded-proto": "https, http" } });
    expect([true, false].map((p) => wantsSecureCookie(http, p))).toEqual([true, false]);
    expect([http, https, proxied].map((r) => wantsSecureCookie(r, "auto"))).toEqual([false, true, true]);
  });

  test("reads the session cookie among others", () => {
    const h = new Headers({ cookie: `a=1; ${SESSION_COOKIE}=abc.def ; b=2` });
    expect(readSessionCookie(h)).toBe("abc.def");
    expect(readSessionCookie(new Headers({ cookie: "llmp_session_x=1" }))).toBeUndefined();
    expect(readSessionCookie(new Headers())).toBeUndefined();
  });
});
