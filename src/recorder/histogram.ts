/**
 * Fixed-bound latency histograms for rollups: counts per bucket merge by addition, so percentiles
 * over any time range come from summing rollup rows, never from scanning raw requests.
 */
export const LATENCY_BOUNDS_MS = [10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 25_000, 60_000, 120_000, 300_000];

export function emptyHistogram(): number[] {
  return new Array(LATENCY_BOUNDS_MS.length + 1).fill(0);
}

export function bucketOf(ms: number): number {
  for (let i = 0; i < LATENCY_BOUNDS_MS.length; i++) if (ms <= LATENCY_BOUNDS_MS[i]!) return i;
  return LATENCY_BOUNDS_MS.length;
}

export function addInto(target: number[], source: readonly number[]): number[] {
  for (let i = 0; i < target.length; i++) target[i]! += source[i] ?? 0;
  return target;
}

/** Upper bound (ms) of the bucket holding quantile q; null without samples; the last bucket reports its lower bound. */
export function percentile(hist: readonly number[], q: number): number | null {
  const total = hist.reduce((a, b) => a + b, 0);
  if (!total) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    seen += hist[i]!;
    if (seen >= rank) return LATENCY_BOUNDS_MS[i] ?? LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1]!;
  }
  return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1]!;
}
