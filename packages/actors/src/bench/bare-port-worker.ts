/**
 * Baseline of the actors benchmark: two plain worker threads joined by one MessageChannel, with
 * no runtime at all. Role `target` echoes pings and counts hits; role `driver` measures a
 * ping-pong and a flood and posts the results to its parent.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { summarizeLatency } from './bench-stats.js';

/** `workerData` of a bare benchmark worker. */
export interface BareWorkerData {
  readonly role: 'driver' | 'target';
  readonly port: MessagePort;
  readonly rounds: number;
  readonly messages: number;
}

type BareMessage = { k: 'ping'; n: number } | { k: 'hit'; n: number } | { k: 'count' };

const data = workerData as BareWorkerData;

function runTarget(port: MessagePort): void {
  let hits = 0;
  port.on('message', (msg: BareMessage) => {
    if (msg.k === 'ping') port.postMessage(msg.n);
    else if (msg.k === 'hit') hits++;
    else port.postMessage(hits);
  });
}

async function runDriver(port: MessagePort): Promise<void> {
  const next = (): Promise<number> => new Promise((resolve) => port.once('message', resolve));
  const durations: number[] = [];
  for (let i = 0; i < data.rounds; i++) {
    const start = performance.now();
    const reply = next();
    port.postMessage({ k: 'ping', n: i } satisfies BareMessage);
    await reply;
    durations.push(performance.now() - start);
  }
  const start = performance.now();
  for (let n = 0; n < data.messages; n++) port.postMessage({ k: 'hit', n } satisfies BareMessage);
  const counted = next();
  port.postMessage({ k: 'count' } satisfies BareMessage);
  const hits = await counted;
  const elapsedMs = performance.now() - start;
  if (hits !== data.messages) throw new Error(`bare flood: target counted ${hits} of ${data.messages}`);
  parentPort?.postMessage({ latency: summarizeLatency(durations), tellsPerSecond: (data.messages / elapsedMs) * 1_000 });
  port.close();
}

if (data.role === 'target') runTarget(data.port);
else await runDriver(data.port);
