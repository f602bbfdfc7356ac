import { writeRun } from '../data/run.js';
import { ArgumentError } from '../errors.js';
import { Bm25Index } from '../index/bm25.js';
import { ExactIndex } from '../index/exact.js';
import { HnswIndex } from '../index/hnsw.js';
import type { HnswIndexOptions } from '../index/hnsw.js';
import { PgvectorIndex } from '../index/pgvector.js';
import type { PgvectorIndexOptions } from '../index/pgvector.js';
import { recallOfResults } from '../index/recall.js';
import { searchResultToRun } from '../index/result-run.js';
import type { Metric, SearchResult } from '../index/types.js';
import type { CorpusDoc, Matrix, Qrels, Run } from '../types.js';
import { checkOptionKeys, optionKeys } from '../util/options.js';
import { createProgress } from '../util/progress.js';
import { evaluateRun, mrrAt, rankDocuments } from './metrics.js';
import { compareRuns } from './significance.js';
import type { SignificanceTest } from './significance.js';

/** Index kinds the evaluator can compare. */
export type EvaluatorIndex = 'exact' | 'hnsw' | 'bm25' | 'pgvector';

/**
 * Anything that turns texts into a `[n, dim]` matrix, e.g. a `SentenceEncoder`. When it says which
 * similarity it was trained with (`similarity`, sentence-transformers' `similarity_fn_name`), that is the
 * evaluator's default metric.
 */
export interface RetrievalEncoder {
  encode(
    texts: string[],
    options?: { batchSize?: number; progress?: boolean; quiet?: boolean; truncateDim?: number },
  ): Promise<Matrix>;
  /** `cosine`, `dot`, `euclidean` (-> metric `l2`); `manhattan` has no index metric. */
  readonly similarity?: string;
}

/**
 * A model with a query tower and a passage tower, e.g. a `BiEncoder` (tied or untied, DPR-style): queries
 * are embedded with `encodeQueries`, the corpus with `encodePassages`, and the model's `similarity` is the
 * evaluator's default metric.
 */
export interface RetrievalBiEncoder {
  encodeQueries(
    texts: string[],
    options?: { batchSize?: number; quiet?: boolean; truncateDim?: number },
  ): Promise<Matrix>;
  encodePassages(
    texts: string[],
    options?: { batchSize?: number; quiet?: boolean; truncateDim?: number },
  ): Promise<Matrix>;
  readonly similarity: string;
}

/**
 * The index metric of a model similarity (sentence-transformers' `similarity_fn_name` names, plus this
 * library's `dot`): `dot` -> `ip`, `cosine` -> `cosine`, `euclidean` -> `l2`; `undefined` when the model
 * does not say. `manhattan` has no index metric: an `ArgumentError`.
 *
 * @example
 * ```ts
 * metricOfSimilarity('cosine'); // 'cosine'
 * metricOfSimilarity('dot'); // 'ip'
 * ```
 */
export function metricOfSimilarity(similarity: string | undefined | null): Metric | undefined {
  if (similarity === undefined || similarity === null) return undefined;
  if (similarity === 'dot' || similarity === 'dot_product') return 'ip';
  if (similarity === 'cosine') return 'cosine';
  if (similarity === 'euclidean') return 'l2';
  throw new ArgumentError(
    'similarity',
    `'${similarity}' has no vector-index metric (supported: dot, cosine, euclidean)`,
  );
}

function isBiEncoder(e: RetrievalEncoder | RetrievalBiEncoder): e is RetrievalBiEncoder {
  return (
    typeof (e as RetrievalBiEncoder).encodeQueries === 'function' &&
    typeof (e as RetrievalBiEncoder).encodePassages === 'function'
  );
}

const OPTION_KEYS = optionKeys<RetrievalEvaluatorOptions>({
  corpus: true,
  queries: true,
  qrels: true,
  indexes: true,
  ef: true,
  k: true,
  metric: true,
  hnsw: true,
  pgvector: true,
  runOut: true,
  chunkSize: true,
  batchSize: true,
  truncateDim: true,
  quiet: true,
  significance: true,
});

/** Options of {@link RetrievalEvaluator}. */
export interface RetrievalEvaluatorOptions {
  corpus: CorpusDoc[];
  /** Query id -> text (the judged queries of the split). */
  queries: Map<string, string>;
  qrels: Qrels;
  /** Indexes to compare, in table order; default `['exact', 'hnsw', 'bm25']` (`['bm25']` without encoder). */
  indexes?: EvaluatorIndex[];
  /**
   * HNSW query beam widths, one table row each; default the index default (`hnsw.efSearch` when given,
   * else `defaultEfSearch` of the corpus size; the depth `k` when that is larger; the row label shows it). Each must be distinct and at least the depth `k`: hnswlib never
   * searches with a beam narrower than `k`, so a smaller `ef` would be a row labelled with a beam it did
   * not use.
   */
  ef?: number[];
  /** Retrieval depth per query; default 100 (what Recall@100 and MAP@100 need), at most the corpus size. */
  k?: number;
  /**
   * Similarity of the dense indexes; default the model's own (its `similarity`: `dot` -> `ip`, `cosine`,
   * `euclidean` -> `l2`), else `ip` (dot product, as DPR). The metric used is in the returned table.
   */
  metric?: Metric;
  /** Build options of the HNSW index (`M`, `efConstruction`, `seed`). */
  hnsw?: Omit<HnswIndexOptions, 'dim' | 'metric'>;
  /**
   * Where and how the `pgvector` index is built: a server `database` URL or an embedded `dataDir`
   * (default: an in-memory PGlite), pgvector's `method`/`m`/`efConstruction`/`type`. The evaluator
   * creates its own table (`dr_eval_<pid>_<random>`) and drops it afterwards; `ef` rows apply to it as
   * to `hnsw` (`hnsw.ef_search`).
   */
  pgvector?: Omit<PgvectorIndexOptions, 'dim' | 'metric' | 'table'>;
  /** Write each run as `<runOut>.<row>.run` (TREC format), e.g. `out/scifact.hnsw-ef128.run`. */
  runOut?: string;
  /** Texts per encoder call between progress updates; default 1024. */
  chunkSize?: number;
  /** Encoder batch size; default 32. */
  batchSize?: number;
  /** Matryoshka truncation passed to the encoder (corpus and queries alike); default none. */
  truncateDim?: number;
  /** Print no progress. */
  quiet?: boolean;
  /**
   * Paired test of every row against the first (the baseline) on nDCG@10, R@100 and MAP@100, Holm-corrected
   * over the rows, as `dense-retrieval compare`; default `'paired-t'`, `false` to skip.
   */
  significance?: SignificanceTest | false;
}

/** One row of the side-by-side table. */
export interface EvaluationRow {
  /** Row label: `exact`, `hnsw ef=128`, `bm25`. */
  name: string;
  index: EvaluatorIndex;
  /** HNSW only: the beam width used (at least `k`, as hnswlib requires; the constructor checks it). */
  ef?: number;
  ndcg10: number;
  mrr10: number;
  recall100: number;
  map100: number;
  /** Approximate indexes only: recall@10 of this index's top 10 against exact search's top 10. */
  recallVsExact?: number;
  /** Where the run was written, with `runOut`. */
  runFile?: string;
  /**
   * Rows after the first: Holm-corrected p-values of the paired test against the first row, and whether
   * each is below 0.05 (marked † in {@link formatEvaluationTable}).
   */
  significance?: Partial<Record<'ndcg10' | 'recall100' | 'map100', { pValue: number; significant: boolean }>>;
}

/** What {@link RetrievalEvaluator.evaluate} returns. */
export interface EvaluationTable {
  rows: EvaluationRow[];
  /** Retrieval depth used. */
  k: number;
  /** Metric of the dense indexes (absent when only BM25 ran). */
  metric?: Metric;
  documents: number;
  queries: number;
  /** With an HNSW row and metric `ip`: whether its graph used the MIPS-to-L2 reduction (see `HnswIndex`). */
  hnswMipsTransform?: boolean;
}

/**
 * Recall@10 against exact search below which {@link formatEvaluationTable} prints a warning: the defaults
 * are documented to reach 0.98 (docs/index-tuning.md), and an nDCG read from a row below this is the index's
 * loss, not the model's.
 */
export const RECALL_WARNING = 0.95;

const ROW_MEASURES = ['ndcg_cut.10', 'recall.100', 'map_cut.100'];

/**
 * Score a run: nDCG@10, Recall@100, MAP@100 as trec_eval (`ndcg_cut.10`, `recall.100`, `map_cut.100`), and
 * MRR@10 as trec_eval's `recip_rank` over the top 10, averaged over the run's judged queries.
 */
function scoreRun(qrels: Qrels, run: Run): Pick<EvaluationRow, 'ndcg10' | 'mrr10' | 'recall100' | 'map100'> {
  const { mean, perQuery } = evaluateRun(qrels, run, ROW_MEASURES);
  // MRR@10 over exactly the queries evaluateRun evaluated (queries exist only through their lines).
  let mrr = 0;
  let n = 0;
  for (const qid of perQuery.keys()) {
    mrr += mrrAt(rankDocuments(run.get(qid)!), qrels.get(qid)!, 10);
    n++;
  }
  return {
    ndcg10: mean.ndcg_cut_10,
    mrr10: n > 0 ? mrr / n : 0,
    recall100: mean.recall_100,
    map100: mean.map_cut_100,
  };
}

/**
 * Evaluates a dense encoder (and BM25) on a BEIR-style collection with several indexes side by side:
 * encodes corpus and queries in chunks with progress, searches each index, writes TREC runs, and scores
 * them with the trec_eval-exact metrics. Each approximate row also shows its recall@10 against exact
 * search, so an nDCG drop can be traced to the index (raise `ef`) rather than the model.
 *
 * @example
 * ```ts
 * import { RetrievalEvaluator, SentenceEncoder, loadBeir, formatEvaluationTable } from 'dense-retrieval';
 * const { corpus, queries, qrels } = await loadBeir('scifact', { split: 'test' });
 * const evaluator = new RetrievalEvaluator({ corpus, queries, qrels, indexes: ['exact', 'hnsw', 'bm25'], ef: [32, 128] });
 * const table = await evaluator.evaluate(await SentenceEncoder.load('models/minilm'));
 * console.log(formatEvaluationTable(table));
 * ```
 */
export class RetrievalEvaluator {
  private readonly opts: RetrievalEvaluatorOptions;
  private readonly runs = new Map<EvaluationRow, Run>();

  /**
   * @throws {ArgumentError} unknown option keys, an empty corpus or query set, an unknown index, `ef`
   *   values that are not positive, repeated, or below the depth `min(k, corpus size)`.
   */
  constructor(opts: RetrievalEvaluatorOptions) {
    checkOptionKeys('RetrievalEvaluator', opts, OPTION_KEYS);
    if (opts.corpus.length === 0) throw new ArgumentError('corpus', 'is empty');
    if (opts.queries.size === 0) throw new ArgumentError('queries', 'is empty');
    for (const name of opts.indexes ?? []) {
      if (!['exact', 'hnsw', 'bm25', 'pgvector'].includes(name)) {
        throw new ArgumentError('indexes', `unknown index '${name}'; expected exact, hnsw, bm25 or pgvector`);
      }
    }
    for (const ef of opts.ef ?? []) {
      if (!Number.isInteger(ef) || ef < 1)
        throw new ArgumentError('ef', `must be positive integers, got ${ef}`);
    }
    if (opts.k !== undefined && (!Number.isInteger(opts.k) || opts.k < 1)) {
      throw new ArgumentError('k', `must be a positive integer, got ${opts.k}`);
    }
    const efs = opts.ef ?? [];
    const approximate = (opts.indexes ?? ['hnsw']).some((i) => i === 'hnsw' || i === 'pgvector');
    if (efs.length > 0 && !approximate) {
      throw new ArgumentError(
        'ef',
        'applies to the hnsw and pgvector indexes only (exact and bm25 have no beam)',
      );
    }
    if ((opts.hnsw as { truncateDim?: unknown } | undefined)?.truncateDim !== undefined) {
      // The exact reference of the recall column would then rank other vectors than the graph.
      throw new ArgumentError(
        'hnsw.truncateDim',
        "use the evaluator's truncateDim: it truncates the embeddings every index (and the exact reference) searches",
      );
    }
    const repeated = efs.find((ef, i) => efs.indexOf(ef) !== i);
    if (repeated !== undefined) throw new ArgumentError('ef', `lists ${repeated} twice`);
    const depth = Math.min(opts.k ?? 100, opts.corpus.length);
    const narrow = efs.filter((ef) => ef < depth);
    if (narrow.length > 0) {
      throw new ArgumentError(
        'ef',
        `${narrow.join(', ')} ${narrow.length > 1 ? 'are' : 'is'} below the retrieval depth k = ${depth}` +
          `${depth < (opts.k ?? 100) ? ' (the corpus size)' : ''}; hnswlib searches with a beam of at least k, ` +
          `so give ef >= ${depth} or a smaller k`,
      );
    }
    this.opts = opts;
  }

  /**
   * Run every configured index and return the table; `encoder` is required for `exact` and `hnsw`. A
   * {@link RetrievalBiEncoder} (e.g. an untied `BiEncoder`) embeds queries with its query tower and the
   * corpus with its passage tower; a plain {@link RetrievalEncoder} embeds both.
   *
   * @throws {ArgumentError} dense indexes without an encoder; a model similarity without an index metric.
   */
  async evaluate(encoder?: RetrievalEncoder | RetrievalBiEncoder): Promise<EvaluationTable> {
    const { corpus, queries, quiet } = this.opts;
    const indexes = this.opts.indexes ?? (encoder ? ['exact', 'hnsw', 'bm25'] : ['bm25']);
    const dense = indexes.filter((i) => i !== 'bm25');
    if (dense.length > 0 && encoder === undefined) {
      throw new ArgumentError(
        'encoder',
        `indexes ${dense.join(', ')} need an encoder (only bm25 works without)`,
      );
    }
    const k = Math.min(this.opts.k ?? 100, corpus.length);
    this.runs.clear();
    const queryIds = [...queries.keys()];
    const queryTexts = queryIds.map((q) => queries.get(q)!);
    const rows: EvaluationRow[] = [];
    let exactTop: SearchResult | undefined;
    let metric: Metric | undefined;
    let hnswMipsTransform: boolean | undefined;

    if (dense.length > 0 && encoder !== undefined) {
      metric = this.opts.metric ?? metricOfSimilarity(encoder.similarity) ?? 'ip';
      const { docs, qs } = await this.encodeAll(encoder, queryTexts);
      // Exact search always runs when an approximate index is compared: it is the recall reference.
      const exact = new ExactIndex({ dim: docs.cols, metric });
      await exact.add(
        docs,
        corpus.map((d) => d.id),
      );
      exactTop = await exact.search(qs, k);
      if (indexes.includes('exact')) rows.push(await this.row('exact', 'exact', exactTop, queryIds));
      if (indexes.includes('hnsw')) {
        const hnsw = new HnswIndex({ ...this.opts.hnsw, dim: docs.cols, metric, capacity: corpus.length });
        const progress = createProgress({ total: corpus.length, label: 'hnsw build', unit: 'docs', quiet });
        const step = 1000;
        for (let s = 0; s < corpus.length; s += step) {
          const e = Math.min(corpus.length, s + step);
          await hnsw.add(
            { data: docs.data.subarray(s * docs.cols, e * docs.cols), rows: e - s, cols: docs.cols },
            corpus.slice(s, e).map((d) => d.id),
          );
          progress.tick(e - s);
        }
        progress.done();
        if (metric === 'ip') hnswMipsTransform = hnsw.mipsTransform;
        // Explicit beams are >= k (checked in the constructor); only the index default may be raised.
        for (const ef of this.opts.ef ?? [Math.max(hnsw.efSearch, k)]) {
          const result = await hnsw.search(qs, k, { ef });
          const row = await this.row(`hnsw ef=${ef}`, 'hnsw', result, queryIds, `hnsw-ef${ef}`);
          row.ef = ef;
          row.recallVsExact = recallOfResults(result.ids, exactTop.ids, Math.min(10, k));
          rows.push(row);
        }
      }
      if (indexes.includes('pgvector'))
        rows.push(...(await this.pgvectorRows(docs, qs, k, metric, queryIds, exactTop)));
    }
    if (indexes.includes('bm25')) {
      const bm25 = new Bm25Index();
      const progress = createProgress({ total: corpus.length, label: 'bm25 index', unit: 'docs', quiet });
      for (let s = 0; s < corpus.length; s += 1000) {
        bm25.addDocuments(corpus.slice(s, s + 1000));
        progress.tick(Math.min(1000, corpus.length - s));
      }
      progress.done();
      rows.push(await this.row('bm25', 'bm25', bm25.search(queryTexts, k), queryIds));
    }
    // Rows in the order the caller listed the indexes.
    rows.sort((a, b) => indexes.indexOf(a.index) - indexes.indexOf(b.index));
    if (this.opts.significance !== false)
      markSignificance(rows, this.runs, this.opts.qrels, this.opts.significance);
    return { rows, k, metric, documents: corpus.length, queries: queryIds.length, hnswMipsTransform };
  }

  /** One row per `ef`: pgvector's approximate index on a table of its own, dropped afterwards. */
  private async pgvectorRows(
    docs: Matrix,
    qs: Matrix,
    k: number,
    metric: Metric,
    queryIds: string[],
    exactTop: SearchResult,
  ): Promise<EvaluationRow[]> {
    const { corpus, quiet } = this.opts;
    const table = `dr_eval_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    const pg = await PgvectorIndex.open({ ...this.opts.pgvector, dim: docs.cols, metric, table, quiet });
    const rows: EvaluationRow[] = [];
    try {
      await pg.add(
        docs,
        corpus.map((d) => d.id),
      );
      await pg.createIndex();
      for (const ef of this.opts.ef ?? [this.opts.pgvector?.efSearch ?? 40]) {
        const result = await pg.search(qs, k, { ef });
        const used = Math.max(ef, k);
        const row = await this.row(`pgvector ef=${used}`, 'pgvector', result, queryIds, `pgvector-ef${used}`);
        row.ef = used;
        row.recallVsExact = recallOfResults(result.ids, exactTop.ids, Math.min(10, k));
        rows.push(row);
      }
    } finally {
      await pg.dropTable().catch(() => undefined);
      await pg.close();
    }
    return rows;
  }

  private async encodeAll(
    encoder: RetrievalEncoder | RetrievalBiEncoder,
    queryTexts: string[],
  ): Promise<{ docs: Matrix; qs: Matrix }> {
    const { corpus, quiet } = this.opts;
    const chunk = this.opts.chunkSize ?? 1024;
    const batchSize = this.opts.batchSize ?? 32;
    const progress = createProgress({
      total: corpus.length + queryTexts.length,
      label: 'encode',
      unit: 'texts',
      quiet,
    });
    let docs: Matrix | undefined;
    for (let s = 0; s < corpus.length; s += chunk) {
      // BEIR's convention for sentence-transformers models: title and text joined by a space.
      const texts = corpus.slice(s, s + chunk).map((d) => (d.title ? `${d.title} ${d.text}` : d.text));
      const m = isBiEncoder(encoder)
        ? await encoder.encodePassages(texts, { batchSize, quiet: true, truncateDim: this.opts.truncateDim })
        : await encoder.encode(texts, {
            batchSize,
            quiet: true,
            progress: false,
            truncateDim: this.opts.truncateDim,
          });
      if (m.rows !== texts.length) {
        throw new ArgumentError('encoder', `returned ${m.rows} vectors for ${texts.length} texts`);
      }
      if (docs === undefined)
        docs = { data: new Float32Array(corpus.length * m.cols), rows: corpus.length, cols: m.cols };
      docs.data.set(m.data, s * m.cols);
      progress.tick(texts.length);
    }
    const qs = isBiEncoder(encoder)
      ? await encoder.encodeQueries(queryTexts, {
          batchSize,
          quiet: true,
          truncateDim: this.opts.truncateDim,
        })
      : await encoder.encode(queryTexts, {
          batchSize,
          quiet: true,
          progress: false,
          truncateDim: this.opts.truncateDim,
        });
    progress.tick(queryTexts.length);
    progress.done();
    return { docs: docs!, qs };
  }

  private async row(
    name: string,
    index: EvaluatorIndex,
    result: SearchResult,
    queryIds: string[],
    fileTag: string = index,
  ): Promise<EvaluationRow> {
    const run = searchResultToRun(result, queryIds);
    const row: EvaluationRow = { name, index, ...scoreRun(this.opts.qrels, run) };
    this.runs.set(row, run);
    if (this.opts.runOut !== undefined) {
      row.runFile = `${this.opts.runOut}.${fileTag}.run`;
      await writeRun(row.runFile, run, { tag: fileTag });
    }
    return row;
  }
}

const SIGNIFICANCE_MEASURES = {
  ndcg10: 'ndcg_cut.10',
  recall100: 'recall.100',
  map100: 'map_cut.100',
} as const;

/** Test every row against the first on the table's trec_eval measures (see `significance` option). */
function markSignificance(
  rows: EvaluationRow[],
  runs: Map<EvaluationRow, Run>,
  qrels: Qrels,
  test: SignificanceTest = 'paired-t',
): void {
  if (rows.length < 2) return;
  const named = new Map(rows.map((r) => [r.name, runs.get(r) as Run]));
  for (const [field, measure] of Object.entries(SIGNIFICANCE_MEASURES) as [
    keyof typeof SIGNIFICANCE_MEASURES,
    string,
  ][]) {
    let result;
    try {
      result = compareRuns(qrels, named, { measure, test, correction: 'holm', baseline: rows[0].name });
    } catch (error) {
      if (error instanceof ArgumentError) return; // e.g. fewer than two judged queries: nothing to test
      throw error;
    }
    for (const pair of result.pairs) {
      const row = rows.find((r) => r.name === pair.run) as EvaluationRow;
      row.significance = {
        ...row.significance,
        [field]: { pValue: pair.pValueCorrected, significant: pair.significant },
      };
    }
  }
}

/**
 * The table as aligned text: one row per index with nDCG@10, MRR@10, Recall@100, MAP@100 and, for
 * approximate indexes, recall@10 against exact search. † marks a value that differs significantly from
 * the first row (paired test, Holm-corrected, p < 0.05).
 *
 * @example
 * ```ts
 * console.log(formatEvaluationTable(await evaluator.evaluate(encoder)));
 * // index        nDCG@10  MRR@10  R@100   MAP@100  R@10 vs exact
 * // exact        0.6451   0.6102  0.9253  0.6001   -
 * ```
 */
export function formatEvaluationTable(table: EvaluationTable): string {
  const header = ['index', 'nDCG@10', 'MRR@10', 'R@100', 'MAP@100', 'R@10 vs exact'];
  const mark = (r: EvaluationRow, field: keyof typeof SIGNIFICANCE_MEASURES): string =>
    r[field].toFixed(4) + (r.significance?.[field]?.significant ? '†' : '');
  const body = table.rows.map((r) => [
    r.name,
    mark(r, 'ndcg10'),
    r.mrr10.toFixed(4),
    mark(r, 'recall100'),
    mark(r, 'map100'),
    r.recallVsExact === undefined ? '-' : r.recallVsExact.toFixed(4),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  const notes = [
    `${table.documents} documents, ${table.queries} queries, depth ${table.k}` +
      `${table.metric === undefined ? '' : `, metric ${table.metric}`}`,
  ];
  if (table.k < 100) notes.push(`note: depth ${table.k} < 100, so R@100 and MAP@100 are cut at ${table.k}`);
  if (table.rows.some((r) => r.significance !== undefined) && table.rows.length > 1) {
    notes.push(`† differs from ${table.rows[0].name} (paired test, Holm-corrected over the rows, p < 0.05)`);
  }
  if (table.hnswMipsTransform !== undefined) {
    notes.push(`hnsw ip graph: ${table.hnswMipsTransform ? 'MIPS-to-L2 reduction' : "hnswlib's ip space"}`);
  }
  // An approximate row far below exact search must not pass for the model's quality.
  for (const r of table.rows) {
    if (r.recallVsExact === undefined || r.recallVsExact >= RECALL_WARNING) continue;
    const other =
      table.hnswMipsTransform === undefined
        ? ''
        : `, or try the other ip graph (--mips-transform ${table.hnswMipsTransform ? 'off' : 'on'})`;
    notes.push(
      `warning: ${r.name} finds ${r.recallVsExact.toFixed(3)} of exact search's top 10 (< ${RECALL_WARNING}); ` +
        `its nDCG understates the model: raise --ef${other}`,
    );
  }
  return [line(header), ...body.map(line), ...notes].join('\n');
}
