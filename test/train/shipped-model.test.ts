/**
 * The shipped trained model (`models/baton-austen`, the default): it loads, it is the byte-level
 * model with an end-of-text id, and greedy decoding of a fixed prompt gives the same ids on the
 * wasm and cpu backends (up to the first step whose top-2 logit margin is within the parity
 * tolerance, where float rounding may legitimately pick the other token), with the logits of each
 * agreed step within that tolerance.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ArrayKvBacking, DEFAULT_MODEL, backendMemory, closeBackend, initBackend, loadModel, type BackendName } from '@baton/model';

const PROMPT = 'It is a truth universally acknowledged, that';
const STEPS = 16;
const TOLERANCE = 1e-3;

interface Greedy { ids: number[]; margins: number[]; rows: Float32Array[] }

async function greedy(backend: BackendName): Promise<Greedy> {
  await initBackend(backend);
  const before = backendMemory().numTensors;
  const model = await loadModel(DEFAULT_MODEL);
  const { nLayer, nEmbd } = model.config;
  const prompt = model.tokenizer.encode(PROMPT);
  const seq = model.attach(new ArrayKvBacking({ nLayer, nEmbd, capacity: prompt.length + STEPS }));
  const out: Greedy = { ids: [], margins: [], rows: [] };
  try {
    let logits = model.prefill(seq, prompt);
    for (let i = 0; i < STEPS; i++) {
      let best = 0;
      for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
      let second = -Infinity;
      for (let j = 0; j < logits.length; j++) if (j !== best && logits[j] > second) second = logits[j];
      out.ids.push(best);
      out.margins.push(logits[best] - second);
      out.rows.push(Float32Array.from(logits));
      if (best === model.config.eosTokenId) break;
      logits = model.decode([{ seq, token: best }]);
    }
  } finally {
    seq.release();
    model.dispose();
  }
  expect(backendMemory().numTensors).toBe(before);
  return out;
}

afterAll(() => closeBackend());

describe(`the shipped model (${DEFAULT_MODEL})`, () => {
  it('loads as the byte-level model with an end-of-text id, and decodes greedily alike on wasm and cpu', async () => {
    const wasm = await greedy('wasm');
    const cpu = await greedy('cpu');
    expect(wasm.ids.length).toBeGreaterThan(0);
    let agreed = 0;
    for (let i = 0; i < Math.min(wasm.ids.length, cpu.ids.length); i++) {
      const worst = Math.max(...wasm.rows[i].map((v, j) => Math.abs(v - cpu.rows[i][j]) / Math.max(1, Math.abs(v))));
      expect(worst).toBeLessThan(TOLERANCE);
      if (wasm.margins[i] < TOLERANCE) break;
      expect(cpu.ids[i]).toBe(wasm.ids[i]);
      agreed++;
    }
    expect(agreed).toBeGreaterThan(6);
    // NOTE: a limit, not a timing assertion: an 11M-parameter model on tfjs cpu on a busy runner.
  }, 300_000);
});
