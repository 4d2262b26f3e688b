import { describe, expect, it, vi } from 'vitest';
import { AsyncChannel, ChannelOverflowError } from './async-channel.js';

async function drain<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('AsyncChannel', () => {
  it('delivers buffered and later items in order, then ends on close', async () => {
    const ch = new AsyncChannel<number>({ capacity: 8 });
    ch.push(1);
    ch.push(2);
    const done = drain(ch);
    await Promise.resolve();
    ch.push(3);
    ch.close();
    expect(ch.push(4)).toBe(false);
    expect(await done).toEqual([1, 2, 3]);
    expect(ch.state).toBe('closed');
  });

  it('raises the error after the buffered items', async () => {
    const ch = new AsyncChannel<number>({ capacity: 8 });
    ch.push(1);
    ch.fail(new Error('boom'));
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const x of ch) seen.push(x);
      })(),
    ).rejects.toThrow('boom');
    expect(seen).toEqual([1]);
  });

  it('wakes a waiting consumer on failure', async () => {
    const ch = new AsyncChannel<number>({ capacity: 8 });
    const it = ch[Symbol.asyncIterator]();
    const pending = it.next();
    ch.fail(new Error('late'));
    await expect(pending).rejects.toThrow('late');
    await expect(it.next()).resolves.toEqual({ value: undefined, done: true });
  });

  it('fires onCancel once when the consumer stops early', async () => {
    const onCancel = vi.fn();
    const ch = new AsyncChannel<number>({ capacity: 8, onCancel });
    ch.push(1);
    ch.push(2);
    for await (const x of ch) {
      expect(x).toBe(1);
      break;
    }
    expect(onCancel).toHaveBeenCalledTimes(1);
    expect(onCancel).toHaveBeenCalledWith('consumer-stopped');
    expect(ch.state).toBe('cancelled');
    expect(ch.push(3)).toBe(false);
    expect(ch.size).toBe(0);
  });

  it('does not fire onCancel when the producer already finished', async () => {
    const onCancel = vi.fn();
    const ch = new AsyncChannel<number>({ capacity: 8, onCancel });
    ch.push(1);
    ch.push(2);
    ch.close();
    for await (const _ of ch) break;
    expect(onCancel).not.toHaveBeenCalled();
  });

  it('fails with ChannelOverflowError past capacity and cancels the producer', async () => {
    const onCancel = vi.fn();
    const ch = new AsyncChannel<number>({ capacity: 2, onCancel });
    expect([ch.push(1), ch.push(2), ch.push(3)]).toEqual([true, true, false]);
    expect(onCancel).toHaveBeenCalledWith('overflow');
    const it = ch[Symbol.asyncIterator]();
    expect((await it.next()).value).toBe(1);
    expect((await it.next()).value).toBe(2);
    await expect(it.next()).rejects.toBeInstanceOf(ChannelOverflowError);
  });

  it('allows a single consumer and validates capacity', () => {
    const ch = new AsyncChannel<number>({ capacity: 1 });
    ch[Symbol.asyncIterator]();
    expect(() => ch[Symbol.asyncIterator]()).toThrow(/single consumer/);
    expect(() => new AsyncChannel({ capacity: 0 })).toThrow(/capacity/);
  });
});
