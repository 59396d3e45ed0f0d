import { and, asc, count, eq, gt, isNull, lt, ne, or } from "drizzle-orm";
import type { Db } from "./client.ts";
import { sessions, setupTokens, users } from "./schema.ts";

/**
 * Storage for dashboard users, their sessions and the one-time setup tokens. Plain query
 * functions (STYLE §2): the auth services call these and never build SQL themselves.
 */
export type UserRow = typeof users.$inferSelect;
export type Role = UserRow["role"];
export type SessionRow = typeof sessions.$inferSelect;
export type SetupTokenRow = typeof setupTokens.$inferSelect;

/**
 * Runs `fn` in one `BEGIN IMMEDIATE` transaction: read-then-write checks (the last admin, "no user
 * yet") stay true until commit even with the CLI writing from another process. `fn` must be
 * synchronous (BUN-NOTES §3: an await inside commits early).
 */
export function immediate<T>(db: Db, fn: (tx: Db) => T): T {
  return db.transaction((tx) => fn(tx as unknown as Db), { behavior: "immediate" });
}

// ---- users -------------------------------------------------------------------------------------

export function countUsers(db: Db): number {
  return db.select({ n: count() }).from(users).get()?.n ?? 0;
}

export function countAdmins(db: Db): number {
  return db.select({ n: count() }).from(users).where(eq(users.role, "admin")).get()?.n ?? 0;
}

/** All users, by username. */
export function listUsers(db: Db): UserRow[] {
  return db.select().from(users).orderBy(asc(users.username)).all();
}

export function findUserById(db: Db, id: string): UserRow | undefined {
  return db.select().from(users).where(eq(users.id, id)).get();
}

export function findUserByUsername(db: Db, username: string): UserRow | undefined {
  return db.select().from(users).where(eq(users.username, username)).get();
}

/** Inserts a user; returns false (and writes nothing) when the username is taken. */
export function insertUser(db: Db, row: UserRow): boolean {
  const inserted = db.insert(users).values(row).onConflictDoNothing({ target: users.username }).returning({ id: users.id }).all();
  return inserted.length > 0;
}

/** Updates role and/or password hash; returns the new row, or undefined for an unknown id. */
export function updateUser(db: Db, id: string, patch: Partial<Pick<UserRow, "role" | "passwordHash">>, now: number): UserRow | undefined {
  return db
    .update(users)
    .set({ ...patch, updatedAt: now })
    .where(eq(users.id, id))
    .returning()
    .get();
}

/** Deletes a user (their sessions go with them: ON DELETE CASCADE). */
export function deleteUser(db: Db, id: string): boolean {
  return db.delete(users).where(eq(users.id, id)).returning({ id: users.id }).all().length > 0;
}

// ---- sessions ----------------------------------------------------------------------------------

export function insertSession(db: Db, row: SessionRow): void {
  db.insert(sessions).values(row).run();
}

/** A session with its user, whatever its state (the caller checks revocation and expiry). */
export function findSessionWithUser(db: Db, id: string): { session: SessionRow; user: UserRow } | undefined {
  return db.select({ session: sessions, user: users }).from(sessions).innerJoin(users, eq(users.id, sessions.userId)).where(eq(sessions.id, id)).get();
}

/** Slides an active session forward. */
export function touchSession(db: Db, id: string, lastSeenAt: number, expiresAt: number): void {
  db.update(sessions).set({ lastSeenAt, expiresAt }).where(and(eq(sessions.id, id), isNull(sessions.revokedAt))).run();
}

/** Revokes one session; false when it was unknown or already revoked. */
export function revokeSession(db: Db, id: string, now: number): boolean {
  return (
    db
      .update(sessions)
      .set({ revokedAt: now })
      .where(and(eq(sessions.id, id), isNull(sessions.revokedAt)))
      .returning({ id: sessions.id })
      .all().length > 0
  );
}

/** Revokes every live session of a user, except `keepId` if given. Returns how many. */
export function revokeUserSessions(db: Db, userId: string, now: number, keepId?: string): number {
  const where = keepId
    ? and(eq(sessions.userId, userId), isNull(sessions.revokedAt), ne(sessions.id, keepId))
    : and(eq(sessions.userId, userId), isNull(sessions.revokedAt));
  return db.update(sessions).set({ revokedAt: now }).where(where).returning({ id: sessions.id }).all().length;
}

/** Deletes sessions that expired, or were revoked, before `before`. */
export function deleteStaleSessions(db: Db, before: number): number {
  return db
    .delete(sessions)
    .where(or(lt(sessions.expiresAt, before), lt(sessions.revokedAt, before)))
    .returning({ id: sessions.id })
    .all().length;
}

// ---- setup tokens ------------------------------------------------------------------------------

/** Stores a new setup token and drops every older one, so only the newest printed link works. */
export function replaceSetupTokens(db: Db, row: SetupTokenRow): void {
  immediate(db, (tx) => {
    tx.delete(setupTokens).run();
    tx.insert(setupTokens).values(row).run();
  });
}

/** Tokens that are neither used nor expired. */
export function openSetupTokens(db: Db, now: number): SetupTokenRow[] {
  return db
    .select()
    .from(setupTokens)
    .where(and(isNull(setupTokens.usedAt), gt(setupTokens.expiresAt, now)))
    .all();
}

/** Marks a token used, only if it is still open; false when someone else was first. */
export function markSetupTokenUsed(db: Db, tokenHash: string, now: number): boolean {
  return (
    db
      .update(setupTokens)
      .set({ usedAt: now })
      .where(and(eq(setupTokens.tokenHash, tokenHash), isNull(setupTokens.usedAt), gt(setupTokens.expiresAt, now)))
      .returning({ h: setupTokens.tokenHash })
      .all().length > 0
  );
}

/** Removes all setup tokens (once a user exists they are useless). */
export function deleteSetupTokens(db: Db): void {
  db.delete(setupTokens).run();
}
