import type { Database } from "bun:sqlite";
import fs from "node:fs";
import path from "node:path";
import { migrate } from "drizzle-orm/bun-sqlite/migrator";
import { readMigrationFiles } from "drizzle-orm/migrator";
import { MIGRATIONS_DIR } from "../paths.ts";
import { backupDatabase, type Db } from "./client.ts";

const MIGRATIONS_TABLE = "__drizzle_migrations";

export class SchemaTooNewError extends Error {
  override name = "SchemaTooNewError";
}

export type MigrationReport = {
  /** Migrations this binary ships. */
  known: number;
  /** Migrations applied by this call. */
  applied: number;
  /** Snapshot taken before upgrading an existing database, if any. */
  backup?: string;
};

type AppliedRow = { hash: string; created_at: number };

function appliedMigrations(sqlite: Database): AppliedRow[] {
  const exists = sqlite
    .query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?")
    .get(MIGRATIONS_TABLE);
  if (!exists) return [];
  return sqlite.query(`SELECT hash, created_at FROM ${MIGRATIONS_TABLE} ORDER BY created_at`).all() as AppliedRow[];
}

/**
 * Applies the embedded migrations. Refuses (SchemaTooNewError) when the database carries a
 * migration this binary does not know: an older binary must never run against a newer schema.
 * Before upgrading a database that already has data, a snapshot is written next to it
 * (`backups/pre-migrate-<time>.db`) so a failed upgrade can be rolled back by hand.
 */
export function runMigrations(
  handle: { sqlite: Database; db: Db; file: string },
  options: { folder?: string; backupDir?: string } = {},
): MigrationReport {
  const folder = options.folder ?? MIGRATIONS_DIR;
  const known = readMigrationFiles({ migrationsFolder: folder });
  const knownHashes = new Set(known.map((m) => m.hash));
  const newestKnown = Math.max(0, ...known.map((m) => m.folderMillis));
  const applied = appliedMigrations(handle.sqlite);

  const unknown = applied.filter((row) => !knownHashes.has(row.hash) || Number(row.created_at) > newestKnown);
  if (unknown.length) {
    throw new SchemaTooNewError(
      `the database ${handle.file} was migrated by a newer llm-proxy (it has ${unknown.length} migration(s) this ` +
        `binary does not know). Refusing to start against an unknown schema: run the newer binary, or restore a backup.`,
    );
  }
  const newestApplied = Math.max(0, ...applied.map((r) => Number(r.created_at)));
  const pending = known.filter((m) => m.folderMillis > newestApplied);
  let backup: string | undefined;
  if (pending.length && applied.length && handle.file !== ":memory:") {
    const dir = options.backupDir ?? path.join(path.dirname(handle.file), "backups");
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    backup = path.join(dir, `pre-migrate-${new Date().toISOString().replace(/[:.]/g, "-")}.db`);
    backupDatabase(handle.sqlite, backup);
  }
  if (pending.length) migrate(handle.db, { migrationsFolder: folder, migrationsTable: MIGRATIONS_TABLE });
  return { known: known.length, applied: pending.length, backup };
}

const newestKnownByFolder = new Map<string, number>();

/** True when every embedded migration has been applied (used by /readyz; one indexed query). */
export function isMigrated(sqlite: Database, folder: string = MIGRATIONS_DIR): boolean {
  let newestKnown = newestKnownByFolder.get(folder);
  if (newestKnown === undefined) {
    newestKnown = Math.max(0, ...readMigrationFiles({ migrationsFolder: folder }).map((m) => m.folderMillis));
    newestKnownByFolder.set(folder, newestKnown);
  }
  const applied = appliedMigrations(sqlite);
  return Math.max(0, ...applied.map((r) => Number(r.created_at))) >= newestKnown;
}
