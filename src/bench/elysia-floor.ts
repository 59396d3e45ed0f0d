/**
 * The framework floor: a minimal Elysia route making the upstream call the gateway makes — parse the
 * client's JSON, set the upstream model, fetch, parse the JSON reply, answer with JSON (streams are
 * piped through) — and nothing else: no auth, validation, routing, admission, logging. What any
 * Elysia-based gateway pays before its own work; compare it with the bare passthrough.
 *   bun src/bench/elysia-floor.ts PORT UPSTREAM_PORT
 */
import { Elysia } from "elysia";
import { applyCpuScheduling } from "../server/cpu-scheduling.ts";

applyCpuScheduling("batch"); // as llm-proxy and the passthrough do

const port = Number(process.argv[2]);
const upstream = `http://127.0.0.1:${Number(process.argv[3])}/v1/chat/completions`;
const headers = { "content-type": "application/json", authorization: "Bearer sk-bench-upstream-key" };

new Elysia()
  .get("/healthz", () => "ok")
  .post(
    "/v1/chat/completions",
    async ({ request, server }) => {
      server?.timeout(request, 0);
      const body = (await request.json()) as { model: string; stream?: boolean };
      body.model = "gpt-4o";
      const res = await fetch(upstream, { method: "POST", headers, body: JSON.stringify(body), signal: request.signal });
      if (body.stream) return new Response(res.body, { headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" } });
      const reply = (await res.json()) as { model?: string };
      reply.model = "gpt-4o";
      return new Response(JSON.stringify(reply), { headers: { "content-type": "application/json" } });
    },
    { parse: "none" },
  )
  .listen({ hostname: "127.0.0.1", port, idleTimeout: 120 });
