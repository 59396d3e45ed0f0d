/**
 * Payloads shared by the mock upstream, the load generators and the sanity checks: a realistic
 * client request, a ~600-byte chat.completion and a streamed reply shaped like OpenAI's
 * (content chunks, a finish chunk, a usage chunk, `data: [DONE]`).
 */

export const MODEL = "bench/gpt-4o";
const UPSTREAM_MODEL = "gpt-4o-2024-08-06";
const ID = "chatcmpl-BENCHq7Yx3vTn2cWkA9sR4mLpZ0";
const CREATED = 1767225600;

const MESSAGES = [
  { role: "system", content: "You are a concise assistant. Answer in plain English." },
  { role: "user", content: "In two sentences, why do HTTP clients keep connections alive between requests?" },
];

/** Client → gateway body, non-streaming (no spaces: the mock looks for `"stream":true`). */
export const CHAT_BODY = JSON.stringify({ model: MODEL, messages: MESSAGES, temperature: 0.2, max_tokens: 256 });
/** Client → gateway body, streaming with usage. */
export const STREAM_BODY = JSON.stringify({
  model: MODEL,
  messages: MESSAGES,
  temperature: 0.2,
  max_tokens: 256,
  stream: true,
  stream_options: { include_usage: true },
});

const ANSWER =
  "Reusing a connection skips the TCP and TLS handshakes, saving round trips on every request. " +
  "It also keeps the congestion window warm, so replies arrive sooner.";

const USAGE = {
  prompt_tokens: 38,
  completion_tokens: 41,
  total_tokens: 79,
  prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 },
};

/** Upstream non-streaming reply. */
export const COMPLETION_JSON = JSON.stringify({
  id: ID,
  object: "chat.completion",
  created: CREATED,
  model: UPSTREAM_MODEL,
  choices: [
    {
      index: 0,
      message: { role: "assistant", content: ANSWER, refusal: null, annotations: [] },
      logprobs: null,
      finish_reason: "stop",
    },
  ],
  usage: USAGE,
  service_tier: "default",
  system_fingerprint: "fp_f33640a400",
});

const CONTENT_CHUNKS = 20;

function chunk(delta: Record<string, unknown>, finish: string | null, extra: Record<string, unknown> = {}): string {
  const base = {
    id: ID,
    object: "chat.completion.chunk",
    created: CREATED,
    model: UPSTREAM_MODEL,
    service_tier: "default",
    system_fingerprint: "fp_f33640a400",
  };
  const body = extra.choices ? { ...base, ...extra } : { ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], usage: null };
  return `data: ${JSON.stringify(body)}\n\n`;
}

/** Upstream SSE events, one string per network write: 20 content chunks, finish, usage, [DONE]. */
export const STREAM_EVENTS: string[] = (() => {
  const words = ANSWER.split(/(?<= )/) // 26 words;
  const at = (i: number) => Math.floor((i * words.length) / CONTENT_CHUNKS);
  const out: string[] = [];
  for (let i = 0; i < CONTENT_CHUNKS; i++) {
    const text = words.slice(at(i), at(i + 1)).join(""); // never empty: more words than chunks
    out.push(chunk(i === 0 ? { role: "assistant", content: text, refusal: null } : { content: text }, null));
  }
  out.push(chunk({}, "stop"));
  out.push(chunk({}, null, { choices: [], usage: USAGE }));
  out.push("data: [DONE]\n\n");
  return out;
})();

/** Checks a non-streaming reply; returns a problem description or undefined. */
export function checkCompletion(status: number, text: string): string | undefined {
  if (status !== 200) return `status ${status}: ${text.slice(0, 300)}`;
  try {
    const data = JSON.parse(text) as { choices?: Array<{ message?: { content?: string } }>; usage?: unknown };
    if (!data.choices?.[0]?.message?.content) return `no choices[0].message.content in ${text.slice(0, 300)}`;
    if (!data.usage) return "no usage in reply";
  } catch {
    return `not JSON: ${text.slice(0, 300)}`;
  }
  return undefined;
}

/** Checks a streamed reply; returns a problem description or undefined. */
export function checkStream(status: number, text: string): string | undefined {
  if (status !== 200) return `status ${status}: ${text.slice(0, 300)}`;
  const data = text.split("\n").filter((l) => l.startsWith("data:"));
  if (data.at(-1)?.trim() !== "data: [DONE]") return `stream does not end with [DONE]: …${text.slice(-200)}`;
  if (data.length < CONTENT_CHUNKS) return `only ${data.length} data lines`;
  return undefined;
}
