import { Elysia } from "elysia";
import { safeEqual } from "../auth/secret-box.ts";
import { ClientError } from "../errors.ts";
import type { Live } from "../live/live.ts";

export type MetricsSettings = {
  enabled: boolean;
  /** Answer clients on other hosts too (otherwise loopback only, unless a token is set). */
  public: boolean;
  /** Optional bearer token required from every scraper. */
  token?: string;
};

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/;

/**
 * `GET /metrics` in Prometheus text format, from the same registry as the System page. Off the
 * public interface unless enabled: by default only loopback clients are answered; set `public` or
 * a `token` to let a remote Prometheus scrape it.
 */
export function metricsRoutes(live: Live, settings: MetricsSettings) {
  const app = new Elysia({ name: "metrics" });
  if (!settings.enabled) return app;
  return app.get("/metrics", async ({ request, server }) => {
    const ip = server?.requestIP(request)?.address ?? "";
    if (settings.token) {
      const auth = request.headers.get("authorization") ?? "";
      const presented = auth.toLowerCase().startsWith("bearer ") ? auth.slice(7).trim() : "";
      if (!safeEqual(presented, settings.token)) {
        throw new ClientError(401, "A valid bearer token is required for /metrics.", "authentication_error", null, "invalid_token");
      }
    } else if (!settings.public && !LOOPBACK.test(ip)) {
      throw new ClientError(404, `Invalid URL (GET /metrics)`, "invalid_request_error", null, "unknown_url");
    }
    await live.system.hostSnapshot(10_000).catch(() => undefined);
    return new Response(live.metrics.render(), { headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" } });
  });
}
