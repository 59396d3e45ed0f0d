import { describe, expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { tempDir } from "../testing/temp.ts";
import { createPricingSource, dataDate, writeFileAtomic, writeSnapshot, type PricingSourceOptions } from "./source.ts";

const MODELS_DEV = path.resolve(import.meta.dir, "../../../shared/fixtures/models-dev");
const OLD = fs.readFileSync(path.join(MODELS_DEV, "api.json"), "utf8");
const LATEST = fs.readFileSync(path.join(MODELS_DEV, "api.latest.json"), "utf8");
const URL_ = "https://models.dev/api.json";

function recordingLog() {
  const lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = [];
  return {
    lines,
    info: (msg: string, fields?: Record<string, unknown>) => void lines.push({ level: "info", msg, fields }),
    warn: (msg: string, fields?: Record<string, unknown>) => void lines.push({ level: "warn", msg, fields }),
  };
}

const respond = (text: string, status = 200): PricingSourceOptions["fetch"] => async () => new Response(text, { status });
const hanging: PricingSourceOptions["fetch"] = () => new Promise<Response>(() => {});

describe("createPricingSource", () => {
  test("startup returns immediately even if the fetch hangs; a hung fetch times out", async () => {
    const dir = tempDir();
    const log = recordingLog();
    const source = createPricingSource({ source: URL_, cacheFile: path.join(dir, "models-dev.json"), fetch: hanging, timeoutMs: 50, log });
    const started = performance.now();
    source.start();
    const registry = source.current();
    expect(performance.now() - started).toBeLessThan(50);
    expect(registry.info.version).toBe("empty");
    expect(registry.lookup("openai", "gpt-4o").unpriced).toBe(true);
    await Bun.sleep(5);
    expect(source.status()).toMatchObject({ loadedFrom: "empty", refreshing: true });
    expect(await source.refresh()).toBe(false); // joins the in-flight fetch, which times out
    expect(source.status()).toMatchObject({ refreshing: false, lastError: "timed out after 50 ms" });
    expect(log.lines.some((l) => l.level === "warn" && l.msg.includes("keeping the last good copy"))).toBe(true);
    source.stop();
  });

  test("the embedded snapshot is used until the first fetch lands", () => {
    const dir = tempDir();
    const source = createPricingSource({ source: URL_, cacheFile: path.join(dir, "models-dev.json"), fetch: hanging, embedded: OLD });
    expect(source.current().info.source).toBe("embedded");
    expect(source.current().lookup("grok", "grok-4-0709").unpriced).toBe(false);
    const parsed = createPricingSource({ source: URL_, cacheFile: path.join(dir, "none.json"), embedded: JSON.parse(OLD) });
    expect(parsed.current().info.models).toBe(279);
  });

  test("the cache file is used when the fetch fails, and the last good copy is kept", async () => {
    const dir = tempDir();
    const cacheFile = path.join(dir, "models-dev.json");
    fs.writeFileSync(cacheFile, OLD);
    const log = recordingLog();
    for (const fetch of [async () => { throw new Error("getaddrinfo ENOTFOUND models.dev"); }, respond("upstream down", 503), respond("{not json"), respond("{}")]) {
      const source = createPricingSource({ source: URL_, cacheFile, fetch, log, embedded: "{}" });
      const before = source.current();
      expect(before.info.source).toBe("cache");
      expect(await source.refresh()).toBe(false);
      expect(source.current()).toBe(before);
      expect(source.current().lookup("openai", "gpt-4o").unpriced).toBe(false);
      expect(source.status().lastError).toBeTruthy();
    }
    expect(fs.readFileSync(cacheFile, "utf8")).toBe(OLD);
    const errors = log.lines.filter((l) => l.level === "warn").map((l) => l.fields?.error);
    expect(errors).toEqual(expect.arrayContaining(["getaddrinfo ENOTFOUND models.dev", "HTTP 503", "the document lists no models"]));
  });

  test("a successful refresh swaps the registry and writes the cache file atomically", async () => {
    const dir = tempDir();
    const cacheFile = path.join(dir, "data", "models-dev.json");
    fs.mkdirSync(path.dirname(cacheFile));
    fs.writeFileSync(cacheFile, OLD);
    const inodeBefore = fs.statSync(cacheFile).ino;
    const updates: string[] = [];
    const source = createPricingSource({ source: URL_, cacheFile, fetch: respond(LATEST), onUpdate: (r) => updates.push(r.info.version) });
    const before = source.current();
    expect(before.lookup("deepseek", "deepseek-v4-flash").unpriced).toBe(true);
    expect(await source.refresh()).toBe(true);
    const after = source.current();
    expect(after).not.toBe(before);
    expect(after.info.version).not.toBe(before.info.version);
    expect(after.lookup("deepseek", "deepseek-v4-flash").unpriced).toBe(false);
    expect(updates).toEqual([after.info.version]);
    expect(fs.readFileSync(cacheFile, "utf8")).toBe(LATEST);
    // tmp + rename: a new inode replaced the old file (never rewritten in place), no temp file left.
    expect(fs.statSync(cacheFile).ino).not.toBe(inodeBefore);
    expect(fs.readdirSync(path.dirname(cacheFile))).toEqual(["models-dev.json"]);
    // Same content again: no swap, no rewrite.
    expect(await source.refresh()).toBe(false);
    expect(source.current()).toBe(after);
    expect(source.status()).toMatchObject({ loadedFrom: URL_, models: 527 });
  });

  test("start() refreshes in the background every refreshMs; stop() ends it", async () => {
    const dir = tempDir();
    let calls = 0;
    const fetch: PricingSourceOptions["fetch"] = async () => {
      calls++;
      return new Response(calls % 2 ? OLD : LATEST);
    };
    const source = createPricingSource({ source: URL_, cacheFile: path.join(dir, "c.json"), fetch, refreshMs: 20 });
    source.start();
    source.start(); // idempotent
    await Bun.sleep(110);
    source.stop();
    const seen = calls;
    expect(seen).toBeGreaterThanOrEqual(3);
    await Bun.sleep(60);
    expect(calls).toBe(seen);
    expect(source.current().info.models).toBeGreaterThan(0);
  });

  test("a newer embedded snapshot beats an older cache file", () => {
    const dir = tempDir();
    const cacheFile = path.join(dir, "models-dev.json");
    fs.writeFileSync(cacheFile, OLD);
    expect(dataDate(LATEST) > dataDate(OLD)).toBe(true);
    expect(createPricingSource({ source: URL_, cacheFile, embedded: LATEST }).current().info.models).toBe(527);
    fs.writeFileSync(cacheFile, LATEST);
    expect(createPricingSource({ source: URL_, cacheFile, embedded: OLD }).current().info.source).toBe("cache");
  });

  test("a corrupt cache file falls back to the embedded snapshot", () => {
    const dir = tempDir();
    const cacheFile = path.join(dir, "models-dev.json");
    fs.writeFileSync(cacheFile, '{"openai":{"models":{"gpt-4o":{"last_updated":"2099-01-01"');
    const log = recordingLog();
    const source = createPricingSource({ source: URL_, cacheFile, embedded: OLD, log });
    expect(source.current().info.source).toBe("embedded");
    expect(log.lines.some((l) => l.msg === "pricing registry copy unusable")).toBe(true);
  });

  test("the source may be a file path or a file: URL", async () => {
    const dir = tempDir();
    const file = path.join(dir, "api.json");
    fs.writeFileSync(file, LATEST);
    for (const [i, src] of [file, pathToFileURL(file).href].entries()) {
      const source = createPricingSource({ source: src, cacheFile: path.join(dir, `cache${i}.json`), fetch: hanging });
      expect(await source.refresh()).toBe(true);
      expect(source.current().info.models).toBe(527);
    }
    const missing = createPricingSource({ source: path.join(dir, "nope.json"), cacheFile: path.join(dir, "cache-missing.json") });
    expect(await missing.refresh()).toBe(false);
    expect(missing.status().lastError).toContain("ENOENT");
  });

  test("overrides survive refreshes and can be replaced", async () => {
    const dir = tempDir();
    const source = createPricingSource({ source: URL_, cacheFile: path.join(dir, "c.json"), fetch: respond(OLD), overrides: { "gpt-9": { input: 1, output: 2 } } });
    expect(source.current().lookup("openai", "gpt-9").unpriced).toBe(false);
    await source.refresh();
    expect(source.current().lookup("openai", "gpt-9")).toMatchObject({ rule: "override" });
    source.setOverrides(undefined);
    expect(source.current().lookup("openai", "gpt-9").unpriced).toBe(true);
    expect(source.current().lookup("openai", "gpt-4o").unpriced).toBe(false);
  });
});

describe("helpers", () => {
  test("writeFileAtomic leaves the old file intact when the write fails", async () => {
    const dir = tempDir();
    const file = path.join(dir, "x.json");
    await writeFileAtomic(file, "one");
    fs.mkdirSync(path.join(dir, "blocker"));
    await expect(writeFileAtomic(path.join(dir, "blocker"), "two")).rejects.toThrow();
    expect(fs.readFileSync(file, "utf8")).toBe("one");
    expect(fs.readdirSync(dir).sort()).toEqual(["blocker", "x.json"]);
  });

  test("writeSnapshot (for build.ts) writes only a valid document and never throws", async () => {
    const dir = tempDir();
    const file = path.join(dir, "snapshot", "models-dev.json");
    expect(await writeSnapshot({ file, fetch: async () => { throw new Error("offline"); } })).toBe(false);
    expect(await writeSnapshot({ file, fetch: respond("{}") })).toBe(false);
    expect(fs.existsSync(file)).toBe(false);
    expect(await writeSnapshot({ file, fetch: respond(OLD) })).toBe(true);
    expect(fs.readFileSync(file, "utf8")).toBe(OLD);
  });
});
