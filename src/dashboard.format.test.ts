/** The dashboard's formatting rules that decide what a user reads (pure functions from static/lib). */
import { expect, test } from "bun:test";
import { isUnpricedRow, usd } from "../static/lib/format.ts";

test("a request without a cost is 'unpriced' only when the provider may bill it; a failure costs nothing", () => {
  const row = (status: number, tokens: number | null) => ({ cost_usd: null, status, input_tokens: tokens, output_tokens: tokens });
  expect(isUnpricedRow(row(200, 10))).toBe(true); // answered, no price known
  expect(isUnpricedRow(row(499, 10))).toBe(true); // the client left mid-call: it may be billed
  expect(isUnpricedRow(row(502, null))).toBe(false); // upstream failure
  expect(isUnpricedRow(row(404, null))).toBe(false); // unknown model
  expect(isUnpricedRow(row(200, null))).toBe(false); // no tokens reported
  expect(isUnpricedRow({ cost_usd: 0.001, status: 200, input_tokens: 1, output_tokens: 1 })).toBe(false);
  expect(isUnpricedRow({ cost_usd: null, status: "200", input_tokens: 1, output_tokens: null })).toBe(true);
  expect(usd(null)).toBe("unpriced"); // never a silent $0
  expect(usd(0)).toBe("$0");
});
