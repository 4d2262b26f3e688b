import { describe, expect, it } from 'vitest';
import { DEFAULT_ENGINE_OPTIONS, actorBackend, resolveOptions } from './engine-options.js';
import { InvalidOptionsError } from './errors.js';

function optionOf(input: unknown): string {
  try {
    resolveOptions(input);
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidOptionsError);
    return (e as InvalidOptionsError).option;
  }
  throw new Error('expected resolveOptions to fail');
}

describe('resolveOptions', () => {
  it('returns the defaults for an empty or missing input', () => {
    expect(resolveOptions()).toEqual(DEFAULT_ENGINE_OPTIONS);
    expect(resolveOptions({})).toEqual(DEFAULT_ENGINE_OPTIONS);
  });

  it('merges nested partial options over the defaults', () => {
    const o = resolveOptions({
      mode: 'chunked',
      prefill: 2,
      decode: 3,
      kv: { numBlocks: 64 },
      slo: { ttftMs: 500, tpotMs: 50 },
      queue: { maxRequests: 8 },
    });
    expect(o.mode).toBe('chunked');
    expect(o.kv).toEqual({ blockSize: 16, numBlocks: 64 });
    expect(o.queue).toEqual({ maxRequests: 8, maxPromptTokens: 65_536, maxWaitMs: 10_000 });
    expect(o.slo).toEqual({ ttftMs: 500, tpotMs: 50 });
    expect([o.prefill, o.decode]).toEqual([2, 3]);
  });

  it('does not alias the defaults', () => {
    const o = resolveOptions({});
    o.kv.blockSize = 99;
    expect(DEFAULT_ENGINE_OPTIONS.kv.blockSize).toBe(16);
  });

  it('names the offending option', () => {
    const cases: Array<[unknown, string]> = [
      [null, 'options'],
      [{ mode: 'turbo' }, 'mode'],
      [{ prefill: 0 }, 'prefill'],
      [{ decode: 1.5 }, 'decode'],
      [{ colocated: -1 }, 'colocated'],
      [{ model: '' }, 'model'],
      [{ backend: 'cuda' }, 'backend'],
      [{ kv: 4 }, 'kv'],
      [{ kv: { blockSize: 0 } }, 'kv.blockSize'],
      [{ kv: { numBlocks: Number.NaN } }, 'kv.numBlocks'],
      [{ kv: { pages: 1 } }, 'kv.pages'],
      [{ prefillChunkSize: 1024, tokenBudget: 512 }, 'prefillChunkSize'],
      [{ tokenBudget: '512' }, 'tokenBudget'],
      [{ maxBatch: 0 }, 'maxBatch'],
      [{ slo: { ttftMs: 100 } }, 'slo.tpotMs'],
      [{ slo: { ttftMs: -1, tpotMs: 5 } }, 'slo.ttftMs'],
      [{ slo: { ttftMs: 1, tpotMs: 5, p99: true } }, 'slo.p99'],
      [{ queue: { maxRequests: 0 } }, 'queue.maxRequests'],
      [{ handoffTimeoutMs: Infinity }, 'handoffTimeoutMs'],
      [{ prefillNice: 20 }, 'prefillNice'],
      [{ prefillNice: -1 }, 'prefillNice'],
      [{ prefil: 2 }, 'prefil'],
    ];
    for (const [input, option] of cases) expect(optionOf(input), JSON.stringify(input)).toBe(option);
  });

  it('accepts slo: null explicitly', () => {
    expect(resolveOptions({ slo: null }).slo).toBeNull();
  });

  it('prefillNice: null (leave prefill threads alone) by default, or a value in [0, 19]', () => {
    expect(resolveOptions({}).prefillNice).toBeNull();
    expect(resolveOptions({ prefillNice: 10 }).prefillNice).toBe(10);
    expect(resolveOptions({ prefillNice: 0 }).prefillNice).toBe(0);
    expect(resolveOptions({ prefillNice: null }).prefillNice).toBeNull();
  });
});

describe('prefillBackend / decodeBackend', () => {
  it('default to null (every actor on `backend`) and accept a backend name per role', () => {
    const d = resolveOptions({ backend: 'cpu' });
    expect([d.prefillBackend, d.decodeBackend]).toEqual([null, null]);
    expect([actorBackend(d, 'prefill', 0), actorBackend(d, 'decode', 3), actorBackend(d, 'colocated', 1)]).toEqual(['cpu', 'cpu', 'cpu']);
    const o = resolveOptions({ prefillBackend: 'webgpu', decodeBackend: 'wasm', prefill: 2, decode: 6 });
    expect([actorBackend(o, 'prefill', 1), actorBackend(o, 'decode', 5)]).toEqual(['webgpu', 'wasm']);
  });

  it('in colocated and chunked modes the first `prefill` actors take prefillBackend, the rest decodeBackend', () => {
    for (const mode of ['colocated', 'chunked'] as const) {
      const o = resolveOptions({ mode, colocated: 4, prefill: 1, prefillBackend: 'webgpu', decodeBackend: 'wasm' });
      expect([0, 1, 2, 3].map((i) => actorBackend(o, 'colocated', i))).toEqual(['webgpu', 'wasm', 'wasm', 'wasm']);
    }
    const single = resolveOptions({ mode: 'single', backend: 'cpu', prefillBackend: 'webgpu' });
    expect(actorBackend(single, 'colocated', 0)).toBe('cpu');
  });

  it('rejects unknown backends and a split that leaves no actor for one role', () => {
    expect(() => resolveOptions({ prefillBackend: 'tpu' })).toThrow(/prefillBackend/);
    expect(() => resolveOptions({ decodeBackend: 3 })).toThrow(/decodeBackend/);
    expect(() => resolveOptions({ mode: 'colocated', colocated: 2, prefill: 2, prefillBackend: 'webgpu', decodeBackend: 'wasm' })).toThrow(InvalidOptionsError);
    expect(() => resolveOptions({ mode: 'colocated', colocated: 2, prefill: 2, prefillBackend: 'wasm', decodeBackend: 'wasm' })).not.toThrow();
  });

  it('resolves context caching and routing options and names bad ones', () => {
    const d = resolveOptions({});
    expect(d.cache).toEqual({ enabled: true, hostBlocks: 0, diskDir: null, diskMaxBytes: 1 << 30, returnFromDecode: true });
    expect(d.routing).toBe('prompt-tree');
    const o = resolveOptions({ cache: { hostBlocks: 512, diskDir: '/tmp/kv' }, routing: 'session' });
    expect(o.cache).toEqual({ enabled: true, hostBlocks: 512, diskDir: '/tmp/kv', diskMaxBytes: 1 << 30, returnFromDecode: true });
    expect(o.routing).toBe('session');
    expect(() => resolveOptions({ routing: 'random' })).toThrow(/routing/);
    expect(() => resolveOptions({ cache: { hostBlocks: -1 } })).toThrow(/cache\.hostBlocks/);
    expect(() => resolveOptions({ cache: { enabled: 'yes' } })).toThrow(/cache\.enabled/);
    expect(() => resolveOptions({ cache: { diskDir: '' } })).toThrow(/cache\.diskDir/);
    expect(() => resolveOptions({ cache: { returnFromDecode: 1 } })).toThrow(/cache\.returnFromDecode/);
    expect(() => resolveOptions({ cache: { size: 1 } })).toThrow(/cache\.size/);
  });
});
