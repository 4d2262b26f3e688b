import { describe, expect, it } from 'vitest';
import { BlockPool } from './block-pool.js';
import { HandoffCancelledError, HandoffStateError, HandoffTimeoutError } from './errors.js';

const geometry = { blockSize: 4, layers: 3, heads: 1, headDim: 2, totalBlocks: 8, handoffSlots: 2 };

function filledTable(pool: BlockPool, tokens: number) {
  const table = pool.createTable();
  table.ensureCapacity(tokens);
  return table;
}

describe('in-process handoff', () => {
  it('moves block references to the consumer without copying, layer by layer', async () => {
    const pool = BlockPool.create(geometry);
    const table = filledTable(pool, 6);
    const producer = pool.openHandoff(table, { tokenCount: 6, sequenceId: 'seq-1' });
    if (producer === null) throw new Error('no slot');
    const consumer = pool.acceptHandoff(structuredClone(producer.descriptor));
    const layer0 = consumer.waitForLayer(0);
    table.write(0, 'k', 0, Float32Array.from({ length: 12 }, (_, i) => i));
    producer.publishLayer(0);
    await layer0;
    const out = new Float32Array(12);
    consumer.read(0, 'k', 0, 6, out);
    expect(out[11]).toBe(11);
    expect(() => consumer.adopt()).toThrow(HandoffStateError);
    producer.publishLayer(1);
    producer.publishLayer(2);
    await consumer.waitForLayer(2);
    table.release();
    const adopted = consumer.adopt();
    expect(adopted.blockIds).toEqual([...producer.descriptor.blockIds]);
    adopted.read(0, 'k', 0, 6, out);
    expect(out[5]).toBe(5);
    expect(consumer.state).toBe('adopted');
    expect(producer.cancel()).toBe(false);
    adopted.release();
    expect(pool.stats()).toMatchObject({ free: 8, used: 0 });
  });

  it('cancellation by the producer wakes the consumer and drops the references once', async () => {
    const pool = BlockPool.create(geometry);
    const table = filledTable(pool, 8);
    const producer = pool.openHandoff(table, { tokenCount: 8 });
    if (producer === null) throw new Error('no slot');
    table.release();
    const consumer = pool.acceptHandoff(producer.descriptor);
    const waiting = consumer.waitForLayer(1);
    producer.publishLayer(0);
    expect(producer.cancel()).toBe(true);
    await expect(waiting).rejects.toBeInstanceOf(HandoffCancelledError);
    expect(consumer.cancel()).toBe(false);
    expect(() => consumer.adopt()).toThrow(HandoffCancelledError);
    expect(() => producer.publishLayer(1)).toThrow(HandoffCancelledError);
    expect(pool.stats()).toMatchObject({ free: 8, used: 0 });
  });

  it('a consumer timeout or abort cancels the handoff and leaks nothing', async () => {
    const pool = BlockPool.create(geometry);
    const table = filledTable(pool, 4);
    const first = pool.openHandoff(table, { tokenCount: 4 });
    const second = pool.openHandoff(table, { tokenCount: 4 });
    if (first === null || second === null) throw new Error('no slot');
    table.release();
    await expect(pool.acceptHandoff(first.descriptor).waitForLayer(0, { timeoutMs: 20 })).rejects.toBeInstanceOf(
      HandoffTimeoutError,
    );
    const controller = new AbortController();
    const waiting = pool.acceptHandoff(second.descriptor).waitForLayer(0, { signal: controller.signal });
    controller.abort();
    await expect(waiting).rejects.toThrow(/aborted/);
    expect(first.state).toBe('cancelled');
    expect(pool.stats()).toMatchObject({ free: 8, used: 0 });
  });

  it('returns null when every handoff slot is taken, and detects reused slots', () => {
    const pool = BlockPool.create(geometry);
    const table = filledTable(pool, 4);
    const a = pool.openHandoff(table, { tokenCount: 4 });
    const b = pool.openHandoff(table, { tokenCount: 4 });
    expect(pool.openHandoff(table, { tokenCount: 4 })).toBeNull();
    a?.cancel();
    const c = pool.openHandoff(table, { tokenCount: 4 });
    expect(c?.descriptor.slot).toBe(a?.descriptor.slot);
    // A producer that never published its last layer can only have been cancelled.
    expect(a?.state).toBe('cancelled');
    expect(a && pool.acceptHandoff(a.descriptor).state).toBe('ended');
    expect(() => pool.openHandoff(table, { tokenCount: 5 })).toThrow(/tokenCount/);
    b?.cancel();
    c?.cancel();
    table.release();
    expect(pool.stats().free).toBe(8);
  });
});
