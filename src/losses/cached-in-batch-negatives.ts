import type * as tf from '@tensorflow/tfjs';
import { ArgumentError } from '../errors.js';
import { checkOptionKeys } from '../util/options.js';
import { IN_BATCH_NEGATIVES_KEYS, checkLossSimilarity, InBatchNegativesLoss } from './in-batch-negatives.js';
import type { InBatchNegativesOptions } from './in-batch-negatives.js';
import { cachedGradients } from './gradients.js';
import type {
  EmbeddingLoss,
  GradientResult,
  RetrievalLoss,
  TrainableEncoder,
  TrainingBatch,
} from './types.js';

/** Options of {@link CachedInBatchNegativesLoss}. */
export interface CachedInBatchNegativesOptions extends InBatchNegativesOptions {
  /** Texts embedded with a gradient tape at a time; bounds activation memory whatever the batch size. */
  miniBatchSize: number;
}

/**
 * {@link InBatchNegativesLoss} with gradient caching (Gao et al. 2021, "Scaling Deep Contrastive Learning
 * Batch Size under Memory Limited Setup"; sentence-transformers' `CachedMultipleNegativesRankingLoss`).
 * Same loss value and same gradients as the plain loss, but activation memory is that of one
 * `miniBatchSize` chunk, so the batch (and with it the number of in-batch negatives) can grow freely:
 *
 * 1. embed all queries and passages chunk by chunk without a gradient tape, keeping only the embeddings;
 * 2. compute the loss and its gradient w.r.t. those embeddings (cheap: `[B, d]` and `[N, d]`);
 * 3. re-embed each chunk with a tape and backpropagate `sum(emb * cachedGrad)`, accumulating parameter
 *    gradients (the chain rule, one chunk at a time).
 *
 * Each chunk uses its own dropout seed in steps 1 and 3, so both passes see the same dropout masks. With
 * dropout active the masks differ from the plain loss's (one seed per chunk instead of per batch); without
 * dropout the gradients are the same up to float rounding.
 *
 * @example
 * ```ts
 * const loss = new CachedInBatchNegativesLoss({ miniBatchSize: 16 }); // similarity: the model's
 * const { loss: value, grads } = loss.computeGradients(encoder, encoder, { queries, positives });
 * // ... clip and apply grads, then dispose them
 * ```
 */
export class CachedInBatchNegativesLoss implements RetrievalLoss, EmbeddingLoss {
  readonly miniBatchSize: number;
  /** The uncached loss computed on the cached embeddings. */
  readonly inner: InBatchNegativesLoss;
  private readonly given: CachedInBatchNegativesOptions;

  constructor(options: CachedInBatchNegativesOptions) {
    checkOptionKeys('CachedInBatchNegativesLoss', options, [...IN_BATCH_NEGATIVES_KEYS, 'miniBatchSize']);
    this.given = { ...options };
    const mb = options?.miniBatchSize;
    if (!Number.isInteger(mb) || mb < 1) {
      throw new ArgumentError('miniBatchSize', `must be an integer >= 1, got ${mb}`);
    }
    this.miniBatchSize = mb;
    const { miniBatchSize: _, ...inner } = options;
    void _;
    this.inner = new InBatchNegativesLoss(inner);
  }

  /**
   * This loss for a model of the given similarity (what the Trainer calls); see
   * {@link InBatchNegativesLoss.forSimilarity}.
   *
   * @throws {ArgumentError} the loss was built with a different explicit `similarity`.
   */
  forSimilarity(similarity: InBatchNegativesLoss['similarity']): CachedInBatchNegativesLoss {
    checkLossSimilarity(this.given.similarity, similarity);
    if (similarity === this.similarity) return this;
    return new CachedInBatchNegativesLoss({ ...this.given, similarity });
  }

  get similarity(): InBatchNegativesLoss['similarity'] {
    return this.inner.similarity;
  }

  get scale(): number {
    return this.inner.scale;
  }

  get symmetric(): boolean {
    return this.inner.symmetric;
  }

  /** The loss of given embeddings (no caching involved): see {@link InBatchNegativesLoss.compute}. */
  compute(
    q: tf.Tensor2D,
    p: tf.Tensor2D,
    options: { passageIds?: string[]; passageTexts?: string[] } = {},
  ): tf.Scalar {
    return this.inner.compute(q, p, options);
  }

  /** The loss of `batch`'s embeddings; see {@link InBatchNegativesLoss.lossFromEmbeddings}. */
  lossFromEmbeddings(q: tf.Tensor2D, p: tf.Tensor2D, batch: TrainingBatch): tf.Scalar {
    return this.inner.lossFromEmbeddings(q, p, batch);
  }

  computeGradients(
    queryEncoder: TrainableEncoder,
    passageEncoder: TrainableEncoder,
    batch: TrainingBatch,
    options: { dropoutSeed?: number } = {},
  ): GradientResult {
    return cachedGradients(this, queryEncoder, passageEncoder, batch, {
      miniBatchSize: this.miniBatchSize,
      dropoutSeed: options.dropoutSeed,
    });
  }

  toJSON(): Record<string, unknown> {
    return { ...this.inner.toJSON(), kind: 'cached-in-batch-negatives', miniBatchSize: this.miniBatchSize };
  }
}
