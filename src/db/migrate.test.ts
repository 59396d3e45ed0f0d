import { describe, expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { MIGRATIONS_DIR } from "../paths.ts";
import { tempDir } from "../testing/temp.ts";
import { openDatabase } from "./client.ts";
import { getMeta, recordStart } from "./meta.ts";
import { isMigrated, runMigrations, SchemaTooNewError } from "./migrate.ts";
import { COLUMNS, logRowOf, RequestLogStore, rowValues, type RequestRow } from "./request-log.ts";
import { newRequestId } from "../recorder/ids.ts";
import { requestsTable } from "../testing/request-rows.ts";

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

/** The real migrations folder as an older release shipped it: only the first `count` migrations. */
function olderMigrations(count: number): string {
  const dir = path.join(tempDir(), "drizzle");
  fs.cpSync(MIGRATIONS_DIR, dir, { recursive: true });
  const journalFile = path.join(dir, "meta/_journal.json");
  const journal = JSON.parse(fs.readFileSync(journalFile, "utf8"));
  journal.entries = journal.entries.slice(0, count);
  fs.writeFileSync(journalFile, JSON.stringify(journal));
  return dir;
}

function sampleRow(id: string): RequestRow {
  return {
    id, received_at: 1_795_000_000_000, first_byte_at: 1_795_000_000_040, finished_at: 1_795_000_000_100, client_key_id: "key_1",
    endpoint: "chat.completions", requested_model: "gpt-4o", provider: "openai", provider_type: "openai", upstream_model: "gpt-4o",
    response_model: "gpt-4o-2024-08-06", pricing_entry: "openai/gpt-4o", pricing_rule: "exact",
    attempts: JSON.stringify([{ target: "openai/gpt-4o", keyIndex: 0, ok: true, durationMs: 90 }]), status: 200, error_class: null,
    error_message: null, stream: 0, input_tokens: 38, cached_tokens: 0, cache_write_tokens: null, output_tokens: 41, reasoning_tokens: 0,
    usage_estimated: 0, usage_raw: JSON.stringify({ prompt_tokens: 38, completion_tokens: 41 }), cost_pico: 505_000_000n,
    cost_breakdown: JSON.stringify({ unit: "pico-usd", total: 505_000_000 }), warnings: null, latency_ms: 100, ttfb_ms: 40,
    client_ip: "127.0.0.1", user_agent: "test", project: null,
  };
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
    // 0008 records the log's chunk format (builds that cannot read it refuse the database).
    expect(h.sqlite.query("SELECT value FROM meta WHERE key = 'request_log_chunk_format'").get()).toEqual({ value: "3" });
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

  test("0006 moves the rows of the one-row-per-request table into chunks, keeping every row, filter and query; 0007 drops the table", () => {
    const file = path.join(tempDir(), "log.db");
    const h = openDatabase(file);
    runMigrations(h, { folder: olderMigrations(5) }); // up to 0004: the WITHOUT ROWID requests table
    const rows = Array.from({ length: 300 }, (_, i) => ({
      ...sampleRow(newRequestId(1_795_000_000_000 + i * 1000)),
      received_at: 1_795_000_000_000 + i * 1000,
      provider: i % 3 ? "openai" : "deepseek",
      project: i % 10 ? null : "agents",
      status: i % 25 ? 200 : 502,
      // Five rows (all openai, status 200) answered with tokens and had no price.
      cost_pico: i % 60 === 1 ? null : BigInt(i) * 1_000_000n,
      response_model: i % 60 === 1 ? "mystery-model" : "gpt-4o-2024-08-06",
    }));
    const insert = h.sqlite.query(`INSERT INTO requests (${COLUMNS.join(", ")}) VALUES (${COLUMNS.map(() => "?").join(", ")})`);
    for (const row of rows) insert.run(...(rowValues(row) as never[]));
    const before = h.sqlite.query("SELECT * FROM requests ORDER BY id").all();

    const report = runMigrations(h);
    expect(report.applied).toBe(report.known - 5);
    expect(h.sqlite.query("SELECT name FROM sqlite_master WHERE name = 'requests'").get()).toBeNull();
    expect(h.sqlite.query("SELECT rows, format FROM request_chunks ORDER BY id").all()).toEqual([{ rows: 256, format: 0 }, { rows: 44, format: 0 }]);
    expect(requestsTable(h.sqlite).query("SELECT * FROM requests ORDER BY id").all()).toEqual(before);
    const store = new RequestLogStore(h.sqlite);
    expect(store.list({ provider: "deepseek", limit: 1000 }).rows).toHaveLength(100);
    expect(store.list({ project: "agents", limit: 1000 }).rows).toHaveLength(30);
    expect(store.list({ status: "error", limit: 1000 }).rows).toHaveLength(12);
    expect(store.list({ provider: "deepseek", status: "error", limit: 1000 }).rows).toHaveLength(4);
    expect(store.list({ clientKeyId: "key_1", status: "error", limit: 1000 }).rows).toHaveLength(12);
    expect(store.list({ provider: "openai", status: "error", limit: 1000 }).rows).toHaveLength(8);
    const page = store.list({ limit: 10 });
    expect(page.rows.map((r) => r.id)).toEqual(rows.slice(-10).reverse().map((r) => r.id));
    expect(store.get(rows[5]!.id)?.row.cost_pico).toBe(5_000_000);
    expect(store.unpricedModels(0)).toEqual([{ provider: "openai", provider_type: "openai", model: "mystery-model", requests: 5, last_seen: 1_795_000_000_000 + 241 * 1000 }]);
    // Rows written after the move (compressed chunks) and the moved ones are read together.
    const later = sampleRow(newRequestId(1_795_000_000_000 + 400_000));
    store.writeBatch([logRowOf(later)]);
    expect(store.list({ limit: 2 }).rows.map((r) => r.id)).toEqual([later.id, rows[299]!.id]);
    expect(store.count()).toBe(301);
    // Retention compresses the moved chunks (format 0) as the writer writes them; rows unchanged.
    const moved = requestsTable(h.sqlite).query("SELECT * FROM requests ORDER BY id").all();
    expect(store.compressOldChunks(1)).toBe(1);
    expect(store.compressOldChunks(10)).toBe(1);
    expect(store.compressOldChunks(10)).toBe(0);
    expect(h.sqlite.query("SELECT DISTINCT format FROM request_chunks ORDER BY format").all()).toEqual([{ format: 3 }]);
    expect(requestsTable(h.sqlite).query("SELECT * FROM requests ORDER BY id").all()).toEqual(moved);
    expect(store.list({ provider: "deepseek", limit: 1000 }).rows).toHaveLength(100);
    // Written in binary columns (format 3); its JSON columns read back as the same text.
    expect(store.get(later.id)!.row).toEqual({ ...later, cost_pico: 505_000_000 });
    expect(h.sqlite.query("SELECT format FROM request_chunks ORDER BY id DESC LIMIT 1").get()).toEqual({ format: 3 });
    // A chunk in format 1 (JSON columns as text, zstd), as the first chunked build wrote: read as is.
    const old = sampleRow(newRequestId(1_795_000_000_000 + 500_000));
    const values = rowValues({ ...old, cost_pico: 505_000_000 });
    h.sqlite.query("INSERT INTO request_chunks (first_id, last_id, rows, format, data) VALUES (?, ?, 1, 1, ?)").run(old.id, old.id, Bun.zstdCompressSync(JSON.stringify([values])));
    expect(store.get(old.id)!.row).toEqual({ ...old, cost_pico: 505_000_000 });
    // A chunk in format 2 (JSON columns as values inline, zstd), as builds up to session 14 wrote: read as is.
    const inline = sampleRow(newRequestId(1_795_000_000_000 + 600_000));
    const inlineValues = rowValues(logRowOf({ ...inline, cost_pico: 505_000_000 }));
    h.sqlite.query("INSERT INTO request_chunks (first_id, last_id, rows, format, data) VALUES (?, ?, 1, 2, ?)").run(inline.id, inline.id, Bun.zstdCompressSync(JSON.stringify([inlineValues])));
    expect(store.get(inline.id)!.row).toEqual({ ...inline, cost_pico: 505_000_000 });
    expect(store.compressOldChunks(10)).toBe(1); // the format-1 chunk; format 2 is left as it is
    expect(store.get(old.id)!.row).toEqual({ ...old, cost_pico: 505_000_000 });
    h.close();
  });
});
