import { desc, lt } from "drizzle-orm";
import type { Db } from "./client.ts";
import { auditLog } from "./schema.ts";

/** Storage for the admin audit log (append-only from the API's point of view). */
export type AuditRow = typeof auditLog.$inferSelect;

export function insertAudit(db: Db, row: AuditRow): void {
  db.insert(auditLog).values(row).run();
}

/**
 * One page of entries, newest first. `cursor` is the id of the last entry of the previous page
 * (ids are time-sortable, so this walks the primary key).
 */
export function listAudit(db: Db, options: { cursor?: string; limit: number }): { rows: AuditRow[]; nextCursor: string | null } {
  const query = db.select().from(auditLog);
  const rows = (options.cursor ? query.where(lt(auditLog.id, options.cursor)) : query)
    .orderBy(desc(auditLog.id))
    .limit(options.limit + 1)
    .all();
  const more = rows.length > options.limit;
  if (more) rows.pop();
  return { rows, nextCursor: more ? rows[rows.length - 1]!.id : null };
}
