import { expect, test } from "bun:test";
import type { RequestRow } from "../db/request-log.ts";
import { formatRequestTable, parseSince } from "./requests-format.ts";

test("parseSince: durations, and dates whose time without a zone is UTC; anything else is an error", () => {
  const now = Date.UTC(2026, 10, 27, 12, 0, 0);
  const at = (t: string) => new Date(parseSince(t, now)).toISOString();
  expect(at("30m")).toBe("2026-11-27T11:30:00.000Z");
  expect(at("1.5h")).toBe("2026-11-27T10:30:00.000Z");
  expect(at("7d")).toBe("2026-11-20T12:00:00.000Z");
  expect(at("2026-11-01")).toBe("2026-11-01T00:00:00.000Z");
  expect(at("2026-11-01T09:30")).toBe("2026-11-01T09:30:00.000Z");
  expect(at("2026-11-01 09:30:15")).toBe("2026-11-01T09:30:15.000Z"); // as `requests` prints it
  expect(at("2026-11-01T09:30:15.25Z")).toBe("2026-11-01T09:30:15.250Z");
  expect(at("2026-11-01T09:30+02:00")).toBe("2026-11-01T07:30:00.000Z");
  expect(at("2026-11-01T09:30-0530")).toBe("2026-11-01T15:00:00.000Z");
  for (const bad of ["5", "12", "Nov 1", "yesterday", "-5m", "2026-02-31", "2026-13-01", "2026-11-01T25:00", "", "5 m"]) {
    expect(() => parseSince(bad, now)).toThrow("is neither a duration");
  }
});

test("the table says its times are UTC and shows a project column only when a row has a project", () => {
  const row = (over: Partial<RequestRow>): RequestRow =>
    ({
      id: "req_1", received_at: Date.UTC(2026, 10, 1, 9, 30, 15), status: 200, requested_model: "oa/gpt-4o", provider: "oa", upstream_model: "gpt-4o",
      input_tokens: 12, cached_tokens: null, output_tokens: 3, usage_estimated: 0, cost_pico: 1_000_000, latency_ms: 120, project: null, ...over,
    }) as RequestRow;
  const plain = formatRequestTable([row({}), row({ status: 404, provider: "oa", upstream_model: null, input_tokens: null, output_tokens: null, cost_pico: null })]);
  expect(plain.split("\n")[0]).toMatch(/^TIME \(UTC\)\s+STATUS\s+MODEL\s+PROVIDER\/UPSTREAM/);
  expect(plain).toContain("2026-11-01 09:30:15");
  expect(plain).not.toContain("oa/ "); // a failed request names its provider without an empty upstream
  const withProject = formatRequestTable([row({ project: "apollo" }), row({})]);
  expect(withProject.split("\n")[0]).toContain("PROJECT");
  expect(withProject).toContain("apollo");
});
