import { expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { loadEncryptionKey } from "../auth/encryption-key.ts";
import { Router } from "../core/router.ts";
import { openDatabase } from "../db/client.ts";
import { runMigrations } from "../db/migrate.ts";
import { createLogger } from "../logger.ts";
import { runCli } from "../testing/cli-process.ts";
import { tempDir } from "../testing/temp.ts";
import { ProviderStore } from "./provider-store.ts";

test("`llm-proxy secrets rotate` re-encrypts stored provider keys and replaces the generated key file", async () => {
  const dir = tempDir();
  const oldKey = loadEncryptionKey({ dataDir: dir, generate: true })!.key;
  const h = openDatabase(path.join(dir, "llm-proxy.db"));
  runMigrations(h);
  new ProviderStore(h.db, oldKey, [], new Router([], {}), createLogger({ sink: () => {} })).create({ id: "p1", type: "openai", api_keys: ["sk-rotate-me-1234"] });
  h.close();

  const newKeyFile = path.join(tempDir(), "new.key");
  fs.writeFileSync(newKeyFile, "ab".repeat(32));
  expect((await runCli(["secrets", "rotate", "--data-dir", dir])).code).toBe(2);
  const r = await runCli(["secrets", "rotate", "--new-key-file", newKeyFile, "--data-dir", dir]);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("re-encrypted the keys of 1 stored provider(s)");
  expect(r.stdout + r.stderr).not.toContain("ab".repeat(32));

  const current = loadEncryptionKey({ dataDir: dir, generate: false })!;
  expect(current.key.toString("hex")).toBe("ab".repeat(32));
  expect(fs.statSync(path.join(dir, "encryption.key")).mode & 0o777).toBe(0o600);
  expect(fs.readdirSync(dir).some((f) => f.startsWith("encryption.key.old-"))).toBe(true);

  const h2 = openDatabase(path.join(dir, "llm-proxy.db"));
  const router = new Router([], {});
  new ProviderStore(h2.db, current.key, [], router, createLogger({ sink: () => {} })).reload();
  const route = router.resolve("p1/gpt-4o");
  expect(route.ok && route.targets[0]!.provider.apiKeys[0]!.value).toBe("sk-rotate-me-1234");
  h2.close();
  // Rotating again with the same key is refused.
  expect((await runCli(["secrets", "rotate", "--new-key-file", newKeyFile, "--data-dir", dir])).code).toBe(2);
});
