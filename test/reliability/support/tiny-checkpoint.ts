/**
 * A tiny GPT-2 checkpoint on disk (64 positions, 1 layer, 32 wide, byte vocabulary) for the
 * bad-input tests, and ways to damage one: rewrite its safetensors header, cut its data, poke a
 * float, or change its config.json. Every directory made here lives under the OS temp dir and is
 * removed by `removeAll()`.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomWeights, saveCheckpoint, type GptConfig } from '@baton/model';

/** The tiny model's hyper-parameters. */
export const TINY_CONFIG: GptConfig = {
  vocabSize: 256, nPositions: 64, nEmbd: 32, nLayer: 1, nHead: 2, nInner: 64, activation: 'gelu_new',
  layerNormEpsilon: 1e-5, initializerRange: 0.02, bosTokenId: null, eosTokenId: null,
};

const made: string[] = [];

/** Writes a valid tiny checkpoint into a new temp directory and returns the directory. */
export function writeTinyCheckpoint(config: GptConfig = TINY_CONFIG, seed = 7): string {
  const dir = mkdtempSync(join(tmpdir(), 'baton-tiny-ckpt-'));
  made.push(dir);
  saveCheckpoint(dir, { config, weights: randomWeights(config, seed) });
  return dir;
}

/** Removes every directory this module made. */
export function removeAll(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** The parts of a safetensors file. */
export interface SafetensorsParts {
  header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  data: Uint8Array;
}

/** Splits `model.safetensors` of `dir` into its JSON header and data section. */
export function readParts(dir: string): SafetensorsParts {
  const bytes = new Uint8Array(readFileSync(join(dir, 'model.safetensors')));
  const len = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + len))) as SafetensorsParts['header'], data: bytes.slice(8 + len) };
}

/** Writes `model.safetensors` of `dir` from a header (any JSON text) and a data section. */
export function writeParts(dir: string, headerText: string, data: Uint8Array): void {
  const header = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + header.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  out.set(data, 8 + header.length);
  writeFileSync(join(dir, 'model.safetensors'), out);
}

/** Replaces the raw bytes of `model.safetensors` of `dir`. */
export function writeRaw(dir: string, bytes: Uint8Array): void {
  writeFileSync(join(dir, 'model.safetensors'), bytes);
}

/** The raw bytes of `model.safetensors` of `dir`. */
export function readRaw(dir: string): Uint8Array {
  return new Uint8Array(readFileSync(join(dir, 'model.safetensors')));
}

/** Sets float `index` (F32) of tensor `name` to `value`. */
export function pokeFloat(dir: string, name: string, index: number, value: number): void {
  const { header, data } = readParts(dir);
  const entry = header[name] as { data_offsets: [number, number] };
  new DataView(data.buffer, data.byteOffset).setFloat32(entry.data_offsets[0] + 4 * index, value, true);
  writeParts(dir, JSON.stringify(header), data);
}

/** Rewrites config.json of `dir` with `patch` applied (undefined removes a key), or raw text. */
export function patchConfig(dir: string, patch: Record<string, unknown> | string): void {
  const path = join(dir, 'config.json');
  if (typeof patch === 'string') {
    writeFileSync(path, patch);
    return;
  }
  const config = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) delete config[k];
    else config[k] = v;
  }
  writeFileSync(path, JSON.stringify(config));
}
