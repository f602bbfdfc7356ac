import * as tf from '@tensorflow/tfjs';
import { l2Normalize } from '../models/pooling.js';
import type { Similarity } from './in-batch-negatives.js';

/**
 * The student's score of each query's own candidates, `[B, 1 + k]`: column 0 `sim(q_i, p_i)`, column
 * `1 + j` `sim(q_i, n_ij)`, for passages laid out as in a batch (`B` positives, then each query's `k`
 * negatives in turn). `sim` is the dot product or the cosine (sentence-transformers' `pairwise_dot_score`
 * / `pairwise_cos_sim`). Differentiable; call inside a tidy.
 */
export function candidateScores(
  q: tf.Tensor2D,
  p: tf.Tensor2D,
  k: number,
  similarity: Similarity,
): tf.Tensor2D {
  const [b, d] = q.shape;
  const qn = similarity === 'cosine' ? l2Normalize(q) : q;
  const pn = similarity === 'cosine' ? l2Normalize(p) : p;
  const pos = tf.sum(tf.mul(qn, tf.slice(pn, [0, 0], [b, d])), 1, true); // [B, 1]
  const negs = tf.reshape(tf.slice(pn, [b, 0], [b * k, d]), [b, k, d]);
  const neg = tf.sum(tf.mul(tf.expandDims(qn, 1), negs), 2); // [B, k]
  return tf.concat([pos, neg], 1) as tf.Tensor2D;
}
