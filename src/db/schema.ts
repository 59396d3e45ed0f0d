import { sqliteTable, text, integer } from "drizzle-orm/sqlite-core";

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
