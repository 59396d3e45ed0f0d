/**
 * The WAL checkpointer's thread (see checkpointer.ts). It opens its own connection to the database
 * and runs `PRAGMA wal_checkpoint(PASSIVE)` every `intervalMs`: committed pages are copied from the
 * WAL into the database file here, off the thread that serves requests. PASSIVE never blocks the
 * log writer or readers; it copies what it can and leaves the rest for the next run.
 *
 * Messages in: { type: "start", file, intervalMs }, { type: "stop" }.
 * Messages out: { type: "checkpoint", log, checkpointed, busy, ms } after each run that found
 * frames, { type: "error", message }, and { type: "stopped" } once the connection is closed.
 */
import { Database } from "bun:sqlite";

declare const self: Worker;

let db: Database | undefined;
let timer: ReturnType<typeof setInterval> | undefined;

function run() {
  if (!db) return;
  try {
    const started = performance.now();
    const r = db.query("PRAGMA wal_checkpoint(PASSIVE)").get() as { busy: number; log: number; checkpointed: number };
    if (r.log > 0) postMessage({ type: "checkpoint", ...r, ms: performance.now() - started });
  } catch (e) {
    postMessage({ type: "error", message: (e as Error).message });
  }
}

self.onmessage = (event: MessageEvent<{ type: "start"; file: string; intervalMs: number } | { type: "stop" }>) => {
  const msg = event.data;
  if (msg.type === "start") {
    try {
      db = new Database(msg.file, { readwrite: true, create: false });
      db.run("PRAGMA busy_timeout = 1000");
      timer = setInterval(run, msg.intervalMs);
    } catch (e) {
      postMessage({ type: "error", message: (e as Error).message });
    }
  } else if (msg.type === "stop") {
    clearInterval(timer);
    try {
      db?.close(false);
    } catch {}
    db = undefined;
    postMessage({ type: "stopped" });
  }
};
