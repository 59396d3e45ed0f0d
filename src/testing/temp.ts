import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll } from "bun:test";

const created: string[] = [];
afterAll(() => {
  for (const dir of created.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary directory, removed after the test file finishes. */
export function tempDir(prefix = "llm-proxy-test-"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  created.push(dir);
  return dir;
}
