import type { Budgets } from "./policy.ts";

/** A value or a promise of it: in-process implementations answer synchronously, shared ones may not. */
export type Awaitable<T> = T | Promise<T>;

export type Clock = () => number;

const DAY_MS = 86_400_000;

/** Start (epoch ms) of the UTC calendar day containing `t`. */
export function utcDayStart(t: number): number {
  return Math.floor(t / DAY_MS) * DAY_MS;
}

/** The month `utcMonthStart` last computed, [from, to): every request asks, and it is nearly always the same one. */
let lastMonth = { from: 0, to: 0 };

/** Start (epoch ms) of the UTC calendar month containing `t`. */
export function utcMonthStart(t: number): number {
  if (t >= lastMonth.from && t < lastMonth.to) return lastMonth.from;
  const d = new Date(t);
  const from = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  lastMonth = { from, to: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) };
  return from;
}

/** Start of the next UTC month after the one containing `t`. */
export function nextUtcMonthStart(t: number): number {
  if (t >= lastMonth.from && t < lastMonth.to) return lastMonth.to;
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

export type BudgetPeriod = "daily" | "monthly" | "total";

/** Spend of one key, exact pico-USD. `today`/`month` are the current UTC day and month. */
export type KeySpend = {
  today: bigint;
  month: bigint;
  total: bigint;
  /** Held by requests in flight (their maximum possible cost). */
  reserved: bigint;
  dayStart: number;
  monthStart: number;
};

/** A hold on a key's budgets for one request; settle it exactly once. */
export type Reservation = { readonly keyId: string; readonly amountPico: bigint; readonly at: number };

export type ReserveResult =
  | { ok: true; reservation: Reservation }
  | {
      ok: false;
      /** The first budget (daily, monthly, total) the request would break. */
      period: BudgetPeriod;
      limitPico: bigint;
      spentPico: bigint;
      reservedPico: bigint;
      requestedPico: bigint;
      /** When the period ends (epoch ms); absent for the total budget. */
      resetsAt?: number;
    };

/**
 * Per-key spend and budget holds. The check-and-hold in `reserve` is atomic: for every budget,
 * spent + outstanding reservations + this request's maximum ≤ budget, so concurrent requests can
 * never overspend by more than what was reserved. A Redis or PostgreSQL implementation must keep
 * that atomicity (a Lua script or a row lock).
 */
export interface BudgetLedger {
  /** Holds `amountPico` against the key's budgets, or says which budget it would break. */
  reserve(keyId: string, budgets: Budgets, amountPico: bigint): Awaitable<ReserveResult>;
  /** Releases the hold and books the actual cost (0 for a call that cost nothing). Idempotent per reservation. */
  settle(reservation: Reservation, actualPico: bigint): Awaitable<void>;
  /**
   * Books the cost of a request that held nothing (its key has no budget), to the UTC day and
   * month of `at` (when the request was received), as `settle` books a reservation's.
   */
  book(keyId: string, actualPico: bigint, at: number): Awaitable<void>;
  /** Spend so far (today, this month, total) and what is reserved now, for the admin API. */
  spend(keyId: string): Awaitable<KeySpend>;
}

/** Loads booked spend per key from storage: day/month sums from `dayStart`/`monthStart`, and totals. */
export type SpendLoader = (periods: { dayStart: number; monthStart: number }) => Map<string, { day: bigint; month: bigint; total: bigint }>;

function refusal(period: BudgetPeriod, limit: bigint, spent: bigint, reserved: bigint, requested: bigint, resetsAt: number | undefined): ReserveResult {
  return { ok: false, period, limitPico: limit, spentPico: spent, reservedPico: reserved, requestedPico: requested, resetsAt };
}

type KeyState = { dayStart: number; day: bigint; monthStart: number; month: bigint; total: bigint; reserved: bigint };
type Held = Reservation & { dayStart: number; monthStart: number; settled: boolean };

/**
 * The in-process ledger. Booked spend is read from storage once (all keys in one query, on first
 * use), then kept in memory as requests settle; a new UTC day or month starts from zero without a
 * query. Everything a key spends must therefore go through this ledger, which it does: every
 * `/v1` request reserves before its upstream call and settles when its log row is recorded.
 * Costs are booked to the day and month the request was reserved in, as the rollups book them to
 * the hour the request was received in.
 */
export class InMemoryBudgetLedger implements BudgetLedger {
  private keys = new Map<string, KeyState>();
  private loaded: Map<string, { day: bigint; month: bigint; total: bigint }> | undefined;
  private loadedPeriods = { dayStart: 0, monthStart: 0 };

  constructor(
    private readonly load: SpendLoader = () => new Map(),
    private readonly clock: Clock = Date.now,
  ) {}

  /** Reads booked spend from storage now (at startup, off the first request's path); once. */
  preload(): void {
    if (this.loaded) return;
    const now = this.clock();
    this.loadedPeriods = { dayStart: utcDayStart(now), monthStart: utcMonthStart(now) };
    this.loaded = this.load(this.loadedPeriods);
  }

  /**
   * Reads booked spend from storage again (after stored costs changed: a re-price), keeping the
   * reservations of requests in flight. Call it with every finished request's row written.
   */
  reload(): void {
    const now = this.clock();
    this.loadedPeriods = { dayStart: utcDayStart(now), monthStart: utcMonthStart(now) };
    this.loaded = this.load(this.loadedPeriods);
    for (const [keyId, s] of this.keys) {
      const booked = this.loaded.get(keyId);
      s.dayStart = this.loadedPeriods.dayStart;
      s.day = booked?.day ?? 0n;
      s.monthStart = this.loadedPeriods.monthStart;
      s.month = booked?.month ?? 0n;
      s.total = booked?.total ?? 0n;
    }
  }

  private state(keyId: string, now: number): KeyState {
    let s = this.keys.get(keyId);
    if (!s) {
      this.preload();
      const booked = this.loaded!.get(keyId);
      s = {
        dayStart: this.loadedPeriods.dayStart,
        day: booked?.day ?? 0n,
        monthStart: this.loadedPeriods.monthStart,
        month: booked?.month ?? 0n,
        total: booked?.total ?? 0n,
        reserved: 0n,
      };
      this.keys.set(keyId, s);
    }
    const day = utcDayStart(now);
    if (day > s.dayStart) {
      s.dayStart = day;
      s.day = 0n;
    }
    const month = utcMonthStart(now);
    if (month > s.monthStart) {
      s.monthStart = month;
      s.month = 0n;
    }
    return s;
  }

  reserve(keyId: string, budgets: Budgets, amountPico: bigint): ReserveResult {
    const now = this.clock();
    const s = this.state(keyId, now);
    const amount = amountPico > 0n ? amountPico : 0n;
    // Each budget in turn, written out (no list of the three per request: most keys have none).
    const { dailyPico, monthlyPico, totalPico } = budgets;
    if (dailyPico !== null && s.day + s.reserved + amount > dailyPico) return refusal("daily", dailyPico, s.day, s.reserved, amount, s.dayStart + DAY_MS);
    if (monthlyPico !== null && s.month + s.reserved + amount > monthlyPico) {
      return refusal("monthly", monthlyPico, s.month, s.reserved, amount, nextUtcMonthStart(s.monthStart));
    }
    if (totalPico !== null && s.total + s.reserved + amount > totalPico) return refusal("total", totalPico, s.total, s.reserved, amount, undefined);
    s.reserved += amount;
    const held: Held = { keyId, amountPico: amount, at: now, dayStart: s.dayStart, monthStart: s.monthStart, settled: false };
    return { ok: true, reservation: held };
  }

  settle(reservation: Reservation, actualPico: bigint): void {
    const held = reservation as Held;
    if (held.settled) return;
    held.settled = true;
    const s = this.state(held.keyId, this.clock());
    s.reserved -= held.amountPico;
    const cost = actualPico > 0n ? actualPico : 0n;
    if (held.dayStart === s.dayStart) s.day += cost;
    if (held.monthStart === s.monthStart) s.month += cost;
    s.total += cost;
  }

  book(keyId: string, actualPico: bigint, at: number): void {
    if (actualPico <= 0n) return; // nothing to add (bigint arithmetic allocates)
    const s = this.state(keyId, this.clock());
    if (utcDayStart(at) === s.dayStart) s.day += actualPico;
    if (utcMonthStart(at) === s.monthStart) s.month += actualPico;
    s.total += actualPico;
  }

  spend(keyId: string): KeySpend {
    const s = this.state(keyId, this.clock());
    return { today: s.day, month: s.month, total: s.total, reserved: s.reserved, dayStart: s.dayStart, monthStart: s.monthStart };
  }
}
