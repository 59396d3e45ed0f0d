import { describe, expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { decodeKey, KeyError, loadEncryptionKey } from "./encryption-key.ts";
import { deriveKey, open, safeEqual, seal, SecretBoxError } from "./secret-box.ts";
import { runCli } from "../testing/cli-process.ts";
import { tempDir } from "../testing/temp.ts";

const HEX = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

describe("encryption key", () => {
  test("first start generates a 32-byte key file with mode 0600, later starts reuse it", () => {
    const dir = path.join(tempDir(), "data");
    const first = loadEncryptionKey({ dataDir: dir, generate: true })!;
    expect(first.generated).toBe(true);
    expect(first.key.length).toBe(32);
    const file = path.join(dir, "encryption.key");
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const again = loadEncryptionKey({ dataDir: dir, generate: true })!;
    expect(again.generated).toBe(false);
    expect(again.key.equals(first.key)).toBe(true);
  });

  test("without generate, a missing key is reported as absent (config check never writes)", () => {
    const dir = tempDir();
    expect(loadEncryptionKey({ dataDir: dir, generate: false })).toBeUndefined();
    expect(fs.existsSync(path.join(dir, "encryption.key"))).toBe(false);
  });

  test("hex and base64 (and base64url) keys decode to the same 32 bytes", () => {
    const raw = Buffer.from(HEX, "hex");
    expect(decodeKey(HEX, "t").equals(raw)).toBe(true);
    expect(decodeKey(raw.toString("base64"), "t").equals(raw)).toBe(true);
    expect(decodeKey(raw.toString("base64url") + "\n", "t").equals(raw)).toBe(true);
  });

  test("keys of the wrong length or encoding are rejected with a clear error", () => {
    expect(() => decodeKey(HEX.slice(0, 32), "LLM_PROXY_ENCRYPTION_KEY")).toThrow(/must be 32 bytes.*got 24 bytes/);
    expect(() => decodeKey("not a key!", "x")).toThrow(KeyError);
    expect(() => decodeKey(Buffer.alloc(31).toString("base64"), "x")).toThrow(/got 31 bytes/);
  });

  test("the env literal wins over files; the key file is used otherwise", () => {
    const dir = tempDir();
    const file = path.join(dir, "k");
    fs.writeFileSync(file, Buffer.alloc(32, 7).toString("base64"));
    const fromEnv = loadEncryptionKey({ literal: HEX, file, dataDir: dir, generate: true })!;
    expect(fromEnv.source).toBe("LLM_PROXY_ENCRYPTION_KEY");
    const fromFile = loadEncryptionKey({ file, dataDir: dir, generate: true })!;
    expect(fromFile.key.equals(Buffer.alloc(32, 7))).toBe(true);
    expect(fs.existsSync(path.join(dir, "encryption.key"))).toBe(false);
  });

  test("the server refuses a wrong-length key with exit 2 and never echoes it", async () => {
    const dir = tempDir();
    const bad = "deadbeef".repeat(4);
    const r = await runCli(["serve", "--data-dir", dir], { env: { LLM_PROXY_ENCRYPTION_KEY: bad } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("must be 32 bytes");
    expect(r.stderr).not.toContain(bad);
    const missing = await runCli(["serve", "--data-dir", dir], { env: { LLM_PROXY_ENCRYPTION_KEY_FILE: path.join(dir, "none") } });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("cannot read");
  });
});

describe("secret box (AES-256-GCM with associated data)", () => {
  const key = Buffer.from(HEX, "hex");

  test("seal/open round trip; each seal uses a fresh IV", () => {
    const a = seal(key, "sk-live-secret", "provider:7");
    const b = seal(key, "sk-live-secret", "provider:7");
    expect(a).not.toBe(b);
    expect(a.startsWith("v1.")).toBe(true);
    expect(a).not.toContain("sk-live");
    expect(open(key, a, "provider:7")).toBe("sk-live-secret");
  });

  test("wrong associated data, wrong key or tampering fail to open", () => {
    const sealed = seal(key, "secret", "provider:7");
    expect(() => open(key, sealed, "provider:8")).toThrow(SecretBoxError);
    expect(() => open(Buffer.alloc(32, 1), sealed, "provider:7")).toThrow(SecretBoxError);
    const raw = Buffer.from(sealed.slice(3), "base64url");
    raw[15] ^= 1;
    expect(() => open(key, "v1." + raw.toString("base64url"), "provider:7")).toThrow(SecretBoxError);
    expect(() => open(key, "v9.abc", "provider:7")).toThrow(/format/);
    expect(() => seal(Buffer.alloc(16), "x", "y")).toThrow(/32 bytes/);
  });

  test("safeEqual compares in constant time and handles different lengths", () => {
    expect(safeEqual("abc", "abc")).toBe(true);
    expect(safeEqual("abc", "abd")).toBe(false);
    expect(safeEqual("abc", "abcd")).toBe(false);
  });

  test("deriveKey gives distinct 32-byte subkeys per purpose", () => {
    const s = deriveKey(key, "session-hmac");
    expect(s.length).toBe(32);
    expect(s.equals(deriveKey(key, "session-hmac"))).toBe(true);
    expect(s.equals(deriveKey(key, "other"))).toBe(false);
  });
});
