import { expect, test } from "bun:test";
import path from "node:path";
import { coRunLine, coRunRatio, parseSpec, type CoRunRound } from "./corun.ts";

const ROOT = path.resolve(import.meta.dir, "../..");

test("co-run specs: the passthrough, this checkout or another, with or without the log", () => {
  expect(parseSpec("passthrough")).toEqual({ kind: "passthrough" });
  expect(parseSpec(".", ROOT)).toEqual({ kind: "gateway", root: ROOT, logOff: false });
  expect(parseSpec(".:log-off", ROOT)).toEqual({ kind: "gateway", root: ROOT, logOff: true });
  expect(parseSpec(ROOT + ":log-off", "/")).toEqual({ kind: "gateway", root: ROOT, logOff: true });
  expect(() => parseSpec("/nonexistent-checkout")).toThrow("no src/index.ts");
});

test("co-run ratio: B's CPU per request over A's in each round, then the median and range", () => {
  const round = (a: number, b: number, errors = 0): CoRunRound => ({ cpu: [a, b], rps: [1e6 / a, 1e6 / b], errors });
  const rounds = [round(100, 210), round(120, 240, 1), round(90, 171), round(NaN, 100)];
  expect(coRunRatio(rounds)).toEqual({ median: 2, min: 1.9, max: 2.1 });
  expect(coRunRatio([])).toEqual({ median: NaN, min: NaN, max: NaN });
  const line = coRunLine("pass / gw, 32", ["A", "B"], rounds.slice(0, 3));
  expect(line).toBe("| pass / gw, 32 | A: 100.0 µs | B: 210.0 µs | 2.000 (1.900–2.100) | 0.500× | 1 |");
});

test("bench:ab co-runs the passthrough and the gateway on one core and reports both", async () => {
  const proc = Bun.spawn([process.execPath, path.join(import.meta.dir, "corun.ts"), "--rounds", "1", "--seconds", "1", "--connections", "2", "passthrough", ".:log-off"], {
    cwd: ROOT,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect(err).toBe("");
  expect(code).toBe(0);
  const round = out.match(/^round 1: A ([\d.]+) µs\/req \((\d+) req\/s\), B ([\d.]+) µs\/req \((\d+) req\/s\), B\/A ([\d.]+)$/m);
  expect(round).not.toBeNull();
  for (const i of [1, 2, 3, 4, 5]) expect(Number(round![i])).toBeGreaterThan(0);
  expect(out).toMatch(/^\| A \/ B, 2 \| passthrough: [\d.]+ µs \| \., log off: [\d.]+ µs \| [\d.]+ \([\d.]+–[\d.]+\) \| [\d.]+× \| 0 \|$/m);
}, 120_000);

test("bench:ab refuses a missing second server with a clear message", async () => {
  const proc = Bun.spawn([process.execPath, path.join(import.meta.dir, "corun.ts"), "passthrough"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [err, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  expect(code).toBe(2);
  expect(err).toContain("give two servers to compare");
});
