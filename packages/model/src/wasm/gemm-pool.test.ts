import { describe, expect, it } from 'vitest';
import { createRng } from '../rng.js';
import { packedSize, packPanels } from './gemm-kernel.js';
import { GemmPool } from './gemm-pool.js';
import { wasmApi } from './wasm-runtime.js';

// NOTE: the workers run dist/wasm/gemm-worker.js: build the package before this test.
describe('GEMMs split across worker threads', () => {
  // 150 rows: split by rows; 1 and 8 rows (decode) over full panels and a narrow one: split by columns
  // (each at least 2 M multiply-adds); 2 rows of 40 x 152: too small to split.
  it.each([[150, 40, 48], [1, 8192, 260], [8, 2048, 152], [2, 40, 152]])('give bitwise the same rows as one thread, for gemm, gemmAdd and gemmGelu (M, K, N = %i, %i, %i)', (M, K, N) => {
    const memory = new wasmApi.Memory({ initial: 320, maximum: 1024, shared: true });
    const one = new GemmPool(memory, false, 1);
    const three = new GemmPool(memory, false, 3);
    expect(three.threads).toBe(3);
    const rng = createRng(3);
    const mem = new Float32Array(memory.buffer);
    const A = 0;
    const W = M * K;
    const bias = W + packedSize(K, N);
    const out1 = bias + N;
    const out3 = out1 + M * N;
    for (let i = 0; i < M * K; i++) mem[A + i] = rng.next() - 0.5;
    packPanels({ data: Float32Array.from({ length: K * N }, () => rng.next() - 0.5), ld: N, col0: 0 }, K, N, mem, W);
    for (let j = 0; j < N; j++) mem[bias + j] = rng.next();
    try {
      for (const kind of ['gemm', 'gemmAdd', 'gemmGelu'] as const) {
        for (const [pool, at] of [[one, out1], [three, out3]] as const) {
          mem.fill(0.25, at, at + M * N);
          pool[kind](A * 4, K, W * 4, bias * 4, at * 4, N, M, K, N);
        }
        expect(mem.slice(out3, out3 + M * N)).toEqual(mem.slice(out1, out1 + M * N));
        expect(mem[out1 + (M - 1) * N]).not.toBe(0.25);
        expect(mem[out1 + M * N - 1]).not.toBe(0.25);
      }
    } finally {
      one.close();
      three.close();
    }
  });
});
