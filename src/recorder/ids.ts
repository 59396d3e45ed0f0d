import crypto from "node:crypto";

/**
 * Time-sortable request ids: "req_" + 10 Crockford-base32 characters of the millisecond timestamp
 * + 16 random ones (ULID layout). Lexicographic order is time order, so time ranges and cursor
 * pagination walk the primary key.
 */
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
export const ID_PREFIX = "req_";

function encodeTime(ms: number): string {
  let out = "";
  let t = Math.max(0, Math.floor(ms));
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}

export function newRequestId(now = Date.now()): string {
  const bytes = crypto.randomBytes(16);
  let rand = "";
  for (let i = 0; i < 16; i++) rand += ALPHABET[bytes[i]! & 31];
  return ID_PREFIX + encodeTime(now) + rand;
}

/** The smallest id that can be minted at `ms` (ids at or after `ms` compare >= it). */
export function idLowerBound(ms: number): string {
  return ID_PREFIX + encodeTime(ms) + "0".repeat(16);
}

/** The millisecond timestamp encoded in an id. */
export function timeOfId(id: string): number {
  let t = 0;
  for (const ch of id.slice(ID_PREFIX.length, ID_PREFIX.length + 10)) t = t * 32 + ALPHABET.indexOf(ch);
  return t;
}
