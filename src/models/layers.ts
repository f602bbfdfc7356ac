import * as tf from '@tensorflow/tfjs';

/**
 * Transformer building blocks shared by the encoders, written on 2-D `[tokens, features]` tensors so every
 * projection is an untransposed 2-D matMul (the fast path on the wasm backend).
 */

/** Activation names of Hugging Face configs that we implement. */
export const SUPPORTED_ACTIVATIONS = ['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'relu'] as const;
export type Activation = (typeof SUPPORTED_ACTIVATIONS)[number];

const SQRT_HALF = Math.SQRT1_2;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/**
 * Exact GELU, `0.5 x (1 + erf(x / sqrt 2))`, as PyTorch's default `nn.GELU` and HF's `gelu`. tfjs has no GELU
 * op, and the tanh approximation differs by up to ~1e-3, which would break parity with Python checkpoints.
 */
export function geluErf(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, SQRT_HALF)), 1)));
}

/** The tanh approximation of GELU (HF `gelu_new` / `gelu_pytorch_tanh`). */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), SQRT_2_OVER_PI);
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
  });
}

/** Apply a config activation. */
export function activate(x: tf.Tensor, act: Activation): tf.Tensor {
  switch (act) {
    case 'gelu':
      return geluErf(x);
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
      return geluTanh(x);
    case 'relu':
      return tf.relu(x);
  }
}

/** LayerNorm over the last axis with biased variance, as `torch.nn.LayerNorm`. */
export function layerNorm(x: tf.Tensor2D, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): tf.Tensor2D {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
    return tf.add(tf.mul(normed, gamma), beta) as tf.Tensor2D;
  });
}

/** `x @ kernel + bias` with `kernel` stored `[in, out]` (the transpose of PyTorch's `Linear.weight`). */
export function linear(x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  // The fused op adds the bias inside the matMul kernel: one pass over the output instead of two.
  return tf.fused.matMul({ a: x, b: kernel, bias }) as tf.Tensor2D;
}

/**
 * Row lookup `table[ids]` -> `[ids.length, dim]`. Written with a custom gradient because the gradient tfjs
 * gives `gather` needs the `UnsortedSegmentSum` kernel, which the wasm backend lacks; `scatterND` (which sums
 * duplicate indices) computes the same dense gradient and exists on every backend.
 */
export function embeddingLookup(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  const lookup = tf.customGrad((t, save) => {
    const tableT = t as tf.Tensor2D;
    (save as (tensors: tf.Tensor[]) => void)([ids]);
    return {
      value: tf.gather(tableT, ids),
      gradFunc: (dy, saved) => {
        const [savedIds] = saved as [tf.Tensor1D];
        return tf.scatterND(tf.expandDims(savedIds, 1), dy, tableT.shape);
      },
    };
  });
  return lookup(table) as tf.Tensor2D;
}
