/** The request log through the real request path: one row per authenticated request, whatever happens. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import fs from "node:fs";
import path from "node:path";
import { runCli, startCliServer } from "../testing/cli-process.ts";
import { startGateway, streamFirstChunk } from "../testing/gateway-harness.ts";
import { sendThenHang, startMockUpstream, type UpstreamHandler } from "../testing/mock-upstream.ts";
import { tempDir } from "../testing/temp.ts";
import { requestsTable } from "../testing/request-rows.ts";

const completion = (text: string) =>
  Response.json({
    id: "chatcmpl-up",
    object: "chat.completion",
    created: 1,
    model: "gpt-4o-2024-08-06",
    choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
    usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15, prompt_tokens_details: { cached_tokens: 4 } },
  });
const chunk = (content: string) => `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", created: 1, model: "gpt-4o", choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;

let handler: UpstreamHandler = () => completion("hi");
const upstream = startMockUpstream((r, q) => handler(r, q));
let gw: Awaited<ReturnType<typeof startGateway>>;
const TOML = () => `[[providers]]\nid = "oa"\ntype = "openai"\nbase_url = "${upstream.url}/v1"\napi_key = "sk-log-test"\n\n[request_log]\nflush_interval_ms = 20\n`;

beforeAll(async () => {
  gw = await startGateway(TOML());
});
afterAll(async () => {
  await gw.stop();
  upstream.stop();
});

async function rows(): Promise<any[]> {
  await Bun.sleep(250); // well over the 20 ms flush interval, even on a loaded machine
  const db = new Database(path.join(gw.dir, "llm-proxy.db"), { readonly: true });
  const out = requestsTable(db).query("SELECT * FROM requests ORDER BY id").all();
  db.close();
  return out;
}
const post = (body: unknown, key = gw.key) =>
  fetch(`${gw.base}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", "user-agent": "log-test/1.0" },
    body: JSON.stringify(body),
  });

describe("request log rows", () => {
  test("a successful request records tokens, provider, upstream model, attempts, latency and client facts", async () => {
    handler = () => completion("hello");
    const res = await post({ model: "oa/gpt-4o", messages: [{ role: "user", content: "hi" }] });
    expect(res.status).toBe(200);
    const id = res.headers.get("x-request-id");
    const row = (await rows()).find((r) => r.id === id);
    expect(row).toMatchObject({
      status: 200,
      endpoint: "chat.completions",
      requested_model: "oa/gpt-4o",
      provider: "oa",
      provider_type: "openai",
      upstream_model: "gpt-4o",
      response_model: "gpt-4o-2024-08-06",
      client_key_id: gw.keyId,
      input_tokens: 12,
      cached_tokens: 4,
      output_tokens: 3,
      stream: 0,
      usage_estimated: 0,
      client_ip: "127.0.0.1",
      user_agent: "log-test/1.0",
    });
    expect(JSON.parse(row.attempts)).toMatchObject([{ target: "oa/gpt-4o", ok: true }]);
    expect(JSON.parse(row.usage_raw).prompt_tokens).toBe(12);
    expect(row.ttfb_ms).toBeGreaterThanOrEqual(0);
    expect(row.latency_ms).toBeGreaterThanOrEqual(row.ttfb_ms);
  });

  test("client errors after authentication are logged; unauthenticated requests are not", async () => {
    const before = (await rows()).length;
    const bad = await post({ model: "oa/gpt-4o" });
    const unknown = await post({ model: "nope", messages: [{ role: "user", content: "x" }] });
    const unauthenticated = await post({ model: "oa/gpt-4o", messages: [] }, "llmp_wrong");
    expect([bad.status, unknown.status, unauthenticated.status]).toEqual([400, 404, 401]);
    const after = await rows();
    expect(after.length).toBe(before + 2);
    expect(after.slice(-2).map((r) => r.status)).toEqual([400, 404]);
    // Error replies name their row too; an unauthenticated request has none.
    expect([bad.headers.get("x-request-id"), unknown.headers.get("x-request-id")]).toEqual(after.slice(-2).map((r) => r.id));
    expect(unauthenticated.headers.get("x-request-id")).toBeNull();
    expect(after.at(-1).error_class).toBe("invalid_request");
  });

  test("upstream failures record the error class and every attempt", async () => {
    handler = () => Response.json({ error: { message: "bad key sk-log-test", type: "invalid_request_error", code: "invalid_api_key" } }, { status: 401 });
    const res = await post({ model: "oa/gpt-4o", messages: [{ role: "user", content: "hi" }] });
    expect(res.status).toBe(502);
    const row = (await rows()).at(-1);
    expect(row.status).toBe(502);
    expect(res.headers.get("x-request-id")).toBe(row.id);
    expect(row.error_class).toBe("authentication");
    expect([row.provider, row.provider_type, row.upstream_model]).toEqual(["oa", "openai", "gpt-4o"]); // grouped like a success
    expect(row.error_message).not.toContain("sk-log-test");
    expect(JSON.parse(row.attempts)[0]).toMatchObject({ ok: false, status: 401, errorClass: "authentication" });
  });

  test("a stream whose upstream fails mid-way: the row's status and its attempt both say so", async () => {
    handler = () =>
      new Response(`${chunk("partial ")}data: {"error":{"message":"The server had an error","type":"server_error"}}\n\n`, {
        headers: { "content-type": "text/event-stream" },
      });
    const res = await post({ model: "oa/gpt-4o", stream: true, messages: [{ role: "user", content: "hi" }] });
    const id = res.headers.get("x-request-id");
    await res.text();
    const row = (await rows()).find((r) => r.id === id);
    expect(row.status).toBeGreaterThanOrEqual(500);
    expect(JSON.parse(row.attempts)).toEqual([expect.objectContaining({ target: "oa/gpt-4o", ok: false, errorClass: row.error_class })]);
  });

  test("a client that disconnects mid-stream still yields a row (499) with estimated usage", async () => {
    handler = () => sendThenHang(chunk("The answer is forty-two, "));
    const { id, leave } = await streamFirstChunk(gw.base, gw.key, { model: "oa/gpt-4o", messages: [{ role: "user", content: "What is the answer?" }] });
    leave();
    await Bun.sleep(100);
    const row = (await rows()).find((r) => r.id === id);
    expect(row.status).toBe(499);
    expect(row.error_class).toBe("client_disconnected");
    expect(row.stream).toBe(1);
    expect(row.usage_estimated).toBe(1);
    expect(row.output_tokens).toBe(Math.ceil("The answer is forty-two, ".length / 4));
    expect(row.input_tokens).toBeGreaterThan(0);
  });

  test("a client that leaves while a JSON call is in flight: the row names the provider and the call, priced from the estimated prompt", async () => {
    let started!: () => void;
    const upstreamStarted = new Promise<void>((r) => (started = r));
    handler = async () => {
      started();
      await Bun.sleep(400);
      return completion("too late");
    };
    const controller = new AbortController();
    const sent = fetch(`${gw.base}/v1/chat/completions`, {
      method: "POST",
      signal: controller.signal,
      headers: { authorization: `Bearer ${gw.key}`, "content-type": "application/json", "user-agent": "leaver/1.0" },
      body: JSON.stringify({ model: "oa/gpt-4o", messages: [{ role: "user", content: "A question that takes a while to answer" }] }),
    }).catch(() => undefined);
    await upstreamStarted;
    controller.abort();
    await sent;
    await Bun.sleep(500); // the upstream call ends (aborted) and the row is recorded
    const row = (await rows()).filter((r) => r.user_agent === "leaver/1.0").at(-1);
    expect(row).toMatchObject({ status: 499, error_class: "client_disconnected", stream: 0, provider: "oa", provider_type: "openai", upstream_model: "gpt-4o", usage_estimated: 1 });
    expect(JSON.parse(row.attempts)).toEqual([expect.objectContaining({ target: "oa/gpt-4o", ok: false, errorClass: "cancelled" })]);
    expect(row.input_tokens).toBeGreaterThan(0);
    expect(row.cost_pico).toBeGreaterThan(0);
    const health = await (await fetch(`${gw.base}/healthz`)).text();
    expect(health).not.toContain("client_disconnected");
  });

  test("`llm-proxy requests --json` lists rows from the terminal while the server runs", async () => {
    const r = await runCli(["requests", "--json", "--limit", "3", "--since", "1h", "--data-dir", gw.dir]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.length).toBe(3);
    for (const key of ["id", "status", "model", "provider", "upstream_model", "input_tokens", "cached_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens", "cost_usd", "priced", "pricing_match"]) {
      expect(Object.hasOwn(lines[0], key)).toBe(true);
    }
    expect(lines[0].id > lines[1].id).toBe(true);
    const table = await runCli(["requests", "--data-dir", gw.dir]);
    expect(table.stdout).toContain("STATUS");
    expect(table.stdout).toContain("oa/gpt-4o");
    expect((await runCli(["requests", "--since", "yesterday-ish", "--data-dir", gw.dir])).code).toBe(2);
  });

  test("`requests`: --project filters, the project is in --json; wrong flags and values are usage errors", async () => {
    handler = () => completion("hi");
    const tagged = await fetch(`${gw.base}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${gw.key}`, "content-type": "application/json", "x-llm-proxy-project": "apollo" },
      body: JSON.stringify({ model: "oa/gpt-4o", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(tagged.status).toBe(200);
    await rows();
    const r = await runCli(["requests", "--json", "--project", "apollo", "--data-dir", gw.dir]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.id, l.project])).toEqual([[tagged.headers.get("x-request-id"), "apollo"]]);
    const table = await runCli(["requests", "--project", "apollo", "--data-dir", gw.dir]);
    expect(table.stdout).toContain("PROJECT");
    expect((await runCli(["requests", "--project", "nobody", "--data-dir", gw.dir])).stdout).toBe("no requests logged for project 'nobody'\n");
    const cases: Array<[string[], string]> = [
      [["requests", "--limit", "-1"], "--limit: '-1' is not a valid value"],
      [["requests", "--since", "5"], "--since: '5' is neither a duration"],
      [["costs", "recompute", "--since", "1h", "--limit", "5"], "--limit does not apply to 'costs recompute'"],
      [["costs", "recompute", "--since", "1h", "--json"], "--json does not apply to 'costs recompute'"],
      [["keys", "create", "--name", "x", "--since", "1h"], "--since does not apply to 'keys create'"],
    ];
    for (const [args, message] of cases) {
      const out = await runCli([...args, "--data-dir", gw.dir]);
      expect([out.code, out.stderr.includes(message)]).toEqual([2, true]);
    }
  });
});

test("shutdown under load loses no row: N concurrent requests, SIGTERM, N rows", async () => {
  const N = 40;
  let seen = 0;
  const slow = startMockUpstream(async () => {
    seen++;
    await Bun.sleep(400);
    return completion("slow");
  });
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, "llm-proxy.toml"), `[[providers]]\nid = "oa"\ntype = "openai"\nbase_url = "${slow.url}/v1"\napi_key = "sk-x"\n`);
  const key = (await runCli(["keys", "create", "--name", "load", "--data-dir", dir])).stdout.trim().split("\n").at(-1)!;
  const server = await startCliServer({ args: ["--data-dir", dir], env: { LLM_PROXY_ENCRYPTION_KEY: "ef".repeat(32) } });
  try {
    const responses = Array.from({ length: N }, () =>
      fetch(`${server.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "oa/gpt-4o", messages: [{ role: "user", content: "hi" }] }),
      }).then((r) => r.status),
    );
    for (let i = 0; i < 100 && seen < N; i++) await Bun.sleep(10);
    expect(seen).toBe(N);
    server.proc.kill("SIGTERM");
    expect(await server.proc.exited).toBe(0);
    expect((await Promise.all(responses)).every((s) => s === 200)).toBe(true);
  } finally {
    slow.stop();
    if (server.proc.exitCode === null) server.proc.kill("SIGKILL");
  }
  const db = new Database(path.join(dir, "llm-proxy.db"), { readonly: true });
  expect(requestsTable(db).query("SELECT count(*) AS n FROM requests WHERE status = 200").get()).toEqual({ n: N });
  db.close();
});

test("requests cut off when the shutdown grace period ends are logged as server_shutdown (503), not as clients that left", async () => {
  let calls = 0;
  const hanging = startMockUpstream(async (req) => {
    calls++;
    if (!req.body.stream) return new Promise<Response>(() => {}); // never answers
    return sendThenHang(chunk("Still thinking about "));
  });
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, "llm-proxy.toml"), `[[providers]]\nid = "oa"\ntype = "openai"\nbase_url = "${hanging.url}/v1"\napi_key = "sk-x"\n`);
  const key = (await runCli(["keys", "create", "--name", "cut", "--data-dir", dir])).stdout.trim().split("\n").at(-1)!;
  const server = await startCliServer({ args: ["--data-dir", dir], env: { LLM_PROXY_ENCRYPTION_KEY: "ef".repeat(32), LLM_PROXY_SHUTDOWN_GRACE_MS: "300" } });
  try {
    const send = (stream: boolean) =>
      fetch(`${server.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "oa/gpt-4o", stream, messages: [{ role: "user", content: "a long question" }] }),
      });
    const streamed = await send(true);
    await streamed.body!.getReader().read(); // the first chunk arrived: the stream is under way
    const waiting = send(false).catch(() => undefined);
    for (let i = 0; i < 100 && calls < 2; i++) await Bun.sleep(10);
    server.proc.kill("SIGTERM");
    expect(await server.proc.exited).toBe(0);
    await waiting;
  } finally {
    hanging.stop();
    if (server.proc.exitCode === null) server.proc.kill("SIGKILL");
  }
  const db = new Database(path.join(dir, "llm-proxy.db"), { readonly: true });
  const logged = requestsTable(db).query("SELECT status, error_class, stream, usage_estimated, provider, cost_pico > 0 AS priced FROM requests ORDER BY stream").all();
  db.close();
  // Priced from the estimate like a client disconnect: the provider billed what it streamed.
  expect(logged).toEqual([
    { status: 503, error_class: "server_shutdown", stream: 0, usage_estimated: 1, provider: "oa", priced: 1 },
    { status: 503, error_class: "server_shutdown", stream: 1, usage_estimated: 1, provider: "oa", priced: 1 },
  ]);
});

test("unpriced models are explicit; `costs recompute` prices them after an override is added, rollups included", async () => {
  const local = startMockUpstream(() =>
    Response.json({
      id: "x",
      object: "chat.completion",
      created: 1,
      model: "house-model-7b",
      choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }],
      usage: { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500 },
    }),
  );
  const dir = tempDir();
  const file = path.join(dir, "llm-proxy.toml");
  const base = `[[providers]]\nid = "house"\ntype = "openai-compatible"\nbase_url = "${local.url}/v1"\nmodels = ["house-model-7b"]\n`;
  fs.writeFileSync(file, base);
  const key = (await runCli(["keys", "create", "--name", "p", "--data-dir", dir])).stdout.trim().split("\n").at(-1)!;
  const server = await startCliServer({ args: ["--data-dir", dir], env: { LLM_PROXY_ENCRYPTION_KEY: "ef".repeat(32) } });
  try {
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${server.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "house/house-model-7b", messages: [{ role: "user", content: "hi" }] }),
      });
      expect(r.status).toBe(200);
    }
    await Bun.sleep(400);
    const before = JSON.parse((await runCli(["requests", "--json", "--limit", "1", "--data-dir", dir])).stdout.trim());
    expect(before).toMatchObject({ priced: false, cost_usd: null, input_tokens: 1000, output_tokens: 500 });

    fs.writeFileSync(file, base + `\n[pricing.overrides]\n"house-model-7b" = { input = 0.5, output = 1.5 }\n`);
    const r = await runCli(["costs", "recompute", "--since", "1h", "--data-dir", dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("re-priced 3 (3 newly priced)");
    const after = JSON.parse((await runCli(["requests", "--json", "--limit", "1", "--data-dir", dir])).stdout.trim());
    // 1000 × $0.5/M + 500 × $1.5/M = $0.00125
    expect(after).toMatchObject({ priced: true, cost_usd: 0.00125 });
    expect(after.pricing_match.rule).toBe("override");
    const db = new Database(path.join(dir, "llm-proxy.db"), { readonly: true });
    for (const table of ["rollup_minute", "rollup_hour"]) {
      expect(db.query(`SELECT sum(cost_pico) AS c, sum(unpriced) AS u FROM ${table}`).get()).toEqual({ c: 3 * 1_250_000_000, u: 0 });
    }
    db.close();
  } finally {
    server.proc.kill("SIGTERM");
    await server.proc.exited;
    local.stop();
  }
});

test("a max_tokens above the model's known output limit is clamped to it", async () => {
  handler = () => completion("short");
  const r = await post({ model: "oa/gpt-4o", max_tokens: 128_000, messages: [{ role: "user", content: "hi" }] });
  expect(r.status).toBe(200);
  expect(upstream.requests.at(-1)!.body.max_completion_tokens).toBe(16_384); // models.dev limit.output of gpt-4o
  await post({ model: "oa/gpt-4o", max_tokens: 50, messages: [{ role: "user", content: "hi" }] });
  expect(upstream.requests.at(-1)!.body.max_completion_tokens).toBe(50); // never raised
});
