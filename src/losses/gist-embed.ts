import * as tf from '@tensorflow/tfjs';
import { ArgumentError } from '../errors.js';
import { l2Normalize } from '../models/pooling.js';
import { checkOptionKeys, optionKeys } from '../util/options.js';
import { batchPassages, checkBatch } from './batch.js';
import { checkMiniBatchSize, chunks, lossGradients } from './gradients.js';
import type { Similarity } from './in-batch-negatives.js';
import type {
  EmbeddingLoss,
  GradientResult,
  LossContext,
  RetrievalLoss,
  TrainableEncoder,
  TrainingBatch,
} from './types.js';

/** The frozen guide of {@link GISTEmbedLoss}: anything that embeds texts (a `SentenceEncoder`). */
export type GuideEncoder = Pick<TrainableEncoder, 'embed'>;

/** Options of {@link GISTEmbedLoss}. */
export interface GISTEmbedOptions {
  /** Margin below the guide's positive score above which a candidate is masked; default 0. */
  margin?: number;
  /**
   * `absolute`: mask a candidate the guide scores above `pos - margin`; `relative`: above
   * `pos * (1 - margin)`. Default `absolute`.
   */
  marginStrategy?: 'absolute' | 'relative';
  /** Softmax temperature of the cosine similarities; default 0.01 (a scale of 100). */
  temperature?: number;
  /** Also contrast each query with the other queries (q-q); default true. */
  contrastAnchors?: boolean;
  /** Also contrast each positive with the other positives (p-p); default true. */
  contrastPositives?: boolean;
  /** Set, gradients are cached with this mini-batch (see {@link CachedGISTEmbedLoss}). */
  miniBatchSize?: number;
}

const GIST_KEYS = optionKeys<GISTEmbedOptions>({
  margin: true,
  marginStrategy: true,
  temperature: true,
  contrastAnchors: true,
  contrastPositives: true,
  miniBatchSize: true,
});

// A masked logit: exp() of it underflows to exactly 0 (as torch's -inf does) while gradients stay finite.
const MASKED = -1e9;

/** The guide's masks of one batch, `[B, C]` additive (0 or MASKED), in the column order of the logits. */
class GuideMask implements LossContext {
  constructor(readonly mask: tf.Tensor2D) {}
  dispose(): void {
    this.mask.dispose();
  }
}

/**
 * GISTEmbed (Solatorio 2024, "GISTEmbed: Guided In-sample Selection of Training Negatives for Text
 * Embedding Fine-tuning"; sentence-transformers' `GISTEmbedLoss`, formula as of v5.2): in-batch negatives
 * with cosine similarity, where a frozen guide model removes the candidates it scores above the query's
 * positive (likely false negatives). With the student's cosines `S` and the guide's `G`, for query `i`:
 *
 * ```
 * candidates: the B positives (q-p), the B queries (q-q), the B positives seen from p_i (p-p),
 *             and all B*k hard negatives (q-n)
 * g_i      = G(q_i, p_i)                                  the guide's score of the positive
 * masked   : G(x, c) > g_i - margin        (absolute)     or  G(x, c) > g_i * (1 - margin)  (relative)
 *            — never the positive itself in the q-p block; the q-q and p-p diagonals compare a text with
 *            itself and are masked whenever 1 > the threshold, as in sentence-transformers
 * logits   = [S_qp | S_qq | S_pp | S_qn] / temperature,  masked entries -inf
 * L        = -1/B * sum_i log softmax(logits_i)_i
 * ```
 *
 * The guide embeds every text of the batch once per step, without gradients (in `miniBatchSize` chunks
 * when cached). sentence-transformers takes at most one negative column; here each query may carry `k`
 * (the columns are the same set its cached variant uses; the order does not change a softmax). The
 * student's similarity is always the cosine: the model must use it (`forSimilarity('dot')` throws).
 *
 * @throws {ArgumentError} `temperature` not > 0, `margin` not finite, an unknown `marginStrategy`, a
 * `guide` without `embed`; from `forSimilarity`, a dot-product model.
 * @example
 * ```ts
 * const guide = await SentenceEncoder.load('sentence-transformers/all-MiniLM-L6-v2');
 * const loss = new GISTEmbedLoss(guide, { margin: 0.05, marginStrategy: 'absolute', temperature: 0.01 });
 * const trainer = new Trainer({ model, loss, batchSize: 32, epochs: 1 }); // model: cosine similarity
 * ```
 */
export class GISTEmbedLoss implements RetrievalLoss, EmbeddingLoss {
  readonly guide: GuideEncoder;
  readonly margin: number;
  readonly marginStrategy: 'absolute' | 'relative';
  readonly temperature: number;
  readonly contrastAnchors: boolean;
  readonly contrastPositives: boolean;
  readonly miniBatchSize?: number;

  constructor(guide: GuideEncoder, options: GISTEmbedOptions = {}) {
    checkOptionKeys('GISTEmbedLoss', options, GIST_KEYS);
    if (guide === null || typeof guide !== 'object' || typeof guide.embed !== 'function') {
      throw new ArgumentError('guide', 'must be an encoder with embed() (e.g. a SentenceEncoder)');
    }
    const margin = options.margin ?? 0;
    if (typeof margin !== 'number' || !Number.isFinite(margin)) {
      throw new ArgumentError('margin', `must be a finite number, got ${margin}`);
    }
    const strategy = options.marginStrategy ?? 'absolute';
    if (strategy !== 'absolute' && strategy !== 'relative') {
      throw new ArgumentError(
        'marginStrategy',
        `must be 'absolute' or 'relative', got '${String(strategy)}'`,
      );
    }
    const temperature = options.temperature ?? 0.01;
    if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature <= 0) {
      throw new ArgumentError('temperature', `must be > 0, got ${temperature}`);
    }
    this.guide = guide;
    this.margin = margin;
    this.marginStrategy = strategy;
    this.temperature = temperature;
    this.contrastAnchors = options.contrastAnchors ?? true;
    this.contrastPositives = options.contrastPositives ?? true;
    if (options.miniBatchSize !== undefined) this.miniBatchSize = checkMiniBatchSize(options.miniBatchSize);
  }

  /** The guide's embeddings of `texts`, unit length, `chunkSize` texts per forward pass. */
  private guideEmbed(texts: string[], chunkSize: number | undefined): tf.Tensor2D {
    return tf.tidy(() => {
      const parts = chunks(texts, chunkSize ?? texts.length).map((t) =>
        tf.tidy(() => this.guide.embed(t, { training: false })),
      );
      return l2Normalize(parts.length === 1 ? parts[0] : (tf.concat(parts) as tf.Tensor2D));
    });
  }

  /** The guide's masks for `batch` (frozen: computed once, outside any tape). */
  prepare(batch: TrainingBatch, options: { chunkSize?: number } = {}): LossContext {
    const k = checkBatch(batch);
    const b = batch.queries.length;
    const sims = tf.tidy(() => {
      const gq = this.guideEmbed(batch.queries, options.chunkSize);
      const gp = this.guideEmbed(batchPassages(batch), options.chunkSize);
      return tf.concat(this.blocks(gq, gp, b, k), 1);
    });
    const g = sims.dataSync();
    sims.dispose();
    const cols = g.length / b;
    const mask = new Float32Array(b * cols);
    for (let i = 0; i < b; i++) {
      const pos = g[i * cols + i];
      const threshold = this.marginStrategy === 'absolute' ? pos - this.margin : pos * (1 - this.margin);
      for (let c = 0; c < cols; c++) {
        if (c !== i && g[i * cols + c] > threshold) mask[i * cols + c] = MASKED;
      }
    }
    return new GuideMask(tf.tensor2d(mask, [b, cols]));
  }

  /** `[S_qp | S_qq | S_pp | S_qn]` of unit-length embeddings (the blocks this loss's options select). */
  private blocks(q: tf.Tensor2D, p: tf.Tensor2D, b: number, k: number): tf.Tensor2D[] {
    const d = q.shape[1];
    const pos = tf.slice(p, [0, 0], [b, d]);
    const out: tf.Tensor2D[] = [tf.matMul(q, pos, false, true)];
    if (this.contrastAnchors) out.push(tf.matMul(q, q, false, true));
    if (this.contrastPositives) out.push(tf.matMul(pos, pos, false, true));
    if (k > 0) out.push(tf.matMul(q, tf.slice(p, [b, 0], [b * k, d]), false, true));
    return out;
  }

  lossFromEmbeddings(q: tf.Tensor2D, p: tf.Tensor2D, batch: TrainingBatch, context?: LossContext): tf.Scalar {
    const k = checkBatch(batch);
    const b = batch.queries.length;
    const own = context === undefined ? this.prepare(batch) : undefined;
    const { mask } = (context ?? own) as GuideMask;
    try {
      return tf.tidy(() => {
        const s = tf.concat(this.blocks(l2Normalize(q), l2Normalize(p), b, k), 1);
        const logits = tf.add(tf.div(s, this.temperature), mask);
        const logp = tf.logSoftmax(logits);
        const diag = tf.slice(logp, [0, 0], [b, b]);
        return tf.neg(tf.div(tf.sum(tf.mul(diag, tf.eye(b))), b)) as tf.Scalar;
      });
    } finally {
      own?.dispose();
    }
  }

  computeGradients(
    queryEncoder: TrainableEncoder,
    passageEncoder: TrainableEncoder,
    batch: TrainingBatch,
    options: { dropoutSeed?: number } = {},
  ): GradientResult {
    return lossGradients(this, queryEncoder, passageEncoder, batch, options);
  }

  /**
   * This loss, for a cosine model; GISTEmbed scores with the cosine (as sentence-transformers).
   *
   * @throws {ArgumentError} `similarity` is `dot`.
   */
  forSimilarity(similarity: Similarity): GISTEmbedLoss {
    if (similarity !== 'cosine') {
      throw new ArgumentError(
        'similarity',
        `GISTEmbedLoss trains cosine similarity (as sentence-transformers), but the model's is '${similarity}'; ` +
          "use a cosine model (BiEncoder similarity 'cosine', CLI --similarity cosine)",
      );
    }
    return this;
  }

  toJSON(): Record<string, unknown> {
    return {
      kind: 'gist-embed',
      margin: this.margin,
      marginStrategy: this.marginStrategy,
      temperature: this.temperature,
      contrastAnchors: this.contrastAnchors,
      contrastPositives: this.contrastPositives,
      ...(this.miniBatchSize === undefined ? {} : { miniBatchSize: this.miniBatchSize }),
    };
  }
}

/**
 * {@link GISTEmbedLoss} with gradient caching (sentence-transformers' `CachedGISTEmbedLoss`): the same
 * value and gradients with the activation memory of `miniBatchSize` texts; the guide also embeds in
 * chunks of `miniBatchSize`.
 *
 * @throws {ArgumentError} `miniBatchSize` not an integer >= 1, or any {@link GISTEmbedLoss} option error.
 * @example
 * ```ts
 * const loss = new CachedGISTEmbedLoss(guide, { miniBatchSize: 16, margin: 0.05 });
 * ```
 */
export class CachedGISTEmbedLoss extends GISTEmbedLoss {
  declare readonly miniBatchSize: number;

  constructor(guide: GuideEncoder, options: GISTEmbedOptions & { miniBatchSize: number }) {
    super(guide, { ...options, miniBatchSize: checkMiniBatchSize(options?.miniBatchSize) });
  }
}
