import { describe, expect, it, vi } from 'vitest';
import { RequestAbortedError } from './errors.js';
import { TokenStream, type TextDeltaDecoder, type TokenStreamEvent } from './token-stream.js';

// Byte-level vocabulary: token id = one byte, as in the fixture tokenizer.
/** A decoder over a per-id byte table, as the model's tokenizers provide. */
function bytesDecoder(bytesOf: (id: number) => Uint8Array): TextDeltaDecoder {
  const utf8 = new TextDecoder('utf-8');
  return {
    push: (ids) => ids.map((id) => utf8.decode(bytesOf(id), { stream: true })).join(''),
    flush: () => utf8.decode(),
  };
}
const tokenBytes = (id: number): Uint8Array => Uint8Array.of(id);
const bytesOf = (s: string): number[] => [...new TextEncoder().encode(s)];

async function collect<R>(s: TokenStream<R>): Promise<TokenStreamEvent<R>[]> {
  const out: TokenStreamEvent<R>[] = [];
  for await (const e of s) out.push(e);
  return out;
}

describe('TokenStream', () => {
  it('never splits a multi-byte UTF-8 character across token deltas', async () => {
    const s = new TokenStream<{ reason: string }>({ decoder: bytesDecoder(tokenBytes), capacity: 64 });
    const text = 'héllo €😀';
    bytesOf(text).forEach((b, i) => s.pushToken(b, i));
    s.finish({ reason: 'length' });
    const events = await collect(s);
    const tokens = events.filter((e) => e.type === 'token');
    expect(tokens).toHaveLength(bytesOf(text).length);
    for (const t of tokens) expect(t.text).not.toContain('\uFFFD');
    expect(tokens.map((t) => t.text).join('')).toBe(text);
    // the 4-byte emoji arrives whole on its last byte
    expect(tokens.at(-1)!.text).toBe('😀');
    expect(tokens.at(-2)!.text).toBe('');
    expect(events.at(-1)).toEqual({ type: 'final', text: '', result: { reason: 'length' } });
    await expect(s.result).resolves.toEqual({ reason: 'length' });
    expect(s.text).toBe(text);
  });

  it('flushes an incomplete trailing character into the final event', async () => {
    const s = new TokenStream<string>({ decoder: bytesDecoder(tokenBytes), capacity: 8 });
    s.pushToken(0x41, 0);
    s.pushToken(0xe2, 1); // first byte of a 3-byte character
    s.finish('length');
    const events = await collect(s);
    expect(events.map((e) => e.text)).toEqual(['A', '', '\uFFFD']);
  });

  it('carries token ids and times', async () => {
    const s = new TokenStream<null>({ decoder: bytesDecoder(tokenBytes), capacity: 8 });
    s.pushToken(104, 10.5);
    s.finish(null);
    expect((await collect(s))[0]).toEqual({ type: 'token', id: 104, text: 'h', time: 10.5 });
  });

  it('cancels the producer and rejects result when the consumer stops early', async () => {
    const onCancel = vi.fn();
    const s = new TokenStream<string>({ decoder: bytesDecoder(tokenBytes), capacity: 8, onCancel, requestId: 'r1' });
    s.pushToken(65, 0);
    s.pushToken(66, 1);
    for await (const _ of s) break;
    expect(onCancel).toHaveBeenCalledTimes(1);
    expect(s.open).toBe(false);
    expect(s.pushToken(67, 2)).toBe(false);
    await expect(s.result).rejects.toBeInstanceOf(RequestAbortedError);
    await expect(s.result).rejects.toThrow('request "r1" was cancelled: its stream consumer stopped');
  });

  it('raises a failure to the consumer after buffered tokens and through result', async () => {
    const s = new TokenStream<string>({ decoder: bytesDecoder(tokenBytes), capacity: 8 });
    s.pushToken(65, 0);
    s.fail(new Error('decode actor died'));
    s.finish('ignored');
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const e of s) seen.push(e.text);
      })(),
    ).rejects.toThrow('decode actor died');
    expect(seen).toEqual(['A']);
    await expect(s.result).rejects.toThrow('decode actor died');
  });

  it('does not leave an unhandled rejection when nobody awaits result', async () => {
    const s = new TokenStream<string>({ decoder: bytesDecoder(tokenBytes), capacity: 8 });
    s.fail(new Error('x'));
    const it = s[Symbol.asyncIterator]();
    await expect(it.next()).rejects.toThrow('x');
  });
});

describe('TokenStream (property)', () => {
  it('reassembles any text split into arbitrary byte chunks, with no replacement characters', async () => {
    const fc = await import('fast-check');
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1 }), async (text, cuts) => {
        const bytes = new TextEncoder().encode(text);
        const chunks: Uint8Array[] = [];
        for (let at = 0, i = 0; at < bytes.length; i++) {
          const n = cuts[i % cuts.length];
          chunks.push(bytes.subarray(at, at + n));
          at += n;
        }
        const s = new TokenStream<null>({ decoder: bytesDecoder((id) => chunks[id]), capacity: chunks.length + 1 });
        chunks.forEach((_, id) => s.pushToken(id, id));
        s.finish(null);
        const events = await collect(s);
        expect(events.map((e) => e.text).join('')).toBe(text);
        if (!text.includes('\uFFFD')) for (const e of events) expect(e.text).not.toContain('\uFFFD');
      }),
      { seed: 42, numRuns: 200 },
    );
  });
});
