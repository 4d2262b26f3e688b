/**
 * The hand-built pipeline's choices (FastVariant: matmul rule, prefill attention kernel, K/V
 * hand-back point, LayerNorm fusion, command buffers per decode call): the production defaults, the environment switches of the
 * check script's A/B runs, and the rule of where LayerNorm is fused. The profile compares variants.
 */
import { BLOCK } from './blocked-matmul.js';
import { chooseMatmul, type MatmulChoice } from './matmul-kernels.js';

/** Kernel choices (the defaults are the production choice). */
export interface FastVariant {
  /** Matmul kernel and tiling per shape. */
  matmul: (M: number, K: number, N: number) => MatmulChoice;
  /** Prefill attention: the block kernel where it fits, or always the row kernel. */
  prefillAttention: 'block' | 'row';
  /**
   * Where a streamed prefill hands a layer's K/V back: its command buffer ends right after the
   * layer's qkv matmul ('qkv': the copy and the host's read overlap the rest of the layer) or
   * after the whole layer ('layer').
   */
  handBack: HandBack;
  /** Layers per command buffer of a streamed prefill (their K/V copied together at its end). */
  handBackEvery: number;
  /**
   * LayerNorm fused into the A loads of the matmul that follows it where that pays ('paying', see
   * fusesNorm), into every blocked or small one ('always'), or always its own dispatch ('never').
   */
  fuseNorm: 'paying' | 'always' | 'never';
  /**
   * Layers per command buffer of a decode call (0: the whole call in one): earlier layers are
   * submitted while later ones are encoded, so the GPU does not wait for the whole call's encoding.
   */
  decodeSubmitEvery: number;
}

/** See FastVariant.handBack. */
export type HandBack = 'qkv' | 'layer';

/** BATON_GPU_HANDBACK=layer|qkv overrides the default hand-back point (A/B runs of the check script). */
const HAND_BACK: HandBack = process.env['BATON_GPU_HANDBACK'] === 'layer' ? 'layer' : 'qkv';
/** BATON_GPU_FUSE_LN=0 keeps LayerNorm as its own dispatch (A/B runs of the check script). */
const FUSE_NORM: FastVariant['fuseNorm'] = process.env['BATON_GPU_FUSE_LN'] === '0' ? 'never' : 'paying';
/** BATON_GPU_DECODE_SUBMIT=N: layers per command buffer of a decode call (0: one command buffer; default 2). */
const DECODE_SUBMIT = ((): number => {
  const n = Number.parseInt(process.env['BATON_GPU_DECODE_SUBMIT'] ?? '', 10);
  return Number.isInteger(n) && n >= 0 ? n : 2;
})();
/** The production choices (with the environment switches applied). */
export const DEFAULT_VARIANT: FastVariant = {
  matmul: chooseMatmul, prefillAttention: 'block', handBack: HAND_BACK, handBackEvery: 1, fuseNorm: FUSE_NORM, decodeSubmitEvery: DECODE_SUBMIT,
};

/**
 * Whether a matmul gets the LayerNorm prologue: always the small-M (decode) kernel, whose
 * workgroups reduce their few rows' statistics in a few microseconds where a normalize dispatch
 * costs one more barrier and launch per LayerNorm; the blocked kernel, where every
 * workgroup re-reads its rows' whole K for the statistics, so only where few workgroups share a
 * row block (column blocks x K slices <= 16).
 * NOTE: measured on the H200 (GPU one pass): 4x256 prefill 512 0.658 ms fused against 0.686
 * separate; fused everywhere, 8x512 prefill 512 took 2.18 ms against 1.52 (qkv: 24 column blocks
 * x 2 slices re-reading each row) and 8x512 decode b=32 0.851 against 0.771.
 */
export function fusesNorm(c: MatmulChoice, N: number): boolean {
  if (c.kind === 'small') return true;
  return c.kind === 'blocked' && Math.ceil(N / BLOCK.BN) * c.tile.split <= 16;
}
