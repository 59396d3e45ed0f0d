import { Database } from "bun:sqlite";
import fs from "node:fs";
import path from "node:path";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import * as schema from "./schema.ts";

export type Db = BunSQLiteDatabase<typeof schema>;
export type DbHandle = { sqlite: Database; db: Db; file: string; close(): void };

/** File name of the database inside the data directory. */
export const DB_FILE = "llm-proxy.db";

/**
 * Opens (creating if needed) the SQLite database with the pragmas the gateway relies on:
 * WAL so readers never block the log writer, synchronous=NORMAL (durable at checkpoints, fast
 * commits), a busy timeout so the CLI can work next to a running server, and foreign keys on.
 */
export function openDatabase(file: string, options: { readonly?: boolean } = {}): DbHandle {
  if (file !== ":memory:") fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const sqlite = options.readonly
    ? new Database(file, { readonly: true, strict: true })
    : new Database(file, { create: true, strict: true });
  sqlite.run("PRAGMA busy_timeout = 5000");
  if (!options.readonly) {
    sqlite.run("PRAGMA journal_mode = WAL");
    sqlite.run("PRAGMA synchronous = NORMAL");
    // Checkpoint the WAL every ~64 MB instead of every 4 MB: each checkpoint copies pages and
    // fsyncs on the event loop, so at a few thousand logged requests a second the default turned
    // into a stall every couple of seconds.
    sqlite.run("PRAGMA wal_autocheckpoint = 16000");
  }
  sqlite.run("PRAGMA foreign_keys = ON");
  if (file !== ":memory:" && !options.readonly) {
    try {
      fs.chmodSync(file, 0o600);
    } catch {}
  }
  const db = drizzle(sqlite, { schema });
  let closed = false;
  return {
    sqlite,
    db,
    file,
    close() {
      if (closed) return;
      closed = true;
      // Move everything from the WAL into the main file first, so the file on disk is complete and
      // the WAL empty even if a statement object still pins the connection until it is collected.
      if (!options.readonly && file !== ":memory:") {
        try {
          sqlite.run("PRAGMA wal_checkpoint(TRUNCATE)");
        } catch {}
      }
      sqlite.close(false);
    },
  };
}

/** Writes a consistent snapshot of the live database to `target` (SQLite `VACUUM INTO`). */
export function backupDatabase(sqlite: Database, target: string): void {
  if (fs.existsSync(target)) throw new Error(`backup target ${target} already exists; refusing to overwrite it`);
  // No directories are made: a typo in the path is an error, not a new directory tree.
  const dir = path.dirname(path.resolve(target));
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`backup target's directory ${dir} does not exist; create it first`);
  sqlite.prepare("VACUUM INTO ?").run(path.resolve(target));
  try {
    fs.chmodSync(target, 0o600);
  } catch {}
}
