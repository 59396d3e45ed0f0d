/**
 * Rotates a provider's API keys (round robin) and benches a key that failed authentication or
 * ran out of quota, so the next request uses another key until the cooldown ends.
 * In-process state; a multi-instance deployment swaps this for a shared implementation.
 */
export class KeyPool {
  private cursor = new Map<string, number>();
  private benchedUntil = new Map<string, number>();

  constructor(
    private readonly cooldownMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Key indexes of `providerId` in the order to try them for one request: starting at the
   * rotation cursor, usable keys first. Benched keys are left out unless every key is benched
   * (then the one that comes back soonest is tried, so a provider is never dead forever).
   */
  order(providerId: string, keyCount: number): readonly number[] {
    if (keyCount === 0) return NO_KEYS;
    // One key and none benched (the usual case): the same answer every time, nothing to allocate.
    if (keyCount === 1 && this.benchedUntil.size === 0) return FIRST_KEY;
    const start = this.cursor.get(providerId) ?? 0;
    this.cursor.set(providerId, (start + 1) % keyCount);
    const all: number[] = new Array(keyCount);
    for (let i = 0; i < keyCount; i++) all[i] = (start + i) % keyCount;
    if (this.benchedUntil.size === 0) return all; // nothing benched: no bookkeeping to consult
    return this.usable(providerId, all);
  }

  /** `all` without the benched keys, or the one back soonest when all are benched. (Its own method: its closures would make every order() call allocate a scope.) */
  private usable(providerId: string, all: number[]): number[] {
    const now = this.now();
    const usable = all.filter((i) => (this.benchedUntil.get(`${providerId}#${i}`) ?? 0) <= now);
    if (usable.length) return usable;
    const soonest = all.reduce((a, b) =>
      (this.benchedUntil.get(`${providerId}#${a}`) ?? 0) <= (this.benchedUntil.get(`${providerId}#${b}`) ?? 0) ? a : b,
    );
    return [soonest];
  }

  bench(providerId: string, keyIndex: number): void {
    this.benchedUntil.set(`${providerId}#${keyIndex}`, this.now() + this.cooldownMs);
  }
}

const NO_KEYS: readonly number[] = Object.freeze([]);
const FIRST_KEY: readonly number[] = Object.freeze([0]);
