import { ENGINE_CHOICES, isEngineChoice } from '../engines/types.js';
import type { EngineChoice } from '../engines/types.js';
import { ArgumentError } from '../errors.js';
import type { Bm25Index } from '../index/bm25.js';
import { ExactIndex } from '../index/exact.js';
import { HnswIndex } from '../index/hnsw.js';
import type { Metric } from '../index/types.js';
import { normalizeRows } from '../index/validate.js';
import type { BiEncoder } from '../models/bi-encoder.js';
import type { SentenceEncoder } from '../models/sentence-encoder.js';
import type { CorpusDoc, Matrix } from '../types.js';
import { checkOptionKeys, optionKeys } from '../util/options.js';
import { createProgress } from '../util/progress.js';
import { passageText } from './examples.js';
import type { MineHardNegativesOptions } from './hard-negatives.js';

/** The retriever half of {@link MineHardNegativesOptions}: ranked search and the score of given documents. */
export type MiningRetriever = Pick<MineHardNegativesOptions, 'search' | 'scoreDocuments'>;

/**
 * BM25 as a mining retriever: `search` is {@link Bm25Index.search}, `scoreDocuments` its
 * {@link Bm25Index.scoreDocuments} (the positives' BM25 scores, for the margins and the output).
 *
 * @example
 * ```ts
 * const bm25 = new Bm25Index();
 * bm25.addDocuments(corpus);
 * const negatives = await mineHardNegatives({ queries, corpus, qrels, ...bm25MiningRetriever(bm25) });
 * ```
 */
export function bm25MiningRetriever(bm25: Bm25Index): MiningRetriever {
  return {
    search: (texts, k) => bm25.search(texts, Math.min(k, bm25.size)),
    scoreDocuments: (texts, ids) => texts.map((t, i) => bm25.scoreDocuments(t, ids[i])),
  };
}

/** Which vector index a dense mining retriever searches: `auto` picks by corpus size (see below). */
export type MiningIndexKind = 'exact' | 'hnsw' | 'auto';

/*
 * Cost model of `index: 'auto'`, measured with `benchmarks/mining-index.ts` (384-d clustered unit vectors,
 * wasm backend, two busy cores, 500 queries): exact search ~220 ns per (query x document) at 20 000
 * documents (470 ns at 5 000); HNSW (M 16, efConstruction 100) ~2.1 ms per document to build and ~3.3 ms per
 * query to search at ef 120. A mining run searches each query once, so the graph pays off only when the
 * queries outnumber build / exact cost, about 10 000 of them, and the corpus is large enough (~50 000+) that
 * an exact scan costs more than a graph search: e.g. 809 SciFact queries over 5 183 documents run exact
 * (~1 s against ~13 s), 500 000 MS MARCO queries over 8.8 M passages run HNSW.
 */
const EXACT_S_PER_PAIR = 220e-9;
const HNSW_BUILD_S_PER_DOC = 2.1e-3;
const HNSW_SEARCH_S_PER_QUERY = 3.3e-3;

/**
 * The index `index: 'auto'` mines with: `hnsw` when the estimated time of building and searching the
 * graph for `queries` queries is below that of an exact scan of `docs` documents per query (the cost model
 * above), else `exact`.
 *
 * @example
 * ```ts
 * chooseMiningIndex(5_183, 809); // 'exact'
 * chooseMiningIndex(8_800_000, 500_000); // 'hnsw'
 * ```
 */
export function chooseMiningIndex(docs: number, queries: number): 'exact' | 'hnsw' {
  const exact = queries * docs * EXACT_S_PER_PAIR;
  const hnsw = docs * HNSW_BUILD_S_PER_DOC + queries * HNSW_SEARCH_S_PER_QUERY;
  return hnsw < exact ? 'hnsw' : 'exact';
}

/** Options of {@link denseMiningRetriever}. */
export interface DenseMiningRetrieverOptions {
  /** `exact`, `hnsw` or `auto` (default: by {@link chooseMiningIndex} for the corpus and `queryCount`). */
  index?: MiningIndexKind;
  /** Queries that will be searched, for `index: 'auto'`; default the corpus size. */
  queryCount?: number;
  /** Texts per forward pass. Default 32. */
  batchSize?: number;
  /** Prepended to queries; default the query tower's `query` prompt (sentence-transformers' `encode_query`). */
  queryPrompt?: string;
  /** Prepended to passages; default the passage tower's `document` (or `passage`, `corpus`) prompt. */
  documentPrompt?: string;
  /** HNSW query beam; default `max(64, 2 k)`, always >= the depth asked for. */
  ef?: number;
  /**
   * Where the towers encode (`SentenceEncoder.encode`'s `engine`): default each tower's own
   * `engine` setting, else `auto` (ONNX Runtime when installed).
   */
  engine?: EngineChoice;
  /** No progress bar while encoding the corpus. */
  quiet?: boolean;
}

const DENSEMININGRETRIEVEROPTIONS_KEYS = optionKeys<DenseMiningRetrieverOptions>({
  index: true,
  queryCount: true,
  batchSize: true,
  queryPrompt: true,
  documentPrompt: true,
  ef: true,
  engine: true,
  quiet: true,
});

/** Texts encoded per chunk between progress updates (bounds the memory of one chunk's embeddings). */
const ENCODE_CHUNK = 1024;

/**
 * A dense model as a mining retriever: the corpus (`title text`) is embedded with the passage tower and
 * indexed once (exact or HNSW, in the model's similarity); `search` embeds the queries with the query
 * tower and returns the top `k` with their similarities; `scoreDocuments` is the same similarity for given
 * documents (the positives), from the stored corpus embeddings. Prompts are the towers' own query and
 * document prompts unless given. Shows progress while encoding.
 *
 * @throws {ArgumentError} bad options, an empty corpus, a model similarity other than `dot`/`cosine`.
 * @example
 * ```ts
 * const model = await loadRetrievalModel('sentence-transformers/all-MiniLM-L6-v2');
 * const retriever = await denseMiningRetriever(model, corpus, { index: 'auto' });
 * const negatives = await mineHardNegatives({ queries, corpus, qrels, relativeMargin: 0.05, ...retriever });
 * ```
 */
export async function denseMiningRetriever(
  model: BiEncoder<SentenceEncoder>,
  corpus: CorpusDoc[],
  options: DenseMiningRetrieverOptions = {},
): Promise<MiningRetriever> {
  checkOptionKeys('denseMiningRetriever', options, DENSEMININGRETRIEVEROPTIONS_KEYS);
  if (corpus.length === 0) throw new ArgumentError('corpus', 'is empty: nothing to mine from');
  const kind = options.index ?? 'auto';
  if (kind !== 'exact' && kind !== 'hnsw' && kind !== 'auto') {
    throw new ArgumentError('index', `must be 'exact', 'hnsw' or 'auto', got '${String(kind)}'`);
  }
  const queryCount = options.queryCount ?? corpus.length;
  if (!Number.isInteger(queryCount) || queryCount < 0) {
    throw new ArgumentError('queryCount', `must be an integer >= 0, got ${queryCount}`);
  }
  if (options.engine !== undefined && !isEngineChoice(options.engine)) {
    throw new ArgumentError(
      'engine',
      `must be one of ${ENGINE_CHOICES.join(', ')}, got ${JSON.stringify(options.engine)}`,
    );
  }
  const index = kind === 'auto' ? chooseMiningIndex(corpus.length, queryCount) : kind;
  if (model.similarity !== 'dot' && model.similarity !== 'cosine') {
    throw new ArgumentError(
      'similarity',
      `mining needs a dot or cosine model, got '${String(model.similarity)}'`,
    );
  }
  const engine = options.engine;
  const metric: Metric = model.similarity === 'cosine' ? 'cosine' : 'ip';
  const batchSize = options.batchSize ?? 32;
  const prompts = (tower: SentenceEncoder): Record<string, string> => ({ ...tower.prompts });
  const queryPrompt = options.queryPrompt ?? prompts(model.queryEncoder).query ?? '';
  const p = prompts(model.passageEncoder);
  const documentPrompt = options.documentPrompt ?? p.document ?? p.passage ?? p.corpus ?? '';
  const encode = (tower: SentenceEncoder, texts: string[], prompt: string): Promise<Matrix> =>
    tower.encode(texts, { batchSize, quiet: true, progress: false, prompt, engine });

  const progress = createProgress({
    total: corpus.length,
    label: 'encode corpus',
    unit: 'texts',
    quiet: options.quiet,
  });
  let vectors: Float32Array | undefined;
  let dim = 0;
  let built: ExactIndex | HnswIndex | undefined;
  for (let s = 0; s < corpus.length; s += ENCODE_CHUNK) {
    const docs = corpus.slice(s, s + ENCODE_CHUNK);
    const m = await encode(model.passageEncoder, docs.map(passageText), documentPrompt);
    if (built === undefined) {
      dim = m.cols;
      built =
        index === 'exact'
          ? new ExactIndex({ dim, metric, capacity: corpus.length })
          : new HnswIndex({ dim, metric, capacity: corpus.length, M: 16, efConstruction: 100 });
      // HNSW keeps its own (possibly transformed) copy; the positives' scores need the plain vectors.
      if (index === 'hnsw') vectors = new Float32Array(corpus.length * dim);
    }
    await built.add(
      m,
      docs.map((d) => d.id),
    );
    if (vectors !== undefined) {
      vectors.set(m.data, s * dim);
      // Stored as the exact index stores them, so both score alike (below).
      if (metric === 'cosine') normalizeRows(vectors.subarray(s * dim, (s + docs.length) * dim), dim);
    }
    progress.tick(docs.length);
  }
  progress.done();
  const rowOf = new Map(corpus.map((d, i) => [d.id, i] as const));
  const exact = built instanceof ExactIndex ? built : undefined;
  // Unit length under cosine (the exact index stores them normalised).
  const docVector = (row: number): Float32Array =>
    exact !== undefined ? exact.vector(row) : vectors!.subarray(row * dim, (row + 1) * dim);

  // The last batch of query embeddings: scoreDocuments follows search on the same queries.
  // Under cosine they are kept normalised in float32, as the exact index normalises its queries.
  let cache = new Map<string, Float32Array>();
  const keep = (texts: string[], m: Matrix): void => {
    const data = Float32Array.from(m.data);
    if (metric === 'cosine') normalizeRows(data, m.cols);
    texts.forEach((t, i) => cache.set(t, data.subarray(i * m.cols, (i + 1) * m.cols)));
  };
  const embedQueries = async (texts: string[]): Promise<Matrix> => {
    const m = await encode(model.queryEncoder, texts, queryPrompt);
    cache = new Map();
    keep(texts, m);
    return m;
  };
  // Only the two functions: the result spreads into the mining options, which refuse other keys.
  return {
    async search(texts, k) {
      const depth = Math.min(k, corpus.length);
      const q = await embedQueries(texts);
      const ef = Math.max(options.ef ?? Math.max(64, 2 * depth), depth);
      return built!.search(q, depth, index === 'hnsw' ? { ef } : {});
    },
    async scoreDocuments(texts, ids) {
      const missing = texts.filter((t) => !cache.has(t));
      if (missing.length > 0) keep(missing, await encode(model.queryEncoder, missing, queryPrompt));
      return texts.map((t, i) => {
        const q = cache.get(t)!;
        return ids[i].map((id) => {
          const row = rowOf.get(id);
          if (row === undefined) throw new ArgumentError('ids', `document '${id}' is not in the corpus`);
          return dotFloat32(q, docVector(row));
        });
      });
    },
  };
}

/**
 * The score of a positive as the exact index computes a candidate's: the float64 sum of the products of
 * the stored float32 vectors (unit length under cosine), rounded to float32. Then a positive and a
 * negative of equal similarity compare equal in the margins.
 */
function dotFloat32(q: Float32Array, d: Float32Array): number {
  let dot = 0;
  for (let j = 0; j < q.length; j++) dot += q[j] * d[j];
  return Math.fround(dot);
}
