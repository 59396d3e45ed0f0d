import { expect, test } from "bun:test";
import { createAccumulator } from "../core/accumulate.ts";
import { usageOrEstimate } from "./trace.ts";

test("a stream cut short keeps the usage reported so far; output is at least the estimate from the text", () => {
  const prompt = "x".repeat(400); // ≈100 tokens estimated
  // Final usage (the stream finished before the client left): kept as it is.
  expect(usageOrEstimate({ inputTokens: 14, outputTokens: 43 }, prompt, "abc")).toEqual({ inputTokens: 14, outputTokens: 43 });
  // Gemini's running count (thoughts included in output): kept, marked estimated.
  expect(usageOrEstimate({ inputTokens: 14, outputTokens: 43, reasoningTokens: 38 }, prompt, "abcd", false)).toEqual({ inputTokens: 14, outputTokens: 43, reasoningTokens: 38, estimated: true });
  // Anthropic's start (input and cache known, output 3 so far): output from the text when that is more.
  expect(usageOrEstimate({ inputTokens: 18_792, cachedInputTokens: 18_750, outputTokens: 3 }, prompt, "y".repeat(80), false)).toEqual({ inputTokens: 18_792, cachedInputTokens: 18_750, outputTokens: 20, estimated: true });
  // Nothing reported: both estimated.
  expect(usageOrEstimate(undefined, prompt, "y".repeat(8))).toEqual({ inputTokens: 100, outputTokens: 2, estimated: true });
});

test("the accumulator takes usage events until finish, and says whether finish came", () => {
  const acc = createAccumulator();
  acc.push({ type: "response-start", warnings: [] });
  acc.push({ type: "usage", usage: { inputTokens: 10, outputTokens: 1 } });
  acc.push({ type: "text-delta", delta: "hi" });
  expect([acc.finished, acc.result().usage]).toEqual([false, { inputTokens: 10, outputTokens: 1 }]);
  acc.push({ type: "finish", finishReason: { unified: "stop", raw: "stop" }, usage: { inputTokens: 10, outputTokens: 2 } });
  acc.push({ type: "usage", usage: { inputTokens: 99, outputTokens: 99 } }); // after finish: ignored
  expect([acc.finished, acc.result().usage]).toEqual([true, { inputTokens: 10, outputTokens: 2 }]);
});
