import { expect, test } from "bun:test";
import path from "node:path";

test("bench:inprocess runs both gateways and reports CPU per request and the cost of logging", async () => {
  const proc = Bun.spawn([process.execPath, path.join(import.meta.dir, "inprocess.ts"), "--seconds", "0.2", "--rounds", "1", "--concurrency", "4"], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect(err).toBe("");
  expect(code).toBe(0);
  const row = (name: string) => out.match(new RegExp(`^\\| ${name} \\| (\\d+) \\| ([\\d.]+) µs \\|`, "m"));
  for (const name of ["log off", "log on"]) {
    expect(Number(row(name)?.[1])).toBeGreaterThan(0);
    expect(Number(row(name)?.[2])).toBeGreaterThan(0);
  }
  // Every request the log-on gateway served is a priced row.
  const logged = out.match(/wrote (\d+) rows, (\d+) of them priced/);
  expect(Number(logged?.[1])).toBeGreaterThan(0);
  expect(logged?.[2]).toBe(logged?.[1]);
  expect(out).toMatch(/^Cost of logging: -?[\d.]+ µs per request, -?[\d.]+% of requests\/s\.$/m);
}, 60_000);
