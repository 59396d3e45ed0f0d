/**
 * A programmable upstream on 127.0.0.1 for gateway tests. Each request is recorded (method, path,
 * headers, parsed JSON body) and answered by the handler, which may be swapped per test.
 */
export type RecordedRequest = { method: string; path: string; headers: Headers; body: any; aborted: Promise<number> };
export type UpstreamHandler = (req: RecordedRequest, request: Request) => Response | Promise<Response>;

export function startMockUpstream(handler: UpstreamHandler) {
  const requests: RecordedRequest[] = [];
  let current = handler;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(request) {
      const url = new URL(request.url);
      const text = await request.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {}
      const aborted = new Promise<number>((resolve) =>
        request.signal.addEventListener("abort", () => resolve(performance.now()), { once: true }),
      );
      const rec: RecordedRequest = { method: request.method, path: url.pathname + url.search, headers: request.headers, body, aborted };
      requests.push(rec);
      return current(rec, request);
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    requests,
    setHandler(h: UpstreamHandler) {
      current = h;
    },
    stop: () => server.stop(true),
  };
}

/** An SSE reply that sends `text` and then stays open without another byte (an upstream still working). */
export function sendThenHang(text: string | Uint8Array): Response {
  const bytes = typeof text === "string" ? new TextEncoder().encode(text) : text;
  return new Response(
    new ReadableStream({
      start(c) {
        c.enqueue(bytes);
      },
    }),
    { headers: { "content-type": "text/event-stream" } },
  );
}

/** A response whose body is sent in the given pieces, `delayMs` apart. */
export function chunkedResponse(
  pieces: Uint8Array[],
  init: { status?: number; headers?: Record<string, string>; delayMs?: number; signal?: AbortSignal } = {},
): Response {
  let i = 0;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (i >= pieces.length) return controller.close();
      if (init.delayMs && i > 0) await Bun.sleep(init.delayMs);
      controller.enqueue(pieces[i++]!);
    },
  });
  return new Response(stream, { status: init.status ?? 200, headers: init.headers });
}

/** Splits bytes into pieces of `size` bytes (1 = one byte at a time). */
export function splitBytes(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.slice(i, i + size));
  return out;
}
