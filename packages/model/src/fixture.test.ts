import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ArrayKvBacking, generate, initBackend, loadModel, type BackendName, type Gpt } from './index.js';
import { FIXTURE_DIR, HAVE_FIXTURE, relativeDiff } from './testing/fixtures.js';

interface Case { prompt: number[]; first_logits: number[]; last_logits: number[]; greedy: number[]; greedy_margins: number[] }

for (const backend of ['wasm', 'cpu'] as BackendName[]) {
  describe.skipIf(!HAVE_FIXTURE)(`Hugging Face reference outputs on ${backend} (fixtures at ${FIXTURE_DIR})`, () => {
    let model: Gpt;
    let cases: Case[];
    beforeAll(async () => {
      await initBackend(backend);
      model = await loadModel(FIXTURE_DIR);
      cases = (JSON.parse(readFileSync(`${FIXTURE_DIR}expected.json`, 'utf8')) as { cases: Case[] }).cases;
    });

    it('matches first and last prompt logits within 1e-4', () => {
      const V = model.config.vocabSize;
      for (const c of cases) {
        const seq = model.attach(new ArrayKvBacking({ nLayer: model.config.nLayer, nEmbd: model.config.nEmbd }));
        const all = model.prefill(seq, c.prompt, { logits: 'all', chunkSize: 16 });
        seq.release();
        const T = c.prompt.length;
        expect(relativeDiff(c.first_logits, all.subarray(0, V))).toBeLessThan(1e-4);
        expect(relativeDiff(c.last_logits, all.subarray((T - 1) * V, T * V))).toBeLessThan(1e-4);
      }
    });

    it('reproduces greedy continuations up to the first low-margin step', () => {
      for (const c of cases) {
        const { ids } = generate(model, { promptIds: c.prompt, maxTokens: c.greedy.length });
        const low = c.greedy_margins.findIndex((m) => m < 1e-3);
        const upTo = low === -1 ? c.greedy.length : low + 1;
        expect(ids.slice(0, upTo)).toEqual(c.greedy.slice(0, upTo));
      }
    });
  });
}
