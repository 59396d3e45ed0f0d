import fs from "node:fs";
import path from "node:path";

/** The shared provider fixtures (read in place, never copied into the repo). */
export const FIXTURES_DIR = path.resolve(import.meta.dir, "../../../shared/fixtures");

export type Fixture = {
  name: string;
  provider: string;
  meta: { case: string; description: string };
  gateway_request?: Record<string, unknown>;
  upstream_request: { method: string; url: string; headers: Record<string, string>; body: Record<string, unknown> };
  response: { status: number; headers: Record<string, string>; body?: unknown; body_file?: string };
  expect?: Record<string, any>;
  /** Raw bytes of the response body (the .sse file or the JSON body). */
  rawBody: Uint8Array;
};

export function loadFixture(provider: string, name: string): Fixture {
  const dir = path.join(FIXTURES_DIR, provider);
  const json = JSON.parse(fs.readFileSync(path.join(dir, `${name}.json`), "utf8"));
  const rawBody = json.response.body_file
    ? new Uint8Array(fs.readFileSync(path.join(dir, json.response.body_file)))
    : new TextEncoder().encode(typeof json.response.body === "string" ? json.response.body : JSON.stringify(json.response.body));
  return { ...json, name, provider, rawBody };
}

export function listFixtures(provider: string): string[] {
  return fs
    .readdirSync(path.join(FIXTURES_DIR, provider))
    .filter((f) => f.endsWith(".json"))
    .map((f) => f.slice(0, -5))
    .sort();
}
