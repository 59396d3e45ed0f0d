import { desc, eq, isNull, and } from "drizzle-orm";
import type { Db } from "./client.ts";
import { clientKeys } from "./schema.ts";

export type ClientKeyRow = typeof clientKeys.$inferSelect;

/** Inserts a key record (the caller has already hashed the key). */
export function insertClientKey(db: Db, row: ClientKeyRow): void {
  db.insert(clientKeys).values(row).run();
}

/** All keys, newest first (revoked ones included). */
export function listClientKeys(db: Db): ClientKeyRow[] {
  return db.select().from(clientKeys).orderBy(desc(clientKeys.createdAt)).all();
}

/** Keys that may authenticate. */
export function activeClientKeys(db: Db): ClientKeyRow[] {
  return db.select().from(clientKeys).where(isNull(clientKeys.revokedAt)).all();
}

/** Marks a key revoked; returns false when there is no such active key. */
export function revokeClientKey(db: Db, id: string, now = Date.now()): boolean {
  const revoked = db
    .update(clientKeys)
    .set({ revokedAt: now })
    .where(and(eq(clientKeys.id, id), isNull(clientKeys.revokedAt)))
    .returning({ id: clientKeys.id })
    .all();
  return revoked.length > 0;
}

export function getClientKey(db: Db, id: string): ClientKeyRow | undefined {
  return db.select().from(clientKeys).where(eq(clientKeys.id, id)).get();
}

/** Updates a key's settings; returns false when there is no such key. */
export function updateClientKey(db: Db, id: string, patch: Partial<ClientKeyRow>): boolean {
  return db.update(clientKeys).set(patch).where(eq(clientKeys.id, id)).returning({ id: clientKeys.id }).all().length > 0;
}
