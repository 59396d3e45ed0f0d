import { describe, expect, test } from "bun:test";
import { DEFAULT_THROTTLE, MemoryLoginThrottle, retryAfterSeconds } from "./throttle.ts";

function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

describe("MemoryLoginThrottle", () => {
  test("defaults: 5 per user and 20 per IP in 15 minutes, lockouts from 1 minute to 1 hour", () => {
    expect(DEFAULT_THROTTLE.user).toEqual({ maxFailures: 5, windowMs: 900_000 });
    expect(DEFAULT_THROTTLE.ip).toEqual({ maxFailures: 20, windowMs: 900_000 });
    expect([DEFAULT_THROTTLE.lockoutMs, DEFAULT_THROTTLE.maxLockoutMs]).toEqual([60_000, 3_600_000]);
  });

  test("per user: the 6th attempt inside the window is refused, from any IP, until the lockout ends", () => {
    const c = clock();
    const t = new MemoryLoginThrottle({ now: c.now });
    for (let i = 0; i < 5; i++) expect(t.begin({ username: "alice", ip: `10.0.0.${i}` })).toBe(0);
    expect(t.begin({ username: "alice", ip: "10.9.9.9" })).toBe(60_000);
    expect(t.begin({ username: "ALICE ", ip: "10.9.9.9" })).toBe(60_000); // same account, however written
    expect(t.begin({ username: "bob", ip: "10.9.9.9" })).toBe(0); // others are unaffected
    c.t += 30_000;
    expect(t.begin({ username: "alice", ip: "10.0.0.1" })).toBe(30_000);
    c.t += 30_000;
    expect(t.begin({ username: "alice", ip: "10.0.0.1" })).toBe(0);
  });

  test("per IP: 20 attempts over many usernames lock the IP, not the usernames", () => {
    const c = clock();
    const t = new MemoryLoginThrottle({ now: c.now });
    for (let i = 0; i < 20; i++) expect(t.begin({ username: `user${i}`, ip: "192.0.2.1" })).toBe(0);
    expect(t.begin({ username: "someone", ip: "192.0.2.1" })).toBe(60_000);
    expect(t.begin({ username: "someone", ip: "192.0.2.2" })).toBe(0);
    expect(t.begin({ ip: "192.0.2.1" })).toBe(60_000); // setup-token attempts count against the IP only
  });

  test("failures older than the window are forgotten", () => {
    const c = clock();
    const t = new MemoryLoginThrottle({ now: c.now });
    for (let i = 0; i < 4; i++) t.begin({ username: "alice", ip: "a" });
    c.t += 15 * 60_000;
    for (let i = 0; i < 4; i++) expect(t.begin({ username: "alice", ip: "a" })).toBe(0);
    expect(t.begin({ username: "alice", ip: "a" })).toBe(0);
  });

  test("lockouts double in a row up to the cap, and start over after a quiet day", () => {
    const c = clock();
    const t = new MemoryLoginThrottle({ now: c.now, ip: { maxFailures: 1000, windowMs: 60_000 } });
    const waits: number[] = [];
    for (let round = 0; round < 8; round++) {
      for (let i = 0; i < 5; i++) t.begin({ username: "alice", ip: "a" });
      const wait = t.begin({ username: "alice", ip: "a" });
      waits.push(wait);
      c.t += wait;
    }
    expect(waits.map((w) => w / 60_000)).toEqual([1, 2, 4, 8, 16, 32, 60, 60]);
    c.t += 25 * 3_600_000;
    for (let i = 0; i < 5; i++) t.begin({ username: "alice", ip: "a" });
    expect(t.begin({ username: "alice", ip: "a" })).toBe(60_000);
  });

  test("a success clears the user's count and refunds the IP's charge; a locked-out attempt is not charged", () => {
    const c = clock();
    const t = new MemoryLoginThrottle({ now: c.now });
    for (let i = 0; i < 4; i++) t.begin({ username: "alice", ip: "a" });
    t.begin({ username: "alice", ip: "a" });
    t.succeed({ username: "alice", ip: "a" });
    for (let i = 0; i < 4; i++) expect(t.begin({ username: "alice", ip: "a" })).toBe(0);
    // The IP holds 8 charges (4 + the refunded 5th + 4): 12 more reach 20.
    for (let i = 0; i < 12; i++) expect(t.begin({ username: `x${i}`, ip: "a" })).toBe(0);
    expect(t.begin({ username: "y", ip: "a" })).toBe(60_000);
    expect(t.begin({ username: "y", ip: "a" })).toBe(60_000);
  });

  test("parallel attempts are charged before the password check, so a burst cannot exceed the limit", () => {
    const t = new MemoryLoginThrottle({ now: () => 5 });
    const results = Array.from({ length: 50 }, () => t.begin({ username: "alice", ip: "a" }));
    expect(results.filter((w) => w === 0).length).toBe(5);
  });

  test("memory stays bounded under a flood of distinct usernames", () => {
    const c = clock();
    const t = new MemoryLoginThrottle({ now: c.now, maxEntries: 100, ip: { maxFailures: 1_000_000, windowMs: 1000 } });
    for (let i = 0; i < 1000; i++) {
      c.t += 1;
      t.begin({ username: `u${i}`, ip: "a" });
    }
    expect(t.size).toBeLessThanOrEqual(100);
  });

  test("Retry-After is whole seconds, at least 1", () => {
    expect(retryAfterSeconds(1)).toBe(1);
    expect(retryAfterSeconds(60_000)).toBe(60);
    expect(retryAfterSeconds(60_001)).toBe(61);
  });
});
