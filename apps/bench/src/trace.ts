/**
 * Traces in Mooncake's published JSONL format: one object per line with `timestamp` (ms),
 * `input_length`, `output_length` and optional `hash_ids` (block-level prefix hashes: two requests
 * with equal ids at the same positions share those prompt blocks).
 *
 * Invariants: parsing reports the first bad line by number and field; replay turns equal hash ids
 * into equal token blocks, so shared prefixes really hit the prefix cache; writing derives hash
 * ids from the prompts' full blocks (a chained hash), so a generated workload written and read back
 * keeps its lengths, its (millisecond-rounded) timing and its prefix-sharing structure.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createRng } from '@baton/model';
import { TraceLineError } from './bench-errors.js';
import type { BenchRequest, Workload } from './workload.js';

/** One trace line. */
export interface TraceEntry {
  timestamp: number;
  input_length: number;
  output_length: number;
  hash_ids?: number[];
}

/** How trace entries become requests. */
export interface TraceReplayOptions {
  /** Prompt tokens per hash id in the replay (Baton's KV block size, so one hash id is one cached block). Default 16. */
  blockTokens?: number;
  /**
   * Tokens per hash id in the trace itself (Mooncake's traces: 512). When given, lengths are
   * scaled by blockTokens / traceBlockTokens (e.g. 16 / 512), so a prompt keeps its length in
   * blocks and its prefix sharing; `lengthScale` is then ignored.
   */
  traceBlockTokens?: number;
  /** Multiplies input and output lengths (e.g. 1/16 to fit real Mooncake traces in 1024 tokens). Default 1. */
  lengthScale?: number;
  /** Longest prompt + output; longer requests keep their prompt's start. Default 1024. */
  maxContext?: number;
  /** Seeds the token content of blocks and unshared tails. Default 0. */
  seed?: number;
  name?: string;
}

/** Parses JSONL trace text. @throws {TraceLineError} naming the line and field. */
export function parseTrace(text: string): TraceEntry[] {
  const out: TraceEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line.length > 0) out.push(parseLine(line, i + 1));
  });
  return out;
}

function parseLine(line: string, n: number): TraceEntry {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    throw new TraceLineError(n, null, `not valid JSON (${(e as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TraceLineError(n, null, 'must be a JSON object');
  const o = v as Record<string, unknown>;
  const num = (field: string, ok: (x: number) => boolean, what: string): number => {
    const x = o[field];
    if (typeof x !== 'number' || !ok(x)) throw new TraceLineError(n, field, `must be ${what}, got ${JSON.stringify(x) ?? 'nothing'}`);
    return x;
  };
  const entry: TraceEntry = {
    timestamp: num('timestamp', (x) => Number.isFinite(x) && x >= 0, 'a non-negative number of ms'),
    input_length: num('input_length', (x) => Number.isSafeInteger(x) && x >= 1, 'a positive integer'),
    output_length: num('output_length', (x) => Number.isSafeInteger(x) && x >= 1, 'a positive integer'),
  };
  if (o.hash_ids !== undefined) {
    const ids = o.hash_ids;
    if (!Array.isArray(ids) || !ids.every((x) => Number.isSafeInteger(x) && (x as number) >= 0)) {
      throw new TraceLineError(n, 'hash_ids', 'must be an array of non-negative integers');
    }
    entry.hash_ids = ids as number[];
  }
  return entry;
}

/** Formats entries as JSONL (one object per line, trailing newline). */
export function formatTrace(entries: readonly TraceEntry[]): string {
  return entries.map((e) => JSON.stringify(e)).join('\n') + '\n';
}

/** Reads a JSONL trace file. @throws {TraceLineError} */
export async function readTrace(file: string): Promise<TraceEntry[]> {
  return parseTrace(await readFile(file, 'utf8'));
}

/** Writes entries as a JSONL trace file. */
export async function writeTrace(file: string, entries: readonly TraceEntry[]): Promise<void> {
  await writeFile(file, formatTrace(entries));
}

/** Turns trace entries into a workload whose equal hash ids are equal token blocks. */
export function traceToWorkload(entries: readonly TraceEntry[], opts: TraceReplayOptions = {}): Workload {
  const blockTokens = opts.blockTokens ?? 16;
  const scale = opts.traceBlockTokens === undefined ? opts.lengthScale ?? 1 : blockTokens / opts.traceBlockTokens;
  const maxContext = opts.maxContext ?? 1024;
  const seed = opts.seed ?? 0;
  const blocks = new Map<number, number[]>();
  const block = (id: number): number[] => {
    let b = blocks.get(id);
    if (b === undefined) blocks.set(id, (b = tokens(blockTokens, seed * 7919 + id * 2 + 1)));
    return b;
  };
  const t0 = entries.length === 0 ? 0 : Math.min(...entries.map((e) => e.timestamp));
  const requests: BenchRequest[] = entries.map((e, index) => {
    const maxTokens = Math.min(maxContext - 1, Math.max(1, Math.round(e.output_length * scale)));
    const inputLength = Math.min(maxContext - maxTokens, Math.max(1, Math.round(e.input_length * scale)));
    const shared = (e.hash_ids ?? []).flatMap(block);
    const tail = tokens(Math.max(0, inputLength - shared.length), seed * 7919 - index * 2 - 2);
    return { index, arrivalMs: e.timestamp - t0, promptIds: [...shared, ...tail].slice(0, inputLength), maxTokens };
  });
  const span = requests.length < 2 ? 0 : Math.max(...requests.map((r) => r.arrivalMs));
  return { name: opts.name ?? 'trace', nominalRate: span > 0 ? ((requests.length - 1) * 1000) / span : 1, requests };
}

/** Describes a workload as trace entries; hash ids name chained full blocks of `blockTokens`. */
export function workloadToTrace(workload: Workload, opts: { blockTokens?: number } = {}): TraceEntry[] {
  const blockTokens = opts.blockTokens ?? 16;
  const ids = new Map<string, number>();
  return workload.requests.map((r) => {
    const hashIds: number[] = [];
    for (let end = blockTokens; end <= r.promptIds.length; end += blockTokens) {
      const key = `${hashIds.length === 0 ? '' : hashIds[hashIds.length - 1]}|${r.promptIds.slice(end - blockTokens, end).join(',')}`;
      let id = ids.get(key);
      if (id === undefined) ids.set(key, (id = ids.size));
      hashIds.push(id);
    }
    return { timestamp: Math.round(r.arrivalMs), input_length: r.promptIds.length, output_length: r.maxTokens, hash_ids: hashIds };
  });
}

function tokens(n: number, seed: number): number[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => Math.floor(rng.next() * 256));
}
