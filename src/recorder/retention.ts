import type { RequestLogStore } from "../db/request-log.ts";
import type { Logger } from "../logger.ts";

const DAY = 86_400_000;

export type RetentionSettings = {
  retentionDays: number;
  minuteRollupRetentionDays: number;
  hourRollupRetentionDays: number;
};

/**
 * Deletes old raw rows and rollups, and compresses chunks left in an older format, in small batches
 * (one short transaction each, yielding to the event loop between them) so the database does not
 * grow without bound and requests never stall.
 */
export async function runRetention(store: RequestLogStore, settings: RetentionSettings, now = Date.now(), batch = 2000) {
  let raw = 0;
  let rollups = 0;
  for (;;) {
    const n = store.deleteRawBefore(now - settings.retentionDays * DAY, batch);
    raw += n;
    if (n === 0) break;
    await Bun.sleep(0);
  }
  for (const [table, days] of [
    ["rollup_minute", settings.minuteRollupRetentionDays],
    ["rollup_hour", settings.hourRollupRetentionDays],
  ] as const) {
    for (;;) {
      const n = store.deleteRollupsBefore(table, now - days * DAY, batch);
      rollups += n;
      if (n < batch) break;
      await Bun.sleep(0);
    }
  }
  // Chunks in an older format (rows moved into chunks by an upgrade) are compressed a few at a time.
  let compressed = 0;
  for (;;) {
    const n = store.compressOldChunks(16);
    compressed += n;
    if (n === 0) break;
    await Bun.sleep(0);
  }
  return { raw, rollups, compressed };
}

/** Runs retention a minute after start and then every `intervalMs`. Returns a stop function. */
export function scheduleRetention(store: RequestLogStore, settings: RetentionSettings, log: Logger, intervalMs = 600_000) {
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      const { raw, rollups, compressed } = await runRetention(store, settings);
      if (raw || rollups || compressed) log.info("request log retention", { deleted_rows: raw, deleted_rollups: rollups, compressed_chunks: compressed });
    } catch (e) {
      log.error("request log retention failed", { error: (e as Error).message });
    } finally {
      running = false;
    }
  };
  const first = setTimeout(tick, 60_000);
  const every = setInterval(tick, intervalMs);
  first.unref?.();
  every.unref?.();
  return () => {
    clearTimeout(first);
    clearInterval(every);
  };
}
