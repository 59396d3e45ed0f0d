import crypto from "node:crypto";
import type { Db } from "../db/client.ts";
import {
  countUsers,
  deleteSetupTokens,
  immediate,
  insertUser,
  markSetupTokenUsed,
  openSetupTokens,
  replaceSetupTokens,
  type UserRow,
} from "../db/users.ts";
import { ClientError } from "../errors.ts";
import { checkPassword, newUserId, normalizeUsername, type PasswordHasher } from "./users.ts";

/**
 * First-admin setup. With no users, each server start mints a random token (valid one hour, usable
 * once; only its SHA-256 is stored) and logs a link carrying it. `POST /api/auth/setup` spends the
 * token to create the first admin. Once any user exists, setup is closed for good.
 */
export const SETUP_TOKEN_TTL_MS = 3_600_000;

export function hashSetupToken(token: string): string {
  return crypto.createHash("sha256").update(token).digest("hex");
}

/** Mints a new setup token when there are no users (replacing older ones); undefined otherwise. */
export function issueSetupToken(db: Db, now = Date.now()): string | undefined {
  if (countUsers(db) > 0) {
    deleteSetupTokens(db);
    return undefined;
  }
  const token = crypto.randomBytes(32).toString("base64url");
  replaceSetupTokens(db, { tokenHash: hashSetupToken(token), createdAt: now, expiresAt: now + SETUP_TOKEN_TTL_MS, usedAt: null });
  return token;
}

/** The link printed at startup: the dashboard's setup page with the token. */
export function setupLink(base: URL, token: string): string {
  return `${base.origin}/setup?token=${encodeURIComponent(token)}`;
}

/** Whether setup is still open (no user yet). */
export function setupRequired(db: Db): boolean {
  return countUsers(db) === 0;
}

const setupDone = () =>
  new ClientError(409, "Setup is already complete: sign in instead.", "invalid_request_error", null, "setup_complete");
const badToken = () =>
  new ClientError(401, "This setup link is invalid, expired or already used. Restart the server for a new one, or run: llm-proxy admin create --username NAME --password-stdin", "invalid_request_error", "token", "invalid_setup_token");

/** The hash of the open token matching `token`, compared in constant time; undefined when none does. */
function matchOpenToken(db: Db, token: string, now: number): string | undefined {
  const presented = Buffer.from(hashSetupToken(token), "hex");
  let match: string | undefined;
  for (const row of openSetupTokens(db, now)) {
    if (crypto.timingSafeEqual(presented, Buffer.from(row.tokenHash, "hex"))) match = row.tokenHash;
  }
  return match;
}

/**
 * Creates the first admin with a setup token. Fails with 409 once any user exists, and with 401 for
 * a wrong, used or expired token. The token is spent in the same transaction that creates the user.
 */
export async function completeSetup(
  db: Db,
  hasher: PasswordHasher,
  input: { token: string; username: string; password: string },
  now: () => number = Date.now,
): Promise<UserRow> {
  if (!setupRequired(db)) throw setupDone();
  if (!matchOpenToken(db, input.token, now())) throw badToken();
  const username = normalizeUsername(input.username);
  checkPassword(input.password);
  const passwordHash = await hasher.hash(input.password);
  return immediate(db, (tx) => {
    // Re-checked under the write lock: another request or the CLI may have won meanwhile.
    if (countUsers(tx) > 0) throw setupDone();
    const t = now();
    const hash = matchOpenToken(tx, input.token, t);
    if (!hash || !markSetupTokenUsed(tx, hash, t)) throw badToken();
    const row: UserRow = { id: newUserId(), username, passwordHash, role: "admin", createdAt: t, updatedAt: t };
    insertUser(tx, row);
    return row;
  });
}
