// What a generated id displays as in the demo's views (no engine needed).
import { ByteTokenizer } from '@baton/model';
import { describe, expect, it } from 'vitest';
import { tokenBytesOf } from './demo-session.js';
import { escapeBytes } from './escape-text.js';

describe('tokenBytesOf', () => {
  const bytesOf = tokenBytesOf(new ByteTokenizer({ vocabSize: 300, eosTokenId: 256 }));
  const show = (ids: number[]): string => escapeBytes(Uint8Array.from(ids.flatMap((id) => [...bytesOf(id)])));

  it('shows byte ids as their bytes, a multi-byte character spread over ids included', () => {
    expect(show([0x68, 0x69, 0xc3, 0xa9])).toBe('hié');
  });

  it('shows nothing for end-of-text (not the byte 0) and an escape for an id past the bytes', () => {
    expect(show([0x6f, 0x6b, 256])).toBe('ok');
    expect(show([0x61, 270])).toBe('a<|270|>');
  });
});
