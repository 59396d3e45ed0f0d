/**
 * Every openai, deepseek and xai fixture through the real HTTP path: a mock upstream on 127.0.0.1
 * replays the recorded response, the gateway runs, the official `openai` SDK is the client.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import OpenAI from "openai";
import path from "node:path";
import { listFixtures, loadFixture, type Fixture } from "../testing/fixtures.ts";
import { startGateway } from "../testing/gateway-harness.ts";
import { chunkedResponse, splitBytes, startMockUpstream } from "../testing/mock-upstream.ts";
import { requestsTable } from "../testing/request-rows.ts";

const PROVIDERS = [
  { fixtureDir: "openai", id: "openai", type: "openai", basePath: "/v1" },
  { fixtureDir: "deepseek", id: "deepseek", type: "deepseek", basePath: "" },
  { fixtureDir: "xai", id: "xai", type: "grok", basePath: "/v1" },
];

let current: { fixture: Fixture; split: number } | undefined;
const upstream = startMockUpstream(() => {
  const { fixture, split } = current!;
  return chunkedResponse(split ? splitBytes(fixture.rawBody, split) : [fixture.rawBody], {
    status: fixture.response.status,
    headers: fixture.response.headers,
  });
});
let gw: Awaited<ReturnType<typeof startGateway>>;

beforeAll(async () => {
  const toml = PROVIDERS.map(
    (p) => `[[providers]]\nid = "${p.id}"\ntype = "${p.type}"\nbase_url = "${upstream.url}${p.basePath}"\napi_key = "sk-fixture-${p.id}-secret"\n`,
  ).join("\n");
  gw = await startGateway(toml + "\n[gateway]\nmax_retries = 0\n");
});
afterAll(async () => {
  await gw.stop();
  upstream.stop();
});

/** The body a client sends: the fixture's gateway_request, else its upstream body with the model prefixed. */
function clientBody(fixture: Fixture, providerId: string): Record<string, any> {
  const body = structuredClone(fixture.gateway_request ?? fixture.upstream_request.body) as Record<string, any>;
  body.model = `${providerId}/${body.model}`;
  return body;
}

function checkUpstreamRequest(fixture: Fixture, basePath: string) {
  const sent = upstream.requests.at(-1)!;
  expect(sent.method).toBe("POST");
  expect(basePath + new URL(fixture.upstream_request.url).pathname.replace(/^\/v1/, "")).toBe(sent.path);
  expect(sent.body).toEqual(fixture.upstream_request.body);
  expect(sent.headers.get("authorization")).toMatch(/^Bearer sk-fixture-/);
}

function checkUsage(usage: any, expected: any) {
  if (!expected) return;
  expect(usage.prompt_tokens).toBe(expected.prompt_tokens);
  expect(usage.completion_tokens).toBe(expected.completion_tokens);
  expect(usage.total_tokens).toBe(expected.total_tokens);
  if (expected.cached_tokens !== undefined) expect(usage.prompt_tokens_details?.cached_tokens ?? 0).toBe(expected.cached_tokens);
  if (expected.reasoning_tokens !== undefined) expect(usage.completion_tokens_details?.reasoning_tokens ?? 0).toBe(expected.reasoning_tokens);
}

function checkToolCalls(calls: any[] | undefined, expected: any[] | undefined) {
  if (!expected) return;
  expect(calls?.length).toBe(expected.length);
  expected.forEach((e, i) => {
    const c = calls![i];
    if (e.id && e.id !== "<synthesized>") expect(c.id).toBe(e.id);
    expect(c.function.name).toBe(e.function?.name ?? e.name);
    const args = e.function?.arguments ?? e.arguments;
    expect(JSON.parse(c.function.arguments)).toEqual(typeof args === "string" ? JSON.parse(args) : args);
  });
}

/** The request-log row of a fixture request carries the fixture's price match and exact cost. */
async function checkLoggedCost(requestId: string, providerId: string, e: Record<string, any>) {
  let row: any;
  for (let i = 0; i < 50 && !row; i++) {
    await Bun.sleep(60);
    const db = new Database(path.join(gw.dir, "llm-proxy.db"), { readonly: true });
    row = requestsTable(db).query("SELECT provider, pricing_entry, pricing_rule, CAST(cost_pico AS TEXT) AS cost FROM requests WHERE id = ?").get(requestId);
    db.close();
  }
  expect(row.provider).toBe(providerId);
  if (e.pricing_model_id) expect(row.pricing_entry.split("/").slice(1).join("/")).toBe(e.pricing_model_id);
  // Fixture costs are given to at most 9 decimals; the log keeps exact pico-dollars.
  if (e.cost_usd !== undefined) expect(Number(row.cost) / 1e12).toBeCloseTo(e.cost_usd, 12);
}

for (const p of PROVIDERS) {
  describe(`${p.fixtureDir} fixtures through the gateway`, () => {
    for (const name of listFixtures(p.fixtureDir)) {
      const fixture = loadFixture(p.fixtureDir, name);
      const isStream = !!fixture.response.body_file;
      const isError = fixture.response.status >= 400;
      const splits = isStream ? [0, 1, 7] : [0];
      for (const split of splits) {
        test(`${name}${split ? ` (upstream body in ${split}-byte pieces)` : ""}`, async () => {
          current = { fixture, split };
          const body = clientBody(fixture, p.id);
          const e = fixture.expect ?? {};
          if (isError) {
            const err = await gw.client.chat.completions.create(body as any).then(
              () => undefined,
              (x) => x,
            );
            expect(err).toBeInstanceOf(OpenAI.APIError);
            expect(err.status).toBeGreaterThanOrEqual(400);
            expect(err.error?.message ?? err.message).toBeTruthy();
            expect(JSON.stringify(err.error)).not.toContain("sk-fixture");
            // Client-fixable problems keep a 4xx; account problems are the gateway's upstream's (502).
            if (["context_length", "bad_request"].includes(e.error_class)) expect(err.status).toBe(400);
            if (e.error_class === "model_not_found") expect(err.status).toBe(404);
            if (["authentication", "quota"].includes(e.error_class)) expect(err.status).toBe(502);
            if (e.error_class === "rate_limit") expect(err.status).toBe(429);
            if (["upstream_5xx", "overloaded"].includes(e.error_class)) expect([502, 503]).toContain(err.status);
            if (e.error_class !== "unsupported_input") checkUpstreamRequest(fixture, p.basePath);
            return;
          }
          if (!isStream) {
            const { data: res, response } = (await gw.client.chat.completions.create(body as any).withResponse()) as any;
            checkUpstreamRequest(fixture, p.basePath);
            if (e.cost_usd !== undefined || e.pricing_model_id) await checkLoggedCost(response.headers.get("x-request-id"), p.id, e);
            if (e.content !== undefined) expect(res.choices[0].message.content).toBe(e.content);
            if (e.reasoning_content !== undefined) expect(res.choices[0].message.reasoning_content).toBe(e.reasoning_content);
            if (e.finish_reason) expect(res.choices[0].finish_reason).toBe(e.finish_reason);
            checkToolCalls(res.choices[0].message.tool_calls, e.tool_calls);
            checkUsage(res.usage, e.usage);
            return;
          }
          const stream = await gw.client.chat.completions.create({ ...body, stream: true } as any);
          let content = "";
          let reasoning = "";
          let finish: string | null = null;
          let usage: any;
          let streamError: unknown;
          const calls: any[] = [];
          try {
            for await (const chunk of stream as any) {
              if (chunk.usage) usage = chunk.usage;
              for (const choice of chunk.choices) {
                content += choice.delta?.content ?? "";
                reasoning += choice.delta?.reasoning_content ?? "";
                for (const tc of choice.delta?.tool_calls ?? []) {
                  const c = (calls[tc.index] ??= { id: tc.id, function: { name: "", arguments: "" } });
                  if (tc.id) c.id = tc.id;
                  c.function.name += tc.function?.name ?? "";
                  c.function.arguments += tc.function?.arguments ?? "";
                }
                if (choice.finish_reason) finish = choice.finish_reason;
              }
            }
          } catch (x) {
            streamError = x;
          }
          checkUpstreamRequest(fixture, p.basePath);
          if (e.stream_error) {
            expect(streamError).toBeDefined();
            expect(content).toBe(e.partial_content);
            return;
          }
          expect(streamError).toBeUndefined();
          if (e.content !== undefined) expect(content).toBe(e.content);
          if (e.reasoning_content !== undefined) expect(reasoning).toBe(e.reasoning_content);
          if (e.finish_reason) expect(finish).toBe(e.finish_reason);
          checkToolCalls(calls, e.tool_calls);
          if (body.stream_options?.include_usage) checkUsage(usage, e.usage);
        });
      }
    }
  });
}
