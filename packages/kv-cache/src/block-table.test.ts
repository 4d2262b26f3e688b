import { describe, expect, expectTypeOf, it } from 'vitest';
import { BlockPool } from './block-pool.js';
import { BlockTable } from './block-table.js';
import { KvCapacityError, KvClosedError } from './errors.js';

/** Local copy of @baton/model's KvBacking (packages/model/src/kv-backing.ts); no import by design. */
interface KvBacking {
  readonly capacity: number;
  write(layer: number, kind: 'k' | 'v', start: number, rows: Float32Array): void;
  read(layer: number, kind: 'k' | 'v', start: number, end: number, out: Float32Array): void;
}

const geometry = { blockSize: 4, layers: 3, heads: 2, headDim: 2, totalBlocks: 6 };
const nEmbd = 4;

function rows(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n * nEmbd }, (_, i) => seed * 1000 + i);
}

describe('BlockTable', () => {
  it('is assignable to the model KvBacking contract', () => {
    expectTypeOf<BlockTable>().toMatchTypeOf<KvBacking>();
    const backing: KvBacking = BlockPool.create(geometry).createTable();
    expect(backing.capacity).toBe(0);
  });

  it('round-trips rows that span blocks, per layer and kind', () => {
    const pool = BlockPool.create(geometry);
    const table = pool.createTable();
    expect(table.ensureCapacity(10)).toBe(true);
    expect(table.capacity).toBe(12);
    expect(table.blockIds).toHaveLength(3);
    for (let layer = 0; layer < 3; layer++) {
      table.write(layer, 'k', 0, rows(3, layer));
      table.write(layer, 'k', 3, rows(7, layer + 10));
      table.write(layer, 'v', 0, rows(10, layer + 20));
    }
    const out = new Float32Array(10 * nEmbd);
    table.read(1, 'k', 0, 10, out);
    expect([...out.subarray(0, 3 * nEmbd)]).toEqual([...rows(3, 1)]);
    expect([...out.subarray(3 * nEmbd)]).toEqual([...rows(7, 11)]);
    table.read(2, 'v', 2, 9, out);
    expect([...out.subarray(0, 7 * nEmbd)]).toEqual([...rows(10, 22).subarray(2 * nEmbd, 9 * nEmbd)]);
  });

  it('refuses writes past capacity and reports pool shortage as false', () => {
    const pool = BlockPool.create(geometry);
    const table = pool.createTable();
    expect(table.ensureCapacity(4)).toBe(true);
    expect(() => table.write(0, 'k', 2, rows(3, 0))).toThrow(KvCapacityError);
    expect(() => table.write(0, 'k', 0, new Float32Array(3))).toThrow(/n \* 4 floats/);
    expect(() => table.read(3, 'k', 0, 1, new Float32Array(4))).toThrow(/layer 3/);
    expect(table.ensureCapacity(100)).toBe(false);
    expect(table.blockIds).toHaveLength(1);
    table.release();
    expect(() => table.write(0, 'k', 0, rows(1, 0))).toThrow(KvClosedError);
    expect(pool.stats().free).toBe(6);
  });

  it('shares blocks through a descriptor with its own references', () => {
    const pool = BlockPool.create(geometry);
    const table = pool.createTable();
    table.ensureCapacity(8);
    table.write(0, 'k', 0, rows(8, 5));
    const shared = pool.openTable(structuredClone(table.toDescriptor()));
    table.release();
    const out = new Float32Array(8 * nEmbd);
    shared.read(0, 'k', 0, 8, out);
    expect([...out]).toEqual([...rows(8, 5)]);
    expect(pool.stats().used).toBe(2);
    shared.release();
    expect(pool.stats().used).toBe(0);
  });
});
