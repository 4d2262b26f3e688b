import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigError, ModelNotFoundError, SafetensorsError, WeightsError, describeModel, initBackend, loadModel, parseHfConfig,
  parseSafetensors, saveCheckpoint, serializeSafetensors, BUILTIN_MODELS, DEFAULT_MODEL, type Gpt,
} from './index.js';
import { maxAbsDiff, smallConfig } from './testing/fixtures.js';

let dir: string;
let model: Gpt;

function logits(m: Gpt): Float32Array {
  const seq = m.attach({ capacity: 8, write: () => {}, read: () => {} });
  const out = m.prefill(seq, [1, 2, 3], { logits: 'all' });
  seq.release();
  return out;
}

beforeAll(async () => {
  await initBackend('cpu');
  dir = mkdtempSync(join(tmpdir(), 'baton-model-'));
  model = await loadModel({ config: smallConfig({ nInner: 40 }), seed: 11 });
});
afterAll(() => {
  model.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** Writes a checkpoint built from the model's tensors after `edit`. */
function writeEdited(name: string, edit: (t: Map<string, { shape: number[]; data: Float32Array }>) => void): string {
  const d = join(dir, name);
  saveCheckpoint(d, model);
  const tensors = parseSafetensors(new Uint8Array(readFileSync(join(d, 'model.safetensors'))), 'x');
  edit(tensors);
  writeFileSync(join(d, 'model.safetensors'), serializeSafetensors(tensors));
  return d;
}

describe('checkpoints', () => {
  it('round-trips F32 with and without the transformer. prefix', async () => {
    for (const prefix of [true, false]) {
      const d = join(dir, `f32-${prefix}`);
      saveCheckpoint(d, model, { prefix });
      const names = [...parseSafetensors(new Uint8Array(readFileSync(join(d, 'model.safetensors'))), 'x').keys()];
      expect(names.some((n) => n.startsWith('transformer.'))).toBe(prefix);
      const loaded = await loadModel(d);
      expect(maxAbsDiff(logits(loaded), logits(model))).toBe(0);
      expect(loaded.config).toEqual(model.config);
      loaded.dispose();
    }
  });

  it('loads F16 and BF16 files (computed in float32)', async () => {
    for (const [dtype, tol] of [['F16', 2e-2], ['BF16', 1e-1]] as const) {
      const d = join(dir, dtype);
      saveCheckpoint(d, model, { dtype });
      const loaded = await loadModel(d);
      const diff = maxAbsDiff(logits(loaded), logits(model));
      expect(diff).toBeGreaterThan(0);
      expect(diff).toBeLessThan(tol);
      loaded.dispose();
    }
  });

  it('names a missing, extra or mis-shaped tensor', async () => {
    const missing = writeEdited('missing', (t) => t.delete('transformer.h.1.mlp.c_fc.bias'));
    await expect(loadModel(missing)).rejects.toThrow(WeightsError);
    await expect(loadModel(missing)).rejects.toThrow(/h\.1\.mlp\.c_fc\.bias.*missing/);
    const extra = writeEdited('extra', (t) => t.set('transformer.h.9.attn.c_attn.weight', { shape: [1], data: new Float32Array(1) }));
    await expect(loadModel(extra)).rejects.toThrow(/"transformer\.h\.9\.attn\.c_attn\.weight": unexpected/);
    const shaped = writeEdited('shaped', (t) => t.set('transformer.wpe.weight', { shape: [2, 32], data: new Float32Array(64) }));
    await expect(loadModel(shaped)).rejects.toThrow(/"transformer\.wpe\.weight": shape \[2,32\] does not match the expected \[160,32\]/);
  });

  it('ignores attention mask buffers and accepts an untied lm_head', async () => {
    const d = writeEdited('buffers', (t) => {
      t.set('transformer.h.0.attn.bias', { shape: [1, 1, 4, 4], data: new Float32Array(16) });
      t.set('lm_head.weight', t.get('transformer.wte.weight') as { shape: number[]; data: Float32Array });
    });
    const loaded = await loadModel(d);
    expect(maxAbsDiff(logits(loaded), logits(model))).toBe(0);
    loaded.dispose();
  });

  it('rejects a corrupt header and a truncated file, naming the file', async () => {
    const d = join(dir, 'corrupt');
    saveCheckpoint(d, model);
    const path = join(d, 'model.safetensors');
    const bytes = readFileSync(path);
    writeFileSync(path, Buffer.concat([bytes.subarray(0, 8), Buffer.from('{not json'), bytes.subarray(17)]));
    await expect(loadModel(d)).rejects.toThrow(/model\.safetensors: corrupt header/);
    writeFileSync(path, bytes.subarray(0, bytes.length - 100));
    await expect(loadModel(d)).rejects.toThrow(SafetensorsError);
    await expect(loadModel(d)).rejects.toThrow(/truncated: tensor "transformer\.ln_f\.bias"/);
    writeFileSync(path, bytes.subarray(0, 4));
    await expect(loadModel(d)).rejects.toThrow(/truncated/);
  });

  it('reports a missing directory or file and bad config fields', async () => {
    await expect(loadModel(join(dir, 'nope'))).rejects.toThrow(ModelNotFoundError);
    const d = join(dir, 'noweights');
    saveCheckpoint(d, model);
    rmSync(join(d, 'model.safetensors'));
    await expect(loadModel(d)).rejects.toThrow(/has no model\.safetensors/);
    expect(() => parseHfConfig({ n_embd: 30, n_head: 4, n_layer: 1, vocab_size: 5, n_positions: 8 })).toThrow(/n_head/);
    expect(() => parseHfConfig({ n_embd: 32, n_head: 4, n_layer: 0, vocab_size: 5, n_positions: 8 })).toThrow(ConfigError);
    expect(() => parseHfConfig({ n_embd: 32, n_head: 4, n_layer: 1, vocab_size: 5, n_positions: 8, activation_function: 'mish' })).toThrow(/activation_function/);
  });

  it('ships the built-in bench model', async () => {
    expect(BUILTIN_MODELS).toContain('baton-tiny');
    const m = await loadModel('baton-tiny');
    expect(m.config).toMatchObject({ nLayer: 4, nEmbd: 256, nHead: 8, vocabSize: 256, nPositions: 1024, activation: 'gelu_new' });
    m.dispose();
  });

  it('a checkpoint with more than 256 ids and no tokenizer files decodes every id (past the bytes as an escape)', async () => {
    const d = join(dir, 'vocab-300');
    const config = smallConfig({ vocabSize: 300 });
    const made = await loadModel({ config, seed: 2 });
    saveCheckpoint(d, made);
    made.dispose();
    const m = await loadModel(d);
    expect(m.tokenizer.vocabSize).toBe(300);
    expect(m.tokenizer.decode([72, 105, 270])).toBe('Hi<|270|>');
    m.dispose();
  });

  it('defaults to the trained byte-level model, whose end-of-text id the tokenizer knows', () => {
    expect(BUILTIN_MODELS).toContain(DEFAULT_MODEL);
    const { config, tokenizer } = describeModel();
    expect(config).toMatchObject({ vocabSize: 257, eosTokenId: 256, nPositions: 1024 });
    expect(tokenizer.vocabSize).toBe(257);
    expect(tokenizer.decode([...tokenizer.encode('Emma'), 256])).toBe('Emma');
  });

  it('reads the Hugging Face layout: a full transformers config.json next to files it does not use', async () => {
    const d = join(dir, 'hf-layout');
    saveCheckpoint(d, model);
    // NOTE: the fields transformers writes besides the architecture; the loader must ignore them.
    const hf = {
      ...(JSON.parse(readFileSync(join(d, 'config.json'), 'utf8')) as Record<string, unknown>),
      architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', attn_pdrop: 0, embd_pdrop: 0, resid_pdrop: 0,
      summary_type: 'cls_index', summary_use_proj: true, tie_word_embeddings: true, transformers_version: '5.17.0', use_cache: true,
    };
    writeFileSync(join(d, 'config.json'), JSON.stringify(hf, null, 2));
    writeFileSync(join(d, 'README.md'), '# a model card\n');
    writeFileSync(join(d, 'expected.json'), '{"not": "a checkpoint file"}');
    const loaded = await loadModel(d);
    try {
      expect(loaded.config).toEqual(model.config);
      expect(maxAbsDiff(logits(loaded), logits(model))).toBe(0);
    } finally {
      loaded.dispose();
    }
  });
});
