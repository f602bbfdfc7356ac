import * as tf from '@tensorflow/tfjs';
import { ArgumentError } from '../errors.js';
import { checkOptionKeys, optionKeys } from '../util/options.js';
import { checkScores } from './batch.js';
import { lossGradients } from './gradients.js';
import { checkLossSimilarity } from './in-batch-negatives.js';
import type { Similarity } from './in-batch-negatives.js';
import { candidateScores } from './pair-scores.js';
import type {
  EmbeddingLoss,
  GradientResult,
  RetrievalLoss,
  TrainableEncoder,
  TrainingBatch,
} from './types.js';

/** Options of {@link MarginMSELoss}. */
export interface MarginMSEOptions {
  /**
   * The student's score function. Left out, the model's (the Trainer gives the loss the model's
   * similarity); `dot` when used on its own, as sentence-transformers' default `pairwise_dot_score`.
   */
  similarity?: Similarity;
}

const MARGIN_MSE_KEYS = optionKeys<MarginMSEOptions>({ similarity: true });

/**
 * Margin-MSE distillation (Hofstätter et al. 2020, "Improving Efficient Neural Ranking Models with
 * Cross-Architecture Knowledge Distillation"; sentence-transformers' `MarginMSELoss` as of v5.2, which
 * takes several negatives): the student learns the teacher's margins between the positive and each hard
 * negative, not its absolute scores. With `k` negatives per query and teacher scores `t_i0` (positive) and
 * `t_ij` (negative `j`) from `batch.scores`:
 *
 * ```
 * s_i0 = sim(q_i, p_i),  s_ij = sim(q_i, n_ij)
 * L    = 1/(B k) * sum_i sum_j ( (s_i0 - s_ij) - (t_i0 - t_ij) )^2
 * ```
 *
 * Only in-query candidates are scored (no in-batch negatives). Teacher scores are usually a cross-encoder's
 * logits; with a cosine student (scores in [-1, 1]) the teacher's margins should be on a comparable scale.
 *
 * @throws {ArgumentError} (from `computeGradients` / `lossFromEmbeddings`) a batch without `scores`
 * (`batch.scores`) or without hard negatives (`batch.negatives`).
 * @example
 * ```ts
 * const loss = new MarginMSELoss(); // the model's similarity
 * const batch = {
 *   queries: ['what is bm25'],
 *   positives: ['BM25 is a ranking function.'],
 *   negatives: [['Paris is in France.', 'Cats purr.']],
 *   scores: [[9.1, 0.3, -2.0]], // teacher: positive, then each negative
 * };
 * const { loss: value, grads } = loss.computeGradients(encoder, encoder, batch);
 * ```
 */
export class MarginMSELoss implements RetrievalLoss, EmbeddingLoss {
  readonly similarity: Similarity;
  private readonly given: MarginMSEOptions;

  constructor(options: MarginMSEOptions = {}) {
    checkOptionKeys('MarginMSELoss', options, MARGIN_MSE_KEYS);
    this.given = { ...options };
    const similarity = options.similarity ?? 'dot';
    if (similarity !== 'dot' && similarity !== 'cosine') {
      throw new ArgumentError('similarity', `must be 'dot' or 'cosine', got '${String(similarity)}'`);
    }
    this.similarity = similarity;
  }

  validate(batch: TrainingBatch): void {
    checkScores(batch, 'MarginMSELoss');
  }

  lossFromEmbeddings(q: tf.Tensor2D, p: tf.Tensor2D, batch: TrainingBatch): tf.Scalar {
    const k = checkScores(batch, 'MarginMSELoss');
    const b = batch.queries.length;
    const teacher = batch.scores as number[][];
    return tf.tidy(() => {
      const s = candidateScores(q, p, k, this.similarity);
      const student = tf.sub(tf.slice(s, [0, 0], [b, 1]), tf.slice(s, [0, 1], [b, k]));
      const labels = tf.tensor2d(
        teacher.map((row) => row.slice(1).map((t) => row[0] - t)),
        [b, k],
      );
      return tf.mean(tf.square(tf.sub(student, labels))) as tf.Scalar;
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

  /** This loss for the model's similarity; see `InBatchNegativesLoss.forSimilarity`. */
  forSimilarity(similarity: Similarity): MarginMSELoss {
    checkLossSimilarity(this.given.similarity, similarity);
    return similarity === this.similarity ? this : new MarginMSELoss({ ...this.given, similarity });
  }

  toJSON(): Record<string, unknown> {
    return { kind: 'margin-mse', similarity: this.similarity };
  }
}
