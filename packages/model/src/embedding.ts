/**
 * The token + position embedding of GPT-2 on plain arrays, shared by the forward passes that
 * embed on the CPU (wasm-forward.ts into its WebAssembly memory, gpu/gpu-forward.ts before upload).
 * The reference pass (reference-forward.ts) does the same with tf.gather.
 */

/** out[at + i * C ..] = wte[tokens[i]] + wpe[positions[i]] for every row i (wte [V, C], wpe [P, C]). */
export function embedRows(wte: Float32Array, wpe: Float32Array, C: number, tokens: readonly number[], positions: readonly number[], out: Float32Array, at = 0): void {
  tokens.forEach((tok, i) => {
    const w = tok * C;
    const p = positions[i] * C;
    const o = at + i * C;
    for (let c = 0; c < C; c++) out[o + c] = wte[w + c] + wpe[p + c];
  });
}
