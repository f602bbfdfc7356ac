import * as tf from '@tensorflow/tfjs';
import { POOLING_MODES } from '../checkpoint/pooling-modes.js';
import { ArgumentError } from '../errors.js';
import type { PoolingMode } from '../checkpoint/pooling-modes.js';

export { POOLING_MODES } from '../checkpoint/pooling-modes.js';
export type { PoolingMode } from '../checkpoint/pooling-modes.js';

/**
 * Pool token vectors `[batch, seq, hidden]` into `[batch, hidden]` over the attention mask, as
 * sentence-transformers' `Pooling.forward` does:
 * - `cls`: the first token;
 * - `mean`: `sum(h m) / max(sum(m), 1e-9)`;
 * - `max`: the maximum over unmasked tokens (masked ones set to -1e9, so an all-masked row stays finite);
 * - `mean_sqrt_len_tokens`: `sum(h m) / sqrt(max(sum(m), 1e-9))`;
 * - `weightedmean`: position-weighted mean, weight `i + 1` for token `i` (SGPT), `sum(h m w) / sum(m w)`;
 * - `lasttoken`: the last token whose mask is 1 (right or left padding).
 *
 * `mask` is the pooling mask: the attention mask, with prompt tokens zeroed when a model's Pooling has
 * `include_prompt: false`.
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
  const [batch, seq, dim] = hidden.shape;
  return tf.tidy(() => {
    if (mode === 'cls')
      return tf.reshape(tf.slice(hidden, [0, 0, 0], [batch, 1, dim]), [batch, dim]) as tf.Tensor2D;
    if (mode === 'lasttoken') {
      // The last 1 of each mask row: seq - 1 - argmax(reversed row); an all-zero row takes the last token.
      const reversed = tf.reverse(tf.cast(attentionMask, 'float32'), 1);
      const last = tf.sub(seq - 1, tf.argMax(reversed, 1));
      const onehot = tf.oneHot(tf.cast(last, 'int32'), seq);
      return tf.sum(tf.mul(hidden, tf.expandDims(onehot, 2)), 1) as tf.Tensor2D;
    }
    const mask = tf.expandDims(tf.cast(attentionMask, 'float32'), 2);
    if (mode === 'max') {
      const masked = tf.add(tf.mul(hidden, mask), tf.mul(tf.sub(1, mask), -1e9));
      return tf.max(masked, 1) as tf.Tensor2D;
    }
    const weights =
      mode === 'weightedmean'
        ? tf.mul(mask, tf.reshape(tf.range(1, seq + 1, 1, 'float32'), [1, seq, 1]))
        : mask;
    const summed = tf.sum(tf.mul(hidden, weights), 1);
    const counts = tf.maximum(tf.sum(weights, 1), 1e-9);
    return tf.div(summed, mode === 'mean_sqrt_len_tokens' ? tf.sqrt(counts) : counts) as tf.Tensor2D;
  });
}

/** L2-normalise rows (zero rows stay zero), as sentence-transformers' `Normalize` (`F.normalize`, eps 1e-12). */
export function l2Normalize(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const norm = tf.maximum(tf.sqrt(tf.sum(tf.square(x), 1, true)), 1e-12);
    return tf.div(x, norm) as tf.Tensor2D;
  });
}
