/**
 * Key policy, budgets and rate limits through the real gateway: real SQLite file, real HTTP on
 * 127.0.0.1, a mock upstream, prices from the models.dev snapshot, and an injected clock.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import fs from "node:fs";
import path from "node:path";
import { ClientKeyVerifier, VERSION_CHECK_MS, createClientKey } from "../auth/client-keys.ts";
import { loadConfig } from "../config.ts";
import { openDatabase, type DbHandle } from "../db/client.ts";
import { revokeClientKey, updateClientKey, type ClientKeyRow } from "../db/client-keys.ts";
import { createLogger } from "../logger.ts";
import { startServer, type RunningServer } from "../server/serve.ts";
import { freePort, PRICING_SNAPSHOT } from "../testing/cli-process.ts";
import { sendThenHang, startMockUpstream, type UpstreamHandler } from "../testing/mock-upstream.ts";
import { tempDir } from "../testing/temp.ts";
import { requestsTable } from "../testing/request-rows.ts";

const USD = 1_000_000_000_000;
const MINI = { in: 150_000n, out: 600_000n }; // gpt-4o-mini, pico-USD per token

const completion = (usage: { prompt_tokens: number; completion_tokens: number }, model = "gpt-4o-mini") =>
  Response.json({
    id: "chatcmpl-up",
    object: "chat.completion",
    created: 1,
    model,
    choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }],
    usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
  });
const chunk = (delta: object, extra: object = {}) =>
  `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", created: 1, model: "gpt-4o-mini", choices: [{ index: 0, delta, finish_reason: null }], ...extra })}\n\n`;

type Gateway = {
  running: RunningServer;
  base: string;
  dir: string;
  side: DbHandle;
  clock: { now: number };
  key(name: string, settings?: Partial<ClientKeyRow>): { key: string; id: string };
  /** Changes a key from another connection and waits out the verifier's staleness bound (VERSION_CHECK_MS). */
  update(id: string, settings: Partial<ClientKeyRow>): Promise<void>;
  stop(): Promise<void>;
};

async function startGateway(toml: string, startAt = Date.parse("2025-05-10T12:00:00Z")): Promise<Gateway> {
  const dir = tempDir();
  const file = path.join(dir, "llm-proxy.toml");
  fs.writeFileSync(file, toml);
  const config = loadConfig({
    flags: { config: file },
    env: { LLM_PROXY_DATA_DIR: dir, LLM_PROXY_PORT: String(await freePort()), LLM_PROXY_ENCRYPTION_KEY: "cd".repeat(32), LLM_PROXY_PRICING_SOURCE: PRICING_SNAPSHOT },
  });
  const clock = { now: startAt };
  const running = await startServer(config, createLogger({ json: true, sink: () => {} }), { clock: () => clock.now });
  // Prices come from the snapshot, loaded on the first tick after start.
  for (let i = 0; i < 200 && running.pricing.current().info.models === 0; i++) await Bun.sleep(5);
  // A second connection, as `llm-proxy keys` and the admin API in another process write.
  const side = openDatabase(path.join(dir, "llm-proxy.db"));
  return {
    running,
    base: running.url.href.replace(/\/$/, ""),
    dir,
    side,
    clock,
    key(name, settings = {}) {
      const { key, row } = createClientKey(side.db, name);
      if (Object.keys(settings).length) updateClientKey(side.db, row.id, settings);
      return { key, id: row.id };
    },
    async update(id, settings) {
      updateClientKey(side.db, id, settings);
      await Bun.sleep(VERSION_CHECK_MS + 1);
    },
    async stop() {
      side.close();
      await running.stop();
    },
  };
}

let handler: UpstreamHandler = () => completion({ prompt_tokens: 10, completion_tokens: 5 });
const upstream = startMockUpstream((r, q) => handler(r, q));
const TOML = (extra = "") =>
  `[[providers]]\nid = "oa"\ntype = "openai"\nbase_url = "${upstream.url}/v1"\napi_key = "sk-gov-test"\n\n` +
  `[models.aliases]\nsmart = ["oa/gpt-4o-mini"]\n\n[gateway]\nmax_retries = 0\n\n[request_log]\nflush_interval_ms = 20\n${extra}`;

let gw: Gateway;
beforeAll(async () => {
  gw = await startGateway(TOML());
});
afterAll(async () => {
  await gw.stop();
  upstream.stop();
});

const post = (g: Gateway, key: string, body: unknown, init: RequestInit = {}) =>
  fetch(`${g.base}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify(body),
    ...init,
  });

function query<T>(g: Gateway, sql: string, ...args: Array<string | number>): T[] {
  const db = new Database(path.join(g.dir, "llm-proxy.db"), { readonly: true });
  try {
    return (sql.includes("FROM requests") ? requestsTable(db) : db).query(sql).all(...args) as T[];
  } finally {
    db.close();
  }
}

/** The key's log rows in the order they were received, once `count` of them have been written. */
async function rowsOf(g: Gateway, keyId: string, count: number): Promise<any[]> {
  for (let i = 0; i < 200; i++) {
    const rows = query<any>(g, "SELECT *, CAST(cost_pico AS TEXT) AS cost_text FROM requests WHERE client_key_id = ? ORDER BY id", keyId);
    if (rows.length >= count) return rows;
    await Bun.sleep(20);
  }
  throw new Error(`fewer than ${count} rows for ${keyId}`);
}
const loggedCost = (rows: any[]) => rows.reduce((sum, r) => sum + BigInt(r.cost_text ?? 0), 0n);

async function settled(g: Gateway, keyId: string) {
  for (let i = 0; i < 200; i++) {
    const s = await g.running.governance.ledger.spend(keyId);
    if (s.reserved === 0n) return s;
    await Bun.sleep(10);
  }
  throw new Error("reservations never settled");
}

describe("budgets", () => {
  test("50 concurrent requests against a $0.01 budget never overspend beyond one reservation; every one is logged", async () => {
    const budget = 10_000_000_000n; // $0.01
    const { key, id } = gw.key("budget", { budgetDailyPico: Number(budget) });
    const body = { model: "oa/gpt-4o-mini", max_tokens: 1000, messages: [{ role: "user", content: "Count to three." }] };
    // Each call uses its whole max_tokens: the tightest case for a budget. Replies arrive out of order.
    handler = async () => {
      await Bun.sleep(Math.random() * 30);
      return completion({ prompt_tokens: 10, completion_tokens: 1000 });
    };
    const responses = await Promise.all(Array.from({ length: 50 }, () => post(gw, key, body)));
    const bodies = await Promise.all(responses.map((r) => r.json() as Promise<any>));
    const ok = responses.filter((r) => r.status === 200).length;
    const refused = bodies.filter((b, i) => responses[i]!.status === 429);
    expect(ok + refused.length).toBe(50);

    // One reservation: ≈12 prompt tokens estimated + 1000 max output tokens; one call: 10 + 1000.
    const reservation = 12n * MINI.in + 1000n * MINI.out;
    const cost = 10n * MINI.in + 1000n * MINI.out;
    // Spent + reserved + the next hold must fit, so exactly ⌊(budget − hold) / cost⌋ + 1 = 16 calls are admitted.
    expect(ok).toBe(16);
    for (const b of refused) {
      expect(b.error.code).toBe("budget_exceeded");
      expect(b.error.type).toBe("insufficient_quota");
      expect(b.error.message).toMatch(/^Daily budget of \$0\.01 for key 'budget' (exhausted|would be exceeded): \$[\d.]+ spent, \$[\d.]+ reserved by requests in flight, and this request may cost up to \$0\.0006018 /);
    }

    const rows = await rowsOf(gw, id, 50);
    expect(rows.length).toBe(50);
    expect(rows.filter((r) => r.status === 429).every((r) => r.error_class === "budget_exceeded" && r.cost_pico === null)).toBe(true);
    const total = loggedCost(rows);
    expect(total).toBe(16n * cost);
    expect(total).toBeLessThanOrEqual(budget + reservation);
    // The ledger booked exactly what the log recorded.
    const spend = await settled(gw, id);
    expect(spend).toMatchObject({ today: total, month: total, total, reserved: 0n });
  });

  test("settlement: success, upstream error, stream and client disconnect each release the hold and book the logged cost", async () => {
    const { key, id } = gw.key("settle", { budgetTotalPico: USD, tpmLimit: 1_000_000 });
    const messages = [{ role: "user", content: "What is the answer?" }];

    handler = () => completion({ prompt_tokens: 7, completion_tokens: 3 });
    const ok = await post(gw, key, { model: "oa/gpt-4o-mini", max_tokens: 50, messages });
    expect(ok.status).toBe(200);
    expect((await settled(gw, id)).total).toBe(7n * MINI.in + 3n * MINI.out);
    expect(ok.headers.get("x-ratelimit-limit-tokens")).toBe("1000000");

    handler = () => Response.json({ error: { message: "boom", type: "server_error" } }, { status: 500 });
    const failed = await post(gw, key, { model: "oa/gpt-4o-mini", max_tokens: 50, messages });
    expect(failed.status).toBe(502);
    expect(failed.headers.get("x-ratelimit-remaining-tokens")).not.toBeNull();
    expect((await settled(gw, id)).total).toBe(7n * MINI.in + 3n * MINI.out);

    handler = () =>
      new Response(chunk({ role: "assistant", content: "forty" }) + chunk({}, { choices: [{ index: 0, delta: {}, finish_reason: "stop" }] }) + chunk({}, { choices: [], usage: { prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 } }) + "data: [DONE]\n\n", {
        headers: { "content-type": "text/event-stream" },
      });
    const streamed = await post(gw, key, { model: "oa/gpt-4o-mini", max_tokens: 50, stream: true, messages });
    expect(streamed.headers.get("x-ratelimit-limit-tokens")).toBe("1000000");
    await streamed.text();
    expect((await settled(gw, id)).total).toBe(14n * MINI.in + 5n * MINI.out);

    // The upstream sends one chunk and then nothing; the client walks away.
    handler = () => sendThenHang(chunk({ role: "assistant", content: "The answer is forty-two, " }));
    const controller = new AbortController();
    const gone = await post(gw, key, { model: "oa/gpt-4o-mini", max_tokens: 500, stream: true, messages }, { signal: controller.signal });
    await gone.body!.getReader().read();
    expect((await gw.running.governance.ledger.spend(id)).reserved).toBeGreaterThan(0n);
    controller.abort();

    const rows = await rowsOf(gw, id, 4);
    expect(rows.map((r) => r.status)).toEqual([200, 502, 200, 499]);
    expect(rows[3].usage_estimated).toBe(1);
    const spend = await settled(gw, id);
    // Settled to the disconnected call's (estimated) usage, exactly as logged; nothing stays held.
    expect(BigInt(rows[3].cost_text)).toBeGreaterThan(0n);
    expect(spend).toMatchObject({ total: loggedCost(rows), reserved: 0n });
  });

  test("the daily budget resets at the UTC day boundary", async () => {
    const { key, id } = gw.key("daily", { budgetDailyPico: 1_000_000_000, budgetTotalPico: USD }); // $0.001 a day
    handler = () => completion({ prompt_tokens: 10, completion_tokens: 1000 }); // $0.0006015
    const body = { model: "oa/gpt-4o-mini", max_tokens: 1000, messages: [{ role: "user", content: "hi" }] };
    gw.clock.now = Date.parse("2025-05-10T23:59:00Z");
    expect((await post(gw, key, body)).status).toBe(200);
    await settled(gw, id);
    const refused = await post(gw, key, body);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("60");
    expect(refused.headers.get("x-should-retry")).toBe("false"); // SDKs would retry a 429 at once otherwise
    const err = ((await refused.json()) as any).error;
    expect(err.code).toBe("budget_exceeded");
    expect(err.message).toContain("The daily budget resets at 2025-05-11T00:00:00.000Z");

    gw.clock.now = Date.parse("2025-05-11T00:00:00Z");
    expect((await gw.running.governance.ledger.spend(id)).today).toBe(0n);
    expect((await post(gw, key, body)).status).toBe(200);
    const spend = await settled(gw, id);
    expect(spend.today).toBe(10n * MINI.in + 1000n * MINI.out);
    expect(spend.total).toBe(2n * (10n * MINI.in + 1000n * MINI.out));
    gw.clock.now = Date.parse("2025-05-10T12:00:00Z");
  });

  test("an unpriced model under a key with a budget is refused by default ([governance] unpriced = \"deny\")", async () => {
    const { key, id } = gw.key("unpriced", { budgetMonthlyPico: USD });
    handler = () => completion({ prompt_tokens: 1, completion_tokens: 1 }, "house-model");
    const res = await post(gw, key, { model: "oa/house-model", messages: [{ role: "user", content: "hi" }] });
    expect(res.status).toBe(403);
    const err = ((await res.json()) as any).error;
    expect(err.code).toBe("unpriced_model");
    expect(err.message).toContain("has no known price");
    expect((await rowsOf(gw, id, 1))[0]).toMatchObject({ status: 403, error_class: "unpriced_model" });
    // A key without a budget is not affected.
    expect((await post(gw, gw.key("no-budget").key, { model: "oa/house-model", messages: [{ role: "user", content: "hi" }] })).status).toBe(200);
  });

  test("[governance] unpriced = \"allow\" lets unpriced models through a budget, uncounted", async () => {
    const other = await startGateway(TOML('\n[governance]\nunpriced = "allow"\n'));
    try {
      const { key, id } = other.key("allow", { budgetMonthlyPico: 1 });
      handler = () => completion({ prompt_tokens: 1, completion_tokens: 1 }, "house-model");
      expect((await post(other, key, { model: "oa/house-model", messages: [{ role: "user", content: "hi" }] })).status).toBe(200);
      expect(await settled(other, id)).toMatchObject({ total: 0n });
      expect((await rowsOf(other, id, 1))[0].cost_pico).toBeNull();
    } finally {
      await other.stop();
    }
  });
});

describe("rate limits", () => {
  test("RPM: the N+1th request in a minute gets 429 with Retry-After; every response carries x-ratelimit-*", async () => {
    const { key, id } = gw.key("rpm", { rpmLimit: 2 });
    handler = () => completion({ prompt_tokens: 1, completion_tokens: 1 });
    const body = { model: "oa/gpt-4o-mini", messages: [{ role: "user", content: "hi" }] };
    const a = await post(gw, key, body);
    const b = await post(gw, key, { ...body, stream: true });
    await b.text();
    const c = await post(gw, key, body);
    const headers = (r: Response) => [r.headers.get("x-ratelimit-limit-requests"), r.headers.get("x-ratelimit-remaining-requests"), r.headers.get("x-ratelimit-reset-requests")];
    expect([a.status, b.status, c.status]).toEqual([200, 200, 429]);
    expect(headers(a)).toEqual(["2", "1", "30s"]);
    expect(headers(b)).toEqual(["2", "0", "1m0s"]);
    expect(headers(c)).toEqual(["2", "0", "1m0s"]);
    expect(c.headers.get("retry-after")).toBe("30");
    expect(a.headers.get("x-ratelimit-limit-tokens")).toBeNull();
    expect(((await c.json()) as any).error).toEqual({
      message: "Rate limit reached for key 'rpm' on requests per min (RPM): Limit 2, Used 2, Requested 1. Please try again in 30s.",
      type: "requests",
      param: null,
      code: "rate_limit_exceeded",
    });
    // Refusals before admission report the state too, without taking from it.
    const bad = await post(gw, key, { model: "oa/gpt-4o-mini" });
    expect(bad.status).toBe(400);
    expect(headers(bad)).toEqual(["2", "0", "1m0s"]);

    gw.clock.now += 30_000;
    expect((await post(gw, key, body)).status).toBe(200);
    const rows = await rowsOf(gw, id, 5);
    expect(rows.map((r) => [r.status, r.error_class])).toEqual([[200, null], [200, null], [429, "rate_limit_exceeded"], [400, "invalid_request"], [200, null]]);
    gw.clock.now = Date.parse("2025-05-10T12:00:00Z");
  });

  test("TPM: estimated prompt + max output at admission, corrected to actual usage at settlement", async () => {
    const { key, id } = gw.key("tpm", { tpmLimit: 100 });
    handler = () => completion({ prompt_tokens: 6, completion_tokens: 4 });
    const body = (max: number) => ({ model: "oa/gpt-4o-mini", max_tokens: max, messages: [{ role: "user", content: "hi" }] }); // ≈8 prompt tokens
    const a = await post(gw, key, body(40));
    expect(a.status).toBe(200);
    expect(a.headers.get("x-ratelimit-remaining-tokens")).toBe("52");
    expect(a.headers.get("x-ratelimit-reset-tokens")).toBe("28.8s");
    await settled(gw, id);
    // 48 taken, 10 used: 38 back.
    const b = await post(gw, key, body(80));
    expect(b.status).toBe(200);
    expect(b.headers.get("x-ratelimit-remaining-tokens")).toBe("2");
    await settled(gw, id);
    const c = await post(gw, key, body(80));
    expect(c.status).toBe(429);
    // 80 back after b settled: 80 available, 88 wanted → 8 tokens at 100/min.
    expect(c.headers.get("retry-after")).toBe("5");
    const err = ((await c.json()) as any).error;
    expect(err).toMatchObject({ type: "tokens", code: "rate_limit_exceeded" });
    expect(err.message).toContain("on tokens per min (TPM): Limit 100, Used 20, Requested 88");
    expect(c.headers.get("x-ratelimit-remaining-tokens")).toBe("80");

    const tooLarge = await post(gw, key, body(500));
    expect(tooLarge.status).toBe(429);
    expect(tooLarge.headers.get("retry-after")).toBeNull();
    expect(((await tooLarge.json()) as any).error.message).toContain("Request too large for key 'tpm'");
  });
});

describe("key policy", () => {
  test("disabled and expired keys get 401 (logged); changes apply on the next request", async () => {
    const { key, id } = gw.key("policy");
    const body = { model: "oa/gpt-4o-mini", messages: [{ role: "user", content: "hi" }] };
    handler = () => completion({ prompt_tokens: 1, completion_tokens: 1 });
    expect((await post(gw, key, body)).status).toBe(200);

    await gw.update(id, { enabled: false });
    const disabled = await post(gw, key, body);
    expect(disabled.status).toBe(401);
    expect(((await disabled.json()) as any).error).toMatchObject({ code: "invalid_api_key", message: "The API key 'policy' is disabled. An administrator can enable it again." });
    expect((await fetch(`${gw.base}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(401);

    await gw.update(id, { enabled: true, expiresAt: Date.parse("2025-05-10T11:00:00Z") });
    const expired = await post(gw, key, body);
    expect(expired.status).toBe(401);
    expect(((await expired.json()) as any).error.message).toBe("The API key 'policy' expired at 2025-05-10T11:00:00.000Z.");

    await gw.update(id, { expiresAt: Date.parse("2025-05-10T13:00:00Z") });
    expect((await post(gw, key, body)).status).toBe(200);
    gw.clock.now = Date.parse("2025-05-10T13:00:00Z");
    expect((await post(gw, key, body)).status).toBe(401);
    gw.clock.now = Date.parse("2025-05-10T12:00:00Z");

    revokeClientKey(gw.side.db, id);
    await Bun.sleep(VERSION_CHECK_MS + 1); // the verifier sees other connections' changes within this bound
    expect((await post(gw, key, body)).status).toBe(401);

    const rows = await rowsOf(gw, id, 5);
    // Revoked keys are unknown: not logged. Disabled and expired ones are.
    expect(rows.map((r) => [r.status, r.error_class])).toEqual([[200, null], [401, "invalid_api_key"], [401, "invalid_api_key"], [200, null], [401, "invalid_api_key"]]);
  });

  test("the verifier: verify() refuses disabled and expired keys, identify() returns them with their policy", () => {
    const { key, id } = gw.key("verifier", { enabled: false, rpmLimit: 5, budgetDailyPico: 1_000_000 });
    const verifier = new ClientKeyVerifier(gw.side.db, gw.side.sqlite);
    expect(verifier.verify(key)).toBeUndefined();
    expect(verifier.identify(key)).toMatchObject({ id, name: "verifier", policy: { enabled: false, rpm: 5, budgets: { dailyPico: 1_000_000n } } });
    gw.update(id, { enabled: true, expiresAt: Date.now() - 1 });
    verifier.invalidate(); // same connection: data_version does not move
    expect(verifier.verify(key)).toBeUndefined();
    expect(verifier.verify(key, Date.now() - 10_000)?.id).toBe(id);
  });

  test("a key's store-bodies flag stores its bodies", async () => {
    const { key, id } = gw.key("bodies", { storeBodies: true });
    handler = () => completion({ prompt_tokens: 1, completion_tokens: 1 });
    const res = await post(gw, key, { model: "oa/gpt-4o-mini", messages: [{ role: "user", content: "keep me" }] });
    expect(res.status).toBe(200);
    const [row] = await rowsOf(gw, id, 1);
    const stored = query<{ request_gz: Uint8Array<ArrayBuffer> }>(gw, "SELECT request_gz FROM request_bodies WHERE id = ?", row.id);
    expect(new TextDecoder().decode(Bun.gunzipSync(stored[0]!.request_gz))).toContain("keep me");

    // Failures keep their bodies too (the request, and the error the gateway answered with)...
    expect((await post(gw, key, { model: "no-such-model", messages: [{ role: "user", content: "unknown model" }] })).status).toBe(404);
    handler = () => Response.json({ error: { message: "boom", type: "server_error" } }, { status: 500 });
    expect((await post(gw, key, { model: "oa/gpt-4o-mini", messages: [{ role: "user", content: "upstream fails" }] })).status).toBe(502);
    // ...and a stream's stored reply is the caller's API's whole reply, not the gateway's internals.
    handler = () =>
      new Response(chunk({ role: "assistant", content: "forty-two" }) + chunk({}, { choices: [{ index: 0, delta: {}, finish_reason: "stop" }] }) + chunk({}, { choices: [], usage: { prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 } }) + "data: [DONE]\n\n", {
        headers: { "content-type": "text/event-stream" },
      });
    await (await post(gw, key, { model: "oa/gpt-4o-mini", stream: true, messages: [{ role: "user", content: "stream me" }] })).text();
    const rows = await rowsOf(gw, id, 4);
    const bodies = (rowId: string) => {
      const [b] = query<{ request_gz: Uint8Array<ArrayBuffer>; response_gz: Uint8Array<ArrayBuffer> | null }>(gw, "SELECT request_gz, response_gz FROM request_bodies WHERE id = ?", rowId);
      const text = (gz: Uint8Array<ArrayBuffer> | null | undefined) => (gz ? JSON.parse(new TextDecoder().decode(Bun.gunzipSync(gz))) : null);
      return { request: text(b?.request_gz), response: text(b?.response_gz) };
    };
    const [, unknown, failed, streamed] = rows;
    expect([unknown.status, failed.status, streamed.status]).toEqual([404, 502, 200]);
    expect(bodies(unknown.id)).toMatchObject({ request: { model: "no-such-model" }, response: { error: { code: "model_not_found" } } });
    expect(bodies(failed.id)).toMatchObject({ request: { messages: [{ content: "upstream fails" }] }, response: { error: { type: "upstream_error" } } });
    expect(bodies(streamed.id).response).toMatchObject({ object: "chat.completion", choices: [{ message: { role: "assistant", content: "forty-two" }, finish_reason: "stop" }] });
  });

  test("models outside the allowlist get 403 model_not_allowed; a bare name allows provider/model; /v1/models lists only allowed ones", async () => {
    const { key, id } = gw.key("allow-list", { allowedModels: JSON.stringify(["gpt-4o-mini"]) });
    handler = () => completion({ prompt_tokens: 1, completion_tokens: 1 });
    const ask = (model: string) => post(gw, key, { model, messages: [{ role: "user", content: "hi" }] });
    expect((await ask("oa/gpt-4o-mini")).status).toBe(200);
    expect((await ask("gpt-4o-mini")).status).toBe(200);
    expect((await ask("smart")).status).toBe(200); // its only target is gpt-4o-mini
    const refused = await ask("oa/gpt-4o");
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as any).error).toEqual({
      message: "The API key 'allow-list' is not allowed to use the model 'oa/gpt-4o'.",
      type: "invalid_request_error",
      param: "model",
      code: "model_not_allowed",
    });
    const listed = (await (await fetch(`${gw.base}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).json()) as any;
    expect(listed.data.map((m: any) => m.id)).toEqual(["smart", "oa/gpt-4o-mini"]);
    expect((await fetch(`${gw.base}/v1/models/oa/gpt-4o`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(404);

    await gw.update(id, { allowedModels: JSON.stringify(["oa/*"]) });
    expect((await ask("oa/gpt-4o")).status).toBe(200);
    const rows = await rowsOf(gw, id, 5);
    expect(rows[3]).toMatchObject({ status: 403, error_class: "model_not_allowed", requested_model: "oa/gpt-4o" });
  });
});
