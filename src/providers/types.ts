// The ProviderAdapter contract (STYLE.md §3). An adapter is data plus pure functions:
// it never calls fetch; providers/run.ts does the I/O once for every adapter.
import type { z } from 'zod';
import type { ChatRequest, ChatResult, ProviderErrorInfo, ProviderId, StreamEvent, Warning } from '../core/types.ts';

export type ProviderSettings = {
  /** Upstream API key; never logged, redacted from every error. '' = send no auth header. */
  apiKey: string;
  /** Overrides the adapter's defaultBaseUrl (proxies, self-hosted); required when there is none. */
  baseUrl?: string;
  /** Extra static headers (override the defaults). */
  headers?: Record<string, string>;
  /** The configured provider *instance* id, reported as ProviderError.provider (default: adapter id). */
  instanceId?: string;
};

export type HttpRequest = {
  /** Full URL. */
  url: string;
  /** Request headers (auth included). */
  headers: Record<string, string>;
  /** JSON-serialisable; run.ts stringifies once. */
  body: unknown;
};

export type StreamDecoder<Chunk> = {
  /** One parsed SSE `data` payload in; zero or more canonical events out. */
  push(chunk: Chunk): StreamEvent[];
  /**
   * Upstream ended (or sent [DONE]); emit whatever is still pending, always ending with `finish`.
   * A truncated stream yields `error` then `finish` with unified 'error'.
   */
  end(): StreamEvent[];
};

/** Input of parseError. A 2xx status means an error frame that arrived inside a 200 stream/body. */
export type ErrorInput = { status: number; body: string; headers: Headers; statusText?: string };

export type ProviderAdapter<WireResponse = unknown, WireChunk = unknown> = {
  /** Adapter type id. */
  id: ProviderId;
  /** Base URL used when the instance sets none (undefined: base URL is required). */
  defaultBaseUrl: string | undefined;

  /**
   * Pure, optional. Requests this upstream can never serve (e.g. images to a text-only model)
   * → an error to surface *without* calling the upstream. run.ts calls it first; the gateway may
   * call it earlier to skip a target.
   */
  validate?(request: ChatRequest, settings: ProviderSettings): ProviderErrorInfo | undefined;

  /** Pure. Unsupported settings become warnings, never exceptions. */
  buildRequest(
    request: ChatRequest,
    settings: ProviderSettings,
    options: { stream: boolean },
  ): { http: HttpRequest; warnings: Warning[] };

  /** Minimal, tolerant wire schemas: only fields we read, `.nullish()` everywhere. */
  responseSchema: z.ZodType<WireResponse>;
  chunkSchema: z.ZodType<WireChunk>;

  /**
   * Optional fast paths for the schemas above (zod validation is a large share of per-request CPU).
   * Pure, never throw. Return the input unchanged when it is already clean, else undefined and run.ts
   * falls back to the schema. Invariant: whenever one accepts a value, `schema.parse(value)` succeeds
   * and deep-equals (strictly) what it returned; when unsure, return undefined.
   */
  fastResponse?: (data: unknown) => WireResponse | undefined;
  fastChunk?: (data: unknown) => WireChunk | undefined;

  /** Pure. Non-streaming 2xx body → result. */
  parseResponse(body: WireResponse, warnings: Warning[]): ChatResult;

  /** Fresh decoder per call; all per-stream state lives inside it. */
  createStreamDecoder(warnings: Warning[]): StreamDecoder<WireChunk>;

  /** Pure. Non-2xx (or an in-stream error frame) → typed info. Must not throw on garbage input. */
  parseError(input: ErrorInput): ProviderErrorInfo;

  /**
   * The client API whose replies this upstream's JSON replies already are (a request-log endpoint
   * name, e.g. "chat.completions" for OpenAI itself). A validated JSON reply is then sent to a client
   * of that API as the upstream wrote it, instead of being read into a ChatResult and written again
   * (the result is still read, for the log). Unset for upstreams whose replies need normalising.
   */
  nativeReplyEndpoint?: string;
};
