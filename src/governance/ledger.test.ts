import { describe, expect, test } from "bun:test";
import { InMemoryBudgetLedger, nextUtcMonthStart, utcDayStart, utcMonthStart, type Reservation } from "./ledger.ts";
import type { Budgets } from "./policy.ts";

const USD = 1_000_000_000_000n;
const cents = (n: number) => (BigInt(n) * USD) / 100n;
const budgets = (b: Partial<Budgets>): Budgets => ({ dailyPico: null, monthlyPico: null, totalPico: null, ...b });

function clockAt(iso: string) {
  const c = { now: Date.parse(iso), fn: () => c.now, set: (s: string) => void (c.now = Date.parse(s)) };
  return c;
}

describe("period helpers", () => {
  test("UTC day and month starts", () => {
    const t = Date.parse("2025-03-31T23:59:59.999Z");
    expect(utcDayStart(t)).toBe(Date.parse("2025-03-31T00:00:00Z"));
    expect(utcMonthStart(t)).toBe(Date.parse("2025-03-01T00:00:00Z"));
    expect(nextUtcMonthStart(t)).toBe(Date.parse("2025-04-01T00:00:00Z"));
    expect(nextUtcMonthStart(Date.parse("2025-12-15T00:00:00Z"))).toBe(Date.parse("2026-01-01T00:00:00Z"));
  });

  test("month starts stay right when times jump between months and across the edges (the last month is remembered)", () => {
    const cases: [string, string, string][] = [
      ["2025-03-15T12:00:00Z", "2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z"],
      ["2025-03-31T23:59:59.999Z", "2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z"],
      ["2025-04-01T00:00:00Z", "2025-04-01T00:00:00Z", "2025-05-01T00:00:00Z"],
      ["2025-02-28T23:59:59.999Z", "2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z"],
      ["2025-03-01T00:00:00Z", "2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z"],
      ["2024-02-29T10:00:00Z", "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z"],
      ["2025-03-15T12:00:00Z", "2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z"],
    ];
    for (const [at, start, next] of cases) {
      const t = Date.parse(at);
      expect([at, new Date(utcMonthStart(t)).toISOString()]).toEqual([at, new Date(Date.parse(start)).toISOString()]);
      expect([at, new Date(nextUtcMonthStart(t)).toISOString()]).toEqual([at, new Date(Date.parse(next)).toISOString()]);
      // nextUtcMonthStart first, on a month utcMonthStart has not seen
      const later = t + 400 * 86_400_000;
      const d = new Date(later);
      expect(nextUtcMonthStart(later)).toBe(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1));
    }
  });
});

describe("InMemoryBudgetLedger", () => {
  test("reserves while spent + reserved + request ≤ budget, and says which budget refused", () => {
    const clock = clockAt("2025-05-10T12:00:00Z");
    const ledger = new InMemoryBudgetLedger(undefined, clock.fn);
    const b = budgets({ dailyPico: cents(10), totalPico: cents(100) });
    const a = ledger.reserve("k", b, cents(4));
    const c = ledger.reserve("k", b, cents(6));
    expect(a.ok && c.ok).toBe(true);
    const refused = ledger.reserve("k", b, 1n);
    expect(refused).toEqual({
      ok: false,
      period: "daily",
      limitPico: cents(10),
      spentPico: 0n,
      reservedPico: cents(10),
      requestedPico: 1n,
      resetsAt: Date.parse("2025-05-11T00:00:00Z"),
    });
    expect(ledger.spend("k")).toMatchObject({ today: 0n, reserved: cents(10) });
  });

  test("settling books the actual cost and frees the rest of the hold; settling twice is a no-op", () => {
    const ledger = new InMemoryBudgetLedger();
    const b = budgets({ dailyPico: cents(10) });
    const r = ledger.reserve("k", b, cents(10));
    if (!r.ok) throw new Error("refused");
    expect(ledger.reserve("k", b, 1n).ok).toBe(false);
    ledger.settle(r.reservation, cents(3));
    ledger.settle(r.reservation, cents(3));
    expect(ledger.spend("k")).toMatchObject({ today: cents(3), month: cents(3), total: cents(3), reserved: 0n });
    expect(ledger.reserve("k", b, cents(7)).ok).toBe(true);
    expect(ledger.reserve("k", b, 1n).ok).toBe(false);
  });

  test("a failed call settles to zero; negative amounts count as zero", () => {
    const ledger = new InMemoryBudgetLedger();
    const r = ledger.reserve("k", budgets({ totalPico: 100n }), 100n);
    if (!r.ok) throw new Error("refused");
    ledger.settle(r.reservation, 0n);
    expect(ledger.spend("k")).toMatchObject({ total: 0n, reserved: 0n });
    const n = ledger.reserve("k", budgets({ totalPico: 100n }), -5n);
    if (!n.ok) throw new Error("refused");
    expect(n.reservation.amountPico).toBe(0n);
    ledger.settle(n.reservation, -7n);
    expect(ledger.spend("k").total).toBe(0n);
  });

  test("under any interleaving, booked spend never exceeds the budget by more than what was held", () => {
    const ledger = new InMemoryBudgetLedger();
    const budget = 1_000_000n;
    const b = budgets({ dailyPico: budget });
    const held: Reservation[] = [];
    let maxHold = 0n;
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 5_000; i++) {
      if (held.length && rand() < 0.5) {
        const r = held.splice(Math.floor(rand() * held.length), 1)[0]!;
        // Actual cost never above the hold (the hold is the maximum possible cost).
        ledger.settle(r, BigInt(Math.floor(Number(r.amountPico) * rand())));
      } else {
        const amount = BigInt(1 + Math.floor(rand() * 50_000));
        const r = ledger.reserve("k", b, amount);
        if (r.ok) {
          held.push(r.reservation);
          if (amount > maxHold) maxHold = amount;
        }
      }
      const s = ledger.spend("k");
      expect(s.today + s.reserved).toBeLessThanOrEqual(budget);
    }
    for (const r of held) ledger.settle(r, r.amountPico);
    expect(ledger.spend("k").today).toBeLessThanOrEqual(budget);
  });

  test("the daily budget resets at the UTC day boundary; monthly and total carry on", () => {
    const clock = clockAt("2025-05-10T23:59:00Z");
    const ledger = new InMemoryBudgetLedger(undefined, clock.fn);
    const b = budgets({ dailyPico: cents(10), monthlyPico: cents(15), totalPico: cents(100) });
    const r = ledger.reserve("k", b, cents(10));
    if (!r.ok) throw new Error("refused");
    ledger.settle(r.reservation, cents(10));
    expect(ledger.reserve("k", b, 1n)).toMatchObject({ ok: false, period: "daily" });

    clock.set("2025-05-11T00:00:00Z");
    expect(ledger.spend("k")).toMatchObject({ today: 0n, month: cents(10), total: cents(10), dayStart: Date.parse("2025-05-11T00:00:00Z") });
    const next = ledger.reserve("k", b, cents(5));
    expect(next.ok).toBe(true);
    expect(ledger.reserve("k", b, 1n)).toMatchObject({ ok: false, period: "monthly", resetsAt: Date.parse("2025-06-01T00:00:00Z") });

    clock.set("2025-06-01T00:00:00Z");
    if (next.ok) ledger.settle(next.reservation, cents(5));
    // Booked to May (when it was reserved), as the hourly rollups book it: June starts at zero.
    expect(ledger.spend("k")).toMatchObject({ today: 0n, month: 0n, total: cents(15), reserved: 0n });
    expect(ledger.reserve("k", b, cents(10)).ok).toBe(true);
  });

  test("booking without a hold: the cost goes to the day and month the request was received in; nothing for 0 or less", () => {
    const clock = clockAt("2025-05-31T23:59:00Z");
    const ledger = new InMemoryBudgetLedger(undefined, clock.fn);
    const received = clock.fn();
    ledger.book("k", cents(2), received);
    ledger.book("k", 0n, received);
    ledger.book("k", -5n, received);
    expect(ledger.spend("k")).toMatchObject({ today: cents(2), month: cents(2), total: cents(2), reserved: 0n });
    clock.set("2025-06-01T00:00:30Z");
    // Received in May, finished in June: booked to May, as the rollups book it.
    ledger.book("k", cents(3), received);
    expect(ledger.spend("k")).toMatchObject({ today: 0n, month: 0n, total: cents(5) });
    ledger.book("k", cents(1), clock.fn());
    expect(ledger.spend("k")).toMatchObject({ today: cents(1), month: cents(1), total: cents(6) });
  });

  test("the total budget has no reset", () => {
    const ledger = new InMemoryBudgetLedger();
    const r = ledger.reserve("k", budgets({ totalPico: 5n }), 6n);
    expect(r).toMatchObject({ ok: false, period: "total" });
    expect((r as { resetsAt?: number }).resetsAt).toBeUndefined();
  });

  test("booked spend is read from storage once, for all keys, with the current period starts", () => {
    const clock = clockAt("2025-05-10T12:00:00Z");
    const calls: Array<{ dayStart: number; monthStart: number }> = [];
    const ledger = new InMemoryBudgetLedger((periods) => {
      calls.push(periods);
      return new Map([["a", { day: 7n, month: 70n, total: 700n }]]);
    }, clock.fn);
    expect(ledger.spend("a")).toMatchObject({ today: 7n, month: 70n, total: 700n, reserved: 0n });
    expect(ledger.spend("b")).toMatchObject({ today: 0n, month: 0n, total: 0n });
    expect(ledger.reserve("a", budgets({ dailyPico: 10n }), 4n)).toMatchObject({ ok: false, spentPico: 7n });
    expect(ledger.reserve("a", budgets({ dailyPico: 10n }), 3n).ok).toBe(true);
    expect(calls).toEqual([{ dayStart: Date.parse("2025-05-10T00:00:00Z"), monthStart: Date.parse("2025-05-01T00:00:00Z") }]);
    // The next day starts from zero without asking storage again.
    clock.set("2025-05-11T08:00:00Z");
    expect(ledger.spend("a")).toMatchObject({ today: 0n, month: 70n, total: 700n, reserved: 3n });
    expect(calls.length).toBe(1);
    ledger.reload();
    ledger.spend("a");
    expect(calls.length).toBe(2);
  });

  test("reload re-reads booked spend (a re-price) and keeps the reservations of requests in flight", () => {
    const clock = clockAt("2025-05-10T12:00:00Z");
    let stored = new Map([["a", { day: 7n, month: 70n, total: 700n }]]);
    const ledger = new InMemoryBudgetLedger(() => stored, clock.fn);
    expect(ledger.reserve("a", budgets({ dailyPico: 100n }), 5n).ok).toBe(true); // in flight
    stored = new Map([["a", { day: 9n, month: 72n, total: 702n }]]); // a row was re-priced: +2
    ledger.reload();
    expect(ledger.spend("a")).toMatchObject({ today: 9n, month: 72n, total: 702n, reserved: 5n });
    expect(ledger.reserve("a", budgets({ dailyPico: 15n }), 2n)).toMatchObject({ ok: false, spentPico: 9n }); // 9 + 5 + 2 > 15
  });

  test("keys are independent", () => {
    const ledger = new InMemoryBudgetLedger();
    expect(ledger.reserve("a", budgets({ dailyPico: 10n }), 10n).ok).toBe(true);
    expect(ledger.reserve("b", budgets({ dailyPico: 10n }), 10n).ok).toBe(true);
    expect(ledger.reserve("a", budgets({ dailyPico: 10n }), 1n).ok).toBe(false);
  });
});
