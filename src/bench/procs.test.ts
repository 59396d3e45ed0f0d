import { expect, test } from "bun:test";
import { cpuSeconds, threadCpuSeconds } from "./procs.ts";

test("CPU by thread kind adds up to the process's CPU, with the busy JavaScript thread counted as main", () => {
  const start = performance.now();
  let x = 0;
  while (performance.now() - start < 300) x += Math.sqrt(x + 1); // ~0.3 s on this thread
  const threads = threadCpuSeconds(process.pid);
  const total = cpuSeconds(process.pid);
  expect(x).toBeGreaterThan(0);
  expect(threads.main).toBeGreaterThanOrEqual(0.2);
  for (const v of Object.values(threads)) expect(v).toBeGreaterThanOrEqual(0);
  // Per-thread ticks round down separately; threads that already ended count only in the total.
  const sum = threads.main + threads.httpClient + threads.other;
  expect(sum).toBeLessThanOrEqual(total + 0.05);
  expect(sum).toBeGreaterThan(total * 0.5);
});
