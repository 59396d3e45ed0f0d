import { signal } from "@preact/signals";
import { api } from "./api.ts";

/**
 * The live connection: WebSockets to `/api/live` (same origin; the session cookie authenticates
 * the upgrade) carrying `{topic, data}` messages. One socket carries `requests` and `events` while
 * signed in; a second one carries `metrics` only while a page listens to it, because the server
 * samples host metrics (which spawns processes) only while someone subscribes to that topic.
 * On close a socket reconnects with exponential backoff (0.5 s doubling to 30 s, with jitter);
 * the main socket's state is `liveStatus`, which the header shows.
 */
export type Topic = "requests" | "metrics" | "events";
export type LiveStatus =
  | { state: "idle" }
  | { state: "connecting"; attempt: number }
  | { state: "open"; since: number }
  | { state: "reconnecting"; attempt: number; at: number };

export const liveStatus = signal<LiveStatus>({ state: "idle" });

type Handler = (data: any) => void;
const handlers: Record<Topic, Set<Handler>> = { requests: new Set(), metrics: new Set(), events: new Set() };

type Channel = {
  topics: Topic[];
  main: boolean;
  socket?: WebSocket;
  timer?: ReturnType<typeof setTimeout>;
  attempt: number;
  wanted: boolean;
};
const mainChannel: Channel = { topics: ["requests", "events"], main: true, attempt: 0, wanted: false };
const metricsChannel: Channel = { topics: ["metrics"], main: false, attempt: 0, wanted: false };
let signedIn = false;
let onUnauthorized: (() => void) | undefined;

/** Subscribes to a topic; returns the unsubscribe function (for useEffect cleanups). */
export function subscribe(topic: Topic, fn: Handler): () => void {
  handlers[topic].add(fn);
  if (topic === "metrics" && signedIn) open(metricsChannel);
  return () => {
    handlers[topic].delete(fn);
    if (topic === "metrics" && handlers.metrics.size === 0) close(metricsChannel);
  };
}

export function startLive(options: { onUnauthorized?: () => void } = {}): void {
  onUnauthorized = options.onUnauthorized;
  signedIn = true;
  open(mainChannel);
  if (handlers.metrics.size) open(metricsChannel);
}

export function stopLive(): void {
  signedIn = false;
  close(mainChannel);
  close(metricsChannel);
  liveStatus.value = { state: "idle" };
}

/** Reconnects now instead of waiting out the backoff (the indicator's "retry" button). */
export function reconnectNow(): void {
  for (const c of [mainChannel, metricsChannel]) {
    if (!c.wanted || c.socket) continue;
    clearTimeout(c.timer);
    connect(c);
  }
}

function open(c: Channel): void {
  if (c.wanted) return;
  c.wanted = true;
  c.attempt = 0;
  connect(c);
}

function close(c: Channel): void {
  c.wanted = false;
  clearTimeout(c.timer);
  const s = c.socket;
  c.socket = undefined;
  s?.close(1000, "done");
}

function connect(c: Channel): void {
  clearTimeout(c.timer);
  const url = `${window.location.protocol === "https:" ? "wss:" : "ws:"}//${window.location.host}/api/live?topics=${c.topics.join(",")}`;
  if (c.main) liveStatus.value = { state: "connecting", attempt: c.attempt };
  let opened = false;
  let ws: WebSocket;
  try {
    ws = new WebSocket(url);
  } catch {
    retry(c);
    return;
  }
  c.socket = ws;
  ws.onopen = () => {
    opened = true;
    c.attempt = 0;
    if (c.main) liveStatus.value = { state: "open", since: Date.now() };
  };
  ws.onmessage = (event) => {
    let message: { topic?: Topic; data?: unknown };
    try {
      message = JSON.parse(String(event.data));
    } catch {
      return;
    }
    if (!message.topic || !c.topics.includes(message.topic)) return;
    for (const fn of handlers[message.topic]) {
      try {
        fn(message.data);
      } catch (e) {
        console.error("live handler failed", e);
      }
    }
  };
  ws.onclose = () => {
    if (c.socket !== ws) return;
    c.socket = undefined;
    if (!c.wanted) return;
    // A refused upgrade looks like any failed connection: ask whether the session is still valid.
    if (!opened && c.main) {
      api.get("/api/auth/me").catch((e) => {
        if (e?.status === 401) {
          stopLive();
          onUnauthorized?.();
        }
      });
    }
    retry(c);
  };
}

function retry(c: Channel): void {
  if (!c.wanted) return;
  const delay = Math.min(30_000, 500 * 2 ** c.attempt) * (0.8 + Math.random() * 0.4);
  c.attempt++;
  if (c.main) liveStatus.value = { state: "reconnecting", attempt: c.attempt, at: Date.now() + delay };
  c.timer = setTimeout(() => connect(c), delay);
}
