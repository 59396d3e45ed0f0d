import type { Database } from "bun:sqlite";
import crypto from "node:crypto";
import type { Db } from "../db/client.ts";
import { activeClientKeys, insertClientKey, type ClientKeyRow } from "../db/client-keys.ts";
import { keyPolicyFromRow, keyUsability, type KeyPolicy } from "../governance/policy.ts";

/** Prefix of every client key, so leaked keys are easy to grep for and recognise. */
export const CLIENT_KEY_PREFIX = "llmp_";

/** A verified key: who it is and its governance policy (expiry, allowed models, budgets, limits). */
export type ClientKeyIdentity = { id: string; name: string; policy: KeyPolicy };

/** SHA-256 of a client key, as stored (hex). Bun's native hasher: ~6× cheaper than node:crypto's per call. */
export function hashClientKey(key: string): string {
  return Bun.SHA256.hash(key, "hex") as string;
}

/** Creates a key; the plaintext is returned once and never stored. */
export function createClientKey(db: Db, name: string): { key: string; row: ClientKeyRow } {
  const key = CLIENT_KEY_PREFIX + crypto.randomBytes(32).toString("base64url");
  const row: ClientKeyRow = {
    id: "key_" + crypto.randomBytes(8).toString("hex"),
    name,
    keyHash: hashClientKey(key),
    prefix: key.slice(0, CLIENT_KEY_PREFIX.length + 6),
    createdAt: Date.now(),
    revokedAt: null,
    enabled: true,
    expiresAt: null,
    allowedModels: null,
    budgetDailyPico: null,
    budgetMonthlyPico: null,
    budgetTotalPico: null,
    rpmLimit: null,
    tpmLimit: null,
    storeBodies: false,
    updatedAt: null,
  };
  insertClientKey(db, row);
  return { key, row };
}

/**
 * Verifies presented client keys against an in-memory map of active key hashes.
 * The map is rebuilt whenever another connection (e.g. `llm-proxy keys revoke`) has committed to
 * the database, detected with `PRAGMA data_version`, so a revocation, or any change to a key's
 * policy (enabled, expiry, allowed models, budgets, limits), takes effect within
 * `VERSION_CHECK_MS` (2 ms) without polling: the check runs on a request at most once per that
 * interval (under load it was ~4% of a request's CPU when run on every request), and at once when
 * a presented key is unknown (so a key created a moment ago works immediately). A change made
 * through this same connection does not move `data_version`: call `invalidate()` after it.
 */
/** How stale the verifier's view of the key table may be (see ClientKeyVerifier). */
export const VERSION_CHECK_MS = 2;

export class ClientKeyVerifier {
  private byHash = new Map<string, { identity: ClientKeyIdentity; hash: Buffer }>();
  private dataVersion = -1;
  private checkedAt = -Infinity;
  private readonly versionQuery;

  constructor(
    private readonly db: Db,
    sqlite: Database,
  ) {
    // query() (not prepare()) so the statement is cached on the connection and finalized when it closes.
    this.versionQuery = sqlite.query<{ data_version: number }, []>("PRAGMA data_version");
  }

  /** Forces a reload on the next check (after this process itself changed keys). */
  invalidate(): void {
    this.dataVersion = -1;
    this.checkedAt = -Infinity;
  }

  /** Reloads the keys if another connection committed since the last check; true if it reloaded. */
  private refresh(force = false): boolean {
    const now = performance.now();
    if (!force && now - this.checkedAt < VERSION_CHECK_MS) return false;
    this.checkedAt = now;
    const version = this.versionQuery.get()?.data_version ?? 0;
    if (version === this.dataVersion) return false;
    const next = new Map<string, { identity: ClientKeyIdentity; hash: Buffer }>();
    for (const row of activeClientKeys(this.db)) {
      // Frozen: every request with this key gets this same object until the keys change.
      const identity = Object.freeze({ id: row.id, name: row.name, policy: Object.freeze(keyPolicyFromRow(row)) });
      next.set(row.keyHash, { identity, hash: Buffer.from(row.keyHash, "hex") });
    }
    this.byHash = next;
    this.dataVersion = version;
    return true;
  }

  /**
   * Any known, unrevoked key, including disabled and expired ones, so the caller can refuse them
   * with a precise message (and log the attempt). Callers must check `keyUsability(policy)`.
   */
  identify(presented: string | undefined): ClientKeyIdentity | undefined {
    if (!presented || !presented.startsWith(CLIENT_KEY_PREFIX) || presented.length > 200) return undefined;
    this.refresh();
    const digest = Bun.SHA256.hash(presented) as Uint8Array;
    const hash = digest.toHex();
    let entry = this.byHash.get(hash);
    // An unknown key may have just been created by another process: look again at once.
    if (!entry && this.refresh(true)) entry = this.byHash.get(hash);
    // The map lookup is keyed by a hash the caller cannot steer; confirm in constant time anyway.
    if (!entry || !crypto.timingSafeEqual(entry.hash, digest)) return undefined;
    return entry.identity;
  }

  /** The key's identity and policy, or undefined for a missing, unknown, revoked, disabled or expired key. */
  verify(presented: string | undefined, now = Date.now()): ClientKeyIdentity | undefined {
    const identity = this.identify(presented);
    return identity && keyUsability(identity.policy, now) === "ok" ? identity : undefined;
  }
}

/** The client key from `Authorization: Bearer …` or `x-api-key`. */
export function presentedKey(headers: Headers): string | undefined {
  const auth = headers.get("authorization");
  // The usual form, `Bearer <key>` with one space and nothing around it, without building strings.
  if (auth !== null && auth.startsWith("Bearer ") && auth.length > 7 && auth.charCodeAt(7) > 32 && auth.charCodeAt(auth.length - 1) > 32) {
    return auth.slice(7);
  }
  if (auth) {
    // `Bearer <key>`, the scheme in any case, then whitespace (what /^Bearer\s+(.+)$/i took, without a regex per request).
    const value = auth.trim();
    if (value.slice(0, 6).toLowerCase() !== "bearer") return undefined;
    const rest = value.slice(6);
    const key = rest.trimStart();
    return key.length > 0 && key.length < rest.length ? key : undefined;
  }
  return headers.get("x-api-key")?.trim() || undefined;
}
