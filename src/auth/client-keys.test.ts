import { expect, test } from "bun:test";
import path from "node:path";
import { openDatabase } from "../db/client.ts";
import { revokeClientKey, updateClientKey } from "../db/client-keys.ts";
import { runMigrations } from "../db/migrate.ts";
import { tempDir } from "../testing/temp.ts";
import { createHash } from "node:crypto";
import { ClientKeyVerifier, VERSION_CHECK_MS, createClientKey, hashClientKey } from "./client-keys.ts";

test("the verifier sees other connections' key changes within VERSION_CHECK_MS, and new keys at once", async () => {
  const file = path.join(tempDir(), "k.db");
  const server = openDatabase(file);
  runMigrations(server);
  const side = openDatabase(file); // another process: `llm-proxy keys …`
  try {
    const verifier = new ClientKeyVerifier(server.db, server.sqlite);
    const a = createClientKey(side.db, "a");
    expect(verifier.verify(a.key)?.id).toBe(a.row.id);
    // A key created a moment ago works on its very first request (an unknown key forces a check).
    const b = createClientKey(side.db, "b");
    expect(verifier.verify(b.key)?.id).toBe(b.row.id);
    expect(verifier.verify("llmp_not-a-key")).toBeUndefined();

    updateClientKey(side.db, a.row.id, { enabled: false });
    revokeClientKey(side.db, b.row.id);
    await Bun.sleep(VERSION_CHECK_MS + 1);
    expect(verifier.identify(a.key)?.policy.enabled).toBe(false);
    expect(verifier.verify(a.key)).toBeUndefined();
    expect(verifier.verify(b.key)).toBeUndefined();
  } finally {
    side.close();
    server.close();
  }
});

test("keys are stored as their SHA-256 hex digest, so keys created by earlier releases still verify", () => {
  const file = path.join(tempDir(), "h.db");
  const h = openDatabase(file);
  runMigrations(h);
  try {
    const { key, row } = createClientKey(h.db, "compat");
    expect(row.keyHash).toBe(createHash("sha256").update(key).digest("hex"));
    expect(hashClientKey("llmp_example")).toBe(createHash("sha256").update("llmp_example").digest("hex"));
    const verifier = new ClientKeyVerifier(h.db, h.sqlite);
    expect(verifier.identify(key)?.id).toBe(row.id);
    expect(verifier.identify(key.slice(0, -1) + (key.endsWith("A") ? "B" : "A"))).toBeUndefined();
  } finally {
    h.close();
  }
});

test("presentedKey reads `Authorization: Bearer` (any case, any whitespace) or else x-api-key", async () => {
  const { presentedKey } = await import("./client-keys.ts");
  const key = (h: Record<string, string>) => presentedKey(new Headers(h));
  expect(key({ authorization: "Bearer llmp_abc" })).toBe("llmp_abc");
  expect(key({ authorization: "  bEaReR \t llmp_abc  " })).toBe("llmp_abc");
  expect(key({ authorization: "Bearer a b" })).toBe("a b");
  expect(key({ authorization: "Bearer" })).toBeUndefined();
  expect(key({ authorization: "Bearer   " })).toBeUndefined();
  expect(key({ authorization: "Bearerllmp_abc" })).toBeUndefined();
  expect(key({ authorization: "Basic llmp_abc", "x-api-key": "llmp_x" })).toBeUndefined(); // a wrong scheme is not skipped
  expect(key({ "x-api-key": " llmp_x " })).toBe("llmp_x");
  expect(key({ "x-api-key": "  " })).toBeUndefined();
  expect(key({})).toBeUndefined();
  // The same answers as the regular expression this replaced.
  const old = (auth: string) => /^Bearer\s+(.+)$/i.exec(auth.trim())?.[1]!.trim();
  for (const a of ["Bearer x", "bearer\u00a0x", "BEARER", "Bearer\u00a0", "bearerx", "Bearer  x y  ", "Token x", "Bearer\tq"]) {
    expect(key({ authorization: a })).toBe(old(a));
  }
});
