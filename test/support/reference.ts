/**
 * The plain single-model reference the serving modes must match: greedy `generate` from
 * @baton/model, run in the test's own thread on the wasm backend, one model per source.
 */
import { generate, initBackend, loadModel, type Gpt } from '@baton/model';

const models = new Map<string, Promise<Gpt>>();

/** Loads (once) the model of `source` in this thread. */
export async function referenceModel(source: string): Promise<Gpt> {
  let m = models.get(source);
  if (m === undefined) {
    m = initBackend('wasm').then(() => loadModel(source));
    models.set(source, m);
  }
  return m;
}

/** Greedy ids of the plain single-model generate. */
export async function referenceIds(source: string, promptIds: readonly number[], maxTokens: number): Promise<number[]> {
  return generate(await referenceModel(source), { promptIds, maxTokens }).ids;
}

/** Deterministic mixed-length prompts (printable bytes), seeded. */
export function mixedPrompts(count: number, seed: number, maxLen = 90): number[][] {
  let s = seed >>> 0;
  const next = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  return Array.from({ length: count }, () => {
    const len = 1 + Math.floor(next() * maxLen);
    return Array.from({ length: len }, () => 32 + Math.floor(next() * 95));
  });
}
