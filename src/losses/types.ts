import type * as tf from '@tensorflow/tfjs';

/**
 * What the losses and the Trainer need from an encoder: a differentiable embedding of texts and the
 * variables to train. `SentenceEncoder` satisfies it; tests use toy encoders.
 */
export interface TrainableEncoder {
  /**
   * Embed `texts` into `[texts.length, dim]`, recording gradients when called under a gradient tape. With
   * `training`, dropout is active and the same `dropoutSeed` must give the same dropout masks (gradient
   * caching re-embeds a mini-batch and needs the same forward pass twice).
   */
  embed(texts: string[], options?: { training?: boolean; dropoutSeed?: number }): tf.Tensor2D;
  /** The variables training updates. */
  trainableVariables(): tf.Variable[];
}

/**
 * One training batch: query `i` has positive `positives[i]` and hard negatives `negatives[i]` (the same
 * number `k >= 0` for every query).
 */
export interface TrainingBatch {
  queries: string[];
  positives: string[];
  negatives?: string[][];
  /**
   * Identity of each passage in the order the loss lays them out (positives, then each query's negatives
   * in turn), used to mask a passage that is some query's positive when it shows up in another column.
   * Passages with the same text are masked too, with or without ids (as sentence-transformers compares
   * texts); ids add matches between different texts of one document, never remove a text match.
   */
  passageIds?: string[];
  /**
   * Teacher scores, `[queries.length][1 + k]`: row `i` is the teacher's score of `positives[i]`, then of
   * `negatives[i][0..k-1]`. Present when every example carries `positiveScore`/`negativeScores`; the
   * distillation losses require it, the others ignore it.
   */
  scores?: number[][];
}

/** Loss value and parameter gradients of one batch; the caller owns (and must dispose) the gradients. */
export interface GradientResult {
  loss: number;
  grads: Map<tf.Variable, tf.Tensor>;
}

/** A loss that can compute its own parameter gradients (plain or gradient-cached). */
export interface RetrievalLoss {
  /**
   * Loss and gradients of `batch` w.r.t. the variables of both encoders (the same encoder twice when the
   * towers are tied). `dropoutSeed` fixes the dropout masks, so a seeded run is reproducible.
   */
  computeGradients(
    queryEncoder: TrainableEncoder,
    passageEncoder: TrainableEncoder,
    batch: TrainingBatch,
    options?: { dropoutSeed?: number },
  ): GradientResult;
  /** A JSON description of the loss and its options, for logs and checkpoints. */
  toJSON(): Record<string, unknown>;
  /**
   * The loss for a model of this similarity; the Trainer calls it with the model's, so the similarity is
   * given once (on the model). Throws an `ArgumentError` when the loss was built with a different one.
   */
  forSimilarity?(similarity: 'dot' | 'cosine'): RetrievalLoss;
}
