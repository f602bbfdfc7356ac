import * as tf from '@tensorflow/tfjs';
import { ArgumentError } from '../errors.js';

/** How token vectors become one sentence vector. */
export type PoolingMode = 'cls' | 'mean' | 'max';

/** Every {@link PoolingMode}. */
export const POOLING_MODES: readonly PoolingMode[] = ['cls', 'mean', 'max'];

/**
 * Pool token vectors `[batch, seq, hidden]` into `[batch, hidden]` over the attention mask, as
 * sentence-transformers' `Pooling` does: `cls` takes the first token, `mean` averages unmasked tokens
 * (denominator clamped at 1e-9), `max` takes the maximum over unmasked tokens (masked ones set to -1e9).
 *
 * @example
 * ```ts
 * const sentence = pool(hidden, attentionMask, 'mean'); // [batch, hidden]
 * ```
 */
export function pool(hidden: tf.Tensor3D, attentionMask: tf.Tensor2D, mode: PoolingMode): tf.Tensor2D {
  if (!POOLING_MODES.includes(mode)) {
    throw new ArgumentError(
      'pooling',
      `unknown mode '${String(mode)}'; expected one of ${POOLING_MODES.join(', ')}`,
    );
  }
  if (hidden.rank !== 3 || attentionMask.rank !== 2) {
    throw new ArgumentError(
      'hidden',
      `expected [batch, seq, hidden] and [batch, seq] mask, got ranks ${hidden.rank} and ${attentionMask.rank}`,
    );
  }
  if (hidden.shape[0] !== attentionMask.shape[0] || hidden.shape[1] !== attentionMask.shape[1]) {
    throw new ArgumentError(
      'attentionMask',
      `shape [${attentionMask.shape.join(', ')}] does not match hidden [${hidden.shape.join(', ')}]`,
    );
  }
  const [batch, , dim] = hidden.shape;
  return tf.tidy(() => {
    if (mode === 'cls')
      return tf.reshape(tf.slice(hidden, [0, 0, 0], [batch, 1, dim]), [batch, dim]) as tf.Tensor2D;
    const mask = tf.expandDims(tf.cast(attentionMask, 'float32'), 2);
    if (mode === 'mean') {
      const summed = tf.sum(tf.mul(hidden, mask), 1);
      const counts = tf.maximum(tf.sum(mask, 1), 1e-9);
      return tf.div(summed, counts) as tf.Tensor2D;
    }
    // Masked tokens are pushed to -1e9 (not -inf) like sentence-transformers, so an all-masked row stays finite.
    const masked = tf.add(tf.mul(hidden, mask), tf.mul(tf.sub(1, mask), -1e9));
    return tf.max(masked, 1) as tf.Tensor2D;
  });
}

/** L2-normalise rows (zero rows stay zero), as sentence-transformers' `Normalize` (`F.normalize`, eps 1e-12). */
export function l2Normalize(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const norm = tf.maximum(tf.sqrt(tf.sum(tf.square(x), 1, true)), 1e-12);
    return tf.div(x, norm) as tf.Tensor2D;
  });
}
