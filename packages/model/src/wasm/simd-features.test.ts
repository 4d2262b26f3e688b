import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// NOTE: each case runs in a fresh Node process started without any V8 flag, the way `baton`,
// the server and the engine's child processes start, so the detection (which may turn the
// relaxed-SIMD flag on) is seen from the start. It imports the built package: build it first.
const dist = new URL('../../dist/index.js', import.meta.url).href;

const dir = mkdtempSync(join(tmpdir(), 'baton-simd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let scripts = 0;

/**
 * Runs `script` (an ES module) in a fresh `node` and returns its stdout, trimmed. NOTE: from a
 * file, not `node -e`: worker threads inherit `-e` in execArgv and would run the eval text again.
 */
function runFresh(script: string, env: Record<string, string> = {}): string {
  const file = join(dir, `probe-${scripts++}.mjs`);
  writeFileSync(file, script);
  const clean = { ...process.env };
  delete clean['BATON_WASM_FMA'];
  delete clean['NODE_OPTIONS'];
  return execFileSync(process.execPath, [file], { env: { ...clean, ...env }, encoding: 'utf8', timeout: 120_000 }).trim();
}

const LOAD = `
import { initBackend, loadModel, ArrayKvBacking } from '${dist}';
await initBackend('wasm');
const m = await loadModel({ config: { vocabSize: 256, nPositions: 96, nEmbd: 64, nLayer: 2, nHead: 4, nInner: 256, activation: 'gelu_new',
  layerNormEpsilon: 1e-5, initializerRange: 0.02, bosTokenId: null, eosTokenId: null }, seed: 3 });
const seq = m.attach(new ArrayKvBacking({ nLayer: 2, nEmbd: 64 }));
const logits = m.prefill(seq, Array.from({ length: 70 }, (_, i) => (i * 7) % 256));
const finite = logits.every(Number.isFinite);
seq.release();
m.dispose();
`;

describe('relaxed-SIMD detection in processes started without flags', () => {
  it('a fresh process gets the FMA kernels, also with prefill GEMMs on worker threads', () => {
    const out = runFresh(`${LOAD}\nconsole.log(JSON.stringify({ path: m.forwardPath, finite }));`, { BATON_CPU_THREADS: '2' });
    expect(JSON.parse(out.split('\n').at(-1) ?? '')).toEqual({ path: 'wasm-fma', finite: true });
  });

  it('a worker thread started by that process compiles relaxed SIMD too', () => {
    const worker = `
import { workerData, parentPort } from 'node:worker_threads';
const { loadModel, initBackend, ArrayKvBacking } = await import(workerData);
${LOAD.replace(/^import .*$/m, '')}
parentPort.postMessage({ path: m.forwardPath, finite });`;
    const out = runFresh(`
import { Worker } from 'node:worker_threads';
const w = new Worker(${JSON.stringify(worker)}, { eval: true, workerData: '${dist}' });
w.once('message', (msg) => { console.log(JSON.stringify(msg)); void w.terminate(); });`);
    expect(JSON.parse(out.split('\n').at(-1) ?? '')).toEqual({ path: 'wasm-fma', finite: true });
  });

  it('BATON_WASM_FMA=0 keeps the plain-SIMD kernels and leaves V8 flags alone', () => {
    const out = runFresh(`
import { relaxedSimdSupported } from '${new URL('../../dist/wasm/simd-features.js', import.meta.url).href}';
import { assembleModule, FunctionBuilder } from '${new URL('../../dist/wasm/wasm-assembler.js', import.meta.url).href}';
${LOAD}
// Validated directly, not through the detection.
const f = new FunctionBuilder([]);
f.i32(0).f32x4Const(1).f32x4Const(2).f32x4Const(3).v('f32x4.relaxed_madd').v128Store();
const compiles = WebAssembly.validate(assembleModule([{ name: 'probe', fn: f }]));
console.log(JSON.stringify({ path: m.forwardPath, detected: relaxedSimdSupported(), compiles }));`, { BATON_WASM_FMA: '0' });
    const got = JSON.parse(out.split('\n').at(-1) ?? '') as { path: string; detected: boolean; compiles: boolean };
    expect(got.path).toBe('wasm-simd');
    expect(got.detected).toBe(false);
    // Node 22+ compiles relaxed SIMD by default; on Node 20 the flag stayed off.
    expect(got.compiles).toBe(Number(process.versions.node.split('.')[0]) >= 22);
  });
});
