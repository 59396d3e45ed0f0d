import type { Database, Statement } from "bun:sqlite";
import { bucketOf, emptyHistogram, LATENCY_BOUNDS_MS, percentile } from "../recorder/histogram.ts";
import { idLowerBound } from "../recorder/ids.ts";
import type { Logger } from "../logger.ts";
import { ChunkBuilder, decodeBinaryChunk, rowOfValues } from "./log-chunk.ts";

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

/** A row's attempts, whether the row holds them as JSON text (read back) or as values (being written). */
export function attemptsOf<A>(row: { attempts?: unknown }): A[] | undefined {
  if (Array.isArray(row.attempts)) return row.attempts as A[];
  return typeof row.attempts === "string" ? (JSON.parse(row.attempts) as A[]) : undefined;
}

/** The request log's JSON columns: text when read back (RequestRow), JSON values when written (LogRow). */
type JsonColumn = "attempts" | "usage_raw" | "cost_breakdown" | "warnings";

/** A row's facts besides its JSON columns (what rollups, chunk terms and the live view read). */
export type RowFacts = Omit<RequestRow, JsonColumn>;

/**
 * A row as the log writer gets it: the JSON columns hold the values themselves (the attempts
 * array, the provider's usage object, the cost breakdown, the warnings; null when absent), which
 * the chunk's one JSON.stringify writes inline (typed as objects so that a row read back, with
 * text there, cannot be written as is). Serialising them one by one first, as text that the
 * chunk then escapes again, cost ~1.2 µs per request (profile: 3% of the log-on request path).
 */
export type LogRow = RowFacts & { attempts: object | null; usage_raw: object | null; cost_breakdown: object | null; warnings: object | null };

export const COLUMNS = [
  "id", "received_at", "first_byte_at", "finished_at", "client_key_id", "endpoint", "requested_model", "provider",
  "provider_type", "upstream_model", "response_model", "pricing_entry", "pricing_rule", "attempts", "status",
  "error_class", "error_message", "stream", "input_tokens", "cached_tokens", "cache_write_tokens", "output_tokens",
  "reasoning_tokens", "usage_estimated", "usage_raw", "cost_pico", "cost_breakdown", "warnings", "latency_ms",
  "ttfb_ms", "client_ip", "user_agent", "project",
] as const satisfies ReadonlyArray<keyof RequestRow>;

/**
 * A row's values in `COLUMNS` order, as one array literal (allocated at its size, where pushing 33
 * values grows an empty array several times). Written out rather than `row[column]` in a loop: one
 * property access site that sees 33 different keys goes megamorphic (a hash lookup per value).
 */
export function rowValues(r: RequestRow | LogRow): unknown[] {
  return [
    r.id, r.received_at, r.first_byte_at, r.finished_at, r.client_key_id, r.endpoint, r.requested_model, r.provider,
    r.provider_type, r.upstream_model, r.response_model, r.pricing_entry, r.pricing_rule, r.attempts, r.status,
    r.error_class, r.error_message, r.stream, r.input_tokens, r.cached_tokens, r.cache_write_tokens, r.output_tokens,
    r.reasoning_tokens, r.usage_estimated, r.usage_raw, r.cost_pico, r.cost_breakdown, r.warnings, r.latency_ms,
    r.ttfb_ms, r.client_ip, r.user_agent, r.project,
  ];
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

  /** `disconnectsSince`: see `billable`. */
  constructor(private readonly disconnectsSince = 0) {}

  add(row: RowFacts): void {
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
    const unpriced = rollupUnpriced(row, this.disconnectsSince);
    addRow(this.delta(g, "rollup_minute", row.received_at - (row.received_at % MINUTE)), row, lat, ttfb, unpriced);
    addRow(this.delta(g, "rollup_hour", row.received_at - (row.received_at % HOUR)), row, lat, ttfb, unpriced);
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

function addRow(d: Accumulating, row: RowFacts, lat: number, ttfb: number, unpriced: boolean): void {
  d.requests++;
  if (row.status >= 400) d.errors++;
  d.input_tokens += row.input_tokens ?? 0;
  d.cached_tokens += row.cached_tokens ?? 0;
  d.cache_write_tokens += row.cache_write_tokens ?? 0;
  d.output_tokens += row.output_tokens ?? 0;
  d.reasoning_tokens += row.reasoning_tokens ?? 0;
  if (row.cost_pico === null) {
    if (unpriced) d.unpriced++;
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
export type BodyRow = { id: string; request: Uint8Array | null; response: Uint8Array | null };

/** Rows per stored chunk (a writer batch is split into chunks of at most this many rows). */
export const CHUNK_ROWS = 256;
/**
 * Chunk formats: plain JSON text (rows moved by migration 0006); zstd-compressed JSON with the JSON
 * columns as text (what the first chunked build wrote); zstd-compressed JSON with the JSON columns
 * as values inline (written up to session 14); and the binary columns of log-chunk.ts (what the
 * writer writes now). Every format stays readable.
 */
const FORMAT_JSON = 0;
// 1: zstd, JSON columns as text (read like 2, without turning the columns back into text).
const FORMAT_ZSTD_VALUES = 2;
const FORMAT_BINARY = 3;
/** Longest a list keeps reading chunks before it returns a short page with a cursor to go on from. */
export const LIST_BUDGET_MS = 80;

/** Rows in chunks of at most `size` (CHUNK_ROWS), for writing. */
export function chunksOf(rows: readonly LogRow[], size = CHUNK_ROWS): ChunkBuilder[] {
  const chunks: ChunkBuilder[] = [];
  for (let i = 0; i < rows.length; i += size) {
    const c = new ChunkBuilder(Math.min(size, rows.length - i));
    for (let j = i; j < i + c.capacity; j++) c.add(rows[j]!);
    chunks.push(c);
  }
  return chunks;
}

const utf8 = new TextDecoder();

/** The rows of a stored chunk, in the order they were written, JSON columns as text. */
export function decodeChunk(format: number, data: Uint8Array | string): RequestRow[] {
  if (format === FORMAT_BINARY) return decodeBinaryChunk(data as Uint8Array);
  const text = typeof data === "string" ? data : utf8.decode(format === FORMAT_JSON ? data : Bun.zstdDecompressSync(data));
  const values = JSON.parse(text) as unknown[][];
  const rows: RequestRow[] = new Array(values.length);
  const inline = format === FORMAT_ZSTD_VALUES;
  for (let i = 0; i < values.length; i++) rows[i] = rowOfValues(values[i]!, inline);
  return rows;
}

const asValue = (text: string | null) => (text === null ? null : JSON.parse(text));

/** A row read back (JSON columns as text) as the writer takes it (JSON columns as values). */
export function logRowOf(r: RequestRow): LogRow {
  return { ...r, attempts: asValue(r.attempts), usage_raw: asValue(r.usage_raw), cost_breakdown: asValue(r.cost_breakdown), warnings: asValue(r.warnings) };
}

/**
 * The terms of one chunk (see `requestChunkTerms` in schema.ts): the distinct values of each kind,
 * prefixed once per value when the chunk is stored rather than once per row. Error rows add their
 * values again under `e:` (`e:k:<key>`...), so "this key's errors" reads only chunks that hold one.
 */
class ChunkTerms {
  private readonly values = TERM_KINDS.map(() => new Set<string>());
  private readonly errorValues = TERM_KINDS.map(() => new Set<string>());
  private errors = false;
  private ok = false;

  add(r: RowFacts): void {
    const error = r.status >= 400;
    const sets = error ? this.errorValues : this.values;
    if (r.provider !== null) sets[0]!.add(r.provider);
    if (r.requested_model !== null) sets[1]!.add(r.requested_model);
    if (r.client_key_id !== null) sets[2]!.add(r.client_key_id);
    if (r.project !== null) sets[3]!.add(r.project);
    if (r.upstream_model !== null && r.upstream_model !== r.requested_model) sets[4]!.add(r.upstream_model);
    if (error) this.errors = true;
    else this.ok = true;
  }

  *terms(): Generator<string> {
    for (let i = 0; i < TERM_KINDS.length; i++) {
      const kind = TERM_KINDS[i]!;
      for (const v of this.values[i]!) yield kind + v;
      for (const v of this.errorValues[i]!) {
        if (!this.values[i]!.has(v)) yield kind + v;
        yield "e:" + kind + v;
      }
    }
    if (this.errors) yield "e";
    if (this.ok) yield "o";
  }
}

/**
 * Term prefixes: provider, requested model, client key, project, and the upstream model when it is
 * not the requested one (chunks written before it was added have no `u:` terms).
 */
const TERM_KINDS = ["p:", "m:", "k:", "j:", "u:"] as const;

type UnpricedFacts = Pick<RowFacts, "cost_pico" | "status" | "error_class" | "input_tokens" | "output_tokens" | "received_at">;

/**
 * Whether a row without a price is one the provider may bill, so it counts as unpriced (never a
 * silent $0): the upstream answered (status < 400), or the client left mid-call (499) — for rows
 * received since `disconnectsSince` (migration 0009; older rows were counted without 499s, and a
 * re-price must move their counts by the rule they were counted with).
 */
export const billable = (r: UnpricedFacts, disconnectsSince: number) =>
  r.status < 400 || ((r.status === 499 || r.error_class === "server_shutdown") && r.received_at >= disconnectsSince);

/** A row that answered with tokens and had no price (the unpriced-model list on the pricing page). */
export const isUnpriced = (r: UnpricedFacts, disconnectsSince: number) =>
  r.cost_pico === null && (r.input_tokens !== null || r.output_tokens !== null) && billable(r, disconnectsSince);

/** The same for the rollups' `unpriced` count, which has always needed a non-zero token count. */
export const rollupUnpriced = (r: UnpricedFacts, disconnectsSince: number) =>
  r.cost_pico === null && !!(r.input_tokens || r.output_tokens) && billable(r, disconnectsSince);

/** Per-hour counts of unpriced rows by provider and model, summed for one batch (or recompute). */
export class UnpricedDeltas {
  readonly byKey = new Map<string, { bucket: number; provider: string; provider_type: string; model: string; requests: number; last_seen: number }>();

  add(r: RowFacts, by = 1): void {
    const bucket = r.received_at - (r.received_at % HOUR);
    const provider = r.provider ?? "";
    const providerType = r.provider_type ?? "";
    const model = r.response_model ?? r.upstream_model ?? "";
    const key = `${bucket}\u0000${provider}\u0000${providerType}\u0000${model}`;
    const d = this.byKey.get(key);
    if (d) {
      d.requests += by;
      if (by > 0 && r.received_at > d.last_seen) d.last_seen = r.received_at;
    } else this.byKey.set(key, { bucket, provider, provider_type: providerType, model, requests: by, last_seen: by > 0 ? r.received_at : 0 });
  }
}

function readDisconnectsSince(sqlite: Database): number {
  try {
    const row = sqlite.query("SELECT value FROM meta WHERE key = 'unpriced_disconnects_since'").get() as { value: string } | null;
    const since = Number(row?.value ?? 0);
    return Number.isFinite(since) ? since : 0;
  } catch {
    return 0; // no meta table (a database without the migrations): every row follows the new rule
  }
}

/**
 * The request log's storage: prepared statements for the writer (compressed chunks of rows, their
 * terms and the rollup upserts, in one transaction per batch), retention, and the read API. The one
 * place that knows its SQL. Statements come from `query()`, which caches them on the connection and
 * finalizes them on close.
 *
 * Rows are stored in chunks (`request_chunks`, see schema.ts): one SQLite row per CHUNK_ROWS
 * requests instead of one per request with four indexes. Reads decode the chunks they need: a page
 * of the newest rows reads one or two; a filtered page reads only chunks whose terms match.
 */
export class RequestLogStore {
  private readonly insertChunk: Statement;
  private readonly insertTerm: Statement;
  private readonly insertBody: Statement;
  private readonly upsertRollup: Record<RollupTable, Statement>;
  private readonly upsertUnpriced: Statement;
  private readonly writeChunksTx: (chunks: readonly ChunkBuilder[], bodies: BodyRow[]) => void;
  /** From when a client disconnect counts as unpriced (see `billable`); 0 without the migration's record. */
  readonly disconnectsSince: number;

  constructor(
    readonly sqlite: Database,
    private readonly options: { listBudgetMs?: number; log?: Pick<Logger, "error"> } = {},
  ) {
    this.disconnectsSince = readDisconnectsSince(sqlite);
    this.insertChunk = sqlite.query("INSERT INTO request_chunks (first_id, last_id, rows, format, data) VALUES (?, ?, ?, ?, ?)");
    this.insertTerm = sqlite.query("INSERT OR IGNORE INTO request_chunk_terms (chunk, term) VALUES (?, ?)");
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
    this.upsertUnpriced = sqlite.query(
      `INSERT INTO request_unpriced (bucket, provider, provider_type, model, requests, last_seen) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (bucket, provider, provider_type, model) DO UPDATE SET requests = requests + excluded.requests, last_seen = max(last_seen, excluded.last_seen)`,
    );
    this.writeChunksTx = sqlite.transaction((chunks: readonly ChunkBuilder[], bodies: BodyRow[]) => {
      const deltas = new RollupDeltas(this.disconnectsSince);
      const unpriced = new UnpricedDeltas();
      const f = {} as RowFacts; // one object refilled for each row
      for (const c of chunks) {
        if (!c.length) continue;
        let first = c.ids[0]!;
        let last = first;
        const terms = new ChunkTerms();
        for (let j = 0; j < c.length; j++) {
          const r = c.facts(j, f);
          if (r.id < first) first = r.id;
          if (r.id > last) last = r.id;
          terms.add(r);
          deltas.add(r);
          if (isUnpriced(r, this.disconnectsSince)) unpriced.add(r);
        }
        const chunk = this.insertChunk.run(first, last, c.length, FORMAT_BINARY, c.encode(this.onBadValue)).lastInsertRowid;
        for (const term of terms.terms()) this.insertTerm.run(chunk, term);
      }
      for (const b of bodies) this.insertBody.run(b.id, b.request, b.response);
      for (const d of deltas.deltas()) {
        this.upsertRollup[d.table].run(
          ...([d.bucket, d.provider, d.model, d.client_key_id, d.project, ...SUM_COLUMNS.map((c) => d[c]), ...d.latency_hist, ...d.ttfb_hist] as never[]),
        );
      }
      this.addUnpricedCounts(unpriced);
    });
  }

  private readonly onBadValue = (column: string, error: Error) =>
    this.options.log?.error("request log: a column could not be serialised; stored as null", { column, error: error.message });

  /** Adds changes to the unpriced-model counts (inside the caller's transaction). */
  addUnpricedCounts(unpriced: UnpricedDeltas): void {
    for (const u of unpriced.byKey.values()) {
      if (u.requests !== 0) this.upsertUnpriced.run(u.bucket, u.provider, u.provider_type, u.model, u.requests, u.last_seen);
    }
  }

  /**
   * Writes a batch of rows (and optional bodies) and their rollups in one transaction: all of it or,
   * when it fails, nothing (the recorder keeps the rows and tries again).
   */
  writeBatch(rows: LogRow[], bodies: BodyRow[] = []): void {
    this.writeChunks(chunksOf(rows), bodies);
  }

  /** writeBatch for rows already in chunks (the recorder fills them as requests are recorded). */
  writeChunks(chunks: readonly ChunkBuilder[], bodies: BodyRow[] = []): void {
    if (chunks.some((c) => c.length) || bodies.length) this.writeChunksTx(chunks, bodies);
  }

  /**
   * Deletes chunks whose rows were all received before `cutoff`, oldest first, up to about `limit`
   * rows (at least one chunk), and bodies of requests received before it; returns the rows deleted.
   * A chunk with a row newer than the cutoff waits until all its rows are old.
   */
  deleteRawBefore(cutoff: number, limit: number): number {
    const bound = idLowerBound(cutoff);
    const candidates = this.sqlite.query("SELECT id, rows FROM request_chunks WHERE last_id < ? ORDER BY last_id LIMIT ?").all(bound, limit) as Array<{ id: number; rows: number }>;
    const chosen: number[] = [];
    let rows = 0;
    for (const c of candidates) {
      if (chosen.length && rows + c.rows > limit) break;
      chosen.push(c.id);
      rows += c.rows;
    }
    this.sqlite.transaction(() => {
      const del = this.sqlite.query("DELETE FROM request_chunks WHERE id = ?");
      const terms = this.sqlite.query("DELETE FROM request_chunk_terms WHERE chunk = ?");
      for (const id of chosen) del.run(id), terms.run(id);
      this.sqlite.query("DELETE FROM request_bodies WHERE id IN (SELECT id FROM request_bodies WHERE id < ? ORDER BY id LIMIT ?)").run(bound, limit);
      this.sqlite.query("DELETE FROM request_unpriced WHERE bucket < ?").run(cutoff - (cutoff % HOUR));
    })();
    return rows;
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

  /**
   * Newest first, cursor-paginated (`cursor`: the id below which the next page starts). Reads
   * chunks in order of their newest row and stops once no unread chunk can hold a row newer than
   * the page's last; with filters, only chunks having every filter's term are read. A page that
   * would take more than LIST_BUDGET_MS (filters that match rarely and together) comes back short
   * (having read at least one chunk below the page's start), with a cursor that goes on where it stopped; `nextCursor` is null
   * only at the end.
   */
  list(filter: ListFilter = {}): { rows: RequestRow[]; nextCursor: string | null } {
    const limit = Number.isFinite(filter.limit) ? Math.min(Math.max(Math.floor(filter.limit!), 1), 1000) : 50;
    let upper = filter.until !== undefined ? idLowerBound(filter.until) : undefined; // exclusive
    if (filter.cursor && (upper === undefined || filter.cursor < upper)) upper = filter.cursor;
    const lower = filter.since !== undefined ? idLowerBound(filter.since) : undefined; // inclusive
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (upper !== undefined) where.push("first_id < ?"), args.push(upper);
    if (lower !== undefined) where.push("last_id >= ?"), args.push(lower);
    // With `status: "error"`, each value's error term (`e:k:<key>`) stands for both filters.
    const errors = filter.status === "error" ? "e:" : "";
    const terms: string[] = [];
    if (filter.provider) terms.push(errors + "p:" + filter.provider);
    // A model is the one the client asked for or the one that answered (the overview groups by the latter).
    if (filter.model) where.push("EXISTS (SELECT 1 FROM request_chunk_terms t WHERE t.chunk = c.id AND t.term IN (?, ?))"), args.push(errors + "m:" + filter.model, errors + "u:" + filter.model);
    if (filter.clientKeyId) terms.push(errors + "k:" + filter.clientKeyId);
    if (filter.project) terms.push(errors + "j:" + filter.project);
    if (filter.status === "ok") terms.push("o");
    if (errors && !terms.length) terms.push("e");
    for (const term of terms) where.push("EXISTS (SELECT 1 FROM request_chunk_terms t WHERE t.chunk = c.id AND t.term = ?)"), args.push(term);
    const sql = `SELECT id, last_id, format, data FROM request_chunks c ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY last_id DESC, id DESC`;
    const matches = (r: RequestRow) =>
      (upper === undefined || r.id < upper) &&
      (lower === undefined || r.id >= lower) &&
      (!filter.provider || r.provider === filter.provider) &&
      (!filter.model || r.requested_model === filter.model || r.upstream_model === filter.model) &&
      (!filter.clientKeyId || r.client_key_id === filter.clientKeyId) &&
      (!filter.project || r.project === filter.project) &&
      (filter.status !== "ok" || r.status < 400) &&
      (filter.status !== "error" || r.status >= 400);
    const newestFirst = (a: RequestRow, b: RequestRow) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
    let found: RequestRow[] = [];
    const started = performance.now();
    const budget = this.options.listBudgetMs ?? LIST_BUDGET_MS;
    // Stopping early must move the cursor: only after reading a chunk whose newest row is below the
    // page's upper bound (a wide chunk above it, read first on every call, does not count).
    let progressed = false;
    for (const chunk of this.sqlite.query(sql).iterate(...args) as IterableIterator<{ id: number; last_id: string; format: number; data: Uint8Array }>) {
      // Every unread chunk's rows are <= its last_id: once the page is full of newer rows, done.
      if (found.length > limit && chunk.last_id < found[limit]!.id) break;
      if (progressed && performance.now() - started > budget) {
        // Out of time: return what is certain (rows above this chunk's newest), go on from there.
        const certain = found.filter((r) => r.id > chunk.last_id).sort(newestFirst);
        if (certain.length > limit) return { rows: certain.slice(0, limit), nextCursor: certain[limit - 1]!.id };
        // `id < last_id + "~"` is `id <= last_id`: "~" sorts after every character of an id.
        return { rows: certain, nextCursor: chunk.last_id + "~" };
      }
      if (upper === undefined || chunk.last_id < upper) progressed = true;
      for (const r of decodeChunk(chunk.format, chunk.data)) if (matches(r)) found.push(r);
      if (found.length > limit) found = found.sort(newestFirst).slice(0, limit + 1);
    }
    found.sort(newestFirst);
    const more = found.length > limit;
    if (more) found.length = limit;
    return { rows: found, nextCursor: more ? found[found.length - 1]!.id : null };
  }

  /**
   * Every row received since `since` (all rows without it), chunk by chunk in the order the chunks
   * were written (not sorted by id: a long request's row lands in a later chunk than newer ones).
   */
  *rows(since = 0): Generator<RequestRow> {
    const lower = idLowerBound(since);
    for (let after = 0; ; ) {
      const chunks = this.chunksSince(since, after, 16);
      if (!chunks.length) return;
      for (const c of chunks) for (const r of c.rows) if (r.id >= lower) yield r;
      after = chunks[chunks.length - 1]!.id;
    }
  }

  /** Up to `limit` chunks after chunk `afterId` holding rows received since `since`, decoded, in write order. */
  chunksSince(since: number, afterId: number, limit: number): Array<{ id: number; rows: RequestRow[] }> {
    const chunks = this.sqlite
      .query("SELECT id, format, data FROM request_chunks WHERE last_id >= ? AND id > ? ORDER BY id LIMIT ?")
      .all(idLowerBound(since), afterId, limit) as Array<{ id: number; format: number; data: Uint8Array }>;
    return chunks.map((c) => ({ id: c.id, rows: decodeChunk(c.format, c.data) }));
  }

  /**
   * Rewrites up to `limit` chunks stored in an older format (rows moved by migration 0006 are plain
   * JSON) as the writer writes them now (compressed, JSON columns inline), in one transaction;
   * returns how many. Rows, ids and terms stay as they were.
   */
  compressOldChunks(limit: number): number {
    const chunks = this.sqlite
      .query("SELECT id, format, data FROM request_chunks WHERE format < ? LIMIT ?")
      .all(FORMAT_ZSTD_VALUES, limit) as Array<{ id: number; format: number; data: Uint8Array }>;
    this.sqlite.transaction(() => {
      for (const c of chunks) this.rewriteChunk(c.id, decodeChunk(c.format, c.data));
    })();
    return chunks.length;
  }

  /** Stores a chunk's rows again after some were changed (cost recomputation); ids and terms stay. */
  rewriteChunk(id: number, rows: readonly RequestRow[]): void {
    const chunk = new ChunkBuilder(rows.length);
    for (const r of rows) chunk.add(logRowOf(r));
    this.sqlite.query("UPDATE request_chunks SET format = ?, data = ? WHERE id = ?").run(FORMAT_BINARY, chunk.encode(this.onBadValue), id);
  }

  /** How many rows are stored. */
  count(): number {
    return (this.sqlite.query("SELECT coalesce(sum(rows), 0) AS n FROM request_chunks").get() as { n: number }).n;
  }

  /** One request and its stored bodies (gzip; null when bodies were not recorded). */
  get(id: string): { row: RequestRow; requestGz: Uint8Array | null; responseGz: Uint8Array | null } | null {
    const chunks = this.sqlite
      .query("SELECT format, data FROM request_chunks WHERE last_id >= ?1 AND first_id <= ?1 ORDER BY last_id")
      .iterate(id) as IterableIterator<{ format: number; data: Uint8Array }>;
    let row: RequestRow | undefined;
    for (const c of chunks) {
      row = decodeChunk(c.format, c.data).find((r) => r.id === id);
      if (row) break;
    }
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

  /**
   * Models that answered with tokens but had no price, most recent first (for the pricing page),
   * from per-hour counts: `since` is rounded down to its hour.
   */
  unpricedModels(since: number): Array<{ provider: string | null; provider_type: string | null; model: string | null; requests: number; last_seen: number }> {
    return this.sqlite
      .query(
        `SELECT nullif(provider, '') AS provider, nullif(provider_type, '') AS provider_type, nullif(model, '') AS model,
           sum(requests) AS requests, max(last_seen) AS last_seen
         FROM request_unpriced WHERE bucket >= ? GROUP BY provider, provider_type, model HAVING sum(requests) > 0
         ORDER BY last_seen DESC LIMIT 200`,
      )
      .all(since - (since % HOUR)) as never;
  }
}
