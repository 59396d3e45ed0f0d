import { describe, expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { Database } from "bun:sqlite";
import { loadConfig } from "../config.ts";
import { createLogger } from "../logger.ts";
import { freePort, PRICING_SNAPSHOT } from "../testing/cli-process.ts";
import { tempDir } from "../testing/temp.ts";
import { startServer } from "./serve.ts";

async function start(extra: Record<string, string> = {}, configure?: Parameters<typeof startServer>[2]) {
  const dir = tempDir();
  const lines: string[] = [];
  const config = loadConfig({
    env: { LLM_PROXY_DATA_DIR: dir, LLM_PROXY_PORT: String(await freePort()), LLM_PROXY_PRICING_SOURCE: PRICING_SNAPSHOT, ...extra },
  });
  const running = await startServer(config, createLogger({ json: true, sink: (l) => lines.push(l) }), configure);
  return { running, dir, lines, base: running.url.href.replace(/\/$/, "") };
}

describe("HTTP basics", () => {
  test("/healthz and /readyz answer JSON; the status page is served with ETag, gzip and a CSP", async () => {
    const { running, base } = await start();
    try {
      const health = await fetch(`${base}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: "ok", version: expect.any(String) });
      const ready = await fetch(`${base}/readyz`);
      expect(await ready.json()).toMatchObject({ status: "ready", database: "ok", migrations: "current" });

      const page = await fetch(`${base}/`);
      expect(page.status).toBe(200);
      expect(page.headers.get("content-type")).toContain("text/html");
      expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
      expect(page.headers.get("x-frame-options")).toBe("DENY");
      const html = await page.text();
      const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1]!;
      const style = /href="(\/assets\/[^"]+\.css)"/.exec(html)![1]!;
      const etag = page.headers.get("etag")!;
      expect(page.headers.get("cache-control")).toBe("no-cache");
      expect((await fetch(`${base}/`, { headers: { "if-none-match": etag } })).status).toBe(304);
      // Client-side routes get the page too; unknown files and API paths do not.
      expect((await fetch(`${base}/setup?token=x`)).headers.get("content-type")).toContain("text/html");
      expect((await fetch(`${base}/nope.js`)).status).toBe(404);

      const css = await fetch(`${base}${style}`, { headers: { "accept-encoding": "gzip" }, decompress: false } as RequestInit);
      expect(css.headers.get("content-encoding")).toBe("gzip");
      expect(css.headers.get("content-type")).toContain("text/css");
      expect(css.headers.get("cache-control")).toContain("immutable");
      await css.arrayBuffer();
      expect((await fetch(`${base}${script}`)).headers.get("content-type")).toContain("javascript");
    } finally {
      await running.stop();
    }
  });

  test("unknown routes get an OpenAI-shaped 404, never a stack trace", async () => {
    const { running, base } = await start();
    try {
      expect((await fetch(`${base}/v1/nope`)).status).toBe(404);
      const res = await fetch(`${base}/v1/nope`, { method: "POST", body: "{" });
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({
        error: { message: "Invalid URL (POST /v1/nope)", type: "invalid_request_error", param: null, code: "unknown_url" },
      });
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    } finally {
      await running.stop();
    }
  });

  test("a second instance on the same port fails instead of sharing it", async () => {
    const first = await start();
    try {
      const config = loadConfig({ env: { LLM_PROXY_DATA_DIR: tempDir(), LLM_PROXY_PORT: String(first.running.url.port), LLM_PROXY_PRICING_SOURCE: PRICING_SNAPSHOT } });
      await expect(startServer(config, createLogger({ sink: () => {} }))).rejects.toThrow(/cannot listen/);
    } finally {
      await first.running.stop();
    }
  });
});

describe("graceful shutdown", () => {
  test("in-flight requests finish, new connections are refused, hooks run, the database closes", async () => {
    let releaseSlow!: () => void;
    const slowGate = new Promise<void>((r) => (releaseSlow = r));
    const order: string[] = [];
    const { running, base, dir } = await start({}, {
      configure: (app) => {
        app.get("/test/slow", async () => {
          await slowGate;
          order.push("handler");
          return { done: true };
        });
      },
    });
    running.onShutdown({ name: "flush", run: async () => void order.push("hook") });

    const inFlight = fetch(`${base}/test/slow`).then((r) => r.json());
    await Bun.sleep(50);
    const stopped = running.stop("test").then(() => order.push("stopped"));
    await Bun.sleep(50);
    expect((await fetch(`${base}/readyz`).catch(() => null))?.status ?? "refused").toBe("refused");
    expect(order).toEqual([]); // still waiting for the in-flight request
    releaseSlow();
    expect(await inFlight).toEqual({ done: true });
    await stopped;
    expect(order).toEqual(["handler", "hook", "stopped"]);
    // The database file is closed and consistent: another connection can open and checkpoint it.
    const check = new Database(path.join(dir, "llm-proxy.db"));
    expect(check.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
    check.close();
    expect(fs.existsSync(path.join(dir, "llm-proxy.db-wal")) ? fs.statSync(path.join(dir, "llm-proxy.db-wal")).size : 0).toBe(0);
  });

  test("requests still running after the grace period are cut off and stop() completes", async () => {
    const { running, base } = await start({ LLM_PROXY_SHUTDOWN_GRACE_MS: "200" }, {
      configure: (app) => {
        app.get("/test/hang", () => new Promise(() => {}));
      },
    });
    const hanging = fetch(`${base}/test/hang`).then(
      (r) => r.status,
      () => "closed",
    );
    await Bun.sleep(50);
    const t0 = performance.now();
    await running.stop("test");
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(await hanging).toBe("closed");
  });
});
