/** The dashboard's data endpoints, the live WebSocket and /metrics, over real HTTP on loopback. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { adminSession, startGateway } from "../testing/gateway-harness.ts";
import { startMockUpstream } from "../testing/mock-upstream.ts";

const upstream = startMockUpstream((r) =>
  Response.json({
    id: "x",
    object: "chat.completion",
    created: 1,
    model: r.body.model,
    choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }],
    usage: { prompt_tokens: 1000, completion_tokens: 200, total_tokens: 1200 },
  }),
);
let gw: Awaited<ReturnType<typeof startGateway>>;
let api: Awaited<ReturnType<typeof adminSession>>;

beforeAll(async () => {
  gw = await startGateway(`[[providers]]\nid = "oa"\ntype = "openai"\nbase_url = "${upstream.url}/v1"\napi_key = "sk-dash-test"\n`, {}, { api: { bcryptCost: 4 } });
  api = await adminSession(gw);
});
afterAll(async () => {
  await gw.stop();
  upstream.stop();
});

const ask = (model: string) => gw.client.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }] });

describe("dashboard API", () => {
  test("a managed provider with a sealed key serves traffic at once; keys never come back", async () => {
    const created = await api("/api/providers", { method: "POST", body: JSON.stringify({ id: "house", type: "openai-compatible", base_url: `${upstream.url}/v1`, api_keys: ["sk-house-SECRET-42"], models: ["house-7b"], headers: { "api-key": "AZURE-HEADER-SECRET-123456", "x-tier": "gold" } }) });
    expect(created.status).toBe(200);
    expect(await created.json()).toMatchObject({ id: "house", api_keys: [{ last4: "T-42" }], headers: { "api-key": "…3456", "x-tier": "…" }, read_only: false });
    expect((await ask("house/house-7b")).choices[0]!.message.content).toBe("hi");
    expect(upstream.requests.at(-1)!.headers.get("authorization")).toBe("Bearer sk-house-SECRET-42");
    expect(upstream.requests.at(-1)!.headers.get("api-key")).toBe("AZURE-HEADER-SECRET-123456"); // sent whole, shown masked
    const list = await (await api("/api/providers")).json();
    expect(list.data.map((p: any) => p.id)).toEqual(["oa", "house"]);
    expect(JSON.stringify(list)).not.toContain("SECRET");
    expect(list.data[0]).toMatchObject({ read_only: true, health: { provider: "oa" } });
    const test = await (await api("/api/providers/house/test", { method: "POST", body: "{}" })).json();
    expect(test).toMatchObject({ ok: true, model: "house-7b" });
    expect((await api("/api/providers/oa", { method: "DELETE" })).status).toBe(409);
  });

  test("price override for an unpriced model, recompute, overview and request detail", async () => {
    await ask("house/house-7b");
    await Bun.sleep(350);
    const pricing = await (await api("/api/pricing")).json();
    expect(pricing.unpriced.some((u: any) => u.model === "house-7b")).toBe(true);
    expect(pricing.source).toMatchObject({ models: expect.any(Number) });
    const put = await api("/api/pricing/overrides/house-7b", { method: "PUT", body: JSON.stringify({ input: 1, output: 2 }) });
    expect(put.status).toBe(200);
    const recompute = await (await api("/api/pricing/recompute", { method: "POST", body: JSON.stringify({ since: "1h" }) })).json();
    expect(recompute.newly_priced).toBe(2);
    expect(recompute.delta_usd).toBeCloseTo(2 * (1000 * 1 + 200 * 2) / 1e6, 12);
    await ask("house/house-7b"); // priced from now on
    await Bun.sleep(350);

    const overview = await (await api("/api/overview?range=1h")).json();
    expect(overview.totals.requests).toBe(3);
    expect(overview.totals.cost_usd).toBeCloseTo(3 * 0.0014, 12);
    // The re-price reached the keys' spend at once (not at the next restart).
    const keys = await (await api("/api/keys")).json();
    expect(keys.data.reduce((a: number, k: any) => a + (k.spend_usd?.total ?? 0), 0)).toBeCloseTo(3 * 0.0014, 12);
    expect(overview.by_model.map((m: any) => m.group).sort()).toEqual(["house-7b"]);
    expect(overview.series.points.reduce((a: number, p: any) => a + p.requests, 0)).toBe(3);
    expect((await api("/api/overview?range=2y")).status).toBe(400);

    const requests = await (await api("/api/requests?limit=2")).json();
    expect(requests.data.length).toBe(2);
    expect(requests.next_cursor).toBeTruthy();
    const detail = await (await api(`/api/requests/${requests.data[0].id}`)).json();
    expect(detail.request).toMatchObject({ pricing_entry: "override:house-7b", pricing_rule: "override", input_tokens: 1000 });
    expect(detail.request.cost_breakdown.unit).toBe("pico-usd");
    expect(detail.request.attempts[0]).toMatchObject({ target: "house/house-7b", ok: true });
    expect((await api("/api/requests/req_nope")).status).toBe(404);
  });

  test("projects: the overview breaks cost down by project and the request list filters by it; a bad since is a 400", async () => {
    const tagged = await gw.client.chat.completions.create({ model: "house/house-7b", messages: [{ role: "user", content: "hi" }] }, { headers: { "x-llm-proxy-project": "apollo" } }).withResponse();
    await Bun.sleep(350);
    const overview = await (await api("/api/overview?range=1h")).json();
    const apollo = overview.by_project.find((p: any) => p.group === "apollo");
    expect(apollo).toMatchObject({ requests: 1, cost_usd: expect.any(Number) });
    expect(overview.by_project.reduce((a: number, p: any) => a + p.requests, 0)).toBe(overview.totals.requests);
    const list = await (await api("/api/requests?project=apollo")).json();
    expect(list.data.map((r: any) => [r.id, r.project])).toEqual([[tagged.response.headers.get("x-request-id"), "apollo"]]);
    expect((await api("/api/requests?status=bogus")).status).toBe(400);
    for (const path of ["/api/requests?since=5", "/api/requests?since=yesterday"]) {
      const bad = await api(path);
      expect(bad.status).toBe(400);
      expect((await bad.json()).error).toMatchObject({ param: "since", message: expect.stringMatching(/^since: /) });
    }
    const recompute = await api("/api/pricing/recompute", { method: "POST", body: JSON.stringify({ since: "yesterday" }) });
    expect(recompute.status).toBe(400);
    expect((await recompute.json()).error.message).not.toContain("--since");
  });

  test("client keys: created once, limits set, spend shown, revoked", async () => {
    const created = await (await api("/api/keys", { method: "POST", body: JSON.stringify({ name: "dash", budget_daily_usd: 5, rpm_limit: 100 }) })).json();
    expect(created.key).toMatch(/^llmp_/);
    const list = await (await api("/api/keys")).json();
    expect(JSON.stringify(list)).not.toContain(created.key);
    const mine = list.data.find((k: any) => k.id === created.id);
    expect(mine).toMatchObject({ budget_daily_usd: 5, rpm_limit: 100, spend_usd: { today: 0 } });
    const v1 = (key: string) => fetch(`${gw.base}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    expect((await v1(created.key)).status).toBe(200);
    await api(`/api/keys/${created.id}`, { method: "PATCH", body: JSON.stringify({ enabled: false }) });
    expect((await v1(created.key)).status).toBe(401);
    await api(`/api/keys/${created.id}/revoke`, { method: "POST" });
    expect((await (await api(`/api/keys`)).json()).data.find((k: any) => k.id === created.id).revoked_at).toBeTruthy();
    const audit = await (await api("/api/audit?limit=50")).json();
    expect(audit.data.map((a: any) => a.action)).toEqual(expect.arrayContaining(["provider.create", "key.create", "key.update", "key.revoke", "pricing.override.set"]));
  });

  test("the live WebSocket needs a session, then streams finished requests", async () => {
    const refused = await new Promise<string>((resolve) => {
      const ws = new WebSocket(gw.base.replace("http", "ws") + "/api/live");
      ws.onopen = () => resolve("open");
      ws.onerror = () => resolve("refused");
    });
    expect(refused).toBe("refused");

    const ws = new WebSocket(gw.base.replace("http", "ws") + "/api/live?topics=requests", { headers: { cookie: api.cookie } } as never);
    const messages: any[] = [];
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error("websocket refused"));
    });
    ws.onmessage = (m) => messages.push(JSON.parse(String(m.data)));
    await ask("house/house-7b");
    for (let i = 0; i < 100 && !messages.some((m) => m.data.type === "finished"); i++) await Bun.sleep(20);
    ws.close();
    expect(messages.some((m) => m.topic === "requests" && m.data.type === "started")).toBe(true);
    const finished = messages.find((m) => m.data.type === "finished");
    expect(finished.data.requests[0]).toMatchObject({ model: "house/house-7b", provider: "house", status: 200, input_tokens: 1000 });
  });

  test("/metrics answers loopback scrapers in Prometheus format", async () => {
    const text = await (await fetch(`${gw.base}/metrics`)).text();
    expect(text).toContain("# TYPE llm_proxy_requests_total counter");
    expect(text).toMatch(/llm_proxy_requests_total\{provider="house",model="house-7b",status="200"\} [1-9]/);
    expect(text).toContain("llm_proxy_log_queue_depth");
    expect(text).toContain('llm_proxy_provider_up{provider="house"} 1');
  });

  test("the managed provider's key is in no API response, log line or database page", async () => {
    const { Database } = await import("bun:sqlite");
    const fs = await import("node:fs");
    const path = await import("node:path");
    const everything = await Promise.all(
      ["/api/providers", "/api/requests?limit=100", "/api/audit?limit=100", "/api/overview?range=1h", "/api/system", "/api/pricing", "/api/keys"].map(async (p) => (await api(p)).text()),
    );
    for (const body of everything) expect(body).not.toContain("sk-house-SECRET-42");
    expect(gw.lines.join("\n")).not.toContain("sk-house-SECRET-42");
    const db = new Database(path.join(gw.dir, "llm-proxy.db"));
    db.run("PRAGMA wal_checkpoint(TRUNCATE)");
    db.close();
    for (const f of fs.readdirSync(gw.dir).filter((f) => f.startsWith("llm-proxy.db"))) {
      expect(fs.readFileSync(path.join(gw.dir, f)).includes(Buffer.from("sk-house-SECRET-42"))).toBe(false);
    }
  });

  test("/api/system reports host, process and gauges", async () => {
    const sys = await (await api("/api/system")).json();
    expect(sys.process.rss).toBeGreaterThan(0);
    expect(sys.gauges.some((g: any) => g.name === "llm_proxy_in_flight_requests")).toBe(true);
    expect(sys.host.memory?.total ?? 1).toBeGreaterThan(0);
  });
});

describe("with the request log off", () => {
  test("nothing is stored, but /metrics, provider health and the in-flight count still follow traffic", async () => {
    const off = await startGateway(`[[providers]]\nid = "oa"\ntype = "openai"\nbase_url = "${upstream.url}/v1"\napi_key = "sk-dash-test"\n\n[request_log]\nenabled = false\n`);
    try {
      const reply = await off.client.chat.completions.create({ model: "oa/gpt-4o", messages: [{ role: "user", content: "hi" }] });
      expect(reply.choices[0]!.message.content).toBe("hi");
      const text = await (await fetch(`${off.base}/metrics`)).text();
      expect(text).toMatch(/llm_proxy_requests_total\{provider="oa",model="gpt-4o",status="200"\} 1\n/);
      expect(text).toMatch(/llm_proxy_tokens_total\{provider="oa",model="gpt-4o",kind="input"\} 1000\n/);
      expect(text).toMatch(/llm_proxy_request_duration_seconds_count\{provider="oa"\} 1\n/);
      expect(text).toContain('llm_proxy_provider_up{provider="oa"} 1');
      expect(text).toMatch(/llm_proxy_in_flight_requests 0\n/);
      expect(off.running.recorder.stats).toMatchObject({ recorded: 1, written: 0 });
      expect(off.running.recorder.queued).toBe(0);
      const count = off.running.db.sqlite.query("SELECT count(*) AS n FROM request_chunks").get() as { n: number };
      expect(count.n).toBe(0);
    } finally {
      await off.stop();
    }
  });
});
