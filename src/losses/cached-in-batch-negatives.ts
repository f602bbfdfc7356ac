import * as tf from '@tensorflow/tfjs';
import { guardCachedStep } from '../train/memory.js';
import { ArgumentError } from '../errors.js';
import { deriveSeed } from '../util/random.js';
import { checkOptionKeys } from '../util/options.js';
import {
  IN_BATCH_NEGATIVES_KEYS,
  checkLossSimilarity,
  InBatchNegativesLoss,
  batchPassages,
  byVariable,
  checkBatch,
  uniqueVariables,
} from './in-batch-negatives.js';
import type { InBatchNegativesOptions } from './in-batch-negatives.js';
import type { GradientResult, RetrievalLoss, TrainableEncoder, TrainingBatch } from './types.js';

/** Options of {@link CachedInBatchNegativesLoss}. */
export interface CachedInBatchNegativesOptions extends InBatchNegativesOptions {
  /** Texts embedded with a gradient tape at a time; bounds activation memory whatever the batch size. */
  miniBatchSize: number;
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
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
export class CachedInBatchNegativesLoss implements RetrievalLoss {
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

  computeGradients(
    queryEncoder: TrainableEncoder,
    passageEncoder: TrainableEncoder,
    batch: TrainingBatch,
    options: { dropoutSeed?: number } = {},
  ): GradientResult {
    checkBatch(batch);
    const passages = batchPassages(batch);
    const { passageIds } = batch;
    const seed = options.dropoutSeed ?? 0;
    const towers = [
      { encoder: queryEncoder, parts: chunks(batch.queries, this.miniBatchSize), tower: 0 },
      { encoder: passageEncoder, parts: chunks(passages, this.miniBatchSize), tower: 1 },
    ];
    guardCachedStep(queryEncoder, passageEncoder, [towers[0].parts, towers[1].parts], this.miniBatchSize);
    const embedOptions = (tower: number, chunk: number) => ({
      training: true,
      dropoutSeed: deriveSeed(seed, tower, chunk),
    });

    // 1. Embeddings without a tape: each chunk's activations are freed before the next chunk runs.
    const [qEmb, pEmb] = towers.map(({ encoder, parts, tower }) =>
      tf.tidy(() =>
        tf.concat(parts.map((texts, c) => tf.tidy(() => encoder.embed(texts, embedOptions(tower, c))))),
      ),
    ) as [tf.Tensor2D, tf.Tensor2D];

    // 2. Loss and its gradient w.r.t. the embeddings.
    const { value, grads: embGrads } = tf.valueAndGrads((q: tf.Tensor, p: tf.Tensor) =>
      this.inner.compute(q as tf.Tensor2D, p as tf.Tensor2D, { passageIds, passageTexts: passages }),
    )([qEmb, pEmb]);
    qEmb.dispose();
    pEmb.dispose();
    const loss = value.dataSync()[0];
    value.dispose();

    // 3. Re-embed chunk by chunk with a tape; d(sum(emb * g))/dθ is the chunk's share of dL/dθ.
    const acc = new Map<tf.Variable, tf.Tensor>();
    const vars = uniqueVariables(queryEncoder, passageEncoder);
    try {
      towers.forEach(({ encoder, parts, tower }, t) => {
        const own = new Set(encoder.trainableVariables());
        const towerVars = vars.filter((v) => own.has(v));
        const cached = embGrads[t];
        const dim = cached.shape[1] as number;
        let row = 0;
        parts.forEach((texts, c) => {
          const g = tf.slice(cached, [row, 0], [texts.length, dim]);
          row += texts.length;
          const { value: surrogate, grads } = tf.variableGrads(
            () => tf.sum(tf.mul(encoder.embed(texts, embedOptions(tower, c)), g)) as tf.Scalar,
            towerVars,
          );
          surrogate.dispose();
          g.dispose();
          for (const [variable, grad] of byVariable(towerVars, grads)) {
            const old = acc.get(variable);
            if (old === undefined) acc.set(variable, grad);
            else {
              acc.set(variable, tf.add(old, grad));
              old.dispose();
              grad.dispose();
            }
          }
        });
      });
    } catch (error) {
      for (const g of acc.values()) g.dispose();
      throw error;
    } finally {
      for (const g of embGrads) g.dispose();
    }
    return { loss, grads: acc };
  }

  toJSON(): Record<string, unknown> {
    return { ...this.inner.toJSON(), kind: 'cached-in-batch-negatives', miniBatchSize: this.miniBatchSize };
  }
}
