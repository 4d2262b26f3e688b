/**
 * Admission and bad input at the engine's boundary: SLO-aware early rejection and queue bounds
 * raise OverloadedError at once while accepted requests still complete; invalid requests and
 * options raise typed errors naming the field; the engine keeps serving afterwards.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, InvalidOptionsError, InvalidRequestError, OverloadedError, type Engine } from '@baton/engine';

let engine: Engine | null = null;
afterEach(async () => {
  await engine?.close({ deadlineMs: 0 });
  engine = null;
});

describe('overload', () => {
  it('rejects beyond the queue bound with OverloadedError and serves the accepted ones', async () => {
    engine = await createEngine({ mode: 'disaggregated', model: 'baton-tiny', backend: 'wasm', queue: { maxRequests: 4, maxPromptTokens: 100_000 } });
    const gens = Array.from({ length: 40 }, (_, i) => engine!.generate({ prompt: `burst ${i} `.repeat(20), maxTokens: 4 }));
    const settled = await Promise.allSettled(gens.map((g) => g.result));
    const rejected = settled.filter((s) => s.status === 'rejected');
    const fulfilled = settled.filter((s) => s.status === 'fulfilled');
    expect(rejected.length).toBeGreaterThan(0);
    expect(fulfilled.length).toBeGreaterThan(0);
    for (const r of rejected) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(OverloadedError);
    for (const f of fulfilled) if (f.status === 'fulfilled') expect(f.value.finishReason).toBe('length');
    const after = await engine.generate({ prompt: 'still alive', maxTokens: 3 }).result;
    expect(after.ids).toHaveLength(3);
  });

  it('rejects early when the estimated TTFT would break the SLO', async () => {
    engine = await createEngine({ mode: 'disaggregated', model: 'baton-tiny', backend: 'wasm', slo: { ttftMs: 1, tpotMs: 1_000 } });
    const gens = Array.from({ length: 30 }, (_, i) => engine!.generate({ prompt: `${i} `.repeat(200), maxTokens: 2 }));
    const settled = await Promise.allSettled(gens.map((g) => g.result));
    const reasons = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason] : []));
    expect(reasons.length).toBeGreaterThan(0);
    expect(reasons.every((r) => r instanceof OverloadedError && r.estimate === 'ttft')).toBe(true);
  });
});

describe('bad input', () => {
  it('names the bad field of a request and keeps serving', async () => {
    engine = await createEngine({ mode: 'colocated', colocated: 1, model: 'baton-tiny', backend: 'wasm' });
    const e = engine;
    const bad: Array<[unknown, string]> = [
      [{ prompt: 42, maxTokens: 2 }, 'prompt'],
      [{ prompt: 'x', maxTokens: -1 }, 'maxTokens'],
      [{ prompt: 'x', maxTokens: 1e9 }, 'maxTokens'],
      [{ prompt: [1, 2, 999], maxTokens: 2 }, 'prompt[2]'],
      [{ prompt: 'x', maxTokens: 2, temperature: Number.NaN }, 'temperature'],
      [{ prompt: 'x', maxTokens: 2, topP: 0 }, 'topP'],
      [{ prompt: 'x', maxTokens: 2, colour: 'red' }, 'colour'],
      [{ prompt: 'y'.repeat(2000), maxTokens: 2 }, 'prompt'],
    ];
    for (const [req, field] of bad) {
      let caught: unknown = null;
      try {
        e.generate(req as Parameters<Engine['generate']>[0]);
      } catch (err) {
        caught = err;
      }
      expect(caught, JSON.stringify(req).slice(0, 60)).toBeInstanceOf(InvalidRequestError);
      expect((caught as InvalidRequestError).field).toBe(field);
    }
    expect((await e.generate({ prompt: 'fine', maxTokens: 2 }).result).ids).toHaveLength(2);
  });

  it('rejects bad options with InvalidOptionsError naming the option, before starting any thread', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ mode: 'sideways' }, 'mode'],
      [{ prefill: 0 }, 'prefill'],
      [{ decode: 1.5 }, 'decode'],
      [{ kv: { blockSize: -4 } }, 'kv.blockSize'],
    ];
    for (const [opts, option] of cases) {
      const err = await createEngine(opts).catch((x: unknown) => x);
      expect(err).toBeInstanceOf(InvalidOptionsError);
      expect((err as InvalidOptionsError).option).toBe(option);
    }
  });

  it('reports a missing model directory with a typed error', async () => {
    await expect(createEngine({ model: '/no/such/checkpoint' })).rejects.toThrow(/no\/such\/checkpoint/);
  });
});
