import { describe, expect, test } from "bun:test";
import { ChunkBuilder, decodeBinaryChunk } from "./log-chunk.ts";
import { COLUMNS, type LogRow, type RequestRow, type RowFacts } from "./request-log.ts";

const OPENAI_USAGE = {
  prompt_tokens: 38,
  completion_tokens: 41,
  total_tokens: 79,
  prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
};
const ANTHROPIC_USAGE = {
  input_tokens: 12,
  cache_creation_input_tokens: 100,
  cache_read_input_tokens: 0,
  cache_creation: { ephemeral_5m_input_tokens: 100, ephemeral_1h_input_tokens: 0 },
  output_tokens: 7,
  service_tier: "standard",
  server_tool_use: null,
};

let seq = 0;
function row(over: Partial<LogRow> = {}): LogRow {
  const n = seq++;
  return {
    id: `req_01TEST${String(n).padStart(20, "0")}`,
    received_at: 1_795_000_000_000 + n,
    first_byte_at: 1_795_000_000_040 + n,
    finished_at: 1_795_000_000_100 + n,
    client_key_id: "key_1",
    endpoint: "chat.completions",
    requested_model: `model-${n % 3}`,
    provider: "openai",
    provider_type: "openai",
    upstream_model: "gpt-4o",
    response_model: "gpt-4o-2024-08-06",
    pricing_entry: "openai/gpt-4o-2024-08-06",
    pricing_rule: "exact",
    attempts: [{ target: "openai/gpt-4o", keyIndex: 0, ok: true, durationMs: 90 }],
    status: 200,
    error_class: null,
    error_message: null,
    stream: 0,
    input_tokens: 38,
    cached_tokens: 0,
    cache_write_tokens: null,
    output_tokens: 41,
    reasoning_tokens: 0,
    usage_estimated: 0,
    usage_raw: structuredClone(OPENAI_USAGE),
    cost_pico: 505_000_000n,
    cost_breakdown: { unit: "pico-usd", total: 505_000_000, input: 95_000_000, cache_read: 0, cache_write: 0, output: 410_000_000, reasoning: 0 },
    warnings: null,
    latency_ms: 100,
    ttfb_ms: 40,
    client_ip: "127.0.0.1",
    user_agent: "test/1.0",
    project: null,
    ...over,
  };
}

/** What reading a row back must give: every column as written, JSON columns as the text of their values. */
function expected(r: LogRow): RequestRow {
  const text = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));
  return {
    ...r,
    attempts: text(r.attempts),
    usage_raw: text(r.usage_raw),
    cost_breakdown: text(r.cost_breakdown),
    warnings: text(r.warnings),
    cost_pico: r.cost_pico === null ? null : Number.isSafeInteger(Number(r.cost_pico)) ? Number(r.cost_pico) : BigInt(r.cost_pico),
  } as RequestRow;
}

function roundTrip(rows: LogRow[], capacity = rows.length): RequestRow[] {
  const c = new ChunkBuilder(capacity);
  for (const r of rows) c.add(r);
  return decodeBinaryChunk(c.encode());
}

describe("binary log chunks", () => {
  test("typical rows read back exactly: columns, the plain attempt and breakdown, the raw usage's text", () => {
    const rows = Array.from({ length: 256 }, () => row());
    const c = new ChunkBuilder(256);
    for (const r of rows) c.add(r);
    expect(c.full).toBe(true);
    const back = decodeBinaryChunk(c.encode());
    expect(back).toEqual(rows.map(expected));
    // Key order survives (the stored text is the provider's own order), and a row's fields come in `COLUMNS` order.
    expect(back[0]!.usage_raw).toBe(JSON.stringify(OPENAI_USAGE));
    expect(Object.keys(back[0]!)).toEqual([...COLUMNS]);
  });

  test("every unusual value is kept: failed and several attempts, tiers, warnings, odd usages, nulls, huge costs", () => {
    const rows: LogRow[] = [
      row({ attempts: [{ target: "a/x", keyIndex: 0, ok: false, status: 503, errorClass: "upstream_unavailable", durationMs: 4 }, { target: "b/y", keyIndex: 1, ok: true, durationMs: 9 }] }),
      row({ attempts: [{ target: "a/x", keyIndex: -1, ok: false, status: 401, errorClass: "auth", message: "bad key", durationMs: 2 }], status: 401, error_class: "auth", error_message: "bad key", cost_pico: null, cost_breakdown: null }),
      row({ attempts: null, usage_raw: null, cost_pico: null, cost_breakdown: null, input_tokens: null, output_tokens: null, cached_tokens: null, reasoning_tokens: null, first_byte_at: null, ttfb_ms: null }),
      row({ cost_breakdown: { unit: "pico-usd", total: 505_000_000, input: 95_000_000, cache_read: 0, cache_write: 0, output: 410_000_000, reasoning: 0, tier: "context_over_200k" } }),
      row({ cost_breakdown: { unit: "pico-usd", total: 1, input: 1, cache_read: 0, cache_write: 0, output: 0, reasoning: 0 } }), // total is not the row's cost
      row({ warnings: [{ code: "usage_estimated", message: "counted locally" }], usage_estimated: 1 }),
      row({ usage_raw: ANTHROPIC_USAGE, provider: "anthropic", provider_type: "anthropic" }),
      row({ usage_raw: { promptTokenCount: 5, candidatesTokenCount: 6, promptTokensDetails: [{ modality: "TEXT", tokenCount: 5 }] } }), // an array: kept as the object
      row({ usage_raw: { total: 3, cached: true } }), // a boolean
      row({ usage_raw: { "2": 1, b: 2, "1": 3, "": 0, "with \"quotes\"": -1.5e-7 } }), // integer-like keys, odd keys, a fraction
      row({ usage_raw: { a: { b: { c: { d: { e: { f: 1 } } } } } } }), // deeper than a shape goes
      row({ usage_raw: {} }),
      row({ cost_pico: 2n ** 60n, cost_breakdown: null }), // past 2^53: the whole row as JSON
      row({ input_tokens: "12" as unknown as number }), // not a number: the whole row as JSON
      row({ user_agent: 'quote " and \\ and \u0000 and ✓', project: "p/1", client_key_id: null, requested_model: null }),
      row({ stream: 1, status: 499, error_class: "client_disconnected", usage_estimated: 1 }),
    ];
    expect(roundTrip(rows)).toEqual(rows.map(expected));
  });

  test("a chunk holds many usage shapes; past 32 more are kept as objects", () => {
    const rows = Array.from({ length: 60 }, (_, i) => row({ usage_raw: { [`k${i}`]: i, shared: { n: i } } }));
    expect(roundTrip(rows)).toEqual(rows.map(expected));
    const alternating = Array.from({ length: 40 }, (_, i) => row({ usage_raw: i % 2 ? structuredClone(OPENAI_USAGE) : structuredClone(ANTHROPIC_USAGE) }));
    expect(roundTrip(alternating)).toEqual(alternating.map(expected));
  });

  test("a row can be replaced before the chunk is written (priced again), also to and from a whole-row fallback", () => {
    const a = row({ cost_pico: null, cost_breakdown: null, pricing_rule: "unpriced", pricing_entry: null });
    const b = row({ cost_pico: 2n ** 60n, cost_breakdown: null });
    const c = new ChunkBuilder(4);
    c.add(a);
    c.add(b);
    const repriced = { ...a, pricing_rule: "exact", pricing_entry: "openai/gpt-4o", cost_pico: 7n, cost_breakdown: { unit: "pico-usd", total: 7, input: 7, cache_read: 0, cache_write: 0, output: 0, reasoning: 0 } };
    const normal = { ...b, cost_pico: 9n };
    c.set(0, repriced);
    c.set(1, normal);
    expect(decodeBinaryChunk(c.encode())).toEqual([expected(repriced), expected(normal)]);
    const f = c.facts(0, {} as RowFacts);
    expect(f).toMatchObject({ id: a.id, pricing_rule: "exact", cost_pico: 7, status: 200, provider: "openai", ttfb_ms: 40 });
  });

  test("facts are the row's columns (what rollups and chunk terms read)", () => {
    const rows = [row(), row({ first_byte_at: null, ttfb_ms: null, project: "p", status: 500, error_class: "upstream_error" }), row({ cost_pico: 2n ** 60n, cost_breakdown: null })];
    const c = new ChunkBuilder(3);
    for (const r of rows) c.add(r);
    const back = decodeBinaryChunk(c.encode());
    const f = {} as RowFacts;
    for (let i = 0; i < rows.length; i++) {
      const { attempts: _a, usage_raw: _u, cost_breakdown: _b, warnings: _w, ...facts } = back[i]!;
      expect({ ...c.facts(i, f) }).toEqual(facts);
    }
    expect(c.allFacts().map((x) => x.id)).toEqual(rows.map((r) => r.id));
  });

  test("a value that cannot be serialised is stored as null and reported, not failing the chunk", () => {
    const cyclic: Record<string, unknown> = { n: 1 };
    cyclic.self = cyclic;
    const rows = [row({ usage_raw: { big: 1n } as never }), row({ warnings: [cyclic] as never }), row()];
    const bad: string[] = [];
    const c = new ChunkBuilder(3);
    for (const r of rows) c.add(r);
    const back = decodeBinaryChunk(c.encode((column) => bad.push(column)));
    expect(bad.sort()).toEqual(["usage_raw", "warnings"]);
    expect(back[0]!.usage_raw).toBeNull();
    expect(back[1]!.warnings).toBeNull();
    expect(back[2]).toEqual(expected(rows[2]!));
  });
});
