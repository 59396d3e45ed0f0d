import { pooledRandomBytes } from "./random.ts";

/**
 * Time-sortable request ids: "req_" + 10 Crockford-base32 characters of the millisecond timestamp
 * + 16 random ones (ULID layout). Lexicographic order is time order, so time ranges and cursor
 * pagination walk the primary key.
 */
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
export const ID_PREFIX = "req_";

const DIGITS = ALPHABET.split("");

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
let lastRand: number[] = [];
// The encoded time of the last id (ids minted in the same millisecond share it).
let lastEncodedAt = -1;
let lastEncoded = "";

/**
 * A new id. Monotonic within the process: ids minted in the same millisecond (or after the clock
 * steps back by less than a second) reuse the last time and increment the random part, so
 * creation order is id order. An explicit much older time (backfills, tests) mints a fresh id.
 */
export function newRequestId(now = Date.now()): string {
  let rand: number[];
  if (now <= lastTime && now > lastTime - 1000) {
    now = lastTime;
    rand = lastRand.slice();
    for (let i = rand.length - 1; i >= 0; i--) {
      if (rand[i]! < 31) {
        rand[i]!++;
        break;
      }
      rand[i] = 0;
    }
  } else {
    const bytes = pooledRandomBytes(16);
    // The top bit stays clear so increments within one millisecond cannot overflow in practice.
    rand = new Array<number>(16);
    rand[0] = bytes[0]! & 15;
    for (let i = 1; i < 16; i++) rand[i] = bytes[i]! & 31;
  }
  lastTime = now;
  lastRand = rand;
  if (now !== lastEncodedAt) {
    lastEncoded = encodeTime(now);
    lastEncodedAt = now;
  }
  let suffix = "";
  for (let i = 0; i < 16; i++) suffix += DIGITS[rand[i]!];
  return ID_PREFIX + lastEncoded + suffix;
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
