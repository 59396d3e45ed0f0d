import crypto from "node:crypto";

/**
 * Random bytes for ids on the request path, drawn from a 4 KiB pool refilled with the CSPRNG
 * (`crypto.getRandomValues`): one system call per 256 ids instead of one per id. Ids only need to
 * be unguessable and unique, not secret keys: keys, tokens and IVs keep using `crypto.randomBytes`.
 */
const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let offset = POOL_SIZE;

/** `n` (≤ 256) fresh random bytes; the view is only valid until the next call. */
export function pooledRandomBytes(n: number): Buffer {
  if (n > 256) throw new RangeError("pooledRandomBytes: at most 256 bytes");
  if (offset + n > POOL_SIZE) {
    crypto.getRandomValues(pool);
    offset = 0;
  }
  const bytes = pool.subarray(offset, offset + n);
  offset += n;
  return bytes;
}

/** `n` random bytes as base64url text (an id suffix). */
export function randomBase64Url(n: number): string {
  return pooledRandomBytes(n).toString("base64url");
}
