import { describe, expect, it } from 'vitest';
import { fusesNorm } from './fast-variant.js';
import { chooseMatmul } from './matmul-kernels.js';

describe('fusesNorm', () => {
  it('fuses LayerNorm into the 4x256 prefill matmuls and the heads, not into the wide 8x512 ones', () => {
    const at = (M: number, K: number, N: number): boolean => fusesNorm(chooseMatmul(M, K, N), N);
    expect([at(512, 256, 768), at(512, 256, 1024), at(512, 256, 256)]).toEqual([true, true, true]);
    expect([at(512, 512, 1536), at(512, 512, 2048), at(32, 512, 1536)]).toEqual([false, false, false]);
    expect(at(512, 512, 256)).toBe(true);
  });

  it('always fuses into the small-M decode kernel, never into the tiled one (no prologue)', () => {
    expect(fusesNorm({ kind: 'small', rows: 8 }, 256)).toBe(true);
    expect(fusesNorm(chooseMatmul(1, 512, 1536), 1536)).toBe(true);
    expect(fusesNorm({ kind: 'tiled', rows: 4 }, 256)).toBe(false);
  });
});
