import type { Attempt } from "../core/gateway.ts";
import type { StreamEvent, Usage, Warning } from "../core/types.ts";
import { newRequestId } from "./ids.ts";
import type { Recorder, RequestRecord } from "./recorder.ts";

/**
 * Collects what one request did and hands exactly one row to the recorder, however the request
 * ends (success, client error, upstream failure, client disconnect). `finish` is idempotent.
 */
export class RequestTrace {
  readonly id = newRequestId();
  readonly receivedAt = Date.now();
  readonly attempts: Attempt[] = [];
  private fields: Partial<RequestRecord>;
  private done = false;

  constructor(
    private readonly recorder: Recorder | undefined,
    base: Pick<RequestRecord, "endpoint" | "stream"> & Partial<RequestRecord>,
  ) {
    this.fields = base; // the caller's fresh object, kept (and added to) as the request goes
    recorder?.begin(this.id, this.receivedAt, base.endpoint, base.clientKeyId);
  }

  set(fields: Partial<RequestRecord>): this {
    Object.assign(this.fields, fields);
    return this;
  }

  /** The model the client asked for, and whether it streams (set() without an object per request). */
  requested(model: string, stream: boolean): void {
    this.fields.requestedModel = model;
    this.fields.stream = stream;
  }

  /** The target that answered. */
  served(provider: string, providerType: string, upstreamModel: string): void {
    const f = this.fields;
    f.provider = provider;
    f.providerType = providerType;
    f.upstreamModel = upstreamModel;
  }

  /** Notes the first byte sent to the client. */
  firstByte(): void {
    this.fields.firstByteAt ??= Date.now();
  }

  /** Reads provider facts from the committed stream's events (response model, warnings). */
  observe(event: StreamEvent): void {
    if (event.type === "response-start") this.observeResult(event);
  }

  /** The same facts from a whole result (a JSON reply) or a stream's `response-start`. */
  observeResult(result: { model?: string; warnings: Warning[] }): void {
    if (result.model) this.fields.responseModel = result.model;
    if (result.warnings.length) this.fields.warnings = [...(this.fields.warnings ?? []), ...result.warnings];
  }

  /** Hands the request's one row to the recorder; returns it (undefined when already finished). */
  finish(fields: Partial<RequestRecord> & { status: number }): RequestRecord | undefined {
    if (this.done) return undefined;
    this.done = true;
    const f = Object.assign(this.fields, fields);
    // Every field written out, in one order: each record has the same shape, so the recorder's
    // reads of it stay monomorphic (spreading two partial objects gave records of many shapes).
    const record: RequestRecord = {
      id: this.id,
      receivedAt: this.receivedAt,
      firstByteAt: f.firstByteAt,
      finishedAt: Date.now(),
      clientKeyId: f.clientKeyId,
      endpoint: f.endpoint ?? "",
      requestedModel: f.requestedModel,
      provider: f.provider,
      providerType: f.providerType,
      upstreamModel: f.upstreamModel,
      responseModel: f.responseModel,
      attempts: this.attempts.length ? this.attempts : undefined,
      status: fields.status,
      errorClass: f.errorClass,
      errorMessage: f.errorMessage,
      stream: f.stream ?? false,
      usage: f.usage,
      warnings: f.warnings,
      clientIp: f.clientIp,
      userAgent: f.userAgent,
      project: f.project,
      bodies: f.bodies,
      costPico: undefined, // the recorder sets it (listed so every record has one shape)
    } satisfies { [K in keyof Required<RequestRecord>]: unknown }; // a new field must be listed here
    // Fire and forget: only a full queue makes this wait, and then only this request's tail.
    if (this.recorder) void this.recorder.record(record);
    return record;
  }
}

/** Rough token count (4 characters ≈ 1 token) for usage the upstream never reported. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/**
 * Usage for a request cut short: what the upstream reported when it is final; when it is what the
 * upstream had reported so far (`final` false: Anthropic's input and cache tokens at the start,
 * Gemini's running count), those counts with output at least the estimate from the text so far;
 * else an estimate. Anything estimated is marked so.
 */
export function usageOrEstimate(reported: Usage | undefined, promptText: string, outputText: string, final = true): Usage {
  const has = reported !== undefined && (reported.inputTokens !== undefined || reported.outputTokens !== undefined);
  if (has && final) return reported;
  const output = estimateTokens(outputText);
  if (has) {
    return { ...reported, inputTokens: reported.inputTokens ?? estimateTokens(promptText), outputTokens: Math.max(reported.outputTokens ?? 0, output), estimated: true };
  }
  return { inputTokens: estimateTokens(promptText), outputTokens: output, estimated: true };
}

