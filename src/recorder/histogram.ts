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

/**
 * Quantile q (ms) of a histogram, interpolated linearly inside the bucket that holds it (as
 * Prometheus' histogram_quantile does): samples are assumed spread evenly between the bucket's
 * bounds, so a p50 of requests that took 1.2–1.3 s reads about 1.5 s (bucket 1–2.5 s), not 2.5 s.
 * Null without samples; in the last, open bucket, its lower bound.
 */
export function percentile(hist: readonly number[], q: number): number | null {
  const total = hist.reduce((a, b) => a + b, 0);
  if (!total) return null;
  const rank = Math.min(Math.max(q, 0), 1) * total;
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    const n = hist[i]!;
    if (n > 0 && seen + n >= rank) {
      if (i >= LATENCY_BOUNDS_MS.length) return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1]!;
      const lower = i === 0 ? 0 : LATENCY_BOUNDS_MS[i - 1]!;
      const upper = LATENCY_BOUNDS_MS[i]!;
      return Math.round(lower + ((upper - lower) * (rank - seen)) / n);
    }
    seen += n;
  }
  return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1]!;
}
