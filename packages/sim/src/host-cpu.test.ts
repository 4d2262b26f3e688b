import { describe, expect, it } from 'vitest';
import { EventQueue } from './event-queue.js';
import { HostCpu, type Work } from './host-cpu.js';
import { simulate } from './simulator.js';
import { constantStepTimes } from './step-times.js';

describe('HostCpu', () => {
  /** Runs the jobs [slot, start, work] on a machine and returns each owner's end time. */
  function ends(contention: ConstructorParameters<typeof HostCpu>[1], jobs: Array<[number, number, Work]>): number[] {
    const queue = new EventQueue();
    const cpu = new HostCpu(queue, contention);
    const slots = Math.max(...jobs.map((j) => j[0])) + 1;
    for (let i = 0; i < slots; i++) cpu.register();
    const out: number[] = jobs.map(() => NaN);
    jobs.forEach(([slot, start, work], i) => {
      queue.push(start, { fire: (now) => cpu.run(slot, now, work, { fire: (end) => (out[i] = end) }, 0) });
    });
    queue.run();
    return out;
  }
  const prefill = (ms: number): Work => ({ prefillMs: ms, decodeMs: 0 });
  const decode = (ms: number): Work => ({ prefillMs: 0, decodeMs: ms });

  it('shares the machine: side by side both run at 1 / factor, then the one left runs alone', () => {
    // 6 ms and 10 ms at x2 from t = 0: the 6 ms job ends at 12 (the other has done 6 of its 10),
    // the other's last 4 ms run alone: 16.
    const [a, b] = ends({ prefillFactor: 2, decodeFactor: 1.5, cores: 2 }, [[0, 0, prefill(6)], [1, 0, prefill(10)]]);
    expect(a).toBeCloseTo(12, 9);
    expect(b).toBeCloseTo(16, 9);
  });

  it('re-times work in progress when other work starts beside it', () => {
    // 10 ms of decode from t = 0 runs alone until t = 4 (6 left); then beside the prefill at x1.5:
    // ends at 4 + 9 = 13. The 4 ms prefill beside it at x2 ends at 4 + 8 = 12.
    const [d, p] = ends({ prefillFactor: 2, decodeFactor: 1.5, cores: 2 }, [[0, 0, decode(10)], [1, 4, prefill(4)]]);
    expect(p).toBeCloseTo(12, 9);
    // At 12 the decode has 6 - 8 / 1.5 = 2/3 ms left, alone.
    expect(d).toBeCloseTo(12 + 2 / 3, 9);
  });

  it('time-shares past the core count: 3 busy threads on 2 cores', () => {
    const out = ends({ prefillFactor: 1.2, decodeFactor: 1.2, cores: 2 }, [[0, 0, decode(10)], [1, 0, decode(10)], [2, 0, decode(10)]]);
    for (const e of out) expect(e).toBeCloseTo(10 * 1.2 * 1.5, 9);
  });

  it('weights the factor of mixed work by its parts', () => {
    const [a] = ends({ prefillFactor: 2, decodeFactor: 1, cores: 2 }, [[0, 0, { prefillMs: 2, decodeMs: 2 }], [1, 0, decode(100)]]);
    expect(a).toBeCloseTo(4 * 1.5, 9);
  });

  it('is start + ms without a contention model', () => {
    expect(ends(null, [[0, 5, prefill(7)], [1, 5, decode(7)]])).toEqual([12, 12]);
  });
});

describe('instances sharing a machine in the simulation', () => {
  // Two long requests at once on two colocated instances, one each: both decode side by side.
  const arrivals = [0, 1].map((index) => ({ index, arrivalMs: 0, promptIds: Array.from({ length: 8 }, (_, i) => i + 16 * index), maxTokens: 41 }));
  const times = (factor: number) => constantStepTimes({ prefillFixedMs: 1, decodeFixedMs: 2, contention: { prefillFactor: factor, decodeFactor: factor, cores: 2 } });
  const run = (cpu: 'shared' | 'own', factor: number) => simulate({ config: { mode: 'colocated', colocated: 2, schedulerCost: 'none', cpu }, times: times(factor), arrivals });

  it('slows decode steps that run beside each other by the co-run factor', () => {
    const own = run('own', 1.5);
    const shared = run('shared', 1.5);
    for (let i = 0; i < 2; i++) {
      expect(own.log.at(i).tpotMs).toBeCloseTo(2, 9);
      expect(shared.log.at(i).tpotMs).toBeCloseTo(3, 6);
    }
  });

  it('changes nothing at factor 1 with no more threads than cores', () => {
    const own = run('own', 1);
    const shared = run('shared', 1);
    for (let i = 0; i < 2; i++) expect(shared.log.at(i).tpotMs).toBeCloseTo(own.log.at(i).tpotMs as number, 9);
  });
});
