import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeBytes, escapeText } from './escape-text.js';

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);
const utf8 = (s: string): number[] => [...new TextEncoder().encode(s)];

describe('escapeBytes', () => {
  it('keeps printable ASCII and valid printable UTF-8', () => {
    expect(escapeText('Hello, world!')).toBe('Hello, world!');
    expect(escapeText('café 日本 ✓')).toBe('café 日本 ✓');
  });

  it('escapes control bytes, DEL, backslash and the short whitespace forms', () => {
    expect(escapeBytes(bytes(0x1b, 0x5b, 0x32, 0x4a))).toBe('\\x1b[2J');
    expect(escapeBytes(bytes(0x00, 0x07, 0x7f))).toBe('\\x00\\x07\\x7f');
    expect(escapeText('a\\b\n\r\t')).toBe('a\\\\b\\n\\r\\t');
  });

  it('keepLayout leaves newlines and tabs for multi-line output, still escaping \\r and ESC', () => {
    expect(escapeText('line 1\n\tline 2\r\x1b[2J\x07', { keepLayout: true })).toBe('line 1\n\tline 2\\r\\x1b[2J\\x07');
  });

  it('escapes invalid UTF-8 byte by byte: stray continuation, truncated, overlong, surrogate, > U+10FFFF', () => {
    expect(escapeBytes(bytes(0x80, 0x41))).toBe('\\x80A');
    expect(escapeBytes(bytes(0xe6, 0x97))).toBe('\\xe6\\x97');
    expect(escapeBytes(bytes(0xc0, 0xaf))).toBe('\\xc0\\xaf');
    expect(escapeBytes(bytes(0xed, 0xa0, 0x80))).toBe('\\xed\\xa0\\x80');
    expect(escapeBytes(bytes(0xf4, 0x90, 0x80, 0x80))).toBe('\\xf4\\x90\\x80\\x80');
    expect(escapeBytes(bytes(0xff))).toBe('\\xff');
  });

  it('escapes non-printable Unicode: C1 controls, bidi overrides, zero-width, line separators, private use', () => {
    for (const ch of ['\u0085', '\u202e', '\u200b', '\u2028', '\ue000']) {
      expect(escapeText(ch)).toBe(utf8(ch).map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join(''));
    }
  });

  it('cuts to maxWidth at unit boundaries, from the head or the tail', () => {
    const b = bytes(0x41, 0x01, 0x42, 0x43, 0x02, 0x44);
    expect(escapeBytes(b, { maxWidth: 6 })).toBe('A\\x01…');
    expect(escapeBytes(b, { maxWidth: 6, keep: 'tail' })).toBe('…\\x02D');
    expect(escapeBytes(b, { maxWidth: 100 })).toBe('A\\x01BC\\x02D');
    expect(escapeText('日本語', { maxWidth: 5 })).toBe('日本…');
  });

  it('never outputs a non-printable character, for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        const out = escapeBytes(b);
        expect(out).not.toMatch(/[\p{C}\p{Zl}\p{Zp}]/u);
        expect(escapeBytes(b, { maxWidth: 10, keep: 'tail' }).length).toBeLessThanOrEqual(10);
      }),
      { seed: 42, numRuns: 500 },
    );
  });

  it('is the identity on printable ASCII without backslashes', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[ -[\]-~]*$/), (s) => {
        expect(escapeText(s)).toBe(s);
      }),
      { seed: 7, numRuns: 200 },
    );
  });
});
