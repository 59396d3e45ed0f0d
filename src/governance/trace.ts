import { RequestTrace } from "../recorder/trace.ts";
import type { RequestRecord } from "../recorder/recorder.ts";

/**
 * A RequestTrace that also hands the finished record to listeners (budget and rate-limit
 * settlement), exactly once, from the very `finish` call that produces the log row. Settlement
 * therefore sees the same status, usage and models the recorder prices, on every path a request
 * can end by (success, upstream error, client disconnect, exception).
 */
export class GovernedTrace extends RequestTrace {
  /**
   * Listeners waiting for the final record: the first in a field of its own (a request has one,
   * its settlement: no array per request), any others in a list.
   */
  private listener: ((record: RequestRecord) => void) | undefined;
  private listeners: Array<(record: RequestRecord) => void> | undefined;
  private finalRecord: RequestRecord | undefined;

  /** Runs `listener` with the final record when the trace finishes (at once if it already has). */
  onFinish(listener: (record: RequestRecord) => void): void {
    if (this.finalRecord) listener(this.finalRecord);
    else if (this.listener === undefined) this.listener = listener;
    else (this.listeners ??= []).push(listener);
  }

  /** The same record object the recorder gets: listeners read it and must not change it. */
  override finish(fields: Partial<RequestRecord> & { status: number }): RequestRecord | undefined {
    const record = super.finish(fields);
    if (!record) return undefined;
    this.finalRecord = record;
    const { listener, listeners } = this;
    this.listener = this.listeners = undefined;
    if (listener) notify(listener, record);
    if (listeners) for (let i = 0; i < listeners.length; i++) notify(listeners[i]!, record);
    return record;
  }
}

function notify(listener: (record: RequestRecord) => void, record: RequestRecord): void {
  try {
    listener(record);
  } catch {
    // A listener must never break the request path; settlement reports its own failures.
  }
}
