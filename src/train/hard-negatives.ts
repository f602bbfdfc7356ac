import { ArgumentError } from '../errors.js';
import type { CorpusDoc, Qrels } from '../types.js';
import { passageText } from './examples.js';
import { checkOptionKeys, optionKeys } from '../util/options.js';

const MINEHARDNEGATIVESOPTIONS_KEYS = optionKeys<MineHardNegativesOptions>({
  queries: true,
  corpus: true,
  qrels: true,
  search: true,
  rangeMin: true,
  rangeMax: true,
  count: true,
  searchBatchSize: true,
});

/** Options of {@link mineHardNegatives}. */
export interface MineHardNegativesOptions {
  /** Query id -> text. Only queries with a positive judgement are mined. */
  queries: Map<string, string>;
  /** The corpus; every id the retriever returns must be in it. */
  corpus: CorpusDoc[] | Map<string, CorpusDoc>;
  qrels: Qrels;
  /**
   * The retriever: ranked document ids (best first) for each query text, e.g. a BM25 index or a dense
   * index over the current model. Must be deterministic for the mining to be.
   */
  search: (queryTexts: string[]) => Promise<string[][]> | string[][];
  /** First rank (0-based, inclusive) to take negatives from; skipping the very top avoids unjudged positives. Default 0. */
  rangeMin?: number;
  /** Rank (exclusive) after which candidates are ignored. Default 50. */
  rangeMax?: number;
  /** Negatives per query. Default 1. */
  count?: number;
  /** Queries per `search` call. Default 256. */
  searchBatchSize?: number;
}

/**
 * Mine hard negatives from a retriever's ranking: for each query with at least one judged positive
 * (grade >= 1), the first `count` documents of ranks `[rangeMin, rangeMax)` that are not judged positives
 * for it, in rank order. Documents are compared by id and by passage text (`title text`, as trained on):
 * a document whose text equals a judged positive's (a duplicate under another id) is no negative, and two
 * picked negatives never share a text, as the batch sampler and the loss compare texts too. A query may get fewer than `count` when the range runs out. Deterministic given
 * a deterministic `search`.
 *
 * @example
 * ```ts
 * const negatives = await mineHardNegatives({
 *   queries, corpus, qrels, rangeMin: 3, rangeMax: 30, count: 1,
 *   search: (texts) => texts.map((t) => bm25.search(t, 30).map((h) => h.id)),
 * });
 * negatives.get('q1'); // ['doc42']
 * ```
 */
export async function mineHardNegatives(options: MineHardNegativesOptions): Promise<Map<string, string[]>> {
  checkOptionKeys('mineHardNegatives', options, MINEHARDNEGATIVESOPTIONS_KEYS);
  const { queries, qrels, search } = options;
  const rangeMin = options.rangeMin ?? 0;
  const rangeMax = options.rangeMax ?? 50;
  const count = options.count ?? 1;
  const searchBatchSize = options.searchBatchSize ?? 256;
  if (!Number.isInteger(rangeMin) || rangeMin < 0) {
    throw new ArgumentError('rangeMin', `must be an integer >= 0, got ${rangeMin}`);
  }
  if (!Number.isInteger(rangeMax) || rangeMax <= rangeMin) {
    throw new ArgumentError('rangeMax', `must be an integer > rangeMin (${rangeMin}), got ${rangeMax}`);
  }
  if (!Number.isInteger(count) || count < 1)
    throw new ArgumentError('count', `must be an integer >= 1, got ${count}`);
  if (!Number.isInteger(searchBatchSize) || searchBatchSize < 1) {
    throw new ArgumentError('searchBatchSize', `must be an integer >= 1, got ${searchBatchSize}`);
  }
  const docs = options.corpus instanceof Map ? [...options.corpus.values()] : options.corpus;
  const textOf = new Map(docs.map((d) => [d.id, passageText(d)] as const));

  const ids: string[] = [];
  for (const [qid, docs] of qrels) {
    if (![...docs.values()].some((g) => g >= 1)) continue;
    if (!queries.has(qid)) throw new ArgumentError('queries', `query '${qid}' of the qrels has no text`);
    ids.push(qid);
  }
  const out = new Map<string, string[]>();
  for (let start = 0; start < ids.length; start += searchBatchSize) {
    const chunk = ids.slice(start, start + searchBatchSize);
    const rankings = await search(chunk.map((id) => queries.get(id)!));
    if (!Array.isArray(rankings) || rankings.length !== chunk.length) {
      throw new ArgumentError('search', `returned ${rankings?.length} rankings for ${chunk.length} queries`);
    }
    chunk.forEach((qid, i) => {
      const judged = qrels.get(qid)!;
      const picked: string[] = [];
      const seen = new Set<string>();
      const seenTexts = new Set<string>();
      for (const [docId, grade] of judged) {
        const text = textOf.get(docId);
        if (grade >= 1 && text !== undefined) seenTexts.add(text);
      }
      for (const docId of rankings[i].slice(rangeMin, rangeMax)) {
        const text = textOf.get(docId);
        if (text === undefined) {
          throw new ArgumentError('search', `returned document '${docId}', which is not in the corpus`);
        }
        if (seen.has(docId) || seenTexts.has(text) || (judged.get(docId) ?? 0) >= 1) continue;
        seen.add(docId);
        seenTexts.add(text);
        picked.push(docId);
        if (picked.length === count) break;
      }
      out.set(qid, picked);
    });
  }
  return out;
}
