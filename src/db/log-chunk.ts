/**
 * The request log's binary chunk format (format 3): a chunk's rows as columns of numbers and of
 * string references, filled as each request is recorded, so the writer keeps no row objects and
 * serialises no rows.
 *
 * Why: rows kept as objects until the flush were cold by then (a server does hundreds of requests
 * in between) and survived young-generation GCs; `JSON.stringify` of such rows cost 2–3 µs per
 * row inside the server, and a hand-written string encoder or `bun:jsc` `serialize` was slower
 * still (README, session 15). Here `add()` copies a row's numbers into a Float64Array and its
 * strings into a per-chunk dictionary while the row is still in the CPU's caches, and the row
 * object dies young. The provider's raw usage object is stored the same way: its shape (keys and
 * what each holds) once per chunk, its numbers and string references per row. Only what fits no
 * column (several or failed attempts, a tiered cost, warnings, a usage with arrays) is kept as a
 * value and serialised with the chunk header.
 *
 * Layout, zstd-compressed (level 1), little-endian: u32 length of the header; the header (UTF-8
 * JSON: strings, ids, usage objects kept as is, usage shapes, rare values); zero padding to a
 * multiple of 8; `rows × NUM` float64 (NaN = null); `rows × STR` int32 (string index, -1 = null);
 * padding to 8; the usage values (float64).
 */
import { rowValues, type LogRow, type RequestRow, type RowFacts } from "./request-log.ts";

/** Number columns: the row's, then a plain attempt's key index and duration, then a plain cost breakdown. */
const N = {
  received_at: 0, first_byte_at: 1, finished_at: 2, status: 3, stream: 4, input_tokens: 5, cached_tokens: 6,
  cache_write_tokens: 7, output_tokens: 8, reasoning_tokens: 9, usage_estimated: 10, cost_pico: 11, latency_ms: 12,
  ttfb_ms: 13, attempt_key: 14, attempt_ms: 15, b_input: 16, b_cache_read: 17, b_cache_write: 18, b_output: 19,
  b_reasoning: 20, usage_at: 21,
} as const;
const NUM = 22;
/** String columns: the row's, then a plain attempt's target. */
const S = {
  client_key_id: 0, endpoint: 1, requested_model: 2, provider: 3, provider_type: 4, upstream_model: 5,
  response_model: 6, pricing_entry: 7, pricing_rule: 8, error_class: 9, error_message: 10, client_ip: 11,
  user_agent: 12, project: 13, attempt_target: 14, usage_shape: 15,
} as const;
const STR = 16;

/** What a row holds besides its columns: values stored as JSON in the header (rare), by row. */
type Rare = { attempts?: unknown; cost_breakdown?: unknown; warnings?: unknown; row?: unknown[] };

/** A number column's value: NaN (and any non-finite value, as JSON would have it) is null. */
const orNull = (v: number) => (Number.isFinite(v) ? v : null);
const isNum = (v: unknown): v is number => typeof v === "number";
const numOrNull = (v: unknown) => v === null || typeof v === "number";
const strOrNull = (v: unknown) => v === null || typeof v === "string";

/** Whether `o`'s own keys are exactly `keys`, in that order (so its JSON text can be rebuilt from the values). */
function hasKeys(o: object, keys: readonly string[]): boolean {
  let i = 0;
  for (const k in o) if (k !== keys[i++]) return false;
  return i === keys.length;
}

const ATTEMPT_KEYS = ["target", "keyIndex", "ok", "durationMs"];

/** The one attempt of a request that succeeded at once, as the gateway builds it (keys in this order, nothing else). */
function plainAttempt(attempts: unknown): { target: string; keyIndex: number; durationMs: number } | undefined {
  if (!Array.isArray(attempts) || attempts.length !== 1) return undefined;
  const a = attempts[0] as Record<string, unknown>;
  if (a === null || typeof a !== "object" || a.ok !== true || typeof a.target !== "string" || !isNum(a.keyIndex) || !isNum(a.durationMs)) return undefined;
  return hasKeys(a, ATTEMPT_KEYS) ? (a as { target: string; keyIndex: number; durationMs: number }) : undefined;
}

const BREAKDOWN_KEYS = ["unit", "total", "input", "cache_read", "cache_write", "output", "reasoning"];

/** A cost breakdown as the pricer builds it for an untiered, exact price whose total is the row's cost. */
function plainBreakdown(b: unknown, cost: number): Record<string, number> | undefined {
  if (b === null || typeof b !== "object" || Array.isArray(b)) return undefined;
  const o = b as Record<string, unknown>;
  if (o.unit !== "pico-usd" || o.total !== cost || !isNum(o.input) || !isNum(o.cache_read) || !isNum(o.cache_write) || !isNum(o.output) || !isNum(o.reasoning)) return undefined;
  return hasKeys(o, BREAKDOWN_KEYS) ? (o as Record<string, number>) : undefined;
}

/** Kinds of a value in a usage shape. */
const K_NUM = 0;
const K_STR = 1;
const K_OBJ = 2;
const K_NULL = 3;
/** Shapes of raw usage objects per chunk (providers differ; one provider's objects share one). */
const MAX_SHAPES = 32;

/**
 * The shape of a provider's raw usage object: its keys in order and what each holds (a finite
 * number, a string, null, or an object of some shape). Stored once per chunk; each row stores
 * only the values (numbers, and string references). Anything else (an array, a boolean, a class
 * instance, more than 4 levels) is kept as the object and serialised with the chunk header.
 */
type Shape = { keys: string[]; kinds: number[]; children: Array<Shape | null>; leaves: number };

const isPlain = (o: object) => {
  const proto = Object.getPrototypeOf(o);
  return proto === Object.prototype || proto === null;
};

function shapeOf(o: unknown, depth: number): Shape | undefined {
  if (o === null || typeof o !== "object" || depth > 4 || !isPlain(o)) return undefined;
  const shape: Shape = { keys: [], kinds: [], children: [], leaves: 0 };
  const obj = o as Record<string, unknown>;
  for (const k in obj) {
    const v = obj[k];
    let kind: number;
    let child: Shape | null = null;
    if (typeof v === "number") {
      if (!Number.isFinite(v)) return undefined;
      kind = K_NUM;
      shape.leaves++;
    } else if (typeof v === "string") {
      kind = K_STR;
      shape.leaves++;
    } else if (v === null) kind = K_NULL;
    else {
      const c = shapeOf(v, depth + 1);
      if (!c) return undefined;
      kind = K_OBJ;
      child = c;
      shape.leaves += c.leaves;
    }
    shape.keys.push(k);
    shape.kinds.push(kind);
    shape.children.push(child);
  }
  return shape;
}

/** A usage object from its shape and values (the inverse of `ChunkBuilder.writeUsage`); returns the next position. */
function buildUsage(shape: Shape, values: Float64Array, at: number, strings: string[], out: Record<string, unknown>): number {
  for (let i = 0; i < shape.keys.length; i++) {
    const kind = shape.kinds[i];
    const key = shape.keys[i]!;
    if (kind === K_NUM) out[key] = values[at++];
    else if (kind === K_STR) out[key] = strings[values[at++]!];
    else if (kind === K_NULL) out[key] = null;
    else {
      const child: Record<string, unknown> = {};
      at = buildUsage(shape.children[i]!, values, at, strings, child);
      out[key] = child;
    }
  }
  return at;
}

/**
 * The rows of one chunk being filled (at most `capacity`), written as one `request_chunks` row.
 * Rows can be replaced (`set`) until the chunk is written, e.g. when a row is priced again.
 */
export class ChunkBuilder {
  readonly ids: string[] = [];
  private readonly nums: Float64Array;
  private readonly strs: Int32Array;
  private readonly dict = new Map<string, number>();
  /** Each string column's last string and its reference: rows in a row mostly repeat them (no hashing then). */
  private readonly lastString: Array<string | null> = new Array(STR).fill(null);
  private readonly lastRef = new Int32Array(STR).fill(-1);
  private readonly strings: string[] = [];
  /** Raw usage objects kept as they are (no shape fits); undefined for most rows. */
  private readonly usage: unknown[] = [];
  private readonly shapes: Shape[] = [];
  /** The values of the rows' raw usages, by shape (see `usage_at`, `usage_shape`). */
  private usageValues: Float64Array;
  private usageLength = 0;
  private rare: Array<Rare | undefined> | undefined;

  constructor(readonly capacity: number) {
    this.nums = new Float64Array(capacity * NUM);
    this.strs = new Int32Array(capacity * STR);
    this.usageValues = new Float64Array(capacity * 8);
  }

  get length(): number {
    return this.ids.length;
  }

  get full(): boolean {
    return this.ids.length >= this.capacity;
  }

  /** Appends a row; returns its index in the chunk. */
  add(r: LogRow): number {
    const i = this.ids.length;
    this.ids.push(r.id);
    this.usage.push(undefined);
    this.set(i, r);
    return i;
  }

  /** Stores row `i` (appended before) as `r`. */
  set(i: number, r: LogRow): void {
    this.ids[i] = r.id;
    const n = this.nums;
    const o = i * NUM;
    const cost = r.cost_pico;
    const costNumber = cost === null ? null : Number(cost);
    if (
      !isNum(r.received_at) || !numOrNull(r.first_byte_at) || !isNum(r.finished_at) || !isNum(r.status) || !isNum(r.stream) ||
      !numOrNull(r.input_tokens) || !numOrNull(r.cached_tokens) || !numOrNull(r.cache_write_tokens) || !numOrNull(r.output_tokens) ||
      !numOrNull(r.reasoning_tokens) || !isNum(r.usage_estimated) || !isNum(r.latency_ms) || !numOrNull(r.ttfb_ms) ||
      (costNumber !== null && !Number.isSafeInteger(costNumber)) || typeof r.endpoint !== "string" || !strOrNull(r.client_key_id) ||
      !strOrNull(r.requested_model) || !strOrNull(r.provider) || !strOrNull(r.provider_type) || !strOrNull(r.upstream_model) ||
      !strOrNull(r.response_model) || !strOrNull(r.pricing_entry) || !strOrNull(r.pricing_rule) || !strOrNull(r.error_class) ||
      !strOrNull(r.error_message) || !strOrNull(r.client_ip) || !strOrNull(r.user_agent) || !strOrNull(r.project) || typeof r.id !== "string"
    ) {
      // Not what the recorder produces (a cost past 2^53 pico-USD, a value of another type): the row as JSON.
      const values = rowValues(r);
      // A cost as an exact number, or past 2^53 pico-USD as a string of digits (read back as a bigint).
      if (typeof cost === "bigint") values[25] = Number.isSafeInteger(costNumber) ? costNumber : cost.toString();
      this.setRare(i, { row: values });
      this.usage[i] = undefined;
      return;
    }
    n[o + N.received_at] = r.received_at;
    n[o + N.first_byte_at] = r.first_byte_at ?? NaN;
    n[o + N.finished_at] = r.finished_at;
    n[o + N.status] = r.status;
    n[o + N.stream] = r.stream;
    n[o + N.input_tokens] = r.input_tokens ?? NaN;
    n[o + N.cached_tokens] = r.cached_tokens ?? NaN;
    n[o + N.cache_write_tokens] = r.cache_write_tokens ?? NaN;
    n[o + N.output_tokens] = r.output_tokens ?? NaN;
    n[o + N.reasoning_tokens] = r.reasoning_tokens ?? NaN;
    n[o + N.usage_estimated] = r.usage_estimated;
    n[o + N.cost_pico] = costNumber ?? NaN;
    n[o + N.latency_ms] = r.latency_ms;
    n[o + N.ttfb_ms] = r.ttfb_ms ?? NaN;
    const s = this.strs;
    const so = i * STR;
    s[so + S.client_key_id] = this.column(S.client_key_id, r.client_key_id);
    s[so + S.endpoint] = this.column(S.endpoint, r.endpoint);
    s[so + S.requested_model] = this.column(S.requested_model, r.requested_model);
    s[so + S.provider] = this.column(S.provider, r.provider);
    s[so + S.provider_type] = this.column(S.provider_type, r.provider_type);
    s[so + S.upstream_model] = this.column(S.upstream_model, r.upstream_model);
    s[so + S.response_model] = this.column(S.response_model, r.response_model);
    s[so + S.pricing_entry] = this.column(S.pricing_entry, r.pricing_entry);
    s[so + S.pricing_rule] = this.column(S.pricing_rule, r.pricing_rule);
    s[so + S.error_class] = this.column(S.error_class, r.error_class);
    s[so + S.error_message] = this.column(S.error_message, r.error_message);
    s[so + S.client_ip] = this.column(S.client_ip, r.client_ip);
    s[so + S.user_agent] = this.column(S.user_agent, r.user_agent);
    s[so + S.project] = this.column(S.project, r.project);
    const u = r.usage_raw;
    this.usage[i] = undefined;
    s[so + S.usage_shape] = -1;
    if (u !== null && u !== undefined) {
      const at = this.usageLength;
      const shape = this.usageShape(u, at);
      if (shape >= 0) {
        s[so + S.usage_shape] = shape;
        n[o + N.usage_at] = at;
      } else this.usage[i] = u;
    }
    let rare: Rare | undefined;
    const attempt = r.attempts === null ? undefined : plainAttempt(r.attempts);
    if (attempt) {
      s[so + S.attempt_target] = this.ref(attempt.target);
      n[o + N.attempt_key] = attempt.keyIndex;
      n[o + N.attempt_ms] = attempt.durationMs;
    } else {
      s[so + S.attempt_target] = -1;
      if (r.attempts !== null) (rare ??= {}).attempts = r.attempts;
    }
    const breakdown = r.cost_breakdown === null || costNumber === null ? undefined : plainBreakdown(r.cost_breakdown, costNumber);
    if (breakdown) {
      n[o + N.b_input] = breakdown.input!;
      n[o + N.b_cache_read] = breakdown.cache_read!;
      n[o + N.b_cache_write] = breakdown.cache_write!;
      n[o + N.b_output] = breakdown.output!;
      n[o + N.b_reasoning] = breakdown.reasoning!;
    } else {
      n[o + N.b_input] = NaN;
      if (r.cost_breakdown !== null) (rare ??= {}).cost_breakdown = r.cost_breakdown;
    }
    if (r.warnings !== null) (rare ??= {}).warnings = r.warnings;
    if (rare || this.rare?.[i]) this.setRare(i, rare);
  }

  private setRare(i: number, rare: Rare | undefined): void {
    this.rare ??= [];
    this.rare[i] = rare;
  }

  /** Writes a raw usage's values at `at` by a shape of this chunk (made if none fits); its index, or -1. */
  private usageShape(u: object, at: number): number {
    for (let k = this.shapes.length - 1; k >= 0; k--) {
      const end = this.writeUsage(u, this.shapes[k]!, at, true);
      if (end >= 0) {
        this.usageLength = end;
        return k;
      }
    }
    if (this.shapes.length >= MAX_SHAPES) return -1;
    const shape = shapeOf(u, 0);
    if (!shape) return -1;
    this.shapes.push(shape);
    this.usageLength = this.writeUsage(u, shape, at, true);
    return this.shapes.length - 1;
  }

  /** Writes `o`'s values at `at` when it has `shape`; returns the position after them, or -1. */
  private writeUsage(o: unknown, shape: Shape, at: number, top: boolean): number {
    if (o === null || typeof o !== "object" || !isPlain(o)) return -1;
    if (top && at + shape.leaves > this.usageValues.length) {
      const grown = new Float64Array(Math.max(this.usageValues.length * 2, at + shape.leaves));
      grown.set(this.usageValues.subarray(0, at));
      this.usageValues = grown;
    }
    const values = this.usageValues;
    const obj = o as Record<string, unknown>;
    let i = 0;
    for (const k in obj) {
      if (k !== shape.keys[i]) return -1;
      const v = obj[k];
      const kind = shape.kinds[i];
      if (kind === K_NUM) {
        if (typeof v !== "number" || !Number.isFinite(v)) return -1;
        values[at++] = v;
      } else if (kind === K_STR) {
        if (typeof v !== "string") return -1;
        values[at++] = this.ref(v);
      } else if (kind === K_NULL) {
        if (v !== null) return -1;
      } else {
        at = this.writeUsage(v, shape.children[i]!, at, false);
        if (at < 0) return -1;
      }
      i++;
    }
    return i === shape.keys.length ? at : -1;
  }

  /** A string column's reference for `v` (the last one again when `v` equals the column's last string). */
  private column(c: number, v: string | null): number {
    if (v === this.lastString[c]) return this.lastRef[c]!; // -1 while the last was null
    const k = this.ref(v);
    this.lastString[c] = v;
    this.lastRef[c] = k;
    return k;
  }

  private ref(v: string | null): number {
    if (v === null) return -1;
    let k = this.dict.get(v);
    if (k === undefined) {
      k = this.strings.length;
      this.strings.push(v);
      this.dict.set(v, k);
    }
    return k;
  }

  /**
   * Fills `f` with row `i`'s facts (what rollups, chunk terms and the live view read), without a
   * new object per row.
   */
  facts(i: number, f: RowFacts): RowFacts {
    const row = this.rare?.[i]?.row;
    if (row) {
      const { attempts: _a, usage_raw: _u, cost_breakdown: _b, warnings: _w, ...facts } = rowOfValues(row, false);
      return Object.assign(f, facts);
    }
    return readRow(this.nums, this.strs, this.strings, this.ids[i]!, i, f);
  }

  /** Every row's facts, each its own object (the live table, once a chunk is written). */
  allFacts(): RowFacts[] {
    const out: RowFacts[] = new Array(this.length);
    for (let i = 0; i < out.length; i++) out[i] = this.facts(i, {} as RowFacts);
    return out;
  }

  /**
   * The chunk's stored bytes (zstd level 1). A value in the header that cannot be serialised (a
   * cycle, a bigint inside the raw usage) is stored as null and reported, instead of failing the
   * batch on every retry.
   */
  encode(onBadValue?: (column: string, error: Error) => void): Uint8Array {
    const rows = this.length;
    const rare = this.rare ? Array.from({ length: rows }, (_, i) => this.rare![i] ?? null) : null;
    const header = { strings: this.strings, ids: this.ids, usage: this.usage, shapes: this.shapes, rare };
    let text: string;
    try {
      text = JSON.stringify(header);
    } catch {
      const check = (value: unknown, column: string) => {
        try {
          JSON.stringify(value);
          return value;
        } catch (e) {
          onBadValue?.(column, e as Error);
          return null;
        }
      };
      for (let i = 0; i < rows; i++) {
        this.usage[i] = check(this.usage[i], "usage_raw");
        const x = rare?.[i];
        if (!x) continue;
        for (const k of ["attempts", "cost_breakdown", "warnings"] as const) if (k in x) x[k] = check(x[k], k);
        // A row stored whole: its JSON columns.
        if (x.row) for (const [at, column] of [[13, "attempts"], [24, "usage_raw"], [26, "cost_breakdown"], [27, "warnings"]] as const) x.row[at] = check(x.row[at], column);
      }
      text = JSON.stringify(header);
    }
    const head = new TextEncoder().encode(text);
    const numAt = (4 + head.length + 7) & ~7;
    const strAt = numAt + rows * NUM * 8;
    const usageAt = (strAt + rows * STR * 4 + 7) & ~7;
    const out = new Uint8Array(usageAt + this.usageLength * 8);
    new DataView(out.buffer).setUint32(0, head.length, true);
    out.set(head, 4);
    out.set(new Uint8Array(this.nums.buffer, 0, rows * NUM * 8), numAt);
    out.set(new Uint8Array(this.strs.buffer, 0, rows * STR * 4), strAt);
    out.set(new Uint8Array(this.usageValues.buffer, 0, this.usageLength * 8), usageAt);
    return Bun.zstdCompressSync(out, { level: 1 });
  }
}

/**
 * A string column's value: null for -1. (Indexing the array with -1 instead made JSC's optimised
 * code exit with NegativeIndex on every null column and be recompiled, over and over.)
 */
const at = (strings: readonly string[], k: number): string | null => (k < 0 ? null : strings[k]!);

/** A row's JSON columns, as text. */
type JsonText = { attempts: string | null; usage_raw: string | null; cost_breakdown: string | null; warnings: string | null };

/**
 * Row `i`'s columns into `f`, in `COLUMNS` order: its facts, and with `json` (a row read back) its
 * JSON columns in their places. The one mapping from columns to fields, for the writer's facts and
 * for reading.
 */
function readRow(n: Float64Array, s: Int32Array, str: readonly string[], id: string, i: number, f: RowFacts, json?: JsonText): RowFacts {
  const o = i * NUM;
  const so = i * STR;
  const r = f as RowFacts & Partial<JsonText>;
  r.id = id;
  r.received_at = n[o + N.received_at]!;
  r.first_byte_at = orNull(n[o + N.first_byte_at]!);
  r.finished_at = n[o + N.finished_at]!;
  r.client_key_id = at(str, s[so + S.client_key_id]!);
  r.endpoint = at(str, s[so + S.endpoint]!)!;
  r.requested_model = at(str, s[so + S.requested_model]!);
  r.provider = at(str, s[so + S.provider]!);
  r.provider_type = at(str, s[so + S.provider_type]!);
  r.upstream_model = at(str, s[so + S.upstream_model]!);
  r.response_model = at(str, s[so + S.response_model]!);
  r.pricing_entry = at(str, s[so + S.pricing_entry]!);
  r.pricing_rule = at(str, s[so + S.pricing_rule]!);
  if (json) r.attempts = json.attempts;
  r.status = n[o + N.status]!;
  r.error_class = at(str, s[so + S.error_class]!);
  r.error_message = at(str, s[so + S.error_message]!);
  r.stream = n[o + N.stream]!;
  r.input_tokens = orNull(n[o + N.input_tokens]!);
  r.cached_tokens = orNull(n[o + N.cached_tokens]!);
  r.cache_write_tokens = orNull(n[o + N.cache_write_tokens]!);
  r.output_tokens = orNull(n[o + N.output_tokens]!);
  r.reasoning_tokens = orNull(n[o + N.reasoning_tokens]!);
  r.usage_estimated = n[o + N.usage_estimated]!;
  if (json) r.usage_raw = json.usage_raw;
  r.cost_pico = orNull(n[o + N.cost_pico]!);
  if (json) {
    r.cost_breakdown = json.cost_breakdown;
    r.warnings = json.warnings;
  }
  r.latency_ms = n[o + N.latency_ms]!;
  r.ttfb_ms = orNull(n[o + N.ttfb_ms]!);
  r.client_ip = at(str, s[so + S.client_ip]!);
  r.user_agent = at(str, s[so + S.user_agent]!);
  r.project = at(str, s[so + S.project]!);
  return r;
}

const asText = (value: unknown) => (value === null || value === undefined ? null : JSON.stringify(value));

/** A row from its values in `COLUMNS` order (JSON columns as values when `inline`, else as text). */
export function rowOfValues(v: unknown[], inline: boolean): RequestRow {
  const cost = v[25];
  return {
    id: v[0], received_at: v[1], first_byte_at: v[2], finished_at: v[3], client_key_id: v[4], endpoint: v[5],
    requested_model: v[6], provider: v[7], provider_type: v[8], upstream_model: v[9], response_model: v[10],
    pricing_entry: v[11], pricing_rule: v[12], attempts: inline ? asText(v[13]) : v[13], status: v[14], error_class: v[15],
    error_message: v[16], stream: v[17], input_tokens: v[18], cached_tokens: v[19], cache_write_tokens: v[20],
    output_tokens: v[21], reasoning_tokens: v[22], usage_estimated: v[23], usage_raw: inline ? asText(v[24]) : v[24],
    cost_pico: typeof cost === "string" ? BigInt(cost) : cost, cost_breakdown: inline ? asText(v[26]) : v[26],
    warnings: inline ? asText(v[27]) : v[27], latency_ms: v[28], ttfb_ms: v[29], client_ip: v[30], user_agent: v[31],
    project: v[32],
  } as RequestRow;
}

/** The rows of a format-3 chunk, in the order they were added, JSON columns as text. */
export function decodeBinaryChunk(data: Uint8Array): RequestRow[] {
  const bytes = Bun.zstdDecompressSync(data);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headLength = view.getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + headLength))) as {
    strings: string[];
    ids: string[];
    usage: unknown[];
    shapes: Shape[];
    rare: Array<Rare | null> | null;
  };
  const rows = header.ids.length;
  const numAt = (4 + headLength + 7) & ~7;
  const strAt = numAt + rows * NUM * 8;
  // Copies: the decompressed buffer's offset need not be aligned for typed-array views.
  const nums = new Float64Array(bytes.buffer.slice(bytes.byteOffset + numAt, bytes.byteOffset + strAt));
  const usageAt = (strAt + rows * STR * 4 + 7) & ~7;
  const strs = new Int32Array(bytes.buffer.slice(bytes.byteOffset + strAt, bytes.byteOffset + strAt + rows * STR * 4));
  const usageValues = new Float64Array(bytes.buffer.slice(bytes.byteOffset + usageAt, bytes.byteOffset + bytes.byteLength));
  const str = header.strings;
  const out: RequestRow[] = new Array(rows);
  for (let i = 0; i < rows; i++) {
    const rare = header.rare?.[i] ?? undefined;
    if (rare?.row) {
      out[i] = rowOfValues(rare.row, true);
      continue;
    }
    const o = i * NUM;
    const so = i * STR;
    const shape = strs[so + S.usage_shape]!;
    let usage: unknown = header.usage[i];
    if (shape >= 0) buildUsage(header.shapes[shape]!, usageValues, nums[o + N.usage_at]!, str, (usage = {}));
    const target = strs[so + S.attempt_target]!;
    const json: JsonText = {
      attempts:
        rare && "attempts" in rare
          ? asText(rare.attempts)
          : target >= 0
            ? JSON.stringify([{ target: str[target], keyIndex: nums[o + N.attempt_key], ok: true, durationMs: nums[o + N.attempt_ms] }])
            : null,
      usage_raw: asText(usage),
      cost_breakdown:
        rare && "cost_breakdown" in rare
          ? asText(rare.cost_breakdown)
          : orNull(nums[o + N.b_input]!) !== null
            ? JSON.stringify({
                unit: "pico-usd", total: orNull(nums[o + N.cost_pico]!), input: nums[o + N.b_input], cache_read: nums[o + N.b_cache_read],
                cache_write: nums[o + N.b_cache_write], output: nums[o + N.b_output], reasoning: nums[o + N.b_reasoning],
              })
            : null,
      warnings: rare && "warnings" in rare ? asText(rare.warnings) : null,
    };
    out[i] = readRow(nums, strs, str, header.ids[i]!, i, {} as RowFacts, json) as RequestRow;
  }
  return out;
}
