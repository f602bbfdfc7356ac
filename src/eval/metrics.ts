import { ArgumentError } from '../errors.js';
import type { Qrels, Run } from '../types.js';
import { computeExtra } from './measures-trec.js';
import { measureAggregation, parseMeasures } from './measures.js';
import type { MeasureFamily } from './measures.js';
import { checkOptionKeys } from '../util/options.js';

/**
 * Ranking metrics with exactly trec_eval's (v9/v10) semantics, so numbers computed here can be compared
 * with published ones:
 * - a run is re-sorted by score descending, ties broken by document id descending (C `strcmp`, i.e.
 *   byte order of UTF-8); the rank column of a run file plays no part;
 * - binary measures count grade >= 1 as relevant; nDCG uses the integer grade as linear gain, discount
 *   log2(rank + 1), and the ideal DCG from all judged grades > 0 of the query, retrieved or not;
 * - a query without relevant documents scores 0.
 *
 * We compute these ourselves rather than bind trec_eval: it is C (no npm package ships it), and the
 * measures we support are short; the parity tests against an independent implementation guard them.
 */

/**
 * Compare two ids as C `strcmp` compares their UTF-8 bytes, i.e. by code point. Plain `<` on JS strings
 * compares UTF-16 code units, which orders astral characters (surrogate pairs) before U+E000..U+FFFF.
 *
 * @example
 * ```ts
 * compareIds('d10', 'd9') < 0; // true: string order, not numeric
 * ```
 */
export function compareIds(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        const xSurrogate = x <= 0xdfff;
        const ySurrogate = y <= 0xdfff;
        if (xSurrogate !== ySurrogate) return xSurrogate ? 1 : -1;
      }
      return x - y;
    }
  }
  return a.length - b.length;
}

/**
 * Order a query's documents as trec_eval does: score descending, ties broken by document id descending.
 *
 * @throws {ArgumentError} if a score is NaN (it has no place in an order).
 * @example
 * ```ts
 * rankDocuments(new Map([['a', 1], ['b', 1], ['c', 2]])); // ['c', 'b', 'a']
 * ```
 */
export function rankDocuments(scores: Map<string, number>): string[] {
  const entries = [...scores.entries()];
  for (const [docid, score] of entries) {
    if (Number.isNaN(score)) throw new ArgumentError('scores', `score of document '${docid}' is NaN`);
  }
  entries.sort((a, b) => (a[1] !== b[1] ? (a[1] > b[1] ? -1 : 1) : compareIds(b[0], a[0])));
  return entries.map((e) => e[0]);
}

/** What the metrics need from a query's judgements, computed once per query. */
interface QueryJudgements {
  judgments: Map<string, number>;
  /** Number of documents with grade >= 1. */
  numRelevant: number;
  /** Judged grades > 0, descending: the ideal ranking's gains. */
  idealGains: number[];
}

function summarize(judgments: Map<string, number>): QueryJudgements {
  let numRelevant = 0;
  const idealGains: number[] = [];
  for (const grade of judgments.values()) {
    if (grade >= 1) numRelevant++;
    if (grade > 0) idealGains.push(grade);
  }
  idealGains.sort((a, b) => b - a);
  return { judgments, numRelevant, idealGains };
}

function gainsOf(ranking: readonly string[], judgments: Map<string, number>): number[] {
  return ranking.map((docid) => judgments.get(docid) ?? 0);
}

function ndcg(gains: readonly number[], q: QueryJudgements, k: number): number {
  let dcg = 0;
  const n = Math.min(k, gains.length);
  for (let i = 0; i < n; i++) if (gains[i] > 0) dcg += gains[i] / Math.log2(i + 2);
  let ideal = 0;
  const m = Math.min(k, q.idealGains.length);
  for (let i = 0; i < m; i++) ideal += q.idealGains[i] / Math.log2(i + 2);
  return ideal > 0 ? dcg / ideal : 0;
}

function reciprocalRank(gains: readonly number[], k: number): number {
  const n = Math.min(k, gains.length);
  for (let i = 0; i < n; i++) if (gains[i] >= 1) return 1 / (i + 1);
  return 0;
}

function relevantRetrieved(gains: readonly number[], k: number): number {
  let count = 0;
  const n = Math.min(k, gains.length);
  for (let i = 0; i < n; i++) if (gains[i] >= 1) count++;
  return count;
}

function avgPrecision(gains: readonly number[], q: QueryJudgements, k: number): number {
  if (q.numRelevant === 0) return 0;
  let sum = 0;
  let found = 0;
  const n = Math.min(k, gains.length);
  for (let i = 0; i < n; i++) {
    if (gains[i] >= 1) {
      found++;
      sum += found / (i + 1);
    }
  }
  return sum / q.numRelevant;
}

function compute(
  family: MeasureFamily,
  k: number,
  gains: readonly number[],
  q: QueryJudgements,
  ranking: readonly string[] = [],
): number {
  switch (family) {
    case 'ndcg':
    case 'ndcg_cut':
      return ndcg(gains, q, k);
    case 'map':
    case 'map_cut':
      return avgPrecision(gains, q, k);
    case 'recip_rank':
      return reciprocalRank(gains, k);
    case 'P':
      return relevantRetrieved(gains, k) / k;
    case 'recall':
      return q.numRelevant === 0 ? 0 : relevantRetrieved(gains, k) / q.numRelevant;
    default:
      return computeExtra(family, k, ranking, gains, q);
  }
}

function checkCutoff(k: number, allowInfinity: boolean): void {
  if (k === Infinity && allowInfinity) return;
  if (!Number.isInteger(k) || k < 1) {
    const what = allowInfinity ? 'a positive integer or Infinity' : 'a positive integer';
    throw new ArgumentError('k', `must be ${what}, got ${k}`);
  }
}

function checkRanking(ranking: readonly string[]): void {
  if (new Set(ranking).size !== ranking.length) {
    const seen = new Set<string>();
    const dup = ranking.find((d) => (seen.has(d) ? true : (seen.add(d), false)));
    throw new ArgumentError('ranking', `document '${dup}' appears more than once`);
  }
}

function single(
  family: MeasureFamily,
  k: number,
  ranking: readonly string[],
  judgments: Map<string, number>,
): number {
  checkRanking(ranking);
  return compute(family, k, gainsOf(ranking, judgments), summarize(judgments));
}

/**
 * nDCG@k as trec_eval's `ndcg_cut.k`: gain = grade, discount log2(rank + 1), ideal DCG from all judged
 * grades > 0 of the query. `ranking` must already be in trec_eval order (see {@link rankDocuments});
 * `k = Infinity` gives trec_eval's uncut `ndcg`.
 *
 * @throws {ArgumentError} for a bad `k` or a document listed twice.
 * @example
 * ```ts
 * ndcgAt(['d1', 'd2'], new Map([['d2', 1]]), 10); // 1 / log2(3) = 0.6309...
 * ```
 */
export function ndcgAt(ranking: string[], judgments: Map<string, number>, k: number): number {
  checkCutoff(k, true);
  return single('ndcg_cut', k, ranking, judgments);
}

/**
 * Reciprocal rank of the first relevant (grade >= 1) document within the top `k`, 0 if none. trec_eval's
 * `recip_rank` is `k = Infinity`.
 *
 * @throws {ArgumentError} for a bad `k` or a document listed twice.
 * @example
 * ```ts
 * mrrAt(['d1', 'd2', 'd3'], new Map([['d3', 2]]), 10); // 1/3
 * ```
 */
export function mrrAt(ranking: string[], judgments: Map<string, number>, k: number): number {
  checkCutoff(k, true);
  return single('recip_rank', k, ranking, judgments);
}

/**
 * Recall@k as trec_eval's `recall.k`: relevant documents in the top `k` over all relevant (grade >= 1)
 * documents of the query; 0 if it has none.
 *
 * @throws {ArgumentError} for a bad `k` or a document listed twice.
 * @example
 * ```ts
 * recallAt(['d1', 'd2'], new Map([['d2', 1], ['d9', 1]]), 2); // 0.5
 * ```
 */
export function recallAt(ranking: string[], judgments: Map<string, number>, k: number): number {
  checkCutoff(k, true);
  return single('recall', k, ranking, judgments);
}

/**
 * Precision@k as trec_eval's `P.k`: relevant documents in the top `k` divided by `k`, even when fewer
 * than `k` documents were retrieved.
 *
 * @throws {ArgumentError} for a `k` that is not a positive integer, or a document listed twice.
 * @example
 * ```ts
 * precisionAt(['d1', 'd2'], new Map([['d2', 1]]), 10); // 0.1
 * ```
 */
export function precisionAt(ranking: string[], judgments: Map<string, number>, k: number): number {
  checkCutoff(k, false);
  return single('P', k, ranking, judgments);
}

/**
 * Average precision cut at `k`, as trec_eval's `map_cut.k`: the sum of precision at each relevant
 * document within the top `k`, divided by the number of relevant documents of the query (not by those
 * retrieved).
 *
 * @throws {ArgumentError} for a bad `k` or a document listed twice.
 * @example
 * ```ts
 * mapAt(['d1', 'd2'], new Map([['d2', 1], ['d9', 1]]), 10); // (1/2) / 2 = 0.25
 * ```
 */
export function mapAt(ranking: string[], judgments: Map<string, number>, k: number): number {
  checkCutoff(k, true);
  return single('map_cut', k, ranking, judgments);
}

/**
 * Average precision over the whole ranking: trec_eval's `map` for one query.
 *
 * @throws {ArgumentError} if a document is listed twice.
 * @example
 * ```ts
 * averagePrecision(['d2', 'd1', 'd3'], new Map([['d2', 1], ['d3', 1]])); // (1 + 2/3) / 2
 * ```
 */
export function averagePrecision(ranking: string[], judgments: Map<string, number>): number {
  return single('map', Infinity, ranking, judgments);
}

/**
 * Queries of `qrels` with at least one judgement. A query with an empty map has no line in a qrels file,
 * so trec_eval never sees it; counting it would make the in-memory and the file path disagree.
 */
function judgedQueryCount(qrels: Qrels): number {
  let n = 0;
  for (const judgments of qrels.values()) if (judgments.size > 0) n++;
  return n;
}

/** Options of {@link evaluateRun}. */
export interface EvaluateOptions {
  /**
   * trec_eval `-c`: average over every query of the qrels (with at least one judgement), counting those
   * missing from the run (or with no document in it) as 0.
   * Default false: average over queries present in both run and qrels.
   */
  complete?: boolean;
  /**
   * BEIR's `ignore_identical_ids`: drop a retrieved document whose id equals the query id before ranking
   * (for corpora where queries are also documents). Default false.
   */
  ignoreIdenticalIds?: boolean;
}

/** Result of {@link evaluateRun}: values keyed by trec_eval output names (`ndcg_cut_10`, `P_10`, ...). */
export interface Evaluation {
  /**
   * Per evaluated query (in both run and qrels), in run order. `num_q` is 1 and `gm_map` is
   * log(max(AP, 1e-5)), as trec_eval holds them (it prints neither per query).
   */
  perQuery: Map<string, Record<string, number>>;
  /**
   * trec_eval's `all` values: the mean over evaluated queries (over all qrels queries with `complete`),
   * except the sums `num_q`, `num_ret`, `num_rel`, `num_rel_ret` and the geometric mean `gm_map`.
   */
  mean: Record<string, number>;
  /**
   * With `complete` only: the values of the judged queries missing from the run (what trec_eval `-q -c`
   * prints for them), keyed like `perQuery`.
   */
  perQueryMissing?: Map<string, Record<string, number>>;
}

/**
 * Evaluate a run against relevance judgements, as `trec_eval -q -m ...` (with `complete`, `-c`).
 * Queries of the run without judgements are ignored; judged queries without relevant documents score 0.
 * As in trec_eval, a query exists only through its lines: a query whose map is empty (in `run` or in
 * `qrels`) is not a query, so the result is the same as after `writeRun`/`writeQrels` and reading back,
 * with `complete` too. (With `ignoreIdenticalIds`, a query whose only documents were dropped did have
 * lines and scores 0.)
 *
 * @param measures trec_eval `-m` names: `'ndcg_cut.10'`, `'map'`, `'map_cut.100'`, `'recip_rank'`,
 *   `'P.10'`, `'recall.100'`, `'ndcg'`, `'Rprec'`, `'bpref'`, `'infAP'`, `'gm_map'`, `'success.1,5,10'`,
 *   `'iprec_at_recall'`, `'num_rel'`..., `'all_trec'`, also comma lists such as `'ndcg_cut.5,10'`; and,
 *   outside trec_eval, `'judged@10'` and `'ndcg_burges@10'` (see `docs/evaluation.md`).
 * @throws {ArgumentError} for an unsupported measure (the message lists the supported ones), a NaN score,
 *   or a run that shares no query with the qrels (usually mismatched query ids).
 * @example
 * ```ts
 * const qrels = await readQrels('qrels/test.tsv');
 * const run = await readRun('dense.run');
 * const { mean } = evaluateRun(qrels, run, ['ndcg_cut.10', 'recall.100']);
 * console.log(mean.ndcg_cut_10, mean.recall_100);
 * ```
 */
export function evaluateRun(
  qrels: Qrels,
  run: Run,
  measures: string[],
  options: EvaluateOptions = {},
): Evaluation {
  checkOptionKeys('evaluateRun', options, ['complete', 'ignoreIdenticalIds']);
  const specs = parseMeasures(measures);
  const perQuery = new Map<string, Record<string, number>>();
  const sums: Record<string, number> = {};
  for (const spec of specs) sums[spec.key] = 0;
  for (const [qid, scores] of run) {
    // A query exists only through its lines (trec_eval): an empty map is no query, in run or qrels.
    if (scores.size === 0) continue;
    const judgments = qrels.get(qid);
    if (judgments === undefined || judgments.size === 0) continue;
    let kept = scores;
    if (options.ignoreIdenticalIds && scores.has(qid)) {
      kept = new Map(scores);
      kept.delete(qid);
    }
    const ranking = rankDocuments(kept);
    const gains = gainsOf(ranking, judgments);
    const q = summarize(judgments);
    const values: Record<string, number> = {};
    for (const spec of specs) {
      const v = compute(spec.family, spec.k, gains, q, ranking);
      values[spec.key] = v;
      sums[spec.key] += v;
    }
    perQuery.set(qid, values);
  }
  if (perQuery.size === 0) {
    const example = run.keys().next().value;
    throw new ArgumentError(
      'run',
      `no query of the run has judgements in the qrels (run query ids look like '${example ?? ''}')`,
    );
  }
  const missing = new Map<string, Record<string, number>>();
  if (options.complete) {
    // trec_eval -c scores a judged query missing from the run on an empty ranking: 0 for every measure
    // except its relevant count (num_rel) and gm_map's floor log(1e-5).
    for (const [qid, judgments] of qrels) {
      if (perQuery.has(qid) || judgments.size === 0) continue; // no lines, no query (as trec_eval)
      const q = summarize(judgments);
      const values: Record<string, number> = {};
      for (const spec of specs) {
        values[spec.key] = compute(spec.family, spec.k, [], q, []);
        sums[spec.key] += values[spec.key];
      }
      missing.set(qid, values);
    }
  }
  const count = options.complete ? judgedQueryCount(qrels) : perQuery.size;
  const mean: Record<string, number> = {};
  for (const spec of specs) {
    const how = measureAggregation(spec.family);
    const sum = sums[spec.key];
    mean[spec.key] = how === 'sum' ? sum : how === 'geometric' ? Math.exp(sum / count) : sum / count;
  }
  return options.complete ? { perQuery, mean, perQueryMissing: missing } : { perQuery, mean };
}
