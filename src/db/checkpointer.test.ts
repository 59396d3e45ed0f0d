import { expect, test } from "bun:test";
import path from "node:path";
import { createLogger } from "../logger.ts";
import { newRequestId } from "../recorder/ids.ts";
import { tempDir } from "../testing/temp.ts";
import { startCheckpointer } from "./checkpointer.ts";
import { openDatabase } from "./client.ts";
import { runMigrations } from "./migrate.ts";

const quiet = createLogger({ json: true, level: "error", sink: () => {} });

test("the checkpointer thread copies the log's WAL into the database, so the WAL restarts instead of growing", async () => {
  const h = openDatabase(path.join(tempDir(), "ckpt.db"));
  runMigrations(h);
  const checkpointer = startCheckpointer(h.file, { log: quiet, intervalMs: 20 });
  try {
    // Incompressible bodies, so the WAL grows by about a page per row.
    const insert = h.sqlite.query("INSERT INTO request_bodies (id, request_gz, response_gz) VALUES (?, ?, NULL)");
    const write = (n: number) =>
      h.sqlite.transaction(() => {
        for (let i = 0; i < n; i++) insert.run(newRequestId(), crypto.getRandomValues(new Uint8Array(400)));
      })();
    write(2000); // ~250 pages, far below SQLite's own automatic checkpoint (16,000)
    for (let i = 0; i < 100 && checkpointer.stats.frames === 0; i++) await Bun.sleep(20);
    expect(checkpointer.stats.runs).toBeGreaterThan(0);
    expect(checkpointer.stats.frames).toBeGreaterThan(200);
    expect(checkpointer.stats.errors).toBe(0);
    // Everything was copied: the next commit starts the WAL over from its first page.
    write(10);
    const wal = h.sqlite.query("PRAGMA wal_checkpoint(PASSIVE)").get() as { log: number };
    expect(wal.log).toBeLessThan(50);
    expect((h.sqlite.query("SELECT count(*) AS n FROM request_bodies").get() as { n: number }).n).toBe(2010);
  } finally {
    await checkpointer.stop();
    h.close();
  }
});

test("stop() closes the thread's connection and is idempotent; a missing file is reported, not thrown", async () => {
  const h = openDatabase(path.join(tempDir(), "stop.db"));
  runMigrations(h);
  const checkpointer = startCheckpointer(h.file, { log: quiet, intervalMs: 10 });
  await Bun.sleep(50);
  await Promise.all([checkpointer.stop(), checkpointer.stop()]);
  h.close(); // TRUNCATE checkpoint on close: no other connection holds the WAL
  const warnings: string[] = [];
  const log = createLogger({ json: true, level: "warn", sink: (line) => warnings.push(line) });
  const missing = startCheckpointer(path.join(tempDir(), "nope", "missing.db"), { log, intervalMs: 10 });
  for (let i = 0; i < 100 && missing.stats.errors === 0; i++) await Bun.sleep(10);
  await missing.stop();
  expect(missing.stats.errors).toBe(1);
  expect(warnings.join("\n")).toContain("WAL checkpoint failed");
});
