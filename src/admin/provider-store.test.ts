import { describe, expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { ClientError } from "../errors.ts";
import { Router } from "../core/router.ts";
import { openDatabase } from "../db/client.ts";
import { runMigrations } from "../db/migrate.ts";
import { createLogger } from "../logger.ts";
import { startMockUpstream } from "../testing/mock-upstream.ts";
import { tempDir } from "../testing/temp.ts";
import { ProviderStore, rotateProviderSecrets, testProviderConnection } from "./provider-store.ts";

const KEY = Buffer.alloc(32, 1);
const SECRET = "sk-managed-provider-SECRET-9f3k";

function setup() {
  const file = path.join(tempDir(), "p.db");
  const h = openDatabase(file);
  runMigrations(h);
  const config = [{ id: "cfg", type: "openai" as const, apiKeys: [{ value: "sk-config-1234", ref: "env:X" }], headers: {}, source: "file" as const }];
  const router = new Router(config, {});
  const store = new ProviderStore(h.db, KEY, config, router, createLogger({ sink: () => {} }));
  store.reload();
  return { h, file, router, store };
}

describe("provider store", () => {
  test("managed providers are sealed at rest, shown only by their last 4 characters, and routed at once", () => {
    const { h, file, router, store } = setup();
    const view = store.create({ id: "ds2", type: "deepseek", api_keys: [SECRET], models: ["deepseek-chat"] });
    expect(view).toMatchObject({ id: "ds2", api_keys: [{ last4: "9f3k" }], read_only: false, source: "admin" });
    expect(JSON.stringify(store.list())).not.toContain(SECRET);
    const r = router.resolve("ds2/deepseek-chat");
    expect(r.ok && r.targets[0]!.provider.apiKeys[0]!.value).toBe(SECRET);
    h.sqlite.run("PRAGMA wal_checkpoint(TRUNCATE)");
    expect(fs.readFileSync(file).includes(Buffer.from(SECRET))).toBe(false);

    store.update("ds2", { enabled: false });
    expect(router.resolve("ds2/deepseek-chat").ok).toBe(false);
    store.update("ds2", { enabled: true, api_keys: ["sk-other-key-abcd"] });
    const r2 = router.resolve("ds2/deepseek-chat");
    expect(r2.ok && r2.targets[0]!.provider.apiKeys[0]!.value).toBe("sk-other-key-abcd");
    store.delete("ds2");
    expect(router.resolve("ds2/deepseek-chat").ok).toBe(false);
    h.close();
  });

  test("config providers are listed read-only and cannot be changed; ids must be unique; shapes are checked", () => {
    const { h, store } = setup();
    expect(store.list()[0]).toMatchObject({ id: "cfg", read_only: true, api_keys: [{ last4: "1234" }] });
    const status = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return (e as ClientError).status;
      }
      return 0;
    };
    expect(status(() => store.update("cfg", { enabled: false }))).toBe(409);
    expect(status(() => store.delete("cfg"))).toBe(409);
    expect(status(() => store.create({ id: "cfg", type: "openai" }))).toBe(409);
    expect(status(() => store.create({ id: "local", type: "openai-compatible" }))).toBe(400);
    expect(status(() => store.get("nope"))).toBe(404);
    h.close();
  });

  test("a sealed key copied to another provider's row does not open (associated data)", () => {
    const { h, store } = setup();
    store.create({ id: "a", type: "openai", api_keys: [SECRET] });
    store.create({ id: "b", type: "openai", api_keys: ["sk-b-key-0000"] });
    h.sqlite.run("UPDATE managed_providers SET api_keys_sealed = (SELECT api_keys_sealed FROM managed_providers WHERE id = 'a') WHERE id = 'b'");
    store.reload(); // b cannot be decrypted: skipped with an error log, a still works
    expect(store.list().map((p) => p.id)).toEqual(["cfg", "a", "b"]);
    h.close();
  });

  test("secrets rotate re-seals every key under the new key in one transaction", () => {
    const { h, store } = setup();
    store.create({ id: "a", type: "openai", api_keys: [SECRET, "sk-second-key-7777"] });
    const newKey = Buffer.alloc(32, 2);
    expect(rotateProviderSecrets(h.db, KEY, newKey)).toBe(1);
    const router = new Router([], {});
    const rotated = new ProviderStore(h.db, newKey, [], router, createLogger({ sink: () => {} }));
    rotated.reload();
    const r = router.resolve("a/gpt-4o");
    expect(r.ok && r.targets[0]!.provider.apiKeys.map((k) => k.value)).toEqual([SECRET, "sk-second-key-7777"]);
    expect(() => rotateProviderSecrets(h.db, KEY, newKey)).toThrow(); // old key no longer opens them
    h.close();
  });

  test("extra headers are sealed at rest like keys (plain ones from earlier versions are sealed at reload), masked in views, re-sealed by rotate", () => {
    const { h, file, router, store } = setup();
    const HEADER = "AZURE-HEADER-SECRET-123456";
    const view = store.create({ id: "az", type: "openai-compatible", base_url: "http://127.0.0.1:9/v1", models: ["m"], headers: { "api-key": HEADER } });
    expect(view.headers).toEqual({ "api-key": "…3456" });
    const r = router.resolve("az/m");
    expect(r.ok && r.targets[0]!.provider.headers).toEqual({ "api-key": HEADER });
    // A row as an earlier version wrote it: plain JSON, sealed by the next reload.
    h.sqlite.run("UPDATE managed_providers SET headers = ? WHERE id = 'az'", [JSON.stringify({ "api-key": HEADER, "x-old": "plain-value-0001" })]);
    store.reload();
    expect((h.sqlite.query("SELECT headers FROM managed_providers WHERE id = 'az'").get() as { headers: string }).headers.startsWith("{")).toBe(false);
    const again = router.resolve("az/m");
    expect(again.ok && again.targets[0]!.provider.headers).toEqual({ "api-key": HEADER, "x-old": "plain-value-0001" });
    h.sqlite.run("PRAGMA wal_checkpoint(TRUNCATE)");
    expect(fs.readFileSync(file).includes(Buffer.from(HEADER))).toBe(false);
    const newKey = Buffer.alloc(32, 3);
    expect(rotateProviderSecrets(h.db, KEY, newKey)).toBe(1);
    const rotatedRouter = new Router([], {});
    new ProviderStore(h.db, newKey, [], rotatedRouter, createLogger({ sink: () => {} })).reload();
    const rotated = rotatedRouter.resolve("az/m");
    expect(rotated.ok && rotated.targets[0]!.provider.headers["api-key"]).toBe(HEADER);
    h.close();
  });

  test("test connection makes one tiny call and reports success or the error class", async () => {
    let auth = "";
    const up = startMockUpstream((r) => {
      auth = r.headers.get("authorization") ?? "";
      return r.body.max_completion_tokens === 1
        ? Response.json({ id: "x", object: "chat.completion", created: 1, model: "m", choices: [{ index: 0, message: { role: "assistant", content: "p" }, finish_reason: "length" }] })
        : new Response("bad", { status: 400 });
    });
    const provider = { id: "t", type: "openai" as const, baseUrl: `${up.url}/v1`, apiKeys: [{ value: SECRET, ref: "" }], headers: {}, source: "file" as const };
    const ok = await testProviderConnection(provider, { model: "gpt-4o-mini" });
    expect(ok).toMatchObject({ ok: true, model: "gpt-4o-mini" });
    expect(auth).toBe(`Bearer ${SECRET}`);
    up.setHandler(() => Response.json({ error: { message: `Incorrect API key provided: ${SECRET}`, type: "invalid_request_error", code: "invalid_api_key" } }, { status: 401 }));
    const bad = await testProviderConnection(provider, { model: "gpt-4o-mini" });
    expect(bad).toMatchObject({ ok: false, status: 401, error_class: "authentication" });
    expect(JSON.stringify(bad)).not.toContain(SECRET);
    up.stop();
  });
});
