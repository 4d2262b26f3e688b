/**
 * Baseline of the cross-process actors benchmark: a bare unix-domain socket between two
 * processes, each message `v8.serialize`d behind a 4-byte length prefix and written with its own
 * `socket.write` (as Node's own IPC channel frames each `process.send`). `serveBare` echoes pings
 * and counts hits; `driveBare` measures a ping-pong and a flood against it.
 */
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { deserialize, serialize } from 'node:v8';
import { summarizeLatency, type LatencySummary } from './bench-stats.js';

type BareMessage = { k: 'ping'; n: number } | { k: 'hit'; n: number } | { k: 'count' };

/** Results of one bare run. */
export interface BareResult {
  readonly latency: LatencySummary;
  readonly tellsPerSecond: number;
}

function frame(value: unknown): Buffer {
  const payload = serialize(value);
  const out = Buffer.allocUnsafe(4 + payload.byteLength);
  out.writeUInt32LE(payload.byteLength, 0);
  payload.copy(out, 4);
  return out;
}

/** Calls `onMessage` for every length-prefixed message arriving on `socket`. */
function onFrames(socket: Socket, onMessage: (value: unknown) => void): void {
  let held = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    let data = held.byteLength === 0 ? chunk : Buffer.concat([held, chunk]);
    let at = 0;
    while (data.byteLength - at >= 4) {
      const length = data.readUInt32LE(at);
      if (data.byteLength - at - 4 < length) break;
      onMessage(deserialize(data.subarray(at + 4, at + 4 + length)));
      at += 4 + length;
    }
    data = data.subarray(at);
    held = data.byteLength === 0 ? Buffer.alloc(0) : Buffer.from(data);
  });
}

/** Starts the echo/count server; resolves with its address and a close function. */
export async function serveBare(): Promise<{ address: string; server: Server }> {
  const address = process.platform === 'linux' ? `\0baton-bench-${randomBytes(6).toString('hex')}` : `/tmp/baton-bench-${randomBytes(6).toString('hex')}.sock`;
  const server = createServer((socket) => {
    let hits = 0;
    onFrames(socket, (value) => {
      const msg = value as BareMessage;
      if (msg.k === 'ping') socket.write(frame(msg.n));
      else if (msg.k === 'hit') hits++;
      else socket.write(frame(hits));
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen({ path: address }, resolve));
  return { address, server };
}

/** Runs `rounds` ping-pongs and a flood of `messages` hits against the server at `address`. */
export async function driveBare(address: string, rounds: number, messages: number): Promise<BareResult> {
  const socket = connect({ path: address });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let waiting: ((value: unknown) => void) | null = null;
  onFrames(socket, (value) => waiting?.(value));
  const next = (): Promise<unknown> => new Promise((resolve) => (waiting = resolve));
  try {
    const durations: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const start = performance.now();
      const reply = next();
      socket.write(frame({ k: 'ping', n: i } satisfies BareMessage));
      await reply;
      durations.push(performance.now() - start);
    }
    const before = next();
    socket.write(frame({ k: 'count' } satisfies BareMessage));
    const base = (await before) as number;
    const start = performance.now();
    for (let n = 0; n < messages; n++) socket.write(frame({ k: 'hit', n } satisfies BareMessage));
    const counted = next();
    socket.write(frame({ k: 'count' } satisfies BareMessage));
    const hits = ((await counted) as number) - base;
    const elapsedMs = performance.now() - start;
    if (hits !== messages) throw new Error(`bare flood: server counted ${hits} of ${messages}`);
    return { latency: summarizeLatency(durations), tellsPerSecond: (messages / elapsedMs) * 1_000 };
  } finally {
    socket.destroy();
  }
}
