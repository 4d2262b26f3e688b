import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { ActorRef, type Link } from './actor-ref.js';
import { REF_KEY, type RefDescriptor } from './protocol.js';
import { decodeRefs, encodeRefs } from './ref-codec.js';

function fakeRef(name: string, opened: MessageChannel[]): ActorRef {
  const link: Link = {
    id: `${name}#1`,
    name,
    tell: () => {},
    ask: async () => undefined,
    requestStop: () => false,
    copy: (scope): RefDescriptor => {
      if (scope === 'wire') return { id: `${name}#1`, name, incarnation: 1, route: { via: 'socket', address: 'somewhere' } };
      const channel = new MessageChannel();
      opened.push(channel);
      return { id: `${name}#1`, name, incarnation: 1, route: { via: 'port', port: channel.port1, address: null } };
    },
  };
  return new ActorRef(link);
}

describe('ref codec', () => {
  it('returns messages without refs untouched, with the caller transfer list', () => {
    const msg = { type: 'x', nested: { list: [1, 2, { deep: true }] } };
    const buffer = new ArrayBuffer(8);
    const encoded = encodeRefs(msg, [buffer], 'process');
    expect(encoded.value).toBe(msg);
    expect(encoded.refs).toBe(false);
    expect(encoded.transfer).toEqual([buffer]);
  });

  it('swaps refs for descriptors without mutating the caller, and back again', () => {
    const opened: MessageChannel[] = [];
    const ref = fakeRef('target', opened);
    const msg = { type: 'x', to: ref, list: [ref, 3], plain: { a: 1 } };
    const encoded = encodeRefs(msg, undefined, 'process');
    expect(encoded.refs).toBe(true);
    expect(msg.to).toBe(ref);
    const value = encoded.value as { to: Record<string, RefDescriptor>; plain: unknown };
    expect(value.to[REF_KEY]?.name).toBe('target');
    expect(value.plain).toBe(msg.plain);
    expect(encoded.transfer).toHaveLength(2);
    const names: string[] = [];
    const decoded = decodeRefs(structuredClone(encoded.value, { transfer: [...encoded.transfer] }), (descriptor) => {
      names.push(descriptor.name);
      if (descriptor.route.via === 'port') descriptor.route.port.close();
      return ref;
    }) as typeof msg;
    expect(decoded.to).toBe(ref);
    expect(decoded.list[0]).toBe(ref);
    expect(names).toEqual(['target', 'target']);
    for (const channel of opened) channel.port2.close();
  });

  it('encodes refs for another process as socket routes, with nothing to transfer', () => {
    const opened: MessageChannel[] = [];
    const ref = fakeRef('target', opened);
    const encoded = encodeRefs({ type: 'x', to: ref }, undefined, 'wire');
    expect(encoded.transfer).toEqual([]);
    expect(opened).toEqual([]);
    const value = encoded.value as { to: Record<string, RefDescriptor> };
    expect(value.to[REF_KEY]?.route).toEqual({ via: 'socket', address: 'somewhere' });
  });
});
