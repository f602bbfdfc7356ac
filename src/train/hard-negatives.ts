import { ArgumentError } from '../errors.js';
import type { CorpusDoc, Qrels } from '../types.js';
import { passageText } from './examples.js';
import { noneSkipped, selectNegatives } from './hard-negatives-select.js';
import type { NegativeFilters, NegativeSampling, SkippedCounts } from './hard-negatives-select.js';
import { checkOptionKeys, optionKeys } from '../util/options.js';
import { createProgress } from '../util/progress.js';
import { deriveSeed, Rng } from '../util/random.js';

export type { NegativeSampling, SkippedCounts } from './hard-negatives-select.js';

/**
 * What a mining retriever returns for a batch of query texts: per query, document ids best first, with
 * their scores (higher = more similar) aligned, or the ids alone (then no score filter can apply).
 */
export type MiningHits = string[][] | { ids: string[][]; scores?: ArrayLike<number>[] };

const MINEHARDNEGATIVESOPTIONS_KEYS = optionKeys<MineHardNegativesOptions>({
  queries: true,
  corpus: true,
  qrels: true,
  search: true,
  scoreDocuments: true,
  rescore: true,
  rangeMin: true,
  rangeMax: true,
  maxScore: true,
  minScore: true,
  absoluteMargin: true,
  relativeMargin: true,
  numNegatives: true,
  count: true,
  sampling: true,
  seed: true,
  searchBatchSize: true,
  quiet: true,
});

/** Options of {@link mineHardNegatives} and {@link mineHardNegativeQueries}. */
export interface MineHardNegativesOptions extends NegativeFilters {
  /** Query id -> text. Only queries with a positive judgement are mined. */
  queries: Map<string, string>;
  /** The corpus; every id the retriever returns must be in it. */
  corpus: CorpusDoc[] | Map<string, CorpusDoc>;
  /** Judgements; grade >= 1 is a positive. Every positive of a query is excluded from its negatives. */
  qrels: Qrels;
  /**
   * The retriever: the top `k` documents (best first) of the corpus for each query text, with their
   * scores, e.g. `(texts, k) => bm25.search(texts, k)` or a dense index over a model's embeddings
   * ({@link bm25MiningRetriever}, {@link denseMiningRetriever}). Returning more or fewer than `k` is
   * allowed (fewer = the ranking ends there). Must be deterministic for the mining to be.
   */
  search: (queryTexts: string[], k: number) => Promise<MiningHits> | MiningHits;
  /**
   * The retriever's score of given documents (`docIds[i]` for `queryTexts[i]`): the positives' scores,
   * which the margins compare with and the output carries. Needed for `absoluteMargin`/`relativeMargin`
   * unless `rescore` is given.
   */
  scoreDocuments?: (
    queryTexts: string[],
    docIds: string[][],
  ) => Promise<ArrayLike<number>[]> | ArrayLike<number>[];
  /**
   * A second scorer (e.g. a cross-encoder): scores of `(query, passage)` pairs, higher = more relevant,
   * aligned with `passages` (`title text`). When given, it rescores every candidate of the rank window and
   * every positive, and its scores (not the retriever's) drive the filters, the order of `sampling: 'top'`
   * and the output: sentence-transformers' `cross_encoder` argument (which it applies only when a margin or
   * `maxScore` is set; here it always applies).
   */
  rescore?: (query: string, passages: string[]) => Promise<ArrayLike<number>> | ArrayLike<number>;
  /**
   * First rank (0-based, inclusive) taken as a candidate. Ranks count in the retriever's ranking with the
   * query's judged positives and repeated texts left out, as sentence-transformers masks positives before
   * it counts. Skipping the very top avoids unjudged positives. Default 0.
   */
  rangeMin?: number;
  /**
   * Rank (exclusive) where candidates end (same counting as `rangeMin`). Default as sentence-transformers:
   * `rangeMin + 10 * numNegatives` when a score filter is set, else `rangeMin + numNegatives`.
   */
  rangeMax?: number;
  /** Negatives per query (sentence-transformers' `num_negatives`). Default 3. */
  numNegatives?: number;
  /** @deprecated The former name of `numNegatives`. */
  count?: number;
  /** `top` (default): the best-scoring eligible candidates; `random`: a seeded uniform draw from them. */
  sampling?: NegativeSampling;
  /** Seed of `sampling: 'random'` (each query draws from its own stream, whatever the batching). Default 42. */
  seed?: number;
  /** Queries per `search` call. Default 256. */
  searchBatchSize?: number;
  /** No progress bar. */
  quiet?: boolean;
}

/** One mined document with its score (the rescorer's, else the retriever's; absent when neither gave one). */
export interface MinedDocument {
  id: string;
  /** Passage text, `title text`. */
  text: string;
  score?: number;
}

/** The result for one query: its positives and the negatives mined for it (best score first). */
export interface MinedQuery {
  queryId: string;
  query: string;
  /** Every judged positive of the query (grade >= 1), in qrels order. */
  positives: MinedDocument[];
  /** Up to `numNegatives` negatives, shared by all the positives, as sentence-transformers does. */
  negatives: MinedDocument[];
}

/** Totals of a mining run (what sentence-transformers prints after mining). */
export interface MiningSummary {
  /** Queries mined (those with a positive). */
  queries: number;
  /** Queries that got fewer than `numNegatives` negatives. */
  short: number;
  /** Candidates considered (rank window entries over all queries). */
  candidates: number;
  /** Candidates removed by each filter. */
  skipped: SkippedCounts;
  /** Negatives picked. */
  negatives: number;
}

interface Resolved extends NegativeFilters {
  rangeMin: number;
  rangeMax: number;
  numNegatives: number;
  sampling: NegativeSampling;
  seed: number;
  searchBatchSize: number;
}

function resolve(options: MineHardNegativesOptions): Resolved {
  checkOptionKeys('mineHardNegatives', options, MINEHARDNEGATIVESOPTIONS_KEYS);
  const int = (name: string, value: number, min: number): number => {
    if (!Number.isInteger(value) || value < min) {
      throw new ArgumentError(name, `must be an integer >= ${min}, got ${value}`);
    }
    return value;
  };
  const finite = (name: string, value: number | undefined): number | undefined => {
    if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value))) {
      throw new ArgumentError(name, `must be a finite number, got ${String(value)}`);
    }
    return value;
  };
  if (
    options.count !== undefined &&
    options.numNegatives !== undefined &&
    options.count !== options.numNegatives
  ) {
    throw new ArgumentError('count', 'is the former name of numNegatives: give one of them');
  }
  const numNegatives = int(
    options.numNegatives === undefined && options.count !== undefined ? 'count' : 'numNegatives',
    options.numNegatives ?? options.count ?? 3,
    1,
  );
  const rangeMin = int('rangeMin', options.rangeMin ?? 0, 0);
  const filters: NegativeFilters = {
    maxScore: finite('maxScore', options.maxScore),
    minScore: finite('minScore', options.minScore),
    absoluteMargin: finite('absoluteMargin', options.absoluteMargin),
    relativeMargin: finite('relativeMargin', options.relativeMargin),
  };
  const filtered = Object.values(filters).some((v) => v !== undefined);
  const rangeMax = options.rangeMax ?? rangeMin + numNegatives * (filtered ? 10 : 1);
  if (!Number.isInteger(rangeMax) || rangeMax <= rangeMin) {
    throw new ArgumentError('rangeMax', `must be an integer > rangeMin (${rangeMin}), got ${rangeMax}`);
  }
  const sampling = options.sampling ?? 'top';
  if (sampling !== 'top' && sampling !== 'random') {
    throw new ArgumentError('sampling', `must be 'top' or 'random', got '${String(sampling)}'`);
  }
  const seed = int('seed', options.seed ?? 42, 0);
  const searchBatchSize = int('searchBatchSize', options.searchBatchSize ?? 256, 1);
  const margins = filters.absoluteMargin !== undefined || filters.relativeMargin !== undefined;
  if (margins && options.rescore === undefined && options.scoreDocuments === undefined) {
    throw new ArgumentError(
      'scoreDocuments',
      'absoluteMargin/relativeMargin compare with the positive score: give scoreDocuments (or rescore)',
    );
  }
  return { ...filters, rangeMin, rangeMax, numNegatives, sampling, seed, searchBatchSize };
}

function hitsOf(hits: MiningHits, n: number): { ids: string[][]; scores: (ArrayLike<number> | undefined)[] } {
  const ids = Array.isArray(hits) ? hits : hits?.ids;
  if (!Array.isArray(ids) || ids.length !== n) {
    throw new ArgumentError('search', `returned ${ids?.length} rankings for ${n} queries`);
  }
  const scores = Array.isArray(hits) ? [] : (hits.scores ?? []);
  return {
    ids,
    scores: ids.map((row, i) => {
      const s = scores[i];
      if (s !== undefined && s.length !== row.length) {
        throw new ArgumentError('search', `returned ${s.length} scores for ${row.length} ids (query ${i})`);
      }
      return s;
    }),
  };
}

function checkScores(name: string, scores: ArrayLike<number>, n: number): ArrayLike<number> {
  if (scores?.length !== n)
    throw new ArgumentError(name, `returned ${scores?.length} scores for ${n} documents`);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(scores[i]))
      throw new ArgumentError(name, `returned a non-finite score (${scores[i]})`);
  }
  return scores;
}

/**
 * Mine hard negatives from a retriever, query by query, on par with sentence-transformers'
 * `mine_hard_negatives`. For each query with a judged positive (grade >= 1), in qrels order:
 *
 * 1. the ranking: the retriever's ranking with every judged positive of the query, documents whose text
 *    equals a positive's (a duplicate under another id) and repeats of an earlier text left out;
 * 2. the candidates: ranks `[rangeMin, rangeMax)` of it (the retriever is asked for
 *    `rangeMax + positives` documents, and again deeper when repeats left the window short);
 * 3. scores: the retriever's, or `rescore`'s for the candidates and the positives when given;
 * 4. filters (sentence-transformers' rules, against the query's lowest positive score): a candidate is
 *    dropped when `score + absoluteMargin > positive`, `score > positive * (1 - relativeMargin)`,
 *    `score > maxScore` or `score < minScore`;
 * 5. sampling: `top` takes the `numNegatives` best-scoring eligible candidates, `random` a seeded uniform
 *    draw of `numNegatives` of them; the picks are ordered best score first.
 *
 * A query may get fewer than `numNegatives` negatives (counted in the summary). Unlike sentence-transformers,
 * whose `range_min`/`range_max` count after its score filters (so a margin slides its window down the
 * ranking), the window here is fixed on the ranking, so a negative's rank is always in
 * `[rangeMin, rangeMax)`. Memory: one batch of `searchBatchSize` queries' candidates at a time.
 *
 * Yields one {@link MinedQuery} per query; the generator's return value is the {@link MiningSummary}.
 *
 * @throws {ArgumentError} bad options; a query without text or a positive not in the corpus; a retriever
 *   or rescorer returning documents outside the corpus, misaligned or non-finite scores.
 * @example
 * ```ts
 * const bm25 = new Bm25Index();
 * bm25.addDocuments(corpus);
 * for await (const q of mineHardNegativeQueries({
 *   queries, corpus, qrels, rangeMin: 3, rangeMax: 30, numNegatives: 2, relativeMargin: 0.05,
 *   ...bm25MiningRetriever(bm25),
 * })) {
 *   q.negatives; // [{ id: 'd42', text: '...', score: 11.2 }, ...]
 * }
 * ```
 */
export async function* mineHardNegativeQueries(
  options: MineHardNegativesOptions,
): AsyncGenerator<MinedQuery, MiningSummary, undefined> {
  const o = resolve(options);
  const { queries, qrels, search, rescore, scoreDocuments } = options;
  const docs =
    options.corpus instanceof Map ? options.corpus : new Map(options.corpus.map((d) => [d.id, d] as const));
  const textOf = (id: string, name: string): string => {
    const doc = docs.get(id);
    if (doc === undefined)
      throw new ArgumentError(name, `returned document '${id}', which is not in the corpus`);
    return passageText(doc);
  };

  const ids: string[] = [];
  for (const [qid, judged] of qrels) {
    if (![...judged.values()].some((g) => g >= 1)) continue;
    if (!queries.has(qid)) throw new ArgumentError('queries', `query '${qid}' of the qrels has no text`);
    for (const [docId, grade] of judged) {
      if (grade >= 1 && !docs.has(docId)) {
        throw new ArgumentError(
          'corpus',
          `document '${docId}' (judged for query '${qid}') is not in the corpus`,
        );
      }
    }
    ids.push(qid);
  }
  const summary: MiningSummary = {
    queries: ids.length,
    short: 0,
    candidates: 0,
    skipped: noneSkipped(),
    negatives: 0,
  };
  const progress = createProgress({
    total: ids.length,
    label: 'mine',
    unit: 'queries',
    quiet: options.quiet,
  });
  const corpusSize = docs.size;

  for (let start = 0; start < ids.length; start += o.searchBatchSize) {
    const chunk = ids.slice(start, start + o.searchBatchSize);
    const texts = chunk.map((id) => queries.get(id)!);
    const positiveIds = chunk.map((qid) => [...qrels.get(qid)!].filter(([, g]) => g >= 1).map(([d]) => d));
    const windows = await candidateWindows(chunk, texts, positiveIds);
    let positiveScores: (ArrayLike<number> | undefined)[] = chunk.map(() => undefined);
    if (rescore === undefined && scoreDocuments !== undefined) {
      const got = await scoreDocuments(texts, positiveIds);
      if (!Array.isArray(got) || got.length !== chunk.length) {
        throw new ArgumentError('scoreDocuments', `returned ${got?.length} rows for ${chunk.length} queries`);
      }
      positiveScores = got.map((row, i) => checkScores('scoreDocuments', row, positiveIds[i].length));
    }
    for (let i = 0; i < chunk.length; i++) {
      const qid = chunk[i];
      const window = windows[i];
      const positives: MinedDocument[] = positiveIds[i].map((id) => ({ id, text: textOf(id, 'qrels') }));
      let scores = window.scores;
      let posScores = positiveScores[i];
      if (rescore !== undefined) {
        const passages = [...positives.map((p) => p.text), ...window.texts];
        const all = checkScores('rescore', await rescore(texts[i], passages), passages.length);
        posScores = Array.from({ length: positives.length }, (_, j) => all[j]);
        scores = Array.from({ length: window.ids.length }, (_, j) => all[positives.length + j]);
      }
      if (posScores !== undefined) positives.forEach((p, j) => (p.score = posScores[j]));
      const hardest = posScores === undefined ? undefined : Math.min(...Array.from(posScores));
      summary.candidates += window.ids.length;
      const picked = selectNegatives(scores, window.ids.length, {
        filters: o,
        positiveScore: hardest,
        numNegatives: o.numNegatives,
        sampling: o.sampling,
        rng: new Rng(deriveSeed(o.seed, start + i)),
        skipped: summary.skipped,
      });
      const negatives = picked.map((j) => ({
        id: window.ids[j],
        text: window.texts[j],
        ...(scores === undefined ? {} : { score: scores[j] }),
      }));
      summary.negatives += negatives.length;
      if (negatives.length < o.numNegatives) summary.short += 1;
      yield { queryId: qid, query: texts[i], positives, negatives };
    }
    progress.tick(chunk.length);
  }
  progress.done();
  return summary;

  /** Ranks [rangeMin, rangeMax) of each query's ranking (see step 1-2 above), with the retriever's scores. */
  async function candidateWindows(
    chunk: string[],
    texts: string[],
    positiveIds: string[][],
  ): Promise<{ ids: string[]; texts: string[]; scores: number[] | undefined }[]> {
    const out: { ids: string[]; texts: string[]; scores: number[] | undefined }[] = new Array(chunk.length);
    const most = Math.max(...positiveIds.map((p) => p.length));
    let k = Math.min(corpusSize, o.rangeMax + most);
    let pending = chunk.map((_, i) => i);
    while (pending.length > 0) {
      const hits = hitsOf(
        await search(
          pending.map((i) => texts[i]),
          k,
        ),
        pending.length,
      );
      const again: number[] = [];
      pending.forEach((qi, h) => {
        const judged = qrels.get(chunk[qi])!;
        const seenTexts = new Set(positiveIds[qi].map((id) => textOf(id, 'qrels')));
        const ranking: { id: string; text: string; score?: number }[] = [];
        const row = hits.ids[h];
        const rowScores = hits.scores[h];
        for (let r = 0; r < row.length && ranking.length < o.rangeMax; r++) {
          const text = textOf(row[r], 'search');
          if ((judged.get(row[r]) ?? 0) >= 1 || seenTexts.has(text)) continue;
          seenTexts.add(text);
          ranking.push({ id: row[r], text, score: rowScores?.[r] });
        }
        // Repeats (or positives ranked below rangeMax) ate into a full-depth answer: ask deeper.
        if (ranking.length < o.rangeMax && row.length >= k && k < corpusSize) again.push(qi);
        const window = ranking.slice(o.rangeMin);
        out[qi] = {
          ids: window.map((c) => c.id),
          texts: window.map((c) => c.text),
          scores: rowScores === undefined ? undefined : window.map((c) => c.score!),
        };
      });
      pending = again;
      k = Math.min(corpusSize, k * 2);
    }
    const filtered = [o.maxScore, o.minScore, o.absoluteMargin, o.relativeMargin].some(
      (v) => v !== undefined,
    );
    if (filtered && rescore === undefined && out.some((w) => w.scores === undefined && w.ids.length > 0)) {
      throw new ArgumentError(
        'search',
        'returned ids without scores; maxScore, minScore and the margins need scores',
      );
    }
    return out;
  }
}

/**
 * Mine hard negatives and return them by query: query id -> negative document ids, best first (see
 * {@link mineHardNegativeQueries} for the rules and every option). A query may get fewer than
 * `numNegatives` when the window runs out or the filters remove candidates.
 *
 * @throws {ArgumentError} as {@link mineHardNegativeQueries}.
 * @example
 * ```ts
 * const negatives = await mineHardNegatives({
 *   queries, corpus, qrels, rangeMin: 3, rangeMax: 30, numNegatives: 1,
 *   search: (texts, k) => bm25.search(texts, k),
 * });
 * negatives.get('q1'); // ['doc42']
 * ```
 */
export async function mineHardNegatives(options: MineHardNegativesOptions): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for await (const q of mineHardNegativeQueries(options)) {
    out.set(
      q.queryId,
      q.negatives.map((n) => n.id),
    );
  }
  return out;
}
