import { ArgumentError } from '../errors.js';
import { evaluateRun } from '../eval/metrics.js';
import { ExactIndex } from '../index/exact.js';
import { searchResultToRun } from '../index/result-run.js';
import type { BiEncoder } from '../models/bi-encoder.js';
import type { CorpusDoc, Qrels } from '../types.js';
import { passageText } from './examples.js';
import { checkOptionKeys, optionKeys } from '../util/options.js';
import type { EngineChoice } from '../engines/types.js';

const EVALUATIONCALLBACKOPTIONS_KEYS = optionKeys<EvaluationCallbackOptions>({
  corpus: true,
  queries: true,
  qrels: true,
  measures: true,
  k: true,
  batchSize: true,
  engine: true,
});

/** Options of {@link createEvaluationCallback}. */
export interface EvaluationCallbackOptions {
  corpus: CorpusDoc[];
  /** Query id -> text; the judged ones are evaluated. */
  queries: Map<string, string>;
  qrels: Qrels;
  /** trec_eval measure names (default `ndcg_cut.10` and `recall.100`). */
  measures?: string[];
  /** Documents retrieved per query (default 100, or the corpus size if smaller). */
  k?: number;
  /** Texts per forward pass when encoding (default 64). */
  batchSize?: number;
  /**
   * Where the evaluation encodes: default the towers' own setting, else `auto`, which is ONNX Runtime on the
   * current weights when onnxruntime-node is installed (training itself always runs on tfjs). Exporting the
   * weights and opening a session costs about what tfjs takes to encode 5 SciFact passages, and ONNX
   * Runtime then encodes 3-4x faster, so it wins from the smallest evaluation corpus on
   * (docs/performance.md, "ONNX Runtime engine"); `tfjs` skips the export.
   */
  engine?: EngineChoice;
}

/**
 * An evaluation callback for the Trainer: encode the corpus with the passage tower and the judged queries
 * with the query tower, search exhaustively with the model's similarity, and score the run with trec_eval
 * measures. Exhaustive search so the number reflects the model, not an index's approximation. (The
 * `RetrievalEvaluator` of `eval/` compares indexes for one encoder; this callback serves the Trainer and
 * respects untied towers.)
 *
 * @example
 * ```ts
 * const dev = await loadBeir('data/scifact', { split: 'test' });
 * const trainer = new Trainer({ ..., evaluateEvery: 200, evaluate: createEvaluationCallback(dev) });
 * // train_log.jsonl then has {"step": 200, ..., "eval": {"ndcg_cut_10": 0.41, "recall_100": 0.83}}
 * ```
 */
export function createEvaluationCallback(
  options: EvaluationCallbackOptions,
): (model: BiEncoder) => Promise<Record<string, number>> {
  checkOptionKeys('createEvaluationCallback', options, EVALUATIONCALLBACKOPTIONS_KEYS);
  const { corpus, queries, qrels } = options;
  const measures = options.measures ?? ['ndcg_cut.10', 'recall.100'];
  if (corpus.length === 0) throw new ArgumentError('corpus', 'is empty');
  // A query with an empty judgement map has no qrels line: it is not a query (as in evaluateRun).
  const queryIds = [...qrels.keys()].filter((id) => queries.has(id) && qrels.get(id)!.size > 0);
  if (queryIds.length === 0) throw new ArgumentError('qrels', 'judge none of the given queries');
  const k = Math.min(options.k ?? 100, corpus.length);
  const texts = corpus.map(passageText);
  const ids = corpus.map((d) => d.id);
  const batchSize = options.batchSize ?? 64;
  const encodeOptions = { batchSize, quiet: true, engine: options.engine };
  return async (model) => {
    const docs = await model.encodePassages(texts, encodeOptions);
    const q = await model.encodeQueries(
      queryIds.map((id) => queries.get(id)!),
      encodeOptions,
    );
    const index = new ExactIndex({ dim: docs.cols, metric: model.similarity === 'cosine' ? 'cosine' : 'ip' });
    await index.add(docs, ids);
    const run = searchResultToRun(await index.search(q, k), queryIds);
    return evaluateRun(qrels, run, measures).mean;
  };
}
