import { expect, test } from "bun:test";
import type { Usage } from "../core/types.ts";
import { pricedOncePerUsage } from "./price.ts";

test("pricedOncePerUsage prices one request's usage once per provider and models", () => {
  let calls = 0;
  const price = pricedOncePerUsage((input: { providerType?: string; provider?: string; models: string[]; usage: Usage }) => {
    calls++;
    return { costPico: BigInt(input.usage.inputTokens ?? 0) * 10n, models: input.models.join(",") };
  });
  const usage: Usage = { inputTokens: 3, outputTokens: 1 };
  const first = price({ providerType: "openai", provider: "a", models: ["gpt-4o-2024-08-06", "gpt-4o"], usage });
  // The request log and budget settlement price the same finished request: one computation.
  expect(price({ providerType: "openai", provider: "a", models: ["gpt-4o-2024-08-06", "gpt-4o"], usage })).toBe(first);
  expect(calls).toBe(1);
  // Anything that changes the answer is priced again.
  expect(price({ providerType: "openai", provider: "b", models: ["gpt-4o-2024-08-06", "gpt-4o"], usage })).not.toBe(first);
  expect(price({ providerType: "openai", provider: "a", models: ["gpt-4o"], usage }).models).toBe("gpt-4o");
  expect(price({ providerType: "openai", provider: "a", models: ["gpt-4o-2024-08-06", "gpt-4o"], usage: { ...usage } })).toEqual(first);
  expect(calls).toBe(4);
});

test("pricedOncePerUsage does not keep an unpriced answer (the registry may load a moment later)", () => {
  let loaded = false;
  const price = pricedOncePerUsage((_input: { models: string[]; usage: Usage }) => ({ costPico: loaded ? 7n : null }));
  const usage: Usage = { inputTokens: 1 };
  expect(price({ models: ["m"], usage }).costPico).toBeNull();
  loaded = true;
  expect(price({ models: ["m"], usage }).costPico).toBe(7n);
});

test("pricedOncePerUsage keeps only the last result: another request's usage in between is priced again", () => {
  let calls = 0;
  const price = pricedOncePerUsage((input: { models: string[]; usage: Usage }) => (calls++, { costPico: BigInt(input.usage.inputTokens ?? 0) }));
  const a: Usage = { inputTokens: 1 };
  const b: Usage = { inputTokens: 2 };
  expect(price({ models: ["m"], usage: a }).costPico).toBe(1n);
  expect(price({ models: ["m"], usage: a }).costPico).toBe(1n);
  expect(calls).toBe(1);
  expect(price({ models: ["m"], usage: b }).costPico).toBe(2n);
  expect(price({ models: ["m"], usage: a }).costPico).toBe(1n);
  expect(calls).toBe(3);
});
