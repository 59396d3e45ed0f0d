import { describe, expect, test } from "bun:test";
import type { ResolvedProvider } from "../config.ts";
import { KeyPool } from "./key-pool.ts";
import { labelProvider, Router } from "./router.ts";

const provider = (id: string, type: ResolvedProvider["type"], models?: string[]): ResolvedProvider => ({
  id,
  type,
  apiKeys: [{ value: "k", ref: "…" }],
  models,
  headers: {},
  source: "file",
  ...(type === "openai-compatible" ? { baseUrl: "http://127.0.0.1:1/v1" } : {}),
});

describe("router", () => {
  const router = new Router(
    [provider("oa", "openai"), provider("ds", "deepseek"), provider("x", "grok"), provider("local", "openai-compatible", ["llama3.1:8b", "org/model"])],
    { smart: ["oa/gpt-4o", "ds/deepseek-chat"], broken: ["gone/model"] },
  );
  const labels = (name: string) => {
    const r = router.resolve(name);
    return r.ok ? r.targets.map((t) => t.label) : r.message;
  };

  test("provider-id/model addresses one provider; model ids may contain slashes", () => {
    expect(labels("oa/gpt-4o")).toEqual(["oa/gpt-4o"]);
    expect(labels("local/org/model")).toEqual(["local/org/model"]);
    expect(labels("local/not-listed")).toContain("not enabled");
  });

  test("aliases expand to their fallback chain in order", () => {
    expect(labels("smart")).toEqual(["oa/gpt-4o", "ds/deepseek-chat"]);
    expect(labels("broken")).toContain("no usable target");
  });

  test("bare names go to the provider that lists them, else the one known to serve them", () => {
    expect(labels("llama3.1:8b")).toEqual(["local/llama3.1:8b"]);
    expect(labels("org/model")).toEqual(["local/org/model"]);
    expect(labels("gpt-4o-mini")).toEqual(["oa/gpt-4o-mini"]);
    expect(labels("o4-mini")).toEqual(["oa/o4-mini"]);
    expect(labels("deepseek-reasoner")).toEqual(["ds/deepseek-reasoner"]);
    expect(labels("grok-4")).toEqual(["x/grok-4"]);
    expect(labels("claude-sonnet-4")).toContain("does not exist");
  });

  test("a resolution is shared and frozen until the providers change", () => {
    const r = new Router([provider("oa", "openai", ["gpt-4o"])], {});
    const first = r.resolve("oa/gpt-4o");
    expect(r.resolve("oa/gpt-4o")).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    if (!first.ok) throw new Error("expected a route");
    expect(() => first.targets.push(first.targets[0]!)).toThrow();
    expect(() => Object.assign(first.targets[0]!, { upstreamModel: "x" })).toThrow();
    expect(r.resolve("oa/other")).toMatchObject({ ok: false });
    // A provider set without gpt-4o in its allowlist: the cached route must not survive.
    r.replaceProviders([provider("oa", "openai", ["other"])]);
    expect(r.resolve("oa/gpt-4o")).toMatchObject({ ok: false, message: expect.stringContaining("not enabled") });
    expect(r.resolve("oa/other")).toMatchObject({ ok: true, targets: [{ label: "oa/other" }] });
    // Bounded: many distinct names (clients choose them) do not grow it without end.
    for (let i = 0; i < 3000; i++) r.resolve(`oa/m${i}`);
    expect((r as unknown as { routes: Map<string, unknown> }).routes.size).toBeLessThanOrEqual(1024);
  });

  test("the model list has aliases, then each provider's models", () => {
    const ids = router.listModels().map((m) => m.id);
    expect(ids.slice(0, 2)).toEqual(["smart", "broken"]);
    expect(ids).toContain("oa/gpt-4o");
    expect(ids).toContain("ds/deepseek-reasoner");
    expect(ids).toContain("local/llama3.1:8b");
  });
});

describe("key pool", () => {
  test("rotates round robin across requests", () => {
    const pool = new KeyPool(1000);
    expect(pool.order("p", 3)).toEqual([0, 1, 2]);
    expect(pool.order("p", 3)).toEqual([1, 2, 0]);
    expect(pool.order("p", 3)).toEqual([2, 0, 1]);
    expect(pool.order("q", 1)).toEqual([0]);
    expect(pool.order("none", 0)).toEqual([]);
  });

  test("a benched key is skipped until its cooldown ends; if all are benched the soonest back is tried", () => {
    let now = 0;
    const pool = new KeyPool(1000, () => now);
    pool.bench("p", 0);
    expect(pool.order("p", 2)).toEqual([1]);
    now = 500;
    pool.bench("p", 1);
    expect(pool.order("p", 2)).toEqual([0]);
    now = 1001;
    expect([...pool.order("p", 2)].sort()).toEqual([0]);
    now = 1501;
    expect(pool.order("p", 2).length).toBe(2);
  });
});

test("labelProvider: the provider id of a target label, whose model may contain slashes", () => {
  expect(labelProvider("openrouter/meta-llama/llama-3-70b")).toBe("openrouter");
  expect(labelProvider("oa/gpt-4o")).toBe("oa");
  expect(labelProvider("no-slash")).toBe("no-slash");
});
