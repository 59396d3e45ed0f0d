import { expect, test } from "bun:test";
import { createLogger, redactFields } from "./logger.ts";

test("JSON lines carry time, level, message and fields; secrets are redacted", () => {
  const lines: string[] = [];
  const log = createLogger({ json: true, sink: (l) => lines.push(l) });
  log.info("hello", { port: 1, apiKey: "sk-123", nested: { password: "pw", ok: true }, Authorization: "Bearer x" });
  const row = JSON.parse(lines[0]!);
  expect(row).toMatchObject({ level: "info", msg: "hello", port: 1, apiKey: "[redacted]", Authorization: "[redacted]" });
  expect(row.nested).toEqual({ password: "[redacted]", ok: true });
  expect(typeof row.time).toBe("string");
  expect(lines[0]).not.toContain("sk-123");
});

test("levels below the threshold are dropped; text format is human-readable", () => {
  const lines: string[] = [];
  const log = createLogger({ json: false, level: "warn", sink: (l) => lines.push(l) });
  log.info("quiet");
  log.warn("loud", { file: "a b" });
  expect(lines.length).toBe(1);
  expect(lines[0]).toContain("WARN");
  expect(lines[0]).toContain('file="a b"');
});

test("redactFields turns errors into their message", () => {
  expect(redactFields({ error: new Error("boom"), token: "t" })).toEqual({ error: "boom", token: "[redacted]" });
});
