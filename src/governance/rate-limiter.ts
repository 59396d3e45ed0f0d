import type { Awaitable, Clock } from "./ledger.ts";

const WINDOW_MS = 60_000;

/** Per-minute limits of one key; null = unlimited. */
export type RateLimits = { rpm: number | null; tpm: number | null };

/** One limit's state, as the `x-ratelimit-*` headers report it. */
export type RateWindow = {
  limit: number;
  /** What can be used right now (whole requests/tokens). */
  remaining: number;
  /** Milliseconds until the limit is back to its full capacity. */
  resetMs: number;
};

/** Present only for the limits a key has. */
export type RateState = { requests?: RateWindow; tokens?: RateWindow };

/** What one admitted request took; settle or cancel it exactly once. */
export type RatePermit = { readonly keyId: string; readonly requests: number; readonly tokens: number };

export type AdmitResult =
  | { ok: true; permit: RatePermit; state: RateState }
  | {
      ok: false;
      /** The limit that refused (requests first when both do). */
      exceeded: "requests" | "tokens";
      /** How long until this request would fit; null when it can never fit (more tokens than the TPM limit). */
      retryAfterMs: number | null;
      /** Tokens this request asked for. */
      requestedTokens: number;
      state: RateState;
    };

/**
 * Requests-per-minute and tokens-per-minute limits per key. `admit` checks both limits and takes
 * from both atomically, or takes nothing. A shared implementation (Redis GCRA in a Lua script)
 * must keep that atomicity.
 */
export interface RateLimiter {
  /** Takes one request and `tokens` tokens (estimated prompt + max output), or refuses. */
  admit(keyId: string, limits: RateLimits, tokens: number): Awaitable<AdmitResult>;
  /** Corrects the tokens taken at admission to what the request actually used (input + output). */
  settle(permit: RatePermit, actualTokens: number): Awaitable<void>;
  /** Gives back everything a permit took (the request was refused later, e.g. by its budget). */
  cancel(permit: RatePermit): Awaitable<void>;
  /** The state without taking anything (headers for responses that were not admitted). */
  peek(keyId: string, limits: RateLimits): Awaitable<RateState>;
}

type Bucket = { capacity: number; level: number; updatedAt: number };
type Held = RatePermit & { done: boolean };

function refill(b: Bucket, capacity: number, now: number): void {
  if (capacity !== b.capacity) {
    // A changed limit applies at once; what was used stays used.
    b.level = Math.min(capacity, b.level + (capacity - b.capacity));
    b.capacity = capacity;
  }
  if (now > b.updatedAt) {
    b.level = Math.min(b.capacity, b.level + ((now - b.updatedAt) * b.capacity) / WINDOW_MS);
    b.updatedAt = now;
  }
}

function windowOf(b: Bucket): RateWindow {
  const missing = b.capacity - b.level;
  return {
    limit: b.capacity,
    remaining: Math.max(0, Math.floor(b.level + 1e-9)),
    resetMs: missing <= 0 ? 0 : Math.ceil((missing * WINDOW_MS) / b.capacity),
  };
}

/** Milliseconds until a bucket holds `need`. */
const waitFor = (b: Bucket, need: number) => Math.max(1, Math.ceil(((need - b.level) * WINDOW_MS) / b.capacity));

/**
 * The in-process limiter: a token bucket per key and limit, holding up to the per-minute limit and
 * refilling continuously at limit/60 s (OpenAI's model: a burst of the whole minute's allowance,
 * then a steady rate). TPM is taken at admission as estimated prompt + max output tokens and
 * corrected at settlement, so a request that used less gives the difference back.
 */
export class InMemoryRateLimiter implements RateLimiter {
  private requestBuckets = new Map<string, Bucket>();
  private tokenBuckets = new Map<string, Bucket>();

  constructor(private readonly clock: Clock = Date.now) {}

  private bucket(map: Map<string, Bucket>, keyId: string, capacity: number | null, now: number): Bucket | undefined {
    if (capacity === null) {
      map.delete(keyId);
      return undefined;
    }
    let b = map.get(keyId);
    if (!b) {
      b = { capacity, level: capacity, updatedAt: now };
      map.set(keyId, b);
    }
    refill(b, capacity, now);
    return b;
  }

  private buckets(keyId: string, limits: RateLimits, now: number) {
    return {
      req: this.bucket(this.requestBuckets, keyId, limits.rpm, now),
      tok: this.bucket(this.tokenBuckets, keyId, limits.tpm, now),
    };
  }

  private stateOf(req: Bucket | undefined, tok: Bucket | undefined): RateState {
    const state: RateState = {};
    if (req) state.requests = windowOf(req);
    if (tok) state.tokens = windowOf(tok);
    return state;
  }

  admit(keyId: string, limits: RateLimits, tokens: number): AdmitResult {
    const now = this.clock();
    const { req, tok } = this.buckets(keyId, limits, now);
    const want = Math.max(0, Math.ceil(tokens));
    const reqShort = req !== undefined && req.level < 1;
    const tokShort = tok !== undefined && tok.level < want;
    if (reqShort || tokShort) {
      const never = tokShort && want > tok!.capacity;
      const waits = [reqShort ? waitFor(req!, 1) : 0, tokShort && !never ? waitFor(tok!, want) : 0];
      return {
        ok: false,
        exceeded: reqShort ? "requests" : "tokens",
        retryAfterMs: never ? null : Math.max(...waits),
        requestedTokens: want,
        state: this.stateOf(req, tok),
      };
    }
    if (req) req.level -= 1;
    if (tok) tok.level -= want;
    const permit: Held = { keyId, requests: req ? 1 : 0, tokens: tok ? want : 0, done: false };
    return { ok: true, permit, state: this.stateOf(req, tok) };
  }

  private giveBack(permit: RatePermit, requests: number, tokens: number): void {
    const now = this.clock();
    const req = this.requestBuckets.get(permit.keyId);
    if (req && requests) {
      refill(req, req.capacity, now);
      req.level = Math.min(req.capacity, req.level + requests);
    }
    const tok = this.tokenBuckets.get(permit.keyId);
    if (tok && tokens) {
      refill(tok, tok.capacity, now);
      // May go below zero when the request used more than estimated: later requests then wait.
      tok.level = Math.min(tok.capacity, tok.level + tokens);
    }
  }

  settle(permit: RatePermit, actualTokens: number): void {
    const held = permit as Held;
    if (held.done) return;
    held.done = true;
    if (held.tokens) this.giveBack(held, 0, held.tokens - Math.max(0, Math.ceil(actualTokens)));
  }

  cancel(permit: RatePermit): void {
    const held = permit as Held;
    if (held.done) return;
    held.done = true;
    this.giveBack(held, held.requests, held.tokens);
  }

  peek(keyId: string, limits: RateLimits): RateState {
    const { req, tok } = this.buckets(keyId, limits, this.clock());
    return this.stateOf(req, tok);
  }
}

/**
 * A duration the way OpenAI's `x-ratelimit-reset-*` headers write it (Go's format): `20ms`, `1s`,
 * `1.5s`, `6m0s`, `1h0m0s`.
 */
export function formatResetDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms));
  if (total === 0) return "0s";
  if (total < 1000) return `${total}ms`;
  const h = Math.floor(total / 3_600_000);
  const m = Math.floor((total % 3_600_000) / 60_000);
  const s = ((total % 60_000) / 1000).toFixed(3).replace(/\.?0+$/, "");
  if (h) return `${h}h${m}m${s}s`;
  if (m) return `${m}m${s}s`;
  return `${s}s`;
}

/** OpenAI-style `x-ratelimit-*` headers for the limits a key has (none when it has none). */
export function rateLimitHeaders(state: RateState): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, w] of [["requests", state.requests], ["tokens", state.tokens]] as const) {
    if (!w) continue;
    headers[`x-ratelimit-limit-${name}`] = String(w.limit);
    headers[`x-ratelimit-remaining-${name}`] = String(w.remaining);
    headers[`x-ratelimit-reset-${name}`] = formatResetDuration(w.resetMs);
  }
  return headers;
}
