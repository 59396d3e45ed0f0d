import crypto from "node:crypto";

/**
 * Random bytes for ids on the request path, drawn from a 4 KiB pool refilled with the CSPRNG
 * (`crypto.getRandomValues`): one system call per 256 ids instead of one per id. Ids only need to
 * be unguessable and unique, not secret keys: keys, tokens and IVs keep using `crypto.randomBytes`.
 */
const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let offset = POOL_SIZE;

/**
 * Reserves `n` (≤ 256) fresh random bytes: they are `RANDOM_POOL[at … at + n)` for the returned
 * `at`, valid until the next call (no view object is made, for the id on every request).
 */
export function reserveRandomBytes(n: number): number {
  if (n > 256) throw new RangeError("random bytes: at most 256 at a time");
  if (offset + n > POOL_SIZE) {
    crypto.getRandomValues(pool);
    offset = 0;
  }
  const at = offset;
  offset += n;
  return at;
}

/** The pool `reserveRandomBytes` hands out (refilled in place). */
export const RANDOM_POOL: Uint8Array = pool;

/** `n` (≤ 256) fresh random bytes; the view is only valid until the next call. */
export function pooledRandomBytes(n: number): Buffer {
  const at = reserveRandomBytes(n);
  return pool.subarray(at, at + n);
}

/** `n` random bytes as base64url text (an id suffix). */
export function randomBase64Url(n: number): string {
  return pooledRandomBytes(n).toString("base64url");
}
