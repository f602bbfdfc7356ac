/**
 * The demo's data: both SciFact splits (they share one corpus), an optional small subset for `--quick`, and
 * the train/test positive overlap that decides how far the test numbers measure generalisation.
 */
import { loadBeir } from '../../src/index.js';
import type { BeirDataset, CorpusDoc, Qrels } from '../../src/index.js';

export interface StudyData {
  corpus: CorpusDoc[];
  train: BeirDataset;
  test: BeirDataset;
}

/** How many test positives the model may have seen as train positives. */
export interface PositiveOverlap {
  /** Judged-relevant (query, document) pairs of the test qrels. */
  testPositives: number;
  /** Of those, pairs whose document is a positive of some train query. */
  alsoTrainPositives: number;
  /** Test qrels restricted to the queries none of whose positives is a train positive. */
  unseenQrels: Qrels;
}

function positiveDocs(qrels: Qrels): Set<string> {
  const out = new Set<string>();
  for (const docs of qrels.values()) for (const [id, g] of docs) if (g >= 1) out.add(id);
  return out;
}

/**
 * Count the test positives that are also train positives (SciFact: 216 of 339), and keep the test queries
 * whose positives were never trained on, so that memorised documents cannot pass for generalisation.
 *
 * @example
 * ```ts
 * const { testPositives, alsoTrainPositives, unseenQrels } = positiveOverlap(train.qrels, test.qrels);
 * ```
 */
export function positiveOverlap(train: Qrels, test: Qrels): PositiveOverlap {
  const seen = positiveDocs(train);
  let testPositives = 0;
  let alsoTrainPositives = 0;
  const unseenQrels: Qrels = new Map();
  for (const [qid, docs] of test) {
    const positives = [...docs].filter(([, g]) => g >= 1).map(([id]) => id);
    testPositives += positives.length;
    const overlap = positives.filter((id) => seen.has(id)).length;
    alsoTrainPositives += overlap;
    if (positives.length > 0 && overlap === 0) unseenQrels.set(qid, docs);
  }
  return { testPositives, alsoTrainPositives, unseenQrels };
}

function firstQueries(split: BeirDataset, n: number): BeirDataset {
  const qids = [...split.qrels.keys()].slice(0, n);
  return {
    corpus: split.corpus,
    queries: new Map(qids.map((q) => [q, split.queries.get(q)!])),
    qrels: new Map(qids.map((q) => [q, split.qrels.get(q)!])),
  };
}

/**
 * Load the train and test splits. With `subset`, keep the first `testQueries` / `trainQueries` queries of
 * each split and a corpus of their judged documents plus the first `extraDocs` others (so that retrieval
 * still has distractors), in corpus order.
 */
export async function loadStudyData(
  dir: string,
  subset?: { testQueries: number; trainQueries: number; extraDocs: number },
): Promise<StudyData> {
  let train = await loadBeir(dir, { split: 'train' });
  let test = await loadBeir(dir, { split: 'test' });
  if (subset === undefined) return { corpus: test.corpus, train, test };
  train = firstQueries(train, subset.trainQueries);
  test = firstQueries(test, subset.testQueries);
  const keep = new Set([...positiveDocs(train.qrels), ...positiveDocs(test.qrels)]);
  for (const doc of test.corpus.slice(0, subset.extraDocs)) keep.add(doc.id);
  const corpus = test.corpus.filter((d) => keep.has(d.id));
  return { corpus, train: { ...train, corpus }, test: { ...test, corpus } };
}
