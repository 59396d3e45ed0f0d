import { expect, test } from "bun:test";
import path from "node:path";
import { census } from "./alloc.ts";

test("census counts the objects a call allocates, by type", async () => {
  const keep: unknown[] = [];
  // Three plain objects and one array per call (kept, so nothing is collected mid-batch either way).
  const result = await census(async () => void keep.push([{ a: 1 }, { b: 2 }, { c: 3 }]), 200, 2);
  const of = (type: string) => result.byType.find(([t]) => t === type)?.[1] ?? 0;
  expect(of("Object")).toBeGreaterThanOrEqual(3);
  expect(of("Object")).toBeLessThan(4.5); // plus a fraction from the awaiting loop itself
  expect(of("Array")).toBeGreaterThanOrEqual(1);
  expect(result.perRequest).toBeGreaterThanOrEqual(of("Object") + of("Array"));
});

test("bench:alloc reports the objects one chat completion allocates (and they stay few)", async () => {
  const proc = Bun.spawn([process.execPath, path.join(import.meta.dir, "alloc.ts"), "--requests", "20", "--batches", "2", "--json"], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect(err).toBe("");
  expect(code).toBe(0);
  const result = JSON.parse(out) as { perRequest: number; byType: Array<[string, number]> };
  expect(result.byType.map(([t]) => t)).toContain("Object");
  // ~207 with the harness's own objects in session 13 (291 before); a regression guard with room.
  expect(result.perRequest).toBeGreaterThan(50);
  expect(result.perRequest).toBeLessThan(260);
}, 120_000);
