import { RANDOM_POOL, reserveRandomBytes } from "./random.ts";

/**
 * Time-sortable request ids: "req_" + 10 Crockford-base32 characters of the millisecond timestamp
 * + 16 random ones (ULID layout). Lexicographic order is time order, so time ranges and cursor
 * pagination walk the primary key.
 */
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
export const ID_PREFIX = "req_";

/** Character codes of the alphabet, for building an id's random part in one String.fromCharCode. */
const CODES = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));

function encodeTime(ms: number): string {
  let out = "";
  let t = Math.max(0, Math.floor(ms));
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}

let lastTime = -1;
/** The random part of the last id, 16 base-32 digits (changed in place for the next id). */
const lastRand = new Uint8Array(16);
// "req_" + the encoded time of the last id (ids minted in the same millisecond share it).
let lastEncodedAt = -1;
let lastHead = "";

/**
 * A new id. Monotonic within the process: ids minted in the same millisecond (or after the clock
 * steps back by less than a second) reuse the last time and increment the random part, so
 * creation order is id order. An explicit much older time (backfills, tests) mints a fresh id.
 */
export function newRequestId(now = Date.now()): string {
  const r = lastRand;
  if (now <= lastTime && now > lastTime - 1000) {
    now = lastTime;
    for (let i = 15; i >= 0; i--) {
      if (r[i]! < 31) {
        r[i]!++;
        break;
      }
      r[i] = 0;
    }
  } else {
    const at = reserveRandomBytes(16);
    const bytes = RANDOM_POOL;
    // The top bit stays clear so increments within one millisecond cannot overflow in practice.
    r[0] = bytes[at]! & 15;
    for (let i = 1; i < 16; i++) r[i] = bytes[at + i]! & 31;
  }
  lastTime = now;
  if (now !== lastEncodedAt) {
    lastHead = ID_PREFIX + encodeTime(now);
    lastEncodedAt = now;
  }
  const c = CODES;
  return (
    lastHead +
    String.fromCharCode(c[r[0]!]!, c[r[1]!]!, c[r[2]!]!, c[r[3]!]!, c[r[4]!]!, c[r[5]!]!, c[r[6]!]!, c[r[7]!]!,
      c[r[8]!]!, c[r[9]!]!, c[r[10]!]!, c[r[11]!]!, c[r[12]!]!, c[r[13]!]!, c[r[14]!]!, c[r[15]!]!)
  );
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
