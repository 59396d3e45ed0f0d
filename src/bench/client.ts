/**
 * Bun load client, run as a child process pinned to the load core (index.ts / loadgen.ts).
 *   bun src/bench/client.ts load '{"url","key","body","connections","durationS"}'
 *     N concurrent keep-alive loops (fetch) for durationS; prints one JSON line with
 *     requests, errors, seconds, p50/p99 latency (ms).
 *   bun src/bench/client.ts ttfb '{"url","key","body","requests","timeoutS"}'
 *     sequential streaming requests; time from fetch() to the first chunk holding an SSE `data:`
 *     line; every stream is read to its end. Prints requests, errors, ttfb p50/p99 (ms).
 */
type Common = { url: string; key: string; body: string };
type LoadArgs = Common & { connections: number; durationS: number };
type TtfbArgs = Common & { requests: number; timeoutS: number };

const MAX_REQUESTS_PER_CONN = 5_000_000;
const MAX_READS_PER_STREAM = 10_000;

function quantile(xs: number[], q: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length - 1) * q))]!;
}

function headers(a: Common) {
  return { "content-type": "application/json", authorization: `Bearer ${a.key}` };
}

async function load(a: LoadArgs) {
  const hdrs = headers(a);
  const t0 = performance.now();
  const end = t0 + a.durationS * 1000;
  const latencies: number[] = [];
  let requests = 0;
  let errors = 0;
  async function worker() {
    for (let i = 0; i < MAX_REQUESTS_PER_CONN && performance.now() < end; i++) {
      const start = performance.now();
      try {
        const res = await fetch(a.url, { method: "POST", headers: hdrs, body: a.body, signal: AbortSignal.timeout(10_000) });
        await res.arrayBuffer();
        if (res.ok) {
          requests++;
          latencies.push(performance.now() - start);
        } else errors++;
      } catch {
        errors++;
        await Bun.sleep(10);
      }
    }
  }
  await Promise.all(Array.from({ length: a.connections }, worker));
  const seconds = (performance.now() - t0) / 1000;
  return { requests, errors, seconds, rps: requests / seconds, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) };
}

async function ttfb(a: TtfbArgs) {
  const hdrs = headers(a);
  const deadline = performance.now() + a.timeoutS * 1000;
  const firsts: number[] = [];
  let errors = 0;
  const decoder = new TextDecoder();
  for (let i = 0; i < a.requests && performance.now() < deadline; i++) {
    const start = performance.now();
    try {
      const res = await fetch(a.url, { method: "POST", headers: hdrs, body: a.body, signal: AbortSignal.timeout(30_000) });
      const reader = res.body!.getReader();
      let first = NaN;
      let tail = "";
      for (let r = 0; r < MAX_READS_PER_STREAM; r++) {
        const { done, value } = await reader.read();
        if (done) break;
        const text = decoder.decode(value, { stream: true });
        if (Number.isNaN(first) && (tail + text).includes("data:")) first = performance.now() - start;
        tail = (tail + text).slice(-32);
      }
      if (res.ok && !Number.isNaN(first) && tail.includes("[DONE]")) firsts.push(first);
      else errors++;
    } catch {
      errors++;
    }
  }
  return { requests: firsts.length, errors, p50: quantile(firsts, 0.5), p99: quantile(firsts, 0.99) };
}

const [mode, json] = process.argv.slice(2);
const args = JSON.parse(json ?? "{}");
const result = mode === "load" ? await load(args as LoadArgs) : mode === "ttfb" ? await ttfb(args as TtfbArgs) : undefined;
if (!result) {
  console.error("usage: client.ts load|ttfb JSON");
  process.exit(2);
}
console.log(JSON.stringify(result));
