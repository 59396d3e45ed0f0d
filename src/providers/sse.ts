// Incremental bytes → Server-Sent Events (WHATWG "event stream interpretation"), for every upstream.
// Lines end in \n, \r\n or \r (Gemini uses \r\n\r\n); chunks may split anywhere, including inside a
// UTF-8 character or between \r and \n. Comments (": keep-alive") are surfaced separately so run.ts
// can tell upstream liveness pings from data. Cost is linear in input: no per-byte concatenation.

export type SseItem =
  /** A dispatched event. `data` lines are joined with '\n'. */
  | { type: 'message'; event?: string; data: string; id?: string }
  /** A comment line (text after the ':'), e.g. DeepSeek's ": keep-alive". */
  | { type: 'comment'; text: string }
  /** `data: [DONE]`, the OpenAI-compatible end-of-stream sentinel. */
  | { type: 'done' };

export type SseParser = {
  /** Feed the next bytes (or already decoded text); returns the items completed by them. */
  push(chunk: Uint8Array | string): SseItem[];
  /** End of input: flushes a final line and dispatches a pending event without a blank line. */
  end(): SseItem[];
};

const LINE_END = /\r\n|\r|\n/g;

/** Creates a stateful SSE parser. */
export function createSseParser(): SseParser {
  const decoder = new TextDecoder();
  let partial: string[] = []; // pieces of an unterminated line
  let skipLeadingLf = false; // previous chunk ended in \r: a \n starting the next one belongs to it
  let dataLines: string[] = [];
  let event: string | undefined;
  let id: string | undefined;

  function dispatch(out: SseItem[]): void {
    if (dataLines.length > 0) {
      const data = dataLines.join('\n');
      if (data === '[DONE]') out.push({ type: 'done' });
      else {
        const message: SseItem = { type: 'message', data };
        if (event !== undefined) message.event = event;
        if (id !== undefined) message.id = id;
        out.push(message);
      }
    }
    dataLines = [];
    event = undefined;
  }

  function processLine(line: string, out: SseItem[]): void {
    if (line === '') return dispatch(out);
    if (line.charCodeAt(0) === 58 /* ':' */) {
      out.push({ type: 'comment', text: line.slice(1).trimStart() });
      return;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32 /* ' ' */) value = value.slice(1);
    if (field === 'data') dataLines.push(value);
    else if (field === 'event') event = value;
    else if (field === 'id' && !value.includes('\0')) id = value;
    // `retry` and unknown fields are ignored.
  }

  function processText(text: string, out: SseItem[]): void {
    let start = 0;
    if (skipLeadingLf && text.length > 0) {
      if (text.charCodeAt(0) === 10) start = 1;
      skipLeadingLf = false;
    }
    LINE_END.lastIndex = start;
    for (let match = LINE_END.exec(text); match; match = LINE_END.exec(text)) {
      const piece = text.slice(start, match.index);
      const line = partial.length > 0 ? partial.join('') + piece : piece;
      partial = [];
      processLine(line, out);
      start = match.index + match[0].length;
      if (match[0] === '\r' && start === text.length) skipLeadingLf = true;
    }
    if (start < text.length) partial.push(text.slice(start));
  }

  return {
    push(chunk) {
      const out: SseItem[] = [];
      const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
      if (text) processText(text, out);
      return out;
    },
    end() {
      const out: SseItem[] = [];
      const rest = decoder.decode();
      if (rest) processText(rest, out);
      if (partial.length > 0) {
        const line = partial.join('');
        partial = [];
        processLine(line, out);
      }
      dispatch(out); // an event the upstream never terminated with a blank line
      return out;
    },
  };
}
