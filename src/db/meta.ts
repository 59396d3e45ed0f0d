import crypto from "node:crypto";
import { eq } from "drizzle-orm";
import type { Db } from "./client.ts";
import { meta } from "./schema.ts";

/** Reads one instance fact. */
export function getMeta(db: Db, key: string): string | undefined {
  return db.select({ value: meta.value }).from(meta).where(eq(meta.key, key)).get()?.value;
}

/** Writes one instance fact. */
export function setMeta(db: Db, key: string, value: string): void {
  const now = Date.now();
  db.insert(meta).values({ key, value, updatedAt: now }).onConflictDoUpdate({ target: meta.key, set: { value, updatedAt: now } }).run();
}

/** Records this start: a stable instance id (created once) and the version that last ran. */
export function recordStart(db: Db, version: string): { instanceId: string; previousVersion?: string } {
  let instanceId = getMeta(db, "instance_id");
  if (!instanceId) {
    instanceId = crypto.randomUUID();
    setMeta(db, "instance_id", instanceId);
    setMeta(db, "created_at", new Date().toISOString());
  }
  const previousVersion = getMeta(db, "last_version");
  setMeta(db, "last_version", version);
  return { instanceId, previousVersion };
}
