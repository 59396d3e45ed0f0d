import type { Attempt } from "../core/gateway.ts";
import type { Usage, Warning } from "../core/types.ts";
import { ChunkBuilder } from "../db/log-chunk.ts";
import { CHUNK_ROWS, type BodyRow, type LogRow, type RequestLogStore, type RowFacts } from "../db/request-log.ts";
import type { Logger } from "../logger.ts";

/** What the request path hands to the recorder once a request has ended. */
export type RequestRecord = {
  id: string;
  receivedAt: number;
  firstByteAt?: number;
  finishedAt: number;
  clientKeyId?: string;
  endpoint: string;
  requestedModel?: string;
  provider?: string;
  providerType?: string;
  upstreamModel?: string;
  responseModel?: string;
  attempts?: Attempt[];
  status: number;
  errorClass?: string;
  errorMessage?: string;
  stream: boolean;
  usage?: Usage;
  warnings?: Warning[];
  clientIp?: string;
  userAgent?: string;
  /** Attribution from the `x-llm-proxy-project` header. */
  project?: string;
  /** Present only when body logging is on; stored gzip-compressed with secrets redacted. */
  bodies?: { request?: unknown; response?: unknown };
  /**
   * Set by the recorder when it prices the record (null = unpriced), so the budget settlement that
   * reads the same record right after does not price it again.
   */
  costPico?: bigint | null;
};

/** Prices a request: an exact integer cost in pico-USD, or null = unpriced (never a silent 0). */
export type Pricer = (input: {
  providerType?: string;
  provider?: string;
  /** Candidate model ids, best first (the model the upstream reported, then the one requested upstream). */
  models: Array<string | undefined>;
  usage: Usage;
}) => { costPico: bigint | null; breakdown?: unknown; entry?: string; rule?: string };

export type RecorderOptions = {
  /**
   * Where rows go. Absent when the request log is off (`[request_log] enabled = false`): rows are
   * still built and priced for `onRecorded` (metrics, provider health), then dropped.
   */
  store?: Pick<RequestLogStore, "writeChunks">;
  log: Logger;
  price?: Pricer;
  /** Longest a row waits in memory (the data lost on SIGKILL is bounded by this). */
  flushIntervalMs: number;
  /** Rows per transaction. */
  batchSize: number;
  /** Queue bound; producers wait (and `stats.waits` counts it) when it is full. */
  capacity: number;
  /** Told about each request as it starts (live "in flight" view); must not throw or block. */
  onStarted?: (id: string, receivedAt: number, endpoint: string, clientKeyId: string | undefined) => void;
  /**
   * The current prices, as an object that is replaced whenever they change (the pricing registry).
   * An unpriced row is priced again at flush only when this has changed since it was recorded;
   * without it, always.
   */
  prices?: () => unknown;
  /**
   * Told about each row as it is recorded, with its attempts (metrics, provider health), whether or
   * not the log is on: the request's objects are still in the CPU's caches then. Must not throw.
   */
  onRecorded?: (row: LogRow, attempts: Attempt[] | undefined) => void;
  /**
   * Told about rows once they are committed (the live table), with a function that builds their
   * facts: call it only when they are needed (the writer keeps no row objects), and only during
   * the call.
   */
  onWritten?: (rows: () => RowFacts[]) => void;
};

/** Words that make a field's name secret wherever they appear in it. */
const SECRET_WORDS = new Set(["secret", "secrets", "password", "passwords", "passwd", "passphrase", "pwd", "token", "authorization", "cookie", "cookies", "credential", "credentials", "apikey", "privatekey", "secretkey", "accesskey"]);
/** `key` is secret after these words (`api_key`, `x-goog-api-key`, `private_key`), not after others (`prompt_cache_key`). */
const KEY_QUALIFIERS = new Set(["api", "private", "secret", "access", "client", "signing", "encryption", "master", "session", "auth", "account", "service"]);
/** Secret only as the whole name: `{"key": …}`, `{"pass": …}`, `{"auth": …}`. */
const SECRET_NAMES = new Set(["key", "pass", "auth"]);

/**
 * Whether a field's name looks like it holds a secret: its words (camelCase, snake_case,
 * kebab-case and dotted names split) include one of SECRET_WORDS, or `key(s)` after a qualifier
 * like `api` or `private`. By words, not substrings: `max_tokens` and `prompt_cache_key` are kept.
 */
export function isSecretName(name: string): boolean {
  const words = name.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
  if (words.length === 1 && SECRET_NAMES.has(words[0]!)) return true;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (SECRET_WORDS.has(w)) return true;
    if ((w === "key" || w === "keys") && i > 0 && KEY_QUALIFIERS.has(words[i - 1]!)) return true;
  }
  return false;
}

/** How deep a stored body is copied; anything deeper is replaced (it could hold a secret). */
const MAX_BODY_DEPTH = 20;

/** Deep copy of a body with secret-looking fields replaced (for stored request/response bodies). */
export function redactBody(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== "object") return value;
  if (depth > MAX_BODY_DEPTH) return "[redacted: nested too deep]";
  if (Array.isArray(value)) return value.map((v) => redactBody(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = isSecretName(k) ? "[redacted]" : redactBody(v, depth + 1);
  return out;
}

/**
 * Whether a request's usage is priced (and billed to its key): everything below 500, and requests
 * the gateway cut off at the end of its shutdown grace period (503 `server_shutdown`: the provider
 * streamed those tokens). Upstream failures (5xx) cost nothing.
 */
export const isPricedOutcome = (status: number, errorClass: string | null | undefined) => status < 500 || errorClass === "server_shutdown";

/** Sets a row's pricing columns from its record's usage (left null when there is nothing to price). */
function priceRow(row: LogRow, r: RequestRecord, price: Pricer | undefined): void {
  const u = r.usage;
  if (!u || (u.inputTokens === undefined && u.outputTokens === undefined) || !price || !isPricedOutcome(r.status, r.errorClass)) return;
  let priced: ReturnType<Pricer>;
  try {
    priced = price({ providerType: r.providerType, provider: r.provider, models: [r.responseModel, r.upstreamModel], usage: u });
  } catch {
    priced = { costPico: null, rule: "error" };
  }
  row.pricing_entry = priced.entry ?? null;
  row.pricing_rule = priced.rule ?? null;
  row.cost_pico = priced.costPico ?? null;
  row.cost_breakdown = priced.breakdown ?? null;
  r.costPico = row.cost_pico;
}

/**
 * The row for a record, its JSON columns as values (serialised with the rest of its chunk when the
 * batch is written). Never throws: it runs on the request path (see `Recorder.record`).
 */
function toRow(r: RequestRecord, price: Pricer | undefined): LogRow {
  const u = r.usage;
  const row: LogRow = {
    id: r.id,
    received_at: r.receivedAt,
    first_byte_at: r.firstByteAt ?? null,
    finished_at: r.finishedAt,
    client_key_id: r.clientKeyId ?? null,
    endpoint: r.endpoint,
    requested_model: r.requestedModel ?? null,
    provider: r.provider ?? null,
    provider_type: r.providerType ?? null,
    upstream_model: r.upstreamModel ?? null,
    response_model: r.responseModel ?? null,
    pricing_entry: null,
    pricing_rule: null,
    attempts: r.attempts?.length ? r.attempts : null,
    status: r.status,
    error_class: r.errorClass ?? null,
    error_message: r.errorMessage?.slice(0, 1000) ?? null,
    stream: r.stream ? 1 : 0,
    input_tokens: u?.inputTokens ?? null,
    cached_tokens: u?.cachedInputTokens ?? null,
    cache_write_tokens: u?.cacheWriteInputTokens ?? null,
    output_tokens: u?.outputTokens ?? null,
    reasoning_tokens: u?.reasoningTokens ?? null,
    usage_estimated: u?.estimated ? 1 : 0,
    usage_raw: (u?.raw ?? null) as object | null, // the provider's usage object (any JSON value is stored as is)
    cost_pico: null,
    cost_breakdown: null,
    warnings: r.warnings?.length ? r.warnings : null,
    latency_ms: Math.max(0, r.finishedAt - r.receivedAt),
    ttfb_ms: r.firstByteAt !== undefined ? Math.max(0, r.firstByteAt - r.receivedAt) : null,
    client_ip: r.clientIp ?? null,
    user_agent: r.userAgent?.slice(0, 500) ?? null,
    project: r.project ?? null,
  };
  priceRow(row, r, price);
  return row;
}

/**
 * What the writer still needs for a queued row besides the row: its bodies (when stored), and for a
 * row that had usage but no price, its record and the prices it was priced with: the writer prices
 * it again if those have changed since (the registry loads in the background at startup, so a
 * price may have arrived by then).
 */
type Extra = { bodies?: RequestRecord["bodies"]; unpriced?: { record: RequestRecord; row: LogRow; prices: unknown } };

/**
 * The request log writer: a bounded in-memory queue drained by one writer in batched
 * transactions. `record()` never touches the database; the request path never awaits a write
 * (it awaits only when the queue is full, which `stats.waits` counts). Nothing is dropped: a
 * failed flush keeps its rows queued and is retried.
 */
export class Recorder {
  /**
   * Rows waiting for the writer, in chunks as they will be stored (log-chunk.ts: numbers and
   * string references, filled as each request is recorded; no row objects), oldest first; the
   * last one is being filled.
   */
  private chunks: ChunkBuilder[] = [];
  /** Rows in `chunks`. */
  private count = 0;
  /**
   * What a few queued rows need besides their columns (bodies to store, or a row to price again),
   * in queue order; empty unless some row has any (most requests have neither).
   */
  private extras: Array<{ chunk: ChunkBuilder; index: number; extra: Extra }> = [];
  private waiters: Array<() => void> = [];
  /** Armed while rows are queued (see start()). */
  private timer: ReturnType<typeof setTimeout> | undefined;
  private started = false;
  private flushScheduled = false;
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  /** Rows per chunk: CHUNK_ROWS, or fewer when a batch is smaller. */
  private readonly chunkRows: number;
  readonly stats = { recorded: 0, written: 0, flushes: 0, waits: 0, failures: 0 };

  constructor(private readonly options: RecorderOptions) {
    this.chunkRows = Math.max(1, Math.min(CHUNK_ROWS, options.batchSize));
  }

  /**
   * Starts the writer. Its timer runs only while rows wait: the first row queued into an empty
   * queue arms it for `flushIntervalMs` (so no row waits longer), and an idle gateway has no
   * recorder wake-ups at all (a fixed interval woke the event loop 20 times a second for nothing).
   */
  start(): void {
    if (!this.options.store) return; // the log is off: nothing is ever queued
    this.started = true;
    if (this.count) this.armTimer();
  }

  private armTimer(): void {
    this.timer ??= setTimeout(this.onTimer, this.options.flushIntervalMs);
  }

  private readonly onTimer = () => {
    this.timer = undefined;
    this.scheduleFlush();
  };

  /** Marks a request as started; `stop()` waits for every begun request to be recorded. */
  begin(id?: string, receivedAt = 0, endpoint = "", clientKeyId?: string): void {
    this.inFlight++;
    if (id !== undefined && this.options.onStarted) {
      try {
        this.options.onStarted(id, receivedAt, endpoint, clientKeyId);
      } catch {}
    }
  }

  /** Requests begun and not yet recorded. */
  get inFlightCount(): number {
    return this.inFlight;
  }

  /**
   * Queues one row. Resolves at once unless the queue is full (then after the next flush). The row
   * is built and priced here, while the request's objects are fresh in the CPU's caches: built at
   * flush time, 500 at a time, it cost more (in alternating server runs, 1.6–3.7 µs per request
   * more, median of pairs; see README).
   */
  record(record: RequestRecord, begun = true): Promise<void> | void {
    if (begun) this.end();
    this.stats.recorded++;
    const row = toRow(record, this.options.price);
    if (this.options.onRecorded) {
      try {
        this.options.onRecorded(row, record.attempts);
      } catch (e) {
        this.options.log.error("request listener failed", { error: (e as Error).message });
      }
    }
    if (!this.options.store) return;
    const unpriced = row.pricing_rule === "unpriced" ? { record, row, prices: this.options.prices?.() } : undefined;
    return this.enqueue(row, record.bodies || unpriced ? { bodies: record.bodies, unpriced } : undefined);
  }

  /** Copies the row into the chunk being filled (the row object is not kept). */
  private enqueue(row: LogRow, extra: Extra | undefined): Promise<void> | void {
    if (this.count >= this.options.capacity) return this.enqueueLater(row, extra);
    const chunks = this.chunks;
    let chunk = chunks.length ? chunks[chunks.length - 1]! : undefined; // no chunks[-1]: JSC deoptimises on a negative index
    if (chunk === undefined || chunk.full) chunks.push((chunk = new ChunkBuilder(this.chunkRows)));
    const index = chunk.add(row);
    if (extra) this.extras.push({ chunk, index, extra });
    if (this.count++ === 0 && this.started) this.armTimer();
    if (this.count >= this.options.batchSize) this.scheduleFlush();
  }

  /** The queue is full: waits for the next flush, then queues (its own method, so enqueue() allocates no closure scope per call). */
  private async enqueueLater(row: LogRow, extra: Extra | undefined): Promise<void> {
    this.stats.waits++;
    this.scheduleFlush();
    await new Promise<void>((resolve) => this.waiters.push(resolve));
    return this.enqueue(row, extra);
  }

  /** A begun request that ends without a row (it never passed authentication). */
  end(): void {
    if (this.inFlight > 0 && --this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /**
   * Background draining writes one batch per event-loop turn and yields in between, so requests
   * are served between transactions instead of waiting behind a whole backlog.
   */
  private scheduleFlush() {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      const ok = this.writeOneBatch();
      if (!this.count) {
        clearTimeout(this.timer); // nothing waits: no wake-up until the next row
        this.timer = undefined;
      } else if (ok) this.scheduleFlush();
      else if (this.started) this.armTimer(); // retried after an interval
    });
  }

  /** Writes everything queued now, in transactions of `batchSize` rows. Synchronous. */
  flush(): void {
    while (this.count) if (!this.writeOneBatch()) return;
  }

  /**
   * Writes the oldest queued chunks, `batchSize` rows or just over (whole chunks), in one
   * transaction; false when the write failed (then everything stays queued).
   */
  private writeOneBatch(): boolean {
    if (!this.count) return true;
    let k = 0;
    let n = 0;
    while (k < this.chunks.length && n < this.options.batchSize) n += this.chunks[k++]!.length;
    const chunks = k === this.chunks.length ? this.chunks : this.chunks.slice(0, k);
    let e = 0;
    while (e < this.extras.length && chunks.includes(this.extras[e]!.chunk)) e++;
    try {
      const bodies: BodyRow[] = [];
      if (e) {
        const prices = this.options.prices?.();
        for (let i = 0; i < e; i++) {
          const { chunk, index, extra: x } = this.extras[i]!;
          if (x.unpriced && !(this.options.prices && x.unpriced.prices === prices)) {
            const { row, record } = x.unpriced;
            priceRow(row, record, this.options.price);
            chunk.set(index, row);
            x.unpriced = row.pricing_rule === "unpriced" ? { record, row, prices } : undefined;
          }
          if (x.bodies) {
            bodies.push({
              id: chunk.ids[index]!,
              request: x.bodies.request !== undefined ? Bun.gzipSync(JSON.stringify(redactBody(x.bodies.request))) : null,
              response: x.bodies.response !== undefined ? Bun.gzipSync(JSON.stringify(redactBody(x.bodies.response))) : null,
            });
          }
        }
      }
      this.options.store!.writeChunks(chunks, bodies);
    } catch (e) {
      this.stats.failures++;
      this.options.log.error("request log flush failed; rows stay queued and are retried", {
        queued: this.count,
        error: (e as Error).message,
      });
      return false;
    }
    if (chunks === this.chunks) this.chunks = [];
    else this.chunks.splice(0, k);
    if (e) this.extras.splice(0, e);
    this.count -= n;
    if (this.options.onWritten) {
      try {
        this.options.onWritten(() => chunks.flatMap((c) => c.allFacts()));
      } catch (e) {
        this.options.log.error("request log listener failed", { error: (e as Error).message });
      }
    }
    this.stats.written += n;
    this.stats.flushes++;
    for (const w of this.waiters.splice(0, this.options.capacity - this.count)) w();
    return true;
  }

  get queued(): number {
    return this.count;
  }

  /** Waits (bounded) for in-flight requests to record their rows, then flushes everything. */
  async stop(waitMs = 5000): Promise<void> {
    this.started = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.inFlight > 0) {
      await Promise.race([new Promise<void>((r) => this.idleWaiters.push(r)), Bun.sleep(waitMs)]);
    }
    // Producers that were waiting for room re-queue after each flush; drain until quiet.
    for (let i = 0; i < 100 && (this.count || this.waiters.length); i++) {
      this.flush();
      await Promise.resolve();
    }
    this.flush();
  }
}
