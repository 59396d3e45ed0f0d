import { Elysia } from "elysia";
import { TOPICS, type LiveSocket, type Topic } from "../live/hub.ts";
import type { Live } from "../live/live.ts";

/**
 * `GET /api/live`: the dashboard's WebSocket. The upgrade request passes through the /api gate
 * (session cookie required, 401 otherwise), so only signed-in users subscribe. Messages are
 * `{topic, data}`; `?topics=requests,metrics` narrows the subscription (default: all).
 */
export function liveRoutes(live: Live) {
  return new Elysia({ name: "api-live" }).ws("/api/live", {
    open(ws) {
      const wanted = String((ws.data.query as Record<string, string | undefined>)?.topics ?? "")
        .split(",")
        .filter((t): t is Topic => (TOPICS as readonly string[]).includes(t));
      live.hub.add(ws.raw as unknown as LiveSocket, wanted.length ? wanted : TOPICS);
      ws.raw.send(JSON.stringify({ topic: "events", data: { type: "hello", topics: wanted.length ? wanted : TOPICS } }));
    },
    drain(ws) {
      live.hub.drain(ws.raw as unknown as LiveSocket);
    },
    close(ws) {
      live.hub.remove(ws.raw as unknown as LiveSocket);
    },
    message() {
      // The dashboard only listens.
    },
  });
}
