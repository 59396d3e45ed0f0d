import { describe, expect, test } from 'bun:test';
import { type SseItem, createSseParser } from './sse.ts';
import { SPLITS, seededRandom, split } from './test-helpers.ts';

const encode = (text: string) => new TextEncoder().encode(text);

/** Parses the whole input fed in the given pieces. */
function parse(pieces: (Uint8Array | string)[]): SseItem[] {
  const parser = createSseParser();
  return [...pieces.flatMap((piece) => parser.push(piece)), ...parser.end()];
}

const parseEvery = (text: string) => SPLITS.map((how) => parse(split(encode(text), how)));

describe('createSseParser', () => {
  test('\\n\\n framing with [DONE]', () => {
    for (const items of parseEvery('data: {"a":1}\n\ndata: {"a":2}\n\ndata: [DONE]\n\n')) {
      expect(items).toEqual([
        { type: 'message', data: '{"a":1}' },
        { type: 'message', data: '{"a":2}' },
        { type: 'done' },
      ]);
    }
  });

  test('\\r\\n\\r\\n framing (Gemini) and \\r\\r framing', () => {
    for (const text of ['data: one\r\n\r\ndata: two\r\n\r\n', 'data: one\r\rdata: two\r\r']) {
      for (const items of parseEvery(text)) {
        expect(items).toEqual([
          { type: 'message', data: 'one' },
          { type: 'message', data: 'two' },
        ]);
      }
    }
  });

  test('a split between \\r and \\n is one line end, not two', () => {
    const items = parse(['data: a\r', '\n', 'data: b\r', '\n\r', '\n']);
    expect(items).toEqual([{ type: 'message', data: 'a\nb' }]);
  });

  test('comments are surfaced separately from data', () => {
    for (const items of parseEvery(': keep-alive\n\n:no-space\ndata: x\n\n')) {
      expect(items).toEqual([
        { type: 'comment', text: 'keep-alive' },
        { type: 'comment', text: 'no-space' },
        { type: 'message', data: 'x' },
      ]);
    }
  });

  test('event names, ids and multi-line data', () => {
    const text = 'event: content_block_delta\nid: 7\ndata: line 1\ndata:line 2\ndata\n\nevent: ping\ndata: {}\n\n';
    for (const items of parseEvery(text)) {
      expect(items).toEqual([
        { type: 'message', event: 'content_block_delta', id: '7', data: 'line 1\nline 2\n' },
        { type: 'message', event: 'ping', id: '7', data: '{}' },
      ]);
    }
  });

  test('an event without data is not dispatched; retry and unknown fields are ignored', () => {
    expect(parse(['event: nothing\n\nretry: 100\nfoo: bar\ndata: y\n\n'])).toEqual([{ type: 'message', data: 'y' }]);
  });

  test('multi-byte UTF-8 split anywhere, byte by byte', () => {
    const text = 'data: {"content":" × 日本語 😀"}\n\n';
    for (const items of parseEvery(text)) {
      expect(items).toEqual([{ type: 'message', data: '{"content":" × 日本語 😀"}' }]);
    }
  });

  test('a final event without the trailing blank line is still delivered at end()', () => {
    expect(parse(['data: {"error":{"message":"boom"}}'])).toEqual([
      { type: 'message', data: '{"error":{"message":"boom"}}' },
    ]);
  });

  test('a leading BOM is dropped', () => {
    expect(parse([new Uint8Array([0xef, 0xbb, 0xbf, ...encode('data: x\n\n')])])).toEqual([
      { type: 'message', data: 'x' },
    ]);
  });

  test('large input is linear: 4 MB in random chunks and a 200 KB line byte by byte', () => {
    const payload = `data: ${JSON.stringify({ text: 'x'.repeat(1000) })}\n\n`;
    const big = encode(payload.repeat(4000));
    const random = seededRandom(42);
    const pieces: Uint8Array[] = [];
    for (let at = 0; at < big.length; ) {
      const size = 1 + Math.floor(random() * 16384);
      pieces.push(big.subarray(at, at + size));
      at += size;
    }
    let started = performance.now();
    const items = parse(pieces);
    expect(items).toHaveLength(4000);
    expect(performance.now() - started).toBeLessThan(1000);

    const longLine = encode(`data: ${'y'.repeat(200_000)}\n\n`);
    started = performance.now();
    const single = parse(split(longLine, 'bytes'));
    expect(single).toEqual([{ type: 'message', data: 'y'.repeat(200_000) }]);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
