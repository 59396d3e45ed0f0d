import crypto from "node:crypto";
import type { Db } from "../db/client.ts";
import { insertAudit, listAudit, type AuditRow } from "../db/audit.ts";
import { redactFields, type LogFields } from "../logger.ts";

/**
 * The admin audit log: who did what to which object, when, and from which IP. `detail` is a small
 * JSON object; fields named like secrets (password, token, key…) are redacted before storing, the
 * same rule the logger uses, so a careless call cannot write a secret into the table.
 */
export type AuditActor = { userId: string | null; username: string | null; ip: string | null };

/** One entry as the admin API lists it. */
export type AuditEntry = {
  id: string;
  at: string;
  user_id: string | null;
  username: string | null;
  action: string;
  target: string | null;
  detail: Record<string, unknown> | null;
  ip: string | null;
};

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** Time-sortable ids like request ids: "aud_" + 10 base32 time characters + 16 random ones. */
export function newAuditId(now = Date.now()): string {
  let time = "";
  let t = Math.max(0, Math.floor(now));
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const bytes = crypto.randomBytes(16);
  let rand = "";
  for (let i = 0; i < 16; i++) rand += ALPHABET[bytes[i]! & 31];
  return "aud_" + time + rand;
}

export class AuditLog {
  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {}

  /** Appends one entry. `action` is dotted, e.g. "user.create"; `target` names the object, e.g. "user:usr_…". */
  record(actor: AuditActor, action: string, target: string | null, detail?: LogFields): void {
    const at = this.now();
    const row: AuditRow = {
      id: newAuditId(at),
      at,
      userId: actor.userId,
      username: actor.username,
      action,
      target,
      detail: detail && Object.keys(detail).length ? JSON.stringify(redactFields(detail)) : null,
      ip: actor.ip,
    };
    insertAudit(this.db, row);
  }

  /** A page of entries, newest first. */
  list(options: { cursor?: string; limit: number }): { data: AuditEntry[]; next_cursor: string | null } {
    const page = listAudit(this.db, options);
    return { data: page.rows.map(auditEntry), next_cursor: page.nextCursor };
  }
}

function auditEntry(row: AuditRow): AuditEntry {
  let detail: Record<string, unknown> | null = null;
  try {
    detail = row.detail ? JSON.parse(row.detail) : null;
  } catch {}
  return {
    id: row.id,
    at: new Date(row.at).toISOString(),
    user_id: row.userId,
    username: row.username,
    action: row.action,
    target: row.target,
    detail,
    ip: row.ip,
  };
}
