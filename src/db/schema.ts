import { integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/**
 * All tables. Each later feature adds its tables here and generates a migration with
 * `bun run db:generate` (drizzle-kit), never by editing files in drizzle/.
 */

/** Instance-wide key/value facts (instance id, creation time, last started version). */
export const meta = sqliteTable("meta", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
  updatedAt: integer("updated_at", { mode: "number" }).notNull(),
});

/**
 * Client API keys for `/v1`. Only the SHA-256 of the key is stored; `prefix` (the first
 * characters) lets people recognise a key in lists without revealing it.
 */
export const clientKeys = sqliteTable(
  "client_keys",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    keyHash: text("key_hash").notNull(),
    prefix: text("prefix").notNull(),
    createdAt: integer("created_at", { mode: "number" }).notNull(),
    revokedAt: integer("revoked_at", { mode: "number" }),
  },
  (t) => [uniqueIndex("client_keys_key_hash_unique").on(t.keyHash)],
);
