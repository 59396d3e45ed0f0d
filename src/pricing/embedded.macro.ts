import fs from "node:fs";
import path from "node:path";

/** Where build.ts may drop a fresh models.dev api.json before compiling (never committed). */
export const SNAPSHOT_FILE = path.join(import.meta.dir, "snapshot", "models-dev.json");

/**
 * Bun macro (imported `with { type: "macro" }`): runs at bundle/transpile time — in `bun build
 * --compile`, `bun run` and `bun test` alike — and inlines the snapshot text as a string literal, or
 * `null` when the file is absent or not JSON. The runtime never reads the file.
 */
export function readSnapshotText(file: string = SNAPSHOT_FILE): string | null {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return null;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? text : null;
  } catch {
    return null;
  }
}
