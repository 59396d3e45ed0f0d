import { describe, expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { tempDir } from "../testing/temp.ts";
import { EMBEDDED_SNAPSHOT } from "./embedded.ts";
import { SNAPSHOT_FILE, readSnapshotText } from "./embedded.macro.ts";

describe("embedded snapshot", () => {
  test("the macro result matches the snapshot file (null when the build did not fetch one)", () => {
    expect(SNAPSHOT_FILE).toBe(path.join(import.meta.dir, "snapshot", "models-dev.json"));
    expect(EMBEDDED_SNAPSHOT).toBe(readSnapshotText());
    if (!fs.existsSync(SNAPSHOT_FILE)) expect(EMBEDDED_SNAPSHOT).toBeNull();
  });

  test("readSnapshotText accepts only a JSON object", () => {
    const dir = tempDir();
    const file = path.join(dir, "s.json");
    expect(readSnapshotText(file)).toBeNull();
    fs.writeFileSync(file, "{truncated");
    expect(readSnapshotText(file)).toBeNull();
    fs.writeFileSync(file, "[1]");
    expect(readSnapshotText(file)).toBeNull();
    fs.writeFileSync(file, '{"openai":{"models":{}}}');
    expect(readSnapshotText(file)).toBe('{"openai":{"models":{}}}');
  });

  test("a bundle inlines the snapshot when present and null when absent", async () => {
    const dir = tempDir();
    for (const name of ["embedded.ts", "embedded.macro.ts"]) fs.copyFileSync(path.join(import.meta.dir, name), path.join(dir, name));
    const build = async () => {
      const result = await Bun.build({ entrypoints: [path.join(dir, "embedded.ts")], target: "bun" });
      expect(result.success).toBe(true);
      return await result.outputs[0]!.text();
    };
    expect(await build()).toContain("EMBEDDED_SNAPSHOT = null");
    fs.mkdirSync(path.join(dir, "snapshot"));
    fs.writeFileSync(path.join(dir, "snapshot", "models-dev.json"), '{"acme":{"models":{"marker-model-123":{}}}}');
    const inlined = await build();
    expect(inlined).toContain("marker-model-123");
    expect(inlined).not.toContain("readFileSync");
  });
});
