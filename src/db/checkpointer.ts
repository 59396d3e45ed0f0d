import type { Logger } from "../logger.ts";
import { CHECKPOINT_WORKER } from "../paths.ts";

/** How often the checkpointer copies committed WAL pages into the database file. */
export const CHECKPOINT_INTERVAL_MS = 250;

export type Checkpointer = {
  /** Checkpoint runs that found frames, frames copied, errors; the WAL's size (frames) at the last run. */
  readonly stats: { runs: number; frames: number; errors: number; walFrames: number };
  /** Stops the thread after its current run and closes its connection. */
  stop(): Promise<void>;
};

/**
 * Checkpoints the server's database from a Worker thread. SQLite's automatic checkpoint runs inside
 * the commit that crosses its threshold, on the thread that commits: with the request log's WAL
 * at 16,000 pages, that commit copied ~64 MB and fsynced on the event loop, stalling every request
 * in flight for 150–180 ms every ~75,000 logged rows. Here the copying happens on another thread,
 * a little every CHECKPOINT_INTERVAL_MS, so the WAL stays small and resets; the connection's own
 * automatic checkpoint stays on as a backstop and then finds almost nothing left to copy.
 */
export function startCheckpointer(file: string, options: { log: Logger; intervalMs?: number }): Checkpointer {
  const stats = { runs: 0, frames: 0, errors: 0, walFrames: 0 };
  const worker = new Worker(CHECKPOINT_WORKER, { smol: true });
  (worker as Worker & { unref(): void }).unref(); // never what keeps the process alive
  let stopped: (() => void) | undefined;
  worker.onmessage = (event: MessageEvent) => {
    const msg = event.data as { type: string; log?: number; checkpointed?: number; message?: string };
    if (msg.type === "checkpoint") {
      stats.runs++;
      stats.frames += msg.checkpointed ?? 0;
      stats.walFrames = msg.log ?? 0;
    } else if (msg.type === "error") {
      stats.errors++;
      options.log.warn("WAL checkpoint failed; SQLite's automatic checkpoint still runs", { error: msg.message });
    } else if (msg.type === "stopped") stopped?.();
  };
  worker.onerror = (event) => {
    stats.errors++;
    options.log.warn("WAL checkpointer thread failed; SQLite's automatic checkpoint still runs", { error: event.message });
  };
  worker.postMessage({ type: "start", file, intervalMs: options.intervalMs ?? CHECKPOINT_INTERVAL_MS });
  let stopping: Promise<void> | undefined;
  return {
    stats,
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timeout);
          worker.terminate();
          resolve();
        };
        const timeout = setTimeout(done, 2000);
        stopped = done;
        worker.postMessage({ type: "stop" });
      });
      return stopping;
    },
  };
}
