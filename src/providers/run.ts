// runProvider() and openProvider(): the only place that calls fetch. HTTP, SSE, timeouts and errors, once for every adapter.
//
// Contract for callers (gateway.ts):
// * Before the first OUTPUT event (text, reasoning, tool call or finish) nothing is yielded: leading
//   events (response-start) are held back and released together with the first output. Any failure
//   up to then is THROWN as a ProviderError, so the gateway can fall back to the next target.
// * After that, a failure is yielded as `error` followed by `finish` { unified: 'error' }; the
//   iterator then ends normally.
// * A caller abort (options.signal) cancels the upstream request at once (fetch and body reads share
//   the signal) and rethrows the signal's reason, at any point: a gone client is not a provider error.
// * Breaking out of the loop early cancels the upstream body.
// * Keep-alive towards the CLIENT is the route's job (a timer on its own SSE stream), not ours: we
//   neither forward upstream SSE comments nor emit heartbeat events. Upstream comments are only
//   counted; they do not reset the idle timer (DeepSeek can send ": keep-alive" for 10 minutes).
import { resultToEvents } from '../core/accumulate.ts';
import type { ChatRequest, ChatResult, ProviderErrorInfo, StreamEvent, Warning } from '../core/types.ts';
import { ProviderError } from './errors.ts';
import { createSseParser } from './sse.ts';
import type { ProviderAdapter, ProviderSettings } from './types.ts';
import type { z } from 'zod';

export type RunTimeouts = {
  /** Request start → response headers. */
  connectMs?: number;
  /** Request start → first SSE data message (streams) or first body bytes (non-streaming). */
  firstByteMs?: number;
  /**
   * Longest upstream silence between SSE data messages (comments do not count) or body chunks.
   * Only time spent waiting on the upstream counts, not time the consumer takes between pulls.
   */
  idleMs?: number;
};

export type RunOptions = {
  /** Ask the upstream to stream. A JSON reply to a stream request is still handled. */
  stream: boolean;
  /** Client abort; propagated to the upstream fetch. */
  signal?: AbortSignal;
  /** Injected in tests (replay fetch); defaults to globalThis.fetch. */
  fetch?: typeof fetch;
  /** Unset = no limit. Every timeout is a ProviderError of class `timeout`, retryable. */
  timeouts?: RunTimeouts;
};

type ReadResult = { done: true; value?: undefined } | { done: false; value: Uint8Array };

const OUTPUT_EVENTS = new Set<StreamEvent['type']>(['text-delta', 'reasoning-delta', 'tool-call-delta', 'finish']);

/** Abort reason used by our own timers (distinguishes them from the caller's abort). */
class TimeoutReason {
  constructor(readonly message: string) {}
}

/** Calls the upstream and yields canonical events (see the contract at the top of this file). */
export async function* runProvider(
  adapter: ProviderAdapter,
  request: ChatRequest,
  settings: ProviderSettings,
  options: RunOptions,
): AsyncGenerator<StreamEvent, void, undefined> {
  const opened = await openProvider(adapter, request, settings, options);
  if (opened.result) yield* resultToEvents(opened.result);
  else yield* opened.events;
}

/**
 * An upstream call up to the point where its reply is known to be a whole JSON document or a stream:
 * `result` is a JSON reply, read whole (the call is over, nothing is left to clean up); `events`
 * continues a stream (same contract as runProvider: nothing is yielded before the first output,
 * and failures up to then are thrown from the first `next()`).
 */
export type OpenedProvider =
  | { result: ChatResult; /** The reply's JSON text, as the upstream sent it. */ body: string; events?: undefined }
  | { result?: undefined; body?: undefined; events: AsyncGenerator<StreamEvent, void, undefined> };

/**
 * runProvider without the async iteration of a JSON reply: the gateway loop uses it so a
 * non-streaming request gets the adapter's ChatResult as it is, instead of turning it into events
 * and folding them back (a generator step, a promise and a microtask per event, and the objects
 * of both conversions). Failures before the reply is known are thrown, as from runProvider's
 * first `next()`.
 */
export function openProvider(
  adapter: ProviderAdapter,
  request: ChatRequest,
  settings: ProviderSettings,
  options: RunOptions,
): Promise<OpenedProvider> {
  // Not an async function itself (UpstreamCall.open is): a failure here still rejects, never throws.
  try {
    const refused = adapter.validate?.(request, settings);
    if (refused) throw new ProviderError({ provider: settings.instanceId ?? adapter.id, info: refused, apiKey: settings.apiKey });
    const { http, warnings } = adapter.buildRequest(request, settings, { stream: options.stream });
    return new UpstreamCall(adapter, settings, options).open(http, warnings);
  } catch (error) {
    return Promise.reject(error);
  }
}

const ignore = () => {};

/**
 * One upstream call: its fetch, body reads, limits and cleanup. A class rather than closures in
 * openProvider: its state lives in one object and its steps are shared methods, where the closures
 * were a dozen function objects and their scopes allocated per call (a census of the heap counted
 * ~70 objects per non-streaming call besides the fetch's own). It is also the entry in `watched`
 * that the sweeper checks for passed limits and a gone caller.
 */
class UpstreamCall {
  private readonly provider: string;
  /**
   * Aborted when a limit passes or the caller goes away; the fetch and every body read listen to
   * it. The caller's abort is forwarded by the sweeper rather than with AbortSignal.any: in Bun
   * 1.4.5 a signal from AbortSignal.any that has a listener is never collected, keeping each
   * request's response, reader and timers alive (measured: ~8 KB and an upstream Response retained
   * per request).
   */
  private readonly controller = new AbortController();
  private readonly signal: AbortSignal;
  private reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  /** Rejects a whole-body read in progress (a JSON reply from an injected fetch, see `open`). */
  private rejectBody: ((reason: unknown) => void) | undefined;
  /** Upstream SSE comments seen (keep-alives). */
  private comments = 0;
  /** Time spent waiting on the upstream since its last data. */
  private silentMs = 0;
  /** Deadlines (performance.now() times; Infinity = not armed), checked by `sweep`. */
  connectAt = Infinity;
  firstByteAt = Infinity;
  idleAt = Infinity;
  /** This call's slot in `watched`, or -1 when it is not watched. */
  slot = -1;

  constructor(
    private readonly adapter: ProviderAdapter,
    private readonly settings: ProviderSettings,
    private readonly options: RunOptions,
  ) {
    this.provider = settings.instanceId ?? adapter.id;
    this.signal = this.controller.signal;
  }

  private fail(info: ProviderErrorInfo, upstreamBody?: string, cause?: unknown): ProviderError {
    return new ProviderError({ provider: this.provider, info, upstreamBody, apiKey: this.settings.apiKey, cause });
  }

  private invalidResponse(message: string, status?: number): ProviderErrorInfo {
    return { message, errorClass: 'invalid_response', retryable: true, ...(status ? { status } : {}) };
  }

  /**
   * Every abort (ours or the caller's) goes through here: the fetch and body reads see the signal,
   * and a fetch that ignores the signal sees its body cancelled instead. (Called directly rather
   * than from 'abort' listeners: listener bookkeeping was a measurable share of a request's CPU.)
   */
  abortAll(reason: unknown): void {
    if (this.signal.aborted) return;
    this.controller.abort(reason);
    this.reader?.cancel(reason).catch(ignore);
    this.rejectBody?.(reason);
  }

  /** Starts watching the limits and the caller (see `sweep`). */
  private startWatch(): void {
    if (this.slot >= 0) return;
    this.slot = watched.push(this) - 1;
    if (sweeper === undefined) {
      sweeper = setInterval(sweep, WATCH_INTERVAL_MS);
      sweeper.unref?.();
    }
  }

  private stopWatch(): void {
    if (this.slot < 0) return;
    const last = watched.pop()!;
    if (last !== this) {
      watched[this.slot] = last;
      last.slot = this.slot;
    }
    this.slot = -1;
  }

  /** Run by the sweeper: aborts the call when its caller went away or a limit passed. */
  check(now: number): void {
    const caller = this.options.signal;
    if (caller?.aborted) {
      this.stopWatch();
      this.abortAll(caller.reason);
      return;
    }
    const passed: DeadlineName | undefined =
      this.connectAt <= now ? 'connect' : this.firstByteAt <= now ? 'first-byte' : this.idleAt <= now ? 'idle' : undefined;
    if (passed === undefined) return;
    this.stopWatch();
    this.abortAll(new TimeoutReason(this.describe(passed)));
  }

  private describe(name: DeadlineName): string {
    const { connectMs, firstByteMs, idleMs } = this.options.timeouts ?? {};
    return name === 'connect'
      ? `no response headers from upstream within ${connectMs} ms`
      : name === 'first-byte'
        ? `no data from upstream within ${firstByteMs} ms`
        : `upstream sent no data for ${idleMs} ms${this.comments ? ` (only ${this.comments} SSE comments)` : ''}`;
  }

  /** Anything thrown by fetch/read → what to surface. */
  private toFailure(error: unknown): unknown {
    const caller = this.options.signal;
    if (caller?.aborted) return caller.reason;
    const reason = this.signal.reason;
    if (reason instanceof TimeoutReason) {
      return this.fail({ message: reason.message, errorClass: 'timeout', retryable: true }, undefined, error);
    }
    if (error instanceof ProviderError) return error;
    const message = `network error calling upstream: ${error instanceof Error ? error.message : String(error)}`;
    return this.fail({ message, errorClass: 'network', retryable: true }, undefined, error);
  }

  /** One body read under the idle timer; the clock only runs while we wait on the upstream. */
  private async read(): Promise<ReadResult> {
    const reader = this.reader;
    if (!reader) return { done: true };
    const idleMs = this.options.timeouts?.idleMs;
    const started = performance.now();
    this.idleAt = deadline(started, idleMs === undefined ? undefined : idleMs - this.silentMs);
    let result: ReadResult;
    try {
      result = await reader.read();
    } catch (error) {
      throw this.toFailure(error);
    } finally {
      this.idleAt = Infinity;
      this.silentMs += performance.now() - started;
    }
    // A fetch that ignores the signal sees its body cancelled instead (abortAll): a read that ends
    // because of an abort is that abort, not a clean end of stream.
    if (this.signal.aborted) throw this.toFailure(this.signal.reason);
    return result;
  }

  private sawData(): void {
    this.firstByteAt = Infinity;
    this.silentMs = 0;
  }

  private async readAll(): Promise<string> {
    const parts: Uint8Array[] = [];
    for (let chunk = await this.read(); !chunk.done; chunk = await this.read()) {
      this.sawData();
      parts.push(chunk.value);
    }
    return Buffer.concat(parts).toString('utf8');
  }

  /** A body read raced against an abort (for a fetch that ignores the signal): a method, so open() allocates no closure scope per call. */
  private raceAbort(read: Promise<string>): Promise<string> {
    return Promise.race([read, new Promise<never>((_, reject) => (this.rejectBody = reject))]);
  }

  private cleanup(): void {
    this.stopWatch();
    this.reader?.cancel().catch(ignore); // a no-op when fully read; releases the upstream otherwise
  }

  /** The call up to a whole JSON reply, or a stream handed to `stream()` (see OpenedProvider). */
  async open(http: { url: string; headers: Record<string, string>; body: unknown }, warnings: Warning[]): Promise<OpenedProvider> {
    const { options, adapter } = this;
    if (options.signal?.aborted) this.abortAll(options.signal.reason);
    else this.startWatch();
    let handedOff = false; // a stream's generator cleans up when it ends instead
    try {
      const now = performance.now();
      this.connectAt = deadline(now, options.timeouts?.connectMs);
      this.firstByteAt = deadline(now, options.timeouts?.firstByteMs);
      // Bun's own fetch gets prebuilt Headers and is trusted to reject a body read on abort; an
      // injected one (tests) gets the adapter's plain headers and has its reads raced (see below).
      const fetchFn = options.fetch ?? fetch;
      const native = fetchFn === fetch;
      let response: Response;
      try {
        const body = JSON.stringify(http.body);
        response = await fetchFn(http.url, { method: 'POST', headers: native ? fetchHeaders(http.headers) : http.headers, body, signal: this.signal });
      } catch (error) {
        throw this.toFailure(error);
      }
      this.connectAt = Infinity;

      if (!response.ok) {
        this.reader = response.body?.getReader();
        let body = '';
        try {
          body = await this.readAll();
        } catch (failure) {
          // A body cut off by the network still leaves a classifiable status; aborts and timeouts do not.
          if (!(failure instanceof ProviderError) || failure.errorClass !== 'network') throw failure;
        }
        const { status, headers, statusText } = response;
        throw this.fail(adapter.parseError({ status, body, headers, statusText }), body);
      }

      const contentType = response.headers.get('content-type') ?? '';
      const isSse = contentType.includes('text/event-stream') || (options.stream && !contentType.includes('json'));

      if (!isSse) {
        // The whole JSON body in one native read (much cheaper than a reader loop), inline rather
        // than in a helper (an async call per request is a frame, a generator and a promise). The
        // first-byte and idle limits both cover the whole body here: a JSON reply is one document,
        // sent at once. Bun's fetch rejects the read when the signal aborts; a fetch that ignores
        // the signal (an injected one) has the read raced against the abort instead.
        if (this.signal.aborted) throw this.toFailure(this.signal.reason);
        this.idleAt = deadline(performance.now(), options.timeouts?.idleMs);
        let text: string;
        try {
          text = await (native ? response.text() : this.raceAbort(response.text()));
        } catch (error) {
          throw this.toFailure(error);
        } finally {
          this.rejectBody = undefined;
          this.idleAt = Infinity;
        }
        if (this.signal.aborted) throw this.toFailure(this.signal.reason);
        this.sawData();
        let data: unknown;
        try {
          data = JSON.parse(text);
        } catch (error) {
          throw this.fail(this.invalidResponse('upstream returned a body that is not JSON', response.status), text, error);
        }
        if (isErrorPayload(data)) {
          throw this.fail(adapter.parseError({ status: response.status, body: text, headers: response.headers }), text);
        }
        const body = validate(adapter.fastResponse, adapter.responseSchema, data);
        if (body instanceof Invalid) {
          throw this.fail(this.invalidResponse('unexpected upstream response shape', response.status), text, body.error);
        }
        let result: ChatResult;
        try {
          result = adapter.parseResponse(body, warnings);
        } catch (error) {
          throw this.fail(this.invalidResponse('could not read upstream response', response.status), text, error);
        }
        return { result, body: text };
      }
      handedOff = true;
      return { events: this.stream(response, warnings) };
    } finally {
      if (!handedOff) this.cleanup();
    }
  }

  /**
   * The rest of a streaming call, run as the consumer pulls; cleans up when it ends. Events before
   * the first output are held back (see the contract at the top of this file).
   */
  private async *stream(response: Response, warnings: Warning[]): AsyncGenerator<StreamEvent, void, undefined> {
    const adapter = this.adapter;
    try {
      this.reader = response.body?.getReader();
      const decoder = adapter.createStreamDecoder(warnings);
      const parser = createSseParser();
      const errorBodies = new WeakMap<ProviderErrorInfo, string>(); // raw payloads, kept if we throw
      let held: StreamEvent[] | undefined = [];
      let stopped = false;
      const call = this;

      /** Routes events: holds, releases, throws (before output), or ends with error + finish. */
      function* emit(events: StreamEvent[]): Generator<StreamEvent> {
        for (const [i, event] of events.entries()) {
          if (event.type === 'error') {
            if (held) throw call.fail(event.error, errorBodies.get(event.error));
            const finish = events.slice(i + 1).find((next) => next.type === 'finish');
            stopped = true;
            yield event;
            yield finish ?? { type: 'finish', finishReason: { unified: 'error', raw: undefined }, usage: {} };
            return;
          }
          if (event.type === 'finish') stopped = true;
          if (!held) {
            yield event;
          } else {
            held.push(event);
            if (!OUTPUT_EVENTS.has(event.type)) continue;
            if (held[0]!.type !== 'response-start') held.unshift({ type: 'response-start', warnings });
            const release = held;
            held = undefined;
            yield* release;
          }
          if (stopped) return;
        }
      }
      const errorEvent = (info: ProviderErrorInfo, body: string): StreamEvent => {
        errorBodies.set(info, body);
        return { type: 'error', error: info };
      };
      /** One SSE data payload → events (malformed payloads and error frames become `error`). */
      const decode = (data: string, event: string | undefined): StreamEvent[] => {
        let payload: unknown;
        try {
          payload = JSON.parse(data);
        } catch {
          return [errorEvent(this.invalidResponse('upstream sent an SSE data line that is not JSON'), data)];
        }
        if (event === 'error' || isErrorPayload(payload)) {
          return [errorEvent(adapter.parseError({ status: 200, body: data, headers: response.headers }), data)];
        }
        const chunk = validate(adapter.fastChunk, adapter.chunkSchema, payload);
        if (chunk instanceof Invalid) return [errorEvent(this.invalidResponse('unexpected upstream chunk shape'), data)];
        try {
          return decoder.push(chunk);
        } catch (error) {
          return [errorEvent(this.invalidResponse(`could not decode upstream chunk: ${String(error)}`), data)];
        }
      };

      for (let ended = false; !ended; ) {
        let chunk: ReadResult;
        try {
          chunk = await this.read();
        } catch (failure) {
          if (held || !(failure instanceof ProviderError)) throw failure;
          yield* emit([{ type: 'error', error: failure.toInfo() }]);
          return;
        }
        ended = chunk.done;
        for (const item of chunk.done ? parser.end() : parser.push(chunk.value)) {
          if (item.type === 'comment') {
            this.comments++;
            continue;
          }
          if (item.type === 'done') {
            ended = true; // anything after [DONE] is ignored, as the OpenAI SDK does
            break;
          }
          this.sawData();
          yield* emit(decode(item.data, item.event));
          if (stopped) return;
        }
      }
      yield* emit(decoder.end());
    } finally {
      this.cleanup();
    }
  }
}

type DeadlineName = 'connect' | 'first-byte' | 'idle';

/** How often the upstream calls in flight are checked for a passed limit or a caller that went away. */
export const WATCH_INTERVAL_MS = 10;
/**
 * The calls in flight, and the one interval that checks them while there are any. An array with
 * swap-removal rather than a Set: with a Set here the server's RSS rose 10-15 MiB at 32
 * connections and spiked past 300 MiB (README, session 8). Why is not known (deleted entries are
 * not kept reachable: a micro test saw them all finalized).
 */
const watched: UpstreamCall[] = [];
let sweeper: ReturnType<typeof setInterval> | undefined;
function sweep(): void {
  const now = performance.now();
  // Backwards: a check that ends its call moves the last call into its slot.
  for (let i = watched.length - 1; i >= 0; i--) {
    try {
      watched[i]?.check(now);
    } catch {
      // An abort handler that throws must not stop the sweep for the other calls.
    }
  }
  if (watched.length === 0) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

/** Upstream calls being watched now (tests: none is left once its call is over). */
export function watchedCalls(): number {
  return watched.length;
}

/** `ms` after `now` (at least 1 ms); no limit (Infinity) when `ms` is unset. */
function deadline(now: number, ms: number | undefined): number {
  return ms === undefined ? Infinity : now + Math.max(1, ms);
}

function isErrorPayload(data: unknown): boolean {
  return typeof data === 'object' && data !== null && !Array.isArray(data) && (data as { error?: unknown }).error != null;
}

/** A value its schema refused, with the schema's error (what `validate` returns instead of the value). */
class Invalid {
  constructor(readonly error: unknown) {}
}

/**
 * The value when it has the adapter's shape: the fast check's answer when it accepts it (the same
 * as the schema's), else the schema's; an `Invalid` when the schema refuses it. A clean value is
 * handed back as it is, with no result object around it (once per reply and per stream chunk).
 */
function validate<T>(fast: ((data: unknown) => T | undefined) | undefined, schema: z.ZodType<T>, data: unknown): T | Invalid {
  const value = fast?.(data);
  if (value !== undefined) return value;
  const parsed = schema.safeParse(data);
  return parsed.success ? parsed.data : new Invalid(parsed.error);
}

/**
 * The `Headers` object fetch gets for a set of upstream headers: built once for an adapter's shared
 * (frozen) headers object, which fetch copies for less than it converts a plain object on every
 * call (~1.2 µs a request in a co-run A/B of the benchmark's passthrough); a headers object built
 * for one call is handed over as it is.
 */
const builtHeaders = new WeakMap<Record<string, string>, Headers>();
function fetchHeaders(headers: Record<string, string>): Headers | Record<string, string> {
  if (!Object.isFrozen(headers)) return headers;
  let built = builtHeaders.get(headers);
  if (built === undefined) builtHeaders.set(headers, (built = new Headers(headers)));
  return built;
}
