import type { MeasureFamily } from './measures.js';

/**
 * Per-query values of the trec_eval measures beyond the core ones of `metrics.ts` (counts, `gm_map`,
 * `Rprec`, `bpref`, `iprec_at_recall`, `infAP`, `success`), plus two measures from outside trec_eval
 * (`judged@k`, `ndcg_burges@k`). Each follows the named trec_eval source file (v10); the parity fixtures
 * of `scripts/make_trec_fixtures.py` check them against an independent implementation.
 *
 * trec_eval's view of a judged document (`form_res_rels.c`): a grade >= 1 is relevant (`-l1`), a grade of
 * 0 is judged non-relevant, a negative grade means "in the pool but not judged" (it counts neither as
 * relevant nor as non-relevant), and a document absent from the qrels is outside the pool.
 */

/** trec_eval's `MIN_GEO_MEAN`: the floor of AP before taking its log in `gm_map`. */
export const MIN_GEO_MEAN = 1e-5;
/** trec_eval's `INFAP_EPSILON`. */
const INFAP_EPSILON = 1e-5;

/** What these measures need of one query's judgements (the same fields `metrics.ts` computes once). */
export interface JudgedQuery {
  judgments: Map<string, number>;
  /** Documents with grade >= 1. */
  numRelevant: number;
  /** Judged grades > 0, descending. */
  idealGains: number[];
}

/** Families computed in this file. */
export type ExtraFamily = Exclude<
  MeasureFamily,
  'ndcg_cut' | 'ndcg' | 'map' | 'map_cut' | 'recip_rank' | 'P' | 'recall'
>;

/**
 * One measure for one query. `ranking` is in trec_eval order and `gains[i]` the grade of `ranking[i]`
 * (0 if unjudged). `k` is the cutoff (or the recall level of `iprec_at_recall`; `Infinity` if uncut).
 */
export function computeExtra(
  family: ExtraFamily,
  k: number,
  ranking: readonly string[],
  gains: readonly number[],
  q: JudgedQuery,
): number {
  switch (family) {
    case 'num_q':
      return 1;
    case 'num_ret':
      return ranking.length;
    case 'num_rel':
      return q.numRelevant;
    case 'num_rel_ret':
      return countRelevant(gains, gains.length);
    case 'gm_map':
      return Math.log(Math.max(averagePrecision(gains, q.numRelevant), MIN_GEO_MEAN));
    case 'Rprec':
      return rPrecision(gains, q.numRelevant);
    case 'bpref':
      return bpref(ranking, q);
    case 'iprec_at_recall':
      return interpolatedPrecision(gains, q.numRelevant, k);
    case 'infAP':
      return inferredAP(ranking, q);
    case 'success':
      return countRelevant(gains, k) > 0 ? 1 : 0;
    case 'judged':
      return judgedAt(ranking, q.judgments, k);
    case 'ndcg_burges':
      return ndcgExponential(gains, q.idealGains, k);
  }
}

function countRelevant(gains: readonly number[], k: number): number {
  let count = 0;
  const n = Math.min(k, gains.length);
  for (let i = 0; i < n; i++) if (gains[i] >= 1) count++;
  return count;
}

function averagePrecision(gains: readonly number[], numRelevant: number): number {
  if (numRelevant === 0) return 0;
  let sum = 0;
  let found = 0;
  for (let i = 0; i < gains.length; i++) {
    if (gains[i] >= 1) sum += ++found / (i + 1);
  }
  return sum / numRelevant;
}

/** `m_Rprec.c`: relevant documents among the top R (R = relevant documents of the query), over R. */
function rPrecision(gains: readonly number[], numRelevant: number): number {
  if (numRelevant === 0) return 0;
  return countRelevant(gains, numRelevant) / numRelevant;
}

/**
 * `m_bpref.c`: for each retrieved relevant document, 1 - min(N_above, R) / min(N, R), where N_above counts
 * judged non-relevant documents ranked above it and N all judged non-relevant (grade 0) documents of the
 * query; summed and divided by R. Unjudged and pool-unjudged documents are skipped.
 */
function bpref(ranking: readonly string[], q: JudgedQuery): number {
  if (q.numRelevant === 0) return 0;
  let numNonrel = 0;
  for (const grade of q.judgments.values()) if (grade >= 0 && grade < 1) numNonrel++;
  let nonrelAbove = 0;
  let sum = 0;
  for (const docid of ranking) {
    const grade = q.judgments.get(docid);
    if (grade === undefined || grade < 0) continue;
    if (grade < 1) {
      nonrelAbove++;
    } else if (nonrelAbove > 0) {
      sum += 1 - Math.min(nonrelAbove, q.numRelevant) / Math.min(numNonrel, q.numRelevant);
    } else {
      sum += 1;
    }
  }
  return sum / q.numRelevant;
}

/** C `lround` for the non-negative values it gets here: halves round away from zero. */
function lround(x: number): number {
  const f = Math.floor(x);
  return x - f >= 0.5 ? f + 1 : f;
}

/**
 * `m_iprec_at_recall.c`: the highest precision at any rank at or below the rank where recall first reaches
 * `level`, the level turned into a number of relevant documents with `lround(level * R)` (trec_eval v10;
 * v9 added 0.9 and truncated). 0 when the run never reaches that many relevant documents.
 */
function interpolatedPrecision(gains: readonly number[], numRelevant: number, level: number): number {
  const needed = lround(level * numRelevant);
  let found = 0;
  let best = 0;
  let reached = false;
  // One backward pass would do (as trec_eval), but the forward form makes the definition plain:
  // precision at every relevant rank from the one that reaches `needed` on.
  const precisions: number[] = [];
  for (let i = 0; i < gains.length; i++) {
    if (gains[i] >= 1) {
      found++;
      precisions.push(found / (i + 1));
      if (found >= needed) reached = true;
    }
  }
  if (!reached && needed > 0) return 0;
  const from = Math.max(needed - 1, 0);
  for (let j = from; j < precisions.length; j++) if (precisions[j] > best) best = precisions[j];
  return best;
}

/**
 * `m_infap.c` (Yilmaz & Aslam, CIKM 2006): inferred AP for judgements made on a sample of the pool, where
 * documents with a negative grade are pooled but not sampled. For the relevant document at 0-based rank
 * j > 0: 1/(j+1) + (j/(j+1)) * ((r + n + u) / j) * ((r + eps) / (r + n + 2 eps)), with r, n, u the
 * relevant, judged non-relevant and pooled-unjudged documents above it; 1 at rank 0; summed over R.
 */
function inferredAP(ranking: readonly string[], q: JudgedQuery): number {
  if (q.numRelevant === 0) return 0;
  let rel = 0;
  let nonrel = 0;
  let unjudged = 0;
  let sum = 0;
  for (let j = 0; j < ranking.length; j++) {
    const grade = q.judgments.get(ranking[j]);
    if (grade === undefined) continue;
    if (grade < 0) {
      unjudged++;
    } else if (grade < 1) {
      nonrel++;
    } else {
      if (j === 0) {
        sum += 1;
      } else {
        const above = rel + nonrel + unjudged;
        sum +=
          1 / (j + 1) +
          (j / (j + 1)) * (above / j) * ((rel + INFAP_EPSILON) / (rel + nonrel + 2 * INFAP_EPSILON));
      }
      rel++;
    }
  }
  return sum / q.numRelevant;
}

/**
 * Not trec_eval: the fraction of the top k that has a judgement (any grade), divided by k even when fewer
 * were retrieved, as ir_measures' `Judged@k`. Dense runs surface documents the pool never saw; a low value
 * warns that their scores are pessimistic.
 */
function judgedAt(ranking: readonly string[], judgments: Map<string, number>, k: number): number {
  let judged = 0;
  const n = Math.min(k, ranking.length);
  for (let i = 0; i < n; i++) if (judgments.has(ranking[i])) judged++;
  return judged / k;
}

/**
 * Not trec_eval: nDCG with exponential gain 2^grade - 1 (Burges et al., 2005), ranx's `ndcg_burges` and
 * ir_measures' `nDCG(gains=...)` variant; discount log2(rank + 1), ideal from all judged grades > 0. As in
 * trec_eval's nDCG, grades <= 0 give no gain (ranx would give a negative grade a negative gain).
 */
function ndcgExponential(gains: readonly number[], idealGains: readonly number[], k: number): number {
  const dcg = (values: readonly number[]): number => {
    let sum = 0;
    const n = Math.min(k, values.length);
    for (let i = 0; i < n; i++) if (values[i] > 0) sum += (2 ** values[i] - 1) / Math.log2(i + 2);
    return sum;
  };
  const ideal = dcg(idealGains);
  return ideal > 0 ? dcg(gains) / ideal : 0;
}
