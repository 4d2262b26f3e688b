/**
 * ProcessCounters: the step, batch and busy-time bookkeeping behind a serving process's
 * `ServingActorStats` (the same shape the in-process actors report, so stats views work for both).
 */
import { backendMemory } from '@baton/model';
import { engineNow } from '../clock.js';
import type { ServingActorStats } from '../protocol.js';

/** Live counters of one serving process. */
export class ProcessCounters {
  readonly #startedAt = engineNow();
  #busyMs = 0;
  #steps = 0;
  #batchSum = 0;
  #maxBatch = 0;
  #tokens = 0;

  constructor(
    private readonly role: 'prefill' | 'decode',
    private readonly backend: string,
  ) {}

  /** One model step over `batch` sequences (or prompt tokens) that took `ms`. */
  step(batch: number, ms: number, tokens = batch): void {
    this.#steps += 1;
    this.#batchSum += batch;
    this.#maxBatch = Math.max(this.#maxBatch, batch);
    this.#tokens += tokens;
    this.#busyMs += ms;
  }

  /** The stats snapshot. */
  snapshot(name: string, counts: { queueLength: number; running: number; kvBlocksUsed: number }): ServingActorStats {
    const elapsed = Math.max(1, engineNow() - this.#startedAt);
    return {
      name,
      role: this.role,
      activity: counts.running > 0 ? `${this.role === 'decode' ? 'decoding' : 'prefilling'} ${counts.running}` : counts.queueLength > 0 ? `${counts.queueLength} waiting` : 'idle',
      ...counts,
      utilization: Math.min(1, this.#busyMs / elapsed),
      steps: this.#steps,
      meanBatchSize: this.#steps === 0 ? null : this.#batchSum / this.#steps,
      maxBatchSize: this.#maxBatch,
      tokensProcessed: this.#tokens,
      preemptions: 0,
      backend: this.backend,
      tensors: backendMemory().numTensors,
    };
  }
}
