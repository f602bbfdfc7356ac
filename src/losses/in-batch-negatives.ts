import * as tf from '@tensorflow/tfjs';
import { ArgumentError } from '../errors.js';
import type {
  EmbeddingLoss,
  GradientResult,
  RetrievalLoss,
  TrainableEncoder,
  TrainingBatch,
} from './types.js';
import { l2Normalize } from '../models/pooling.js';
import { checkOptionKeys, optionKeys } from '../util/options.js';
import { batchPassages } from './batch.js';
import { plainGradients } from './gradients.js';

// Moved to their own modules (generic over losses); re-exported for existing importers.
export { batchPassages, checkBatch } from './batch.js';
export { byVariable, uniqueVariables } from './gradients.js';

/** Similarity between query and passage embeddings. */
export type Similarity = 'dot' | 'cosine';

export const IN_BATCH_NEGATIVES_KEYS = optionKeys<InBatchNegativesOptions>({
  similarity: true,
  scale: true,
  symmetric: true,
});

/**
 * The similarity a loss takes from the model: `explicit` (the loss's own option, deprecated) must agree.
 *
 * @throws {ArgumentError} `explicit` differs from `model`.
 */
export function checkLossSimilarity(explicit: Similarity | undefined, model: Similarity): void {
  if (explicit !== undefined && explicit !== model) {
    throw new ArgumentError(
      'similarity',
      `the loss was given '${explicit}' but the model's similarity is '${model}'; the loss takes the ` +
        "model's: set it once, on the BiEncoder (or with train --similarity), and drop it from the loss",
    );
  }
}

/** Options of {@link InBatchNegativesLoss}. */
export interface InBatchNegativesOptions {
  /**
   * `dot` (DPR) or `cosine` (sentence-transformers). Deprecated: the similarity belongs to the model
   * (`BiEncoder`'s `similarity`), and the Trainer gives the loss the model's. Left out, the loss follows the
   * model (`dot` when used on its own); a value that differs from the model's is an `ArgumentError` when
   * the Trainer is built.
   */
  similarity?: Similarity;
  /**
   * Multiplies the similarities before the softmax (the inverse temperature). Default 1 for `dot` and 20
   * for `cosine`, as sentence-transformers' `MultipleNegativesRankingLoss`.
   */
  scale?: number;
  /** Also rank the queries for each positive passage and average both directions. Default false. */
  symmetric?: boolean;
}

// A masked logit: exp() of it underflows to exactly 0 and, unlike -Infinity, it keeps gradients finite.
const MASKED = -1e9;

/** Whether passages `a` and `b` (row indices of `p`) are one passage: same id or same text. */
type SamePassage = (a: number, b: number) => boolean;

function samePassage(ids: string[] | undefined, texts: string[] | undefined): SamePassage | undefined {
  if (ids === undefined && texts === undefined) return undefined;
  return (a, b) => (ids !== undefined && ids[a] === ids[b]) || (texts !== undefined && texts[a] === texts[b]);
}

/** Mean cross-entropy of `logits` rows against targets given as a one-hot matrix, plus an additive mask. */
function crossEntropy(logits: tf.Tensor2D, oneHot: tf.Tensor2D, mask: tf.Tensor2D | null): tf.Scalar {
  const masked = mask === null ? logits : tf.add(logits, mask);
  const logp = tf.logSoftmax(masked);
  return tf.neg(tf.div(tf.sum(tf.mul(logp, oneHot)), logits.shape[0])) as tf.Scalar;
}

function oneHotDiagonal(rows: number, cols: number): tf.Tensor2D {
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) data[i * cols + i] = 1;
  return tf.tensor2d(data, [rows, cols]);
}

/**
 * Softmax cross-entropy of each query against every passage of the batch (multiple negatives ranking
 * loss, DPR's in-batch negatives). With `B` queries `q_i`, their positives `p_i` and `k` hard negatives per
 * query laid out after the positives (`N = B(1 + k)` passages in all):
 *
 * ```
 * s_ij = scale * sim(q_i, p_j)                   logits [B, N]
 * s_ij = -inf   if j != i and passage j is the same passage as p_i (a false negative: masked)
 *               — "the same" means the same text or the same id, as sentence-transformers' duplicate
 *               handling compares texts, and two ids may carry one text (duplicated BEIR documents)
 * L    = -1/B * sum_i log( exp(s_ii) / sum_j exp(s_ij) )
 * ```
 *
 * `sim` is the dot product, or the cosine (both vectors L2-normalised). With `symmetric`, the loss also
 * ranks the queries for each positive, `L' = -1/B sum_j log(exp(s_jj) / sum_i exp(s_ij))` over the first
 * `B` columns, and returns `(L + L') / 2`. Every query needs at least one negative: a batch of one query
 * with no hard negatives is an error.
 *
 * @example
 * ```ts
 * const loss = new InBatchNegativesLoss(); // the Trainer gives it the model's similarity
 * const cosine = loss.forSimilarity('cosine'); // scale 20
 * const value = tf.tidy(() => cosine.compute(queryEmb, passageEmb)); // scalar
 * // or, with the gradient lifecycle owned by the library:
 * const { loss: v, grads } = loss.computeGradients(qEncoder, pEncoder, { queries, positives });
 * ```
 */
export class InBatchNegativesLoss implements RetrievalLoss, EmbeddingLoss {
  readonly similarity: Similarity;
  readonly scale: number;
  readonly symmetric: boolean;
  /** The options this loss was built with (to rebuild it for a model's similarity). */
  private readonly given: InBatchNegativesOptions;

  constructor(options: InBatchNegativesOptions = {}) {
    checkOptionKeys('InBatchNegativesLoss', options, IN_BATCH_NEGATIVES_KEYS);
    this.given = { ...options };
    const similarity = options.similarity ?? 'dot';
    if (similarity !== 'dot' && similarity !== 'cosine') {
      throw new ArgumentError('similarity', `must be 'dot' or 'cosine', got '${String(similarity)}'`);
    }
    const scale = options.scale ?? (similarity === 'cosine' ? 20 : 1);
    if (!Number.isFinite(scale) || scale <= 0) throw new ArgumentError('scale', `must be > 0, got ${scale}`);
    this.similarity = similarity;
    this.scale = scale;
    this.symmetric = options.symmetric ?? false;
  }

  /**
   * The loss of query embeddings `q` `[B, d]` against passage embeddings `p` `[B(1+k), d]` (positives
   * first, then the hard negatives grouped per query). Differentiable; returns a scalar the caller owns.
   * `passageIds` and/or `passageTexts` (one per row of `p`) enable the masking of duplicate passages: a
   * column is masked for a query when its passage has the same id or the same text as the query's positive.
   */
  compute(
    q: tf.Tensor2D,
    p: tf.Tensor2D,
    options: { passageIds?: string[]; passageTexts?: string[] } = {},
  ): tf.Scalar {
    if (q.rank !== 2 || p.rank !== 2) {
      throw new ArgumentError('embeddings', `must be 2-D, got query [${q.shape}] and passage [${p.shape}]`);
    }
    const [b, d] = q.shape;
    const [n, dp] = p.shape;
    if (d !== dp) throw new ArgumentError('embeddings', `query dim ${d} differs from passage dim ${dp}`);
    if (b === 0 || n % b !== 0 || n < b) {
      throw new ArgumentError('embeddings', `${n} passages are not B(1 + k) for B = ${b} queries`);
    }
    const k = n / b - 1;
    if (b === 1 && k === 0) {
      throw new ArgumentError(
        'batch',
        'a batch of 1 query without hard negatives has no negatives at all; use a batch size >= 2 or hard negatives',
      );
    }
    const ids = options.passageIds;
    if (ids !== undefined && ids.length !== n) {
      throw new ArgumentError('passageIds', `has ${ids.length} ids for ${n} passages`);
    }
    const texts = options.passageTexts;
    if (texts !== undefined && texts.length !== n) {
      throw new ArgumentError('passageTexts', `has ${texts.length} texts for ${n} passages`);
    }
    const same = samePassage(ids, texts);
    return tf.tidy(() => {
      const qn = this.similarity === 'cosine' ? l2Normalize(q) : q;
      const pn = this.similarity === 'cosine' ? l2Normalize(p) : p;
      const logits = tf.mul(tf.matMul(qn, pn, false, true), this.scale) as tf.Tensor2D;
      const forward = crossEntropy(logits, oneHotDiagonal(b, n), this.forwardMask(b, n, same));
      if (!this.symmetric) return forward;
      const back = tf.transpose(tf.slice(logits, [0, 0], [b, b])) as tf.Tensor2D;
      const backward = crossEntropy(back, oneHotDiagonal(b, b), this.backwardMask(b, same));
      return tf.div(tf.add(forward, backward), 2) as tf.Scalar;
    });
  }

  private forwardMask(b: number, n: number, same: SamePassage | undefined): tf.Tensor2D | null {
    if (same === undefined) return null;
    const data = new Float32Array(b * n);
    let any = false;
    for (let i = 0; i < b; i++) {
      for (let c = 0; c < n; c++) {
        if (c !== i && same(c, i)) {
          data[i * n + c] = MASKED;
          any = true;
        }
      }
    }
    return any ? tf.tensor2d(data, [b, n]) : null;
  }

  private backwardMask(b: number, same: SamePassage | undefined): tf.Tensor2D | null {
    if (same === undefined) return null;
    // Row j ranks the queries for positive j; query i is not a negative of it if its positive is the same.
    const data = new Float32Array(b * b);
    let any = false;
    for (let j = 0; j < b; j++) {
      for (let i = 0; i < b; i++) {
        if (i !== j && same(i, j)) {
          data[j * b + i] = MASKED;
          any = true;
        }
      }
    }
    return any ? tf.tensor2d(data, [b, b]) : null;
  }

  /**
   * The loss of `batch`'s embeddings (the {@link EmbeddingLoss} form of {@link compute}): duplicate
   * passages are masked by their ids and texts.
   */
  lossFromEmbeddings(q: tf.Tensor2D, p: tf.Tensor2D, batch: TrainingBatch): tf.Scalar {
    return this.compute(q, p, { passageIds: batch.passageIds, passageTexts: batchPassages(batch) });
  }

  /**
   * Loss and parameter gradients of `batch`, all texts under one gradient tape. On the wasm backend, with
   * BERT sentence encoders, a batch whose step would outgrow the 4 GiB wasm heap is refused with an
   * `ArgumentError` naming `batchSize` and a `CachedInBatchNegativesLoss` mini-batch that fits
   * (`src/train/memory.ts`).
   */
  computeGradients(
    queryEncoder: TrainableEncoder,
    passageEncoder: TrainableEncoder,
    batch: TrainingBatch,
    options: { dropoutSeed?: number } = {},
  ): GradientResult {
    return plainGradients(this, queryEncoder, passageEncoder, batch, options);
  }

  /**
   * This loss for a model of the given similarity (what the Trainer calls): itself when it already uses it,
   * else a copy with that similarity (and that similarity's default scale, unless a scale was given).
   *
   * @throws {ArgumentError} the loss was built with a different explicit `similarity`.
   */
  forSimilarity(similarity: Similarity): InBatchNegativesLoss {
    checkLossSimilarity(this.given.similarity, similarity);
    if (similarity === this.similarity) return this;
    return new InBatchNegativesLoss({ ...this.given, similarity });
  }

  toJSON(): Record<string, unknown> {
    return {
      kind: 'in-batch-negatives',
      similarity: this.similarity,
      scale: this.scale,
      symmetric: this.symmetric,
    };
  }
}
