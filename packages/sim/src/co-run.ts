/**
 * Co-run slowdown: how much longer this machine takes for a model call while another model thread
 * of the same engine is busy beside it (the prefill and decode threads of one engine share the
 * cores, caches and memory bandwidth). `measureCoRun` times prefill calls beside a neighbour that
 * decodes, and decode steps beside one that prefills, against the same calls with the neighbour
 * idle, alternating the two within every round so load from elsewhere falls on both alike.
 *
 * Invariants: the neighbour thread is terminated before it returns (also on failure); a factor is
 * the geometric mean over the timed cases of mean(beside) / mean(alone), never below 1.
 */
import { Worker } from 'node:worker_threads';
import type { BackendName, Gpt } from '@baton/model';
import type { CoRunCommand, CoRunInit, CoRunReport } from './co-run-worker.js';
import type { CoRun } from './profile.js';
import { decodeRig, prefillOnce } from './profile-rigs.js';

const PREFILL_CASES = [64, 256];
const DECODE_CASES = [1, 4, 16];
const DECODE_CONTEXT = 256;
/** Untimed steps before the timed ones (caches refill after other work), then timed steps. */
const WARM_UP = 6;
const TIMED = 6;

/** Measures the co-run factors of `model` (already loaded in this thread) on this machine. */
export async function measureCoRun(model: Gpt, source: { model: string; backend: BackendName }, rounds: number): Promise<CoRun> {
  const worker = new Worker(new URL('./co-run-worker.js', import.meta.url), { workerData: { model: source.model, backend: source.backend } satisfies CoRunInit });
  const reports: CoRunReport[] = [];
  let wake: (() => void) | null = null;
  let failure: Error | null = null;
  worker.on('message', (m: CoRunReport) => {
    reports.push(m);
    wake?.();
  });
  worker.on('error', (e) => {
    failure = e;
    wake?.();
  });
  const next = async (): Promise<CoRunReport> => {
    while (reports.length === 0) {
      if (failure !== null) throw failure;
      await new Promise<void>((resolve) => { wake = resolve; });
      wake = null;
    }
    const r = reports.shift() as CoRunReport;
    if (r.type === 'error') throw new Error(`co-run neighbour failed: ${r.message}`);
    return r;
  };
  const tell = async (c: CoRunCommand): Promise<void> => {
    worker.postMessage(c);
    await next();
  };
  try {
    await next();
    const budget = rounds * (WARM_UP + TIMED) * 2 + 4;
    const rigs = DECODE_CASES.map((b) => decodeRig(model, b, DECODE_CONTEXT, budget));
    const samples = { prefill: PREFILL_CASES.map(() => ({ alone: [] as number[], beside: [] as number[] })), decode: DECODE_CASES.map(() => ({ alone: [] as number[], beside: [] as number[] })) };
    try {
      for (let r = -1; r < rounds; r++) {
        // NOTE: the order of the two phases alternates by round (load drifting over a round cancels).
        for (const beside of r % 2 === 0 ? [false, true] : [true, false]) {
          await tell(beside ? { type: 'busy', kind: 'decode' } : { type: 'idle' });
          PREFILL_CASES.forEach((t, i) => {
            const ms = prefillOnce(model, t, 0);
            if (r >= 0) samples.prefill[i][beside ? 'beside' : 'alone'].push(ms);
          });
          await tell(beside ? { type: 'busy', kind: 'prefill' } : { type: 'idle' });
          rigs.forEach((rig, i) => {
            for (let w = 0; w < WARM_UP; w++) rig.step();
            for (let s = 0; s < TIMED; s++) {
              const ms = rig.step();
              if (r >= 0) samples.decode[i][beside ? 'beside' : 'alone'].push(ms);
            }
          });
        }
      }
    } finally {
      for (const rig of rigs) rig.release();
    }
    await tell({ type: 'idle' });
    return { prefillFactor: factor(samples.prefill), decodeFactor: factor(samples.decode) };
  } finally {
    worker.postMessage({ type: 'exit' } satisfies CoRunCommand);
    await worker.terminate();
  }
}

function factor(cases: Array<{ alone: number[]; beside: number[] }>): number {
  const logs = cases.map((c) => Math.log(mean(c.beside) / mean(c.alone)));
  return Math.max(1, Math.exp(mean(logs)));
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}
