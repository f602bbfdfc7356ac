/**
 * Command-line options of `npm run bench` (benchmarks/run.ts), parsed with node's own `util.parseArgs`.
 * Defaults are the issue-6 shapes; `--quick` shrinks every case for a smoke run; explicit flags override
 * both, which is how the unit test runs a tiny model.
 */
import { parseArgs } from 'node:util';
import os from 'node:os';
import path from 'node:path';

export const CASES = [
  'train',
  'encode',
  'index',
  'quantized',
  'pgvector',
  'startup',
  'architectures',
  'onnx',
] as const;
export type CaseName = (typeof CASES)[number];
/** What runs without --cases: pgvector (an embedded PostgreSQL build of the same index) is asked for. */
export const DEFAULT_CASES: readonly CaseName[] = [
  'train',
  'encode',
  'index',
  'quantized',
  'startup',
  'architectures',
  'onnx',
];

/** A BERT shape, with the field names every JSON row carries. */
export interface Shape {
  layers: number;
  hidden: number;
  heads: number;
  intermediate: number;
  vocab: number;
}

export interface BenchOptions {
  json: boolean;
  quick: boolean;
  cases: CaseName[];
  backend: string;
  reference: boolean;
  /** Threads of torch and faiss in the reference; 0 = their defaults. */
  refThreads: number;
  resultsDir: string;
  shape: Shape;
  /**
   * `miniBatch` < `batchSize` trains with gradient caching (CachedInBatchNegativesLoss); the default is the
   * plain loss, as PyTorch runs it. Since one tape node per BERT layer (~311 KB per token of a step), a plain
   * MiniLM-L6 step at batch 32 x seq 128 needs ~3 GB of the wasm heap's 4 GB (docs/training.md); before, it
   * needed ~2 MB per token and only gradient caching in chunks of 4 fitted.
   */
  train: { seqLen: number; batchSize: number; steps: number; warmup: number; miniBatch: number };
  encode: { seqLen: number; batchSize: number; corpus: number; texts: number; workers: number[] };
  index: {
    vectors: number;
    queries: number;
    dim: number;
    k: number;
    M: number;
    efConstruction: number;
    ef: number[];
    /** 0: uniform random unit vectors (the case); r > 0: vectors of intrinsic dimension r. */
    rank: number;
  };
  /** `evaluate-model` of the onnx case: SciFact slice size and max length. */
  evaluate: { docs: number; queries: number; maxLength: number };
  /** CLI start-up (needs `npm run build`): runs per command. */
  startup: { runs: number };
}

export const USAGE = `Usage: npm run bench -- [options]

  --cases LIST          train,encode,index,quantized,pgvector,startup,architectures (default all but
                        pgvector; quantized = int8/binary + rescoring; pgvector builds pgvector's HNSW in an
                        embedded PGlite on the index case's data: run --cases index,pgvector to see it beside
                        HnswIndex and faiss; startup runs the built CLI; architectures times each supported
                        encoder family against BERT; onnx = the ONNX Runtime engine, transformers.js and
                        PyTorch on the encode case's texts, then evaluate-model --engine onnx vs tfjs)
  --quick               small sizes: a smoke run in under a minute
  --json                one JSON object per benchmark on stdout (progress goes to stderr)
  --backend NAME        wasm | cpu | tensorflow | auto (default: $DENSE_RETRIEVAL_BACKEND or auto)
  --no-reference        do not run the PyTorch/faiss reference script
  --ref-threads N       torch/faiss threads of the reference (default 0: the libraries' defaults)
  --results-dir DIR     where <date>.jsonl goes (default benchmarks/results)
  shape:  --layers N --hidden N --heads N --intermediate N --vocab N
  train:  --train-seq N --train-batch N --steps N --warmup N --mini-batch N (gradient caching below the batch)
  encode: --encode-seq N --encode-batch N --encode-corpus N --encode-texts N --workers LIST
  index:  --vectors N --queries N --dim N --M N --ef-construction N --ef LIST
          --rank R (vectors of intrinsic dimension R instead of uniform random ones)
  onnx:   --eval-docs N --eval-queries N --eval-max-length N (evaluate-model's SciFact slice; default
          500 docs, 50 queries, 256 tokens)
  startup: --startup-runs N (timed runs per command; default 10, 3 with --quick)
`;

function int(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`--${name}: expected a positive integer, got '${value}'`);
  return n;
}

function intList(name: string, value: string | undefined, fallback: number[]): number[] {
  if (value === undefined) return fallback;
  return value.split(',').map((v) => int(name, v.trim(), 0));
}

/** Parse `argv` (without node and the script). Throws with a one-line message on bad input. */
export function parseBenchOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      json: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
      cases: { type: 'string' },
      backend: { type: 'string' },
      'no-reference': { type: 'boolean', default: false },
      'ref-threads': { type: 'string' },
      'results-dir': { type: 'string' },
      layers: { type: 'string' },
      hidden: { type: 'string' },
      heads: { type: 'string' },
      intermediate: { type: 'string' },
      vocab: { type: 'string' },
      'train-seq': { type: 'string' },
      'train-batch': { type: 'string' },
      steps: { type: 'string' },
      warmup: { type: 'string' },
      'mini-batch': { type: 'string' },
      'encode-seq': { type: 'string' },
      'encode-batch': { type: 'string' },
      'encode-corpus': { type: 'string' },
      'encode-texts': { type: 'string' },
      workers: { type: 'string' },
      vectors: { type: 'string' },
      queries: { type: 'string' },
      dim: { type: 'string' },
      M: { type: 'string' },
      'ef-construction': { type: 'string' },
      ef: { type: 'string' },
      rank: { type: 'string' },
      'startup-runs': { type: 'string' },
      'eval-docs': { type: 'string' },
      'eval-queries': { type: 'string' },
      'eval-max-length': { type: 'string' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const quick = values.quick === true;
  const cases = (values.cases ?? DEFAULT_CASES.join(',')).split(',').map((c) => c.trim());
  for (const c of cases) {
    if (!(CASES as readonly string[]).includes(c)) {
      throw new Error(`--cases: unknown case '${c}'; expected a list of ${CASES.join(', ')}`);
    }
  }
  const shape: Shape = {
    layers: int('layers', values.layers, quick ? 2 : 6),
    hidden: int('hidden', values.hidden, 384),
    heads: int('heads', values.heads, 12),
    intermediate: int('intermediate', values.intermediate, 1536),
    vocab: int('vocab', values.vocab, 30522),
  };
  if (shape.hidden % shape.heads !== 0) {
    throw new Error(`--hidden ${shape.hidden} is not a multiple of --heads ${shape.heads}`);
  }
  const corpus = int('encode-corpus', values['encode-corpus'], quick ? 200 : 2000);
  // 128 = 4 batches of 32, which 2 workers split evenly.
  const encodeTexts = int('encode-texts', values['encode-texts'], quick ? 32 : 128);
  if (encodeTexts > corpus)
    throw new Error(`--encode-texts ${encodeTexts} exceeds --encode-corpus ${corpus}`);
  const vectors = int('vectors', values.vectors, quick ? 5000 : 100_000);
  const k = 10;
  if (vectors < k) throw new Error(`--vectors must be at least ${k}`);
  return {
    json: values.json === true,
    quick,
    cases: cases as CaseName[],
    backend: values.backend ?? process.env.DENSE_RETRIEVAL_BACKEND ?? 'auto',
    reference: values['no-reference'] !== true,
    // Not the core count: Debian's torch uses 1 OpenMP thread by default while OpenBLAS already runs matmuls
    // on every core, and 2 OpenMP threads on top of that were 9x slower on this shared machine.
    refThreads: values['ref-threads'] === undefined ? 0 : int('ref-threads', values['ref-threads'], 0),
    resultsDir: values['results-dir'] ?? path.join(import.meta.dirname, '..', 'results'),
    shape,
    train: {
      seqLen: int('train-seq', values['train-seq'], quick ? 32 : 128),
      batchSize: int('train-batch', values['train-batch'], quick ? 8 : 32),
      steps: int('steps', values.steps, 1),
      warmup: int('warmup', values.warmup, 1),
      miniBatch: int('mini-batch', values['mini-batch'], Number.MAX_SAFE_INTEGER),
    },
    encode: {
      seqLen: int('encode-seq', values['encode-seq'], quick ? 64 : 256),
      batchSize: int('encode-batch', values['encode-batch'], quick ? 8 : 32),
      corpus,
      texts: encodeTexts,
      workers: intList('workers', values.workers, [1, Math.max(2, os.availableParallelism())]),
    },
    evaluate: {
      docs: int('eval-docs', values['eval-docs'], quick ? 60 : 500),
      queries: int('eval-queries', values['eval-queries'], quick ? 10 : 50),
      maxLength: int('eval-max-length', values['eval-max-length'], quick ? 64 : 256),
    },
    index: {
      vectors,
      queries: int('queries', values.queries, quick ? 100 : 1000),
      dim: int('dim', values.dim, 384),
      k,
      M: int('M', values.M, 16),
      efConstruction: int('ef-construction', values['ef-construction'], quick ? 100 : 200),
      ef: intList('ef', values.ef, quick ? [10, 40, 160] : [10, 20, 40, 80, 160, 320, 640, 1280]),
      rank: values.rank === undefined ? 0 : int('rank', values.rank, 0),
    },
    startup: { runs: int('startup-runs', values['startup-runs'], quick ? 3 : 10) },
  };
}
