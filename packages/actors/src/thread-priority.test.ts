import { Worker } from 'node:worker_threads';
import { getPriority } from 'node:os';
import { describe, expect, it } from 'vitest';
import { InvalidActorOptionsError } from './errors.js';
import { setThreadNice } from './thread-priority.js';

describe('setThreadNice', () => {
  it('rejects values outside [-20, 19] or non-integers with a typed error', () => {
    for (const bad of [20, -21, 1.5, Number.NaN]) expect(() => setThreadNice(bad)).toThrow(InvalidActorOptionsError);
  });

  it.runIf(process.platform === 'linux')('lowers only the calling worker thread, not its process', async () => {
    const source = `
      const { parentPort } = require('node:worker_threads');
      const { readlinkSync } = require('node:fs');
      const { setPriority, getPriority } = require('node:os');
      const id = Number(readlinkSync('/proc/thread-self').split('/').pop());
      setPriority(id, 7);
      parentPort.postMessage({ id, nice: getPriority(id) });`;
    // The worker does what setThreadNice does (the compiled module is not loadable from eval);
    // this checks the per-thread premise, and the next test the function itself.
    const worker = new Worker(source, { eval: true });
    try {
      const reply = await new Promise<{ id: number; nice: number }>((resolve) => worker.once('message', resolve));
      expect(reply.nice).toBe(7);
      expect(reply.id).not.toBe(process.pid);
      expect(getPriority(process.pid)).toBe(0);
    } finally {
      await worker.terminate();
    }
  });

  it.runIf(process.platform === 'linux')('returns the nice now in effect for the calling thread', async () => {
    // NOTE: vitest runs this file in a forked process of its own; lowering that process's only
    // JS thread affects no other test file.
    const target = Math.max(getPriority(process.pid), 3);
    expect(setThreadNice(target)).toBe(target);
  });
});
