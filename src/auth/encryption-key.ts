import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";

/** File name of the key generated on first start, inside the data directory. */
export const GENERATED_KEY_FILE = "encryption.key";

export class KeyError extends Error {
  override name = "KeyError";
}

export type LoadedKey = {
  key: Buffer;
  /** Human description of where the key came from, safe to print (never the key). */
  source: string;
  /** True when this call generated a new key file. */
  generated: boolean;
};

/**
 * Decodes a 32-byte key written as 64 hex characters or base64/base64url.
 * A key of any other length is rejected: there is never a padded, truncated or built-in key.
 */
export function decodeKey(text: string, where: string): Buffer {
  const s = text.trim();
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(s)) key = Buffer.from(s, "hex");
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(s)) key = Buffer.from(s, "base64");
  if (!key || key.length !== 32) {
    const got = key ? `${key.length} bytes` : "not hex or base64";
    throw new KeyError(
      `${where}: the encryption key must be 32 bytes, written as 64 hex characters or 44 base64 characters (got ${got}). ` +
        `Generate one with: openssl rand -hex 32`,
    );
  }
  return key;
}

function readKeyFile(file: string, where: string): Buffer {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new KeyError(`${where}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return decodeKey(text, `${where} (${file})`);
}

/**
 * Resolves the 32-byte encryption key: LLM_PROXY_ENCRYPTION_KEY, else the key file
 * (LLM_PROXY_ENCRYPTION_KEY_FILE / `encryption_key_file`), else `<dataDir>/encryption.key`,
 * which is generated with mode 0600 when `generate` is true and it does not exist yet.
 */
export function loadEncryptionKey(options: {
  literal?: string;
  file?: string;
  dataDir: string;
  generate: boolean;
}): LoadedKey | undefined {
  if (options.literal) {
    return { key: decodeKey(options.literal, "LLM_PROXY_ENCRYPTION_KEY"), source: "LLM_PROXY_ENCRYPTION_KEY", generated: false };
  }
  if (options.file) {
    return { key: readKeyFile(options.file, "encryption key file"), source: `file ${options.file}`, generated: false };
  }
  const file = path.join(options.dataDir, GENERATED_KEY_FILE);
  if (fs.existsSync(file)) {
    return { key: readKeyFile(file, "encryption key file"), source: `file ${file}`, generated: false };
  }
  if (!options.generate) return undefined;
  const key = crypto.randomBytes(32);
  fs.mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  // "wx": never overwrite a key that appeared meanwhile (a second process starting at once).
  fs.writeFileSync(file, key.toString("hex") + "\n", { mode: 0o600, flag: "wx" });
  fs.chmodSync(file, 0o600);
  return { key, source: `file ${file} (generated)`, generated: true };
}
