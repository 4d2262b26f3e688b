/**
 * The training pass's matrix product. On tfjs-wasm a product with a transposed operand
 * (`transposeA`/`transposeB`, which every matMul gradient uses) is 5-10 times slower than a
 * separate tf.transpose followed by a plain product (`scripts/matmul-probe.mjs`), so there the
 * product and both gradients are computed with materialised transposes and plain products only.
 * Other backends use tf.matMul as it is.
 * Invariant: `trainMatMul` gives tf.matMul's value and gradients (rank 2, or rank 4 with the
 * same batch dimensions), only the kernels differ.
 */
import * as tf from '@tensorflow/tfjs-core';

type Mat = tf.Tensor2D | tf.Tensor4D;

/** Swaps the last two axes (a copy). */
function swapLast<T extends Mat>(x: T): T {
  return (x.rank === 2 ? tf.transpose(x) : tf.transpose(x, [0, 1, 3, 2])) as T;
}

function plainProduct<T extends Mat>(a: T, b: T): T {
  return tf.matMul(a as tf.Tensor, b as tf.Tensor) as T;
}

/**
 * op(a) · op(b), where op transposes when its flag is set, with every product of the value and
 * of the gradients done on untransposed operands.
 */
export function explicitMatMul<T extends Mat>(a: T, b: T, transposeA = false, transposeB = false): T {
  const f = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, y, save] = inputs as [T, T, tf.GradSaveFunc];
    const opA = transposeA ? swapLast(x) : x;
    const opB = transposeB ? swapLast(y) : y;
    save([opA, opB]);
    return {
      value: plainProduct(opA, opB),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sa, sb] = saved as [T, T];
        // d op(a) = dy · op(b)^T and d op(b) = op(a)^T · dy; a transposed operand's gradient is the transpose of its op's.
        const g = dy as T;
        const dOpA = plainProduct(g, swapLast(sb));
        const dOpB = plainProduct(swapLast(sa), g);
        return [transposeA ? swapLast(dOpA) : dOpA, transposeB ? swapLast(dOpB) : dOpB];
      },
    };
  });
  return f(a, b);
}

/** The matMul the training pass uses on the active backend (see the file header). */
export function trainMatMul<T extends Mat>(a: T, b: T, transposeA = false, transposeB = false): T {
  if (tf.getBackend() === 'wasm') return explicitMatMul(a, b, transposeA, transposeB);
  return tf.matMul(a as tf.Tensor, b as tf.Tensor, transposeA, transposeB) as T;
}
