/**
 * The physical limit for a Bun gateway: read the client's body, forward it to the upstream with the
 * upstream's key, stream the upstream response back untouched. No parsing, routing or logging.
 *   bun src/bench/passthrough.ts PORT UPSTREAM_PORT
 * Runs under the same CPU scheduling policy as llm-proxy's default (SCHED_BATCH on Linux, see
 * src/server/cpu-scheduling.ts), so both are measured under the same conditions.
 */
import { applyCpuScheduling } from "../server/cpu-scheduling.ts";

applyCpuScheduling("batch");
const port = Number(process.argv[2]);
const upstream = `http://127.0.0.1:${Number(process.argv[3])}`;
const headers = { "content-type": "application/json", authorization: "Bearer sk-bench-upstream-key" };

Bun.serve({
  hostname: "127.0.0.1",
  port,
  idleTimeout: 120,
  async fetch(req) {
    if (req.method === "GET") return new Response("ok");
    const path = req.url.slice(req.url.indexOf("/", 8)); // after "http://host:port"
    return fetch(upstream + path, { method: "POST", headers, body: await req.arrayBuffer() });
  },
});
