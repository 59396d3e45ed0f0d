import { eq } from "drizzle-orm";
import type { Db } from "./client.ts";
import { managedProviders } from "./schema.ts";

export type ManagedProviderRow = typeof managedProviders.$inferSelect;

/** All providers managed through the admin API, in creation order. */
export function listManagedProviders(db: Db): ManagedProviderRow[] {
  return db.select().from(managedProviders).orderBy(managedProviders.createdAt).all();
}

export function getManagedProvider(db: Db, id: string): ManagedProviderRow | undefined {
  return db.select().from(managedProviders).where(eq(managedProviders.id, id)).get();
}

export function insertManagedProvider(db: Db, row: ManagedProviderRow): void {
  db.insert(managedProviders).values(row).run();
}

export function updateManagedProvider(db: Db, id: string, patch: Partial<ManagedProviderRow>): void {
  db.update(managedProviders).set(patch).where(eq(managedProviders.id, id)).run();
}

export function deleteManagedProvider(db: Db, id: string): boolean {
  return db.delete(managedProviders).where(eq(managedProviders.id, id)).returning({ id: managedProviders.id }).all().length > 0;
}
