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

/** Options of {@link DistillKLDivLoss}. */
export interface DistillKLDivOptions {
  /**
   * The student's score function. Left out, the model's (the Trainer gives the loss the model's
   * similarity); `dot` when used on its own, as sentence-transformers' default `pairwise_dot_score`.
   */
  similarity?: Similarity;
  /** Softmax temperature `T` applied to both the student's and the teacher's scores; default 1. */
  temperature?: number;
}

const DISTILL_KL_KEYS = optionKeys<DistillKLDivOptions>({ similarity: true, temperature: true });

/**
 * KL-divergence distillation (sentence-transformers' `DistillKLDivLoss`, formula as of v5.2; Lin et al.
 * 2020, "Distilling Dense Representations for Ranking using Tightly-Coupled Teachers"): the student's
 * distribution over each query's candidates (its positive and `k` hard negatives) follows the teacher's.
 * With student scores `s_ij` (`j = 0` the positive) and teacher scores `t_ij` from `batch.scores`:
 *
 * ```
 * P_ij = softmax_j(t_ij / T)          log Q_ij = log_softmax_j(s_ij / T)
 * L    = T^2 * 1/B * sum_i sum_j P_ij * (log P_ij - log Q_ij)       (KL(P || Q), "batchmean")
 * ```
 *
 * The `T^2` factor keeps the gradient scale independent of the temperature (Hinton et al. 2015), as
 * sentence-transformers multiplies it in.
 *
 * @throws {ArgumentError} `temperature` not > 0; (from `computeGradients` / `lossFromEmbeddings`) a batch
 * without `scores` (`batch.scores`) or without hard negatives (`batch.negatives`).
 * @example
 * ```ts
 * const loss = new DistillKLDivLoss({ temperature: 2 });
 * const batch = {
 *   queries: ['what is bm25'],
 *   positives: ['BM25 is a ranking function.'],
 *   negatives: [['Paris is in France.', 'Cats purr.']],
 *   scores: [[9.1, 0.3, -2.0]],
 * };
 * const { loss: value, grads } = loss.computeGradients(encoder, encoder, batch);
 * ```
 */
export class DistillKLDivLoss implements RetrievalLoss, EmbeddingLoss {
  readonly similarity: Similarity;
  readonly temperature: number;
  private readonly given: DistillKLDivOptions;

  constructor(options: DistillKLDivOptions = {}) {
    checkOptionKeys('DistillKLDivLoss', options, DISTILL_KL_KEYS);
    this.given = { ...options };
    const similarity = options.similarity ?? 'dot';
    if (similarity !== 'dot' && similarity !== 'cosine') {
      throw new ArgumentError('similarity', `must be 'dot' or 'cosine', got '${String(similarity)}'`);
    }
    const temperature = options.temperature ?? 1;
    if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature <= 0) {
      throw new ArgumentError('temperature', `must be > 0, got ${temperature}`);
    }
    this.similarity = similarity;
    this.temperature = temperature;
  }

  validate(batch: TrainingBatch): void {
    checkScores(batch, 'DistillKLDivLoss');
  }

  lossFromEmbeddings(q: tf.Tensor2D, p: tf.Tensor2D, batch: TrainingBatch): tf.Scalar {
    const k = checkScores(batch, 'DistillKLDivLoss');
    const b = batch.queries.length;
    const t = this.temperature;
    return tf.tidy(() => {
      const logQ = tf.logSoftmax(tf.div(candidateScores(q, p, k, this.similarity), t));
      const logP = tf.logSoftmax(tf.div(tf.tensor2d(batch.scores as number[][], [b, 1 + k]), t));
      const kl = tf.sum(tf.mul(tf.exp(logP), tf.sub(logP, logQ)));
      return tf.mul(tf.div(kl, b), t * t) as tf.Scalar;
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
  forSimilarity(similarity: Similarity): DistillKLDivLoss {
    checkLossSimilarity(this.given.similarity, similarity);
    return similarity === this.similarity ? this : new DistillKLDivLoss({ ...this.given, similarity });
  }

  toJSON(): Record<string, unknown> {
    return { kind: 'distill-kl', similarity: this.similarity, temperature: this.temperature };
  }
}
