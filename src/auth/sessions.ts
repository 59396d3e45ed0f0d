import crypto from "node:crypto";
import type { Db } from "../db/client.ts";
import {
  deleteStaleSessions,
  findSessionWithUser,
  insertSession,
  revokeSession,
  revokeUserSessions,
  touchSession,
  type Role,
  type SessionRow,
} from "../db/users.ts";
import { deriveKey } from "./secret-box.ts";

/**
 * Dashboard sessions. The cookie is `<id>.<tag>`: `id` is 32 random bytes (base64url) and `tag` is
 * base64url(HMAC-SHA256(id)) under a subkey of the master key, so a forged or altered cookie is
 * refused before any database lookup. The server-side row is keyed by SHA-256(id), so a copy of the
 * database (a backup) holds no usable session. Every check reads the row: revocation is immediate.
 */
export const SESSION_COOKIE = "llmp_session";
export const DEFAULT_SESSION_TTL_MS = 12 * 3_600_000;
/** Sliding expiry never extends a session past this age: sign in again at least weekly. */
export const MAX_SESSION_AGE_MS = 7 * 86_400_000;
/** `last_seen_at` is written at most this often per session (one write a minute, not per request). */
const TOUCH_INTERVAL_MS = 60_000;
const TOKEN = /^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/;

export type SessionUser = { id: string; username: string; role: Role };
export type SessionInfo = { id: string; userId: string; createdAt: number; expiresAt: number; lastSeenAt: number };
export type ActiveSession = { session: SessionInfo; user: SessionUser };

export class Sessions {
  private readonly hmacKey: Buffer;

  constructor(
    private readonly db: Db,
    masterKey: Uint8Array,
    private readonly options: { ttlMs?: number; now?: () => number } = {},
  ) {
    this.hmacKey = deriveKey(masterKey, "session-hmac");
  }

  private get ttlMs() {
    return this.options.ttlMs ?? DEFAULT_SESSION_TTL_MS;
  }

  private now() {
    return (this.options.now ?? Date.now)();
  }

  private tag(id: string): Buffer {
    return crypto.createHmac("sha256", this.hmacKey).update(id).digest();
  }

  /** Starts a session; `token` goes into the cookie and nowhere else. */
  create(userId: string, meta: { ip?: string | null; userAgent?: string | null } = {}): { token: string; session: SessionInfo } {
    const now = this.now();
    const id = crypto.randomBytes(32).toString("base64url");
    const row: SessionRow = {
      id: rowId(id),
      userId,
      createdAt: now,
      expiresAt: Math.min(now + this.ttlMs, now + MAX_SESSION_AGE_MS),
      lastSeenAt: now,
      revokedAt: null,
      ip: meta.ip ?? null,
      userAgent: meta.userAgent?.slice(0, 256) ?? null,
    };
    insertSession(this.db, row);
    // Housekeeping: drop rows that can never be valid again (kept a day for forensics).
    deleteStaleSessions(this.db, now - 86_400_000);
    return { token: `${id}.${this.tag(id).toString("base64url")}`, session: info(row) };
  }

  /** The live session and user behind a cookie value; undefined if tampered, unknown, revoked or expired. */
  verify(token: string | undefined): ActiveSession | undefined {
    if (!token || !TOKEN.test(token)) return undefined;
    const [id, tag] = token.split(".") as [string, string];
    // Compare the text, not decoded bytes: base64url decoding ignores the last character's spare
    // bits, which would let an altered cookie through.
    if (!crypto.timingSafeEqual(Buffer.from(tag), Buffer.from(this.tag(id).toString("base64url")))) return undefined;
    const found = findSessionWithUser(this.db, rowId(id));
    if (!found) return undefined;
    const { session, user } = found;
    const now = this.now();
    if (session.revokedAt !== null || session.expiresAt <= now) return undefined;
    if (now - session.lastSeenAt >= TOUCH_INTERVAL_MS) {
      session.lastSeenAt = now;
      session.expiresAt = Math.min(now + this.ttlMs, session.createdAt + MAX_SESSION_AGE_MS);
      touchSession(this.db, session.id, session.lastSeenAt, session.expiresAt);
    }
    return { session: info(session), user: { id: user.id, username: user.username, role: user.role } };
  }

  /** Ends one session (sign-out). */
  revoke(sessionId: string): boolean {
    return revokeSession(this.db, sessionId, this.now());
  }

  /** Ends every session of a user, except `keepSessionId` (the caller's own, on a password change). */
  revokeUser(userId: string, keepSessionId?: string): number {
    return revokeUserSessions(this.db, userId, this.now(), keepSessionId);
  }
}

function rowId(id: string): string {
  return crypto.createHash("sha256").update(id).digest("base64url");
}

function info(row: SessionRow): SessionInfo {
  return { id: row.id, userId: row.userId, createdAt: row.createdAt, expiresAt: row.expiresAt, lastSeenAt: row.lastSeenAt };
}

// ---- cookies -----------------------------------------------------------------------------------

/** `[dashboard] secure_cookies`: always, never, or "auto" (when the request came over https). */
export type SecureCookiePolicy = boolean | "auto";

/**
 * Whether to mark the cookie `Secure`. "auto" trusts `X-Forwarded-Proto: https` from a TLS proxy:
 * the header can only make the cookie stricter, never weaker.
 */
export function wantsSecureCookie(request: Request, policy: SecureCookiePolicy): boolean {
  if (policy !== "auto") return policy;
  if (request.url.startsWith("https:")) return true;
  const proto = request.headers.get("x-forwarded-proto")?.split(",")[0]?.trim().toLowerCase();
  return proto === "https";
}

/** `Set-Cookie` for a new session: HttpOnly, SameSite=Strict, Path=/, Secure per policy. */
export function sessionCookie(token: string, secure: boolean): string {
  const maxAge = Math.floor(MAX_SESSION_AGE_MS / 1000);
  return `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure ? "; Secure" : ""}`;
}

/** `Set-Cookie` that deletes the session cookie. */
export function clearedSessionCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT${secure ? "; Secure" : ""}`;
}

/** The session cookie's value from a request, if any. */
export function readSessionCookie(headers: Headers): string | undefined {
  const header = headers.get("cookie");
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}
