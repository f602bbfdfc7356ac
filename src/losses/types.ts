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

/**
 * Constants a loss derives from frozen models for one batch (GISTEmbed's guide masks), computed once per
 * step before any taped pass; the gradient code disposes it after the step.
 */
export interface LossContext {
  dispose(): void;
}

/**
 * A loss written on embeddings: query embeddings `q` `[B, d]` and passage embeddings `p` `[B(1 + k), d]`
 * (the batch's positives, then each query's `k` hard negatives in turn) -> a scalar. The parameter
 * gradients are computed generically from it (`src/losses/gradients.ts`): under one tape, or with the
 * gradient cache when `miniBatchSize` is set, so every embedding-level loss works both ways. This is
 * sentence-transformers' `compute_loss_from_embeddings`.
 */
export interface EmbeddingLoss {
  /**
   * Texts embedded under the tape at a time: set, the gradients are computed with the gradient cache (Gao
   * et al. 2021); unset, all texts of the batch go under one tape.
   */
  readonly miniBatchSize?: number;
  /**
   * The loss of the embeddings of `batch`, differentiable w.r.t. `q` and `p`; returns a scalar the caller
   * owns. `context` is what {@link EmbeddingLoss.prepare} returned for this batch.
   */
  lossFromEmbeddings(q: tf.Tensor2D, p: tf.Tensor2D, batch: TrainingBatch, context?: LossContext): tf.Scalar;
  /** Checks of the batch beyond its layout (e.g. teacher scores), run before anything is embedded. */
  validate?(batch: TrainingBatch): void;
  /**
   * Per-batch constants from frozen models, embedded `chunkSize` texts at a time when given (the gradient
   * cache's mini-batch); run without a tape.
   */
  prepare?(batch: TrainingBatch, options: { chunkSize?: number }): LossContext | undefined;
}
