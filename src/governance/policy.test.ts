import { describe, expect, test } from "bun:test";
import { estimatePromptTokens, estimateTextTokens, IMAGE_TOKENS } from "./estimate.ts";
import { ModelOutputLimits } from "./model-limits.ts";
import { hasBudget, keyPolicyFromRow, keyUsability, modelAllowed, OPEN_POLICY, type KeyPolicyColumns } from "./policy.ts";
import { PRICING_SNAPSHOT } from "../testing/cli-process.ts";

const row = (r: Partial<KeyPolicyColumns> = {}): KeyPolicyColumns => ({
  enabled: true,
  expiresAt: null,
  allowedModels: null,
  budgetDailyPico: null,
  budgetMonthlyPico: null,
  budgetTotalPico: null,
  rpmLimit: null,
  tpmLimit: null,
  storeBodies: false,
  ...r,
});

describe("key policy", () => {
  test("read from the client_keys columns; budgets become exact bigint pico-USD", () => {
    expect(keyPolicyFromRow(row())).toEqual(OPEN_POLICY);
    const p = keyPolicyFromRow(row({ allowedModels: '["smart","oa/gpt-4o"]', budgetDailyPico: 10_000_000_000, budgetTotalPico: 500_000 * 1e12, rpmLimit: 60, tpmLimit: 1000, storeBodies: true }));
    expect(p.allowedModels).toEqual(["smart", "oa/gpt-4o"]);
    expect(p.budgets).toEqual({ dailyPico: 10_000_000_000n, monthlyPico: null, totalPico: 500_000_000_000_000_000n });
    expect([p.rpm, p.tpm, p.storeBodies, hasBudget(p), hasBudget(OPEN_POLICY)]).toEqual([60, 1000, true, true, false]);
  });

  test("a malformed allowlist allows nothing (fails closed)", () => {
    expect(keyPolicyFromRow(row({ allowedModels: "not json" })).allowedModels).toEqual([]);
    expect(keyPolicyFromRow(row({ allowedModels: '{"a":1}' })).allowedModels).toEqual([]);
    expect(keyPolicyFromRow(row({ allowedModels: '["a", 3, ""]' })).allowedModels).toEqual(["a"]);
  });

  test("disabled and expired keys", () => {
    expect(keyUsability(OPEN_POLICY, Date.now())).toBe("ok");
    expect(keyUsability({ ...OPEN_POLICY, enabled: false }, 0)).toBe("disabled");
    expect(keyUsability({ ...OPEN_POLICY, expiresAt: 1000 }, 999)).toBe("ok");
    expect(keyUsability({ ...OPEN_POLICY, expiresAt: 1000 }, 1000)).toBe("expired");
  });
});

describe("allowed models", () => {
  const t = (label: string) => ({ label, upstreamModel: label.slice(label.indexOf("/") + 1) });
  test("null allows everything, [] nothing", () => {
    expect(modelAllowed(null, "anything", [])).toBe(true);
    expect(modelAllowed([], "oa/gpt-4o", [t("oa/gpt-4o")])).toBe(false);
  });
  test("the name the client sent: alias, provider/model or bare model", () => {
    expect(modelAllowed(["smart"], "smart", [t("oa/gpt-4o"), t("ds/deepseek-chat")])).toBe(true);
    expect(modelAllowed(["oa/gpt-4o"], "oa/gpt-4o", [t("oa/gpt-4o")])).toBe(true);
    expect(modelAllowed(["oa/gpt-4o"], "other/gpt-4o", [t("other/gpt-4o")])).toBe(false);
    expect(modelAllowed(["oa/gpt-4o"], "gpt-4o", [t("oa/gpt-4o")])).toBe(true); // routes only to an allowed target
  });
  test("a bare model name allows it through any provider, and aliases that only reach it", () => {
    expect(modelAllowed(["gpt-4o"], "oa/gpt-4o", [t("oa/gpt-4o")])).toBe(true);
    expect(modelAllowed(["gpt-4o"], "backup/gpt-4o", [t("backup/gpt-4o")])).toBe(true);
    expect(modelAllowed(["gpt-4o"], "oa/gpt-4o-mini", [t("oa/gpt-4o-mini")])).toBe(false);
    expect(modelAllowed(["gpt-4o"], "smart", [t("oa/gpt-4o"), t("backup/gpt-4o")])).toBe(true);
    expect(modelAllowed(["gpt-4o"], "smart", [t("oa/gpt-4o"), t("ds/deepseek-chat")])).toBe(false);
  });
  test("trailing-* patterns", () => {
    expect(modelAllowed(["oa/*"], "oa/gpt-4o", [t("oa/gpt-4o")])).toBe(true);
    expect(modelAllowed(["oa/*"], "ds/deepseek-chat", [t("ds/deepseek-chat")])).toBe(false);
    expect(modelAllowed(["gpt-4o*"], "oa/gpt-4o-mini", [t("oa/gpt-4o-mini")])).toBe(true);
    expect(modelAllowed(["*"], "x", [])).toBe(true);
  });
});

describe("prompt estimate", () => {
  test("ASCII at 3 characters per token, other characters one token each", () => {
    expect(estimateTextTokens("")).toBe(0);
    expect(estimateTextTokens("abcdefghi")).toBe(3);
    expect(estimateTextTokens("abcdefghij")).toBe(4);
    expect(estimateTextTokens("日本語のテキスト")).toBe(8);
  });
  test("messages, tool calls, tool definitions, and a fixed allowance per image", () => {
    const image = `data:image/png;base64,${"A".repeat(1_000_000)}`;
    const n = estimatePromptTokens({
      messages: [
        { role: "system", content: "x".repeat(30) },
        { role: "user", content: [{ type: "text", text: "y".repeat(30) }, { type: "image", url: image }] },
        { role: "assistant", content: null, toolCalls: [{ id: "c", name: "abc", arguments: '{"q":1}' }] },
        { role: "tool", toolCallId: "c", content: "z".repeat(3) },
      ],
      tools: [{ name: "abc", parameters: {} }],
    });
    const tools = estimateTextTokens(JSON.stringify([{ name: "abc", parameters: {} }]));
    expect(n).toBe(3 + 4 * 4 + 10 + 10 + IMAGE_TOKENS + (4 + 1 + 3) + 1 + tools);
  });
});

describe("model output limits", () => {
  test("limit.output per models.dev entry, from the api.json text", async () => {
    const limits = new ModelOutputLimits(() => undefined);
    limits.set(ModelOutputLimits.parse(await Bun.file(PRICING_SNAPSHOT).text()));
    expect(limits.get("openai/gpt-4o")).toBe(16_384);
    expect(limits.get("openai/gpt-4.1-nano")).toBe(32_768);
    expect(limits.get("override:my-model")).toBeUndefined();
    expect(limits.get(undefined)).toBeUndefined();
    expect(ModelOutputLimits.parse("not json").size).toBe(0);
    expect(ModelOutputLimits.parse('{"p":{"models":{"m":{"limit":{"output":-1}},"n":{"limit":{"output":5}}}}}')).toEqual(new Map([["p/n", 5]]));
  });
  test("read lazily on first use, again on reload", () => {
    let reads = 0;
    const limits = new ModelOutputLimits(() => (reads++, '{"p":{"models":{"m":{"limit":{"output":7}}}}}'));
    expect(reads).toBe(0);
    expect(limits.get("p/m")).toBe(7);
    expect(limits.get("p/m")).toBe(7);
    limits.reload();
    expect(reads).toBe(2);
  });
});
