import { expect, test } from "bun:test";
import path from "node:path";
import { ClientKeyVerifier } from "../auth/client-keys.ts";
import { openDatabase } from "../db/client.ts";
import { runMigrations } from "../db/migrate.ts";
import { tempDir } from "../testing/temp.ts";
import { ClientKeyAdmin, clientKeyCreateSchema, clientKeyPatchSchema } from "./client-key-admin.ts";

test("client keys: created once with settings, updated, revoked; the verifier follows at once; never shows the key", () => {
  const h = openDatabase(path.join(tempDir(), "k.db"));
  runMigrations(h);
  const verifier = new ClientKeyVerifier(h.db, h.sqlite);
  const admin = new ClientKeyAdmin(h.db, () => verifier.invalidate(), (id) => ({ today: 1_500_000_000n, month: 2_000_000_000n, total: 3_000_000_000n }));
  const created = admin.create(clientKeyCreateSchema.parse({ name: "ci", budget_daily_usd: 1.25, rpm_limit: 60, allowed_models: ["smart"] }));
  expect(created.key).toMatch(/^llmp_/);
  expect(created).toMatchObject({ name: "ci", budget_daily_usd: 1.25, rpm_limit: 60, allowed_models: ["smart"], enabled: true, spend_usd: { today: 0.0015, month: 0.002, total: 0.003 } });
  expect(verifier.verify(created.key)?.id).toBe(created.id);
  expect(JSON.stringify(admin.list())).not.toContain(created.key);
  expect(JSON.stringify(admin.list())).not.toContain("keyHash");

  const updated = admin.update(created.id, clientKeyPatchSchema.parse({ budget_daily_usd: null, tpm_limit: 1000, expires_at: "2030-01-01T00:00:00Z" }));
  expect(updated).toMatchObject({ budget_daily_usd: null, tpm_limit: 1000, expires_at: "2030-01-01T00:00:00.000Z" });
  expect(h.sqlite.query("SELECT budget_monthly_pico FROM client_keys").get()).toEqual({ budget_monthly_pico: null });
  admin.update(created.id, { budget_total_usd: 0.000001 });
  expect(h.sqlite.query("SELECT budget_total_pico FROM client_keys").get()).toEqual({ budget_total_pico: 1_000_000 });

  admin.revoke(created.id);
  expect(verifier.verify(created.key)).toBeUndefined();
  expect(() => admin.update(created.id, { name: "x" })).toThrow(/revoked/);
  expect(() => admin.get("key_nope")).toThrow(/No client key/);
  expect(clientKeyPatchSchema.safeParse({ budget_daily_usd: -1 }).success).toBe(false);
  expect(clientKeyPatchSchema.safeParse({ surprise: 1 }).success).toBe(false);
  h.close();
});
