import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { FRAME_KIND, FrameReader, FrameWriter, splitTarget } from './wire-frames.js';

/** A socket stand-in that records what is written. */
function recordingSocket(): { socket: Socket; chunks: Buffer[] } {
  const chunks: Buffer[] = [];
  const socket = Object.assign(Object.create(Socket.prototype) as Socket, {
    destroyed: false,
    write: (chunk: Buffer) => chunks.push(Buffer.from(chunk)) > 0,
  });
  return { socket, chunks };
}

describe('wire frames', () => {
  it('writes the first frame of a turn at once and batches the rest', async () => {
    const { socket, chunks } = recordingSocket();
    const writer = new FrameWriter(socket);
    writer.write(FRAME_KIND.reply, 0, 1, 1, null, Buffer.from('a'));
    expect(chunks).toHaveLength(1);
    writer.write(FRAME_KIND.reply, 0, 2, 1, null, Buffer.from('b'));
    writer.write(FRAME_KIND.closed, 0, 3, 0, null, null);
    expect(chunks).toHaveLength(1);
    await Promise.resolve();
    expect(chunks).toHaveLength(2);
  });

  it('reads back every frame, whatever the chunk boundaries', async () => {
    const { socket, chunks } = recordingSocket();
    const writer = new FrameWriter(socket);
    const big = Buffer.alloc(300_000, 7);
    writer.write(FRAME_KIND.ask, 1, 5, 42, Buffer.from('target#1', 'utf8'), Buffer.from('hello'));
    writer.write(FRAME_KIND.reply, 0, 6, 42, null, big);
    writer.write(FRAME_KIND.closed, 0, 7, 0, null, null);
    writer.flush();
    const stream = Buffer.concat(chunks);
    for (const step of [1, 3, 7, 4096, stream.byteLength]) {
      const got: Array<[number, number, Buffer, number, number]> = [];
      const reader = new FrameReader((kind, flags, link, ask, body) => got.push([kind, link, Buffer.from(body), flags, ask]));
      for (let at = 0; at < stream.byteLength; at += step) reader.push(stream.subarray(at, at + step));
      expect(got.map(([kind, link, , flags, ask]) => [kind, link, flags, ask])).toEqual([
        [FRAME_KIND.ask, 5, 1, 42],
        [FRAME_KIND.reply, 6, 0, 42],
        [FRAME_KIND.closed, 7, 0, 0],
      ]);
      const first = splitTarget(got[0]![2]);
      expect(first.target).toBe('target#1');
      expect(first.payload.toString()).toBe('hello');
      expect(got[1]![2].equals(big)).toBe(true);
      expect(got[2]![2].byteLength).toBe(0);
    }
  });

  it('throws on a corrupt length', () => {
    const reader = new FrameReader(() => {});
    expect(() => reader.push(Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))).toThrow(/corrupt actor frame/);
  });
});
