import { describe, expect, it } from 'vitest';
import { FrameReader, FrameType, encodeControl, encodeHeader, type FrameHeader, type PayloadSink } from './transfer-protocol.js';

/** A stream of frames: a JSON Begin, two Layer frames with payload, an End. */
function stream(): { bytes: Buffer; payloads: Buffer[] } {
  const payloads = [1000, 333].map((length, k) => Buffer.from(Array.from({ length }, (_, i) => (i * 31 + k * 7) & 255)));
  const layer = (payload: Buffer, layerIndex: number): Buffer =>
    Buffer.concat([encodeHeader({ type: FrameType.Layer, sequenceId: 1, layer: layerIndex, blockStart: 0, blockCount: 1, byteLength: payload.length, checksum: 0 }), payload]);
  const bytes = Buffer.concat([
    encodeControl(FrameType.Begin, 1, { hello: 'world' }),
    layer(payloads[0], 0),
    layer(payloads[1], 1),
    encodeHeader({ type: FrameType.End, sequenceId: 1, layer: 0, blockStart: 0, blockCount: 0, byteLength: 0, checksum: 0 }),
  ]);
  return { bytes, payloads };
}

/** Records frames; Layer payloads land in `targets` through direct reads (or copies). */
function recorder(targets: Buffer[]): { frames: FrameHeader[]; onFrame: (header: FrameHeader) => PayloadSink | null } {
  const frames: FrameHeader[] = [];
  const onFrame = (header: FrameHeader): PayloadSink | null => {
    frames.push(header);
    if (header.type !== FrameType.Layer) return header.byteLength > 0 ? { write: () => undefined, end: () => undefined } : null;
    const target = Buffer.alloc(header.byteLength);
    targets.push(target);
    let at = 0;
    return {
      write: (chunk) => {
        target.set(chunk, at);
        at += chunk.length;
      },
      end: () => undefined,
      direct: { view: () => target.subarray(at), advance: (n) => (at += n) },
    };
  };
  return { frames, onFrame };
}

describe('FrameReader', () => {
  it('parses the same frames and payloads from pushed chunks and from reads into its buffers', () => {
    const { bytes, payloads } = stream();
    const pushedTargets: Buffer[] = [];
    const pushed = recorder(pushedTargets);
    const reader = new FrameReader(pushed.onFrame);
    for (let at = 0; at < bytes.length; at += 97) reader.push(bytes.subarray(at, at + 97));

    let seed = 12345;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 200) + 1;
    const readTargets: Buffer[] = [];
    const read = recorder(readTargets);
    const direct = new FrameReader(read.onFrame);
    let at = 0;
    while (at < bytes.length) {
      const into = direct.nextReadBuffer();
      expect(into.length).toBeGreaterThan(0);
      const n = Math.min(into.length, random(), bytes.length - at);
      into.set(bytes.subarray(at, at + n));
      direct.didRead(n);
      at += n;
    }
    expect(read.frames).toEqual(pushed.frames);
    expect(read.frames.map((f) => f.type)).toEqual([FrameType.Begin, FrameType.Layer, FrameType.Layer, FrameType.End]);
    expect(readTargets).toEqual(payloads);
    expect(pushedTargets).toEqual(payloads);
    expect(direct.atBoundary).toBe(true);
  });

  it('never hands out a read buffer that crosses a frame boundary', () => {
    const { bytes } = stream();
    const reader = new FrameReader(recorder([]).onFrame);
    const sizes: number[] = [];
    for (let at = 0; at < bytes.length; ) {
      const into = reader.nextReadBuffer();
      sizes.push(into.length);
      into.set(bytes.subarray(at, at + into.length));
      reader.didRead(into.length);
      at += into.length;
    }
    // header 32, Begin payload, header, 1000, header, 333, header
    expect(sizes.filter((s) => s === 32)).toHaveLength(4);
    expect(sizes).toContain(1000);
    expect(sizes).toContain(333);
  });

  it('rejects a bad magic number read into its header buffer', () => {
    const reader = new FrameReader(() => null);
    const into = reader.nextReadBuffer();
    into.fill(0);
    expect(() => reader.didRead(into.length)).toThrow(/magic/);
  });
});
