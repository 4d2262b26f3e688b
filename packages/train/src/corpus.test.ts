import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { evalBatches, trainBatch } from './batch-sampler.js';
import { END_OF_TEXT_ID, encodeDocuments, readCorpus, splitCorpus, splitDocuments } from './corpus.js';
import { TrainDataError } from './errors.js';
import { learningRate } from './lr-schedule.js';
import { paragraphs } from './prepare-data.js';

const dir = mkdtempSync(join(tmpdir(), 'baton-corpus-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('corpus', () => {
  it('splits at the end-of-text marker and encodes bytes with the end-of-text id after each document', () => {
    expect(splitDocuments('Hi.\n<|endoftext|>\n\nÉté\n<|endoftext|>\n   ')).toEqual(['Hi.', 'Été']);
    expect([...encodeDocuments(['Hi', 'é'])]).toEqual([72, 105, END_OF_TEXT_ID, 0xc3, 0xa9, END_OF_TEXT_ID]);
  });

  it('holds out the last documents (at least one) and reads a directory of .txt files in name order', () => {
    const c = splitCorpus(['aaaa', 'bbbb', 'cccc', 'dd'], 0.2);
    expect([c.documents, c.evalDocuments]).toEqual([4, 1]);
    expect([...c.eval]).toEqual([100, 100, END_OF_TEXT_ID]);
    writeFileSync(join(dir, 'b.txt'), 'second<|endoftext|>third');
    writeFileSync(join(dir, 'a.txt'), 'first');
    writeFileSync(join(dir, 'notes.md'), 'ignored');
    const d = readCorpus(dir, 0.1);
    expect(d.files.map((f) => f.slice(dir.length + 1))).toEqual(['a.txt', 'b.txt']);
    expect(new TextDecoder().decode(Uint8Array.from([...d.train].filter((id) => id < 256)))).toBe('firstsecond');
    expect(() => readCorpus(join(dir, 'missing.txt'), 0.1)).toThrow(TrainDataError);
    expect(() => splitCorpus(['only one'], 0.1)).toThrow(/at least 2 documents/);
  });

  it('draws seeded training windows (targets shifted by one) and fixed eval windows', () => {
    const tokens = Uint16Array.from({ length: 100 }, (_, i) => i);
    const a = trainBatch(tokens, { batch: 3, context: 8, seed: 1, step: 5, positions: 32 });
    expect(trainBatch(tokens, { batch: 3, context: 8, seed: 1, step: 5, positions: 32 })).toEqual(a);
    expect(trainBatch(tokens, { batch: 3, context: 8, seed: 1, step: 6, positions: 32 }).inputs).not.toEqual(a.inputs);
    for (let i = 0; i < a.inputs.length; i++) expect(a.targets[i]).toBe(a.inputs[i] + 1);
    expect([...a.offsets].every((o) => o >= 0 && o <= 24)).toBe(true);
    const e = evalBatches(tokens, { batch: 2, context: 8, count: 2 });
    expect(e.map((b) => [b.inputs[0], b.inputs[8]])).toEqual([[0, 30], [60, 91]]);
    expect(() => trainBatch(tokens.subarray(0, 5), { batch: 1, context: 8, seed: 1, step: 0 })).toThrow(/context \+ 1/);
  });
});

describe('learning-rate schedule', () => {
  it('warms up linearly, then decays along a cosine to the minimum', () => {
    const s = { peak: 1, min: 0.1, warmup: 4, total: 14 };
    expect([0, 1, 3].map((i) => learningRate(s, i))).toEqual([0.25, 0.5, 1]);
    expect(learningRate(s, 4)).toBeCloseTo(1);
    expect(learningRate(s, 9)).toBeCloseTo(0.55);
    expect(learningRate(s, 14)).toBe(0.1);
    expect(learningRate(s, 100)).toBe(0.1);
  });
});

describe('prepare-data', () => {
  it('reflows lines into paragraphs and drops headings, title lines and italics underscores', () => {
    const lines = ['PRIDE AND PREJUDICE', '', 'By Jane Austen', '', 'Chapter 1', '', 'It is a truth universally', 'acknowledged, that a _single_ man', '', '"Yes."', ''];
    expect(paragraphs(lines)).toEqual(['It is a truth universally acknowledged, that a single man', '"Yes."']);
  });
});
