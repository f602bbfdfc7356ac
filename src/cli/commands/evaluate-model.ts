import { loadBeir } from '../../data/beir.js';
import {
  formatEvaluationTable,
  metricOfSimilarity,
  RECALL_WARNING,
  RetrievalEvaluator,
} from '../../eval/retrieval-evaluator.js';
import { loadRetrievalModel } from '../../models/load-retrieval-model.js';
import type { EvaluatorIndex } from '../../eval/retrieval-evaluator.js';
import { optionalChoice, optionalInt, optionalString, parseMipsTransform, requireString } from '../args.js';
import { HNSW_DEFAULTS, defaultEfSearch } from '../../index/hnsw.js';
import { MEASURED_AUTO_MIN } from '../../index/ip-space.js';
import type { Command, OptionValues } from '../command.js';
import { UsageError } from '../errors.js';
import { parseInteger } from '../../util/number.js';
import { ENGINE_CHOICES } from '../../engines/types.js';

const INDEXES: readonly EvaluatorIndex[] = ['exact', 'hnsw', 'bm25', 'pgvector'];
const DEFAULT_INDEXES: readonly EvaluatorIndex[] = ['exact', 'hnsw', 'bm25'];

function parseList(value: string | undefined, flag: string): string[] | undefined {
  if (value === undefined) return undefined;
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0) throw new UsageError(`--${flag} is empty`);
  return items;
}

/** `dense-retrieval evaluate-model`: a model (and BM25) on a BEIR dataset, indexes side by side. */
export const evaluateModelCommand: Command = {
  name: 'evaluate-model',
  summary: 'evaluate a model on a BEIR dataset with exact, HNSW and BM25 retrieval side by side',
  help: `Usage: dense-retrieval evaluate-model --model SRC --data BEIR_DIR [options]

Encode the corpus and queries of a BEIR dataset, retrieve with each index, and print nDCG@10, MRR@10,
Recall@100 and MAP@100 per index, plus recall@10 of each approximate index against exact search: if
HNSW loses nDCG, its recall@10 column says so, and a higher --ef buys it back. An untied (DPR-style)
model ('train --untied' output) embeds queries with its query tower and the corpus with its passage
tower. The dense metric is the similarity the model was trained with.

Options:
  --model SRC              model directory (tied or untied), hub id, or scratch:<config.json>
                           (random init); not needed with --index bm25
  --data BEIR_DIR          directory with corpus.jsonl, queries.jsonl, qrels/<split>.tsv (required)
  --split NAME             qrels split (default test)
  --index LIST             comma list of exact,hnsw,bm25,pgvector (default exact,hnsw,bm25)
  --ef LIST                HNSW query beam(s), e.g. 16,64,256: one row each, each >= --k
                           (default: the index's size-dependent beam, e.g. ${defaultEfSearch(5000)} at 5k and ${HNSW_DEFAULTS.efSearch} at
                           100k documents at M 48, raised to --k; the row label shows it;
                           pgvector: hnsw.ef_search, default 40)
  --metric ip|cosine       dense similarity (default: the model's, dot -> ip, cosine -> cosine;
                           ip when the model does not say); another metric is a warning
  --M N                    HNSW links per node (default ${HNSW_DEFAULTS.M})
  --ef-construction N      HNSW build beam (default ${HNSW_DEFAULTS.efConstruction})
  --database URL           pgvector on a PostgreSQL server (postgres://user:password@host:port/db) instead
                           of the embedded PGlite; the evaluator creates a table of its own and drops it
  --pg-data-dir DIR        embedded pgvector data directory (default: in memory)
  --mips-transform auto|on|off
                           HNSW graph for --metric ip: on = MIPS-to-L2 reduction, off = hnswlib's ip
                           space, auto (default) = with >= ${MEASURED_AUTO_MIN.toLocaleString('en-US')} documents, builds both graphs on a
                           sample and keeps the one with the better recall@10; with fewer (or within 0.005)
                           by the norm spread of the vectors; each loses recall on some data
                           (docs/index-tuning.md), and a row below ${RECALL_WARNING} recall@10 vs exact is flagged
                           with a warning
  --k N                    retrieval depth (default 100)
  --run-out PREFIX         write runs as PREFIX.<index>.run (TREC format)
  --max-length N           truncate texts to N tokens (default: the model's max_seq_length)
  --batch-size N           texts per forward pass (default 32)
  --seed N                 seed of a scratch: model
  --engine E               auto (default) | onnx | tfjs: where the encoders run (onnx = ONNX Runtime,
                           the optional package onnxruntime-node; auto = onnx when it is installed)
  --truncate-dim N         Matryoshka: keep the first N embedding dimensions (re-normalised if the model normalizes)
  --quiet                  no progress bars
  -h, --help               show this help
`,
  options: {
    model: { type: 'string' },
    data: { type: 'string' },
    split: { type: 'string' },
    index: { type: 'string' },
    ef: { type: 'string' },
    database: { type: 'string' },
    'pg-data-dir': { type: 'string' },
    metric: { type: 'string' },
    M: { type: 'string' },
    'ef-construction': { type: 'string' },
    'mips-transform': { type: 'string' },
    k: { type: 'string' },
    'run-out': { type: 'string' },
    'max-length': { type: 'string' },
    'batch-size': { type: 'string' },
    seed: { type: 'string' },
    'truncate-dim': { type: 'string' },
    engine: { type: 'string' },
    quiet: { type: 'boolean' },
  },
  needsBackend: true,
  async run(values) {
    const data = requireString(values, 'data');
    const indexes = (parseList(optionalString(values, 'index'), 'index') ?? [...DEFAULT_INDEXES]).map(
      (name) => {
        if (!(INDEXES as readonly string[]).includes(name)) {
          throw new UsageError(
            `--index: unknown index '${name}'; expected a comma list of ${INDEXES.join(', ')}`,
          );
        }
        return name as EvaluatorIndex;
      },
    );
    const ef = parseList(optionalString(values, 'ef'), 'ef')?.map((s) => {
      const n = parseInteger(s);
      if (n === undefined || n < 1) throw new UsageError(`--ef expects positive integers, got '${s}'`);
      return n;
    });
    if (!indexes.includes('hnsw') && !indexes.includes('pgvector')) {
      const given = ['ef', 'M', 'ef-construction'].filter((f) => values[f] !== undefined);
      if (given.length > 0) {
        throw new UsageError(
          `--${given[0]} applies to --index hnsw and pgvector only (not ${indexes.join(',')})`,
        );
      }
    }
    if (!indexes.includes('hnsw') && values['mips-transform'] !== undefined) {
      throw new UsageError(`--mips-transform applies to --index hnsw only (not ${indexes.join(',')})`);
    }
    const repeated = ef?.find((v, i) => ef.indexOf(v) !== i);
    if (repeated !== undefined) throw new UsageError(`--ef lists ${repeated} twice`);
    const metric = optionalChoice(values, 'metric', ['ip', 'cosine'] as const);
    const M = optionalInt(values, 'M', 2);
    const efConstruction = optionalInt(values, 'ef-construction', 1);
    const mipsTransform = parseMipsTransform(values);
    const k = optionalInt(values, 'k', 1);
    const maxLength = optionalInt(values, 'max-length', 3);
    const batchSize = optionalInt(values, 'batch-size', 1);
    const seed = optionalInt(values, 'seed', 0);
    const truncateDim = optionalInt(values, 'truncate-dim', 1);
    const runOut = optionalString(values, 'run-out');
    const engine = optionalChoice(values, 'engine', ENGINE_CHOICES);
    const quiet = values.quiet === true;
    const dense = indexes.some((i) => i !== 'bm25');
    const modelSource = optionalString(values, 'model');
    if (dense && modelSource === undefined) {
      throw new UsageError(`missing required option --model (needed by --index ${indexes.join(',')})`);
    }
    // Read the dataset before loading the model: a bad file should fail fast.
    const { corpus, queries, qrels } = await loadBeir(data, {
      split: optionalString(values, 'split') ?? 'test',
    });
    // Built before the model loads: a bad --ef / --k combination fails at once (with the corpus-size
    // bound on the depth, which only the data knows).
    const evaluator = new RetrievalEvaluator({
      corpus,
      queries,
      qrels,
      indexes,
      ef,
      k,
      metric,
      hnsw: { M, efConstruction, mipsTransform },
      pgvector: pgvectorOptions(values, indexes, { M, efConstruction }),
      runOut,
      batchSize,
      truncateDim,
      quiet,
    });
    const model =
      dense && modelSource !== undefined
        ? await loadRetrievalModel(modelSource, { maxSeqLength: maxLength, seed, quiet })
        : undefined;
    try {
      if (model !== undefined) {
        model.queryEncoder.engine = engine;
        model.passageEncoder.engine = engine;
        const own = metricOfSimilarity(model.similarity);
        const unit = model.queryEncoder.normalize && model.passageEncoder.normalize;
        if (metric !== undefined && metric !== own && !model.similarityIsDefault && !unit) {
          process.stderr.write(
            `dense-retrieval: warning: --metric ${metric} differs from the similarity ${modelSource} was ` +
              `trained with (${model.similarity}, metric ${own})\n`,
          );
        }
      }
      const table = await evaluator.evaluate(model);
      process.stdout.write(formatEvaluationTable(table) + '\n');
    } finally {
      model?.dispose();
    }
  },
};

function pgvectorOptions(
  values: OptionValues,
  indexes: EvaluatorIndex[],
  hnsw: { M?: number; efConstruction?: number },
): { database?: string; dataDir?: string; m?: number; efConstruction?: number } | undefined {
  const database = optionalString(values, 'database');
  const dataDir = optionalString(values, 'pg-data-dir');
  if (!indexes.includes('pgvector')) {
    if (database !== undefined || dataDir !== undefined) {
      throw new UsageError('--database and --pg-data-dir apply to --index pgvector only');
    }
    return undefined;
  }
  if (database !== undefined && dataDir !== undefined) {
    throw new UsageError('give either --database (a server) or --pg-data-dir (embedded), not both');
  }
  return { database, dataDir, m: hnsw.M, efConstruction: hnsw.efConstruction };
}
