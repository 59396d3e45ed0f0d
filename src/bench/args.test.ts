import { expect, test } from "bun:test";
import { choiceFlag, positiveFlag } from "./args.ts";

test("side-script flags: positive numbers and fixed choices, with defaults and clear errors", () => {
  const argv = ["--seconds", "2.5", "--endpoint", "messages", "--max", "0"];
  expect(positiveFlag(argv, "seconds", 8)).toBe(2.5);
  expect(positiveFlag(argv, "connections", 32)).toBe(32);
  expect(() => positiveFlag(argv, "max", 1000)).toThrow("--max needs a positive number");
  expect(() => positiveFlag(["--seconds"], "seconds", 8)).toThrow("--seconds needs a positive number");
  expect(choiceFlag(argv, "endpoint", ["chat", "messages", "responses"])).toBe("messages");
  expect(choiceFlag(argv, "gateway", ["source", "auto", "binary"])).toBe("source");
  expect(() => choiceFlag(["--gateway", "docker"], "gateway", ["source", "auto", "binary"])).toThrow("--gateway takes source, auto, binary");
});
