import type { Database, Statement } from "bun:sqlite";
import { bucketOf, emptyHistogram, LATENCY_BOUNDS_MS, percentile } from "../recorder/histogram.ts";
import { idLowerBound } from "../recorder/ids.ts";

/** One row of the `requests` table, as the log writer produces it (snake_case = column names). */
export type RequestRow = {
  id: string;
  received_at: number;
  first_byte_at: number | null;
  finished_at: number;
  client_key_id: string | null;
  endpoint: string;
  requested_model: string | null;
  provider: string | null;
  provider_type: string | null;
  upstream_model: string | null;
  response_model: string | null;
  pricing_entry: string | null;
  pricing_rule: string | null;
  attempts: string | null;
  status: number;
  error_class: string | null;
  error_message: string | null;
  stream: number;
  input_tokens: number | null;
  cached_tokens: number | null;
  cache_write_tokens: number | null;
  output_tokens: number | null;
  reasoning_tokens: number | null;
  usage_estimated: number;
  usage_raw: string | null;
  /** Written as a bigint (exact); read back as a number (a single request is far below 2^53 pico-USD). */
  cost_pico: bigint | number | null;
  cost_breakdown: string | null;
  warnings: string | null;
  latency_ms: number;
  ttfb_ms: number | null;
  client_ip: string | null;
  user_agent: string | null;
  project: string | null;
};

export const COLUMNS = [
  "id", "received_at", "first_byte_at", "finished_at", "client_key_id", "endpoint", "requested_model", "provider",
  "provider_type", "upstream_model", "response_model", "pricing_entry", "pricing_rule", "attempts", "status",
  "error_class", "error_message", "stream", "input_tokens", "cached_tokens", "cache_write_tokens", "output_tokens",
  "reasoning_tokens", "usage_estimated", "usage_raw", "cost_pico", "cost_breakdown", "warnings", "latency_ms",
  "ttfb_ms", "client_ip", "user_agent", "project",
] as const satisfies ReadonlyArray<keyof RequestRow>;

/**
 * Appends a row's values in `COLUMNS` order. Written out rather than `row[column]` in a loop: one
 * property access site that sees 33 different keys goes megamorphic (a hash lookup per value).
 */
export function pushRowValues(out: unknown[], r: RequestRow): void {
  out.push(
    r.id, r.received_at, r.first_byte_at, r.finished_at, r.client_key_id, r.endpoint, r.requested_model, r.provider,
    r.provider_type, r.upstream_model, r.response_model, r.pricing_entry, r.pricing_rule, r.attempts, r.status,
    r.error_class, r.error_message, r.stream, r.input_tokens, r.cached_tokens, r.cache_write_tokens, r.output_tokens,
    r.reasoning_tokens, r.usage_estimated, r.usage_raw, r.cost_pico, r.cost_breakdown, r.warnings, r.latency_ms,
    r.ttfb_ms, r.client_ip, r.user_agent, r.project,
  );
}

export type RollupDelta = {
  bucket: number;
  provider: string;
  model: string;
  client_key_id: string;
  project: string;
  requests: number;
  errors: number;
  input_tokens: number;
  cached_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  cost_pico: bigint;
  unpriced: number;
  latency_sum_ms: number;
  latency_hist: number[];
  ttfb_hist: number[];
};

/** Counters summed into the rollups (besides the histogram buckets). */
const SUM_COLUMNS = [
  "requests", "errors", "input_tokens", "cached_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens",
  "cost_pico", "unpriced", "latency_sum_ms",
] as const;
const HIST_SIZE = LATENCY_BOUNDS_MS.length + 1;
const HIST_COLUMNS = [...Array.from({ length: HIST_SIZE }, (_, i) => `lat${i}`), ...Array.from({ length: HIST_SIZE }, (_, i) => `ttfb${i}`)];
/** SELECT list for summed rollups; cost as text so totals past 2^53 pico stay exact (BigInt). */
const SUMS_SQL = [
  ...SUM_COLUMNS.filter((c) => c !== "cost_pico").map((c) => `SUM(${c}) AS ${c}`),
  "CAST(SUM(cost_pico) AS TEXT) AS cost_text",
  ...HIST_COLUMNS.map((c) => `SUM(${c}) AS ${c}`),
].join(", ");
type SummedRow = { grp: string | null; cost_text: string | null } & Record<string, number>;

function summed(r: SummedRow): Omit<Aggregate, never> {
  const lat = Array.from({ length: HIST_SIZE }, (_, i) => r[`lat${i}`] ?? 0);
  const ttfb = Array.from({ length: HIST_SIZE }, (_, i) => r[`ttfb${i}`] ?? 0);
  return {
    requests: r.requests ?? 0,
    errors: r.errors ?? 0,
    input_tokens: r.input_tokens ?? 0,
    cached_tokens: r.cached_tokens ?? 0,
    cache_write_tokens: r.cache_write_tokens ?? 0,
    output_tokens: r.output_tokens ?? 0,
    reasoning_tokens: r.reasoning_tokens ?? 0,
    cost_pico: BigInt(r.cost_text ?? "0"),
    unpriced: r.unpriced ?? 0,
    latency_avg_ms: r.requests ? Math.round((r.latency_sum_ms ?? 0) / r.requests) : null,
    latency_p50_ms: percentile(lat, 0.5),
    latency_p95_ms: percentile(lat, 0.95),
    latency_p99_ms: percentile(lat, 0.99),
    ttfb_p50_ms: percentile(ttfb, 0.5),
    ttfb_p95_ms: percentile(ttfb, 0.95),
  };
}

const MINUTE = 60_000;
const HOUR = 3_600_000;
type RollupTable = "rollup_minute" | "rollup_hour";

/** One rollup row's counters while a batch is summed; cost in a number while exact, else a bigint. */
type Accumulating = Omit<RollupDelta, "cost_pico"> & { table: RollupTable; costNumber: number; costBig: bigint };

/**
 * The rollup rows a batch adds to: per minute and per hour, by provider, model, client key and
 * project. Rows are grouped by those four first (one Map lookup, skipped when a row has the same
 * four as the row before, as rows of one busy client do), then by bucket; the histogram buckets are
 * found once for both tables, and costs add up as numbers while the sum is an exact integer (a
 * bigint per row and table cost more than the rest of the summing).
 */
export class RollupDeltas {
  private readonly groups = new Map<string, RollupGroup>();
  private last: RollupGroup | undefined;

  add(row: RequestRow): void {
    const provider = row.provider ?? "";
    const model = row.upstream_model ?? row.requested_model ?? "";
    const key = row.client_key_id ?? "";
    const project = row.project ?? "";
    let g = this.last;
    if (g === undefined || g.provider !== provider || g.model !== model || g.key !== key || g.project !== project) {
      const id = `${provider}\u0000${model}\u0000${key}\u0000${project}`;
      g = this.groups.get(id);
      if (g === undefined) this.groups.set(id, (g = { provider, model, key, project, minute: new Map(), hour: new Map() }));
      this.last = g;
    }
    const lat = bucketOf(row.latency_ms);
    const ttfb = row.ttfb_ms === null ? -1 : bucketOf(row.ttfb_ms);
    addRow(this.delta(g, "rollup_minute", row.received_at - (row.received_at % MINUTE)), row, lat, ttfb);
    addRow(this.delta(g, "rollup_hour", row.received_at - (row.received_at % HOUR)), row, lat, ttfb);
  }

  private delta(g: RollupGroup, table: RollupTable, bucket: number): Accumulating {
    const byBucket = table === "rollup_minute" ? g.minute : g.hour;
    let d = byBucket.get(bucket);
    if (d === undefined) {
      d = {
        table, bucket, provider: g.provider, model: g.model, client_key_id: g.key, project: g.project, requests: 0, errors: 0,
        input_tokens: 0, cached_tokens: 0, cache_write_tokens: 0, output_tokens: 0, reasoning_tokens: 0, costNumber: 0,
        costBig: 0n, unpriced: 0, latency_sum_ms: 0, latency_hist: emptyHistogram(), ttfb_hist: emptyHistogram(),
      };
      byBucket.set(bucket, d);
    }
    return d;
  }

  /** The summed rollup rows, each with its table. */
  *deltas(): Generator<RollupDelta & { table: RollupTable }> {
    for (const g of this.groups.values()) {
      for (const byBucket of [g.minute, g.hour]) {
        for (const { costNumber, costBig, ...d } of byBucket.values()) yield { ...d, cost_pico: costBig + BigInt(costNumber) };
      }
    }
  }
}

type RollupGroup = { provider: string; model: string; key: string; project: string; minute: Map<number, Accumulating>; hour: Map<number, Accumulating> };

function addRow(d: Accumulating, row: RequestRow, lat: number, ttfb: number): void {
  d.requests++;
  if (row.status >= 400) d.errors++;
  d.input_tokens += row.input_tokens ?? 0;
  d.cached_tokens += row.cached_tokens ?? 0;
  d.cache_write_tokens += row.cache_write_tokens ?? 0;
  d.output_tokens += row.output_tokens ?? 0;
  d.reasoning_tokens += row.reasoning_tokens ?? 0;
  if (row.cost_pico === null) {
    if (row.status < 400 && (row.input_tokens || row.output_tokens)) d.unpriced++;
  } else {
    const cost = Number(row.cost_pico);
    const sum = d.costNumber + cost;
    if (Number.isSafeInteger(sum) && Number.isSafeInteger(cost)) d.costNumber = sum;
    else d.costBig += BigInt(row.cost_pico);
  }
  d.latency_sum_ms += row.latency_ms;
  d.latency_hist[lat]!++;
  if (ttfb >= 0) d.ttfb_hist[ttfb]!++;
}

export type ListFilter = {
  since?: number;
  until?: number;
  provider?: string;
  model?: string;
  clientKeyId?: string;
  project?: string;
  status?: "ok" | "error";
  /** Id of the last row of the previous page (rows are newest first). */
  cursor?: string;
  limit?: number;
};

export type Aggregate = {
  requests: number;
  errors: number;
  input_tokens: number;
  cached_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  /** Exact sum in pico-USD. */
  cost_pico: bigint;
  unpriced: number;
  latency_avg_ms: number | null;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
  latency_p99_ms: number | null;
  ttfb_p50_ms: number | null;
  ttfb_p95_ms: number | null;
};

/** A stored request/response body pair (gzip-compressed JSON, secrets redacted). */
type BodyRow = { id: string; request: Uint8Array | null; response: Uint8Array | null };

/** Rows per multi-row INSERT (× 33 columns = 660 parameters, far below SQLite's limit of 32,766). */
export const INSERT_CHUNK = 20;

/** A multi-row INSERT met a row already stored: the batch is redone row by row. */
class RowWrittenBefore extends Error {}

/**
 * The request log's storage: prepared statements for the writer (batched inserts and rollup
 * upserts in one transaction), retention, and the read API. The one place that knows its SQL.
 * Statements come from `query()`, which caches them on the connection and finalizes them on close.
 */
export class RequestLogStore {
  private readonly insertRow: Statement;
  private readonly insertChunk: Statement;
  private readonly insertBody: Statement;
  private readonly upsertRollup: Record<RollupTable, Statement>;
  private readonly writeBatchTx: (rows: RequestRow[], bodies: BodyRow[], rowByRow: boolean) => void;

  constructor(readonly sqlite: Database) {
    const insert = (rows: number) =>
      sqlite.query(
        `INSERT OR IGNORE INTO requests (${COLUMNS.join(", ")}) VALUES ${Array(rows).fill(`(${COLUMNS.map(() => "?").join(", ")})`).join(", ")}`,
      );
    this.insertRow = insert(1);
    this.insertChunk = insert(INSERT_CHUNK);
    this.insertBody = sqlite.query("INSERT OR REPLACE INTO request_bodies (id, request_gz, response_gz) VALUES (?, ?, ?)");
    const keyCols = ["bucket", "provider", "model", "client_key_id", "project"];
    const addCols = [...SUM_COLUMNS, ...HIST_COLUMNS];
    // Every counter (histogram buckets included) adds up on conflict: no read-modify-write.
    const mk = (t: RollupTable) =>
      sqlite.query(
        `INSERT INTO ${t} (${[...keyCols, ...addCols].join(", ")}) VALUES (${[...keyCols, ...addCols].map(() => "?").join(", ")})
         ON CONFLICT (${keyCols.join(", ")}) DO UPDATE SET ${addCols.map((c) => `${c} = ${c} + excluded.${c}`).join(", ")}`,
      );
    this.upsertRollup = { rollup_minute: mk("rollup_minute"), rollup_hour: mk("rollup_hour") };
    this.writeBatchTx = sqlite.transaction((rows: RequestRow[], bodies: BodyRow[], rowByRow: boolean) => {
      const deltas = new RollupDeltas();
      let i = 0;
      // Full chunks in one multi-row INSERT each (less per-statement work than a statement per row:
      // ~1–3 µs per row in an isolated benchmark). Values go in as one array, not spread into
      // arguments: bun:sqlite binds an array argument positionally, without copying 660 arguments
      // (1.46 → 1.30 µs per row in an insert-only microbenchmark). A chunk that inserts fewer rows than it holds met a
      // row written before: the caller redoes the whole batch row by row, which counts each row once.
      if (!rowByRow) {
        for (; i + INSERT_CHUNK <= rows.length; i += INSERT_CHUNK) {
          const args: unknown[] = [];
          for (let j = i; j < i + INSERT_CHUNK; j++) pushRowValues(args, rows[j]!);
          if (this.insertChunk.run(args as never).changes !== INSERT_CHUNK) throw new RowWrittenBefore();
          for (let j = i; j < i + INSERT_CHUNK; j++) deltas.add(rows[j]!);
        }
      }
      for (; i < rows.length; i++) {
        const row = rows[i]!;
        // INSERT OR IGNORE: a row written twice (retry after a failed commit) counts once.
        // Positional binding: measurably faster than binding 33 named parameters per row.
        const args: unknown[] = [];
        pushRowValues(args, row);
        if (this.insertRow.run(args as never).changes > 0) deltas.add(row);
      }
      for (const b of bodies) this.insertBody.run(b.id, b.request, b.response);
      for (const d of deltas.deltas()) {
        this.upsertRollup[d.table].run(
          ...([d.bucket, d.provider, d.model, d.client_key_id, d.project, ...SUM_COLUMNS.map((c) => d[c]), ...d.latency_hist, ...d.ttfb_hist] as never[]),
        );
      }
    });
  }

  /** Writes a batch of rows (and optional bodies) and their rollups in one transaction. */
  writeBatch(rows: RequestRow[], bodies: BodyRow[] = []): void {
    try {
      this.writeBatchTx(rows, bodies, false);
    } catch (e) {
      if (!(e instanceof RowWrittenBefore)) throw e;
      this.writeBatchTx(rows, bodies, true); // rolled back; again, row by row
    }
  }

  /** Deletes up to `limit` raw rows (and bodies) received before `cutoff`; returns how many. */
  deleteRawBefore(cutoff: number, limit: number): number {
    const bound = idLowerBound(cutoff);
    const n = this.sqlite.query("DELETE FROM requests WHERE id IN (SELECT id FROM requests WHERE id < ? ORDER BY id LIMIT ?)").run(bound, limit).changes;
    this.sqlite.query("DELETE FROM request_bodies WHERE id IN (SELECT id FROM request_bodies WHERE id < ? ORDER BY id LIMIT ?)").run(bound, limit);
    return n;
  }

  /** Deletes rollup rows older than `cutoff` from one table; returns how many. */
  deleteRollupsBefore(table: RollupTable, cutoff: number, limit: number): number {
    return this.sqlite
      .query(`DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE bucket < ? LIMIT ?)`)
      .run(cutoff, limit).changes;
  }

  /**
   * Booked spend per client key, exact pico-USD, from the hourly rollups (UTC days and months start
   * on an hour): since `dayStart`, since `monthStart`, and in total (as far back as hourly rollups
   * are kept, `rollup_hour_retention_days`). One scan for all keys; the budget ledger calls it once.
   */
  spendByKey(periods: { dayStart: number; monthStart: number }): Map<string, { day: bigint; month: bigint; total: bigint }> {
    const rows = this.sqlite
      .query(
        `SELECT client_key_id AS key,
           CAST(COALESCE(SUM(CASE WHEN bucket >= ?1 THEN cost_pico ELSE 0 END), 0) AS TEXT) AS day,
           CAST(COALESCE(SUM(CASE WHEN bucket >= ?2 THEN cost_pico ELSE 0 END), 0) AS TEXT) AS month,
           CAST(COALESCE(SUM(cost_pico), 0) AS TEXT) AS total
         FROM rollup_hour WHERE client_key_id != '' GROUP BY client_key_id`,
      )
      .all(periods.dayStart, periods.monthStart) as Array<{ key: string; day: string; month: string; total: string }>;
    return new Map(rows.map((r) => [r.key, { day: BigInt(r.day), month: BigInt(r.month), total: BigInt(r.total) }]));
  }

  /** Newest first, cursor-paginated; every filter walks an index that ends in `id`. */
  list(filter: ListFilter = {}): { rows: RequestRow[]; nextCursor: string | null } {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (filter.since !== undefined) where.push("id >= ?"), args.push(idLowerBound(filter.since));
    if (filter.until !== undefined) where.push("id < ?"), args.push(idLowerBound(filter.until));
    if (filter.cursor) where.push("id < ?"), args.push(filter.cursor);
    if (filter.provider) where.push("provider = ?"), args.push(filter.provider);
    if (filter.model) where.push("requested_model = ?"), args.push(filter.model);
    if (filter.clientKeyId) where.push("client_key_id = ?"), args.push(filter.clientKeyId);
    if (filter.project) where.push("project = ?"), args.push(filter.project);
    if (filter.status === "ok") where.push("status < 400");
    if (filter.status === "error") where.push("status >= 400");
    const limit = Math.min(Math.max(filter.limit ?? 50, 1), 1000);
    const sql = `SELECT * FROM requests ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY id DESC LIMIT ${limit + 1}`;
    const rows = this.sqlite.query(sql).all(...args) as RequestRow[];
    const more = rows.length > limit;
    if (more) rows.pop();
    return { rows, nextCursor: more ? rows[rows.length - 1]!.id : null };
  }

  /** One request and its stored bodies (gzip; null when bodies were not recorded). */
  get(id: string): { row: RequestRow; requestGz: Uint8Array | null; responseGz: Uint8Array | null } | null {
    const row = this.sqlite.query("SELECT * FROM requests WHERE id = ?").get(id) as RequestRow | null;
    if (!row) return null;
    const body = this.sqlite.query("SELECT request_gz, response_gz FROM request_bodies WHERE id = ?").get(id) as
      | { request_gz: Uint8Array | null; response_gz: Uint8Array | null }
      | null;
    return { row, requestGz: body?.request_gz ?? null, responseGz: body?.response_gz ?? null };
  }

  /**
   * Totals over [from, to) from the rollups (minute buckets for ranges up to 6 h, hour buckets
   * beyond), optionally grouped by provider, model, client key or project. One SQL GROUP BY:
   * counters and histogram buckets are summed by SQLite, never by scanning raw rows.
   */
  aggregate(options: { from: number; to: number; groupBy?: "provider" | "model" | "client_key_id" | "project" }): Array<Aggregate & { group: string | null }> {
    const table: RollupTable = options.to - options.from <= 6 * HOUR ? "rollup_minute" : "rollup_hour";
    const group = options.groupBy ?? "NULL";
    const rows = this.sqlite
      .query(`SELECT ${group} AS grp, ${SUMS_SQL} FROM ${table} WHERE bucket >= ? AND bucket < ? GROUP BY grp`)
      .all(options.from, options.to) as SummedRow[];
    return rows.filter((r) => r.requests > 0).map((r) => ({ group: r.grp, ...summed(r) }));
  }

  /**
   * A time series over [from, to) for charts: about `points` buckets (whole minutes or hours),
   * each with totals and latency percentiles, optionally split by provider, model, key or project.
   */
  series(options: { from: number; to: number; points?: number; groupBy?: "provider" | "model" | "client_key_id" | "project" }) {
    const span = options.to - options.from;
    const base = span <= 6 * HOUR ? MINUTE : HOUR;
    const table: RollupTable = base === MINUTE ? "rollup_minute" : "rollup_hour";
    const step = Math.max(base, Math.ceil(span / (options.points ?? 60) / base) * base);
    const group = options.groupBy ?? "NULL";
    const rows = this.sqlite
      .query(
        `SELECT (bucket - ?1) / ?2 AS slot, ${group} AS grp, ${SUMS_SQL} FROM ${table}
         WHERE bucket >= ?3 AND bucket < ?4 GROUP BY slot, grp ORDER BY slot`,
      )
      .all(options.from, step, options.from - (options.from % base), options.to) as Array<SummedRow & { slot: number }>;
    return {
      step,
      points: rows.map((r) => {
        const { latency_p99_ms: _p99, latency_avg_ms: _avg, ttfb_p95_ms: _t95, ...rest } = summed(r);
        return { bucket: options.from + Math.floor(r.slot) * step, group: r.grp, ...rest };
      }),
    };
  }

  /** Models that answered with tokens but had no price, most recent first (for the pricing page). */
  unpricedModels(since: number): Array<{ provider: string | null; provider_type: string | null; model: string | null; requests: number; last_seen: number }> {
    return this.sqlite
      .query(
        `SELECT provider, provider_type, coalesce(response_model, upstream_model) AS model, count(*) AS requests, max(received_at) AS last_seen
         FROM requests WHERE id >= ? AND cost_pico IS NULL AND status < 400 AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL)
         GROUP BY provider, provider_type, model ORDER BY last_seen DESC LIMIT 200`,
      )
      .all(idLowerBound(since)) as never;
  }

}
