import { describe, expect, test } from "bun:test";
import { formatResetDuration, InMemoryRateLimiter, rateLimitHeaders, type RatePermit } from "./rate-limiter.ts";

function fakeClock(start = 1_000_000) {
  const c = { now: start, fn: () => c.now, advance: (ms: number) => void (c.now += ms) };
  return c;
}

describe("InMemoryRateLimiter", () => {
  test("RPM: N requests pass at once, the N+1th is refused until one request's worth refills", () => {
    const clock = fakeClock();
    const rl = new InMemoryRateLimiter(clock.fn);
    const limits = { rpm: 3, tpm: null };
    const remaining = [1, 2, 3].map(() => {
      const r = rl.admit("k", limits, 0);
      if (!r.ok) throw new Error("refused");
      return r.state.requests!.remaining;
    });
    expect(remaining).toEqual([2, 1, 0]);
    const refused = rl.admit("k", limits, 0);
    expect(refused).toEqual({
      ok: false,
      exceeded: "requests",
      retryAfterMs: 20_000,
      requestedTokens: 0,
      state: { requests: { limit: 3, remaining: 0, resetMs: 60_000 } },
    });
    clock.advance(19_999);
    expect(rl.admit("k", limits, 0).ok).toBe(false);
    clock.advance(1);
    const again = rl.admit("k", limits, 0);
    expect(again.ok).toBe(true);
    expect(again.state.requests).toEqual({ limit: 3, remaining: 0, resetMs: 60_000 });
    clock.advance(60_000);
    expect(rl.peek("k", limits)).toEqual({ requests: { limit: 3, remaining: 3, resetMs: 0 } });
  });

  test("TPM: admission takes the estimate, settlement corrects it to the actual tokens", () => {
    const clock = fakeClock();
    const rl = new InMemoryRateLimiter(clock.fn);
    const limits = { rpm: null, tpm: 1_000 };
    const first = rl.admit("k", limits, 600);
    if (!first.ok) throw new Error("refused");
    expect(first.state).toEqual({ tokens: { limit: 1_000, remaining: 400, resetMs: 36_000 } });
    const refused = rl.admit("k", limits, 500);
    expect(refused).toMatchObject({ ok: false, exceeded: "tokens", retryAfterMs: 6_000, requestedTokens: 500 });
    rl.settle(first.permit, 100);
    rl.settle(first.permit, 0); // once only
    expect(rl.peek("k", limits).tokens).toEqual({ limit: 1_000, remaining: 900, resetMs: 6_000 });
    expect(rl.admit("k", limits, 500).ok).toBe(true);
  });

  test("a request that used more tokens than estimated makes later ones wait longer", () => {
    const clock = fakeClock();
    const rl = new InMemoryRateLimiter(clock.fn);
    const limits = { rpm: null, tpm: 600 };
    const r = rl.admit("k", limits, 100);
    if (!r.ok) throw new Error("refused");
    rl.settle(r.permit, 900);
    expect(rl.peek("k", limits).tokens).toEqual({ limit: 600, remaining: 0, resetMs: 90_000 });
    expect(rl.admit("k", limits, 60)).toMatchObject({ ok: false, retryAfterMs: 36_000 });
  });

  test("a request larger than the TPM limit can never fit", () => {
    const rl = new InMemoryRateLimiter(fakeClock().fn);
    expect(rl.admit("k", { rpm: 10, tpm: 100 }, 101)).toMatchObject({ ok: false, exceeded: "tokens", retryAfterMs: null });
    // Nothing was taken.
    expect(rl.peek("k", { rpm: 10, tpm: 100 })).toEqual({
      requests: { limit: 10, remaining: 10, resetMs: 0 },
      tokens: { limit: 100, remaining: 100, resetMs: 0 },
    });
  });

  test("both limits are checked together: a refusal takes nothing; cancel gives everything back", () => {
    const rl = new InMemoryRateLimiter(fakeClock().fn);
    const limits = { rpm: 2, tpm: 100 };
    const a = rl.admit("k", limits, 90);
    expect(a.ok).toBe(true);
    expect(rl.admit("k", limits, 20)).toMatchObject({ ok: false, exceeded: "tokens" });
    expect(rl.peek("k", limits).requests!.remaining).toBe(1);
    rl.cancel((a as { permit: RatePermit }).permit);
    expect(rl.peek("k", limits)).toMatchObject({ requests: { remaining: 2 }, tokens: { remaining: 100 } });
  });

  test("requests first when both limits refuse; retry-after covers both", () => {
    const clock = fakeClock();
    const rl = new InMemoryRateLimiter(clock.fn);
    const limits = { rpm: 1, tpm: 60 };
    expect(rl.admit("k", limits, 60).ok).toBe(true);
    expect(rl.admit("k", limits, 30)).toMatchObject({ ok: false, exceeded: "requests", retryAfterMs: 60_000 });
  });

  test("keys without limits are not tracked; a changed limit applies at once", () => {
    const rl = new InMemoryRateLimiter(fakeClock().fn);
    expect(rl.admit("k", { rpm: null, tpm: null }, 1e9)).toMatchObject({ ok: true, state: {} });
    rl.admit("k", { rpm: 10, tpm: null }, 0);
    rl.admit("k", { rpm: 10, tpm: null }, 0);
    expect(rl.peek("k", { rpm: 10, tpm: null }).requests!.remaining).toBe(8);
    expect(rl.peek("k", { rpm: 3, tpm: null }).requests).toMatchObject({ limit: 3, remaining: 1 });
    expect(rl.peek("k", { rpm: 20, tpm: null }).requests).toMatchObject({ limit: 20, remaining: 18 });
  });
});

describe("headers", () => {
  test("reset durations are written the way OpenAI writes them", () => {
    expect(formatResetDuration(0)).toBe("0s");
    expect(formatResetDuration(17)).toBe("17ms");
    expect(formatResetDuration(0.2)).toBe("1ms");
    expect(formatResetDuration(1_000)).toBe("1s");
    expect(formatResetDuration(1_500)).toBe("1.5s");
    expect(formatResetDuration(20_000)).toBe("20s");
    expect(formatResetDuration(360_000)).toBe("6m0s");
    expect(formatResetDuration(61_250)).toBe("1m1.25s");
    expect(formatResetDuration(3_600_000)).toBe("1h0m0s");
  });

  test("x-ratelimit-* only for the limits a key has", () => {
    expect(rateLimitHeaders({})).toEqual({});
    expect(rateLimitHeaders({ requests: { limit: 60, remaining: 59, resetMs: 1_000 }, tokens: { limit: 150_000, remaining: 149_984, resetMs: 7 } })).toEqual({
      "x-ratelimit-limit-requests": "60",
      "x-ratelimit-remaining-requests": "59",
      "x-ratelimit-reset-requests": "1s",
      "x-ratelimit-limit-tokens": "150000",
      "x-ratelimit-remaining-tokens": "149984",
      "x-ratelimit-reset-tokens": "7ms",
    });
  });
});
