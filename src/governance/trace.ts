import type { StreamEvent } from "../core/types.ts";
import { RequestTrace } from "../recorder/trace.ts";
import type { Recorder, RequestRecord } from "../recorder/recorder.ts";

/**
 * A RequestTrace that also hands the finished record to listeners (budget and rate-limit
 * settlement), exactly once, from the very `finish` call that produces the log row. Settlement
 * therefore sees the same status, usage and models the recorder prices, on every path a request
 * can end by (success, upstream error, client disconnect, exception).
 */
export class GovernedTrace extends RequestTrace {
  private facts: Partial<RequestRecord>;
  private listeners: Array<(record: Partial<RequestRecord> & { status: number }) => void> = [];
  private finalRecord: (Partial<RequestRecord> & { status: number }) | undefined;

  constructor(recorder: Recorder | undefined, base: Pick<RequestRecord, "endpoint" | "stream"> & Partial<RequestRecord>) {
    super(recorder, base);
    this.facts = { ...base };
  }

  override set(fields: Partial<RequestRecord>): this {
    Object.assign(this.facts, fields);
    return super.set(fields);
  }

  override observe(event: StreamEvent): void {
    if (event.type === "response-start" && event.model) this.facts.responseModel = event.model;
    super.observe(event);
  }

  /** Runs `listener` with the final record when the trace finishes (at once if it already has). */
  onFinish(listener: (record: Partial<RequestRecord> & { status: number }) => void): void {
    if (this.finalRecord) listener(this.finalRecord);
    else this.listeners.push(listener);
  }

  override finish(fields: Partial<RequestRecord> & { status: number }): void {
    if (this.finalRecord) return;
    this.finalRecord = { ...this.facts, ...fields };
    super.finish(fields);
    for (const listener of this.listeners.splice(0)) {
      try {
        listener(this.finalRecord);
      } catch {
        // A listener must never break the request path; settlement reports its own failures.
      }
    }
  }
}
