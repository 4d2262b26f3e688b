/**
 * The co-run neighbour of `baton profile`: a worker thread that loads the profiled model and, when
 * told, keeps one model thread busy the way an engine's other instance is — prefill calls
 * (`busy: prefill`) or greedy decode steps of a batch (`busy: decode`) — until told `idle`, so the
 * profiler can time its own model calls with and without a busy neighbour.
 *
 * Invariants: work runs in slices of at most ~20 ms between mailbox turns (a message is seen
 * within a slice); every rig it creates is released; the model is disposed on `exit`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend, loadModel, type BackendName } from '@baton/model';
import { decodeRig, prefillOnce } from './profile-rigs.js';
import { modelSource } from './profiler.js';

/** What the profiler tells its neighbour. */
export type CoRunCommand = { type: 'busy'; kind: 'prefill' | 'decode' } | { type: 'idle' } | { type: 'exit' };

/** What the neighbour tells the profiler. */
export type CoRunReport = { type: 'ready' } | { type: 'state'; busy: boolean } | { type: 'error'; message: string };

/** The options the neighbour is started with. */
export interface CoRunInit {
  model: string;
  backend: BackendName;
}

/** Steps of one decode rig before it is rebuilt (its backing has room for that many). */
const RIG_STEPS = 256;
const SLICE_MS = 20;

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('co-run-worker must run in a worker thread');
  const init = workerData as CoRunInit;
  await initBackend(init.backend);
  const model = await loadModel(modelSource(init.model));
  let kind: 'prefill' | 'decode' | null = null;
  let rig: ReturnType<typeof decodeRig> | null = null;
  let used = 0;
  let looping = false;
  const slice = (): void => {
    if (kind === null) {
      looping = false;
      return;
    }
    const t0 = performance.now();
    while (performance.now() - t0 < SLICE_MS) {
      if (kind === 'prefill') prefillOnce(model, 128, 0);
      else {
        if (rig === null || used >= RIG_STEPS) {
          rig?.release();
          rig = decodeRig(model, 8, 256, RIG_STEPS + 2);
          used = 0;
        }
        rig.step();
        used++;
      }
    }
    setImmediate(slice);
  };
  port.on('message', (m: CoRunCommand) => {
    if (m.type === 'exit') {
      kind = null;
      rig?.release();
      model.dispose();
      port.close();
      return;
    }
    kind = m.type === 'busy' ? m.kind : null;
    if (kind !== null && !looping) {
      looping = true;
      setImmediate(slice);
    }
    port.postMessage({ type: 'state', busy: kind !== null } satisfies CoRunReport);
  });
  port.postMessage({ type: 'ready' } satisfies CoRunReport);
}

main().catch((e: unknown) => parentPort?.postMessage({ type: 'error', message: e instanceof Error ? e.message : String(e) } satisfies CoRunReport));
