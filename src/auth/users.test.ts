import { afterAll, describe, expect, test } from "bun:test";
import path from "node:path";
import { openDatabase } from "../db/client.ts";
import { runMigrations } from "../db/migrate.ts";
import { ClientError } from "../errors.ts";
import { tempDir } from "../testing/temp.ts";
import {
  BCRYPT_COST,
  bcryptHasher,
  checkPassword,
  MAX_PASSWORD_LENGTH,
  MIN_PASSWORD_LENGTH,
  normalizeUsername,
  publicUser,
  Users,
  type PasswordHasher,
} from "./users.ts";

const handle = openDatabase(path.join(tempDir(), "u.db"));
runMigrations(handle);
afterAll(() => handle.close());

/** Cost-4 bcrypt that records which hashes were verified. */
function countingHasher() {
  const inner = bcryptHasher(4);
  const verified: string[] = [];
  const hasher: PasswordHasher = {
    hash: inner.hash,
    verify: (pw, hash) => (verified.push(hash), inner.verify(pw, hash)),
  };
  return { hasher, verified };
}

async function rejects(p: Promise<unknown> | (() => unknown), status: number, code: string) {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(ClientError);
    expect((e as ClientError).status).toBe(status);
    expect((e as ClientError).code).toBe(code);
    return e as ClientError;
  }
  throw new Error("expected a ClientError");
}

describe("policy", () => {
  test("production hashing is bcrypt cost 12", async () => {
    expect(BCRYPT_COST).toBe(12);
    const hash = await bcryptHasher().hash("correct horse battery");
    expect(hash).toStartWith("$2b$12$");
  });

  test("unknown usernames cost a full cost-12 verification in production (built-in dummy hash, no hash at start)", async () => {
    const hasher = bcryptHasher();
    expect(hasher.dummyHash).toStartWith("$2b$12$");
    const users = new Users(handle.db, hasher);
    const started = performance.now();
    expect(await users.authenticate("no-such-user", "some-password-1")).toBeUndefined();
    expect(performance.now() - started).toBeGreaterThan(100); // ~300 ms, like a wrong password (BUN-NOTES §7)
  });

  test("usernames are trimmed, lowercased and limited to a safe alphabet", async () => {
    expect(normalizeUsername("  Alice@Example.com ")).toBe("alice@example.com");
    for (const bad of ["", " ", "-x", "a b", "a/b", "x".repeat(65), "ünï"]) await rejects(() => normalizeUsername(bad), 400, "invalid_username");
  });

  test(`passwords are ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters, and errors never echo them`, async () => {
    checkPassword("x".repeat(MIN_PASSWORD_LENGTH));
    checkPassword("x".repeat(MAX_PASSWORD_LENGTH));
    const e = await rejects(() => checkPassword("short-pw-11"), 400, "invalid_password");
    expect(e.message).not.toContain("short-pw-11");
    await rejects(() => checkPassword("y".repeat(MAX_PASSWORD_LENGTH + 1)), 400, "invalid_password");
  });
});

describe("Users", () => {
  const { hasher, verified } = countingHasher();
  const users = new Users(handle.db, hasher);

  test("create, then names are unique regardless of case; the public shape has no hash", async () => {
    const row = await users.create({ username: "Root", password: "root-password-1", role: "admin" });
    expect(row.username).toBe("root");
    expect(row.passwordHash).toStartWith("$2b$04$");
    await rejects(users.create({ username: "ROOT", password: "another-password", role: "viewer" }), 409, "username_taken");
    const shown = publicUser(row);
    expect(Object.keys(shown).sort()).toEqual(["created_at", "id", "role", "updated_at", "username"]);
    expect(JSON.stringify(shown)).not.toContain("$2b$");
  });

  test("authenticate: right password only; unknown names are checked against a dummy hash", async () => {
    expect((await users.authenticate("root", "root-password-1"))?.username).toBe("root");
    expect(await users.authenticate("ROOT ", "root-password-1")).toBeDefined();
    expect(await users.authenticate("root", "wrong-password-1")).toBeUndefined();
    const before = verified.length;
    expect(await users.authenticate("nobody", "root-password-1")).toBeUndefined();
    expect(await users.authenticate("bad name!", "root-password-1")).toBeUndefined();
    // Both misses still ran a bcrypt verification (same cost as a real one), against the dummy.
    expect(verified.length).toBe(before + 2);
    expect(verified.at(-1)).toStartWith("$2b$04$");
    expect(verified.at(-1)).toBe(verified.at(-2)!);
    expect(verified.at(-1)).not.toBe(users.list()[0]!.passwordHash);
  });

  test("the last admin can be neither demoted nor removed; others can", async () => {
    const root = users.list().find((u) => u.username === "root")!;
    await rejects(() => users.setRole(root.id, "viewer"), 409, "last_admin");
    await rejects(() => users.remove(root.id), 409, "last_admin");
    const second = await users.create({ username: "second", password: "second-password", role: "viewer" });
    expect(users.setRole(second.id, "viewer").changed).toBe(false);
    expect(users.setRole(second.id, "admin").changed).toBe(true);
    expect(users.setRole(root.id, "viewer").row.role).toBe("viewer");
    await rejects(() => users.remove(second.id), 409, "last_admin");
    expect(users.setRole(root.id, "admin").changed).toBe(true);
    expect(users.remove(second.id).id).toBe(second.id);
    await rejects(() => users.remove(second.id), 404, "user_not_found");
    await rejects(() => users.setRole("usr_nope", "admin"), 404, "user_not_found");
  });

  test("setPassword replaces the hash", async () => {
    const root = users.list().find((u) => u.username === "root")!;
    const updated = await users.setPassword(root.id, "a-brand-new-password");
    expect(updated.passwordHash).not.toBe(root.passwordHash);
    expect(await users.authenticate("root", "root-password-1")).toBeUndefined();
    expect(await users.authenticate("root", "a-brand-new-password")).toBeDefined();
  });
});
