import { expect, test } from "bun:test";
import { bucketOf, emptyHistogram, percentile } from "./histogram.ts";

const histogramOf = (samples: number[]) => {
  const h = emptyHistogram();
  for (const ms of samples) h[bucketOf(ms)]!++;
  return h;
};

test("percentiles are interpolated inside their bucket, not reported as its upper bound", () => {
  expect(percentile(emptyHistogram(), 0.5)).toBeNull();
  expect(percentile(histogramOf([1200, 1270]), 0.5)).toBe(1750); // bucket 1–2.5 s, halfway
  expect(percentile(histogramOf(Array(100).fill(3)), 0.5)).toBe(5); // bucket 0–10 ms
  // 90 fast and 10 slow requests: p50 among the fast ones, p95 among the slow ones.
  const mixed = histogramOf([...Array(90).fill(30), ...Array(10).fill(700)]);
  expect(percentile(mixed, 0.5)).toBeGreaterThan(25);
  expect(percentile(mixed, 0.5)).toBeLessThanOrEqual(50);
  expect(percentile(mixed, 0.95)).toBeGreaterThan(500);
  expect(percentile(mixed, 0.95)).toBeLessThanOrEqual(1000);
  expect(percentile(histogramOf([400_000]), 0.5)).toBe(300_000); // the open last bucket: its lower bound
});
