/**
 * Printable chain keys of full blocks: the key of block i of a token list depends on every token
 * before it (prefix-hash.ts), so equal keys on two instances mean equal prefixes. The memory
 * pool's tiers and events name blocks by these keys, and a global prompt tree can be keyed by
 * them (prefixKeys of a prompt = the path to look up).
 */
import { KvArgumentError } from './errors.js';
import { ROOT_KEY, chainKey, firstBadToken, type ChainKey } from './prefix-hash.js';

/** One full block of a token list: its chain key (and hex form), its parent's, where it starts. */
export interface ChainBlock {
  readonly key: ChainKey;
  readonly parent: ChainKey;
  readonly hex: string;
  readonly start: number;
}

/** 16 hex digits of a chain key. */
export function keyHex(key: ChainKey): string {
  return key.hi.toString(16).padStart(8, '0') + key.lo.toString(16).padStart(8, '0');
}

/** The chain of every full block of `tokens`. Throws KvArgumentError on a bad token list. */
export function chainBlocks(tokens: ArrayLike<number>, blockSize: number): ChainBlock[] {
  if (tokens === null || typeof tokens !== 'object' || typeof tokens.length !== 'number') {
    throw new KvArgumentError('tokens must be an array of token ids');
  }
  const bad = firstBadToken(tokens);
  if (bad !== null) throw new KvArgumentError(`tokens[${bad}] = ${String(tokens[bad])} is not an int32 token id`);
  const out: ChainBlock[] = [];
  let parent = ROOT_KEY;
  for (let start = 0; start + blockSize <= tokens.length; start += blockSize) {
    const key = chainKey(parent, tokens, start, blockSize);
    out.push({ key, parent, hex: keyHex(key), start });
    parent = key;
  }
  return out;
}

/** Hex keys of the full blocks of `tokens` (blocks of `blockSize` tokens), in order. */
export function prefixKeys(tokens: ArrayLike<number>, blockSize: number): string[] {
  if (!Number.isInteger(blockSize) || blockSize < 1) throw new KvArgumentError(`prefixKeys: blockSize must be a positive integer, got ${String(blockSize)}`);
  return chainBlocks(tokens, blockSize).map((b) => b.hex);
}
