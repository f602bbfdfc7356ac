import * as tf from '@tensorflow/tfjs';
import { ArgumentError } from '../errors.js';
import { l2Normalize } from '../models/pooling.js';
import { checkOptionKeys, optionKeys } from '../util/options.js';
import { lossGradients } from './gradients.js';
import type {
  EmbeddingLoss,
  GradientResult,
  LossContext,
  RetrievalLoss,
  TrainableEncoder,
  TrainingBatch,
} from './types.js';

/** A loss {@link MatryoshkaLoss} can wrap: embedding-level, with its gradient lifecycle. */
export type MatryoshkaInner = EmbeddingLoss & RetrievalLoss;

/** Options of {@link MatryoshkaLoss}. */
export interface MatryoshkaOptions {
  /** Prefix widths to train, e.g. `[768, 512, 256, 128, 64]`; each an integer >= 1 and <= the model's width. */
  dims: number[];
  /** Weight of each dimension's loss, aligned with `dims`; default 1 each. */
  weights?: number[];
  /**
   * L2-normalise each truncated prefix before the inner loss sees it. Default false: a cosine inner loss
   * normalises its inputs anyway (so the prefixes are re-normalised), and a dot-product inner loss keeps
   * training the dot product of the truncated vectors, which is what `truncateDim` gives at inference for
   * a model without a Normalize module. `true` is sentence-transformers' `shrink` (it always normalises).
   */
  normalize?: boolean;
}

const MATRYOSHKA_KEYS = optionKeys<MatryoshkaOptions>({ dims: true, weights: true, normalize: true });

/**
 * Matryoshka representation learning (Kusupati et al. 2022, "Matryoshka Representation Learning";
 * sentence-transformers' `MatryoshkaLoss`): the inner loss on the first `m` coordinates of every embedding,
 * for each `m` of `dims`, weighted and summed, so the prefixes of a trained model are embeddings of their
 * own (`truncateDim` at inference):
 *
 * ```
 * L = sum_m  w_m * inner( q[:, :m], p[:, :m] )       (w_m = 1 by default)
 * ```
 *
 * The inner loss computes its similarity on the prefixes, so with cosine they are re-normalised; with
 * `normalize: true` they are normalised before the inner loss whatever its similarity (sentence-transformers'
 * `shrink`, which does so since v2.4.0). Works with every embedding-level loss: with a gradient-cached inner
 * loss (`CachedInBatchNegativesLoss`, `CachedGISTEmbedLoss`, `CachedLoss`) the encoders run once per step
 * and only the cheap embedding-level loss runs once per dimension (as sentence-transformers'
 * `CachedLossDecorator`). sentence-transformers' `n_dims_per_step` (a random subset of dims per step) is not
 * offered: every step trains every dimension.
 *
 * @throws {ArgumentError} empty `dims`, a dim that is not a positive integer or exceeds the embedding
 * width (when the first batch is seen), `weights` of another length or not finite.
 * @example
 * ```ts
 * const loss = new MatryoshkaLoss(new CachedInBatchNegativesLoss({ miniBatchSize: 16 }), {
 *   dims: [384, 128, 64],
 * });
 * const trainer = new Trainer({ model, loss, batchSize: 64, epochs: 1 });
 * // later: model.encodeQueries(queries, { truncateDim: 64 })
 * ```
 */
export class MatryoshkaLoss implements RetrievalLoss, EmbeddingLoss {
  readonly inner: MatryoshkaInner;
  readonly dims: readonly number[];
  readonly weights: readonly number[];
  readonly normalize: boolean;

  constructor(inner: MatryoshkaInner, options: MatryoshkaOptions) {
    checkOptionKeys('MatryoshkaLoss', options, MATRYOSHKA_KEYS);
    if (inner === null || typeof inner !== 'object' || typeof inner.lossFromEmbeddings !== 'function') {
      throw new ArgumentError('inner', 'must be an embedding-level loss (e.g. InBatchNegativesLoss)');
    }
    const dims = options?.dims;
    if (!Array.isArray(dims) || dims.length === 0) {
      throw new ArgumentError('dims', 'must be a non-empty array of dimensions, e.g. [768, 256, 64]');
    }
    for (const d of dims) {
      if (!Number.isInteger(d) || d < 1) throw new ArgumentError('dims', `must be integers >= 1, got ${d}`);
    }
    const weights = options.weights ?? dims.map(() => 1);
    if (!Array.isArray(weights) || weights.length !== dims.length) {
      throw new ArgumentError('weights', `must have one weight per dim (${dims.length})`);
    }
    for (const w of weights) {
      if (typeof w !== 'number' || !Number.isFinite(w)) {
        throw new ArgumentError('weights', `must be finite numbers, got ${w}`);
      }
    }
    this.inner = inner;
    this.dims = [...dims];
    this.weights = [...weights];
    this.normalize = options.normalize ?? false;
  }

  /** The inner loss's mini-batch: the gradient cache is used when the inner loss is a cached one. */
  get miniBatchSize(): number | undefined {
    return this.inner.miniBatchSize;
  }

  validate(batch: TrainingBatch): void {
    this.inner.validate?.(batch);
  }

  prepare(batch: TrainingBatch, options: { chunkSize?: number }): LossContext | undefined {
    return this.inner.prepare?.(batch, options);
  }

  /** `sum_m w_m * inner(q[:, :m], p[:, :m])`; see the class documentation. */
  lossFromEmbeddings(q: tf.Tensor2D, p: tf.Tensor2D, batch: TrainingBatch, context?: LossContext): tf.Scalar {
    const width = q.shape[1];
    for (const d of this.dims) {
      if (d > width) {
        throw new ArgumentError('dims', `${d} exceeds the embedding width ${width}`);
      }
    }
    return tf.tidy(() => {
      let total: tf.Scalar | undefined;
      this.dims.forEach((d, i) => {
        let qd = d === width ? q : (tf.slice(q, [0, 0], [q.shape[0], d]) as tf.Tensor2D);
        let pd = d === width ? p : (tf.slice(p, [0, 0], [p.shape[0], d]) as tf.Tensor2D);
        if (this.normalize) {
          qd = l2Normalize(qd);
          pd = l2Normalize(pd);
        }
        const term = tf.mul(
          this.inner.lossFromEmbeddings(qd, pd, batch, context),
          this.weights[i],
        ) as tf.Scalar;
        total = total === undefined ? term : (tf.add(total, term) as tf.Scalar);
      });
      return total as tf.Scalar;
    });
  }

  computeGradients(
    queryEncoder: TrainableEncoder,
    passageEncoder: TrainableEncoder,
    batch: TrainingBatch,
    options: { dropoutSeed?: number } = {},
  ): GradientResult {
    return lossGradients(this, queryEncoder, passageEncoder, batch, options);
  }

  /** This loss around the inner loss for the model's similarity (see `InBatchNegativesLoss.forSimilarity`). */
  forSimilarity(similarity: 'dot' | 'cosine'): MatryoshkaLoss {
    const inner = this.inner.forSimilarity?.(similarity);
    if (inner === undefined || inner === this.inner) return this;
    return new MatryoshkaLoss(inner as MatryoshkaInner, {
      dims: [...this.dims],
      weights: [...this.weights],
      normalize: this.normalize,
    });
  }

  toJSON(): Record<string, unknown> {
    return {
      kind: 'matryoshka',
      dims: [...this.dims],
      weights: [...this.weights],
      normalize: this.normalize,
      inner: this.inner.toJSON(),
    };
  }
}
