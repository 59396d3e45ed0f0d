/**
 * Sign-in throttling. Attempts are counted per username and per client IP. Each attempt is charged
 * as a failure *before* the password is checked (so a burst of parallel requests cannot outrun the
 * count) and refunded when it succeeds. Reaching a limit inside the window locks that username (or
 * IP) out; each further lockout in a row doubles, up to a cap. While locked out, attempts are refused
 * before any password is hashed, which also caps the bcrypt CPU an attacker can burn (BUN-NOTES §7).
 *
 * The state sits behind `LoginThrottle` so several instances can later share it (e.g. Redis); the
 * in-process `MemoryLoginThrottle` is the embedded default.
 */
export type LoginAttempt = {
  /** Omitted for attempts that name no account (a setup token): only the IP is counted. */
  username?: string;
  ip: string | null;
};

export interface LoginThrottle {
  /**
   * Starts an attempt: the milliseconds to wait when it is refused (locked out), else 0, and the
   * attempt then counts as a failure until `succeed` refunds it.
   */
  begin(attempt: LoginAttempt): number | Promise<number>;
  /** The attempt succeeded: clears the username's count and refunds the IP's charge. */
  succeed(attempt: LoginAttempt): void | Promise<void>;
}

export type ThrottleRule = { maxFailures: number; windowMs: number };
export type ThrottleOptions = {
  user: ThrottleRule;
  ip: ThrottleRule;
  /** First lockout; each consecutive one doubles. */
  lockoutMs: number;
  maxLockoutMs: number;
  /** The doubling starts over after this long without a failure. */
  resetAfterMs: number;
  /** Bound on tracked usernames/IPs; the least recently failed are dropped first. */
  maxEntries: number;
  now: () => number;
};

/** 5 failures per 15 min per username, 20 per IP; lockouts of 1, 2, 4 … 60 minutes. */
export const DEFAULT_THROTTLE: ThrottleOptions = {
  user: { maxFailures: 5, windowMs: 15 * 60_000 },
  ip: { maxFailures: 20, windowMs: 15 * 60_000 },
  lockoutMs: 60_000,
  maxLockoutMs: 60 * 60_000,
  resetAfterMs: 24 * 3_600_000,
  maxEntries: 10_000,
  now: Date.now,
};

type Entry = { failures: number[]; lockedUntil: number; lockouts: number; lastFailure: number };

export class MemoryLoginThrottle implements LoginThrottle {
  private readonly options: ThrottleOptions;
  private readonly entries = new Map<string, Entry>();

  constructor(options: Partial<ThrottleOptions> = {}) {
    this.options = { ...DEFAULT_THROTTLE, ...options };
  }

  private keys(attempt: LoginAttempt): Array<[string, ThrottleRule]> {
    const keys: Array<[string, ThrottleRule]> = [[`i:${attempt.ip ?? "unknown"}`, this.options.ip]];
    // Unknown usernames are counted like real ones: whether a name exists must not change the answer.
    if (attempt.username !== undefined) keys.push([`u:${attempt.username.trim().toLowerCase().slice(0, 128)}`, this.options.user]);
    return keys;
  }

  /** Brings an entry up to date: drops old failures, turns a full window into a lockout. */
  private settle(entry: Entry, rule: ThrottleRule, now: number) {
    if (entry.lockedUntil <= now && entry.failures.length >= rule.maxFailures) {
      const length = Math.min(this.options.lockoutMs * 2 ** entry.lockouts, this.options.maxLockoutMs);
      entry.lockouts++;
      entry.lockedUntil = entry.lastFailure + length;
      entry.failures = [];
    }
    entry.failures = entry.failures.filter((t) => now - t < rule.windowMs);
    if (now - entry.lastFailure > this.options.resetAfterMs && entry.lockedUntil <= now) entry.lockouts = 0;
  }

  begin(attempt: LoginAttempt): number {
    const now = this.options.now();
    const keys = this.keys(attempt);
    let wait = 0;
    for (const [key, rule] of keys) {
      const entry = this.entries.get(key);
      if (!entry) continue;
      this.settle(entry, rule, now);
      if (entry.lockedUntil > now) wait = Math.max(wait, entry.lockedUntil - now);
    }
    if (wait > 0) return wait;
    for (const [key] of keys) {
      let entry = this.entries.get(key);
      if (entry) this.entries.delete(key); // re-inserted below: map order = least recently failed first
      else {
        this.makeRoom(now);
        entry = { failures: [], lockedUntil: 0, lockouts: 0, lastFailure: now };
      }
      entry.failures.push(now);
      entry.lastFailure = now;
      this.entries.set(key, entry);
    }
    return 0;
  }

  succeed(attempt: LoginAttempt): void {
    for (const [key] of this.keys(attempt)) {
      if (key.startsWith("u:")) this.entries.delete(key);
      else this.entries.get(key)?.failures.pop();
    }
  }

  /** Number of tracked usernames/IPs (for tests and diagnostics). */
  get size(): number {
    return this.entries.size;
  }

  /** When full, frees a tenth of the room at once (so the sweep is amortised over many inserts). */
  private makeRoom(now: number) {
    if (this.entries.size < this.options.maxEntries) return;
    const target = Math.floor(this.options.maxEntries * 0.9);
    const quiet = Math.max(this.options.user.windowMs, this.options.ip.windowMs);
    for (const [key, e] of this.entries) {
      if (e.lockedUntil <= now && now - e.lastFailure > quiet) this.entries.delete(key);
    }
    // Still full: forget the least recently failed, sparing current lockouts while possible.
    for (const [key, e] of this.entries) {
      if (this.entries.size <= target) return;
      if (e.lockedUntil <= now) this.entries.delete(key);
    }
    for (const key of this.entries.keys()) {
      if (this.entries.size <= target) return;
      this.entries.delete(key);
    }
  }
}

/** `Retry-After` seconds for a wait in milliseconds (at least 1). */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
