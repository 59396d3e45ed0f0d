import { afterAll, describe, expect, test } from "bun:test";
import path from "node:path";
import { openDatabase } from "../db/client.ts";
import { runMigrations } from "../db/migrate.ts";
import { tempDir } from "../testing/temp.ts";
import { AuditLog, newAuditId } from "./audit.ts";

const handle = openDatabase(path.join(tempDir(), "audit.db"));
runMigrations(handle);
afterAll(() => handle.close());

describe("AuditLog", () => {
  test("ids sort by time", () => {
    const ids = [1, 2, 1_000, 1_700_000_000_000].map((t) => newAuditId(t));
    expect([...ids].sort()).toEqual(ids);
    for (const id of ids) expect(id).toMatch(/^aud_[0-9A-Z]{26}$/);
  });

  test("records who/what/when/where; secret-looking detail fields are redacted before storage", () => {
    const clock = { t: Date.UTC(2026, 0, 2, 3, 4, 5) };
    const log = new AuditLog(handle.db, () => clock.t);
    log.record({ userId: "usr_1", username: "root", ip: "203.0.113.9" }, "provider.create", "provider:openai", {
      type: "openai",
      api_key: "sk-live-secret",
      nested: { password: "hunter2hunter2", models: ["a"] },
    });
    const page = log.list({ limit: 10 });
    expect(page).toEqual({
      data: [
        {
          id: expect.stringMatching(/^aud_/),
          at: "2026-01-02T03:04:05.000Z",
          user_id: "usr_1",
          username: "root",
          action: "provider.create",
          target: "provider:openai",
          detail: { type: "openai", api_key: "[redacted]", nested: { password: "[redacted]", models: ["a"] } },
          ip: "203.0.113.9",
        },
      ],
      next_cursor: null,
    });
    expect(JSON.stringify(handle.sqlite.query("SELECT * FROM audit_log").all())).not.toMatch(/sk-live-secret|hunter2/);
  });

  test("pages newest first with a cursor", () => {
    const clock = { t: Date.UTC(2026, 1, 1) };
    const log = new AuditLog(handle.db, () => clock.t++);
    for (let i = 0; i < 7; i++) log.record({ userId: null, username: null, ip: null }, `test.${i}`, null);
    const seen: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = log.list({ cursor, limit: 3 });
      seen.push(...page.data.map((e) => e.action));
      if (!page.next_cursor) break;
      cursor = page.next_cursor;
    }
    expect(seen).toEqual(["test.6", "test.5", "test.4", "test.3", "test.2", "test.1", "test.0", "provider.create"]);
  });
});
