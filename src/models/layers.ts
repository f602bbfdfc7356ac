import * as tf from '@tensorflow/tfjs';
import { hashInt } from '../util/random.js';

/**
 * Transformer building blocks shared by the encoders, written on 2-D `[tokens, features]` tensors so every
 * projection is an untransposed 2-D matMul (the fast path on the wasm backend).
 */

/** Activation names of Hugging Face configs that we implement. */
export const SUPPORTED_ACTIVATIONS = ['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'relu'] as const;
export type Activation = (typeof SUPPORTED_ACTIVATIONS)[number];

const SQRT_HALF = Math.SQRT1_2;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const GELU_TANH_CUBIC = 0.044715;

// Why the custom gradients below: under a gradient tape tfjs keeps every input (and some outputs) of every
// elementwise op for the backward pass, and it keeps every intermediate gradient until the whole backward
// pass ends (tfjs-core's `gradients` runs it in one tidy). A GELU written as 4-5 ops thus holds 4-5 copies
// of its [tokens, 1536] input plus as many gradients; a LayerNorm as moments + sub + rsqrt + mul + add about
// as many [tokens, hidden] tensors. Each block here is one tape node that keeps only what its closed-form
// gradient reads. The forward passes run exactly the ops of the composed versions, in the same order, so
// values are bit-identical to them. tfjs calls a custom gradient outside any tidy of its own, so every
// gradFunc tidies its temporaries itself.

type SaveFunc = (tensors: tf.Tensor[]) => void;

/** `0.5 x (1 + erf(x / sqrt 2))`, the composed forward (kept op for op so values do not change). */
function geluErfForward(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, SQRT_HALF)), 1));
}

/**
 * An activation's value together with what its backward needs, so that a caller saving only these two
 * tensors can rebuild the value ({@link activationValueFromSaved}) and the gradient
 * ({@link activationBackwardFromSaved}) without recomputing the expensive part. For the erf GELU that is
 * `1 + erf(x / sqrt 2)`: saving it instead of the value spares the backward an `Erf` over the whole FFN
 * (scalar on wasm, ~5 ns per element) for one multiply, with the same memory. Values are bit-identical to
 * {@link activationForward}; other activations save their value.
 */
export function activationForwardSaving(
  x: tf.Tensor,
  act: Activation,
): { value: tf.Tensor; saved: tf.Tensor } {
  if (act !== 'gelu') {
    const value = activationForward(x, act);
    return { value, saved: value };
  }
  const onePlusErf = tf.add(tf.erf(tf.mul(x, SQRT_HALF)), 1);
  return { value: tf.mul(tf.mul(x, 0.5), onePlusErf), saved: onePlusErf };
}

/** The activation's value from its input and what {@link activationForwardSaving} saved. */
export function activationValueFromSaved(x: tf.Tensor, saved: tf.Tensor, act: Activation): tf.Tensor {
  return act === 'gelu' ? tf.mul(tf.mul(x, 0.5), saved) : saved;
}

/** `dy * act'(x)` from the input and what {@link activationForwardSaving} saved. */
export function activationBackwardFromSaved(
  dy: tf.Tensor,
  x: tf.Tensor,
  saved: tf.Tensor,
  act: Activation,
): tf.Tensor {
  if (act !== 'gelu') return activationBackward(dy, x, act);
  // The same ops as geluErfDerivative, with its cdf term taken from the saved 1 + erf.
  const cdf = tf.mul(saved, 0.5);
  const pdf = tf.mul(tf.exp(tf.mul(tf.square(x), -0.5)), INV_SQRT_2PI);
  return tf.mul(dy, tf.add(cdf, tf.mul(x, pdf)));
}

/** `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`, the composed forward. */
function geluTanhForward(x: tf.Tensor): tf.Tensor {
  const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), GELU_TANH_CUBIC)), SQRT_2_OVER_PI);
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
}

/** `d gelu / dx` (erf form): `0.5 (1 + erf(x / sqrt 2)) + x exp(-x^2 / 2) / sqrt(2 pi)`. */
function geluErfDerivative(x: tf.Tensor): tf.Tensor {
  const cdf = tf.mul(tf.add(tf.erf(tf.mul(x, SQRT_HALF)), 1), 0.5);
  const pdf = tf.mul(tf.exp(tf.mul(tf.square(x), -0.5)), INV_SQRT_2PI);
  return tf.add(cdf, tf.mul(x, pdf));
}

/**
 * `d gelu_tanh / dx`: with `t = tanh(u)`, `u = sqrt(2/pi) (x + 0.044715 x^3)`,
 * `0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2)`.
 */
function geluTanhDerivative(x: tf.Tensor): tf.Tensor {
  const x2 = tf.square(x);
  const th = tf.tanh(tf.mul(tf.mul(x, tf.add(tf.mul(x2, GELU_TANH_CUBIC), 1)), SQRT_2_OVER_PI));
  const du = tf.mul(tf.add(tf.mul(x2, 3 * GELU_TANH_CUBIC), 1), SQRT_2_OVER_PI);
  const sech2 = tf.sub(1, tf.square(th));
  return tf.add(tf.mul(tf.add(th, 1), 0.5), tf.mul(tf.mul(tf.mul(x, 0.5), sech2), du));
}

/** The activation's value, without a custom gradient (for fused blocks that differentiate it themselves). */
export function activationForward(x: tf.Tensor, act: Activation): tf.Tensor {
  switch (act) {
    case 'gelu':
      return geluErfForward(x);
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
      return geluTanhForward(x);
    case 'relu':
      return tf.relu(x);
  }
}

/** `dy * act'(x)`, the activation's backward from its input alone. */
export function activationBackward(dy: tf.Tensor, x: tf.Tensor, act: Activation): tf.Tensor {
  switch (act) {
    case 'gelu':
      return tf.mul(dy, geluErfDerivative(x));
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
      return tf.mul(dy, geluTanhDerivative(x));
    case 'relu':
      // tfjs' relu gradient: dy where x > 0.
      return tf.mul(dy, tf.step(x));
  }
}

/** A one-node custom gradient for an activation: keeps its input only. */
function activationOp(x: tf.Tensor, act: Activation): tf.Tensor {
  const op = tf.customGrad((input, save) => {
    const t = input as tf.Tensor;
    (save as SaveFunc)([t]);
    return {
      value: activationForward(t, act),
      gradFunc: (dy, saved) =>
        tf.tidy(() => activationBackward(dy as tf.Tensor, (saved as tf.Tensor[])[0], act)),
    };
  });
  return tf.tidy(() => op(x) as tf.Tensor);
}

/**
 * Exact GELU, `0.5 x (1 + erf(x / sqrt 2))`, as PyTorch's default `nn.GELU` and HF's `gelu`. tfjs has no GELU
 * op, and the tanh approximation differs by up to ~1e-3, which would break parity with Python checkpoints.
 * The backward keeps only `x`: `d/dx = 0.5 (1 + erf(x / sqrt 2)) + x exp(-x^2 / 2) / sqrt(2 pi)`.
 *
 * @example
 * ```ts
 * const y = geluErf(tf.tensor1d([-1, 0, 1])); // [-0.1587, 0, 0.8413]
 * ```
 */
export function geluErf(x: tf.Tensor): tf.Tensor {
  return activationOp(x, 'gelu');
}

/**
 * The tanh approximation of GELU (HF `gelu_new` / `gelu_pytorch_tanh`). The backward keeps only `x`:
 * with `t = tanh(u)`, `u = sqrt(2/pi) (x + 0.044715 x^3)`,
 * `d/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2)`.
 *
 * @example
 * ```ts
 * const y = geluTanh(tf.tensor1d([-1, 0, 1])); // [-0.1588, 0, 0.8412]
 * ```
 */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  return activationOp(x, 'gelu_new');
}

/**
 * Apply a config activation.
 *
 * @example
 * ```ts
 * const h = activate(linear(x, w, b), 'gelu');
 * ```
 */
export function activate(x: tf.Tensor, act: Activation): tf.Tensor {
  return act === 'relu' ? tf.relu(x) : activationOp(x, act);
}

/** LayerNorm forward, the composed ops; also returns what the backward needs. */
export function layerNormForward(
  x: tf.Tensor2D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  eps: number,
): { value: tf.Tensor2D; normed: tf.Tensor2D; rstd: tf.Tensor2D } {
  const { mean, variance } = tf.moments(x, -1, true);
  const rstd = tf.rsqrt(tf.add(variance, eps)) as tf.Tensor2D;
  const normed = tf.mul(tf.sub(x, mean), rstd) as tf.Tensor2D;
  return { value: tf.add(tf.mul(normed, gamma), beta) as tf.Tensor2D, normed, rstd };
}

/**
 * LayerNorm backward in closed form from the normalised rows `n` and `1/std` per row `rstd`:
 * `dgamma = sum_rows(dy n)`, `dbeta = sum_rows(dy)`, `dx = (g - mean(g) - n mean(g n)) rstd`, `g = dy gamma`.
 */
export function layerNormBackward(
  dy: tf.Tensor2D,
  normed: tf.Tensor2D,
  rstd: tf.Tensor2D,
  gamma: tf.Tensor1D,
): [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D] {
  const dGamma = tf.sum(tf.mul(dy, normed), 0) as tf.Tensor1D;
  const dBeta = tf.sum(dy, 0) as tf.Tensor1D;
  const g = tf.mul(dy, gamma);
  const centred = tf.sub(
    tf.sub(g, tf.mean(g, -1, true)),
    tf.mul(normed, tf.mean(tf.mul(g, normed), -1, true)),
  );
  return [tf.mul(centred, rstd) as tf.Tensor2D, dGamma, dBeta];
}

/**
 * LayerNorm over the last axis with biased variance, as `torch.nn.LayerNorm`. One tape node that keeps the
 * normalised rows `n = (x - mean) / std` and `1/std` per row; the backward is the closed form
 * `dgamma = sum_rows(dy n)`, `dbeta = sum_rows(dy)`, `dx = (g - mean(g) - n mean(g n)) / std` with `g = dy gamma`.
 *
 * @example
 * ```ts
 * const y = layerNorm(x, gamma, beta, 1e-12); // x [tokens, hidden], gamma and beta [hidden]
 * ```
 */
export function layerNorm(x: tf.Tensor2D, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): tf.Tensor2D {
  const op = tf.customGrad((xIn, gammaIn, betaIn, save) => {
    const g = gammaIn as tf.Tensor1D;
    const { value, normed, rstd } = layerNormForward(xIn as tf.Tensor2D, g, betaIn as tf.Tensor1D, eps);
    (save as SaveFunc)([normed, rstd, g]);
    return {
      value,
      gradFunc: (dy, saved) =>
        tf.tidy(() => {
          const [n, r, gs] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
          return layerNormBackward(dy as tf.Tensor2D, n, r, gs);
        }),
    };
  });
  return tf.tidy(() => op(x, gamma, beta) as tf.Tensor2D);
}

/** `x @ kernel + bias` as the fused matMul (bias added inside the kernel: one pass over the output). */
export function linearForward(x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  return tf.fused.matMul({ a: x, b: kernel, bias }) as tf.Tensor2D;
}

/**
 * Gradients of `x @ kernel + bias` for `x`, `kernel`, `bias`. Pass `xT` (`x` transposed) when several layers
 * read the same `x`: on wasm a transposed product transposes its operand first, so sharing one `x^T` saves
 * that copy per extra layer (the query, key and value projections share their input).
 */
export function linearBackward(
  dy: tf.Tensor2D,
  x: tf.Tensor2D,
  kernel: tf.Tensor2D,
  xT?: tf.Tensor2D,
): [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D] {
  const dKernel: tf.Tensor2D = xT === undefined ? tf.matMul(x, dy, true, false) : tf.matMul(xT, dy);
  return [tf.matMul(dy, kernel, false, true), dKernel, tf.sum(dy, 0) as tf.Tensor1D];
}

/**
 * `x @ kernel + bias` with `kernel` stored `[in, out]` (the transpose of PyTorch's `Linear.weight`). One tape
 * node that keeps `x` and `kernel` only: tfjs' own gradient of the fused op also keeps the output, which
 * a bias-only product never reads.
 *
 * @example
 * ```ts
 * const y = linear(x, kernel, bias); // x [tokens, in], kernel [in, out], bias [out] -> [tokens, out]
 * ```
 */
export function linear(x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  const op = tf.customGrad((xIn, kIn, bIn, save) => {
    const xt = xIn as tf.Tensor2D;
    const k = kIn as tf.Tensor2D;
    (save as SaveFunc)([xt, k]);
    return {
      value: linearForward(xt, k, bIn as tf.Tensor1D),
      gradFunc: (dy, saved) =>
        tf.tidy(() => {
          const [xs, ks] = saved as [tf.Tensor2D, tf.Tensor2D];
          return linearBackward(dy as tf.Tensor2D, xs, ks);
        }),
    };
  });
  return tf.tidy(() => op(x, kernel, bias) as tf.Tensor2D);
}

/**
 * `x * s` for a constant `s`, as one tape node that keeps nothing (tfjs' `mul` keeps both operands).
 *
 * @example
 * ```ts
 * const q = scaleBy(linear(x, wq, bq), 1 / Math.sqrt(headDim));
 * ```
 */
export function scaleBy<T extends tf.Tensor>(x: T, s: number): T {
  const op = tf.customGrad((input) => ({
    value: tf.mul(input as tf.Tensor, s),
    gradFunc: (dy) => tf.tidy(() => tf.mul(dy as tf.Tensor, s)),
  }));
  return tf.tidy(() => op(x) as T);
}

/** A 32-bit key from a dropout seed (FNV-1a of its text), or a fresh random key when there is none. */
function seedKey(seed: number | string | undefined): number {
  if (seed === undefined) return (Math.random() * 0x100000000) >>> 0;
  const text = String(seed);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return hashInt(h >>> 0);
}

/**
 * A dropout mask and its multiplier, drawn in JavaScript from a counter-based generator: element `i` is kept
 * when `hashInt(hashInt(i * golden ^ k1) + k2) >= rate * 2^32`, with `k1`, `k2` derived from the seed. The same
 * seed gives the same mask on every backend and in any order of calls, which gradient caching (a mini-batch
 * embedded twice) relies on.
 *
 * Why not `tf.dropout`: it draws `tf.randomUniform` through seedrandom's alea in JavaScript (~20 ns per element)
 * and then needs four more kernels (add, floor, div, and a compare for a `bool` copy); on the wasm backend that
 * was ~15 % of a BERT training step. This loop makes both tensors directly (~2 ns per element).
 */
export function dropoutMask(
  shape: number[],
  rate: number,
  seed?: number | string,
): { mask: tf.Tensor; multiplier: tf.Tensor } {
  const size = shape.reduce((a, b) => a * b, 1);
  const keep = 1 - rate;
  const scale = 1 / keep;
  // Compare in [0, 2^32): drop when the hash is below rate * 2^32.
  const threshold = Math.min(0xffffffff, Math.floor(rate * 0x100000000));
  const k1 = seedKey(seed);
  const k2 = hashInt(k1 ^ 0x5bd1e995);
  const mask = new Uint8Array(size);
  const multiplier = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const h = hashInt((hashInt((Math.imul(i, 0x9e3779b9) ^ k1) >>> 0) + k2) >>> 0);
    if (h >= threshold) {
      mask[i] = 1;
      multiplier[i] = scale;
    }
  }
  return { mask: tf.tensor(mask, shape, 'bool'), multiplier: tf.tensor(multiplier, shape, 'float32') };
}

/** The multiplier back from its `bool` mask (`mask / keepProb`: the same float32 values). */
export function multiplierFromMask(mask: tf.Tensor, rate: number): tf.Tensor {
  return tf.div(tf.cast(mask, 'float32'), 1 - rate);
}

/**
 * Inverted dropout (`x / (1 - rate)` where kept, 0 elsewhere) with {@link dropoutMask}'s seeded masks, as one
 * tape node that keeps the mask as `bool` (1 byte per element) instead of `tf.dropout`'s float32 multiplier
 * and input.
 *
 * @example
 * ```ts
 * const y = dropout(x, 0.1, '7:0'); // the same mask for the same seed, every time
 * ```
 */
export function dropout<T extends tf.Tensor>(x: T, rate: number, seed?: number | string): T {
  if (rate === 0) return tf.clone(x) as T;
  const op = tf.customGrad((input, save) => {
    const xt = input as tf.Tensor;
    const { mask, multiplier } = dropoutMask(xt.shape, rate, seed);
    (save as SaveFunc)([mask]);
    return {
      value: tf.mul(xt, multiplier),
      gradFunc: (dy, saved) =>
        tf.tidy(() => tf.mul(dy as tf.Tensor, multiplierFromMask((saved as tf.Tensor[])[0], rate))),
    };
  });
  return tf.tidy(() => op(x) as T);
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
      gradFunc: (dy, saved) =>
        tf.tidy(() => {
          const [savedIds] = saved as [tf.Tensor1D];
          return tf.scatterND(tf.expandDims(savedIds, 1), dy, tableT.shape);
        }),
    };
  });
  return lookup(table) as tf.Tensor2D;
}
