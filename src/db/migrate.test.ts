import { describe, expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { MIGRATIONS_DIR } from "../paths.ts";
import { tempDir } from "../testing/temp.ts";
import { openDatabase } from "./client.ts";
import { getMeta, recordStart } from "./meta.ts";
import { isMigrated, runMigrations, SchemaTooNewError } from "./migrate.ts";

/** A copy of the real migrations folder plus one extra migration, as a newer release would ship. */
function newerMigrations(): string {
  const dir = path.join(tempDir(), "drizzle");
  fs.cpSync(MIGRATIONS_DIR, dir, { recursive: true });
  const journalFile = path.join(dir, "meta/_journal.json");
  const journal = JSON.parse(fs.readFileSync(journalFile, "utf8"));
  const last = journal.entries[journal.entries.length - 1];
  const tag = `${String(journal.entries.length).padStart(4, "0")}_future`;
  journal.entries.push({ ...last, idx: last.idx + 1, tag, when: last.when + 1000 });
  fs.writeFileSync(journalFile, JSON.stringify(journal));
  fs.writeFileSync(path.join(dir, `${tag}.sql`), "CREATE TABLE `future_things` (`id` integer PRIMARY KEY);");
  return dir;
}

describe("migrations", () => {
  test("a fresh database gets every migration, WAL and the pragmas", () => {
    const file = path.join(tempDir(), "fresh.db");
    const h = openDatabase(file);
    expect(isMigrated(h.sqlite)).toBe(false);
    const report = runMigrations(h);
    expect(report.applied).toBe(report.known);
    expect(report.backup).toBeUndefined();
    expect(isMigrated(h.sqlite)).toBe(true);
    expect(h.sqlite.query("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    expect(h.sqlite.query("PRAGMA synchronous").get()).toEqual({ synchronous: 1 });
    expect(h.sqlite.query("PRAGMA busy_timeout").get()).toEqual({ timeout: 5000 });
    expect(runMigrations(h).applied).toBe(0);
    h.close();
  });

  test("an existing database is upgraded in place, keeps its data, and is backed up first", () => {
    const dir = tempDir();
    const file = path.join(dir, "old.db");
    const h = openDatabase(file);
    runMigrations(h);
    const { instanceId } = recordStart(h.db, "0.0.1");
    const newer = newerMigrations();
    const report = runMigrations(h, { folder: newer });
    expect(report.applied).toBe(1);
    expect(report.backup).toBeDefined();
    expect(fs.existsSync(report.backup!)).toBe(true);
    expect(h.sqlite.query("SELECT name FROM sqlite_master WHERE name = 'future_things'").get()).toBeTruthy();
    expect(getMeta(h.db, "instance_id")).toBe(instanceId);
    expect(isMigrated(h.sqlite, newer)).toBe(true);
    h.close();
  });

  test("an older binary refuses a database migrated by a newer one", () => {
    const file = path.join(tempDir(), "new.db");
    const h = openDatabase(file);
    runMigrations(h, { folder: newerMigrations() });
    expect(() => runMigrations(h)).toThrow(SchemaTooNewError);
    expect(() => runMigrations(h)).toThrow(/newer llm-proxy/);
    h.close();
  });
});
