import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ByteTokenizer, gpt2TokenizerJson, loadTokenizerFromDir, TokenizerError } from './index.js';

/** GPT-2's byte-to-unicode map: printable bytes map to themselves, others to U+0100 onwards. */
function byteChars(): string[] {
  const keep = (b: number): boolean => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  let n = 0;
  return Array.from({ length: 256 }, (_, b) => (keep(b) ? String.fromCharCode(b) : String.fromCharCode(256 + n++)));
}

const chars = byteChars();
const vocab: Record<string, number> = Object.fromEntries(chars.map((c, i) => [c, i]));
const merges = ['h e', 'l l', 'he ll', 'hell o', `${chars[32]} w`];
merges.forEach((m, i) => { vocab[m.replace(' ', '')] = 256 + i; });
const dir = mkdtempSync(join(tmpdir(), 'baton-tok-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tokenizers', () => {
  it('byte-level: ids are UTF-8 bytes; the incremental decoder never splits a character', () => {
    const t = new ByteTokenizer();
    const ids = t.encode('héllo €');
    expect(ids).toEqual([104, 195, 169, 108, 108, 111, 32, 226, 130, 172]);
    expect(t.decode(ids)).toBe('héllo €');
    const dec = t.createDecoder();
    const parts = ids.map((id) => dec.push([id]));
    expect(parts.slice(7, 10)).toEqual(['', '', '€']);
    expect(parts.join('') + dec.flush()).toBe('héllo €');
    expect(() => t.decode([-1])).toThrow(TokenizerError);
  });

  it('byte-level with more ids: end-of-text decodes to nothing, other non-byte ids to an escape', () => {
    const t = new ByteTokenizer({ vocabSize: 300, eosTokenId: 256 });
    expect(t.vocabSize).toBe(300);
    expect(t.decode([104, 105, 270, 33, 256])).toBe('hi<|270|>!');
    const dec = t.createDecoder();
    expect(dec.push([226, 130])).toBe('');
    expect(dec.push([172, 256, 299])).toBe('€<|299|>');
    expect(dec.push([226]) + dec.push([257]) + dec.flush()).toBe('\uFFFD<|257|>');
  });

  it('GPT-2 BPE from vocab.json + merges.txt', () => {
    const d = join(dir, 'vm');
    freshDir(d);
    writeFileSync(join(d, 'vocab.json'), JSON.stringify(vocab));
    writeFileSync(join(d, 'merges.txt'), ['#version: 0.2', ...merges].join('\n'));
    const t = loadTokenizerFromDir(d);
    expect(t?.kind).toBe('bpe');
    const ids = t?.encode('hello world') ?? [];
    expect(ids).toEqual([259, 260, 111, 114, 108, 100]);
    expect(t?.decode(ids)).toBe('hello world');
  });

  it('GPT-2 BPE from tokenizer.json, with streaming of multi-byte characters', () => {
    const d = join(dir, 'tj');
    freshDir(d);
    writeFileSync(join(d, 'tokenizer.json'), JSON.stringify(gpt2TokenizerJson(vocab, merges)));
    const t = loadTokenizerFromDir(d);
    if (t === null) throw new Error('no tokenizer');
    const ids = t.encode('hello €');
    expect(t.decode(ids)).toBe('hello €');
    const dec = t.createDecoder();
    const text = ids.map((id) => dec.push([id])).join('') + dec.flush();
    expect(text).toBe('hello €');
    expect(text).not.toContain('\uFFFD');
  });

  it('returns null without tokenizer files and errors on half a BPE pair', () => {
    const d = join(dir, 'none');
    freshDir(d);
    expect(loadTokenizerFromDir(d)).toBeNull();
    writeFileSync(join(d, 'vocab.json'), '{}');
    expect(() => loadTokenizerFromDir(d)).toThrow(/merges\.txt/);
  });
});

function freshDir(d: string): void {
  rmSync(d, { recursive: true, force: true });
  mkdirSync(d, { recursive: true });
}
