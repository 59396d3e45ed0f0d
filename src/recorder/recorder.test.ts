import { describe, expect, test } from "bun:test";
import path from "node:path";
import { openDatabase } from "../db/client.ts";
import { runMigrations } from "../db/migrate.ts";
import { CHUNK_ROWS, COLUMNS, RequestLogStore, rowValues, type LogRow, type RequestRow } from "../db/request-log.ts";
import { createLogger } from "../logger.ts";
import { tempDir } from "../testing/temp.ts";
import { idLowerBound, newRequestId, timeOfId } from "./ids.ts";
import { Recorder, redactBody, type RequestRecord } from "./recorder.ts";
import { recomputeCosts } from "./recompute.ts";
import { runRetention } from "./retention.ts";
import { requestsTable } from "../testing/request-rows.ts";

function setup(options: Partial<ConstructorParameters<typeof Recorder>[0]> = {}) {
  const h = openDatabase(path.join(tempDir(), "log.db"));
  runMigrations(h);
  const log = options.log ?? createLogger({ sink: () => {} });
  const store = new RequestLogStore(h.sqlite, { log });
  const recorder = new Recorder({
    store,
    log,
    flushIntervalMs: 250,
    batchSize: 100,
    capacity: 1000,
    price: ({ usage }) => ({ costPico: BigInt((usage.inputTokens ?? 0) * 2_500_000 + (usage.outputTokens ?? 0) * 10_000_000), entry: "openai/gpt-4o", rule: "exact" }),
    ...options,
  });
  return { h, store, recorder };
}

function record(i: number, at = Date.now(), over: Partial<RequestRecord> = {}): RequestRecord {
  return {
    id: newRequestId(at),
    receivedAt: at,
    firstByteAt: at + 5,
    finishedAt: at + 20 + (i % 7) * 100,
    endpoint: "chat.completions",
    requestedModel: i % 2 ? "gpt-4o" : "smart",
    provider: i % 3 ? "openai" : "deepseek",
    providerType: i % 3 ? "openai" : "deepseek",
    upstreamModel: i % 3 ? "gpt-4o" : "deepseek-chat",
    clientKeyId: i % 4 ? "key_a" : "key_b",
    status: i % 10 === 0 ? 502 : 200,
    stream: i % 2 === 0,
    usage: { inputTokens: 100 + i, cachedInputTokens: 10, outputTokens: 20, reasoningTokens: 5, raw: { n: i } },
    ...over,
  };
}

describe("ids", () => {
  test("are time-sortable and encode their time", () => {
    const a = newRequestId(1_700_000_000_000);
    const b = newRequestId(1_700_000_000_001);
    expect(a < b).toBe(true);
    expect(timeOfId(a)).toBe(1_700_000_000_000);
    expect(idLowerBound(1_700_000_000_001) <= b).toBe(true);
    expect(idLowerBound(1_700_000_000_001) > a).toBe(true);
  });
});

describe("recorder", () => {
  test("every recorded row is written once, in batches, with cost and usage", () => {
    const { h, recorder, store } = setup();
    const base = Date.now() - 10_000;
    for (let i = 0; i < 450; i++) recorder.record(record(i, base + i), false);
    expect(requestsTable(h.sqlite).query("SELECT count(*) AS n FROM requests").get()).toEqual({ n: 0 }); // nothing written on the request path
    recorder.flush();
    expect(requestsTable(h.sqlite).query("SELECT count(*) AS n FROM requests").get()).toEqual({ n: 450 });
    expect(recorder.stats.flushes).toBe(5);
    const { rows } = store.list({ limit: 1 });
    expect(rows[0]!.cost_pico).toBe((100 + 449) * 2_500_000 + 20 * 10_000_000);
    expect(rows[0]!.pricing_entry).toBe("openai/gpt-4o");
    expect(JSON.parse(rows[0]!.usage_raw!)).toEqual({ n: 449 });
    h.close();
  });

  test("the record carries the cost its row was priced at (the budget settlement reads it)", () => {
    const { recorder } = setup();
    const priced = record(1);
    recorder.record(priced, false);
    expect(priced.costPico).toBe(BigInt((100 + 1) * 2_500_000 + 20 * 10_000_000));
    const failed = record(2, Date.now(), { status: 502 });
    recorder.record(failed, false);
    expect(failed.costPico).toBeUndefined(); // not priced: a failed upstream call costs nothing
  });

  test("rollups equal a recount of the raw rows", () => {
    const { h, recorder, store } = setup();
    const base = Date.UTC(2026, 10, 1, 10, 0, 0);
    for (let i = 0; i < 600; i++) recorder.record(record(i, base + i * 1000), false); // 10 minutes
    recorder.flush();
    const [exact] = store.aggregate({ from: base, to: base + 3_600_000 });
    const rawCost = requestsTable(h.sqlite).query("SELECT CAST(sum(cost_pico) AS TEXT) AS c FROM requests").get() as { c: string };
    expect(exact!.cost_pico).toBe(BigInt(rawCost.c));
    for (const table of ["rollup_minute", "rollup_hour"]) {
      const roll = h.sqlite.query(`SELECT sum(requests) r, sum(errors) e, sum(input_tokens) i, sum(output_tokens) o, sum(cost_pico) c, sum(latency_sum_ms) l FROM ${table}`).get();
      const raw = requestsTable(h.sqlite).query("SELECT count(*) r, sum(status >= 400) e, sum(input_tokens) i, sum(output_tokens) o, sum(cost_pico) c, sum(latency_ms) l FROM requests").get();
      expect(roll).toEqual(raw);
    }
    const byProvider = store.aggregate({ from: base, to: base + 3_600_000, groupBy: "provider" });
    const counts = Object.fromEntries(byProvider.map((g) => [g.group, g.requests]));
    const recount = requestsTable(h.sqlite).query("SELECT provider, count(*) n FROM requests GROUP BY provider").all() as Array<{ provider: string; n: number }>;
    expect(counts).toEqual(Object.fromEntries(recount.map((r) => [r.provider, r.n])));
    const series = store.series({ from: base, to: base + 600_000, points: 5 });
    expect(series.step).toBe(120_000);
    expect(series.points.length).toBe(5);
    expect(series.points.reduce((a, p) => a + p.requests, 0)).toBe(600);
    const byModel = store.series({ from: base, to: base + 600_000, points: 1, groupBy: "model" });
    expect(byModel.points.map((p) => p.group).sort()).toEqual(["deepseek-chat", "gpt-4o"]);
    const [all] = store.aggregate({ from: base, to: base + 3_600_000 });
    expect(all!.requests).toBe(600);
    expect(all!.errors).toBe(60);
    expect(all!.latency_p50_ms).not.toBeNull();
    h.close();
  });

  test("an unpriced client disconnect with tokens counts as unpriced (never a silent $0), from the migration on; re-pricing moves the counts back exactly", () => {
    const { h, recorder, store } = setup({ price: () => ({ costPico: null, rule: "unpriced" }) });
    const since = store.disconnectsSince;
    expect(since).toBeGreaterThan(Date.now() - 60_000); // set by migration 0009 when this database was created
    const now = Date.now();
    const rows = [
      record(1, now, { status: 499, errorClass: "client_disconnected", usage: { inputTokens: 40, outputTokens: 3, estimated: true } }),
      record(2, now, { status: 200 }),
      record(3, since - 120_000, { status: 499, errorClass: "client_disconnected", usage: { inputTokens: 40, outputTokens: 3, estimated: true } }), // before the rule
      record(4, now, { status: 400, errorClass: "invalid_request", usage: undefined }),
      record(5, now, { status: 502, errorClass: "upstream_5xx" }),
      record(6, now, { status: 503, errorClass: "server_shutdown", usage: { inputTokens: 40, outputTokens: 9, estimated: true } }), // cut off at shutdown
    ];
    for (const r of rows) recorder.record(r, false);
    recorder.flush();
    const counts = () => ({
      minute: (h.sqlite.query("SELECT sum(unpriced) AS n FROM rollup_minute").get() as { n: number }).n,
      hour: (h.sqlite.query("SELECT sum(unpriced) AS n FROM rollup_hour").get() as { n: number }).n,
      list: (h.sqlite.query("SELECT sum(requests) AS n FROM request_unpriced").get() as { n: number }).n,
    });
    expect(counts()).toEqual({ minute: 3, hour: 3, list: 3 }); // the disconnect, the success and the shutdown cut
    const report = recomputeCosts(store, () => ({ costPico: 7n, entry: "x/m", rule: "override" }), since - 3_600_000);
    expect(report.newlyPriced).toBe(4); // 499 (both), 200 and server_shutdown; upstream 5xx and rows without tokens are not re-priced
    expect(counts()).toEqual({ minute: 0, hour: 0, list: 0 });
    h.close();
  });

  test("rollup costs stay exact past 2^53 pico-USD, with rows of several groups interleaved", () => {
    // Each row costs 2^52 + 1 pico-USD (~4,500 USD): the sums leave the exact range of a number.
    const big = 2n ** 52n + 1n;
    const { h, recorder, store } = setup({ price: () => ({ costPico: big, entry: "openai/gpt-4o", rule: "exact" }) });
    const base = Date.UTC(2026, 10, 1, 10, 0, 0);
    // Key a, key b, key a...: consecutive rows alternate between two groups; 3 minutes, one hour.
    for (let i = 0; i < 30; i++) recorder.record(record(1, base + i * 6000, { clientKeyId: i % 2 ? "key_a" : "key_b", status: 200 }), false);
    recorder.flush();
    const [all] = store.aggregate({ from: base, to: base + 3_600_000 });
    expect(all!.requests).toBe(30);
    expect(all!.cost_pico).toBe(30n * big);
    const byKey = store.aggregate({ from: base, to: base + 3_600_000, groupBy: "client_key_id" });
    expect(byKey.map((g) => [g.group, g.requests, g.cost_pico]).sort()).toEqual([["key_a", 15, 15n * big], ["key_b", 15, 15n * big]]);
    for (const table of ["rollup_minute", "rollup_hour"]) {
      const rows = h.sqlite.query(`SELECT client_key_id AS k, CAST(sum(cost_pico) AS TEXT) AS c, sum(requests) AS n, count(*) AS buckets FROM ${table} GROUP BY k ORDER BY k`).all();
      const buckets = table === "rollup_minute" ? 3 : 1;
      expect(rows).toEqual([
        { k: "key_a", c: String(15n * big), n: 15, buckets },
        { k: "key_b", c: String(15n * big), n: 15, buckets },
      ]);
    }
    h.close();
  });

  test("row values are bound in column order", () => {
    const row = Object.fromEntries(COLUMNS.map((c) => [c, `value of ${c}`])) as unknown as RequestRow;
    expect(rowValues(row)).toEqual(COLUMNS.map((c) => `value of ${c}`));
  });

  test("a batch larger than a chunk is stored in several chunks, read back as single-row chunks are", () => {
    const base = Date.UTC(2026, 10, 1, 10, 0, 0);
    const records = Array.from({ length: 2 * CHUNK_ROWS + 7 }, (_, i) => record(i, base + i * 1000));
    const chunked = setup({ batchSize: 1000 });
    const single = setup({ batchSize: 1 });
    for (const r of records) chunked.recorder.record(r, false), single.recorder.record(r, false);
    chunked.recorder.flush();
    single.recorder.flush();
    const chunks = (h: typeof chunked.h) => h.sqlite.query("SELECT rows FROM request_chunks ORDER BY id").all();
    expect(chunks(chunked.h)).toEqual([{ rows: CHUNK_ROWS }, { rows: CHUNK_ROWS }, { rows: 7 }]);
    expect(chunks(single.h)).toHaveLength(records.length);
    const all = (h: typeof chunked.h) => requestsTable(h.sqlite).query("SELECT * FROM requests ORDER BY id").all();
    expect(all(chunked.h)).toHaveLength(records.length);
    expect(all(chunked.h)).toEqual(all(single.h));
    expect(chunked.store.count()).toBe(records.length);
    chunked.h.close();
    single.h.close();
  });

  test("a batch that fails part-way stores nothing; the retry stores and counts each row once", () => {
    const { h, recorder, store } = setup({ batchSize: 1000 });
    const base = Date.UTC(2026, 10, 1, 10, 0, 0);
    for (let i = 0; i < CHUNK_ROWS + 7; i++) recorder.record(record(i, base + i * 1000), false);
    // The second chunk's insert fails (as a full disk would), after the first chunk was inserted.
    h.sqlite.run("CREATE TEMP TRIGGER fail_chunk BEFORE INSERT ON request_chunks WHEN NEW.rows = 7 BEGIN SELECT RAISE(ABORT, 'disk full'); END");
    recorder.flush();
    expect(recorder.stats.failures).toBe(1);
    expect(recorder.queued).toBe(CHUNK_ROWS + 7);
    expect(h.sqlite.query("SELECT count(*) AS n FROM request_chunks").get()).toEqual({ n: 0 });
    expect(h.sqlite.query("SELECT count(*) AS n FROM rollup_minute").get()).toEqual({ n: 0 });
    h.sqlite.run("DROP TRIGGER fail_chunk");
    recorder.flush();
    expect(recorder.queued).toBe(0);
    expect(store.count()).toBe(CHUNK_ROWS + 7);
    for (const table of ["rollup_minute", "rollup_hour"]) {
      expect(h.sqlite.query(`SELECT sum(requests) AS n FROM ${table}`).get()).toEqual({ n: CHUNK_ROWS + 7 });
    }
    h.close();
  });

  test("a full queue makes producers wait instead of dropping rows", async () => {
    const { h, recorder } = setup({ capacity: 100, batchSize: 50 });
    const waits: Array<Promise<void> | void> = [];
    for (let i = 0; i < 350; i++) waits.push(recorder.record(record(i), false));
    expect(recorder.stats.waits).toBe(250);
    await Promise.all(waits);
    recorder.flush();
    expect(requestsTable(h.sqlite).query("SELECT count(*) AS n FROM requests").get()).toEqual({ n: 350 });
    h.close();
  });

  test("a failed flush keeps the rows and a later flush writes them", () => {
    const { h, recorder, store } = setup();
    const real = store.writeChunks.bind(store);
    let fail = true;
    store.writeChunks = (rows, bodies) => {
      if (fail) throw new Error("disk I/O error");
      real(rows, bodies);
    };
    for (let i = 0; i < 10; i++) recorder.record(record(i), false);
    recorder.flush();
    expect(recorder.stats.failures).toBe(1);
    expect(recorder.queued).toBe(10);
    fail = false;
    recorder.flush();
    expect(requestsTable(h.sqlite).query("SELECT count(*) AS n FROM requests").get()).toEqual({ n: 10 });
    h.close();
  });

  test("a row is built and priced when it is recorded; listeners get it then (with its attempts) and once written", () => {
    const priced: string[] = [];
    const recorded: Array<{ id: string; cost: unknown; attempts: unknown }> = [];
    const written: string[][] = [];
    const { h, recorder, store } = setup({
      price: ({ usage }) => {
        priced.push(String(usage.inputTokens));
        return { costPico: 7n, entry: "openai/gpt-4o", rule: "exact" };
      },
      onRecorded: (row, attempts) => recorded.push({ id: row.id, cost: row.cost_pico, attempts }),
      onWritten: (rows) => written.push(rows().map((x) => x.id)),
    });
    const attempts = [{ target: "openai/gpt-4o", keyIndex: 0, ok: true, durationMs: 3 }];
    const r = record(1, Date.now(), { attempts, usage: { inputTokens: 11, outputTokens: 2, raw: { prompt_tokens: 11 } } });
    recorder.record(r, false);
    expect(priced).toEqual(["11"]); // priced at record(), before any flush
    expect(recorded).toEqual([{ id: r.id, cost: 7n, attempts }]); // told at once, before the write
    expect(written).toEqual([]);
    // Later changes to the record's objects do not reach the queued row.
    r.usage!.raw = { changed: true };
    r.status = 500;
    recorder.flush();
    expect(priced).toEqual(["11"]); // not priced again by the writer
    const row = store.get(r.id)!.row;
    expect(row.status).toBe(200);
    expect(JSON.parse(row.usage_raw!)).toEqual({ prompt_tokens: 11 });
    expect(row.cost_pico).toBe(7);
    expect(written).toEqual([[r.id]]);
    expect(recorded).toHaveLength(1);
    h.close();
  });

  test("with no store (the log is off) rows still reach onRecorded, nothing is queued, and in-flight requests are counted", async () => {
    const recorded: string[] = [];
    const { h, recorder } = setup({ store: undefined, onRecorded: (row) => recorded.push(row.id), onWritten: () => recorded.push("written") });
    recorder.start();
    recorder.begin();
    expect(recorder.inFlightCount).toBe(1);
    const r = record(1);
    recorder.record(r);
    expect(recorder.inFlightCount).toBe(0);
    expect(recorder.queued).toBe(0);
    expect(recorded).toEqual([r.id]);
    await recorder.stop();
    expect(recorder.stats).toMatchObject({ recorded: 1, written: 0, flushes: 0 });
    expect(requestsTable(h.sqlite).query("SELECT count(*) AS n FROM requests").get()).toEqual({ n: 0 });
    h.close();
  });

  test("a listener that throws is logged and does not stop the row", () => {
    const errors: string[] = [];
    const log = createLogger({ sink: (line) => errors.push(line) });
    const { h, recorder, store } = setup({ log, onRecorded: () => { throw new Error("boom"); } });
    const r = record(2);
    recorder.record(r, false);
    recorder.flush();
    expect(store.get(r.id)).toBeDefined();
    expect(errors.some((e) => e.includes("request listener failed") && e.includes("boom"))).toBe(true);
    h.close();
  });

  test("a row that was unpriced when recorded is priced again by the writer (prices load in the background)", () => {
    let loaded = false;
    const { h, recorder, store } = setup({
      price: () => (loaded ? { costPico: 9n, entry: "openai/gpt-4o", rule: "exact" } : { costPico: null, rule: "unpriced" }),
    });
    const early = record(1);
    recorder.record(early, false);
    loaded = true;
    const later = record(2, Date.now() + 1);
    recorder.record(later, false);
    recorder.flush();
    expect(store.get(early.id)!.row).toMatchObject({ cost_pico: 9, pricing_entry: "openai/gpt-4o", pricing_rule: "exact" });
    expect(store.get(later.id)!.row.cost_pico).toBe(9);
    h.close();
  });

  test("with a prices() state, an unpriced row is priced again only when the prices have changed", () => {
    let calls = 0;
    let registry = { version: 1 };
    const { h, recorder, store } = setup({
      prices: () => registry,
      price: () => (calls++, registry.version === 1 ? { costPico: null, rule: "unpriced" } : { costPico: 4n, entry: "openai/gpt-4o", rule: "exact" }),
    });
    const same = record(1);
    recorder.record(same, false);
    recorder.flush(); // prices unchanged: not priced again
    expect(calls).toBe(1);
    expect(store.get(same.id)!.row.cost_pico).toBeNull();
    const changed = record(2, Date.now() + 1);
    recorder.record(changed, false);
    registry = { version: 2 }; // new prices arrive before the flush
    recorder.flush();
    expect(calls).toBe(3);
    expect(store.get(changed.id)!.row.cost_pico).toBe(4);
    h.close();
  });

  test("a column that cannot be serialised is stored as null and logged; the queue keeps flowing", () => {
    const lines: string[] = [];
    const { h, recorder, store } = setup({ log: createLogger({ sink: (line) => lines.push(line) }) });
    const bad = record(1, Date.now(), { usage: { inputTokens: 5, outputTokens: 1, raw: { big: 10n } } });
    expect(() => recorder.record(bad, false)).not.toThrow(); // the request path never sees it
    const next = record(2, Date.now() + 1);
    recorder.record(next, false);
    recorder.flush();
    expect(recorder.stats.failures).toBe(0);
    expect(store.get(bad.id)!.row.usage_raw).toBeNull();
    expect(store.get(bad.id)!.row.input_tokens).toBe(5);
    expect(store.get(next.id)).not.toBeNull();
    expect(lines.some((l) => l.includes("usage_raw") && l.includes("could not be serialised"))).toBe(true);
    h.close();
  });

  test("without a flush call, a queued row is written after flush_interval_ms, again after an idle spell", async () => {
    const { h, recorder } = setup({ flushIntervalMs: 60, batchSize: 100 });
    recorder.start();
    const waitWritten = async (n: number) => {
      const t0 = performance.now();
      while (recorder.stats.written < n && performance.now() - t0 < 5000) await Bun.sleep(2);
      return performance.now() - t0;
    };
    for (const n of [1, 2, 3]) {
      recorder.record(record(n), false);
      const waited = await waitWritten(n);
      expect(recorder.stats.written).toBe(n);
      expect(waited).toBeGreaterThanOrEqual(50); // by the timer, not at once
      expect(waited).toBeLessThan(60 + 400); // the bound on what SIGKILL can lose (slack for a loaded machine)
      await Bun.sleep(150); // idle: the next row arms the timer again
    }
    expect(recorder.stats.flushes).toBe(3);
    await recorder.stop();
    expect(requestsTable(h.sqlite).query("SELECT count(*) AS n FROM requests").get()).toEqual({ n: 3 });
    h.close();
  });

  test("an idle recorder keeps no timer: a process with a started recorder exits once its rows are written", async () => {
    const dir = tempDir();
    const script = path.join(dir, "idle.ts");
    await Bun.write(
      script,
      `import { openDatabase } from ${JSON.stringify(path.join(import.meta.dir, "../db/client.ts"))};
       import { runMigrations } from ${JSON.stringify(path.join(import.meta.dir, "../db/migrate.ts"))};
       import { RequestLogStore } from ${JSON.stringify(path.join(import.meta.dir, "../db/request-log.ts"))};
       import { createLogger } from ${JSON.stringify(path.join(import.meta.dir, "../logger.ts"))};
       import { Recorder } from ${JSON.stringify(path.join(import.meta.dir, "recorder.ts"))};
       const h = openDatabase(${JSON.stringify(path.join(dir, "log.db"))});
       runMigrations(h);
       const recorder = new Recorder({ store: new RequestLogStore(h.sqlite), log: createLogger({ sink: () => {} }), flushIntervalMs: 20, batchSize: 100, capacity: 1000 });
       recorder.start();
       recorder.record(${JSON.stringify(record(1))}, false);
       process.on("beforeExit", () => console.log("written " + recorder.stats.written));`,
    );
    const proc = Bun.spawn([process.execPath, script], { stdout: "pipe", stderr: "pipe" });
    const killer = setTimeout(() => proc.kill(), 10_000);
    const code = await proc.exited;
    clearTimeout(killer);
    expect(await new Response(proc.stdout).text()).toContain("written 1");
    expect(code).toBe(0);
  });

  test("a failed timed flush is retried by the timer, without a flush call", async () => {
    const { h, recorder, store } = setup({ flushIntervalMs: 30, batchSize: 100 });
    const write = store.writeChunks.bind(store);
    let failures = 1;
    store.writeChunks = (chunks, bodies) => {
      if (failures-- > 0) throw new Error("disk I/O error");
      write(chunks, bodies);
    };
    recorder.start();
    recorder.record(record(1), false);
    const t0 = performance.now();
    while (recorder.stats.written < 1 && performance.now() - t0 < 5000) await Bun.sleep(2);
    expect(recorder.stats).toMatchObject({ written: 1, failures: 1, flushes: 1 });
    await recorder.stop();
    h.close();
  });

  test("stop() waits for begun requests, then flushes everything", async () => {
    const { h, recorder } = setup();
    recorder.start();
    recorder.begin();
    setTimeout(() => recorder.record(record(1)), 50);
    await recorder.stop();
    expect(requestsTable(h.sqlite).query("SELECT count(*) AS n FROM requests").get()).toEqual({ n: 1 });
    h.close();
  });

  test("bodies and re-pricing stay with their own rows across batches, a failed flush and a retry", () => {
    let loaded = false;
    const { h, recorder, store } = setup({
      batchSize: 3,
      price: ({ usage }) => (loaded || usage.inputTokens !== 105 ? { costPico: BigInt(usage.inputTokens ?? 0), entry: "openai/gpt-4o", rule: "exact" } : { costPico: null, rule: "unpriced" }),
    });
    let prices = {};
    (recorder as unknown as { options: { prices: () => unknown } }).options.prices = () => prices;
    const real = store.writeChunks.bind(store);
    let failNext = true;
    store.writeChunks = (rows, bodies) => {
      if (failNext) {
        failNext = false;
        throw new Error("disk full");
      }
      real(rows, bodies);
    };
    const records = Array.from({ length: 8 }, (_, i) => record(i, Date.now(), i === 1 || i === 4 || i === 6 ? { bodies: { request: { n: i } } } : {}));
    for (const r of records) recorder.record(r, false);
    recorder.flush(); // the first batch fails: everything stays queued
    expect(recorder.queued).toBe(8);
    loaded = true;
    prices = {}; // new prices: the unpriced row (input 105) is priced again when written
    recorder.flush();
    expect(recorder.queued).toBe(0);
    for (const [i, r] of records.entries()) {
      const got = store.get(r.id)!;
      expect(got.row.cost_pico).toBe(i === 0 ? null : 100 + i); // row 0 is a 502: never priced
      expect(got.requestGz === null).toBe(!(i === 1 || i === 4 || i === 6));
      if (got.requestGz) expect(JSON.parse(new TextDecoder().decode(Bun.gunzipSync(got.requestGz as Uint8Array<ArrayBuffer>)))).toEqual({ n: i });
    }
    expect((recorder as unknown as { extras: unknown[] }).extras).toHaveLength(0);
    h.close();
  });

  test("bodies are stored compressed with secrets redacted", () => {
    const { h, recorder, store } = setup();
    const r = record(1, Date.now(), { bodies: { request: { model: "x", api_key: "sk-secret", messages: [{ role: "user", content: "hi" }] }, response: { ok: true } } });
    recorder.record(r, false);
    recorder.flush();
    const got = store.get(r.id)!;
    const req = JSON.parse(new TextDecoder().decode(Bun.gunzipSync(got.requestGz! as Uint8Array<ArrayBuffer>)));
    expect(req.api_key).toBe("[redacted]");
    expect(req.messages[0].content).toBe("hi");
    expect(redactBody({ headers: { Authorization: "Bearer x" } })).toEqual({ headers: { Authorization: "[redacted]" } });
    h.close();
  });

  test("stored bodies: every secret-looking name is redacted, by words (token counts and cache keys are kept), and nothing past the depth limit is kept", () => {
    const secrets = ["api_key", "apiKey", "x-api-key", "x-goog-api-key", "openai_api_key", "client_secret", "access_token", "secret_key", "private_key", "passwd", "password", "cookie", "Cookie", "pass", "secret_token", "authorization", "refresh_token", "credentials", "key", "auth", "API_KEYS", "aws.secretAccessKey"];
    const kept = ["max_tokens", "prompt_tokens", "max_completion_tokens", "prompt_cache_key", "idempotency_key", "keyIndex", "author", "passage", "tokenizer", "input_tokens_details", "keys_seen"];
    const body: Record<string, unknown> = {};
    for (const name of [...secrets, ...kept]) body[name] = "VALUE";
    const out = redactBody({ metadata: body }) as { metadata: Record<string, unknown> };
    expect(secrets.filter((n) => out.metadata[n] !== "[redacted]")).toEqual([]);
    expect(kept.filter((n) => out.metadata[n] !== "VALUE")).toEqual([]);
    let deep: Record<string, unknown> = { password: "hunter2" };
    for (let i = 0; i < 30; i++) deep = { level: deep };
    expect(JSON.stringify(redactBody(deep))).not.toContain("hunter2");
  });
});

describe("store", () => {
  test("a model filter finds the model the client asked for and the model that answered", () => {
    const { h, recorder, store } = setup();
    const base = Date.now() - 60_000;
    for (let i = 0; i < 300; i++) recorder.record(record(i, base + i), false); // requested gpt-4o or smart; answered gpt-4o or deepseek-chat
    recorder.flush();
    const count = (model: string) => store.list({ model, limit: 1000 }).rows.length;
    const expected = (pred: (i: number) => boolean) => Array.from({ length: 300 }, (_, i) => i).filter(pred).length;
    expect(count("deepseek-chat")).toBe(expected((i) => i % 3 === 0)); // only ever the answering model
    expect(count("smart")).toBe(expected((i) => i % 2 === 0)); // only ever the requested one
    expect(count("gpt-4o")).toBe(expected((i) => i % 2 === 1 || i % 3 !== 0));
    const failed = store.list({ model: "deepseek-chat", status: "error", limit: 1000 }).rows;
    expect(failed.length).toBe(expected((i) => i % 30 === 0));
    expect(failed.every((r) => r.status >= 400 && r.upstream_model === "deepseek-chat")).toBe(true);
    h.close();
  });

  test("cursor pagination and filters walk newest first without gaps or repeats", () => {
    const { h, recorder, store } = setup();
    const base = Date.now() - 3_600_000;
    for (let i = 0; i < 230; i++) recorder.record(record(i, base + i * 1000), false);
    recorder.flush();
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = store.list({ cursor, limit: 50 });
      seen.push(...page.rows.map((r) => r.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen.length).toBe(230);
    expect(new Set(seen).size).toBe(230);
    expect([...seen].sort().reverse()).toEqual(seen);
    expect(store.list({ provider: "deepseek", limit: 1000 }).rows.every((r) => r.provider === "deepseek")).toBe(true);
    expect(store.list({ status: "error", limit: 1000 }).rows.length).toBe(23);
    expect(store.list({ clientKeyId: "key_b", limit: 1000 }).rows.every((r) => r.client_key_id === "key_b")).toBe(true);
    expect(store.list({ since: base + 200_000, limit: 1000 }).rows.length).toBe(30);
    expect(store.get("req_nope")).toBeNull();
    h.close();
  });

  test("pages are newest first and complete across overlapping chunks, with filters, also when cut short by the time budget", () => {
    const { h, store } = setup();
    // Deterministic pseudo-random: rows finish out of id order (a long request's row is written in
    // a later batch than newer ones), in batches of 1-300 rows, so chunks' id ranges overlap.
    let seed = 42;
    const rand = (n: number) => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31), seed % n);
    const base = Date.UTC(2026, 10, 1, 10, 0, 0);
    // JSON columns all null: such a row is both what the writer takes and what it reads back.
    const all: Array<RequestRow & LogRow> = [];
    const rowOf = (i: number): RequestRow & LogRow => {
      const r = record(i, base + rand(3_600_000));
      return {
        id: r.id, received_at: r.receivedAt, first_byte_at: null, finished_at: r.finishedAt, client_key_id: ["key_a", "key_b", null][i % 3]!,
        endpoint: "chat.completions", requested_model: ["gpt-4o", "smart"][i % 2]!, provider: ["openai", "deepseek", "xai", "gemini"][i % 4]!,
        provider_type: "openai", upstream_model: "gpt-4o", response_model: null, pricing_entry: null, pricing_rule: null, attempts: null,
        status: i % 13 === 0 ? 500 : 200, error_class: null, error_message: null, stream: 0, input_tokens: 1, cached_tokens: null,
        cache_write_tokens: null, output_tokens: 1, reasoning_tokens: null, usage_estimated: 0, usage_raw: null, cost_pico: BigInt(i),
        cost_breakdown: null, warnings: null, latency_ms: 5, ttfb_ms: null, client_ip: null, user_agent: null, project: i % 7 === 0 ? "p1" : null,
      };
    };
    for (let i = 0; i < 3000; i++) all.push(rowOf(i));
    const shuffled = [...all].sort(() => rand(3) - 1);
    for (let i = 0; i < shuffled.length; ) {
      const n = 1 + rand(300);
      store.writeBatch(shuffled.slice(i, i + n));
      i += n;
    }
    const newestFirst = (a: RequestRow, b: RequestRow) => (a.id < b.id ? 1 : -1);
    const filters = [
      {},
      { provider: "xai" },
      { clientKeyId: "key_b", status: "error" as const },
      { project: "p1", model: "smart" },
      { since: base + 600_000, until: base + 1_800_000, provider: "openai" },
    ];
    let shortPages = 0;
    for (const budget of [undefined, 0]) {
      const s = new RequestLogStore(h.sqlite, { listBudgetMs: budget });
      for (const f of filters) {
        const expected = all
          .filter((r) =>
            (!("provider" in f) || r.provider === f.provider) && (!("clientKeyId" in f) || r.client_key_id === f.clientKeyId) &&
            (!("status" in f) || r.status >= 400) && (!("project" in f) || r.project === f.project) &&
            (!("model" in f) || r.requested_model === f.model) &&
            (!("since" in f) || (r.received_at >= f.since! && r.received_at < f.until!)))
          .sort(newestFirst)
          .map((r) => r.id);
        const got: string[] = [];
        let cursor: string | undefined;
        for (;;) {
          const page = s.list({ ...f, cursor, limit: 37 });
          got.push(...page.rows.map((r) => r.id));
          if (!page.nextCursor) break;
          if (page.rows.length < 37) shortPages++;
          cursor = page.nextCursor;
        }
        expect(got).toEqual(expected);
      }
      // Only the budget of 0 (one chunk below the cursor a call) cuts pages short: the same rows.
      expect(shortPages > 0).toBe(budget === 0);
    }
    const one = all[1234]!;
    expect(store.get(one.id)?.row).toEqual({ ...one, cost_pico: 1234 });
    h.close();
  });

  test("filters find values that only error rows or only successful rows of a chunk have", () => {
    const { h, recorder, store } = setup();
    const base = Date.UTC(2026, 10, 1, 10, 0, 0);
    // One chunk: provider "z" and key "key_err" only on failed rows, "deepseek" only on successful ones.
    recorder.record(record(1, base, { provider: "z", clientKeyId: "key_err", status: 502 }), false);
    recorder.record(record(2, base + 1, { provider: "deepseek", status: 200 }), false);
    recorder.record(record(3, base + 2, { provider: "openai", status: 500 }), false);
    recorder.record(record(4, base + 3, { provider: "openai", status: 200 }), false);
    recorder.flush();
    expect(h.sqlite.query("SELECT count(*) AS n FROM request_chunks").get()).toEqual({ n: 1 });
    const count = (f: Parameters<typeof store.list>[0]) => store.list(f).rows.length;
    expect(count({ provider: "z" })).toBe(1);
    expect(count({ provider: "z", status: "error" })).toBe(1);
    expect(count({ provider: "z", status: "ok" })).toBe(0);
    expect(count({ clientKeyId: "key_err" })).toBe(1);
    expect(count({ clientKeyId: "key_err", status: "error" })).toBe(1);
    expect(count({ provider: "deepseek", status: "error" })).toBe(0);
    expect(count({ provider: "deepseek" })).toBe(1);
    expect(count({ provider: "openai" })).toBe(2);
    expect(count({ provider: "openai", status: "error" })).toBe(1);
    expect(count({ status: "error" })).toBe(2);
    h.close();
  });

  test("retention deletes only raw rows older than the cutoff, in batches", async () => {
    const { h, recorder } = setup();
    const now = Date.now();
    const day = 86_400_000;
    for (let i = 0; i < 120; i++) recorder.record(record(i, now - 40 * day + i), false);
    recorder.flush(); // chunks of 100 and 20 rows
    for (let i = 0; i < 30; i++) recorder.record(record(i, now - 2 * day + i), false);
    recorder.flush();
    // A chunk holding rows on both sides of the cutoff (a long request's row is written late) stays
    // until all its rows are old.
    recorder.record(record(0, now - 31 * day), false);
    recorder.record(record(1, now - 29 * day), false);
    recorder.flush();
    expect(new RequestLogStore(h.sqlite).unpricedModels(0)).toEqual([]);
    const result = await runRetention(new RequestLogStore(h.sqlite), { retentionDays: 30, minuteRollupRetentionDays: 14, hourRollupRetentionDays: 400 }, now, 50);
    expect(result.raw).toBe(120);
    expect(requestsTable(h.sqlite).query("SELECT count(*) AS n FROM requests").get()).toEqual({ n: 32 });
    // Hour rollups of the old rows are kept (400 days); minute rollups older than 14 days are gone.
    expect((h.sqlite.query("SELECT sum(requests) AS n FROM rollup_hour").get() as { n: number }).n).toBe(152);
    expect((h.sqlite.query("SELECT sum(requests) AS n FROM rollup_minute").get() as { n: number }).n).toBe(30);
    // Two days later both rows of that chunk are old: it goes.
    expect((await runRetention(new RequestLogStore(h.sqlite), { retentionDays: 30, minuteRollupRetentionDays: 14, hourRollupRetentionDays: 400 }, now + 2 * day, 50)).raw).toBe(2);
    h.close();
  });
});

test("ids minted in the same millisecond keep creation order", () => {
  const at = Date.now() + 60_000;
  const ids = Array.from({ length: 1000 }, () => newRequestId(at));
  expect([...ids].sort()).toEqual(ids);
  expect(new Set(ids).size).toBe(1000);
  expect(newRequestId(at - 5) > ids.at(-1)!).toBe(true); // a clock step back cannot reorder
});

test("pooled random ids: unique, well-formed, and the pool refills", async () => {
  const { pooledRandomBytes, randomBase64Url } = await import("./random.ts");
  const seen = new Set<string>();
  for (let i = 0; i < 5000; i++) seen.add(randomBase64Url(12)); // crosses many pool refills
  expect(seen.size).toBe(5000);
  for (const id of seen) expect(id).toMatch(/^[A-Za-z0-9_-]{16}$/);
  const a = Buffer.from(pooledRandomBytes(32));
  const b = Buffer.from(pooledRandomBytes(32));
  expect(a.equals(b)).toBe(false);
  expect(() => pooledRandomBytes(257)).toThrow(RangeError);
  const ids = Array.from({ length: 2000 }, () => newRequestId());
  expect(new Set(ids).size).toBe(ids.length);
  expect([...ids].sort()).toEqual(ids); // creation order is id order
  for (const id of ids) expect(id).toMatch(/^req_[0-9A-HJKMNP-TV-Z]{26}$/);
});
