import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { UncloneableFieldError } from './errors.js';
import { fromWire, toWire, toWireExplained, uncloneableField } from './wire-codec.js';

describe('wire codec', () => {
  it('round-trips plain data, typed arrays, Maps, Sets, Dates, BigInts and errors', () => {
    const value = {
      text: 'héllo',
      list: [1, 2.5, null, undefined, true],
      floats: new Float32Array([1, -2]),
      bytes: Buffer.from('abc'),
      view: new DataView(new Uint8Array([1, 2, 3, 4]).buffer, 1, 2),
      map: new Map([['k', { deep: [1n] }]]),
      set: new Set(['a']),
      when: new Date(0),
      failure: new RangeError('bad'),
    };
    const back = fromWire(toWire(value)) as typeof value;
    expect(back).toEqual(value);
    expect(back.bytes.toString()).toBe('abc');
    expect([...new Uint8Array(back.view.buffer, back.view.byteOffset, back.view.byteLength)]).toEqual([2, 3]);
  });

  it('gives received typed arrays memory of their own', () => {
    const bytes = toWire({ a: new Int32Array([1, 2, 3]), b: new Uint8Array([9]) });
    const back = fromWire(bytes) as { a: Int32Array; b: Uint8Array };
    bytes.fill(0);
    expect([...back.a]).toEqual([1, 2, 3]);
    expect(back.a.buffer.byteLength).toBe(12);
    expect(back.b.buffer).not.toBe(back.a.buffer);
  });

  it('refuses shared memory, including typed arrays over it (never a silent copy)', () => {
    const shared = new SharedArrayBuffer(8);
    expect(() => toWire({ shared })).toThrow();
    expect(() => toWire({ view: new Int32Array(shared) })).toThrow();
    expect(() => toWireExplained({ a: [0, { view: new Float64Array(shared) }] }, 'init')).toThrow(
      new UncloneableFieldError('init.a[1].view', 'a Float64Array over a SharedArrayBuffer'),
    );
  });

  it('names the first field that cannot cross a process', () => {
    const { port1, port2 } = new MessageChannel();
    expect(uncloneableField({ ok: 1, port: port1 }, 'message')?.message).toBe('message.port is a MessagePort, which cannot cross a process');
    expect(uncloneableField({ 'odd key': () => 1 }, 'reply')?.path).toBe('reply["odd key"]');
    expect(uncloneableField(new Map([['k', Symbol('s')]]), 'init')?.path).toBe('init.get("k")');
    expect(uncloneableField({ fine: [1, new Uint8Array(2)] }, 'init')).toBeNull();
    const cycle: Record<string, unknown> = { a: 1 };
    cycle.self = cycle;
    expect(uncloneableField(cycle, 'init')).toBeNull();
    expect(fromWire(toWire(cycle))).toEqual(cycle);
    port1.close();
    port2.close();
  });
});
