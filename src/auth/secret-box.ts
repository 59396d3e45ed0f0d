import crypto from "node:crypto";

/**
 * AES-256-GCM sealing for secrets at rest (provider API keys).
 * Format: "v1." + base64url(iv[12] | ciphertext | tag[16]). The associated data binds a ciphertext
 * to its owner (e.g. "provider:7"), so a sealed value copied to another row fails to open.
 */
const VERSION = "v1.";
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SecretBoxError extends Error {
  override name = "SecretBoxError";
}

function checkKey(key: Uint8Array) {
  if (key.length !== 32) throw new SecretBoxError("secret box key must be 32 bytes");
}

/** Encrypts `plaintext` under `key`, authenticated together with `associatedData`. */
export function seal(key: Uint8Array, plaintext: string, associatedData: string): string {
  checkKey(key);
  const iv = crypto.randomBytes(IV_BYTES);
  const cipher = crypto.createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(associatedData, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return VERSION + Buffer.concat([iv, body, cipher.getAuthTag()]).toString("base64url");
}

/** Decrypts a value from `seal`. Throws SecretBoxError on a wrong key, wrong AAD or tampering. */
export function open(key: Uint8Array, sealed: string, associatedData: string): string {
  checkKey(key);
  if (!sealed.startsWith(VERSION)) throw new SecretBoxError("unknown sealed value format");
  const raw = Buffer.from(sealed.slice(VERSION.length), "base64url");
  if (raw.length < IV_BYTES + TAG_BYTES) throw new SecretBoxError("sealed value is truncated");
  const iv = raw.subarray(0, IV_BYTES);
  const tag = raw.subarray(raw.length - TAG_BYTES);
  const body = raw.subarray(IV_BYTES, raw.length - TAG_BYTES);
  try {
    const decipher = crypto.createDecipheriv("aes-256-gcm", key, iv);
    decipher.setAAD(Buffer.from(associatedData, "utf8"));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]).toString("utf8");
  } catch {
    throw new SecretBoxError("cannot open sealed value: wrong key, wrong associated data, or tampered data");
  }
}

/** Constant-time comparison of two secrets (different lengths compare unequal without leaking where). */
export function safeEqual(a: string | Uint8Array, b: string | Uint8Array): boolean {
  const x = typeof a === "string" ? Buffer.from(a) : Buffer.from(a);
  const y = typeof b === "string" ? Buffer.from(b) : Buffer.from(b);
  const hx = crypto.createHash("sha256").update(x).digest();
  const hy = crypto.createHash("sha256").update(y).digest();
  return crypto.timingSafeEqual(hx, hy) && x.length === y.length;
}

/** Derives a purpose-specific subkey (e.g. "session-hmac") from the master key with HKDF-SHA256. */
export function deriveKey(master: Uint8Array, purpose: string): Buffer {
  return Buffer.from(crypto.hkdfSync("sha256", master, Buffer.alloc(0), `llm-proxy:${purpose}`, 32));
}
