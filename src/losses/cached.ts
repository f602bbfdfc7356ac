import type * as tf from '@tensorflow/tfjs';
import { checkOptionKeys } from '../util/options.js';
import { cachedGradients, checkMiniBatchSize } from './gradients.js';
import type {
  EmbeddingLoss,
  GradientResult,
  LossContext,
  RetrievalLoss,
  TrainableEncoder,
  TrainingBatch,
} from './types.js';

/**
 * Any embedding-level loss with gradient caching (Gao et al. 2021; the mechanism of sentence-transformers'
 * `Cached*` losses, see `cachedGradients`): the same value and gradients as the wrapped loss, with the
 * activation memory of `miniBatchSize` texts. `CachedInBatchNegativesLoss` and `CachedGISTEmbedLoss` are
 * the named forms of the two losses sentence-transformers caches; this wrapper caches the others
 * (`MarginMSELoss`, `DistillKLDivLoss`).
 *
 * @throws {ArgumentError} `miniBatchSize` not an integer >= 1.
 * @example
 * ```ts
 * const loss = new CachedLoss(new MarginMSELoss(), { miniBatchSize: 8 });
 * const { loss: value, grads } = loss.computeGradients(encoder, encoder, batch); // batch.scores set
 * ```
 */
export class CachedLoss implements RetrievalLoss, EmbeddingLoss {
  readonly inner: EmbeddingLoss & RetrievalLoss;
  readonly miniBatchSize: number;

  constructor(inner: EmbeddingLoss & RetrievalLoss, options: { miniBatchSize: number }) {
    checkOptionKeys('CachedLoss', options, ['miniBatchSize']);
    this.miniBatchSize = checkMiniBatchSize(options?.miniBatchSize);
    this.inner = inner;
  }

  validate(batch: TrainingBatch): void {
    this.inner.validate?.(batch);
  }

  prepare(batch: TrainingBatch, options: { chunkSize?: number }): LossContext | undefined {
    return this.inner.prepare?.(batch, options);
  }

  lossFromEmbeddings(q: tf.Tensor2D, p: tf.Tensor2D, batch: TrainingBatch, context?: LossContext): tf.Scalar {
    return this.inner.lossFromEmbeddings(q, p, batch, context);
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

  forSimilarity(similarity: 'dot' | 'cosine'): CachedLoss {
    const inner = this.inner.forSimilarity?.(similarity);
    if (inner === undefined || inner === this.inner) return this;
    return new CachedLoss(inner as EmbeddingLoss & RetrievalLoss, { miniBatchSize: this.miniBatchSize });
  }

  toJSON(): Record<string, unknown> {
    return { ...this.inner.toJSON(), cached: true, miniBatchSize: this.miniBatchSize };
  }
}
